"""Enums and static members in the resolver, checker and emitter (issue 18,
helper tlenum; spec section 13, "Enums" and "Static members"). The syntax is
lang/tinylang/enums_syntax.py; match is lang/tinylang/matching.py; the run-time
side is runtime/enums.py.

Static members: `static let NAME = value` and `static fn f() { }` in a class
body belong to the class: `Point.ZERO`, `Point.origin()`. Their initializers
run, in order, right after the class is bound to its name (so they may use the
class: `static let ORIGIN = Point(0, 0)`); the static functions are bound
before them (so an initializer may call any of them). A static function has no `self`
(compile error) and is called without a receiver. Static members are
inherited: `Sub.origin()` finds `Base.origin` (the nearest class declaring the
name wins), statically and at run time. They cannot be assigned.

An enum is a class (EnumDecl) whose values are its static members; the
checker forbids constructing one (`Color("x", 9)`) and assigning to a value's
fields.
"""

from __future__ import annotations

from typing import Any

from ...bytecode import opcodes as O
from ...bytecode.code import CLASS_ENUM
from . import ast as A
from .types import ANY, ClassRefT, Type, class_type

# ---------------------------------------------------------------------------- resolver


def resolve_statics(r: Any, s: A.ClassDecl) -> None:
    """Resolve a class's static members (after its methods)."""
    seen: set[str] = set()
    saved = r.stmt_index
    r.stmt_index = saved + 1  # (the initializers run once the class is bound)
    for m in s.statics:
        if m.name in seen:
            r.bag.error(m.line, m.col, f"static member '{m.name}' is already declared in {s.name}")
        seen.add(m.name)
        if isinstance(m, A.FnDecl):
            r.function(m, f"{s.name}.{m.name}", "static")
        else:
            r.expr(m.init)
    r.stmt_index = saved


def enclosing_static(fn: Any) -> str | None:
    """The static function `fn` is (or is nested in), by name, if any."""
    while fn is not None and fn.kind != "module":
        if fn.kind == "static":
            return fn.name
        if fn.kind in ("method", "init"):
            return None
        fn = fn.parent
    return None


# ---------------------------------------------------------------------------- checker


def _types(c: Any) -> dict[int, Any]:
    types = getattr(c, "static_types", None)
    if types is None:
        types = c.static_types = {}
    return types


def check_statics(c: Any, s: A.ClassDecl) -> None:
    """Type the `static let` initializers where the class is declared; static
    functions are checked with the other function bodies."""
    types = _types(c)
    for m in s.statics:
        if isinstance(m, A.VarDecl):
            c.s_VarDecl(m)
            types[id(m)] = c.annot(m.type) if m.type is not None else (m.init.ty or ANY)
        else:
            c.deferred.append(m)


def static_member(c: Any, node: A.Node, ot: ClassRefT, name: str) -> Type | None:
    """The type of `Class.name` when the class (or an ancestor) declares a
    static member `name`; None when none does (the caller decides)."""
    sym = ot.cls.sym
    if sym is None:
        return None
    for k in sym.ancestors():
        decl = k.decl
        for m in getattr(decl, "statics", ()) or ():
            if m.name == name:
                if isinstance(m.init if isinstance(m, A.VarDecl) else None, A.EnumValue):
                    return class_type(k)
                if id(decl) not in c.syms:  # an imported class: its module's checker typed it
                    ty = m.scope.ty if isinstance(m, A.FnDecl) and m.scope is not None else None
                    return ty or ANY
                if isinstance(m, A.FnDecl):
                    return c.fn_sig(m)
                return _types(c).get(id(m), ANY)
    if not sym.builtin and not sym.is_open() and sym.decl is not None:
        c.error(node, f"class {sym.name} has no static member '{name}'")
        return ANY
    return None


def is_enum(t: Any) -> bool:
    sym = getattr(getattr(t, "cls", t), "sym", None)
    return sym is not None and isinstance(sym.decl, A.EnumDecl)


def enum_of(t: Type) -> A.EnumDecl | None:
    """The EnumDecl of a value type `t` (Color), if it is an enum's."""
    sym = getattr(t, "sym", None)
    if sym is not None and isinstance(sym.decl, A.EnumDecl) and not isinstance(t, ClassRefT):
        return sym.decl
    return None


def check_construct(c: Any, e: A.Call, ct: ClassRefT) -> None:
    if is_enum(ct):
        c.error(e, f"cannot create values of enum {ct.cls.name}: use its members ({ct.cls.name}.{ct.cls.sym.decl.members[0][0]}, ...)")


def check_field_store(c: Any, t: A.Field, ot: Type) -> bool:
    """Report a store into a static member or an enum value's field (True if so)."""
    if isinstance(ot, ClassRefT) and ot.cls.sym is not None and not ot.cls.sym.builtin:
        c.error(t, f"cannot assign to static member '{t.name}' of {ot.cls.name}")
        return True
    if enum_of(ot) is not None and not (c.ctx is not None and c.ctx.cls is ot.sym and c.ctx.kind == "init"):
        c.error(t, f"cannot assign to field '{t.name}' of enum {ot.name}: enum values are immutable")
        return True
    return False


def e_EnumValue(c: Any, e: A.EnumValue) -> Type:
    ct = c.expr(e.cls)
    return ct.cls if isinstance(ct, ClassRefT) else ANY


# ---------------------------------------------------------------------------- emitter


def class_flags(s: A.ClassDecl) -> int:
    return CLASS_ENUM if isinstance(s, A.EnumDecl) else 0


def emit_statics(em: Any, s: A.ClassDecl) -> None:
    """After the class is bound: each static member's value (SET_STATIC), the
    functions first (as top-level functions are hoisted), then the `let`s in order."""
    for m in sorted(s.statics, key=lambda m: not isinstance(m, A.FnDecl)):
        em.at(m)
        em.load(s.ref)
        if isinstance(m, A.FnDecl):
            em.make_closure(m)
        else:
            em.value(m.init, m.conv)
        em.emit(O.SET_STATIC, em.name_(m.name))


def emit_enum_value(em: Any, e: A.EnumValue) -> None:
    """A member of an enum: its class called with (name, ordinal)."""
    em.expr(e.cls)
    em.emit(O.LOAD_CONST, em.const(e.name))
    em.emit(O.LOAD_CONST, em.const(e.ordinal))
    em.emit(O.CALL, 2)
