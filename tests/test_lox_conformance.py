"""Lox conformance: one pytest test per `.lox` file, with the rules of the book's
official test runner (the contract: ../shared/spec/lox.md).

Two sets of files:

* `../shared/lox-tests/` (relative to the repository root): a sample of the
  official suite of *Crafting Interpreters*, test data that stays outside the
  project; its `benchmark/` folder holds timing programs, not tests. The whole
  set is skipped, with the reason, when the folder is absent.
* `tests/lox/<feature>/*.lox`: the project's own tests in the same format,
  for what the sample does not cover (tests/lox/README.md).

Each file states its expectations in comments:

    // expect: TEXT                  the next stdout line is TEXT
    // expect runtime error: MSG     stderr line 1 is MSG; the first later stderr
                                     line containing `[line N]` has N = this
                                     comment's line; exit status 70
    // Error at 'x': MSG             a compile error `[line L] Error at 'x': MSG`,
                                     L = this comment's line
    // [line N] Error...             a compile error on line N
    // [c line N] Error...           the same (clox's; `[java line N]` ones are
                                     for jlox and ignored)

With compile errors expected, the exit status is 65 and every stderr line
must be one of them (and each must appear); otherwise stderr must be empty
(except after a runtime error) and the exit status 0. stdout must be exactly
the expected lines.

Programs run in-process through `tinyvm.cli.main.main(["run", FILE])`; with
TVM_GC_STRESS=1 the run adds `--gc-stress` (the collector then runs at every
allocation, so a value no root reaches shows up as a failure).
"""

from __future__ import annotations

import io
import os
import re
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = ROOT.parent / "shared" / "lox-tests"
OWN_DIR = Path(__file__).resolve().parent / "lox"

try:  # pragma: no cover - depends on the environment
    import tinyvm  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(ROOT / "src"))

# The official runner's patterns (craftinginterpreters/tool/bin/test.dart).
_EXPECTED_OUTPUT = re.compile(r"// expect: ?(.*)")
_EXPECTED_ERROR = re.compile(r"// (Error.*)")
_ERROR_LINE = re.compile(r"// \[((java|c) )?line (\d+)\] (Error.*)")
_EXPECTED_RUNTIME_ERROR = re.compile(r"// expect runtime error: (.+)")
_SYNTAX_ERROR = re.compile(r"\[.*line (\d+)\] (Error.+)")
_STACK_TRACE = re.compile(r"\[line (\d+)\]")

EXIT_COMPILE, EXIT_RUNTIME = 65, 70


@dataclass
class Expectations:
    output: list[str] = field(default_factory=list)
    errors: set[str] = field(default_factory=set)  # "[line N] Error..."
    runtime_error: str | None = None
    runtime_line: int = 0
    exit_status: int = 0


def parse_expectations(source: str) -> Expectations:
    exp = Expectations()
    for lineno, line in enumerate(source.split("\n"), start=1):
        if m := _EXPECTED_OUTPUT.search(line):
            exp.output.append(m.group(1))
            continue
        if m := _ERROR_LINE.search(line):
            if m.group(2) != "java":
                exp.errors.add(f"[line {m.group(3)}] {m.group(4)}")
                exp.exit_status = EXIT_COMPILE
            continue
        if m := _EXPECTED_ERROR.search(line):
            exp.errors.add(f"[line {lineno}] {m.group(1)}")
            exp.exit_status = EXIT_COMPILE
            continue
        if m := _EXPECTED_RUNTIME_ERROR.search(line):
            exp.runtime_error = m.group(1)
            exp.runtime_line = lineno
            exp.exit_status = EXIT_RUNTIME
    return exp


def check(exp: Expectations, status: int, stdout: str, stderr: str) -> list[str]:
    """Every way a run falls short of `exp` (empty: the test passed)."""
    failures: list[str] = []
    err_lines = _lines(stderr)
    if exp.runtime_error is not None:
        if len(err_lines) < 2:
            failures.append(f"expected runtime error {exp.runtime_error!r} and a stack trace, got {err_lines}")
        else:
            if err_lines[0] != exp.runtime_error:
                failures.append(f"expected runtime error {exp.runtime_error!r}, got {err_lines[0]!r}")
            match = next((m for m in map(_STACK_TRACE.search, err_lines[1:]) if m), None)
            if match is None:
                failures.append(f"expected a stack trace, got {err_lines[1:]}")
            elif int(match.group(1)) != exp.runtime_line:
                failures.append(f"expected the runtime error on line {exp.runtime_line}, got line {match.group(1)}")
    elif exp.errors:
        found = set()
        for line in err_lines:
            m = _SYNTAX_ERROR.search(line)
            if m:
                error = f"[line {m.group(1)}] {m.group(2)}"
                if error in exp.errors:
                    found.add(error)
                else:
                    failures.append(f"unexpected error: {line}")
            elif line != "":
                failures.append(f"unexpected output on stderr: {line}")
        for error in sorted(exp.errors - found):
            failures.append(f"missing expected error: {error}")
    elif err_lines:
        failures.append("unexpected output on stderr:\n" + "\n".join(err_lines))
    if status != exp.exit_status:
        failures.append(f"expected exit status {exp.exit_status}, got {status}")
    out_lines = _lines(stdout)
    for i, line in enumerate(out_lines):
        if i >= len(exp.output):
            failures.append(f"got output {line!r} when none was expected (line {i + 1})")
            break
        if line != exp.output[i]:
            failures.append(f"expected output {exp.output[i]!r} on line {i + 1}, got {line!r}")
            break
    else:
        if len(out_lines) < len(exp.output):
            failures.append(f"missing expected output {exp.output[len(out_lines)]!r} (line {len(out_lines) + 1})")
    return failures


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


