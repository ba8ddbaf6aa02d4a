"""One external function for a module's call entry and its OSR entries (docs/native.md, "Compile time").

A module's machine code is entered through `@entry(ctx, args, out)` (a
call of the root from the interpreter) and, for each loop header with an
OSR entry, `@osr<pc>(ctx, args, out)` (engine.py installs it as the op at
that header). Each was a function of its own, and LLVM's code generator
pays ~0.7 ms for every function however small: on gcd, dropping its one
OSR wrapper cut the codegen from 4.2 to 3.6 ms, and with the root then
inlined into @entry (it has one caller left: inlining.py's once rule) to
2.7 ms.

Here the OSR entries are folded into @entry. Which entry a call takes
travels in the low three bits of `out` (an aligned `i64*`, so they are
free): 0 is the call entry, k in 1..7 the k-th OSR entry
(engine.py's OSR op passes `out + k`; nothing changes per call, the
address is fixed when the op is made). @entry clears them before it
stores the result. A module with more than MAX_TAGS OSR entries, or whose
root takes the countdown in a register (calls.py: a loop-free function,
which has no OSR entry anyway), keeps a wrapper per entry.

The root entered at a header inside it (osr.py: the `%osr` mode and the
`%oargs` words) and the call entry share one call of the root (phis choose
its mode, words and parameters), so that its one call site still lets
`fold_root` move its body into @entry; an OSR copy of a loop (emit.py
`emit_osr`) has a call of its own, also its only one (inlining.py's once rule
inlines it when small). The call entry's parameters are loaded from args
on its own path only: an OSR entry's args holds the header's words, maybe
fewer.
"""

from __future__ import annotations

import re

from .osr import result_lines
from .select import WORDS

MAX_TAGS = 7  # (the low bits of an 8-aligned address)
_LOCAL = re.compile(r"%([A-Za-z_][\w.]*)")
_LABEL = re.compile(r"^([A-Za-z_][\w.]*):", re.MULTILINE)


def can_fold(n_entries: int, root_in_register: bool) -> bool:
    """Whether @entry takes the module's n_entries OSR entries itself."""
    return 0 < n_entries <= MAX_TAGS and not root_in_register


def folded_entry(root_name: str, params: list[str], ret: str, lltype: dict, merged: list[int], copies: list[int], tags: dict[int, int]) -> str:
    """`@entry(ctx, args, out)` calling the root `root_name` (parameters of
    machine types `params`, result `ret`) for tag 0, the root in mode pc
    for each header pc in `merged` and `@<root_name>_osr<pc>` for each in
    `copies`. tags gets header pc -> tag (what engine.py adds to out)."""
    rt = lltype[ret]
    w = [
        "define i32 @entry(i64* %ctx, i64* %args, i64* %tout) {",
        "entry:",
        "  %tw = ptrtoint i64* %tout to i64",
        "  %sel = and i64 %tw, 7",
        "  %ow = and i64 %tw, -8",
        "  %out = inttoptr i64 %ow to i64*",
        "  %dp = getelementptr i64, i64* %ctx, i64 1",
        "  %depth = load i64, i64* %dp",
    ]
    cases = []
    for k, pc in enumerate([*merged, *copies], 1):
        tags[pc] = k
        cases.append(f"i64 {k}, label %o{k}")
    w.append(f"  switch i64 %sel, label %e0 [ {' '.join(cases)} ]")
    # The call entry: its parameters from args.
    w.append("e0:")
    args = []
    for k, m in enumerate(params):
        w.append(f"  %ap{k} = getelementptr i64, i64* %args, i64 {k}")
        w.append(f"  %aw{k} = load i64, i64* %ap{k}")
        if m == "i" or m in WORDS:
            args.append(("i64", f"%aw{k}"))
        elif m == "f":
            w.append(f"  %ax{k} = bitcast i64 %aw{k} to double")
            args.append(("double", f"%ax{k}"))
        else:
            w.append(f"  %ax{k} = trunc i64 %aw{k} to i1")
            args.append(("i1", f"%ax{k}"))
    results = []  # (call value, its block)
    if merged:
        w.append("  br label %call")
        for k in range(1, len(merged) + 1):
            w += [f"o{k}:", "  br label %call"]
        w.append("call:")
        preds = ["e0", *(f"o{k}" for k in range(1, len(merged) + 1))]
        mode = ", ".join(f"[ {pc}, %{b} ]" for pc, b in zip([0, *merged], preds))
        oargs = ", ".join(f"[ {'null' if b == 'e0' else '%args'}, %{b} ]" for b in preds)
        w.append(f"  %mode = phi i64 {mode}")
        w.append(f"  %oa = phi i64* {oargs}")
        for j, (t, v) in enumerate(args):
            ins = ", ".join(f"[ {v if b == 'e0' else 'undef'}, %{b} ]" for b in preds)
            w.append(f"  %pa{j} = phi {t} {ins}")
        rest = "".join(f", {t} %pa{j}" for j, (t, _) in enumerate(args))
        w.append(f"  %c0 = call {{{rt}, i1}} @{root_name}(i64* %ctx, i64 %depth, i64 %mode, i64* %oa{rest})")
        w.append("  br label %done")
        results.append(("%c0", "call"))
    else:
        rest = "".join(f", {t} {v}" for t, v in args)
        w.append(f"  %c0 = call {{{rt}, i1}} @{root_name}(i64* %ctx, i64 %depth{rest})")
        w.append("  br label %done")
        results.append(("%c0", "e0"))
    for k, pc in enumerate(copies, len(merged) + 1):
        w.append(f"o{k}:")
        w.append(f"  %c{k} = call {{{rt}, i1}} @{root_name}_osr{pc}(i64* %ctx, i64 %depth, i64* %args)")
        w.append("  br label %done")
        results.append((f"%c{k}", f"o{k}"))
    w.append("done:")
    w.append(f"  %c = phi {{{rt}, i1}} " + ", ".join(f"[ {v}, %{b} ]" for v, b in results))
    w.append(f"  %r = extractvalue {{{rt}, i1}} %c, 0")
    w.append(f"  %b = extractvalue {{{rt}, i1}} %c, 1")
    w.append("  %s = zext i1 %b to i32")
    w += result_lines(ret)
    return "\n".join(w) + "\n"


