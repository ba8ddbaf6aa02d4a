"""Run-time type boundary checks (issue 3, gradual typing).

Where statically typed code meets values the checker could not prove (an `any`
argument, a call from untyped code, a field written by untyped code), the VM
checks the value against the declared type. Three places do so:

* `CHECK_TYPE k` -- consts[k] is `(type_text, place)`: check the top of stack;
* function entry -- a `Function`'s `checks` (built from `Code.local_types` of
  its parameter slots; a method's `self` is never checked) run on every call
  except `CALL_GLOBAL`, whose arguments the compiler has already proven or
  checked;
* `SET_FIELD` on an instance of a class with typed fields (`Class.field_checks`,
  built from `ClassInfo.field_types`, inherited entries included).

Checks are shallow by design: `[int]` accepts any array, `{x: int}` any record
with (at least) a field `x`, `(int, string)` any tuple of two elements,
`fn(int) -> int` anything callable; element and
signature types are the static checker's business. A class name matches an
instance of that class or of a subclass, by name along the parent chain (the
text form of a type carries no class identity). `Task<T>`, `Chan<T>`, `Gen<T>`
match values whose `typeof` is "task", "chan", "gen". An interface's name
(TinyLang 1.1) matches an instance whose class implements it, and
`Comparable` an int, float or string too; type parameters are erased by the
compiler (they never reach a check).

A check returns the value, converted where the type says so: an int becomes a
float where `float` or `float?` is expected (int-to-float widening). A value
that does not fit raises `RtError("TypeError", "<place>: expected <type>, got
<typeof(value)>")`.

A checker is a plain closure `check(value) -> value`, compiled once per
`(type_text, place)` at pre-decode time and cached per VM in a `TypeChecks`
(no process-wide state). The common types get one-expression closures
(`int` is `lambda v: v if type(v) is int else fail(v)`); `any` compiles to
`identity`, which the parameter and field tables leave out altogether.
"""

from __future__ import annotations

from typing import Any, Callable

from ..bytecode.code import FLAG_METHOD
from ..heap.objects import MISSING, Array, BoundMethod, Class, Function, Instance, Map, Native, Record, Tuple
from ..heap.layout import SlotInstance
from ..heap.packed import PackedArray
from ..bytecode.types import (
    ANY,
    BOOL,
    FLOAT,
    INT,
    NIL,
    STRING,
    ArrayT,
    ClassT,
    FnT,
    GenericT,
    MapT,
    OptionalT,
    RecordT,
    TupleT,
    Type,
    TypeTextError,
    parse_type_text,
)
from ..runtime.errors import RtError
from ..runtime.values import typeof

__all__ = ["Checker", "TypeChecks", "compile_check", "compile_type", "first_checked_param", "identity", "inline_test", "is_identity"]

Checker = Callable[[Any], Any]

# typeof() names of the concurrency objects (issue 4) per generic type name.
# Opaque host types the checker types as classes (1.1 `re`; lang/tinylang/library_generics.py).
_HOST_CLASSES = ("Pattern", "Match")
_GENERIC_TYPE_NAMES = {"Task": "task", "Chan": "chan", "Gen": "gen", "Set": "Set"}
_CALLABLE = (Function, Native, BoundMethod, Class)


def identity(v: Any) -> Any:
    """The checker of `any`: every value fits, unchanged."""
    return v


def is_identity(check: Checker) -> bool:
    return check is identity


def _failer(type_text: str, place: str) -> Callable[[Any], Any]:
    def fail(v: Any) -> Any:
        raise RtError("TypeError", f"{place}: expected {type_text}, got {typeof(v)}")

    return fail


def _has_class_named(cls: Any, name: str) -> bool:
    seen = 0
    while cls is not None and seen < 10000:  # a parent chain is acyclic; guard anyway
        if cls.name == name:
            return True
        cls = cls.parent
        seen += 1
    return False


