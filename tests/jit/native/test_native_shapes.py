"""Fields of laid-out instances ("shapes", heap/layout.py) in native code (jit/native/fields.py `slot_access`, newinst.py `inline_shape`).

With `Heap.lays_out` on, an instance of a closed class keeps its fields in
slots of its shape; native code reads a field with one load after a check
of the receiver's type against its class's shape (a subclass's shape by
`tvm.fslot`), stores through the dict path's code (in place, the barrier,
reference counts), and makes such instances inline. Every test compares
the native tier with the interpreter and the Python JIT on the same
representation, and checks the code it tests was native (no silent
fallback passes).
"""

from __future__ import annotations

import gc
import io
import sys

import pytest

pytest.importorskip("llvmlite")

from native_helpers import GC_STRESS_MODES, agree_log, module_texts

from tinyvm.api import VM
from tinyvm.heap.heap import Heap
from tinyvm.heap.layout import SlotInstance
from tinyvm.jit.native import layout as native_layout
from tinyvm.jit.native.layout import probe_slots


pytestmark = [
    pytest.mark.skipif(probe_slots()[0] is None, reason=f"shapes' layout not verified here: {probe_slots()[1]}"),
    pytest.mark.usefixtures("laid_out"),
]


CLASSES = """
class P {
  var i: int
  var f: float
  var b: bool
  var o: P? = nil
  fn init(i: int, f: float, b: bool) { self.i = i; self.f = f; self.b = b }
  fn step(n: int) -> int {
    var s = 0
    for k in 0..n {
      self.i = self.i + k
      self.f = self.f * 0.5 + 1.0
      self.b = not self.b
      s += self.i
    }
    return s
  }
}
class Q extends P {
  var extra: int
  fn init(i: int) { super.init(i, 2.0, false); self.extra = 7 }
}
fn mix(p: P, q: P) -> float { return p.f + q.f + sqrt(abs(p.f)) }
"""


def _module(texts: list[str], defines: str) -> str:
    got = [t for t in texts if f'define i32 @"{defines}' in t or f'@"{defines}"' in t]
    assert got, [t[:200] for t in texts]
    return got[0]


def test_a_laid_out_classs_field_reads_load_the_slot_not_the_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    src = CLASSES + "let p = P(1, 1.5, true)\nprint(mix(p, p))\n"
    texts = [t for t in module_texts(src, monkeypatch) if '@"tvm.sh.P"' in t]
    assert texts, "no module checks P's shape"
    for t in texts:
        assert "_PyDict_GetItem_KnownHash(" not in t.split("define", 1)[1]  # (no lookup call)
        assert '@"tvm.fk.' not in t  # (no key compared: no dict probe at all)
    # the same program without shapes probes the dict
    monkeypatch.setattr(Heap, "lays_out", False)
    monkeypatch.setattr(native_layout, "probe_slots_ok", lambda: False)  # (a native VM lays out when its probe accepts)
    plain = module_texts(src, monkeypatch)
    assert any('@"tvm.fk.f"' in t for t in plain) and not any('@"tvm.sh.' in t for t in plain)


def test_the_shape_checks_fast_path_is_a_compare_and_a_branch(monkeypatch: pytest.MonkeyPatch) -> None:
    # A receiver not of the class's shape takes `tvm.fslot` and, unfit,
    # the exit -- from the slow block itself: the fast path joins with no
    # flag to test again (a phi of true and the call's answer left a test
    # and a branch on every read in the machine code: slots.slot_check).
    import re

    src = CLASSES + "let p = P(1, 1.5, true)\nprint(mix(p, p))\n"
    texts = [t for t in module_texts(src, monkeypatch) if '@"tvm.sh.P"' in t]
    assert texts
    slows = [b for t in texts for b in re.findall(r"^(sslow[\w.]*):\n((?:  .*\n)+)", t, re.MULTILINE)]
    assert slows
    for label, body in slows:
        assert '@"tvm.fslot"(' in body and re.search(r"br i1 %unfit[\w.]*, label %X", body), (label, body)  # (the exit's branch in the slow block)
    assert not any(re.search(r"phi i1 \[ true, %[\w.]+ \], \[ %fits", t) for t in texts)


