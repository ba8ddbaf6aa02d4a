"""One IDE run: the program run once and recorded, then any instruction of it
shown on demand, by re-running a fresh VM up to it.

The design (docs/ide.md, "How time travel works"). A run's position is
`hooks.count`, the number of instructions the stepping VM has run
(vm/hooks.py); the VM is deterministic once its inputs are fixed, so a
position names the same state in every run of the same program. Hence:

* **Record.** `/api/run` runs the program once under the sandbox limits,
  stepping, and keeps only what the timeline needs: a row per line event
  (step, fiber, frame depth, line, flags: entering a frame, returning into
  the line that made a call -- as the debugger's history does), each output
  write with the step it happened at, each collection, the end (status,
  error). The heap is never copied.
* **Replay to K.** `state?step=K` runs a fresh VM with the same inputs (the
  clock and other host reads are replayed: tools/timetravel.RerunInputs) and
  the same hooks, and at instruction K -- before it runs -- reads the whole
  state (views.capture) and stops the run. That costs a run of K
  instructions at the stepping speed (about 1 M instructions/s): nothing
  for a teaching program, and bounded by the run's own limits, since a
  replay is a run of the same program with the same fuel, memory and
  timeout. An LRU keeps the last states read (scrubbing back and forth
  replays nothing).
* **Move.** Stepping by line (over, into, out, back, continue to a
  breakpoint forwards or backwards) is computed from the line-event rows
  alone, as the debugger computes its targets (docs/debugging.md): no run.

Why not the debugger's Engine or TimeTravel's fork checkpoints: both keep a
program paused on a thread or in processes, per session, for as long as the
session lives; the IDE serves many short-lived sessions from one server and
may show any instruction (not only line starts), which a replay does in one
plain loop with nothing left running between requests.

The output at step K is what the program wrote before instruction K ran:
writes are tagged with `hooks.count` at the time (the instruction that
printed has been counted).
"""

from __future__ import annotations

import io
import threading
import time
from array import array
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ...lang.diagnostics import CompileError, source_lines
from ...lang.driver import Languages, compile_program
from ...lang.sources import DirectorySources, NoSources
from ..timetravel import RerunInputs
from . import views

ENTRY, SAME = 1, 2  # line-event flags: first line of a frame; return into the calling line
STATE_CACHE = 16  # states kept per session (LRU)
JIT_THRESHOLD = (10, 100)  # the profile's run: calls, loop back-edges before the JIT compiles
NO_IMPORTS = "this IDE has no project folder to import from (start it with tvm ide FILE)"


@dataclass
class Limits:
    """The sandbox of every run in the IDE (docs/limits.md): instructions,
    heap bytes, seconds; `allow` the capabilities (docs/capabilities.md),
    none unless the IDE was started with --allow-*."""

    fuel: int = 1_000_000
    memory: int = 32 << 20
    timeout: float = 10.0
    allow: Any = None
    gc_threshold: int = 256 << 10  # a small first collection: lessons see the collector work
    max_output: int = 1 << 20  # bytes a run may print (it is kept, and sent, whole)

    def as_json(self) -> dict:
        return {"fuel": self.fuel, "memory": self.memory, "timeout": self.timeout}


