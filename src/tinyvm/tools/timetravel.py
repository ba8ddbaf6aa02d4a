"""Time travel with process checkpoints: going back costs bounded work.

Why: the debugger engine (tools/debugger/engine.py) goes back by re-running
the program from its start, which costs the whole prefix: stepping back one
line at instruction 10 M re-steps 10 M instructions. The VM is deterministic
once its inputs are fixed (runtime/inputs.py), so a copy of the process taken
at position C is as good as a re-run to C. `os.fork` makes that copy cheaply
(copy-on-write), so this module keeps forked copies of the paused program --
*checkpoints* -- every K instructions, and goes back to P by resuming the
newest checkpoint at or before P and running forward at most K instructions.

Processes:

* The **controller** (`TimeTravel`, in the debugger's process) has the
  Engine API (issue 14's contract). Each call is sent to the *active
  executor* over a socket and its result comes back; the controller itself
  runs no guest code.
* An **executor** process runs an `Engine` and serves those calls. Its VM
  thread, at the first line event of every K-instruction stretch (and at the
  program's first line), forks: the child is a **checkpoint**, paused inside
  the hook (before the engine sees that line), waiting on a socket of its
  own that the executor hands to the controller (SCM_RIGHTS).
* Going back: the executor's engine asks to re-run to P (`Engine._rerun_to`,
  the engine's one place for going back); the executor answers "travel P"
  instead. The controller sends "resume P" to the newest checkpoint <= P,
  which forks again (so it stays reusable): the grandchild becomes the new
  active executor, takes over the old one's breakpoints (ids, hit counts)
  and the positions where they stopped, and runs forward to P, where the
  engine stops as a re-run would. The old executor is killed. When that
  run forward is long (over half a stretch), the new executor makes one more
  checkpoint a quarter stretch before P, so the next steps back are short.
* Inputs: every input of the run goes through a `SharedInputs` (vm.inputs):
  new ones are read live and sent to the controller, which keeps the
  timeline's log; a resumed checkpoint is given the log past its own
  position, so it replays what the earlier executor read (stdin, clocks,
  files) instead of reading again.
* Output: each stdout write carries its end offset in the program's output;
  the controller passes on only what it has not shown yet, so a stretch run
  again prints nothing twice.
* Bounded: the controller keeps at most `max_checkpoints`, thinned so that
  spacing doubles with age (`thin`), and kills them all at `close`. Changing
  the program's state (`set_variable`, an assignment in `evaluate`) forks
  the timeline: the checkpoints after the current position, and the inputs
  read after it, are dropped. (A guest function called by `evaluate` that
  mutates the heap is not noticed: going back forgets its effect, as a
  re-execution does.)

`open_engine(...)` returns a `TimeTravel` where `os.fork` exists, else a
plain `Engine` (time travel by re-execution). Linux and macOS.
"""

from __future__ import annotations

import os
import pickle
import queue
import re
import signal
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

from ..runtime.errors import RtError
from ..runtime.inputs import Inputs
from .record import ReplayDiverged, _encode, decode_input

__all__ = ["TimeTravel", "RerunInputs", "SharedInputs", "open_engine", "heap_diff", "thin", "DEFAULT_EVERY", "DEFAULT_MAX_CHECKPOINTS"]

# Instructions between checkpoints: re-stepping this many under the engine's
# hooks takes 35-60 ms (0.35-0.6 M stepped instructions/s under the engine, on a
# loaded machine; benchmarks/step_back.py).
DEFAULT_EVERY = 20_000
DEFAULT_MAX_CHECKPOINTS = 24
_HEADER = struct.Struct("!I")
# What the engine's evaluate takes for an assignment (`p x = 5`: it changes the program's state).
_ASSIGNMENT = re.compile(r"^\s*([A-Za-z_]\w*)\s*=(?!=)(.+)$", re.DOTALL)


# --------------------------------------------------------------------------- wire


