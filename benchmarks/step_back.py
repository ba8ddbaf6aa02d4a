"""How long stepping back one line takes in a long program, with process
checkpoints (tools/timetravel.py) and, for contrast, by re-execution.

    python -m benchmarks.step_back [--instructions N] [--every K] [--steps S] [--reexec]

A program of about N instructions (default 10 M) is run under the debugger
to a breakpoint on its last line; then it steps back one line S times
(default 20), and the time of each step back is measured (the call, from
the controller's side: the executor's travel request, the checkpoint's
fork, the run forward of at most K instructions, the stop's inspection
data). Printed: the forward run, the checkpoints left, and the step backs'
median, 90th percentile and maximum. Issue 14's target: under 100 ms.
`--reexec` also times one step back of the engine alone (it re-runs the
program from the start).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

PROGRAM = """\
var total = 0
var i = 0
while i < {n} {{
  total = total + i % 7
  i = i + 1
}}
print(total)
"""
PER_ITERATION = 14  # stepped instructions of one turn of the loop (measured: see --calibrate)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instructions", type=int, default=10_000_000)
    ap.add_argument("--every", type=int, default=None, help="instructions between checkpoints (default: the module's)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--reexec", action="store_true")
    args = ap.parse_args()
    from tinyvm.tools.timetravel import DEFAULT_EVERY, TimeTravel

    every = args.every or DEFAULT_EVERY
    path = os.path.join(tempfile.mkdtemp(prefix="stepback-"), "long.tl")
    with open(path, "w") as f:
        f.write(PROGRAM.format(n=max(1, args.instructions // PER_ITERATION)))
    tt = TimeTravel(path, every=every)
    try:
        tt.set_breakpoints(path, [{"line": 6}])
        t0 = time.perf_counter()
        stop = tt.start()
        forward = time.perf_counter() - t0
        assert stop.reason == "breakpoint", stop
        print(f"program: {stop.position:,} instructions to the last line, run forward under the debugger in {forward:.1f} s ({stop.position / forward / 1e6:.2f} M stepped instructions/s)")
        print(f"checkpoints: every {every:,} instructions, {len(tt.checkpoints)} alive at the end (bounded: {tt.max_checkpoints})")
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            s = tt.step_back()
            times.append((time.perf_counter() - t0) * 1000)
            assert s.reason == "step", s
        first = times[0]
        times.sort()
        p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
        print(f"step back one line, {len(times)} times: median {statistics.median(times):.1f} ms, p90 {p90:.1f} ms, max {times[-1]:.1f} ms, the first {first:.1f} ms (target: < 100 ms)")
        print(f"now at position {tt.position:,} (line {tt.stop.line}), {tt.switches} checkpoint resumes")
    finally:
        tt.close()
    if args.reexec:
        from tinyvm.tools.debugger.engine import Engine

        eng = Engine(path)
        try:
            eng.set_breakpoints(path, [{"line": 6}])
            eng.start()
            t0 = time.perf_counter()
            eng.step_back()
            print(f"re-execution (the engine alone): one step back took {(time.perf_counter() - t0) * 1000:.0f} ms")
        finally:
            eng.close()


if __name__ == "__main__":
    main()
