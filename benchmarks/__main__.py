"""Benchmark harness: ``python -m benchmarks [--filter NAME] [--repeat N] [--quick] [--json FILE] [--concurrency]``.

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
otherwise they are listed as skipped with the reason. A program that clox itself
cannot compile (``string_equality.lox`` has more than 256 constants in its
script: craftinginterpreters issue #1093) is listed with the compile error TinyVM
reports, as clox does, and timed once more wrapped in a function (the fix of the
book's pull request #1101), on a row of its own.

Last, the concurrency group (concurrency.py): fibers, channels and a TCP echo
server against CPython's asyncio doing the same work, plus the accounted heap
of an idle fiber. ``--concurrency`` runs only that group, ``--no-concurrency``
leaves it out.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Iterator, Optional

from . import concurrency
from .runner import (
    PROGRAMS,
    REPO,
    MainFn,
    Result,
    TvmTimer,
    call_tvm,
    compare,
    load_tinyvm,
    py_best,
    selected,
    tvm_best,
)

LOX_DIR = REPO.parent / "shared" / "lox-tests" / "benchmark"

# Display order; any other NAME.tl with a NAME.py twin is appended alphabetically.
# A typed twin NAME_typed.tl is listed right after NAME.
ORDER = ["fib", "loop", "float", "oop", "strings", "closures", "sieve"]
TYPED = "_typed"  # NAME_typed.tl: the annotated twin of NAME.tl, checked against NAME.py


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
    """True when ``tvm run x.lox`` runs Lox."""
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
            if res.status == "failed" and any("exited with status 65" in e for e in res.errors):
                # A compile error: clox rejects the program too (its limits).
                first = next((e.strip() for e in res.errors if e.strip().startswith("[line")), "")
                res.status, res.note, res.errors = "skipped", f"does not compile, as in clox: {first}", []
                yield res
                yield _lox_wrapped(main, load_error, path, repeat)
                continue
        yield res


def _lox_wrapped(main: Optional[MainFn], load_error: str, path: Path, repeat: int) -> Result:
    """The program as the body of a function (its globals become locals, which
    need no constants), called once: craftinginterpreters PR #1101."""
    res = Result("lox", f"{path.stem}[fun]", check="n/a", note="the program wrapped in a function")
    with tempfile.TemporaryDirectory() as tmp:
        wrapped = Path(tmp) / path.name
        wrapped.write_text("fun main() {\n" + path.read_text(encoding="utf-8") + "\n}\nmain();\n", encoding="utf-8")
        tvm_best(main, load_error, wrapped, repeat, res)
    return res


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
    ap.add_argument("--churn-seconds", type=float, default=None, metavar="S",
                    help=f"how long conc/churn's clients reconnect (default {concurrency.CHURN_SECONDS:g}, "
                         f"{concurrency.CHURN_QUICK:g} with --quick)")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--concurrency", action="store_true",
                       help="run only the concurrency group (fibers and channels vs asyncio)")
    group.add_argument("--no-concurrency", action="store_true",
                       help="leave the concurrency group out")
    args = ap.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        ap.error("--repeat must be at least 1")
    if args.churn_seconds is not None and not args.churn_seconds > 0:
        ap.error("--churn-seconds must be positive")
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    repeat = 1 if args.quick else (args.repeat or 3)
    main_group = not args.concurrency
    names = [n for n in tl_programs() if selected(n, args.filter)] if main_group else []
    lox_files = (
        [p for p in sorted(LOX_DIR.glob("*.lox")) if selected(f"lox/{p.stem}", args.filter)]
        if main_group and LOX_DIR.is_dir() else []
    )
    conc_names = [] if args.no_concurrency else concurrency.wanted(args.filter)

    if args.list:
        for n in names:
            print(n)
        for p in lox_files:
            print(f"lox/{p.stem}")
        for n in conc_names:
            print(f"{concurrency.GROUP}/{n}")
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
    if names or lox_files:
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
    if lox_files:
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
    if names or lox_files:
        print("-" * len(HEADER))
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        print(f"geometric mean ratio over {len(ratios)} checked benchmark(s): {geo:.1f}x")
    if typed_ratios:
        geo = math.exp(sum(math.log(r) for r in typed_ratios) / len(typed_ratios))
        print(f"geometric mean ratio over {len(typed_ratios)} checked typed twin(s): {geo:.1f}x")
    print_typed_section(results)
    churn_s = args.churn_seconds or (concurrency.CHURN_QUICK if args.quick else concurrency.CHURN_SECONDS)
    conc_results = concurrency.run_group(main_fn, repeat, args.filter, churn_s) if conc_names else []
    failed += [r.label for r in conc_results if r.status == "failed"]
    mismatched += [r.label for r in conc_results if r.check == "MISMATCH"]
    over = [r.label for r in conc_results if r.check == "OVER"]
    grows = [r.label for r in conc_results if r.check in ("GROWS", "LEAK")]
    if failed:
        print(f"failed: {', '.join(failed)}")
    if mismatched:
        print(f"output mismatch: {', '.join(mismatched)}")
    if over:
        print(f"over the heap limit per idle fiber ({concurrency.HEAP_LIMIT} B): {', '.join(over)}")
    if grows:
        print(f"memory not freed (RSS grew, or finished connections kept): {', '.join(grows)}")

    if args.json:
        payload = {
            "python": platform.python_version(),
            "repeat": repeat,
            "results": [
                asdict(r) | {"label": r.label} for r in results
            ],
            "concurrency": [
                asdict(r) | {"label": r.label} for r in conc_results
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

    return 1 if failed or mismatched or over or grows else 0


if __name__ == "__main__":
    sys.exit(main())
