"""Regression tests for the embedding bugs of issue 12."""

from __future__ import annotations

import io

import pytest

from tinyvm import VM, GuestException


def test_run_source_twice_runs_each_text():
    out = io.StringIO()
    vm = VM(stdout=out)
    vm.run_source('print("a")')
    vm.run_source('print("b")')
    assert out.getvalue() == "a\nb\n"


def test_lox_run_does_not_leave_its_frame_limit_for_tinylang(tmp_path):
    vm = VM(stdout=io.StringIO())
    vm.run_source("fun f() { return 1; }", "x.lox")
    vm.run_source("fn down(n) { if n == 0 { return 0 }; return 1 + down(n - 1) }")
    assert vm.call("down", 1000) == 1000  # far past clox's 64 frames
    with pytest.raises(GuestException) as info:
        vm.run_source("fun g(n) { if (n == 0) return 0; return g(n - 1); } g(100);", "y.lox")
    assert info.value.class_name == "StackOverflowError"  # Lox code keeps its own limit


# (A Python set crosses as a guest Set since 1.1: tests/embed/test_sets.py.)
@pytest.mark.parametrize("value", [b"x", io, object(), bytearray(b"a"), 1j])
def test_arbitrary_python_objects_are_refused(value):
    vm = VM(stdout=io.StringIO())
    vm.run_source("fn id(x) { return x }")
    with pytest.raises(TypeError, match=type(value).__name__):
        vm.call("id", value)
    with pytest.raises(TypeError):
        vm.call("id", [1, [value]])


def test_host_calls_a_closure_it_got_back():
    vm = VM(stdout=io.StringIO())
    vm.run_source("fn adder(n) { return fn(x) { return x + n } }")
    add5 = vm.call("adder", 5)
    assert add5(1) == 6
    assert vm.call("adder", 1)(41) == 42
