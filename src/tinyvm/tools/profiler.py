"""The sampling profiler (`tvm prof`): where a guest program spends its instructions.

Why sampling, and why by instruction count: TinyVM owns its dispatch loop, so
"time" can be counted in the unit the VM itself runs, instructions. The
profiler installs one "instruction" hook with `every=N` (vm/hooks.py): it fires
about every N dispatches at the loop's chunk ends on whatever tier runs (fused
superinstructions, compiled JIT code), so nothing deoptimises and the run keeps
its speed. Each sample weighs what was run since the previous one: exact
instructions on a VM that counts fuel (`tvm prof` makes one), else dispatches.
Since the VM is deterministic, two profiles of one program at one interval are
identical. `wall=True` samples by wall-clock time instead (the
hook fires often and records a sample once `interval` milliseconds have passed;
each sample weighs the milliseconds since the previous one, so time a program
spent blocked -- sleeping, waiting on a socket -- is charged to the code that
runs next; docs/profiling.md).

At each sample the guest stack of the running fiber is walked (its explicit
frames, `fiber.frames`: no Python stack is involved), innermost frame = the
instruction about to run. The runtime library's code (the prelude) is left out,
as in error traces: it is the inside of built-ins, charged to their caller.
Opcode counts are estimated the same way -- the opcode about to run at each
sample -- because counting every dispatch would mean stepping, which is what the
sampler avoids.

"gc" and "jit" hook events become slices (GC pauses, JIT compilations) and
statistics. Everything is recorded as data (`Profile`); the file formats and the
terminal summary are views of it (tools/profile_formats.py).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Self

from ..bytecode.opcodes import OPCODES

DEFAULT_INTERVAL = 1000  # instructions between samples
DEFAULT_WALL_MS = 1.0  # milliseconds between samples with wall=True
_WALL_POLL = 128  # with wall=True: dispatches between clock reads
JITTER_SEED = 14  # the sampling periods' generator: fixed, so profiles repeat exactly


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of a sampled stack: a guest function at a source line."""

    name: str  # the function's name (`<module>` for top-level code)
    path: str  # its source file
    line: int  # the line executing in this frame (a call's line, in callers)
    fn_line: int  # the line the function starts at (identifies it with name and path)


@dataclass(slots=True)
class Sample:
    fiber: int  # Fiber.id (0: the main fiber)
    stack: tuple[int, ...]  # indexes into Profile.frames, outermost first
    weight: float  # instructions (dispatches, milliseconds: Profile.unit) since the previous sample
    count: int  # the VM's instruction count at the sample (Event.count)
    t: float  # seconds since the profile started
    op: str | None  # the opcode about to run


@dataclass(slots=True)
class Slice:
    """Something that took time outside guest code: a GC pause, a JIT compile."""

    kind: str  # "gc" | "jit"
    name: str
    start: float  # seconds since the profile started
    dur: float  # seconds
    fiber: int | None
    args: dict = field(default_factory=dict)


@dataclass
class Profile:
    """A whole profile, as data. `unit`: "instructions" or "milliseconds"."""

    program: str
    mode: str  # "instructions" | "wall"
    interval: float
    unit: str
    tier: str = "interpreter"
    frames: list[Frame] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    slices: list[Slice] = field(default_factory=list)
    fibers: dict[int, str] = field(default_factory=dict)  # id -> name
    instructions: int = 0  # instructions run while profiling (dispatches on a VM that does not count fuel)
    counted: str = "instructions"  # what `instructions` counts: "instructions" | "dispatches"
    seconds: float = 0.0
    opcodes: Counter = field(default_factory=Counter)  # sampled: opcode -> samples
    gc: dict = field(default_factory=dict)
    jit: dict = field(default_factory=dict)
    deopts: Counter = field(default_factory=Counter)  # (function, reason) -> count

    def total_weight(self) -> float:
        return sum(s.weight for s in self.samples)

    def to_dict(self) -> dict:
        """JSON-able (for tools that want the records themselves)."""
        return {
            "program": self.program,
            "mode": self.mode,
            "interval": self.interval,
            "unit": self.unit,
            "tier": self.tier,
            "frames": [{"name": f.name, "path": f.path, "line": f.line, "fn_line": f.fn_line} for f in self.frames],
            "samples": [{"fiber": s.fiber, "stack": list(s.stack), "weight": s.weight, "count": s.count, "t": s.t, "op": s.op} for s in self.samples],
            "slices": [{"kind": s.kind, "name": s.name, "start": s.start, "dur": s.dur, "fiber": s.fiber, "args": s.args} for s in self.slices],
            "fibers": {str(k): v for k, v in self.fibers.items()},
            "instructions": self.instructions,
            "counted": self.counted,
            "seconds": self.seconds,
            "opcodes": dict(self.opcodes),
            "gc": self.gc,
            "jit": self.jit,
            "deopts": [{"function": k[0], "reason": k[1], "count": n} for k, n in self.deopts.items()],
        }


