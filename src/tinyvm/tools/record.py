"""Recording and replay of a run: `tvm record` and `tvm replay`.

Why: the VM is deterministic except for what it reads from the host, and
every such read goes through one per-VM seam, `vm.inputs`
(runtime/inputs.py). Recording installs a `Recorder` there that logs each
result; replay installs a `Replayer` that hands the logged results back
instead of asking the host. The same program then runs the same instructions
and prints the same output, with stdin absent and the clock elsewhere; this
is also what lets the debugger go back in time by re-execution or from a
forked checkpoint (tools/timetravel.py) without the inputs changing under it.

The file (`.tvmrec`) is JSON lines, UTF-8:

    {"tvmrec": 1, "cwd": DIR, "run": [RUN OPTIONS..., FILE, ARGS...], "options": [RUN OPTIONS...],
     "program": FILE, "args": [ARGS...], "env": {TVM_TIER, TVM_JIT...: VALUE},
     "sources": {PATH: SHA256 of the file's bytes, ...}}                               the header
    [INPUT, INPUT, ...]                                          up to 4096 inputs a line, in order
    {"end": {"inputs": N, "instructions": N, "status": N, "output_sha256": HEX}}

where an INPUT is `[KIND, VALUE]` (a string, number, bool, null or list of
strings), `[KIND, {"b": BASE64}]` for bytes, or `[KIND, {"e": [ERROR CLASS,
MESSAGE]}]` for a read that failed (a missing file is an input too). Chunks
rather than a line per input: the file is written with one call of the C JSON
encoder per chunk, which keeps an input-heavy recording within its budget.

KIND is one of runtime/inputs.py's ("time", "mono", "clock", "stdin", "fs",
"write", "env", "net", "poll"; the network's are tools/netrec.py's). `instructions` is the VM's dispatch count (`limits.spent`),
which a replay must reproduce exactly. `tvm replay` reruns `tvm run` with the
recorded options, arguments and inputs; a program whose sources changed is an
error before anything runs, and a replay that asks for an input the log does
not have next (the program or the VM changed) stops with a clear error.

Recording costs one list append per input read: a run slows by far less than
the 3x allowed (benchmarks/recording_overhead.py). Network I/O is recorded
too (tools/netrec.py): a replay of a program that uses `net` opens no socket.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Callable
from typing import Any, TextIO

from ..runtime.errors import LimitExceeded, RtError
from ..runtime.inputs import Inputs
from . import netrec

__all__ = ["Recorder", "Replayer", "Recording", "ReplayDiverged", "RecordingError", "read_recording", "write_recording", "record_run", "replay_run", "FORMAT_VERSION"]

FORMAT_VERSION = 1
EXT = ".tvmrec"
# The environment variables that change how `tvm run` runs a program (its
# tier, the JIT, the optimizer, GC stress): recorded, and set again for the
# replay, whose instruction count (dispatches) depends on them.
RUN_ENV = ("TVM_TIER", "TVM_JIT", "TVM_JIT_THRESHOLD", "TVM_JIT_STRESS", "TVM_OPT", "TVM_OPT_PASSES", "TVM_GC_STRESS")


class RecordingError(Exception):
    """A recording that cannot be replayed: unreadable, another version, or
    the program changed since it was recorded. The message is for the user."""


class ReplayDiverged(LimitExceeded):
    """The replayed program asked for an input the log does not have next.
    (A LimitExceeded: like a limit, it stops the run where it is, no guest
    catch or finally runs, and the VM is torn down cleanly.)"""

    limit = "replay"


CHUNK = 4096  # inputs per line of the file


def _encode(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return {"b": base64.b64encode(value).decode("ascii")}
    return value


class Recorder(Inputs):
    """Live inputs, each logged (an `Inputs` for vm.inputs)."""

    __slots__ = ("log", "machine", "net")
    mode = "record"

    def __init__(self) -> None:
        self.log: list[dict] = []
        self.machine: Any = None
        self.net: Any = None  # (set by attach: tools/netrec.py)

    def take(self, kind: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            value = fn(*args)
        except RtError as e:  # a failed read is an input too (a missing file)
            self.log.append([kind, {"e": [e.cls, e.message]}])
            raise
        self.log.append([kind, _encode(value)])
        return value

    def attach(self, machine: Any) -> None:
        """Make `machine` read its inputs through this recorder. The scheduler's
        clock decides when timers fire (and so which fiber runs when): it is an
        input as well."""
        self.machine = machine
        machine.inputs = self
        clock = machine.sched.clock
        machine.sched.clock = lambda: self.take("clock", clock)
        netrec.attach(self, machine, replay=False)  # sockets and readiness: inputs too



def decode_input(value: Any) -> Any:
    """A logged input as the program gets it: its value, bytes (logged as
    base64), or the guest error the read raised (logged as class and message)."""
    if type(value) is dict:
        if "e" in value:
            raise RtError(value["e"][0], value["e"][1])
        return base64.b64decode(value["b"])
    return value

class Replayer(Inputs):
    """The inputs of a recording, handed back in order (an `Inputs`)."""

    __slots__ = ("entries", "pos", "machine", "net")
    mode = "replay"

    def __init__(self, entries: list[list]) -> None:
        self.entries = entries
        self.pos = 0
        self.machine: Any = None
        self.net: Any = None  # (set by attach: tools/netrec.py)

    def take(self, kind: str, fn: Callable[..., Any], *args: Any) -> Any:
        i = self.pos
        if i >= len(self.entries):
            raise ReplayDiverged(f"replay diverged: the program asked for input #{i + 1} ({_KIND_TEXT.get(kind, kind)}) but the recording has only {len(self.entries)}")
        k, value = self.entries[i]
        if k != kind:
            raise ReplayDiverged(f"replay diverged at input #{i + 1}: the recording has {_KIND_TEXT.get(k, k)}, the program asked for {_KIND_TEXT.get(kind, kind)}")
        self.pos = i + 1
        return decode_input(value)

    def attach(self, machine: Any) -> None:
        self.machine = machine
        machine.inputs = self
        sched = machine.sched
        sched.clock = lambda: self.take("clock", time.monotonic)
        # A replay need not wait for a timer: the clock it reads next is the
        # recorded one anyway; nor for a socket: it has none, and the poller's
        # readiness decisions are recorded (tools/netrec.py).
        netrec.attach(self, machine, replay=True)
        io = sched.io
        wait = io.wait
        io.wait = lambda timeout, ready: wait(0, ready)

    @property
    def left(self) -> int:
        return len(self.entries) - self.pos


_KIND_TEXT = {
    "time": "a wall-clock read",
    "mono": "a monotonic clock read",
    "clock": "a scheduler clock read",
    "stdin": "a stdin line",
    "fs": "a file read",
    "write": "a file write",
    "env": "an environment variable",
    "net": "a network operation",
    "poll": "a network readiness wait",
}


class Recording:
    """A recording as data (see the module docstring for the file)."""

    def __init__(self, header: dict, entries: list[list], end: dict) -> None:
        self.header = header
        self.entries = entries
        self.end = end

    @property
    def run(self) -> list[str]:
        return list(self.header["run"])

    @property
    def program(self) -> str:
        """The program's path (absolute, or relative to the current folder)."""
        prog = self.header.get("program") or self.run[len(self.header.get("options", [])) :][0]
        cwd = self.header.get("cwd", ".")
        full = prog if os.path.isabs(prog) else os.path.join(cwd, prog)
        return full if os.path.exists(full) else prog

    @property
    def instructions(self) -> int | None:
        return self.end.get("instructions")

    def check_sources(self, name: str) -> None:
        """RecordingError unless every recorded source file is unchanged."""
        cwd = self.header.get("cwd", ".")
        for path, digest in self.header.get("sources", {}).items():
            full = path if os.path.isabs(path) else os.path.join(cwd, path)
            if not os.path.isfile(full) and os.path.isfile(path):
                full = path
            try:
                got = _file_hash(full)
            except OSError as e:
                raise RecordingError(f"{name}: cannot read {path}, which the recorded run ran: {e.strerror or e}") from None
            if got != digest:
                raise RecordingError(f"{name}: {path} changed since the run was recorded (sha256 {got[:12]}..., recorded {digest[:12]}...): a replay needs the same program")


