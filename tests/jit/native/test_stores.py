"""Stores of object references in native code, with the GC's write barrier
(jit/native/stores.py, barrier.py; docs/native.md, "Stores of references and
the write barrier").

Programs run on the interpreter, the Python JIT (`eager`) and `native-eager`
and must agree exactly (stdout, stderr with traces, exit status); each test
also checks that the functions under test compiled natively, so a silent
fallback cannot pass. The collector tests run with the heap verifier, which
reports a store that skipped the barrier, and one of them removes the
barrier from native code to show that the verifier then does report it.
"""

from __future__ import annotations

import gc
import io
import sys

import pytest

pytest.importorskip("llvmlite")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from native_helpers import agree, cli, in_one_module, native

from tinyvm.api import VM
from tinyvm.jit.native import barrier
from tinyvm.runtime.errors import GuestException

CLASSES = """
class Item {
  var v: int
  fn init(v: int) { self.v = v }
}
class Holder {
  var item: Item
  var items: [Item]
  var nums: [int]
  fn init(item: Item, items: [Item]) {
    self.item = item
    self.items = items
    self.nums = [item.v]
  }
}
"""

# A store-heavy function: fields and elements of two holders exchanged, a
# fresh object stored into both, arrays of objects and of ints moved
# between fields.
EXCHANGE = CLASSES + """
fn exchange(a: Holder, b: Holder, fresh: Item, n: int) -> int {
  var s = 0
  for k in 0..n {
    let x = a.item
    let y = b.item
    a.item = y
    b.item = x
    let z = a.items[k % 4]
    a.items[k % 4] = b.items[(k + 1) % 4]
    b.items[(k + 1) % 4] = z
    s = s + x.v + z.v
  }
  a.items[n % 4] = fresh
  b.item = fresh
  let t = b.items
  b.items = a.items
  a.items = t
  let u = a.nums
  a.nums = b.nums
  b.nums = u
  return s
}
"""

# The linked structure rebuilt in a loop (collections run between the
# native calls and see what they stored): the fresh item is the last
# allocation before each call, so native code stores a young object into
# old ones (generational) and white ones into black ones (incremental).
GC_PROGRAM = EXCHANGE + """
var hs: [Holder] = []
for j in 0..8 {
  hs.push(Holder(Item(j), [Item(j * 10), Item(j * 10 + 1), Item(j * 10 + 2), Item(j * 10 + 3)]))
}
var total = 0
var keep: [Item] = []
for round in 0..ROUNDS {
  keep.push(Item(round))
  if keep.len() > 50 { keep = [] }
  let fresh = Item(round)
  total = total + exchange(hs[round % 8], hs[(round * 3 + 1) % 8], fresh, round % 7)
}
var check = 0
for h in hs {
  check = check + h.item.v + h.nums[0]
  for it in h.items { check = check * 7 % 1000003 + it.v }
}
print(total, check)
"""


def test_object_stores_agree_on_three_tiers() -> None:
    code, out, err = agree(GC_PROGRAM.replace("ROUNDS", "400"), "exchange")
    assert code == 0 and err == "" and out.split()[0] != "0"


def test_a_store_then_a_read_of_the_same_field_sees_the_new_object() -> None:
    src = CLASSES + """
fn cycle(h: Holder, a: Item, b: Item, n: int) -> int {
  var s = 0
  for k in 0..n {
    let old = h.item
    h.item = a
    s = s + old.v * 100 + h.item.v
    h.item = b
    s = s + h.item.v
    h.items[k % 2] = h.item
    s = s + h.items[0].v + h.items[1].v
  }
  return s
}
let h = Holder(Item(1), [Item(2), Item(3)])
print(cycle(h, Item(4), Item(5), 10), h.item.v, h.items[0].v, h.items[1].v)
"""
    agree(src, "cycle")