def _machine(vm: Any) -> Any:
    """The Machine of an embedding-API VM, or the Machine itself."""
    return getattr(vm, "machine", vm)


class Profiler:
    """Samples one VM while it runs: `start()`, run the program, `stop()` -> Profile.

    `interval`: about N dispatches between samples (default 1000; jittered,
    deterministically), or with `wall=True` milliseconds (default 1.0). On a
    VM that counts fuel, each sample weighs the instructions since the last."""

    def __init__(self, vm: Any, *, interval: float | None = None, wall: bool = False, program: str = "") -> None:
        self.vm = _machine(vm)
        self.wall = wall
        self.interval = interval if interval is not None else (DEFAULT_WALL_MS if wall else DEFAULT_INTERVAL)
        if not self.interval > 0:
            raise ValueError("the sampling interval must be positive")
        if not wall and int(self.interval) != self.interval:
            raise ValueError("the sampling interval is a whole number of dispatches")
        jit = self.vm.jit
        # Progress between samples is counted in instructions on a VM that
        # counts fuel (exact on every tier), else in dispatches (a fused
        # block or a compiled loop's dispatch is one): `tvm prof` makes its VM
        # count fuel; an embedder chooses (VM(meter_fuel=True)).
        unit = "milliseconds" if wall else ("instructions" if self.vm.limits.metered else "dispatches")
        self.profile = Profile(
            program,
            "wall" if wall else "instructions",
            self.interval,
            unit,
            tier=f"jit {jit.mode}" if jit is not None else ("interpreter" if self.vm.fuse else "plain interpreter"),
        )
        self._frame_ids: dict[Frame, int] = {}
        self._ids: dict[tuple[Any, int], int] = {}  # (code, pc) -> frame id (-1: library code)
        self._handles: list = []  # [the sampling hook, gc, jit, fiber]
        self._rng = random.Random(JITTER_SEED)
        self._t0 = 0.0
        self._last = 0.0  # wall: the clock at the previous sample
        self._spent0 = 0
        self._gc_ms: list[float] = []
        self._jit_ms: list[float] = []
        self._jit0: dict = {}

    # ------------------------------------------------------------------ control

    @property
    def started(self) -> bool:
        return bool(self._handles)

    def start(self) -> Profiler:
        hooks = self.vm.hooks
        self._t0 = self._last = time.perf_counter()
        self._spent0 = self.vm.limits.spent
        if self.vm.jit is not None:
            self._jit0 = dict(self.vm.jit.stats)
        self._handles = [
            hooks.add("instruction", self._on_sample, every=self._next_every()),
            hooks.add("gc", self._on_gc),
            hooks.add("jit", self._on_jit),
            hooks.add("fiber", self._on_fiber),
        ]
        return self

    def stop(self) -> Profile:
        for h in self._handles:
            self.vm.hooks.remove(h)
        self._handles = []
        p = self.profile
        p.seconds = time.perf_counter() - self._t0
        lim = self.vm.limits
        p.instructions = lim.spent + lim.meter.cell_contents - self._spent0  # (the meter: what the last chunk ran)
        p.counted = "instructions" if self.vm.limits.metered else "dispatches"
        heap = self.vm.heap
        ms = self._gc_ms
        p.gc = {
            "collections": len(ms),
            "total_ms": sum(ms),
            "max_ms": max(ms, default=0.0),
            "freed_objects": sum(s.args.get("freed", 0) for s in p.slices if s.kind == "gc"),
            "heap_bytes": heap.bytes,
            "heap_peak_bytes": max(heap.high, heap.bytes),
        }
        jit = self.vm.jit
        if jit is not None:
            stats = {k: v - self._jit0.get(k, 0) for k, v in jit.stats.items()}
            stats["compile_ms"] = sum(self._jit_ms)
            stats["compile_max_ms"] = max(self._jit_ms, default=0.0)
            p.jit = stats
        return p

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._handles:
            self.stop()

    # ------------------------------------------------------------------ hooks

    def _now(self) -> float:
        return time.perf_counter() - self._t0

    def _next_every(self) -> int:
        """The dispatches to the next sample: the interval, jittered by up to
        half of it either way with a seeded generator (so still deterministic).
        A fixed period can fall in step with a loop whose body is as long as
        it (or a divisor of it), and sample the same few instructions every
        time; jitter breaks that, as perf and others do."""
        if self.wall:
            return _WALL_POLL
        n = int(self.interval)
        half = n // 2
        return max(2, n - half + self._rng.randrange(2 * half + 1)) if half else max(2, n)  # (every=1 would step)

    def _resample(self) -> None:
        """Re-install the sampling hook with the next jittered period."""
        hooks = self.vm.hooks
        hooks.remove(self._handles[0])
        self._handles[0] = hooks.add("instruction", self._on_sample, every=self._next_every())

    def _on_sample(self, ev: Any) -> None:
        if self.wall:
            now = time.perf_counter()
            elapsed = (now - self._last) * 1000.0
            if elapsed < self.interval:
                return
            self._last = now
            weight = elapsed
        else:
            weight = (ev.data or {}).get("weight") or self.interval
        fb = ev.fiber
        if fb is None:
            return
        stack = self._stack(fb, ev.code, ev.pc)
        op = ev.data.get("op") if ev.data else None
        code = ev.code
        if op is None and code is not None and 0 <= ev.pc < len(code.code):
            k = code.code[ev.pc]
            if type(k) is int and 0 <= k < len(OPCODES):
                op = OPCODES[k].name
        p = self.profile
        if op is not None:
            p.opcodes[op] += 1
        if fb.id not in p.fibers:
            p.fibers[fb.id] = fb.name
        p.samples.append(Sample(fb.id, stack, weight, ev.count, self._now(), op))
        if not self.wall:
            self._resample()

    def _stack(self, fb: Any, code: Any, pc: int) -> tuple[int, ...]:
        """The guest stack of fb as frame ids, outermost first."""
        vm = self.vm
        ids = self._ids
        frame = self._frame
        out: list[int] = []
        if code is not None and pc >= 0:
            i = ids.get((code, pc))
            if i is None:
                i = frame(code, pc)
            if i >= 0:
                out.append(i)
        call_site, caller_ret = vm.call_site, vm._caller_ret
        for _, ret in reversed(fb.frames):
            c, p = call_site(caller_ret(ret))
            if c is not None and p >= 0:
                i = ids.get((c, p))
                if i is None:
                    i = frame(c, p)
                if i >= 0:
                    out.append(i)
        out.reverse()
        return tuple(out)

    def _frame(self, code: Any, pc: int) -> int:
        """The frame id of (code, pc), cached; -1 for the runtime library's code."""
        if code in self.vm.library_code:
            self._ids[(code, pc)] = -1
            return -1
        f = Frame(code.name, code.path, code.position(pc)[0], code.line)
        i = self._frame_ids.get(f)
        if i is None:
            i = self._frame_ids[f] = len(self.profile.frames)
            self.profile.frames.append(f)
        self._ids[(code, pc)] = i
        return i

    def _on_gc(self, ev: Any) -> None:
        d = ev.data
        ms = float(d.get("ms") or 0.0)
        self._gc_ms.append(ms)
        end = self._now()
        fid = ev.fiber.id if ev.fiber is not None else None
        args = {k: d.get(k) for k in ("kind", "freed", "live", "bytes")}
        name = f"GC {d['kind']}" if d.get("kind") else "GC"
        self.profile.slices.append(Slice("gc", name, max(0.0, end - ms / 1000.0), ms / 1000.0, fid, args))

    def _on_jit(self, ev: Any) -> None:
        d = ev.data
        action = d.get("action")
        name = d.get("name") or "?"
        if action == "compile":
            ms = float(d.get("ms") or 0.0)
            self._jit_ms.append(ms)
            end = self._now()
            fid = ev.fiber.id if ev.fiber is not None else None
            self.profile.slices.append(Slice("jit", f"JIT compile {name}", max(0.0, end - ms / 1000.0), ms / 1000.0, fid, {"function": name}))
        elif action == "deopt":
            self.profile.deopts[(name, d.get("reason") or "")] += 1
        elif action == "give-up":
            self.profile.deopts[(name, "given up: " + (d.get("reason") or "still deoptimising"))] += 1

    def _on_fiber(self, ev: Any) -> None:
        f = ev.data.get("fiber")
        if f is not None and ev.data.get("action") == "spawn":
            self.profile.fibers.setdefault(f.id, f.name)
