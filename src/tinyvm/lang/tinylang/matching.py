"""The checker's rules for `match` (issue 18, helper tlenum; spec section 13,
"Match"). The parser lowered the match into its block's statements
(lang/tinylang/enums_syntax.py): checking them types the subject, narrows a
`when c is Circle` binding and checks each `when` value's `==`. What is left is
exhaustiveness: a match on a value of an enum type with no `else` must name
every member of the enum in its `when` arms, else it is a compile error naming
the missing members (in declaration order). A match on anything else without
`else` that matches nothing does nothing. An exhaustive match on an enum
counts as having an `else` for "missing return" (see _last_arm_is_else).
"""

from __future__ import annotations

from typing import Any

from . import ast as A
from .enums import enum_of
from .types import ClassRefT


def check_match(c: Any, s: A.Match) -> None:
    c.s_Block(s)
    if s.else_body is not None or s.subject is None:
        return
    decl = enum_of(s.subject.ty)
    if decl is None:
        return
    covered: set[str] = set()
    for arm in s.arms:
        for v in arm.values:
            if isinstance(v, A.Field) and isinstance(v.obj.ty, ClassRefT) and v.obj.ty.cls.sym is not None and v.obj.ty.cls.sym.decl is decl:
                covered.add(v.name)
    missing = [name for name, _, _ in decl.members if name not in covered]
    if missing:
        listed = ", ".join(f"{decl.name}.{m}" for m in missing)
        c.error(s, f"match on {decl.name} is not exhaustive: missing {listed} (or add an 'else' arm)")
    else:
        _last_arm_is_else(s)


def _last_arm_is_else(s: A.Match) -> None:
    """An exhaustive match on an enum: when every other arm failed, the last
    one matches (the subject's type is the enum: the checks at typed places
    keep other values out), so its test becomes the chain's `else`. Then a
    function whose every arm returns does not fall off the end ("missing
    return"), as with an `else`."""
    prev: A.If | None = None
    node = s.stmts[1] if len(s.stmts) > 1 else None
    while isinstance(node, A.If) and isinstance(node.orelse, A.If):
        prev, node = node, node.orelse
    if not isinstance(node, A.If) or node.orelse is not None or not s.arms or s.arms[-1].type_ is not None:
        return
    if prev is None:
        s.stmts[1] = node.then
    else:
        prev.orelse = node.then
