"""`tvmc -O` measured: instructions executed and time, unoptimized and optimized.

    python -m benchmarks.opt_counts [--passes LIST] [PROGRAM ARGS...]

Without a program: the AWFY ports (one inner iteration each, through
benchmarks/awfy/run.tl) and benchmarks/programs/*_typed.tl. For each it prints
the fuel used (bytecode instructions executed, as `tvm run --fuel` counts
them), the wall time of the run, and the static instruction count, without
and with -O. Output must be equal in both runs (checked).
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

from tinyvm.api import VM
from tinyvm.bytecode.code import Code
from tinyvm.ir.optimize import OptStats, optimize_bundle, pipeline
from tinyvm.lang.driver import compile_program

ROOT = Path(__file__).resolve().parent
AWFY = ["Bounce", "List", "Mandelbrot", "NBody", "Permute", "Queens", "Sieve", "Storage", "Towers"]


def _static(bundle) -> int:
    from tinyvm.bytecode.opcodes import OPCODES

    n = 0
    for m in bundle.modules.values():
        stack = [m.init]
        while stack:
            c = stack.pop()
            stack += [k for k in c.consts if isinstance(k, Code)]
            pc = 0
            while pc < len(c.code):
                pc += OPCODES[c.code[pc]].size
                n += 1
    return n


def measure(bundle, argv: list[str]) -> tuple[int, float, str]:
    out = io.StringIO()
    vm = VM(stdout=out, argv=argv, meter_fuel=True)
    t = time.perf_counter()
    try:
        vm.run_bundle(bundle)
    finally:
        vm.close()
    return vm.fuel_used or 0, time.perf_counter() - t, out.getvalue()


def row(label: str, path: Path, argv: list[str], passes: list[str]) -> None:
    bundle = compile_program(str(path))
    stats = OptStats()
    opt = optimize_bundle(bundle, passes, stats)
    f0, t0, o0 = measure(bundle, argv)
    f1, t1, o1 = measure(opt, argv)
    # (AWFY prints its run time: compare the rest)
    same = [ln for ln in o0.splitlines() if "us" not in ln] == [ln for ln in o1.splitlines() if "us" not in ln]
    print(f"{label:<16} {f0:>10} {f1:>10} {f1 / f0 - 1:>+7.1%} {t0:>7.2f}s {t1:>7.2f}s {_static(bundle):>7} {_static(opt):>7}  {'' if same else 'OUTPUT DIFFERS'}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--passes", default=None)
    ap.add_argument("program", nargs="*")
    a = ap.parse_args()
    passes = pipeline(a.passes)
    print(f"passes: {','.join(passes) or 'none'}")
    print(f"{'program':<16} {'fuel':>10} {'fuel -O':>10} {'change':>7} {'time':>8} {'time -O':>8} {'static':>7} {'-O':>7}")
    if a.program:
        row(Path(a.program[0]).name, Path(a.program[0]), a.program[1:], passes)
        return
    for name in AWFY:
        row(name, ROOT / "awfy" / "run.tl", [name, "1", "1"], passes)
    for p in sorted((ROOT / "programs").glob("*_typed.tl")):
        row(p.name, p, [], passes)


if __name__ == "__main__":
    main()