def test_reads_and_writes_agree_on_instances_and_subclass_instances() -> None:
    src = CLASSES + """
let p = P(3, 1.5, true)
let q = Q(5)
print(p.step(10), p.i, p.f, p.b)
print(q.step(10), q.i, q.f, q.b, q.extra)
print(mix(p, q), mix(q, p))
"""
    _, log = agree_log(src, "P.step", "mix")
    assert not any("deopt" in x for x in log), log  # (a subclass's shape: tvm.fslot, no exit)


def test_a_receiver_of_another_shape_falls_back_exactly() -> None:
    # a dict instance of a laid-out class (as a heap made before laying out
    # would hold): the slot check fails, tvm.fslot says no, the read exits
    # to the interpreter, which reads the dict; a subclass's shape reads inline
    from tinyvm.heap.objects import Instance

    src = """
class P {
  var i: int = 1
  var f: float = 0.5
}
class Q extends P { var j: int = 5 }
fn get(p: P, n: int) -> float {
  var s = 0.0
  for k in 0..n { s += p.f + p.i }
  return s
}
let p = P()
let q = Q()
"""
    log: list[str] = []
    vm = VM(stdout=io.StringIO(), jit="native-eager", jit_log=log.append)
    vm.run_source(src, "t.tl")
    p, q = vm.get("p"), vm.get("q")
    assert isinstance(p, SlotInstance) and type(q) is not type(p)
    assert vm.call("get", p, 4) == 6.0
    assert vm.call("get", q, 4) == 6.0
    assert any(x.startswith("jit: native get in") for x in log), log
    assert not any("deopt" in x for x in log), log
    d = vm.machine.heap.alloc(Instance(p.cls, {"i": 3, "f": 0.25}))
    assert not isinstance(d, SlotInstance)
    assert vm.call("get", d, 4) == 13.0
    assert any("deopt" in x and "get_field" in x for x in log), log


def test_an_uninitialised_field_fails_its_type_check_as_the_interpreter_does() -> None:
    src = """
class U {
  var x: int
  var y: float
  fn init() { self.y = self.peek() }
  fn peek() -> float { return self.y + 1.0 }
}
let u = U()
print(u.y)
"""
    agree_log(src)


def test_deopt_from_a_slot_read_rebuilds_the_frames() -> None:
    # a field that holds an int beyond int64: the native read fails at the
    # get_field, two native frames deep; the interpreter finishes exactly
    src = """
class C {
  var v: int = 1
  fn inner(n: int) -> int {
    var s = 0
    for k in 0..n { s += self.v }
    return s
  }
  fn outer(n: int) -> int { return self.inner(n) + 1 }
}
let c = C()
print(c.outer(10))
c.v = 9223372036854775807
print(c.outer(1))
c.v = c.v * 4
print(c.outer(3))
"""
    _, log = agree_log(src, "C.outer")
    assert any("deopt" in x and "C.outer" in x for x in log), log


@pytest.mark.parametrize("flags", GC_STRESS_MODES)
def test_reference_stores_keep_the_barrier_and_the_heap_verifies(flags: tuple) -> None:
    src = """
class Node {
  var next: Node? = nil
  var v: int = 0
}
class List {
  var head: Node? = nil
  var n: int = 0
  fn build(k: int) -> int {
    var i = 0
    while i < k {
      let x = Node()
      x.v = i
      x.next = self.head
      self.head = x
      self.n += 1
      i += 1
    }
    return self.n
  }
  fn total() -> int {
    var s = 0
    var x = self.head
    while x != nil { s += x.v; x = x.next }
    return s
  }
}
let l = List()
for r in 0..20 { l.head = nil; l.build(300) }
print(l.n, l.total())
"""
    agree_log(src, "List.build", "List.total", extra=flags)