class _Conn:
    """Length-prefixed pickles over a Unix stream socket; file descriptors
    ride along with a message (SCM_RIGHTS)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.fds: list[int] = []
        self.lock = threading.Lock()

    def send(self, msg: Any, fds: tuple[int, ...] = ()) -> None:
        try:
            data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # (an unpicklable result: say what it was)
            data = pickle.dumps(("reply", False, RuntimeError(f"cannot send {type(msg[-1]).__name__}: {e}")))
        frame = _HEADER.pack(len(data)) + data
        with self.lock:
            if fds:
                sent = socket.send_fds(self.sock, [frame[:1]], list(fds))
                assert sent == 1
                self.sock.sendall(frame[1:])
            else:
                self.sock.sendall(frame)

    def _fill(self) -> None:
        data, fds, _, _ = socket.recv_fds(self.sock, 1 << 16, 8)
        if not data:
            raise EOFError
        self.buf += data
        self.fds.extend(fds)

    def recv(self) -> Any:
        """The next message. (Descriptors received meanwhile queue in `fds`, in
        the order sent: the message that announces one takes it with take_fd.)"""
        while len(self.buf) < 4:
            self._fill()
        (n,) = _HEADER.unpack_from(self.buf)
        while len(self.buf) < 4 + n:
            self._fill()
        msg = pickle.loads(bytes(self.buf[4 : 4 + n]))
        del self.buf[: 4 + n]
        return msg

    def take_fd(self) -> int:
        while not self.fds:
            self._fill()
        return self.fds.pop(0)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class _Travel(BaseException):
    """Raised out of the executor's engine where it would re-run the program:
    the controller goes back with a checkpoint instead."""

    def __init__(self, target: int, reason: str) -> None:
        super().__init__(target, reason)
        self.target = target
        self.reason = reason


# --------------------------------------------------------------------------- executor


class SharedInputs(Inputs):
    """vm.inputs of an executor: inputs the timeline already has are replayed
    (in order, checked), new ones are read live and reported."""

    __slots__ = ("known", "pos", "report", "net")

    def __init__(self, report: Callable[[int, list], None]) -> None:
        self.known: list[list] = []
        self.pos = 0
        self.report = report
        self.net: Any = None  # (a recording's network: _replay_net)

    def take(self, kind: str, fn: Callable[..., Any], *args: Any) -> Any:
        i = self.pos
        if i < len(self.known):
            k, value = self.known[i]
            if k != kind:
                raise ReplayDiverged(f"time travel: input #{i + 1} was {k}, the program now asks for {kind}")
            self.pos = i + 1
            return decode_input(value)
        try:
            value = fn(*args)
        except RtError as e:
            entry = [kind, {"e": [e.cls, e.message]}]
            self.known.append(entry)
            self.pos = i + 1
            self.report(i, entry)
            raise
        entry = [kind, _encode(value)]
        self.known.append(entry)
        self.pos = i + 1
        self.report(i, entry)
        return value


class _Executor:
    """The engine's process: serves the controller's calls, makes checkpoints."""

    def __init__(self, conn: _Conn, every: int, engine_args: tuple, engine_kwargs: dict, inputs: list) -> None:
        from .debugger.engine import Engine

        self.conn = conn
        self.every = every
        self.next_cp = 0
        self.buckets: set[int] = set()  # checkpoint stretches (pos // every) that have one
        # A resumed checkpoint that runs far to its target makes one more on
        # the way, a quarter stretch before it: the next steps back (to just
        # before the target) then re-run a quarter stretch, not a whole one.
        self.fine_at: int | None = None
        self.inputs = SharedInputs(self._report_input)
        self.inputs.known = list(inputs)
        self.machine: Any = None
        self.engine = Engine(*engine_args, on_output=self._output, recorder=self, **engine_kwargs)
        self.engine._rerun_to = self._rerun_to  # (going back: a checkpoint, not a re-run)

    # -- the engine's side

    def attach(self, machine: Any) -> None:
        """Called by the engine for each VM it makes (before it runs)."""
        self.machine = machine
        self.inputs.pos = 0  # (a run from the start: the engine's own restart)
        machine.inputs = self.inputs
        clock = machine.sched.clock
        machine.sched.clock = lambda: self.inputs.take("clock", clock)
        _replay_net(self.inputs, machine)
        machine.heap.number_objects()  # (snapshot ids: tools/snapshot.py)
        h = machine.hooks.add("line", self._on_line)
        # Before the engine's own line hook: a checkpoint is paused before the
        # engine has seen its line, so a resumed copy stops there if asked to.
        lst = machine.hooks._hooks["line"]
        lst.remove(h)
        lst.insert(0, h)

    def _output(self, category: str, text: str) -> None:
        end = self.engine._shown if category == "stdout" else -1
        self.conn.send(("out", category, text, end))

    def _report_input(self, index: int, entry: list) -> None:
        self.conn.send(("input", index, entry))

    def _rerun_to(self, position: int) -> Any:
        raise _Travel(position, self.engine._travel_reason)

    def _on_line(self, ev: Any) -> None:
        pos = ev.count - self.engine._skew
        if pos < self.next_cp:
            if self.fine_at is not None and pos >= self.fine_at:
                self.fine_at = None
                self._checkpoint(pos)
            return
        bucket = pos // self.every
        self.next_cp = (bucket + 1) * self.every
        if bucket in self.buckets and pos != 0:
            return
        self.buckets.add(bucket)
        self._checkpoint(pos)

    # -- checkpoints

    def _checkpoint(self, pos: int) -> None:
        mine, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # the checkpoint: paused here until resumed (or told to exit)
            mine.close()
            self.conn.close()
            self.conn = _Conn(theirs)
            self._paused(pos)
            return  # (resumed: this copy is now the active executor)
        theirs.close()
        self.conn.send(("checkpoint", pos, pid, self.inputs.pos), fds=(mine.fileno(),))
        mine.close()

    def _paused(self, pos: int) -> None:
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                os._exit(0)
            if msg[0] != "resume":
                os._exit(0)
            _, target, reason, state, tail, buckets = msg
            mine, theirs = socket.socketpair()
            pid = os.fork()
            if pid == 0:  # the new executor
                mine.close()
                self.conn.close()
                self.conn = _Conn(theirs)
                self._become_active(pos, target, reason, state, tail, buckets)
                return
            theirs.close()
            self.conn.send(("forked", pid), fds=(mine.fileno(),))
            mine.close()

    def _become_active(self, pos: int, target: int, reason: str, state: dict, tail: list, buckets: list) -> None:
        from .debugger.engine import _Mode

        eng = self.engine
        # The threads that held these are gone (only the forking thread survives a fork).
        eng._cmds = queue.Queue()
        eng._stops = queue.Queue()
        # The debugging state of the executor this one replaces (breakpoints
        # with their ids and hit counts, the positions where they stopped):
        # set after this checkpoint was made, or changed since.
        bps = eng.bps
        bps.by_line, bps.functions, bps.exceptions, bps._next = state["by_line"], state["functions"], state["exceptions"], state["next"]
        eng._hits = state["hits"]
        self.inputs.known = self.inputs.known[: self.inputs.pos] + list(tail)
        self.buckets = set(buckets) | {pos // self.every}
        self.next_cp = (pos // self.every + 1) * self.every
        self.fine_at = target - self.every // 4 if target - pos > self.every // 2 else None
        eng._travel_reason = reason
        eng._paused = False
        eng._mode = _Mode("goto", target=target, reason=reason)
        threading.Thread(target=self._serve, args=(True,), name="tinyvm-timetravel", daemon=True).start()
        # Returning from the hook runs the program on to `target` (the engine stops there).

    # -- serving the controller

    def _serve(self, travelling: bool = False) -> None:
        if travelling:
            self._reply(self.engine._wait)
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                os._exit(0)
            if msg[0] == "call":
                _, method, args, kwargs = msg
                fn = getattr(self, "tt_" + method, None) or getattr(self.engine, method)
                self._reply(fn, *args, **kwargs)
            elif msg[0] == "get":
                self._reply(getattr, self.engine, msg[1])
            else:
                os._exit(0)

    def _reply(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            value = fn(*args, **kwargs)
        except _Travel as t:
            bps = self.engine.bps
            state = {"by_line": bps.by_line, "functions": bps.functions, "exceptions": bps.exceptions, "next": bps._next, "hits": self.engine._hits}
            self.conn.send(("travel", t.target, t.reason, state))
            return
        except Exception as e:
            self.conn.send(("reply", False, e))
            return
        self.conn.send(("reply", True, value))

    # -- calls of the controller's own

    def tt_snapshot(self) -> Any:
        from .snapshot import take_snapshot

        if self.machine is None:
            raise RuntimeError("the program has not started")
        return take_snapshot(self.machine, self.engine.position)

    def tt_cut(self) -> int:
        """The timeline ends here (the program's state was changed): forget
        the inputs read after this point, and the checkpoints after it (the
        controller kills them; new ones will be made); the inputs kept."""
        del self.inputs.known[self.inputs.pos :]
        pos = max(self.engine.position, 0)
        self.buckets = {b for b in self.buckets if b * self.every <= pos}
        self.next_cp = (pos // self.every + 1) * self.every
        return self.inputs.pos

    def tt_pid(self) -> int:
        return os.getpid()

    def tt_history_length(self) -> int:
        return len(self.engine.history)


def _executor_main(sock: socket.socket, every: int, engine_args: tuple, engine_kwargs: dict, inputs: list) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # (killed checkpoints leave no zombies)
    # Ctrl-C in the debugger's terminal reaches the whole process group: the
    # debugger turns it into pause() (SIGUSR1); the executors must survive it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = _Conn(sock)
    try:
        ex = _Executor(conn, every, engine_args, engine_kwargs, inputs)
    except BaseException as e:  # pragma: no cover - reported to the controller
        conn.send(("reply", False, RuntimeError(f"the debugger could not start: {type(e).__name__}: {e}")))
        os._exit(1)
    signal.signal(signal.SIGUSR1, lambda *_: ex.engine.pause())
    conn.send(("reply", True, None))  # ready
    ex._serve()


# --------------------------------------------------------------------------- controller


class _Proc:
    def __init__(self, pid: int, conn: _Conn, position: int = 0, input_pos: int = 0) -> None:
        self.pid = pid
        self.conn = conn
        self.position = position
        self.input_pos = input_pos


def thin(positions: list[int], every: int, keep: int) -> list[int]:
    """The checkpoint positions to kill so that at most `keep` stay, spacing
    doubling with age: a checkpoint at distance d behind the newest stays
    only if its stretch number (position // every) is a multiple of 2**L,
    L = log2(d / (per_level * every)), so each doubling of the distance
    keeps about `per_level` of them. (A checkpoint that fails the rule
    fails it forever: the distance only grows.) If that still leaves too
    many, the one whose neighbours are closest goes, until `keep` remain.
    The oldest (the program's start) and the newest always stay."""
    if len(positions) <= 2:
        return []
    ps = sorted(positions)
    newest = ps[-1]
    per_level = max(1, keep // 8)
    kept = [ps[0]]
    for p in ps[1:-1]:
        d = (newest - p) // (per_level * every)
        level = d.bit_length() - 1 if d > 0 else 0
        if (p // every) % (1 << level) == 0:
            kept.append(p)
    kept.append(newest)
    while len(kept) > keep:
        i = min(range(1, len(kept) - 1), key=lambda k: (kept[k + 1] - kept[k - 1], kept[k]))
        del kept[i]
    alive = set(kept)
    return [p for p in ps if p not in alive]


class TimeTravel:
    """The Engine API, backed by an executor process and its checkpoints (see
    the module docstring). Arguments: those of Engine, and `every` (K,
    instructions between checkpoints), `max_checkpoints`, and `inputs`: the
    inputs of a recording (tools/record.py), replayed before live reads."""

    def __init__(
        self,
        path: str,
        *,
        on_output: Callable[[str, str], None] | None = None,
        every: int = DEFAULT_EVERY,
        max_checkpoints: int = DEFAULT_MAX_CHECKPOINTS,
        inputs: list | None = None,
        **engine_kwargs: Any,
    ) -> None:
        self.path = path
        self.on_output = on_output or (lambda category, text: None)
        self.every = every
        self.max_checkpoints = max(2, max_checkpoints)
        self.checkpoints: dict[int, _Proc] = {}
        self.inputs: list[list] = list(inputs or ())  # the timeline's inputs, in order
        self.switches = 0  # times a checkpoint was resumed (for tests and benchmarks)
        self._shown = 0
        self._closed = False
        self.stop: Any = None
        self._owner = os.getpid()  # (a forked copy of this object must not close the session)
        engine_kwargs.pop("recorder", None)
        mine, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the executor (covered through the API)
            mine.close()
            try:
                _executor_main(theirs, every, (path,), engine_kwargs, self.inputs)
            finally:
                os._exit(0)
        theirs.close()
        self._first = pid
        self.active = _Proc(pid, _Conn(mine))
        self._await()  # ready (or the error of a failed start)
        # What `tvm debug` reads of an engine before it starts.
        self.compile_error = self._get("compile_error")
        from ..lang.driver import Languages

        languages = engine_kwargs.get("languages") or Languages.default()
        self.frontend = languages.select(path, engine_kwargs.get("lang"))
        self.history = _RemoteLen(self)

    def _get(self, name: str) -> Any:
        self.active.conn.send(("get", name))
        return self._await()

    def _wait(self) -> Any:
        """The stop a call interrupted by Ctrl-C (then pause()) still brings."""
        return self._stopped(self._await())

    # -- plumbing

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self._closed:
            raise RuntimeError("the debugger session is closed")
        self.active.conn.send(("call", method, args, kwargs))
        return self._await()

    def _await(self) -> Any:
        while True:
            try:
                msg = self.active.conn.recv()
            except (EOFError, OSError):
                raise RuntimeError("the debugged program's process ended unexpectedly") from None
            kind = msg[0]
            if kind == "reply":
                if msg[1]:
                    return msg[2]
                raise msg[2]
            if kind == "out":
                self._out(msg[1], msg[2], msg[3])
            elif kind == "input":
                if msg[1] == len(self.inputs):
                    self.inputs.append(msg[2])
            elif kind == "checkpoint":
                _, pos, pid, input_pos = msg
                conn = _Conn(socket.socket(fileno=self.active.conn.take_fd()))
                old = self.checkpoints.pop(pos, None)
                if old is not None:
                    self._kill(old)
                self.checkpoints[pos] = _Proc(pid, conn, pos, input_pos)
                for p in thin(list(self.checkpoints), self.every, self.max_checkpoints):
                    self._kill(self.checkpoints.pop(p))
            elif kind == "travel":
                return self._switch(msg[1], msg[2], msg[3])

    def _out(self, category: str, text: str, end: int) -> None:
        if category != "stdout" or end < 0:
            self.on_output(category, text)
            return
        start = end - len(text)
        if end <= self._shown:
            return  # shown before this stretch was run again
        if start < self._shown:
            text = text[self._shown - start :]
        self._shown = end
        self.on_output(category, text)

    def _switch(self, target: int, reason: str, state: dict) -> Any:
        """Resume the newest checkpoint at or before target, up to target."""
        older = [p for p in self.checkpoints if p <= target]
        if not older:
            raise RuntimeError(f"no checkpoint at or before position {target}")
        cp = self.checkpoints[max(older)]
        buckets = sorted({p // self.every for p in self.checkpoints})
        cp.conn.send(("resume", target, reason, state, self.inputs[cp.input_pos :], buckets))
        msg = cp.conn.recv()
        assert msg[0] == "forked", msg
        old = self.active
        self.active = _Proc(msg[1], _Conn(socket.socket(fileno=cp.conn.take_fd())))
        self._kill(old)
        self.switches += 1
        return self._await()

    def _kill(self, proc: _Proc) -> None:
        try:
            proc.conn.send(("exit",))
        except OSError:
            pass
        proc.conn.close()
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        if proc.pid == self._first:
            try:
                os.waitpid(proc.pid, 0)
            except ChildProcessError:
                pass

    def _stopped(self, stop: Any) -> Any:
        self.stop = stop
        return stop

    # -- configuration (a resumed checkpoint gets the breakpoints of the
    #    executor it replaces, ids and hit counts included: see "travel")

    def set_breakpoints(self, path: str, specs: list[dict]) -> list[dict]:
        return self._call("set_breakpoints", path, specs)

    def set_function_breakpoints(self, specs: list[dict]) -> list[dict]:
        return self._call("set_function_breakpoints", specs)

    def set_exception_breakpoints(self, filters: list[str]) -> None:
        return self._call("set_exception_breakpoints", filters)

    # -- running and travelling

    def start(self, stop_on_entry: bool = False) -> Any:
        return self._stopped(self._call("start", stop_on_entry))

    def resume(self, how: str = "continue", fiber_id: int | None = None) -> Any:
        return self._stopped(self._call("resume", how, fiber_id))

    def step_back(self, fiber_id: int | None = None) -> Any:
        return self._stopped(self._call("step_back", fiber_id))

    def reverse_continue(self) -> Any:
        return self._stopped(self._call("reverse_continue"))

    def restart_frame(self, frame_id: int) -> Any:
        return self._stopped(self._call("restart_frame", frame_id))

    def goto(self, position: int) -> Any:
        return self._stopped(self._call("goto", position))

    def pause(self) -> None:
        """Signal-safe: the executor's handler sets the engine's pause flag."""
        try:
            os.kill(self.active.pid, signal.SIGUSR1)
        except OSError:
            pass

    @property
    def position(self) -> int:
        return self._get("position")

    # -- inspection

    def threads(self) -> list[dict]:
        return self._call("threads")

    def fibers(self) -> list:
        return self._call("fibers")

    def stack(self, fiber_id: int | None = None, start: int = 0, levels: int = 0) -> tuple[list[dict], int]:
        return self._call("stack", fiber_id, start, levels)

    def scopes(self, frame_id: int) -> list[dict]:
        return self._call("scopes", frame_id)

    def variables(self, ref: int, start: int = 0, count: int = 0) -> list[dict]:
        return self._call("variables", ref, start, count)

    def heap_summary(self) -> dict:
        return self._call("heap_summary")

    def evaluate(self, expr: str, frame_id: int | None = None) -> dict:
        try:
            return self._call("evaluate", expr, frame_id)
        finally:
            if _ASSIGNMENT.match(expr):  # `name = value`: the program's state changed
                self._fork_timeline()

    def set_variable(self, ref: int, name: str, value_expr: str) -> dict:
        try:
            return self._call("set_variable", ref, name, value_expr)
        finally:
            self._fork_timeline()

    def _fork_timeline(self) -> None:
        """The program's state may differ from the recorded timeline from here
        on: the checkpoints ahead of it, and the inputs read after it, no longer apply."""
        pos = self.position
        for p in [p for p in self.checkpoints if p > pos]:
            self._kill(self.checkpoints.pop(p))
        del self.inputs[self._call("cut") :]

    # -- heap snapshots (tools/snapshot.py)

    def snapshot(self) -> Any:
        """A heap snapshot at the current position."""
        return self._call("snapshot")

    def heap_diff(self, a: int, b: int) -> Any:
        """Diff of the heap between positions a and b (visits both, then
        comes back to where the program was)."""
        from .snapshot import diff

        here = self.position
        self.goto(a)
        sa = self.snapshot()
        self.goto(b)
        sb = self.snapshot()
        if self.position != here:
            self.goto(here)
        return diff(sa, sb)

    def close(self) -> None:
        """End the session: the executor and every checkpoint are killed."""
        if self._closed or os.getpid() != self._owner:
            return
        self._closed = True
        for cp in list(self.checkpoints.values()):
            self._kill(cp)
        self.checkpoints.clear()
        self._kill(self.active)

    def __del__(self) -> None:  # pragma: no cover - a session left open
        try:
            self.close()
        except Exception:
            pass

    def pids(self) -> list[int]:
        """The session's processes: the active executor, then the checkpoints."""
        return [self.active.pid, *(p.pid for p in self.checkpoints.values())]


class _RemoteLen:
    """`len(engine.history)` of the active executor's engine."""

    def __init__(self, tt: TimeTravel) -> None:
        self.tt = tt

    def __len__(self) -> int:
        return self.tt._call("history_length")


class RerunInputs:
    """An Engine `recorder` for going back by re-execution: the inputs the
    first run read (and a recording's, if given) are replayed by every later
    run, so a re-run sees the same clock, files and stdin; heap objects are
    numbered (snapshot ids)."""

    def __init__(self, inputs: list | None = None) -> None:
        self.known: list[list] = list(inputs or ())

    def attach(self, machine: Any) -> None:
        inputs = SharedInputs(lambda index, entry: None)
        inputs.known = self.known  # (shared: what this run reads, the next replays)
        machine.inputs = inputs
        clock = machine.sched.clock
        machine.sched.clock = lambda: inputs.take("clock", clock)
        _replay_net(inputs, machine)
        machine.heap.number_objects()


def _replay_net(inputs: Any, machine: Any) -> None:
    """Debugging a recording that used the network: its sockets and readiness
    decisions are replayed (tools/netrec.py), none is opened. (A session
    without a recorded network uses the host's, live.)"""
    if any(k == "net" for k, _ in inputs.known):
        from . import netrec

        netrec.attach(inputs, machine, replay=True)


def heap_diff(eng: Any, a: int, b: int) -> Any:
    """The heap diff between positions a and b of a debugging session (a
    TimeTravel, or an Engine made by open_engine), as tools/snapshot.Diff."""
    if isinstance(eng, TimeTravel):
        return eng.heap_diff(a, b)
    from .snapshot import diff, take_snapshot

    here = eng.position
    eng.goto(a)
    sa = take_snapshot(eng.machine, eng.position)
    eng.goto(b)
    sb = take_snapshot(eng.machine, eng.position)
    if eng.position != here and here >= 0:
        eng.goto(here)
    return diff(sa, sb)


def open_engine(path: str, **kwargs: Any) -> Any:
    """A debugger engine with bounded-cost time travel where the OS can fork
    (TimeTravel), else the engine itself (going back by re-execution)."""
    if hasattr(os, "fork") and hasattr(socket, "send_fds") and os.environ.get("TVM_NO_FORK") != "1":
        return TimeTravel(path, **kwargs)
    from .debugger.engine import Engine

    kwargs.pop("every", None)
    kwargs.pop("max_checkpoints", None)
    kwargs.setdefault("recorder", RerunInputs(kwargs.pop("inputs", None)))
    return Engine(path, **kwargs)

