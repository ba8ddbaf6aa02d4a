"""Raw int and bool slots in native code (heap/layout.py "Raw slots", jit/native/slots.py `slot_access`).

A field kept as a raw int64 (a bool's byte) is read with one load and
written with one store: no type check of the value, no unboxing, no box for a new value,
no reference count, no write barrier. Every test compares the native tier
with the interpreter and the Python JIT (the same program, the same
representation), and checks the code it tests was native.
"""

from __future__ import annotations

import io

import pytest

pytest.importorskip("llvmlite")

from native_helpers import GC_STRESS_MODES, agree, agree_log, module_texts

from tinyvm.api import VM
from tinyvm.jit.native.layout import probe_raw_ok, probe_slots


pytestmark = [
    pytest.mark.skipif(not probe_raw_ok(), reason=f"raw slots' layout not verified here: {probe_slots()[1] or 'probe_raw_ok refused'}"),
    pytest.mark.usefixtures("laid_out"),
]


BALL = """
class Ball {
  var x: int
  var y: int
  var vx: int
  var vy: int
  fn init(x: int, v: int) {
    self.x = x
    self.y = x * 2
    self.vx = v
    self.vy = -v
  }
  fn bounce() -> bool {
    var bounced = false
    self.x += self.vx
    self.y += self.vy
    if self.x > 500 { self.x = 500
      self.vx = -abs(self.vx)
      bounced = true }
    if self.x < 0 { self.x = 0
      self.vx = abs(self.vx)
      bounced = true }
    if self.y > 500 { self.y = 500
      self.vy = -abs(self.vy)
      bounced = true }
    if self.y < 0 { self.y = 0
      self.vy = abs(self.vy)
      bounced = true }
    return bounced
  }
}
fn run(n: int) -> int {
  let b = Ball(3, 7)
  var c = 0
  for i in 0..n {
    if b.bounce() { c += 1 }
  }
  return c * 1000000 + b.x * 1000 + b.y
}
"""


def _ball_module(texts: list[str]) -> str:
    """The module that reads Ball's fields (run's, with Ball.bounce and
    Ball.init compiled into it), from its first definition on."""
    got = [t for t in texts if '@"tvm.sh.Ball"' in t]
    assert len(got) == 1, [t[:200] for t in texts]
    return got[0].split("define", 1)[1]


def test_raw_reads_and_writes_are_a_load_and_a_store(monkeypatch: pytest.MonkeyPatch) -> None:
    src = BALL + "print(run(1000))\n"
    code = _ball_module(module_texts(src, monkeypatch))
    helpers = ("tvm.fget.i", "tvm.fset.i", "PyLong_FromLongLong", "PyLong_AsLongLongAndOverflow", "_PyLong_New", "Py_DecRef")
    for helper in helpers:
        assert helper not in code, helper  # (no unboxing, no box, no reference count)
    # the same program with the fields boxed (a `$fields` method makes
    # nothing early) reads and writes int objects, and is ~3x the code
    boxed = BALL.replace("var vy: int", "var vy: int\n  var k: int = abs(1)")
    code2 = _ball_module(module_texts(boxed + "print(run(1000))\n", monkeypatch))
    assert any(h in code2 for h in helpers)
    assert len(code2) > 2 * len(code)


def test_the_tiers_agree_and_nothing_deopts() -> None:
    want, log = agree_log(BALL + "print(run(5000))\nlet b = Ball(1, 2)\nprint(b.bounce(), b.x, b.y, b.vx, b.vy)\n", "run")
    assert want[1] == "139276283\nfalse 3 0 2 -2\n"  # (the interpreter's on dict instances too: TVM_TIER=dicts)
    assert not any("deopt" in x for x in log), log


def test_int64_edges_and_overflow_in_a_raw_slot() -> None:
    src = """
class C {
  var n: int = 9223372036854775800
  var m: int = -9223372036854775800
  fn step(k: int) -> int {
    var s = 0
    for i in 0..k {
      self.n += 1
      self.m -= 1
      s += self.n % 7
    }
    return s
  }
}
let c = C()
print(c.step(7), c.n, c.m)
try { c.step(1) } catch e { print(e.message, c.n, c.m) }
"""
    _, out, _ = agree(src, "C.step")
    assert out == "21 9223372036854775807 -9223372036854775807\ninteger overflow 9223372036854775807 -9223372036854775807\n"


