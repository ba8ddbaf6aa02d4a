"""Unit tests for vm/builtins.py (global natives) and vm/stdlib_math.py."""

from __future__ import annotations

import io
import math
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from tinyvm.heap.heap import NO_WATCH
from tinyvm.heap.objects import Array, Class, Function, Instance, Map, Native, Range, Record, map_key
from tinyvm.runtime import builtins as builtins_mod
from tinyvm.runtime import methods as methods_mod
from tinyvm.runtime.builtins import GUEST_FALLBACKS, PRELUDE_NATIVES, make_builtins
from tinyvm.runtime.errors import RtError
from tinyvm.runtime.inputs import Inputs
from tinyvm.stdlib.math import make_math_module
from tinyvm.runtime.values import NeedsGuest

PRELUDE = Path(builtins_mod.__file__).with_name("prelude.tl")


def fake_vm(stdin: str = "") -> SimpleNamespace:
    allocated: list = []

    def alloc(o):
        allocated.append(o)
        return o

    return SimpleNamespace(
        heap=SimpleNamespace(alloc=alloc, sweeps=0, limit=1 << 30, used=0, charge_str=lambda s: s, watch=NO_WATCH), stdout=io.StringIO(), stdin=io.StringIO(stdin), allocated=allocated, inputs=Inputs()
    )


@pytest.fixture
def vm():
    return fake_vm()


@pytest.fixture
def b(vm):
    """Call a builtin by name: b("len", x)."""
    table = make_builtins(vm)

    def call(name, *args):
        return table[name].fn(*args)

    return call


def raises(cls: str, message: str | None = None):
    """Context manager: an RtError of class cls (and exact message, if given)."""

    class _Ctx:
        def __enter__(self):
            return self

        def __exit__(self, et, ev, tb):
            assert et is RtError, f"expected RtError({cls}), got {et}"
            assert ev.cls == cls, ev.cls
            if message is not None:
                assert ev.message == message
            return True

    return _Ctx()


def make_class(name, fields=(), with_str=False):
    c = Class(name, None, None)
    for f in fields:
        c.template[f] = None
    if with_str:
        c.methods["str"] = Function(SimpleNamespace(name="str", arity=0, nlocals=1), (), None, None)
    return c


# ---------------------------------------------------------------------------


def test_table_contents_and_allocation(vm):
    table = make_builtins(vm)
    expected = {
        "print", "len", "str", "int", "float", "typeof", "assert", "input",
        "abs", "min", "max", "sqrt", "floor", "ceil", "round",
    }
    expected |= {"zip", "enumerate"}  # TinyLang 1.1 (issue 18, tltuple)
    assert expected | PRELUDE_NATIVES == set(table)
    for name, native in table.items():
        assert type(native) is Native
        assert native.name == name
        assert native in vm.allocated
    assert table["len"].arity == 1
    assert table["print"].arity == -1
    assert table["assert"].arity == -1
    assert table["__sort_by_keys"].arity == 2


def test_print(vm, b):
    assert b("print", 1, "a", 2.5, None, True, Array(["s"])) is None
    b("print")
    b("print", "x")
    assert vm.stdout.getvalue() == '1 a 2.5 nil true ["s"]\n\nx\n'


def test_print_needs_guest_writes_nothing(vm, b):
    fancy = Instance(make_class("Fancy", with_str=True), {})
    with pytest.raises(NeedsGuest):
        b("print", "before", fancy)
    assert vm.stdout.getvalue() == ""
    with pytest.raises(NeedsGuest):
        b("str", Array([fancy]))


def test_len(b):
    assert b("len", "héllo😀") == 6
    assert b("len", "") == 0
    assert b("len", Array([1, 2])) == 2
    assert b("len", Map({1: 2})) == 1
    assert b("len", Record({"x": 1, "y": 2})) == 2
    assert b("len", Range(2, 7, False)) == 5
    assert b("len", Range(0, 6, True)) == 6
    assert b("len", Range(5, 1, False)) == 0
    with raises("TypeError", "len expects a string, array, map, record or range, got int"):
        b("len", 3)
    with raises("TypeError", "len expects 1 argument, got 2"):
        b("len", "a", "b")
    with raises("TypeError", "len expects 1 argument, got 0"):
        b("len")