def test_records_and_record_fields_of_objects() -> None:
    src = CLASSES + """
fn relink(r: {head: Item, rest: [Item]}, x: Item, n: int) -> int {
  var s = 0
  for k in 0..n {
    let h = r.head
    r.head = r.rest[k % 3]
    r.rest[k % 3] = h
    s = s + r.head.v
  }
  r.head = x
  return s
}
let r = {head: Item(1), rest: [Item(2), Item(3), Item(4)]}
print(relink(r, Item(9), 11), r.head.v, r.rest[0].v + 10 * r.rest[1].v + 100 * r.rest[2].v)
"""
    agree(src, "relink")


@pytest.mark.parametrize(
    "call",
    [
        "put(h, 4, Item(8))",  # out of bounds: the interpreter's IndexError, its trace
        "put(h, -1, Item(8))",  # negative: the same
        "put(odd, 0, Item(8))",  # a receiver of another class: no field items
        "put(rec, 0, Item(8))",  # a record: not an instance
        "put(nope, 0, Item(8))",  # nil
        "swap_item(odd, Item(1))",  # a field store into an instance without that field
    ],
)
def test_a_failing_store_deoptimises_with_the_interpreters_error(call: str) -> None:
    src = CLASSES + f"""
class Other {{
  var w: int
  fn init() {{ self.w = 1 }}
}}
fn put(h: Holder, k: int, x: Item) -> int {{
  var s = 0
  for j in 0..3 {{ s += j }}
  h.items[0] = h.item
  h.items[k] = x
  return s + x.v
}}
fn swap_item(h: Holder, x: Item) -> int {{
  let s = h.items[0].v
  h.item = x
  return s
}}
let h = Holder(Item(1), [Item(2), Item(3), Item(4), Item(5)])
print(put(h, 1, Item(7)), swap_item(h, Item(6)), h.item.v)
let odd: any = Other()
let rec: any = {{items: [Item(1)], item: Item(2)}}
let nope: any = nil
print({call})
print("not reached")
"""
    code, _, err = agree(src, "put", "swap_item")
    assert code == 1 and "Error" in err and "not reached" not in err


def test_reference_counts_stay_flat_over_many_stores() -> None:
    log: list[str] = []
    vm = VM(jit="native-eager", stdout=io.StringIO(), jit_log=log.append)
    vm.run_source(
        CLASSES
        + """
fn churn(h: Holder, a: Item, b: Item, n: int) -> int {
  for k in 0..n {
    h.item = a
    h.items[0] = b
    h.items[1] = a
    h.item = b
    h.items[0] = a
    h.items[1] = b
  }
  return n
}
let a = Item(1)
let b = Item(2)
let h = Holder(Item(3), [Item(4), Item(5)])
fn run(n: int) -> int { return churn(h, a, b, n) }
"""
    )
    ns = vm.globals._ns
    a, b = ns.get("a"), ns.get("b")
    vm.call("run", 2)  # (compiled now; the holder holds a and b from here on)
    assert native("churn", log), log
    gc.collect()
    ra, rb = sys.getrefcount(a), sys.getrefcount(b)
    blocks = sys.getallocatedblocks()
    vm.call("run", 300_000)
    gc.collect()
    assert (sys.getrefcount(a), sys.getrefcount(b)) == (ra, rb)
    assert sys.getallocatedblocks() - blocks < 100
    h = ns.get("h")
    assert h.fields["item"] is b and h.fields["items"].items == [a, b]


@pytest.mark.parametrize("mode", ["stw", "incremental", "generational"])
def test_every_collector_with_the_verifier_and_gc_stress(mode: str) -> None:
    src = GC_PROGRAM.replace("ROUNDS", "300")
    code, out, err = agree(src, "exchange", extra=("--gc-stress", "--gc", mode, "--gc-verify"))
    assert code == 0 and err == "", err
    # The barrier's slow path ran (incremental, generational) and never failed.
    printed = io.StringIO()
    vm = VM(jit="native-eager", gc=mode, gc_stress=True, gc_verify=True, stdout=printed)
    vm.run_source(src, "t.tl")
    nt = vm.machine.jit.native
    assert nt.stats["native_calls"] >= 300 and nt.barriers.failed == 0
    assert (nt.barriers.calls > 0) == (mode != "stw"), nt.barriers.calls
    assert printed.getvalue() == out