def test_a_subclass_whose_slot_is_boxed_falls_back_exactly() -> None:
    # E's `a` is raw; F's init lets self out before assigning it, so F's
    # `a` is an object slot: a read through E's code of an F is not a fit
    # (fieldslow.fslot compares the slots' kinds), the read exits and the
    # interpreter reads it
    src = """
class E {
  var a: int
  fn init() { self.a = 4 }
}
class F extends E {
  fn init() {
    show(self)
    self.a = 5
  }
}
fn show(e: any) {}
fn twice(e: E) -> int { return e.a * 2 }
print(twice(E()), twice(F()))
"""
    vm = VM(stdout=io.StringIO(), jit="native-eager")
    vm.run_source(src, "t.tl")
    assert {n: set(vm.get(n).unboxed) for n in ("E", "F")} == {"E": {"a"}, "F": set()}
    (code, out, err), log = agree_log(src, "twice")
    assert any("deopt" in x and "twice" in x for x in log), log  # (F's read: not a fit)
    assert out == "8 10\n"


@pytest.mark.parametrize("flags", GC_STRESS_MODES)
def test_raw_and_object_slots_under_every_collector(flags: tuple) -> None:
    src = """
class Node {
  var v: int
  var next: Node?
  var w: int = 0
  fn init(v: int, next: Node?) { self.v = v
    self.next = next }
}
fn build(n: int) -> Node? {
  var head: Node? = nil
  for i in 0..n {
    let node = Node(i, head)
    node.w = i * 3
    head = node
  }
  return head
}
fn total(n: int) -> int {
  var s = 0
  for k in 0..20 {
    var p = build(n)
    while p != nil {
      let q = p!
      s += q.v + q.w
      q.w += 1
      p = q.next
    }
  }
  return s
}
print(total(200))
"""
    _, out, _ = agree(src, "total", extra=flags)
    assert out == f"{20 * sum(4 * i for i in range(200))}\n"


def test_instances_made_in_native_code_fill_raw_slots_from_the_template(monkeypatch: pytest.MonkeyPatch) -> None:
    # newinst.py `_raw_defaults`: nil is 0 or false (init assigns it), an
    # int of one or two digits its value, a bool its byte, a bigger int
    # takes the maker; the heap's
    # accounting is the interpreter's (a while loop: a for-range loop's
    # Range is charged, not made, in native code)
    src = """
class V {
  var small: int = -5
  var two: int = 4000000000
  var e: int
  var next: V? = nil
  var t: bool = true
  var f: bool
  fn init(e: int) { self.e = e
    self.f = e % 2 == 0 }
}
class W {
  var huge: int = 9000000000000000000
}
fn make(k: int) -> int {
  var head: V? = nil
  var s = 0
  var i = 0
  while i < k {
    let v = V(i)
    let w = W()
    v.next = head
    head = v
    s += v.small + v.e + w.huge % 1000 + v.two % 1000
    if v.t and v.f { s += 1000000 }
    v.two += 1
    i += 1
  }
  return s
}
print(make(3000))
"""
    texts = [t for t in module_texts(src, monkeypatch) if '@"tvm.sh.V"' in t]
    assert texts and "PyType_GenericAlloc" in texts[0] and "%nsraw" in texts[0], "V() is not made inline"
    _, out, _ = agree(src, "make")
    assert out == f"{sum(-5 + i + 0 + 0 + (1000000 if i % 2 == 0 else 0) for i in range(3000))}\n"
    got = {}
    for jit in ("off", "native-eager"):
        vm = VM(stdout=io.StringIO(), jit=jit, max_memory=1 << 30)
        vm.run_source(src, "t.tl")
        got[jit] = (vm.machine.heap.bytes, len(vm.machine.heap.objects))
    assert got["off"] == got["native-eager"]


def test_raw_bool_slots_are_a_byte_read_and_written(monkeypatch: pytest.MonkeyPatch) -> None:
    src = """
class Lamp {
  var on: bool = false
  var broken: bool
  var n: int = 0
  fn init(b: bool) { self.broken = b }
  fn toggle(k: int) -> int {
    for i in 0..k {
      if not self.broken {
        self.on = not self.on
      }
      if self.on { self.n += 1 }
      self.broken = i % 7 == 6 and not self.broken
    }
    return self.n
  }
}
fn run(k: int) -> int {
  let a = Lamp(false)
  let b = Lamp(true)
  return a.toggle(k) * 1000 + b.toggle(k)
}
print(run(100), run(1001))
"""
    texts = [t for t in module_texts(src, monkeypatch) if '@"tvm.sh.Lamp"' in t]
    assert texts, "no module reads Lamp's fields"
    code = texts[0].split("define", 1)[1]
    assert "load i8" in code and "store i8" in code  # (the bool's byte)
    for helper in ("tvm.fget.b", "tvm.fset.o"):
        assert helper not in code, helper  # (no bool object read or stored: only the template's, in the constructor's inline path)
    _, out, _ = agree(src, "run")
    assert out == "57043 572429\n"  # (the interpreter on dict instances prints the same: TVM_TIER=dicts)
