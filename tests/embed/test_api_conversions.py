"""Host <-> guest conversions (embed/convert.py)."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyvm import VM


def make() -> VM:
    vm = VM(stdout=io.StringIO())
    vm.run_source("fn id(x) { return x }\nfn mk() { let a: [any] = [1]; a.push(a); return a }\nfn gen() { yield 1; yield 2; return 3 }\nasync fn task(x) { return x * 2 }\nclass P { var v = 1 }\nfn p() { return P() }")
    return vm


def test_scalars_and_containers_round_trip():
    vm = make()
    for v in [None, True, False, 0, -5, 2**63 - 1, 1.5, "s", [1, [2, "x"]], {"a": [1], 2: None, True: 1.0}]:
        assert vm.call("id", v) == v
    assert vm.call("id", (1, 2)) == (1, 2)  # a tuple since TinyLang 1.1 (tests/embed/test_tuples.py)
    assert type(vm.call("id", True)) is bool


def test_int_out_of_range_is_overflow():
    vm = make()
    with pytest.raises(OverflowError):
        vm.call("id", [2**63])


def test_bad_map_key_is_type_error():
    vm = make()
    with pytest.raises(TypeError, match="map key"):
        vm.call("id", {(1, frozenset()): 1})


def test_cycles_are_kept_both_ways():
    vm = make()
    a: list = [1]
    a.append(a)
    back = vm.call("id", a)
    assert back[1] is back
    guest_made = vm.call("mk")
    assert guest_made[1] is guest_made


def test_deep_nesting_has_no_recursion_error():
    vm = make()
    v: list = []
    for _ in range(100000):
        v = [v]
    back = vm.call("id", v)
    depth = 0
    while back:
        back = back[0]
        depth += 1
    assert depth == 100000


def test_generators_tasks_and_objects():
    vm = make()
    assert list(vm.call("gen")) == [1, 2]
    assert vm.call("task", 21).result() == 42
    p = vm.call("p")
    assert p.guest_type == "P"
    assert vm.call("id", p).value is p.value


def test_values_of_another_vm_are_refused():
    a, b = make(), make()
    p = a.call("p")
    with pytest.raises(TypeError, match="another VM"):
        b.call("id", p)
    with pytest.raises(TypeError, match="another VM"):
        b.call("id", a.globals["id"])


def test_held_guest_values_survive_collection():
    vm = make()
    p = vm.call("p")
    vm.run_source("for i in 0..1000 { let t = [i] }")
    vm.machine.collect()
    assert vm.call("id", p).value.fields["v"] == 1


scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text()
keys = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=20)


@settings(max_examples=60, deadline=None)
@given(values)
def test_round_trip_property(v):
    vm = VM(stdout=io.StringIO())
    vm.run_source("fn id(x) { return x }")
    back = vm.call("id", v)
    assert back == v
    assert repr(back) == repr(v)  # True stays True, 1 stays 1
