"""Sandbox limits of one VM: fuel, wall-clock deadlines, interrupts, output.

One `Limits` per Machine (`machine.limits`); the embedding API and the CLI
set it, the dispatch loop (vm/machine.py `_loop`) and the scheduler's
blocking wait (sched/scheduler.py `wait_for_work`) enforce it. Nothing here
is a module global: many VMs, many limits.

**Fuel** counts bytecode instructions executed (docs/limits.md has the cost
table). The loop counts its dispatches for free (`for i in range(n)`); what
a dispatch stands for beyond one instruction goes into the `meter` cell: a fused
block or pair adds its extra instructions, an unconditional JUMP (free) and
the loop's own continuations (a fiber's end, the return to the host)
subtract one, and built-ins charge their work (`charge`). The loop folds the
dispatches and the meter into `spent` at the end of every chunk, so
`fuel_used` is exact there; between chunk ends it adds the dispatches in
flight, read from the running loops' frames (`_in_flight`): that is only
done when a built-in charges with a limit set, or the host reads the count
mid-run, and it costs the dispatch loop nothing.

The tank (`fuel`) and the per-run cap (`scope(fuel=...)`) are kept as the
values of `spent` at which they run dry (`_tank_end`, `_cap_end`); `stop` is
the nearer one. The loop runs whole chunks while the fuel left covers a
chunk of the heaviest ops (`blocks.MAX_WEIGHT` instructions each), then smaller
ones, then one dispatch at a time, where an op that stands for more
instructions than are left runs from its plain (unfused) copy instead: a run
with fuel F executes exactly F instructions, on every tier, and `OutOfFuel`
is raised before the one that would exceed it.

**Deadlines and interrupts** are checked where the loop already stops: at
chunk ends (`armed` is one attribute test there), and in the scheduler's
blocking wait, which never sleeps past the deadline and which `interrupt()`
wakes from any thread (through the scheduler's waker: `wake`).

**Output**: `max_output` bytes per run, counted by `OutputMeter`, the stream
the machine writes through while a limit is set.

A `LimitExceeded` is not the guest's: no `catch` or `finally` runs for it
(the loop lets it through), and the outermost run tears the run down before
it reaches the host (Machine.teardown).
"""

from __future__ import annotations

import sys
import time
from types import CellType
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..runtime.errors import (
    DeadlineExceeded,
    Interrupted,
    OutOfFuel,
    OutputLimitExceeded,
)

# Built-ins charge one unit of fuel per this many elements or characters of
# work (docs/limits.md), on top of the one instruction that called them.
ITEMS_PER_UNIT = 64


NOT_METERED = "this VM does not count fuel: make it with VM(fuel=N) or VM(meter_fuel=True) to give runs fuel limits"


