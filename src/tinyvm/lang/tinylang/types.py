"""TinyLang's static types (spec section 12): the type language and its rules.

The type values, their text form and `parse_type_text` are the bytecode's
(bytecode/types.py: code objects record types as text, and the VM reads them
back without the checker); this module adds what only the checker needs --
class symbols, the types of classes, modules and built-ins as values -- and
the rules. Names from bytecode/types.py are re-exported, so the checker's
passes import every type from here.

Rules (the checker's, in one place):

* `relation(src, dst)` says whether a value of static type `src` may flow into
  a place of type `dst`: OK (proven, no run-time work), WIDEN (an int becomes a
  float: the compiler emits the conversion), CHECK (`src` is `any`: checked at
  run time), or ERROR.
* Containers are invariant in their element types, up to `any` (`[any]` fits
  `[int]` and back, without a run-time check of the elements: boundary checks
  are shallow), and allow class subtyping of elements (`[Dog]` fits
  `[Animal]`, as in TypeScript). `[int]` does not fit `[float]`: its elements
  would stay ints while typed code computes with them as floats.
* Records are structural with width subtyping: `{x: int, y: int}` fits `{x: int}`.
* Classes are nominal: an instance of a subclass fits where the parent is expected.
* `T?` is `T` or `nil`; `nil` fits only optional types and `any`.
* Generics (1.1): a type parameter `T` fits only itself (and `any`), or, by
  its bound, where the bound fits; `Stack<int>` fits `Stack<int>` (type
  arguments are invariant, up to `any`) and the raw `Stack`. Interfaces are
  nominal: a class fits an interface it (or an ancestor) declares it
  implements; int, float and string fit `Comparable`.
* `join(a, b)` is the inferred type of a value that is either: `int` and
  `float` join to `any` (no value is silently converted in code that has no
  annotations), `T` and `nil` to `T?`, two classes to their nearest common
  ancestor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...bytecode.types import (  # noqa: F401  (re-exported for the checker's passes)
    ANY,
    BOOL,
    FLOAT,
    GENERIC_ARITY,
    GENERICS,
    INT,
    NIL,
    NUMERIC,
    PRIMS,
    STRING,
    ArrayT,
    ClassT,
    FnT,
    GenericT,
    MapT,
    OptionalT,
    Prim,
    RecordT,
    TupleT,
    Type,
    TypeTextError,
    optional,
    parse_type_text,
    strip_optional,
)

# relation() results
OK, WIDEN, CHECK, ERROR = "ok", "widen", "check", "error"

RANGE = Prim("range")  # the value of `a..b`
# The type of an expression that never produces a value (a call to a function
# that always throws is not tracked; this is for the join of no returns).
NEVER = Prim("never")


class ClassSym:
    """What the checker knows about one class: nominal identity, parent, member
    types. Filled in by the checker (member types may be inferred lazily)."""

    __slots__ = ("name", "parent", "fields", "methods", "decl", "builtin", "open", "tparams", "implements", "is_interface", "parent_args")

    def __init__(self, name: str, parent: "ClassSym | None" = None, decl: Any = None, builtin: bool = False):
        self.name = name
        self.parent = parent
        # name -> Type, or the FieldDecl whose default's type is not known yet.
        self.fields: dict[str, Any] = {}
        self.methods: dict[str, Any] = {}  # name -> FnDecl (checker resolves its type)
        self.decl = decl
        self.builtin = builtin
        # True when some ancestor is not statically known: any member may exist.
        self.open = False
        # 1.1 generics and interfaces: the class's type parameters (TypeParamT),
        # the interfaces it declares (ClassSyms), and whether it is one.
        self.tparams: tuple = ()
        self.implements: list = []
        self.is_interface = False
        # `extends Base<int>`: the parent's type arguments, in terms of tparams.
        self.parent_args: tuple | None = None

    def ancestors(self):
        """The class, its parent, its parent's parent... An inheritance chain
        may be as long as the program: past 1000 classes, a class met before
        ends it (a guard against a cyclic, broken chain, kept out of the
        common case)."""
        c: ClassSym | None = self
        n = 0
        seen: set[int] | None = None
        while c is not None:
            yield c
            c = c.parent
            n += 1
            if n >= 1000 and c is not None:
                if seen is None:
                    seen = set()
                if id(c) in seen:
                    return
                seen.add(id(c))

    def is_open(self) -> bool:
        return any(c.open for c in self.ancestors())

    def find_method(self, name: str) -> tuple["ClassSym", Any] | None:
        for c in self.ancestors():
            if name in c.methods:
                return c, c.methods[name]
        return None

    def member_names(self) -> list[str]:
        out: list[str] = []
        for c in self.ancestors():
            out.extend(c.fields)
            out.extend(m for m in c.methods if not m.startswith("$"))
        return out

    def __repr__(self) -> str:
        return f"<class {self.name}>"


@dataclass(frozen=True, slots=True)
class ClassRefT(Type):
    """The class itself, as a value (calling it constructs an instance)."""

    cls: ClassT

    def text(self) -> str:
        return f"class {self.cls.name}"


@dataclass(frozen=True, slots=True)
class ModuleT(Type):
    """An imported module (`import math`): its exports' types."""

    name: str
    exports: tuple[tuple[str, Type], ...]

    def get(self, name: str) -> Type | None:
        for n, t in self.exports:
            if n == name:
                return t
        return None

    def text(self) -> str:
        return f"module {self.name}"


