"""Accounted against real memory: ``python -m benchmarks.memory_ratio [PROGRAM.tl ...]``.

For each program (by default the built-in set below, the table of
docs/memory.md), runs it in a fresh VM under tracemalloc and prints the heap's
accounted peak (`vm.memory_peak`), CPython's traced peak over the run, and
their ratio. The traced peak includes the compiled program and the prelude
(about 2-3 MB), so small programs show a higher ratio than their data has.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc

from tinyvm import VM

PROGRAMS = {
    "200k ints pushed onto an array": "let v: [int] = []\nfor i in 0..200000 { v.push(1000 + i) }",
    "200k floats pushed onto an array": "let v: [float] = []\nfor i in 0..200000 { v.push(0.5 + float(i)) }",
    "100k-entry int map": "let v: [int: int] = [:]\nfor i in 0..100000 { v[i + 1000] = i }",
    "50k records {x: i, y: 0.5}": "let v: [any] = []\nfor i in 0..50000 { v.push({x: i, y: 0.5}) }",
    '50k strings "item number N"': 'let v: [string] = []\nfor i in 0..50000 { v.push("item number " + str(i)) }',
    "50k two-element arrays": "let v: [[int]] = []\nfor i in 0..50000 { v.push([i, i]) }",
    "100k fibers parked on a channel": "let ch = Chan(0)\nfn wait() { ch.recv() }\nvar n = 0\nwhile n < 100000 { spawn wait(); n = n + 1 }\nyield_now()",
}


def measure(source: str) -> tuple[int, int]:
    """(accounted peak, traced peak) of running source in a fresh VM."""
    vm = VM(max_memory=1 << 34)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        vm.run_source(source)
        real = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return vm.memory_peak, real


def main(argv: list[str]) -> int:
    programs = {p: open(p, encoding="utf-8").read() for p in argv} if argv else PROGRAMS
    print(f"{'program':36} {'accounted':>12} {'real':>12}  real/accounted")
    for name, source in programs.items():
        accounted, real = measure(source)
        print(f"{name:36} {accounted:>12,} {real:>12,}  {real / max(accounted, 1):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
