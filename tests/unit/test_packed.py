"""Packed arrays (heap/packed.py) and the VM paths that keep them packed.

A `PackedArray` must behave exactly as the list-backed `Array` it stands
for: the object-level model test drives a random sequence of reads, stores,
pushes, pops and length queries on a packed array and on the equivalent list
and compares after every step (also the class: packed until a store of
another kind, a push or a pop unpacks it, never packed again). The
guest-level tests run programs on every Python tier and check both the
output and that the interpreter's and the JIT's inline paths (vm/blocks.py,
vm/ops_values.py, jit/codegen.py, the `for` loop's iterator) left the array
packed.
"""

from __future__ import annotations

import io
import math
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyvm.api import VM
from tinyvm.heap import packed
from tinyvm.heap.heap import Heap
from tinyvm.heap.objects import FLOAT_BYTES, INT_BYTES, INT_MAX, INT_MIN, Array
from tinyvm.heap.packed import PackedArray, kind_of, repeat


@pytest.fixture(autouse=True)
def _packing_on(monkeypatch):
    """These tests are about the interpreter's and the Python tier's packed
    paths: every VM here packs (Heap.packs; outside tests only a VM with
    the native tier does, jit/tier.py)."""
    monkeypatch.setattr(Heap, "packs", "qdb")  # (floats too: every buffer kind's paths)

# ---------------------------------------------------------------- the object


def test_repeat_packs_one_scalar_kind_only():
    assert type(repeat([True], 3, "qdb")) is PackedArray and repeat([True], 3, "qdb").packed.typecode == "b"
    assert type(repeat([7], 3, "qdb")) is PackedArray and repeat([7], 3, "qdb").packed.typecode == "q"
    assert type(repeat([1.5], 3, "qdb")) is PackedArray and repeat([1.5], 3, "qdb").packed.typecode == "d"
    for items in ([], [1, 2.0], [True, 1], ["s"], [None], [INT_MAX + 1], [[1]]):
        assert type(repeat(items, 2)) is Array, items
    assert kind_of([1, True]) is None  # (a bool is not an int here)


def test_values_leaves_it_packed_items_unpacks_for_good():
    a = repeat([True, False], 2, "qdb")
    assert a.values() == [True, False, True, False]
    assert all(type(x) is bool for x in a.values())
    assert type(a) is PackedArray and a.length() == 4
    items = a.items
    assert items == [True, False, True, False] and type(a) is Array and a.items is items
    assert all(type(x) is bool for x in items)


def test_floats_keep_their_bits():
    a = repeat([-0.0, math.inf, math.nan], 1, "qdb")
    v = a.values()
    assert math.copysign(1.0, v[0]) == -1.0 and v[1] == math.inf and math.isnan(v[2])
    a.set(0, 2.5)
    assert a.get(0) == 2.5 and type(a) is PackedArray


def test_int64_edges_stay_packed_and_a_wider_int_unpacks():
    a = repeat([INT_MIN, INT_MAX], 1, "qdb")
    assert type(a) is PackedArray and a.values() == [INT_MIN, INT_MAX]
    a.set(0, INT_MAX + 1)  # (not a guest value, but the object must stay correct)
    assert type(a) is Array and a.items == [INT_MAX + 1, INT_MAX]


def test_size_and_child_bytes_are_the_lists():
    for fill, n in ((True, 9), (3, 5), (1000, 5), (-6, 4), (2.5, 7)):
        p, l = repeat([fill], n, "qdb"), Array([fill] * n)
        assert p.size() == l.size()
        per = FLOAT_BYTES if type(fill) is float else (INT_BYTES if type(fill) is int and type(fill) is not bool and not -5 <= fill <= 256 else 0)
        assert p.child_bytes() == per * n


def test_an_empty_packed_array_is_still_truthy():
    a = PackedArray(array("q"))
    assert a and a.length() == 0 and a.refs() == ()


SCALARS = {
    "b": st.booleans(),
    "q": st.integers(INT_MIN, INT_MAX),
    "d": st.floats(allow_nan=False),
}
ANY = st.one_of(st.booleans(), st.integers(INT_MIN, INT_MAX), st.floats(allow_nan=False), st.text(max_size=2), st.none())


