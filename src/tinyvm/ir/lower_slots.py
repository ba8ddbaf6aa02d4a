"""Slots for lowered code (ir/lower.py): liveness, interference, allocation.

A mixin of the lowering (`_Lowerer` in ir/lower.py). Every value that does not
stay on the operand stack (ir/lower_shape.py) and is not a rematerialised
constant gets a local slot:

* liveness per block, then per instruction backwards; a definition interferes
  with what is live after it. An instruction that catches keeps live what its
  handler needs (the handler block's live-in, the handler phis' operands for
  that edge) -- only there, not to the end of its block;
* a handler phi and the operands its catching instructions give it share one
  slot (no copy can run on an exceptional edge); interfering ones make the
  function refused;
* parameters keep their slots, a counted loop's counter and step take
  FOR_RANGE's slot (the next one is reserved for its bound); every other value
  prefers the guest slot the frame states show it in, then the slot of a phi
  it feeds or is fed by, then a temporary above the original `nlocals` (first
  fit: non-interfering values share one).
"""

from __future__ import annotations

from .lower_shape import Refused
from .nodes import Block, Instr


class SlotAllocation:
    """The lowering's slot analyses (mixed into ir/lower.py `_Lowerer`)."""

    def slotted(self, v: Instr) -> bool:
        if v in self.stack_phi:
            return False
        if v in self.silent and v.op in ("lt", "le"):  # (FOR_RANGE compares)
            return False
        return v.type is not None and v not in self.carried and v not in self.remat and v.op != "iter_done"

    def liveness(self) -> None:
        fn = self.fn
        # Normal phi operands are used at the end of the predecessor.
        phi_out: dict[Block, set[Instr]] = {b: set() for b in fn.blocks}
        for b in fn.blocks:
            for k, p in enumerate(b.preds):
                for phi in b.phis:
                    if self.uses.get(phi, 0) and self.slotted(phi.args[k]):
                        phi_out[p].add(phi.args[k])
        for loop in self.loops.values():
            if loop.range is None and self.slotted(loop.bound):  # (its RANGE is emitted there)
                phi_out[loop.pre].add(loop.bound)
        live_in: dict[Block, set[Instr]] = {b: set() for b in fn.blocks}
        self.live_in = live_in
        self.interf: dict[Instr, set[Instr]] = {}
        self.live_after: dict[Instr, set[Instr]] = {}
        changed = True
        final = False
        while True:
            changed = False
            for b in reversed(fn.blocks):
                live = set(phi_out[b])
                for s in b.terminator.targets:  # (a handler's: at each catching instruction)
                    live |= live_in[s]
                live = self.walk(b, live, final)
                if live != live_in[b]:
                    live_in[b] = live
                    changed = True
            if final:
                break
            if not changed:
                final = True
        # Parameters are defined together at the entry.
        entry_live = live_in[fn.blocks[0]] | {p for p in fn.params if self.uses.get(p, 0)}
        for p in fn.params:
            self.interf.setdefault(p, set()).update(entry_live - {p})
            for q in entry_live - {p}:
                self.interf.setdefault(q, set()).add(p)

    def walk(self, b: Block, live: set[Instr], record: bool) -> set[Instr]:
        live = set(live)

        def define(d: Instr) -> None:
            if record and self.slotted(d):
                others = live - {d}
                self.interf.setdefault(d, set()).update(others)
                for o in others:
                    self.interf.setdefault(o, set()).add(d)
            live.discard(d)

        for ins in [b.terminator] + b.instrs[::-1]:
            if ins.op == "closure" and record:
                self.live_after[ins] = set(live)
            if ins.type is not None:
                define(ins)
            if ins.op != "iter_done" and not (ins in self.silent and ins.op in ("lt", "le")):
                for a in ins.args:
                    if self.slotted(a):
                        live.add(a)
            for _, a in self.catch_args.get(ins, ()):
                if self.slotted(a):
                    live.add(a)
            if ins.catch is not None:
                live |= self.live_in[ins.catch]
        phis = [p for p in b.phis if self.uses.get(p, 0)]
        if record:
            for p in phis:
                live.add(p)
            for p in phis:
                define(p)
                live.add(p)
        for p in b.phis:
            live.discard(p)
        return live

    # -- slots ----------------------------------------------------------------------

    def allocate(self) -> None:
        fn, code = self.fn, self.code
        parent: dict[Instr, Instr] = {}

        def find(v: Instr) -> Instr:
            while v in parent:
                v = parent[v]
            return v

        for pairs in self.catch_args.values():
            for phi, a in pairs:
                ra, rp = find(a), find(phi)
                if ra is not rp:
                    parent[ra] = rp
        pin: dict[Instr, int] = {p: p.attrs[0] for p in fn.params}
        reserved: set[int] = set()
        for loop in self.loops.values():
            rs, rc = find(loop.step), find(loop.counter)
            if rs is not rc:
                parent[rs] = rc
            pin[loop.counter] = pin[loop.step] = loop.slot
            reserved |= {loop.slot, loop.slot + 1}
        # The guest slots each value sits in at some frame state, in order of
        # first sight (a dict as an ordered set: a value such as the entry's
        # nil can sit in every slot at once).
        seen: dict[Instr, dict[int, None]] = {}
        for b in fn.blocks:
            for ins in b.all():
                st = ins.state
                if st is None:
                    continue
                for k, v in enumerate(st.locals):
                    if v is not None and v not in self.remat:
                        seen.setdefault(v, {})[k] = None
        homes: dict[Instr, list[int]] = {v: list(ks) for v, ks in seen.items()}
        for b in fn.blocks:
            for ins in b.instrs:
                if ins.op == "closure":  # (captured cells are read from fixed slots: first choice)
                    caps = [i for from_local, i in self._closure_code(ins).captures if from_local]
                    for v, k in zip(ins.args, caps):
                        homes[v] = [k] + [x for x in homes.get(v, ()) if x != k]
        for loop in self.loops.values():  # (the frame states still name the counter)
            homes[loop.cur] = [k for k in homes.get(loop.counter, ()) if k not in (loop.slot, loop.slot + 1)]
        values: list[Instr] = [p for p in fn.params if self.uses.get(p, 0)]
        for b in fn.blocks:
            for ins in b.phis + b.instrs:
                if self.slotted(ins) and (self.uses.get(ins, 0) or ins in parent):
                    values.append(ins)
        groups: dict[Instr, list[Instr]] = {}
        for v in values:
            groups.setdefault(find(v), []).append(v)
        for pairs in self.catch_args.values():  # a group's members that are not otherwise used
            for phi, a in pairs:
                if self.slotted(a) and a not in groups.setdefault(find(a), []):
                    groups[find(a)].append(a)
        related: dict[Instr, list[Instr]] = {}
        for b in fn.blocks:
            for p in b.phis:
                for a in p.args:
                    related.setdefault(a, []).append(p)
                    related.setdefault(p, []).append(a)
        self.slot: dict[Instr, int] = {}
        members: dict[int, list[Instr]] = {}
        nslots = code.nlocals

        def fits(group: list[Instr], s: int) -> bool:
            for x in members.get(s, ()):
                for m in group:
                    if x in self.interf.get(m, ()):
                        return False
            return True

        order = list(groups.items())
        order.sort(key=lambda kv: 0 if any(m in pin for m in kv[1]) else 1)
        for _, group in order:
            for m in group:
                for o in group:
                    if o is not m and o in self.interf.get(m, ()):
                        raise Refused("values a handler needs in one slot interfere")
            pinned = {pin[m] for m in group if m in pin}
            if len(pinned) > 1:
                raise Refused("two pinned values a handler needs in one slot")
            if pinned:
                cands = list(pinned)
            else:
                cands = [k for m in group for k in homes.get(m, ())]
                cands += [self.slot[r] for m in group for r in related.get(m, ()) if r in self.slot]
                # (a value that only feeds a phi lands where the phi will live)
                cands += [k for m in group for r in related.get(m, ()) for k in homes.get(r, ())]
                cands += list(range(code.nlocals, nslots))
            chosen = next((s for s in cands if (pinned or s not in reserved) and fits(group, s)), None)
            if chosen is None:
                if pinned:
                    raise Refused("a pinned slot (parameter, counted loop) is taken")
                chosen = nslots
                nslots += 1
            for m in group:
                self.slot[m] = chosen
            members.setdefault(chosen, []).extend(group)
        self.nslots = nslots
        # A MAKE_CLOSURE reads its captured cells from fixed slots: the copies
        # into them must not clobber a value still live there.
        for ins, after in self.live_after.items():
            caps = [i for from_local, i in self._closure_code(ins).captures if from_local]
            for a, k in zip(ins.args, caps):
                for x in members.get(k, ()):
                    if x is not a and x in after:
                        raise Refused("a captured local's slot holds another live value")
