"""Array loops on the native tier beside C on packed arrays: what boxing costs.

The native tier reads and writes guest arrays in place, as CPython lists of
boxed values (docs/native.md, "Data representation"). This measures five
loops over N elements, in nanoseconds per element:

    isum     s += a[i]              [int] of small ints (unboxed inline)
    fsum     s += a[i]              [float]
    bcount   if a[i] { c += 1 }     [bool] (pointer compares: no boxes at all)
    ifill    a[i] = i * 7           [int] writes: a new int object per store
    fscale   a[i] = a[i] * 1.5      [float] writes: in place (the old float is the list's only reference)

    native        VM(jit="native-eager"), compiled by a warm-up call, best of --repeat,
                  on lists and on PackedArrays (heap/packed.py: what `[x] * n` makes)
    python-jit    VM(jit="eager"), one run
    cpython       the same loop in Python over a list
    c (packed)    the same loop in C over int64_t[] / double[] / unsigned char[],
                  gcc -O2 (what packed storage, option (b), would let native code approach)

Run: python -m benchmarks.native_arrays [N] [--repeat R]  (default N=1000000, R=5).
Needs llvmlite for the native column and gcc for C. No assertion: it measures.
"""

from __future__ import annotations

import io
import sys
import time

from .native_common import best_of, llvmlite_missing, parse_args, run_c

SRC = """
fn isum(a: [int]) -> int {
  var s = 0
  for i in 0..len(a) { s += a[i] }
  return s
}
fn fsum(a: [float]) -> float {
  var s = 0.0
  for i in 0..len(a) { s += a[i] }
  return s
}
fn bcount(a: [bool]) -> int {
  var c = 0
  for i in 0..len(a) { if a[i] { c += 1 } }
  return c
}
fn ifill(a: [int]) {
  for i in 0..len(a) { a[i] = i * 7 }
}
fn fscale(a: [float]) {
  for i in 0..len(a) { a[i] = a[i] * 1.5 }
}
"""

KERNELS = ("isum", "fsum", "bcount", "ifill", "fscale")

C_SRC = r"""
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
__attribute__((noinline)) static int64_t isum(int64_t *a, long n) { int64_t s = 0; for (long i = 0; i < n; i++) s += a[i]; return s; }
__attribute__((noinline)) static double fsum(double *a, long n) { double s = 0; for (long i = 0; i < n; i++) s += a[i]; return s; }
__attribute__((noinline)) static long bcount(unsigned char *a, long n) { long c = 0; for (long i = 0; i < n; i++) if (a[i]) c++; return c; }
__attribute__((noinline)) static void ifill(int64_t *a, long n) { for (long i = 0; i < n; i++) a[i] = i * 7; }
__attribute__((noinline)) static void fscale(double *a, long n) { for (long i = 0; i < n; i++) a[i] = a[i] * 1.5; }
int main(int argc, char **argv) {
    long n = atol(argv[1]); int reps = atoi(argv[2]);
    int64_t *ia = malloc(n * 8); double *fa = malloc(n * 8); unsigned char *ba = malloc(n);
    for (long i = 0; i < n; i++) { ia[i] = i % 100; fa[i] = (i % 10) * 0.5; ba[i] = i % 3 == 0; }
    double best[5] = {1e9, 1e9, 1e9, 1e9, 1e9}; volatile double sink = 0;
    for (int r = 0; r < reps; r++) {
        double t;
        t = now(); sink += isum(ia, n); t = now() - t; if (t < best[0]) best[0] = t;
        t = now(); sink += fsum(fa, n); t = now() - t; if (t < best[1]) best[1] = t;
        t = now(); sink += bcount(ba, n); t = now() - t; if (t < best[2]) best[2] = t;
        t = now(); ifill(ia, n); t = now() - t; if (t < best[3]) best[3] = t;
        for (long i = 0; i < n; i++) fa[i] = (i % 10) * 0.5;
        t = now(); fscale(fa, n); t = now() - t; if (t < best[4]) best[4] = t;
        for (long i = 0; i < n; i++) fa[i] = (i % 10) * 0.5;
    }
    printf("%.9f %.9f %.9f %.9f %.9f\n", best[0], best[1], best[2], best[3], best[4]);
    return 0;
}
"""


