"""The GC benchmark set (issue 15, deliverable 8):

    python -m benchmarks.gc_bench [--quick]

Four TinyLang programs (benchmarks/programs/gc/), run in-process through
`tinyvm.api.VM`, once per collector mode (`VM(gc=mode)`; every mode of
`tinyvm.heap.tuning.MODES`, or those named by `--modes`):

1. binary trees: depth 16 (--quick: 12);
2. live heap: 1,000,000 live small arrays held while 3,000,000 more are
   allocated (--quick: 100,000 and 300,000);
3. the AWFY Storage port (benchmarks/awfy/storage.tl; the driver is STORAGE
   below), 100 iterations (--quick: 10);
4. a churning fiber server: 100 clients x 1,000 requests over channels, one
   handler fiber spawned per request, each allocating (--quick: 20 x 100).

Each row: pauses (collections, or slices in incremental mode), max and p99
pause (ms, from `vm.gc_stats()`), total time of the run (s, the guest call,
compile excluded), that time against the stop-the-world row of the same
program (the cost of barriers and of the mode's bookkeeping), peak heap
(accounted bytes, `vm.gc_stats()["peak_bytes"]`) and peak RSS (VmHWM on Linux, else
`resource.getrusage`).
Each run is in-process through the API, in a new interpreter spawned for
it (`run_child`), so that each row's peak RSS is its own (the RSS
high-water mark never falls) and no row inherits another's memory.
Each program's result is checked against the value computed here; a wrong
result (or a failure) exits 1.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from time import perf_counter
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "programs" / "gc"
SRC = HERE.parent / "src"
if SRC.is_dir() and str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from tinyvm.api import VM  # noqa: E402
from tinyvm.heap.tuning import MODES  # noqa: E402

MAX_MEMORY = 16 << 30  # the accounted-heap limit: high enough never to be the subject


def expect_trees(depth: int) -> int:
    nodes = lambda d: (1 << (d + 1)) - 1  # noqa: E731
    total = nodes(depth + 1) + nodes(depth)
    for d in range(4, depth + 1, 2):
        total += (1 << (depth - d)) * nodes(d)
    return total


def expect_live(live: int, churn: int) -> int:
    keep = list(range(live))
    for j in range(0, churn, 16):
        keep[j % live] = j
    return sum(keep) + churn


def expect_server(clients: int, requests: int) -> int:
    n = clients * requests
    return n * (n - 1) // 2 + n * 190


# The Storage driver is source run from this folder, not a file of
# programs/gc/: it imports ./awfy/storage.tl, and a program under programs/
# may not import outside its own folder (so tests/unit/test_compile_verify.py,
# which compiles every programs/**/*.tl on its own, would skip it).
STORAGE = """
from "./awfy/storage" import Storage
// Storage().inner_benchmark_loop: true when every iteration's tree had 5461 nodes
fn run(iterations) { return Storage().inner_benchmark_loop(iterations) }
"""

# name, file (or source text), args (full, quick), expected result
BENCHES: list[tuple[str, str, tuple[Any, ...], tuple[Any, ...], Callable[..., Any]]] = [
    ("binary trees", "binary_trees.tl", (16,), (12,), expect_trees),
    ("live heap", "live_heap.tl", (1_000_000, 3_000_000), (100_000, 300_000), expect_live),
    ("AWFY Storage", STORAGE, (100,), (10,), lambda n: True),
    ("fiber server", "fiber_server.tl", (100, 1000), (20, 100), expect_server),
]


def describe(name: str, args: tuple[Any, ...]) -> str:
    if name == "binary trees":
        return f"binary trees (depth {args[0]})"
    if name == "live heap":
        return f"live heap ({args[0]:,} live, {args[1]:,} allocated)"
    if name == "AWFY Storage":
        return f"AWFY Storage ({args[0]} iterations)"
    return f"fiber server ({args[0]} clients x {args[1]} requests)"


def peak_rss_bytes() -> int:
    # Linux: VmHWM, this address space's peak. (getrusage's ru_maxrss
    # survives exec: a spawned child would report at least its parent's.)
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # (Linux: KiB)


def run_one(mode: str, file: str, args: tuple[Any, ...]) -> tuple[Any, float, dict[str, Any]]:
    vm = VM(stdout=io.StringIO(), max_memory=MAX_MEMORY, import_root=str(HERE), gc=mode)
    if file.endswith(".tl"):
        vm.run_file(str(PROGRAMS / file))
    else:
        vm.run_source(file, path=str(HERE / "gc_storage.tl"))
    t = perf_counter()
    result = vm.call("run", *args)
    elapsed = perf_counter() - t
    stats = vm.gc_stats()
    vm.close()
    return result, elapsed, stats


def run_child(mode: str, file: str, args: tuple[Any, ...]) -> tuple[Any, float, dict[str, Any], int]:
    """run_one in a new interpreter of its own (its own peak RSS); re-raises
    its failure here. Spawned, not forked: a forked child's first writes to
    pages it shares with this process are copied then (copy-on-write, a
    huge page at a time), and those copies landed inside GC slices: 7 ms
    "pauses" on the live heap that the same run in a fresh process does not
    have (0.5 ms)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_run_and_measure, mode, file, args).result()


def _run_and_measure(mode: str, file: str, args: tuple[Any, ...]) -> tuple[Any, float, dict[str, Any], int]:
    return (*run_one(mode, file, args), peak_rss_bytes())


def mib(n: float) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--modes", default=",".join(MODES), help=f"the modes to run, comma-separated (default: {','.join(MODES)})")
    ap.add_argument("--only", default="", help="run only the programs whose name contains this text")
    a = ap.parse_args(argv)
    built = [m.strip() for m in a.modes.split(",") if m.strip()]
    bad = [m for m in built if m not in MODES]
    if bad:
        ap.error(f"unknown mode {bad[0]!r}: the modes are {', '.join(MODES)}")
    print(f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, python -m benchmarks.gc_bench{' --quick' if a.quick else ''})")
    print(f"gc modes: {', '.join(built)}")
    print()
    header = "| program | mode | pauses | max pause ms | p99 pause ms | total s | vs stw | peak heap | peak RSS |"
    print(header)
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    failed = False
    start = perf_counter()
    for name, file, full, quick, expect in BENCHES:
        if a.only and a.only not in name:
            continue
        args = quick if a.quick else full
        want = expect(*args)
        stw_time: float | None = None
        for mode in built:
            try:
                got, elapsed, s, rss = run_child(mode, file, args)
            except Exception as exc:  # noqa: BLE001 -- report, keep going, exit 1
                print(f"| {describe(name, args)} | {mode} | FAILED: {type(exc).__name__}: {exc} | | | | | | |", flush=True)
                failed = True
                continue
            ok = got == want
            failed |= not ok
            p = s["pause"]
            if mode == "stw":
                stw_time = elapsed
            ratio = f"{elapsed / stw_time:.2f}x" if stw_time else "-"
            print(f"| {describe(name, args)} | {mode} | {s['collections']} | {p['max_ms']:.2f} | {p['p99_ms']:.2f} "
                  f"| {elapsed:.2f} | {ratio} | {mib(s['peak_bytes'])} | {mib(rss)} |"
                  + ("" if ok else f" WRONG RESULT: {got!r}, expected {want!r}"), flush=True)
    print()
    print(f"whole run: {perf_counter() - start:.1f} s" + ("; FAILED (a wrong result or an error above)" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
