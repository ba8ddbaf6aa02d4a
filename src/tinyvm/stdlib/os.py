"""The `os` standard module: the program's arguments, environment and exit.

`make_os_module(vm)` returns the module's exports:

* `args: [string]` -- the arguments after the program's file name
  (`tvm run prog.tl a b` gives `["a", "b"]`); needs no capability;
* `env(name) -> string?` -- an environment variable, nil when unset; needs
  `--allow-env` (or `--allow-env=NAME,...` for some names only);
* `exit(code)` -- end the program at once with exit status `code` (0..255).
  Output is flushed; `finally` blocks and other fibers do not run (as Go's
  os.Exit). Needs no capability.

`exit` raises `GuestExit(code)` (runtime/errors.py), which no guest `catch`
or `finally` sees: the run is torn down, `tvm run` turns it into its exit
status, and an embedding host gets the exception -- it never exits the host
process (a `SystemExit` would).
"""

from __future__ import annotations

import os
from typing import Any

from ..heap.objects import Array, Native
from ..runtime.builtins import arg_count_error
from ..runtime.errors import GuestExit, RtError
from ..runtime.values import typeof

__all__ = ["make_os_module"]

def make_os_module(vm: Any) -> dict[str, Any]:
    alloc = vm.heap.alloc

    def env(*args: Any) -> str | None:
        if len(args) != 1:
            raise arg_count_error("os.env", 1, len(args))
        name = args[0]
        if type(name) is not str:
            raise RtError("TypeError", f"os.env expects a string name, got {typeof(name)}")
        vm.caps.require("env", name)
        if name == "" or "=" in name or "\0" in name:
            return None
        return vm.inputs.take("env", os.environ.get, name)

    def exit_(*args: Any) -> None:
        if len(args) != 1:
            raise arg_count_error("os.exit", 1, len(args))
        code = args[0]
        if type(code) is not int:
            raise RtError("TypeError", f"os.exit expects an int status, got {typeof(code)}")
        if not 0 <= code <= 255:
            raise RtError("ValueError", f"os.exit: status {code} out of range 0..255")
        flush = getattr(vm.stdout, "flush", None)
        if flush is not None:
            try:
                flush()
            except (OSError, ValueError):  # pragma: no cover - a closed stdout
                pass
        raise GuestExit(code)

    return {
        "args": alloc(Array([str(a) for a in vm.argv])),
        "env": alloc(Native("env", env, 1)),
        "exit": alloc(Native("exit", exit_, 1)),
    }
