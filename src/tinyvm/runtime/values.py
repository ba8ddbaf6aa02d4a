r"""Value semantics shared by every part of the runtime: type names, printing,
equality, ordering and map-key validation (spec sections 2 and 3).

Scalars are plain Python values (None, bool, int, float, str); everything else
is a `HeapObject` (heap/objects.py). Because `bool` subclasses `int` in Python,
every test here dispatches on `type(x)` and never uses `isinstance`.

Printing comes in two forms:

* `to_str(v)` -- what `print`, `str()` and interpolation show: a string is itself;
* `repr_value(v)` -- the form used inside containers: strings are quoted.

and a second printing mode, `to_str_clox(v)`, the forms of the C implementation
of Lox (clox), which the PRINT instruction uses in mode PRINT_CLOX: numbers as
C's `printf("%g")` prints them, `<fn name>`, `<native fn>`, a class by its
name, `Name instance`.

Both walk containers iteratively (an explicit stack, no Python recursion), so
any nesting depth prints without `RecursionError`. A container met again while
it is being printed (a cycle) prints as `[...]` (array, map) or `{...}` (record,
instance). An instance whose class defines a `str` method must be printed by
running guest code: the formatters raise `NeedsGuest`, and the VM then calls the
prelude's guest-level `format_value` (runtime/prelude.tl) instead.

`equals` is also iterative and cycle-safe (a pair of containers already being
compared is assumed equal: the comparison is a bisimulation check).

Decisions where the spec is silent:
* `typeof` of a range is "range", of a module "module"; other heap objects
  answer their `type_name` ("task", "chan", "gen", ...) and print as `<task>`.
* Inside containers, strings escape \n \t \r \\ \" \0 and print every other
  control character (U+0000-001F, U+007F-009F) as \u{hex}, lowercase hex
  without padding (`"\u{1b}"`); `$` is not escaped.
* Instance fields print in the class template's order (inherited first).
* Nesting depth is unbounded when printing (no Python recursion).
* An int compared with a float (`==`, `<`...) is promoted to float first, as in
  arithmetic, so `2**53 + 1 == 2.0**53` is true. nan is unequal to itself, but
  a container is equal to itself (identity short-cut, as in Python and Swift).
* Maps are equal when they hold equal values under the same keys, whatever
  their insertion order; records when they have the same field names and
  equal values. Ranges are equal when they denote the same sequence (all empty
  ranges are equal). Instances, functions, classes, modules: identity.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Callable

from ..heap.objects import (
    Array,
    BoundMethod,
    Class,
    Function,
    Instance,
    Map,
    ModuleObject,
    Native,
    Range,
    Record,
    Tuple,
    map_key,
    unmap_key,
)
from ..heap.layout import SlotInstance
from ..heap.packed import PackedArray
from ..bytecode.opcodes import PRINT_CLOX, PRINT_STR
from .errors import RtError
from .enums import enum_label, is_enum_value

__all__ = [
    "NeedsGuest",
    "typeof",
    "format_float",
    "quote_string",
    "to_str",
    "repr_value",
    "equals",
    "compare",
    "check_key",
    "has_guest_str",
    "PRINT_STR",
    "PRINT_CLOX",
    "format_c_number",
    "to_str_clox",
    "is_array",
    "array_elements",
    "array_length",
    "array_head",
]

_NoneType = type(None)


class NeedsGuest(Exception):
    """Raised by the formatters when a value contains an instance whose class has
    a `str` method: only guest code can format it. `value` is that instance."""

    def __init__(self, value: Any = None) -> None:
        super().__init__("value needs the guest-level formatter")
        self.value = value


# ---------------------------------------------------------------------------
# typeof

_SCALAR_TYPE_NAMES: dict[type, str] = {
    int: "int",
    float: "float",
    bool: "bool",
    str: "string",
    _NoneType: "nil",
}


def kind_of_type(t: type) -> str | None:
    """typeof() of every value of Python type t, when the type alone decides it
    (not for Instance or a shape, heap/layout.py, whose typeof is the class
    name: for both it answers their `type_name`, "instance")."""
    return _SCALAR_TYPE_NAMES.get(t) or getattr(t, "type_name", None)


def typeof(v: Any) -> str:
    """The spec's `typeof(v)`.

    Heap objects answer their class attribute `type_name` ("array", "map",
    "record", "function" for Function/Native/BoundMethod, "class", "range",
    "module", and "task"/"chan"/"gen" for the concurrency objects defined
    elsewhere); an instance answers its class name.
    """
    t = type(v)
    name = _SCALAR_TYPE_NAMES.get(t)
    if name is not None:
        return name
    if t is Instance or t.__base__ is SlotInstance:  # (a laid-out instance: heap/layout.py)
        return v.cls.name
    name = getattr(t, "type_name", None)
    return name if name is not None else t.__name__


# ---------------------------------------------------------------------------
# Arrays of either representation (heap/packed.py)
#
# A PackedArray is an Array whose class is not `Array`, so every `type(x) is
# Array` test needs a second arm. Code that only READS an array's elements
# goes through these helpers, which leave a packed array packed (reading
# `.items` would unpack it for good: a print must not change how an array is
# stored, nor what later stores cost).


def is_array(v: Any) -> bool:
    """True for an array in either representation."""
    t = type(v)
    return t is Array or t is PackedArray


def array_elements(a: Array) -> list:
    """The elements of array a, for reading only: an Array's own list (the
    caller must not change it), a fresh list for a PackedArray (which stays
    packed; bools come back as bools)."""
    return a.values() if type(a) is PackedArray else a.items


def array_length(a: Array) -> int:
    """len(a), without unpacking."""
    return a.length() if type(a) is PackedArray else len(a.items)


def array_head(a: Array, k: int) -> list:
    """The first k elements of a (fewer when shorter), without copying the
    rest of a packed array (snapshots and previews of long arrays)."""
    if type(a) is PackedArray:
        buf = a.packed[:k]
        return [x == 1 for x in buf] if buf.typecode == "b" else buf.tolist()
    return a.items[:k]


# ---------------------------------------------------------------------------
# Scalars

# Python's float repr is exactly the spec's form: shortest round-trip digits,
# always with a '.' or an exponent ("3.0", "1e+16", "1.5e-07", "inf", "nan").
_float_repr: Callable[[float], str] = float.__repr__
_int_repr: Callable[[int], str] = int.__repr__


def format_float(f: float) -> str:
    """Shortest round-trip form of f, always containing '.', 'e', 'inf' or 'nan'."""
    return _float_repr(f)


# Escapes used when a string is printed inside a container. Other C0/C1
# control characters and DEL print as \u{hex} (lowercase hex, no padding).
_ESCAPES: dict[int, str] = {
    ord("\n"): "\\n",
    ord("\t"): "\\t",
    ord("\r"): "\\r",
    ord("\\"): "\\\\",
    ord('"'): '\\"',
    0: "\\0",
}
for _c in list(range(0x20)) + list(range(0x7F, 0xA0)):
    _ESCAPES.setdefault(_c, "\\u{%x}" % _c)
del _c


def quote_string(s: str) -> str:
    """`s` as a quoted TinyLang string literal (the in-container form)."""
    # Fast path: most strings need no escaping; isprintable() is False for every
    # control character (and some harmless ones, which translate leaves alone).
    if s.isprintable() and '"' not in s and "\\" not in s:
        return '"' + s + '"'
    return '"' + s.translate(_ESCAPES) + '"'


def _bool_repr(b: bool) -> str:
    return "true" if b else "false"


def _nil_repr(_: Any) -> str:
    return "nil"


def _fn_repr(f: Any) -> str:
    name = f.name
    if not name or name == "<lambda>":
        return "<fn>"
    return "<fn " + name + ">"


def _bound_repr(m: BoundMethod) -> str:
    return _fn_repr(m.method)


def _class_repr(c: Class) -> str:
    return "<class " + c.name + ">"


def _module_repr(m: ModuleObject) -> str:
    return "<module " + m.name + ">"


def _packed_repr(a: PackedArray) -> str:
    # A packed array holds only scalars of one kind: a leaf, printed straight
    # from its buffer (no stack, no cycle check, no unpacking). The same text
    # as the list form: int.__repr__ / float.__repr__ (-0.0, nan, inf), and
    # true/false for the 0/1 of a bool buffer.
    buf = a.packed
    if not buf:
        return "[]"
    code = buf.typecode
    if code == "b":
        return "[" + ", ".join(["true" if x else "false" for x in buf]) + "]"
    return "[" + ", ".join(map(_int_repr if code == "q" else _float_repr, buf)) + "]"


def _range_repr(r: Range) -> str:
    # Ranges are stored half-open: `a..=b` is Range(a, b + 1, inclusive=True).
    if r.step != 1:  # (1.1: printed as it is written)
        return f"range({r.start}, {r.stop}, {r.step})"
    if r.inclusive:
        return f"{r.start}..={r.stop - 1}"
    return f"{r.start}..{r.stop}"


# Formatter per type for every value that is printed without looking inside it.
_LEAF: dict[type, Callable[[Any], str]] = {
    int: _int_repr,
    float: _float_repr,
    bool: _bool_repr,
    _NoneType: _nil_repr,
    str: quote_string,
    Function: _fn_repr,
    Native: _fn_repr,
    BoundMethod: _bound_repr,
    Class: _class_repr,
    ModuleObject: _module_repr,
    Range: _range_repr,
    PackedArray: _packed_repr,  # (a leaf: scalars only)
}

# (A laid-out instance's type is a shape, not Instance: heap/layout.py.
# Sites test `t.__base__ is SlotInstance` after the common cases.)
_CONTAINERS = (Array, Map, Record, Instance, Tuple)


def _key_repr(k: Any) -> str:
    """A map key in printed form: a scalar, an enum value, or a tuple of keys (check_key)."""
    if type(k) is Tuple:
        return _tuple_text([_key_repr(x) for x in k.items])
    if isinstance(k, Instance):  # (an enum value, dict or laid out)
        return enum_label(k)
    return _LEAF[type(k)](k)


def _tuple_text(parts: list[str]) -> str:
    # `(1,)`: a tuple of one keeps its comma, as it is written.
    return "(" + parts[0] + ",)" if len(parts) == 1 else "(" + ", ".join(parts) + ")"


def has_guest_str(v: Any) -> bool:
    """True when v is an instance whose class defines a `str` method."""
    return isinstance(v, Instance) and "str" in v.cls.methods


# ---------------------------------------------------------------------------
# Printing


def to_str(v: Any) -> str:
    """The top-level printed form (`print`, `str()`, interpolation).

    Raises NeedsGuest when v is or contains an instance with a `str` method."""
    t = type(v)
    if t is str:
        return v
    f = _LEAF.get(t)
    if f is not None:
        return f(v)
    return _render(v)


def repr_value(v: Any) -> str:
    """The in-container printed form: like to_str, but strings are quoted."""
    f = _LEAF.get(type(v))
    if f is not None:
        return f(v)
    return _render(v)


def _other_repr(v: Any) -> str:
    # task, chan, gen, iterator... print as <typename>; an object made by the
    # host (an embedding handle, api) may name itself (`<handle Store>`).
    label = getattr(v, "host_label", None)
    return label() if label is not None else "<" + typeof(v) + ">"


def _instance_fields(x: Instance) -> tuple[list[str], list[Any]]:
    """Field names and values of an instance in its class's template order
    (inherited fields first); fields missing from the template come last."""
    t = type(x)
    if t.__base__ is SlotInstance:
        # A shape's slots are the template's fields in its order, and a
        # closed class's instance has no others (heap/layout.py): no view.
        return list(t.NAMES), x.values_list()
    fields = x.fields
    names = [n for n in x.cls.template if n in fields]
    if len(names) != len(fields):
        seen = set(names)
        names.extend(n for n in fields if n not in seen)
    return names, [fields[n] for n in names]


def _render(root: Any) -> str:
    """Print a value that is not a leaf (see _LEAF), without Python recursion.

    The work stack holds three kinds of entries, told apart by their Python
    type: a `str` is finished output, an `int` is the id of a container whose
    printing is complete (it leaves the `active` path), anything else is a
    container still to expand. Scalars never go on the stack -- they are
    rendered to text as soon as their container is expanded -- so no guest int
    or string can be mistaken for a marker.
    """
    t = type(root)
    if t.__base__ is SlotInstance:
        t = Instance  # (a laid-out instance prints as the dict one: below, `else`)
    elif t not in _CONTAINERS:
        return _other_repr(root)
    if t is Instance and is_enum_value(root):  # (a leaf: issue 18, runtime/enums.py)
        return enum_label(root)
    out: list[str] = []
    active: set[int] = set()  # ids of the containers on the current path
    stack: list[Any] = [root]
    leaf = _LEAF
    while stack:
        x = stack.pop()
        t = type(x)
        if t is str:
            out.append(x)
            continue
        if t is int:
            active.discard(x)
            continue
        ident = id(x)
        if ident in active:
            out.append("[...]" if (t is Array or t is Map) else "(...)" if t is Tuple else "{...}")
            continue
        labels: list[str] | None
        if t is Array:
            values: Any = x.items
            if not values:
                out.append("[]")
                continue
            labels = None
            close = "]"
            seg: list[Any] = ["["]
        elif t is Map:
            d = x.items
            if not d:
                out.append("[:]")
                continue
            # Keys are scalars or tuples of them (check_key): no stack needed.
            labels = [_key_repr(k) + ": " for k in map(unmap_key, d)]
            values = d.values()
            close = "]"
            seg = ["["]
        elif t is Record:
            d = x.fields
            labels = [n + ": " for n in d]
            values = d.values()
            close = "}"
            seg = ["{"]
        elif t is Tuple:
            values = x.items
            if not values:
                out.append("()")
                continue
            labels = None
            close = ",)" if len(values) == 1 else ")"
            seg = ["("]
        else:  # Instance
            if "str" in x.cls.methods:
                raise NeedsGuest(x)
            names, values = _instance_fields(x)
            labels = [n + ": " for n in names]
            close = ")"
            seg = [x.cls.name + "("]
        nested = False
        i = 0
        for e in values:
            if i:
                seg.append(", ")
            if labels is not None:
                seg.append(labels[i])
            i += 1
            te = type(e)
            f = leaf.get(te)
            if f is not None:
                seg.append(f(e))
            elif (te is Instance or te.__base__ is SlotInstance) and is_enum_value(e):
                seg.append(enum_label(e))
            elif te is Array or te is Map or te is Record or te is Instance or te is Tuple or te.__base__ is SlotInstance:
                if (te is Instance or te.__base__ is SlotInstance) and "str" in e.cls.methods:
                    raise NeedsGuest(e)
                seg.append(e)
                nested = True
            else:
                seg.append(_other_repr(e))
        seg.append(close)
        if not nested:
            out.extend(seg)  # common case: only scalars inside
            continue
        active.add(ident)
        seg.append(ident)  # popped after the closing bracket: leaves the path
        seg.reverse()
        stack.extend(seg)
    return "".join(out)


# ---------------------------------------------------------------------------
# The clox printing mode

# PRINT's mode operand (bytecode/opcodes.py): PRINT_STR prints as print() does
# (to_str, str() methods included), PRINT_CLOX in clox's forms (to_str_clox).


def format_c_number(x: float | int) -> str:
    """A number as C's `printf("%g")` prints it with glibc: 6 significant
    digits, trailing zeros dropped, an exponent of at least two digits (`3`,
    `3.5`, `-0`, `1e+20`, `1.23457e+08`), `inf`, `-inf`, and a NaN by its sign
    bit (`nan`, `-nan`: 0/0 computed on x86 is the negative default NaN).
    Python's `%g` is C's, except that it never prints a NaN's sign."""
    if x != x:
        return "-nan" if math.copysign(1.0, x) < 0 else "nan"
    return "%g" % x


