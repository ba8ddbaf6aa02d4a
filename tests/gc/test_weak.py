"""WeakRef and WeakMap (heap/weak.py, runtime/weakrefs.py; docs/memory.md).

An embedded VM runs guest code in steps; between steps no guest code is
running, so the test calls the collector itself (`vm.machine.collect()`):
every live value is then in a root. Each scenario runs on every tier (the
default fused interpreter, plain, metered, the JIT eager) and with
`gc_stress` (a collection at every allocation's next safe point), and must
give the same answers: the collector's timing may only decide *when* an
unreachable object is cleared, never whether a reachable one is.
"""

from __future__ import annotations

import io
import time

import pytest

from tinyvm.api import VM
from tinyvm.heap.objects import CONTAINER, ENTRY, FIELD, HEADER, SLOT, Array
from tinyvm.heap.weak import WeakMap, WeakRef, weak_edges

TIERS = {
    "fused": {},
    "plain": {"fuse": False},
    "metered": {"meter_fuel": True},
    "jit": {"jit": "eager"},
}


@pytest.fixture(params=[(t, s) for t in TIERS for s in (False, True)], ids=lambda p: f"{p[0]}{'-stress' if p[1] else ''}")
def vm(request):
    tier, stress = request.param
    out = io.StringIO()
    v = VM(stdout=out, gc_stress=stress, **TIERS[tier])
    v.out = out  # type: ignore[attr-defined]
    v.run_source("class Node { var name: string = \"\"\n var next: any = nil }\n")
    yield v
    v.close()


def run(vm, src: str) -> list[str]:
    """Run src, then collect; the lines it printed."""
    vm.out.seek(0)
    vm.out.truncate()
    vm.run_source(src)
    vm.machine.collect()
    return vm.out.getvalue().splitlines()


def ev(vm, expr: str):
    return vm.eval(expr)


def test_collected_after_last_strong_ref_kept_while_reachable(vm):
    run(vm, "var a: any = Node()\nlet keep = Node()\nlet ra = WeakRef(a)\nlet rk = WeakRef(keep)")
    assert ev(vm, "ra.get() != nil") is True  # still held by the global a
    run(vm, "a = nil")
    assert ev(vm, "ra.get() == nil") is True
    assert ev(vm, "rk.get() == keep") is True
    # The WeakRef object itself is an ordinary object: it lives while referenced.
    run(vm, "var holder: any = [Node()]\nlet rh = WeakRef(holder[0])")
    assert ev(vm, "rh.get() != nil") is True
    run(vm, "holder[0] = nil")
    assert ev(vm, "rh.get()") is None


def test_weak_refs_to_objects_in_cycles(vm):
    run(vm, "var c1: any = Node()\nvar c2: any = Node()\nc1.next = c2\nc2.next = c1\nlet r1 = WeakRef(c1)\nlet r2 = WeakRef(c2)\nc1 = nil")
    assert ev(vm, "r1.get() != nil and r2.get() != nil") is True  # c2 -> c1
    run(vm, "c2 = nil")
    assert ev(vm, "r1.get() == nil and r2.get() == nil") is True
    # An object whose only reference to itself is weak.
    run(vm, "var s: any = Node()\ns.next = WeakRef(s)\nlet rs = WeakRef(s)\ns = nil")
    assert ev(vm, "rs.get()") is None


def test_entries_live_as_long_as_their_keys(vm):
    run(vm, "let m = WeakMap()\nvar k: any = Node()\nvar v: any = Node()\nlet rv = WeakRef(v)\nm.set(k, v)\nv = nil")
    assert ev(vm, "m.len()") == 1
    assert ev(vm, "rv.get() != nil and m.get(k) == rv.get()") is True  # the live key keeps the value
    run(vm, "k = nil")
    assert ev(vm, "m.len()") == 0
    assert ev(vm, "rv.get()") is None


def test_value_referring_to_its_own_key_does_not_keep_it(vm):
    run(vm, "let m = WeakMap()\nvar k: any = Node()\nlet rk = WeakRef(k)\nfn cap(x: any) -> fn() -> any { return fn() => x }\nm.set(k, [k, {key: k}, cap(k)])\nk = nil")
    assert ev(vm, "rk.get()") is None
    assert ev(vm, "m.len()") == 0


