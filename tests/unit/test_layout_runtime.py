"""The runtime library, the embedding API and the tools on laid-out
instances (heap/layout.py, "shapes"): every answer the same as for the
dict instance with the same class and fields.

A shape's type is not `Instance`, so any site still testing `type(x) is
Instance` would print `<instance>`, give typeof "instance", refuse an enum
key, show no fields in the debugger or name a snapshot node "instance"
with element edges. Each test builds both representations of one object
from a real VM's classes (`_pair`), the dict one exactly as the VM makes
it (`Instance(cls, dict(cls.template))`, new_instance's dict branch) and
the laid-out one through `new_instance` on a heap that lays out, fills the
same fields, and compares what the site answers for each. These tests do
not need the VM's own sites to make shapes (tests/embed/test_shapes.py
runs whole programs both ways).
"""

from __future__ import annotations

import io

import pytest

from tinyvm.api import VM
from tinyvm.heap.layout import SlotInstance, new_instance
from tinyvm.heap.objects import Array, Instance, Map, Record
from tinyvm.heap.snapshot import describe, named_refs
from tinyvm.runtime import arith, values
from tinyvm.runtime.enums import enum_label, is_enum_value
from tinyvm.runtime.errors import RtError
from tinyvm.stdlib.json import json_stringify
from tinyvm.tools import snapshot as tsnap
from tinyvm.tools.debugger import inspect
from tinyvm.tools.debugger.evaluate import EvalError
from tinyvm.tools.ide import views

SRC = """
interface Named { fn label() -> string }
class P implements Named {
  var x: int = 1
  var y: string = "a"
  var next: P? = nil
  fn label() -> string { return "p" }
}
class Q extends P { var z: float = 2.5 }
class S {
  var v: int = 7
  fn str() -> string { return "S!" }
}
class Other { var x: int = 1 }
enum Color { Red, Green }
"""


@pytest.fixture(scope="module")
def vm() -> VM:
    v = VM(stdout=io.StringIO())
    v.run_source(SRC)
    return v


def _pair(vm: VM, cls_name: str, /, **fields):
    """(dict instance, laid-out instance) of class `name`, both allocated,
    with `fields` stored into each (after the template's defaults)."""
    heap = vm.machine.heap
    cls = vm.get(cls_name)
    d = heap.alloc(Instance(cls, dict(cls.template)))
    saved = heap.lays_out, cls.layout
    heap.lays_out, cls.layout = True, None  # (this heap only; the class decides again)
    try:
        s = heap.alloc(new_instance(heap, cls))
    finally:
        heap.lays_out, cls.layout = saved
    assert isinstance(s, SlotInstance) and type(s) is not Instance
    for k, v in fields.items():
        d.fields[k] = v
        s.fields[k] = v
    return d, s


def _enum_pair(vm: VM, member: str):
    """The dict enum value the VM made, and a laid-out copy of it."""
    real = vm.eval(f"Color.{member}")
    real = real.value if hasattr(real, "value") else vm.get("Color").statics[member]
    d, s = _pair(vm, "Color", **dict(real.fields.items()))
    return d, s


# --------------------------------------------------------------------------- printing, typeof


def test_printing_is_the_same(vm):
    d, s = _pair(vm, "Q", x=5, y='q"uote', z=-0.0)
    assert values.to_str(s) == values.to_str(d) == 'Q(x: 5, y: "q\\"uote", next: nil, z: -0.0)'
    assert values.repr_value(s) == values.repr_value(d)
    assert values.to_str_clox(s) == values.to_str_clox(d) == "Q instance"
    # nested in containers, and an instance inside an instance
    d2, s2 = _pair(vm, "P", next=d)
    _, s3 = _pair(vm, "P", next=s)
    assert values.to_str(s3) == values.to_str(d2)
    arr_d, arr_s = Array([d, Record({"k": d})]), Array([s, Record({"k": s})])
    assert values.to_str(arr_s) == values.to_str(arr_d)


def test_printing_cycles_and_field_order(vm):
    d, s = _pair(vm, "P", x=2)
    d.fields["next"] = d
    s.fields["next"] = s
    assert values.to_str(s) == values.to_str(d) == 'P(x: 2, y: "a", next: {...})'
    # _instance_fields reads the slots: template order, inherited first
    _, q = _pair(vm, "Q")
    assert values._instance_fields(q) == (["x", "y", "next", "z"], [1, "a", None, 2.5])


def test_typeof_is_and_interfaces(vm):
    d, s = _pair(vm, "Q")
    assert values.typeof(s) == values.typeof(d) == "Q"
    for cls in ("P", "Q", "Other", "Named"):
        c = vm.get(cls)
        assert arith.is_(s, c) == arith.is_(d, c), cls
    assert arith.is_(s, vm.get("P")) and not arith.is_(s, vm.get("Other"))
    assert arith.implements(s, "Named") and arith.implements(d, "Named")