@pytest.mark.parametrize("mode", ["incremental", "generational"])
def test_without_the_barrier_the_verifier_reports_the_store(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # What the tests above would see if native code skipped the barrier: the
    # verifier's report (so their passing says the barrier is there).
    monkeypatch.setattr(barrier, "emit_barrier", lambda fe, obj, value: None)
    vm = VM(jit="native-eager", gc=mode, gc_stress=True, gc_verify=True, stdout=io.StringIO())
    with pytest.raises(GuestException, match="HeapVerifyError: gc verify: .*write barrier"):
        vm.run_source(GC_PROGRAM.replace("ROUNDS", "300"), "t.tl")


def test_stores_outside_a_collection_cycle_take_no_slow_path() -> None:
    # stw mode: watch is NO_WATCH, the inline test alone (the callback never runs).
    vm = VM(jit="native-eager", stdout=io.StringIO())
    vm.run_source(GC_PROGRAM.replace("ROUNDS", "50"), "t.tl")
    nt = vm.machine.jit.native
    assert nt.barriers.calls == 0 and nt.stats["native_calls"] >= 50


def test_the_mark_slot_is_probed() -> None:
    off, why = barrier.mark_offset()
    assert off is not None, why
    import ctypes

    from tinyvm.heap.objects import Instance

    obj = Instance(object(), {})  # type: ignore[arg-type]
    obj.mark = m = 1 << 45
    assert ctypes.c_int64.from_address(id(obj) + off).value == id(m)


def test_a_loop_reentered_after_a_call_out_keeps_the_values_only_the_call_names() -> None:
    # The OSR entry at the loop header takes every word of the header's state
    # that the loop's code or its exit records name: k and h are only passed
    # to the call out (which native code cannot make: `show` reads a
    # global), and were rebuilt 0 (a wrong int; a null object) before.
    src = CLASSES + """
let K = 5
fn show(k: int, h: Holder) { print(k, h.item.v, K) }
fn f(n: int, k: int, h: Holder) {
  for i in 0..n { show(k, h) }
}
class R {
  var n: int = 3
  fn measure(h: Holder) { print(h.item.v + K) }
  fn runs(h: Holder) {
    for i in 0..self.n { self.measure(h) }
  }
}
f(3, 7, Holder(Item(1), []))
R().runs(Holder(Item(2), []))
"""
    code, out, _ = agree(src, "f", "R.runs")
    assert code == 0 and out == "7 1 5\n" * 3 + "7\n" * 3


NODES = """
class Node {
  var v: int
  var next: Node? = nil
  fn init(v: int) { self.v = v }
}
class Stacks {
  var piles: [Node?] = []
  var moved: int = 0
  fn push(n: Node, p: int) {
    n.next = self.piles[p]
    self.piles[p] = n
  }
  fn pop(p: int) -> Node {
    let top = self.piles[p]
    if top == nil { throw Error("empty pile ${p}") }
    self.piles[p] = top.next
    top.next = nil
    return top
  }
  fn shuffle(n: int) -> int {
    var s = 0
    for k in 0..n {
      let a = k % 3
      let b = (k + 1) % 3
      if self.piles[a] != nil {
        let x = self.pop(a)
        self.push(x, b)
        s = s + x.v
        self.moved += 1
      }
    }
    return s
  }
}
let st = Stacks()
st.piles = [nil, nil, nil]
for i in 0..10 { st.push(Node(i), 0) }
print(st.shuffle(100), st.moved)
var c = 0
for p in st.piles { var q = p
  while q != nil { c = c * 3 + q.v
    q = q.next } }
print(c)
print(st.shuffle(7), st.pop(1).v)
st.piles[1] = nil
st.piles[0] = nil
print(st.shuffle(5))
print(st.pop(1).v)
"""


@pytest.mark.parametrize("mode", [(), ("--gc-stress", "--gc", "stw", "--gc-verify"), ("--gc-stress", "--gc", "incremental", "--gc-verify"), ("--gc-stress", "--gc", "generational", "--gc-verify")], ids=lambda m: " ".join(m) or "default")
def test_nil_and_optional_objects_stored_into_fields_and_arrays(mode: tuple) -> None:
    # `n.next = nil`, `piles[p] = top.next` (an object or nil), a pop from an
    # empty pile throwing (a throw block: the interpreter throws), as Towers.
    code, out, err = agree(NODES, "Stacks.shuffle", "Stacks.push", extra=mode)
    assert code == 1 and "empty pile 1" in err and out.startswith("900 100\n")


def test_none_and_object_counts_stay_flat_over_nil_stores() -> None:
    log: list[str] = []
    vm = VM(jit="native-eager", stdout=io.StringIO(), jit_log=log.append)
    vm.run_source(
        """
class Node {
  var v: int
  var next: Node? = nil
  fn init(v: int) { self.v = v }
}
let a = Node(1)
let b = Node(2)
let xs: [Node?] = [nil, nil]
fn churn(a: Node, b: Node, xs: [Node?], n: int) -> int {
  for k in 0..n {
    a.next = b
    xs[0] = a
    xs[1] = nil
    a.next = nil
    xs[1] = b
    xs[0] = nil
  }
  return n
}
fn run(n: int) -> int { return churn(a, b, xs, n) }
"""
    )
    ns = vm.globals._ns
    a, b = ns.get("a"), ns.get("b")
    vm.call("run", 2)
    assert native("churn", log), log
    gc.collect()
    ra, rb, rn = sys.getrefcount(a), sys.getrefcount(b), sys.getrefcount(None)
    vm.call("run", 300_000)
    gc.collect()
    assert (sys.getrefcount(a), sys.getrefcount(b)) == (ra, rb)
    assert abs(sys.getrefcount(None) - rn) < 50  # (a leak or a lost reference per store would be 600,000)
    assert a.fields["next"] is None and ns.get("xs").items == [None, b]


@pytest.mark.parametrize("gc_mode", ["stw", "incremental", "generational"])
def test_awfy_towers_moves_its_disks_natively(gc_mode: str) -> None:
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[3] / "benchmarks" / "awfy"
    code, _, err = cli(["run", "--jit=native-eager", "--jit-log", "--gc", gc_mode, "--gc-verify", str(root / "run.tl"), "Towers", "2", "3"])
    assert code == 0, err
    log = [x for x in err.splitlines() if x.startswith("jit: ")]
    # move_disks with move_top_disk, push_disk and pop_disk_from: one module
    # (or benchmark's, which calls it natively since its `[nil, nil, nil]`
    # compiles: opaque.py; or the harness's, specialised on Towers)
    assert in_one_module(log, "Towers.move_disks", "Towers.move_top_disk", "Towers.push_disk", "Towers.pop_disk_from"), log
    assert not any("deopt" in x and "Towers" in x for x in log), log


@pytest.mark.usefixtures("dict_instances")  # (the dict path: conftest.py)
def test_an_inline_dict_store_gives_the_dict_a_new_version() -> None:
    # PEP 509: ma_version_tag changes at every modification (stores.py writes
    # the field's dict entry itself, and a version of its own range).
    import ctypes

    log: list[str] = []
    vm = VM(jit="native-eager", stdout=io.StringIO(), jit_log=log.append)
    vm.run_source(CLASSES + """
let h = Holder(Item(1), [])
let x = Item(2)
fn put(h: Holder, x: Item, n: int) -> int {
  for k in 0..n { h.nums = [k] }
  h.item = x
  return n
}
fn run(n: int) -> int { return put(h, x, n) }
""")
    d = vm.globals._ns.get("h").fields
    seen = set()
    for n in range(3):
        before = ctypes.c_uint64.from_address(id(d) + 24).value
        vm.call("run", n)
        after = ctypes.c_uint64.from_address(id(d) + 24).value
        assert after != before and after not in seen
        seen.add(after)
    assert native("put", log), log
    assert d["item"] is vm.globals._ns.get("x") and d["nums"].items == [1]


def test_fuel_is_counted_identically_through_stores() -> None:
    from native_helpers import used

    src = NODES.replace("print(st.pop(1).v)\n", "")
    want = used(src, "off")[:2]
    assert used(src, "eager")[:2] == want
    n, out, log = used(src, "native-eager")
    assert (n, out) == want
    assert native("Stacks.shuffle", log), log


_STMTS = [
    "ns[{a}].next = ns[{b}]",
    "ns[{a}].next = nil",
    "ns[{a}].kids[{k}] = ns[{b}]",
    "ns[{a}].kids[{k}] = nil",
    "ns[{a}].kids[{k}] = ns[{b}].next",
    "ns[{a}] = ns[{b}]",
    "ns[{a}].kids = ns[{b}].kids",
    "ns[{a}].v = ns[{a}].v + ns[{b}].v",
]


@st.composite
def store_program(draw) -> str:
    """A native loop of drawn reference stores (fields, elements, nil, arrays
    into fields; an index may be out of bounds: the interpreter's error)
    between interpreted allocations, then a checksum of what is reachable."""
    idx = st.integers(0, 3)
    body = []
    for _ in range(draw(st.integers(1, 8))):
        t = draw(st.sampled_from(_STMTS))
        k = draw(st.sampled_from([0, 1, 2, 2, 1, 0, 3, -1]))
        body.append("    " + t.format(a=draw(idx), b=draw(idx), k=k))
    return """
class N {
  var v: int
  var next: N? = nil
  var kids: [N?] = []
  fn init(v: int) { self.v = v }
}
fn ops(ns: [N], r: int) -> int {
  for i in 0..r {
BODY
  }
  return r
}
fn sum(ns: [N]) -> int {
  var c = 0
  for n in ns {
    c = c * 7 % 1000003 + n.v
    let m = n.next
    if m != nil { c = c + m.v * 3 }
    for q in n.kids { if q != nil { c = c + q.v } else { c = c + 1 } }
  }
  return c
}
let ns = [N(1), N(2), N(3), N(4)]
for n in ns { n.kids = [nil, nil, nil] }
for round in 0..4 {
  let fresh = N(round + 10)
  fresh.kids = [nil, nil, nil]
  ns[round % 4] = fresh
  print(ops(ns, round + 1), sum(ns))
}
""".replace("BODY", "\n".join(body))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(store_program(), st.sampled_from([(), ("--gc-stress", "--gc", "generational", "--gc-verify"), ("--gc-stress", "--gc", "incremental", "--gc-verify")]))
def test_hypothesis_store_programs_agree_on_three_tiers(src: str, mode: tuple) -> None:
    agree(src, "ops", extra=mode)


def test_stores_from_the_disk_cache_in_a_second_process(tmp_path) -> None:
    # The object code names Py_None, the version counter and the barrier's
    # words only through symbols and ctx words bound per process: a hit in a
    # new process stores, versions and runs the barrier as a fresh compilation.
    import os
    import subprocess

    tvm = "import sys; from tinyvm.cli.main import tvm_main; sys.argv[0] = 'tvm'; tvm_main()"
    env = dict(os.environ, TVM_NATIVE_CACHE=str(tmp_path))
    argv = [sys.executable, "-c", tvm, "run", "--jit=native-eager", "--jit-log", "--gc-stress", "--gc", "generational", "--gc-verify", "-e", GC_PROGRAM.replace("ROUNDS", "100")]
    runs = [subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False) for _ in range(2)]
    want = cli(["run", "-e", GC_PROGRAM.replace("ROUNDS", "100")])[1]
    for p in runs:
        assert p.returncode == 0 and p.stdout == want, p.stderr
    assert "jit: native exchange in " in runs[0].stderr and "cache miss" in runs[0].stderr
    line = next(x for x in runs[1].stderr.splitlines() if x.startswith("jit: native exchange in "))
    assert "cache hit" in line, runs[1].stderr
