"""Breakpoints of the debugger engine: on lines (with a condition, a hit
condition or a log message), on functions, on exceptions.

Why apart from engine.py: deciding whether a breakpoint *stops* is its own
small language (VS Code sends `condition` as a guest expression, `hitCondition`
as text such as ">= 3", `logMessage` with `{expr}` parts), checked at every
line event, and verified against the compiled code before the program runs:
a line without code moves to the next line that has some, as every debugger
does. Conditions and log parts are evaluated by the engine in the frame of
the event (a muted guest call: the program's position does not move).
"""

from __future__ import annotations

import os
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...bytecode.code import ClassInfo, Code
from .inspect import EvalError, preview

_HIT = re.compile(r"^\s*(>=|<=|==|>|<|%)?\s*(\d+)\s*$")
_PART = re.compile(r"\{([^{}]+)\}")


@dataclass
class Breakpoint:
    id: int
    line: int = 0
    name: str = ""  # a function breakpoint's function
    condition: str | None = None
    hit_condition: str | None = None
    log_message: str | None = None
    # Positions where it was reached with its condition true, in order: the
    # hit count at a position is how many are before it, also after going back.
    seen: list[int] = field(default_factory=list)
    verified: bool = True

    @property
    def plain(self) -> bool:
        """Stops every time it is reached (no condition, hit count or log)."""
        return not (self.condition or self.hit_condition or self.log_message)


def all_codes(bundle: Any) -> list[Code]:
    """Every code object of the program's modules (functions in functions,
    methods, lambdas)."""
    out: list[Code] = []
    if bundle is None:
        return out
    todo = [m.init for m in bundle.modules.values()]
    while todo:
        c = todo.pop()
        out.append(c)
        todo.extend(k for k in c.consts if isinstance(k, Code))
    return out


def qualified_names(codes: list[Code]) -> dict[Code, str]:
    """`Class.method` for each method's code, also where the front end names
    it by the method alone (Lox): the methods of a ClassInfo constant are
    code constants of the same code object."""
    out: dict[Code, str] = {}
    for c in codes:
        for k in c.consts:
            if isinstance(k, ClassInfo):
                for m in k.methods:
                    for f in c.consts:
                        if isinstance(f, Code) and f.name in (m, f"{k.name}.{m}"):
                            out[f] = f"{k.name}.{m}"
    return out


def hit_matches(text: str, hits: int) -> bool:
    """A hit condition: "N" or ">= N" (from the Nth hit on), "== N", "> N",
    "< N", "<= N", "% N" (every Nth). Raises ValueError for other text."""
    m = _HIT.match(text)
    if m is None:
        raise ValueError(f"hit condition {text!r}: expected N, >= N, == N, > N, < N, <= N or % N")
    op, n = m.group(1) or ">=", int(m.group(2))
    if op == "%":
        return n > 0 and hits % n == 0
    return {">=": hits >= n, "<=": hits <= n, "==": hits == n, ">": hits > n, "<": hits < n}[op]


