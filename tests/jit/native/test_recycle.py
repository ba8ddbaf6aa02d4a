"""Dead instances the machine sweep keeps for native code to reuse (jit/native/sweep.py's recycling, newinst.py's pop).

A laid-out instance only the heap's list holds, dead at a sweep, goes on
its class's recycle list emptied (where native code makes the class's
instances inline); native code's next allocations of the class pop them
instead of calling PyType_GenericAlloc. What the guest sees -- values,
heap bytes and object counts, collections -- is the interpreter's.
"""

from __future__ import annotations

import io

import pytest

pytest.importorskip("llvmlite")

from tinyvm.api import VM

SRC = """
class P {
  var x: int = 0
  var b: bool = false
  var tag: string = "p"
  var next: P? = nil
  fn init(a: int) {
    self.x = a
  }
}
fn make(k: int) -> [P] {
  var out: [P] = []
  var prev: P? = nil
  var i = 0
  while i < k {
    let p = P(i)
    p.next = prev
    prev = p
    out.push(p)
    i += 1
  }
  return out
}
fn churn(k: int) -> int {
  var s = 0
  var i = 0
  while i < k {
    let p = P(i)
    s += p.x
    i += 1
  }
  return s
}
"""


def _vm(jit: str) -> VM:
    vm = VM(stdout=io.StringIO(), jit=jit)
    vm.run_source(SRC, "r.tl")
    return vm


def _view(ps: list) -> list:
    return [(p.get("x"), p.get("b"), p.get("tag"), None if p.get("next") is None else p.get("next").get("x")) for p in ps]


def test_native_code_reuses_what_the_sweep_kept_and_the_guest_sees_no_difference() -> None:
    nat, ref = _vm("native-eager"), _vm("off")
    for vm in (nat, ref):
        assert vm.call("churn", 3000) == sum(range(3000))
    klass = nat.get("P")
    assert isinstance(klass.recycle, list)  # (fields.bind made it: P is made inline)
    assert ref.get("P").recycle is None
    h = nat.machine.heap
    for vm in (nat, ref):
        vm.machine.heap.full(vm.machine.gc_roots())  # (a paced collection: collect() would empty the bins)
    assert len(klass.recycle) >= 3000 and h.bins == [klass.recycle]
    kept = {id(o) for o in klass.recycle}
    before = len(klass.recycle)
    got = nat.call("make", 500)
    want = ref.call("make", 500)
    ps = [g.value for g in got]
    assert len(klass.recycle) == before - 500
    assert all(id(p) in kept for p in ps)  # (popped, not allocated)
    assert _view(ps) == _view([g.value for g in want]) == [(k, False, "p", k - 1 if k else None) for k in range(500)]
    assert all(p.cls is klass for p in ps)
    for vm in (nat, ref):
        vm.machine.heap.full(vm.machine.gc_roots())
    assert (h.count, h.bytes) == (ref.machine.heap.count, ref.machine.heap.bytes)
    nat.machine.collect()  # (asked for: the host gets them back)
    assert klass.recycle == [] and h.bins == []
