"""Fuzzing whole programs through the `tvm run` CLI (in-process).

Seeds are the valid programs of the conformance suite (tests/lang) and of
examples/. Each case applies a few random mutations -- delete, duplicate, swap
or transplant lines; delete or insert characters and tokens (braces, quotes,
keywords, operators, edge-case numbers like 9223372036854775808); truncate;
and "semantic" ones that usually still compile (an identifier, number,
operator or string literal replaced by another), so the VM gets exercised too
-- writes the result next to its seed's copy (so relative imports still
resolve) and runs it with `main(["run", "--max-depth", N, path])`.

The property, whatever the program:

* `main` returns 0, 1 or 2 (or 5, EXIT_MEMORY, for an uncaught MemoryError):
  no Python exception escapes it;
* stderr never holds a Python traceback;
* exit 2 (compile error): stderr is made only of diagnostics
  `FILE:LINE:COL: error: MESSAGE`, each optionally followed by the source line
  and a caret (both indented by four spaces), and there is at least one; an
  echoed source line is line LINE of the file (lines end at "\n" only, as the
  lexer counts them);
* exit 1 (uncaught guest error): stderr starts with `error: `, and for a
  source program it is never the VM's corrupt-bytecode safety net
  (`error: InternalError: ...`);
* exit 0: stderr is empty, or holds only `warning: ` lines (a spawned
  fiber that failed and was never awaited).

Structural operators (tests/unit/source_shapes.py), for a fraction of the
cases on top of the others: a link of a chain repeated (an operator and its
operand, a method call, a field, an index, a call's arguments, an `else if`)
up to thousands of times; something wrapped in many levels of one construct
(brackets, prefix operators, lambdas, calls, blocks, ifs, loops, functions,
types), at depths around the nesting limits (the parser's, and 64 for
functions); two programs spliced; and source bytes that are not UTF-8.
Lox programs (the seeds of tests/lox) are fuzzed the same way
(`test_fuzz_lox_programs`), with clox's exit statuses and formats: 65 and
`[line N] Error...` for compile errors, 70 and a stack of `[line N] in ...`
for runtime errors, never a traceback or an InternalError.

Round trips: a program that compiled (exit 0 or 1; Lox: 0 or 70), when a
structural operator made it and for a few others, is also compiled by
`tvmc`; `tvm run` must load what tvmc wrote, and exit as the source did.

Mutated programs may loop forever, so every run is under a SIGALRM timer
(`signal.setitimer`), longer for longer programs; a run cut by it counts as
"timed out" -- acceptable, unless too many do. A source too big to run
quickly (the VM's pre-decoder costs about 0.1 ms per instruction) is checked
with `tvm check` instead (the front end is where depth bugs live), except in
the long campaign, which runs everything. `.tvm` files are fuzzed the same way: examples compiled by
`tvmc`, then raw byte mutations, payload mutations with a recomputed checksum,
and structure-aware mutations of the decoded code, each run through the CLI.

A failure is shrunk (line then character deletion, keeping the same kind of
failure) and reported with the minimized program; the programs found so far
are kept as fixed regression cases (REGRESSIONS, TVM_REGRESSIONS). Everything is driven by a
seeded `random.Random`, so failures reproduce. Knobs: TVM_FUZZ_CASES (TinyLang
source cases, default 1500), TVM_FUZZ_LOX_CASES (Lox, default 1000),
TVM_FUZZ_SEED, TVM_FUZZ_CASE_SECONDS (per-run limit, plus 1 s per 10 kB of
source).

The long campaign (10 000 source programs of each language, chains of up to
12 000 links, every program run):

    TVM_FUZZ_LONG=1 python -m pytest -q -s -o addopts="" tests/fuzz/test_fuzz_source.py -k "source_programs or lox_programs"

prints one summary line per language (cases, outcomes, timeouts); it passes
with no host traceback and no InternalError.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import random
import re
import shutil
import signal
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tinyvm.bytecode.code import Bundle, Code
from tinyvm.bytecode.tvmfile import HEADER_SIZE, dump_bundle, load_bundle
from tinyvm.cli.main import main, tvmc_main
from tinyvm.lang.lox.parser import MAX_NESTING as LOX_MAX_NESTING
from tinyvm.bytecode.code import MAX_NESTING as MAX_FUNCTION_NESTING
from tinyvm.lang.tinylang.parser import MAX_DEPTH as TL_MAX_DEPTH

# The case timer fires again every REARM_SECONDS after its first alarm: an
# alarm that arrives while a finalizer runs Python code (a generator closed,
# a ResourceWarning issued) is reported as "Exception ignored" and lost, and a
# one-shot timer would then let an endless mutant run until memory runs out.
REARM_SECONDS = 0.05
# (The alarm that is lost that way is reported by pytest as an unraisable
# exception: expected, and not a finding.)
_IGNORE_LOST_ALARMS = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from source_shapes import LOX_CHAINS, LOX_NESTINGS, TL_CHAINS, TL_NESTINGS, break_utf8, deepen, grow_chain, splice  # noqa: E402
from tvm_mutations import all_codes, replace_code, with_payload  # noqa: E402

LONG = os.environ.get("TVM_FUZZ_LONG", "") not in ("", "0")
SEED = int(os.environ.get("TVM_FUZZ_SEED", "20240612"))
N_CASES = int(os.environ.get("TVM_FUZZ_CASES", "10000" if LONG else "1500"))
N_LOX_CASES = int(os.environ.get("TVM_FUZZ_LOX_CASES", "10000" if LONG else "1000"))
N_TVM_CASES = int(os.environ.get("TVM_FUZZ_TVM_CASES", "600"))
CASE_SECONDS = float(os.environ.get("TVM_FUZZ_CASE_SECONDS", "1.0"))
STRUCTURAL = {"tl": 0.15, "lox": 0.6}  # the fraction of cases that also get a structural operator
BAD_UTF8 = 0.03  # ... and that get bytes that are not UTF-8
ROUND_TRIPS = 0.05  # the fraction of other programs that compile also checked through tvmc
MAX_LINKS = 12_000 if LONG else 2_500  # chains grow up to this many links
RUN_LIMIT = None if LONG else 20_000  # bigger sources are checked (`tvm check`), not run
MAX_DEPTH = "2000"
MAX_TIMEOUT_FRACTION = 0.03  # more timed-out runs than this fails the test
MAX_REPORTED = 6  # distinct failures minimized and reported per test
MINIMIZE_SECONDS = 20.0  # time budget for shrinking one failure

pytestmark = [pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM (POSIX)"), _IGNORE_LOST_ALARMS]

# --------------------------------------------------------------------------- running one program


class CaseTimeout(BaseException):
    """Raised by the SIGALRM handler. A BaseException, so that no `except
    Exception` inside the VM can swallow it."""


@dataclass
class Outcome:
    kind: str  # "exit" | "timeout" | "exception"
    rc: int | None = None
    stdout: str = ""
    stderr: str = ""
    exc: str = ""  # for "exception": the Python traceback
    exc_type: str = ""
    seconds: float = 0.0


def case_seconds(size: int) -> float:
    """The time limit for a program of `size` bytes: long chains take a while
    to compile and pre-decode."""
    return CASE_SECONDS + size / 10_000


def run_cli(argv: list[str], seconds: float = CASE_SECONDS) -> Outcome:
    out, err = io.StringIO(), io.StringIO()

    def on_alarm(signum, frame):
        raise CaseTimeout()

    old = signal.signal(signal.SIGALRM, on_alarm)
    start = time.perf_counter()
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, seconds, REARM_SECONDS)
            rc = main(argv, stdin=io.StringIO(""), stdout=out, stderr=err)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except CaseTimeout:
        return Outcome("timeout", seconds=time.perf_counter() - start)
    except (Exception, RecursionError, MemoryError) as e:  # the property under test
        return Outcome(
            "exception",
            stdout=out.getvalue(),
            stderr=err.getvalue(),
            exc="".join(traceback.format_exception(e)),
            exc_type=type(e).__name__,
            seconds=time.perf_counter() - start,
        )
    finally:
        signal.signal(signal.SIGALRM, old)
    return Outcome("exit", rc, out.getvalue(), err.getvalue(), seconds=time.perf_counter() - start)


_DIAG = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): error: (?P<msg>.+)$")
_LOAD_ERROR = re.compile(r"^error: .+")


_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


def _upto_control(s: str) -> str:
    """`s` up to its first control or line-separator character: how such
    characters are echoed in a diagnostic is the renderer's choice."""
    m = _CONTROL.search(s)
    return s if m is None else s[: m.start()]


