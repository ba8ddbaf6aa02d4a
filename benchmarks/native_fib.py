"""fib(N) typed, on every tier in one run: interpreter, Python JIT, native, CPython and C.

    interpreter   VM(jit="off"): the fused interpreter
    python-jit    VM(jit="eager"): the Python JIT (fib has no loop, so `on`
                  would leave it interpreted; `eager` compiles it)
    native        VM(jit="native-eager"): the native tier (docs/native.md),
                  steady state: compiled by a warm-up call, then timed
    cpython       the same recursive function in Python
    c             the same function in C, `gcc -O2`, timed inside the C
                  program (no process start-up), built in a temporary folder

Each tier's time is the best of `--repeat` runs of one `fib(N)` call (the
interpreter and Python JIT once: they take seconds). Ratios are to C and to
CPython. The native column also gives the compile time from the tier's log.

Run: python -m benchmarks.native_fib [N] [--repeat R]   (default N=30, R=5).
Needs the `native` extra (llvmlite) for the native column, and gcc for C;
a missing one is reported as such, not as a failure. No assertion: it measures.
"""

from __future__ import annotations

import io
import sys

from .native_common import best_of, llvmlite_missing, parse_args, run_c

SRC = """
fn fib(n: int) -> int {
  if n < 2 { return n }
  return fib(n - 1) + fib(n - 2)
}
"""

C_SRC = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static long fib(long n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
int main(int argc, char **argv) {
    long n = atol(argv[1]);
    int reps = atoi(argv[2]);
    double best = 1e9;
    long r = 0;
    for (int i = 0; i < reps; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        r = fib(n);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double t = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
        if (t < best) best = t;
    }
    printf("%ld %.9f\n", r, best);
    return 0;
}
"""


def fib_py(n: int) -> int:
    if n < 2:
        return n
    return fib_py(n - 1) + fib_py(n - 2)


def tinyvm(n: int, jit: str, repeat: int) -> tuple[float, int, str]:
    from tinyvm.api import VM

    log: list[str] = []
    vm = VM(stdout=io.StringIO(), jit=jit, jit_log=log.append if jit != "off" else None)
    vm.run_source(SRC, "fib.tl")
    vm.call("fib", 2)  # (compiles, in the eager modes)
    best, result = best_of(repeat, lambda: vm.call("fib", n))
    note = next((line for line in log if line.startswith("jit: native fib in")), "")
    return best, result, note


def cpython(n: int, repeat: int) -> tuple[float, int]:
    return best_of(repeat, lambda: fib_py(n))


def c(n: int, repeat: int) -> tuple[float, int] | str:
    out = run_c(C_SRC, "fib", [str(n), str(repeat)])
    if isinstance(out, str):
        return out
    return float(out[1]), int(out[0])


def main(argv: list[str]) -> int:
    n, repeat = parse_args(argv, 30, 5)
    rows: list[tuple[str, float | None, str]] = []
    want = fib_py(20)
    t, r = cpython(n, repeat)
    rows.append(("cpython", t, ""))
    want = r
    cres = c(n, repeat)
    rows.append(("c (gcc -O2)", None, cres) if isinstance(cres, str) else ("c (gcc -O2)", cres[0], ""))
    for name, jit, reps in (("interpreter", "off", 1), ("python-jit (eager)", "eager", 1), ("native", "native-eager", repeat)):
        missing = llvmlite_missing() if jit == "native-eager" else None
        if missing is not None:
            rows.append((name, None, missing))
            continue
        t, r, note = tinyvm(n, jit, reps)
        if r != want:
            rows.append((name, None, f"WRONG RESULT {r} (want {want})"))
            continue
        rows.append((name, t, note.replace("jit: native fib ", "compiled ")))
    ref_c = next((t for name, t, _ in rows if name.startswith("c ") and t), None)
    ref_py = rows[0][1]
    print(f"fib({n}) = {want}; best of {repeat} (interpreter and Python JIT: 1 run)")
    print(f"{'tier':<20} {'seconds':>10} {'x C':>8} {'x CPython':>10}  note")
    for name, t, note in rows:
        if t is None:
            print(f"{name:<20} {'-':>10} {'-':>8} {'-':>10}  {note}")
            continue
        xc = f"{t / ref_c:.2f}" if ref_c else "-"
        xp = f"{t / ref_py:.3f}" if ref_py else "-"
        print(f"{name:<20} {t:>10.4f} {xc:>8} {xp:>10}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
