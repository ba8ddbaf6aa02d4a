"""How errors travel through the VM.

Inside the interpreter, instruction handlers and natives signal a guest error by
raising `RtError(class_name, message)`: cheap to build, no VM needed. The
dispatch loop turns it into a guest `Error` instance of that built-in class,
records the guest stack trace, and unwinds guest frames through exception
tables. A guest `throw v` is carried as `Throw(v)`.

When an error escapes the program, the embedding API raises `GuestException`:
a Python exception carrying the guest error value, its class name, message and
the formatted guest stack (`at fn (file:line:col)` per frame).

Errors raised by the VM's generic paths (calls, globals, property lookup) may
carry a message `key` and its `params`: the dispatch loop then asks the
run-time rules of the language of the code that raised it for the text
(runtime/dialects.py), so a Lox program reads "Expected 2 arguments but got 1."
where TinyLang reads "f expects 2 arguments, got 1". `message` is the
TinyLang text, used when the language has no text of its own for the key.

A failure of the host's standard streams (stdout full or closed) is neither:
it travels as `HostIOError`, which no guest code can catch, and ends the run
(see the class).
"""

from __future__ import annotations

import errno
from typing import Any


class RtError(Exception):
    """A runtime error of a built-in error class, raised from Python code."""

    __slots__ = ("cls", "message", "key", "params")

    def __init__(self, cls: str, message: str, key: str | None = None, params: dict | None = None) -> None:
        super().__init__(message)
        self.cls = cls
        self.message = message
        self.key = key  # a message key (runtime/dialects.py), or None: `message` is the text
        self.params = params


class Throw(Exception):
    """A guest value being thrown (already an Error instance or any value)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value


class GuestException(Exception):
    """An uncaught guest error, as seen from Python."""

    def __init__(self, value: Any, class_name: str, message: str, trace: list[str], frames: list | None = None, is_error: bool = True) -> None:
        self.value = value
        # The guest class of an Error; for a thrown value of another kind
        # (`throw 42`), its typeof, and is_error is False: the report then
        # shows the value alone, as `tvm run` always has.
        self.class_name = class_name
        self.is_error = is_error
        self.message = message
        self.trace = trace  # "at fn (file:line:col)" lines, innermost first
        # The same frames as data, innermost first: TraceFrame per guest frame
        # (empty when unknown), for renderings other than `trace` (Lox's).
        self.frames: list[TraceFrame] = frames or []
        super().__init__(self.render())

    @property
    def stack(self) -> str:
        return "\n".join(self.trace)

    def render(self) -> str:
        head = f"error: {self.class_name}: {self.message}" if self.is_error and self.class_name else f"error: {self.message}"
        return "\n".join([head] + ["  " + t for t in self.trace])


# How a stack trace is written for people (GuestException.trace, an error's
# `stack` field): a line per frame, innermost first, `at fn (file:line:col)`.
# A frame repeated on consecutive lines (deep recursion) is shown TRACE_REPEAT
# times, then counted, as CPython does; a trace still longer than
# TRACE_HEAD + TRACE_TAIL lines keeps both ends and counts the middle. So a
# StackOverflowError at 100 000 frames prints a handful of lines, and a caught
# one's `stack` stays small. (GuestException.frames keeps every frame as data.)
TRACE_REPEAT = 3
TRACE_HEAD, TRACE_TAIL = 50, 50


def trace_lines(frames: "list[TraceFrame]") -> list[str]:
    """The text of a stack trace (see above), from its frames, innermost first."""
    out: list[str] = []
    prev, seen = None, 0
    for f in frames:
        line = f"at {f.name} ({f.path}:{f.line}:{f.col})"
        if line == prev:
            seen += 1
            if seen <= TRACE_REPEAT:
                out.append(line)
            continue
        if seen > TRACE_REPEAT:
            out.append(_repeated(seen - TRACE_REPEAT))
        prev, seen = line, 1
        out.append(line)
    if seen > TRACE_REPEAT:
        out.append(_repeated(seen - TRACE_REPEAT))
    if len(out) > TRACE_HEAD + TRACE_TAIL:
        omitted = len(out) - TRACE_HEAD - TRACE_TAIL
        out[TRACE_HEAD:-TRACE_TAIL] = [f"[{omitted} more lines]"]
    return out


def _repeated(n: int) -> str:
    return f"[previous line repeated {n} more time{'' if n == 1 else 's'}]"


class TraceFrame:
    """One guest frame of an error's stack trace: the function's name, its file,
    the position of the instruction the frame was executing, and whether the
    function is a module's top-level code."""

    __slots__ = ("name", "path", "line", "col", "module")

    def __init__(self, name: str, path: str, line: int, col: int, module: bool) -> None:
        self.name = name
        self.path = path
        self.line = line
        self.col = col
        self.module = module

    def __repr__(self) -> str:
        return f"TraceFrame({self.name!r}, {self.path!r}, {self.line}, {self.col}, module={self.module})"


