"""Heap snapshots and their diff (tools/snapshot.py): created / changed /
freed objects between two points of a run, with ids that are allocation
numbers (the same in a re-execution)."""

from __future__ import annotations

import io

from tinyvm.api import VM
from tinyvm.tools.snapshot import diff, take_snapshot

PROGRAM = """
class P {
  var x = 0
  fn init(x: int) { self.x = x }
}
var keep: [any] = [1, 2]
var gone: [[int]]? = [[1]]
let point = P(1)
snap()
keep.push(P(3))
keep[0] = "one"
gone = nil
point.x = 2
var fresh = [["v"]]
snap()
"""


def snapshots(program: str = PROGRAM) -> list:
    vm = VM(stdout=io.StringIO())
    m = vm.machine
    m.heap.number_objects()
    snaps: list = []

    @vm.function
    def snap() -> None:
        snaps.append(take_snapshot(m, len(snaps)))

    vm.run_source(program)
    return snaps


def test_created_changed_freed():
    a, b = snapshots()
    d = diff(a, b)
    created = sorted(o.summary for o in d.created)
    assert len(created) == 3 and created[0] == "P {x: 3}" and created[2] == "array[1] ['v']"
    assert created[1].startswith("array[1] [#")  # fresh's outer array, holding the inner one
    assert any(o.summary == "P {x: 3}" for o in d.created)
    assert sorted(o.summary for o in d.freed)[0].startswith("array[1] [")
    assert len(d.freed) == 2  # gone's outer and inner arrays
    changes = {c.after.summary.split(" ")[0]: c.slot_changes() for c in d.changed}
    assert ("x", "1", "2") in changes["P"]  # point.x = 2
    keep = next(c for c in d.changed if c.after.type == "array")
    assert ("0", "1", "'one'") in keep.slot_changes() and ("len", "2", "3") in keep.slot_changes()
    module = next(c for c in d.changed if c.after.type == "module")
    slots = {k: (old, new) for k, old, new in module.slot_changes()}
    assert slots["gone"][1] == "nil" and slots["fresh"][0] == "(uninit)"
    # New objects have larger allocation numbers than every object of the first snapshot.
    assert min(o.id for o in d.created) > max(i for i in a.objects if i > 0)


def test_ids_are_the_same_in_a_rerun():
    a1, b1 = snapshots()
    a2, b2 = snapshots()
    assert a1.to_dict() == a2.to_dict() and b1.to_dict() == b2.to_dict()


def test_no_change_is_an_empty_diff_and_text_view():
    (a, b) = snapshots("let x = [1]\nsnap()\nsnap()\n")
    d = diff(a, b)
    assert (d.created, d.changed, d.freed) == ([], [], [])
    assert d.text() == "heap diff between 0 and 1: 0 created, 0 changed, 0 freed"
    a, b = snapshots()
    text = diff(a, b).text()
    assert text.startswith("heap diff between 0 and 1: 3 created, 3 changed, 2 freed")
    assert "  + #" in text and "  ~ #" in text and "  - #" in text and "x: 1 -> 2" in text
    assert diff(a, b).to_dict()["created"][0]["type"] in ("instance", "array")


def test_snapshot_is_data():
    (a,) = snapshots("let x = [1, [2]]\nsnap()\n")
    d = a.to_dict()
    assert d["count"] == len(a.objects) and d["bytes"] > 0
    arrays = [o for o in d["objects"] if o["type"] == "array" and o["slots"].get("len") == "2"]
    assert arrays and arrays[0]["slots"]["0"] == "1"
    inner = arrays[0]["slots"]["1"]
    assert inner.startswith("#") and int(inner[1:]) in arrays[0]["refs"]
