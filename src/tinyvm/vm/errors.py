"""How errors travel through the VM.

Inside the interpreter, instruction handlers and natives signal a guest error by
raising `RtError(class_name, message)`: cheap to build, no VM needed. The
dispatch loop turns it into a guest `Error` instance of that built-in class,
records the guest stack trace, and unwinds guest frames through exception
tables. A guest `throw v` is carried as `Throw(v)`.

When an error escapes the program, the embedding API raises `GuestException`:
a Python exception carrying the guest error value, its class name, message and
the formatted guest stack (`at fn (file:line:col)` per frame).
"""

from __future__ import annotations

from typing import Any


class RtError(Exception):
    """A runtime error of a built-in error class, raised from Python code."""

    __slots__ = ("cls", "message")

    def __init__(self, cls: str, message: str) -> None:
        super().__init__(message)
        self.cls = cls
        self.message = message


class Throw(Exception):
    """A guest value being thrown (already an Error instance or any value)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value


class GuestException(Exception):
    """An uncaught guest error, as seen from Python."""

    def __init__(self, value: Any, class_name: str, message: str, trace: list[str]) -> None:
        self.value = value
        self.class_name = class_name
        self.message = message
        self.trace = trace  # "at fn (file:line:col)" lines, innermost first
        super().__init__(self.render())

    @property
    def stack(self) -> str:
        return "\n".join(self.trace)

    def render(self) -> str:
        head = f"error: {self.class_name}: {self.message}" if self.class_name else f"error: {self.message}"
        return "\n".join([head] + ["  " + t for t in self.trace])


class LoadError(Exception):
    """A `.tvm` file or module that cannot be loaded (bad bytes, failed verification,
    missing file). The message is complete and user-facing."""


def type_error(msg: str) -> RtError:
    return RtError("TypeError", msg)