def test_str_and_typeof(b):
    assert b("str", 1) == "1"
    assert b("str", 1.0) == "1.0"
    assert b("str", "x") == "x"
    assert b("str", None) == "nil"
    assert b("str", Array(["x"])) == '["x"]'
    assert b("str", Map({map_key(False): 0})) == "[false: 0]"
    assert b("typeof", 1) == "int"
    assert b("typeof", Instance(make_class("P"), {})) == "P"
    with raises("TypeError", "str expects 1 argument, got 0"):
        b("str")
    with raises("TypeError", "typeof expects 1 argument, got 2"):
        b("typeof", 1, 2)


def test_int(b):
    assert b("int", 7) == 7
    assert b("int", 3.99) == 3
    assert b("int", -3.99) == -3
    assert b("int", -0.5) == 0
    assert b("int", " 42 ") == 42
    assert b("int", "-17") == -17
    assert b("int", "+5") == 5
    assert b("int", "\t9\n") == 9
    assert b("int", "9223372036854775807") == 2**63 - 1
    assert b("int", "-9223372036854775808") == -(2**63)
    assert b("int", 9.2e18) == 9200000000000000000
    with raises("ValueError", "cannot convert nan to int"):
        b("int", math.nan)
    with raises("OverflowError", "integer overflow"):
        b("int", math.inf)
    with raises("OverflowError", "integer overflow"):
        b("int", -math.inf)
    with raises("OverflowError", "integer overflow"):
        b("int", 1e19)
    with raises("OverflowError", "integer overflow"):
        b("int", "9223372036854775808")
    with raises("ValueError", 'cannot convert "abc" to int'):
        b("int", "abc")
    for bad in ["", " ", "1.5", "1_000", "0x10", "١٢", "--1", "+", "1 2"]:
        with raises("ValueError"):
            b("int", bad)
    with raises("ValueError", 'cannot convert "a\\nb" to int'):
        b("int", "a\nb")
    with raises("TypeError", "cannot convert bool to int"):
        b("int", True)
    with raises("TypeError", "cannot convert nil to int"):
        b("int", None)
    with raises("TypeError", "cannot convert array to int"):
        b("int", Array([]))


def test_float(b):
    assert b("float", 2) == 2.0 and type(b("float", 2)) is float
    assert b("float", 2.5) == 2.5
    assert b("float", " 1.5 ") == 1.5
    assert b("float", "-2") == -2.0
    assert b("float", ".5") == 0.5
    assert b("float", "1e-9") == 1e-9
    assert b("float", "2.5E3") == 2500.0
    assert b("float", "inf") == math.inf
    assert b("float", "-Infinity") == -math.inf
    assert math.isnan(b("float", "nan"))
    assert b("float", "1e999") == math.inf
    with raises("ValueError", 'cannot convert "x" to float'):
        b("float", "x")
    for bad in ["", "1_0", "0x1p3", "١", "1e", "e5", "1.2.3", "infx"]:
        with raises("ValueError"):
            b("float", bad)
    with raises("TypeError", "cannot convert bool to float"):
        b("float", False)
    with raises("TypeError", "cannot convert map to float"):
        b("float", Map({}))


def test_assert(b):
    assert b("assert", True) is None
    assert b("assert", True, "msg") is None
    with raises("Error", "assertion failed"):
        b("assert", False)
    with raises("Error", "boom"):
        b("assert", False, "boom")
    with raises("Error", "assertion failed"):
        b("assert", False, None)
    with raises("Error", "[1, 2]"):
        b("assert", False, Array([1, 2]))
    with raises("TypeError", "assert expects a bool condition, got int"):
        b("assert", 1)
    with raises("TypeError", "assert expects a bool condition, got nil"):
        b("assert", None, "x")
    with raises("TypeError", "assert expects 1 or 2 arguments, got 0"):
        b("assert")
    with raises("TypeError", "assert expects 1 or 2 arguments, got 3"):
        b("assert", True, "a", "b")