def type_error(msg: str) -> RtError:
    return RtError("TypeError", msg)


def stack_overflow() -> RtError:
    return RtError("StackOverflowError", "maximum call depth exceeded", "stack_overflow")


def undefined_global(name: str) -> RtError:
    return RtError("Error", f"'{name}' is used before its declaration has run", "undefined_global", {"name": name})


# What a failing host stream raises: OSError (a full disk, a closed descriptor,
# a broken pipe), ValueError (a closed file object; UnicodeEncodeError and
# UnicodeDecodeError for text the stream's encoding cannot carry) and
# AttributeError (no stream at all: sys.stdout is None when descriptor 1 was
# closed). Callers put only the stream call inside their `try`, so that nothing
# else is mistaken for a stream failure.
STREAM_ERRORS = (OSError, ValueError, AttributeError)


class HostIOError(Exception):
    """A standard stream of the host failed: `print` could not write stdout
    (the disk is full, the descriptor is closed, the encoding cannot represent
    a character), or the command line could not read stdin or write stderr.

    It is neither a guest error nor a VM bug. The program cannot catch it: a
    failed write often surfaces later than the `print` that made it (output
    is buffered, and the last flush comes after the program ended), so no guest
    code could handle it reliably; the run ends where it is found. `tvm`
    reports `error: cannot write to stdout: No space left on device` and exits
    with status 74 (cli/main.py); a broken pipe (`tvm run x.tl | head -1`)
    ends it quietly. The embedding API raises it from `run_source`/`call`.
    Reading stdin from a program is different: `input()` raises a guest
    `IOError` there, at the call that failed, which the program can catch."""

    def __init__(self, stream: str, action: str, cause: BaseException) -> None:
        self.stream = stream  # "stdout", "stderr" or "stdin"
        self.action = action  # "write to" or "read from"
        self.errno: int | None = getattr(cause, "errno", None)
        self.reason = host_reason(cause)
        super().__init__(f"cannot {action} {stream}: {self.reason}")

    @property
    def broken_pipe(self) -> bool:
        """The reader of a pipe went away (EPIPE): the normal end of `... | head`."""
        return self.errno == errno.EPIPE


def host_reason(e: BaseException) -> str:
    """The host's reason for a stream failure, for people: the OS's message
    without Python's `[Errno N]` (`No space left on device`), or the text of a
    closed stream or encoding error."""
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    if isinstance(e, AttributeError):  # None, or an object without write/readline
        return "not an open stream"
    return str(e).rstrip(".") or type(e).__name__


# ---------------------------------------------------------------- sandbox limits
# The host's exceptions for a run that a limit stopped (issue 12). They are
# Python exceptions raised to the host, never guest errors: no guest `catch`
# sees them, and the run's fibers are cancelled before they leave the VM, so
# the VM is usable for the next call. `limit` names the limit for programs
# that handle them all alike.


class LimitExceeded(Exception):
    """A sandbox limit stopped the run (the base of the classes below)."""

    limit = "limit"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OutOfFuel(LimitExceeded):
    """The run used all the fuel (instructions) it was given."""

    limit = "fuel"


class DeadlineExceeded(LimitExceeded):
    """The run went past its wall-clock timeout."""

    limit = "timeout"


class Interrupted(LimitExceeded):
    """The host called `interrupt()` while the run was going on."""

    limit = "interrupt"


class OutputLimitExceeded(LimitExceeded):
    """The run wrote more output than it was allowed."""

    limit = "output"


class GuestExit(Exception):
    """`os.exit(status)` in a program: the program asked to end with this
    status. The host gets this exception (it never exits the host process);
    `tvm run` turns it into its exit status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the program exited with status {status}")
        self.status = status
