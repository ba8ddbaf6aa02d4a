"""The example front end, examples/frontend/calc.py (docs/frontends.md): a
language added by a host, outside the package, goes through the same driver,
CLI, REPL and embedding API as the built-in ones. If the front-end interface
breaks, these tests fail.

calc.py is not a package module: it is loaded by path, and registered with
`Languages.default().add(calc.FRONTEND)`."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from types import ModuleType

import pytest

from tinyvm.api import VM
from tinyvm.bytecode.tvmfile import dump_bundle, load_bundle
from tinyvm.bytecode.verifier import verify_module
from tinyvm.cli.main import main, tvmc_main
from tinyvm.cli.repl import run_repl
from tinyvm.lang.diagnostics import CompileError
from tinyvm.lang.driver import Languages, compile_program
from tinyvm.runtime.errors import GuestException

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "frontend"
DEMO = EXAMPLE / "demo.calc"
DEMO_OUT = (EXAMPLE / "demo.out").read_text(encoding="utf-8")


def _load_calc() -> ModuleType:
    spec = importlib.util.spec_from_file_location("calc_frontend_example", EXAMPLE / "calc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


calc = _load_calc()
LANGS = Languages.default().add(calc.FRONTEND)


def tvm(argv: list[str], stdin: str = "", languages: Languages | None = LANGS) -> tuple[int, str, str]:
    """`tvm ARGV` in-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(stdin), stdout=out, stderr=err, languages=languages)
    return code, out.getvalue(), err.getvalue()


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------- registration


def test_the_front_end_is_registered_by_the_host() -> None:
    fe = calc.FRONTEND
    assert (fe.name, fe.title, fe.extensions, fe.dialect, fe.default) == ("calc", "Calc", (".calc",), "tinylang", False)
    assert LANGS.get("calc") is fe and LANGS.for_path("x/y.calc") is fe
    assert LANGS.default_frontend is Languages.default().default_frontend  # still TinyLang
    assert LANGS.names == ("tinylang", "calc", "lox")
    assert Languages.default().get("calc") is None  # add() made a new set
    with pytest.raises(ValueError, match="share a name"):
        LANGS.add(calc.Calc())  # a second "calc"

    class Other(calc.Calc):
        name = "other"

    with pytest.raises(ValueError, match="same extension"):
        LANGS.add(Other())  # a second .calc front end

    class NewDialect(calc.Calc):
        name, extensions, dialect = "newdialect", (".nd",), "calc"

    with pytest.raises(ValueError, match="dialect"):
        LANGS.add(NewDialect())  # a dialect is a VM change: bytecode.code.LANGS


# --------------------------------------------------------------------------- driver


def test_demo_compiles_verifies_and_round_trips() -> None:
    bundle = compile_program(str(DEMO), languages=LANGS)
    assert list(bundle.modules) == [bundle.main] == ["demo"]
    module = bundle.modules["demo"]
    assert module.lang == "tinylang"
    assert module.globals == ("width", "height", "area", "total")
    assert (module.exports, module.imports) == ((), ())
    verify_module(module)
    data = dump_bundle(bundle)
    again = load_bundle(data)  # decodes and verifies
    assert again.modules["demo"].globals == module.globals
    assert dump_bundle(again) == data


def test_check_only_compiles_without_code() -> None:
    class Ctx:
        key = path = "m"
        check_only = True
        privileged = False

    result = calc.FRONTEND.compile_module("let a = 1\nprint a\n", Ctx())
    assert (result.code, result.exports, result.diagnostics) == (None, {}, [])
    Ctx.check_only = False
    assert calc.FRONTEND.compile_module("let a = 1\n", Ctx()).code.globals == ("a",)


