"""Benchmark harness: ``python -m benchmarks [--filter NAME] [--repeat N] [--quick] [--json FILE]``.

For every ``benchmarks/programs/NAME.tl`` that has a ``NAME.py`` beside it, runs the
TinyLang program in-process through ``tinyvm.cli.main.main(["run", path])`` and the
Python program in-process through ``runpy.run_path``, both timed with the same
wall clock (``time.perf_counter``) around the whole call, so both sides include
compiling their source. Each side is run N times and the best time is reported.
The two programs print the same result; the harness compares their stdout and
flags a mismatch.

Typed twins: a ``NAME_typed.tl`` beside ``NAME.tl`` is the same program with
type annotations (the untyped ``NAME.tl`` has none). It is its own row, checked
against the same ``NAME.py``, and its TinyVM runs alternate with those of
``NAME.tl`` (so that a change of machine load hits both alike); after the table,
a second section gives the typed/untyped time ratio of each pair.

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
# A typed twin NAME_typed.tl is listed right after NAME.
ORDER = ["fib", "loop", "float", "oop", "strings", "closures", "sieve"]
TYPED = "_typed"  # NAME_typed.tl: the annotated twin of NAME.tl, checked against NAME.py

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
    # Typed twins only: the untyped program's name and typed / untyped TinyVM time.
    untyped: Optional[str] = None
    typed_ratio: Optional[float] = None

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


class TvmTimer:
    """Best-of-N TinyVM timing of one program into a Result, one run at a time
    (so that the runs of a typed twin can alternate with the untyped program's)."""

    def __init__(self, main: Optional[MainFn], path: Path, res: Result) -> None:
        self.main, self.path, self.res = main, path, res
        self.best = math.inf
        self.output = ""
        self.failed = False
        if main is None:
            self.fail("tinyvm not importable (see note above)")

    def fail(self, note: str = "") -> None:
        self.failed = True
        self.res.status = "failed"
        if note:
            self.res.note = note

    def run_once(self) -> None:
        if self.failed:
            return
        assert self.main is not None
        res = self.res
        try:
            elapsed, code, output, errtext = call_tvm(self.main, self.path)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 -- a VM bug must not stop the run
            self.fail()
            res.errors.append(f"tinyvm raised {type(exc).__name__}:")
            res.errors.extend("  " + line for line in short_error(exc))
            return
        if code != 0:
            self.fail()
            res.errors.append(f"tinyvm exited with status {code}")
            res.errors.extend("  " + line for line in first_lines(errtext))
            return
        if errtext and not res.note:
            res.note = "tinyvm wrote to stderr"
            res.errors.extend("  " + line for line in first_lines(errtext, 3))
        self.best = min(self.best, elapsed)
        self.output = output

    def finish(self) -> Optional[str]:
        """Record the best time; returns the program's stdout, or None on failure."""
        if self.failed:
            return None
        self.res.tinyvm_s = self.best
        return self.output


def tvm_best(main: Optional[MainFn], load_error: str, path: Path, repeat: int, res: Result) -> Optional[str]:
    """Time TinyVM on PATH (best of REPEAT) into RES; returns its stdout, or None on failure."""
    timer = TvmTimer(main, path, res)
    for _ in range(repeat):
        timer.run_once()
    return timer.finish()


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


def untyped_name(name: str) -> Optional[str]:
    """NAME for a typed twin NAME_typed (when NAME.tl exists), else None."""
    if name.endswith(TYPED) and (PROGRAMS / f"{name[: -len(TYPED)]}.tl").is_file():
        return name[: -len(TYPED)]
    return None


def py_twin(name: str) -> Path:
    """The CPython program for NAME: NAME.py, or for a typed twin its untyped program's."""
    own = PROGRAMS / f"{name}.py"
    base = untyped_name(name)
    return PROGRAMS / f"{base}.py" if base is not None and not own.is_file() else own


def tl_programs() -> list[str]:
    """Every NAME.tl with a CPython twin, in display order (typed twins right after NAME)."""
    names = {p.stem for p in PROGRAMS.glob("*.tl") if py_twin(p.stem).is_file()}
    bases = {n for n in names if untyped_name(n) not in names}
    ordered = [n for n in ORDER if n in bases] + sorted(bases - set(ORDER))
    out: list[str] = []
    for n in ordered:
        out.append(n)
        if n + TYPED in names:
            out.append(n + TYPED)
    return out


def selected(label: str, filters: Optional[list[str]]) -> bool:
    if not filters:
        return True
    return any(f.lower() in label.lower() for f in filters)


def compare(res: Result, tvm_out: Optional[str], py_out: Optional[str]) -> None:
    if tvm_out is not None and py_out is not None:
        if normalize(tvm_out) == normalize(py_out):
            res.check = "ok"
        else:
            res.check = "MISMATCH"
            res.errors.append(first_difference(tvm_out, py_out))
    if res.tinyvm_s is not None and res.cpython_s:
        res.ratio = res.tinyvm_s / res.cpython_s


def run_tl(name: str, main: Optional[MainFn], load_error: str, repeat: int) -> Result:
    res = Result("tl", name, untyped=untyped_name(name))
    py_out = py_best(py_twin(name), repeat, res)
    tvm_out = tvm_best(main, load_error, PROGRAMS / f"{name}.tl", repeat, res)
    compare(res, tvm_out, py_out)
    return res


def run_pair(name: str, main: Optional[MainFn], repeat: int) -> tuple[Result, Result]:
    """NAME.tl and NAME_typed.tl against NAME.py: the CPython program runs once
    (best of REPEAT) for both rows, and the two TinyVM programs run in turns,
    alternating which goes first, so that load changes affect both alike."""
    res = Result("tl", name)
    typed = Result("tl", name + TYPED, untyped=name)
    py_out = py_best(py_twin(name), repeat, res)
    typed.cpython_s = res.cpython_s
    if py_out is None:
        typed.status = "failed"
        typed.errors = list(res.errors)
    timers = [TvmTimer(main, PROGRAMS / f"{name}.tl", res), TvmTimer(main, PROGRAMS / f"{name}{TYPED}.tl", typed)]
    for i in range(repeat):
        for t in timers if i % 2 == 0 else timers[::-1]:
            t.run_once()
    compare(res, timers[0].finish(), py_out)
    compare(typed, timers[1].finish(), py_out)
    if res.tinyvm_s and typed.tinyvm_s is not None and pair_ok(res, typed):
        typed.typed_ratio = typed.tinyvm_s / res.tinyvm_s
    return res, typed


def pair_ok(untyped: Result, typed: Result) -> bool:
    return all(r.status == "ok" and r.check == "ok" for r in (untyped, typed))


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


def fmt_typed(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.2f}x"


def verdict(v: float) -> str:
    """Reading of a typed/untyped ratio (as printed, to 2 decimals); within 5%
    is taken as noise."""
    v = round(v, 2)
    if v > 1.05:
        return "typed slower"
    if v < 0.95:
        return "typed faster"
    return "same"


TYPED_HEADER = f"{'pair':<20} {'untyped s':>10} {'typed s':>10} {'typed/untyped':>14}  note"


def print_typed_section(results: list[Result]) -> list[float]:
    """The typed/untyped table (pairs whose two rows both ran); returns the ratios."""
    by_name = {r.name: r for r in results if r.group == "tl"}
    pairs = [(by_name[r.untyped], r) for r in results if r.untyped in by_name]
    if not pairs:
        return []
    print()
    print("typed twins: TinyVM time of NAME_typed.tl / NAME.tl (below 1 = typed is faster)")
    print(TYPED_HEADER)
    print("-" * len(TYPED_HEADER))
    ratios = []
    for untyped, typed in pairs:
        if typed.typed_ratio is not None:
            ratios.append(typed.typed_ratio)
            note = verdict(typed.typed_ratio)
        else:
            note = "not compared: a row failed or mismatched"
        print(
            f"{untyped.name:<20} {fmt_s(untyped.tinyvm_s):>10} {fmt_s(typed.tinyvm_s):>10} "
            f"{fmt_typed(typed.typed_ratio):>14}  {note}".rstrip()
        )
    print("-" * len(TYPED_HEADER))
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        print(f"geometric mean typed/untyped over {len(ratios)} pair(s): {geo:.2f}x")
    return ratios


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
        if untyped_name(name) in names:
            continue  # ran with its untyped program
        if name + TYPED in names:
            for res in run_pair(name, main_fn, repeat):
                results.append(res)
                print_row(res)
            continue
        res = run_tl(name, main_fn, load_error, repeat)
        results.append(res)
        print_row(res)
    for res in lox_results(main_fn, load_error, args, repeat):
        results.append(res)
        print_row(res)

    def checked(rows: list[Result]) -> list[float]:
        return [r.ratio for r in rows if r.ratio and r.status == "ok" and r.check == "ok"]

    # The main mean leaves the typed twins out, so that it stays comparable
    # with runs made before they existed; they get a line of their own.
    ratios = checked([r for r in results if r.untyped is None])
    typed_ratios = checked([r for r in results if r.untyped is not None])
    failed = [r.label for r in results if r.status == "failed"]
    mismatched = [r.label for r in results if r.check == "MISMATCH"]
    print("-" * len(HEADER))
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        print(f"geometric mean ratio over {len(ratios)} checked benchmark(s): {geo:.1f}x")
    if typed_ratios:
        geo = math.exp(sum(math.log(r) for r in typed_ratios) / len(typed_ratios))
        print(f"geometric mean ratio over {len(typed_ratios)} checked typed twin(s): {geo:.1f}x")
    print_typed_section(results)
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
            "typed_pairs": [
                {
                    "name": r.untyped,
                    "typed": r.name,
                    "untyped_s": next(u.tinyvm_s for u in results if u.group == "tl" and u.name == r.untyped),
                    "typed_s": r.tinyvm_s,
                    "typed_ratio": r.typed_ratio,
                }
                for r in results
                if r.untyped is not None and any(u.group == "tl" and u.name == r.untyped for u in results)
            ],
        }
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")

    return 1 if failed or mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
