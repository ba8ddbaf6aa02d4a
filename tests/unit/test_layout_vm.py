"""Laid-out instances (heap/layout.py) on the interpreter and the Python JIT.

A laid-out instance keeps its fields in slots of its shape instead of a
dict; nothing a guest can observe may depend on it. These tests check:

- the layout primitives: `new_instance` lays out exactly when the heap
  does and the class is closed, shapes are shared per field list and cached
  per heap, a subclass keeps its parent's fields at the parent's slots,
  `FieldView` reads and writes like the dict and refuses to add or remove a
  field, and `size()` is the dict instance's;
- the VM's paths on such instances (vm/object_ops.py, the GET_FIELD and
  SET_FIELD builders' per-site caches in vm/ops_values.py, the fused
  blocks' caches in vm/blocks.py, the JIT's shape tests in jit/codegen.py):
  field reads and writes, the per-class field type checks (two classes can
  share a shape and not their checks), an uninitialised field, a missing
  field, method lookup and bound methods, subclasses, a site that sees
  several shapes in turn, and the write barrier under the incremental and
  generational collectors with their invariant checks on; each program's
  output and errors are those of the same program on dict instances;
- open (Lox) classes keep dicts, and a class declared inside a function
  called 1000 times makes one shape.

Programs here do not print instances themselves: `print` and `str` of an
instance are the runtime's (runtime/values.py), outside this module's
subject.
"""

from __future__ import annotations

import io

import pytest

from tinyvm.api import VM
from tinyvm.heap.heap import Heap
from tinyvm.heap.layout import FieldView, SlotInstance, is_instance_type, new_instance, shape_of
from tinyvm.heap.objects import UNINIT, Class, Instance

TIERS = [
    {},  # the fused interpreter
    {"fuse": False},  # plain: the builders alone
    {"meter_fuel": True},  # counting fuel
    {"jit": "eager"},
    {"jit": "on", "jit_threshold": (2, 3)},
]
TIER_IDS = ["fused", "plain", "metered", "jit-eager", "jit-on"]


def _cls(name: str, fields: dict, parent: Class | None = None) -> Class:
    c = Class(name, parent, None)
    c.template.update(fields)
    return c


def _heap(lays_out: bool) -> Heap:
    h = Heap()
    h.lays_out = lays_out
    return h


# ---------------------------------------------------------------- primitives


def test_new_instance_keeps_a_dict_unless_the_heap_lays_out() -> None:
    c = _cls("P", {"x": 1, "y": None})
    obj = new_instance(_heap(False), c)
    assert type(obj) is Instance and obj.fields == {"x": 1, "y": None}
    assert c.layout is False  # (decided at the first instance, for good)


def test_shapes_are_shared_per_field_list_and_per_heap() -> None:
    h = _heap(True)
    a, b = _cls("A", {"x": 0, "y": 0}), _cls("B", {"x": 5, "y": 6})
    oa, ob = new_instance(h, a), new_instance(h, b)
    assert type(oa) is type(ob) and type(oa).__base__ is SlotInstance
    assert is_instance_type(type(oa)) and is_instance_type(Instance) and not is_instance_type(dict)
    assert (oa.cls, ob.cls) == (a, b)
    assert ob.values_list() == [5, 6]
    # Another heap (another VM) has its own shapes.
    assert type(new_instance(_heap(True), _cls("A", {"x": 0, "y": 0}))) is not type(oa)
    # The same names in another order: another shape.
    assert type(new_instance(h, _cls("C", {"y": 0, "x": 0}))) is not type(oa)


def test_a_subclass_keeps_the_parents_fields_at_the_parents_slots() -> None:
    h = _heap(True)
    p = _cls("P", {"x": 1, "y": 2})
    q = _cls("Q", {"z": 3}, parent=p)  # (template: the parent's first)
    sp, sq = shape_of(h, p), shape_of(h, q)
    assert sq is not sp and sq.NAMES == ("x", "y", "z")
    assert [sq.INDEX[n] for n in ("x", "y")] == [sp.INDEX[n] for n in ("x", "y")]
    assert new_instance(h, q).values_list() == [1, 2, 3]