def test_a_tinylang_program_is_not_calc() -> None:
    src = 'fn add(a: int, b: int) -> int {\n  return a + b\n}\nprint(add(1, 2))\n'
    with pytest.raises(CompileError) as info:
        compile_program("prog.tl", source=src, lang="calc", languages=LANGS)
    assert [(d.line, d.col, d.message) for d in info.value.diagnostics] == [
        (1, 1, "expected 'let' or 'print', found 'fn'"),
        (2, 3, "expected 'let' or 'print', found 'return'"),
        (3, 1, "unexpected character '}'"),
        (4, 7, "unknown name 'add' (no 'let add' before)"),
    ]
    assert compile_program("prog.tl", source=src, languages=LANGS).modules["prog"].lang == "tinylang"


def test_tinylang_imports_a_calc_file(tmp_path: Path) -> None:
    # The driver finds ./setup by extension (.tl, .tvm, then the other
    # languages') and compiles it with the calc front end; it runs once.
    write(tmp_path, "setup.calc", "let n = 6 * 7\nprint n\n")
    main_tl = write(tmp_path, "main.tl", 'import "./setup" as a\nimport "./setup.calc" as b\nprint("main")\n')
    bundle = compile_program(main_tl, languages=LANGS)
    assert sorted(bundle.modules) == ["main", "setup"]
    assert bundle.modules["setup"].lang == "tinylang"
    assert tvm(["run", main_tl]) == (0, "42\nmain\n", "")
    # Compiled to a .tvm, the program runs on any VM, one without calc too:
    # "./setup" is the module's key, and so is "./setup.calc" once the VM
    # drops the extension it does not know.
    for name, text in [("plain", 'import "./setup" as a\nprint("plain")\n'), ("named", 'import "./setup.calc" as b\nprint("named")\n')]:
        out = str(tmp_path / f"{name}.tvm")
        assert tvmc_main([write(tmp_path, f"{name}.tl", text), "-o", out], stderr=io.StringIO(), languages=LANGS) == 0
        assert tvm(["run", out], languages=None) == (0, f"42\n{name}\n", "")


# --------------------------------------------------------------------------- command line


def test_run_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert tvm(["run", "examples/frontend/demo.calc"]) == (0, DEMO_OUT, "")
    assert tvm(["examples/frontend/demo.calc"]) == (0, DEMO_OUT, "")  # `tvm FILE.calc`
    # Without the calc front end the extension is unknown: TinyLang, the
    # default language, compiles it, and fails (its `#` is no comment).
    code, out, err = tvm(["run", "examples/frontend/demo.calc"], languages=None)
    assert (code, out) == (2, "")
    assert err.startswith("examples/frontend/demo.calc:1:1: error: ")


