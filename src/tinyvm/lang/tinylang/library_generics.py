"""Static types of the 1.1 library's own generic and opaque types (issue 18,
helper tlset): `Set<T>` and the `re` module's `Pattern` and `Match`. A part
of the Checker (`LibraryTypeChecks` is mixed in ahead of `GenericChecks`).

`Set<T>` is a built-in generic type like `Chan<T>` (bytecode/types.py
GenericT, so `subst`, `unify` and `relation` treat it as every other
generic; its methods are in signatures.py `generic_methods`):

* `Set<int>()` takes its element type from the type argument, `Set()` from
  the context (`let s: Set<int> = Set()`, an argument, a return value);
  `Set([1, 2])` and `Set(0..3)` infer it from the argument. `Set()` with
  neither is a compile error: there is nothing to check `add` against.
  Where the context is `any`, it is `Set<any>`.
* The elements of a set are what a map key may be (runtime/sets.py): an
  array, map, record, function, set, channel, task or generator element
  type is a compile error. (Class instances other than enum values are
  rejected at run time: enum types are classes to the checker.)
* A user class named `Set`, `Pattern` or `Match` wins over the built-in one
  in annotations (`annot`), as a local name wins over a built-in function.

`Pattern` and `Match` are opaque built-in types (ClassT without a class
symbol, so they are compared by name): `re.compile(p) -> Pattern`,
`match/search -> Match?`, `find_all -> [string]`, `replace -> string`,
`split -> [string]`, `group(i?) -> string?`, `span() -> (int, int)`.
Their names are usable in annotations without `import re`; a value of one
is checked at run time by its VM type name (vm/typecheck.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import ast as A
from . import signatures as S
from .resolver import plural
from .types import (
    ANY,
    ERROR,
    GENERIC_ARITY,
    INT,
    NEVER,
    NIL,
    OK,
    RANGE,
    WIDEN,
    ArrayT,
    BuiltinT,
    ClassT,
    FnT,
    GenericT,
    MapT,
    RecordT,
    Type,
    class_type,
    relation,
    strip_optional,
)

if TYPE_CHECKING:  # pragma: no cover
    from .checker import Checker

    _Base = Checker
else:
    _Base = object

OPAQUE = ("Pattern", "Match")
# Built-in generics whose constructor is a built-in function (not Task, Gen:
# `spawn` and generator functions make those).
_CONSTRUCTORS = ("Chan", "WeakRef", "WeakMap")
_NOT_KEYS = (ArrayT, MapT, RecordT, FnT, GenericT)


def set_of(elem: Type) -> GenericT:
    return GenericT("Set", elem)


def set_elem(t: Type) -> Type | None:
    """The element type of a value `Set(...)` copies (array, range or set);
    None when it is none of them."""
    if isinstance(t, ArrayT):
        return t.elem
    if t is RANGE:
        return INT
    if isinstance(t, GenericT) and t.name == "Set":
        return t.arg
    if t is ANY:
        return ANY
    return None


class LibraryTypeChecks(_Base):
    # What the innermost chain being typed expects (Checker.expr sets it):
    # the context of `Set()`.
    call_expected: Type | None = None

    def generic_annot(self, t: A.NamedType) -> Type | None:
        """(Checker.annot's first step.) `Set<T>` with its element checked,
        `Pattern`, `Match`; a user's class of one of these names first."""
        if t.param is None and (t.name == "Set" or t.name in OPAQUE):
            for names in reversed(self.type_scopes):
                sym = names.get(t.name)
                if sym is not None:  # the user's own class of that name
                    return super().generic_annot(t) if sym.tparams else self._user_class(t, sym)
            if t.name in OPAQUE:
                if t.args:
                    self.error(t, f"type '{t.name}' takes no type arguments")
                return ClassT(t.name)
            if not t.args:
                return set_of(ANY)
            if len(t.args) != 1:
                self.error(t, f"type 'Set' takes {plural(1, 'type argument')}, got {len(t.args)}")
            elem = self.annot(t.args[0])
            return set_of(elem if self.check_set_elem(t, elem) else ANY)
        return super().generic_annot(t)

    def _user_class(self, t: A.NamedType, sym) -> Type:
        if t.args:
            self.error(t, f"type '{t.name}' takes no type arguments")
        return class_type(sym)

    def check_set_elem(self, node: A.Node, elem: Type) -> bool:
        inner = strip_optional(elem)
        if isinstance(inner, _NOT_KEYS):
            self.error(node, f"a Set's elements must be int, float, bool, string or nil, got {elem}")
            return False
        return True

    def rest_Call(self, e: A.Call, lt: Type) -> Type:
        if isinstance(lt, BuiltinT):
            if lt.name == "Set":
                expected = self.call_expected
                self.call_expected = None
                return self.set_call(e, expected)
            targs = getattr(e.callee, "type_args", None)
            if targs is not None and lt.name in _CONSTRUCTORS:
                return self.explicit_builtin(e, lt, targs)
        return super().rest_Call(e, lt)

    def explicit_builtin(self, e: A.Call, lt: BuiltinT, targs: list) -> Type:
        """`Chan<int>(3)`, `WeakMap<K, V>()`, `WeakRef<T>(x)`: the built-in
        generics' constructors take explicit type arguments, as a generic
        class's do (the call itself is checked as without them)."""
        name = lt.name
        want = GENERIC_ARITY.get(name, 1)
        if len(targs) != want:
            self.error(e.callee, f"{name} takes {plural(want, 'type argument')}, got {len(targs)}")
        args = [self.annot(a) for a in targs[:want]] + [ANY, ANY]
        t = GenericT(name, args[0], args[1] if want == 2 else None)
        e.callee.type_args = None  # (GenericChecks.call_value: "takes no type arguments")
        try:
            got = super().rest_Call(e, lt)
        finally:
            e.callee.type_args = targs
        if isinstance(got, GenericT) and name == "WeakRef" and got.arg is not ANY and relation(got.arg, t.arg) == ERROR:
            self.error(e.args[0], f"argument 1 of WeakRef: expected {t.arg}, got {got.arg}")
        return t

    def set_call(self, e: A.Call, expected: Type | None) -> Type:
        """`Set()`, `Set<T>()`, `Set(xs)` (see the module docstring)."""
        n = len(e.args)
        type_args = getattr(e.callee, "type_args", None)
        want: Type | None = None
        if type_args is not None:
            if len(type_args) != 1:
                self.error(e.callee, f"Set takes {plural(1, 'type argument')}, got {len(type_args)}")
            want = self.annot(type_args[0]) if type_args else ANY
            if not self.check_set_elem(e.callee, want):
                want = ANY
        else:
            ctx = strip_optional(expected) if expected is not None else None
            if isinstance(ctx, GenericT) and ctx.name == "Set":
                want = ctx.arg
            elif ctx is ANY:
                want = ANY
        if n > 1:
            self.error(e, f"Set expects 0 or 1 arguments, got {n}")
            self.loose_args(e)
            return set_of(want or ANY)
        if n == 1:
            arg = e.args[0]
            at = self.expr(arg, ArrayT(want) if want is not None else None)
            elem = set_elem(at)
            if elem is None:
                self.error(arg, f"argument 1 of Set: expected an array, range or Set, got {at}")
                return set_of(want or ANY)
            if want is not None:
                if elem not in (ANY, NEVER) and relation(elem, want) not in (OK, WIDEN):
                    self.error(arg, f"argument 1 of Set: expected elements of type {want}, got {at}")
                return set_of(want)
            if elem is NEVER or elem is NIL:  # (`Set([nil])`: as `[nil]` is `[any]`)
                return set_of(ANY)
            return set_of(elem) if self.check_set_elem(arg, elem) else set_of(ANY)
        if want is not None:
            return set_of(want)
        self.error(e, "cannot infer the element type of Set(): write Set<int>() (any type), or give the variable a type")
        return set_of(ANY)

    def methods_of(self, t: Type) -> dict[str, S.Sig] | None:
        if isinstance(t, ClassT) and t.sym is None and t.name in OPAQUE:
            return S.RE_METHODS[t.name]
        return super().methods_of(t)

    @staticmethod
    def sized(t: Type) -> bool:
        """May `len` take a value of type t (besides arrays, maps, strings...)?"""
        return isinstance(t, GenericT) and t.name == "Set"
