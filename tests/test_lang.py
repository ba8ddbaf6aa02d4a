"""TinyLang conformance suite: one pytest test per `tests/lang/<section>/*.tl` file.

Each program states its expectations in comments (see tests/lang/README.md):

    // expect: TEXT                 next stdout line is TEXT
    // expect runtime error: TEXT   exit 1, first stderr line is `error: TEXT`
    // expect stderr: TEXT          some stderr line contains TEXT (in file order)
    // error: MESSAGE               (end of a line) compile error on that line
    // syntax error                 (end of a line) some diagnostic on that line
    // expect exit: N               expected exit status
    // stdin: TEXT                  one line of standard input

The program runs in-process through `tinyvm.cli.main.main(["run", NAME], ...)`,
with the working directory set to the file's folder so that every path in a
message is the file's basename. With TVM_GC_STRESS=1 the run adds `--gc-stress`; TVM_GC
(a collector mode) and TVM_GC_VERIFY=1 reach the CLI through the environment.
"""

from __future__ import annotations

import difflib
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
LANG_DIR = Path(__file__).resolve().parent / "lang"

# Let the suite run from a plain checkout too (the package is normally installed).
try:  # pragma: no cover - depends on the environment
    import tinyvm  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(ROOT / "src"))


# --------------------------------------------------------------------------- expectations

_EXPECT = re.compile(r"// expect:(?: (.*))?$")
_RUNTIME = re.compile(r"// expect runtime error: (.*?)\s*$")
_STDERR = re.compile(r"// expect stderr: (.*?)\s*$")
_EXIT = re.compile(r"// expect exit: (-?\d+)\s*$")
_STDIN = re.compile(r"// stdin:(?: (.*))?$")
_COMPILE = re.compile(r"//\s*error: (.*?)\s*$")
_SYNTAX = re.compile(r"//\s*syntax error\s*$")
# Anything that looks like a marker but matches none of the forms above is a typo.
_MARKERISH = re.compile(r"//\s*(expect\b|stdin:|error:|syntax error)")

# `NAME.tl:LINE:COL: error: MESSAGE` (the source line and caret that follow are ignored).
_DIAG = re.compile(r"^(?P<path>\S+?):(?P<line>\d+):(?P<col>\d+): error: (?P<msg>.*?)\s*$")


@dataclass
class Expectations:
    stdout: list[str] = field(default_factory=list)
    runtime_error: str | None = None
    stderr_contains: list[str] = field(default_factory=list)
    compile_errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)
    syntax_errors: list[int] = field(default_factory=list)  # lines
    exit_status: int | None = None
    stdin: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # malformed markers

    @property
    def expects_compile_error(self) -> bool:
        return bool(self.compile_errors or self.syntax_errors)

    @property
    def status(self) -> int:
        if self.exit_status is not None:
            return self.exit_status
        if self.expects_compile_error:
            return 2
        if self.runtime_error is not None:
            return 1
        return 0

    @property
    def stderr_may_be_nonempty(self) -> bool:
        return bool(
            self.runtime_error is not None
            or self.stderr_contains
            or self.expects_compile_error
            or self.status != 0
        )


def parse_expectations(source: str) -> Expectations:
    exp = Expectations()
    for lineno, line in enumerate(source.split("\n"), start=1):
        line = line.rstrip("\r")
        if m := _EXPECT.search(line):
            exp.stdout.append(m.group(1) or "")
        elif m := _RUNTIME.search(line):
            if exp.runtime_error is not None:
                exp.problems.append(f"line {lineno}: a second '// expect runtime error:'")
            exp.runtime_error = m.group(1)
        elif m := _STDERR.search(line):
            exp.stderr_contains.append(m.group(1))
        elif m := _EXIT.search(line):
            exp.exit_status = int(m.group(1))
        elif m := _STDIN.search(line):
            exp.stdin.append(m.group(1) or "")
        elif m := _SYNTAX.search(line):
            exp.syntax_errors.append(lineno)
        elif m := _COMPILE.search(line):
            exp.compile_errors.append((lineno, m.group(1)))
        elif _MARKERISH.search(line):
            exp.problems.append(f"line {lineno}: malformed expectation marker: {line.strip()!r}")
    if exp.expects_compile_error and exp.runtime_error is not None:
        exp.problems.append("a file cannot expect both a compile error and a runtime error")
    return exp


# --------------------------------------------------------------------------- collection


# Sections with one folder per feature (`13_v1_1/narrowing/*.tl`): the files
# directly inside each feature folder are tests too.
FEATURE_SECTIONS = frozenset({"13_v1_1"})


def _tests_in(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.glob("*.tl")) if p.is_file() and not p.name.startswith("_")]


def collect_programs() -> list[Path]:
    """Files directly inside each section folder (and each feature folder of a
    FEATURE_SECTIONS section); names starting with `_` are helpers."""
    if not LANG_DIR.is_dir():
        return []
    files: list[Path] = []
    for section in sorted(LANG_DIR.iterdir()):
        if not section.is_dir() or section.name.startswith((".", "_")):
            continue
        files.extend(_tests_in(section))
        if section.name in FEATURE_SECTIONS:
            for feature in sorted(section.iterdir()):
                if feature.is_dir() and not feature.name.startswith((".", "_")) and feature.name != "lib":
                    files.extend(_tests_in(feature))
    return files


PROGRAMS = collect_programs()


def _test_id(path: Path) -> str:
    return path.relative_to(LANG_DIR).as_posix()


# --------------------------------------------------------------------------- running


class ProgramTimeout(BaseException):
    """Raised in the test thread when a program runs past its time limit."""


def _time_limit() -> float:
    raw = os.environ.get("TVM_LANG_TIMEOUT")
    if raw:
        return float(raw)
    return 300.0 if os.environ.get("TVM_GC_STRESS") == "1" else 60.0


