"""Unit tests for vm/methods.py: built-in methods of arrays, strings and maps."""

from __future__ import annotations

import io
import math
from types import SimpleNamespace

import pytest

from tinyvm.heap.heap import Heap
from tinyvm.heap.objects import Array, Class, Function, HeapObject, Instance, Map, Record, Tuple, map_key
from tinyvm.runtime.errors import RtError
from tinyvm.runtime.methods import PRELUDE_METHODS, make_methods, sort_by_keys
from tinyvm.vm.limits import Limits
from tinyvm.runtime.values import NeedsGuest


def fake_vm() -> SimpleNamespace:
    allocated: list = []
    heap = Heap()  # (the methods also charge it for strings and growth)
    heap_alloc = heap.alloc

    def alloc(o):
        allocated.append(o)
        return heap_alloc(o)

    heap.alloc = alloc  # type: ignore[method-assign]
    limits = Limits(lambda: None)  # (methods charge fuel: vm/limits.py)
    return SimpleNamespace(heap=heap, stdout=io.StringIO(), stdin=io.StringIO(), allocated=allocated, limits=limits)


@pytest.fixture
def vm():
    return fake_vm()


@pytest.fixture
def tables(vm):
    return make_methods(vm)


def on_heap(heap, v):
    """A receiver the test made itself gets the mark Heap.alloc would give
    it (the methods' write barrier reads it), without being counted as an
    allocation of the method's."""
    if isinstance(v, HeapObject) and not hasattr(v, "mark"):
        v.mark = heap.epoch
    return v


@pytest.fixture
def A(tables, vm):
    t = tables["array"]
    return lambda name, recv, *args: t[name](on_heap(vm.heap, recv), *args)


@pytest.fixture
def S(tables):
    t = tables["string"]
    return lambda name, recv, *args: t[name](recv, *args)


@pytest.fixture
def M(tables):
    t = tables["map"]
    return lambda name, recv, *args: t[name](recv, *args)


def err(cls: str, message: str | None = None):
    class _Ctx:
        def __enter__(self):
            return self

        def __exit__(self, et, ev, tb):
            assert et is RtError, f"expected RtError({cls}), got {et!r} {ev!r}"
            assert ev.cls == cls, (ev.cls, ev.message)
            if message is not None:
                assert ev.message == message
            return True

    return _Ctx()


def mapping(*pairs) -> Map:
    return Map({map_key(k): v for k, v in pairs})


def test_method_names(tables):
    assert set(tables["array"]) == {
        "push", "pop", "insert", "remove", "slice", "index_of", "contains", "reverse", "sort", "join", "len",
        # 1.1 (runtime/library.py)
        "extend", "clear", "count", "min", "max",
    }
    assert set(tables["string"]) == {
        "len", "upper", "lower", "trim", "split", "join", "contains", "starts_with", "ends_with", "find",
        "replace", "slice", "chars",
        # 1.1 (runtime/library.py)
        "repeat", "pad_left", "pad_right", "count", "index_of", "is_digit", "is_alpha", "is_space", "to_int",
        "to_float", "bytes_len",
    }
    assert set(tables["map"]) == {"get", "has", "remove", "keys", "values", "items", "len", "set_default", "merge"}
    assert PRELUDE_METHODS["array"] == {
        "map": "array_map", "filter": "array_filter", "reduce": "array_reduce", "sort": "array_sort_key",
        "sort_by": "array_sort_by", "find": "array_find",
    }


# ---------------------------------------------------------------------------
# Arrays


def test_push_pop_len(A):
    a = Array([])
    assert A("push", a, 1) is None
    A("push", a, "x")
    assert a.items == [1, "x"]
    assert A("len", a) == 2
    assert A("pop", a) == "x"
    assert A("pop", a) == 1
    with err("IndexError", "pop from empty array"):
        A("pop", a)
    with err("TypeError", "array.push expects 1 argument, got 0"):
        A("push", a)
    with err("TypeError", "array.push expects 1 argument, got 2"):
        A("push", a, 1, 2)
    with err("TypeError", "array.pop expects 0 arguments, got 1"):
        A("pop", a, 1)
    with err("TypeError", "array.len expects 0 arguments, got 1"):
        A("len", a, 1)


def test_insert(A):
    a = Array([1, 2])
    A("insert", a, 0, "a")
    A("insert", a, 3, "z")
    A("insert", a, 2, "m")
    assert a.items == ["a", 1, "m", 2, "z"]
    with err("IndexError", "insert index 6 out of range for array of length 5"):
        A("insert", a, 6, 0)
    with err("IndexError", "insert index -1 out of range for array of length 5"):
        A("insert", a, -1, 0)
    with err("TypeError", "array.insert expects an int index, got float"):
        A("insert", a, 1.0, 0)
    with err("TypeError", "array.insert expects an int index, got bool"):
        A("insert", a, True, 0)
    with err("TypeError", "array.insert expects 2 arguments, got 1"):
        A("insert", a, 1)