def to_str_clox(v: Any) -> str:
    """The printed form of v in clox's printing mode. Values clox has no form
    for (TinyLang arrays, maps, records, modules...) print as `to_str` would,
    without running guest `str()` methods."""
    t = type(v)
    if t is str:
        return v
    if t is float or t is int:
        return format_c_number(v)
    if v is None:
        return "nil"
    if t is bool:
        return "true" if v else "false"
    if t is Instance or t.__base__ is SlotInstance:
        return v.cls.name + " instance"
    if t is BoundMethod:
        v = v.method
        t = type(v)
    if t is Native:
        return "<native fn>"
    if isinstance(v, Function):
        return "<fn " + v.name + ">"
    if t is Class:
        return v.name
    try:
        return to_str(v)
    except NeedsGuest:
        return "<" + typeof(v) + ">"


# ---------------------------------------------------------------------------
# Equality


def equals(a: Any, b: Any) -> bool:
    """The spec's `==`.

    Numbers by value, an int against a float after promoting the int to float
    (as arithmetic does); bools are not numbers (`true != 1`). Strings, bools and
    nil by value; arrays, maps and records deeply; ranges by the sequence they
    denote; everything else by identity. Values of different kinds are unequal.
    """
    ta = type(a)
    tb = type(b)
    if ta is tb:
        if a is b:
            return ta is not float or a == a  # nan != nan, even the same object
        if ta is int or ta is str or ta is float:
            return a == b
        if ta is Array or ta is Map or ta is Record or ta is Tuple:
            return _deep_equals(a, b)
        if ta is PackedArray:
            return _packed_equals(a, b)
        if ta is Range:
            return _range_equals(a, b)
        # bool/nil (identity already failed: unequal), instances, functions...
        return False
    if ta is int:
        return tb is float and float(a) == b
    if ta is float:
        return tb is int and a == float(b)
    if ta is PackedArray or tb is PackedArray:  # a packed array and a list: the list rule
        return (ta is Array or tb is Array) and _deep_equals(a, b)
    return False


