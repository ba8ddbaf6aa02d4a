"""Fuzzing the command line and the host streams (hypothesis), in-process.

Command lines: random sequences drawn from the words the CLI knows (commands,
every option with and without a value, `--`, `-`, `-e` and its code, file
names of good and bad programs, junk) run through `main` and `tvmc_main`. The
property, whatever the words:

* no Python exception escapes, and stderr never holds a traceback;
* the status is one the docs list (0, 1, 2, 64, 65, 70);
* a usage error (64) writes nothing to stdout and exactly `tvm: MESSAGE` and
  `(see 'tvm --help')` to stderr (`tvmc: ...`, `(see 'tvmc --help')`), or, for
  `tvmc` without arguments, its usage;
* a help request answers on stdout with status 0 and nothing on stderr.

Host streams: a program (TinyLang or Lox: print, prompts, fibers, errors,
os.exit) runs with a stdout that fails after N writes with a random errno.
The property: when a write failed, the status is 74 and stderr ends with the
one line `error: cannot write to stdout: REASON` -- except for a broken pipe,
which ends quietly (status 0 when the program was still running, else its
own); when none failed, the status is the program's own; never an
InternalError, never a traceback.
Knob: TVM_FUZZ_CLI_CASES (examples per property, default 150).
"""

from __future__ import annotations

import errno
import io
import os
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tinyvm.cli.main import main, tvmc_main  # noqa: E402

CASES = int(os.environ.get("TVM_FUZZ_CLI_CASES", "150"))
STATUSES = {0, 1, 2, 64, 65, 70}

FILES = {
    "ok.tl": 'import os\nprint("ok", os.args)\n',
    "bad.tl": "let = 1\n",
    "err.tl": "print(1 / 0)\n",
    "ok.lox": 'print "ok";\n',
    "bad.lox": "print ;\n",
    "deep.tl": "fn down(n) {\n  if n == 0 { return 0 }\n  return down(n - 1)\n}\nprint(down(50))\n",
}
WORDS = [
    "run", "check", "disasm", "repl", "help", "rnu",
    "-h", "--help", "-V", "--version", "--", "-", "-e", "print(1)", "-eprint(2)", "print 3;",
    "--lang", "--lang=lox", "--lang=tinylang", "lox", "tinylang", "cobol", "--lang=",
    "--gc-stress", "--gc-stress=1", "--max-depth", "--max-depth=5", "5", "0", "-3", "x", "--max-depth=",
    "--budget", "--budget=7", "--warn-leaks", "--max",
    "--allow-read", "--allow-read=.", "--allow-read=", "--allow-net=localhost:1", "--allow-env", "-A", "--allow-all", "--allow-all=1", "--allow-bogus",
    "-o", "--output", "--output=out.tvm", "-oout2.tvm", "out.tvm",
    "ok.tl", "bad.tl", "err.tl", "ok.lox", "bad.lox", "deep.tl", "ok.tvm", "missing.tl", "junk", "-x", "--x=1", "",
]
SETTINGS = settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory(prefix="tvm-fuzz-cli-") as d:
        for name, text in FILES.items():
            Path(d, name).write_text(text, encoding="utf-8")
        cwd = os.getcwd()
        os.chdir(d)
        try:
            assert tvmc_main(["ok.tl", "-o", "ok.tvm"], stderr=io.StringIO(), stdout=io.StringIO()) == 0
            yield Path(d)
        finally:
            os.chdir(cwd)


def _check_usage(code: int, out: str, err: str, prog: str) -> None:
    assert "Traceback" not in err and "Traceback" not in out
    assert code in STATUSES, (code, err)
    if code == 64 and not err.startswith(f"usage: {prog}"):
        assert out == ""
        assert err.startswith(f"{prog}: ") and err.endswith(f"\n(see '{prog} --help')\n") and err.count("\n") == 2, err


@SETTINGS
@given(st.lists(st.sampled_from(WORDS), max_size=7))
def test_any_command_line(workdir: Path, argv: list[str]) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO("print(4)\n"), stdout=out, stderr=err)
    _check_usage(code, out.getvalue(), err.getvalue(), "tvm")
    if argv[:2] in (["run", "-h"], ["run", "--help"], ["check", "--help"], ["disasm", "-h"]):
        assert (code, err.getvalue()) == (0, "") and out.getvalue().startswith("usage: tvm ")


@SETTINGS
@given(st.lists(st.sampled_from(WORDS), max_size=5))
def test_any_tvmc_command_line(workdir: Path, argv: list[str]) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = tvmc_main(argv, stderr=err, stdout=out, stdin=io.StringIO("print(4)\n"))
    _check_usage(code, out.getvalue(), err.getvalue(), "tvmc")


# --------------------------------------------------------------------------- host streams


class FailAfter(io.TextIOBase):
    """A stdout whose writes succeed `n` times, then fail with `code` (and
    keep failing, as a real descriptor does)."""

    def __init__(self, n: int, code: int) -> None:
        self.n, self.code = n, code
        self.failed = False

    def write(self, text: str) -> int:
        if self.n == 0:
            self.failed = True
            raise OSError(self.code, os.strerror(self.code))
        self.n -= 1
        return len(text)

    def flush(self) -> None:
        if self.failed:
            raise OSError(self.code, os.strerror(self.code))


PROGRAMS = [
    ('print("a")\nprint("b", 2)\nprint([1, 2])\n', "prog.tl", 0),
    ('let name = input("who? ")\nprint("hi ${name}")\n', "prog.tl", 0),
    ("class P { fn str() -> string { return \"p\" } }\nfor i in 0..3 { print(P(), i) }\n", "prog.tl", 0),
    ("fn w(n) { print(\"w\", n) }\nlet ts = [spawn w(1), spawn w(2)]\nfor t in ts { await t }\nprint(\"end\")\n", "prog.tl", 0),
    ('print("before")\nprint(1 / 0)\n', "prog.tl", 1),
    ('try { print("x") } catch e { print("caught") }\nprint("after")\n', "prog.tl", 0),
    ('import os\nprint("bye")\nos.exit(3)\n', "prog.tl", 3),
    ('print "a"; print 1 + 2; print nil;\n', "prog.lox", 0),
    ('print "a"; print -"x";\n', "prog.lox", 70),
]


@SETTINGS
@given(
    st.sampled_from(PROGRAMS),
    st.integers(min_value=0, max_value=6),
    st.sampled_from([errno.ENOSPC, errno.EIO, errno.EBADF, errno.EPIPE]),
)
def test_a_failing_stdout_is_always_status_74(workdir: Path, program: tuple[str, str, int], n: int, code: int) -> None:
    source, name, status = program
    path = workdir / f"streams_{name}"
    path.write_text(source, encoding="utf-8")
    stdout, err = FailAfter(n, code), io.StringIO()
    got = main(["run", str(path)], stdin=io.StringIO("you\n"), stdout=stdout, stderr=err)
    text = err.getvalue()
    assert "Traceback" not in text and "InternalError" not in text and "corrupt bytecode" not in text
    if stdout.failed and code != errno.EPIPE:
        assert got == 74, text
        assert text.endswith(f"error: cannot write to stdout: {os.strerror(code)}\n")
        assert text.count("cannot write to stdout") == 1
    elif stdout.failed:  # a broken pipe: the run ends quietly where it was (0), or with its own status
        assert got in (0, status) and "cannot write" not in text, text
    else:
        assert got == status, text
        assert "cannot write" not in text
