"""The native tier's background compiler: one daemon thread per VM (docs/native.md).

In `--jit=native` the VM thread builds and types the IR and emits the LLVM
IR text (TinyVM's own Python, quick), then hands the LLVM work -- parse,
passes, code generation, loading -- to this worker as a `Job`. llvmlite's
calls release the GIL, so LLVM runs on the second core while the
interpreter (or the Python JIT) keeps running the function. The worker
never touches the VM: a job is a function of its own inputs, and its
result is picked up by the VM thread at a safe point (the function's next
call, jit/tier.py), which installs the native entry and writes the log
line. Output therefore does not depend on timing: native code computes
exactly what the other tiers compute; only when it starts being used does.

One worker per `NativeTier` (no thread shared between VMs, no global
queue). Its thread starts with the first job and ends after `IDLE` seconds
without work (a new job starts it again), when the VM closes (`close()`:
the jobs already queued finish first -- up to `JOIN` seconds -- so the
run's log does not depend on when the program ended, and the disk cache
gets the code for the next run; later jobs are refused), or when the tier
is garbage collected or the process exits (a `weakref.finalize` on the
tier, which runs at exit too, so no LLVM work is left running while the
interpreter shuts down).

`native-eager` does not use the worker: it compiles synchronously, so tests
are deterministic.
"""

from __future__ import annotations

import collections
import sys
import threading
from collections.abc import Callable
from typing import Any

IDLE = 2.0  # seconds without a job before the thread ends (the next job starts it again)
JOIN = 10.0  # seconds close() waits for the queued jobs (those left then are cancelled)

# The GIL while a job runs. Each llvmlite call releases the GIL and takes it
# back when LLVM returns; the VM thread, running Python, gives it up only
# when asked and the interpreter's switch interval (5 ms by default) has
# passed. A compilation makes dozens of such calls (parse, each pass added,
# the run, code generation, loading, symbol lookups), so with the VM busy a
# 15 ms compilation of AWFY Towers' `move_top_disk` took 150-640 ms of wall
# time, nearly all of it waiting for the GIL (its log line's phases). While
# a job runs, the interval is HURRY instead: the same job took 32 ms
# (docs/native.md, "Background compilation"). The warm-up job (warmup.py)
# hurries too: a compilation queued behind it waits for it. The interval
# is the process's, so this is counted across every worker of the process
# (many VMs): lowered by the first running job, put back as it was by the
# last; never raised (a host that set a shorter one keeps it).
HURRY = 0.0005
_hurry_lock = threading.Lock()
_hurry = {"jobs": 0, "saved": None}


def _hurry_begin() -> None:
    with _hurry_lock:
        _hurry["jobs"] += 1
        if _hurry["jobs"] == 1:
            now = sys.getswitchinterval()
            if now > HURRY:
                _hurry["saved"] = now
                sys.setswitchinterval(HURRY)


def _hurry_end() -> None:
    with _hurry_lock:
        _hurry["jobs"] -= 1
        if _hurry["jobs"] == 0 and _hurry["saved"] is not None:
            sys.setswitchinterval(_hurry["saved"])
            _hurry["saved"] = None


class Job:
    """One compilation: `run()` on the worker, `done` read by the VM thread.

    `result` is what `fn` returned, or `error` the exception it raised;
    both are written before `done` is set (an Event: its set/is_set are
    the memory barrier between the two threads)."""

    __slots__ = ("_done", "cancelled", "error", "fn", "idle", "name", "result")

    def __init__(self, fn: Callable[[], Any], name: str = "", *, idle: bool = False) -> None:
        self.fn = fn
        self.name = name
        self.idle = idle  # (work nobody waits for: close() drops it unless it runs: warmup.py)
        self.result: Any = None
        self.error: BaseException | None = None
        self._done = threading.Event()
        self.cancelled = False

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as e:  # noqa: BLE001 - handed to the VM thread, which logs it
            self.error = e
        finally:
            self.fn = None  # (drop the inputs: IR, text)
            self._done.set()


class CompileWorker:
    """A queue of jobs and the thread that runs them (see the module docstring)."""

    def __init__(self, name: str = "tinyvm-native") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queue: collections.deque[Job] = collections.deque()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._cancel = False
        self.running: Job | None = None
        self.stats = {"jobs": 0, "threads": 0}

    @property
    def alive(self) -> bool:
        t = self._thread
        return t is not None and t.is_alive()

    def submit(self, job: Job) -> bool:
        """Queue job; False when the worker is closed (the caller compiles elsewhere or not at all)."""
        with self._lock:
            if self._closed:
                return False
            self._queue.append(job)
            self.stats["jobs"] += not job.idle
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self.stats["threads"] += 1
                self._thread.start()
            else:
                self._wake.notify()
        return True

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._queue and not self._closed:
                    self._wake.wait(IDLE)
                if not self._queue or self._cancel:
                    # idle, closed with nothing left, or told to give up: the
                    # thread ends (submit starts another unless closed)
                    self._thread = None
                    for j in self._queue:
                        j.cancelled = True
                        j._done.set()
                    self._queue.clear()
                    return
                job = self._queue.popleft()
                self.running = job
            _hurry_begin()
            try:
                job.run()
            finally:
                _hurry_end()
            with self._lock:
                self.running = None

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every job queued so far is done (tests, benchmarks); False on timeout."""
        with self._lock:
            jobs = list(self._queue) + ([self.running] if self.running is not None else [])
        return all(j.wait(timeout) for j in jobs)

    @property
    def closing(self) -> bool:
        """close() was called (a running idle job stops at its next step)."""
        return self._closed

    def close(self) -> None:
        """Stop: no new jobs; the queued ones finish (for up to JOIN seconds;
        those still queued then are cancelled), but idle ones, which are
        cancelled at once; the thread ends."""
        with self._lock:
            self._closed = True
            for j in [j for j in self._queue if j.idle]:
                self._queue.remove(j)
                j.cancelled = True
                j._done.set()
            t = self._thread
            self._wake.notify_all()
        if t is not None and t is not threading.current_thread():
            t.join(JOIN)
            if t.is_alive():
                with self._lock:
                    self._cancel = True
                t.join(JOIN)
