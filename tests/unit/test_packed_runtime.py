"""The runtime library, the embedding API and the tools on packed arrays
(heap/packed.py): the same answers as for the list with the same elements,
and the reading sites leave the array packed.

A read that unpacked would not be wrong (the `items` property makes any
list code correct) but it would undo the representation behind the
program's back -- a `print` or a debugger view would change what the next
store costs and what native code can read in place. So the tests spy on
`PackedArray.unpack` as well as compare the output.
"""

from __future__ import annotations

import io
import json
import math

import pytest

from tinyvm.api import VM
from tinyvm.heap.heap import Heap
from tinyvm.heap.objects import Array
from tinyvm.heap.packed import PackedArray, repeat
from tinyvm.runtime import values
from tinyvm.tools import snapshot, trace
from tinyvm.tools.debugger import inspect
from tinyvm.tools.ide import views


@pytest.fixture(autouse=True)
def _packing_on(monkeypatch):
    """These tests are about the interpreter's and the Python tier's packed
    paths: every VM here packs (Heap.packs; outside tests only a VM with
    the native tier does, jit/tier.py)."""
    monkeypatch.setattr(Heap, "packs", "qdb")  # (floats too: every buffer kind's paths)


def run(src: str, **kw) -> tuple[str, VM]:
    out = io.StringIO()
    vm = VM(stdout=out, **kw)
    vm.run_source(src)
    return out.getvalue(), vm


def _vm_side() -> bool:
    """Whether this build has the vm/ side of packed arrays (helper pvm:
    the packed results of `*` allocated, vm/typecheck.py's `[T]` check
    taking them): the guest-level tests that store into one, or pass one
    to a typed host function, need it."""
    try:
        _, vm = run("let xs = [0] * 1")
        return hasattr(vm.get("xs"), "mark")
    except Exception:  # noqa: BLE001
        return False


needs_vm_side = pytest.mark.skipif(not _vm_side(), reason="this build's vm/ does not handle packed arrays yet (helper pvm's side)")


@pytest.fixture
def unpacks(monkeypatch):
    """The typecodes of the packed arrays that were unpacked."""
    seen: list[str] = []
    real = PackedArray.unpack

    def spy(self):
        seen.append(self.packed.typecode)
        return real(self)

    monkeypatch.setattr(PackedArray, "unpack", spy)
    return seen


READERS = """
import json

let q = [3, 1, 2] * 2
let d = Array(3, -0.0)
let b = [true, false] * 1
print(q, d, b, [q, d], {b: b})
print(str(q), "${d}", typeof(b), len(q), d.len())
print(q == [3, 1, 2, 3, 1, 2], [1] * 2 == [1.0, 1.0], b == [true, false], d == q)
print(q.contains(2), q.index_of(2.0), d.contains(0.0), b.index_of(false), q.count(3))
print(q.join("-"), json.stringify(d), json.stringify(b))
print(sorted(q), reversed(b), sum(q), sum(d), min(q), max(d), q.max())
print(zip(q, b), enumerate(b), Set(q))
print(q.slice(1, 3), d.slice(5))
let [x, y, z] = d
print(x, y, z)
for i, v in b {
  print(i, v)
}
"""

READERS_OUT = """[3, 1, 2, 3, 1, 2] [-0.0, -0.0, -0.0] [true, false] [[3, 1, 2, 3, 1, 2], [-0.0, -0.0, -0.0]] {b: [true, false]}
[3, 1, 2, 3, 1, 2] [-0.0, -0.0, -0.0] array 6 3
true true true false
true 2 true 1 2
3-1-2-3-1-2 [-0.0,-0.0,-0.0] [true,false]
[1, 1, 2, 2, 3, 3] [false, true] 12 0.0 1 -0.0 3
[(3, true), (1, false)] [(0, true), (1, false)] Set{3, 1, 2}
[1, 2] []
-0.0 -0.0 -0.0
0 true
1 false
"""


@pytest.mark.parametrize("jit", ["off", "eager"])
def test_reading_builtins_and_methods_leave_it_packed(jit, unpacks):
    out, vm = run(READERS, jit=jit)
    assert out == READERS_OUT
    assert unpacks == [], f"a reading site unpacked a packed array: {unpacks}"
    for name in ("q", "d", "b"):
        assert type(vm.get(name)) is PackedArray, name


