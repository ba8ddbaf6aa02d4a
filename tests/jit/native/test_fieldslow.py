"""Field stores' slow paths out of line (jit/native/fieldslow.py; docs/native.md, "Compile time", round 6).

Structure, never time: a scalar field store keeps its in-place fast path
inline and its slow path (a new box, the entry written or PyDict_SetItem,
the old value dropped) is one call of `tvm.fset.i`/`.f`/`.o`, compiled
once per process and bound by name: no boxing call, no `PyDict_SetItem`
and no `_Py_Dealloc` left in the module. Where the slow path runs (shared
values, big ints, another dict layout, bools and references) the tiers
agree, reference counts stay flat, the dict gets a new version, and an
object from the disk cache calls the helpers in a new process.
"""

from __future__ import annotations

import ctypes
import gc
import io
import sys

import pytest

pytest.importorskip("llvmlite")

from native_helpers import agree, cli, fresh_processes, module_texts, native

from tinyvm.api import VM
from tinyvm.jit.native import fieldslow

BALL = """
class Ball {
  var x: int
  var y: int
  var xv: int
  var yv: int
  fn init() { self.x = 3; self.y = 4; self.xv = 70; self.yv = -90 }
  fn bounce() -> bool {
    var b = false
    self.x += self.xv
    self.y += self.yv
    if self.x > 500 { self.x = 500
      self.xv = -abs(self.xv)
      b = true }
    if self.x < 0 { self.x = 0
      self.xv = abs(self.xv)
      b = true }
    if self.y > 500 { self.y = 500
      self.yv = -abs(self.yv)
      b = true }
    if self.y < 0 { self.y = 0
      self.yv = abs(self.yv)
      b = true }
    return b
  }
}
let ball = Ball()
var n = 0
for k in 0..200 { if ball.bounce() { n += 1 } }
print(n, ball.x, ball.y, ball.xv, ball.yv)
"""

# Every store here takes the slow path at times: values shared with another
# field (no in-place write), ints past two digits and past int64's cache,
# floats of count 2, bools flipping, objects replaced, a record written in
# another order (no inline entry: PyDict_SetItem).
SLOW = """
class Item {
  var v: int
  fn init(v: int) { self.v = v }
}
class S {
  var a: int
  var b: int
  var f: float
  var g: float
  var t: bool
  var it: Item
  fn init() { self.a = 1; self.b = 2; self.f = 0.5; self.g = 1.5; self.t = false; self.it = Item(0) }
  fn go(n: int, x: Item, y: Item) -> int {
    for k in 0..n {
      self.a = 1152921504606846975 * (k % 3) + k
      self.b = self.a
      self.a = self.b - 1
      self.f = self.f + 1.0
      self.g = self.f
      self.t = not self.t
      if k % 2 == 0 { self.it = x } else { self.it = y }
    }
    return n
  }
}
fn rec(r: {x: int, y: float}, n: int) -> float {
  for k in 0..n { r.x = r.x + 1000; r.y = r.y * 2.0 }
  return r.y + r.x
}
let s = S()
print(s.go(7, Item(1), Item(2)), s.a, s.b, s.f, s.g, s.t, s.it.v)
print(rec({y: 0.25, x: 4}, 5), rec({x: 1, y: 2.5}, 3))
"""


@pytest.mark.usefixtures("boxed_ints")  # (int fields boxed: raw int slots never take this path)
def test_a_field_stores_slow_path_is_one_helper_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = module_texts(BALL, monkeypatch)
    t = max(texts, key=lambda x: x.count(f'call i32 @"{fieldslow.INT}"('))
    assert (
        t.count(f'call i32 @"{fieldslow.INT}"(') >= 10
    )  # (each int store of bounce, its ten)
    for gone in (
        "@PyLong_FromLongLong(",
        "@PyDict_SetItem(",
        "@_Py_Dealloc(",
        "@tvm.decref(",
    ):
        assert (
            f"call {'i32' if 'Dict' in gone else 'i64' if 'Long' in gone else 'void'} {gone}"
            not in t
        ), gone
    assert fieldslow._made  # (compiled in this process, bound before the load)


def test_compiled_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    module_texts(BALL, monkeypatch)
    made = list(fieldslow._made)
    module_texts(SLOW, monkeypatch)
    assert fieldslow._made == made and len(made) == 1


def test_the_slow_paths_agree_on_three_tiers() -> None:
    agree(BALL, "Ball.bounce")
    agree(SLOW, "S.go", "rec")


def test_reference_counts_stay_flat_through_the_helpers() -> None:
    log: list[str] = []
    vm = VM(jit="native-eager", stdout=io.StringIO(), jit_log=log.append)
    vm.run_source(
        SLOW.split("let s = S()")[0]
        + "let s = S()\nlet x = Item(1)\nlet y = Item(2)\nfn run(n: int) -> int { return s.go(n, x, y) }\n"
    )
    ns = vm.globals._ns
    x, y = ns.get("x"), ns.get("y")
    vm.call("run", 2)  # (compiled now)
    assert native("S.go", log), log
    gc.collect()
    rx, ry, rt, rf = (
        sys.getrefcount(x),
        sys.getrefcount(y),
        sys.getrefcount(True),
        sys.getrefcount(False),
    )
    blocks = sys.getallocatedblocks()
    vm.call("run", 200_000)
    gc.collect()
    after = sys.getallocatedblocks()
    got = (
        sys.getrefcount(x),
        sys.getrefcount(y),
        sys.getrefcount(True),
        sys.getrefcount(False),
    )
    assert got == (rx, ry, rt, rf)
    assert after - blocks < 1000, (blocks, after)  # (200,000 boxes made and freed)
    d = ns.get("s").fields
    held = d[
        "f"
    ]  # (a second reference: the next store of f cannot write in place, it boxes through tvm.fset.f)
    r = sys.getrefcount(held)
    vm.call("run", 3)
    rc = sys.getrefcount(held), sys.getrefcount(d["f"])
    assert d["f"] is not held and rc == (
        r - 1,
        2,
    )  # (the dict dropped the old one; the new one is the dict's and the argument's)


