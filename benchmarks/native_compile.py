"""The native tier's compile time, disk cache and background compilation (docs/native.md).

    python -m benchmarks.native_compile [--repeat R] [--skip-run] [--min]

Three measurements, printed as tables:

1. **Compile time per phase** (ms, median of R compilations in process,
   warm: llvmlite initialised, the IR's Python modules loaded) of typical
   functions -- fib, gcd, a primality test, a Mandelbrot inner loop, a
   doubly nested loop, a field-heavy method (AWFY Bounce's `Ball.bounce`),
   a loop over two arrays, a small method (AWFY's `Random.next`) -- with
   the tier's pass list (engine.PIPELINE) and with LLVM's default O2 module pipeline (what v0 ran), and the speed of
   the code each makes (fib(30), Mandelbrot 400x400x200; best of R).
   Phases: ir (TinyVM IR built, optimized, typed), emit (LLVM IR text),
   parse (+ verify), opt (LLVM passes), codegen (object code), load
   (MCJIT links it). The cache is off here. `--min`: the minimum of the R
   compilations instead (steadier than the median on a loaded machine).
2. **Disk cache**: `tvm run --jit=native-eager --jit-log` of one program in
   three fresh processes sharing a new cache folder: the first compiles
   (cache miss), the next ones load (cache hit); the sum of the log's
   compile times, and the process's wall time.
3. **Background compilation**: the wall time of programs whose hot
   function (a Mandelbrot loop) compiles while they run (one calling it
   in a loop, one doing interpreted array work between the calls), in `--jit=native`
   (LLVM on the worker thread) and with the same tier compiling
   synchronously, beside `--jit=on` and `--jit=native-eager` (best of R,
   fresh VM each, cache off).

No assertion: it measures (the tests check behaviour: tests/jit/native).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

FUNCS = """
fn fib(n: int) -> int {
  if n < 2 { return n }
  return fib(n - 1) + fib(n - 2)
}
fn gcd(a: int, b: int) -> int {
  var x = a
  var y = b
  while y != 0 { let t = x % y
    x = y
    y = t }
  return x
}
fn isprime(n: int) -> bool {
  if n < 2 { return false }
  var d = 2
  while d * d <= n { if n % d == 0 { return false }
    d += 1 }
  return true
}
fn mandel(w: int, h: int, maxit: int) -> int {
  var count = 0
  for y in 0..h {
    for x in 0..w {
      let cr = 2.0 * x / w - 1.5
      let ci = 2.0 * y / h - 1.0
      var zr = 0.0
      var zi = 0.0
      var i = 0
      while i < maxit and zr * zr + zi * zi <= 4.0 {
        let t = zr * zr - zi * zi + cr
        zi = 2.0 * zr * zi + ci
        zr = t
        i = i + 1
      }
      if i == maxit { count = count + 1 }
    }
  }
  return count
}
fn nested(n: int) -> int {
  var s = 0
  for i in 0..n { for j in 0..n { s = (s + i * j) % 1000003 } }
  return s
}
class Ball {
  var x: int = 0
  var y: int = 0
  var x_vel: int = 0
  var y_vel: int = 0
  fn bounce() -> bool {
    let x_limit = 500
    let y_limit = 500
    var bounced = false
    self.x += self.x_vel
    self.y += self.y_vel
    if self.x > x_limit { self.x = x_limit
      self.x_vel = -abs(self.x_vel)
      bounced = true }
    if self.x < 0 { self.x = 0
      self.x_vel = abs(self.x_vel)
      bounced = true }
    if self.y > y_limit { self.y = y_limit
      self.y_vel = -abs(self.y_vel)
      bounced = true }
    if self.y < 0 { self.y = 0
      self.y_vel = abs(self.y_vel)
      bounced = true }
    return bounced
  }
}
fn asum(a: [int], b: [float]) -> float {
  var s = 0
  var f = 0.0
  for i in 0..len(a) {
    s += a[i] * 2
    f += b[i] * a[i]
  }
  return f + s
}
class Random {
  var seed: int = 74755
  fn next() -> int {
    self.seed = ((self.seed * 1309) + 13849) & 65535
    return self.seed
  }
}
print(fib(5), gcd(12, 18), isprime(97), mandel(4, 4, 10), nested(3), Ball().bounce(), asum([1, 2], [0.5, 1.5]), Random().next())
"""
NAMES = ("fib", "gcd", "isprime", "mandel", "nested", "Ball.bounce", "asum", "Random.next")
PHASES = ("ir", "emit", "parse", "opt", "codegen", "load")

HOT = FUNCS + """
var total = 0
for k in 0..400 { total = total + mandel(14, 14, 40) }
print(total)
"""
MIXED = FUNCS + """
var total = 0
var n = 0
for k in 0..400 {
  total = total + mandel(10, 10, 30)
  var a = []
  for j in 0..60 { a.push(j * k % 7) }
  n = n + len(a)
}
print(total + n)
"""
TVM = "import sys; from tinyvm.cli.main import tvm_main; sys.argv[0] = 'tvm'; tvm_main()"


def vm_with(passes: object, jit: str = "native-eager") -> object:
    from tinyvm.api import VM
    from tinyvm.jit.native.engine import Codegen

    vm = VM(stdout=io.StringIO(), jit=jit)
    nt = vm.machine.jit.native
    nt.cache = None
    nt.codegen = Codegen(passes)  # type: ignore[arg-type]
    return vm


def phases(repeat: int, passes: object, stat: object = statistics.median) -> dict[str, dict[str, float]]:
    from tinyvm.jit.native.engine import finish

    vm = vm_with(passes)
    vm.run_source(FUNCS, "funcs.tl")  # (compiles each once: warm-up)
    nt = vm.machine.jit.native
    G = None
    for code in nt.compiled:
        G = vm.machine.decoders[code].G
        break
    out: dict[str, dict[str, float]] = {}
    for code in list(nt.compiled):
        runs: list[dict[str, float]] = []
        for _ in range(repeat):
            nt.typed.clear()
            prep = nt._prepare(code, G)
            comp = finish(prep, nt.codegen, None)
            runs.append(dict(comp.phases, total=comp.ms))
        out[code.name] = {k: stat([r.get(k, 0.0) for r in runs]) for k in (*PHASES, "total")}
    return out


def speed(repeat: int, passes: object) -> dict[str, float]:
    vm = vm_with(passes)
    vm.run_source(FUNCS, "funcs.tl")
    out = {}
    for name, args in (("fib(30)", ("fib", 30)), ("mandel 400x400x200", ("mandel", 400, 400, 200))):
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            vm.call(*args)
            best = min(best, time.perf_counter() - t0)
        out[name] = best * 1000
    return out


def cache_runs(runs: int = 3) -> list[tuple[str, float, float, int]]:
    out = []
    with tempfile.TemporaryDirectory() as d, tempfile.NamedTemporaryFile("w", suffix=".tl", delete=False) as f:
        f.write(FUNCS)
        f.flush()
        env = dict(os.environ, TVM_NATIVE_CACHE=d)
        for k in range(runs):
            t0 = time.perf_counter()
            p = subprocess.run([sys.executable, "-c", TVM, "run", "--jit=native-eager", "--jit-log", f.name], capture_output=True, text=True, env=env, check=False)
            wall = (time.perf_counter() - t0) * 1000
            ms = sum(float(m) for m in re.findall(r"^jit: native \S+ in ([0-9.]+) ms", p.stderr, re.MULTILINE))
            state = "hit" if "cache hit" in p.stderr and "cache miss" not in p.stderr else "miss" if "cache miss" in p.stderr else "?"
            out.append((f"run {k + 1} ({state})", ms, wall, len(re.findall(r"^jit: native \S+ in", p.stderr, re.MULTILINE))))
        os.unlink(f.name)
    return out


def background(repeat: int, src: str) -> dict[str, tuple[float, str]]:
    from tinyvm.api import VM

    out = {}
    for label, jit, bg in (("--jit=on (no native)", "on", None), ("--jit=native, synchronous", "native", False), ("--jit=native, background", "native", True), ("--jit=native-eager", "native-eager", None)):
        best = float("inf")
        result = ""
        for _ in range(repeat):
            so = io.StringIO()
            vm = VM(stdout=so, jit=jit, jit_threshold="20")
            nt = vm.machine.jit.native
            if nt is not None:
                nt.cache = None
                if bg is not None:
                    nt.background = bg
            t0 = time.perf_counter()
            vm.run_source(src, "hot.tl")
            best = min(best, time.perf_counter() - t0)
            vm.close()
            result = so.getvalue().split()[-1]
        out[label] = (best * 1000, result)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.native_compile")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--skip-run", action="store_true", help="compile times only")
    ap.add_argument("--min", action="store_true", help="the minimum compile time of the repeats, not the median")
    args = ap.parse_args(argv)
    try:
        from tinyvm.jit.native import require

        require()
    except Exception as e:  # noqa: BLE001 - the extra is missing: say so
        print(f"native tier unavailable: {e}")
        return 0
    from tinyvm.jit.native.engine import PIPELINE_TEXT

    load = os.getloadavg()
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} cpus")
    for passes, label in ((None, PIPELINE_TEXT), ("O2", "LLVM O2 (v0)")):
        from tinyvm.jit.native.engine import PIPELINE

        got = phases(args.repeat, PIPELINE if passes is None else passes, min if args.min else statistics.median)
        print(f"\n## compile time, ms ({'min' if args.min else 'median'} of {args.repeat}); LLVM passes: {label}")
        print("| function | " + " | ".join(PHASES) + " | total |")
        print("|---" * (len(PHASES) + 2) + "|")
        for name in NAMES:
            r = got[name]
            print(f"| {name} | " + " | ".join(f"{r[k]:.2f}" for k in PHASES) + f" | {r['total']:.2f} |")
        if not args.skip_run:
            sp = speed(max(3, args.repeat // 2), PIPELINE if passes is None else passes)
            print("speed of the code, ms (best): " + ", ".join(f"{k} {v:.1f}" for k, v in sp.items()))
    if args.skip_run:
        return 0
    print("\n## disk cache: three processes, one new cache folder (tvm run --jit=native-eager --jit-log)")
    print("| run | functions | compile ms (log sum) | process wall ms |")
    print("|---|---|---|---|")
    for label, ms, wall, n in cache_runs():
        print(f"| {label} | {n} | {ms:.1f} | {wall:.0f} |")
    for src, what in ((HOT, "a hot Mandelbrot loop (400 calls)"), (MIXED, "400 Mandelbrot calls between interpreted array work")):
        print(f"\n## background compilation: {what}, wall ms, best of {args.repeat}, cache off")
        print("| mode | wall ms | result |")
        print("|---|---|---|")
        for label, (ms, result) in background(args.repeat, src).items():
            print(f"| {label} | {ms:.1f} | {result} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
