"""The time-travel history of one debugged program: every line event's
position, compactly (one machine word per column per event, in `array`s).

Why: going back needs a *target position* (a `vm.hooks.count` value) before
it re-executes anything: the previous line of a frame (step back), the
previous breakpoint hit (reverse continue), the first line of a call
(restart frame). Those are answered by scanning this table backwards. The
program is deterministic, so the table holds for every re-execution: an
event is appended only once (positions only grow), however often a run
passes it again. About 21 bytes per line event (a million lines: ~21 MB).
"""

from __future__ import annotations

from array import array
from typing import Any

# flags
ENTRY = 1  # the first line event of a new frame (a call's, a fiber's start)
SAME = 2  # back from a call into the very line that made it (not a new line)


class History:
    """Columns of the line events seen, in position order."""

    def __init__(self) -> None:
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

    def nbytes(self) -> int:
        return sum(a.itemsize * len(a) for a in (self.pos, self.tid, self.depth, self.line, self.code_ix, self.flags))
