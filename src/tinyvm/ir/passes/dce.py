"""dce: dead-code elimination of unused pure values and dead phis.

Mark and sweep rather than use counts, so that a cycle of phis that only
feed each other (a loop variable nothing reads) dies too. The roots are the
instructions DCE may not drop (`facts.is_removable` is false): terminators,
side effects (stores, calls, `print`, `fuel`), everything that can raise or
deoptimise, and ops it does not know. A root keeps alive its operands and
every value its frame state names -- a frame state is a use, since
deoptimising there rebuilds the interpreter frame from those values -- and so
on transitively. Everything unmarked is removed.
"""

from __future__ import annotations

from ..nodes import Function, Instr
from . import PassContext, register
from .facts import is_removable, remove_instr

__all__ = ["dce"]


@register("dce", doc="remove unused pure values and dead phis (phi cycles too); frame states count as uses", order=90)
def dce(fn: Function, ctx: PassContext) -> bool:
    live: set[Instr] = set()
    work: list[Instr] = []
    for b in fn.blocks:
        for ins in b.all():
            if not is_removable(ins):
                work.append(ins)
    while work:
        ins = work.pop()
        if ins in live:
            continue
        live.add(ins)
        work.extend(ins.args)
        if ins.state is not None:
            work.extend(ins.state.values())
    dead = [ins for b in fn.blocks for ins in b.phis + b.instrs if ins not in live]
    for ins in dead:
        remove_instr(ins)
    return bool(dead)
