"""Benchmark harness: ``python -m benchmarks [--filter NAME] [--repeat N] [--quick] [--json FILE]``.

For every ``benchmarks/programs/NAME.tl`` that has a ``NAME.py`` beside it, runs the
TinyLang program in-process through ``tinyvm.cli.main.main(["run", path])`` and the
Python program in-process through ``runpy.run_path``, both timed with the same
wall clock (``time.perf_counter``) around the whole call, so both sides include
compiling their source. Each side is run N times and the best time is reported.
The two programs print the same result; the harness compares their stdout and
flags a mismatch.

A TinyVM failure (exception, non-zero exit, import error) marks that row as failed,
prints the error under it, and the run goes on with the next benchmark.

If ``../shared/lox-tests/benchmark/`` exists, its Lox programs are listed as a
"lox" group. They run (TinyVM only, no CPython twin, output not checked since they
print their own timings) when ``--lox`` is given and the Lox front end is present;
otherwise they are listed as skipped with the reason.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import math
import platform
import runpy
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PROGRAMS = HERE / "programs"
LOX_DIR = REPO.parent / "shared" / "lox-tests" / "benchmark"

# Display order; any other NAME.tl with a NAME.py twin is appended alphabetically.
ORDER = ["fib", "loop", "float", "oop", "strings", "closures", "sieve"]

MainFn = Callable[..., Optional[int]]


@dataclass
class Result:
    group: str  # "tl" or "lox"
    name: str
    status: str = "ok"  # "ok" | "failed" | "skipped"
    tinyvm_s: Optional[float] = None
    cpython_s: Optional[float] = None
    ratio: Optional[float] = None
    check: str = "-"  # "ok" | "MISMATCH" | "-" (not compared) | "n/a"
    note: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name if self.group == "tl" else f"{self.group}/{self.name}"


# --------------------------------------------------------------------------- runners


def load_tinyvm() -> tuple[Optional[MainFn], str]:
    """Import ``tinyvm.cli.main.main`` from this checkout (untimed warm-up import)."""
    src = REPO / "src"
    if src.is_dir() and str(src) not in sys.path:
        sys.path.insert(0, str(src))
    try:
        from tinyvm.cli.main import main
    except BaseException as exc:  # noqa: BLE001 -- report anything, keep going
        if isinstance(exc, KeyboardInterrupt):
            raise
        return None, f"cannot import tinyvm.cli.main: {type(exc).__name__}: {exc}"
    return main, ""


def call_tvm(main: MainFn, path: Path) -> tuple[float, int, str, str]:
    """Run ``tvm run PATH`` in-process; returns (seconds, exit code, stdout, stderr).

    Raises whatever the VM raises (other than SystemExit, which becomes the code).
    Anything the VM writes to sys.stdout/sys.stderr directly (instead of the
    streams it is given) is appended to stderr so it cannot garble the table.
    """
    out, err, stray = io.StringIO(), io.StringIO(), io.StringIO()
    gc.collect()
    with contextlib.redirect_stdout(stray), contextlib.redirect_stderr(stray):
        t0 = time.perf_counter()
        try:
            code = main(["run", str(path)], stdout=out, stderr=err)
        except SystemExit as exc:
            code = exc.code
        elapsed = time.perf_counter() - t0
    if code is None:
        code = 0
    elif not isinstance(code, int):
        code = 1
    errtext = err.getvalue()
    if stray.getvalue():
        errtext += "[written to sys.stdout/sys.stderr directly]\n" + stray.getvalue()
    return elapsed, code, out.getvalue(), errtext


def call_py(path: Path) -> tuple[float, str]:
    """Run a Python program in-process; returns (seconds, stdout)."""
    out = io.StringIO()
    gc.collect()
    with contextlib.redirect_stdout(out):
        t0 = time.perf_counter()
        runpy.run_path(str(path), run_name="__main__")
        elapsed = time.perf_counter() - t0
    return elapsed, out.getvalue()


def short_error(exc: BaseException) -> list[str]:
    """The last few lines of a traceback: enough to see where the VM broke."""
    lines = traceback.format_exception(exc)
    text = "".join(lines[-3:]).rstrip()
    return [ln for ln in text.splitlines() if ln.strip(" ^~")]


def first_lines(text: str, n: int = 8) -> list[str]:
    lines = text.rstrip().splitlines()
    if len(lines) > n:
        lines = lines[:n] + [f"... ({len(lines) - n} more lines)"]
    return lines


def tvm_best(main: Optional[MainFn], load_error: str, path: Path, repeat: int, res: Result) -> Optional[str]:
    """Time TinyVM on PATH (best of REPEAT) into RES; returns its stdout, or None on failure."""
    if main is None:
        res.status = "failed"
        res.note = "tinyvm not importable (see note above)"
        return None
    best = math.inf
    output = ""
    for _ in range(repeat):
        try:
            elapsed, code, output, errtext = call_tvm(main, path)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 -- a VM bug must not stop the run
            res.status = "failed"
            res.errors.append(f"tinyvm raised {type(exc).__name__}:")
            res.errors.extend("  " + line for line in short_error(exc))
            return None
        if code != 0:
            res.status = "failed"
            res.errors.append(f"tinyvm exited with status {code}")
            res.errors.extend("  " + line for line in first_lines(errtext))
            return None
        if errtext:
            res.note = "tinyvm wrote to stderr"
            res.errors.extend("  " + line for line in first_lines(errtext, 3))
        best = min(best, elapsed)
    res.tinyvm_s = best
    return output


def py_best(path: Path, repeat: int, res: Result) -> Optional[str]:
    best = math.inf
    output = ""
    for _ in range(repeat):
        try:
            elapsed, output = call_py(path)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001
            res.status = "failed"
            res.errors.append(f"cpython program raised {type(exc).__name__}:")
            res.errors.extend("  " + line for line in short_error(exc))
            return None
        best = min(best, elapsed)
    res.cpython_s = best
    return output


def normalize(text: str) -> str:
    return text.replace("\r\n", "\n").rstrip("\n")


def first_difference(a: str, b: str) -> str:
    la, lb = normalize(a).split("\n"), normalize(b).split("\n")
    for i in range(max(len(la), len(lb))):
        x = la[i] if i < len(la) else "<missing>"
        y = lb[i] if i < len(lb) else "<missing>"
        if x != y:
            return f"line {i + 1}: tinyvm {x!r} vs cpython {y!r}"
    return "outputs differ"


# --------------------------------------------------------------------------- benchmarks


def tl_programs() -> list[str]:
    names = {p.stem for p in PROGRAMS.glob("*.tl") if (PROGRAMS / f"{p.stem}.py").is_file()}
    ordered = [n for n in ORDER if n in names]
    return ordered + sorted(names - set(ordered))


def selected(label: str, filters: Optional[list[str]]) -> bool:
    if not filters:
        return True
    return any(f.lower() in label.lower() for f in filters)


def run_tl(name: str, main: Optional[MainFn], load_error: str, repeat: int) -> Result:
    res = Result("tl", name)
    py_out = py_best(PROGRAMS / f"{name}.py", repeat, res)
    tvm_out = tvm_best(main, load_error, PROGRAMS / f"{name}.tl", repeat, res)
    if tvm_out is not None and py_out is not None:
        if normalize(tvm_out) == normalize(py_out):
            res.check = "ok"
        else:
            res.check = "MISMATCH"
            res.errors.append(first_difference(tvm_out, py_out))
    if res.tinyvm_s is not None and res.cpython_s:
        res.ratio = res.tinyvm_s / res.cpython_s
    return res


def probe_lox(main: Optional[MainFn]) -> bool:
    """True when ``tvm run x.lox`` runs Lox (a later issue adds the front end)."""
    if main is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.lox"
        probe.write_text("print 1 + 2;\n", encoding="utf-8")
        try:
            _, code, out, _ = call_tvm(main, probe)
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001
            return False
    return code == 0 and out.strip() == "3"


def lox_results(
    main: Optional[MainFn], load_error: str, args: argparse.Namespace, repeat: int
) -> Iterator[Result]:
    """Yield one row per Lox benchmark file (as each finishes)."""
    if not LOX_DIR.is_dir():
        return
    files = [p for p in sorted(LOX_DIR.glob("*.lox")) if selected(f"lox/{p.stem}", args.filter)]
    if not files:
        return
    available = probe_lox(main)
    for path in files:
        res = Result("lox", path.stem, check="n/a")
        if not available:
            res.status, res.note = "skipped", "lox front end not available"
        elif not args.lox:
            res.status, res.note = "skipped", "pass --lox to run (slow)"
        else:
            tvm_best(main, load_error, path, repeat, res)
        yield res


# --------------------------------------------------------------------------- output


def fmt_s(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.3f}"


def fmt_ratio(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.1f}x"


HEADER = f"{'benchmark':<20} {'tinyvm s':>10} {'cpython s':>10} {'ratio':>9}  {'check':<9} note"


def print_row(res: Result) -> None:
    note = res.note
    if res.status == "failed":
        note = ("FAILED " + note).strip()
    elif res.status == "skipped":
        note = ("skipped: " + note).strip()
    print(
        f"{res.label:<20} {fmt_s(res.tinyvm_s):>10} {fmt_s(res.cpython_s):>10} "
        f"{fmt_ratio(res.ratio):>9}  {res.check:<9} {note}".rstrip()
    )
    for line in res.errors:
        print(f"    {line}")
    sys.stdout.flush()


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time TinyLang programs on TinyVM against the same algorithms in CPython.",
    )
    ap.add_argument("--filter", action="append", metavar="NAME",
                    help="run only benchmarks whose name contains NAME (repeatable)")
    ap.add_argument("--repeat", type=int, default=None, metavar="N",
                    help="runs per side; the best time is reported (default 3)")
    ap.add_argument("--quick", action="store_true", help="one run per side (same as --repeat 1)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    ap.add_argument("--lox", action="store_true",
                    help="run the Lox benchmarks of ../shared/lox-tests/benchmark too (slow)")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = ap.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        ap.error("--repeat must be at least 1")
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    repeat = 1 if args.quick else (args.repeat or 3)
    names = [n for n in tl_programs() if selected(n, args.filter)]

    if args.list:
        for n in names:
            print(n)
        if LOX_DIR.is_dir():
            for p in sorted(LOX_DIR.glob("*.lox")):
                if selected(f"lox/{p.stem}", args.filter):
                    print(f"lox/{p.stem}")
        return 0

    # Untimed warm-up: import the VM, then run a trivial program once so that
    # lazily imported parts (compiler, interpreter) are loaded before any timing.
    main_fn, load_error = load_tinyvm()
    if main_fn is not None:
        with tempfile.TemporaryDirectory() as tmp:
            warm = Path(tmp) / "warmup.tl"
            warm.write_text("fn f(n) { return n + 1 }\nlet x = f(1)\n", encoding="utf-8")
            try:
                call_tvm(main_fn, warm)
            except KeyboardInterrupt:
                raise
            except BaseException:  # noqa: BLE001 -- real runs report the error
                pass

    print(f"TinyVM vs CPython {platform.python_version()} -- best of {repeat} run(s), "
          f"wall-clock seconds including compilation")
    if load_error:
        print(f"note: {load_error}")
    print(HEADER)
    print("-" * len(HEADER))

    results: list[Result] = []
    for name in names:
        res = run_tl(name, main_fn, load_error, repeat)
        results.append(res)
        print_row(res)
    for res in lox_results(main_fn, load_error, args, repeat):
        results.append(res)
        print_row(res)

    ratios = [r.ratio for r in results if r.ratio and r.status == "ok" and r.check == "ok"]
    failed = [r.label for r in results if r.status == "failed"]
    mismatched = [r.label for r in results if r.check == "MISMATCH"]
    print("-" * len(HEADER))
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        print(f"geometric mean ratio over {len(ratios)} checked benchmark(s): {geo:.1f}x")
    if failed:
        print(f"failed: {', '.join(failed)}")
    if mismatched:
        print(f"output mismatch: {', '.join(mismatched)}")

    if args.json:
        payload = {
            "python": platform.python_version(),
            "repeat": repeat,
            "results": [
                asdict(r) | {"label": r.label} for r in results
            ],
        }
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")

    return 1 if failed or mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
