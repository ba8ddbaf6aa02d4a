"""What the native tier's micro-benchmarks share (benchmarks/native_fib.py,
benchmarks/native_arrays.py): their command line, best-of timing, and the C
reference program compiled with `gcc -O2` in a temporary folder and run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import Any


def parse_args(argv: list[str], n: int, repeat: int) -> tuple[int, int]:
    """`[N] [--repeat R]`, with the benchmark's defaults."""
    args = list(argv)
    if "--repeat" in args:
        i = args.index("--repeat")
        repeat = int(args[i + 1])
        del args[i : i + 2]
    if args:
        n = int(args[0])
    return n, repeat


def best_of(repeat: int, run: Callable[[], Any], before: Callable[[], Any] | None = None) -> tuple[float, Any]:
    """The shortest of `repeat` timed calls of run() (seconds) and its last
    result; `before(): args` is called untimed before each, its result passed on."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        args = before() if before is not None else None
        t0 = time.perf_counter()
        result = run() if before is None else run(args)
        best = min(best, time.perf_counter() - t0)
    return best, result


def run_c(source: str, name: str, args: list[str]) -> list[str] | str:
    """Compile `source` (a C program timing itself) with gcc -O2 in a
    temporary folder, run it with `args`; its stdout's words, or "no gcc"."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        return "no gcc"
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, f"{name}.c"), os.path.join(d, name)
        with open(src, "w") as f:
            f.write(source)
        subprocess.run([gcc, "-O2", "-o", exe, src], check=True)
        return subprocess.run([exe, *args], check=True, capture_output=True, text=True).stdout.split()


def llvmlite_missing() -> str | None:
    """None when the native extra is installed, else the row's message."""
    try:
        import llvmlite  # noqa: F401
    except ImportError:
        return "llvmlite missing: pip install 'tinyvm[native]'"
    return None
