"""The debugger engine: breakpoints, stepping, inspection and time travel
for one guest program, on top of the VM's hook API (vm/hooks.py).

Why it is built this way:

* The program runs on a thread of its own (the *VM thread*); the engine's
  methods are called from another (a terminal debugger, the DAP server). A
  stop is a hook function that blocks: the VM thread waits inside the "line"
  (or "exception") hook for commands, with every frame intact. Inspection
  reads the paused VM from the caller's thread; anything that runs guest
  code (evaluate, conditions, log messages) is sent to the VM thread, which
  runs it inside `vm.hooks.muted()`.
* The stepping hook ("line") stays installed for the whole run,
  so positions (`vm.hooks.count`: instructions dispatched) are the same in
  every run of the program, which is what makes time travel by re-execution
  exact. Compiled code never runs while they are installed (the VM steps).
* Time travel: every line event's position is kept in a compact history
  (history.py). Going back computes a target position from it and calls
  `goto`, which re-runs the program from the start in a new VM up to that
  position with its output suppressed until it gets past what was already
  shown, and stdin replayed from what the first run read. `_rerun_to` is the
  one method that does it, so a process-checkpoint backend (tools/timetravel.py)
  can replace it.

The API is the one docs/debugging.md and issue 14's contract describe: ids
are ints, results are JSON-able dicts with DAP's field names.
"""

from __future__ import annotations

import io
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ...heap.objects import UNINIT, Instance
from .breakpoints import Breakpoints
from .evaluate import evaluate, visible_names, write_name
from .history import ENTRY, SAME, History
from .inspect import (
    EvalError,
    Frame,
    children,
    expandable,
    fiber_frames,
    frame_captured,
    frame_locals,
    module_globals,
    preview,
    set_child,
    type_name,
    unwrap,
)

__all__ = ["Engine", "EvalError", "Stop"]

STEPPING_EVENTS = ("line", "exception", "fiber")


@dataclass
class Stop:
    """Why and where the program stopped (or that it ended: "exited")."""

    reason: str
    fiber_id: int = 1
    position: int = 0
    text: str = ""
    hit_ids: list[int] = field(default_factory=list)
    exit_code: int | None = None
    error: str | None = None
    path: str = ""
    line: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class _Mode:
    """What the running program is doing until its next stop."""

    kind: str  # "entry" | "continue" | "next" | "stepIn" | "stepOut" | "goto"
    fiber: Any = None
    depth: int = 0
    line: int = 0
    origin: int = -1  # position of the stop the step started from
    target: int = 0  # goto: the position to reach
    reason: str = "goto"  # goto: the reason of the stop it makes


class _Abort(BaseException):
    """Raised out of a hook to end a run the engine gave up (a goto backwards,
    close): a BaseException so that the VM's own handlers let it through."""


class _Output:
    """The program's stdout: text goes to on_output("stdout"), except, in a
    re-execution, what an earlier run already showed."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.produced = 0

    def write(self, text: str) -> int:
        eng = self.engine
        start = self.produced
        self.produced += len(text)
        if self.produced > eng._shown:
            if start < eng._shown:
                text = text[eng._shown - start :]
            eng._shown = self.produced
            eng.on_output("stdout", text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True


class _Input:
    """The program's stdin: lines are read once from the real source and
    logged, so a re-execution reads the same lines."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.next = 0

    def readline(self, size: int = -1) -> str:
        eng = self.engine
        log = eng._stdin_log
        if self.next < len(log):
            line = log[self.next]
        else:
            src = eng._stdin
            line = src.readline(size) if src is not None else ""
            log.append(line)
        self.next += 1
        return line

    def read(self, size: int = -1) -> str:
        return self.readline(size)

    def readable(self) -> bool:
        return True


