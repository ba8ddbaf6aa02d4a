"""Array fields of `self` read once before a loop (docs/native.md, "Array fields of self read before the loop").

A loop that calls (so that no entry check of loopguards.py is made) is
where it matters most. Queens' `place_queen` runs

    for r in 0..8 {
      if self.get_row_column(r, c) {   // self.free_rows[r] and self.free_maxs[c + r] and ...
        ...
        if self.place_queen(c + 1) { return true }
        self.set_row_column(r, c, true)
      }
    }

Its three array fields were read, and checked, on every pass: the slot's
load, the value's type (an `Array` or a `PackedArray`), the buffer's kind,
then the array's words (listwords.py), ~20 instructions before each element
read of two. fields.py shares a read with an earlier read of the same field
of the same receiver that dominates it when nothing in the whole function
may change that field (invariant.py `across`, `untouched`: here the only call
is the native recursion, whose callees store no field: effects.py). But no
read comes before the loop, and inside it the first read of each pass is
reached through the loop header, from the pass before and from outside.

So for each natural loop whose header has one predecessor outside it (the
*preheader*) ending in a jump, each array field of `self` the loop reads and
the function never changes (`untouched`) is read once more at the end of
the preheader: a clone of the loop's first read of it, at the header's pc
and with the header's frame state as it is on the way in (each header phi
its preheader operand: loopguards.entry_state). It is lowered as any field
read (fields.py: the receiver's shape check, the slot, the value's type and
kind, its words recorded by listwords.py), so the reads in the loop take its
value through `across`, and their accesses its words. If one of its checks
fails, native code deoptimises to the header's pc and the interpreter runs
the loop from its start, as the checked reads would have, raising where
they would.

Which receivers: only `self` (a method's receiver: never nil), so the read
fails only when the field holds what its declared type does not allow (a
value that came through `any`); a read under an `if` the loop may never
take is hoisted too, since it would fail the same way. Which loops: none
in a function counting fuel (the exit would sit between two of its fuel
blocks), none holding the header an OSR copy is entered at (`entered`: its
path skips the preheader). An OSR entry inside the function (osr.py) at the
loop's own header skips the preheader too: its path makes the reads itself
after loading the header's words (`em.osr_hoisted`, a second clone each with
the header's own state; emit.py `osr_checks`), and the header's renamed
phi of each clone takes that read's value from it. Outer loops first: a
field a loop's clone reads is not read again before the loops inside it.
"""

from __future__ import annotations

import re
from typing import Any

from ...bytecode.code import FLAG_METHOD
from ...ir.nodes import Block, Instr
from ...ir.passes.facts import natural_loops
from .loopguards import entry_state

# The reason of the exit a hoisted read's failed check takes.
REASON = "an array field read before its loop fails its check"


def plan(em: Any, entered: set[Block]) -> dict[Block, list[Instr]]:
    """Preheader -> the field reads hoisted to its end (module docstring),
    each a new Instr emit.py lowers after the preheader's own (`em.idom`:
    the function's dominators, which emit.py's `_plan_loops` has made)."""
    from .deopt import exit_state, start_state  # (not at import: deopt -> select -> calls -> deopt)
    from .select import ARRAYS, NotEligible

    ty = em.ty
    fn, types = ty.fn, ty.types
    em.osr_hoisted, em.hoisted_reads = {}, set()
    if em.metered or em.copy or not ty.code.flags & FLAG_METHOD or len(fn.params) < 2:  # (an OSR copy shares no read across blocks: emit.py `_dominates`)
        return {}
    me = fn.params[1]
    reads = [x for b in fn.blocks for x in b.instrs if x.op == "get_field" and x.args and x.args[0] is me and types.get(x) in ARRAYS and x.catch is None]
    if not reads:
        return {}
    from .invariant import untouched

    fl = em._fields()
    where = {v: b for b in fn.blocks for v in b.phis + b.instrs}
    order = {b: k for k, b in enumerate(fn.blocks)}
    merged = {r.h for r in em.merged.regions} if em.merged is not None else set()
    out: dict[Block, list[Instr]] = {}
    done: list[tuple[tuple[str, ...], set[Block]]] = []  # (field names, loop body) hoisted
    for h, body in sorted(natural_loops(fn, em.idom), key=lambda hb: -len(hb[1])):
        if any(b in entered or b in merged and b is not h for b in body) or h.catch_preds:
            continue  # (an OSR entry inside the function at h itself makes the reads on its own path: below)
        outs = [p for p in h.preds if p not in body]
        if len(outs) != 1:
            continue
        pre = outs[0]
        if pre.terminator is None or pre.terminator.op != "jump" or any(order[b] < order[pre] for b in body):
            continue  # (the clone must be emitted before every read it stands for)
        names: dict[str, Instr] = {}
        for x in reads:
            name = x.attrs[0]
            if where.get(x) in body and name not in names and not any(name in ns and h in b for ns, b in done) and untouched(fl, name):
                names[name] = x
        if not names:
            continue
        st = start_state(fn, h.pc, h)
        if st is None or st.parent is not None or h in merged and me not in st.locals:
            continue  # (an OSR entry's reads need self among its words: else osr.py would drop the entry, Missing)
        state = entry_state(h, pre, st)
        try:
            exit_state(state, types, reason=REASON, defined=em.defined)
            if h in merged:
                exit_state(st, types, reason=REASON, defined=em.defined)
        except NotEligible:
            continue  # (the header's state names a value this emission lacks)
        for name, x in names.items():
            c = Instr(fn.new_id(), "get_field", [me], x.attrs, x.type, x.checked, h.pc, state, block=pre)  # (an id of fn's own: no other value's name)
            types[c] = types[x]
            out.setdefault(pre, []).append(c)
            em.hoisted_reads.add(c)
            if h in merged:  # (the OSR entry at h: its own read, from the entry's words, on its path: osr.py)
                o = Instr(fn.new_id(), "get_field", [me], x.attrs, x.type, x.checked, h.pc, st)
                types[o] = types[x]
                em.osr_hoisted.setdefault(h, {})[c] = o
                em.hoisted_reads.add(o)
        done.append((tuple(names), body))
    return out


# An address native code loads from a global that the module's binding
# fills once and nothing changes after (`!invariant.load`): a class's shape
# and class object, the VM's heap types (fields.bind, objects.py).
_GLOBAL_LOAD = re.compile(r'^  (%[\w.]+) = load i64, i64\* @"(tvm\.(?:sh|cls|ty)\.[\w.$]+)", !invariant\.load !90$')


def globals_to_entry(body: dict[Block, list[str]], headers: set[Block]) -> list[str]:
    """The loads of invariant globals of a function with loops, moved to its
    entry block: each global loaded once there, each load in the body
    replaced by a copy of that value (instcombine folds it). Returns the
    entry's lines. LLVM may hoist an `!invariant.load` out of a loop but
    does not (its pipeline here has no LICM: codegen.py), so a check in a
    loop loaded the global at every pass: AWFY Bounce's per-ball class
    check two `movabs` and two loads. A function without loops keeps its
    loads where they are (a load at entry would cost every call a load its
    path may not need)."""
    if not headers:
        return []
    names: dict[str, str] = {}
    for lines in body.values():
        for k, line in enumerate(lines):
            m = _GLOBAL_LOAD.match(line)
            if m is None:
                continue
            g = names.setdefault(m.group(2), f"%gl.{len(names)}")
            lines[k] = f"  {m.group(1)} = add i64 {g}, 0"
    return [f'  {v} = load i64, i64* @"{g}", !invariant.load !90' for g, v in names.items()]