def violation(o: Outcome, allow_load_error: bool = False, path: str | None = None, source: str | None = None) -> str | None:
    """A short description (stable enough to compare failures) of how outcome
    `o` breaks the property, or None. With `path` and `source` (the program
    run), a diagnostic for that file that echoes a source line must echo line
    LINE of the file as the lexer counts lines (split at "\n" only)."""
    if o.kind == "timeout":
        return None
    if o.kind == "exception":
        return f"exception {o.exc_type} escaped main"
    if o.rc == 5 and o.stderr.startswith("error: MemoryError: "):
        return None  # EXIT_MEMORY: since 1.1 a short program can outgrow the limit (`"a" * 90000000`)
    if o.rc not in (0, 1, 2):
        return f"exit status {o.rc}"
    if "Traceback (most recent call last)" in o.stderr:
        return "Python traceback in stderr"
    if o.rc == 2:
        lines = o.stderr.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not lines:
            return "exit 2 with empty stderr"
        if allow_load_error and len(lines) == 1 and _LOAD_ERROR.match(lines[0]):
            return None
        if not _DIAG.match(lines[0]):
            return "exit 2: first stderr line is not FILE:LINE:COL: error: ..."
        file_lines = source.split("\n") if source is not None else None
        for i, line in enumerate(lines):
            if line.startswith("    "):
                continue  # source line or caret
            m = _DIAG.match(line)
            if not m:
                return "exit 2: stderr line is neither a diagnostic nor an indented source/caret line"
            echo = lines[i + 1] if i + 1 < len(lines) and lines[i + 1].startswith("    ") else None
            if file_lines is not None and echo is not None and m["path"] == path:
                n = int(m["line"])
                want = file_lines[n - 1].rstrip("\r").replace("\t", " ") if 1 <= n <= len(file_lines) else None
                if want is None or _upto_control(echo[4:]) != _upto_control(want):
                    return "exit 2: the echoed source line is not line LINE of the file"
        return None
    if o.rc == 1:
        if not o.stderr.startswith("error: ") and not (_uses_eprint(path, source) and "\nerror: " in o.stderr):
            return "exit 1: stderr does not start with 'error: '"
        if not allow_load_error and o.stderr.startswith("error: InternalError"):
            # The VM's safety net for corrupt bytecode: compiled source never needs it.
            return "InternalError (the VM's corrupt-bytecode safety net) from a source program"
        return None
    if any(line and not line.startswith("warning: ") for line in o.stderr.split("\n")) and not _uses_eprint(path, source):
        return "exit 0 with output on stderr"
    return None


