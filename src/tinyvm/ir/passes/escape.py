"""Escape analysis with scalar replacement of records.

A `record[(names...)] values...` allocation (BUILD_RECORD) that does not
escape the function is replaced by its fields, one SSA value per field: each
`get_field[f]` of it becomes the field's current value, each `set_field[f]`
on it a new current value, and the allocation disappears. The IR has no
single instruction for constructing a class instance (a class is *called*:
its init runs, possibly overridden), so only records qualify; an inlined
init would be the way to extend this to instances.

A record does not escape when every use is the object operand of a
`get_field` or `set_field` (or `set_field_proven`) of one of its own fields:
never stored as a value, passed to a call, returned, thrown, put in a phi,
compared by identity, or named in a frame state other than those of the
field accesses being removed. A frame state that names the record could
deoptimise, and the interpreter would need the object: that is treated as an
escape (the current limit). Run `prune-states` first (the default pipeline
does): it drops the locals dead at each state, so a record held in a local
stops being named once the code no longer reads that local.

The fields' values are found as in on-demand SSA construction (Braun et al.
2013): the last `set_field` of the field before the access in its block, else
the value on entry to the block: its single predecessor's value at its end,
or a phi over the predecessors (normal and exceptional edges alike; along an
exceptional edge, the value before the catching instruction). The walk never
leaves the region the allocation dominates, since it dominates every access.
Trivial phis are removed, then the phis and operators that now see typed
values are re-typed. Removing the allocation also removes its (out-of-memory)
failure and its share of the heap budget.
"""

from __future__ import annotations

from ...bytecode.types import ANY
from ..nodes import Block, FrameState, Function, Instr, fold_trivial_phis, replace_uses
from . import PassContext, register
from .typespec import retype

__all__ = ["run"]

_FIELD_OPS = frozenset({"get_field", "set_field", "set_field_proven"})


def _escapes(rec: Instr, users: list[Instr], named_by: list[Instr], virtual: bool) -> bool:
    """users: the instructions with rec among their operands; named_by: those
    whose frame state names it."""
    fields = set(rec.attrs[0]) if rec.attrs and type(rec.attrs[0]) is tuple else None
    if fields is None or len(rec.attrs[0]) != len(rec.args):
        return True
    for ins in users:
        if ins.op not in _FIELD_OPS or ins.args[0] is not rec or rec in ins.args[1:]:
            return True
        if not ins.attrs or ins.attrs[0] not in fields:
            return True  # an unknown field: the access raises, keep it
    return not virtual and any(ins not in users for ins in named_by)


def _copy_chain(st: FrameState) -> FrameState:
    return FrameState(st.pc, list(st.locals), list(st.stack), st.code, _copy_chain(st.parent) if st.parent is not None else None, st.callee)


def _virtualise(fn: Function, rec: Instr, fields: _Fields, named_by: list[Instr]) -> int:
    """Before every instruction whose frame state names rec, describe the
    record as it is there (`virtual`), and name that in the state instead."""
    names = rec.attrs[0]
    n = 0
    for ins in named_by:
        b = ins.block
        if ins.state is None or (ins not in b.instrs and ins is not b.terminator):
            continue  # an access of another record, removed with it
        values = [fields.before(b, ins, f) for f in dict.fromkeys(names)]
        v = Instr(fn.new_id(), "virtual", values, (tuple(dict.fromkeys(names)),), ANY, pc=ins.pc, block=b)
        b.instrs.insert(b.instrs.index(ins) if ins in b.instrs else len(b.instrs), v)
        ins.state = st = _copy_chain(ins.state)  # (a parent may be shared with other instructions)
        while st is not None:
            st.locals = [v if x is rec else x for x in st.locals]
            st.stack = [v if x is rec else x for x in st.stack]
            st = st.parent
        n += 1
    return n


