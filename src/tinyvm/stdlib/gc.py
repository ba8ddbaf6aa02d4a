"""The `gc` standard module: the collector, seen from the guest (docs/gc.md).

`make_gc_module(vm)` returns the module's exports:

* `gc.collect()` -- run a full collection now; returns the number of objects
  it freed. It needs no capability (it only changes when memory is reclaimed).
* `gc.stats()` -- the collector's statistics (heap/gcstats.py) as a map, the
  same keys as the host's `vm.gc_stats()`: nested records become maps.
* `gc.mode()` -- the collector's mode, "stw"; `gc.mode("stw")` selects it
  (and returns it). The generational and incremental modes are not built yet:
  asking for one is a ValueError naming the modes that are.

Why `collect` parks the caller for one dispatch. A collection may only run at
a safe point, where every live value is in a root (heap/heap.py): inside a
built-in call, the calling instruction (or compiled code) may hold new values
in Python locals that no root reaches, and the sweep would poison them. So
`collect` is a blocking built-in (sched/concurrency.BlockingNative): it
returns an op that runs as the next dispatch -- after the call instruction
finished, when the fiber's frames hold everything -- collects there, pushes
the count and continues at the call's return point. One such op is made per
call site (cached), as the VM does for its other continuations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..heap.gcstats import FUTURE_MODES, MODES
from ..heap.objects import Map, Native
from ..runtime.builtins import arg_count_error
from ..runtime.errors import RtError
from ..sched.concurrency import BlockingNative

__all__ = ["make_gc_module", "to_guest_map"]


def to_guest_map(vm: Any, value: Any) -> Any:
    """A JSON-able report (dicts, lists, scalars) as guest values: dicts become
    maps and lists arrays, allocated on vm's heap."""
    from ..heap.objects import Array

    heap = vm.heap
    if isinstance(value, dict):
        return heap.alloc(Map({k: to_guest_map(vm, v) for k, v in value.items()}))
    if isinstance(value, list):
        return heap.alloc(Array([to_guest_map(vm, v) for v in value]))
    return value


def make_gc_module(vm: Any) -> dict[str, Any]:
    """The exports of `import gc`, allocated on vm.heap."""
    alloc = vm.heap.alloc
    meter = vm.limits.meter
    ops: dict[Any, Callable] = {}  # return point -> its collecting continuation

    def collect_op(ret: Any) -> Callable:
        op = ops.get(ret)
        if op is None:

            def op(fb: Any) -> Any:
                meter.cell_contents -= 1  # (no instruction: the call's tail)
                fb.L.append(vm.collect())
                return ret

            vm.op_info[op] = (None, -1)  # (no place of its own: steppers count it, no events)
            vm.op_weight[op] = 0
            ops[ret] = op
        return op

    def collect(fb: Any, args: list, ret: Any) -> Any:
        if args:
            raise arg_count_error("gc.collect", 0, len(args))
        return collect_op(ret)

    def stats(*args: Any) -> Any:
        if args:
            raise arg_count_error("gc.stats", 0, len(args))
        return to_guest_map(vm, vm.gc_stats())

    def mode(*args: Any) -> str:
        if len(args) > 1:
            raise arg_count_error("gc.mode", "0 or 1", len(args))
        if args:
            want = args[0]
            if want not in MODES:
                shown = want if isinstance(want, str) else type(want).__name__
                if want in FUTURE_MODES:
                    raise RtError("ValueError", f"gc mode '{shown}' is not built yet: the modes built are {', '.join(MODES)}")
                raise RtError("ValueError", f"unknown gc mode '{shown}': the modes built are {', '.join(MODES)} (not built yet: {', '.join(FUTURE_MODES)})")
        return MODES[0]

    return {
        "collect": alloc(BlockingNative("collect", collect, -1)),
        "stats": alloc(Native("stats", stats, -1)),
        "mode": alloc(Native("mode", mode, -1)),
    }