def test_guest_str_method_needs_the_guest(vm):
    d, s = _pair(vm, "S")
    assert values.has_guest_str(s) and values.has_guest_str(d)
    for v in (s, Array([1, s]), _pair(vm, "P", next=s)[1]):
        with pytest.raises(values.NeedsGuest) as e:
            values.to_str(v)
        assert e.value.value is s


def test_equality_is_identity(vm):
    d, s = _pair(vm, "P")
    _, s2 = _pair(vm, "P")
    assert values.equals(s, s) and not values.equals(s, s2) and not values.equals(s, d)
    assert values.equals(Array([s]), Array([s])) and not values.equals(Array([s]), Array([s2]))
    assert values.equals(Record({"a": s}), Record({"a": s}))


def test_enum_values_print_and_key_maps(vm):
    d, s = _enum_pair(vm, "Green")
    assert is_enum_value(s) and is_enum_value(d)
    assert enum_label(s) == enum_label(d) == "Color.Green"
    assert values.to_str(s) == values.to_str(d) == "Color.Green"
    assert values.check_key(s) is s  # (by identity, as the dict one)
    m_d = Map({values.check_key(d): 1})
    m_s = Map({values.check_key(s): 1})
    assert values.to_str(m_s) == values.to_str(m_d) == "[Color.Green: 1]"
    assert values.to_str(Array([s, Record({"c": s})])) == values.to_str(Array([d, Record({"c": d})]))
    _, p = _pair(vm, "P")
    with pytest.raises(RtError, match="invalid map key type: P"):
        values.check_key(p)


def test_prelude_natives_kind_and_fields(vm):
    b = vm.machine.builtins
    kind, fields = b["__kind"].fn, b["__fields"].fn
    d, s = _pair(vm, "Q", x=3)
    assert kind(s) == kind(d) == "instance"
    assert kind(_pair(vm, "S")[1]) == "strinst"
    assert kind(_enum_pair(vm, "Red")[1]) == "leaf"
    assert values.to_str(fields(s)) == values.to_str(fields(d)) == '[["x", 3], ["y", "a"], ["next", nil], ["z", 2.5]]'


def test_enum_name_crosses_to_the_host(vm):
    from tinyvm.runtime.enums import enum_name

    d, s = _enum_pair(vm, "Red")
    assert enum_name(s) == enum_name(d) == "Red"
    assert vm.to_host(s) == vm.to_host(d) == "Red"  # (embed/convert.py: an enum value crosses as its name)
    assert vm.to_host(Map({values.check_key(s): Array([s])})) == {"Red": ["Red"]}


def test_trace_short_repr(vm):
    from tinyvm.tools import trace

    d, s = _pair(vm, "Q")
    assert trace.short_repr(s) == trace.short_repr(d) == "<Q instance>"


def test_json_refuses_an_instance_by_its_class_name(vm):
    d, s = _pair(vm, "P")
    msgs = []
    for v in (d, s, Array([s])):
        with pytest.raises(RtError) as e:
            json_stringify(v)
        msgs.append(e.value.message)
    assert msgs == ["cannot convert P to JSON"] * 3


# --------------------------------------------------------------------------- debugger, IDE, snapshots


def test_debugger_variables_and_set_variable(vm):
    d, s = _pair(vm, "Q", x=4)
    assert inspect.preview(s) == inspect.preview(d) == 'Q(x: 4, y: "a", next: nil, z: 2.5)'
    assert inspect.children(s) == inspect.children(d)
    assert inspect.expandable(s) and inspect.expandable(d)
    assert inspect.type_name(s) == "Q"
    heap = vm.machine.heap
    for v in (d, s):
        inspect.set_child(v, "x", 99, heap)
        with pytest.raises(EvalError, match="no field 'nope'"):
            inspect.set_child(v, "nope", 1, heap)
    assert s.fields["x"] == d.fields["x"] == 99
    assert inspect.children(s) == inspect.children(d)


def test_ide_heap_view_fields(vm):
    d, s = _pair(vm, "Q", x=6)
    assert views._fields(s) == views._fields(d) == [("x", 6), ("y", "a"), ("next", None), ("z", 2.5)]


def test_tools_snapshot_slots_and_summary(vm):
    d, s = _pair(vm, "Q", x=6)

    def text(v):
        return tsnap._scalar(v)

    assert tsnap._slots(s, text) == tsnap._slots(d, text)
    assert tsnap._summary(s, text) == tsnap._summary(d, text) == "Q {x: 6, y: 'a', next: nil, z: 2.5}"


def test_heap_snapshot_node_and_edges(vm):
    d, s = _pair(vm, "Q", x=6)
    assert describe(s) == describe(d) == ("object", "Q", "Q")
    assert named_refs(s) == named_refs(d)
    assert [n for _, n, _ in named_refs(s)] == ["x", "y", "next", "z", "class"]
    # the edges are the collector's refs, in order (snapshot.py's contract)
    assert [c for _, _, c in named_refs(s)] == list(s.refs())


