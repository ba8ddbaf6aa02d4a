"""One DAP session: requests in, responses and events out, over the debugger engine.

Why it is shaped so: the engine (tools/debugger/engine.py) is synchronous and
single-threaded: `start`, `resume`, `step_back`... block until the program
stops again. A DAP client expects the opposite: `continue` is answered at
once, the `stopped` event comes later, and `pause` must be heard while the
program runs. So every engine call runs on one worker thread of the session
(`_Worker`), in order, and the thread reading requests never blocks on a
running program:

  * run requests (continue, next, stepIn, stepOut, stepBack, reverseContinue,
    restartFrame, and the start at configurationDone) are answered, then
    queued; when the engine returns its `Stop`, the worker sends `stopped`
    (or `exited` + `terminated`);
  * inspection requests (stackTrace, scopes, variables, evaluate,
    setVariable) run on the worker and are waited for; while the program
    runs they are refused with an error response instead (they would wait
    for the next stop, and hold up `pause`);
  * `pause` calls `engine.pause()` from the reading thread: the engine
    documents it as thread-safe (it sets a flag its hooks poll);
  * a breakpoint change while the program runs pauses it, makes the change
    and continues it, without telling the client (`_configure`).

Every request gets a response; a malformed message or an unknown command
gets an error response (`success: false` and a message), and an exception
inside a handler becomes one too: the server never dies of a bad request.

A launch with `noDebug` gets a plain run instead of the engine (plain.py):
same shape, full speed.

`attach` means: debug the program named on the `tvm dap` command line
(`tvm dap --port 4711 prog.tl`), which waits for a client; `launch` names
the program in its arguments. Both then run alike (docs/debugging.md).

Nothing here is process-wide: the engine factory is passed in, so tests run
a session over a stub engine, and a TCP server runs one session per
connection.
"""

from __future__ import annotations

import io
import os
import queue
import threading
import time
import traceback
from typing import Any, Callable

from .protocol import Malformed, MessageWriter

__all__ = ["Session", "DapError", "CAPABILITIES"]

CAPABILITIES: dict[str, Any] = {
    "supportsConfigurationDoneRequest": True,
    "supportsConditionalBreakpoints": True,
    "supportsHitConditionalBreakpoints": True,
    "supportsLogPoints": True,
    "supportsFunctionBreakpoints": True,
    "exceptionBreakpointFilters": [
        {"filter": "caught", "label": "Caught Exceptions", "default": False,
         "description": "Stop when an error is raised that a guest handler (try/catch) will catch"},
        {"filter": "uncaught", "label": "Uncaught Exceptions", "default": True,
         "description": "Stop when an error is raised that nothing catches (the program would end)"},
    ],
    "supportsStepBack": True,
    "supportsRestartFrame": True,
    "supportsSetVariable": True,
    "supportsEvaluateForHovers": True,
    "supportsTerminateRequest": True,
    "supportsExceptionInfoRequest": True,
    "supportTerminateDebuggee": True,
    "supportsDelayedStackTraceLoading": True,
    "supportsClipboardContext": True,
    "supportsCompletionsRequest": True,
    "completionTriggerCharacters": ["."],
}

# Engine stop reasons are DAP's already; a restarted frame reports "restart" (the spec's word).
RUN_REASON = {"restartFrame": "restart"}
# Requests after which the client assumes the program runs: no `continued` event for these.
CLIENT_RUNS = {"continue", "next", "stepIn", "stepOut", "stepBack", "reverseContinue"}


class DapError(Exception):
    """A request that cannot be done: its message goes into the error response."""