class IdeError(Exception):
    """A request the IDE cannot serve: its message is for the user (HTTP 4xx)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def frontend_for(languages: Languages, name: str) -> Any:
    fe = languages.get(name) if isinstance(name, str) else None
    if fe is None:
        raise IdeError(f"unknown language {name!r}: the languages are {', '.join(languages.names)}")
    return fe


def compile_text(languages: Languages, language: str, source: str, check_only: bool = False, import_root: str | None = None) -> tuple[Any, list[dict]]:
    """(bundle or None, diagnostics as JSON) of a program given as text. Its
    imports read `import_root` and below (the IDE's project folder), else
    nothing."""
    if not isinstance(source, str):
        raise IdeError("source must be a string")
    fe = frontend_for(languages, language)
    path = "main" + fe.extensions[0]
    lines = source_lines(source)
    try:
        bundle = compile_program(path, source=source, check_only=check_only, lang=fe.name, languages=languages, sources=_sources(import_root))
    except CompileError as e:
        return None, [views.diagnostic(d, lines, path) for d in e.diagnostics]
    return bundle, []


def _sources(import_root: str | None) -> Any:
    if import_root is None:
        return NoSources(NO_IMPORTS)
    return DirectorySources(import_root, name="the IDE's project folder")


# --------------------------------------------------------------------------- the runs


class _Output:
    """The program's stdout: each write tagged with the step it happened at."""

    def __init__(self) -> None:
        self.machine: Any = None
        self.parts: list[tuple[int, str]] = []

    def write(self, text: str) -> int:
        self.parts.append((self.machine.hooks.count if self.machine is not None else 0, text))
        return len(text)

    def flush(self) -> None:
        pass


class _Reached(Exception):
    """Raised from the replay's hook once the state at the target was read."""


class Row(NamedTuple):
    step: int
    fiber: int
    depth: int
    line: int
    flags: int
    file: int  # index into Rows.paths (0: the program's own file)


class Rows:
    """The line events of a run, in compact columns (as the debugger's
    history keeps them: tools/debugger/history.py): 17 bytes an event, so a
    run of a million lines keeps 17 MB, not a Python object per line."""

    def __init__(self) -> None:
        self.steps = array("q")
        self.fibers = array("i")
        self.depths = array("i")
        self.lines = array("i")
        self.flags = array("b")
        self.files = array("h")
        self.paths: list[str] = []  # the files lines are in: the program's first, then its imports
        self._index: dict[str, int] = {}

    def file_index(self, path: str) -> int:
        i = self._index.get(path)
        if i is None:
            i = self._index[path] = len(self.paths)
            self.paths.append(path)
        return i

    def append(self, step: int, fiber: int, depth: int, line: int, flags: int, file: int = 0) -> None:
        self.steps.append(step)
        self.fibers.append(fiber)
        self.depths.append(depth)
        self.lines.append(line)
        self.flags.append(flags)
        self.files.append(file)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i: int) -> Row:
        return Row(self.steps[i], self.fibers[i], self.depths[i], self.lines[i], self.flags[i], self.files[i])


@dataclass
class Record:
    steps: int = 0
    rows: Rows = field(default_factory=Rows)
    output: list[tuple[int, str]] = field(default_factory=list)
    gc: list[dict] = field(default_factory=list)
    last_event: int = 0  # hooks.count at the last instruction event (later counts are no instruction's)
    last_error: int = 0  # hooks.count at the uncaught error that ended the run, if one did
    status: str = "ok"
    error: dict | None = None
    fibers_seen: int = 1