@dataclass(frozen=True, slots=True)
class BuiltinT(Type):
    """A built-in function with a signature the type language cannot write
    (variadic `print`, overloaded `abs`); the checker types calls to it by name."""

    name: str

    def text(self) -> str:
        return "fn"


def class_type(sym: ClassSym) -> ClassT:
    return ClassT(sym.name, sym, id(sym))


# --------------------------------------------------------------------------- generics (1.1)


@dataclass(frozen=True, slots=True)
class TypeParamT(Type):
    """A type parameter (`T` of `fn first<T>` or `class Stack<T>`), or `Self`
    in an interface. `key` tells apart equally named parameters of different
    declarations; `bound` is the interface (or class) it must implement.
    Erased at run time (`runtime_text`)."""

    name: str
    key: int = 0
    bound: Any = field(default=None, compare=False, hash=False)

    def text(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class InstT(ClassT):
    """An instance of a generic class with its type arguments: `Stack<int>`.
    A ClassT, so every rule of classes applies; members are substituted."""

    args: tuple = ()

    def text(self) -> str:
        return f"{self.name}<{', '.join(a.text() for a in self.args)}>"


SELF = TypeParamT("Self", -1)  # `Self` in an interface: the implementing type


def _comparable() -> ClassSym:
    sym = ClassSym("Comparable", None, builtin=True)
    sym.is_interface = True
    sym.methods["compare"] = FnT((SELF,), INT, ("other",), "Comparable.compare")
    return sym


# The built-in interface (spec 13), shared by every checker like the error classes.
COMPARABLE = _comparable()
COMPARABLE_SCALARS = (INT, FLOAT, STRING)


def implements(sym: ClassSym, iface: ClassSym) -> bool:
    """Does the class (or an ancestor) declare that it implements iface?"""
    return any(i is iface for c in sym.ancestors() for i in c.implements)


def erase(t: Type) -> Type:
    """The type as run-time checks see it: type parameters become `any`,
    `Stack<int>` the class `Stack`."""
    if isinstance(t, TypeParamT):
        return ANY
    if isinstance(t, InstT):
        return ClassT(t.name, t.sym, t.key)
    if isinstance(t, OptionalT):
        return optional(erase(t.inner))
    if isinstance(t, ArrayT):
        return ArrayT(erase(t.elem))
    if isinstance(t, MapT):
        return MapT(erase(t.key), erase(t.value))
    if isinstance(t, GenericT):
        return GenericT(t.name, erase(t.arg), erase(t.arg2) if t.arg2 is not None else None)
    if isinstance(t, RecordT):
        return RecordT(tuple((n, erase(x)) for n, x in t.fields))
    if isinstance(t, FnT):
        return FnT(tuple(erase(p) for p in t.params), erase(t.ret), t.names, t.owner, t.required)
    return t


def _generic_relation(src: Type, dst: Type) -> str | None:
    """relation() for type parameters, interfaces and generic instances;
    None when none of them is involved."""
    if isinstance(src, TypeParamT):
        if isinstance(dst, TypeParamT) or src.bound is None:
            return ERROR
        return relation(src.bound, dst)
    if isinstance(dst, TypeParamT):
        return ERROR
    if isinstance(dst, ClassT) and dst.sym is not None and dst.sym.is_interface:
        if src in COMPARABLE_SCALARS:
            return OK if dst.sym is COMPARABLE else ERROR
        if isinstance(src, ClassT) and src.sym is not None:
            return OK if src.sym is dst.sym or implements(src.sym, dst.sym) else ERROR
        return None
    if isinstance(dst, InstT) and isinstance(src, InstT) and src.sym is dst.sym:
        return OK if all(_inner(a, b) for a, b in zip(src.args, dst.args)) else ERROR
    return None


def is_callable(t: Type) -> bool:
    return isinstance(t, (FnT, ClassRefT, BuiltinT)) or t is ANY


# --------------------------------------------------------------------------- rules


def is_subclass(a: ClassT, b: ClassT) -> bool:
    if a == b:
        return True
    if a.sym is None or b.sym is None:
        return a.name == b.name
    return any(c is b.sym for c in a.sym.ancestors())


def relation(src: Type, dst: Type) -> str:
    """How a value of static type src flows into a place of type dst."""
    if dst is ANY or src is NEVER:
        return OK
    if src is ANY:
        return CHECK
    if src == dst:
        return OK
    if isinstance(dst, OptionalT):
        if src is NIL:
            return OK
        return relation(strip_optional(src), dst.inner)
    if isinstance(src, OptionalT) or src is NIL:
        return ERROR
    if src is INT and dst is FLOAT:
        return WIDEN
    if isinstance(src, (TypeParamT, ClassT)) or isinstance(dst, (TypeParamT, ClassT)):
        g = _generic_relation(src, dst)
        if g is not None:
            return g
    if isinstance(dst, ClassT):
        return OK if isinstance(src, ClassT) and is_subclass(src, dst) else ERROR
    if isinstance(dst, ArrayT):
        return OK if isinstance(src, ArrayT) and _inner(src.elem, dst.elem) else ERROR
    if isinstance(dst, MapT):
        return OK if isinstance(src, MapT) and _inner(src.key, dst.key) and _inner(src.value, dst.value) else ERROR
    if isinstance(dst, GenericT):
        if not (isinstance(src, GenericT) and src.name == dst.name and _inner(src.arg, dst.arg)):
            return ERROR
        return OK if dst.arg2 is None or (src.arg2 is not None and _inner(src.arg2, dst.arg2)) else ERROR
    if isinstance(dst, TupleT):  # (tltuple) same arity, elements as in arrays
        if not (isinstance(src, TupleT) and len(src.elems) == len(dst.elems)):
            return ERROR
        return OK if all(_inner(a, b) for a, b in zip(src.elems, dst.elems)) else ERROR
    if isinstance(dst, RecordT):
        if not isinstance(src, RecordT):
            return ERROR
        for name, t in dst.fields:
            s = src.get(name)
            if s is None or not _inner(s, t):
                return ERROR
        return OK
    if isinstance(dst, FnT):
        if isinstance(src, (ClassRefT, BuiltinT)):
            return OK  # checked by the callee at run time
        if not isinstance(src, FnT) or len(src.params) != len(dst.params):
            return ERROR
        if all(_inner(d, s) for s, d in zip(src.params, dst.params)) and (dst.ret is NIL or _inner(src.ret, dst.ret)):
            return OK
        return ERROR
    return ERROR


def _inner(src: Type, dst: Type) -> bool:
    """Element-position compatibility: no conversion possible, `any` consistent."""
    if src is ANY or dst is ANY:
        return True
    r = relation(src, dst)
    return r == OK


def join(a: Type, b: Type) -> Type:
    """The type of a value that has type a or type b."""
    if a is NEVER:
        return b
    if b is NEVER:
        return a
    if a == b:
        return a
    if a is ANY or b is ANY:
        return ANY
    if a is NIL:
        return optional(b)
    if b is NIL:
        return optional(a)
    if isinstance(a, OptionalT) or isinstance(b, OptionalT):
        inner = join(strip_optional(a), strip_optional(b))
        return ANY if inner is ANY else optional(inner)
    if isinstance(a, ClassT) and isinstance(b, ClassT) and a.sym is not None and b.sym is not None:
        for c in a.sym.ancestors():
            if any(c is d for d in b.sym.ancestors()):
                return class_type(c)
        return ANY
    if isinstance(a, TupleT) and isinstance(b, TupleT) and len(a.elems) == len(b.elems):
        return TupleT(tuple(join(x, y) for x, y in zip(a.elems, b.elems)))  # (tltuple)
    if relation(a, b) == OK:
        return b
    if relation(b, a) == OK:
        return a
    return ANY


def has_any(t: Type) -> bool:
    """True when `any` occurs anywhere in t (its values are then only partly known)."""
    if t is ANY:
        return True
    if isinstance(t, ArrayT):
        return has_any(t.elem)
    if isinstance(t, MapT):
        return has_any(t.key) or has_any(t.value)
    if isinstance(t, OptionalT):
        return has_any(t.inner)
    if isinstance(t, GenericT):
        return has_any(t.arg) or (t.arg2 is not None and has_any(t.arg2))
    if isinstance(t, RecordT):
        return any(has_any(x) for _, x in t.fields)
    if isinstance(t, TupleT):
        return any(has_any(x) for x in t.elems)
    if isinstance(t, FnT):
        return any(has_any(x) for x in t.params) or has_any(t.ret)
    return False


def checkable(t: Type) -> bool:
    """Whether the VM can check a value against t at run time (the type can be
    written in TinyLang syntax and parsed back)."""
    if isinstance(t, (ClassRefT, ModuleT, BuiltinT)) or t in (RANGE, NEVER):
        return False
    if isinstance(t, OptionalT):
        return checkable(t.inner)
    return True


def runtime_text(t: Type | None) -> str:
    """A checked type as code objects record it and the VM checks it: its text,
    or "" when there is nothing to check (unknown, `any`, or no annotation
    syntax for it)."""
    if t is None or t is ANY or not checkable(t):
        return ""
    t = erase(t)  # (type parameters and type arguments are erased)
    return t.text() if t is not ANY else ""