class _Worker:
    """The one thread on which the session's engine is used."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def call(self, fn: Callable[[], Any]) -> Any:
        """fn() on the worker; its result, or its exception raised here."""
        done = threading.Event()
        box: list[Any] = [None, None]

        def job() -> None:
            try:
                box[0] = fn()
            except BaseException as e:  # handed back to the caller's thread
                box[1] = e
            finally:
                done.set()

        self.submit(job)
        done.wait()
        if box[1] is not None:
            raise box[1]
        return box[0]

    def stop(self) -> None:
        self._jobs.put(None)


def _default_engine_factory(path: str, **kwargs: Any) -> Any:
    """The engine with checkpointed time travel (tools/timetravel.py: a step
    back costs bounded work) where that backend exists, else the engine
    itself (going back by re-execution)."""
    try:
        from ..timetravel import open_engine  # lazily: `tvm dap` only
    except ImportError:
        from ..debugger.engine import Engine

        return Engine(path, **kwargs)
    return open_engine(path, **kwargs)


def _default_plain_factory(path: str, **kwargs: Any) -> Any:
    from .plain import PlainRun

    return PlainRun(path, **kwargs)


class Session:
    """A DAP session over one connection (stdio or a TCP socket)."""

    def __init__(
        self,
        writer: MessageWriter,
        *,
        engine_factory: Callable[..., Any] | None = None,
        plain_factory: Callable[..., Any] | None = None,
        program: str | None = None,
        program_args: list[str] | tuple[str, ...] = (),
        log: Any = None,
    ) -> None:
        self.writer = writer
        self.engine_factory = engine_factory or _default_engine_factory
        self.plain_factory = plain_factory or _default_plain_factory  # noDebug runs (plain.py)
        self.cl_program = program  # `tvm dap PROGRAM`: what attach debugs
        self.cl_args = list(program_args)
        self.log = log
        self.worker = _Worker("tvm-dap-engine")
        self.engine: Any = None
        self.running = False  # a run request is in the worker (the program runs)
        self.started = False  # configurationDone started the program
        self.ended = False  # the program exited or was terminated
        self.done = threading.Event()  # the session is over: the connection may close
        self.launch_args: dict[str, Any] = {}
        self.no_debug = False
        self.lines1 = True  # the client counts lines from 1 (linesStartAt1)
        self.cols1 = True
        self.pending_breakpoints: dict[str, list[dict[str, Any]]] = {}
        self.pending_functions: list[dict[str, Any]] | None = None
        self.pending_filters: list[str] | None = None
        self.threads_seen: dict[int, str] = {}  # thread id -> name, as of the last stop
        self.last_stop: Any = None
        self._pausing_quietly = False  # _configure is pausing the run: its pause stop is not reported
        self._pause_wanted = False  # a pause was asked for and no stop has answered it yet
        self._silent_pause = threading.Event()

    # ------------------------------------------------------------------ sending

    def _event(self, event: str, body: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"type": "event", "event": event}
        if body is not None:
            message["body"] = body
        self.writer.send(message)

    def _respond(self, request_seq: int, command: str, body: dict[str, Any] | None = None, error: str | None = None) -> None:
        message: dict[str, Any] = {"type": "response", "request_seq": request_seq, "command": command, "success": error is None}
        if error is not None:
            # `message` is what clients show (VS Code: the launch dialog, the debug
            # console, a watch's value); no body.error, whose `showUser` would make
            # every failed hover a pop-up.
            message["message"] = error
        elif body is not None:
            message["body"] = body
        self.writer.send(message)

    def output(self, category: str, text: str) -> None:
        """The engine's output callback: program output, logpoints, notes."""
        self._event("output", {"category": category if category in ("stdout", "stderr", "console", "important") else "console", "output": text})

    # ------------------------------------------------------------------ dispatch

    def handle(self, message: dict[str, Any] | Malformed) -> None:
        """Answer one message read from the client (called on the reading thread)."""
        if isinstance(message, Malformed):
            self._respond(message.seq, message.command, error=message.reason)
            return
        if message.get("type") == "response":
            return  # a reply to a reverse request; none is sent, so nothing waits for it
        seq, command = message.get("seq", 0), message["command"]
        handler = getattr(self, "req_" + command, None) if command.isidentifier() else None
        if handler is None:
            self._respond(seq, command, error=f"unknown request '{command}'")
            return
        after: list[Callable[[], None]] = []
        try:
            body = handler(message["arguments"], after)
        except DapError as e:
            self._respond(seq, command, error=str(e))
            return
        except Exception as e:  # an engine error or a bug: an error response, the server goes on
            name = type(e).__name__
            text = str(e) or name
            if name not in ("EvalError", "ValueError"):  # the engine's word on a bad request: as it is
                text = f"internal error ({name}: {text})"
                if self.log is not None:
                    self.log.write("".join(traceback.format_exception(e)))
            self._respond(seq, command, error=text)
            return
        self._respond(seq, command, body)
        for fn in after:
            fn()

    def close(self) -> None:
        """The connection ended: stop the program and the worker."""
        self._terminate_engine()
        self.worker.stop()
        self.done.set()

    # ------------------------------------------------------------------ helpers

    def _need_engine(self) -> Any:
        if self.engine is None:
            raise DapError("no program: send launch (or attach) first")
        if self.ended:
            raise DapError("the program has ended")
        return self.engine

    def _need_stopped(self) -> Any:
        eng = self._need_engine()
        if self.running:
            raise DapError("the program is running: pause it first")
        if not self.started:
            raise DapError("the program has not started: send configurationDone first")
        return eng

    def _line_in(self, line: int) -> int:
        return line if self.lines1 else line + 1

    def _line_out(self, line: int) -> int:
        return line if self.lines1 else max(line - 1, 0)

    def _col_in(self, col: int) -> int:
        return col if self.cols1 else col + 1

    def _col_out(self, col: int) -> int:
        return col if self.cols1 else max(col - 1, 0)

    @staticmethod
    def _count(args: dict[str, Any], key: str) -> int:
        """An optional non-negative integer argument (startFrame, levels, start, count): 0 when absent."""
        value = args.get(key)
        if value is None:
            return 0
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise DapError(f"argument '{key}' must be a non-negative integer, got {value!r}")
        return value

    @staticmethod
    def _int(args: dict[str, Any], key: str, default: int | None = None) -> int:
        value = args.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            if value is None:
                raise DapError(f"missing argument '{key}'")
            raise DapError(f"argument '{key}' must be an integer, got {value!r}")
        return value

    def _configure(self, fn: Callable[[Any], Any]) -> Any:
        """A breakpoint change, made on the worker like every engine call.
        While the program runs (an editor sends breakpoints whenever the user
        clicks), the worker is inside the engine: the run is paused, the
        change made, and the run continued, without a `stopped` event. (An
        engine that lives in another process, the checkpointing one, only
        hears a change between runs, so a change made from this thread would
        wait for the next stop.) If the run stopped on its own meanwhile (a
        breakpoint, the end), that stop is reported and the run stays stopped."""
        eng = self._need_engine()
        if not self.running:
            return self.worker.call(lambda: fn(eng))
        self._silent_pause.clear()
        self._pausing_quietly = True
        try:
            self._pause_until_stopped(eng, 5.0)
        finally:
            self._pausing_quietly = False
        if self.running or self.ended:
            raise DapError("the program could not be paused to change breakpoints")
        result = self.worker.call(lambda: fn(eng))
        if self._silent_pause.is_set():  # it was our pause: go on as before
            self._run("continue", lambda e: e.resume("continue"))()
        return result

    # ------------------------------------------------------------------ running

    def _run(self, command: str, fn: Callable[[Any], Any]) -> Callable[[], None]:
        """A run request: marks the program running now (so a request read
        before the worker picks the job up sees it), and returns the job to
        queue once the response is sent."""
        eng = self._need_engine()
        if self.running:
            raise DapError("the program is already running")
        self.running = True

        def job() -> None:
            try:
                stop = fn(eng)
            except BaseException as e:  # the engine failed: report and end the session
                self.running = False
                self._engine_failed(e)
                return
            self._stopped(stop, RUN_REASON.get(command))

        def queue_it() -> None:
            if command not in CLIENT_RUNS:
                self._event("continued", {"threadId": 1, "allThreadsContinued": True})
            self.worker.submit(job)

        return queue_it

    def _engine_failed(self, e: BaseException) -> None:
        """A compile error at start, or an engine bug: say it, end the program."""
        render = getattr(e, "render", None)
        text = render() if callable(render) else f"tvm dap: {type(e).__name__}: {e}"
        self.output("stderr", text.rstrip("\n") + "\n")
        status = 2
        if type(e).__name__ == "CompileError" and str(self.launch_args.get("program", "")).endswith(".lox"):
            status = 65
        self._exited(status)

    def _exited(self, status: int | None) -> None:
        if self.ended:
            return
        self.ended = True
        self.running = False
        self._event("exited", {"exitCode": status if status is not None else 0})
        self._event("terminated")

    def _stopped(self, stop: Any, reason: str | None) -> None:
        """The engine returned `stop` (on the worker thread)."""
        self.last_stop = stop
        if self.ended:  # terminated meanwhile: the client has been told already
            self.running = False
            return
        if stop.reason == "exited":
            if stop.error:
                self.output("stderr", stop.error.rstrip("\n") + "\n")
            self._exited(stop.exit_code)
            return
        if stop.reason == "pause":
            if self._pausing_quietly:  # _configure's pause: no event
                self._pause_wanted = False
                self._silent_pause.set()
                self.running = False
                return
            if not self._pause_wanted:
                # A pause nobody is waiting for: the engine's flag was set again
                # just as the run stopped for another reason. Go on silently.
                eng = self.engine
                self.worker.submit(lambda: self._resume_job(eng))
                return
        self._pause_wanted = False  # any stop answers a pause request
        self._thread_events()
        if self.no_debug:  # noDebug: whatever stops the engine, the program goes on
            self.running = True
            eng = self.engine
            self.worker.submit(lambda: self._resume_job(eng))
            return
        self.running = False
        body: dict[str, Any] = {
            "reason": reason or stop.reason,
            "threadId": stop.fiber_id or 1,
            "allThreadsStopped": True,
        }
        if stop.text:
            body["description"] = stop.text
            if stop.reason == "exception":
                body["text"] = stop.text
        if stop.hit_ids:
            body["hitBreakpointIds"] = list(stop.hit_ids)
        self._event("stopped", body)

    def _resume_job(self, eng: Any) -> None:
        try:
            stop = eng.resume("continue")
        except BaseException as e:
            self._engine_failed(e)
            return
        self._stopped(stop, None)

    def _thread_events(self) -> None:
        """`thread` events for fibers started or ended since the last stop."""
        try:
            now = {t["id"]: t.get("name", f"fiber {t['id']}") for t in self.engine.threads()}
        except Exception:
            return
        for tid in now.keys() - self.threads_seen.keys():
            if tid != 1:
                self._event("thread", {"reason": "started", "threadId": tid})
        for tid in self.threads_seen.keys() - now.keys():
            self._event("thread", {"reason": "exited", "threadId": tid})
        self.threads_seen = now

    def _terminate_engine(self) -> None:
        """Stop the program, wherever it is. A running program is paused
        first, so that the worker's engine call returns and the engine is
        closed from a stop; one that does not reach a line soon (blocked on
        input, say) is closed from here, which the engine allows."""
        eng = self.engine
        if eng is None or self.ended:
            return
        self.ended = True  # from now on, no stopped/exited event: the client asked for the end
        if self.running and not self.no_debug:  # (a noDebug run is only ever interrupted)
            self._pause_until_stopped(eng, 2.0)
        close = getattr(eng, "close", None)
        if callable(close):
            try:
                if self.running:
                    close()
                else:
                    self.worker.call(close)
            except Exception:  # closing a broken engine: nothing more to do
                pass

    # ------------------------------------------------------------------ requests: setup

    def req_initialize(self, args: dict[str, Any], after: list) -> dict[str, Any]:
        self.lines1 = args.get("linesStartAt1", True) is not False
        self.cols1 = args.get("columnsStartAt1", True) is not False
        return dict(CAPABILITIES)

    def req_launch(self, args: dict[str, Any], after: list) -> None:
        program = args.get("program") or self.cl_program
        if not isinstance(program, str) or not program:
            raise DapError("launch needs 'program': the .tl or .lox file to debug")
        prog_args = args.get("args", self.cl_args if program == self.cl_program else [])
        if not isinstance(prog_args, list) or not all(isinstance(a, str) for a in prog_args):
            raise DapError("'args' must be a list of strings")
        self._open(program, prog_args, args, after)

    def req_attach(self, args: dict[str, Any], after: list) -> None:
        if not self.cl_program:
            raise DapError("nothing to attach to: start the adapter with a program (tvm dap --port N PROGRAM), or use launch")
        self._open(self.cl_program, self.cl_args, args, after)

    def _open(self, program: str, prog_args: list[str], args: dict[str, Any], after: list) -> None:
        if self.engine is not None:
            raise DapError("this session already has a program")
        cwd = args.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise DapError("'cwd' must be a string")
        path = os.path.abspath(os.path.join(cwd or os.getcwd(), program))
        if not os.path.isfile(path):
            raise DapError(f"program not found: {program}")
        jit = args.get("jit", "off")
        if jit is True:
            jit = "on"
        elif jit is False or jit is None:
            jit = "off"
        if jit not in ("off", "on", "eager"):
            raise DapError(f"'jit' must be true, false, \"off\", \"on\" or \"eager\", got {jit!r}")
        stdin = args.get("stdin", "")
        if not isinstance(stdin, str):
            raise DapError("'stdin' must be a string (the program's standard input)")
        self.launch_args = dict(args, program=path)
        self.no_debug = bool(args.get("noDebug"))
        factory = self.plain_factory if self.no_debug else self.engine_factory
        self.engine = self.worker.call(lambda: factory(path, argv=tuple(prog_args), stdin=io.StringIO(stdin), on_output=self.output, jit=jit))
        # What the client set before the program existed.
        for src, bps in self.pending_breakpoints.items():
            self.worker.call(lambda src=src, bps=bps: self.engine.set_breakpoints(src, bps))
        if self.pending_functions is not None:
            self.worker.call(lambda: self.engine.set_function_breakpoints(self.pending_functions))
        self.worker.call(lambda: self.engine.set_exception_breakpoints(self.pending_filters if self.pending_filters is not None else ["uncaught"]))
        after.append(lambda: self._event("initialized"))

    def req_configurationDone(self, args: dict[str, Any], after: list) -> None:
        self._need_engine()
        if self.started:
            raise DapError("configurationDone was already sent")
        stop_on_entry = bool(self.launch_args.get("stopOnEntry")) and not self.no_debug
        queue_it = self._run("start", lambda eng: eng.start(stop_on_entry))
        self.started = True
        after.append(queue_it)

    def req_setBreakpoints(self, args: dict[str, Any], after: list) -> dict[str, Any]:
        source = args.get("source")
        if not isinstance(source, dict) or not isinstance(source.get("path"), str):
            raise DapError("setBreakpoints needs 'source' with a 'path'")
        path = os.path.abspath(source["path"])
        bps = args.get("breakpoints")
        if bps is None:  # the deprecated form: lines only
            bps = [{"line": n} for n in args.get("lines", [])]
        if not isinstance(bps, list) or not all(isinstance(b, dict) and isinstance(b.get("line"), int) for b in bps):
            raise DapError("'breakpoints' must be a list of objects with a 'line'")
        wanted = []
        for b in bps:
            w = {"line": self._line_in(b["line"])}
            if isinstance(b.get("column"), int):
                w["column"] = self._col_in(b["column"])
            for key in ("condition", "hitCondition", "logMessage"):
                if isinstance(b.get(key), str) and b[key]:
                    w[key] = b[key]
            wanted.append(w)
        if self.engine is None:
            self.pending_breakpoints[path] = wanted
            return {"breakpoints": [{"verified": False, "line": b["line"], "message": "set when the program is launched"} for b in bps]}
        result = self._configure(lambda eng: eng.set_breakpoints(path, wanted))
        out = []
        for r in result:
            r = dict(r)
            if "line" in r:
                r["line"] = self._line_out(r["line"])
            r.setdefault("source", {"name": os.path.basename(path), "path": path})
            out.append(r)
        return {"breakpoints": out}

    def req_setFunctionBreakpoints(self, args: dict[str, Any], after: list) -> dict[str, Any]:
        bps = args.get("breakpoints", [])
        if not isinstance(bps, list) or not all(isinstance(b, dict) and isinstance(b.get("name"), str) for b in bps):
            raise DapError("'breakpoints' must be a list of objects with a 'name'")
        wanted = [{k: b[k] for k in ("name", "condition", "hitCondition") if isinstance(b.get(k), str) and b[k]} for b in bps]
        if self.engine is None:
            self.pending_functions = wanted
            return {"breakpoints": [{"verified": False} for _ in bps]}
        return {"breakpoints": self._configure(lambda eng: eng.set_function_breakpoints(wanted))}

    def req_setExceptionBreakpoints(self, args: dict[str, Any], after: list) -> dict[str, Any]:
        filters = list(args.get("filters", []) or [])
        for opt in args.get("filterOptions", []) or []:
            if isinstance(opt, dict):
                filters.append(opt.get("filterId"))
        unknown = [f for f in filters if f not in ("caught", "uncaught")]
        if unknown:
            raise DapError(f"unknown exception filter {unknown[0]!r}: the filters are 'caught' and 'uncaught'")
        if self.engine is None:
            self.pending_filters = filters
        else:
            self._configure(lambda eng: eng.set_exception_breakpoints(filters))
        return {"breakpoints": [{"verified": True} for _ in filters]}

    # ------------------------------------------------------------------ requests: running

    def _fiber(self, args: dict[str, Any]) -> int | None:
        tid = args.get("threadId")
        return tid if isinstance(tid, int) and not isinstance(tid, bool) else None

    def _step(self, command: str, how: str, args: dict[str, Any], after: list) -> dict[str, Any] | None:
        self._need_stopped()
        fid = self._fiber(args)
        after.append(self._run(command, lambda eng: eng.resume(how, fid)))
        return {"allThreadsContinued": True} if how == "continue" else None

    def req_continue(self, args: dict[str, Any], after: list) -> dict[str, Any] | None:
        return self._step("continue", "continue", args, after)

    def req_next(self, args: dict[str, Any], after: list) -> dict[str, Any] | None:
        return self._step("next", "next", args, after)

    def req_stepIn(self, args: dict[str, Any], after: list) -> dict[str, Any] | None:
        return self._step("stepIn", "stepIn", args, after)

    def req_stepOut(self, args: dict[str, Any], after: list) -> dict[str, Any] | None:
        return self._step("stepOut", "stepOut", args, after)

    def req_stepBack(self, args: dict[str, Any], after: list) -> None:
        self._need_stopped()
        fid = self._fiber(args)
        after.append(self._run("stepBack", lambda eng: eng.step_back(fid)))

    def req_reverseContinue(self, args: dict[str, Any], after: list) -> None:
        self._need_stopped()
        after.append(self._run("reverseContinue", lambda eng: eng.reverse_continue()))

    def req_restartFrame(self, args: dict[str, Any], after: list) -> None:
        self._need_stopped()
        frame_id = self._int(args, "frameId")
        after.append(self._run("restartFrame", lambda eng: eng.restart_frame(frame_id)))

    def _pause_until_stopped(self, eng: Any, timeout: float) -> None:
        """Ask the engine to pause until the run stops. Asked again and again:
        a pause that arrives before the engine has launched the run (right
        after configurationDone) is cleared by the launch."""
        self._pause_wanted = True
        start = time.monotonic()
        asked = -1.0
        while self.running and time.monotonic() < start + timeout:
            now = time.monotonic()
            # At once, then again only if no stop came within 0.3 s (the run had
            # not launched yet, or it waits on input): an ask that crosses a stop
            # leaves the engine's flag set (a stale pause, which _stopped skips).
            if asked < 0 or (now - start > 0.3 and now - asked > 0.1):
                try:
                    eng.pause()
                except Exception:  # a failing engine: the caller closes it
                    return
                asked = now
            time.sleep(0.01)

    def req_pause(self, args: dict[str, Any], after: list) -> None:
        eng = self._need_engine()
        if self.no_debug:
            raise DapError("a noDebug run cannot be paused (launch without noDebug to debug it)")
        if self.running:
            # thread-safe: the engine stops at the next line; the worker then sends `stopped`
            threading.Thread(target=self._pause_until_stopped, args=(eng, 5.0), name="tvm-dap-pause", daemon=True).start()

    # ------------------------------------------------------------------ requests: inspecting

    def req_threads(self, args: dict[str, Any], after: list) -> dict[str, Any]:
        if self.engine is None or self.ended or self.running or not self.started:
            # The worker is busy or there is no program: the fibers as of the last stop.
            seen = self.threads_seen or {1: "main"}
            return {"threads": [{"id": t, "name": n} for t, n in sorted(seen.items())]}
        threads = self.worker.call(lambda: self.engine.threads())
        self.threads_seen = {t["id"]: t.get("name", f"fiber {t['id']}") for t in threads}
        return {"threads": [{"id": t["id"], "name": t.get("name", f"fiber {t['id']}")} for t in threads]}

    def req_stackTrace(self, args: dict[str, Any], after: list) -> dict[str, Any]:
        eng = self._need_stopped()
        tid = self._int(args, "threadId")
        start, levels = self._count(args, "startFrame"), self._count(args, "levels")
        frames, total = self.worker.call(lambda: eng.stack(tid, start, levels))
        out = []
        for f in frames:
            frame = {"id": f["id"], "name": f.get("name", "?"), "line": self._line_out(f.get("line", 0)), "column": self._col_out(f.get("column", 0))}
            path = f.get("path")
            if path and not path.startswith("<"):
                frame["source"] = {"name": os.path.basename(path), "path": path}
            elif path:
                frame["source"] = {"name": path, "presentationHint": "deemphasize"}
                frame["presentationHint"] = "subtle"
            out.append(frame)
        return {"stackFrames": out, "totalFrames": total}

    def req_scopes(self, args: dict[str, Any], after: list) -> dict[str, Any]:
        eng = self._need_stopped()
        frame_id = self._int(args, "frameId")
        scopes = self.worker.call(lambda: eng.scopes(frame_id))
        for s in scopes:
            if s.get("name") == "Locals":
                s.setdefault("presentationHint", "locals")
        return {"scopes": scopes}

    def req_variables(self, args: dict[str, Any], after: list) -> dict[str, Any]:
        eng = self._need_stopped()
        ref = self._int(args, "variablesReference")
        start, count = self._count(args, "start"), self._count(args, "count")
        return {"variables": self.worker.call(lambda: eng.variables(ref, start, count))}

    def req_evaluate(self, args: dict[str, Any], after: list) -> dict[str, Any]:
        expr = args.get("expression")
        if not isinstance(expr, str):
            raise DapError("evaluate needs 'expression'")
        eng = self._need_stopped()
        frame_id = args.get("frameId")
        return dict(self.worker.call(lambda: eng.evaluate(expr, frame_id)))

    def req_setVariable(self, args: dict[str, Any], after: list) -> dict[str, Any]:
        eng = self._need_stopped()
        ref = self._int(args, "variablesReference")
        name, value = args.get("name"), args.get("value")
        if not isinstance(name, str) or not isinstance(value, str):
            raise DapError("setVariable needs 'name' and 'value' (an expression)")
        return dict(self.worker.call(lambda: eng.set_variable(ref, name, value)))

    def req_completions(self, args: dict[str, Any], after: list) -> dict[str, Any]:
        """Debug console completion: the names in scope in the frame, or after
        `EXPR.` the fields of EXPR's value (what the variables view shows)."""
        text = args.get("text")
        if not isinstance(text, str):
            raise DapError("completions needs 'text'")
        eng = self._need_stopped()
        column = self._int(args, "column", len(text) + (1 if self.cols1 else 0))
        upto = text[: max(0, column - (1 if self.cols1 else 0))]
        word_start = len(upto)
        while word_start > 0 and (upto[word_start - 1].isalnum() or upto[word_start - 1] == "_"):
            word_start -= 1
        prefix = upto[word_start:]
        frame_id = args.get("frameId")

        def names() -> list[tuple[str, str]]:
            if word_start > 0 and upto[word_start - 1] == ".":
                owner_start = word_start - 1
                while owner_start > 0 and (upto[owner_start - 1].isalnum() or upto[owner_start - 1] in "_.[]\"'"):
                    owner_start -= 1
                owner = upto[owner_start : word_start - 1]
                if not owner:
                    return []
                try:
                    ref = eng.evaluate(owner, frame_id).get("variablesReference", 0)
                except Exception:  # not an expression (yet): nothing to offer
                    return []
                return [(v["name"], "property") for v in eng.variables(ref)] if ref else []
            if frame_id is None:
                frames, _ = eng.stack(self.last_stop.fiber_id if self.last_stop else 1, 0, 1)
                if not frames:
                    return []
                fid = frames[0]["id"]
            else:
                fid = frame_id
            out: list[tuple[str, str]] = []
            for scope in eng.scopes(fid):
                kind = "variable" if scope["name"] != "Globals" else "value"
                out += [(v["name"], kind) for v in eng.variables(scope["variablesReference"])]
            return out

        seen: set[str] = set()
        targets = []
        for name, kind in self.worker.call(names):
            if name.startswith(prefix) and name not in seen and name.isidentifier():
                seen.add(name)
                targets.append({"label": name, "type": kind, "start": word_start + (1 if self.cols1 else 0), "length": len(prefix)})
        return {"targets": targets}

    def req_exceptionInfo(self, args: dict[str, Any], after: list) -> dict[str, Any]:
        self._need_stopped()
        stop = self.last_stop
        if stop is None or stop.reason != "exception":
            raise DapError("not stopped on an exception")
        # The engine's text is "caught Error: too big: 5" (or "uncaught ...").
        text = stop.text or "error"
        first, _, rest = text.partition(" ")
        mode = {"caught": "always", "uncaught": "unhandled"}.get(first)
        if mode is not None:
            text = rest
        else:
            mode = "always"
        return {"exceptionId": text.split(":", 1)[0], "description": text, "breakMode": mode, "details": {"message": text}}

    # ------------------------------------------------------------------ requests: ending

    def req_terminate(self, args: dict[str, Any], after: list) -> None:
        if self.engine is not None and not self.ended:
            self._terminate_engine()
            after.append(lambda: self._event("terminated"))

    def req_disconnect(self, args: dict[str, Any], after: list) -> None:
        self._terminate_engine()
        after.append(self.done.set)
