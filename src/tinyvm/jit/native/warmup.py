"""LLVM warmed up on the worker thread when a `--jit=native` VM starts.

The first compilation of a process pays more than the next ones: LLVM's
pass registries and target tables made at their first use, and the
out-of-line helper `tvm.make` (outofline.py), compiled once per process
by the first module that calls it (a Range charge, an array allocation).
In `native` mode compilations run on the worker already, but with the hot
function waiting for them. So when the tier starts, the worker gets an
*idle* job (worker.py) doing that work ahead: a target machine, the pass
list run once, `tvm.make` and the other call helpers compiled, then the
collector's machine loops (sweep.py). Measured (docs/native.md, "Compile
time", round 5): the first module's `load` drops from 7.8-8.0 to 1.0-1.2
ms (the helper is ready); the code generator's slower first runs (15-19 ms
against ~7 steady for Mandelbrot's loop) are not cut -- they are not a
one-time start-up a small module can pay ahead.

The warm-up must not delay a short run's exit: `close()` drops it while it
is queued, and between its steps it stops when the worker is closing, so at
most one step (a few ms) is waited for. `native-eager` (tests, the
benchmarks' in-process compilations) has no worker and no warm-up: its
first compilation pays as before.
"""

from __future__ import annotations

from typing import Any

from .worker import CompileWorker, Job


def _steps() -> list:
    from . import calls, codegen, fieldslow, outofline, sweep

    llvm = codegen.load_llvm()

    def passes() -> None:
        # (the pass list on a throwaway copy of the helper: its first run in
        # a process builds the pass manager's tables)
        if not outofline._made:
            codegen.optimize(
                llvm.parse_assembly(outofline._text()), codegen._target_machine()
            )

    # The collector's machine loops (sweep.py, mark.py: ~75 ms of LLVM, the
    # largest helper module) last: compiled here, the first collection of
    # the VM does not pause for them.
    return [passes, lambda: (outofline.compile_once(llvm), fieldslow.compile_once(llvm), calls.budget_address(llvm)), sweep.sweeper]  # (with polls.py's tvm.poll: one module)


def start(worker: CompileWorker) -> Job:
    """Queue the warm-up on worker (module docstring); its Job."""

    def run() -> int:
        done = 0
        for step in _steps():
            if worker.closing:
                break
            step()
            done += 1
        return done

    job = Job(run, "warm-up", idle=True)
    worker.submit(job)
    return job


def ran(job: Any) -> int:
    """How many steps the warm-up ran (tests): 0 when it was dropped."""
    return 0 if job is None or job.cancelled or not job.done else int(job.result or 0)
