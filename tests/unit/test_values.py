"""Unit tests for vm/values.py: typeof, printing, equality, ordering, map keys."""

from __future__ import annotations

import math
import struct
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyvm.heap.objects import (
    Array,
    BoundMethod,
    Cell,
    Class,
    Function,
    Instance,
    Map,
    ModuleObject,
    Native,
    Range,
    Record,
    map_key,
)
from tinyvm.runtime.errors import RtError
from tinyvm.runtime.values import (
    NeedsGuest,
    check_key,
    compare,
    equals,
    format_float,
    quote_string,
    repr_value,
    to_str,
    typeof,
)


def fn(name: str) -> Function:
    return Function(SimpleNamespace(name=name, arity=0, nlocals=0), (), None, None)


def make_class(name: str, fields: list[str], parent: Class | None = None, with_str: bool = False) -> Class:
    c = Class(name, parent, None)
    for f in fields:
        c.template[f] = None
    if with_str:
        c.methods["str"] = fn("str")
    return c


def instance(cls: Class, **fields) -> Instance:
    d = dict(cls.template)
    d.update(fields)
    return Instance(cls, d)


def mapping(*pairs) -> Map:
    return Map({map_key(k): v for k, v in pairs})


# ---------------------------------------------------------------------------
# typeof


def test_typeof_scalars():
    assert typeof(1) == "int"
    assert typeof(1.5) == "float"
    assert typeof(True) == "bool"
    assert typeof(False) == "bool"
    assert typeof("s") == "string"
    assert typeof(None) == "nil"


def test_typeof_heap_objects():
    point = make_class("Point", ["x"])
    assert typeof(Array([])) == "array"
    assert typeof(Map({})) == "map"
    assert typeof(Record({})) == "record"
    assert typeof(fn("f")) == "function"
    assert typeof(Native("len", len, 1)) == "function"
    assert typeof(BoundMethod([], Native("push", None, 1))) == "function"
    assert typeof(point) == "class"
    assert typeof(instance(point, x=1)) == "Point"
    assert typeof(Range(0, 3, False)) == "range"
    assert typeof(ModuleObject("math", "", [], {})) == "module"


def test_typeof_other_heap_types_use_type_name():
    class Task(Cell):
        type_name = "task"

    assert typeof(Task(None)) == "task"


# ---------------------------------------------------------------------------
# format_float


