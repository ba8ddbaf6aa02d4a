"""The `time` standard module (spec section 11): clocks in milliseconds.

`make_time_module(vm)` returns the module's exports, name -> Native:

* `now_ms()` -- wall-clock time, integer milliseconds since the Unix epoch
  (floor of the host's `time.time_ns()` / 1e6). It may jump when the host clock
  is adjusted.
* `monotonic_ms()` -- integer milliseconds of a monotonic clock with an
  unspecified origin; never decreases, so use it to measure durations.

Both take no arguments and return ints.

* `format(ms, layout)` / `parse(text, layout)` (1.1): UTC text, see timefmt.py.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from ..heap.objects import Native
from ..runtime.builtins import arg_count_error
from .timefmt import format_ms, parse_ms

__all__ = ["make_time_module"]


def make_time_module(vm: Any) -> dict[str, Any]:
    """The exports of `import time`, functions allocated on vm.heap. The
    clocks are read through vm.inputs (runtime/inputs.py: recorded runs log
    them, replays return the logged values)."""
    alloc = vm.heap.alloc

    def _now_ms(*args: Any) -> int:
        if args:
            raise arg_count_error("time.now_ms", 0, len(args))
        return vm.inputs.take("time", time.time_ns) // 1_000_000

    def _monotonic_ms(*args: Any) -> int:
        if args:
            raise arg_count_error("time.monotonic_ms", 0, len(args))
        return vm.inputs.take("mono", time.monotonic_ns) // 1_000_000

    def _monotonic_us(*args: Any) -> int:
        if args:
            raise arg_count_error("time.monotonic_us", 0, len(args))
        return vm.inputs.take("mono", time.monotonic_ns) // 1_000

    def _format(*args: Any) -> str:
        if len(args) != 2:
            raise arg_count_error("time.format", 2, len(args))
        return format_ms(*args)

    def _parse(*args: Any) -> int:
        if len(args) != 2:
            raise arg_count_error("time.parse", 2, len(args))
        return parse_ms(*args)

    fns: list[tuple[str, Callable[..., Any], int]] = [
        ("now_ms", _now_ms, 0),
        ("monotonic_ms", _monotonic_ms, 0),
        ("monotonic_us", _monotonic_us, 0),
        # 1.1: UTC text <-> ms (stdlib/timefmt.py has the layout syntax)
        ("format", _format, 2),
        ("parse", _parse, 2),
    ]
    return {name: alloc(Native(name, fn, arity)) for name, fn, arity in fns}
