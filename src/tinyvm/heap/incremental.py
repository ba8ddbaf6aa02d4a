"""Incremental collection: tri-colour marking and sweeping in bounded slices,
interleaved with the program at safe points (docs/gc.md, "Incremental mode").

A cycle starts when the heap reaches `pause`% of the last live bytes (as a
stop-the-world collection would) and then runs as *slices*, one at a safe
point every `stepsize` allocated bytes. Each slice scans `stepmul`% of the
bytes allocated since the one before (heap/tuning.py), so marking keeps ahead
of any allocation rate, and no slice does much more than that.

Colours (`HeapObject.mark`): each cycle takes two new epochs from the heap's
counter, `grey` and `black` = grey + 1; every older mark is *white*
(`mark < grey`). Grey objects wait on the `gray` stack (or, for objects
allocated during the cycle, in the allocation list past `scan_new`: alloc
gives them the grey mark and no push, so allocation costs nothing more); a
black object has been scanned.

The invariant: no black object refers to a white one. The write barrier
(heap.py: `if obj.mark == heap.watch: heap.barrier(obj, value)`, with watch
= black during marking) keeps it by shading the stored value (Dijkstra's
insertion barrier). `barrier_all` (many values stored, or values moved
inside the object) re-greys the object, so it is scanned again. Roots are
not barriered (module globals and frames change at nearly every
instruction): the *atomic* step at the end of the mark rescans every root
and drains what that finds, then runs the ephemeron fixpoint and clears
dead weak references, all in one pause.

Large arrays (over CHUNK elements) are scanned `CHUNK` elements at a time (`partial`), so a
million-element array does not make a million-element pause. Such an array
is black from its first chunk: stores into it shade their values; an
operation that moves elements inside it (insert, remove, sort) calls
`barrier_all`, which restarts its scan. If the mark has done four times the
work the live heap should need (values moved around faster than the mark
can follow), the rest of it runs in one slice: the cycle always ends.

Sweeping: the atomic step takes the allocation list as the list to sweep
and starts a new one; each slice sweeps a batch, keeping the black objects
(they join the new list, as every object allocated meanwhile does) and
freeing the white ones. White objects cannot be reached any more (weak
references to them were cleared at the atomic step), so sweeping while the
program runs is safe.

Accounting: the mark counts the bytes it reaches, as a stop-the-world mark
does; an object scanned twice (re-greyed) is counted twice, so the live
bytes may be overestimated, never under. At the end of the sweep the heap's
bytes are the live bytes plus everything allocated since the atomic step.
"""

from __future__ import annotations

import gc as host_gc
from time import perf_counter
from typing import Any

from .heap import FREED, NO_WATCH
from .objects import FLOAT_BYTES, INT_BYTES, Array, HeapObject, str_bytes
from .packed import PackedArray
from .weak import clear_weak, trace_ephemerons

IDLE, MARK, SWEEP = "idle", "mark", "sweep"
CHUNK = 256  # array elements scanned per step of a large array's scan
# Work, in bytes of slice budget, charged per element of a large array's
# chunk. Scanning a whole object is charged its accounted size; measured,
# one element of a chunk costs about what 32 accounted bytes of small
# objects do (the type tests and the push dominate).
ELEMENT_COST = 32
SWEEP_COST = 32  # bytes of slice budget per object swept (a sweep step is cheaper than a scan)
MAX_DEBT_STEPS = 8  # a slice pays at most this many stepsizes of allocation
# Dispatches between safe points while a cycle runs (the interpreter's chunk
# is 4096): a slice is due every `stepsize` bytes, and a safe point must come
# soon after, or the debt (and the next slice) grows. Compiled loops check at
# every back-edge anyway.
CYCLE_CHUNK = 256
STRESS_BUDGET = 2048  # least bytes scanned per slice under --gc-stress (cycles must end)


