"""Frame-state pruning: forget the locals that are dead where a state resumes.

A frame state names the SSA value of every guest local, so any value once
stored in a local stays "used" by every later raising instruction's state
until the slot is overwritten, though the bytecode will never read it again.
That keeps values alive for nothing and, above all, makes every record held
in a local look escaping to the escape pass (a state that names an object
could deoptimise and need it). This pass computes the liveness of the locals
over the bytecode (backwards: `LOAD_LOCAL`, the cell ops, `FOR_RANGE`'s two
slots and `MAKE_CLOSURE`'s captured slots read a slot, `STORE_LOCAL` writes
it; a handler's live slots are live throughout the range it covers) and, in
every frame state and every link of its parent chain, replaces each local dead
at the state's pc by `_` (None: not tracked). Slot 0, the running function,
is always kept (upvalue and global access go through it).

What a deoptimised frame shows: the JIT rebuilds an untracked slot as nil, so
a frame resumed from a pruned state holds nil in the slots the rest of the
function never reads. No guest code can observe the difference (it would
have to read the slot); a debugger inspecting such a frame would see nil.
States of IR read from text (no code object) are left alone.
"""

from __future__ import annotations

from ...bytecode.code import Code
from ...bytecode.dataflow import first_handlers
from ...bytecode.opcodes import LOCAL, OPCODES
from ..build import decode
from ..nodes import Function
from . import PassContext, register

__all__ = ["live_locals", "run"]


def _uses_defs(code: Code, name: str, operands: tuple[str, ...], args: tuple[int, ...]) -> tuple[set[int], set[int]]:
    if name == "STORE_LOCAL":
        return set(), {args[0]}
    if name == "FOR_RANGE":
        return {args[0], args[0] + 1}, set()
    if name == "MAKE_CLOSURE":
        sub = code.consts[args[0]]
        return {i for from_local, i in getattr(sub, "captures", ()) if from_local}, set()
    return {a for k, a in zip(operands, args) if k == LOCAL}, set()


def live_locals(code: Code) -> dict[int, frozenset[int]]:
    """pc -> the local slots live on entry to the instruction at pc."""
    insns = decode(code)
    pcs = sorted(insns)
    handler_of = first_handlers(code, pcs) if code.handlers else {}
    succ: dict[int, list[int]] = {}
    use: dict[int, set[int]] = {}
    kill: dict[int, set[int]] = {}
    for pc in pcs:
        op, args = insns[pc]
        info = OPCODES[op]
        out = [] if info.terminal else [pc + info.size]
        if info.branch is not None:
            out.append(args[info.operands.index("jump")])
        h = handler_of.get(pc)
        if h is not None:
            out.append(h[0])
        succ[pc] = [s for s in out if s in insns]
        use[pc], kill[pc] = _uses_defs(code, info.name, info.operands, args)
    live: dict[int, frozenset[int]] = {pc: frozenset() for pc in pcs}
    changed = True
    while changed:
        changed = False
        for pc in reversed(pcs):
            out: set[int] = set()
            for s in succ[pc]:
                out |= live[s]
            new = frozenset((out - kill[pc]) | use[pc])
            if new != live[pc]:
                live[pc] = new
                changed = True
    return live


@register("prune-states", doc="drop the locals dead at each frame state's pc (a deoptimised frame shows them as nil)", order=67)
def run(fn: Function, ctx: PassContext) -> bool:
    cache: dict[int, dict[int, frozenset[int]]] = {}
    changed = False
    seen: set[int] = set()
    for b in fn.blocks:
        for ins in b.all():
            st = ins.state
            while st is not None:
                if id(st) not in seen and st.code is not None:
                    seen.add(id(st))
                    if id(st.code) not in cache:
                        cache[id(st.code)] = live_locals(st.code)
                    live = cache[id(st.code)].get(st.pc)
                    if live is not None:
                        new = [v if i == 0 or i in live else None for i, v in enumerate(st.locals)]
                        if new != st.locals:
                            st.locals = new
                            changed = True
                st = st.parent
    return changed
