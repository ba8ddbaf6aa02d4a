"""gvn: global value numbering over the dominator tree (Briggs, Cooper and Simpson's dominator-based scheme).

The blocks are walked in dominator-tree preorder with a scoped table from
an instruction's key -- its op, `.checked`, attributes and the value numbers
of its operands -- to the first value with that key. A later instruction
with the same key, in a block the first one's dominates, is replaced by it.
Commutative ops (`eq`, `ne`, `band`, `bor`, `bxor`) sort their operands first.
Constants are keyed by value *and* type, so `1`, `1.0` and `true` stay apart,
and so do `0.0` and `-0.0`.

Only instructions whose outcome is a function of their operands take part
(`facts.is_deterministic`): pure ones, and the arithmetic, comparisons and
checks that may raise -- a later `add.checked v1, v2` dominated by an equal
one is redundant, since if the first did not overflow the second cannot, so
it goes, frame state and all -- unless the first one catches (raises into
a handler of this function): a raise defines nothing, and the handler may
reach the twin. Never memory reads (a `get_field`,
`load_global` or `cell_get` could see a store in between), side effects,
calls, or an `add` whose operands could be arrays (each `+` makes a new
array). So nothing is ever merged across a side effect that could change it.
"""

from __future__ import annotations

from ..nodes import Block, Function, Instr, replace_uses
from . import PassContext, register
from .facts import const_key, dom_children, is_deterministic, remove_instr

__all__ = ["gvn"]

_COMMUTATIVE = frozenset({"eq", "ne", "band", "bor", "bxor"})


def _key(ins: Instr) -> tuple:
    ids = [a.id for a in ins.args]
    if ins.op in _COMMUTATIVE:
        ids.sort()
    return (ins.op, ins.checked, str(ins.type), tuple(const_key(a) for a in ins.attrs), tuple(ids))


@register("gvn", doc="global value numbering: merge equal pure values over the dominator tree", order=30)
def gvn(fn: Function, ctx: PassContext) -> bool:
    _, kids = dom_children(fn)
    repl: dict[Instr, Instr] = {}
    table: dict[tuple, Instr] = {}
    # Iterative preorder walk; each frame remembers the keys its block added.
    stack: list[tuple[Block, list[tuple] | None]] = [(fn.entry, None)]
    while stack:
        block, added = stack.pop()
        if added is not None:  # leaving the block's subtree: drop its scope
            for k in added:
                del table[k]
            continue
        mine: list[tuple] = []
        for ins in block.instrs:
            if not is_deterministic(ins):
                continue
            if any(a in repl for a in ins.args):
                ins.args = [repl.get(a, a) for a in ins.args]
            k = _key(ins)
            first = table.get(k)
            if first is not None:
                repl[ins] = first
            elif ins.catch is None:
                table[k] = ins
                mine.append(k)
            # (An instruction that can raise into a handler of this function
            # leads no one: when it raises, it defines nothing, and the
            # handler may go on to a block it dominates and reach the twin,
            # which must then compute the value itself.)
        stack.append((block, mine))
        for child in reversed(kids.get(block, [])):
            stack.append((child, None))
    if not repl:
        return False
    replace_uses(fn, repl)
    for ins in repl:
        remove_instr(ins)
    return True
