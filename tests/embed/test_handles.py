"""Handles: host objects behind an allow-list of methods."""

from __future__ import annotations

import io

import pytest

from tinyvm import VM, GuestException


class Store:
    def __init__(self) -> None:
        self.data: dict = {}
        self.secret = "s3cret"

    def get(self, k):
        return self.data.get(k)

    def put(self, k, v):
        self.data[k] = v

    def wipe(self):
        self.data.clear()


def setup():
    vm = VM(stdout=io.StringIO())
    store = Store()
    h = vm.handle(store, methods=["get", "put"])
    vm.globals["db"] = h
    return vm, store, h


def test_listed_methods_work_and_convert():
    vm, store, _ = setup()
    vm.run_source('db.put("k", [1, 2])')
    assert store.data == {"k": [1, 2]}
    assert vm.eval('db.get("k")') == [1, 2]
    assert vm.eval("typeof(db)") == "handle"
    assert vm.eval("str(db)") == "<handle Store>"
    assert vm.eval("str([db])") == "[<handle Store>]"


@pytest.mark.parametrize(
    "code",
    ["db.wipe()", "db.secret()", "db.__class__", "db.__init__()", "db.data()", "let f = db.data\nf()", 'db["get"]', "db.x = 1", "db._private()"],
)
def test_nothing_else_is_reachable(code):
    vm, store, _ = setup()
    store.data["keep"] = 1
    with pytest.raises(GuestException) as info:
        vm.run_source(code)
    assert info.value.class_name in ("TypeError", "Error")
    assert store.data == {"keep": 1}


def test_dunder_and_missing_names_are_refused_at_handle_time():
    vm = VM(stdout=io.StringIO())
    for bad in (["__class__"], ["_private"], ["nope"], "get"):
        with pytest.raises((ValueError, TypeError)):
            vm.handle(Store(), methods=bad)


def test_revoke_makes_every_later_use_an_error():
    vm, _, h = setup()
    vm.run_source("fn use() { return db.get(\"k\") }")
    assert vm.call("use") is None
    h.revoke()
    with pytest.raises(GuestException, match="revoked"):
        vm.call("use")


def test_handle_round_trips_as_itself_and_host_errors_map():
    vm, _, h = setup()
    vm.run_source("fn id(x) { return x }")
    assert vm.call("id", h) is h
    other = VM(stdout=io.StringIO())
    other.run_source("fn id(x) { return x }")
    with pytest.raises(TypeError, match="another VM"):
        other.call("id", h)
    vm.run_source('var m = ""\ntry { db.put([1], 2) } catch e { m = typeof(e) }')
    assert vm.globals["m"] == "HostError"  # unhashable list key: the host's TypeError