def test_open_classes_keep_dicts() -> None:
    h = _heap(True)
    c = _cls("L", {"a": 1})
    c.open = True
    obj = new_instance(h, c)
    assert type(obj) is Instance and shape_of(h, c) is None


def test_field_view_is_the_dict_it_stands_for() -> None:
    h = _heap(True)
    c = _cls("P", {"x": 1, "y": UNINIT, "s": "a"})
    obj = new_instance(h, c)
    ref = Instance(c, dict(c.template))
    view = obj.fields
    assert isinstance(view, FieldView)
    assert list(view) == list(ref.fields) and len(view) == 3
    assert dict(view.items()) == ref.fields and view.copy() == ref.fields
    assert view["x"] == 1 and view.get("y") is UNINIT and view.get("nope") is None
    assert "s" in view and "nope" not in view
    view["y"] = 7
    assert obj.get("y") == 7 and obj.put("x", 9) and view["x"] == 9
    assert not obj.put("nope", 1) and obj.get("nope", "d") == "d"
    with pytest.raises(KeyError):
        view["nope"] = 1  # a closed class's instance never gains a field
    with pytest.raises(KeyError):
        del view["x"]
    with pytest.raises(KeyError):
        view["nope"]


@pytest.mark.parametrize("n", [0, 1, 2, 7])
def test_size_and_refs_are_the_dict_instances(n: int) -> None:
    h = _heap(True)
    fields = {f"f{i}": [i] for i in range(n)}
    c = _cls("P", fields)
    obj, ref = new_instance(h, c), Instance(c, dict(c.template))
    assert obj.size() == ref.size()
    assert obj.refs() == ref.refs()


# ------------------------------------------------------------- on the tiers


def _run(src: str, lays_out: bool, monkeypatch: pytest.MonkeyPatch, **kw) -> tuple[str, VM]:
    monkeypatch.setattr(Heap, "lays_out", lays_out)
    out = io.StringIO()
    vm = VM(stdout=out, **kw)
    try:
        vm.run_source(src)
    except Exception as e:  # noqa: BLE001 - a guest error: compared as text
        out.write(f"!{type(e).__name__}: {e}\n")
    return out.getvalue(), vm


def _laid_out(vm: VM) -> int:
    return sum(1 for o in vm.machine.heap.all_objects() if type(o).__base__ is SlotInstance)


def _same_both_ways(src: str, monkeypatch: pytest.MonkeyPatch, **kw) -> str:
    """The program's output on laid-out instances, after checking it is the
    output on dict instances and that instances were laid out."""
    want, _ = _run(src, False, monkeypatch, **kw)
    got, vm = _run(src, True, monkeypatch, **kw)
    assert got == want
    assert vm.machine.heap.shapes, "no instance was laid out"
    return got


FIELDS = """
class P {
  var x: int = 0
  var y = nil
  var u
  fn init(a: int) { self.x = a; self.y = [a] }
  fn sum() -> int { return self.x + len(self.y) }
}
class Q extends P {
  var z = 5
  fn sum() -> int { return super.sum() + self.z }
}
fn bump(o) { o.x = o.x + 1; return o.x }
fn setx(o, v) { o.x = v }
fn setw(o) { o.w = 1 }
fn getw(o) { return o.w }
fn getu(o) { return o.u }
fn gety(o) { return o.y }
var s = 0
for i in 0..300 {
  let p = P(i)
  p.x = p.x + 1
  p.u = i
  s = s + p.sum() + bump(p) + getu(p)
}
print(s)
let q = Q(3)
q.z = q.z + q.x
print(q.z, q.sum(), bump(q), len(gety(q)))
let m = q.sum
print(m())
try { setx(q, "str") } catch e { print(e.message) }
try { setw(q) } catch e { print(e.message) }
try { print(getw(q)) } catch e { print(e.message) }
print(getu(Q(1)) == nil)
print(q == q, q == Q(3))
"""


