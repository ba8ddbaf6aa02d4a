"""The time-travel history of one debugged program: every line event's
position, compactly (one machine word per column per event, in `array`s).

Why: going back needs a *target position* (a `vm.hooks.count` value) before
it re-executes anything: the previous line of a frame (step back), the
previous breakpoint hit (reverse continue), the first line of a call
(restart frame). Those are answered by scanning this table backwards. The
program is deterministic, so the table holds for every re-execution: an
event is appended only once (positions only grow), however often a run
passes it again. 25 bytes per line event (a million lines: 25 MB).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

# flags
ENTRY = 1  # the first line event of a new frame (a call's, a fiber's start)
SAME = 2  # back from a call into the very line that made it (not a new line)


MAX_EVENTS = 8_000_000  # ~200 MB; past it the older half is dropped


class History:
    """Columns of the line events seen, in position order. At most
    `max_events` are kept: past that the older half is dropped (going back
    then reaches as far as what is left; `first` still names the program's
    first line event, the target of going back to the start)."""

    def __init__(self, max_events: int = MAX_EVENTS) -> None:
        self.max_events = max_events
        self.first: int | None = None  # position of the first line event ever recorded
        self.dropped = 0  # events dropped from the front
        self.pos = array("q")  # vm.hooks.count of the event (the engine's position)
        self.tid = array("i")  # thread (fiber) id: 1 for the main fiber
        self.depth = array("i")  # len(fiber.frames): the frame's depth
        self.line = array("i")
        self.code_ix = array("i")  # index into `codes`
        self.flags = array("b")
        self.codes: list[Any] = []
        self._code_ids: dict[Any, int] = {}

    def __len__(self) -> int:
        return len(self.pos)

    def add(self, pos: int, tid: int, depth: int, code: Any, line: int, flags: int) -> bool:
        """Append an event, unless a run already recorded it (pos not past the last)."""
        if self.pos and pos <= self.pos[-1]:
            return False
        if self.first is None:
            self.first = pos
        if len(self.pos) >= self.max_events:
            half = len(self.pos) // 2
            for col in (self.pos, self.tid, self.depth, self.line, self.code_ix, self.flags):
                del col[:half]
            self.dropped += half
        ix = self._code_ids.get(code)
        if ix is None:
            ix = self._code_ids[code] = len(self.codes)
            self.codes.append(code)
        self.pos.append(pos)
        self.tid.append(tid)
        self.depth.append(depth)
        self.line.append(line)
        self.code_ix.append(ix)
        self.flags.append(flags)
        return True

    def code(self, i: int) -> Any:
        return self.codes[self.code_ix[i]]

    def event(self, i: int) -> dict:
        """Event i as data (for tools and tests)."""
        code = self.code(i)
        return {
            "position": self.pos[i],
            "fiber_id": self.tid[i],
            "depth": self.depth[i],
            "path": getattr(code, "path", ""),
            "name": getattr(code, "name", ""),
            "line": self.line[i],
            "entry": bool(self.flags[i] & ENTRY),
            "same_line": bool(self.flags[i] & SAME),
        }

    # ------------------------------------------------------------------ targets of going back

    def previous_line(self, before: int, tid: int, depth: int | None) -> int | None:
        """Step back: the position of the latest line event before `before` of
        fiber `tid` at `depth` or shallower (None: any depth) -- a line of the
        same frame or a caller, a callee's lines stepped over, as "next" does
        forwards -- not counting returns into the calling line."""
        pos, tids, depths, flags = self.pos, self.tid, self.depth, self.flags
        limit = 1 << 30 if depth is None else depth
        for j in range(bisect_left(pos, before) - 1, -1, -1):
            if tids[j] == tid and depths[j] <= limit and not flags[j] & SAME:
                return pos[j]
        return None

    def previous_stop(self, before: int, stops: Callable[[int], bool]) -> int | None:
        """Reverse continue: the position of the latest line event before
        `before` (returns into a calling line aside) for which stops(index)."""
        flags = self.flags
        for j in range(bisect_left(self.pos, before) - 1, -1, -1):
            if not flags[j] & SAME and stops(j):
                return self.pos[j]
        return None

    def frame_start(self, before: int, tid: int, depth: int) -> int:
        """Restart frame: the first line event of the call that made the frame
        of fiber `tid` at `depth` that runs at `before` -- scanning back, the
        earliest event at that depth after the last one shallower (the
        caller's line that made the call). The fiber's first event when the
        frame is its outermost."""
        pos, tids, depths = self.pos, self.tid, self.depth
        start = None
        for j in range(bisect_left(pos, before) - 1, -1, -1):
            if tids[j] != tid:
                continue
            if depths[j] < depth:
                break
            if depths[j] == depth:
                start = j
        if start is None:
            start = next((j for j in range(len(pos)) if tids[j] == tid), 0)
        return pos[start] if len(pos) else 0

    def nbytes(self) -> int:
        return sum(a.itemsize * len(a) for a in (self.pos, self.tid, self.depth, self.line, self.code_ix, self.flags))
