"""The debugger's writes (setVariable: `set_child` into a container,
`write_name` into a captured variable's cell) run the write barrier, as the
VM's own stores do (docs/gc.md, "Write barriers")."""

from __future__ import annotations

from types import SimpleNamespace

from tinyvm.heap.heap import Heap
from tinyvm.heap.objects import Array, Cell, Instance, Map, Record
from tinyvm.tools.debugger.evaluate import write_name
from tinyvm.tools.debugger.inspect import preview, set_child

PROBE = -5


def probed_heap():
    heap = Heap()
    seen: list = []
    heap.watch = PROBE
    heap.barrier = lambda obj, value: seen.append((obj, value))  # type: ignore[method-assign]
    return heap, seen


def old(obj):
    obj.mark = PROBE
    return obj


def test_set_child_barriers_every_container_kind():
    heap, seen = probed_heap()
    new = Array([])
    arr = old(Array([1, 2]))
    m = old(Map({"k": 1}))
    rec = old(Record({"x": 1}))
    inst = old(Instance(None, {"f": 1}))  # type: ignore[arg-type]
    set_child(arr, "1", new, heap)
    set_child(m, preview("k"), new, heap)
    set_child(rec, "x", new, heap)
    set_child(inst, "f", new, heap)
    assert seen == [(arr, new), (m, new), (rec, new), (inst, new)]
    assert arr.items[1] is new and m.items["k"] is new


def test_write_name_barriers_a_captured_cell():
    heap, seen = probed_heap()
    cell = old(Cell(1))
    new = Array([])
    write_name(SimpleNamespace(), "captured", cell, new, SimpleNamespace(heap=heap), "x")
    assert cell.value is new and seen == [(cell, new)]
    local_cell = old(Cell(2))
    frame = SimpleNamespace(L=[local_cell], code=SimpleNamespace(local_types=[""]))
    write_name(frame, "local", 0, new, SimpleNamespace(heap=heap, type_checks=None), "y")
    assert local_cell.value is new and seen[-1] == (local_cell, new)