def compile_type(t: Type, type_text: str, place: str) -> Checker:
    """The checker for an already parsed type; `type_text` and `place` are used
    in the error message only."""
    fail = _failer(type_text, place)
    nil_ok = isinstance(t, OptionalT)
    core = t.inner if nil_ok else t
    if core is ANY:
        return identity
    # One expression per common case: no inner call on the success path.
    if core is INT:
        if nil_ok:
            return lambda v: v if type(v) is int or v is None else fail(v)
        return lambda v: v if type(v) is int else fail(v)
    if core is FLOAT:
        if nil_ok:
            return lambda v: v if type(v) is float or v is None else (float(v) if type(v) is int else fail(v))
        return lambda v: v if type(v) is float else (float(v) if type(v) is int else fail(v))
    if core is BOOL:
        if nil_ok:
            return lambda v: v if v is True or v is False or v is None else fail(v)
        return lambda v: v if v is True or v is False else fail(v)
    if core is STRING:
        if nil_ok:
            return lambda v: v if type(v) is str or v is None else fail(v)
        return lambda v: v if type(v) is str else fail(v)
    if core is NIL:
        return lambda v: v if v is None else fail(v)
    if isinstance(core, ArrayT):
        # (a packed array is an array: heap/packed.py; tested second, lists first)
        if nil_ok:
            return lambda v: v if type(v) is Array or type(v) is PackedArray or v is None else fail(v)
        return lambda v: v if type(v) is Array or type(v) is PackedArray else fail(v)
    if isinstance(core, MapT):
        if nil_ok:
            return lambda v: v if type(v) is Map or v is None else fail(v)
        return lambda v: v if type(v) is Map else fail(v)
    if isinstance(core, RecordT):
        names = frozenset(n for n, _ in core.fields)

        def check_record(v: Any) -> Any:
            if type(v) is Record and v.fields.keys() >= names:
                return v
            if v is None and nil_ok:
                return v
            return fail(v)

        return check_record
    if isinstance(core, TupleT):
        # (tltuple) shallow as the others: a tuple of the type's arity.
        arity = len(core.elems)

        def check_tuple(v: Any) -> Any:
            if type(v) is Tuple and len(v.items) == arity:
                return v
            if v is None and nil_ok:
                return v
            if type(v) is Tuple:
                n = len(v.items)
                raise RtError("TypeError", f"{place}: expected {type_text}, got a tuple of {n} element{'' if n == 1 else 's'}")
            return fail(v)

        return check_tuple
    if isinstance(core, FnT):
        callables = _CALLABLE
        if nil_ok:
            return lambda v: v if type(v) in callables or v is None else fail(v)
        return lambda v: v if type(v) in callables else fail(v)
    if isinstance(core, ClassT):
        name = core.name

        def check_instance(v: Any) -> Any:
            t = type(v)
            if t is Instance or t.__base__ is SlotInstance:  # (dict or laid out: heap/layout.py)
                cls = v.cls
                # (an interface's name: the class or an ancestor implements it)
                if cls.name == name or name in cls.interfaces or _has_class_named(cls.parent, name):
                    return v
            elif v is None and nil_ok:
                return v
            elif name == "Comparable" and type(v) in (int, float, str):
                return v  # the built-in interface of the scalars (TinyLang 1.1)
            elif name in _HOST_CLASSES and getattr(type(v), "type_name", None) == name:
                return v  # (1.1: the re module's opaque types, stdlib/re.py)
            return fail(v)

        return check_instance
    if isinstance(core, GenericT):
        want = _GENERIC_TYPE_NAMES.get(core.name, core.name.lower())

        def check_generic(v: Any) -> Any:
            if getattr(type(v), "type_name", None) == want and not isinstance(v, Instance):
                return v
            if v is None and nil_ok:
                return v
            return fail(v)

        return check_generic
    # Types that no value of the VM has (`never`); parse_type_text does not
    # produce them, but stay total.
    return lambda v: v if v is None and nil_ok else fail(v)


_INLINE_TESTS = {INT: "type({v}) is int", FLOAT: "type({v}) is float", STRING: "type({v}) is str", BOOL: "{v} is True or {v} is False", NIL: "{v} is None"}


def inline_test(type_text: Any) -> str | None:
    """For the scalar types (and their optionals), a Python expression over
    `{v}` that is true when the value fits unchanged; generated code (vm/blocks.py)
    tests it inline and calls the checker only when it is false. None for other
    types, or when the text does not parse."""
    try:
        t = parse_type_text(type_text) if type(type_text) is str else None
    except (TypeTextError, RecursionError):
        return None
    nil_ok = isinstance(t, OptionalT)
    test = _INLINE_TESTS.get(t.inner if nil_ok else t)  # type: ignore[union-attr]
    if test is None:
        return None
    return f"{test} or {{v}} is None" if nil_ok else test


def compile_check(type_text: str, place: str) -> Checker:
    """A checker for the text form of a type (see bytecode/types.py). Raises
    `TypeTextError` (a ValueError) when the text does not parse."""
    return compile_type(parse_type_text(type_text), type_text, place)


def _bad_type(type_text: str, place: str) -> Checker:
    def check(v: Any) -> Any:
        raise RtError("TypeError", f"{place}: cannot check against malformed type {type_text!r}")

    return check