@pytest.mark.parametrize(
    "f, text",
    [
        (3.0, "3.0"),
        (0.1, "0.1"),
        (-0.0, "-0.0"),
        (0.0, "0.0"),
        (1e20, "1e+20"),
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (1e-7, "1e-07"),
        (1.5e-7, "1.5e-07"),
        (123.456, "123.456"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (math.nan, "nan"),
        (2.5, "2.5"),
        (1 / 3, "0.3333333333333333"),
    ],
)
def test_format_float(f, text):
    assert format_float(f) == text


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_format_float_round_trips(f):
    s = format_float(f)
    assert "." in s or "e" in s or "inf" in s or "nan" in s
    back = float(s)
    if math.isnan(f):
        assert math.isnan(back)
    else:
        # Bit-exact, so that -0.0 keeps its sign.
        assert struct.pack("<d", back) == struct.pack("<d", f)


# ---------------------------------------------------------------------------
# to_str / repr_value


def test_scalars_print():
    assert to_str(42) == "42"
    assert to_str(-7) == "-7"
    assert to_str(2.0) == "2.0"
    assert to_str(True) == "true"
    assert to_str(False) == "false"
    assert to_str(None) == "nil"
    assert to_str("hi") == "hi"
    assert repr_value("hi") == '"hi"'
    assert repr_value(3) == "3"
    assert repr_value(None) == "nil"


def test_string_escapes_inside_containers():
    assert repr_value('a"b') == '"a\\"b"'
    assert repr_value("a\\b") == '"a\\\\b"'
    assert repr_value("l1\nl2\tx\ry") == '"l1\\nl2\\tx\\ry"'
    assert repr_value("nul\0") == '"nul\\0"'
    assert repr_value("\x1b[0m") == '"\\u{1b}[0m"'
    assert repr_value("\x7f\x85") == '"\\u{7f}\\u{85}"'
    assert repr_value("héllo 😀 $x") == '"héllo 😀 $x"'
    assert repr_value("") == '""'
    assert quote_string("a\u00a0b") == '"a\u00a0b"'  # not a control char
    assert to_str(Array(["x\n"])) == '["x\\n"]'
    # At top level a string is printed as itself, escapes and all.
    assert to_str("x\n") == "x\n"


def test_array_and_map_printing():
    assert to_str(Array([1, "a", 2.0, True, None])) == '[1, "a", 2.0, true, nil]'
    assert to_str(Array([])) == "[]"
    assert to_str(Array([Array([]), Array([1, Array([2])])])) == "[[], [1, [2]]]"
    assert to_str(mapping(("k", 1))) == '["k": 1]'
    assert to_str(Map({})) == "[:]"
    m = mapping((True, 1), (1, "one"), (None, Array([])), (1.5, Map({})))
    assert to_str(m) == '[true: 1, 1: "one", nil: [], 1.5: [:]]'


def test_record_and_instance_printing():
    assert to_str(Record({"x": 1, "y": 2})) == "{x: 1, y: 2}"
    assert to_str(Record({})) == "{}"
    point = make_class("Point", ["x", "y"])
    assert to_str(instance(point, x=3.0, y=4.0)) == "Point(x: 3.0, y: 4.0)"
    assert to_str(make_class("Empty", [])) == "<class Empty>"
    assert to_str(instance(make_class("Empty", []))) == "Empty()"
    assert to_str(Array([Record({"p": instance(point, x=1, y="s")})])) == '[{p: Point(x: 1, y: "s")}]'


def test_instance_fields_follow_template_order():
    base = make_class("Base", ["a"])
    sub = make_class("Sub", ["b"], parent=base)
    assert list(sub.template) == ["a", "b"]
    inst = Instance(sub, {"b": 2, "a": 1})  # dict built in another order
    assert to_str(inst) == "Sub(a: 1, b: 2)"
    inst.fields["extra"] = 3
    assert to_str(inst) == "Sub(a: 1, b: 2, extra: 3)"


def test_functions_classes_modules_ranges_print():
    assert to_str(fn("add")) == "<fn add>"
    assert to_str(fn("<lambda>")) == "<fn>"
    assert to_str(Native("len", len, 1)) == "<fn len>"
    assert to_str(BoundMethod(Array([]), Native("push", None, 1))) == "<fn push>"
    assert to_str(BoundMethod(Array([]), fn("area"))) == "<fn area>"
    assert to_str(make_class("Point", [])) == "<class Point>"
    assert to_str(ModuleObject("math", "", [], {})) == "<module math>"
    assert to_str(Range(0, 5, False)) == "0..5"
    assert to_str(Range(0, 6, True)) == "0..=5"
    assert to_str(Range(-3, -1, False)) == "-3..-1"
    assert to_str(Array([fn("f"), Range(1, 2, False)])) == "[<fn f>, 1..2]"


def test_unknown_heap_objects_print_as_type_name():
    class Chan(Cell):
        type_name = "chan"

    assert to_str(Chan(None)) == "<chan>"
    assert to_str(Array([Chan(None)])) == "[<chan>]"


def test_cycles_print_as_ellipsis():
    a = Array([1])
    a.items.append(a)
    assert to_str(a) == "[1, [...]]"
    m = Map({})
    m.items["self"] = m
    assert to_str(m) == '["self": [...]]'
    r = Record({"x": 1})
    r.fields["me"] = r
    assert to_str(r) == "{x: 1, me: {...}}"
    node = make_class("Node", ["next"])
    n = instance(node)
    n.fields["next"] = n
    assert to_str(n) == "Node(next: {...})"
    # indirect cycle through two containers
    b = Array([])
    c = Record({"b": b})
    b.items.append(c)
    assert to_str(b) == "[{b: [...]}]"


def test_shared_but_acyclic_values_print_in_full():
    shared = Array([1])
    assert to_str(Array([shared, shared])) == "[[1], [1]]"
    assert to_str(Record({"a": shared, "b": Array([shared])})) == "{a: [1], b: [[1]]}"


def test_deep_nesting_prints_without_recursion_error():
    root = Array([])
    cur = root
    for _ in range(50_000):
        nxt = Array([])
        cur.items.append(nxt)
        cur = nxt
    text = to_str(root)
    assert text == "[" * 50_001 + "]" * 50_001


def test_instance_with_str_needs_guest():
    fancy = make_class("Fancy", [], with_str=True)
    obj = instance(fancy)
    with pytest.raises(NeedsGuest) as info:
        to_str(obj)
    assert info.value.value is obj
    with pytest.raises(NeedsGuest):
        to_str(Array([1, Record({"x": obj})]))
    with pytest.raises(NeedsGuest):
        repr_value(mapping(("k", obj)))
    # inherited str methods count too
    sub = Class("Sub", fancy, None)
    with pytest.raises(NeedsGuest):
        to_str(instance(sub))


# ---------------------------------------------------------------------------
# equals


def test_equals_scalars():
    assert equals(1, 1)
    assert equals(1, 1.0)
    assert equals(1.0, 1)
    assert not equals(1, 2)
    assert not equals(True, 1)
    assert not equals(1, True)
    assert not equals(False, 0)
    assert not equals(0.0, False)
    assert equals(True, True)
    assert not equals(True, False)
    assert equals(None, None)
    assert not equals(None, False)
    assert equals("a", "a")
    assert not equals("1", 1)
    assert not equals(math.nan, math.nan)
    x = math.nan
    assert not equals(x, x)
    assert equals(0.0, -0.0)


def test_equals_int_float_promotes():
    # int promoted to float, as arithmetic does
    assert equals(2**53 + 1, float(2**53))


def test_equals_containers_deep():
    assert equals(Array([1, "a", Array([2.0])]), Array([1.0, "a", Array([2])]))
    assert not equals(Array([1]), Array([1, 2]))
    assert not equals(Array([True]), Array([1]))
    assert equals(mapping(("a", 1), ("b", 2)), mapping(("b", 2), ("a", 1)))
    assert not equals(mapping(("a", 1)), mapping(("a", 2)))
    assert not equals(mapping(("a", 1)), mapping(("b", 1)))
    assert not equals(mapping((True, 1)), mapping((1, 1)))
    assert equals(Record({"x": 1, "y": Array([])}), Record({"y": Array([]), "x": 1}))
    assert not equals(Record({"x": 1}), Record({"y": 1}))
    assert not equals(Array([]), Map({}))
    assert not equals(Array([]), Record({}))


def test_equals_identity_kinds():
    point = make_class("Point", ["x"])
    p, q = instance(point, x=1), instance(point, x=1)
    assert equals(p, p)
    assert not equals(p, q)
    f = fn("f")
    assert equals(f, f)
    assert not equals(f, fn("f"))
    assert equals(point, point)
    assert not equals(Array([p]), Array([q]))


def test_equals_ranges_by_sequence():
    assert equals(Range(0, 5, False), Range(0, 5, False))
    assert equals(Range(0, 5, False), Range(0, 5, True))  # 0..5 == 0..=4
    assert equals(Range(3, 3, False), Range(7, 2, False))  # both empty
    assert not equals(Range(0, 5, False), Range(1, 5, False))


def test_equals_cycles():
    a = Array([1])
    a.items.append(a)
    b = Array([1])
    b.items.append(b)
    assert equals(a, b)
    c = Array([2])
    c.items.append(c)
    assert not equals(a, c)
    m1, m2 = Map({}), Map({})
    m1.items["m"] = m1
    m2.items["m"] = m2
    assert equals(m1, m2)
    r1 = Record({"x": None})
    r2 = Record({"x": None})
    r1.fields["x"] = r2
    r2.fields["x"] = r1
    assert equals(r1, r2)


def test_equals_deep_nesting():
    def chain(n: int, leaf) -> Array:
        root = Array([])
        cur = root
        for _ in range(n):
            nxt = Array([])
            cur.items.append(nxt)
            cur = nxt
        cur.items.append(leaf)
        return root

    assert equals(chain(100_000, 1), chain(100_000, 1.0))
    assert not equals(chain(100_000, 1), chain(100_000, 2))


# ---------------------------------------------------------------------------
# compare


def test_compare_numbers_and_strings():
    assert compare("<", 1, 2)
    assert compare("<=", 2, 2)
    assert compare(">", 2.5, 2)
    assert compare(">=", 2, 2.0)
    assert not compare("<", 2, 1.5)
    assert compare("<", "abc", "abd")
    assert compare("<", "Z", "a")  # by code point
    assert compare("<", "é", "😀")
    assert not compare(">", "a", "b")
    assert not compare("<", math.nan, 1)


@pytest.mark.parametrize(
    "a, b, msg",
    [
        (1, "1", "unsupported operand types for <: int and string"),
        (True, False, "unsupported operand types for <: bool and bool"),
        (True, 1, "unsupported operand types for <: bool and int"),
        (None, 1, "unsupported operand types for <: nil and int"),
        (Array([]), Array([]), "unsupported operand types for <: array and array"),
    ],
)
def test_compare_type_errors(a, b, msg):
    with pytest.raises(RtError) as info:
        compare("<", a, b)
    assert info.value.cls == "TypeError"
    assert info.value.message == msg


# ---------------------------------------------------------------------------
# check_key


def test_check_key():
    assert check_key(1) == 1
    assert check_key("a") == "a"
    assert check_key(None) is None
    assert check_key(1.5) == 1.5
    assert check_key(True) == map_key(True)
    assert check_key(True) != check_key(1)
    d = {check_key(1): "int"}
    assert check_key(1.0) in d
    assert check_key(True) not in d
    with pytest.raises(RtError) as info:
        check_key(Array([]))
    assert (info.value.cls, info.value.message) == ("TypeError", "invalid map key type: array")
    with pytest.raises(RtError):
        check_key(Record({}))
