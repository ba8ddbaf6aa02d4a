"""Which functions of a native module LLVM inlines: the `alwaysinline` marks.

emit.py emits each TinyLang function of a group as an LLVM function of its
own, and a call between them as a machine call in the native convention
(calls.py: the budget or the depth passed, a `{result, budget}` or
`{result, fail}` pair back, the fail flag tested, a prologue and epilogue
in the callee). LLVM's `always-inline` pass (codegen.py's pipeline) folds
the functions marked `alwaysinline` into every caller, and `globaldce`
drops them when no call is left. Two kinds are marked:

- **A function called from one place** (a root only @entry calls, an OSR
  copy only its wrapper calls, a callee with one call site) of up to
  `ONCE_LINES` lines of IR: the code generator's fixed cost per function
  (~0.4 ms) is paid once ("Compile time" in docs/native.md); inlining a
  bigger one costs LLVM more (~1 ms per 1000 lines) than it saves.
- **A small non-recursive callee called from several places** (Towers'
  `push_disk`, Permute's `swap`) at its call sites that run on every pass
  of their function or innermost loop (`every_pass`: the site's block
  dominates every return, or every back edge of the loop), when its size
  with what is inlined into it, `effective`, is at most `MULTI_LINES`: the
  machine call, the budget's tick and the fail test's branch go, and
  LLVM's passes see the callee's code with the caller's values. Each site
  gets a copy, so the limit is a compile-time price, and a site on a
  conditional path (Queens' `set_row_column`, when a queen is placed)
  keeps its call: inlined, it gained nothing measurable for 14% more code
  in its group. The mark is LLVM's `alwaysinline` on the call instruction
  (attribute group #90), not on the function (docs/native.md "Small
  callees inlined where they run on every pass": the measurements).

Inlining keeps semantics exactly: the inlined code is the same code, with
the same exits (their ids and frame states: a failure in it still returns
`fail` to the call's test in the caller, which leaves with the caller's
frame state, so the interpreter rebuilds the same frames), the same ticks
of the countdown at the same calls and loop headers (fuel counts), the
same budget passed on. What changes is how many guest frames one machine
frame holds, which bounds the native depth's measure by the stack pointer
(calls.py `levels`): only functions in no cycle of calls are inlined at
several sites, so a chain of inlined calls names each function at most
once, and `levels` (2 per function, plus one) stays an upper bound.
"""

from __future__ import annotations

import re
from typing import Any

from ...ir.passes.facts import natural_loops
from ...ir.verify import dominates, dominators

ONCE_LINES = 500  # (the largest function inlined into its one caller, in lines of LLVM IR; 400 before packed arrays added ~25% to a function of array accesses: Queens.get_row_column 370 -> 469)
MULTI_LINES = 700  # (the largest non-recursive function inlined at several call sites, its own inlined callees included; 0: off)

SITE = " ; every-pass"  # (emit.py's comment on a native call whose block runs on every pass: `every_pass`)
_ATTR = 90  # (the attribute group number of `alwaysinline` on a call site)
_DEFINE = re.compile(r"(define internal \{[^}]*\} @(f\d+(?:_osr\d+)?)\([^)]*\)) \{")  # (a whole `define` line: fullmatch)
_NAME = re.compile(r"@([\w.]+)\(")
_CALL = re.compile(r"call \{[^}]*\} @([\w.]+)\(")


def every_pass(fn: Any) -> set:
    """The blocks of TinyVM function `fn` that run on every pass of their
    innermost natural loop (they dominate each of its back edges' sources),
    or, outside loops, on every invocation that returns (they dominate each
    returning block): a call there runs as often as its loop or function."""
    idom = dominators(fn)
    loops = {h: (body, [p for p in h.preds if p in body]) for h, body in natural_loops(fn)}  # header -> (body, latches)
    rets = [b for b in idom if b.terminator is not None and b.terminator.op == "return"]
    out = set()
    for b in idom:
        inner = min((lp for lp in loops.values() if b in lp[0]), key=lambda lp: len(lp[0]), default=None)
        ends = rets if inner is None else inner[1]
        if all(dominates(idom, b, e) for e in ends):
            out.add(b)
    return out