@pytest.mark.parametrize("kw", TIERS, ids=TIER_IDS)
def test_fields_methods_checks_and_errors(kw: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _same_both_ways(FIELDS, monkeypatch, **kw)
    lines = out.splitlines()
    assert lines[0] == str(sum(3 * i + 4 for i in range(300)))  # (sum, bump, getu: (i+2) + (i+2) + i)
    assert lines[3] == "field 'x' of P: expected int, got string"
    assert lines[4:6] == ["Q has no field 'w'", "Q has no field 'w'"]


# One site (`o.x` in `get`/`put`) sees instances of two classes that keep
# `x` at different slots, in turn: the site's cache must follow the shape.
POLY = """
class A { var x = 0
  var pad = 1 }
class B { var pad = 2
  var x = 0 }
class C { var pad = 3
  var pad2 = 4
  var x = 0 }
fn get(o) { return o.x }
fn put(o, v) { o.x = v }
let objs = [A(), B(), C()]
var total = 0
for i in 0..600 {
  let o = objs[i % 3]
  put(o, get(o) + i)
  total = total + get(o) + o.pad
}
print(total, get(objs[0]), get(objs[1]), get(objs[2]), objs[1].pad, objs[2].pad2)
"""


# The fused blocks name the slot in their text when the module's root
# classes agree on the field's position (vm/blocks.py _slot_guess: `x` at 0
# here, R's); S's instances have `x` at 2 (after Base's fields): the site's
# cache must not admit S's shape, whose slot 0 is `a`.
GUESSED = """
class R { var x = 1 }
class Base { var a = 100
  var b = 200 }
class S extends Base { var x = 3 }
fn get(o) { return o.x }
fn put(o, v) { o.x = v }
let objs = [R(), S(), R(), S()]
var total = 0
for i in 0..400 {
  let o = objs[i % 4]
  put(o, get(o) + 1)
  total = total + get(o)
}
print(total, get(objs[0]), get(objs[1]), objs[1].a, objs[3].b)
"""


@pytest.mark.parametrize("kw", TIERS, ids=TIER_IDS)
def test_a_site_whose_guessed_slot_is_wrong_for_a_shape(kw: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _same_both_ways(GUESSED, monkeypatch, **kw)
    assert out.split()[1:] == ["101", "103", "100", "200"]


@pytest.mark.parametrize("kw", TIERS, ids=TIER_IDS)
def test_a_site_that_sees_several_shapes(kw: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _same_both_ways(POLY, monkeypatch, **kw)
    assert out.split()[1:] == [str(sum(range(0, 600, 3))), str(sum(range(1, 600, 3))), str(sum(range(2, 600, 3))), "2", "4"]


# Two classes with the same field names share a shape; only one of them
# types the field: a store through one site must check for that one only.
SHARED_CHECKS = """
class T { var v: int = abs(0) }
class U { var v = nil }
fn store(o, x) { o.v = x }
let t = T()
let u = U()
for i in 0..200 { store(t, i); store(u, i) }
store(u, "text")
print(u.v, t.v)
try { store(t, "text") } catch e { print(e.message) }
print(t.v)
"""


@pytest.mark.parametrize("kw", TIERS, ids=TIER_IDS)
def test_field_checks_are_the_classs_not_the_shapes(kw: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _same_both_ways(SHARED_CHECKS, monkeypatch, **kw)
    assert out.splitlines() == ["text 199", "field 'v' of T: expected int, got string", "199"]
    _, vm = _run(SHARED_CHECKS, True, monkeypatch, **kw)
    # T and U share one shape (the error caught has the Error classes' own;
    # T's default is not a constant, so its `v` is no raw int slot either)
    assert [k for k in vm.machine.heap.shapes if k[0] != ("message", "stack")] == [(("v",), ())]


LOCAL_CLASS = """
fn make(i) {
  class L { var a = 1
    var b = 2 }
  let l = L()
  l.b = i
  return l.a + l.b
}
var t = 0
for i in 0..1000 { t = t + make(i) }
print(t)
"""


def test_a_class_declared_in_a_function_makes_one_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    out = _same_both_ways(LOCAL_CLASS, monkeypatch)
    assert out.strip() == str(sum(1 + i for i in range(1000)))
    _, vm = _run(LOCAL_CLASS, True, monkeypatch)
    assert [names for names, _ in vm.machine.heap.shapes] == [("a", "b")]


# Old instances given young values while a collection is under way or the
# nursery is full (the first collection comes after 4 MiB: heap.py
# DEFAULT_THRESHOLD, then the small tuning below applies): the barrier
# must see a store into a slot as into a dict.
BARRIER = """
class Node { var next = nil
  var payload = nil }
let keep = []
for i in 0..200 { keep.push(Node()) }
for round in 0..100 {
  for i in 0..200 {
    let n = keep[i]
    n.payload = [round, i]
    n.next = Node()
    n.next.payload = "r${round}"
  }
}
var s = 0
for n in keep { s = s + n.payload[0] + n.payload[1] + len(n.next.payload) }
print(s)
"""


# Small steps and nursery: collections run during the stores.
SMALL_GC = "pause=110,stepmul=200,stepsize=1K,nursery=16K,promote_after=1,major_mul=20"
# The GC statistics that must not depend on the representation (not times).
GC_KEYS = ("collections", "by_kind", "allocated_bytes", "freed_bytes", "promoted_bytes", "freed_objects", "heap_bytes", "peak_bytes", "live_objects")


@pytest.mark.parametrize("gc", ["incremental", "generational"])
@pytest.mark.parametrize("kw", [{}, {"jit": "eager"}], ids=["fused", "jit-eager"])
def test_write_barrier_on_slots(gc: str, kw: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    opts = dict(gc=gc, gc_verify=True, gc_tuning=SMALL_GC, **kw)
    out = _same_both_ways(BARRIER, monkeypatch, **opts)
    assert out.strip() == str(sum(99 + i + 3 for i in range(200)))
    _, dict_vm = _run(BARRIER, False, monkeypatch, **opts)
    _, vm = _run(BARRIER, True, monkeypatch, **opts)
    stats, want = vm.gc_stats(), dict_vm.gc_stats()
    assert stats["collections"] > 5
    assert {k: stats[k] for k in GC_KEYS} == {k: want[k] for k in GC_KEYS}
    assert _laid_out(vm) > 0


def test_lox_instances_stay_dicts(monkeypatch: pytest.MonkeyPatch) -> None:
    src = "class A { init() { this.x = 1; } }\nvar a = A();\na.y = 2;\nprint a.x + a.y;\n"
    monkeypatch.setattr(Heap, "lays_out", True)
    out = io.StringIO()
    vm = VM(stdout=out)
    vm.run_source(src, "t.lox")
    assert out.getvalue().strip() == "3"
    assert not vm.machine.heap.shapes and _laid_out(vm) == 0


def test_memory_accounting_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    src = "class P { var a = 1\n var b = \"x\"\n var c = nil }\nlet ps = []\nfor i in 0..2000 { ps.push(P()) }\nprint(len(ps))\n"
    _, dict_vm = _run(src, False, monkeypatch)
    _, slot_vm = _run(src, True, monkeypatch)
    assert _laid_out(slot_vm) >= 2000
    assert slot_vm.memory_used == dict_vm.memory_used
    assert slot_vm.memory_peak == dict_vm.memory_peak


@pytest.mark.parametrize("n", [0, 1, 3])
def test_the_generated_maker_makes_new_instances_object(n: int) -> None:
    """The shape's generated maker (new_instance) and refs/free: the same as
    the descriptor loops of SlotInstance's own methods."""
    from tinyvm.heap.layout import _DICT_SLOT, _POISON, SlotInstance

    h = _heap(True)
    c = _cls("P", {f"f{i}": [i] for i in range(n)})
    b = new_instance(h, c)
    shape = type(b)
    a = shape.__new__(shape)  # (by descriptors, as SlotInstance's loops read them)
    a.cls = c
    _DICT_SLOT.__set__(a, None)
    for desc, v in zip(shape.DESCS, c.template.values()):
        desc.__set__(a, v)
    assert SlotInstance.refs(a) == SlotInstance.refs(b)
    assert type(a) is type(b) and a.cls is b.cls is c and a.fields.copy() == b.fields.copy()
    assert a.refs() == b.refs() == [*([i] for i in range(n)), c]
    assert a.size() == b.size() == Instance(c, dict(c.template)).size()
    b.free()
    assert b.cls is _POISON and all(v is _POISON for v in b.values_list())
    d = _cls("D", {"x": 1})
    assert type(new_instance(_heap(False), d)) is Instance
