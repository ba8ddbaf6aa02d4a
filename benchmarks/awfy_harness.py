"""Are We Fast Yet: TinyVM beside CPython, Lua, LuaJIT and C++ on the same nine benchmarks.

    python -m benchmarks.awfy [--quick] [--outer N] [--warmup S] [--processes K] [--tiers fused,plain,metered,jit,native] [--markdown] [NAMES...]

Each runtime runs its own version of the suite through the suite's own harness,
one process per benchmark, with the same outer and inner iteration counts:

* TinyVM: ``tvm run benchmarks/awfy/run.tl NAME OUTER INNER`` (the TinyLang
  ports), once per tier: ``fused`` (the default interpreter), ``plain``
  (``VM(fuse=False)``) and ``metered`` (``VM(meter_fuel=True)``), chosen with
  the CLI's ``TVM_TIER`` variable, ``jit`` (the fused interpreter with the
  JIT tier on: ``TVM_JIT=on``, docs/jit.md), and ``native`` (``TVM_JIT=native``:
  the JIT plus machine code for eligible functions, docs/native.md; needs
  the ``native`` extra);
* CPython: ``harness.py`` of ``../shared/awfy/Python``, run from that folder
  by the interpreter running this harness;
* Lua 5.4 and LuaJIT: ``harness.lua`` of ``../shared/awfy/Lua``, when
  ``lua5.4`` / ``luajit`` are on PATH;
* C++: ``../shared/awfy/Cpp`` compiled with ``g++ -O2`` as the suite's build
  script does, into ~/.cache/tinyvm-awfy (outside the repository; rebuilt when
  a source changes), when ``g++`` is on PATH.

Every harness prints one ``NAME: iterations=1 runtime: Tus`` line per outer
iteration (TinyVM's through ``time.monotonic_us``) and fails
when the benchmark's result is wrong, so every time reported is of a verified
run. From the lines: the first-iteration time (the first outer iteration,
divided by the inner count), and the steady state, the mean of the others
(warm-up excluded) per inner iteration. The table gives both per runtime, and
then TinyVM / X for every other runtime X, with the geometric means.
``--outer N`` gives every benchmark N outer iterations (inner counts as
before).

Steady state and warm-up: TinyVM's JIT tiers compile on a background thread
while the program runs, and a short benchmark's second and third outer
iterations (3 ms each for Bounce on the native tier) ran while its code was
still compiling (~250 ms of LLVM and the Python JIT for Bounce): the steady
mean of the default counts held them (Bounce 510x C++ "steady", ~22x once
compiled). So TinyVM runs get a warm-up, ``--warmup S`` seconds (default 1;
0 turns it off): after the first outer iteration, run.tl runs the inner loop
unreported, each run verified, until S seconds have passed since the start,
then the other outer iterations (the "first" column is still the first
iteration, compilation included). The reference runtimes keep the suite's
harness as it is: CPython and Lua have no JIT, C++ none to warm, and
LuaJIT's traces compile within its first iteration.

Noise: ``--processes K`` runs every runtime K times per benchmark, each in
a process of its own, the runtimes taking turns, and keeps each one's
fastest steady state (``best_of``): on this 2-core VM a process runs at one
of two speeds, up to 2x apart, for all runtimes alike (the C++ column of one
run moved List 15.9 -> 9.0 us and Sieve 5.5 -> 9.2 us between two runs), so
a ratio of one process each measured the luck of two processes.

Mandelbrot and NBody are verified by the suite only at some sizes (Mandelbrot
1, 500, 750; NBody 1, 250000), so their inner counts are fixed by that.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PORTS = HERE / "awfy"
SUITE = REPO.parent / "shared" / "awfy"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tinyvm-awfy"

TIERS = ("fused", "plain", "metered", "jit", "native")
GC_MODES = ("stw", "incremental", "generational")  # TIER+MODE: the tier with that collector
NAMES = ("Bounce", "List", "Mandelbrot", "NBody", "Permute", "Queens", "Sieve", "Storage", "Towers")

# (outer, inner) per benchmark. The default run takes about 1.5 minutes on a
# 2-core Xeon with the fused tier (each tier adds about as much); --quick about
# 10 s per tier. Inner counts put a TinyVM outer iteration near 0.2-0.4 s.
DEFAULT = {
    "Bounce": (5, 15), "List": (5, 15), "Mandelbrot": (2, 500), "NBody": (2, 250000),
    "Permute": (5, 10), "Queens": (5, 10), "Sieve": (5, 30), "Storage": (5, 5), "Towers": (5, 5),
}
QUICK = {
    "Bounce": (3, 5), "List": (3, 5), "Mandelbrot": (3, 1), "NBody": (3, 1),
    "Permute": (3, 3), "Queens": (3, 4), "Sieve": (3, 10), "Storage": (3, 2), "Towers": (3, 2),
}

RUNTIME_LINE = re.compile(r"^(\w+): iterations=1 runtime: (\d+(?:\.\d+)?)(us|ms)\s*$")
WARMUP_LINE = re.compile(r"^(\w+): warm-up runs=(\d+) time: \d+us\s*$")
UNIT_US = {"us": 1.0, "ms": 1000.0}
TIMEOUT_S = 900


def parse_runtimes(output: str, name: str) -> list[float]:
    """The per-outer-iteration times, in microseconds, that a suite harness printed for NAME.

    Every runtime's harness prints the same line (Python ``runtime: 123us``,
    Lua ``%.0fus``, C++ an integer, TinyVM ``us``; ``ms`` is read too); lines of other benchmarks
    and every other line are ignored.
    """
    times = []
    for line in output.splitlines():
        m = RUNTIME_LINE.match(line.strip())
        if m and m.group(1) == name:
            times.append(float(m.group(2)) * UNIT_US[m.group(3)])
    return times


def parse_warmup(output: str, name: str) -> Optional[int]:
    """The number of warm-up runs run.tl reported for NAME, or None (no warm-up line)."""
    for line in output.splitlines():
        m = WARMUP_LINE.match(line.strip())
        if m and m.group(1) == name:
            return int(m.group(2))
    return None


@dataclass
class Measurement:
    """One runtime on one benchmark: times per inner iteration, in microseconds."""

    runtime: str
    name: str
    inner: int
    times_us: list[float] = field(default_factory=list)
    error: str = ""
    warmup_runs: Optional[int] = None  # (unreported inner-loop runs after the first iteration: run.tl's warm-up line)
    processes: list[Optional[float]] = field(default_factory=list)  # (--processes K: every process's steady time; this is the fastest)

    @property
    def first(self) -> Optional[float]:
        return self._per_inner(self.times_us[:1])

    @property
    def steady(self) -> Optional[float]:
        """Mean of the outer iterations after the first, per inner iteration."""
        return self._per_inner(self.times_us[1:])

    def _per_inner(self, times: list[float]) -> Optional[float]:
        # A total of 0 is below the clock's resolution (the C++
        # harness's us, on a tiny run): no time rather than a time of 0.
        if self.error or not times or sum(times) <= 0:
            return None
        return sum(times) / len(times) / self.inner


@dataclass
class Runtime:
    """How to run one runtime's version of the suite: a command line, a folder, an environment."""

    label: str
    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    warms_up: bool = False  # (takes a fourth argument, the warm-up in ms: TinyVM's run.tl)

    def run(self, name: str, outer: int, inner: int, warmup_s: float = 0.0) -> Measurement:
        m = Measurement(self.label, name, inner)
        env = {**os.environ, **self.env}
        warmup = [str(round(warmup_s * 1000))] if self.warms_up and warmup_s > 0 else []
        try:
            proc = subprocess.run(
                [*self.argv, name, str(outer), str(inner), *warmup], cwd=self.cwd, env=env,
                capture_output=True, text=True, timeout=TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            m.error = f"{type(exc).__name__}: {exc}"
            return m
        m.times_us = parse_runtimes(proc.stdout, name)
        m.warmup_runs = parse_warmup(proc.stdout, name)
        if proc.returncode != 0 or len(m.times_us) != outer:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            m.error = f"exit {proc.returncode}, {len(m.times_us)}/{outer} iterations: " + " | ".join(tail)
        return m


def best_of(runs: list[Measurement]) -> Measurement:
    """The run with the fastest steady state of several processes of one
    runtime on one benchmark (`--processes K`), or the first failed one.
    `processes` records every run's steady time, for the log.

    Why the best: on a shared machine a whole process runs at one of two
    speeds (measured here: the C++ binary's Queens 5.3 or 10.9 us, Towers 11
    or 21 us, Sieve 4.2 or 7.0 us from one process to the next, pinned to one
    CPU or not, address randomisation on or off; TinyVM's Sieve and Bounce
    the same), and a slow phase of the host slows a process, never speeds it
    up. The fastest of K processes is each runtime's time on a quiet machine,
    and the ratios between runtimes stop depending on which one was unlucky."""
    failed = next((m for m in runs if m.error), None)
    best = failed or min(runs, key=lambda m: m.steady if m.steady is not None else math.inf)
    best.processes = [m.steady for m in runs]
    return best


def tinyvm_runtime(tier: str) -> Runtime:
    # The CLI in a process of its own, as a user runs it; the tier as CI
    # chooses it. `TIER+MODE` runs the tier with that collector mode
    # (TVM_GC: stw, incremental, generational; docs/gc.md).
    base, _, gc_mode = tier.partition("+")
    argv = [sys.executable, "-c", "from tinyvm.cli.main import tvm_main; tvm_main()",
            "run", "--max-memory", "1G", str(PORTS / "run.tl")]
    jit = {"jit": "on", "native": "native"}.get(base, "off")  # (native: the llvmlite tier, docs/native.md)
    env = {"TVM_TIER": "" if base in ("fused", "jit", "native") else base, "TVM_JIT": jit, "TVM_GC": gc_mode}
    return Runtime(f"tinyvm-{tier}", argv, REPO, env, warms_up=True)


def build_cpp(out: Optional[Path] = None) -> Path:
    """The suite's C++ harness built at -O2, cached by a hash of the sources and the flags."""
    src = SUITE / "Cpp"
    flags = ["-O2", "-ffp-contract=off", "-std=c++17"]
    digest = hashlib.sha256(" ".join(flags).encode())
    for path in sorted(src.rglob("*")):
        if path.suffix in (".h", ".cpp"):
            digest.update(str(path.relative_to(src)).encode() + path.read_bytes())
    cache = out or CACHE
    exe = cache / f"harness-{digest.hexdigest()[:16]}"
    if not exe.exists():
        cache.mkdir(parents=True, exist_ok=True)
        # Built under a temporary name, then renamed: a half-written binary is never cached.
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            tmp_exe = Path(tmp) / "harness"
            subprocess.run(["g++", *flags, "harness.cpp", "memory/object_tracker.cpp", "-o", str(tmp_exe)],
                           cwd=src, check=True, capture_output=True, text=True)
            os.replace(tmp_exe, exe)
    return exe


def reference_runtimes(log) -> list[Runtime]:
    """CPython always; Lua 5.4, LuaJIT and C++ when installed."""
    out = [Runtime("cpython", [sys.executable, "harness.py"], SUITE / "Python")]
    for exe, label in (("lua5.4", "lua5.4"), ("luajit", "luajit")):
        path = shutil.which(exe)
        if path:
            out.append(Runtime(label, [path, "harness.lua"], SUITE / "Lua"))
        else:
            log(f"{label}: not on PATH, skipped")
    if shutil.which("g++"):
        try:
            exe = build_cpp()
            out.append(Runtime("c++ -O2", [str(exe)], SUITE / "Cpp"))
        except subprocess.CalledProcessError as exc:
            log(f"c++: build failed, skipped: {exc.stderr.strip()[-300:]}")
    else:
        log("c++: g++ not on PATH, skipped")
    return out


def geomean(values: list[float]) -> Optional[float]:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a and b else None


def fmt_us(v: Optional[float]) -> str:
    if v is None:
        return "-"
    return f"{v / 1000:.3f}ms" if v >= 1000 else f"{v:.1f}us"


def fmt_ratio(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.2f}x"


def table(results: dict[str, dict[str, Measurement]], tiers: list[str], refs: list[str]) -> str:
    """The report: times per runtime, then TinyVM-tier / reference ratios with geomeans."""
    names = list(results)
    runtimes = [f"tinyvm-{t}" for t in tiers] + refs
    lines = ["time per inner iteration: steady state (mean after the first outer iteration and, for TinyVM, the warm-up) / first iteration"]
    width = max(12, *(len(r) for r in runtimes)) + 2
    lines.append("benchmark".ljust(12) + "".join(r.rjust(width + 10) for r in runtimes))
    for n in names:
        row = n.ljust(12)
        for r in runtimes:
            m = results[n].get(r)
            cell = "FAILED" if m is None or m.error else f"{fmt_us(m.steady)} / {fmt_us(m.first)}"
            row += cell.rjust(width + 10)
        lines.append(row)
    for kind in ("steady", "first") if refs else ():
        lines.append("")
        pairs = [(f"tinyvm-{t}", ref) for t in tiers for ref in refs]
        head = [f"{a.removeprefix('tinyvm-')}/{b}" for a, b in pairs]
        lines.append(f"ratio TinyVM / X, {kind}".ljust(28) + "".join(h.rjust(18) for h in head))
        cols: list[list[float]] = [[] for _ in pairs]
        for n in names:
            row = n.ljust(28)
            for i, (a, b) in enumerate(pairs):
                ma, mb = results[n].get(a), results[n].get(b)
                v = ratio(getattr(ma, kind), getattr(mb, kind)) if ma and mb else None
                if v is not None:
                    cols[i].append(v)
                row += fmt_ratio(v).rjust(18)
            lines.append(row)
        lines.append("geomean".ljust(28) + "".join(
            f"{fmt_ratio(geomean(c))} ({len(c)})".rjust(18) for c in cols))
    if len(tiers) > 1:  # each tier against the first (e.g. a collector mode against stw)
        first = f"tinyvm-{tiers[0]}"
        lines.append("")
        lines.append(f"ratio tier / {tiers[0]}, steady".ljust(28) + "".join(t.rjust(22) for t in tiers[1:]))
        cols = [[] for _ in tiers[1:]]
        for n in names:
            row = n.ljust(28)
            for i, t in enumerate(tiers[1:]):
                ma, mb = results[n].get(f"tinyvm-{t}"), results[n].get(first)
                v = ratio(ma.steady, mb.steady) if ma and mb else None
                if v is not None:
                    cols[i].append(v)
                row += fmt_ratio(v).rjust(22)
            lines.append(row)
        lines.append("geomean".ljust(28) + "".join(f"{fmt_ratio(geomean(c))} ({len(c)})".rjust(22) for c in cols))
    return "\n".join(lines)


def markdown(results: dict[str, dict[str, Measurement]], tiers: list[str], refs: list[str]) -> str:
    """The same results as one Markdown table (`--markdown`, for the READMEs,
    pasted as printed): steady time per inner iteration of every runtime,
    then every TinyVM tier / CPython, and the last tier / each other
    reference, with geometric means."""
    runtimes = [f"tinyvm-{t}" for t in tiers] + refs
    pairs = [(f"tinyvm-{t}", "cpython") for t in tiers if "cpython" in refs]
    pairs += [(f"tinyvm-{tiers[-1]}", r) for r in refs if r != "cpython"]
    head = ["benchmark", *runtimes, *(f"{a.removeprefix('tinyvm-')} / {b}" for a, b in pairs)]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    cols: list[list[float]] = [[] for _ in pairs]
    for n in results:
        row = [n]
        for r in runtimes:
            m = results[n].get(r)
            row.append("FAILED" if m is None or m.error else fmt_us(m.steady))
        for i, (a, b) in enumerate(pairs):
            ma, mb = results[n].get(a), results[n].get(b)
            v = ratio(ma.steady, mb.steady) if ma and mb else None
            if v is not None:
                cols[i].append(v)
            row.append(fmt_ratio(v))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("| **geomean** |" + " |" * len(runtimes) + "".join(f" **{fmt_ratio(geomean(c))}** |" for c in cols))
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.awfy", description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: all of {', '.join(NAMES)})")
    ap.add_argument("--quick", action="store_true", help="small counts: a ~30 s smoke run")
    ap.add_argument("--tiers", default="fused", help="TinyVM tiers, comma-separated, of fused,plain,metered,jit,native (default fused); TIER+MODE runs it with the collector MODE (stw, incremental, generational)")
    ap.add_argument("--no-reference", action="store_true", help="TinyVM only: no CPython, Lua or C++")
    ap.add_argument("--markdown", action="store_true", help="also print the results as one Markdown table (steady times and ratios)")
    ap.add_argument("--outer", type=int, metavar="N", help="N outer iterations for every benchmark (inner counts unchanged): a longer steady window")
    ap.add_argument("--processes", type=int, default=1, metavar="K", help="run every runtime K times on every benchmark, one process each, the runtimes in turn, and report each one's fastest steady state (default 1): the machine's noise slows whole processes, best_of")
    ap.add_argument("--warmup", type=float, default=1.0, metavar="S", help="TinyVM runs: after the first outer iteration, unreported inner-loop runs until S seconds have passed since the start, so the JIT tiers' background compilations are done before the steady iterations (default 1; 0: none)")
    args = ap.parse_args(argv)
    if args.outer is not None and args.outer < 2:
        ap.error("--outer needs at least 2 (the first iteration is warm-up)")
    if not 1 <= args.processes <= 20:
        ap.error("--processes takes 1 to 20")
    if not 0 <= args.warmup <= 600:
        ap.error("--warmup takes seconds, 0 to 600")
    unknown = [n for n in args.names if n not in NAMES]
    tiers = [t for t in args.tiers.split(",") if t]
    bad_tiers = [t for t in tiers if t.partition("+")[0] not in TIERS or t.partition("+")[2] not in ("", *GC_MODES)]
    if unknown or bad_tiers or not tiers:
        ap.error(f"unknown benchmark(s) {unknown}" if unknown else f"--tiers takes {','.join(TIERS)}, each optionally +{'|'.join(GC_MODES)}")
    if not SUITE.is_dir():
        print(f"the suite's reference versions are not at {SUITE}", file=sys.stderr)
        return 1

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    counts = QUICK if args.quick else DEFAULT
    if args.outer is not None:
        counts = {n: (args.outer, inner) for n, (_, inner) in counts.items()}
    runtimes = [tinyvm_runtime(t) for t in tiers]
    refs = [] if args.no_reference else reference_runtimes(log)
    results: dict[str, dict[str, Measurement]] = {}
    failed = False
    start = time.perf_counter()
    for name in args.names or NAMES:
        outer, inner = counts[name]
        # The runtimes take turns (K rounds, not K runs in a row): a slow
        # phase of the machine then falls on several runtimes' runs, not on
        # all of one runtime's.
        runs: dict[str, list[Measurement]] = {rt.label: [] for rt in runtimes + refs}
        for _ in range(args.processes):
            for rt in runtimes + refs:
                runs[rt.label].append(rt.run(name, outer, inner, args.warmup))
        results[name] = {}
        for rt in runtimes + refs:
            m = results[name][rt.label] = best_of(runs[rt.label])
            status = f"FAILED: {m.error}" if m.error else f"steady {fmt_us(m.steady)}, first {fmt_us(m.first)}"
            if m.warmup_runs is not None:
                status += f", {m.warmup_runs} warm-up runs"
            if len(m.processes) > 1 and not m.error:
                status += f" (best of {len(m.processes)} processes: {', '.join(fmt_us(v) for v in m.processes)})"
            log(f"{name} {outer}x{inner} {rt.label}: {status}")
            failed |= bool(m.error)
    print(table(results, tiers, [r.label for r in refs]))
    if args.markdown:
        print()
        print(markdown(results, tiers, [r.label for r in refs]))
    print(f"\nouter x inner iterations: {', '.join(f'{n} {counts[n][0]}x{counts[n][1]}' for n in results)}; "
          f"TinyVM warm-up {args.warmup:g} s after the first iteration; "
          f"{'one process' if args.processes == 1 else f'the fastest of {args.processes} processes'} per runtime and benchmark; wall {time.perf_counter() - start:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
