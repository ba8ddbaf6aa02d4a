"""The command line (cli/main.py, cli/options.py): every command answers
-h/--help, options parse one way everywhere, `tvm run -` and `tvm run -e`.

Most tests run `main(...)`/`tvmc_main(...)` in-process; the last section runs
the installed `tvm` and `tvmc` for what only a real process shows (exit
statuses, nothing but the usage on stdout). Host stream failures are in
test_host_io.py.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from tinyvm.bytecode.tvmfile import dump_bundle
from tinyvm.cli.main import main, tvmc_main
from tinyvm.lang.driver import compile_program

COMMANDS = ["run", "check", "disasm", "ir", "jit-dump", "prof", "repl", "help"]
ARGS = "import os\nprint(os.args)\n"
DEEP = "fn down(n) {\n  if n == 0 { return 0 }\n  return down(n - 1)\n}\nprint(down(20))\n"


def tvm(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def usage_error(argv: list[str], message: str) -> None:
    assert tvm(argv) == (64, "", f"tvm: {message}\n(see 'tvm --help')\n")


@pytest.fixture
def prog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write a program in a temporary folder (the current directory) and return its name."""
    monkeypatch.chdir(tmp_path)

    def write(name: str, text: str) -> str:
        (tmp_path / name).write_text(text, encoding="utf-8")
        return name

    return write


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize("flag", ["-h", "--help"])
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_answers_help(command: str, flag: str) -> None:
    code, out, err = tvm([command, flag])
    assert (code, err) == (0, "")
    if command == "help":  # `tvm help --help`: the overview
        assert out == tvm(["--help"])[1]
        return
    assert out.startswith(f"usage: tvm {command} ")
    assert "\noptions:\n  -h, --help " in out and "\nexamples:\n  tvm " in out
    assert tvm(["help", command]) == (0, out, "")  # `tvm help CMD` is `tvm CMD --help`
    assert tvm([flag, command]) == (0, out, "")  # also given before the command


def test_command_help_lists_its_options() -> None:
    run = tvm(["run", "--help"])[1]
    for spelled in ("--lang tinylang|lox", "-e CODE", "--gc-stress", "--max-depth N", "--budget N", "--warn-leaks", "--allow-read[=PATH,...]", "-A, --allow-all"):
        assert f"\n  {spelled} " in run
    assert "74 standard input or output failed" in run
    check = tvm(["check", "--help"])[1]
    # check compiles imports (--allow-read extends where they may read) but runs nothing
    assert "-e CODE" in check and "--max-depth" not in check and "--allow-read[=PATH,...]" in check and "--allow-write" not in check
    repl = tvm(["repl", "--help"])[1]
    assert "--max-depth N" in repl and "-A, --allow-all" in repl and "--warn-leaks" not in repl and "-e CODE" not in repl