def test_remove(A):
    a = Array(["a", "b", "c"])
    assert A("remove", a, 1) == "b"
    assert a.items == ["a", "c"]
    with err("IndexError", "remove index 2 out of range for array of length 2"):
        A("remove", a, 2)
    with err("IndexError", "remove index -1 out of range for array of length 2"):
        A("remove", a, -1)
    with err("TypeError", "array.remove expects an int index, got string"):
        A("remove", a, "a")


def test_slice(A, vm):
    a = Array([0, 1, 2, 3, 4])
    s = A("slice", a, 1, 3)
    assert type(s) is Array and s.items == [1, 2] and s in vm.allocated
    assert s is not a
    assert A("slice", a, 0, 5).items == [0, 1, 2, 3, 4]
    assert A("slice", a, 3).items == [3, 4]
    # clamped to [0, len]; b < a gives empty
    assert A("slice", a, -2, 2).items == [0, 1]
    assert A("slice", a, 2, 100).items == [2, 3, 4]
    assert A("slice", a, 4, 1).items == []
    assert A("slice", a, 9, 10).items == []
    with err("TypeError", "array.slice expects an int bound, got float"):
        A("slice", a, 0, 1.5)
    with err("TypeError", "array.slice expects 1 or 2 arguments, got 0"):
        A("slice", a)


def test_index_of_and_contains(A):
    inner = Array([1])
    a = Array([1, "a", True, None, 2.5, Array([1]), mapping(("k", 1))])
    assert A("index_of", a, "a") == 1
    assert A("index_of", a, True) == 2
    assert A("index_of", a, 1) == 0
    assert A("index_of", a, 1.0) == 0
    assert A("index_of", a, None) == 3
    assert A("index_of", a, 2.5) == 4
    assert A("index_of", a, inner) == 5  # structural
    assert A("index_of", a, mapping(("k", 1.0))) == 6
    assert A("index_of", a, "zz") == -1
    assert A("index_of", Array([1, 0]), False) == -1  # bools are not numbers
    assert A("index_of", Array([True]), 1) == -1
    assert A("index_of", Array([math.nan]), math.nan) == -1
    assert A("contains", a, "a") is True
    assert A("contains", a, "b") is False
    assert A("contains", Array([0]), False) is False
    with err("TypeError", "array.contains expects 1 argument, got 0"):
        A("contains", a)


def test_reverse(A):
    a = Array([1, 2, 3])
    assert A("reverse", a) is None
    assert a.items == [3, 2, 1]


def test_sort(A):
    a = Array([3, 1.5, 2, -1])
    assert A("sort", a) is None
    assert a.items == [-1, 1.5, 2, 3]
    s = Array(["b", "B", "a", "é"])
    A("sort", s)
    assert s.items == ["B", "a", "b", "é"]
    stable = Array([1.0, 1, 0])
    A("sort", stable)
    assert stable.items == [0, 1.0, 1] and type(stable.items[1]) is float
    A("sort", Array([]))
    A("sort", Array([Array([])]))  # one element: nothing to compare
    with err("TypeError", "cannot compare string and int"):
        A("sort", Array([1, "a"]))
    with err("TypeError", "cannot compare int and string"):
        A("sort", Array(["a", 1]))
    with err("TypeError", "cannot compare bool and bool"):
        A("sort", Array([True, False]))
    with err("TypeError", "cannot compare bool and int"):
        A("sort", Array([1, True]))
    with err("TypeError", "cannot compare array and array"):
        A("sort", Array([Array([]), Array([])]))
    with err("TypeError", "array.sort expects 0 arguments, got 1"):
        A("sort", a, None)


def test_sort_by_keys():
    a = Array(["bb", "a", "ccc", "dd"])
    sort_by_keys(a, Array([2, 1, 3, 2]))
    assert a.items == ["a", "bb", "dd", "ccc"]  # stable for equal keys
    b = Array([1, 2])
    sort_by_keys(b, Array(["z", "y"]))
    assert b.items == [2, 1]
    with err("ValueError", "array changed size during sort"):
        sort_by_keys(Array([1, 2]), Array([1]))
    with err("TypeError", "cannot compare string and int"):
        sort_by_keys(Array([1, 2]), Array([1, "x"]))
    single = Array([Array([])])
    sort_by_keys(single, Array([None]))
    assert len(single.items) == 1


def test_join(A):
    assert A("join", Array(["a", "b", "c"]), ", ") == "a, b, c"
    assert A("join", Array([]), "-") == ""
    assert A("join", Array([1, "x", None, 2.0, Array(["s"])]), "|") == '1|x|nil|2.0|["s"]'
    with err("TypeError", "array.join expects a string separator, got int"):
        A("join", Array([]), 1)
    fancy = Class("Fancy", None, None)
    fancy.methods["str"] = Function(SimpleNamespace(name="str", arity=0, nlocals=1), (), None, None)
    with pytest.raises(NeedsGuest):
        A("join", Array([Instance(fancy, {})]), ",")


# ---------------------------------------------------------------------------
# Strings


