"""The countdown in a register inside a function with loops: ctx[0] in a
stack slot that LLVM's `sroa` promotes, memory written only where others
read it.

A function with loops keeps the memory convention for the countdown
(calls.py: ctx[0], decremented by emit.py's `tick` at its loop headers).
Done in memory, each tick is a load, a decrement and a store of the same
word on every iteration: a store-to-load forwarding chain through the
loop, ~30% of Sieve's inner loop (docs/native.md, "Where the time goes in
native array loops"). But nothing reads ctx[0] while the function runs
its own code: the engine reads it after the module returns, the poll
callback, `@budget` and the functions called read and write it during a
call (a call out may even enter native code again, which sets ctx[0]
anew), and no other thread or signal handler touches it (engine.py).

So `in_slot` rewrites a function's LLVM text (after emit.py made it, one
function at a time): every load and store of ctx[0] (`i64* %ctx` itself:
no code names word 0 otherwise) goes to `%cd.slot`, an alloca of the entry
block that starts as ctx[0]; and memory is made the truth again wherever
control leaves the function's own code:

- before every call the slot is stored to ctx[0], and after it ctx[0]
  is loaded back into the slot (what the callee, a helper, the poll or a
  nested entry did to it); but for LLVM's intrinsics (`@llvm.*`, which
  touch no memory of ours) and calls.py's leaves (they call nothing and
  are passed a budget of 0: they never read the countdown, and a function
  with loops called them without touching ctx[0] before either) and the
  functions `untouched` finds (no ctx[0] access in anything they run);
- before every `ret` (a return, and the shared `bail` of the exits: the
  engine counts ticks by ctx[0] and the deopt path leaves it as it is).

LLVM's `sroa` (codegen.py's pipeline, after always-inline so an inlined
function's slot is promoted in its caller) then makes the slot SSA values
with phis at the loop headers: a loop that calls nothing holds the
countdown in a register and touches ctx[0] only on its way out and at its
poll (which is a call). Every tick still decrements by one at the same
places and the poll sees the same ctx[0], so poll counts, stops, deopt
pcs and fuel are what they were.
"""

from __future__ import annotations

import re

SLOT = "%cd.slot"
_CTX0 = ", i64* %ctx"  # (how a load or store of ctx[0] ends: no code names word 0 otherwise)
_CALL = re.compile(r"^  (?:%[\w.]+ = )?(?:tail )?call [^@%;]*([@%][-\w.$]+)\(")  # (a call line and its callee)


def in_slot(text: str, leaves: frozenset[str] | set[str] = frozenset()) -> str:
    """`text`, one function's LLVM IR (`define ... {` to `}`), with ctx[0]
    kept in `%cd.slot` between its calls and returns (see above); `leaves`,
    the LLVM names of functions that neither read nor write ctx[0]
    (calls.leaves: they call nothing, their budget is 0; `untouched`), are
    called without it (no memory touched at all)."""
    first = text.index(":\n", text.index("{\n")) + 2  # (the end of the entry block's label line: the slot made there)
    out = [text[:first] + f"  {SLOT} = alloca i64\n  %cd.init = load i64, i64* %ctx\n  store i64 %cd.init, i64* {SLOT}"]
    add = out.append
    n = 0
    for line in text[first:].split("\n"):
        if line.endswith(_CTX0):  # (a load or store of ctx[0]: other words are at a getelementptr)
            add(line[:-4] + SLOT)
        elif line.startswith("  ret "):
            n += 1
            add(f"  %cd.r{n} = load i64, i64* {SLOT}\n  store i64 %cd.r{n}, i64* %ctx\n{line}")
        elif (callee := _callee(line)) is not None and not _quiet(callee, leaves):
            n += 1
            add(f"  %cd.c{n} = load i64, i64* {SLOT}\n  store i64 %cd.c{n}, i64* %ctx\n{line}")
            add(f"  %cd.a{n} = load i64, i64* %ctx\n  store i64 %cd.a{n}, i64* {SLOT}")
        else:
            add(line)
    return "\n".join(out)


def untouched(texts: dict[str, str]) -> set[str]:
    """The functions of `texts` (LLVM name -> its IR text, before `in_slot`)
    that never read or write ctx[0], whatever they run: no load or store of
    ctx[0] and no call but LLVM's intrinsics and other such functions (the
    least fixed point: a cycle of calls is never one). A caller keeping its
    countdown in the slot calls them without the store before and the load
    after: once LLVM inlines such a callee into a loop (Bounce's
    `ball.bounce()`, which only reads and writes fields and calls nothing),
    the pair would stay in the loop as memory traffic, a store and a reload
    of ctx[0] on every pass, since the callee's field stores may alias
    ctx[0] for all LLVM can tell. Any other call (a helper, the poll, a
    callout that may run guest code and so enter native code again, a
    pointer) makes its caller touch ctx[0], and so its callers too."""
    calls: dict[str, set[str]] = {}
    for name, text in texts.items():
        lines = text.split("\n")
        if any(line.endswith(_CTX0) for line in lines):
            calls[name] = {""}  # (touches ctx[0] itself: never quiet; "" names no function)
            continue
        callees = (_callee(line) for line in lines)
        calls[name] = {c[1:] if c.startswith("@") else "" for c in callees if c is not None and not c.startswith("@llvm.")}
    quiet: set[str] = set()
    grew = True
    while grew:
        grew = False
        for name, callees in calls.items():
            if name not in quiet and callees <= quiet:
                quiet.add(name)
                grew = True
    return quiet


def _callee(line: str) -> str | None:
    """The callee of a call line (`@name`, or `%reg` for a call through a
    pointer; "" when the pattern cannot name it), or None for any other line."""
    if "call " not in line or not line.startswith("  ") or line.startswith("  ;"):
        return None
    m = _CALL.match(line)
    return m.group(1) if m else ""


def _quiet(callee: str, leaves: frozenset[str] | set[str]) -> bool:
    """A call of `callee` (`_callee`) needs no sync: an LLVM intrinsic or one
    of `leaves`. A call whose callee the pattern cannot name (no such line
    is emitted today: AWFY's modules have none) is synced, never left with a
    stale ctx[0]."""
    return callee.startswith("@llvm.") or callee.startswith("@") and callee[1:] in leaves


def hoist(text: str) -> str:
    """The module `text` with each function's slot made in its first block:
    LLVM promotes only allocas of a function's entry block, and fold_root
    (entries.py) moves the root's body, its entry block too, into @entry
    after @entry's own first block."""
    line = f"  {SLOT} = alloca i64\n"
    parts = text.split("\ndefine ")
    for k, p in enumerate(parts):
        if k == 0 or line not in p:
            continue
        p = p.replace(line, "", 1)
        first = p.index(":\n", p.index("{\n")) + 2  # (the end of the first label's line)
        parts[k] = p[:first] + line + p[first:]
    return "\ndefine ".join(parts)