def test_overview_names_every_command_and_exit_status() -> None:
    code, out, err = tvm(["--help"])
    assert (code, err) == (0, "")
    assert out.startswith("usage: tvm ")
    for command in COMMANDS:
        assert f"\n  {command} " in out
    assert "64 usage error, 74 standard input or output failed" in out
    assert "a Lox program: 65 compile errors, 70 runtime error" in out
    assert tvm(["-h"]) == (0, out, "") and tvm(["help"]) == (0, out, "")


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_tvmc_answers_help(flag: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert tvmc_main([flag], stderr=err, stdout=out) == 0
    text = out.getvalue()
    assert err.getvalue() == ""
    assert text.startswith("usage: tvmc ") and "\noptions:\n" in text and "\nexamples:\n  tvmc " in text
    assert "-o, --output FILE.tvm" in text


def test_help_for_an_unknown_command_is_a_usage_error() -> None:
    usage_error(["help", "nope"], "no help for 'nope': the commands are run, check, disasm, ir, jit-dump, prof, repl, record, replay, debug, heapdiff, dap, ide or help")


# --------------------------------------------------------------------------- option values


def test_value_options_take_both_forms(prog) -> None:
    """--opt=value and --opt value (and -oVALUE for a short one) mean the same."""
    p = prog("deep.tl", DEEP)
    assert tvm(["run", p]) == (0, "0\n", "")
    overflow = tvm(["run", "--max-depth", "5", p])
    assert overflow[0] == 1 and "StackOverflowError: maximum call depth exceeded" in overflow[2]
    assert tvm(["run", "--max-depth=5", p]) == overflow
    assert tvm(["run", "--budget=7", p]) == tvm(["run", "--budget", "7", p]) == (0, "0\n", "")
    lox = prog("prog.txt", "print 1 + 2;\n")
    assert tvm(["run", "--lang=lox", lox]) == tvm(["run", "--lang", "lox", lox]) == (0, "3\n", "")
    assert tvm(["run", "-e", "print(6 * 7)"]) == tvm(["run", "-eprint(6 * 7)"]) == (0, "42\n", "")
    assert tvm(["check", "--lang=lox", lox]) == tvm(["check", "--lang", "lox", lox]) == (0, "", "")


def test_tvmc_output_takes_every_form(prog, tmp_path: Path) -> None:
    p = prog("hello.tl", 'print("hi")\n')
    for args in (["-o", "a.tvm"], ["-oa.tvm"], ["--output", "a.tvm"], ["--output=a.tvm"]):
        target = tmp_path / "a.tvm"
        target.unlink(missing_ok=True)
        assert tvmc_main([p, *args], stderr=io.StringIO(), stdout=io.StringIO()) == 0, args
        assert tvm(["run", str(target)]) == (0, "hi\n", "")
    assert tvmc_main(["--lang=tinylang", "-o", "b.tvm", p], stderr=io.StringIO(), stdout=io.StringIO()) == 0
    assert (tmp_path / "b.tvm").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--max-depth"], "--max-depth needs a positive integer"),
        (["run", "--max-depth=0", "x.tl"], "--max-depth needs a positive integer"),
        (["run", "--max-depth=", "x.tl"], "--max-depth needs a positive integer"),
        (["run", "--budget", "-3", "x.tl"], "--budget needs a positive integer"),
        (["run", "--lang", "cobol", "x.tl"], "--lang needs 'tinylang' or 'lox'"),
        (["run", "--lang"], "--lang needs 'tinylang' or 'lox'"),
        (["run", "-e"], "-e needs the program's text"),
        (["run", "--gc-stress=1", "x.tl"], "--gc-stress takes no value"),
        (["run", "--allow-all=x", "x.tl"], "--allow-all takes no value"),
        (["run", "--allow-read=", "x.tl"], "--allow-read= needs a value (or use --allow-read for everything)"),
        (["run", "--max", "5", "x.tl"], "unknown option '--max' for run"),  # no abbreviations
        (["run", "--allow-bogus", "x.tl"], "unknown option '--allow-bogus' for run"),
        (["check", "--bogus", "x.tl"], "unknown option '--bogus' for check"),
        (["disasm", "x.tl", "--max-depth=3"], "unknown option '--max-depth' for disasm"),
        (["--warn-leaks", "check", "x.tl"], "unknown option '--warn-leaks' for check"),
        (["--warn-leaks"], "unknown option '--warn-leaks' for repl"),
        (["--nope", "run", "x.tl"], "unknown option '--nope'"),
        (["run"], "run needs a FILE"),
        (["check"], "check needs at least one FILE"),
        (["disasm", "a.tl", "b.tl"], "disasm needs exactly one FILE"),
        (["repl", "x.tl"], "repl takes no FILE (to run 'x.tl': tvm run x.tl)"),
        (["rnu", "x.tl"], "unknown command 'rnu'"),
    ],
)
def test_usage_errors(argv: list[str], message: str) -> None:
    usage_error(argv, message)


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], None),
        (["a.tl", "b.tl"], "tvmc: only one input file"),
        (["-o"], "tvmc: -o needs a file name"),
        (["--output"], "tvmc: --output needs a file name"),
        (["--bogus", "a.tl"], "tvmc: unknown option '--bogus'"),
        (["-o", "x.tvm"], "tvmc: no input file"),
        (["-", ], "tvmc: a program read from standard input (-) needs -o FILE.tvm"),
    ],
)
def test_tvmc_usage_errors(argv: list[str], message: str | None) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert tvmc_main(argv, stderr=err, stdout=out) == 64
    assert out.getvalue() == ""
    if message is None:  # no arguments at all: the usage, on stderr
        assert err.getvalue().startswith("usage: tvmc ")
    else:
        assert err.getvalue() == f"{message}\n(see 'tvmc --help')\n"


# --------------------------------------------------------------------------- options before the command


def test_options_before_the_command_work_as_after_it(prog) -> None:
    p = prog("deep.tl", DEEP)
    after = tvm(["run", "--max-depth", "5", p])
    assert after[0] == 1
    assert tvm(["--max-depth", "5", "run", p]) == after
    assert tvm(["--max-depth=5", p]) == after  # `tvm [options] FILE` is `tvm run [options] FILE`
    assert tvm(["--gc-stress", "run", p]) == tvm(["run", "--gc-stress", p]) == (0, "0\n", "")
    lox = prog("prog.txt", "print 1 + 2;\n")
    assert tvm(["--lang", "lox", "run", lox]) == tvm(["--lang", "lox", lox]) == (0, "3\n", "")
    assert tvm(["--lang=lox", "check", lox]) == (0, "", "")
    # Later wins: the command's own option overrides one given before it.
    assert tvm(["--max-depth=5", "run", "--max-depth=100", p]) == (0, "0\n", "")


