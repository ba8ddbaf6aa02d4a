"""The guest heap: one allocation function, accounting, and a mark-sweep collector.

Python frees memory by reference counting; this heap is the VM's own model of
guest memory on top of that. It is what later tiers build on: memory limits
(sandbox), GC statistics (profiler, web IDE), and the generational/incremental
collector of a later issue.

* `alloc(obj)` is the only way guest objects come into being. It counts objects
  and accounted bytes, and requests a collection when the budget is exceeded
  (or after every allocation under `--gc-stress`).
* Collections do not run inside `alloc`: an instruction may hold new objects in
  Python locals that no root reaches yet. The interpreter collects at its next
  safe point (an instruction boundary), where every live guest value is in a
  root: module globals, built-ins, fiber frame stacks. `VM.gc_roots()` lists them.
* Marking is iterative (no Python recursion on deep structures); sweeping keeps
  the survivors and poisons the dead (see objects.py) so a missing root is
  caught by the test suite running under `--gc-stress`.
"""

from __future__ import annotations

from typing import Any, Iterable

from .objects import HeapObject

DEFAULT_THRESHOLD = 4 << 20  # accounted bytes before the first collection


class GCStats:
    __slots__ = ("collections", "freed_objects", "freed_bytes")

    def __init__(self) -> None:
        self.collections = 0
        self.freed_objects = 0
        self.freed_bytes = 0


class Heap:
    def __init__(self, stress: bool = False, threshold: int = DEFAULT_THRESHOLD) -> None:
        self.objects: list[HeapObject] = []
        self.bytes = 0
        self.stress = stress
        self.threshold = threshold
        self.next_gc = threshold
        self.pending = False  # a collection was requested; run at the next safe point
        self.epoch = 0
        self.stats = GCStats()

    def alloc(self, obj: Any) -> Any:
        obj.mark = self.epoch
        self.objects.append(obj)
        self.bytes += obj.size()
        if self.bytes > self.next_gc or self.stress:
            self.pending = True
        return obj

    @property
    def count(self) -> int:
        return len(self.objects)

    def collect(self, roots: Iterable[Any]) -> int:
        """Mark everything reachable from `roots`, free the rest; returns objects freed."""
        self.epoch += 1
        epoch = self.epoch
        stack = [r for r in roots if isinstance(r, HeapObject)]
        while stack:
            obj = stack.pop()
            if obj.mark == epoch:
                continue
            obj.mark = epoch
            for child in obj.refs():
                if isinstance(child, HeapObject) and child.mark != epoch:
                    stack.append(child)
        live: list[HeapObject] = []
        freed = 0
        total = 0
        for obj in self.objects:
            if obj.mark == epoch:
                live.append(obj)
                total += obj.size()
            else:
                freed += 1
                obj.free()
        self.stats.collections += 1
        self.stats.freed_objects += freed
        self.stats.freed_bytes += max(self.bytes - total, 0)
        self.objects = live
        self.bytes = total
        self.next_gc = max(self.threshold, 2 * total)
        self.pending = False
        return freed