@pytest.mark.parametrize("n", [3, 200])
def test_chains_of_ephemerons(vm, n):
    # k0 -> k1 -> ... -> k(n-1) -> "end", inserted from the end, spread over
    # two maps: each key is reachable only through the previous entry's value.
    run(vm, f"""
let m1 = WeakMap()
let m2 = WeakMap()
var head: any = nil
var rtail: any = nil
fn build(n: int) {{
  var keys: [any] = []
  var i = 0
  while i < n {{ keys.push(Node()); i += 1 }}
  i = n - 1
  while i >= 0 {{
    var value: any = "end"
    if i < n - 1 {{ value = keys[i + 1] }}
    if i % 2 == 0 {{ m1.set(keys[i], value) }} else {{ m2.set(keys[i], value) }}
    i -= 1
  }}
  head = keys[0]
  rtail = WeakRef(keys[n - 1])
}}
build({n})
fn walk() -> any {{
  var k: any = head
  var steps = 0
  while true {{
    var v: any = m2.get(k)
    if m1.has(k) {{ v = m1.get(k) }}
    if typeof(v) == "string" {{ return [steps, v] }}
    k = v
    steps += 1
  }}
}}
""")
    assert ev(vm, "m1.len() + m2.len()") == n
    assert ev(vm, "str(walk())") == f"[{n - 1}, \"end\"]"
    run(vm, "head = nil")
    assert ev(vm, "m1.len() + m2.len()") == 0
    assert ev(vm, "rtail.get()") is None


def test_resurrection_attempts(vm):
    # The value would store its key in a global if it ran; no guest code runs
    # during a collection (no finalizers), so the key stays dead.
    run(vm, """
var saved: any = nil
fn saver(key: any) -> fn() -> nil { return fn() { saved = key } }
let m = WeakMap()
var k: any = Node()
let rk = WeakRef(k)
m.set(k, saver(k))
k = nil
""")
    assert ev(vm, "rk.get()") is None
    assert ev(vm, "saved") is None
    assert ev(vm, "m.len()") == 0
    # Run while the key lives, the value makes it strong: it survives.
    run(vm, "var k2: any = Node()\nlet rk2 = WeakRef(k2)\nm.set(k2, saver(k2))\nm.get(k2)()\nk2 = nil")
    assert ev(vm, "rk2.get() == saved and m.len() == 1") is True


def test_weak_map_as_value_and_dead_map(vm):
    run(vm, """
let outer = WeakMap()
var k: any = Node()
let k2 = Node()
var inner: any = WeakMap()
inner.set(k2, "x")
outer.set(k, inner)
let rinner = WeakRef(inner)
inner = nil
""")
    assert ev(vm, "rinner.get().get(k2)") == "x"  # reached only through outer's live entry
    run(vm, "k = nil")
    assert ev(vm, "rinner.get()") is None
    # The dead map left the heap's registry of weak objects.
    assert all(w.mark == vm.machine.heap.epoch for w in vm.machine.heap.weak)


def test_scalars_are_type_errors(vm):
    from tinyvm.runtime.errors import GuestException

    with pytest.raises(GuestException, match="WeakRef expects an object"):
        vm.run_source("let x: any = 1\nWeakRef(x)")
    with pytest.raises(GuestException, match="weakmap.set expects an object key"):
        vm.run_source("let wm = WeakMap()\nlet s: any = \"k\"\nwm.set(s, 1)")


def test_accounting_of_bytes(vm):
    heap = vm.machine.heap
    run(vm, "let m = WeakMap()\nvar ks: any = nil\nvar vs: any = nil\n"
        "fn fill(n: int) {\n ks = []\n var i = 0\n while i < n { let k = {i: i}\n ks.push(k)\n m.set(k, i)\n i += 1 }\n}\n"
        "fn vals() { vs = [Node()]\n m.set(vs, [1, 2, 3])\n vs = [vs] }")
    base = heap.live
    wm = next(w for w in heap.weak if type(w) is WeakMap)
    assert wm.size() == HEADER + CONTAINER
    n = 64
    run(vm, f"fill({n})")
    ks = next(o for o in heap.objects if type(o) is Array and len(o.items) == n)
    assert len(wm.items) == n
    # The keys (records of one field), the array holding them, the n entries.
    grown = ks.size() + n * (HEADER + CONTAINER + FIELD) + n * ENTRY
    assert heap.live - base == grown
    # Values of live entries count: a value held only by its entry.
    run(vm, "vals()")
    run(vm, "ks = nil\nvs = nil")
    # Keys gone, entries dropped, their bytes no longer counted: back to the start.
    assert len(wm.items) == 0
    assert heap.live == base
    assert heap.used == heap.live


