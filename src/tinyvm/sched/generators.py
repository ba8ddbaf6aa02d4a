"""Generators (spec section 10): a suspended frame, resumed on the caller's fiber.

Calling a function whose body contains `yield` returns a `Gen` holding the
function's frame list `L`, not yet started. `g.next()` (or a `for` loop)
splices that frame onto the running fiber: the caller's `(L, ret)` goes on the
fiber's frame stack as for a call, with the Gen's own `finish` op as the
continuation, and the generator's code runs from `resume`. `YIELD v` pops the
frame back into the Gen (remembering the next op), and the caller continues
with `{done: false, value: v}`; a `return v` (or the end of the body) lands in
`finish`, which marks the Gen done and gives `{done: true, value: v}`.

The frame belongs to one holder at a time: the Gen while it is new or
suspended, the fiber while it runs (the Gen's `L` is then empty). A fiber's
frames are roots of the collector, which rescans them; a Gen is an ordinary
heap object, so `yield` calls the write barrier for everything its frame
holds (`heap.barrier_all(gen)`, docs/gc.md "Write barriers") as the frame
moves into it. (Were the frame shared while it runs, every store into it
would be a store into the Gen without a barrier.)

Only the generator function's own frame is ever suspended (a `yield` is
always in it: a nested call returns before the generator can yield), so no
Python stack and no thread is involved. A `for` loop that breaks early simply
drops the suspended Gen.
"""

from __future__ import annotations

from typing import Any

from ..heap.objects import HEADER, SLOT, HeapObject, Record
from ..runtime.errors import RtError

NEW, SUSPENDED, RUNNING, FINISHED = range(4)
_RUNNING: tuple = ()  # a running Gen's `L`: its frame is the fiber's


class Gen(HeapObject):
    __slots__ = ("L", "resume", "state", "caller_ret", "finish", "name", "alloc", "heap")
    type_name = "gen"

    def __init__(self, L: list, entry: Any, name: str, heap: Any) -> None:
        self.L = L
        self.heap = heap  # the VM's heap: the write barrier when the frame is suspended
        self.alloc = heap.alloc  # for the result records
        self.resume = entry
        self.state = NEW
        self.caller_ret: Any = None  # where the current next() continues
        self.name = name

        def finish(fb: Any) -> Any:
            # The generator returned: its value is on the caller's stack.
            L = fb.L
            self.state = FINISHED
            self.L = []
            L[-1] = self.alloc(Record({"done": True, "value": L[-1]}))
            return self.caller_ret

        finish.gen = self  # type: ignore[attr-defined]  (YIELD finds its Gen here)
        self.finish = finish

    def refs(self) -> list:
        return list(self.L)

    def size(self) -> int:
        return HEADER + 5 * SLOT + SLOT * len(self.L)


def gen_enter(fb: Any, g: Gen, ret: Any) -> Any:
    """Resume g on fiber fb; the caller continues at ret with the result record."""
    if type(g) is not Gen:
        raise RtError("TypeError", f"expected a generator, got {type(g).__name__}")
    if g.state == RUNNING:
        raise RtError("Error", "generator is already running")
    if g.state == FINISHED:
        fb.L.append(g.alloc(Record({"done": True, "value": None})))
        return ret
    g.state = RUNNING
    g.caller_ret = ret
    fb.frames.append((fb.L, g.finish))
    fb.L = g.L
    g.L = _RUNNING  # (the fiber holds the frame while it runs: see the module docstring)
    op = g.resume
    g.resume = None
    return op


def gen_yield(fb: Any, value: Any, next_op: Any) -> Any:
    """YIELD: suspend the running generator frame (the top of fb) with `value`."""
    caller_L, finish = fb.frames.pop()
    g = getattr(finish, "gen", None)
    if g is None:  # pragma: no cover - the verifier and compiler prevent it
        raise RtError("Error", "yield outside a generator")
    L = fb.L
    L.append(None)  # the value of the `yield` expression when resumed
    g.L = L
    g.resume = next_op
    g.state = SUSPENDED
    # The frame leaves the fiber (a root) for the Gen, which is not one: the
    # write barrier for every value the frame now holds (docs/gc.md).
    heap = g.heap
    if g.mark == heap.watch:
        heap.barrier_all(g)
    fb.L = caller_L
    caller_L.append(g.alloc(Record({"done": False, "value": value})))
    return g.caller_ret
