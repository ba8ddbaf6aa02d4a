"""licm: loop-invariant code motion of pure instructions into a preheader.

Natural loops (a back edge's target, the header, dominates its source) are
handled innermost first. An instruction of the loop is invariant when it is
pure (`facts.is_pure`: no side effect, no memory read, cannot raise) and
each operand is defined outside the loop or is itself invariant; invariant
instructions move, in order, to the end of the loop's preheader -- the one
block outside the loop that jumps to the header. When the header has several
outside predecessors (or the one it has also goes elsewhere), a preheader is
made: a new block they all jump to instead, with a phi for each header phi
over their operands, jumping to the header.

Moving a pure instruction out of a loop that might run zero times is safe
precisely because it cannot raise or be observed. Refused: loops whose header
is a handler (entered by an exceptional edge: there is no edge to put a
preheader on), instructions that catch (their edge belongs to their block),
anything impure -- loads may see the loop's stores, calls have effects -- and
a pure instruction that still carries a frame state naming a value of the
loop (a float `add` whose state lists the loop counter): the verifier wants
every raising op to keep a valid state, and no valid one exists at the
preheader. (Such an op never uses its state; dropping it would need the
verifier to accept a state-less op its types prove safe.)
"""

from __future__ import annotations

from ...bytecode.types import ANY
from ..nodes import Block, Function, Instr
from . import PassContext, register
from .facts import is_pure, natural_loops

__all__ = ["licm"]


def _movable(ins: Instr, inside: set[Instr]) -> bool:
    """Pure, not catching, operands and frame state all defined outside the loop."""
    if ins.catch is not None or not is_pure(ins) or any(a in inside for a in ins.args):
        return False
    return ins.state is None or not any(v in inside for v in ins.state.values())


def _preheader(fn: Function, header: Block, body: set[Block]) -> Block:
    outside = [p for p in header.preds if p not in body]
    if len(outside) == 1 and header.preds.count(outside[0]) == 1:
        p = outside[0]
        if p.terminator is not None and p.terminator.op == "jump":
            return p
    pre = Block(max(b.label for b in fn.blocks) + 1)
    keep = [i for i, p in enumerate(header.preds) if p in body]
    moved = [i for i, p in enumerate(header.preds) if p not in body]
    pre.preds = [header.preds[i] for i in moved]
    for phi in header.phis:
        args = [phi.args[i] for i in moved]
        if len({id(a) for a in args}) == 1:
            v = args[0]
        else:
            types = {str(a.type) for a in args}
            v = Instr(fn.new_id(), "phi", args, type=args[0].type if len(types) == 1 else ANY, block=pre)
            pre.phis.append(v)
        exc = phi.args[len(header.preds) :]
        phi.args = [v] + [phi.args[i] for i in keep] + exc
    for p in set(pre.preds):
        t = p.terminator
        t.targets = [pre if x is header else x for x in t.targets]
    header.preds = [pre] + [header.preds[i] for i in keep]
    pre.terminator = Instr(-1, "jump", targets=[header], block=pre)
    fn.blocks.insert(fn.blocks.index(header), pre)
    return pre


@register("licm", doc="hoist loop-invariant pure instructions into the loop's preheader", order=40)
def licm(fn: Function, ctx: PassContext) -> bool:
    changed = False
    done: set[Block] = set()
    while True:
        for header, body in natural_loops(fn):
            if header in done or header.catch_preds or header is fn.entry:
                continue
            done.add(header)
            inside = {ins for b in body for ins in b.all()}
            invariant: list[Instr] = []
            found = True
            while found:
                found = False
                for b in fn.blocks:
                    if b not in body:
                        continue
                    for ins in b.instrs:
                        if ins in inside and _movable(ins, inside):
                            inside.discard(ins)
                            invariant.append(ins)
                            found = True
            if not invariant:
                continue
            pre = _preheader(fn, header, body)
            for ins in invariant:
                ins.block.instrs.remove(ins)
                ins.block = pre
                pre.instrs.append(ins)
            changed = True
            break  # the CFG changed: find the loops again
        else:
            return changed
