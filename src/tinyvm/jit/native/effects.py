"""What a native call may change: the fields its callee may store, whether it may resize a list.

The emitter shares work between two reads across what cannot change them:
a field read takes an earlier read's value (fields.py `earlier`,
invariant.py `across`), an array access an earlier access's words
(listwords.py), a receiver's dict probes are made once before a loop
(invariant.py `prefetch`). Every call stopped all of it, since a call may
run guest code. But a native call runs only native code: a callee that
would run guest code (a call out) leaves native code there, and so does
its caller waiting for it (deopt.py), so the caller's code after a call
that came back has seen only what the native callee and its own native
callees did. That is known from their IR:

- the names of the fields they store (`set_field`, `set_field_proven`: of
  any object; a construction's `$fields` and `init` included);
- whether they may resize a list or replace an array's words: a push, a
  pop, an insert (pops.py, inserts.py, alloc.py `is_push`).

Nothing else native code does changes a field or an existing array's
words: an element store replaces an element in place (a packed array's
buffer is not reallocated; a list's `ob_item` stays), an allocation makes
a new object, a field store replaces the value of an existing entry
(native code adds no field and removes none), the poll runs no guest code
and no collection runs inside native code (alloc.py).

`summaries(group)` gives each function of a compilation group its
`Effects`, the least fixed point over its native callees (recursion
included: Permute's `permute` calls itself), or None for one that may
change anything that way (a call whose callee is not known). `call_effects(em, i)`
is the summary of call instruction i's callee in the function `em` emits,
or None for a call that may change anything or leaves native code;
`stores_field(em, i, name)` says of such a call whether it may store a
field of that name (fields.py's reads, invariant.py's `untouched`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...ir.nodes import Instr
from .alloc import is_push
from .fieldtypes import METHOD_CALLS, is_native_builtin

_STORES = frozenset(("set_field", "set_field_proven"))
_CALLS = frozenset(("call", "call_global", "call_typed", "call_method", "call_method_typed", "super_call"))


@dataclass(frozen=True)
class Effects:
    stores: frozenset[str]  # the names of the fields it may store, of any object
    resizes: bool  # may resize a list or replace an array's words


def callees(ty: Any, i: Instr) -> list[Any] | None:
    """The Codes native call i of function ty makes (a construction: its
    `$fields` and `init`), [] for a call making none (`len`, `abs`,
    `sqrt`: computed inline), or None when i may run other code or is not
    a native call."""
    if i in ty.effects:
        return None  # (a call out, native code leaving there; or a push, a pop, an insert: `_resizes`)
    if i.op == "call_global" and i.attrs and i.attrs[0] in ty.callees:
        return [ty.callees[i.attrs[0]]]
    plan = ty.ctors.get(i)
    if plan is not None:
        init, fis = plan[1], plan[3]
        return [f.code for f in [*fis, *([init] if init is not None else [])]]
    if i.op in METHOD_CALLS:
        m = ty.methods.get(i)
        if m is not None:
            return [m[1].code]
        if i.attrs[:1] == ("len",) and len(i.args) == 1:
            return []
        return None
    if i.op == "call" and (is_native_builtin(i, ty.types) or (i.args and ty.types.get(i.args[0]) == "L")):
        return []
    return None


def _resizes(ty: Any, i: Instr) -> bool:
    """Whether i is a push, a pop or an insert (native or a call out: a
    Typed's `effects` holds both)."""
    from . import inserts, pops

    return i.op in METHOD_CALLS and (is_push(i) or pops.handles(i, ty.types) or inserts.handles(i, ty.types))


def _throws(b: Any) -> bool:
    """Whether block b ends in `throw`: native code leaves at its start (a
    failure exit, objects.throw_exit), so none of its instructions runs in
    native code."""
    return b is not None and b.terminator is not None and b.terminator.op == "throw"


def leaves(ty: Any, i: Instr) -> bool:
    """Whether native code has left function ty when i would run: i is in
    a block ending in `throw` (AWFY Towers' `Error("...")` constructions),
    or i is a call out, an unconditional exit (select.py, Typed.effects;
    emit.py, fields.py, construct.py lower each as `exit_to("true", ...)`;
    every call in `ty.effects` is one but a push, a pop or an insert, which
    native code makes itself). Either way native code runs nothing after
    it on its path: what i may do changes nothing native code reads."""
    return _throws(i.block) or i.op in _CALLS and i in ty.effects and not _resizes(ty, i)


def summaries(group: list[Any]) -> dict[Any, Effects | None]:
    """Code -> the Effects of that function of the group and every native
    callee it reaches, or None (module docstring)."""
    summ: dict[Any, Effects | None] = {}  # (each function's own effects first, then its callees' gathered)
    edges: dict[Any, list[Any]] = {}
    for ty in group:
        stores: set[str] = set()
        resizes = False
        out: list[Any] = []
        known = True
        for b in ty.fn.blocks:
            for i in b.instrs if not _throws(b) else ():  # (native code has left before a throw block: `leaves`)
                if i.op in _STORES and i.attrs:
                    stores.add(i.attrs[0])
                elif _resizes(ty, i):
                    resizes = True
                elif i.op in _CALLS or i in ty.ctors:
                    codes = callees(ty, i)
                    if codes is None and i not in ty.effects:
                        known = False
                    out += codes or []
        summ[ty.code] = Effects(frozenset(stores), resizes) if known else None
        edges[ty.code] = out
    changed = True
    while changed:
        changed = False
        for code, eff in summ.items():
            if eff is None:
                continue
            stores, resizes = set(eff.stores), eff.resizes
            for c in edges[code]:
                ce = summ.get(c)
                if ce is None:
                    summ[code] = None
                    changed = True
                    break
                stores |= ce.stores
                resizes = resizes or ce.resizes
            else:
                new = Effects(frozenset(stores), resizes)
                if new != eff:
                    summ[code] = new
                    changed = True
    return summ


def call_effects(em: Any, i: Instr) -> Effects | None:
    """The Effects of call i in the function em emits (emit._FnEmitter:
    its `summaries`), or None: it may change anything, or leaves native code."""
    summ = getattr(em, "summaries", None)
    if summ is None:
        return None
    codes = callees(em.ty, i)
    if codes is None:
        return None
    stores: set[str] = set()
    resizes = False
    for c in codes:
        e = summ.get(c)
        if e is None:
            return None
        stores |= e.stores
        resizes = resizes or e.resizes
    return Effects(frozenset(stores), resizes)


def stores_field(em: Any, i: Instr, name: str) -> bool | None:
    """Whether the native callees of call i may store a field `name` (of
    any object); None when i is no native call of known effects
    (`call_effects`: it may change anything, or leaves native code)."""
    eff = call_effects(em, i)
    return None if eff is None else name in eff.stores