def _packed_equals(a: PackedArray, b: PackedArray) -> bool:
    # One kind on both sides: the buffers' own comparison is the list rule
    # (ints exactly; doubles by IEEE ==, so nan is unequal and -0.0 == 0.0;
    # bools as 0/1 against 0/1). Two kinds (an int and a float array, or
    # bools against numbers) go element by element, as lists do: ints are
    # promoted to float against floats, and bools are never numbers.
    x = a.packed
    y = b.packed
    if x.typecode == y.typecode:
        return x == y
    return _deep_equals(a, b)


def _range_equals(a: Range, b: Range) -> bool:
    if a.step != 1 or b.step != 1:  # (1.1) the same elements in the same order
        return a.values() == b.values()
    if a.start >= a.stop and b.start >= b.stop:
        return True  # both empty
    return a.start == b.start and a.stop == b.stop


def _deep_equals(a: Any, b: Any) -> bool:
    """Structural comparison of two containers of the same type, iteratively.

    `seen` holds the pairs already compared or being compared: meeting one again
    assumes it equal, which is what makes cyclic structures terminate. Any
    unequal pair ends the whole comparison at once, so the assumption can never
    hide a difference.
    """
    seen: set[tuple[int, int]] = set()
    work: list[tuple[Any, Any]] = [(a, b)]
    while work:
        x, y = work.pop()
        key = (id(x), id(y))
        if key in seen:
            continue
        seen.add(key)
        t = type(x)
        if t is Array or t is Tuple or t is PackedArray:
            # (x and y are of one type, or one Array and one PackedArray:
            # equals; a packed one is read without unpacking)
            xs = x.values() if t is PackedArray else x.items
            ys = y.values() if type(y) is PackedArray else y.items
            if len(xs) != len(ys):
                return False
            pairs: Any = zip(xs, ys)
        elif t is Map:
            xd = x.items
            yd = y.items
            if len(xd) != len(yd):
                return False
            pairs = []
            for k, v in xd.items():
                if k not in yd:
                    return False
                pairs.append((v, yd[k]))
        else:  # Record
            xd = x.fields
            yd = y.fields
            if len(xd) != len(yd) or xd.keys() != yd.keys():
                return False
            pairs = [(v, yd[k]) for k, v in xd.items()]
        for p, q in pairs:
            tp = type(p)
            if tp is type(q) and (tp is Array or tp is Map or tp is Record or tp is Tuple):
                if p is not q:
                    work.append((p, q))
            elif not equals(p, q):
                return False
    return True


