"""A native loop that calls a non-native function every iteration (docs/native.md, "Calls out").

    loop(n)      one call, n iterations, each calling `side` (it builds an
                 array: not native), so native code leaves at the first call
                 out and the Python JIT's entry after the call runs the rest
    short(n)     the same loop body, called n times with 5 iterations: the
                 deopt per call is what native code adds, until the tier
                 gives the function to the other tiers (CALLOUT_TRIES)
    rare(n)      a call out every 1000 iterations: native code leaves there,
                 the VM makes the call, and the loop header's OSR entry
                 takes the loop back into native code
    used(n)      as rare, the call's result used (`untyped` has no declared
                 types: it is not native and its result is `any`): native
                 between the calls since helper ncov5 (callouts.py), not
                 native at all before
    pure(n)      the loop without the call (all native), for scale

Each line: best of `--repeat` in-process calls after a warm-up call (which
compiles), `--jit=eager` (the Python JIT alone) against `native-eager`.

Run: python -m benchmarks.native_callout [N] [--repeat R]   (default N=200000, R=5).
Needs the `native` extra (llvmlite). No assertion: it measures.
"""

from __future__ import annotations

import io
import sys
import time

SRC = """
fn side(n: int) -> int { let a = [n, n + 1]; return a[1] }
fn loop(n: int) -> int {
  var s = 0
  for i in 0..n { s += side(i) % 7 }
  return s
}
fn short(n: int) -> int {
  var t = 0
  for k in 0..n { t += loop(5) }
  return t
}
fn rare(n: int) -> int {
  var s = 0
  for i in 0..n {
    s += (i + 1) % 7
    if i % 1000 == 0 { s += side(i) % 7 }
  }
  return s
}
fn untyped(n) { return n % 7 }
fn used(n: int) -> int {
  var s = 0
  for i in 0..n {
    s += (i + 1) % 7
    if i % 1000 == 0 { s += untyped(i) }
  }
  return s
}
fn pure(n: int) -> int {
  var s = 0
  for i in 0..n { s += (i + 1) % 7 }
  return s
}
"""


def best(jit: str, fn: str, n: int, repeat: int) -> tuple[float, int]:
    from tinyvm.api import VM

    vm = VM(stdout=io.StringIO(), jit=jit)
    vm.run_source(SRC, "callout.tl")
    vm.call(fn, 2 if fn != "short" else 100)  # (compiles; `short` past CALLOUT_TRIES)
    t = float("inf")
    r = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = vm.call(fn, n)
        t = min(t, time.perf_counter() - t0)
    return t, r


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv and argv[0].isdigit() else 200000
    repeat = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 5
    print(f"{'function':<10} {'n':>8} {'eager s':>10} {'native s':>10} {'native/eager':>13}")
    for fn, k in (("loop", n), ("short", n // 5), ("rare", n), ("used", n), ("pure", n)):
        te, re_ = best("eager", fn, k, repeat)
        tn, rn = best("native-eager", fn, k, repeat)
        assert re_ == rn, (fn, re_, rn)
        print(f"{fn:<10} {k:>8} {te:>10.4f} {tn:>10.4f} {tn / te:>13.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