class Limits:
    """The limits of one Machine, and what was used of them (see the module docstring)."""

    per_unit = ITEMS_PER_UNIT  # (for the built-ins, which cannot import this module)

    def __init__(self, wake: Callable[[], None]) -> None:
        self.metered = False  # fuel is counted (fixed when the machine is made)
        self.meter = CellType(0)  # units not folded into `spent` yet (may be negative): see blocks.bind_fuel
        self.spent = 0  # units folded by the loop
        self._tank_end: int | None = None  # `spent` at which the tank is empty
        self._cap_end: int | None = None  # ... and the current run's cap
        self._cap_fuel: int | None = None  # the run's fuel at its start (for the message)
        self.stop: int | None = None  # the nearer of the two; None: unlimited
        self.timeout: float | None = None  # the default per-run timeout (seconds)
        self._max_output: int | None = None
        self.output = 0  # bytes written by the current run
        self.deadline: float | None = None  # monotonic time the current run must end by
        self._run_timeout: float | None = None
        self.interrupted = False
        self.armed = False  # a deadline or an interrupt: the loop calls check()
        self.depth = 0  # nested scopes (a host function calling back into the guest)
        self.loop_code: Any = None  # Machine._loop.__code__ (for _in_flight)
        self.on_output_limit: Callable[[int | None], None] = lambda n: None
        self._wake = wake

    # ------------------------------------------------------------------ fuel

    @property
    def fuel_used(self) -> int | None:
        """Fuel charged since the VM was made (every run, limited or not);
        None on a VM that does not count fuel."""
        if not self.metered:
            return None
        return self.spent + self.meter.cell_contents + self._in_flight()

    @property
    def fuel(self) -> int | None:
        """The tank: fuel left for the runs to come (None: unlimited)."""
        if self._tank_end is None:
            return None
        return max(0, self._tank_end - self.fuel_used)

    @fuel.setter
    def fuel(self, value: int | None) -> None:
        if value is not None and (type(value) is not int or value < 0):
            raise ValueError(f"fuel must be a non-negative int or None, got {value!r}")
        if value is not None and not self.metered:
            raise ValueError(NOT_METERED)
        self._tank_end = None if value is None else self.fuel_used + value
        self._restop()

    def _restop(self) -> None:
        ends = [e for e in (self._tank_end, self._cap_end) if e is not None]
        self.stop = min(ends) if ends else None

    def _in_flight(self) -> int:
        """Dispatches the running loops have made in their current chunk (not
        folded yet): each loop's `i` is the index of the dispatch it is in."""
        n = 0
        f = sys._getframe(1)
        while f is not None:
            if f.f_code is self.loop_code:
                n += f.f_locals.get("i", -1) + 1
            f = f.f_back
        return n

    def charge(self, units: int) -> None:
        """A built-in (or a host function) pays `units` of fuel for its work;
        OutOfFuel, before the work is done, when the fuel left cannot pay."""
        if units <= 0 or not self.metered:
            return
        if self.stop is not None and self.fuel_used + units > self.stop:
            raise self.out_of_fuel()
        self.meter.cell_contents += units

    def charge_items(self, n: int) -> None:
        """Charge for work over n elements or characters (ITEMS_PER_UNIT each unit)."""
        if n >= ITEMS_PER_UNIT:
            self.charge(n // ITEMS_PER_UNIT)

    def out_of_fuel(self) -> OutOfFuel:
        if self._cap_fuel is not None:
            return OutOfFuel(f"out of fuel: the program used its {self._cap_fuel} instructions")
        return OutOfFuel("out of fuel: the VM's fuel is used up")  # (the host emptied the tank mid-run)

    # ------------------------------------------------------------------ time and interrupts

    def interrupt(self) -> None:
        """From any thread: the run in progress raises Interrupted (at its next
        chunk end, or at once if it waits). Without a run, nothing happens:
        each run starts uninterrupted."""
        self.interrupted = True
        self.armed = True
        self._wake()

    def check(self) -> None:
        """Raise the limit that has been reached, if any (the loop calls this
        at chunk ends while `armed`, the scheduler after a blocking wait)."""
        if self.interrupted:
            raise Interrupted("interrupted")
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise DeadlineExceeded(f"timeout: the program ran longer than {format_seconds(self._run_timeout or 0.0)}")

    def bound_wait(self, timeout: float | None) -> float | None:
        """A blocking wait of `timeout` seconds (None: forever), cut short at
        the deadline."""
        if self.deadline is None:
            return timeout
        left = max(0.0, self.deadline - time.monotonic())
        return left if timeout is None else min(timeout, left)

    # ------------------------------------------------------------------ output

    @property
    def max_output(self) -> int | None:
        return self._max_output

    @max_output.setter
    def max_output(self, value: int | None) -> None:
        if value is not None and (type(value) is not int or value < 0):
            raise ValueError(f"max_output must be a non-negative int or None, got {value!r}")
        self._max_output = value
        self.on_output_limit(value)

    # ------------------------------------------------------------------ runs

    @contextmanager
    def scope(self, fuel: int | None = None, timeout: float | None = None) -> Iterator[None]:
        """One run: a fuel cap (taken from the tank too) and a deadline
        (`timeout`, else the VM's default). A nested scope (a host function
        calling back into the guest) keeps the outer limits, narrowed by its
        own."""
        if fuel is not None and (type(fuel) is not int or fuel < 0):
            raise ValueError(f"fuel must be a non-negative int or None, got {fuel!r}")
        if fuel is not None and not self.metered:
            raise ValueError(NOT_METERED)
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        saved = (self._cap_end, self._cap_fuel, self.deadline, self._run_timeout)
        if self.depth == 0:
            self.interrupted = False
            self.output = 0
            self._cap_end = self._cap_fuel = self.deadline = self._run_timeout = None
            if timeout is None:
                timeout = self.timeout
        if self.depth == 0 and self._tank_end is not None:
            self._cap_fuel = self.fuel  # (for the message: what the run had)
        if fuel is not None:
            end = self.fuel_used + fuel
            if self._cap_end is None or end < self._cap_end:
                self._cap_end = end
                self._cap_fuel = fuel if self._cap_fuel is None else min(fuel, self._cap_fuel)
        if timeout is not None:
            deadline = time.monotonic() + timeout
            if self.deadline is None or deadline < self.deadline:
                self.deadline, self._run_timeout = deadline, timeout
        self._restop()
        self.armed = self.interrupted or self.deadline is not None
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            self._cap_end, self._cap_fuel, self.deadline, self._run_timeout = saved
            self._restop()
            self.armed = self.interrupted or self.deadline is not None


class OutputMeter:
    """The machine's stdout while `max_output` is set: counts the bytes (UTF-8)
    of each write and raises OutputLimitExceeded for the one that would pass
    the limit, after writing the part of it that fits."""

    def __init__(self, stream: Any, limits: Limits) -> None:
        self.stream = stream
        self.limits = limits

    def write(self, text: str) -> int:
        lim = self.limits
        limit = lim.max_output
        n = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        if limit is not None and lim.output + n > limit:
            room = limit - lim.output
            part = text.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore") if room > 0 else ""
            if part:
                self.stream.write(part)
            lim.output = limit
            raise OutputLimitExceeded(f"output limit: the program wrote more than {format_size(limit)}")
        lim.output += n
        return self.stream.write(text)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, ...: the stream's own
        return getattr(self.stream, name)


def format_seconds(s: float) -> str:
    """2.0 -> "2s", 0.25 -> "250ms", 90 -> "90s" (as the CLI's --timeout spells them)."""
    if s >= 1 and float(s).is_integer():
        return f"{int(s)}s"
    if s < 1 and float(s * 1000).is_integer():
        return f"{int(s * 1000)}ms"
    return f"{s:g}s"


def format_size(n: int) -> str:
    """1048576 -> "1M bytes" ... (as the CLI's --max-output spells them)."""
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit} bytes"
    return f"{n} bytes"