def test_capability_flags_before_the_command(prog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TVM_CLI_PROBE", "yes")
    p = prog("env.tl", 'import os\nprint(os.env("TVM_CLI_PROBE"))\n')
    assert tvm(["-A", p]) == tvm(["-A", "run", p]) == tvm(["run", "-A", p]) == (0, "yes\n", "")
    assert tvm(["--allow-env=TVM_CLI_PROBE", "run", p]) == (0, "yes\n", "")
    assert "PermissionError" in tvm(["run", p])[2]
    code, out, err = tvm(["-A", "repl"], stdin='import os\nos.env("TVM_CLI_PROBE")\n')
    assert (code, err) == (0, "") and '"yes" : ' in out


def test_repl_takes_the_vm_options() -> None:
    code, out, err = tvm(["repl", "--max-depth=5"], stdin=DEEP.replace("print(down(20))", "down(20)\ndown(2)"))
    assert code == 0
    assert "StackOverflowError: maximum call depth exceeded" in err
    assert "0 : " in out  # the session went on
    assert tvm(["--gc-stress", "repl"], stdin="[1, 2] + [3]\n") == (0, ">>> [1, 2, 3] : [int]\n>>> \n", "")


# --------------------------------------------------------------------------- program arguments


def test_every_word_after_file_is_the_programs(prog) -> None:
    p = prog("args.tl", ARGS)
    words = ["-h", "--help", "--", "--max-depth=3", "-A", "-", "-e", "x"]
    assert tvm(["run", p, *words]) == (0, '["-h", "--help", "--", "--max-depth=3", "-A", "-", "-e", "x"]\n', "")
    assert tvm([p, *words]) == tvm(["run", p, *words])


def test_double_dash_ends_the_options(prog) -> None:
    p = prog("-dash.tl", ARGS)
    assert tvm(["run", "--", p, "a"]) == (0, '["a"]\n', "")
    assert tvm(["run", "--gc-stress", "--", p, "--", "b"]) == (0, '["--", "b"]\n', "")
    assert tvm(["--", p]) == (0, "[]\n", "")


def test_a_word_is_a_program_only_when_it_names_one(prog) -> None:
    p = prog("script", 'print("ran")\n')  # an existing file, no extension
    assert tvm([p]) == (0, "ran\n", "")
    usage_error(["nosuch"], "unknown command 'nosuch'")


# --------------------------------------------------------------------------- -e and -


def test_run_e_runs_a_one_liner() -> None:
    assert tvm(["run", "-e", "import os\nprint(os.args)", "a", "-b"]) == (0, '["a", "-b"]\n', "")
    assert tvm(["-e", "print(1 + 2)"]) == (0, "3\n", "")
    assert tvm(["run", "--lang", "lox", "-e", "print 1 + 2;"]) == (0, "3\n", "")
    code, out, err = tvm(["run", "-e", "print(nope)"])
    assert (code, out) == (2, "")
    assert err == "<string>:1:7: error: undeclared name 'nope'\n    print(nope)\n          ^\n"
    code, _, err = tvm(["run", "-e", "fn f() { return 1 / 0 }\nf()"])
    assert code == 1 and err == "error: ZeroDivisionError: division by zero\n  at f (<string>:1:19)\n  at <module> (<string>:2:1)\n"


def test_run_dash_reads_the_program_from_stdin() -> None:
    assert tvm(["run", "-", "x"], stdin="import os\nprint(os.args)\nprint(input())\n") == (0, '["x"]\nnil\n', "")
    assert tvm(["-"], stdin="print(2)") == (0, "2\n", "")
    assert tvm(["run", "--lang=lox", "-"], stdin="print 1 + 2;") == (0, "3\n", "")
    code, out, err = tvm(["run", "-"], stdin="let = 1\n")
    assert (code, out) == (2, "") and err.startswith("<stdin>:1:5: error: ")


def _binary_stdin(data: bytes) -> io.TextIOWrapper:
    """A text stream over bytes, with `.buffer`, as sys.stdin is."""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")


def test_run_dash_reads_a_tvm_file_or_bytes(tmp_path: Path) -> None:
    src = tmp_path / "hello.tl"
    src.write_text('print("from a .tvm")\n', encoding="utf-8")
    data = dump_bundle(compile_program(str(src)))
    out, err = io.StringIO(), io.StringIO()
    assert main(["run", "-"], stdin=_binary_stdin(data), stdout=out, stderr=err) == 0
    assert (out.getvalue(), err.getvalue()) == ("from a .tvm\n", "")
    out, err = io.StringIO(), io.StringIO()
    assert main(["run", "-"], stdin=_binary_stdin(b"print(1)\n\xff"), stdout=out, stderr=err) == 2
    assert err.getvalue() == "<stdin>:2:1: error: source is not valid UTF-8\n"
    out, err = io.StringIO(), io.StringIO()
    assert main(["run", "-"], stdin=_binary_stdin(data[:-3]), stdout=out, stderr=err) == 2
    assert err.getvalue().startswith("error: <stdin>: bad .tvm file: ")


def test_check_and_disasm_take_dash_and_e() -> None:
    code, out, err = tvm(["check", "-e", 'let n: int = "one"'])
    assert (code, out) == (2, "") and err.startswith("<string>:1:14: error: variable 'n': expected int, got string")
    assert tvm(["check", "-"], stdin="print(1)\n") == (0, "", "")
    code, out, err = tvm(["disasm", "-e", "print(1)"])
    assert (code, err) == (0, "") and out.startswith("=== module <string> (tinylang) ===\n")
    assert tvm(["disasm", "-"], stdin="print(1)") == (code, out.replace("<string>", "<stdin>"), err)


def test_tvmc_reads_stdin_with_output(tmp_path: Path) -> None:
    target = tmp_path / "out.tvm"
    err = io.StringIO()
    assert tvmc_main(["-", "-o", str(target)], stderr=err, stdout=io.StringIO(), stdin=io.StringIO('print("piped")\n')) == 0
    assert err.getvalue() == ""
    assert tvm(["run", str(target)]) == (0, "piped\n", "")


# --------------------------------------------------------------------------- the installed commands


def _exe(name: str) -> list[str]:
    """The installed console script next to this Python, else `python -m`."""
    script = Path(sys.executable).parent / name
    if script.exists():
        return [str(script)]
    assert name == "tvm"
    return [sys.executable, "-m", "tinyvm.cli.main"]


def _run(argv: list[str], stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, cwd=cwd)


@pytest.mark.parametrize("argv", [["run", "--help"], ["run", "-h"], ["check", "--help"], ["disasm", "--help"], ["repl", "-h"], ["--help"]])
def test_installed_tvm_answers_help(argv: list[str]) -> None:
    p = _run(_exe("tvm") + argv)
    assert (p.returncode, p.stderr) == (0, "")
    assert p.stdout.startswith("usage: tvm") and "options" in p.stdout


def test_installed_tvmc_answers_help() -> None:
    p = _run(_exe("tvmc") + ["--help"])
    assert (p.returncode, p.stderr) == (0, "")
    assert p.stdout.startswith("usage: tvmc ")


def test_installed_tvm_reads_stdin_and_e(tmp_path: Path) -> None:
    p = _run(_exe("tvm") + ["run", "-", "a"], stdin="import os\nprint(os.args, 6 * 7)\n")
    assert (p.returncode, p.stdout, p.stderr) == (0, '["a"] 42\n', "")
    p = _run(_exe("tvm") + ["-e", "print(6 * 7)"])
    assert (p.returncode, p.stdout, p.stderr) == (0, "42\n", "")
    (tmp_path / "x.tl").write_text("print(1)\n", encoding="utf-8")
    p = _run(_exe("tvm") + ["--gc-stress", "run", "x.tl"], cwd=tmp_path)
    assert (p.returncode, p.stdout, p.stderr) == (0, "1\n", "")
    p = _run(_exe("tvm") + ["run", "--max-depth=5"], cwd=tmp_path)
    assert (p.returncode, p.stdout) == (64, "") and p.stderr == "tvm: run needs a FILE\n(see 'tvm --help')\n"



@pytest.mark.parametrize("argv", [["run", "-h", "--allow-all=1"], ["check", "--help", "--nope"], ["-h", "--bogus"], ["disasm", "-h", "--lang", "nosuch"]])
def test_help_answers_whatever_follows_it(argv):
    # -h/--help answers at once, as argparse does: a bad option after it is not
    # a usage error (found by tests/fuzz/test_fuzz_cli.py).
    code, out, err = tvm(argv)
    assert (code, err) == (0, "") and out.startswith("usage: tvm")


def test_a_bad_option_before_help_is_still_a_usage_error():
    code, out, err = tvm(["run", "--max-depth=x", "-h"])
    assert (code, out) == (64, "") and err.startswith("tvm: --max-depth needs a positive integer")
