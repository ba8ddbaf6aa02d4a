"""The `gc` standard module: the collector, seen from the guest (docs/gc.md).

`make_gc_module(vm)` returns the module's exports:

* `gc.collect()` -- run a full collection now; returns the number of objects
  it freed. It needs no capability (it only changes when memory is reclaimed).
* `gc.stats()` -- the collector's statistics (heap/gcstats.py) as a map, the
  same keys as the host's `vm.gc_stats()`: nested records become maps.
* `gc.mode()` -- the collector's mode: "stw", "incremental" or
  "generational"; `gc.mode(name)` switches to it at once and returns the
  mode it replaced (as Lua's `collectgarbage("incremental")` does). An
  unknown name is a ValueError naming the modes.

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

from ..heap.objects import Map, Native
from ..heap.tuning import MODES
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
        old = vm.heap.mode
        if args:
            want = args[0]
            if want not in MODES:
                shown = want if isinstance(want, str) else type(want).__name__
                raise RtError("ValueError", f"unknown gc mode '{shown}': the modes are {', '.join(MODES)}")
            # (Switching frees nothing and marks nothing live: safe inside a call.)
            vm.heap.set_mode(want)
        return old

    return {
        "collect": alloc(BlockingNative("collect", collect, -1)),
        "stats": alloc(Native("stats", stats, -1)),
        "mode": alloc(Native("mode", mode, -1)),
    }


# --------------------------------------------------------------------------- Lox

# The report's numbers as flat fields of an instance: Lox reads fields
# (`gc.stats().collections`) but has no maps or indexing.
LOX_FIELDS = (
    ("collections", ("collections",)),
    ("full", ("by_kind", "full")),
    ("emergency", ("by_kind", "emergency")),
    ("minor", ("by_kind", "minor")),
    ("major", ("by_kind", "major")),
    ("incremental_slice", ("by_kind", "incremental-slice")),
    ("cycles", ("cycles",)),
    ("pause_p50_ms", ("pause", "p50_ms")),
    ("pause_p99_ms", ("pause", "p99_ms")),
    ("pause_max_ms", ("pause", "max_ms")),
    ("pause_total_ms", ("pause", "total_ms")),
    ("allocated_bytes", ("allocated_bytes",)),
    ("freed_bytes", ("freed_bytes",)),
    ("promoted_bytes", ("promoted_bytes",)),
    ("freed_objects", ("freed_objects",)),
    ("heap_bytes", ("heap_bytes",)),
    ("peak_bytes", ("peak_bytes",)),
    ("limit_bytes", ("limit_bytes",)),
    ("live_bytes", ("live_bytes",)),
    ("live_objects", ("live_objects",)),
    ("objects", ("objects",)),
)


def make_lox_gc(vm: Any) -> Any:
    """Lox's `gc` global (Lox cannot import): an object with the module's
    methods, `gc.collect()`, `gc.stats()` (an instance with the report's
    numbers as fields, plus `mode`) and `gc.mode()`; the same functions as
    TinyLang's module, each taking the object as its receiver."""
    from ..heap.layout import new_instance
    from ..heap.objects import Class

    exports = make_gc_module(vm)
    alloc = vm.heap.alloc
    collect, mode_fn = exports["collect"].fn, exports["mode"].fn

    def lox_collect(fb: Any, args: list, ret: Any) -> Any:
        return collect(fb, args[1:], ret)  # (args[0]: the receiver)

    def lox_stats(_self: Any, *args: Any) -> Any:
        if args:
            raise arg_count_error("gc.stats", 0, len(args))
        report = vm.gc_stats()
        fields: dict[str, Any] = {}
        for name, path in LOX_FIELDS:
            v: Any = report
            for k in path:
                v = v.get(k, 0)  # (a kind the mode never made: 0)
            fields[name] = float(v)  # (Lox numbers are doubles)
        fields["mode"] = report["mode"]
        # A class per report: only the report refers to it, so it lives as
        # long as the report does (a class held by this closure alone would
        # be no root's, and collected).
        cls = alloc(Class("GCStats", None, None))
        # Open (a Lox object: fields come and go), so new_instance gives it a
        # dict (heap/layout.py: open classes are never laid out), filled here;
        # the accounting is Instance.size's for these fields, as before.
        cls.open = True
        inst = new_instance(vm.heap, cls)
        inst.fields.update(fields)
        return alloc(inst)

    def lox_mode(_self: Any, *args: Any) -> Any:
        return mode_fn(*args)

    cls = alloc(Class("gc", None, None))
    for name, native in (
        ("collect", alloc(BlockingNative("collect", lox_collect, -1))),
        ("stats", alloc(Native("stats", lox_stats, -1))),
        ("mode", alloc(Native("mode", lox_mode, -1))),
    ):
        cls.methods[name] = cls.own_methods[name] = native
    # A special object: a namespace of natives with no fields, made once when
    # the Lox globals are set up. It keeps a dict ON PURPOSE (layout False):
    # what it is must not depend on whether the heap lays out instances yet
    # (the native tier, attached maybe later, may turn Heap.lays_out off), and
    # nothing reads its fields in a hot path. A field write still fails as
    # on any closed instance ("gc has no field 'x'"), size is the same.
    cls.layout = False
    return alloc(new_instance(vm.heap, cls))