def _alarm(seconds: float):
    """A context manager that raises ProgramTimeout after `seconds` (POSIX main thread)."""

    class _Ctx:
        def __enter__(self):
            self.armed = (
                seconds > 0
                and hasattr(signal, "setitimer")
                and threading.current_thread() is threading.main_thread()
            )
            if self.armed:

                def handler(signum, frame):
                    raise ProgramTimeout(f"program still running after {seconds:g}s")

                self.old = signal.signal(signal.SIGALRM, handler)
                signal.setitimer(signal.ITIMER_REAL, seconds)
            return self

        def __exit__(self, *exc):
            if self.armed:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, self.old)
            return False

    return _Ctx()


@dataclass
class Result:
    status: int
    stdout: str
    stderr: str


def run_program(path: Path, stdin_lines: list[str]) -> Result:
    try:
        from tinyvm.cli.main import main
    except Exception as e:  # ImportError now; any import-time failure later
        pytest.fail(f"cannot import tinyvm.cli.main: {type(e).__name__}: {e}", pytrace=False)

    argv = ["run"]
    if os.environ.get("TVM_GC_STRESS") == "1":
        argv.append("--gc-stress")
    argv.append(path.name)

    stdin = io.StringIO("".join(line + "\n" for line in stdin_lines))
    out, err = io.StringIO(), io.StringIO()
    old_cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        with _alarm(_time_limit()):
            try:
                status = main(argv, stdin=stdin, stdout=out, stderr=err)
            except SystemExit as e:  # tolerate a main() that exits instead of returning
                code = e.code
                status = code if isinstance(code, int) else (0 if code is None else 1)
    except ProgramTimeout as e:
        pytest.fail(
            f"{e}\n--- stdout so far ---\n{out.getvalue()}--- stderr so far ---\n{err.getvalue()}",
            pytrace=False,
        )
    finally:
        os.chdir(old_cwd)
    return Result(status if status is not None else 0, out.getvalue(), err.getvalue())


def _lines(text: str) -> list[str]:
    if text == "":
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [ln.rstrip("\r") for ln in lines]


# --------------------------------------------------------------------------- checking


def check(path: Path, exp: Expectations, res: Result) -> list[str]:
    """Every way `res` falls short of `exp`, as readable messages (empty: it passed)."""
    failures: list[str] = []
    name = path.name

    if res.status != exp.status:
        failures.append(f"exit status: expected {exp.status}, got {res.status}")

    actual_out = _lines(res.stdout)
    if actual_out != exp.stdout:
        diff = "\n".join(
            difflib.unified_diff(
                exp.stdout, actual_out, "expected stdout", "actual stdout", lineterm="", n=3
            )
        )
        failures.append("stdout differs:\n" + diff)

    err_lines = _lines(res.stderr)

    if exp.runtime_error is not None:
        want = f"error: {exp.runtime_error}"
        got = err_lines[0] if err_lines else "<no stderr>"
        if got != want:
            failures.append(f"first stderr line:\n  expected: {want}\n  actual:   {got}")

    # `// expect stderr:` texts must be found in file order (stack frames: innermost first).
    pos = 0
    for text in exp.stderr_contains:
        hit = next((i for i in range(pos, len(err_lines)) if text in err_lines[i]), None)
        if hit is None:
            earlier = any(text in ln for ln in err_lines[:pos])
            where = " (only before the previous expected line)" if earlier else ""
            failures.append(f"no stderr line contains: {text!r}{where}")
        else:
            pos = hit + 1

    if exp.expects_compile_error:
        diags = []
        for ln in err_lines:
            if m := _DIAG.match(ln):
                diags.append((m.group("path"), int(m.group("line")), m.group("msg")))
        own = [(line, msg) for p, line, msg in diags if os.path.basename(p) == name]
        foreign = [f"{p}:{line}: {msg}" for p, line, msg in diags if os.path.basename(p) != name]

        for line, msg in exp.compile_errors:
            if (line, msg) not in own:
                failures.append(f"missing compile error: {name}:{line}:COL: error: {msg}")
        for line in exp.syntax_errors:
            if not any(dl == line for dl, _ in own):
                failures.append(f"missing syntax error diagnostic on line {line}")

        expected_pairs = set(exp.compile_errors)
        first_syntax = min(exp.syntax_errors) if exp.syntax_errors else None
        for line, msg in own:
            if (line, msg) in expected_pairs or line in exp.syntax_errors:
                continue
            # A parser may cascade after a syntax error: tolerate diagnostics on later lines.
            if first_syntax is not None and line > first_syntax:
                continue
            failures.append(f"unexpected compile error: {name}:{line}: error: {msg}")
        for d in foreign:
            failures.append(f"unexpected compile error in another file: {d}")

    if not exp.stderr_may_be_nonempty and res.stderr != "":
        failures.append("stderr should be empty")

    if failures:
        failures.append("--- actual stderr ---\n" + (res.stderr if res.stderr else "<empty>"))
    return failures


@pytest.mark.parametrize("path", PROGRAMS, ids=[_test_id(p) for p in PROGRAMS])
def test_lang(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    exp = parse_expectations(source)
    if exp.problems:
        pytest.fail(f"{_test_id(path)}: bad test file:\n" + "\n".join(exp.problems), pytrace=False)
    res = run_program(path, exp.stdin)
    failures = check(path, exp, res)
    if failures:
        pytest.fail(f"{_test_id(path)}:\n" + "\n".join(failures), pytrace=False)


def test_suite_is_collected() -> None:
    """Guard against a misplaced folder silently emptying the suite."""
    assert len(PROGRAMS) >= 100, f"only {len(PROGRAMS)} .tl programs found under {LANG_DIR}"