class Incremental:
    def __init__(self, heap: Any) -> None:
        self.heap = heap
        self.phase = IDLE
        self.grey = self.black = 0
        self.gray: list[HeapObject] = []
        self.partial: list[list] = []  # [array, next index] of large arrays being scanned
        self.scan_new = 0  # allocation-list index of the next object allocated during the mark
        self.total = 0  # accounted bytes reached by this cycle's mark
        self.seen_str: set[int] = set()
        self.work = 0  # bytes scanned by this cycle
        self.work_cap = 0
        self.to_sweep: list[HeapObject] = []  # not swept yet (swept from its end)
        self.at_atomic = 0  # the heap's bytes at the atomic step
        self.last_bytes = heap.bytes  # the heap's bytes after the last slice
        self.cycles = 0
        self.restarts = 0

    # ------------------------------------------------------------------ views

    def all_objects(self) -> list[HeapObject]:
        h = self.heap
        if self.phase == SWEEP:
            return self.to_sweep + h.objects
        return list(h.objects)

    def count(self) -> int:
        n = len(self.heap.objects)
        if self.phase == SWEEP:
            n += len(self.to_sweep)
        return n

    def generations(self) -> dict[str, dict[str, int]]:
        return {"old": {"bytes": self.heap.bytes, "objects": self.count()}}

    # ------------------------------------------------------------------ pacing

    def pace(self) -> None:
        h = self.heap
        if self.phase != IDLE:  # the next slice is due after stepsize more bytes
            h.gc_target = h.bytes + h.tuning.stepsize
            h.next_gc = min(h.gc_target, h.limit)

    # ------------------------------------------------------------------ barrier

    def barrier(self, obj: Any, value: Any) -> None:
        # obj is black (watch is black only while marking): shade the value.
        if isinstance(value, HeapObject) and value.mark < self.grey:
            value.mark = self.grey
            self.gray.append(value)

    def barrier_all(self, obj: Any) -> None:
        if obj.mark != self.black:
            return
        if type(obj) is Array:
            for entry in self.partial:
                if entry[0] is obj:  # a large array mid-scan: scan it from the start again
                    entry[1] = 0
                    self.restarts += 1
                    return
        obj.mark = self.grey
        self.gray.append(obj)

    # ------------------------------------------------------------------ leaving a cycle

    def abort(self) -> None:
        """Abandon the cycle (a full collection, an emergency mark or a mode
        switch takes over): marks are forgotten; nothing is freed."""
        h = self.heap
        if self.phase == SWEEP:
            # The mark is over: what is left to sweep and not black is
            # garbage. Finish the sweep rather than list it again, so no
            # listed object refers to one the sweep already freed (the
            # verifier's invariant; garbage can never become reachable).
            live, _ = h.sweep(self.to_sweep, self.black)
            h.objects = live + h.objects
            self.to_sweep = []
        self.gray = []
        self.partial = []
        self.seen_str = set()
        self.phase = IDLE
        h.watch = NO_WATCH
        h.new_mark = h.epoch
        h.chunk_cap = 1 << 30

    def leave(self) -> None:
        self.abort()

    def full(self, roots: Any, kind: str = "full") -> int:
        self.abort()
        freed = self.heap.full(roots, kind)
        self.last_bytes = self.heap.bytes
        return freed

    def emergency(self, obj: Any, charged: int) -> None:
        self.abort()
        self.heap.emergency(obj, charged)
        self.last_bytes = self.heap.bytes

    # ------------------------------------------------------------------ slices

    def step(self) -> int:
        """One slice (heap.step at a safe point): starts a cycle if none runs."""
        # CPython's own cycle collector may start inside any allocation of a
        # container; it would stop the slice for milliseconds (its pause, not
        # this collector's: guest garbage never needs it, sweeps break its
        # references). It waits until the slice ends.
        host_gc_was_on = host_gc.isenabled()
        host_gc.disable()
        try:
            return self._step()
        finally:
            if host_gc_was_on:
                host_gc.enable()

    def _step(self) -> int:
        h = self.heap
        t0 = perf_counter()
        before = h.bytes
        h.high = max(h.high, before)
        tuning = h.tuning
        freed = 0
        if self.phase == IDLE:
            self.start()
            self.last_bytes = before  # (what was allocated before the cycle is no debt of it)
        # The debt: bytes allocated since the last slice (about stepsize, unless
        # one allocation was large), capped so that no slice is long; a cycle
        # that falls behind still ends (work_cap).
        debt = min(max(before - self.last_bytes, tuning.stepsize), MAX_DEBT_STEPS * tuning.stepsize)
        budget = debt * tuning.stepmul // 100
        if h.stress:
            budget = STRESS_BUDGET + max(before - self.last_bytes, 0) * tuning.stepmul // 100
        if self.phase == MARK:
            self.mark(budget)
            if h.verify and self.phase == MARK:
                from .verify import verify_incremental

                verify_incremental(h, self)
        elif self.phase == SWEEP:
            freed = self.sweep(budget // SWEEP_COST + 1)
        h.pending = False
        if self.phase == IDLE:
            h._pace()
        else:
            self.pace()
        self.last_bytes = h.bytes
        h.stats.record("incremental-slice", t0, before, h.bytes, freed, self.count())
        return freed

    def start(self) -> None:
        h = self.heap
        h.epoch += 2
        self.grey, self.black = h.epoch - 1, h.epoch
        h.new_mark = self.grey  # allocated during the mark: grey, scanned from the list
        h.watch = self.black
        h.chunk_cap = CYCLE_CHUNK
        self.phase = MARK
        self.scan_new = len(h.objects)
        self.total = 0
        self.seen_str = set()
        self.work = 0
        # (the live bytes are at most the heap's bytes now, plus what the
        # cycle allocates: four times that is far more than a mark needs)
        self.work_cap = 4 * (h.bytes + h.threshold)
        grey = self.grey
        gray = self.gray
        for r in h.roots():
            if isinstance(r, HeapObject) and r.mark < grey:
                r.mark = grey
                gray.append(r)

    def mark(self, budget: int) -> None:
        """Scan grey objects until `budget` bytes were scanned or none is left
        (then the atomic step ends the mark)."""
        h = self.heap
        grey, black = self.grey, self.black
        gray, partial = self.gray, self.partial
        pop, push = gray.pop, gray.append
        seen_str = self.seen_str
        heap_types = h.heap_types
        objects = h.objects
        work = 0
        total = 0
        if self.work > self.work_cap:
            budget = 1 << 62  # (see the module docstring: the cycle must end)
        while work < budget:
            # (grey objects first, depth-first: the stack stays short while a
            # large array's chunks feed it)
            if gray:
                obj = pop()
                obj.mark = black
                size = obj.size()
                total += size
                work += size
                if type(obj) is Array:
                    if len(obj.items) > CHUNK:
                        partial.append([obj, 0])
                        continue
                    chunk = obj.items
                elif type(obj) is PackedArray:
                    # (heap/packed.py) Its buffer, read as the list's
                    # elements would be: the same bytes (a bool array's
                    # 0/1 are small ints: nothing, as bools), chunked as
                    # the list would be, so slices and cycles match.
                    chunk = obj.packed
                    if len(chunk) > CHUNK:
                        partial.append([obj, 0])
                        continue
                else:
                    chunk = obj.refs()
            elif partial:
                entry = partial[-1]
                obj, pos = entry
                items = obj.packed if type(obj) is PackedArray else obj.items  # (no unpacking: as above)
                if obj.mark != black or pos >= len(items):
                    partial.pop()
                    continue
                end = min(pos + CHUNK, len(items))
                entry[1] = end
                work += ELEMENT_COST * (end - pos)
                chunk = items[pos:end]
            elif self.scan_new < len(objects):
                obj = objects[self.scan_new]
                self.scan_new += 1
                if obj.mark != grey:
                    continue
                push(obj)
                continue
            else:
                self.work += work
                self.total += total
                self.atomic()
                return
            for child in chunk:
                if child is None:  # (the tests in Heap.trace's order, and its type set)
                    continue
                t = type(child)
                if t is int:
                    if not -5 <= child <= 256:
                        total += INT_BYTES
                elif t in heap_types:
                    if child.mark < grey:
                        child.mark = grey
                        push(child)
                elif t is str:
                    i = id(child)
                    if i not in seen_str:
                        seen_str.add(i)
                        total += str_bytes(child)
                elif t is float:
                    total += FLOAT_BYTES
                elif t is not bool and isinstance(child, HeapObject):
                    heap_types.add(t)
                    if child.mark < grey:
                        child.mark = grey
                        push(child)
        self.work += work
        self.total += total

    def atomic(self) -> None:
        """The end of the mark, in one pause: rescan the roots and drain,
        the ephemeron fixpoint, clear dead weak references; then sweeping
        starts."""
        h = self.heap
        grey = self.grey
        gray = self.gray
        roots = h.roots()
        for r in roots:
            if isinstance(r, HeapObject):
                if r.mark < grey:
                    r.mark = grey
                    gray.append(r)
                for c in r.refs():
                    if isinstance(c, HeapObject) and c.mark < grey:
                        c.mark = grey
                        gray.append(c)
        if gray or self.partial or self.scan_new < len(h.objects):
            self.mark(1 << 62)  # (ends by calling atomic again, with nothing left)
            return
        black = self.black
        if h.weak:
            self.total += trace_ephemerons(h.weak, black, self.seen_str)
            self.total -= clear_weak(h, black)
        if h.verify:
            from .verify import verify_reachable

            verify_reachable(h, roots, black, "incremental (atomic step)")
        h.watch = NO_WATCH
        h.new_mark = black  # (allocated during the sweep: joins the new list, never swept this cycle)
        self.seen_str = set()
        self.at_atomic = h.bytes
        self.to_sweep = h.objects
        h.objects = []
        self.phase = SWEEP

    def sweep(self, n: int) -> int:
        """Sweep up to n objects; returns how many were freed."""
        h = self.heap
        # From the end: taking a batch off the end of the list moves nothing,
        # the list shrinks as the sweep goes, and the dead are deallocated by
        # CPython batch by batch (releasing a million-entry list at the end
        # took milliseconds).
        to_sweep = self.to_sweep
        batch = to_sweep[-n:]
        del to_sweep[-n:]
        live, freed = h.sweep(batch, self.black)
        del batch
        h.objects.extend(live)
        if not to_sweep:
            self.finish()
        return freed

    def finish(self) -> None:
        h = self.heap
        h.live = self.total
        h.bytes = self.total + max(h.bytes - self.at_atomic, 0)
        h.sweeps += 1
        h.fresh = True
        h.chunk_cap = 1 << 30
        self.phase = IDLE
        self.cycles += 1
        h.stats.cycles += 1
