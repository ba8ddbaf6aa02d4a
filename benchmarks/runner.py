"""Shared parts of the benchmark harness: one result row, and timing TinyVM
(in-process ``tvm run``) and CPython (in-process ``runpy``) programs.

Used by ``python -m benchmarks`` (``__main__.py``) and its concurrency group
(``concurrency.py``).
"""

from __future__ import annotations

import contextlib
import gc
import io
import math
import runpy
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PROGRAMS = HERE / "programs"

MainFn = Callable[..., Optional[int]]


@dataclass
class Result:
    group: str  # "tl", "lox" or "conc"
    name: str
    status: str = "ok"  # "ok" | "failed" | "skipped"
    tinyvm_s: Optional[float] = None
    cpython_s: Optional[float] = None
    ratio: Optional[float] = None
    check: str = "-"  # "ok" | "MISMATCH" | "-" (not compared) | "n/a"
    note: str = ""
    errors: list[str] = field(default_factory=list)
    # Typed twins only: the untyped program's name and typed / untyped TinyVM time.
    untyped: Optional[str] = None
    typed_ratio: Optional[float] = None
    # Group-specific measurements (the concurrency group: rates, bytes per fiber).
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name if self.group == "tl" else f"{self.group}/{self.name}"

    def raised(self, who: str, exc: BaseException) -> None:
        """Record that `who` ("tinyvm", "cpython program"...) raised exc: the
        benchmark failed, with the end of the traceback among its errors."""
        self.status = "failed"
        self.errors.append(f"{who} raised {type(exc).__name__}:")
        self.errors.extend("  " + line for line in short_error(exc))


# --------------------------------------------------------------------------- runners


def load_tinyvm() -> tuple[Optional[MainFn], str]:
    """Import ``tinyvm.cli.main.main`` from this checkout (untimed warm-up import)."""
    src = REPO / "src"
    if src.is_dir() and str(src) not in sys.path:
        sys.path.insert(0, str(src))
    try:
        from tinyvm.cli.main import main
    except BaseException as exc:  # noqa: BLE001 -- report anything, keep going
        if isinstance(exc, KeyboardInterrupt):
            raise
        return None, f"cannot import tinyvm.cli.main: {type(exc).__name__}: {exc}"
    return main, ""


def call_tvm(main: MainFn, path: Path) -> tuple[float, int, str, str]:
    """Run ``tvm run PATH`` in-process; returns (seconds, exit code, stdout, stderr).

    Raises whatever the VM raises (other than SystemExit, which becomes the code).
    Anything the VM writes to sys.stdout/sys.stderr directly (instead of the
    streams it is given) is appended to stderr so it cannot garble the table.
    """
    out, err, stray = io.StringIO(), io.StringIO(), io.StringIO()
    gc.collect()
    with contextlib.redirect_stdout(stray), contextlib.redirect_stderr(stray):
        t0 = time.perf_counter()
        try:
            # Benchmarks measure speed, not memory: a limit well above what
            # they use (conc/spawn holds 100 000 fibers, about 85 MB accounted,
            # more than the default 32 MiB; docs/memory.md).
            code = main(["run", "--max-memory", "1G", str(path)], stdout=out, stderr=err)
        except SystemExit as exc:
            code = exc.code
        elapsed = time.perf_counter() - t0
    if code is None:
        code = 0
    elif not isinstance(code, int):
        code = 1
    errtext = err.getvalue()
    if stray.getvalue():
        errtext += "[written to sys.stdout/sys.stderr directly]\n" + stray.getvalue()
    return elapsed, code, out.getvalue(), errtext


def call_py(path: Path) -> tuple[float, str]:
    """Run a Python program in-process; returns (seconds, stdout)."""
    out = io.StringIO()
    gc.collect()
    with contextlib.redirect_stdout(out):
        t0 = time.perf_counter()
        runpy.run_path(str(path), run_name="__main__")
        elapsed = time.perf_counter() - t0
    return elapsed, out.getvalue()


def short_error(exc: BaseException) -> list[str]:
    """The last few lines of a traceback: enough to see where the VM broke."""
    lines = traceback.format_exception(exc)
    text = "".join(lines[-3:]).rstrip()
    return [ln for ln in text.splitlines() if ln.strip(" ^~")]


def first_lines(text: str, n: int = 8) -> list[str]:
    lines = text.rstrip().splitlines()
    if len(lines) > n:
        lines = lines[:n] + [f"... ({len(lines) - n} more lines)"]
    return lines


class TvmTimer:
    """Best-of-N TinyVM timing of one program into a Result, one run at a time
    (so that the runs of a typed twin can alternate with the untyped program's)."""

    def __init__(self, main: Optional[MainFn], path: Path, res: Result) -> None:
        self.main, self.path, self.res = main, path, res
        self.best = math.inf
        self.output = ""
        self.failed = False
        if main is None:
            self.fail("tinyvm not importable (see note above)")

    def fail(self, note: str = "") -> None:
        self.failed = True
        self.res.status = "failed"
        if note:
            self.res.note = note

    def run_once(self) -> None:
        if self.failed:
            return
        assert self.main is not None
        res = self.res
        try:
            elapsed, code, output, errtext = call_tvm(self.main, self.path)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 -- a VM bug must not stop the run
            self.fail()
            res.raised("tinyvm", exc)
            return
        if code != 0:
            self.fail()
            res.errors.append(f"tinyvm exited with status {code}")
            res.errors.extend("  " + line for line in first_lines(errtext))
            return
        if errtext and not res.note:
            res.note = "tinyvm wrote to stderr"
            res.errors.extend("  " + line for line in first_lines(errtext, 3))
        self.best = min(self.best, elapsed)
        self.output = output

    def finish(self) -> Optional[str]:
        """Record the best time; returns the program's stdout, or None on failure."""
        if self.failed:
            return None
        self.res.tinyvm_s = self.best
        return self.output


def tvm_best(main: Optional[MainFn], load_error: str, path: Path, repeat: int, res: Result) -> Optional[str]:
    """Time TinyVM on PATH (best of REPEAT) into RES; returns its stdout, or None on failure."""
    timer = TvmTimer(main, path, res)
    for _ in range(repeat):
        timer.run_once()
    return timer.finish()


def py_best(path: Path, repeat: int, res: Result) -> Optional[str]:
    best = math.inf
    output = ""
    for _ in range(repeat):
        try:
            elapsed, output = call_py(path)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001
            res.raised("cpython program", exc)
            return None
        best = min(best, elapsed)
    res.cpython_s = best
    return output


def normalize(text: str) -> str:
    return text.replace("\r\n", "\n").rstrip("\n")


def first_difference(a: str, b: str) -> str:
    la, lb = normalize(a).split("\n"), normalize(b).split("\n")
    for i in range(max(len(la), len(lb))):
        x = la[i] if i < len(la) else "<missing>"
        y = lb[i] if i < len(lb) else "<missing>"
        if x != y:
            return f"line {i + 1}: tinyvm {x!r} vs cpython {y!r}"
    return "outputs differ"



def selected(label: str, filters: Optional[list[str]]) -> bool:
    if not filters:
        return True
    return any(f.lower() in label.lower() for f in filters)



def compare(res: Result, tvm_out: Optional[str], py_out: Optional[str]) -> None:
    if tvm_out is not None and py_out is not None:
        if normalize(tvm_out) == normalize(py_out):
            res.check = "ok"
        else:
            res.check = "MISMATCH"
            res.errors.append(first_difference(tvm_out, py_out))
    if res.tinyvm_s is not None and res.cpython_s:
        res.ratio = res.tinyvm_s / res.cpython_s