def _file_hash(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_recording(path: str, header: dict, entries: list[list], end: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(header) + "\n")
        for i in range(0, len(entries), CHUNK):
            f.write(json.dumps(entries[i : i + CHUNK], separators=(",", ":")) + "\n")
        f.write(json.dumps({"end": end}) + "\n")


def read_recording(path: str) -> Recording:
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise RecordingError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise RecordingError(f"{path}: not a TinyVM recording (not UTF-8 text)") from None
    try:
        rows = [json.loads(line) for line in lines if line.strip()]
    except json.JSONDecodeError as e:
        raise RecordingError(f"{path}: not a TinyVM recording (bad JSON: {e.msg})") from None
    if not rows or not isinstance(rows[0], dict) or "tvmrec" not in rows[0]:
        raise RecordingError(f"{path}: not a TinyVM recording (no tvmrec header)")
    header = rows[0]
    if header["tvmrec"] != FORMAT_VERSION:
        raise RecordingError(f"{path}: recording format {header['tvmrec']} is not supported (this tvm reads format {FORMAT_VERSION})")
    if len(rows) < 2 or not isinstance(rows[-1], dict) or "end" not in rows[-1]:
        raise RecordingError(f"{path}: the recording is incomplete (no end record)")
    entries = [e for chunk in rows[1:-1] for e in (chunk if isinstance(chunk, list) else [None])]
    if not all(isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) for e in entries):
        raise RecordingError(f"{path}: corrupt input record")
    return Recording(header, entries, rows[-1]["end"])


