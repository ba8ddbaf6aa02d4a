"""Binding a host library safely: the guest gets *functions* for `time` (the
few it needs, typed, wrapping the library) and a *handle* on a key-value
store (an allow-list of methods), never the library or the object itself.

    python examples/embedding/bind_library.py

The rules it follows (docs/embedding.md, "Binding a host library safely"):
expose the smallest surface, typed; values cross by copy (conversions), host
objects only as handles; every host function's work is bounded (the guest
pays fuel for it with `vm.charge`, sizes are checked); host errors become
guest `HostError`s with messages that name no host path; access can be
revoked.
"""

from __future__ import annotations

import sys
import time

from tinyvm import VM, GuestException, OutOfFuel

MAX_VALUE = 1024  # characters per stored value
MAX_KEYS = 100


class KeyValueStore:
    """The host object. Its `_data` and `dump_to_disk` are never reachable:
    the handle lists `get`, `put`, `keys` only."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self._data.get(key)

    def put(self, key: str, value: str) -> None:
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError("keys and values are strings")
        if len(value) > MAX_VALUE:
            raise ValueError(f"value too long ({len(value)} > {MAX_VALUE} characters)")
        if key not in self._data and len(self._data) >= MAX_KEYS:
            raise ValueError(f"the store is full ({MAX_KEYS} keys)")
        self._data[key] = value

    def keys(self) -> list[str]:
        return sorted(self._data)

    def dump_to_disk(self, path: str) -> None:  # a host-only method
        raise RuntimeError("never called by the guest")


def make_vm(store: KeyValueStore, clock=time.time) -> tuple[VM, object]:
    vm = VM(fuel=1_000_000, timeout=1.0)

    # `time`: two typed functions, not the module (no `time.sleep` blocking the
    # VM's thread, no `time.__dict__`).
    @vm.function
    def now() -> float:
        return clock()

    @vm.function
    def format_time(t: float) -> str:
        vm.charge(10)  # its cost in instructions
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))

    kv = vm.handle(store, methods=["get", "put", "keys"], name="KV")
    vm.globals["kv"] = kv
    return vm, kv


SCRIPT = """
fn remember(name: string) -> string {
  kv.put(name, format_time(now()))
  return "${name} at ${kv.get(name)}"
}
fn too_big() -> string {
  var big = ""
  for i in 0..2000 { big = big + "x" }
  try { kv.put("big", big) } catch e { return "${typeof(e)}: ${e.message}" }
  return "stored"
}
fn probe() -> string {
  try { let k: any = kv
        return k.dump_to_disk("/etc/passwd") } catch e { return "${typeof(e)}: ${e.message}" }
}
fn busy() { while true { format_time(now()) } }
"""


def main() -> int:
    store = KeyValueStore()
    vm, kv = make_vm(store, clock=lambda: 1_700_000_000.0)  # a fixed clock: the output is the same on every run
    vm.run_source(SCRIPT, path="script.tl")
    print(vm.call("remember", "alice"))
    print(vm.call("too_big"))
    print(vm.call("probe"))
    print(f"keys: {store.keys()}")
    try:
        vm.call("busy", fuel=5000)
    except OutOfFuel as e:
        print(f"busy: {e}")
    kv.revoke()  # the host takes the store back
    try:
        vm.call("remember", "bob")
    except GuestException as e:
        print(f"after revoke: {e.class_name}: {e.message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