@pytest.mark.usefixtures("dict_instances")  # (the dict path: conftest.py)
def test_a_store_through_the_helper_gives_the_dict_a_new_version() -> None:
    log: list[str] = []
    vm = VM(jit="native-eager", stdout=io.StringIO(), jit_log=log.append)
    vm.run_source("""
class C {
  var a: int
  var b: int
  fn init() { self.a = 1; self.b = 2 }
  fn put(v: int) -> int { self.a = v; self.b = self.a; return v }
}
let c = C()
fn run(v: int) -> int { return c.put(v) }
""")
    d = vm.globals._ns.get("c").fields
    seen = set()
    for v in (1000, 2000, 1 << 62):
        held = (
            d["a"],
            d["b"],
        )  # (a second reference each: no store writes in place, each boxes through tvm.fset.i)
        before = ctypes.c_uint64.from_address(id(d) + 24).value
        vm.call("run", v)
        after = ctypes.c_uint64.from_address(id(d) + 24).value
        assert after != before and after not in seen
        seen.add(after)
        assert d["a"] == d["b"] == v and d["a"] is not held[0] and d["b"] is not held[1]
    assert native("C.put", log), log


def test_a_cached_object_calls_the_helpers_in_a_new_process(tmp_path) -> None:
    runs = fresh_processes(SLOW, tmp_path / "cache")
    _, want, _ = cli(["run", "--jit=off", "-e", SLOW])
    for p in runs:
        assert p.returncode == 0 and p.stdout == want, p.stderr
    assert any(
        x.startswith("jit: native S.go in ") and "cache hit" in x
        for x in runs[1].stderr.splitlines()
    ), runs[1].stderr


@pytest.mark.usefixtures("boxed_ints")  # (int fields boxed: raw int slots never take this path)
def test_an_int_zeroed_in_place_takes_the_next_value_in_place_too() -> None:
    # (arrays.store_int: an int of ob_size 0 written in place has the one
    # digit CPython 3.11 allocates every int, so Bounce's `self.x = 0` is not
    # followed by a new box at the next store)
    log: list[str] = []
    vm = VM(jit="native-eager", stdout=io.StringIO(), jit_log=log.append)
    vm.run_source("""
class C {
  var x: int
  fn init() { self.x = 1000 }
  fn put(v: int, w: int) -> int { self.x = v; self.x = self.x + w; return self.x }
}
let c = C()
fn run(v: int, w: int) -> int { return c.put(v, w) }
""")
    d = vm.globals._ns.get("c").fields
    vm.call("run", 700, 1)  # (compiled; x a fresh 701 only the dict holds)
    xid = id(d["x"])  # (no reference kept here: the field's must stay its only one)
    for v, w in ((0, 0), (0, 999), (-5, 1), (0, -1000), (300, 0)):
        assert vm.call("run", v, w) == v + w
        # (the same object, written in place: a box is made before the old
        # value is dropped, so it would have another address)
        assert id(d["x"]) == xid and d["x"] == v + w
    rc = sys.getrefcount(
        d["x"]
    )  # (before the assert: pytest's rewritten asserts keep their operands)
    assert rc == 2  # (the dict's, the argument)
    assert native("C.put", log), log


@pytest.mark.usefixtures("boxed_ints")  # (int fields boxed: raw int slots never take this path)
def test_a_small_int_boxed_by_the_helper_is_the_fields_own() -> None:
    # (fieldslow.py: -5..256 in an int object of its own, not CPython's
    # cached one, so the next store writes it in place)
    log: list[str] = []
    vm = VM(jit="native-eager", stdout=io.StringIO(), jit_log=log.append)
    vm.run_source("""
class C {
  var x: int
  fn init() { self.x = 3 }
  fn put(v: int) -> int { self.x = v; return self.x }
}
let c = C()
fn run(v: int) -> int { return c.put(v) }
""")
    d = vm.globals._ns.get("c").fields
    vm.call("run", 4)  # (compiled now)
    d["x"] = int("3")  # (the cached 3: shared, so no store writes it in place)
    assert vm.call("run", 5) == 5
    assert native("C.put", log), log
    xid = id(d["x"])
    assert d["x"] == 5 and d["x"] is not int(
        "5"
    )  # (boxed through tvm.fset.i: its own 5)
    for v in (7, -5, 256, 0, 1):
        assert (
            vm.call("run", v) == v and d["x"] == v and id(d["x"]) == xid
        )  # (in place)
    rc = sys.getrefcount(d["x"])
    assert rc == 2  # (the dict's, the argument)