def test_input():
    vm = fake_vm("first line\nsecond\r\nlast")
    table = make_builtins(vm)
    inp = table["input"].fn
    assert inp("name? ") == "first line"
    assert inp() == "second"
    assert inp(None) == "last"
    assert inp("more? ") is None  # EOF
    assert vm.stdout.getvalue() == "name? more? "
    with raises("TypeError", "input expects 0 or 1 arguments, got 2"):
        inp("a", "b")


def test_input_without_stdin():
    vm = fake_vm()
    vm.stdin = None
    assert make_builtins(vm)["input"].fn() is None


def test_abs(b):
    assert b("abs", -3) == 3
    assert b("abs", 3) == 3
    assert b("abs", -2.5) == 2.5
    assert b("abs", -0.0) == 0.0 and math.copysign(1, b("abs", -0.0)) == 1
    assert b("abs", 2**63 - 1) == 2**63 - 1
    with raises("OverflowError", "integer overflow"):
        b("abs", -(2**63))
    with raises("TypeError", "abs expects a number, got string"):
        b("abs", "x")
    with raises("TypeError", "abs expects a number, got bool"):
        b("abs", True)


def test_min_max(b):
    assert b("min", 3, 1, 2) == 1
    assert b("max", 3, 1, 2) == 3
    assert b("min", Array([5, 2.5, 7])) == 2.5
    assert b("max", Array([5, 2.5, 7])) == 7
    assert b("min", "b", "a", "c") == "a"
    assert b("max", Array(["b", "a"])) == "b"
    assert b("min", Array([4])) == 4
    # ties keep the first; int/float compare by value
    r = b("min", 1, 1.0)
    assert r == 1 and type(r) is int
    r = b("max", 2.0, 2)
    assert type(r) is float
    with raises("ValueError", "min of empty array"):
        b("min", Array([]))
    with raises("ValueError", "max of empty array"):
        b("max", Array([]))
    with raises("TypeError", "min expects at least 1 argument, got 0"):
        b("min")
    with raises("TypeError", "max expects an array or at least 2 arguments, got int"):
        b("max", 5)
    with raises("TypeError", "cannot compare string and int"):
        b("min", 1, "a")
    with raises("TypeError", "cannot compare int and string"):
        b("max", Array(["a", 1]))
    with raises("TypeError", "cannot compare bool and int"):
        b("max", 1, True)
    with raises("TypeError", "min expects numbers or strings, got nil"):
        b("min", None, 1)


def test_sqrt(b):
    assert b("sqrt", 16) == 4.0 and type(b("sqrt", 16)) is float
    assert b("sqrt", 2.25) == 1.5
    assert b("sqrt", 0) == 0.0
    assert b("sqrt", math.inf) == math.inf
    # IEEE 754: float math never raises.
    assert math.isnan(b("sqrt", -1))
    assert math.isnan(b("sqrt", -0.5))
    assert math.isnan(b("sqrt", -math.inf))
    assert math.isnan(b("sqrt", math.nan))
    assert math.copysign(1.0, b("sqrt", -0.0)) == -1.0
    with raises("TypeError", "sqrt expects a number, got string"):
        b("sqrt", "4")
    with raises("TypeError", "sqrt expects 1 argument, got 2"):
        b("sqrt", 1, 2)


def test_floor_ceil(b):
    assert b("floor", 2.7) == 2 and type(b("floor", 2.7)) is int
    assert b("floor", -2.1) == -3
    assert b("floor", 5) == 5
    assert b("ceil", 2.1) == 3
    assert b("ceil", -2.7) == -2
    assert b("ceil", -0.5) == 0
    for name in ("floor", "ceil"):
        with raises("ValueError", "cannot convert nan to int"):
            b(name, math.nan)
        with raises("OverflowError", "integer overflow"):
            b(name, math.inf)
        with raises("OverflowError", "integer overflow"):
            b(name, 1e300)
        with raises("TypeError", f"{name} expects a number, got bool"):
            b(name, False)


