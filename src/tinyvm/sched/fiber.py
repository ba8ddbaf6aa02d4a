"""Fibers: an explicit guest call stack, owned by the VM, never the Python stack.

A fiber's running frame is `L`, one Python list: slot 0 the running function,
then parameters and locals (`code.nlocals` slots in all), then the operand stack.
Instruction handlers push and pop at its end. A call saves `(L, ret)` on
`frames` -- the caller's list and the pre-decoded instruction to continue at --
and installs the callee's list as `L`; a return pops it back. So switching
fibers or suspending a generator is swapping these attributes at an
instruction boundary: a suspended fiber keeps `L`, `frames` and `resume`, the
op to continue at.

A fiber is also the guest's `Task` (typeof "task"): `spawn` returns it, and
`await` reads its `result` or rethrows it (the error, when `failed`). While alive it is a GC
root (the scheduler lists it); its refs are its frames and its result.
"""

from __future__ import annotations

from typing import Any

from ..heap.objects import CONTAINER, SLOT, HeapObject

# Accounted bytes (heap/objects.py's model): a fiber without its frames, and a
# frame's list before its slots (Fiber.size).
FIBER = 640
FRAME = CONTAINER

# Fiber.state
READY = "ready"  # in the run queue (or running)
BLOCKED = "blocked"  # parked: `waiting` says on what
DONE = "done"  # finished: `result` holds the value, or the error when `failed`


class Wait:
    """One parked wait of a fiber: the entries a blocked fiber leaves in channel
    queues and the timer heap all point to one Wait, and the first to fire sets
    `done`, which makes the others dead (they are skipped, not searched for)."""

    __slots__ = ("fiber", "done", "what", "cases")

    def __init__(self, fiber: "Fiber", what: str, cases: int = 0) -> None:
        self.fiber = fiber
        self.done = False
        self.what = what  # for deadlock reports: "recv on chan 3", "await task 2"...
        self.cases = cases  # a select's number of cases (0: not a select)


class Fiber(HeapObject):
    __slots__ = (
        "L", "frames", "name", "epc", "id", "state", "resume", "resume_error",
        "wait", "result", "failed", "awaiters", "cancelled", "cancel_pending", "observed", "nested", "yielded",
    )  # fmt: skip
    type_name = "task"

    def __init__(self, name: str = "main", fid: int = 0, L: list | None = None, frames: list | None = None, resume: Any = None) -> None:
        self.mark = 0
        self.L: list = [] if L is None else L
        self.frames: list[tuple[list, Any]] = [] if frames is None else frames
        self.name = name
        self.id = fid
        # Offset of the operator a fused expression block was executing when it
        # raised (see vm/blocks.py); only meaningful right after such an error.
        self.epc = 0
        self.state = READY
        self.resume: Any = resume  # the op to continue at when scheduled
        self.resume_error: Any = None  # an error to raise there instead (a `Throw`)
        self.wait: Wait | None = None
        self.result: Any = None  # once done: the return value, or the error if `failed`
        self.failed = False
        self.awaiters: list[Wait] | None = None  # (made by the first await that waits)
        # cancel() was called: every blocking operation raises Cancelled.
        self.cancelled = False
        # ...and it has not been raised yet: the next preemption point raises
        # it, once (so a runaway loop stops, but a catch or finally block that
        # only computes is not cut short).
        self.cancel_pending = False
        self.observed = False  # someone awaited it (an unobserved failure is reported)
        self.nested = False  # a host callback's fiber: it may not block
        self.yielded = False  # queued by yield_now(): a cancel() raises there

    def refs(self) -> Any:
        if self.state is DONE:  # (most fibers a collection meets, when many are spawned)
            return (self.result,)
        out = list(self.L)
        for L, _ in self.frames:
            out.extend(L)
        out.append(self.result)
        if self.resume_error is not None:
            out.append(self.resume_error.value)
        return out

    def size(self) -> int:
        # Accounted at allocation and recounted at each collection. FIBER is
        # what a fiber costs CPython besides its frames, measured for a fiber
        # parked on a channel (docs/memory.md): this object, its frame stack
        # list, its Wait and queue entry, its place among the scheduler's
        # alive fibers. Each frame: its list and its (L, ret) pair.
        frames = self.frames
        n = FIBER + FRAME + SLOT * len(self.L)
        if frames:
            n += (FRAME + 56) * len(frames)
            for L, _ in frames:
                if L is not self.L:
                    n += SLOT * len(L)
        return n

    def __repr__(self) -> str:
        return f"<fiber {self.id} {self.name} {self.state}>"
