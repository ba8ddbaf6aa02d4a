"""The Lox front end outside the conformance files: its output passes the
verifier and survives a .tvm round trip, the command line (run, disasm,
check, tvmc, --lang, the REPL), the scanner, and robustness (no input makes
the front end fail with a host exception)."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from tinyvm.api import VM
from tinyvm.bytecode.tvmfile import dump_bundle, load_bundle
from tinyvm.bytecode.verifier import verify_module
from tinyvm.cli.main import main, tvmc_main
from tinyvm.cli.repl import run_repl
from tinyvm.lang.driver import compile_program
from tinyvm.lang.diagnostics import CompileError
from tinyvm.lang.lox.errors import LoxCompileError
from tinyvm.lang.lox.lexer import EOF, ERROR, IDENTIFIER, NUMBER, STRING, tokenize
from tinyvm.runtime.errors import GuestException

ROOT = Path(__file__).resolve().parents[2]
LOX_FILES = sorted(
    p
    for folder in (ROOT / "tests" / "lox", ROOT.parent / "shared" / "lox-tests")
    if folder.is_dir()
    for p in folder.rglob("*.lox")
)


def run(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


# --------------------------------------------------------------------------- verifier


@pytest.mark.parametrize("path", LOX_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_lox_code_verifies_and_round_trips(path: Path) -> None:
    try:
        bundle = compile_program(str(path))
    except CompileError:
        pytest.skip("a compile-error test")
    for module in bundle.modules.values():
        assert module.lang == "lox"
        verify_module(module)
    data = dump_bundle(bundle)
    assert dump_bundle(load_bundle(data)) == data


# --------------------------------------------------------------------------- command line


def test_run_exit_statuses_and_formats(tmp_path: Path) -> None:
    ok = tmp_path / "ok.lox"
    ok.write_text('print "hi";\n', encoding="utf-8")
    assert run(["run", str(ok)]) == (0, "hi\n", "")
    assert run([str(ok)]) == (0, "hi\n", "")  # `tvm FILE.lox`
    bad = tmp_path / "bad.lox"
    bad.write_text("print 1 +;\nvar;\n", encoding="utf-8")
    code, out, err = run(["run", str(bad)])
    assert (code, out) == (65, "")
    assert err == "[line 1] Error at ';': Expect expression.\n[line 2] Error at ';': Expect variable name.\n"
    boom = tmp_path / "boom.lox"
    boom.write_text('fun f() {\n  return "a" - 1;\n}\nprint "before";\nf();\n', encoding="utf-8")
    assert run(["run", str(boom)]) == (70, "before\n", "Operands must be numbers.\n[line 2] in f()\n[line 5] in script\n")


def test_lang_option_forces_the_front_end(tmp_path: Path) -> None:
    src = tmp_path / "prog.txt"
    src.write_text("print 1 + 2;\n", encoding="utf-8")
    assert run(["run", "--lang", "lox", str(src)]) == (0, "3\n", "")
    assert run(["run", "--lang=lox", str(src)]) == (0, "3\n", "")
    assert run(["--lang", "lox", str(src)]) == (0, "3\n", "")
    code, _, err = run(["run", "--lang", "cobol", str(src)])
    assert code == 64 and "--lang needs" in err
    tl = tmp_path / "prog.lox"
    tl.write_text('print("tinylang")\n', encoding="utf-8")
    assert run(["run", "--lang", "tinylang", str(tl)]) == (0, "tinylang\n", "")


def test_tvmc_and_run_of_a_lox_bundle(tmp_path: Path) -> None:
    src = tmp_path / "prog.lox"
    src.write_text("fun f(x) { return x * 2; }\nprint f(21);\nnil.x;\n", encoding="utf-8")
    assert tvmc_main([str(src)], stderr=io.StringIO(), stdout=io.StringIO()) == 0
    tvm = tmp_path / "prog.tvm"
    assert tvm.is_file()
    # The .tvm file knows its main module is Lox: clox's status and format.
    assert run(["run", str(tvm)]) == (70, "42\n", "Only instances have properties.\n[line 3] in script\n")
    bad = tmp_path / "bad.lox"
    bad.write_text("var = 1;\n", encoding="utf-8")
    err = io.StringIO()
    assert tvmc_main([str(bad)], stderr=err, stdout=io.StringIO()) == 65
    assert err.getvalue() == "[line 1] Error at '=': Expect variable name.\n"


def test_disasm_and_check(tmp_path: Path) -> None:
    src = tmp_path / "prog.lox"
    src.write_text("var a = 1;\nif (a) print a;\n", encoding="utf-8")
    code, out, err = run(["disasm", str(src)])
    assert code == 0 and err == ""
    assert "=== module " in out and "(lox)" in out
    assert "JUMP_IF_FALSY" in out and "PRINT             1" in out
    assert run(["check", str(src)]) == (0, "", "")
    bad = tmp_path / "bad.lox"
    bad.write_text("print;\n", encoding="utf-8")
    assert run(["check", str(bad)]) == (65, "", "[line 1] Error at ';': Expect expression.\n")


def test_repl_lox_session() -> None:
    out, err = io.StringIO(), io.StringIO()
    entries = "var a = 1;\nfun add(x) {\n  return a + x;\n}\nprint add(2);\nprint nope;\nprint 1 +;\na = 10;\nprint add(1);\n:quit\n"
    assert run_repl(io.StringIO(entries), out, err, "lox") == 0
    printed = [ln for ln in out.getvalue().replace(">>> ", "").replace("... ", "").split("\n") if ln]
    assert printed == ["3", "11"]
    assert err.getvalue() == "Undefined variable 'nope'.\n[line 1] in script\n[line 1] Error at ';': Expect expression.\n"


def test_repl_lox_through_main() -> None:
    code, out, _ = run(["repl", "--lang", "lox"], stdin='print "x" + "y";\n')
    assert code == 0 and "xy" in out


# --------------------------------------------------------------------------- scanner


def test_scanner_positions() -> None:
    toks = tokenize('var s = "a\nb";\n  x 1.5 .5 5.')
    kinds = [(t.type, t.text, t.line) for t in toks]
    assert kinds[3] == (STRING, '"a\nb"', 2)  # a string's line is its end's
    assert (toks[5].type, toks[5].line, toks[5].col) == (IDENTIFIER, 3, 3)
    assert [t.type for t in toks[6:]] == [NUMBER, ".", NUMBER, NUMBER, ".", EOF]
    errs = tokenize("é")
    assert [t.type for t in errs] == [ERROR, ERROR, EOF]  # one per UTF-8 byte, as clox


# --------------------------------------------------------------------------- robustness

_PIECES = (
    "var", "fun", "class", "if", "else", "while", "for", "return", "print", "this", "super", "and", "or",
    "nil", "true", "false", "a", "b", "f", "init", "(", ")", "{", "}", ";", ",", ".", "=", "==", "!", "-",
    "+", "*", "/", "<", ">=", "1", "2.5", '"s"', '"x', "<", "\n", "#", "é", "// c\n",
)


def test_random_token_soup_never_crashes_the_front_end() -> None:
    rng = random.Random(5)
    for _ in range(1500):
        text = " ".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 40)))
        try:
            compile_program("soup.lox", source=text)
        except LoxCompileError as e:
            assert e.render().startswith("[line ")


def test_random_programs_run_or_fail_cleanly() -> None:
    """Generated programs that compile either run or stop with a Lox runtime
    error: never a host traceback."""
    rng = random.Random(11)
    exprs = ["1", '"s"', "nil", "true", "a", "b", "a + b", "-a", "!b", "a * 2", "f(a)", "o.x", "o.m()", "A()", "(a = b)"]
    stmts = ["print {e};", "a = {e};", "b = {e};", "if ({e}) print 1; else print 2;", "o.x = {e};", "{e};"]
    prelude = "var a = 1; var b = 2; fun f(x) { return x; } class A { m() { return this; } } var o = A();\n"
    for _ in range(150):
        body = "\n".join(rng.choice(stmts).format(e=rng.choice(exprs)) for _ in range(rng.randint(1, 8)))
        vm = VM(stdout=io.StringIO())
        try:
            vm.run_source(prelude + body, path="gen.lox", lang="lox")
        except Exception as e:  # only guest errors may escape
            assert isinstance(e, (GuestException, CompileError)), f"{type(e).__name__}: {e}\n{body}"


@pytest.mark.parametrize(
    "source",
    [
        "print " + "(" * 2000 + "1" + ")" * 2000 + ";",
        "print " + "-" * 3000 + "1;",
        "".join(f"fun f{i}() {{\n" for i in range(2000)) + "}\n" * 2000,
        "{\n  var a = 1;\n" + "if (a) " * 2000 + "print a;\n}",  # (a local: no constants)
    ],
    ids=["parens", "unary", "functions", "statements"],
)
def test_too_much_nesting_is_one_error(source: str) -> None:
    """TinyVM's one limit that clox has not: nesting deeper than the parser's
    (it recurses in Python) is a single clear error, never a host exception."""
    with pytest.raises(LoxCompileError) as e:
        compile_program("deep.lox", source=source)
    lines = e.value.render().splitlines()
    assert len(lines) == 1 and lines[0].endswith("Too much nesting."), lines[:3]


def test_nesting_below_the_limit_compiles_and_runs() -> None:
    # Functions nest at most 64 deep (the .tvm format's limit), the rest 1500.
    source = "print " + "(" * 1000 + "1" + ")" * 1000 + ";\n" + "".join(f"fun f{i}() {{\n" for i in range(64)) + "}\n" * 64
    out = io.StringIO()
    VM(stdout=out).run_source(source, path="deep.lox", lang="lox")
    assert out.getvalue() == "1\n"
