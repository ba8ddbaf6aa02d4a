"""Object references and nil in native code (jit/native/objects.py; docs/native.md, "Object references and nil").

Each program runs on the interpreter, the Python JIT (`eager`) and
`native-eager`; stdout, stderr (traces) and the exit status must agree, and
the functions under test must have compiled natively (their log line), so
a silent fallback cannot pass.
"""

from __future__ import annotations

import pathlib

import pytest

pytest.importorskip("llvmlite")

from native_helpers import agree_log, cli, in_one_module, native, used

ROOT = pathlib.Path(__file__).resolve().parents[3]






NODE = """
class Node {
  var v: int
  var next: Node? = nil
  fn init(v: int) { self.v = v }
  fn total() -> int {
    return self.v + (self.next?.total() ?? 0)
  }
  fn half() -> float {
    return 0.5 + (self.next?.half() ?? 0.25)
  }
  fn any_even() -> bool {
    return self.v % 2 == 0 or (self.next?.any_even() ?? false)
  }
}

fn build(n: int) -> Node? {
  var head: Node? = nil
  var k = n
  while k > 0 {
    let e = Node(k)
    e.next = head
    head = e
    k = k - 1
  }
  return head
}

fn count(n: Node?) -> int {
  var k = 0
  var x = n
  while x != nil {
    k = k + 1
    x = x.next
  }
  return k
}

fn last(n: Node) -> Node {
  if n.next == nil {
    return n
  }
  return last(n.next!)
}

fn nth(n: Node?, k: int) -> Node? {
  var x = n
  var i = 0
  while i < k and x != nil {
    x = x.next
    i = i + 1
  }
  return x
}

fn first_value(n: Node?) -> int {
  return n!.v
}
"""


def test_linked_lists_walk_and_return_objects() -> None:
    src = NODE + """
let l = build(10)
print(count(l), count(nil), count(build(1)))
print(last(l!).v, last(Node(7)).v)
print(nth(l, 3)!.v, nth(l, 0)!.v, nth(l, 30) == nil, nth(nil, 2) == nil)
print(l!.total(), l!.half(), l!.any_even(), Node(3).any_even(), Node(3).total())
let k = nth(l, 4)
print(k == nth(l, 4), k != nth(l, 5), last(k!) == last(l!))
"""
    (code, out, _), _ = agree_log(src, "count", "last", "nth", "Node.total", "Node.half", "Node.any_even", "Node.init")
    assert code == 0
    assert out == "10 0 1\n10 7\n4 1 true true\n55 5.25 true false 3\ntrue true true\n"


def test_bang_on_nil_is_the_interpreters_error() -> None:
    src = NODE + """
print(first_value(build(3)))
print(first_value(nth(build(3), 5)))
"""
    (code, out, err), log = agree_log(src, "first_value")
    assert code == 1
    assert out == "1\n"
    assert "TypeError: unexpected nil" in err and "at first_value" in err
    assert any("deopt" in x and "a throw" in x for x in log), log


def test_nil_where_an_object_is_declared() -> None:
    # A nil `n` declared Node, passed through `any`: the interpreter's
    # error (the argument's check, or the receiver's check in native code).
    src = NODE + """
fn second(n: Node) -> int {
  return count(n.next)
}
print(second(build(4)!))
let a: any = nil
print(second(a))
"""
    (code, out, err), _ = agree_log(src, "second")
    assert code == 1 and out == "3\n" and "expected Node, got nil" in err


def test_identity_of_instances_and_structure_of_records() -> None:
    src = """
class C {
  var v: int
  fn init(v: int) { self.v = v }
}
fn same(a: C?, b: C?) -> bool { return a == b }
fn differ(a: C, b: C?) -> bool { return a != b }
fn req(a: {x: int, y: [int]}, b: {x: int, y: [int]}) -> bool { return a == b }
fn rne(a: {x: int}?, b: {x: int}?) -> bool { return a != b }
let n = C(1)
let m = C(1)
print(same(n, n), same(n, m), same(nil, nil), same(n, nil), same(nil, m))
print(differ(n, n), differ(n, m), differ(n, nil))
let r = {x: 1, y: [1, 2]}
print(req(r, r), req(r, {x: 1, y: [1, 2]}), req(r, {x: 1, y: [1, 3]}), req(r, {x: 2, y: [1, 2]}))
print(rne({x: 1}, {x: 1}), rne({x: 1}, {x: 2}), rne(nil, {x: 1}), rne(nil, nil))
"""
    (code, out, _), _ = agree_log(src, "same", "differ", "req", "rne")
    assert code == 0
    assert out == "true false true false false\nfalse true true\ntrue true false false\nfalse true true false\n"


def test_a_throw_inside_native_code_has_the_exact_trace() -> None:
    src = """
fn big(x: int) -> int {
  if x > 3 {
    throw Error("too big: " + str(x))
  }
  return x * 2
}
fn sum(n: int) -> int {
  var s = 0
  for i in 0..n {
    s = s + big(i)
  }
  return s
}
print(sum(3))
print(sum(10))
"""
    (code, out, err), _ = agree_log(src, "sum")
    assert code == 1 and out == "6\n"
    assert "Error: too big: 4" in err and "at big" in err and "at sum" in err


def test_arrays_of_optional_objects_are_read() -> None:
    src = NODE + """
fn tops(piles: [Node?]) -> int {
  var s = 0
  for k in 0..len(piles) {
    let t = piles[k]
    if t != nil and t.v > 1 {
      s = s + t.v
    }
  }
  return s
}
print(tops([Node(2), nil, Node(5), nil, Node(1)]), tops([]), tops([nil]))
"""
    (code, out, _), _ = agree_log(src, "tops")
    assert code == 0
    assert out == "7 0 0\n"


