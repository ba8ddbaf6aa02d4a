"""`xs.pop()` of arrays of objects in native code (jit/native/pops.py).

Checked against the interpreter and the Python JIT: objects and nils
popped (their fields read after), pops mixed with pushes of new objects,
the IndexError of an empty array with the interpreter's message and trace
(a failure exit at the pop), fuel, heap accounting, GC stress with the
verifier, and reference counts (the list's reference dropped once per pop,
the object alive in the heap).
"""

from __future__ import annotations

import gc
import io
import sys

import pytest

pytest.importorskip("llvmlite")

from native_helpers import GC_STRESS_MODES, agree, agree_log, heap_after, used

from tinyvm.api import VM

POPS = """
class Node {
  var v: int = 0
  fn init(v: int) { self.v = v }
}
fn drain(xs: [Node]) -> int {
  var s = 0
  while len(xs) > 0 { let n = xs.pop(); s = s * 3 + n.v }
  return s
}
fn churn(k: int) -> int {
  let xs: [Node] = []
  var t = 0
  for i in 0..k { xs.push(Node(i)); xs.push(Node(-i)); t += xs.pop().v * 2 + xs.pop().v }
  xs.push(Node(5))
  return t + xs.pop().v
}
fn maybe(xs: [Node?]) -> int {
  var c = 0
  while len(xs) > 0 { if xs.pop() == nil { c += 1 } else { c += 10 } }
  return c
}
"""
PROGRAM = (
    POPS
    + """
let ns = [Node(1), Node(2), Node(3)]
print(drain(ns), len(ns), churn(1000), maybe([Node(1), nil, nil, Node(2)]))
"""
)


def test_pops_of_objects_agree_and_compile() -> None:
    (code, out, err), log = agree_log(PROGRAM, "drain", "churn", "maybe")
    assert (code, out, err) == (0, "34 0 -499495 22\n", "")
    assert not any(" off: " in x for x in log), log  # (no pop calls out)


def test_a_pop_of_an_empty_array_of_objects_has_the_interpreters_error() -> None:
    src = (
        POPS
        + "print(drain([Node(4)]))\nfn one(xs: [Node]) -> int { return xs.pop().v + xs.pop().v }\nprint(one([Node(1)]))\n"
    )
    code, out, err = agree(src, "drain", "one")
    assert code == 1 and out == "4\n"
    assert "IndexError: pop from empty array" in err and "at one (" in err


def test_pops_of_objects_count_fuel_and_heap_exactly() -> None:
    assert used(PROGRAM, "native-eager")[:2] == used(PROGRAM, "off")[:2]
    # (bytes: the object count differs by churn's Range, charged but not made natively: docs/native.md)
    assert heap_after(PROGRAM, "native-eager")[0] == heap_after(PROGRAM, "off")[0]


@pytest.mark.parametrize("mode", GC_STRESS_MODES)
def test_pops_of_objects_under_gc_stress(mode: tuple) -> None:
    agree(PROGRAM, "drain", extra=mode)


def test_a_popped_object_keeps_its_references() -> None:
    """The list's reference is dropped once per pop and the popped object,
    alive in the heap, is returned: after many rounds the reference count
    of an object kept in a global array is what it was (one too many or
    too few per pop would move it by hundreds)."""
    vm = VM(stdout=io.StringIO(), jit="native-eager")
    vm.run_source(
        POPS
        + """
let keep = [Node(7)]
fn last(xs: [Node]) -> Node { return xs.pop() }
fn round(k: int) -> int {
  var s = 0
  for i in 0..k { let xs = [keep[0], keep[0]]; s += last(xs).v + xs.pop().v }
  return s
}
""",
        "t.tl",
    )
    assert vm.call("round", 10) == 140
    node = vm.get("keep").items[0]
    seen = []
    for _ in range(3):
        assert vm.call("round", 200) == 2800
        gc.collect()
        seen.append(sys.getrefcount(node))
    assert len(set(seen)) == 1, seen
