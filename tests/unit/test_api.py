"""The embedding API: running code, calling in, conversions, errors, isolation."""

from __future__ import annotations

import io

import pytest

from tinyvm import VM, GuestException
from tinyvm.lang.diagnostics import CompileError

SOURCE = """
fn add(a, b) { return a + b }
fn div(a, b) { return a / b }
fn outer(a, b) { return div(a, b) }
fn make() { return {x: 1, ys: [1, 2.5, "s", true, nil], m: ["k": [1]]} }
fn keys(m) { return m.keys() }
var counter = 0
fn bump() -> int { counter += 1; return counter }
class Box {
  var v = 0
  fn init(v) { self.v = v }
  fn get() { return self.v }
}
fn box(v) { return Box(v) }
fn unbox(b) { return b.get() }
"""


def make_vm() -> VM:
    vm = VM(stdout=io.StringIO())
    vm.run_source(SOURCE, "lib.tl")
    return vm


def test_call_converts_scalars_and_containers_both_ways():
    vm = make_vm()
    assert vm.call("add", 2, 3) == 5
    assert vm.call("add", 1.5, 2) == 3.5
    assert vm.call("add", "a", "b") == "ab"
    assert vm.call("add", [1, 2], [3]) == [1, 2, 3]
    assert vm.call("make") == {"x": 1, "ys": [1, 2.5, "s", True, None], "m": {"k": [1]}}
    # Map keys keep their kinds (bool stays bool, nil stays None) both ways.
    assert vm.call("keys", {True: 1, 2: 2, "s": 3, None: 4}) == [True, 2, "s", None]
    assert vm.call("make")["ys"][3] is True


def test_guest_objects_round_trip_as_handles():
    vm = make_vm()
    b = vm.call("box", 42)
    assert vm.call("unbox", b) == 42


def test_guest_error_carries_class_message_and_guest_stack():
    vm = make_vm()
    with pytest.raises(GuestException) as info:
        vm.call("outer", 1, 0)
    e = info.value
    assert e.class_name == "ZeroDivisionError"
    assert e.message == "division by zero"
    assert e.trace[0] == "at div (lib.tl:3:25)"  # the column of `/`
    assert e.trace[1].startswith("at outer (lib.tl:4:")
    # The VM stays usable after an error.
    assert vm.call("add", 1, 1) == 2


def test_wrong_arity_from_host_is_a_guest_type_error():
    vm = make_vm()
    with pytest.raises(GuestException) as info:
        vm.call("add", 1)
    assert info.value.class_name == "TypeError"
    assert "expects 2 arguments, got 1" in info.value.message


def test_out_of_range_int_is_rejected_before_entering_the_guest():
    vm = make_vm()
    with pytest.raises(OverflowError):
        vm.call("add", 2**63, 1)


def test_many_vms_do_not_share_state():
    a, b = make_vm(), make_vm()
    assert [a.call("bump") for _ in range(3)] == [1, 2, 3]
    assert b.call("bump") == 1  # b's globals are its own
    assert a.machine.heap is not b.machine.heap
    assert a.machine.builtins["print"] is not b.machine.builtins["print"]


def test_output_goes_to_the_vms_own_stream():
    out1, out2 = io.StringIO(), io.StringIO()
    VM(stdout=out1).run_source('print("one")')
    VM(stdout=out2).run_source('print("two")')
    assert out1.getvalue() == "one\n" and out2.getvalue() == "two\n"


def test_compile_errors_raise_compile_error_with_every_diagnostic():
    vm = VM(stdout=io.StringIO())
    with pytest.raises(CompileError) as info:
        vm.run_source("let x = y\nlet z = w\n", "bad.tl")
    rendered = info.value.render()
    assert "bad.tl:1:9: error: undeclared name 'y'" in rendered
    assert "bad.tl:2:9: error: undeclared name 'w'" in rendered
    assert len(info.value.diagnostics) == 2


def test_gc_collects_garbage_and_keeps_live_values():
    vm = VM(stdout=io.StringIO())
    vm.run_source("var keep = []\nfn churn(n) { for i in 0..n { let t = [i, [i]] }; keep.push([n]); return len(keep) }")
    heap = vm.machine.heap
    vm.call("churn", 1000)
    before = heap.count
    freed = vm.machine.collect()
    assert freed > 0 and heap.count < before
    assert vm.call("churn", 1) == 2  # `keep` survived the collection
