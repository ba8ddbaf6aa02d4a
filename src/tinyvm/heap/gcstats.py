"""Garbage-collection statistics: what the collector did, as data.

Why a module of its own: the heap (heap.py) records one event per
collection, and everything users see -- `vm.gc_stats()`, the guest's
`gc.stats()`, `tvm run --gc-stats` -- is a view of one record, `GCStats`.
Recording costs two `perf_counter` calls and a few additions per collection,
so it is always on.

Shape, chosen with room for the collectors that come later (docs/gc.md):

* **Kinds.** Each pause has a kind: "full" (a stop-the-world mark-sweep at
  a safe point), "emergency" (a mark at the memory limit inside an
  allocation: heap.py), "minor" and "major" (generational mode),
  "incremental-slice" (one slice of an incremental cycle; `cycles` counts
  the cycles completed). A report lists every kind of the current mode,
  zeros included, and any other kind recorded (the mode may have changed).
* **Pauses.** One histogram for all kinds, on a fixed log scale: four buckets
  per power of two of microseconds (each bucket at most 19% wider than the
  one before), from 1 us to about 70 s. Recording is a bisect into 108
  bounds; p50 and p99 are read from the buckets (the bucket's upper bound,
  never above the true maximum, which is kept exactly). So a percentile is
  within 19% of the truth, and memory is constant however many collections
  run.
* **Bytes.** Accounted bytes (docs/memory.md): allocated (everything charged
  between counts), freed (what a count found dead), promoted (moved from the
  young generation to the old one by minor collections), and the heap by
  generation ("young" and "old" in generational mode; one, "old", else).
"""

from __future__ import annotations

from bisect import bisect_left
from math import ceil
from time import perf_counter
from typing import Any

# The kinds of pause each mode makes (docs/gc.md).
MODE_KINDS = {
    "stw": ("full", "emergency"),
    "incremental": ("full", "incremental-slice", "emergency"),
    "generational": ("minor", "major", "emergency"),
}
KINDS = MODE_KINDS["stw"]

# Upper bounds of the pause buckets, in seconds: 2 ** (i / 4) microseconds.
SUB_BUCKETS = 4
BOUNDS: tuple[float, ...] = tuple(2 ** (i / SUB_BUCKETS) * 1e-6 for i in range(108))


class PauseHistogram:
    """Pause times on a fixed log scale (see the module docstring)."""

    __slots__ = ("count", "counts", "max", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BOUNDS) + 1)  # the last: longer than every bound
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        self.counts[bisect_left(BOUNDS, seconds)] += 1
        self.count += 1
        self.total += seconds
        self.max = max(self.max, seconds)

    def quantile(self, q: float) -> float:
        """The pause (seconds) that a fraction q of the pauses do not exceed,
        as the upper bound of its bucket (capped at the maximum); 0 if none."""
        if not self.count:
            return 0.0
        rank = max(1, ceil(q * self.count - 1e-9))
        seen = 0
        for i, n in enumerate(self.counts):
            seen += n
            if seen >= rank:
                return min(BOUNDS[i] if i < len(BOUNDS) else self.max, self.max)
        return self.max  # pragma: no cover - the counts add up to count

    def as_dict(self) -> dict[str, Any]:
        ms = 1000.0
        return {
            "count": self.count,
            "total_ms": round(self.total * ms, 4),
            "p50_ms": round(self.quantile(0.50) * ms, 4),
            "p99_ms": round(self.quantile(0.99) * ms, 4),
            "max_ms": round(self.max * ms, 4),
            # [upper bound in ms, collections] for each bucket that has any.
            "buckets": [[round((BOUNDS[i] if i < len(BOUNDS) else self.max) * ms, 4), n] for i, n in enumerate(self.counts) if n],
        }