def test_weak_objects_sizes_and_edges(vm):
    heap = vm.machine.heap
    run(vm, "let kk = Node()\nlet r = WeakRef(kk)\nlet mm = WeakMap()\nmm.set(kk, 5)")
    r = next(w for w in heap.weak if type(w) is WeakRef and w.target is not None and getattr(w.target, "cls", None) is not None)
    assert r.size() == HEADER + SLOT
    assert list(r.refs()) == []  # weak: not traced
    assert weak_edges(r) == [(None, r.target)]
    mm = next(w for w in heap.weak if type(w) is WeakMap and w.items)
    assert weak_edges(mm) == [(r.target, 5)]


def test_emergency_mark_at_the_memory_limit_keeps_entries():
    """An emergency mark (inside an allocation, at the limit) runs the
    ephemeron phase, so live entries' values count and stay intact, and
    clears nothing (the running instruction's locals are not roots)."""
    out = io.StringIO()
    vm = VM(stdout=out, max_memory=2 << 20)
    vm.run_source("""
class Node { var next: any = nil }
let m = WeakMap()
let keys: [any] = []
var i = 0
while i < 50 { let k = Node(); keys.push(k); m.set(k, [i, "v" + str(i)]); i += 1 }
fn fill_up() -> bool {
  var hog: [any] = []
  try {
    while true { hog.push([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) }
  } catch e {
    return e is MemoryError
  }
  return false
}
print(fill_up())
var ok = 0
for k in keys { let v: any = m.get(k); if v[1] == "v" + str(v[0]) { ok += 1 } }
print(ok, m.len())
""")
    assert vm.machine.heap.stats.emergencies >= 1
    assert out.getvalue().splitlines() == ["true", "50 50"]
    vm.close()


def test_long_chain_is_linear():
    """The fixpoint releases values as their keys are marked: a chain of
    20000 ephemerons inserted backwards takes one pass, not 20000 rounds."""
    vm = VM(stdout=io.StringIO())
    vm.run_source("""
class Node {}
let m = WeakMap()
var head: any = nil
fn build(n: int) {
  var keys: [any] = []
  var i = 0
  while i < n { keys.push(Node()); i += 1 }
  i = n - 1
  while i >= 1 { m.set(keys[i - 1], keys[i]); i -= 1 }
  head = keys[0]
}
build(20000)
""")
    t0 = time.perf_counter()
    vm.machine.collect()
    elapsed = time.perf_counter() - t0
    assert vm.eval("m.len()") == 19999
    assert elapsed < 2.0, elapsed  # quadratic rescans took minutes
    vm.run_source("head = nil")
    vm.machine.collect()
    assert vm.eval("m.len()") == 0
    vm.close()


def test_emergency_mark_counts_live_values_and_clears_nothing():
    """At the heap level: an emergency mark (the values an instruction holds
    in Python locals are not in a root then) keeps every weak reference and
    entry, and counts the values of entries whose keys are live; the next
    full collection clears what is dead."""
    from tinyvm.heap.heap import Heap
    from tinyvm.heap.weak import new_weakmap, new_weakref

    heap = Heap(limit=1 << 20)
    live_key = heap.alloc(Array([]))
    dead_key = heap.alloc(Array([]))  # reachable from no root: "in a local"
    live_val = heap.alloc(Array([1, 2]))
    dead_val = heap.alloc(Array([3]))
    m = new_weakmap(heap)
    m.items[live_key] = live_val
    m.items[dead_key] = dead_val
    r = new_weakref(heap, dead_key)
    roots = [m, r, live_key]
    heap.roots = lambda: roots
    heap.emergency(None, 0)
    assert m.items == {live_key: live_val, dead_key: dead_val}
    assert r.target is dead_key
    assert heap.live == m.size() + r.size() + live_key.size() + live_val.size()
    assert live_val in heap.objects  # marked: stays on the object list
    heap.collect(roots)
    assert m.items == {live_key: live_val}
    assert r.target is None
    assert dead_val not in heap.objects and dead_key not in heap.objects
    assert live_val.items == [1, 2]
    assert heap.live == m.size() + r.size() + live_key.size() + live_val.size()