# ---------------------------------------------------------------------------
# Ordering

_ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def compare(op: str, a: Any, b: Any) -> bool:
    """`a op b` for op in < <= > >=: numbers (an int is promoted to float against
    a float) and strings (by code point). Anything else is a TypeError."""
    ta = type(a)
    tb = type(b)
    if ta is tb:
        if ta is not int and ta is not float and ta is not str:
            raise _compare_error(op, a, b)
    elif ta is int and tb is float:
        a = float(a)
    elif ta is float and tb is int:
        b = float(b)
    else:
        raise _compare_error(op, a, b)
    return _ORDER_OPS[op](a, b)


def _compare_error(op: str, a: Any, b: Any) -> RtError:
    return RtError("TypeError", f"unsupported operand types for {op}: {typeof(a)} and {typeof(b)}")


# ---------------------------------------------------------------------------
# Map keys


def check_key(k: Any) -> Any:
    """Validate a guest map key and return the Python dict key for it.

    Keys may be int, float, bool, string or nil. 1 and 1.0 are the same key
    (Python's dict already agrees); true and 1 are not (map_key wraps bools)."""
    t = type(k)
    if t is str or t is int or t is float or t is _NoneType:
        return k
    if t is bool:
        return map_key(k)
    if t is Tuple:
        # (tltuple) a tuple of keys is a key; one holding an array is not.
        for x in k.items:
            check_key(x)
        return map_key(k)
    if isinstance(k, Instance) and is_enum_value(k):  # (unique values: keys by identity; either layout)
        return k
    raise RtError("TypeError", f"invalid map key type: {typeof(k)}")