def _uses_eprint(path: str | None, source: str | None) -> bool:
    """Does the program write to stderr itself (1.1's `eprint`)? Then its own
    lines may come before (or without) the VM's."""
    if source is not None:
        return "eprint" in source
    try:
        return path is not None and b"eprint" in Path(path).read_bytes()
    except OSError:
        return False


def describe(o: Outcome) -> str:
    if o.kind == "exception":
        return o.exc.rstrip()
    return f"exit {o.rc}\n--- stderr ---\n{o.stderr[:3000]}"


# --------------------------------------------------------------------------- seeds


def _seed_files() -> list[Path]:
    files = sorted((ROOT / "tests" / "lang").rglob("*.tl")) + sorted((ROOT / "examples").rglob("*.tl"))
    return [f for f in files if not f.name.startswith("fuzz_case")]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A copy of tests/lang and examples, so mutants can sit next to their seed
    (relative imports keep working) without touching the repository."""
    base = tmp_path_factory.mktemp("fuzz_src")
    shutil.copytree(ROOT / "tests" / "lang", base / "lang", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "examples", base / "examples", ignore=shutil.ignore_patterns("__pycache__", "*.tvm"))
    (base / "lox").mkdir()
    return base


def _workspace_path(base: Path, seed: Path) -> Path:
    rel = seed.relative_to(ROOT)
    parts = rel.parts[1:] if rel.parts[0] == "tests" else rel.parts
    return base.joinpath(*parts)


# --------------------------------------------------------------------------- mutations

KEYWORDS = (
    "let var fn return if else while for in break continue class extends self super nil true false "
    "and or not is try catch finally throw import from as export spawn async await yield select case default"
).split()
PUNCT = (
    "{ } ( ) [ ] [: ] ; , . : .. ..= => -> + - * / % << >> & | ^ ~ == != < <= > >= = += -= *= /= %= "
    "? // /* */ \" ' \\ $ ${ @ #"
).split()
NUMBERS = [
    "0", "1", "-1", "07", "1_000", "1__0", "_1", "1_", "0x", "0xff", "0xFFFFFFFFFFFFFFFF", "0x8000000000000000",
    "0b", "0b102", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "99999999999999999999999",
    "1e999", "1e-999", "1.5e", "1e+", ".5", "5.", "3.14", "1.0.0", "0.0", "-0.0", "1/0", "0/0",
]
SNIPPETS = [
    '"', '"${', '"${x', '}"', '"\\u{110000}"', '"\\u{D800}"', '"\\u{', '"\\q"', '"\\', "/*", "*/", "/* /*", "//",
    "print(", "print()", "x", "self.x", "super.init(", "Error(", "typeof(", "len(", "int(", "fn(x) => x",
    "fn() {", "class A {", "class B extends A {", "import math", 'import "./nope"', 'import "./"', "from math import ",
    "try {", "} catch e {", "} finally {", "throw ", "return", "while true {", "for i in 0..3 {", "yield 1",
    "spawn f()", "await ", "select {", "[1, 2", "[:]", "{x: 1", "a[0]", "m.get(", "\n", "\n\n", "\t", "\r", "\x0c",
    "\x00", "\u2028", "é", "😀", "\ufeff", "\x7f", "(((((((((", ")))))))))", "[[[[[[", "{{{{{{", "-------",
    "not not not", "x = x", "let x = 1", "var y: int = ", ": int", ": [string]", ": fn(int) -> int", "-> float",
    "?", "int?",
]
INSERT_CHARS = '{}()[]";,.:+-*/%<>=&|^~!?$\\\'`@#0123456789abcxyz_ \t\n'


def _tokenish(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.25:
        return rng.choice(KEYWORDS)
    if r < 0.5:
        return rng.choice(PUNCT)
    if r < 0.7:
        return rng.choice(NUMBERS)
    return rng.choice(SNIPPETS)


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"(?<![\w.])\d[\w.]*")
_OPERATOR = re.compile(r"==|!=|<=|>=|<<|>>|\.\.=|\.\.|[-+*/%<>&|^]")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
OPERATORS = ["+", "-", "*", "/", "%", "<", "<=", ">", ">=", "==", "!=", "<<", ">>", "&", "|", "^", "..", "..="]
VALUES = ["0", "-1", "1.5", "-0.0", '""', '"x"', "nil", "true", "[]", "[:]", "{a: 1}", "[1, 2]", "9223372036854775807",
          "(0 - 9223372036854775807 - 1)", "1e308", "(0.0 / 0.0)", "print", "Error", "fn(x) => x"]


def _replace_match(rng: random.Random, text: str, pattern: re.Pattern, choices) -> str:
    found = list(pattern.finditer(text))
    if not found:
        return text
    m = rng.choice(found)
    new = choices(m.group()) if callable(choices) else rng.choice(choices)
    return text[: m.start()] + new + text[m.end() :]


def mutate_semantic(rng: random.Random, text: str) -> str:
    """Mutations that usually keep the program well-formed, so that the
    mutant gets past the compiler and exercises the VM."""
    kind = rng.randrange(4)
    if kind == 0:  # an identifier -> another identifier of the same program
        words = sorted(set(_WORD.findall(text)) - set(KEYWORDS))
        return _replace_match(rng, text, _WORD, lambda w: rng.choice(words) if w not in KEYWORDS and words else w)
    if kind == 1:  # a number -> an edge-case number or value
        return _replace_match(rng, text, _NUMBER, NUMBERS[:4] + NUMBERS[14:17] + VALUES)
    if kind == 2:  # an operator -> another operator
        return _replace_match(rng, text, _OPERATOR, OPERATORS)
    return _replace_match(rng, text, _STRING, VALUES)  # a string literal -> another value


def _links(rng: random.Random) -> int:
    """A chain length, log-uniform up to MAX_LINKS."""
    return int(math.exp(rng.uniform(0, math.log(MAX_LINKS))))


def _depth(rng: random.Random, lang: str) -> int:
    """A nesting depth: around one of the limits, anything below them
    (log-uniform), or far too deep."""
    limit = TL_MAX_DEPTH if lang == "tl" else LOX_MAX_NESTING
    r = rng.random()
    if r < 0.2:
        return max(1, MAX_FUNCTION_NESTING + rng.randint(-3, 3))
    if r < 0.4:
        return limit + rng.randint(-10, 10)
    if r < 0.65:
        return int(math.exp(rng.uniform(0, math.log(limit))))
    if r < 0.9:
        return rng.randint(1, limit)
    return 3 * limit


def mutate_deep(rng: random.Random, text: str, donors: list[str], lang: str = "tl") -> str:
    """One structural operator: a chain grown, a nesting deepened, a splice
    with another program, or a chain or nesting shape put in at a line."""
    r = rng.random()
    if r < 0.35:
        return grow_chain(rng, text, _links(rng), lang)
    if r < 0.7:
        return deepen(rng, text, _depth(rng, lang), lang)
    if r < 0.85:
        return splice(rng, text, rng.choice(donors))
    if rng.random() < 0.5:
        shape = rng.choice(list((TL_CHAINS if lang == "tl" else LOX_CHAINS).values()))(_links(rng))[0]
    else:
        shape = rng.choice(list((TL_NESTINGS if lang == "tl" else LOX_NESTINGS).values()))(_depth(rng, lang))[0]
    lines = text.split("\n")
    i = rng.randrange(len(lines) + 1)
    return "\n".join(lines[:i] + [shape] + lines[i:])


def mutate_source(rng: random.Random, text: str, donors: list[str]) -> str:
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 5))):
        lines = text.split("\n")
        kind = rng.randrange(15)
        if kind >= 11:
            text = mutate_semantic(rng, text)
            continue
        i = rng.randrange(len(lines))
        if kind == 0 and len(lines) > 1:  # delete a line (or a few)
            del lines[i : i + rng.choice((1, 1, 1, 2, 4))]
        elif kind == 1:  # duplicate a line
            lines.insert(i, lines[i])
        elif kind == 2:  # swap two lines
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == 3:  # a line from another program
            donor = rng.choice(donors).split("\n")
            lines.insert(i, rng.choice(donor))
        elif kind == 10 and len(text) > 1:  # truncate
            text = text[: rng.randrange(len(text))]
            continue
        else:
            pos = rng.randrange(len(text) + 1)
            if kind == 4 and text:  # delete characters
                text = text[:pos] + text[pos + rng.choice((1, 1, 1, 2, 5)) :]
            elif kind == 5:  # insert a character
                text = text[:pos] + rng.choice(INSERT_CHARS) + text[pos:]
            elif kind in (6, 7):  # insert a token, padded or glued
                pad = rng.choice(("", " "))
                text = text[:pos] + pad + _tokenish(rng) + pad + text[pos:]
            elif kind == 8:  # replace a word with a token
                words = list(re.finditer(r"\w+|[^\w\s]+", text))
                if words:
                    w = rng.choice(words)
                    text = text[: w.start()] + _tokenish(rng) + text[w.end() :]
            else:  # kind 9: duplicate a chunk of text in place
                j = min(len(text), pos + rng.randint(1, 40))
                text = text[:j] + text[pos:j] + text[j:]
            continue
        text = "\n".join(lines)
    return text


# --------------------------------------------------------------------------- minimizing


def _shrink(text: str, still_fails, deadline: float) -> str:
    """Delta debugging on lines, then on characters, while `still_fails(text)`."""
    for unit in ("line", "char"):
        parts = text.split("\n") if unit == "line" else list(text)
        joiner = "\n" if unit == "line" else ""
        n = 2
        while len(parts) >= 2 and time.perf_counter() < deadline:
            chunk = max(1, len(parts) // n)
            removed = False
            for start in range(0, len(parts), chunk):
                if time.perf_counter() >= deadline:
                    break
                candidate = parts[:start] + parts[start + chunk :]
                if candidate and still_fails(joiner.join(candidate)):
                    parts = candidate
                    n = max(n - 1, 2)
                    removed = True
                    break
            if not removed:
                if chunk == 1:
                    break
                n = min(len(parts), n * 2)
        text = joiner.join(parts)
    return text


def minimize_source(text: str, path: Path, signature: str, argv: list[str] | None = None, check=None) -> str:
    """`text` shrunk while running it (with `argv`, default `run`) still
    breaks the property the same way (`check`, default `violation`)."""
    argv = argv or ["run", "--max-depth", MAX_DEPTH, str(path)]

    def still_fails(candidate: str) -> bool:
        path.write_text(candidate, encoding="utf-8", newline="")
        o = run_cli(argv, case_seconds(len(candidate)))
        if check is not None:
            return check(o) == signature
        return violation(o, path=str(path), source=candidate) == signature

    deadline = time.perf_counter() + MINIMIZE_SECONDS
    small = _shrink(text, still_fails, deadline)
    path.write_text(small, encoding="utf-8", newline="")
    return small


# --------------------------------------------------------------------------- source fuzzing


def _mutant(rng: random.Random, text: str, donors: list[str], lang: str) -> tuple[str, bytes, bool]:
    """A mutant of `text`: its text, its bytes (which may not be UTF-8), and
    whether a structural operator made it."""
    text = mutate_source(rng, text, donors)
    structural = rng.random() < STRUCTURAL[lang]
    if structural:
        text = mutate_deep(rng, text, donors, lang)
    data = text.encode("utf-8")
    if rng.random() < BAD_UTF8:
        data = break_utf8(rng, data)
    return text, data, structural


def round_trip_violation(argv: list[str], source_outcome: Outcome) -> str | None:
    """For a program `tvm run` compiled (argv ran it, with source_outcome):
    `tvmc` compiles it too, `tvm run` loads what tvmc wrote, and the .tvm
    file exits as its source did. (A compiler writing what the loader
    refuses -- functions nested deeper than the format allows -- was issue 11.)"""
    path = argv[-1]
    tvm_path = path.rsplit(".", 1)[0] + ".tvm"
    err = io.StringIO()
    try:
        rc = tvmc_main([path, "-o", tvm_path], stderr=err, stdout=io.StringIO())
    except (Exception, RecursionError) as e:
        return f"tvmc: exception {type(e).__name__} escaped"
    if rc != 0:
        return "tvmc refuses a program tvm run compiled"
    o = run_cli([*argv[:-1], tvm_path], case_seconds(os.path.getsize(tvm_path)))
    if o.kind == "exception":
        return f"exception {o.exc_type} escaped main (running tvmc's output)"
    if o.kind == "exit" and "bad .tvm file" in o.stderr:
        return "tvm run refuses the .tvm file tvmc wrote"
    if o.kind == "exit" and source_outcome.kind == "exit" and o.rc != source_outcome.rc:
        return "tvmc's output exits differently from its source"
    return None


def _command(target: Path, data: bytes, lang: str) -> list[str]:
    big = RUN_LIMIT is not None and len(data) > RUN_LIMIT
    if big:
        return ["check", str(target)]
    return ["run", "--max-depth", MAX_DEPTH, str(target)] if lang == "tl" else ["run", str(target)]


def _report(failures: dict, summary: str, workspace_path, check=None) -> None:
    """Minimize each failure (keep the bytes as they are when they are not
    UTF-8) and fail with the reports."""
    reports = []
    for bad, (case, seed, text, data, argv, o) in failures.items():
        target = workspace_path(seed)
        if data.decode("utf-8", "replace") != text or "tvmc" in bad:
            target.write_bytes(data)
            small, note = data, f"(not minimized, kept at {target})"
        else:
            small = minimize_source(text, target, bad, [*argv[:-1], str(target)], check)
            note = f"({len(small)} chars)"
        om = run_cli([*argv[:-1], str(target)], case_seconds(len(small)))
        reports.append(
            f"== {bad} (case {case}, seed {seed.relative_to(ROOT)}, tvm {argv[0]})\n"
            f"--- minimized program {note} ---\n{small!r}\n"
            f"--- what happened ---\n{describe(om)}"
        )
    pytest.fail(summary + "\n\n" + "\n\n".join(reports), pytrace=False)


def test_fuzz_source_programs(workspace):
    rng = random.Random(SEED)
    seeds = _seed_files()
    texts = {s: s.read_text(encoding="utf-8") for s in seeds}
    donors = list(texts.values())
    outcomes: Counter = Counter()
    failures: dict[str, tuple] = {}
    slowest: list[tuple[float, int, str]] = []
    start = time.perf_counter()
    for case in range(N_CASES):
        seed = rng.choice(seeds)
        text, data, structural = _mutant(rng, texts[seed], donors, "tl")
        target = _workspace_path(workspace, seed).with_name("fuzz_case.tl")
        target.write_bytes(data)
        argv = _command(target, data, "tl")
        o = run_cli(argv, case_seconds(len(data)))
        slowest.append((o.seconds, case, seed.name))
        if o.kind == "timeout":
            outcomes["timeout"] += 1
            continue
        outcomes[f"exit {o.rc}" if o.kind == "exit" else "exception"] += 1
        if argv[0] == "check":
            outcomes["checked, not run (big)"] += 1
        bad = violation(o, path=str(target), source=text if data.decode("utf-8", "replace") == text else None)
        if bad is None and argv[0] == "run" and o.kind == "exit" and o.rc in (0, 1) and (structural or rng.random() < ROUND_TRIPS):
            outcomes["round trips through tvmc"] += 1
            bad = round_trip_violation(argv, o)
        if bad is not None and bad not in failures and len(failures) < MAX_REPORTED:
            failures[bad] = (case, seed, text, data, argv, o)
    elapsed = time.perf_counter() - start
    slowest.sort(reverse=True)
    summary = f"{N_CASES} TinyLang cases in {elapsed:.1f}s: {dict(outcomes)}; slowest {slowest[:3]}"
    print(summary)

    if failures:
        _report(failures, summary, lambda seed: _workspace_path(workspace, seed).with_name("fuzz_min.tl"))
    # The mutants must reach every stage: compile errors, runtime errors, and clean runs.
    assert outcomes["exit 2"] > N_CASES // 10, summary
    assert outcomes["exit 1"] > N_CASES // 50, summary
    assert outcomes["exit 0"] > N_CASES // 20, summary
    assert outcomes["timeout"] <= MAX_TIMEOUT_FRACTION * N_CASES, summary


# --------------------------------------------------------------------------- Lox

# clox's compile errors, one after another (a token quoted in one may span lines),
# or TinyVM's for a file that cannot be read or is not UTF-8.
_LOX_COMPILE = re.compile(r"(?:\[line \d+\] Error(?: at '.*?'| at end)?: [^\n]+\n|[^\n]+:\d+:\d+: error: [^\n]+\n)+", re.S)
_LOX_FRAME = re.compile(r"^\[line \d+\] in (?:script|.+\(\))$")


def lox_violation(o: Outcome) -> str | None:
    """How a Lox program's outcome breaks the property (clox's statuses and
    formats), or None."""
    if o.kind == "timeout":
        return None
    if o.kind == "exception":
        return f"exception {o.exc_type} escaped main"
    if "Traceback (most recent call last)" in o.stderr:
        return "Python traceback in stderr"
    if "corrupt bytecode or a VM bug" in o.stderr or "internal error" in o.stderr:
        return "InternalError (the VM's corrupt-bytecode safety net) from a Lox program"
    lines = o.stderr.splitlines()
    if o.rc == 65:
        if not _LOX_COMPILE.fullmatch(o.stderr):
            return "exit 65: stderr is not made of '[line N] Error...' lines"
        return None
    if o.rc == 70:
        if not lines:
            return "exit 70 with empty stderr"
        if not all(_LOX_FRAME.match(line) for line in lines[1:]):
            return "exit 70: the lines after the message are not '[line N] in ...'"
        return None
    if o.rc == 0:
        return "exit 0 with output on stderr" if o.stderr else None
    return f"exit status {o.rc}"


def test_fuzz_lox_programs(workspace):
    """Lox sources (tests/lox), mutated as TinyLang's are, run with clox's
    frame limit."""
    rng = random.Random(SEED + 2)
    seeds = [f for f in sorted((ROOT / "tests" / "lox").rglob("*.lox")) if f.stat().st_size < 20_000]
    texts = {s: s.read_text(encoding="utf-8") for s in seeds}
    donors = list(texts.values())
    target = workspace / "lox" / "fuzz_case.lox"
    outcomes: Counter = Counter()
    failures: dict[str, tuple] = {}
    start = time.perf_counter()
    for case in range(N_LOX_CASES):
        seed = rng.choice(seeds)
        text, data, structural = _mutant(rng, texts[seed], donors, "lox")
        target.write_bytes(data)
        argv = _command(target, data, "lox")
        o = run_cli(argv, case_seconds(len(data)))
        outcomes["timeout" if o.kind == "timeout" else f"exit {o.rc}" if o.kind == "exit" else "exception"] += 1
        bad = lox_violation(o)
        if bad is None and argv[0] == "run" and o.kind == "exit" and o.rc in (0, 70) and (structural or rng.random() < ROUND_TRIPS):
            outcomes["round trips through tvmc"] += 1
            bad = round_trip_violation(argv, o)
        if bad is not None and bad not in failures and len(failures) < MAX_REPORTED:
            failures[bad] = (case, seed, text, data, argv, o)
    summary = f"{N_LOX_CASES} Lox cases in {time.perf_counter() - start:.1f}s: {dict(outcomes)}"
    print(summary)
    if failures:
        _report(failures, summary, lambda seed: workspace / "lox" / "fuzz_min.lox", lox_violation)
    assert outcomes["exit 65"] > N_LOX_CASES // 10, summary
    assert outcomes["exit 0"] > N_LOX_CASES // 20, summary
    assert outcomes["exit 70"] > 0, summary
    assert outcomes["timeout"] <= MAX_TIMEOUT_FRACTION * N_LOX_CASES, summary


# Minimized programs the fuzzer found; each must satisfy the property.
REGRESSIONS = {
    "return_in_finally": "fn f() {\n  try {\n  } finally {\n    return 1\n  }\n}\nprint(f())\n",
    "break_in_finally": "while true {\n  try {\n  } finally {\n    break\n  }\n}\n",
    "continue_in_finally": "for i in 0..2 {\n  try {\n  } finally {\n    continue\n  }\n}\n",
    "return_in_finally_after_catch": "fn f() {\n  try {\n    throw 1\n  } catch e {\n  } finally {\n    return 2\n  }\n}\nprint(f())\n",
    "assign_to_builtin": "print=(i)\n",
    "form_feed_then_error": "\x0c\nt\n",
    "carriage_return_in_string_then_error": 'let s = "a\rb"\nprint(x)\n',
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_fuzz_regressions(workspace, name):
    target = workspace / "lang" / f"regression_{name}.tl"
    source = REGRESSIONS[name]
    target.write_text(source, encoding="utf-8", newline="")
    o = run_cli(["run", "--max-depth", MAX_DEPTH, str(target)], seconds=10)
    assert o.kind != "timeout", "timed out"
    bad = violation(o, path=str(target), source=source)
    assert bad is None, f"{bad}\n{describe(o)}"


def test_fuzz_harness_detects_escaping_exceptions(workspace, monkeypatch):
    """The harness itself: an exception escaping `main`, a traceback on stderr,
    and a malformed diagnostic are all reported; a timeout is not."""
    target = workspace / "lang" / "harness_check.tl"
    target.write_text("while true { }\n", encoding="utf-8")
    assert run_cli(["run", str(target)], seconds=0.2).kind == "timeout"
    assert violation(Outcome("exception", exc_type="IndexError")) == "exception IndexError escaped main"
    assert violation(Outcome("exit", 1, stderr="Traceback (most recent call last):\n")) is not None
    assert violation(Outcome("exit", 2, stderr="f.tl:1:2: error: x\n    src\n    ^\n")) is None
    assert violation(Outcome("exit", 2, stderr="f.tl:1: error: x\n")) is not None
    assert violation(Outcome("exit", 2, stderr="f.tl:1:2: error: x\noops\n")) is not None
    assert violation(Outcome("exit", 0, stderr="warning\n")) is not None
    echo = Outcome("exit", 2, stderr="f.tl:2:1: error: x\n    b\n    ^\n")
    assert violation(echo, path="f.tl", source="a\nb\n") is None
    assert violation(echo, path="f.tl", source="a\x0cz\nb\n") is None
    assert violation(echo, path="f.tl", source="a\nc\n") is not None
    assert violation(echo, path="f.tl", source="a\nb\x0cq\n") is None


# --------------------------------------------------------------------------- .tvm fuzzing

TVM_SEEDS = ["hello.tl", "fizzbuzz.tl", "classes.tl", "closures.tl", "errors.tl", "modules.tl", "collections.tl", "bank_account.tl"]


def _compile_example(workspace: Path, name: str) -> Path:
    src = workspace / "examples" / name
    dst = workspace / "examples" / (name[:-3] + ".tvm")
    err = io.StringIO()
    rc = tvmc_main([str(src), "-o", str(dst)], stderr=err, stdout=io.StringIO())
    assert rc == 0, f"tvmc {name}: {err.getvalue()}"
    return dst


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "examples").glob("*.tl")))
def test_tvmc_examples_round_trip(workspace, name):
    """Every example compiled by tvmc loads (checksum, decoder, verifier) and
    prints what the source program prints."""
    want = run_cli(["run", str(workspace / "examples" / name)], seconds=30)
    got = run_cli(["run", str(_compile_example(workspace, name))], seconds=30)
    assert got.kind == "exit" and got.rc == want.rc and got.stdout == want.stdout, describe(got)


@pytest.fixture(scope="module")
def tvm_seeds(workspace) -> list[bytes]:
    """Compiled examples that load and run cleanly (a seed the loader rejects is
    reported by test_tvmc_examples_round_trip, not here)."""
    out = []
    for name in TVM_SEEDS:
        dst = _compile_example(workspace, name)
        o = run_cli(["run", str(dst)], seconds=10)
        if o.kind == "exit" and o.rc == 0:
            out.append(dst.read_bytes())
    if len(out) < 2:
        pytest.fail(f"only {len(out)} of the compiled examples {TVM_SEEDS} load and run; see test_tvmc_examples_round_trip")
    return out


def _mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 6))):
        if not b:
            b.append(rng.randrange(256))
            continue
        i = rng.randrange(len(b))
        kind = rng.randrange(7)
        if kind == 0:
            b[i] ^= 1 << rng.randrange(8)
        elif kind == 1:
            b[i] = rng.choice((0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)))
        elif kind == 2:
            del b[i:]
        elif kind == 3:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 4:
            j = min(len(b), i + rng.randint(1, 64))
            b[j:j] = b[i:j]
        elif kind == 5:
            del b[i : i + rng.randint(1, 16)]
        else:
            b[i] = (b[i] + rng.choice((-1, 1))) % 256
    return bytes(b)


_INTERESTING = (0, 1, 2, 3, -1, 7, 63, 64, 255, 256, 2**31, 2**63 - 1, -(2**63))


def _mutate_structure(rng: random.Random, bundle: Bundle) -> Bundle:
    """Well-formed files with wrong contents: instruction words, constants,
    arities, local counts, stack sizes."""
    key = rng.choice(list(bundle.modules))
    m = bundle.modules[key]
    init = m.init
    for _ in range(rng.choice((1, 1, 2))):
        target = rng.choice(all_codes(init))
        what = rng.randrange(6)
        if what <= 2 and target.code:  # an instruction word (opcode or operand)
            seq = list(target.code)
            i = rng.randrange(len(seq))
            seq[i] = rng.choice(_INTERESTING + (seq[i] + 1, max(0, seq[i] - 1), rng.randrange(100)))
            new = dataclasses.replace(target, code=tuple(seq))
        elif what == 3 and target.consts:  # a constant of another kind or value
            consts = list(target.consts)
            i = rng.randrange(len(consts))
            if type(consts[i]) is not Code:
                consts[i] = rng.choice((None, True, 0, -1, 2**63 - 1, -(2**63), 1.5, float("nan"), "", "x", ("a",)))
            new = dataclasses.replace(target, consts=tuple(consts))
        elif what == 4:
            new = dataclasses.replace(target, max_stack=max(0, target.max_stack + rng.choice((-2, -1, 1))))
        else:
            new = dataclasses.replace(target, arity=max(0, target.arity + rng.choice((-1, 1))))
        init = replace_code(init, target, new)
    modules = dict(bundle.modules)
    modules[key] = dataclasses.replace(m, init=init)
    return Bundle(bundle.main, modules)


def _patch_code(c: Code, name: str, fn) -> Code:
    """`c` with its nested code object called `name` (or itself) replaced by fn(code)."""
    if c.name == name:
        return fn(c)
    consts = tuple(_patch_code(k, name, fn) if type(k) is Code else k for k in c.consts)
    return dataclasses.replace(c, consts=consts)


def _nop_out(opname: str):
    from tinyvm.bytecode.opcodes import BY_NAME

    op, nop = BY_NAME[opname], BY_NAME["NOP"]

    def patch(c: Code) -> Code:
        seq = list(c.code)
        i = seq.index(op.code)
        seq[i : i + op.size] = [nop.code] * op.size
        return dataclasses.replace(c, code=tuple(seq))

    return patch


# Verifiable .tvm files with nonsensical contents, minimized from fuzzer finds:
# (source, function name, patch of that function's code object).
TVM_REGRESSIONS = {
    # BUILD_STRING over a constant that is not a string (the "a" prefix became 1.5).
    "build_string_non_string": (
        'let x = 1\nprint("a${x}")\n',
        "<module>",
        lambda c: dataclasses.replace(c, consts=tuple(1.5 if k == "a" else k for k in c.consts)),
    ),
    # A module's top-level code declared with one parameter.
    "module_code_with_arity": (
        "print(1)\n",
        "<module>",
        lambda c: dataclasses.replace(c, arity=1, nlocals=c.nlocals + 1, local_names=c.local_names + ("p",)),
    ),
    # LOAD_CELL of a local that never became a cell (its MAKE_CELL replaced by NOPs).
    "load_cell_of_plain_local": (
        "fn f() {\n  var n = 0\n  let g = fn() { n += 1 }\n  g()\n  return n\n}\nprint(f())\n",
        "f",
        _nop_out("MAKE_CELL"),
    ),
}


@pytest.mark.parametrize("name", sorted(TVM_REGRESSIONS))
def test_fuzz_tvm_regressions(workspace, name):
    from tinyvm.lang.driver import compile_program

    source, fn_name, patch = TVM_REGRESSIONS[name]
    src = workspace / "examples" / f"regression_{name}.tl"
    src.write_text(source, encoding="utf-8")
    bundle = compile_program(str(src))
    m = bundle.modules[bundle.main]
    init = _patch_code(m.init, fn_name, patch)
    target = workspace / "examples" / f"regression_{name}.tvm"
    target.write_bytes(dump_bundle(Bundle(bundle.main, {**bundle.modules, bundle.main: dataclasses.replace(m, init=init)})))
    o = run_cli(["run", "--max-depth", MAX_DEPTH, str(target)], seconds=10)
    assert o.kind != "timeout", "timed out"
    bad = violation(o, allow_load_error=True)
    assert bad is None, f"{bad}\n{describe(o)}"


def test_fuzz_tvm_files(workspace, tvm_seeds):
    rng = random.Random(SEED + 1)
    outcomes: Counter = Counter()
    failures: dict[str, tuple[int, str, bytes, Outcome]] = {}
    target = workspace / "examples" / "fuzz_case.tvm"
    start = time.perf_counter()
    for case in range(N_TVM_CASES):
        seed = rng.choice(tvm_seeds)
        layer = ("raw", "payload", "payload", "structure", "structure")[case % 5]
        if layer == "raw":
            data = _mutate_bytes(rng, seed)
        elif layer == "payload":
            data = with_payload(_mutate_bytes(rng, seed[HEADER_SIZE:]))
        else:
            data = dump_bundle(_mutate_structure(rng, load_bundle(seed)))
        target.write_bytes(data)
        o = run_cli(["run", "--max-depth", MAX_DEPTH, str(target)])
        if o.kind == "timeout":
            outcomes["timeout"] += 1
            continue
        outcomes[f"{layer} exit {o.rc}" if o.kind == "exit" else f"{layer} exception"] += 1
        if o.kind == "exit" and o.stderr.startswith("error: InternalError"):
            outcomes["internal errors (verified but nonsensical code)"] += 1
        bad = violation(o, allow_load_error=True)
        if bad is not None and bad not in failures and len(failures) < MAX_REPORTED:
            failures[bad] = (case, layer, data, o)
    elapsed = time.perf_counter() - start
    summary = f"{N_TVM_CASES} .tvm cases in {elapsed:.1f}s: {dict(sorted(outcomes.items()))}"
    print(summary)
    if failures:
        reports = []
        for bad, (case, layer, data, o) in failures.items():
            p = workspace / "examples" / f"fuzz_fail_{case}.tvm"
            p.write_bytes(data)
            reports.append(f"== {bad} (case {case}, {layer} mutation, file kept at {p})\n{describe(o)}")
        pytest.fail(summary + "\n\n" + "\n\n".join(reports), pytrace=False)
    # Mutants got past the checksum and the verifier and ran, not only rejected.
    ran = sum(v for k, v in outcomes.items() if k.endswith(("exit 0", "exit 1")))
    assert ran > N_TVM_CASES // 20, summary
    assert outcomes["timeout"] <= MAX_TIMEOUT_FRACTION * N_TVM_CASES, summary