class Breakpoints:
    """The breakpoints of one engine (module docstring)."""

    def __init__(self, engine: Any, bundle: Any) -> None:
        self.engine = engine
        self.codes = all_codes(bundle)
        self.qualified = qualified_names(self.codes)
        self.lines: dict[str, list[int]] = {}  # real path -> sorted lines with code
        for c in self.codes:
            rp = os.path.realpath(c.path)
            self.lines.setdefault(rp, [])
            self.lines[rp].extend(line for _, line, _ in c.lines)
        for rp, ls in self.lines.items():
            self.lines[rp] = sorted(set(ls))
        self.by_line: dict[str, dict[int, list[Breakpoint]]] = {}
        self.functions: list[Breakpoint] = []
        self.exceptions: set[str] = set()
        self._real: dict[Any, str] = {}
        self._next = 0

    def _id(self) -> int:
        self._next += 1
        return self._next

    def real(self, code: Any) -> str:
        rp = self._real.get(code)
        if rp is None:
            rp = self._real[code] = os.path.realpath(code.path)
        return rp

    def resolve_path(self, path: str) -> str:
        """The real path of a program file named by `path`, also by its base
        name alone (`b util.tl:3`)."""
        rp = os.path.realpath(path)
        if rp in self.lines:
            return rp
        same = [p for p in self.lines if os.path.basename(p) == os.path.basename(path)]
        return same[0] if len(same) == 1 else rp

    # ------------------------------------------------------------------ setting

    def set_lines(self, path: str, specs: list[dict]) -> list[dict]:
        rp = self.resolve_path(path)
        have = self.lines.get(rp, [])
        table: dict[int, list[Breakpoint]] = {}
        # A breakpoint sent again unchanged (DAP sends all of a file's each
        # time one changes) keeps its id and its hits.
        old = {(b.line, b.condition, b.hit_condition, b.log_message): b for bps in self.by_line.get(rp, {}).values() for b in bps}
        out = []
        for spec in specs:
            want = int(spec.get("line", 0))
            line = next((n for n in have if n >= want), None)
            key = (line or want, spec.get("condition") or None, spec.get("hitCondition") or None, spec.get("logMessage") or None)
            bp = old.pop(key, None) or Breakpoint(self._id(), *key[:1], condition=key[1], hit_condition=key[2], log_message=key[3])
            result: dict[str, Any] = {"id": bp.id, "verified": line is not None, "line": bp.line}
            if bp.hit_condition:
                try:
                    hit_matches(bp.hit_condition, 1)
                except ValueError as e:
                    line = None
                    result.update(verified=False, message=str(e))
            if line is None:
                bp.verified = False
                result["verified"] = False
                result.setdefault("message", f"no code at or after line {want} of {path}" if have else f"{path} is not part of the program")
            else:
                table.setdefault(line, []).append(bp)
            out.append(result)
        self.by_line[rp] = table
        return out

    def set_functions(self, specs: list[dict]) -> list[dict]:
        names = {c.name for c in self.codes} | set(self.qualified.values())
        short = {c.name.rsplit(".", 1)[-1] for c in self.codes}
        old = {(b.name, b.condition, b.hit_condition): b for b in self.functions}
        self.functions = []
        out = []
        for spec in specs:
            name = str(spec.get("name", ""))
            key = (name, spec.get("condition") or None, spec.get("hitCondition") or None)
            bp = old.pop(key, None) or Breakpoint(self._id(), name=name, condition=key[1], hit_condition=key[2])
            ok = name in names or ("." not in name and name in short)
            result: dict[str, Any] = {"id": bp.id, "verified": ok}
            if ok:
                self.functions.append(bp)
            else:
                result["message"] = f"no function named {name}"
            out.append(result)
        return out

    # ------------------------------------------------------------------ checking

    def line_hits(self, ev: Any, pos: int, frame: Callable[[], Any]) -> list[int]:
        """Ids of the line breakpoints that stop at this line event (log
        points print and do not stop)."""
        if not self.by_line:
            return []
        table = self.by_line.get(self.real(ev.code))
        if not table:
            return []
        bps = table.get(ev.line)
        if not bps:
            return []
        return [bp.id for bp in bps if self._passes(bp, pos, frame)]

    def function_hits(self, ev: Any, pos: int, frame: Callable[[], Any]) -> list[int]:
        if not self.functions:
            return []
        return [bp.id for bp in self.functions if self._names(bp, ev.code) and self._passes(bp, pos, frame)]

    def _names(self, bp: Breakpoint, code: Any) -> bool:
        """Does function breakpoint bp name this code? (`f`, `Class.m`, or `m` for every m)"""
        name = code.name
        if bp.name == name or bp.name == self.qualified.get(code):
            return True
        return "." not in bp.name and bp.name == name.rsplit(".", 1)[-1]

    def would_stop(self, code: Any, line: int, entry: bool, pos: int) -> bool:
        """Would a breakpoint have stopped at this past line event (position
        pos)? Reverse continue: a plain breakpoint would; one with a condition
        or hit condition if it was evaluated there (its `seen` positions) and
        held. (A condition cannot be asked of the past: a conditional
        breakpoint set after the line ran is not found.)"""
        return bool(self.stopped_ids(code, line, entry, pos))

    def stopped_ids(self, code: Any, line: int, entry: bool, pos: int) -> list[int]:
        """The ids of the breakpoints that `would_stop` there (the hit
        breakpoints of a reverse continue's stop)."""
        bps = list(self.by_line.get(self.real(code), {}).get(line, ()))
        if entry:
            bps += [bp for bp in self.functions if self._names(bp, code)]
        return [bp.id for bp in bps if self._stopped(bp, pos)]

    @staticmethod
    def _stopped(bp: Breakpoint, pos: int) -> bool:
        if bp.log_message:
            return False
        if not (bp.condition or bp.hit_condition):
            return True
        i = bisect_right(bp.seen, pos)
        if i == 0 or bp.seen[i - 1] != pos:
            return False
        return not bp.hit_condition or hit_matches(bp.hit_condition, i)

    def _passes(self, bp: Breakpoint, pos: int, frame: Callable[[], Any]) -> bool:
        eng = self.engine
        if bp.condition:
            try:
                v = eng._evaluate(bp.condition, frame())
            except EvalError as e:
                eng.on_output("console", f"breakpoint {bp.id}: condition {bp.condition!r} failed: {e} (stopping)\n")
                return True
            if v is None or v is False:
                return False
        seen = bp.seen
        if not seen or pos > seen[-1]:
            seen.append(pos)
        hits = bisect_right(seen, pos)
        if bp.hit_condition and not hit_matches(bp.hit_condition, hits):
            return False
        if bp.log_message:
            eng.on_output("console", self.interpolate(bp.log_message, frame) + "\n")
            return False
        return True

    def interpolate(self, text: str, frame: Callable[[], Any]) -> str:
        eng = self.engine

        def part(m: re.Match) -> str:
            try:
                v = eng._evaluate(m.group(1), frame())
            except EvalError as e:
                return f"<{e}>"
            f = frame()
            lox = getattr(getattr(f.module, "code", None), "lang", "") == "lox"
            return v if type(v) is str else preview(v, lox=lox)

        return _PART.sub(part, text)