def test_round(b):
    assert b("round", 2.5) == 3
    assert b("round", -2.5) == -3
    assert b("round", 0.5) == 1
    assert b("round", 1.5) == 2
    assert b("round", 2.4999) == 2
    assert b("round", -2.6) == -3
    assert b("round", 0.49999999999999994) == 0
    assert b("round", -0.49999999999999994) == 0
    assert b("round", 4503599627370497.0) == 4503599627370497
    assert b("round", 7) == 7
    assert type(b("round", 2.5)) is int
    with raises("ValueError", "cannot convert nan to int"):
        b("round", math.nan)
    with raises("OverflowError", "integer overflow"):
        b("round", -math.inf)
    with raises("OverflowError", "integer overflow"):
        b("round", 9.3e18)
    with raises("TypeError", "round expects a number, got string"):
        b("round", "1")


# ---------------------------------------------------------------------------
# Prelude helpers


def test_prelude_natives(b):
    point = make_class("Point", ["x", "y"])
    fancy = make_class("Fancy", with_str=True)
    assert b("__kind", Array([])) == "array"
    assert b("__kind", Map({})) == "map"
    assert b("__kind", Record({})) == "record"
    assert b("__kind", Instance(point, {})) == "instance"
    assert b("__kind", Instance(fancy, {})) == "strinst"
    for leaf in (1, "s", None, True, 1.5, point, Range(0, 1, False)):
        assert b("__kind", leaf) == "leaf"
    a = Array([])
    assert b("__id", a) == b("__id", a) != b("__id", Array([]))
    assert b("__repr_scalar", "a\n") == '"a\\n"'
    assert b("__repr_scalar", 1.0) == "1.0"
    assert b("__repr_scalar", point) == "<class Point>"
    fields = b("__fields", Instance(point, {"y": 2, "x": 1}))
    assert [p.items for p in fields.items] == [["x", 1], ["y", 2]]
    fields = b("__fields", Record({"a": "s"}))
    assert [p.items for p in fields.items] == [["a", "s"]]
    with raises("TypeError", "__fields expects a record or instance, got array"):
        b("__fields", Array([]))
    with raises("TypeError", "__kind expects 1 argument, got 0"):
        b("__kind")
    arr = Array(["c", "a", "b"])
    arr.mark = 0  # (as Heap.alloc would: the write barrier reads it)
    assert b("__sort_by_keys", arr, Array([3, 1, 2])) is None
    assert arr.items == ["a", "b", "c"]
    with raises("TypeError"):
        b("__sort_by_keys", arr, 1)


def _prelude_functions() -> set[str]:
    return set(re.findall(r"^fn (\w+)\(", PRELUDE.read_text(), re.M))


def test_prelude_defines_every_routed_function():
    defined = _prelude_functions()
    assert {"array_map", "array_filter", "array_reduce", "array_sort_key", "format_value"} <= defined
    for table in methods_mod.PRELUDE_METHODS.values():
        assert set(table.values()) <= defined
    for table in methods_mod.GUEST_FALLBACKS.values():
        assert set(table.values()) <= defined
    assert set(GUEST_FALLBACKS.values()) <= defined


def test_prelude_uses_only_existing_natives(vm):
    text = PRELUDE.read_text()
    code = "\n".join(line.split("//")[0] for line in text.splitlines())
    used = set(re.findall(r"\b(__\w+)\(", code))
    assert used, "the prelude should use its helper natives"
    assert used <= set(make_builtins(vm))
    assert used <= PRELUDE_NATIVES


