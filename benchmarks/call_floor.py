"""The floor under a Python-hosted tier: why fib(30) cannot reach 1.5x CPython
while guest calls do not recurse in Python, and what the nested integer loop
costs with the language's checks.

TinyVM's architecture keeps every guest call on an explicit frame stack (a
fiber's `frames`), never on the Python stack, so that fibers switch, traces
are exact, a debugger can stop anywhere and deep recursion never exhausts the
host. Issue 13 asked the Python JIT for fib(30) within 1.5x of CPython. This
benchmark measures what any Python code that keeps calls off the Python stack
costs, written by hand as the best a code generator could emit:

    cpython           the recursive Python function (the reference)
    explicit-stack    the same algorithm over an explicit stack of frames, the
                      frame's values in Python locals while it runs, one list
                      per frame, as a compiled guest function with
                      interpreter-compatible frames must keep them
    explicit+checks   the same with the int64 overflow checks the language
                      requires of `+` and `-`
    tinyvm ...        `tvm run` on benchmarks/programs/fib_typed.tl, per tier

and the nested integer loop (benchmarks/programs/loop_typed.tl):

    cpython           the Python program
    checked           the best Python a compiler could emit for the guest
                      loop: `for ... in range` (bounds proven ints), the
                      accumulator's int64 check (range analysis cannot bound
                      a loop-carried sum), and the back-edge countdown every
                      compiled loop needs for preemption, limits and GC

Run: python -m benchmarks.call_floor [N]   (default 27; prints seconds and
ratios to CPython). No assertion: it measures.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1


def fib_recursive(n: int) -> int:
    if n < 2:
        return n
    return fib_recursive(n - 1) + fib_recursive(n - 2)


def fib_explicit(n: int, checks: bool) -> int:
    """fib over an explicit frame stack: a frame is [n, state, first result];
    state 0: entry, 1: after the first call, 2: after the second. The
    running frame's fields live in locals, as compiled code keeps them."""
    frames: list[list] = []
    state = 0
    first = 0
    ret = 0
    while True:
        if state == 0:
            if n < 2:
                ret = n
            else:
                frames.append([n, 1, 0])
                m = n - 1
                if checks and not INT_MIN <= m <= INT_MAX:
                    raise OverflowError
                n, state = m, 0
                continue
        elif state == 1:
            first = ret
            frames.append([n, 2, first])
            m = n - 2
            if checks and not INT_MIN <= m <= INT_MAX:
                raise OverflowError
            n, state = m, 0
            continue
        else:
            r = first + ret
            if checks and not INT_MIN <= r <= INT_MAX:
                raise OverflowError
            ret = r
        # return: pop the caller's frame back into locals
        if not frames:
            return ret
        n, state, first = frames.pop()


def loop_cpython() -> int:
    s = 0
    for i in range(0, 3000):
        for j in range(0, 1000):
            s = s + i * j % 7
    return s


def loop_checked() -> int:
    s = 0
    cd = 1000
    for i in range(0, 3000):
        for j in range(0, 1000):
            s = s + i * j % 7  # i * j: proven < 2**63 by range analysis
            if not INT_MIN <= s <= INT_MAX:
                raise OverflowError
            cd -= 1
            if cd < 0:
                cd = 1000  # (the time-slice check would run here)
    return s


def _time(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    v = fn()
    return time.perf_counter() - t0, v


def _tinyvm(n: int | None, **kw) -> tuple[float, object]:
    from tinyvm.api import VM

    if n is None:
        src = (HERE / "programs" / "loop_typed.tl").read_text()
    else:
        src = (HERE / "programs" / "fib_typed.tl").read_text().replace("print(fib(27))", f"print(fib({n}))")
    out = io.StringIO()
    vm = VM(stdout=out, **kw)
    t, _ = _time(lambda: vm.run_source(src))
    return t, int(out.getvalue())


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 27
    rows = [
        ("cpython (recursive)", lambda: _time(lambda: fib_recursive(n))),
        ("explicit-stack", lambda: _time(lambda: fib_explicit(n, False))),
        ("explicit+checks", lambda: _time(lambda: fib_explicit(n, True))),
        ("tinyvm interpreter", lambda: _tinyvm(n)),
        ("tinyvm jit=eager", lambda: _tinyvm(n, jit="eager")),
        ("tinyvm jit=on", lambda: _tinyvm(n, jit="on")),
    ]
    if not _table(f"fib({n}), best of 3 runs each", rows):
        return 1
    loops = [
        ("cpython", lambda: _time(loop_cpython)),
        ("checked", lambda: _time(loop_checked)),
        ("tinyvm interpreter", lambda: _tinyvm(None)),
        ("tinyvm jit=on", lambda: _tinyvm(None, jit="on")),
    ]
    return 0 if _table("nested integer loop (3000 x 1000), best of 3 runs each", loops) else 1


def _table(title: str, rows: list) -> bool:
    print(title)
    base = None
    want = None
    for name, run in rows:
        t, v = min(run() for _ in range(3))
        want = v if want is None else want
        if v != want:
            print(f"{name}: wrong result {v}, expected {want}", file=sys.stderr)
            return False
        base = base or t
        print(f"  {name:22} {t:8.3f} s  {t / base:6.2f}x CPython")
    return True


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