def test_demo_out_is_what_the_rules_say() -> None:
    # demo.out was written by hand; the same values computed in Python
    # (C-style truncating division) agree with it.
    width, height = 12, 5
    area = width * height - 10
    expected = [width * height, width + height * 2, (width + height) * 2, 20 - 6 - 4, area,
                -(7 // 2), -(3 - 10) * -2, width + height + area, -(2**63)]  # fmt: skip
    assert DEMO_OUT == "".join(f"{v}\n" for v in expected)


def test_tvmc_then_run(tmp_path: Path) -> None:
    out = str(tmp_path / "demo.tvm")
    err = io.StringIO()
    assert tvmc_main([str(DEMO), "-o", out], stderr=err, languages=LANGS) == 0
    assert err.getvalue() == ""
    assert tvm(["run", out]) == (0, DEMO_OUT, "")
    # The .tvm is plain bytecode: running it needs no calc front end.
    assert tvm(["run", out], languages=None) == (0, DEMO_OUT, "")
    # tvmc without calc compiles demo.calc as TinyLang, and fails.
    assert tvmc_main([str(DEMO), "-o", out], stderr=io.StringIO()) == 2


def test_check_reports_every_error(tmp_path: Path) -> None:
    src = write(tmp_path, "bad.calc", "let a = 1\nprint a + y\nprint $ $ $\nlet b = (1 +\n   2\nprint a\n")
    code, out, err = tvm(["check", src])
    assert (code, out) == (2, "")
    assert err == (
        f"{src}:2:11: error: unknown name 'y' (no 'let y' before)\n"
        "    print a + y\n"
        "              ^\n"
        f"{src}:3:7: error: unexpected character '$'\n"
        "    print $ $ $\n"
        "          ^\n"
        f"{src}:4:9: error: unclosed '('\n"
        "    let b = (1 +\n"
        "            ^\n"
    )
    good = write(tmp_path, "good.calc", "let a = 1\nprint a\n")
    assert tvm(["check", good]) == (0, "", "")
    assert tvm(["run", src])[0] == 2  # run compiles the same way


@pytest.mark.parametrize(
    "source, printed, position, message",
    [
        ("let b = 0\nprint (10 /\n  (b + 1))\nprint 7 / b\n", "10\n", "4:9", "ZeroDivisionError: division by zero"),
        ("let b = 0\nlet c = (1 +\n   7 / b)\n", "", "3:6", "ZeroDivisionError: division by zero"),
        ("let big = 9223372036854775807\nprint big + 1\n", "", "2:11", "OverflowError: integer overflow"),
        ("let big = 3037000500\nprint 1 + big * big\n", "", "2:15", "OverflowError: integer overflow"),
        ("let m = -9223372036854775807 - 1\nprint 1 - -m\n", "", "2:11", "OverflowError: integer overflow"),
        ("let m = -9223372036854775807 - 1\nprint m / -1\n", "", "2:9", "OverflowError: integer overflow"),
    ],
)
def test_runtime_errors_point_at_the_operator(tmp_path: Path, source: str, printed: str, position: str, message: str) -> None:
    src = write(tmp_path, "boom.calc", source)
    assert tvm(["run", src]) == (1, printed, f"error: {message}\n  at <module> ({src}:{position})\n")


def test_deep_nesting_is_a_diagnostic_not_a_crash(tmp_path: Path) -> None:
    ok = write(tmp_path, "ok.calc", "print " + "(" * 200 + "1" + ")" * 200 + "\nprint " + "- " * 5001 + "1\n")
    assert tvm(["run", ok]) == (0, "1\n-1\n", "")
    deep = write(tmp_path, "deep.calc", "print " + "(1 + " * 5000 + "1" + ")" * 5000 + "\n")
    code, _, err = tvm(["check", deep])
    assert code == 2 and f"{deep}:1:{7 + 5 * 200}: error: expression nested too deeply" in err
    assert "Traceback" not in err


def test_lang_option_forces_calc(tmp_path: Path) -> None:
    src = write(tmp_path, "prog.tl", "let x = 2\nprint x * 21\n")
    assert tvm(["run", src])[0] == 2  # as TinyLang: `print x * 21` is no call
    assert tvm(["run", "--lang", "calc", src]) == (0, "42\n", "")
    assert tvm(["run", "--lang=calc", src]) == (0, "42\n", "")
    assert tvm(["check", "--lang", "calc", src]) == (0, "", "")
    assert tvm(["run", "--lang", "calc", src], languages=None)[0] == 64  # not registered


def test_help_names_the_language() -> None:
    code, out, _ = tvm(["--help"])
    assert code == 0
    assert "--lang tinylang|calc|lox" in out
    assert "(default: by extension, .calc is Calc, .lox is Lox)" in out
    assert "a .tl, .calc, .lox or .tvm program" in out
    assert "[--lang calc|lox]" in out and "FILE.tl|FILE.calc|FILE.lox" in out
    plain = tvm(["--help"], languages=None)[1]
    assert "calc" not in plain
    tvmc_out = io.StringIO()
    assert tvmc_main(["--help"], stdout=tvmc_out, languages=LANGS) == 0
    assert "usage: tvmc [--lang tinylang|calc|lox] FILE.tl|FILE.calc|FILE.lox" in tvmc_out.getvalue()
    assert "compile a TinyLang, Calc or Lox program" in tvmc_out.getvalue()


def test_disasm_shows_operator_positions() -> None:
    code, out, err = tvm(["disasm", str(DEMO)])
    assert (code, err) == (0, "")
    assert out.startswith(f"=== module {DEMO} (tinylang) ===\nglobals: 0=width, 1=height, 2=area, 3=total\n")
    assert "L4:13  MUL" in out and "L5:13  ADD" in out and "L13:7  NEG" in out


# --------------------------------------------------------------------------- REPL


def repl(stdin: str, lang: str | None = "calc", languages: Languages | None = LANGS) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_repl(io.StringIO(stdin), out, err, lang, languages=languages)
    return code, out.getvalue(), err.getvalue()


def test_repl_continues_lines_and_keeps_globals() -> None:
    assert repl("let x = (1 +\n 2)\nprint x * 10\n") == (0, ">>> ... >>> 30\n>>> \n", "")


def test_repl_errors_do_not_end_the_session() -> None:
    code, out, err = repl("print y\nlet y = 2\nlet z = y / 0\nprint z\nprint y + 1\n")
    assert code == 0
    assert out.endswith("3\n>>> \n")
    assert err == (
        "<repl>:1:7: error: unknown name 'y' (no 'let y' before)\n    print y\n          ^\n"
        "error: ZeroDivisionError: division by zero\n  at <module> (<repl>:1:11)\n"
        # `let z` did not run: z holds no value, so it stays unknown
        "<repl>:1:7: error: unknown name 'z' (no 'let z' before)\n    print z\n          ^\n"
    )


def test_repl_help_and_cli() -> None:
    code, out, _ = repl(":help\n")
    assert code == 0 and calc.FRONTEND.repl_help in out
    assert tvm(["repl", "--lang", "calc"], stdin="let a = 5\nprint -a\n") == (0, ">>> >>> -5\n>>> \n", "")


def test_repl_unknown_language_is_a_usage_error() -> None:
    code, out, err = tvm(["repl", "--lang", "nosuch"])
    assert (code, out) == (64, "")
    assert err == "tvm: --lang needs 'tinylang', 'calc' or 'lox'\n(see 'tvm --help')\n"
    code, out, err = repl("", lang="nosuch")
    assert (code, out, err) == (64, "", "tvm: unknown language 'nosuch'\n")


def test_is_incomplete() -> None:
    fe = calc.FRONTEND
    assert fe.is_incomplete("let x = (1 +")
    assert fe.is_incomplete("print ((1)\n")
    assert not fe.is_incomplete("let x = (1 +\n 2)")
    assert not fe.is_incomplete("print 1 # (")
    assert not fe.is_incomplete("print 1)")


# --------------------------------------------------------------------------- embedding API


def test_embedding_api(tmp_path: Path) -> None:
    vm = VM(languages=LANGS)
    vm.run_source("let x = 6 * 7\n", path="x.calc")
    assert vm.get("x") == 42
    out = io.StringIO()
    vm = VM(stdout=out, languages=LANGS)
    vm.run_file(str(DEMO))
    assert out.getvalue() == DEMO_OUT
    assert vm.get("total") == 67
    with pytest.raises(CompileError) as info:
        VM(languages=LANGS).run_source("print nope\n", path="x.calc")
    assert info.value.render() == "x.calc:1:7: error: unknown name 'nope' (no 'let nope' before)\n    print nope\n          ^"
    with pytest.raises(GuestException) as boom:
        VM(languages=LANGS).run_source("let zero = 0\nlet q = 1 / zero\n", path="q.calc")
    assert boom.value.class_name == "ZeroDivisionError"
    # A source with another extension is Calc only when asked.
    vm = VM(languages=LANGS)
    vm.run_source("let y = 2 - 3 * 4\n", path="y.txt", lang="calc")
    assert vm.get("y") == -10