def first_checked_param(code: Any) -> int:
    """The first frame slot whose declared type is checked on entry: 1, or 2
    for a method, whose `self` (slot 1) is always an instance of its class (its
    recorded type is information only)."""
    return 2 if code.flags & FLAG_METHOD else 1


def _passed_only(chk: Checker) -> Checker:
    """tldefault: the check of a parameter with a default, which lets the
    MISSING marker of a left-out argument through (the function's prologue
    replaces it by the default, which the compiler checked)."""

    def check(v: Any) -> Any:
        return v if v is MISSING else chk(v)

    return check


class ParamChecks:
    """A function's entry checks: `items`, the `(slot, checker)` pairs of its
    typed parameters, and `sig`, the interned tuple of its parameters' declared
    types (`self` excluded, `""` for none). A call site that proved its
    arguments against the same types (CALL_TYPED, CALL_METHOD_TYPED) finds the
    same tuple object there and skips the checks."""

    __slots__ = ("items", "sig")

    def __init__(self, items: tuple, sig: tuple) -> None:
        self.items = items
        self.sig = sig


class TypeChecks:
    """Per-VM cache of compiled checkers (one `Machine` owns one).

    * `check(type_text, place)` -- the checker for CHECK_TYPE; an unparsable
      type (only possible in unverified code) gives a checker that raises;
    * `check_const(const)` -- the same for CHECK_TYPE's constant;
    * `params(code)` -- a function's entry checks: None, or `ParamChecks`
      for its typed parameter slots (`self` excluded);
    * `sig(types)` -- the interned signature a proven call site compares with
      `ParamChecks.sig` (None for a malformed constant);
    * `fields(info)` -- a class's own typed fields: a dict name -> checker,
      possibly empty.
    """

    def __init__(self) -> None:
        self._checks: dict[tuple[str, str], Checker] = {}
        self._params: dict[Any, ParamChecks | None] = {}
        self._sigs: dict[tuple, tuple] = {}
        self._fields: dict[Any, dict[str, Checker]] = {}

    def check(self, type_text: str, place: str) -> Checker:
        key = (type_text, place)
        chk = self._checks.get(key)
        if chk is None:
            try:
                chk = compile_check(type_text, place)
            except (TypeTextError, RecursionError):
                chk = _bad_type(type_text, place)
            self._checks[key] = chk
        return chk

    def check_const(self, const: Any) -> Checker:
        """The checker for CHECK_TYPE's constant `(type_text, place)` (anything
        else, possible only in unverified code, gives a checker that raises)."""
        if type(const) is tuple and len(const) == 2 and type(const[0]) is str and type(const[1]) is str:
            return self.check(const[0], const[1])
        return _bad_type(repr(const), "CHECK_TYPE")

    def _optional_check(self, type_text: str, place: str) -> Checker | None:
        """The checker of a declared type, or None when there is nothing to
        check: no type, `any`, or a text that does not parse (the verifier
        rejects those where they matter)."""
        if not type_text or type_text == "any":
            return None
        key = (type_text, place)
        chk = self._checks.get(key)
        if chk is None:
            try:
                chk = compile_check(type_text, place)
            except (TypeTextError, RecursionError):
                return None
            self._checks[key] = chk
        return None if chk is identity else chk

    def sig(self, types: Any) -> tuple | None:
        if type(types) is not tuple or not all(type(t) is str for t in types):
            return None
        key = tuple("" if t == "any" else t for t in types)
        return self._sigs.setdefault(key, key)

    def params(self, code: Any) -> ParamChecks | None:
        try:
            return self._params[code]
        except KeyError:
            pass
        out = []
        types = code.local_types
        names = code.local_names
        first = first_checked_param(code)
        for slot in range(first, min(code.arity + 1, len(types))):
            name = names[slot] if slot < len(names) else f"#{slot}"
            chk = self._optional_check(types[slot], f"argument '{name}' of {code.name}")
            if chk is not None and 0 <= code.required < slot:
                chk = _passed_only(chk)  # tldefault: a left-out argument is filled by the prologue
            if chk is not None:
                out.append((slot, chk))
        result = None
        if out:
            declared = tuple(types[slot] if slot < len(types) else "" for slot in range(first, code.arity + 1))
            result = ParamChecks(tuple(out), self.sig(declared))
        self._params[code] = result
        return result

    def fields(self, info: Any) -> dict[str, Checker]:
        try:
            return self._fields[info]
        except KeyError:
            pass
        out: dict[str, Checker] = {}
        types = getattr(info, "field_types", ())
        if types and len(types) == len(info.fields):
            for name, text in zip(info.fields, types):
                chk = self._optional_check(text, f"field '{name}' of {info.name}")
                if chk is not None:
                    out[name] = chk
        self._fields[info] = out
        return out