class GCStats:
    """The collector's counters (one per heap). `collections` and
    `emergencies` are the counts of the two kinds (kept as attributes: tests
    and benchmarks read them); `record` is the one entry point."""

    __slots__ = ("allocated", "base", "by_kind", "collections", "cycles", "emergencies", "freed_bytes", "freed_objects", "last_kind", "last_pause", "pauses", "promoted", "survivors")

    def __init__(self) -> None:
        self.collections = 0
        self.freed_objects = 0
        self.freed_bytes = 0
        self.emergencies = 0  # marks made inside an allocation, at the limit
        self.pauses = PauseHistogram()
        self.allocated = 0  # accounted bytes allocated up to the last count
        self.base = 0  # the heap's bytes right after the last count
        self.survivors = 0  # objects the last count found live
        self.last_pause = 0.0  # seconds the last count took (the gc hook's `ms`)
        self.last_kind = ""  # and its kind (the gc hook's `kind`)
        self.by_kind: dict[str, int] = {}
        self.promoted = 0  # accounted bytes promoted to the old generation
        self.cycles = 0  # incremental cycles completed

    def record(self, kind: str, t0: float, before: int, after: int, freed: int, survivors: int) -> None:
        """One collection of `kind` that started at perf_counter() t0 with
        `before` accounted bytes and left `after`, freeing `freed` objects."""
        self.last_pause = perf_counter() - t0
        self.last_kind = kind
        self.pauses.add(self.last_pause)
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        if kind == "emergency":
            self.emergencies += 1
        else:
            self.collections += 1
        self.allocated += max(before - self.base, 0)
        self.base = after
        self.freed_objects += freed
        self.freed_bytes += max(before - after, 0)
        self.survivors = survivors

    def report(self, heap: Any) -> dict[str, Any]:
        """The statistics as one JSON-able dict (docs/gc.md lists the keys)."""
        now = heap.bytes
        mode = heap.mode
        by_kind = dict.fromkeys(MODE_KINDS[mode], 0)
        by_kind.update(self.by_kind)
        count = heap.count
        return {
            "mode": mode,
            "collections": sum(by_kind.values()),
            "by_kind": by_kind,
            "cycles": self.cycles,
            "pause": self.pauses.as_dict(),
            "allocated_bytes": self.allocated + max(now - self.base, 0),
            "freed_bytes": self.freed_bytes,
            "promoted_bytes": self.promoted,
            "freed_objects": self.freed_objects,
            "heap_bytes": now,
            "peak_bytes": heap.peak,
            "limit_bytes": heap.limit,
            "live_bytes": heap.live,
            "live_objects": self.survivors,
            "objects": count,
            "generations": heap.generations(),
            "tuning": heap.tuning.as_dict(),
        }


def format_report(r: dict[str, Any]) -> str:
    """`tvm run --gc-stats`: the report as a few lines of text."""
    p = r["pause"]
    kinds = ", ".join(f"{k} {n}" for k, n in r["by_kind"].items())
    g = r["generations"]
    gens = "one generation: old" if list(g) == ["old"] else ", ".join(f"{k} {_size(v['bytes'])} in {v['objects']} objects" for k, v in g.items())
    if r["cycles"]:
        kinds += f"; {r['cycles']} incremental cycles"
    lines = [
        f"gc: mode {r['mode']}: {r['collections']} collections ({kinds})",
        f"gc: pause p50 {p['p50_ms']:.3f} ms, p99 {p['p99_ms']:.3f} ms, max {p['max_ms']:.3f} ms, total {p['total_ms']:.3f} ms",
        f"gc: allocated {_size(r['allocated_bytes'])}, freed {_size(r['freed_bytes'])} ({r['freed_objects']} objects), promoted {_size(r['promoted_bytes'])}",
        f"gc: heap {_size(r['heap_bytes'])} ({gens}), peak {_size(r['peak_bytes'])}, limit {_size(r['limit_bytes'])}",
        f"gc: live at last collection {_size(r['live_bytes'])} in {r['live_objects']} objects; {r['objects']} objects now",
    ]
    return "\n".join(lines)


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} B"