def test_the_same_program_on_lists_prints_the_same():
    # (the list forms of q, d, b: what the packed arrays must stand for)
    src = READERS.replace("[3, 1, 2] * 2", "[3, 1, 2, 3, 1, 2]").replace("Array(3, -0.0)", "[-0.0, -0.0, -0.0]").replace("[true, false] * 1", "[true, false]")
    out, vm = run(src)
    assert out == READERS_OUT
    assert type(vm.get("q")) is Array


KIND_KEEPING = """
let q = [5] * 3
q.push(7)
q.pop()
q.push(-2)
q.reverse()
q.sort()
let d = [2.5, -0.0, 1.0] * 1
d.sort()
let b = [true] * 2
b.push(false)
let s = q.slice(1, 3)
let e = [1] * 2
e.extend([4] * 2)
let c = [0.5] * 4
c.clear()
c.push(1.5)
let plus = [1] * 2 + [2] * 1
let times = ([true] * 1) * 3
let keyed = [3, 1, 2] * 1
keyed.sort(fn(x) { return -x })
print(q, d, b, s, e, c, plus, times, keyed)
"""


@needs_vm_side
def test_kind_keeping_mutators_keep_it_packed(unpacks):
    out, vm = run(KIND_KEEPING)
    assert out == "[-2, 5, 5, 5] [-0.0, 1.0, 2.5] [true, true, false] [5, 5] [1, 1, 4, 4] [1.5] [1, 1, 2] [true, true, true] [3, 2, 1]\n"
    assert unpacks == []
    for name in ("q", "d", "b", "s", "e", "c", "plus", "times", "keyed"):
        assert type(vm.get(name)) is PackedArray, name


@needs_vm_side
def test_another_kind_unpacks_and_the_result_is_the_lists(unpacks):
    out, vm = run(
        """
let q: any = [1] * 2
q.push(2.5)
let m: any = [1] * 1 + [1.0] * 1
let i: any = [0] * 2
i.insert(0, 9)
let b: any = [true] * 2
try { b.sort() } catch e { print(e.message) }
print(q, m, i, b)
"""
    )
    assert out == "cannot compare bool and bool\n[1, 1, 2.5] [1, 1.0] [9, 0, 0] [true, true]\n"
    assert sorted(unpacks) == ["b", "q", "q"]  # (q by the float push, i by insert, b by sort)
    assert type(vm.get("q")) is Array and type(vm.get("i")) is Array and type(vm.get("b")) is Array
    assert type(vm.get("m")) is Array  # (ints then floats: a list, as repeat would make it of the same values)


@needs_vm_side
def test_sort_of_packed_floats_is_the_lists_order_with_nan_and_signed_zeros():
    xs = [0.0, math.nan, -0.0, 2.0, -1.0, math.nan, 0.0, -0.0]
    out, vm = run("let d = [" + ", ".join("0.0 / 0.0" if x != x else repr(x) for x in xs) + "] * 1\nd.sort()\nprint(d)\nlet l: any = []\n" + "".join(f"l.push({'0.0 / 0.0' if x != x else repr(x)})\n" for x in xs) + "l.sort()\nprint(l)\n")
    a, b = out.splitlines()
    assert a == b
    assert type(vm.get("d")) is PackedArray


def test_equality_between_representations():
    eq = values.equals
    assert eq(repeat([0], 3, "qdb"), Array([0, 0, 0])) and eq(Array([0, 0, 0]), repeat([0], 3, "qdb"))
    assert eq(repeat([1], 2, "qdb"), Array([1.0, 1.0])) and eq(repeat([1], 2, "qdb"), repeat([1.0], 2, "qdb"))
    assert not eq(repeat([True], 1, "qdb"), Array([1])) and not eq(repeat([True], 1, "qdb"), repeat([1], 1, "qdb"))
    assert eq(repeat([True], 0, "qdb"), repeat([1.0], 0, "qdb"))
    assert not eq(repeat([math.nan], 1, "qdb"), repeat([math.nan], 1, "qdb"))
    assert eq(repeat([-0.0], 1, "qdb"), repeat([0.0], 1, "qdb")) and eq(repeat([-0.0], 1, "qdb"), Array([0]))
    assert eq(repeat([2**53 + 1], 1, "qdb"), repeat([2.0**53], 1, "qdb"))  # (promoted, as `==` on numbers)
    assert not eq(repeat([1], 2, "qdb"), Array([1]))
    assert eq(Array([repeat([7], 2, "qdb")]), Array([Array([7, 7])]))