class Engine:
    """One debugged program (see the module docstring; the API is issue 14's)."""

    def __init__(
        self,
        path: str,
        *,
        argv: Any = (),
        stdin: Any = None,
        on_output: Callable[[str, str], None] | None = None,
        jit: str = "off",
        recorder: Any = None,
        lang: str | None = None,
        languages: Any = None,
        allow: Any = None,
    ) -> None:
        from ...bytecode.code import LoadError
        from ...lang.diagnostics import CompileError
        from ...lang.driver import Languages, compile_program

        self.path = path
        self.argv = list(argv)
        self.on_output = on_output or (lambda category, text: None)
        self.jit = jit
        self.recorder = recorder
        self.allow = allow
        self.languages = languages or Languages.default()
        self.frontend = self.languages.select(path, lang)
        self._stdin = io.StringIO(stdin) if isinstance(stdin, str) else stdin
        self._stdin_log: list[str] = []
        self.bundle: Any = None
        self.compile_error: str | None = None
        try:
            if path.endswith(".tvm") and lang is None:  # compiled: its code keeps lines and local names
                from ...bytecode.tvmfile import read_file

                self.bundle = read_file(path)
                self.frontend = self.languages.for_dialect(self.bundle.modules[self.bundle.main].lang)
            else:
                self.bundle = compile_program(path, lang=lang, languages=self.languages)
        except CompileError as e:
            self.compile_error = e.render()
        except LoadError as e:
            self.compile_error = f"error: {path}: {e}"
        except OSError as e:
            self.compile_error = f"error: cannot read {path}: {e.strerror or e}"
        self.bps = Breakpoints(self, self.bundle)
        self.history = History()
        self._hits: set[int] = set()  # positions where a breakpoint stopped the program
        # Control (module docstring): commands to the VM thread, stops back.
        self._cmds: queue.Queue = queue.Queue()
        self._stops: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._generation = 0
        self._mode = _Mode("continue")
        self._pause_flag = False
        self._shown = 0  # characters of stdout shown so far (by any run)
        self._skew = 0  # instructions run by the engine's own muted code (not the program's)
        self.vm: Any = None  # the api.VM of the current run
        self.machine: Any = None
        # Per run: the line each frame of each fiber is at (by depth).
        self._lines: dict[Any, list[int]] = {}
        # Per stop: where (fiber, code, pc, depth), the frames and references handed out.
        self.stop: Stop | None = None
        self._at = -1
        self._where: tuple[Any, Any, int, int] | None = None
        self._frames: dict[int, Frame] = {}
        self._refs: dict[int, tuple] = {}
        self._next_id = 1
        self._paused = False
        self._travel_reason = "goto"
        self._compiled: dict[tuple, tuple] = {}  # evaluate's compiled functions, by (lang, text, names)
        self._fns: dict[tuple, Any] = {}  # ... and loaded in this run's VM

    # ------------------------------------------------------------------ configuration

    def set_breakpoints(self, path: str, specs: list[dict]) -> list[dict]:
        return self.bps.set_lines(path, specs)

    def set_function_breakpoints(self, specs: list[dict]) -> list[dict]:
        return self.bps.set_functions(specs)

    def set_exception_breakpoints(self, filters: list[str]) -> None:
        self.bps.exceptions = {f for f in filters if f in ("caught", "uncaught")}

    # ------------------------------------------------------------------ running

    def start(self, stop_on_entry: bool = False) -> Stop:
        if self._thread is not None or self.stop is not None:  # (started already)
            return self.stop if self.stop is not None else self._wait()
        if self.compile_error is not None:
            self.stop = Stop("exited", exit_code=self.frontend.exit_compile, error=self.compile_error)
            return self.stop
        self._launch(_Mode("entry" if stop_on_entry else "continue"))
        return self._wait()

    def resume(self, how: str = "continue", fiber_id: int | None = None) -> Stop:
        if how not in ("continue", "next", "stepIn", "stepOut"):
            raise ValueError(f"unknown resume kind {how!r}")
        if not self._paused:
            return self.stop if self.stop is not None else self.start()
        fb, code, pc, depth = self._where  # type: ignore[misc]
        if fiber_id is not None and fiber_id != self._tid(fb):
            parked = self._fiber(fiber_id)
            if parked is not None and how != "continue":
                fb, depth = parked, len(parked.frames)
        line = code.position(max(pc, 0))[0] if code is not None else 0
        return self._go(_Mode(how, fiber=fb, depth=depth, line=line, origin=self._at))

    def pause(self) -> None:
        """Stop at the next line any fiber reaches (safe from any thread or a
        signal handler: it only sets a flag)."""
        self._pause_flag = True

    def close(self) -> None:
        """End the run (if any) without running more of the program."""
        self._abort()

    @property
    def position(self) -> int:
        return self._at

    # ------------------------------------------------------------------ time travel

    def step_back(self, fiber_id: int | None = None) -> Stop:
        """To the previous line the fiber stopped at with "next": a line of
        the same frame or of a caller (a callee's lines are stepped over)."""
        h = self.history
        if not len(h):
            return self.stop or self.start()
        tid = fiber_id or (self.stop.fiber_id if self.stop else 1)
        depth = self._where[3] if self._paused and self._where else None
        if self._paused and self.stop is not None and tid != self.stop.fiber_id:
            other = self._fiber(tid)  # (another fiber, parked: from its own depth)
            depth = len(other.frames) if other is not None else None
        target = h.previous_line(self._now(), tid, depth)
        return self._travel(h.first if target is None else target, "step")

    def reverse_continue(self) -> Stop:
        """Back to the previous breakpoint hit (one that stopped, or a line
        with an unconditional breakpoint passed), else to the start."""
        h = self.history
        if not len(h):
            return self.stop or self.start()
        target = h.previous_stop(self._now(), lambda j: h.pos[j] in self._hits or self.bps.would_stop(h.code(j), h.line[j], bool(h.flags[j] & ENTRY), h.pos[j]))
        return self._travel(h.first, "entry") if target is None else self._travel(target, "breakpoint")

    def restart_frame(self, frame_id: int) -> Stop:
        """Back to the first line of the call that made frame `frame_id`."""
        frame = self._frames.get(frame_id)
        if frame is None:
            raise EvalError(f"no frame {frame_id} (frame ids are valid until the program resumes)")
        return self._travel(self.history.frame_start(self._at, self._tid(frame.fiber), frame.depth), "restart")

    def _now(self) -> int:
        """The position history scans back from: the stop's, or past the end."""
        return self._at if self._paused else (1 << 62)

    def goto(self, position: int) -> Stop:
        return self._travel(position, "goto")

    def _travel(self, target: int, reason: str) -> Stop:
        if self._paused and target > self._at:
            return self._go(_Mode("goto", target=target, reason=reason))
        if self._paused and target == self._at and self.stop is not None:
            self.stop.reason = reason
            return self.stop
        self._travel_reason = reason
        return self._rerun_to(target)

    def _rerun_to(self, position: int) -> Stop:
        """Re-run the program from the start in a new VM up to `position` (the
        first line event at or after it); output already shown is not shown
        again. The one place going back happens (a checkpoint backend
        replaces it)."""
        self._abort()
        self._launch(_Mode("goto", target=position, reason=self._travel_reason))
        return self._wait()

    # ------------------------------------------------------------------ inspection

    def threads(self) -> list[dict]:
        if not self._paused:  # running (or not started): the main fiber, as DAP wants one thread
            ended = self.stop is not None and self.stop.reason == "exited"
            return [] if ended else [{"id": 1, "name": "main", "state": "running"}]
        return [{"id": self._tid(f), "name": "main" if self._tid(f) == 1 else f"fiber {f.id} ({f.name})", "state": getattr(f, "state", "")} for f in self._all_fibers()]

    def fibers(self) -> list[dict]:
        out = []
        for f in self._all_fibers():
            frames = self._frames_of(f)
            where = ""
            if frames:
                _, code, pc, _ = frames[0]
                line, col = code.position(max(pc, 0))
                where = f"{code.name} ({code.path}:{line}:{col})"
            wait = getattr(getattr(f, "wait", None), "what", "") or ""
            out.append({"id": self._tid(f), "name": f.name, "state": f.state, "where": where, "waiting": wait, "current": self._where is not None and f is self._where[0]})
        return out

    def stack(self, fiber_id: int | None = None, start: int = 0, levels: int = 0) -> tuple[list[dict], int]:
        fb = self._fiber(fiber_id if fiber_id is not None else (self.stop.fiber_id if self.stop else 1))
        if fb is None or not self._paused:
            return [], 0
        frames = self._frames_of(fb)
        total = len(frames)
        end = total if levels <= 0 else min(total, start + levels)
        out = []
        for level in range(start, end):
            L, code, pc, depth = frames[level]
            fid = self._new_id()
            frame = Frame(fid, fb, level, L, code, pc, depth)
            self._frames[fid] = frame
            line, col = code.position(max(pc, 0))
            out.append({"id": fid, "name": code.name, "path": code.path, "line": line, "column": col})
        return out, total

    def scopes(self, frame_id: int) -> list[dict]:
        frame = self._frame(frame_id)
        out = [{"name": "Locals", "variablesReference": self._ref(("locals", frame)), "expensive": False}]
        if frame_captured(frame):
            out.append({"name": "Captured", "variablesReference": self._ref(("captured", frame)), "expensive": False})
        if frame.module is not None:
            out.append({"name": "Globals", "variablesReference": self._ref(("globals", frame)), "expensive": False})
        return out

    def variables(self, ref: int, start: int = 0, count: int = 0) -> list[dict]:
        entry = self._refs.get(ref)
        if entry is None:
            raise EvalError(f"no variables reference {ref} (references are valid until the program resumes)")
        items = self._items(entry)
        if count > 0:
            items = items[start : start + count]
        elif start:
            items = items[start:]
        frame = entry[1]
        return [self._var(name, value, frame) for name, value in items]

    def evaluate(self, expr: str, frame_id: int | None = None) -> dict:
        frame = self._frame(frame_id) if frame_id is not None else self._top_frame()
        value = self._on_vm(lambda: self._evaluate(expr, frame))
        return self._var("", value, frame, key="result")

    def set_variable(self, ref: int, name: str, value_expr: str) -> dict:
        entry = self._refs.get(ref)
        if entry is None:
            raise EvalError(f"no variables reference {ref}")
        kind, frame = entry[0], entry[1]
        value = self._on_vm(lambda: self._evaluate(value_expr, frame))
        if kind == "value":
            set_child(entry[2], name, value, self.machine.heap)
        else:
            for n, k, w in visible_names(frame):
                if n == name and {"locals": "local", "captured": "captured", "globals": "global"}[kind] == k:
                    write_name(frame, k, w, value, self.machine, name)
                    break
            else:
                raise EvalError(f"no variable '{name}' in this scope")
        return self._var(name, value, frame, key="value")

    def heap_summary(self) -> dict:
        m = self.machine
        if m is None or (not self._paused and self._thread is not None and self._thread.is_alive()):
            return {}  # (not started, or running: the heap is changing)
        heap = m.heap
        by_type: dict[str, list[int]] = {}
        seen: set[int] = set()
        todo = list(m.gc_roots())
        while todo and len(seen) < 1_000_000:
            v = todo.pop()
            if not hasattr(v, "refs") or id(v) in seen:
                continue
            seen.add(id(v))
            # (every instance, dict or laid out -- heap/layout.py -- under one kind)
            t = "instance" if isinstance(v, Instance) else type_name(v)
            slot = by_type.setdefault(t, [0, 0])
            slot[0] += 1
            try:
                slot[1] += v.size()
                todo.extend(x for x in v.refs() if hasattr(x, "refs"))
            except Exception:  # noqa: BLE001, S112 - a poisoned (freed) object: nothing to follow
                continue
        return {
            "bytes": heap.used,
            "peak": heap.peak,
            "collections": heap.stats.collections,
            "objects": len(seen),
            "by_type": {k: {"count": c, "bytes": b} for k, (c, b) in sorted(by_type.items(), key=lambda kv: -kv[1][1])},
        }

    # ------------------------------------------------------------------ the VM thread

    def _launch(self, mode: _Mode) -> None:
        self._generation += 1
        gen = self._generation
        self._mode = mode
        self._pause_flag = False
        self._cmds = queue.Queue()
        t = threading.Thread(target=self._run, args=(gen,), name="tinyvm-debuggee", daemon=True)
        self._thread = t
        t.start()

    def _new_vm(self) -> Any:
        from ...api import VM

        kwargs: dict[str, Any] = {}
        if self.jit != "off":
            kwargs["jit"] = self.jit
        return VM(stdout=_Output(self), stdin=_Input(self), argv=self.argv, languages=self.languages, allow=self.allow, **kwargs)

    def _run(self, gen: int) -> None:
        from ...runtime.errors import (
            GuestException,
            GuestExit,
            HostIOError,
            LimitExceeded,
        )
        from ...vm.hooks import HookError

        stop = Stop("exited", exit_code=0)
        vm = None
        try:
            vm = self._new_vm()
            m = vm.machine
            self.vm, self.machine = vm, m
            self._skew = 0
            self._lines = {}
            self._fns = {}
            # The runtime library is loaded before the program, in every run:
            # were an evaluation (muted) the first to need it, a re-execution
            # would load it unmuted, later, and its positions would shift.
            with m.hooks.muted():
                m.prelude_fn("format_value")
            for event in STEPPING_EVENTS:
                m.hooks.add(event, self._on_event)
            if self.recorder is not None and hasattr(self.recorder, "attach"):
                self.recorder.attach(m)
            vm.run_bundle(self.bundle)
        except _Abort:
            return
        except HookError as e:
            if isinstance(e.__cause__, _Abort) or gen != self._generation:
                return
            stop.exit_code, stop.error = 70, f"internal error: {e}"
        except GuestExit as e:
            stop.exit_code = e.status
        except LimitExceeded as e:
            stop.exit_code, stop.error = 3, f"error: {e.message}"
        except GuestException as e:
            stop.exit_code = self.frontend.exit_runtime
            stop.error = self.frontend.render_runtime_error(e)
        except HostIOError as e:
            stop.exit_code, stop.error = 74, f"error: {e}"
        except BaseException as e:  # noqa: BLE001 - a bug of the engine or the VM: say so, do not hang the caller
            stop.exit_code, stop.error = 70, f"internal error: {type(e).__name__}: {e}"
        finally:
            if vm is not None:
                vm.close()
        if gen != self._generation:
            return
        if self.machine is not None:
            stop.position = self.machine.hooks.count - self._skew
        stop.text = stop.error or f"exited with status {stop.exit_code}"
        self._stops.put((gen, stop))

    def _wait(self) -> Stop:
        idle = 0
        while True:
            try:
                gen, stop = self._stops.get(timeout=0.2)
            except queue.Empty:
                t = self._thread
                idle = idle + 1 if t is not None and not t.is_alive() else 0
                if idle >= 3 and self._stops.empty():  # (never a hang: its thread is gone without a word)
                    gen, stop = self._generation, Stop("exited", exit_code=70, error="internal error: the program's thread ended without a stop")
                    break
                continue
            if gen == self._generation:
                break
        self._frames.clear()
        self._refs.clear()
        self.stop = stop
        if stop.reason == "exited":
            self._paused = False
            self._where = None
            self._at = stop.position
        return stop

    def _go(self, mode: _Mode) -> Stop:
        self._paused = False
        self._frames.clear()
        self._refs.clear()
        self._cmds.put(("resume", mode))
        return self._wait()

    def _abort(self) -> None:
        t = self._thread
        if t is not None and t.is_alive():
            self._generation += 1
            if self._paused:
                self._cmds.put(("abort",))
            else:
                self._mode = _Mode("abort")
            t.join(timeout=5)  # (a program blocked outside guest code, in a read, is left to die with the process)
        self._thread = None
        self._paused = False

    def _on_vm(self, fn: Callable[[], Any]) -> Any:
        """Run fn on the VM thread (it runs guest code), the result back here."""
        if threading.current_thread() is self._thread:
            return fn()
        if not self._paused:
            if self._thread is not None and self._thread.is_alive():
                raise EvalError("the program is running: pause it first")
            return fn()  # (ended: nothing else runs the VM)
        box: queue.Queue = queue.Queue()
        self._cmds.put(("call", fn, box))
        ok, value = box.get()
        if not ok:
            raise value
        return value

    def _serve(self) -> None:
        """Block the VM thread at a stop, running commands until a resume."""
        while True:
            cmd = self._cmds.get()
            if cmd[0] == "call":
                try:
                    cmd[2].put((True, cmd[1]()))
                except BaseException as e:  # noqa: BLE001 - EvalError, mostly: the caller raises it again
                    cmd[2].put((False, e))
            elif cmd[0] == "resume":
                self._mode = cmd[1]
                return
            else:
                raise _Abort()

    # ------------------------------------------------------------------ events

    def _on_event(self, ev: Any) -> None:
        kind = ev.kind
        if kind == "line":
            self._on_line(ev)
        elif kind == "exception":
            self._on_exception(ev)
        elif kind == "fiber":
            mode = self._mode
            if ev.data.get("action") == "end" and mode.fiber is not None and mode.fiber is ev.data.get("fiber") and mode.kind in ("next", "stepIn", "stepOut"):
                # The stepped fiber ended: stop wherever the program goes next.
                mode.kind, mode.fiber = "stepIn", None

    def _on_line(self, ev: Any) -> None:
        fb = ev.fiber
        pos = ev.count - self._skew
        depth = ev.depth
        line = ev.line
        # The hooks fire a line event whenever the frame depth changes, so
        # calls and returns show here without "call"/"return" hooks (half
        # the events): deeper than the fiber's last line event is a new frame
        # (a call, a generator's resume, a fiber's start); shallower on the
        # line the frame was at is the return into the line that made a call.
        flags = 0
        lines = self._lines.get(fb)
        if lines is None:
            lines = self._lines[fb] = []
        last = len(lines) - 1
        if depth > last:
            flags |= ENTRY
        elif depth < last and lines[depth] == line:
            flags |= SAME
        del lines[depth:]
        lines.extend([0] * (depth + 1 - len(lines)))
        lines[depth] = line
        tid = self._tid(fb)
        self.history.add(pos, tid, depth, ev.code, line, flags)
        mode = self._mode
        kind = mode.kind
        if kind == "abort":
            raise _Abort()
        if kind == "goto":
            if pos >= mode.target:
                hits = self.bps.stopped_ids(ev.code, line, bool(flags & ENTRY), pos) if mode.reason == "breakpoint" else None
                self._stop_here(ev, pos, mode.reason, hit_ids=hits)
            return
        if kind == "entry":
            self._stop_here(ev, pos, "entry")
            return
        if pos == mode.origin:
            return
        if self._pause_flag:
            self._pause_flag = False
            self._stop_here(ev, pos, "pause")
            return
        if not flags & SAME:
            frame = None
            hits = self.bps.line_hits(ev, pos, lambda: frame or self._event_frame(ev))
            reason = "breakpoint"
            if flags & ENTRY:
                fhits = self.bps.function_hits(ev, pos, lambda: self._event_frame(ev))
                if fhits and not hits:
                    reason = "function breakpoint"
                hits += fhits
            if hits:
                self._hits.add(pos)
                self._stop_here(ev, pos, reason, hit_ids=hits)
                return
        if kind == "continue":
            return
        same = mode.fiber is None or fb is mode.fiber
        if kind == "stepIn":
            if same:  # (the next line of the same fiber, in whatever frame)
                self._stop_here(ev, pos, "step")
        elif kind == "next":
            # Over calls: a line of this frame (not the return into the line
            # the step started from) or of a caller.
            if same and (depth < mode.depth or (depth == mode.depth and not (flags & SAME and line == mode.line))):
                self._stop_here(ev, pos, "step")
        elif kind == "stepOut" and same and depth < mode.depth:
            self._stop_here(ev, pos, "step")

    def _on_exception(self, ev: Any) -> None:
        if self._mode.kind in ("goto", "abort"):
            return
        caught = bool(ev.data.get("caught"))
        wanted = self.bps.exceptions
        if ("caught" in wanted and caught) or ("uncaught" in wanted and not caught):
            value = ev.data.get("value")
            message = ev.data.get("message", "")
            cls = type_name(value)
            text = message if message.startswith(cls) else (f"{cls}: {message}" if message else cls)
            self._stop_here(ev, ev.count - self._skew, "exception", text=("caught " if caught else "uncaught ") + text)

    def _stop_here(self, ev: Any, pos: int, reason: str, text: str = "", hit_ids: list[int] | None = None) -> None:
        code = ev.code
        self._pause_flag = False  # (a pause asked for meanwhile is this stop)
        self._where = (ev.fiber, code, ev.pc, ev.depth)
        self._at = pos
        tid = self._tid(ev.fiber)
        if not text:
            text = f"{reason} at {code.path}:{ev.line}" if code is not None else reason
        stop = Stop(reason, tid, pos, text, list(hit_ids or ()), path=code.path if code is not None else "", line=ev.line)
        self._paused = True
        self._stops.put((self._generation, stop))
        self._serve()

    def _event_frame(self, ev: Any) -> Frame:
        """The frame of the running event (for a condition or a log message)."""
        fb = ev.fiber
        return Frame(0, fb, 0, fb.L, ev.code, ev.pc, ev.depth)

    # ------------------------------------------------------------------ helpers

    def _evaluate(self, expr: str, frame: Frame) -> Any:
        """expr's value in frame's context (evaluate.py); raises EvalError."""
        return evaluate(self, expr, frame)

    def _var(self, name: str, value: Any, frame: Any, key: str = "value") -> dict:
        ref = self._ref(("value", frame, value)) if expandable(value) else 0
        lox = _is_lox(frame)
        out: dict[str, Any] = {key: preview(value, lox=lox), "type": type_name(value, lox), "variablesReference": ref}
        if name or key == "value":
            out = {"name": name, **out}
        if ref:
            parts = children(value) or []
            if type_name(value) == "array":
                out["indexedVariables"] = len(parts)
            else:
                out["namedVariables"] = len(parts)
        return out

    def _items(self, entry: tuple) -> list[tuple[str, Any]]:
        kind, frame = entry[0], entry[1]
        if kind == "locals":
            return [(n, unwrap(frame.L[s])) for n, s in frame_locals(frame)]
        if kind == "captured":
            return [(n, c.value) for n, c in frame_captured(frame)]
        if kind == "globals":
            mod = frame.module
            return [(n, mod.globals[i]) for n, i in module_globals(mod) if mod.globals[i] is not UNINIT]
        return children(entry[2]) or []

    def _ref(self, entry: tuple) -> int:
        rid = self._new_id()
        self._refs[rid] = entry
        return rid

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _frame(self, frame_id: int) -> Frame:
        frame = self._frames.get(frame_id)
        if frame is None:
            raise EvalError(f"no frame {frame_id} (frame ids are valid until the program resumes)")
        return frame

    def _top_frame(self) -> Frame:
        if not self._paused:
            raise EvalError("the program is not stopped")
        frames, _ = self.stack(self.stop.fiber_id if self.stop else 1, 0, 1)
        if not frames:
            raise EvalError("no frame to evaluate in")
        return self._frames[frames[0]["id"]]

    def _frames_of(self, fb: Any) -> list[tuple[list, Any, int, int]]:
        where = self._where
        top = (where[1], where[2]) if where is not None and fb is where[0] else None
        return fiber_frames(self.machine, fb, top)

    def _tid(self, fb: Any) -> int:
        fid = getattr(fb, "id", 0)
        return fid if fid >= 2 else 1

    def _all_fibers(self) -> list:
        m = self.machine
        if m is None or not self._paused:
            return []
        sched = m.sched
        out = []
        if sched.main is not None:
            out.append(sched.main)
        elif self._where is not None:
            out.append(self._where[0])
        out.extend(f for f in sched.alive if f not in out)
        return out

    def _fiber(self, tid: int | None) -> Any:
        for f in self._all_fibers():
            if self._tid(f) == tid:
                return f
        return None


def _is_lox(frame: Any) -> bool:
    module = getattr(frame, "module", None)
    code = getattr(module, "code", None)
    return getattr(code, "lang", "") == "lox"


def source_lines(path: str) -> list[str]:
    """The lines of a program's file (for `l`), [] when unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except OSError:
        return []


def same_file(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)