def test_object_arguments_are_checked_at_native_method_calls() -> None:
    # A subclass instance passed where the callee declares the base class:
    # the native call's guard fails, the VM makes the call (the same result).
    src = NODE + """
class Sub extends Node {
  fn init(v: int) { self.v = v * 10 }
}
class Walker {
  fn len_of(n: Node?) -> int { return count(n) }
  fn both(a: Node?, b: Node?) -> int {
    var s = 0
    for k in 0..3 {
      s = s + self.len_of(a) + self.len_of(b)
    }
    return s
  }
}
let w = Walker()
print(w.both(build(3), nil), w.both(Sub(2), build(2)), w.both(nil, nil))
"""
    (code, out, _), _ = agree_log(src, "Walker.both")
    assert code == 0
    assert out == "9 9 0\n"


def test_optional_scalars_named_by_a_state_stay_off_native() -> None:
    src = NODE + """
fn f(n: Node?) -> int {
  return (n?.total() ?? 100) + count(n)
}
print(f(build(3)), f(nil))
"""
    (code, out, _), _ = agree_log(src)
    assert code == 0
    assert out == "9 100\n"


def test_fuel_is_identical_on_every_tier() -> None:
    src = NODE + """
let l = build(30)
var s = 0
for k in 0..40 {
  s = s + count(nth(l, k % 7)) + l!.total()
  let t = nth(l, 31)
  if t == nil { s = s + 1 }
}
print(s)
print(first_value(nth(l, 99)))
"""
    got = [used(src, j) for j in ("off", "eager", "native-eager")]
    assert got[0][:2] == got[1][:2] == got[2][:2]
    assert "unexpected nil" in got[0][1]
    assert any(x.startswith("jit: native count in ") for x in got[2][2]), got[2][2]


@pytest.mark.parametrize("mode", [(), ("--gc", "incremental"), ("--gc", "generational")], ids=lambda m: " ".join(m) or "default")
def test_gc_stress_and_verify_on_a_linked_list_program(mode: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TVM_GC_STRESS", "1")
    monkeypatch.setenv("TVM_GC_VERIFY", "1")
    src = NODE + """
var keep: Node? = nil
for r in 0..6 {
  let l = build(20 + r)
  print(count(l), l!.total(), last(l!).v, nth(l, r)!.v)
  if r % 2 == 0 { keep = nth(l, 3) }
}
print(count(keep))
"""
    (code, out, _), _ = agree_log(src, "count", "Node.total", "last", "nth", extra=mode)
    assert code == 0 and out.endswith("\n25 325 25 6\n21\n")


def test_awfy_list_compiles_its_hot_functions() -> None:
    code, out, err = cli(["run", "--jit=native-eager", "--jit-log", str(ROOT / "benchmarks/awfy/run.tl"), "List", "1", "2"])
    assert code == 0, err
    log = err.splitlines()
    # (List.benchmark compiles whole now that make_list's `Element(length)`
    # is native too, construct.py: make_list, Element.init, tail,
    # is_shorter_than and Element.length in its module, or in the harness's
    # inner_benchmark_loop's, specialised on List: engine.py `_prepare`)
    assert in_one_module(log, "List.benchmark", "List.make_list", "Element.init", "List.tail", "List.is_shorter_than", "Element.length"), log
    assert not any("not native List.tail" in x or "not native List.is_shorter_than" in x for x in log), log
    assert "List: iterations=1" in out


def test_nil_results_and_nil_arguments() -> None:
    src = """
class Node {
  var v: int
  fn init(v: int) { self.v = v }
}
fn none() -> Node? { return nil }
fn ign(n: Node?, k: int) -> int { return k + 1 }
fn h(k: int) -> int { return ign(nil, k) }
fn pick(a: Node, b: bool) -> Node? {
  if b { return a }
  return nil
}
fn carried(n: int) -> int {
  var r = nil
  var s = 0
  for i in 0..n {
    for j in 0..n {
      s = s + j
      r = nil
    }
  }
  return s
}
print(none() == nil, h(3), pick(Node(2), true)!.v, pick(Node(2), false), carried(10))
"""
    (code, out, _), _ = agree_log(src, "none", "h", "pick", "Node.init", "carried")
    assert code == 0
    assert out == "true 4 2 nil 450\n"


def test_object_results_leave_reference_counts_flat() -> None:
    import io
    import sys

    from tinyvm.api import VM

    src = """
class Node {
  var v: int
  var next: Node? = nil
  fn init(v: int) { self.v = v }
}
let keep = Node(1)
keep.next = Node(2)
fn second(n: Node) -> Node? { return n.next }
fn same(n: Node?) -> Node? { return n }
fn loop(k: int, keep: Node) -> int {
  var s = 0
  for i in 0..k {
    let x = same(keep)
    let y = second(keep)
    if x != nil and y != nil { s = s + x.v + y.v }
  }
  return s
}
"""
    log: list[str] = []
    vm = VM(stdout=io.StringIO(), jit="native-eager", jit_log=log.append)
    vm.run_source(src, "t.tl")
    keep = vm.get("keep")
    nxt = keep.fields["next"]

    def run(n: int) -> None:
        assert vm.call("loop", n, keep) == 3 * n
        for _ in range(n // 100):
            vm.call("second", keep)  # (the entry op boxes the result: a new reference)
            vm.call("same", keep)

    run(1000)
    before = sys.getrefcount(keep), sys.getrefcount(nxt)
    run(100_000)
    assert (sys.getrefcount(keep), sys.getrefcount(nxt)) == before
    for name in ("loop", "second", "same"):
        assert native(name, log), log