def test_prelude_brackets_balance():
    code = "\n".join(line.split("//")[0] for line in PRELUDE.read_text().splitlines())
    code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', code)  # drop string contents
    stack = []
    pairs = {")": "(", "]": "[", "}": "{"}
    for ch in code:
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs:
            assert stack and stack.pop() == pairs[ch]
    assert not stack


# ---------------------------------------------------------------------------
# math module


@pytest.fixture
def math_mod(vm):
    return make_math_module(vm)


def test_math_constants(math_mod):
    assert math_mod["pi"] == math.pi
    assert math_mod["e"] == math.e
    assert math_mod["inf"] == math.inf
    assert math.isnan(math_mod["nan"])


def test_math_functions(math_mod):
    m = {k: v.fn for k, v in math_mod.items() if type(v) is Native}
    assert set(m) == {"sqrt", "sin", "cos", "tan", "atan2", "exp", "log", "pow", "floor", "ceil"}
    assert m["sqrt"](9) == 3.0
    assert m["sin"](0) == 0.0
    assert m["cos"](0) == 1.0
    assert m["tan"](0.0) == 0.0
    assert m["atan2"](1, 1) == math.pi / 4
    assert m["exp"](0) == 1.0
    assert m["exp"](1000) == math.inf
    assert m["log"](math.e) == 1.0
    assert m["log"](1) == 0.0
    assert m["pow"](2, 10) == 1024.0 and type(m["pow"](2, 10)) is float
    assert m["pow"](10, 400) == math.inf
    assert m["pow"](-10, 401) == -math.inf
    assert m["pow"](-10, 400) == math.inf
    assert m["floor"](-1.5) == -2 and type(m["floor"](1.5)) is int
    assert m["ceil"](1.2) == 2


def test_math_errors(math_mod):
    m = {k: v.fn for k, v in math_mod.items() if type(v) is Native}
    # IEEE 754 results where Python's math module would raise: never an error.
    for name, args, want in [
        ("log", (0,), -math.inf),
        ("log", (-0.0,), -math.inf),
        ("log", (-1,), math.nan),
        ("log", (-math.inf,), math.nan),
        ("sqrt", (-4.0,), math.nan),
        ("sin", (math.inf,), math.nan),
        ("cos", (-math.inf,), math.nan),
        ("tan", (math.inf,), math.nan),
        ("pow", (0, -1), math.inf),
        ("pow", (-0.0, -1), -math.inf),
        ("pow", (-0.0, -2), math.inf),
        ("pow", (0, -0.5), math.inf),
        ("pow", (-8, 1 / 3), math.nan),
        ("exp", (1e308,), math.inf),
    ]:
        got = m[name](*args)
        assert type(got) is float
        if math.isnan(want):
            assert math.isnan(got), (name, args, got)
        else:
            assert got == want and math.copysign(1.0, got) == math.copysign(1.0, want), (name, args, got)
    with raises("TypeError", "math.sin expects a number, got string"):
        m["sin"]("x")
    with raises("TypeError", "math.pow expects a number, got bool"):
        m["pow"](2, True)
    with raises("TypeError", "math.atan2 expects 2 arguments, got 1"):
        m["atan2"](1)
    with raises("TypeError", "math.log expects 1 argument, got 2"):
        m["log"](1, 2)
    with raises("TypeError", "math.floor expects a number, got nil"):
        m["floor"](None)
    with raises("ValueError", "cannot convert nan to int"):
        m["ceil"](math.nan)


def test_int_of_more_digits_than_int64_has_is_overflow_not_a_host_error() -> None:
    # Python's int() refuses strings over 4300 digits with its own ValueError,
    # which once surfaced as InternalError naming sys.set_int_max_str_digits.
    from tinyvm.runtime.builtins import to_int
    from tinyvm.runtime.errors import RtError

    for text in ("9" * 5000, "-" + "1" * 20, "1" * 4301):
        with pytest.raises(RtError) as info:
            to_int(text)
        assert info.value.cls == "OverflowError"
    assert to_int("0" * 5000 + "42") == 42
    assert to_int("-" + "0" * 30 + "9223372036854775808") == -(2**63)
