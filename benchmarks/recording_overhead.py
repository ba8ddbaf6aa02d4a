"""What recording a run costs: `tvm record` against `tvm run` on the same programs.

    python -m benchmarks.recording_overhead [--repeat N]

Three programs: two CPU-bound ones of benchmarks/programs (fib, sieve: few
inputs, so this measures that the seam costs nothing on the dispatch path)
and an input-heavy one made here: it reads 20,000 stdin lines, reads the
clock for each, and lets a sleeping fiber wake up between them (every line
is a logged stdin read, every clock read and every scheduler clock read a
logged input). Each is run in-process through the CLI (`main(["run", ...])`
and `main(["record", ..., "-o", tmp])`, which includes writing the .tvmrec
file), interleaved, `--repeat` times (default 3); the best time of each counts.
Issue 14 bounds the ratio at 3x. The replay of each recording is timed too.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

PROGRAMS = Path(__file__).resolve().parent / "programs"

IO_HEAVY = """\
import time
let ch = Chan(1)
spawn fn() { var k = 0; while k < 50 { sleep(0); k = k + 1 }; ch.send(k) }()
var total = 0
var stamps = 0
var line = input()
while line != nil {
    total = total + int(line)
    if time.monotonic_ms() >= 0 { stamps = stamps + 1 }
    line = input()
}
print(total)
print(stamps)
print(ch.recv())
"""
LINES = 20000


def run_cli(argv: list[str], stdin: str) -> float:
    from tinyvm.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    code = main(argv, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    elapsed = time.perf_counter() - start
    if code != 0:
        sys.exit(f"{' '.join(argv)} failed ({code}): {err.getvalue()}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from tinyvm.tools.record import read_recording

    tmp = Path(tempfile.mkdtemp(prefix="tvmrec-bench-"))
    io_prog = tmp / "io_heavy.tl"
    io_prog.write_text(IO_HEAVY)
    lines = "".join(f"{i % 97}\n" for i in range(LINES))
    cases = [("fib", PROGRAMS / "fib.tl", ""), ("sieve", PROGRAMS / "sieve.tl", ""), ("io_heavy", io_prog, lines)]
    run_cli(["run", str(cases[0][1])], "")  # warm up: imports
    print(f"{'program':<10} {'run s':>8} {'record s':>9} {'ratio':>6} {'replay s':>9} {'inputs':>7} {'.tvmrec':>9}")
    worst = 0.0
    for name, path, stdin in cases:
        rec = tmp / f"{name}.tvmrec"
        plain, recorded, replayed = [], [], []
        for _ in range(args.repeat):
            plain.append(run_cli(["run", str(path)], stdin))
            recorded.append(run_cli(["record", str(path), "-o", str(rec)], stdin))
            replayed.append(run_cli(["replay", str(rec)], ""))
        ratio = min(recorded) / min(plain)
        worst = max(worst, ratio)
        inputs = len(read_recording(str(rec)).entries)
        print(f"{name:<10} {min(plain):8.3f} {min(recorded):9.3f} {ratio:5.2f}x {min(replayed):9.3f} {inputs:7d} {os.path.getsize(rec):9d}")
    print(f"worst record/run ratio: {worst:.2f}x (bound: 3x)")


if __name__ == "__main__":
    main()
