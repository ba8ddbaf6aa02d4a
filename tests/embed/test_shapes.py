"""Whole programs with and without instance layouts (heap/layout.py): the
same output, errors, traces, fuel, memory accounting, GC statistics, heap
snapshot and embedding results.

Each test runs one program in a VM whose heap lays out instances
(`Heap.lays_out`, what a VM with the native tier does) and in one whose
heap does not, and compares everything a host can observe. The check that
the first VM really made laid-out instances is part of each test: without
it, the comparison would pass by comparing dicts with dicts.
(tests/unit/test_layout_runtime.py checks each site on its own.)
"""

from __future__ import annotations

import io

import pytest

from tinyvm.api import VM
from tinyvm.heap.heap import Heap
from tinyvm.heap.layout import SlotInstance
from tinyvm.runtime.errors import GuestException

CLASSES = """
import json
interface Named { fn label() -> string }
class P implements Named {
  var x: int = 0
  var y: string = ""
  var next: P? = nil
  fn init(x: int, y: string) { self.x = x; self.y = y }
  fn label() -> string { return "p${self.x}" }
}
class Q extends P { var z: float = 2.5 }
class S {
  var v: int = 7
  fn str() -> string { return "S<${self.v}>" }
}
class Boom extends ValueError {
  var code: int = 3
}
enum Color { Red, Green }
"""

PROGRAM = CLASSES + """
let p = P(1, "one")
let q = Q(2, "two")
q.next = p
print(p, q, typeof(p), typeof(q))
print(p is P, q is P, p is Q, q is Named, p == p, p == P(1, "one"))
print([p, {k: q}, (p, 1)], S(), [S()], "${S()}")
let c = P(3, "cyc")
c.next = c
print(c)
let m = [Color.Red: p, Color.Green: q]
print(m, m[Color.Green].label(), Color.Red == Color.Red)
q.z = q.z * 2.0
q.x += 40
print(q.x, q.z, q.label())
try { print(json.stringify([p])) } catch e { print(typeof(e), e.message) }
try { throw Boom("bad") } catch e { print(typeof(e), e.message, e.code, e is ValueError, e) }
fn set_x(o: any, v: any) { o.x = v }
try { set_x(p, "no") } catch e { print(typeof(e), e.message) }
try { set_x(p, 5); set_x(p, 1); set_x(p, nil) } catch e { print(typeof(e), e.message, p.x) }
let e = Error("hello")
print(e.message, typeof(e.stack), e)
var total = 0
for i in 0..2000 {
  let t = Q(i, "t")
  let u = P(i, "u")
  t.next = u
  total += t.x + u.x
}
print(total)
"""


@pytest.fixture(params=[False, True], ids=["dicts", "shapes"])
def lays(request, monkeypatch):
    monkeypatch.setattr(Heap, "lays_out", request.param)
    return request.param


def _run(src: str, lays_out: bool, **kw):
    """(output, vm) of src on a VM whose heaps lay out instances or not."""
    saved = Heap.lays_out
    Heap.lays_out = lays_out
    try:
        out = io.StringIO()
        vm = VM(stdout=out, **kw)
        try:
            vm.run_source(src)
        except GuestException as e:
            out.write(f"!! {e.class_name}: {e.message}\n{e.trace}\n")
        return out.getvalue(), vm
    finally:
        Heap.lays_out = saved




def _both(src: str, **kw):
    a, vm_a = _run(src, False, **kw)
    b, vm_b = _run(src, True, **kw)
    assert any(isinstance(o, SlotInstance) for o in _instances(vm_b)), "the laid-out run made no laid-out instance"
    assert not any(isinstance(o, SlotInstance) for o in _instances(vm_a))
    return (a, vm_a), (b, vm_b)


def _instances(vm: VM) -> list:
    return [vm.get(n) for n in ("p", "q", "c") if _has(vm, n)]


def _has(vm: VM, name: str) -> bool:
    try:
        vm.get(name)
    except KeyError:
        return False
    return True


def test_output_errors_and_accounting():
    # (a small heap: the loop's garbage makes collections, whose counts and
    # bytes must not depend on the representation either)
    (a, vm_a), (b, vm_b) = _both(PROGRAM, fuel=10**8, max_memory=400_000)
    assert "!!" not in a, a
    assert b == a
    assert vm_b.fuel_used == vm_a.fuel_used
    assert vm_b.memory_used == vm_a.memory_used and vm_b.memory_peak == vm_a.memory_peak
    sa, sb = vm_a.gc_stats(), vm_b.gc_stats()
    assert sa["collections"] > 0
    for k in ("collections", "by_kind", "allocated_bytes", "freed_bytes", "freed_objects", "heap_bytes", "peak_bytes", "live_bytes", "live_objects", "objects"):
        assert sb[k] == sa[k], k


def test_uncaught_error_and_trace():
    src = CLASSES + "\nfn f(q: Q) { throw Boom(\"deep ${q.x}\") }\nlet q = Q(5, \"f\")\nf(q)\n"
    (a, _), (b, _) = _both(src)
    assert "!! Boom: deep 5" in a and b == a


def test_heap_snapshot_and_embedding():
    (a, vm_a), (b, vm_b) = _both(PROGRAM)
    sa, sb = vm_a.heap_snapshot(), vm_b.heap_snapshot()
    assert sb.summary() == sa.summary()
    for s in (sa, sb):
        assert s.summary()["Q"]["count"] >= 1
    # the embedding API: proxies, eval of fields, field writes from guest code the host runs
    for vm in (vm_a, vm_b):
        hp = vm.globals["p"]
        assert repr(hp) == "<guest P>" and hp.guest_type == "P"
        vm.run_source("p.x = 99")
    assert vm_a.eval("p.x") == vm_b.eval("p.x") == 99
    assert vm_a.eval("str(q)") == vm_b.eval("str(q)")
    for vm in (vm_a, vm_b):
        vm.run_source("fn kind(v: any) -> string { return typeof(v) }")
    assert vm_a.call("kind", vm_a.globals["q"]) == vm_b.call("kind", vm_b.globals["q"]) == "Q"  # (a proxy passed back)


def test_host_error_is_laid_out_and_catchable():
    src = "var err: any = nil\ntry { fail() } catch e { err = e; print(typeof(e), e.message, e is Error) }"
    outs = []
    for lays_out in (False, True):
        saved = Heap.lays_out
        Heap.lays_out = lays_out
        try:
            out = io.StringIO()
            vm = VM(stdout=out)

            @vm.function
            def fail() -> None:
                raise ValueError("host says no")

            vm.run_source(src)
            outs.append(out.getvalue())
            # (api.py makes it through new_instance: laid out like any other)
            assert isinstance(vm.get("err"), SlotInstance) == lays_out
        finally:
            Heap.lays_out = saved
    assert outs[0] == outs[1] == "HostError host says no true\n"