class _Fields:
    """The current value of each field of one record, anywhere it dominates."""

    def __init__(self, fn: Function, rec: Instr, phis: list[Instr]) -> None:
        self.fn, self.rec = fn, rec
        self.init = dict(zip(rec.attrs[0], rec.args))
        self.entry: dict[tuple[Block, str], Instr] = {}
        self.phis = phis  # every phi made, for the trivial-phi clean-up

    def before(self, block: Block, upto: Instr | None, f: str) -> Instr:
        """The field's value just before `upto` in block (None: at its end)."""
        instrs = block.instrs
        end = instrs.index(upto) if upto is not None and upto in instrs else len(instrs)
        for ins in reversed(instrs[:end]):
            if ins is self.rec:
                return self.init[f]
            if ins.op in ("set_field", "set_field_proven") and ins.args[0] is self.rec and ins.attrs[0] == f:
                return ins.args[1]
        return self.on_entry(block, f)

    def on_entry(self, block: Block, f: str) -> Instr:
        key = (block, f)
        if key in self.entry:
            return self.entry[key]
        edges = block.phi_preds()
        if len(edges) == 1 and edges[0][1] is None:
            v = self.before(edges[0][0], None, f)
            self.entry[key] = v
            return v
        phi = Instr(self.fn.new_id(), "phi", [], (), ANY, block=block)
        block.phis.append(phi)
        self.phis.append(phi)
        self.entry[key] = phi  # before the operands: a loop reads it back
        phi.args = [self.before(pred, at, f) for pred, at in edges]
        return phi



def _settle(fn: Function, alias: dict[Instr, Instr], phis: list[Instr]) -> None:
    """Replace each removed read by its value and each trivial phi (every
    operand one value or the phi itself) by that value, in one walk over the
    function; type the remaining phis as the builder does."""
    final = fold_trivial_phis(phis, alias)
    for p in phis:
        if p in alias:
            p.block.phis.remove(p)
    replace_uses(fn, final)
    for p in phis:
        if p not in alias:
            types = {a.type for a in p.args if a is not p}
            p.type = types.pop() if len(types) == 1 else ANY


def _drop_dead_phis(fn: Function) -> bool:
    """Remove the phis no instruction, frame state or live phi uses. A local
    that held a record in the previous loop iteration leaves such a phi at the
    loop header (dead once prune-states dropped it from the states), and it
    would otherwise count as a use that lets the record escape."""
    live: set[Instr] = set()
    work: list[Instr] = []
    for b in fn.blocks:
        for ins in b.instrs + ([b.terminator] if b.terminator is not None else []):
            work += ins.args
            if ins.state is not None:
                work += ins.state.values()
    while work:
        v = work.pop()
        if v.is_phi and v not in live:
            live.add(v)
            work += v.args
    changed = False
    for b in fn.blocks:
        keep = [p for p in b.phis if p in live]
        if len(keep) != len(b.phis):
            b.phis = keep
            changed = True
    return changed


@register("escape", doc="escape analysis: scalar replacement of records that do not escape", order=70)
def run(fn: Function, ctx: PassContext) -> bool:
    records = [i for b in fn.blocks for i in b.instrs if i.op == "record"]
    if not records:
        return False
    changed = _drop_dead_phis(fn)
    virtual = bool(ctx.options.get("escape.virtual", False))
    users: dict[Instr, list[Instr]] = {r: [] for r in records}
    named_by: dict[Instr, list[Instr]] = {r: [] for r in records}
    for b in fn.blocks:
        for ins in b.all():
            for a in dict.fromkeys(ins.args):
                if a in users:
                    users[a].append(ins)
            if ins.state is not None:
                for a in dict.fromkeys(ins.state.values()):
                    if a in named_by:
                        named_by[a].append(ins)
    alias: dict[Instr, Instr] = {}
    phis: list[Instr] = []
    for rec in records:
        if _escapes(rec, users[rec], named_by[rec], virtual):
            continue
        fields = _Fields(fn, rec, phis)
        accesses = users[rec]
        for g in accesses:
            if g.op == "get_field":
                alias[g] = fields.before(g.block, g, g.attrs[0])
        for ins in accesses:
            ins.state = None  # (removed: their states must not be virtualised)
        if virtual:
            _virtualise(fn, rec, fields, [i for i in named_by[rec] if i not in accesses])
        for ins in accesses + [rec]:
            ins.block.instrs.remove(ins)
        ctx.log.append(f"escape: {fn.name}: record at pc {rec.pc} replaced by its fields")
        changed = True
    if alias or phis:
        _settle(fn, alias, phis)
        retype(fn)
    return changed
