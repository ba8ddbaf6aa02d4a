"""A TinyLang `Set` (1.1, runtime/sets.py) crosses to Python as a set and back
(spec section 13, "Interop")."""

from __future__ import annotations

import io

import pytest

from tinyvm import VM


def make() -> VM:
    vm = VM(stdout=io.StringIO())
    vm.run_source('fn id(x) { return x }\nfn mk() { return Set([3, 1, "a", nil, true]) }\nfn show(s) { print(s, typeof(s), s.has(2)) }')
    return vm


def test_guest_set_is_a_python_set():
    assert make().call("mk") == {3, 1, "a", None}


def test_python_set_is_a_guest_set():
    out = io.StringIO()
    vm = VM(stdout=out)
    vm.run_source("fn show(s) { print(typeof(s), s.has(2), s.has(5), len(s)) }")
    vm.call("show", {1, 2, 3})
    vm.call("show", {2})
    assert out.getvalue() == "Set true false 3\nSet true false 1\n"
    with pytest.raises(TypeError, match="frozenset"):  # (only set has a guest form)
        vm.call("show", frozenset({2}))


def test_round_trip_and_nested():
    vm = make()
    assert vm.call("id", {1, "x", 2.5}) == {1, "x", 2.5}
    assert vm.call("id", [{1}, {"k": {2}}]) == [{1}, {"k": {2}}]


def test_bad_element_is_type_error():
    with pytest.raises(TypeError, match="map key"):
        make().call("id", {(1, frozenset())})  # (a tuple of keys is a key since 1.1: this one holds a bad element)


def test_sets_survive_collections():
    out = io.StringIO()
    vm = VM(stdout=out, gc_stress=True)
    vm.run_source('var keep = Set<string>()\nfor i in 0..50 { keep.add("s" + str(i)); let junk = [i, [i]] }\nprint(len(keep), keep.has("s49"))')
    assert out.getvalue() == "50 true\n"
