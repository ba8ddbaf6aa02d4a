"""Static signatures of what the VM provides: built-in functions, the built-in
error classes, methods of arrays, strings and maps, and the standard modules.

They mirror runtime/builtins.py, runtime/methods.py and the stdlib/ modules; a
unit test calls every entry here against the VM's tables so the two cannot
drift apart silently.

A method signature is a `Sig`: the parameter types (the first `required` of
them mandatory) and the result type. Methods whose types depend on their
arguments (`map`, `filter`, `reduce`, `sort`) are typed by the checker itself
from `GENERIC_ARRAY_METHODS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .types import (
    ANY,
    BOOL,
    FLOAT,
    INT,
    NIL,
    STRING,
    ArrayT,
    MapT,
    BuiltinT,
    ClassRefT,
    ClassSym,
    ClassT,
    FnT,
    GenericT,
    ModuleT,
    RecordT,
    TupleT,
    Type,
    class_type,
    join,
    optional,
)


@dataclass(frozen=True, slots=True)
class Sig:
    params: tuple[Type, ...]
    ret: Type
    required: int = -1  # -1: all parameters are required
    # The first argument is only compared with `==` (a search, a map key): any
    # number fits a numeric type (1 and 1.0 are equal, and one map key).
    lookup: bool = False

    @property
    def min_args(self) -> int:
        return len(self.params) if self.required < 0 else self.required


# --------------------------------------------------------------------------- error classes

ERROR_NAMES = (
    "TypeError ValueError IndexError KeyError ZeroDivisionError OverflowError StackOverflowError "
    "MemoryError Cancelled DeadlockError PermissionError IOError"
).split()


def _error_classes() -> dict[str, ClassSym]:
    base = ClassSym("Error", None, builtin=True)
    base.fields = {"message": STRING, "stack": STRING}
    out = {"Error": base}
    for name in ERROR_NAMES:
        out[name] = ClassSym(name, base, builtin=True)
    return out


# Shared by every checker: classes are nominal, and an `Error` in one module
# must be the same type as in another. Never mutated after creation.
ERROR_CLASSES: dict[str, ClassSym] = _error_classes()
# `init` of the built-in error classes: an optional message of any type.
ERROR_INIT = Sig((ANY,), NIL, required=0)


# --------------------------------------------------------------------------- built-in functions

# name -> Sig, for built-ins with an ordinary signature. The rest are typed by
# the checker (`print` is variadic, `abs min max` depend on their arguments).
BUILTIN_SIGS: dict[str, Sig] = {
    "len": Sig((ANY,), INT),
    "str": Sig((ANY,), STRING),
    "int": Sig((ANY,), INT),
    "float": Sig((ANY,), FLOAT),
    "typeof": Sig((ANY,), STRING),
    "assert": Sig((BOOL, ANY), NIL, required=1),
    # nil at end of input, so its result is not known to be a string.
    "input": Sig((ANY,), ANY, required=0),
    "sleep": Sig((ANY,), NIL),
    "yield_now": Sig((), NIL),
    "Chan": Sig((INT,), GenericT("Chan", ANY), required=0),
    # WeakRef's result is typed by the checker from its argument (MemberChecks.call_builtin).
    "WeakRef": Sig((ANY,), GenericT("WeakRef", ANY)),
    "WeakMap": Sig((), GenericT("WeakMap", ANY, ANY)),
    "sqrt": Sig((ANY,), FLOAT),
    "floor": Sig((ANY,), INT),
    "ceil": Sig((ANY,), INT),
    "round": Sig((ANY,), INT),
    # 1.1 (runtime/library.py). sum sorted reversed any_of all_of range eprint
    # are typed by the checker (library_types.py); `Set(...)` is typed
    # Set<T> by the checker (library_generics.py), not by this entry.
    "ord": Sig((STRING,), INT),
    "chr": Sig((INT,), STRING),
    "Set": Sig((ANY,), ANY, required=0),
}
# Issue 18, helper tltuple: the tuple built-ins; the checker types their
# results from the arguments (tuples.py: TupleChecks.tuple_builtin).
BUILTIN_SIGS.update({"zip": Sig((ArrayT(ANY), ArrayT(ANY)), ArrayT(ANY)), "enumerate": Sig((ArrayT(ANY),), ArrayT(ANY))})
# tlexpr: Array(n, fill) is typed [T] from its fill by the checker (lang/tinylang/nilexpr.py).
BUILTIN_SIGS["Array"] = Sig((INT, ANY), ArrayT(ANY))
VARIADIC_BUILTINS = {"print": 0, "min": 1, "max": 1}  # name -> minimum argument count
# The built-ins whose types depend on their arguments (library_types.py).
LIBRARY_BUILTINS = ("sum", "sorted", "reversed", "any_of", "all_of", "range", "eprint")


def builtin_type(name: str) -> Type:
    sym = ERROR_CLASSES.get(name)
    if sym is not None:
        return ClassRefT(class_type(sym))
    if name == "Comparable":  # tlgeneric (1.1): the built-in interface, a value for `v is Comparable`
        from .types import COMPARABLE

        return ClassRefT(class_type(COMPARABLE))
    return BuiltinT(name)


# --------------------------------------------------------------------------- methods

GENERIC_ARRAY_METHODS = ("map", "filter", "reduce", "sort")


def array_methods(t: Type) -> dict[str, Sig]:
    return {
        "push": Sig((t,), NIL),
        "pop": Sig((), t),
        "insert": Sig((INT, t), NIL),
        "remove": Sig((INT,), t),
        "slice": Sig((INT, INT), ArrayT(t), required=1),
        "index_of": Sig((t,), INT, lookup=True),
        "contains": Sig((t,), BOOL, lookup=True),
        "reverse": Sig((), NIL),
        "join": Sig((STRING,), STRING),
        "len": Sig((), INT),
        # 1.1 (runtime/library.py; sort_by and find are the prelude's)
        "sort_by": Sig((FnT((t, t), INT),), NIL),
        "extend": Sig((ArrayT(t),), NIL),
        "clear": Sig((), NIL),
        "find": Sig((FnT((t,), BOOL),), optional(t)),
        "count": Sig((t,), INT, lookup=True),
        "min": Sig((), t),
        "max": Sig((), t),
    }


STRING_METHODS: dict[str, Sig] = {
    "len": Sig((), INT),
    "upper": Sig((), STRING),
    "lower": Sig((), STRING),
    "trim": Sig((), STRING),
    "split": Sig((STRING,), ArrayT(STRING), required=0),
    "join": Sig((ArrayT(ANY),), STRING),
    "contains": Sig((STRING,), BOOL),
    "starts_with": Sig((STRING,), BOOL),
    "ends_with": Sig((STRING,), BOOL),
    "find": Sig((STRING,), INT),
    "replace": Sig((STRING, STRING), STRING),
    "slice": Sig((INT, INT), STRING, required=1),
    "chars": Sig((), ArrayT(STRING)),
    # 1.1 (runtime/library.py)
    "repeat": Sig((INT,), STRING),
    "pad_left": Sig((INT, STRING), STRING, required=1),
    "pad_right": Sig((INT, STRING), STRING, required=1),
    "count": Sig((STRING,), INT),
    "index_of": Sig((STRING,), INT),
    "is_digit": Sig((), BOOL),
    "is_alpha": Sig((), BOOL),
    "is_space": Sig((), BOOL),
    "to_int": Sig((), optional(INT)),
    "to_float": Sig((), optional(FLOAT)),
    "bytes_len": Sig((), INT),
}

# tlgeneric (1.1): the built-in interface Comparable (types.COMPARABLE; a VM
# built-in class, runtime/comparable.py) and its `compare` on the scalars.
BUILTIN_INTERFACES = ("Comparable",)
STRING_METHODS["compare"] = Sig((STRING,), INT)
SCALAR_METHODS: dict[str, dict[str, Sig]] = {"int": {"compare": Sig((INT,), INT)}, "float": {"compare": Sig((FLOAT,), INT)}}


def map_methods(k: Type, v: Type) -> dict[str, Sig]:
    return {
        # get's default may be of another type (often nil): the result joins
        # the two (see map_get_result).
        "get": Sig((k, ANY), v, required=1, lookup=True),
        "has": Sig((k,), BOOL, lookup=True),
        "remove": Sig((k,), v, lookup=True),
        "keys": Sig((), ArrayT(k)),
        "values": Sig((), ArrayT(v)),
        "items": Sig((), ArrayT(TupleT((k, v)))),  # (1.1: tuples)
        "len": Sig((), INT),
        # 1.1 (runtime/library.py)
        "set_default": Sig((k, v), v),
        "merge": Sig((MapT(k, v),), NIL),
    }


def map_get_result(v: Type, default: Type | None) -> Type:
    """The type of `m.get(k)` / `m.get(k, default)` on a map of values v."""
    return optional(v) if default is None else join(v, default)


def generic_methods(t: GenericT) -> dict[str, Sig]:
    """Methods of tasks, channels and generators (sched/concurrency.py), and of
    weak references and weak maps (runtime/weakrefs.py)."""
    a = t.arg
    if t.name == "WeakRef":
        return {"get": Sig((), optional(a))}  # nil once the object was collected
    if t.name == "WeakMap":
        v = t.arg2 if t.arg2 is not None else ANY
        return {
            "get": Sig((a, ANY), v, required=1),  # typed by the checker as map.get is
            "set": Sig((a, v), NIL),
            "has": Sig((a,), BOOL),
            "delete": Sig((a,), BOOL),
            "len": Sig((), INT),
        }
    if t.name == "Chan":
        return {
            "send": Sig((a,), NIL),
            "recv": Sig((), optional(a)),  # nil once closed and drained
            "close": Sig((), NIL),
            "len": Sig((), INT),
            "cap": Sig((), INT),
        }
    if t.name == "Task":
        return {"cancel": Sig((), NIL), "done": Sig((), BOOL)}
    if t.name == "Set":  # (1.1, runtime/sets.py; helper tlset)
        return {
            "add": Sig((a,), NIL),
            "has": Sig((a,), BOOL, lookup=True),
            "remove": Sig((a,), BOOL, lookup=True),
            "len": Sig((), INT),
            "union": Sig((t,), t),
            "intersect": Sig((t,), t),
            "diff": Sig((t,), t),
        }
    return {"next": Sig((), RecordT((("done", BOOL), ("value", a))))}


# --------------------------------------------------------------------------- standard modules

_F1 = FnT((FLOAT,), FLOAT)
STD_MODULE_TYPES: dict[str, ModuleT] = {
    "math": ModuleT(
        "math",
        (
            ("pi", FLOAT),
            ("e", FLOAT),
            ("inf", FLOAT),
            ("nan", FLOAT),
            ("sqrt", _F1),
            ("sin", _F1),
            ("cos", _F1),
            ("tan", _F1),
            ("atan2", FnT((FLOAT, FLOAT), FLOAT)),
            ("exp", _F1),
            ("log", _F1),
            ("pow", FnT((FLOAT, FLOAT), FLOAT)),
            ("floor", FnT((FLOAT,), INT)),
            ("ceil", FnT((FLOAT,), INT)),
        ),
    ),
    "time": ModuleT(
        "time",
        (
            ("now_ms", FnT((), INT)),
            ("monotonic_ms", FnT((), INT)),
            ("monotonic_us", FnT((), INT)),
            ("format", FnT((INT, STRING), STRING)),
            ("parse", FnT((STRING, STRING), INT)),
        ),
    ),
    # stringify takes 1 or 2 arguments (indent): `any`, checked at run time,
    # until default parameters give function types optional parameters.
    "json": ModuleT("json", (("parse", FnT((STRING,), ANY)), ("stringify", ANY))),
    "random": ModuleT(
        "random",
        (("seed", FnT((INT,), NIL)), ("int", FnT((INT, INT), INT)), ("float", FnT((), FLOAT))),
    ),
    # fs, os and net act only with the host's grants (stdlib/capabilities.py).
    "fs": ModuleT(
        "fs",
        (
            ("read_text", FnT((STRING,), STRING)),
            ("write_text", FnT((STRING, STRING), NIL)),
            ("exists", FnT((STRING,), BOOL)),
            ("list_dir", FnT((STRING,), ArrayT(STRING))),
        ),
    ),
    "os": ModuleT(
        "os",
        (("args", ArrayT(STRING)), ("env", FnT((STRING,), optional(STRING))), ("exit", FnT((INT,), NIL))),
    ),
    # Listeners and conns have no static type of their own: their methods
    # (accept, read, read_line, write, close...) are checked at run time.
    "net": ModuleT("net", (("listen", FnT((STRING, INT), ANY)), ("connect", FnT((STRING, INT), ANY)))),
    # The collector (stdlib/gc.py, docs/gc.md). `mode` takes 0 or 1 arguments:
    # `any`, checked at run time.
    "gc": ModuleT("gc", (("collect", FnT((), INT)), ("stats", FnT((), MapT(STRING, ANY))), ("mode", ANY))),
    # 1.1. path.join takes 1 or more parts: `any`, checked at run time.
    "path": ModuleT(
        "path",
        (
            ("join", ANY),
            ("dirname", FnT((STRING,), STRING)),
            ("basename", FnT((STRING,), STRING)),
            ("ext", FnT((STRING,), STRING)),
            ("normalize", FnT((STRING,), STRING)),
        ),
    ),
    # Patterns and matches are opaque built-in types (library_generics.py),
    # their methods in RE_METHODS (stdlib/re.py).
    "re": ModuleT("re", (("compile", FnT((STRING,), ClassT("Pattern"))),)),
}

# The methods of the `re` module's values (stdlib/re.py; helper tlset).
RE_METHODS: dict[str, dict[str, Sig]] = {
    "Pattern": {
        "match": Sig((STRING,), optional(ClassT("Match"))),
        "search": Sig((STRING,), optional(ClassT("Match"))),
        "find_all": Sig((STRING,), ArrayT(STRING)),
        "replace": Sig((STRING, STRING), STRING),
        "split": Sig((STRING,), ArrayT(STRING)),
    },
    "Match": {"group": Sig((INT,), optional(STRING), required=0), "span": Sig((), TupleT((INT, INT)))},
}
