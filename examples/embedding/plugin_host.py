"""A plugin host: plugins are TinyLang files, each in a VM of its own, given
host functions (`log`) and a handle on a host object (`store`, with only the
methods `incr` and `get` reachable), and run with a fuel budget per event.

    python examples/embedding/plugin_host.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from tinyvm import VM, GuestException, LimitExceeded

PLUGINS = Path(__file__).resolve().parent / "plugins"


class Store:
    """Host state the plugins share: counters. The guest reaches only the
    methods listed when the handle is made (no attributes, no `_private`)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def incr(self, key: str) -> int:
        self._counts[key] = self._counts.get(key, 0) + 1
        return self._counts[key]

    def get(self, key: str) -> int:
        return self._counts.get(key, 0)


def load_plugin(path: Path, store: Store, log: list[str]) -> VM:
    vm = VM(meter_fuel=True, timeout=1.0)  # every call: at most 1 s, and the fuel it is given

    @vm.function(name="log")
    def log_line(message: str) -> None:
        log.append(f"[{path.stem}] {message}")

    vm.globals["store"] = vm.handle(store, methods=["incr", "get"], name="Store")
    # The plugin's text runs in the VM's namespace; its exports are globals there.
    vm.run_source(path.read_text(encoding="utf-8"), path=path.name, fuel=100_000)
    return vm


def main() -> int:
    store, log = Store(), []
    plugins = {p.stem: load_plugin(p, store, log) for p in sorted(PLUGINS.glob("*.tl"))}
    for event in ["alice", "bob"]:
        for name, vm in plugins.items():
            try:
                print(f"{name}: {vm.call('on_event', event, fuel=50_000)}")
            except LimitExceeded as e:  # OutOfFuel, DeadlineExceeded...: the VM stays usable
                print(f"{name}: stopped ({e.limit}: {e})")
            except GuestException as e:
                print(f"{name}: failed ({e.class_name}: {e.message})")
    print("\n".join(log))
    print(f"greeted={store.get('greeted')} shouted={store.get('shouted')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
