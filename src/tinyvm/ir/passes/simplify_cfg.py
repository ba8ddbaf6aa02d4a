"""simplify-cfg: fold constant branches, drop unreachable blocks, merge and thread blocks.

Four rewrites, repeated until none applies:

1. A `branch` on a `const` becomes a `jump` to the taken side; the other side
   forgets the edge (its `preds` entry and the phi operands along it). A
   branch whose two targets are one block becomes a jump when every phi there
   agrees on the two edges.
2. Blocks no path from the entry reaches (normal or exceptional edges) are
   deleted, and their successors forget the edges they came along
   (`preds`/`catch_preds` entries and phi operands).
3. A block whose only predecessor ends in `jump` to it (and nothing else
   jumps there) is merged into that predecessor; its phis, one operand each,
   become that operand. A handler block (reached by exceptional edges) is
   never merged: the edge it hangs on is an instruction's, not a jump.
4. Jump threading: an empty block (no phis, no instructions, `jump T`) is
   bypassed -- its predecessors jump to T directly -- unless a predecessor
   already reaches T (T's phis could then not tell the two edges apart).

Merging keeps the exceptional edges exact: a handler's `catch_preds` name the
merged block where they named the absorbed one, reordered so that the k-th
mention of a block is still its k-th catching instruction, the phi operands
permuted with them.
"""

from __future__ import annotations

from ..nodes import Block, Function, Instr, replace_uses
from ..verify import reverse_postorder
from . import PassContext, register
from .facts import remove_edge

__all__ = ["drop_unreachable", "simplify_cfg"]


def _fold_branches(fn: Function) -> bool:
    changed = False
    for b in fn.blocks:
        t = b.terminator
        if t is None or t.op != "branch":
            continue
        cond = t.args[0]
        yes, no = t.targets
        if yes is no:
            i, j = [k for k, p in enumerate(yes.preds) if p is b][:2]
            if all(p.args[i] is p.args[j] for p in yes.phis):
                remove_edge(b, yes, j)
                _jump(b, t, yes)
                changed = True
            continue
        if cond.op != "const" or type(cond.attrs[0]) is not bool:
            continue
        keep, drop = (yes, no) if cond.attrs[0] else (no, yes)
        remove_edge(b, drop)
        _jump(b, t, keep)
        changed = True
    return changed


def _jump(b: Block, old: Instr, target: Block) -> None:
    """Replace b's terminator by `jump target` (target's preds already hold b)."""
    b.terminator = Instr(old.id, "jump", targets=[target], pc=old.pc, block=b)


def drop_unreachable(fn: Function) -> bool:
    """Delete the blocks no path from the entry reaches; True if any."""
    live = set(reverse_postorder(fn))
    dead = [b for b in fn.blocks if b not in live]
    if not dead:
        return False
    for b in live:
        if any(p not in live for p in b.preds + b.catch_preds):
            keep = [i for i, (p, _) in enumerate(b.phi_preds()) if p in live]
            for phi in b.phis:
                phi.args = [phi.args[i] for i in keep]
            b.preds = [p for p in b.preds if p in live]
            b.catch_preds = [p for p in b.catch_preds if p in live]
    fn.blocks = [b for b in fn.blocks if b in live]
    return True


def _merge(fn: Function) -> bool:
    for b in fn.blocks[1:]:
        if len(b.preds) != 1 or b.catch_preds:
            continue
        p = b.preds[0]
        if p is b or p.terminator is None or p.terminator.op != "jump":
            continue
        # b's phis have one operand: the value along the edge.
        replace_uses(fn, {phi: phi.args[0] for phi in b.phis})
        # Handlers b's instructions catch at: b's mentions become p's, after p's own.
        handlers = {i.catch for i in b.instrs + [b.terminator] if i.catch is not None}  # (a throw catches too)
        for ins in b.instrs:
            ins.block = p
        p.instrs += b.instrs
        b.terminator.block = p
        p.terminator = b.terminator
        for s in b.terminator.targets:
            s.preds = [p if x is b else x for x in s.preds]
        for h in handlers:
            # Within the list, b's entries (now p's later instructions) must
            # follow p's own: stable-sort p's and b's mentions, p's first.
            npreds = len(h.preds)
            idx = [j for j, x in enumerate(h.catch_preds) if x is p or x is b]
            mine = [j for j in idx if h.catch_preds[j] is p] + [j for j in idx if h.catch_preds[j] is b]
            perm = list(range(len(h.catch_preds)))
            for slot, j in zip(idx, mine):
                perm[slot] = j
            h.catch_preds = [p if h.catch_preds[j] is b else h.catch_preds[j] for j in perm]
            for phi in h.phis:
                phi.args = phi.args[:npreds] + [phi.args[npreds + j] for j in perm]
        fn.blocks.remove(b)
        return True
    return False


def _thread(fn: Function) -> bool:
    for e in fn.blocks[1:]:
        t = e.terminator
        if e.phis or e.instrs or e.catch_preds or t is None or t.op != "jump":
            continue
        target = t.targets[0]
        if target is e or (target.phis and any(p in target.preds for p in e.preds)):
            continue
        if len(set(e.preds)) != len(e.preds) and target.phis:
            continue
        k = target.preds.index(e)
        for pred in e.preds:
            pt = pred.terminator
            pt.targets = [target if x is e else x for x in pt.targets]
        # target's edge from e becomes one edge per predecessor of e.
        target.preds[k : k + 1] = list(e.preds)
        for phi in target.phis:
            phi.args[k : k + 1] = [phi.args[k]] * len(e.preds)
        fn.blocks.remove(e)
        return True
    return False


@register("simplify-cfg", doc="fold constant branches, drop unreachable blocks, merge straight-line blocks, thread empty ones", order=10)
def simplify_cfg(fn: Function, ctx: PassContext) -> bool:
    changed = False
    while True:
        step = _fold_branches(fn)
        step |= drop_unreachable(fn)
        step |= _merge(fn)
        step |= _thread(fn)
        if not step:
            return changed
        changed = True