@st.composite
def scenario(draw):
    code = draw(st.sampled_from("bqd"))
    fill = draw(SCALARS[code])
    n = draw(st.integers(0, 12))
    steps = draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("get"), st.integers(0, 20)),
                st.tuples(st.just("set"), st.integers(0, 20), st.one_of(SCALARS[code], SCALARS[code], ANY)),
                st.tuples(st.just("len")),
                st.tuples(st.just("values")),
                st.tuples(st.just("push"), ANY),
                st.tuples(st.just("pop")),
            ),
            max_size=25,
        )
    )
    return fill, n, steps


def _same(x, y) -> bool:
    return type(x) is type(y) and (x == y or (type(x) is float and math.isnan(x) and math.isnan(y)))


@settings(max_examples=300, deadline=None)
@given(scenario())
def test_a_packed_array_and_its_list_agree_step_by_step(case):
    fill, n, steps = case
    a = repeat([fill], n, "qdb")
    model = [fill] * n
    assert (type(a) is PackedArray) == (n > 0 or True)  # (repeat packs by the fill's kind, even for n == 0)
    unpacked = False
    for step in steps:
        op = step[0]
        length = a.length() if type(a) is PackedArray else len(a.items)
        if op == "get":
            i = step[1]
            if i < length:
                assert _same(a.get(i) if type(a) is PackedArray else a.items[i], model[i])
        elif op == "set":
            i, v = step[1], step[2]
            if i < length:
                if type(a) is PackedArray:
                    before = a.packed.typecode
                    a.set(i, v)
                    fits = {"b": bool, "q": int, "d": float}[before] is type(v)
                    if not fits:
                        unpacked = True
                else:
                    a.items[i] = v
                model[i] = v
        elif op == "len":
            assert length == len(model)
        elif op == "values":
            got = a.values() if type(a) is PackedArray else list(a.items)
            assert len(got) == len(model) and all(_same(x, y) for x, y in zip(got, model))
        elif op == "push":  # (the builtin: through .items, which unpacks)
            a.items.append(step[1])
            model.append(step[1])
            unpacked = True
        elif op == "pop":
            if length:
                assert _same(a.items.pop(), model.pop())
                unpacked = True
        # The class: packed until something unpacked it, then a list for good.
        assert (type(a) is Array) == unpacked, (op, type(a))
        if unpacked:
            assert type(a.items) is list
        else:
            assert type(a.packed) is array and a.packed.typecode == {bool: "b", int: "q", float: "d"}[type(fill)]
        assert a.size() == Array(list(model)).size()
    final = a.values() if type(a) is PackedArray else a.items
    assert len(final) == len(model) and all(_same(x, y) for x, y in zip(final, model))


# ---------------------------------------------------------------- the VM's paths

TIERS = [{"jit": "off"}, {"jit": "off", "fuse": False}, {"jit": "eager"}, {"jit": "on", "jit_threshold": (2, 3)}]


def run(src: str, **kw) -> tuple[str, VM]:
    out = io.StringIO()
    vm = VM(stdout=out, **kw)
    vm.run_source(src)
    return out.getvalue(), vm


# Every read and write here keeps the kind, so every tier must leave the
# arrays packed (the hot loops run long enough to be compiled with "on").
KEEP_PACKED = """
var keep_b = [true] * 50
var keep_q = Array(50, 0)
var keep_d = [0.5] * 50
fn work(b: [bool], q: [int], d: [float]) -> int {
  var n = 0
  for i in 0..50 {
    b[i] = i % 3 == 0
    q[i] = i * 1000000007
    d[i] = d[i] + 1.25
  }
  for x in b { if x { n += 1 } }
  for x in q { n += x % 7 }
  for x in d { if x > 1.0 { n += 1 } }
  let [p, r] = [5] * 2
  return n + p + r
}
var total = 0
for k in 0..6 { total += work(keep_b, keep_q, keep_d) }
print(total)
print(keep_b[3], keep_q[49], keep_d[0])
"""


