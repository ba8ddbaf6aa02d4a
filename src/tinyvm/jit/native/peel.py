"""The base case of a small recursion tested by its caller: a call site's leaf peeled from the callee.

Most machine calls of a recursion like fib end at once in its base case
(`if n < 2 { return n }`): half of them return before doing anything, and
what they cost is the call, the return and the mispredicted branches around
them. With one level inlined (calls.py `self_inline`), the inlined copy's
calls of the function go instead to `@<name>w`, marked `alwaysinline`:

    define internal {i64, i64} @f0w(i64* %ctx, i64 %cd, i64 %v1) alwaysinline {
    entry:  ... the function's own first blocks, while they are *pure* ...
      br i1 %v3, label %B3, label %peel
    B3:     ... its base case, returned ...
    peel:
      %pr = call {i64, i64} @f0(i64* %ctx, i64 %cd, i64 %v1)
      ret {i64, i64} %pr
    }

so the test of the base case is made in the caller, and only a call that
goes past it is a machine call (fib(30): 2.06 -> 1.65 ms, no more compile
time: the peeled part is a few lines; "Numbers" in docs/native.md).

Exact by construction: the peeled blocks are the function's own, copied
from its LLVM IR text, and only blocks that do nothing the VM could see --
no call, load, store, fuel count or exit, only arithmetic that cannot fail,
compares, selects, phis and branches (`_PURE`) -- and whose predecessors are
all peeled too; every edge out of them to any other block calls the whole
function from its start with the same arguments, which does the same again
and goes on. Nothing happened before that call, so nothing is done twice.
The caller ticked and checked the depth before the call site (calls.py
`call_tick`), as for the callee itself: a base case taken in the caller is
the same guest call, and it makes no call of its own. On a VM counting fuel
every block starts by counting it (a load and a store): nothing is peeled.
"""

from __future__ import annotations

import re

# Instructions a peeled block may hold (the first word after `=`, or the
# terminator): arithmetic without overflow checks (the checked forms are
# calls of LLVM intrinsics), compares, selects, phis, aggregates, casts.
_PURE = frozenset(("add", "sub", "and", "or", "xor", "shl", "ashr", "lshr", "icmp", "select", "phi", "insertvalue", "extractvalue", "zext", "sext", "trunc", "getelementptr", "bitcast"))
_LABEL = re.compile(r"^([\w.]+):$")
_TARGET = re.compile(r"label %([\w.]+)")


def _blocks(body: str) -> list[tuple[str, list[str]]]:
    """(label, lines) of each block of a function body (its lines after the
    `define` line, without the closing brace)."""
    out: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        m = _LABEL.match(line)
        if m:
            out.append((m.group(1), []))
        elif line.strip() and line != "}" and out:
            out[-1][1].append(line)
    return out


def _pure(lines: list[str]) -> bool:
    for line in lines:
        s = line.strip()
        if s.startswith(("br ", "ret ")):
            continue
        if " = " not in s:
            return False
        op = s.split(" = ", 1)[1].split(" ", 1)[0]
        if op not in _PURE:
            return False
    return True


def peeled(name: str, head: str, body: str) -> str | None:
    """The text of `@<name>w` for function `name` (its `define` line `head`
    and the rest of its text `body`), or None when its first blocks are not
    pure or reach no return."""
    m = re.match(r"^define internal (\{[^}]*\}) @" + re.escape(name) + r"\((.*)\) \{$", head)
    if m is None:
        return None
    rt, params = m.group(1), m.group(2)
    blocks = _blocks(body)
    if not blocks or blocks[0][0] != "entry":
        return None
    preds: dict[str, set[str]] = {}
    for label, lines in blocks:
        for t in _TARGET.findall(lines[-1] if lines else ""):
            preds.setdefault(t, set()).add(label)
    region: list[tuple[str, list[str]]] = []
    inside: set[str] = set()
    for label, lines in blocks:  # (in text order: a loop-free function's blocks come after their predecessors)
        if label != "entry" and not (preds.get(label) and preds[label] <= inside):
            continue
        if not lines or not _pure(lines):
            continue
        region.append((label, lines))
        inside.add(label)
    if not any(lines[-1].strip().startswith("ret ") for _, lines in region):
        return None
    args = ", ".join(p.strip() for p in params.split(","))
    out = [f"define internal {rt} @{name}w({params}) alwaysinline {{"]
    for label, lines in region:
        out.append(f"{label}:")
        *rest, term = lines
        out += rest
        out.append(_TARGET.sub(lambda t: t.group(0) if t.group(1) in inside else "label %peel", term))
    out += ["peel:", f"  %peel.r = call {rt} @{name}({args})", f"  ret {rt} %peel.r", "}"]
    return "\n".join(out) + "\n"
