"""What metering fuel costs: the benchmark programs with fuel on and off.

    python -m benchmarks.fuel_overhead [--repeat N] [--against OTHER/src] [NAME...]

Every TinyLang program of benchmarks/programs (the typed twins included) is
compiled once, then run in a fresh VM without a fuel limit and with one
(`VM(fuel=10**15)`: every instruction is counted and checked, none runs
out), the two interleaved, `--repeat` times each (default 3); the best time
of each counts. The table gives both and their ratio, and the geometric mean
of the ratios: the overhead of fuel, measured in one run (issue 12 bounds it
at 5%).

`--against DIR` also times the same programs, fuel off, with the TinyVM
whose sources are in DIR (a worktree of an earlier commit: `git worktree add
--detach /tmp/base COMMIT`, then `--against /tmp/base/src`), in a child
process per round, interleaved with this one's rounds; the table then also
gives this TinyVM's times with fuel off and on against that one's. Only the
run is timed (compiling is not).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

PROGRAMS = Path(__file__).resolve().parent / "programs"
HUGE_FUEL = 10**15


def programs(names: list[str]) -> list[Path]:
    found = sorted(PROGRAMS.glob("*.tl"))
    return [p for p in found if not names or p.stem in names]


def time_run(path: Path, fuel: int | None) -> float:
    """Seconds to run the program at `path` once, in a fresh VM (compiled
    first, not timed); with `fuel`, a VM that meters it."""
    from tinyvm.api import VM

    kwargs = {"fuel": fuel} if fuel is not None else {}
    vm = VM(stdout=io.StringIO(), **kwargs)
    bundle = vm.compile_file(str(path))
    start = time.perf_counter()
    vm.run_bundle(bundle)
    return time.perf_counter() - start


def worker(paths: list[Path]) -> None:
    """One round of fuel-off times, as JSON (the child of --against)."""
    print(json.dumps({p.stem: time_run(p, None) for p in paths}))


def geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.fuel_overhead", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="rounds (the best time counts; default 3)")
    ap.add_argument("--against", metavar="SRC", help="also time the TinyVM whose sources are in SRC (fuel off)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("names", nargs="*", help="program names (default: all)")
    args = ap.parse_args(argv)
    paths = programs(args.names)
    if args.worker:
        worker(paths)
        return 0
    best: dict[str, dict[str, float]] = {p.stem: {} for p in paths}

    def keep(name: str, key: str, t: float) -> None:
        best[name][key] = min(t, best[name].get(key, math.inf))

    for _ in range(args.repeat):
        if args.against:
            env = dict(os.environ, PYTHONPATH=os.path.abspath(args.against))
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.fuel_overhead", "--worker", *[p.stem for p in paths]],
                env=env, cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            for name, t in json.loads(out).items():
                keep(name, "base", t)
        for p in paths:
            keep(p.stem, "off", time_run(p, None))
            keep(p.stem, "on", time_run(p, HUGE_FUEL))
    head = f"{'program':<18}{'fuel off':>10}{'fuel on':>10}{'on/off':>8}"
    if args.against:
        head += f"{'base':>10}{'off/base':>10}{'on/base':>9}"
    print(head)
    ratios: dict[str, list[float]] = {"on/off": [], "off/base": [], "on/base": []}
    for name, t in best.items():
        row = f"{name:<18}{t['off']:>9.3f}s{t['on']:>9.3f}s{t['on'] / t['off']:>8.3f}"
        ratios["on/off"].append(t["on"] / t["off"])
        if args.against:
            row += f"{t['base']:>9.3f}s{t['off'] / t['base']:>10.3f}{t['on'] / t['base']:>9.3f}"
            ratios["off/base"].append(t["off"] / t["base"])
            ratios["on/base"].append(t["on"] / t["base"])
        print(row)
    print(f"geomean fuel on / fuel off: {geomean(ratios['on/off']):.3f}")
    if args.against:
        print(f"geomean fuel off / base: {geomean(ratios['off/base']):.3f}")
        print(f"geomean fuel on / base: {geomean(ratios['on/base']):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
