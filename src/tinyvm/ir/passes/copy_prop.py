"""copy-prop: replace values that are copies of another by that other value.

A copy is:

* a phi whose operands, ignoring the phi itself, are all one value (a
  trivial phi, Braun et al. 2013: a loop variable never reassigned, or a phi
  left with one operand after simplify-cfg dropped an edge);
* a check that its operand's static type already proves: `check_type[T] v`
  with v of type T, `check_bool v` with v a bool, `to_str v` with v a string.
  These can raise only on a mismatch the types exclude, so the check is the
  identity.

Each copy's uses (operands and frame states) become uses of its source and
the copy is deleted; replacing one copy can make another phi trivial, so the
pass repeats until nothing changes.
"""

from __future__ import annotations

from ...bytecode.types import ANY, BOOL, STRING
from ..nodes import Function, Instr, replace_uses
from . import PassContext, register
from .facts import remove_instr

__all__ = ["copy_prop", "source_of"]


def source_of(ins: Instr) -> Instr | None:
    """The value `ins` is a copy of, or None."""
    if ins.is_phi:
        others = {id(a): a for a in ins.args if a is not ins}
        return next(iter(others.values())) if len(others) == 1 else None
    if not ins.args:
        return None
    src = ins.args[0]
    if ins.op == "check_type" and ins.type != ANY and src.type == ins.type:
        return src
    if ins.op in ("check_bool", "truthy") and src.type == BOOL:  # (a bool is its own truth)
        return src
    if ins.op == "to_str" and src.type == STRING:
        return src
    return None


@register("copy-prop", doc="replace trivial phis and statically proven checks by their source value", order=25)
def copy_prop(fn: Function, ctx: PassContext) -> bool:
    changed = False
    while True:
        repl: dict[Instr, Instr] = {}
        for b in fn.blocks:
            for ins in b.phis + b.instrs:
                src = source_of(ins)
                if src is not None:
                    repl[ins] = src
        # Resolve chains (a copy of a copy); a cycle of copies with no other
        # source (only in code that cannot run) is left alone.
        for k in list(repl):
            v, seen = repl[k], {k}
            while v in repl and v not in seen:
                seen.add(v)
                v = repl[v]
            if v in seen:
                del repl[k]
            else:
                repl[k] = v
        if not repl:
            return changed
        replace_uses(fn, repl)
        for ins in repl:
            remove_instr(ins)
        changed = True
