"""Shared helpers of the native tier's tests: run a program in-process on a tier."""

from __future__ import annotations

import io

from tinyvm.api import VM
from tinyvm.cli.main import main


def cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(""), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def both(src: str, *extra: str) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """(interpreter, native-eager) results of `tvm run -e src`; the native run's
    stderr without its --jit-log lines, which are returned separately by `logged`."""
    want = cli(["run", *extra, "-e", src])
    code, out, err = cli(["run", "--jit=native-eager", "--jit-log", *extra, "-e", src])
    log = [line for line in err.splitlines() if line.startswith("jit: ")]
    rest = "".join(line + "\n" for line in err.splitlines() if not line.startswith("jit: "))
    both.log = log  # type: ignore[attr-defined]
    return want, (code, out, rest)


def native(name: str, log: list[str]) -> bool:
    return any(line.startswith(f"jit: native {name} in ") for line in log)


def same(src: str, *names: str, extra: tuple = ()) -> tuple[int, str, str]:
    """Run src on the interpreter and on native-eager: identical exit code,
    stdout and stderr, and each function of `names` compiled natively."""
    want, got = both(src, *extra)
    assert got == want, (got, want, both.log)
    for n in names:
        assert native(n, both.log), both.log
    return want


def used(src: str, jit: str) -> tuple[int, str, list[str]]:
    """(fuel used, output, JIT log) of src run in-process on a metered VM
    with `jit` (an error is part of the output: it is compared too)."""
    log: list[str] = []
    out = io.StringIO()
    vm = VM(stdout=out, jit=jit, jit_log=log.append, meter_fuel=True)
    try:
        vm.run_source(src, "t.tl")
    except Exception as e:  # noqa: BLE001 - the error is part of what is compared
        out.write(f"error: {e}\n")
    return vm.fuel_used, out.getvalue(), log
