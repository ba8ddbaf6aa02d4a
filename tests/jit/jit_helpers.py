"""Shared helpers of the JIT tier's tests: run a program in-process on a JIT
mode and read the JIT log, or run the `tvm` command line in-process."""

from __future__ import annotations

import io

from tinyvm.api import VM, GuestException
from tinyvm.cli.main import main


def run(src: str, jit: str = "eager", **kw) -> tuple[str, str, list[str], VM]:
    """(output, "Class: message" of an uncaught guest error or "", JIT log, the VM)."""
    out = io.StringIO()
    log: list[str] = []
    vm = VM(stdout=out, jit=jit, jit_log=log.append, **kw)
    try:
        vm.run_source(src, "t.tl")
        end = ""
    except GuestException as e:
        end = f"{e.class_name}: {e.message}"
    return out.getvalue(), end, log, vm


def cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(""), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def compiled(log: list[str], name: str) -> bool:
    return any(line.startswith(f"jit: compiled {name} ") for line in log)