# --------------------------------------------------------------------------- collection


def collect(folder: Path, skip_benchmarks: bool) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*.lox")
        if p.is_file() and not (skip_benchmarks and p.relative_to(folder).parts[0] == "benchmark")
    )


SHARED = collect(SHARED_DIR, skip_benchmarks=True)
OWN = collect(OWN_DIR, skip_benchmarks=False)


# --------------------------------------------------------------------------- running


class ProgramTimeout(BaseException):
    pass


def _time_limit() -> float:
    raw = os.environ.get("TVM_LANG_TIMEOUT")
    if raw:
        return float(raw)
    return 600.0 if os.environ.get("TVM_GC_STRESS") == "1" else 120.0


def run_lox(path: Path) -> tuple[int, str, str]:
    from tinyvm.cli.main import main

    argv = ["run"]
    if os.environ.get("TVM_GC_STRESS") == "1":
        argv.append("--gc-stress")
    argv.append(str(path))
    out, err = io.StringIO(), io.StringIO()
    seconds = _time_limit()
    armed = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if armed:

        def on_alarm(signum, frame):
            raise ProgramTimeout(f"still running after {seconds:g}s")

        old = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        status = main(argv, stdin=io.StringIO(""), stdout=out, stderr=err)
    except ProgramTimeout as e:
        pytest.fail(f"{e}\n--- stdout ---\n{out.getvalue()}--- stderr ---\n{err.getvalue()}", pytrace=False)
    finally:
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    return status, out.getvalue(), err.getvalue()


def _run_test(path: Path) -> None:
    exp = parse_expectations(path.read_text(encoding="utf-8"))
    status, stdout, stderr = run_lox(path)
    failures = check(exp, status, stdout, stderr)
    if failures:
        pytest.fail(
            f"{path}:\n" + "\n".join(failures) + f"\n--- stdout ---\n{stdout}--- stderr ---\n{stderr}",
            pytrace=False,
        )


@pytest.mark.skipif(not SHARED_DIR.is_dir(), reason=f"{SHARED_DIR} is absent (the book's Lox tests live outside the project)")
@pytest.mark.parametrize("path", SHARED, ids=[str(p.relative_to(SHARED_DIR)) for p in SHARED])
def test_shared_lox(path: Path) -> None:
    _run_test(path)


@pytest.mark.parametrize("path", OWN, ids=[str(p.relative_to(OWN_DIR)) for p in OWN])
def test_own_lox(path: Path) -> None:
    _run_test(path)


def test_own_suite_is_collected() -> None:
    """Guard against a misplaced folder silently emptying the project's Lox tests."""
    assert len(OWN) >= 50, f"only {len(OWN)} .lox files found under {OWN_DIR}"


def test_runner_rules() -> None:
    """The runner itself: markers as the official runner reads them."""
    exp = parse_expectations(
        "print 1; // expect: 1\n"
        "x; // Error at 'x': Oops.\n"
        "// [line 7] Error: Bad.\n"
        "// [java line 9] Error at 'y': Ignored.\n"
        "// [c line 8] Error at end: Sure.\n"
    )
    assert exp.output == ["1"]
    assert exp.errors == {"[line 2] Error at 'x': Oops.", "[line 7] Error: Bad.", "[line 8] Error at end: Sure."}
    assert exp.exit_status == EXIT_COMPILE
    assert check(exp, 65, "1\n", "[line 2] Error at 'x': Oops.\n[line 7] Error: Bad.\n[line 8] Error at end: Sure.\n") == []
    assert check(exp, 65, "1\n", "[line 2] Error at 'x': Oops.\n[line 8] Error at end: Sure.\n")  # one missing
    assert check(exp, 65, "1\n", "[line 2] Error at 'x': Oops.\n[line 7] Error: Bad.\n[line 8] Error at end: Sure.\nnoise\n")
    rt = parse_expectations("a;\nb; // expect runtime error: Boom.\n")
    assert (rt.runtime_error, rt.runtime_line, rt.exit_status) == ("Boom.", 2, EXIT_RUNTIME)
    assert check(rt, 70, "", "Boom.\n[line 2] in script\n") == []
    assert check(rt, 70, "", "Boom.\n[line 1] in script\n")  # wrong line
    assert check(rt, 1, "", "Boom.\n[line 2] in script\n")  # wrong status
    ok = parse_expectations("print 1; // expect: 1\n")
    assert check(ok, 0, "1\n", "") == []
    assert check(ok, 0, "1\n2\n", "")  # extra output
    assert check(ok, 0, "1\n", "warning\n")  # stray stderr