@pytest.mark.parametrize("kw", TIERS, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_the_tiers_read_write_and_iterate_in_place(kw, monkeypatch):
    seen: list = []
    real_unpack = PackedArray.unpack

    def spy(self):
        seen.append(self.packed.typecode)
        return real_unpack(self)

    monkeypatch.setattr(PackedArray, "unpack", spy)
    out, _ = run(KEEP_PACKED, **kw)
    per_call = 17 + sum(i * 1000000007 % 7 for i in range(50)) + 50 + 10
    assert out == f"{6 * per_call}\ntrue 49000000343 8.0\n"
    assert seen == [], f"a path unpacked a packed array: {seen}"


def test_packing_off_gives_the_same_output_on_every_tier(monkeypatch):
    outs = set()
    for kw in TIERS:
        for pack in (True, False):
            monkeypatch.setattr(Heap, "packs", "qdb" if pack else "")
            outs.add(run(KEEP_PACKED, **kw)[0])
    assert len(outs) == 1


@pytest.mark.parametrize("kw", TIERS, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_a_store_of_another_kind_unpacks_and_the_loop_goes_on(kw):
    src = """
var xs: [any] = [1, 2]
xs = [1] * 6
var seen = []
for x in xs {
  seen.push(x)
  if x == 1 and seen.len() == 2 { xs[4] = "four" }
  if seen.len() == 3 { xs.push(9.5) }
}
print(seen)
var bs: [any] = [true]
bs = [false] * 3
bs[1] = nil
print(bs, bs.len())
var ds: [any] = [1.0]
ds = [1.0] * 2
ds[0] = 3
print(ds)
"""
    out, _ = run(src, **kw)
    assert out == '[1, 1, 1, 1, "four", 1, 9.5]\n[false, nil, false] 3\n[3, 1.0]\n'


@pytest.mark.parametrize("kw", TIERS, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_errors_are_the_lists(kw):
    for body, msg in (
        ("var xs = [1] * 3\nprint(xs[3])", "IndexError: index 3 out of range for length 3"),
        ("var xs = [1.5] * 3\nxs[-1] = 2.0", "IndexError: index -1 out of range for length 3"),
        ('var xs: [any] = [true] * 2\nvar k: any = "a"\nprint(xs[k])', "TypeError: array index must be int, got string"),
        ('var xs: [any] = [true] * 2\nvar k: any = 1.0\nxs[k] = false', "TypeError: array index must be int, got float"),
    ):
        with pytest.raises(Exception) as e:
            run(body, **kw)
        assert msg in str(e.value), (body, str(e.value))


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["true", "false", "0", "1000", "-7", "2.5", "-0.0"]),
    st.integers(0, 30),
    st.lists(st.tuples(st.integers(0, 35), st.sampled_from(["true", "false", "3", "123456789", "1.5", '"s"', "nil", "[1]"])), max_size=8),
)
def test_guest_programs_agree_packed_or_not(fill, n, stores):
    lines = [f"var xs: [any] = [nil]", f"xs = [{fill}] * {n}"]
    for i, v in stores:
        lines.append(f"try {{ xs[{i}] = {v} }} catch e {{ print(e) }}")
    # (printed through a copy made by the loop: the array's own printing is
    # runtime/'s, not this test's)
    lines.append("var s = 0\nvar copy = []\nfor x in xs { copy.push(x)\n if x == true { s += 1 } }\nprint(copy, s)")
    src = "\n".join(lines)
    outs = []
    for pack in (True, False):
        Heap.packs = "qdb" if pack else ""
        try:
            outs.append(run(src)[0])
            outs.append(run(src, jit="eager")[0])
        finally:
            Heap.packs = ""
    assert len(set(outs)) == 1, outs


@pytest.mark.parametrize("kw", TIERS, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_the_inline_paths_take_packed_arrays(kw, monkeypatch):
    """The tiers' inline GET_INDEX/SET_INDEX (vm/ops_values.py, vm/blocks.py,
    jit/codegen.py) read and store a kind-preserving element themselves,
    and FOR_ITER (vm/ops_flow.py, codegen's for_iter) steps a packed
    array's iterator: the generic get_index/set_index/next_item are never
    called with a packed array (slower paths, and the ones that would hide
    a missing fast path)."""
    from tinyvm.vm.object_ops import ObjectOps

    calls: list = []
    real_get, real_set = ObjectOps.get_index, ObjectOps.set_index

    def get_spy(self, obj, i):
        if type(obj) is PackedArray:
            calls.append(("get", i))
        return real_get(self, obj, i)

    def set_spy(self, obj, i, v):
        if type(obj) is PackedArray:
            calls.append(("set", i, v))
        return real_set(self, obj, i, v)

    real_next = ObjectOps.next_item

    def next_spy(self, it):
        if type(it.source) is PackedArray:
            calls.append(("next", it.pos))
        return real_next(self, it)

    monkeypatch.setattr(ObjectOps, "get_index", get_spy)
    monkeypatch.setattr(ObjectOps, "set_index", set_spy)
    monkeypatch.setattr(ObjectOps, "next_item", next_spy)
    out, _ = run(KEEP_PACKED, **kw)
    assert out.startswith(str(6 * (17 + sum(i * 1000000007 % 7 for i in range(50)) + 50 + 10)))
    assert calls == []