def fresh(kernel: str, n: int) -> list:
    if kernel in ("isum", "ifill"):
        return [i % 100 for i in range(n)]
    if kernel == "bcount":
        return [i % 3 == 0 for i in range(n)]
    return [(i % 10) * 0.5 for i in range(n)]


def tinyvm(jit: str, n: int, repeat: int, packed: bool = False) -> dict:
    """Seconds per kernel on a VM of tier `jit`; `packed`: the arrays are
    PackedArrays (heap/packed.py: what `[x] * n` makes), else lists."""
    from array import array

    from tinyvm.api import VM
    from tinyvm.heap.objects import Array
    from tinyvm.heap.packed import PackedArray, kind_of

    def make(k: str) -> Array:
        items = fresh(k, n)
        return PackedArray(array(kind_of(items) or "q", [int(x) if type(x) is bool else x for x in items])) if packed else Array(items)

    log: list[str] = []
    vm = VM(stdout=io.StringIO(), jit=jit, jit_log=log.append)
    vm.run_source(SRC, "arrays.tl")
    machine = vm.machine
    out = {}
    for k in KERNELS:
        vm.call(k, fresh(k, 4))  # (compiles, in the eager modes)
        out[k] = best_of(repeat, lambda arr, k=k: vm.call(k, arr), lambda k=k: machine.heap.alloc(make(k)))[0]
    out["native"] = sum(1 for line in log if line.startswith("jit: native ") and " in " in line)
    return out


def cpython(n: int) -> dict:
    def isum(a: list) -> int:
        s = 0
        for i in range(len(a)):
            s += a[i]
        return s

    def fsum(a: list) -> float:
        s = 0.0
        for i in range(len(a)):
            s += a[i]
        return s

    def bcount(a: list) -> int:
        c = 0
        for i in range(len(a)):
            if a[i]:
                c += 1
        return c

    def ifill(a: list) -> None:
        for i in range(len(a)):
            a[i] = i * 7

    def fscale(a: list) -> None:
        for i in range(len(a)):
            a[i] = a[i] * 1.5

    fns = {"isum": isum, "fsum": fsum, "bcount": bcount, "ifill": ifill, "fscale": fscale}
    out = {}
    for k in KERNELS:
        a = fresh(k, n)
        t0 = time.perf_counter()
        fns[k](a)
        out[k] = time.perf_counter() - t0
    return out


def c(n: int, repeat: int) -> dict | str:
    words = run_c(C_SRC, "arrays", [str(n), str(repeat)])
    if isinstance(words, str):
        return words
    return dict(zip(KERNELS, map(float, words)))


def main(argv: list[str]) -> int:
    n, repeat = parse_args(argv, 1_000_000, 5)
    rows: list[tuple[str, dict | str]] = [("c (packed, gcc -O2)", c(n, repeat))]
    missing = llvmlite_missing()
    rows.append(("native (lists)", missing if missing is not None else tinyvm("native-eager", n, repeat)))
    rows.append(("native (packed)", missing if missing is not None else tinyvm("native-eager", n, repeat, packed=True)))
    rows.append(("python-jit (eager)", tinyvm("eager", n, 1)))
    rows.append(("cpython", cpython(n)))
    print(f"ns per element, N={n} (native and C: best of {repeat}; the others: 1 run)")
    print(f"{'tier':<22}" + "".join(f"{k:>10}" for k in KERNELS))
    for name, r in rows:
        if isinstance(r, str):
            print(f"{name:<22}  {r}")
            continue
        print(f"{name:<22}" + "".join(f"{r[k] / n * 1e9:>10.2f}" for k in KERNELS))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