def test_string_basics(S):
    assert S("len", "héllo😀") == 6
    assert S("upper", "abcé") == "ABCÉ"
    assert S("lower", "ABC") == "abc"
    assert S("trim", "  \t x y \n") == "x y"
    assert S("contains", "hello", "ell") is True
    assert S("contains", "hello", "") is True
    assert S("contains", "hello", "z") is False
    assert S("starts_with", "hello", "he") is True
    assert S("starts_with", "hello", "lo") is False
    assert S("ends_with", "hello", "lo") is True
    assert S("find", "h😀llo", "llo") == 2  # code points
    assert S("find", "hello", "z") == -1
    assert S("replace", "a-b-c", "-", "+") == "a+b+c"
    assert S("replace", "aaa", "a", "") == ""
    assert S("replace", "ab", "", "-") == "-a-b-"
    for name in ("contains", "starts_with", "ends_with", "find"):
        with err("TypeError", f"string.{name} expects a string, got int"):
            S(name, "x", 1)
    with err("TypeError", "string.replace expects a string, got nil"):
        S("replace", "x", None, "y")
    with err("TypeError", "string.replace expects 2 arguments, got 1"):
        S("replace", "x", "y")
    with err("TypeError", "string.upper expects 0 arguments, got 1"):
        S("upper", "x", "y")


def test_string_split(S, vm):
    r = S("split", "a,b,,c", ",")
    assert type(r) is Array and r.items == ["a", "b", "", "c"] and r in vm.allocated
    assert S("split", "abc", ",").items == ["abc"]
    assert S("split", "", ",").items == [""]
    assert S("split", "a::b", "::").items == ["a", "b"]
    assert S("split", "  a  b\tc ").items == ["a", "b", "c"]
    with err("ValueError", "empty separator"):
        S("split", "abc", "")
    with err("TypeError", "string.split expects a string, got int"):
        S("split", "abc", 1)
    with err("TypeError", "string.split expects 0 or 1 arguments, got 2"):
        S("split", "abc", ",", ",")


def test_string_join(S):
    assert S("join", ", ", Array(["a", "b"])) == "a, b"
    assert S("join", "", Array([1, True, None])) == "1truenil"
    assert S("join", "-", Array([])) == ""
    with err("TypeError", "string.join expects an array, got string"):
        S("join", ",", "abc")


def test_string_slice_and_chars(S, vm):
    assert S("slice", "h😀llo", 1, 3) == "😀l"
    assert S("slice", "hello", 3) == "lo"
    assert S("slice", "hello", -5, 2) == "he"
    assert S("slice", "hello", 2, 99) == "llo"
    assert S("slice", "hello", 4, 2) == ""
    with err("TypeError", "string.slice expects an int bound, got string"):
        S("slice", "hello", "1", 2)
    c = S("chars", "a😀b")
    assert type(c) is Array and c.items == ["a", "😀", "b"] and c in vm.allocated
    assert S("chars", "").items == []


# ---------------------------------------------------------------------------
# Maps


def test_map_get_has(M):
    m = mapping(("a", 1), (True, "t"), (1, "one"), (None, "nil"))
    assert M("get", m, "a", 0) == 1
    assert M("get", m, "zz", 0) == 0
    assert M("get", m, "zz") is None
    assert M("get", m, True, None) == "t"
    assert M("get", m, 1, None) == "one"
    assert M("get", m, 1.0, None) == "one"
    assert M("get", m, None) == "nil"
    assert M("has", m, "a") is True
    assert M("has", m, False) is False
    assert M("has", m, 1.0) is True
    with err("TypeError", "invalid map key type: array"):
        M("get", m, Array([]), 0)
    with err("TypeError", "invalid map key type: record"):
        M("has", m, Record({}))
    with err("TypeError", "map.get expects 1 or 2 arguments, got 0"):
        M("get", m)


def test_map_remove(M):
    m = mapping(("x", 1), (False, 2), (2.5, 3))
    assert M("remove", m, "x") == 1
    assert M("remove", m, False) == 2
    assert list(m.items) == [2.5]
    with err("KeyError", 'key not found: "x"'):
        M("remove", m, "x")
    with err("KeyError", "key not found: true"):
        M("remove", m, True)
    with err("KeyError", "key not found: 1.0"):
        M("remove", m, 1.0)
    with err("TypeError", "invalid map key type: map"):
        M("remove", m, Map({}))


def test_map_keys_values_items(M, vm):
    m = mapping(("b", 1), (True, 2), (0, 3), (None, Array([])))
    ks = M("keys", m)
    assert type(ks) is Array and ks.items == ["b", True, 0, None]
    assert type(ks.items[1]) is bool
    assert M("values", m).items[:3] == [1, 2, 3]
    items = M("items", m)
    # (key, value) tuples since TinyLang 1.1
    assert [p.items for p in items.items][:3] == [("b", 1), (True, 2), (0, 3)]
    assert all(type(p) is Tuple and p in vm.allocated for p in items.items)
    assert items in vm.allocated
    assert M("len", m) == 4
    assert M("len", Map({})) == 0
    assert M("keys", Map({})).items == []
    with err("TypeError", "map.keys expects 0 arguments, got 1"):
        M("keys", m, 1)