# --------------------------------------------------------------------------- CLI


class _Tee:
    """The program's stdout, hashed on the way (the output a replay must repeat)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.sha = hashlib.sha256()

    def write(self, text: str) -> int:
        self.sha.update(text.encode("utf-8", "surrogatepass"))
        return self.stream.write(text)

    def __getattr__(self, name: str) -> Any:  # flush, encoding, ...
        return getattr(self.stream, name)


class _Lines:
    """stdin for a recorded or replayed run: line reads only, no descriptor, so
    that input() is the plain read that goes through vm.inputs (not the
    scheduler's descriptor wait)."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream

    def readline(self, size: int = -1) -> str:
        if self.stream is None:
            return ""
        return self.stream.readline(size)


def record_run(cli: Any, words: list[str], opts: Any, run_opts: list[str], out: str) -> int:
    """`tvm record`: run `words` (FILE args...) as `tvm run` with options
    `opts` does (cli: the command line's _Cli; run_opts: the option words as
    given, which the replay passes to run again), logging its inputs to `out`.
    The recording is written whatever the run's outcome (a failed run is what
    one wants to replay); the status is the run's."""
    prog = words[0]
    rec = Recorder()
    tee = _Tee(cli.stdout)
    saved = cli.stdin, cli.stdout
    cli.stdin, cli.stdout = _Lines(cli.stdin), tee
    cli.on_vm = lambda vm: rec.attach(vm.machine)
    try:
        status = cli.run(words, opts)
    finally:
        cli.on_vm = None
        cli.stdin, cli.stdout = saved
    m = rec.machine
    sources = {}
    if m is not None:
        for code in m.module_codes.values():
            if os.path.isfile(code.path):
                sources[code.path] = _file_hash(code.path)
    if prog not in sources and os.path.isfile(prog):
        sources[prog] = _file_hash(prog)
    header = {"tvmrec": FORMAT_VERSION, "cwd": os.getcwd(), "run": [*run_opts, *words], "options": run_opts, "program": prog, "args": words[1:], "env": {k: os.environ[k] for k in RUN_ENV if k in os.environ}, "sources": sources}
    end = {"inputs": len(rec.log), "instructions": m.limits.spent if m is not None else None, "status": status, "output_sha256": tee.sha.hexdigest()}
    try:
        write_recording(out, header, rec.log, end)
    except OSError as e:
        cli.err(f"error: cannot write {out}: {e.strerror or e}")
        return 74
    return status


def replay_run(cli: Any, path: str) -> int:
    """`tvm replay FILE.tvmrec`: the recorded run again, with the recorded inputs."""
    try:
        recording = read_recording(path)
        recording.check_sources(path)
    except RecordingError as e:
        cli.err(f"error: {e}")
        return 2
    rep = Replayer(recording.entries)
    tee = _Tee(cli.stdout)
    saved = cli.stdin, cli.stdout
    cli.stdin, cli.stdout = _Lines(None), tee
    cli.on_vm = lambda vm: rep.attach(vm.machine)
    cwd = os.getcwd()
    saved_env = {k: os.environ.get(k) for k in RUN_ENV}
    for k in RUN_ENV:  # (the run's tier and JIT settings, as recorded)
        os.environ.pop(k, None)
    os.environ.update(recording.header.get("env", {}))
    try:
        os.chdir(recording.header.get("cwd", cwd))  # (relative paths, as recorded)
    except OSError:
        pass
    try:
        status = cli.dispatch(["run", *recording.run])
    finally:
        os.chdir(cwd)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        cli.on_vm = None
        cli.stdin, cli.stdout = saved
    m = rep.machine
    end = recording.end
    problems = []
    if m is not None and end.get("instructions") is not None and m.limits.spent != end["instructions"]:
        problems.append(f"{m.limits.spent} instructions ran, the recorded run ran {end['instructions']}")
    if rep.left:
        problems.append(f"{rep.left} recorded inputs were not read")
    if end.get("output_sha256") and tee.sha.hexdigest() != end["output_sha256"]:
        problems.append("the output differs from the recorded run's")
    if problems and status == end.get("status", status):
        cli.err(f"error: replay of {path} diverged: " + "; ".join(problems))
        return 1
    return status