def test_whole_heap_snapshot_same_nodes_sizes_edges():
    """Two VMs, one laying out: the instance nodes of their snapshots (ours
    and V8's file) are the same, size and edges included."""
    import json as pyjson

    from tinyvm.heap.v8snapshot import to_v8

    out = []
    for lays in (False, True):
        v = VM(stdout=io.StringIO())
        v.run_source(SRC + "\nlet keep = [0]\n")
        d_or_s = _pair(v, "Q", x=8)[1 if lays else 0]
        keep = v.get("keep")
        keep.items[0] = d_or_s  # (reachable from a global: in the snapshot)
        snap = v.heap_snapshot()
        nodes = [i for i in range(len(snap.kind)) if snap.type[i] == "Q"]
        assert len(nodes) == 1
        i = nodes[0]
        edges = [(k, n) for k, n, _ in snap.edges(i)]
        v8 = pyjson.loads(pyjson.dumps(to_v8(snap)))
        out.append((snap.self_size[i], snap.name[i], edges, v8["snapshot"]["node_count"], v8["snapshot"]["edge_count"]))
    assert out[0] == out[1]
    assert out[0][2][-1] == ("internal", "class")


# --------------------------------------------------------------------------- accounting, embedding, Lox


def test_accounting_is_the_same(vm):
    heap = vm.machine.heap
    for name in ("P", "Q", "S", "Other"):
        before = heap.bytes
        d, s = _pair(vm, name)
        grew = heap.bytes - before  # (both allocated: one of each)
        assert s.size() == d.size() and grew == 2 * d.size(), name
        assert type(s).SIZE == d.size()


def test_embedding_conversions(vm):
    d, s = _pair(vm, "Q")
    hs, hd = vm.to_host(s), vm.to_host(d)
    assert hs.guest_type == hd.guest_type == "Q" and repr(hs) == "<guest Q>"
    assert vm.to_guest(hs) is s  # (the same object back)


def test_host_error_instance(vm):
    """api.py makes HostError instances through new_instance: laid out on a
    heap that lays out, with the same fields and printing."""
    heap = vm.machine.heap
    cls = vm._host_error_cls
    saved = heap.lays_out, cls.layout
    try:
        # (each decided afresh: the suite may run with Heap.lays_out forced)
        heap.lays_out, cls.layout = False, None
        d = vm._host_error(ValueError("boom"))
        heap.lays_out, cls.layout = True, None
        s = vm._host_error(ValueError("boom"))
    finally:
        heap.lays_out, cls.layout = saved
        vm._host_errors.clear()
    assert type(d) is Instance and isinstance(s, SlotInstance)
    assert dict(s.fields.items()) == dict(d.fields.items()) == {"message": "boom", "stack": ""}
    assert values.typeof(s) == values.typeof(d) == "HostError"
    assert values.to_str(s) == values.to_str(d)
    assert s.size() == d.size()




def test_lox_rules_read_a_laid_out_instance(vm):
    from tinyvm.runtime.lox_rules import lox_rules

    rules = lox_rules(vm.machine)
    d, s = _pair(vm, "P", x=3)
    assert rules.get_field(s, "x") == rules.get_field(d, "x") == 3
    assert values.to_str(rules.get_field(s, "label")) == values.to_str(rules.get_field(d, "label"))
    for v in (d, s):
        with pytest.raises(RtError, match="Undefined property 'nope'"):
            rules.get_field(v, "nope")


def test_lox_rules_write_a_laid_out_instance(vm):
    from tinyvm.runtime.lox_rules import lox_rules

    rules = lox_rules(vm.machine)
    d, s = _pair(vm, "P", x=3)
    rules.set_field(s, "x", 4)
    rules.set_field(d, "x", 4)
    assert s.fields["x"] == d.fields["x"] == 4
    for v in (d, s):  # a closed instance takes no new field, either way
        with pytest.raises(RtError, match="P has no field 'w'"):
            rules.set_field(v, "w", 1)


LOX_STATS = """
var s = gc.stats();
print s.mode;
print s.collections >= 0;
s.extra = 1;
print s.extra;
gc.collect();
"""


@pytest.mark.parametrize("lays", [False, True])
def test_lox_gc_objects(lays, monkeypatch):
    """stdlib/gc.py's Lox objects: `gc` keeps a dict on purpose, a stats
    report is open (a dict); both behave the same on a heap that lays out."""
    from tinyvm.heap.heap import Heap

    monkeypatch.setattr(Heap, "lays_out", lays)
    out = io.StringIO()
    v = VM(stdout=out)
    v.run_source(LOX_STATS, lang="lox")
    assert out.getvalue() == "stw\ntrue\n1\n"
    g = v.machine.builtins["gc"]
    assert type(g) is Instance and g.cls.layout is False