def _functions(text: str) -> list[tuple[str, int, int, int]]:
    """(name, start of its `define` line, end of that line, end of its body)
    of each function defined in `text`. By `str.find`: a `^define` regex
    over the whole text (MULTILINE) cost ~0.4 ms per scan of a 90 KB
    module."""
    out = []
    at = 0 if text.startswith("define ") else text.find("\ndefine ") + 1 or -1
    while at >= 0:
        eol = text.find("\n", at)
        eol = len(text) if eol < 0 else eol
        m = _NAME.search(text, at, eol)
        end = text.find("\n}\n", eol)
        end = len(text) if end < 0 else end
        if m is not None:
            out.append((m.group(1), at, eol, end))
        at = text.find("\ndefine ", end) + 1 or -1
    return out


def call_graph(text: str, fns: list | None = None) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Each function of the module `text`: the native calls its body makes
    (callee names, once per call site) and its size in lines."""
    calls, lines = {}, {}
    for name, start, _, end in fns if fns is not None else _functions(text):
        calls[name] = _CALL.findall(text, start, end)
        lines[name] = text.count("\n", start, end)
    return calls, lines


def _hot_calls(text: str, fns: list) -> dict[str, list[str]]:
    """Each function's native calls (callee names) at `every_pass` sites."""
    out = {}
    for name, start, _, end in fns:
        out[name] = [c.group(1) for c in _CALL.finditer(text, start, end) if text.startswith(SITE, text.find("\n", c.end()) - len(SITE))]
    return out


def recursive(calls: dict[str, list[str]]) -> set[str]:
    """The functions that can reach themselves through calls."""
    out = set()
    for f in calls:
        seen: set[str] = set()
        todo = list(calls[f])
        while todo:
            g = todo.pop()
            if g not in seen:
                seen.add(g)
                todo += calls.get(g, ())
        if f in seen:
            out.add(f)
    return out


def inline_marks(text: str, once: int | None = None, multi: int | None = None) -> tuple[set[str], set[str]]:
    """(the functions of `text` to mark `alwaysinline`: called once and at
    most `once` lines; the callees whose `every_pass` call sites to mark:
    in no cycle and at most `multi` lines with what is inlined into them)."""
    once = ONCE_LINES if once is None else once
    multi = MULTI_LINES if multi is None else multi
    fns = _functions(text)
    calls, lines = call_graph(text, fns)
    hot = _hot_calls(text, fns) if SITE in text else {}
    sites: dict[str, int] = {}
    for cs in calls.values():
        for c in cs:
            sites[c] = sites.get(c, 0) + 1
    cyc = recursive(calls)
    heads = {name for name, start, eol, _ in fns if _DEFINE.fullmatch(text, start, eol)}  # (the functions not marked yet: emit.py's own)
    marked: set[str] = set()  # (the function marked: all its sites)
    at_sites: set[str] = set()  # (its every-pass sites marked)
    size: dict[str, int] = {}

    def effective(f: str) -> int:
        """f's lines once what is marked inside it is inlined (each call
        site a copy); a callee in a cycle counts its own lines only."""
        if f not in size:
            size[f] = lines.get(f, 0)  # (a cycle: stops here)
            total = lines.get(f, 0)
            hs = list(hot.get(f, ()))
            for c in calls.get(f, ()):
                if c in hs:
                    hs.remove(c)
                    if candidate(c):
                        total += effective(c)
                        continue
                if once_rule(c):
                    total += lines.get(c, 0) if c in cyc else effective(c)
            size[f] = total
        return size[f]

    def once_rule(c: str) -> bool:
        if c in heads and sites.get(c, 0) == 1 and lines[c] <= once:
            marked.add(c)
            return True
        return False

    def candidate(c: str) -> bool:
        if c in at_sites:
            return True
        if c not in heads or sites.get(c, 0) < 2 or c in cyc or effective(c) > multi:
            return False
        at_sites.add(c)
        return True

    for f in sorted(heads):
        once_rule(f)
    for f in sorted(calls):
        effective(f)
    return marked, at_sites


def mark_inline(text: str, once: int | None = None, multi: int | None = None) -> str:
    """`text` with the functions `inline_marks` picks marked `alwaysinline`,
    and the every-pass call sites of the callees it picks."""
    marked, at_sites = inline_marks(text, once, multi)
    out, at = [], 0
    for name, start, eol, _ in _functions(text):
        if name in marked:
            out += [text[at : eol - 2], " alwaysinline {"]
            at = eol
    text = "".join(out) + text[at:]
    if not at_sites:
        return text
    pat = re.compile(r"(call \{[^}]*\} @(?:" + "|".join(sorted(at_sites)) + r")\(.*\))" + re.escape(SITE) + "$", re.MULTILINE)
    return pat.sub(rf"\1 #{_ATTR}", text) + f"\nattributes #{_ATTR} = {{ alwaysinline }}\n"