# ---------------------------------------------------------------- embedding


def test_to_host_gives_a_list_of_the_right_python_types_and_leaves_it_packed(unpacks):
    vm = VM(stdout=io.StringIO())
    vm.run_source("let b = [true, false] * 2\nlet q = [9223372036854775807] * 2\nlet d = [-0.0] * 2\nlet n = [b, b]\nfn get() -> [bool] { return b }")
    got = vm.eval("b")
    assert got == [True, False, True, False] and all(type(x) is bool for x in got)
    q = vm.eval("q")
    assert q == [2**63 - 1] * 2 and all(type(x) is int for x in q)
    d = vm.eval("d")
    assert all(type(x) is float and math.copysign(1.0, x) == -1.0 for x in d)
    n = vm.eval("n")
    assert n[0] is n[1] and n[0] == [True, False, True, False]  # (one guest array: one list, as for lists)
    assert vm.call("get") == [True, False, True, False]
    assert unpacks == []
    assert type(vm.get("b")) is PackedArray


@needs_vm_side
def test_a_host_function_receives_a_packed_array_as_a_list():
    vm = VM(stdout=io.StringIO())
    seen = []

    @vm.function
    def take(xs: list) -> int:
        seen.append(xs)
        return len(xs)

    vm.run_source("let n = take([false] * 3)\nprint(n)")
    assert seen == [[False, False, False]] and all(type(x) is bool for x in seen[0])


# ---------------------------------------------------------------- tools


def test_debugger_views_read_without_unpacking(unpacks):
    b = repeat([True, False], 2, "qdb")
    d = repeat([-0.0, math.inf], 1, "qdb")
    assert inspect.preview(b) == "[true, false, true, false]"
    assert inspect.preview(d) == "[-0.0, inf]"
    assert inspect.children(b) == [("0", True), ("1", False), ("2", True), ("3", False)]
    assert all(type(v) is bool for _, v in inspect.children(b))
    assert inspect.expandable(b) and inspect.type_name(b) == "array"
    assert unpacks == [] and type(b) is PackedArray
    inspect.set_child(b, "0", True)  # (of its kind: stays packed)
    assert type(b) is PackedArray and b.values() == [True, False, True, False]
    inspect.set_child(b, "1", 5)  # (a store of another kind: unpacks, as a guest store would)
    assert type(b) is Array and b.items == [True, 5, True, False]


def test_ide_views_and_snapshots_read_without_unpacking(unpacks):
    q = repeat([7], 100, "qdb")
    assert views._label(q, "array") == "array (100)"
    fields = views._fields(q)
    assert len(fields) == views.MAX_FIELDS and fields[0] == ("0", 7)
    b = repeat([False], 3, "qdb")
    assert views._fields(b) == [("0", False), ("1", False), ("2", False)]
    slots = snapshot._slots(q, lambda v: repr(v))
    assert slots["len"] == "100" and slots["0"] == "7" and len(slots) == snapshot.MAX_SLOTS + 1
    assert snapshot._summary(b, snapshot._scalar) == "array[3] [false, false, false]"
    assert trace.short_repr(q) == "[100 items]"
    assert unpacks == [] and type(q) is PackedArray and type(b) is PackedArray


@needs_vm_side
def test_snapshot_of_a_program_reports_the_lists_size_and_slots():
    _, vm = run("let xs = [1000] * 10\nlet ys = [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000]")
    snap = snapshot.take_snapshot(vm.machine)
    arrays = [o for o in snap.objects.values() if o.type == "array" and o.slots.get("len") == "10"]
    assert len(arrays) == 2
    a, b = arrays
    assert a.size == b.size and a.slots == b.slots and a.summary == b.summary


def test_json_of_packed_arrays_is_the_lists():
    out, _ = run('import json\nprint(json.stringify({a: [1] * 2, b: [0.5] * 1, c: [true] * 1}))')
    assert json.loads(out) == {"a": [1, 1], "b": [0.5], "c": [True]}
