"""What debugging costs: a run under the debugger engine against a plain run,
the history it keeps, and a step back by re-execution.

    python -m benchmarks.debugger_engine [--calls N]

The program calls fib(15) N times (default 20: about 400,000 instructions).
Reported: the plain run (`VM.run_file`), the same program under the engine
continuing to its end with no breakpoint (every stepping hook installed:
the positions time travel needs), the history's size, and two steps back
from the end (each re-executes the run from the start up to the target:
tools/debugger/engine.py `_rerun_to`; a checkpoint backend bounds this).
Timings are the best of 3 runs.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time

from tinyvm.api import VM
from tinyvm.tools.debugger.engine import Engine

PROGRAM = """\
fn fib(n: int) -> int {
    if n < 2 { return n }
    return fib(n - 1) + fib(n - 2)
}
var s = 0
for i in 0..%d {
    s += fib(15)
}
print(s)
"""


def best(fn, repeat: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "fib.tl")
        with open(path, "w") as f:
            f.write(PROGRAM % args.calls)
        plain, _ = best(lambda: VM(stdout=io.StringIO()).run_file(path))

        def debugged() -> Engine:
            eng = Engine(path)
            eng.start()
            return eng

        under, eng = best(debugged)
        stop = eng.stop
        print(f"program: fib(15) x {args.calls}: {stop.position:,} instructions, {len(eng.history):,} line events")
        print(f"plain run:                               {plain * 1000:8.0f} ms")
        print(f"under the engine (no breakpoint):        {under * 1000:8.0f} ms  ({under / plain:.1f}x, {stop.position / under / 1e6:.2f} M instructions/s)")
        print(f"history:                                 {eng.history.nbytes() / 1e6:8.2f} MB ({eng.history.nbytes() / max(1, len(eng.history)):.0f} bytes per line event)")
        for label in ("step back from the end:", "step back again:"):
            t = time.perf_counter()
            back = eng.step_back()
            print(f"{label:<40} {(time.perf_counter() - t) * 1000:8.0f} ms  (to line {back.line}, position {back.position:,})")
        eng.close()


if __name__ == "__main__":
    main()
