"""Generational collection: a nursery, survivor ages, an old generation and a
remembered set (docs/gc.md, "Generational mode").

Most objects die young. A *minor* collection traces only the young objects:
from the roots, and from the old objects that may point at young ones (the
remembered set), and sweeps only the young lists. The old generation is
neither traced nor swept until a *major* collection, a full mark-sweep of
everything, runs when the heap has grown `major_mul`% beyond what the last
major found live (heap/tuning.py).

Colours (`HeapObject.mark`). Young objects carry epochs: the heap's counter,
>= 0 and below the colour of the next minor collection `M`, which marks what
it reaches with `M`. Old objects carry this major's colour, negative and
below every other mark: `clean` (no young object is reachable from its
slots) or `dirty` = clean - 1 (it is in the remembered set). Each major
collection takes new clean and dirty colours below all earlier ones, so a
mark from an earlier major (an object that left the lists at an emergency
mark, docs/memory.md) reads as young: it is traced, never skipped. For a
minor collection an object is white when `clean < mark < M`.

The write barrier (heap.py): `watch` is the clean colour, so the first store
into a clean old object makes it dirty and remembers it; later stores into
it take the fast path. A large array (over LARGE_ARRAY elements) is the
exception: scanning it whole at every minor collection would cost what the
generation saves, so it stays clean and the barrier remembers the young
*values* stored into it instead (a sequential store buffer), traced by
minor collections as roots until they are promoted. Stores into it keep
taking the slow path (a call, and nothing more for a scalar). An object promoted by a minor collection starts dirty
(it may point at younger survivors); after each minor collection, a
remembered object none of whose slots holds a young object is clean again.

Weak references in minor collections: an old key is live (minor collections
free nothing old), so its entry's value is traced; a young key's value is
traced once the key is reached (the ephemeron fixpoint, restricted to the
young generation); then weak references to young objects the minor did not
reach are cleared and their WeakMap entries dropped, before the sweep, as a
full collection does (heap/weak.py). Every weak object is looked at by every
minor collection (`Heap.weak`): the cost grows with the number of weak
objects, not with the heap. A weakly held object that was promoted is
cleared by the next major collection.

Accounting. A minor collection subtracts the accounted sizes of the young
objects it frees; the scalars they held (strings, boxed numbers) stay counted
until the next major collection recounts everything. The heap is therefore
never undercounted, and the memory limit holds: at worst a major collection
or an emergency mark comes sooner.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain
from time import perf_counter
from typing import Any

from .heap import FREED
from .objects import ENTRY, Array, HeapObject
from .weak import WeakMap, WeakRef, clear_weak, weak_edges

OLD_BASE = -11  # the first major's clean colour; later ones count down by 2
_SEEN = -8  # a remembered object already kept, while the set is cleaned
LARGE_ARRAY = 1024  # elements: a larger array remembers values, not itself (barrier)
STRESS_MAJOR_EVERY = 8  # under --gc-stress: one collection in 8 is major


class Generational:
    def __init__(self, heap: Any) -> None:
        self.heap = heap
        # Every object the heap holds becomes old, clean, at once: nothing
        # young exists, so nothing old can point at anything young.
        self.clean = 0
        self.old: list[HeapObject] = []
        self.ages: list[list[HeapObject]] = []
        self.remembered: list[HeapObject] = []
        # Young values stored into clean large arrays (barrier), and those
        # found in large arrays leaving the remembered set: minor collections
        # trace them as roots while they stay young.
        self.young_values: list[HeapObject] = []
        self.minors = 0
        self.old_live = heap.bytes
        self.major_target = 0
        self.promoted_since_major = 0  # accounted bytes promoted since the last major
        clean = self._new_colour()
        for o in heap.objects:
            o.mark = clean
        self.old = heap.objects
        heap.objects = []
        heap.watch = clean
        heap.new_mark = heap.epoch
        self._reset_ages()

    def _new_colour(self) -> int:
        # The counter lives on the heap: colours stay unique across mode switches.
        h = self.heap
        h.old_colour = getattr(h, "old_colour", OLD_BASE + 2) - 2
        self.clean = h.watch = h.old_colour
        return self.clean

    def _reset_ages(self) -> None:
        self.ages = [[] for _ in range(self.heap.tuning.promote_after - 1)]

    # ------------------------------------------------------------------ views

    def all_objects(self) -> list[HeapObject]:
        return list(chain(self.old, *self.ages, self.heap.objects))

    def count(self) -> int:
        return len(self.old) + sum(map(len, self.ages)) + len(self.heap.objects)

    def generations(self) -> dict[str, dict[str, int]]:
        young = sum(map(len, self.ages)) + len(self.heap.objects)
        old_bytes = min(self.old_bytes(), self.heap.bytes)
        return {
            "young": {"bytes": self.heap.bytes - old_bytes, "objects": young},
            "old": {"bytes": old_bytes, "objects": len(self.old)},
        }

    def old_bytes(self) -> int:
        return self.old_live + self.promoted_since_major

    # ------------------------------------------------------------------ pacing

    def pace(self) -> None:
        # A major is due once the heap grew major_mul% beyond what the last
        # one found live (at least a nursery's worth; within the limit's
        # rules, as heap.pace_full); a minor after every nursery of allocation.
        h = self.heap
        t = h.tuning
        live = self.old_live
        gap = max(live * t.major_mul // 100, t.nursery)
        gap = min(gap, h.room(live))
        self.major_target = live + gap
        # (near the limit, a smaller nursery: as pace_full's gap, so that
        # minor collections, not emergency marks, keep the heap under it)
        h.gc_target = h.bytes + min(t.nursery, h.room(h.bytes))
        h.next_gc = min(h.gc_target, h.limit)

    # ------------------------------------------------------------------ barrier

    def barrier(self, obj: Any, value: Any) -> None:
        if obj.mark != self.clean:
            return
        if type(obj) is Array and len(obj.items) > LARGE_ARRAY:
            # A large array stays clean and remembers the young values stored
            # into it, not itself: a dirty array would be scanned whole by
            # every minor collection (a million-element array: 60 ms each).
            if isinstance(value, HeapObject) and value.mark > self.clean:
                self.young_values.append(value)
            return
        # Remember the object (dirty: later stores into it are fast).
        obj.mark = self.clean - 1
        self.remembered.append(obj)

    def barrier_all(self, obj: Any) -> None:
        if obj.mark == self.clean:
            obj.mark = self.clean - 1
            self.remembered.append(obj)

    def leave(self) -> None:
        """Back to one list (another mode takes over)."""
        h = self.heap
        h.objects = self.all_objects()
        h.new_mark = h.epoch  # (set_mode resets watch)
        self.old, self.ages, self.remembered, self.young_values = [], [], [], []

    # ------------------------------------------------------------------ collections

    def step(self) -> int:
        h = self.heap
        roots = h.roots()
        # A major when the old generation outgrew its target, or when the
        # heap did by more than two nurseries (the scalars of young garbage,
        # which minor collections leave counted: module docstring).
        if self.old_bytes() > self.major_target or h.bytes > self.major_target + 2 * h.tuning.nursery or (h.stress and self.minors % STRESS_MAJOR_EVERY == STRESS_MAJOR_EVERY - 1):
            self.minors += 1
            return self.full(roots, "major")
        return self.minor(roots)

    def minor(self, roots: Iterable[Any]) -> int:
        h = self.heap
        t0 = perf_counter()
        before = h.bytes
        h.high = max(h.high, before)
        if h.verify:
            from .verify import verify_generational

            verify_generational(h, self, roots)
        self.minors += 1
        h.epoch += 1
        M = h.epoch
        clean = self.clean
        stack: list = []
        push = stack.append
        # Seeds: the roots themselves and their slots (roots are never
        # barriered: they are rescanned every time), and the slots of every
        # remembered object.
        for r in roots:
            if isinstance(r, HeapObject):
                if clean < r.mark < M:
                    r.mark = M
                    push(r)
                for c in r.refs():
                    if isinstance(c, HeapObject) and clean < c.mark < M:
                        c.mark = M
                        push(c)
        for o in self.remembered:
            for c in o.refs():
                if isinstance(c, HeapObject) and clean < c.mark < M:
                    c.mark = M
                    push(c)
        for c in self.young_values:
            if clean < c.mark < M:
                c.mark = M
                push(c)
        while True:
            while stack:
                for c in stack.pop().refs():
                    if isinstance(c, HeapObject) and clean < c.mark < M:
                        c.mark = M
                        push(c)
            if h.weak:  # the ephemeron fixpoint, for young keys (module docstring)
                for w in h.weak:
                    if type(w) is WeakMap and (w.mark <= clean or w.mark == M):
                        for k, v in w.items.items():
                            if isinstance(v, HeapObject) and clean < v.mark < M and not clean < k.mark < M:
                                v.mark = M
                                push(v)
            if not stack:
                break
        dropped = self._clear_weak(M) if h.weak else 0
        # Sweep the young lists: survivors move up one age; the oldest age's
        # survivors are promoted (dirty: they may point at younger ones).
        lists = [h.objects, *self.ages]
        freed = 0
        freed_bytes = 0
        forget = h.seqs is not None or h.tracks_sites
        moved: list[list[HeapObject]] = []
        for lst in lists:
            # (survivors by a comprehension, the dead in a second pass when
            # there are some: as Heap.sweep)
            keep = [o for o in lst if o.mark == M]
            if len(keep) < len(lst):
                for o in lst:
                    if o.mark != M:
                        freed += 1
                        freed_bytes += o.size()
                        o.mark = FREED
                        o.free()
                        if forget:
                            h.forget(o)
            moved.append(keep)
        promoted = moved.pop()
        h.objects = []
        self.ages = moved  # (nursery survivors are now age 1, and so on)
        if len(self.ages) != h.tuning.promote_after - 1:  # (promote_after changed)
            promoted.extend(chain(*self.ages[h.tuning.promote_after - 1 :]))
            self.ages = self.ages[: h.tuning.promote_after - 1] + [[] for _ in range(h.tuning.promote_after - 1 - len(self.ages))]
        dirty = clean - 1
        pbytes = 0
        for o in promoted:
            o.mark = dirty
            pbytes += o.size()
        self.old.extend(promoted)
        self.promoted_since_major += pbytes
        h.stats.promoted += pbytes
        # Young values stay remembered while they are young (not promoted).
        seen_values: set[int] = set()
        young_values = []
        for v in self.young_values:
            if v.mark == M and id(v) not in seen_values:
                seen_values.add(id(v))
                young_values.append(v)
        # Clean the remembered set: keep only objects that still hold young
        # ones; a large array hands its young elements to young_values.
        remembered = []
        for o in chain(self.remembered, promoted):
            if o.mark != dirty:
                continue  # (listed twice, or cleaned already)
            if type(o) is Array and len(o.items) > LARGE_ARRAY:
                for c in o.items:
                    if isinstance(c, HeapObject) and c.mark > clean and id(c) not in seen_values:
                        seen_values.add(id(c))
                        young_values.append(c)
                o.mark = clean
                continue
            refs = o.refs()
            if type(o) is WeakRef or type(o) is WeakMap:
                refs = chain(refs, *weak_edges(o))
            for c in refs:
                if isinstance(c, HeapObject) and c.mark > clean:
                    remembered.append(o)
                    o.mark = _SEEN
                    break
            else:
                o.mark = clean
        for o in remembered:
            o.mark = dirty
        self.remembered = remembered
        self.young_values = young_values
        h.bytes = h.live = max(before - freed_bytes - dropped, 0)
        h.sweeps += 1
        self.pace()
        h.pending = False
        h.stats.record("minor", t0, before, h.bytes, freed, self.count())
        return freed

    def _clear_weak(self, M: int) -> int:
        """After a minor mark: clear weak references to young objects it did
        not reach, drop WeakMap entries whose young keys it did not reach,
        and forget the weak objects that died young. Returns the accounted
        bytes of the dropped entries."""
        h = self.heap
        clean = self.clean
        kept = []
        dropped = 0
        for w in h.weak:
            if not (w.mark <= clean or w.mark == M):
                continue  # died young: the sweep frees it
            kept.append(w)
            if type(w) is WeakRef:
                t = w.target
                if t is not None and clean < t.mark < M:
                    w.target = None
            else:
                items = w.items
                dead = [k for k in items if clean < k.mark < M]
                for k in dead:
                    del items[k]
                dropped += ENTRY * len(dead)
        h.weak = kept
        return dropped

    def full(self, roots: Iterable[Any], kind: str = "major") -> int:
        """A major collection: mark-sweep of every generation; every
        survivor becomes old and clean."""
        h = self.heap
        t0 = perf_counter()
        before = h.bytes
        h.high = max(h.high, before)
        colour = self._new_colour()
        total = h.trace(roots, colour)
        if h.weak:
            total -= clear_weak(h, colour)
        survivors, freed = h.sweep(self.all_objects(), colour)
        self.old = survivors
        h.objects = []
        self._reset_ages()
        self.remembered = []
        self.young_values = []
        h.new_mark = h.epoch
        h.sweeps += 1
        h.bytes = h.live = self.old_live = total
        self.promoted_since_major = 0
        h.fresh = True
        self.pace()
        h.pending = False
        h.stats.record(kind, t0, before, total, freed, len(survivors))
        return freed

    def emergency(self, obj: Any, charged: int) -> None:
        """The emergency mark (heap.py) over every generation, marking with a
        new old colour: what it keeps is old and clean."""
        h = self.heap
        everything = self.all_objects()
        colour = self._new_colour()
        h.objects = everything
        self.old = h.emergency(obj, charged, colour)
        h.objects = []
        self._reset_ages()
        self.remembered = []
        self.young_values = []
        h.new_mark = h.epoch
        self.old_live = h.live
        self.promoted_since_major = 0
        self.pace()

