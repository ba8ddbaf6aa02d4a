"""Tuples crossing between Python and the guest (TinyLang 1.1 section 13,
"Interop"): a guest tuple is a Python tuple and back (embed/convert.py)."""

from __future__ import annotations

import io

import pytest

from tinyvm import VM

SOURCE = """
fn id(x) { return x }
fn pair() -> (int, string) { return (1, "a") }
fn nested() { return ((1, [2, (3,)]), ["k": (4, 5)]) }
fn first(t: (int, string)) -> int { return t.0 }
fn describe(t) { return "${typeof(t)} ${len(t)} ${t}" }
fn keyed() { return [(1, 2): "a", (3, (4, 5)): "b"] }
fn lookup(m, k) { return m[k] }
fn cyc() {
  let xs: [any] = []
  let t = (0, xs)
  xs.push(t)
  return t
}
"""


def make() -> VM:
    vm = VM(stdout=io.StringIO())
    vm.run_source(SOURCE)
    return vm


def test_guest_tuple_is_a_python_tuple():
    vm = make()
    assert vm.call("pair") == (1, "a")
    assert type(vm.call("pair")) is tuple
    assert vm.call("nested") == ((1, [2, (3,)]), {"k": (4, 5)})


def test_python_tuple_is_a_guest_tuple():
    vm = make()
    assert vm.call("describe", (1, "x")) == 'tuple 2 (1, "x")'
    assert vm.call("describe", (7,)) == "tuple 1 (7,)"
    assert vm.call("first", (5, "s")) == 5  # fits the typed parameter
    with pytest.raises(Exception, match=r"expected \(int, string\), got array"):
        vm.call("first", [5, "s"])


def test_round_trip_and_tuple_keys():
    vm = make()
    v = (1, (2.5, None), [True, ("s",)])
    assert vm.call("id", v) == v
    assert vm.call("keyed") == {(1, 2): "a", (3, (4, 5)): "b"}
    assert vm.call("lookup", {(1, "a"): 9}, (1, "a")) == 9
    assert vm.call("id", {(1, (2, 3)): "x"}) == {(1, (2, 3)): "x"}


def test_cycle_through_an_array_is_kept():
    vm = make()
    t = vm.call("cyc")
    assert type(t) is tuple and t[0] == 0
    assert t[1][0] is t


def test_a_tuple_holding_a_non_key_is_no_key():
    vm = make()
    with pytest.raises(TypeError, match="map key"):
        vm.call("id", {(1, frozenset()): 1})


def test_host_function_tuple_annotations():
    out = io.StringIO()
    vm = VM(stdout=out)

    @vm.function
    def split_pair(s: str) -> tuple[str, int]:
        name, n = s.split(":")
        return (name, int(n))

    @vm.function
    def swap(p: tuple[int, str]) -> tuple[str, int]:
        return (p[1], p[0])

    vm.run_source('let (n, k) = split_pair("x:3")\nprint(n, k + 1, swap((1, "a")))')
    assert out.getvalue() == 'x 4 ("a", 1)\n'
