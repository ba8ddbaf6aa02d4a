"""A launch with `noDebug` (VS Code's "Run Without Debugging"): the program
runs as `tvm run` runs it, without the debugger engine.

Why not the engine with no breakpoints: the engine keeps its stepping hooks
installed for the whole run (that is what makes its positions, and so time
travel, exact), and a stepping VM runs one plain instruction per dispatch
with the JIT kept out. A run nobody will stop deserves the VM's full speed,
fused blocks and compiled code included (`jit` is honoured). So this object
has the engine's shape where the session uses it (start, resume, pause,
close, threads, the breakpoint setters) and runs the program on a plain
api.VM, its output sent as `output` events and its end reported as `tvm run`
reports it (the same statuses, the same error text).

`close()` interrupts the run from any thread (api.VM.interrupt), which is how
terminate and disconnect end it; there is nothing to pause.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from ..debugger.engine import Stop

__all__ = ["PlainRun"]

STATUS_INTERRUPTED = 130  # as `tvm run` exits when interrupted


class _Output(io.TextIOBase):
    """The program's stdout: each write is an `output` event."""

    def __init__(self, on_output: Callable[[str, str], None]) -> None:
        self.on_output = on_output

    def write(self, text: str) -> int:
        if text:
            self.on_output("stdout", text)
        return len(text)

    def writable(self) -> bool:
        return True


class PlainRun:
    """One program run without the debugger (module docstring)."""

    def __init__(
        self,
        path: str,
        *,
        argv: Any = (),
        stdin: Any = None,
        on_output: Callable[[str, str], None] | None = None,
        jit: str = "off",
        languages: Any = None,
        **_ignored: Any,
    ) -> None:
        from ...lang.driver import Languages

        self.path = path
        self.argv = list(argv)
        self.stdin = io.StringIO(stdin) if isinstance(stdin, str) else (stdin or io.StringIO(""))
        self.on_output = on_output or (lambda category, text: None)
        self.jit = jit
        self.languages = languages or Languages.default()
        self.frontend = self.languages.select(path)
        self.vm: Any = None
        self.closed = False
        self.stop: Stop | None = None

    # The session configures breakpoints before it starts a run; here they are off.
    def set_breakpoints(self, path: str, specs: list[dict]) -> list[dict]:
        return [{"id": 0, "verified": False, "line": s.get("line", 0), "message": "noDebug: the program runs without breakpoints"} for s in specs]

    def set_function_breakpoints(self, specs: list[dict]) -> list[dict]:
        return [{"id": 0, "verified": False, "message": "noDebug: the program runs without breakpoints"} for _ in specs]

    def set_exception_breakpoints(self, filters: list[str]) -> None:
        pass

    def threads(self) -> list[dict]:
        return [{"id": 1, "name": "main", "state": "running"}]

    def start(self, stop_on_entry: bool = False) -> Stop:
        """Run the program to its end (blocking); how it ended."""
        from ...api import VM
        from ...lang.diagnostics import CompileError
        from ...lang.driver import compile_program
        from ...runtime.errors import GuestException, GuestExit, HostIOError, Interrupted, LimitExceeded

        stop = Stop("exited", exit_code=0)
        try:
            bundle = compile_program(self.path, languages=self.languages)
            kwargs: dict[str, Any] = {"jit": self.jit} if self.jit != "off" else {}
            self.vm = VM(stdout=_Output(self.on_output), stdin=self.stdin, argv=self.argv, languages=self.languages, **kwargs)
            if self.closed:  # terminated before it began
                raise Interrupted("interrupted")
            try:
                self.vm.run_bundle(bundle)
            finally:
                self.vm.close()
        except CompileError as e:
            stop.exit_code, stop.error = self.frontend.exit_compile, e.render()
        except OSError as e:
            stop.exit_code, stop.error = self.frontend.exit_compile, f"error: cannot read {self.path}: {e.strerror or e}"
        except GuestExit as e:
            stop.exit_code = e.status
        except Interrupted:
            stop.exit_code = STATUS_INTERRUPTED
        except LimitExceeded as e:
            stop.exit_code, stop.error = 3, f"error: {e.message}"
        except GuestException as e:
            stop.exit_code = self.frontend.exit_runtime
            stop.error = self.frontend.render_runtime_error(e)
        except HostIOError as e:
            stop.exit_code, stop.error = 74, f"error: {e}"
        stop.text = stop.error or f"exited with status {stop.exit_code}"
        self.stop = stop
        return stop

    def resume(self, how: str = "continue", fiber_id: int | None = None) -> Stop:
        return self.stop if self.stop is not None else self.start()

    def pause(self) -> None:
        """Nothing to pause: a noDebug run only ends (see close)."""

    def close(self) -> None:
        """End the run from any thread."""
        self.closed = True
        if self.vm is not None:
            self.vm.interrupt()
