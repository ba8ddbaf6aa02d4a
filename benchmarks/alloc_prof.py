"""What the allocation profiler costs (docs/profiling.md, "Allocation profiles"):

    python -m benchmarks.alloc_prof [--repeat N] [--depth D] [NAME...]

Each program -- the untyped TinyLang programs of benchmarks/programs and
binary trees (the GC tools' allocation-heavy worst case, depth --depth) -- is
run in a fresh VM per configuration, rounds interleaved, best of --repeat:

    off      a VM without allocation sites (the default)
    idle     VM(alloc_sites="stack") with no profiler started: the StackHeap's
             own cost (function sites, a recorder test per allocation and charge)
    alloc    `tvm prof --alloc`'s configuration: the AllocProfiler recording
             every allocation with its full guest stack
    line     VM(alloc_sites="line"), for comparison: what exact lines cost by
             stepping (the hook API's line events) instead of pc bookkeeping

Times are CPU seconds of the process (time.process_time: the machine is
shared). The table prints each time, the ratios to `off`, the allocations and
charges recorded, and the profiler's cost per allocation,
(alloc - off) / allocations, in microseconds (for programs that make at
least 10,000). A measurement, run by hand:
timings never fail anything.
"""

from __future__ import annotations

import argparse
import io
import math
import time
from pathlib import Path

from tinyvm.api import VM
from tinyvm.tools.allocprof import AllocProfiler

from .gc_tools import TREES

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ROOT / "benchmarks" / "programs"
MODES = ("off", "idle", "alloc", "line")
MIN_ALLOCS = 10_000


def _run(source: str, path: str, mode: str, depth: int) -> tuple[float, int]:
    sites = {"off": None, "idle": "stack", "alloc": "stack", "line": "line"}[mode]
    vm = VM(stdout=io.StringIO(), alloc_sites=sites, max_memory=1 << 30)
    prof = AllocProfiler(vm, program=path) if mode == "alloc" else None
    t = time.process_time()
    if prof is not None:
        prof.start()
    vm.run_source(source, path)
    if path == "trees":
        vm.call("run", depth)
    n = prof.stop().allocations if prof is not None else 0
    return time.process_time() - t, n


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--depth", type=int, default=10, help="binary trees' depth (default 10)")
    ap.add_argument("names", nargs="*", help="programs to run (default: all, and trees)")
    args = ap.parse_args(argv)
    progs = {p.stem: p.read_text() for p in sorted(PROGRAMS.glob("*.tl")) if not p.stem.endswith("_typed")}
    progs["trees"] = TREES
    if args.names:
        progs = {k: v for k, v in progs.items() if k in args.names}
    best: dict[tuple[str, str], float] = {}
    allocs: dict[str, int] = {}
    for _ in range(args.repeat):
        for name, src in progs.items():
            for mode in MODES:
                t, n = _run(src, name, mode, args.depth)
                best[name, mode] = min(best.get((name, mode), math.inf), t)
                if n:
                    allocs[name] = n
    head = f"{'program':<10} {'off':>7} {'idle':>7} {'alloc':>7} {'line':>7} {'idle/off':>9} {'alloc/off':>10} {'line/off':>9} {'allocations':>12} {'us/alloc':>9}"
    print(head)
    print("-" * len(head))
    ratios: dict[str, list[float]] = {m: [] for m in MODES[1:]}
    for name in progs:
        t = {m: best[name, m] for m in MODES}
        for m in MODES[1:]:
            ratios[m].append(t[m] / t["off"])
        n = allocs.get(name, 0)
        # (per allocation only where there are enough for the difference to be more than noise)
        per = f"{(t['alloc'] - t['off']) / n * 1e6:.2f}" if n >= MIN_ALLOCS else "-"
        print(
            f"{name:<10} {t['off']:>7.3f} {t['idle']:>7.3f} {t['alloc']:>7.3f} {t['line']:>7.3f} "
            f"{t['idle'] / t['off']:>9.3f} {t['alloc'] / t['off']:>10.3f} {t['line'] / t['off']:>9.3f} {n:>12,} {per:>9}"
        )
    print("-" * len(head))
    gm = {m: math.exp(sum(map(math.log, r)) / len(r)) for m, r in ratios.items()}
    print(f"{'geomean':<42} {gm['idle']:>9.3f} {gm['alloc']:>10.3f} {gm['line']:>9.3f}")
    print(f"\nCPU seconds, best of {args.repeat}; binary trees at depth {args.depth}")


if __name__ == "__main__":
    main()
