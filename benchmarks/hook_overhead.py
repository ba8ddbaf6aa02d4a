"""What the hook API costs (vm/hooks.py): unused, idle, and under the profiler and the tracer.

    python -m benchmarks.hook_overhead [--repeat N] [--against DIR/src | --no-base] [NAME...]

Every untyped TinyLang program of benchmarks/programs is compiled once, then
run in a fresh VM, `--repeat` times per configuration (default 3, rounds
interleaved, each configuration's round in a fresh process), the best time
counting:

    base     the TinyVM of the commit before the hook API landed (no hooks code
             at all), in a child process: by default its sources are taken
             with `git archive` into a temporary folder (the parent of the
             commit that added src/tinyvm/vm/hooks.py); `--against DIR/src`
             names another tree; `--no-base` skips it
    none     this TinyVM, no hook installed (vm.hooks empty)
    idle     hooks installed on rare events only (gc, jit, fiber, exception):
             the loop still runs chunked and fused, tests one flag per event
    prof     `tvm prof`'s configuration: the sampling profiler, every 1000
             instructions, on a VM that counts fuel (which the sampler needs to
             count instructions exactly on every tier; fuel alone is
             benchmarks/fuel_overhead.py)
    sample   the profiler on a VM that does not count fuel (samples every 1000
             dispatches): the cost of sampling alone

and the tracer: the time a run takes to its TRACED-th instruction under a
`Tracer` (stepping, a record per instruction, no text written; the tracer
then removes its hook), over TRACED: the time per traced instruction, and
its ratio to an untraced one, `none` / instructions (tracing a whole
benchmark would take minutes).

Times are CPU seconds of the process (time.process_time): the machine this
was written on is shared, and CPU time counts what the run itself took while
others ran. The table prints each time and the ratios none/base (the cost of having the
hooks code), idle/none, prof/none and sample/none, with their geometric means.
Timings never fail anything: this is a measurement, run by hand.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ROOT / "benchmarks" / "programs"
TRACED = 100_000
MODES = ("none", "idle", "prof", "sample")


def programs(names: list[str]) -> list[Path]:
    found = sorted(p for p in PROGRAMS.glob("*.tl") if not p.stem.endswith("_typed"))
    return [p for p in found if not names or p.stem in names]


def time_run(path: Path, mode: str) -> float:
    """Seconds to run the program once in a fresh VM configured for `mode`."""
    from tinyvm.api import VM

    vm = VM(stdout=io.StringIO(), meter_fuel=mode == "prof")
    bundle = vm.compile_file(str(path))
    handles = []
    prof = None
    if mode == "idle":
        hooks = vm.machine.hooks
        handles = [hooks.add(e, lambda ev: None) for e in ("gc", "jit", "fiber", "exception")]
    elif mode in ("prof", "sample"):
        from tinyvm.tools.profiler import Profiler

        prof = Profiler(vm, interval=1000).start()
    start = time.process_time()
    vm.run_bundle(bundle)
    took = time.process_time() - start
    if prof is not None:
        prof.stop()
    for h in handles:
        vm.machine.hooks.remove(h)
    return took


def trace_run(path: Path, limit: int) -> tuple[float, int]:
    """(seconds the first `limit` instructions took traced, instructions in all)."""
    from tinyvm.api import VM
    from tinyvm.tools.trace import Tracer

    class Timed(Tracer):
        ended = 0.0

        def stop(self) -> None:  # (called by the hook itself once `limit` records are made)
            if not self.ended:
                self.ended = time.process_time()
            super().stop()

    vm = VM(stdout=io.StringIO(), meter_fuel=True)
    bundle = vm.compile_file(str(path))
    tracer = Timed(vm, limit=limit, keep=False).start()
    start = time.process_time()
    vm.run_bundle(bundle)
    tracer.stop()
    return tracer.ended - start, vm.fuel_used or 0


def worker(mode: str, paths: list[Path]) -> None:
    """One round of one configuration, in a child process, as JSON: every
    configuration then runs in a process of the same age and size. `base`
    is plain runs with whatever TinyVM is importable (PYTHONPATH)."""
    out = {}
    for p in paths:
        if mode == "base":
            from tinyvm.api import VM

            vm = VM(stdout=io.StringIO())
            bundle = vm.compile_file(str(p))
            start = time.process_time()
            vm.run_bundle(bundle)
            out[p.stem] = time.process_time() - start
        else:
            out[p.stem] = time_run(p, mode)
    print(json.dumps(out))


def base_sources(tmp: str) -> str | None:
    """The sources of the commit before the hooks landed, extracted into tmp; None if unknown."""
    try:
        added = subprocess.run(
            ["git", "log", "--diff-filter=A", "--format=%H", "--", "src/tinyvm/vm/hooks.py"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
        if not added:
            return None
        rev = added[-1] + "^"
        data = subprocess.run(["git", "archive", "--format=tar", rev, "src"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    tar = Path(tmp) / "base.tar"
    tar.write_bytes(data)
    with tarfile.open(tar) as t:
        t.extractall(tmp, filter="data")
    return str(Path(tmp) / "src")


def run_child(mode: str, paths: list[Path], src: str | None = None) -> dict[str, float]:
    """One round of `mode` in a fresh process (`base`: with the TinyVM in `src`)."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = src
    code = f"import sys; from pathlib import Path; sys.path.insert(1, {str(ROOT)!r}); from benchmarks.hook_overhead import worker; worker(sys.argv[1], [Path(p) for p in sys.argv[2:]])"
    r = subprocess.run([sys.executable, "-c", code, mode, *map(str, paths)], env=env, capture_output=True, text=True, check=True, cwd=src or ROOT)
    return json.loads(r.stdout.strip().splitlines()[-1])


def geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--against", help="the src/ folder of the TinyVM to compare with (default: the commit before hooks)")
    ap.add_argument("--no-base", action="store_true", help="do not time the TinyVM without hooks")
    ap.add_argument("names", nargs="*")
    args = ap.parse_args(argv)
    paths = programs(args.names)
    best: dict[str, dict[str, float]] = {p.stem: {} for p in paths}
    traced: dict[str, tuple[float, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        src = None if args.no_base else (args.against or base_sources(tmp))
        for _ in range(args.repeat):  # rounds of every configuration, interleaved
            for mode in (("base",) if src is not None else ()) + MODES:
                for name, t in run_child(mode, paths, src if mode == "base" else None).items():
                    best[name][mode] = min(best[name].get(mode, t), t)
        for p in paths:
            traced[p.stem] = trace_run(p, TRACED)

    head = f"{'program':<10} {'base':>7} {'none':>7} {'idle':>7} {'prof':>7} {'sample':>7}  {'none/base':>9} {'idle/none':>9} {'prof/none':>9} {'sample/none':>11}  {'trace us/instr':>14} {'trace x':>8}"
    print(head)
    print("-" * len(head))
    ratios: dict[str, list[float]] = {k: [] for k in ("none/base", "idle/none", "prof/none", "sample/none", "trace")}
    for p in paths:
        b = best[p.stem]
        none = b["none"]
        r_base = none / b["base"] if "base" in b else None
        cells = [f"{b.get('base', float('nan')):7.3f}", *(f"{b[m]:7.3f}" for m in MODES)]
        rr = [r_base, b["idle"] / none, b["prof"] / none, b["sample"] / none]
        for k, v in zip(("none/base", "idle/none", "prof/none", "sample/none"), rr):
            if v is not None:
                ratios[k].append(v)
        # the tracer: the traced part's time over the same instructions untraced
        traced_time, total = traced[p.stem]
        n = min(TRACED, total)
        per_instr_plain = none / total if total else float("nan")
        us = traced_time / n * 1e6 if n else float("nan")
        x = us / (per_instr_plain * 1e6) if n and total else float("nan")
        ratios["trace"].append(x)
        fmt = lambda v, w: f"{v:{w}.3f}" if v is not None else f"{'-':>{w}}"
        print(f"{p.stem:<10} {' '.join(cells)}  {fmt(rr[0], 9)} {fmt(rr[1], 9)} {fmt(rr[2], 9)} {fmt(rr[3], 11)}  {us:14.2f} {x:8.1f}")
    print("-" * len(head))
    gm = {k: geomean(v) for k, v in ratios.items()}
    base_gm = f"{gm['none/base']:9.3f}" if ratios["none/base"] else f"{'-':>9}"
    print(f"{'geomean':<10} {'':>39}  {base_gm} {gm['idle/none']:9.3f} {gm['prof/none']:9.3f} {gm['sample/none']:11.3f}  {'':>14} {gm['trace']:8.1f}")
    print(f"\nCPU seconds, best of {args.repeat}; trace: over the first {TRACED:,} instructions of each run (stepping + one record each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