class Session:
    """A program run in the IDE (see the module docstring)."""

    def __init__(self, sid: str, languages: Languages, language: str, source: str, limits: Limits, gc_mode: str | None = None, import_root: str | None = None) -> None:
        self.id = sid
        self.languages = languages
        self.frontend = frontend_for(languages, language)
        self.language = self.frontend.name
        self.source = source
        self.limits = limits
        self.gc_mode = gc_mode or "stw"
        if self.gc_mode not in ("stw", "incremental", "generational"):
            raise IdeError(f"unknown gc mode {gc_mode!r}: stw, incremental or generational")
        self.path = "main" + self.frontend.extensions[0]  # (compile_text names the program so)
        self.bundle, self.diagnostics = compile_text(languages, language, source, import_root=import_root)
        self.inputs = RerunInputs()
        self.record = Record()
        self._states: OrderedDict[int, dict] = OrderedDict()
        self._lock = threading.Lock()  # one replay at a time per session
        self._profile: dict | None = None
        if self.bundle is not None:
            self._record()

    # -- running

    def _vm(self, out: _Output, **extra: Any) -> Any:
        from ...api import VM

        lim = self.limits
        vm = VM(stdout=out, stdin=io.StringIO(""), argv=[], allow=lim.allow, languages=self.languages, fuel=lim.fuel, timeout=lim.timeout, max_memory=lim.memory, max_output=lim.max_output, gc=self.gc_mode, **extra)
        m = vm.machine
        out.machine = m
        m.heap.set_threshold(min(lim.gc_threshold, m.heap.threshold))
        self.inputs.attach(m)  # (numbers the heap's objects too: node ids)
        return vm

    def _run(self, vm: Any) -> tuple[str, dict | None]:
        """Run the bundle on vm; (status, error) as the API reports them."""
        from ...runtime.errors import (
            GuestException,
            GuestExit,
            HostIOError,
            LimitExceeded,
        )
        from ...vm.hooks import HookError

        try:
            vm.run_bundle(self.bundle)
        except HookError as e:
            if isinstance(e.__cause__, _Reached):
                raise e.__cause__ from None
            raise IdeError(f"internal error: {e}", 500) from e
        except GuestExit as e:
            return ("ok" if e.status == 0 else "error"), (None if e.status == 0 else {"message": f"exit status {e.status}", "line": 0, "col": 0, "trace": []})
        except LimitExceeded as e:
            return "limit", {"message": e.message, "line": 0, "col": 0, "trace": []}
        except GuestException as e:
            line = col = 0
            file = None
            if e.frames:
                line, col, file = e.frames[0].line, e.frames[0].col, e.frames[0].path
            return "error", {"message": self.frontend.render_runtime_error(e), "line": line, "col": col, "file": file, "trace": list(e.trace)}
        except HostIOError as e:
            return "error", {"message": f"error: {e}", "line": 0, "col": 0, "trace": []}
        except RecursionError:
            return "error", {"message": "error: the program nests too deeply for the host", "line": 0, "col": 0, "trace": []}
        finally:
            vm.close()
        return "ok", None

    def _record(self) -> None:
        rec = self.record
        rec.rows.file_index(self.path)  # (index 0: breakpoints are lines of this file)
        out = _Output()
        vm = self._vm(out)
        hooks = vm.machine.hooks
        sched = vm.machine.sched
        last: dict[Any, list[int]] = {}

        def on_line(ev: Any) -> None:
            fb, depth, line = ev.fiber, ev.depth, ev.line
            lines = last.setdefault(fb, [])
            flags = 0
            if depth > len(lines) - 1:
                flags |= ENTRY
            elif depth < len(lines) - 1 and lines[depth] == line:
                flags |= SAME
            del lines[depth:]
            lines.extend([0] * (depth + 1 - len(lines)))
            lines[depth] = line
            rec.rows.append(ev.count - 1, views._tid(fb), depth, line, flags, rec.rows.file_index(ev.code.path))

        def on_gc(ev: Any) -> None:
            d = ev.data
            rec.gc.append({"step": ev.count, "kind": d.get("kind") or "full", "pause_ms": round(float(d.get("ms") or 0.0), 3), "freed": d.get("freed", 0)})

        def on_fiber(ev: Any) -> None:
            if ev.data.get("action") == "spawn":
                rec.fibers_seen += 1

        def on_instruction(ev: Any) -> None:
            rec.last_event = ev.count

        def on_exception(ev: Any) -> None:
            # (the main fiber's uncaught error ends the run; other fibers' end only them)
            if not ev.data.get("caught") and ev.fiber is sched.main:
                rec.last_error = ev.count

        hooks.add("line", on_line)
        hooks.add("gc", on_gc)
        hooks.add("fiber", on_fiber)
        hooks.add("exception", on_exception)
        # (replays run an instruction hook too: the same speed, so the same timeout)
        hooks.add("instruction", on_instruction, every=1)
        rec.status, rec.error = self._run(vm)
        rec.steps = hooks.count
        rec.output = out.parts
        if rec.error is not None and not rec.error["line"] and rec.rows:
            last_row = rec.rows[len(rec.rows) - 1]  # (a limit stops the program where it is)
            rec.error["line"], rec.error["file"] = last_row.line, rec.rows.paths[last_row.file]

    def _replay(self, k: int) -> dict:
        """The state before instruction k. Past the last instruction (k ==
        steps, or counts that were no instruction of the code: a fiber's
        end), the state where the run ended: at its uncaught error, with the
        frames still intact, else before its last instruction."""
        rec = self.record
        out = _Output()
        vm = self._vm(out)
        m = vm.machine
        lox = self.frontend.dialect == "lox"
        got: dict = {}
        # hooks.count while instruction k (0-based) is about to run
        target = min(k + 1, rec.last_event)
        at_error = k + 1 > rec.last_event and rec.status == "error" and rec.last_error > 0

        def on_instruction(ev: Any) -> None:
            if ev.count >= target and not at_error:
                got.update(views.capture(m, ev.fiber, ev.code, ev.pc, lox))
                raise _Reached()

        def on_exception(ev: Any) -> None:
            if not ev.data.get("caught") and ev.count == rec.last_error and ev.fiber is m.sched.main and not got:
                got.update(views.capture(m, ev.fiber, ev.code, ev.pc, lox))

        m.hooks.add("instruction", on_instruction, every=1)
        if at_error:
            m.hooks.add("exception", on_exception)
        try:
            self._run(vm)
        except _Reached:
            return got
        return got or views.capture(m, None, None, -1, lox)

    # -- the API

    def summary(self) -> dict:
        rec = self.record
        return {
            "session": self.id,
            "diagnostics": self.diagnostics,
            "steps": rec.steps,
            "lines": rec.rows.steps.tolist(),
            "line_numbers": rec.rows.lines.tolist(),
            "files": rec.rows.paths,  # the files the line events are in: the program first
            "line_files": rec.rows.files.tolist(),
            "output": [{"step": s, "text": t} for s, t in rec.output],
            "status": rec.status if self.bundle is not None else "error",
            "error": rec.error if self.bundle is not None else _compile_failure(self.diagnostics),
            "gc": rec.gc,
            "fibers_seen": rec.fibers_seen,
        }

    def output_at(self, k: int) -> str:
        return "".join(t for s, t in self.record.output if s <= k)

    def state(self, k: int, heap_offset: int = 0, heap_limit: int = 200) -> dict:
        if self.bundle is None:
            raise IdeError("the program did not compile: there is no run to show")
        k = max(0, min(int(k), self.record.steps))
        with self._lock:
            st = self._states.get(k)
            if st is None:
                st = self._replay(k)
                self._states[k] = st
                while len(self._states) > STATE_CACHE:
                    self._states.popitem(last=False)
            else:
                self._states.move_to_end(k)
        out = views.page(st, max(0, heap_offset), max(1, min(heap_limit, views.MAX_HEAP_NODES)))
        out["step"] = k
        out["output"] = self.output_at(k)
        if out["line"] == 0:  # the end: where the run last was
            rows = self.record.rows
            if rows:
                out["line"] = rows[-1].line
        return out

    def move(self, k: int, action: str, breakpoints: list[int]) -> dict:
        """Where a debugger command from step k lands: {step, reason, line}."""
        rows = self.record.rows
        steps = self.record.steps
        if not rows:
            return {"step": steps, "reason": "end", "line": 0, "file": None}
        k = max(0, min(int(k), steps))
        bps = {int(b) for b in breakpoints}
        i = _row_at(rows, k)
        cur = rows[i] if i >= 0 else None
        if action in ("step_over", "step_into", "step_out", "continue"):
            start = i + 1
            for j in range(start, len(rows)):
                r = rows[j]
                if cur is None:
                    return self._at(r, "step")
                if r.line in bps and r.file == 0 and not r.flags & SAME:
                    return self._at(r, "breakpoint")  # (a step stops at a breakpoint on its way too)
                same = r.fiber == cur.fiber
                if action == "step_into" and same:
                    return self._at(r, "step")
                if action == "step_over" and same and (r.depth < cur.depth or (r.depth == cur.depth and not (r.flags & SAME and r.line == cur.line))):
                    return self._at(r, "step")
                if action == "step_out" and same and r.depth < cur.depth:
                    return self._at(r, "step")
            if action != "continue" and cur is not None:
                # The stepped fiber has no more lines: the next line of any fiber.
                for j in range(start, len(rows)):
                    if rows[j].fiber != cur.fiber:
                        return self._at(rows[j], "step")
            return self._at(rows[len(rows) - 1], "end", steps)
        if action in ("step_back", "reverse_continue", "line_back"):
            if cur is None:
                return self._at(rows[0], "start", 0)
            if cur.step < k and action != "reverse_continue":
                return self._at(cur, "step")  # (mid-line: back to where the line began)
            for j in range(i - 1, -1, -1):
                r = rows[j]
                if action == "line_back":
                    return self._at(r, "step")
                if action == "reverse_continue":
                    if r.line in bps and r.file == 0 and not r.flags & SAME:
                        return self._at(r, "breakpoint")
                    continue
                if r.fiber == cur.fiber and r.depth <= cur.depth and not r.flags & SAME:
                    return self._at(r, "step")
            return self._at(rows[0], "start")
        raise IdeError(f"unknown action {action!r}: step_over, step_into, step_out, step_back, continue, reverse_continue or line_back")

    def _at(self, r: Row, reason: str, step: int | None = None) -> dict:
        return {"step": r.step if step is None else step, "reason": reason, "line": r.line, "file": self.record.rows.paths[r.file]}

    def profile(self) -> dict:
        """The run's profile: a flame graph (speedscope JSON) from the
        sampling profiler, GC pauses and JIT events (a separate run, with
        the JIT on and without stepping: what the program costs as it
        normally runs)."""
        if self.bundle is None:
            raise IdeError("the program did not compile: there is nothing to profile")
        with self._lock:
            if self._profile is None:
                self._profile = self._run_profile()
            return self._profile

    def _run_profile(self) -> dict:
        from ..profile_formats import speedscope
        from ..profiler import Profiler

        out = _Output()
        jit_events: list[dict] = []
        # A JIT threshold lower than the default (100 calls, 1000 loop
        # back-edges) so that a teaching program's hot functions compile
        # and the JIT's events have something to show.
        vm = self._vm(out, jit="on", jit_threshold=JIT_THRESHOLD, meter_fuel=True)
        m = vm.machine
        prof = Profiler(vm, interval=max(10, min(1000, self.record.steps // 500 or 10)), program=self.frontend.extensions[0] and "main" + self.frontend.extensions[0])
        t0 = time.perf_counter()

        def on_jit(ev: Any) -> None:
            d = ev.data
            jit_events.append({"t_ms": round((time.perf_counter() - t0) * 1000, 3), "event": d.get("action"), "function": d.get("name"), "reason": d.get("reason")})

        prof.start()
        m.hooks.add("jit", on_jit)
        try:
            self._run(vm)
        finally:
            p = prof.stop() if prof.started else prof.profile
        gc = [{"start_ms": round(s.start * 1000, 3), "pause_ms": round(s.dur * 1000, 3), "kind": s.args.get("kind") or "full"} for s in p.slices if s.kind == "gc"]
        return {"flame": speedscope(p), "gc": gc, "jit": jit_events, "instructions": p.instructions, "seconds": p.seconds}


def _noop(ev: Any) -> None:
    pass


def _row_at(rows: Rows, k: int) -> int:
    """Index of the last row at or before step k (-1: before the first)."""
    return bisect_right(rows.steps, k) - 1




def _compile_failure(diagnostics: list[dict]) -> dict | None:
    if not diagnostics:
        return None
    d = diagnostics[0]
    return {"message": d["message"], "line": d["line"], "col": d["col"], "trace": []}