@pytest.mark.usefixtures("boxed_ints")  # (int fields boxed: raw int slots never take this path)
def test_a_hundred_thousand_stores_leak_no_reference() -> None:
    # each step makes a Box (inline: the template's values get a reference
    # per slot) and stores into its fields, the first store of each field
    # replacing the template's shared value (the helper's path: tvm.fset.*,
    # the old value's reference dropped) and into self's (in place, inline)
    src = """
class Box {
  var o: Box? = nil
  var f: float = 0.25
  var i: int = 77
  var b: bool = false
  fn churn(n: int) -> int {
    for k in 0..n {
      let x = Box()
      x.i = k + 1000000007
      x.f = 1.5
      x.b = true
      x.o = self
      self.o = x
      self.f = self.f + 0.5
      self.i = self.i + 1000000007
      self.b = not self.b
      self.o = nil
    }
    return self.i
  }
}
let b = Box()
fn churn(b: Box, n: int) -> int { return b.churn(n) }
"""
    out = io.StringIO()
    log: list[str] = []
    vm = VM(stdout=out, jit="native-eager", jit_log=log.append)
    vm.run_source(src, "t.tl")
    b = vm.get("b")
    assert isinstance(b, SlotInstance)
    tpl = list(b.cls.template.values())
    vm.call("churn", b, 10)  # (compiled, warmed)
    vm.machine.collect()  # (the guest's garbage freed: what stays is what leaks)
    gc.collect()

    def counts() -> tuple:
        return (*(sys.getrefcount(v) for v in tpl), sys.getrefcount(True), sys.getrefcount(False), sys.getrefcount(b), len(gc.get_objects()))

    before = counts()
    vm.call("churn", b, 100_000)
    vm.machine.collect()
    gc.collect()
    after = counts()
    assert any(x.startswith("jit: native churn in") for x in log), log
    assert all(abs(a - c) < 50 for a, c in zip(after, before)), list(zip(before, after))  # (a leak per store: 100,000)
    assert b.get("i") == 77 + 1000000007 * 100_010 and b.get("f") == 0.25 + 0.5 * 100_010 and b.get("o") is None


def test_instances_made_in_native_code_are_laid_out_and_accounted_as_the_interpreters() -> None:
    src = """
class V {
  var x: float = 0.0
  var y: float = 0.0
  var n: V? = nil
}
fn make(k: int) -> int {
  var head: V? = nil
  var i = 0
  while i < k {
    let v = V()
    v.x = 1.5
    v.n = head
    head = v
    i += 1
  }
  return i
}
print(make(5000))
let w = V()
"""
    got = {}
    for jit in ("off", "native-eager"):
        vm = VM(stdout=io.StringIO(), jit=jit, max_memory=1 << 30)
        vm.run_source(src, "t.tl")
        h = vm.machine.heap
        got[jit] = (h.bytes, len(h.objects))
        assert isinstance(vm.get("w"), SlotInstance)
    assert got["off"] == got["native-eager"]


def test_lox_instances_stay_open_dicts_and_run_on_native_eager(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from native_helpers import cli

    f = tmp_path / "t.lox"
    f.write_text("""
class A { init(n) { this.n = n; } get() { return this.n; } }
class B < A { init(n) { super.init(n); this.m = n * 2; } }
var b = B(4);
b.extra = 1;
var s = 0;
for (var i = 0; i < 200; i = i + 1) { s = s + b.get() + b.m + b.extra; }
print s;
""")
    want = cli(["run", str(f)])
    got = cli(["run", "--jit=native-eager", str(f)])
    assert want == got and want[1] == "2600\n", (want, got)


def test_a_class_of_more_than_ten_fields_reads_each_slot() -> None:
    # (CPython lays __slots__ out sorted by name: slot `_10` before `_2`
    # unless the names sort as their indices; probe_slots checks 40 fields)
    fields = "\n".join(f"  var f{k}: int = {k * 3}" for k in range(14))
    src = f"""
class W {{
{fields}
  fn total() -> int {{
    var s = 0
    for r in 0..3 {{ s += self.f0 + self.f2 * 10 + self.f9 * 100 + self.f10 * 1000 + self.f11 * 10000 + self.f13 * 100000 }}
    self.f12 = s
    return self.f12 + self.f1
  }}
}}
let w = W()
print(w.total(), w.f12, w.f10, w.f2)
"""
    want, _ = agree_log(src, "W.total")
    assert want[1].split()[0] == str(3 * (0 + 60 + 2700 + 30000 + 330000 + 3900000) + 3)
