"""The allocation profiler (`tvm prof --alloc`): which guest stacks allocate the bytes.

What it counts: every allocation and every charge the guest heap accounts
(heap/heap.py: `alloc(obj)` weighs `obj.size()`, `charge(nbytes)` the bytes
of a string made or a container grown; docs/memory.md), each attributed to
the full guest call stack that made it -- every frame's function and line,
the innermost frame's line being where the allocation happened. As memray
does for Python, but in the VM's own accounting: the profile's unit is
accounted bytes, and its totals are what the heap counted while it ran.

How it sees allocations: the heap's `alloc` is bound once by dozens of
built-ins and decoded instructions, so the recording heap is chosen when the
VM is made: `VM(alloc_sites="stack")` makes a `StackHeap` (heap/sites.py),
which hands each request's bytes to a callback; this module's `_record` is
that callback while the profiler runs. (heap/ knows nothing of stacks or
tools: the machine and this module are passed in.)

How it finds the stack -- pc bookkeeping, not stepping. The VM keeps no
program counter outside its dispatch loop: the instruction running is the
loop's Python local `op` (vm/machine.py `_loop`), and `vm.where(fb, op)`
maps it to (code, offset) exactly as error traces do -- for a fused block,
the offset the block stored in `fiber.epc` before any call that can raise,
which every allocation and charge is. So at each allocation the recorder
finds the innermost running `_loop` frame on the Python stack (as
`Limits._in_flight` does for fuel), reads its `fb` and `op`, and walks that
fiber's explicit frames (`fiber.frames`) for the callers, as the sampling
profiler does (tools/profiler.py `_stack`). Nothing steps, superinstructions
stay on; the cost is per allocation (docs/profiling.md, "Allocation
profiles"). A built-in has no frame: its allocations count at the line of
the instruction that called it. The runtime library's code (the prelude) is
left out as everywhere: its allocations count for its guest caller.

Fibers: each allocation belongs to the fiber whose loop made it (a spawned
fiber's own stack; a generator's frame sits on the stack of the fiber that
resumed it). Where each fiber was spawned is known for free -- the fiber
object is itself an allocation, made by the spawning instruction -- and is
kept in `AllocProfile.spawned`.

The JIT: compiled code runs as one dispatch, and sets `fiber.epc` only on an
error, so under `--jit on` an allocation inside compiled code counts at its
function's entry line (the stacks and bytes stay exact). For exact lines,
profile without the JIT.

The record is data (`AllocProfile`, a `Profile` of unit "bytes": one sample
per distinct (fiber, stack), weighing its bytes, `count` its allocations);
the summary, speedscope and folded views are tools/profile_formats.py's.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Self

from ..sched.fiber import Fiber
from .profiler import Frame, Profile, Profiler, Sample, _machine

CHARGED = "(charged)"  # the type of bytes charged without an object: strings, container growth


@dataclass
class AllocProfile(Profile):
    """A `Profile` whose samples are allocations: mode "alloc", unit "bytes".
    Each sample is one distinct (fiber, stack): `weight` its accounted bytes,
    `count` its allocations (and charges), `t` when it first allocated."""

    allocations: int = 0  # allocations and charges recorded
    bytes: int = 0  # their accounted bytes
    by_type: dict[str, list[int]] = field(
        default_factory=dict
    )  # type -> [bytes, count]
    spawned: dict[int, tuple[int, ...]] = field(
        default_factory=dict
    )  # fiber id -> the stack that spawned it

    def to_dict(self) -> dict:
        d = super().to_dict()
        d["allocations"] = self.allocations
        d["bytes"] = self.bytes
        d["by_type"] = {
            k: {"bytes": v[0], "count": v[1]} for k, v in self.by_type.items()
        }
        d["spawned"] = {str(k): list(v) for k, v in self.spawned.items()}
        return d


class AllocProfiler:
    """Records every allocation of one VM while it runs: `start()`, run the
    program, `stop()` -> AllocProfile. The VM must have been made with
    `alloc_sites="stack"` (the recording heap is chosen when a VM is made)."""

    def __init__(self, vm: Any, *, program: str = "") -> None:
        self.vm = _machine(vm)
        heap = self.vm.heap
        if getattr(heap, "precision", None) != "stack":
            raise ValueError('allocation profiling needs a VM made with alloc_sites="stack"')
        jit = self.vm.jit
        self.profile = AllocProfile(
            program,
            "alloc",
            0,
            "bytes",
            tier=f"jit {jit.mode}" if jit is not None else ("interpreter" if self.vm.fuse else "plain interpreter"),
        )
        self._frame_ids: dict[Frame, int] = {}
        self._ids: dict[tuple[Any, int], int] = {}  # (code, pc) -> frame id (-1: library code)
        self._agg: dict[tuple[int, tuple[int, ...]], Sample] = {}
        self._outer: dict[tuple, tuple[int, ...]] = {}  # the callers' return ops -> their frame ids
        self._loop_code = self.vm.limits.loop_code
        self._started = False
        self._t0 = 0.0

    # ------------------------------------------------------------------ control

    @property
    def started(self) -> bool:
        return self._started

    def start(self) -> AllocProfiler:
        heap = self.vm.heap
        if heap.recorder is not None:
            raise ValueError("this VM's allocations are already being profiled")
        self._t0 = time.perf_counter()
        heap.recorder = self._record
        self._started = True
        return self

    def stop(self) -> AllocProfile:
        heap = self.vm.heap
        if heap.recorder == self._record:
            heap.recorder = None
        self._started = False
        p = self.profile
        p.seconds = time.perf_counter() - self._t0
        p.samples = list(self._agg.values())
        p.gc = {
            "heap_bytes": heap.bytes,
            "heap_peak_bytes": max(heap.high, heap.bytes),
        }
        return p

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._started:
            self.stop()

    # ------------------------------------------------------------------ recording

    def _record(self, nbytes: int, obj: Any) -> None:
        """The heap's callback: nbytes accounted for obj (None: a charge)."""
        f = sys._getframe(1)
        loop = self._loop_code
        while f is not None and f.f_code is not loop:
            f = f.f_back
        p = self.profile
        if f is None:  # outside any run (the host made a value): no guest stack
            fb = self.vm.fiber
            fid = fb.id if fb is not None else 0
            stack: tuple[int, ...] = ()
        else:
            loc = f.f_locals
            fb = loc["fb"]
            fid = fb.id
            stack = self._stack(fb, loc["op"], f)
        key = (fid, stack)
        s = self._agg.get(key)
        if s is None:
            s = self._agg[key] = Sample(fid, stack, 0, 0, time.perf_counter() - self._t0, None)
            if fid not in p.fibers:
                p.fibers[fid] = fb.name if fb is not None else "main"
        s.weight += nbytes
        s.count += 1
        p.allocations += 1
        p.bytes += nbytes
        if obj is None:
            kind = CHARGED
        else:
            kind = getattr(obj, "type_name", None) or type(obj).__name__
            if type(obj) is Fiber:
                p.spawned[obj.id] = stack
                p.fibers.setdefault(obj.id, obj.name)
        t = p.by_type.get(kind)
        if t is None:
            p.by_type[kind] = [nbytes, 1]
        else:
            t[0] += nbytes
            t[1] += 1

    def _stack(self, fb: Any, op: Any, loop: Any) -> tuple[int, ...]:
        """The guest stack of fb running op, as frame ids, outermost first.
        `loop`: the Python frame of the dispatch loop running op."""
        vm = self.vm
        call_site, caller_ret = vm.call_site, vm._caller_ret
        code, pc = vm.where(fb, op)
        hooks = vm.hooks
        if hooks.stepping:
            # A stepping VM (a debugger, line hooks) runs the plain form of
            # `op`, which the hooks' map knows exactly; a fused op's epc is
            # not kept up to date by plain instructions.
            m = hooks._map.get(op)
            if m is not None and m[1] is not None:
                code, pc = m[1], m[2]
        inner: list[tuple[Any, int]] = [(code, pc)]  # innermost last
        L = fb.L
        running = getattr(L[0], "code", None) if L else None
        if code is None:
            # A continuation with no place in the code: a generator's `finish`
            # (it returned; the result record is made for the caller's next()).
            g = getattr(op, "gen", None)
            inner = (
                [call_site(g.caller_ret)]
                if g is not None and g.caller_ret is not None
                else []
            )
        elif running is not code:
            # The instruction switched frames before it allocated. Pushed a
            # frame: its own position is the new top frame's call site.
            # Popped one (YIELD suspends the generator, then makes the
            # caller's result record): the generator's frame sits above the
            # resumer's next() site, which its Gen remembers.
            top = fb.frames[-1][1] if fb.frames else None
            if top is not None and call_site(caller_ret(top))[0] is code:
                inner = []
            else:
                g = _gen_in_flight(loop)
                if g is not None and g.caller_ret is not None:
                    inner = [call_site(g.caller_ret), (code, pc)]
        ids = self._ids
        frame = self._frame
        # The callers' part, cached by the frames' return ops (a stack seen
        # before costs a tuple and a lookup, not a call_site per frame) --
        # unless a generator's frame is among them: where it returns to
        # changes with each resumption.
        rets = tuple([ret for _, ret in fb.frames])
        outer = self._outer.get(rets)
        if outer is None:
            out: list[int] = []
            cacheable = True
            for ret in reversed(rets):
                if getattr(ret, "gen", None) is not None:
                    cacheable = False
                c, p = call_site(caller_ret(ret))
                if c is not None and p >= 0:
                    i = ids.get((c, p))
                    if i is None:
                        i = frame(c, p)
                    if i >= 0:
                        out.append(i)
            out.reverse()
            outer = tuple(out)
            if cacheable:
                self._outer[rets] = outer
        own: list[int] = []
        for c, p in inner:
            if c is not None and p >= 0:
                i = ids.get((c, p))
                if i is None:
                    i = frame(c, p)
                if i >= 0:
                    own.append(i)
        return outer + tuple(own) if own else outer

    # The frame id of (code, pc): the sampling profiler's table, the same
    # attributes (vm, _ids, _frame_ids, profile.frames).
    _frame = Profiler._frame


def _gen_in_flight(loop: Any) -> Any:
    """The generator a YIELD running under the dispatch loop frame `loop` is
    suspending: the `g` of sched/generators.py's gen_yield, found on the
    Python stack between the recorder and the loop (only when an
    allocation's frames disagree with its instruction: rare)."""
    f = sys._getframe(2)
    while f is not None and f is not loop:
        g = f.f_locals.get("g")
        if g is not None and hasattr(g, "caller_ret"):
            return g
        f = f.f_back
    return None
