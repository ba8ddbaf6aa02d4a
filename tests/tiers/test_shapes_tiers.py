"""Laid-out instances (heap/layout.py) change nothing observable on any tier.

The same programs run on dict instances and on laid-out ones (Heap.lays_out
on, with packed arrays: the data representation of a VM with the native
tier, `TVM_TIER=packed`), on the fused interpreter, the plain one (no
superinstructions), a metered VM (fuel counted), a stepped one (line, call
and return hooks on every instruction, as a debugger) and the Python JIT
(eager; and on, with OSR early). For each: the same stdout, the same error
(message and trace), the same fuel, and the same memory accounting and GC
statistics (bytes allocated, freed, live, peak; collections by kind).

The programs are field-heavy in the ways the VM's fast paths differ (typed
and untyped fields, inherited fields, methods and bound methods, several
classes through one site, fields read before they are set, an error raised
out of a method) and do not print instances themselves (`print` of an
instance is runtime/values.py's concern, tested with the runtime).
Generated programs of tests/tiers/programs.py (Box instances inside int64
edge arithmetic and try/catch) add the corners.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from programs import tl_program

from tinyvm.api import VM
from tinyvm.heap.heap import Heap
from tinyvm.heap.layout import SlotInstance
from tinyvm.heap.packed import PACKED

TIERS: dict[str, dict[str, Any]] = {
    "fused": {},
    "plain": {"fuse": False},
    "metered": {"meter_fuel": True},
    "stepped": {"meter_fuel": True, "_stepped": True},
    "jit": {"jit": "eager"},
    "jit-on": {"jit": "on", "jit_threshold": (2, 3)},
    "jit-metered": {"jit": "eager", "meter_fuel": True},
}
# Collections run in these programs (the first after 4 MiB, then often).
GC = "pause=110,stepmul=200,stepsize=1K,nursery=16K,promote_after=1,major_mul=20"
GC_KEYS = ("collections", "by_kind", "allocated_bytes", "freed_bytes", "promoted_bytes", "freed_objects", "heap_bytes", "peak_bytes", "live_objects")

TOWERS = """
class Disk { var size: int = 0
  var next: Disk? = nil
  fn init(size: int) { self.size = size } }
class Towers {
  var piles: [Disk?] = [nil, nil, nil]
  var moves: int = 0
  fn push(d: Disk, p: int) {
    let top = self.piles[p]
    if top != nil and d.size >= top!.size { throw ValueError("bad move") }
    d.next = top
    self.piles[p] = d
  }
  fn pop(p: int) -> Disk {
    let top = self.piles[p]!
    self.piles[p] = top.next
    top.next = nil
    return top
  }
  fn move(a: int, b: int) { self.push(self.pop(a), b); self.moves = self.moves + 1 }
  fn moveAll(n: int, a: int, b: int) {
    if n == 1 { self.move(a, b); return }
    let other = 3 - a - b
    self.moveAll(n - 1, a, other)
    self.move(a, b)
    self.moveAll(n - 1, other, b)
  }
}
var total = 0
for round in 0..12 {
  let t = Towers()
  var i = 10
  while i >= 0 { t.push(Disk(i), 0); i = i - 1 }
  t.moveAll(11, 0, 1)
  total = total + t.moves
}
print(total)
let t = Towers()
t.push(Disk(1), 0)
try { t.push(Disk(5), 0) } catch e { print(e.message) }
"""

TREE = """
class Node {
  var left = nil
  var right = nil
  var depth: int = 0
  var tag
  fn init(d: int) { self.depth = d }
  fn count() -> int {
    var n = 1
    if self.left != nil { n = n + self.left.count() }
    if self.right != nil { n = n + self.right.count() }
    return n
  }
}
class Leafy extends Node { var extra: [int] = [] }
fn build(d: int) {
  if d == 0 { let l = Leafy(0); l.extra = [1, 2]; return l }
  let n = Node(d)
  n.left = build(d - 1)
  n.right = build(d - 1)
  n.tag = d % 3 == 0
  return n
}
fn tagOf(n) { return n.tag }
var sum = 0
for i in 0..6 {
  let t = build(10)
  sum = sum + t.count() + t.left.depth
  let c = t.count
  sum = sum + c()
}
print(sum, tagOf(build(3)), tagOf(Node(1)) == nil)
fn stale(n) { return n.nothere }
stale(build(1))
"""

POLY = """
class A { var x: int = 1
  var k = "a" }
class B { var k = "b"
  var x: int = 2
  fn x2() -> int { return self.x * 2 } }
class C extends B { var y = [0] }
fn touch(o, i: int) -> int { o.x = o.x + i; return o.x }
let objs = [A(), B(), C(), B(), A()]
var acc = 0
for i in 0..400 { acc = acc + touch(objs[i % 5], i) }
let b = objs[2]
print(acc, objs[2].x2(), b.k, objs[4].k, len(objs[2].y))
fn setAny(o, v) { o.x = v }
setAny(objs[1], "nope")
"""

PROGRAMS = {"towers": TOWERS, "tree": TREE, "poly": POLY}


def _run(src: str, lays_out: bool, monkeypatch: pytest.MonkeyPatch, opts: dict[str, Any]) -> dict[str, Any]:
    monkeypatch.setattr(Heap, "lays_out", lays_out)
    monkeypatch.setattr(Heap, "packs", PACKED if lays_out else "")
    opts = dict(opts)
    stepped = opts.pop("_stepped", False)
    out = io.StringIO()
    vm = VM(stdout=out, gc_tuning=GC, max_memory=1 << 30, **opts)
    events: list[int] = []
    if stepped:
        for event in ("line", "call", "return"):
            vm.machine.hooks.add(event, lambda *a: events.append(1))
    error = None
    try:
        vm.run_source(src, "prog.tl")
    except Exception as e:  # noqa: BLE001 - the guest's error, compared as text
        error = f"{type(e).__name__}: {e}"
    stats = vm.gc_stats()
    return {
        "out": out.getvalue(),
        "error": error,
        "fuel": vm.fuel_used,
        "events": len(events),
        "memory": (vm.memory_used, vm.memory_peak),
        "gc": {k: stats[k] for k in GC_KEYS},
        "laid_out": sum(1 for o in vm.machine.heap.all_objects() if type(o).__base__ is SlotInstance),
    }


@pytest.mark.parametrize("tier", list(TIERS))
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_programs_agree_with_and_without_shapes(name: str, tier: str, monkeypatch: pytest.MonkeyPatch) -> None:
    src = PROGRAMS[name]
    want = _run(src, False, monkeypatch, TIERS[tier])
    got = _run(src, True, monkeypatch, TIERS[tier])
    assert want["laid_out"] == 0 and got["laid_out"] > 0
    assert want["out"], "the program printed nothing"
    for key in ("out", "error", "fuel", "events", "memory", "gc"):
        assert got[key] == want[key], key
    if name != "towers":
        assert got["error"] is not None  # (each ends in an uncaught error)
    # (the tree is big enough to be collected)
    assert name != "tree" or got["gc"]["collections"] > 0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(source=tl_program())
def test_generated_programs_agree_with_and_without_shapes(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for tier in ("fused", "jit-metered"):
        want = _run(source, False, monkeypatch, TIERS[tier])
        got = _run(source, True, monkeypatch, TIERS[tier])
        for key in ("out", "error", "fuel", "memory", "gc"):
            assert got[key] == want[key], (tier, key)