def fold_root(text: str, root_name: str) -> str:
    """The module text with the root's body moved into @entry, in place of
    @entry's one call of it, when nothing else calls the root (else text as
    it is). LLVM's always-inline pass did that for a small root (emit.py
    inlining.py's once rule, up to 400 lines: it cost ~1 ms per 1000 lines); done on
    the text, it costs LLVM nothing, for a root of any size: the `opt` phase
    0.1-0.4 ms shorter (gcd, Mandelbrot, a loop over two arrays, Ball.bounce),
    at ~0.1 ms of Python for Ball.bounce's 1600 lines.

    @entry's own names take a prefix `ent.` (the root's are kept: its text
    is most of the module); the root's parameters are defined from the
    call's arguments (a no-op bitcast each); each of its returns branches to
    `ent.ret`, whose phi is the call's value for the rest of @entry."""
    head = re.search(r"^define internal (\{[^}]*\}) @" + root_name + r"\(([^)]*)\)[^{\n]*\{$", text, re.MULTILINE)
    e0 = text.rfind("\ndefine i32 @entry(") + 1
    if head is None or not e0:
        return text
    end = text.index("\n}\n", head.end()) + 3
    e1 = text.index("\n}\n", e0) + 2
    entry = _LOCAL.sub(r"%ent.\1", text[e0:e1])
    entry = _LABEL.sub(r"ent.\1:", entry)
    call = re.search(r"^  (%ent\.[\w.]+) = call \{[^}]*\} @" + root_name + r"\((.*)\)$", entry, re.MULTILINE)
    if text.count(f"@{root_name}(") != 2 or call is None or e0 < end:
        return text  # (called elsewhere too)
    rt = head.group(1)
    body = text[head.end() + 1 : end - 3]
    # Each return: its value and its block (the label line before it: one
    # ending in ':' -- no instruction line does).
    rets: list[tuple[str, str]] = []
    out = []
    at = 0
    key = f"\n  ret {rt} "
    k = body.find(key)
    while k >= 0:
        stop = body.find("\n", k + 1)
        stop = len(body) if stop < 0 else stop
        lab = body.rfind(":\n", 0, k + 1)
        rets.append((body[k + len(key) : stop], body[body.rfind("\n", 0, lab) + 1 : lab] if lab >= 0 else "entry"))
        out.append(body[at:k] + "\n  br label %ent.ret")
        at = stop
        k = body.find(key, stop)
    if not rets:
        return text  # (it never returns)
    out.append(body[at:])
    params = [p.rsplit(" ", 1) for p in head.group(2).split(", ")]
    args = [a.rsplit(" ", 1) for a in call.group(2).split(", ")]
    labels = list(_LABEL.finditer(entry, 0, call.start()))
    at = labels[-1].group(1) if labels else "ent.entry"  # (the block of the call)
    pre = [f"  %{name[1:]} = bitcast {t} {a[1]} to {t}" for (t, name), a in zip(params, args)]
    after = entry[call.end() :].replace(f", %{at} ]", ", %ent.ret ]")
    phi = f"  {call.group(1)} = phi {rt} " + ", ".join(f"[ {v}, %{b} ]" for v, b in rets)
    folded = "\n".join([entry[: call.start()] + "\n".join(pre), "  br label %entry", "".join(out), "ent.ret:", phi]) + after
    return text[: head.start()] + text[end:e0] + folded + text[e1:]
