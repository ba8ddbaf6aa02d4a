"""The REPL (cli/repl.py): run_repl driven with in-memory streams (plain mode),
and `tvm repl` through the real command line with piped stdin."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys

import pytest

from tinyvm.cli import repl as repl_mod
from tinyvm.cli.repl import PlainReader, run_repl
from tinyvm.lang.sources import DirectorySources


def repl(text: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = run_repl(io.StringIO(text), out, err)
    return rc, out.getvalue(), err.getvalue()


def typed(out: str) -> list[str]:
    """What the session printed, prompts removed, blank lines dropped."""
    text = out.replace(">>> ", "").replace("... ", "")
    return [line for line in text.split("\n") if line]


def shown(out: str) -> list[str]:
    """The printed lines without the static type an echo ends with (`3 : int`)."""
    return [line.rsplit(" : ", 1)[0] for line in typed(out)]


def lines(*entries: str) -> str:
    return "".join(e + "\n" for e in entries)


# --------------------------------------------------------------------------- echo


def test_echo_shows_static_type():
    entries = (
        "42",
        "2.5 * 2",
        '"a" + "b"',
        "[1, 2]",
        '["k": 1]',
        "({x: 1, y: true})",
        "fn(x: int) -> int => x * 2",
        "class P { var x = 1 }",
        "P()",
        "let xs = [1, 2, 3]",
        "xs.map(fn(v) => v * 0.5)",
        "let a: any = 3",
        "a",
        "[1, 2.5]",
    )
    rc, out, err = repl(lines(*entries))
    assert rc == 0 and err == ""
    assert typed(out) == [
        "42 : int",
        "5.0 : float",
        '"ab" : string',
        "[1, 2] : [int]",
        '["k": 1] : [string: int]',
        "{x: 1, y: true} : {x: int, y: bool}",
        "<fn> : fn(int) -> int",
        "P(x: 1) : P",
        "[0.5, 1.0, 1.5] : [float]",
        "3 : any",
        "[1, 2.5] : [any]",
    ]


def test_expression_echo():
    rc, out, err = repl(lines("1 + 2", "2.0 * 2", "true", "[1, \"a\", nil]", '["k": 1]', "({x: 1})", "[:]"))
    assert rc == 0 and err == ""
    assert shown(out) == ["3", "4.0", "true", '[1, "a", nil]', '["k": 1]', "{x: 1}", "[:]"]


def test_strings_echo_quoted_print_does_not():
    rc, out, err = repl(lines('"hi"', '"a\\nb"', 'print("hi")', '"x" + "y"'))
    assert err == ""
    assert shown(out) == ['"hi"', '"a\\nb"', "hi", '"xy"']


def test_nil_and_statements_do_not_echo():
    rc, out, err = repl(lines("nil", "let a = 1", "var b = 2", "b = 3", "if true { 5 }", "fn f() { }", "f()"))
    assert err == ""
    assert shown(out) == []


def test_only_the_last_statement_echoes():
    rc, out, err = repl(lines("1; 2; 3", "let a = 4; a", "a; let b = 5"))
    assert err == ""
    assert shown(out) == ["3", "4"]


def test_prompts_in_plain_mode():
    rc, out, err = repl(lines("1", "fn f() {", "  return 2", "}"))
    assert out == ">>> 1 : int\n>>> ... ... >>> \n"


def test_instance_echo_uses_its_str_method():
    rc, out, err = repl(lines(
        "class P {",
        "  var x = 1",
        '  fn str() { return "P(${self.x})" }',
        "}",
        "P()",
        "[P(), P()]",
        "class Q { var y = 2 }",
        "Q()",
    ))
    assert err == ""
    assert shown(out) == ["P(1)", "[P(1), P(1)]", "Q(y: 2)"]


def test_failing_str_method_is_a_runtime_error():
    rc, out, err = repl(lines('class B { fn str() { return 1 / 0 } }', "B()", "7"))
    assert "error: ZeroDivisionError: division by zero" in err
    assert shown(out) == ["7"]


def test_functions_and_classes_echo():
    rc, out, err = repl(lines("fn add(a, b) { return a + b }", "add", "class C { }", "C", "fn(x) => x"))
    assert err == ""
    assert shown(out) == ["<fn add>", "<class C>", "<fn>"]


# --------------------------------------------------------------------------- definitions


def test_definitions_kept_across_entries():
    rc, out, err = repl(lines(
        "let a = 10",
        "var b = 1",
        "fn f(x) { return x * a }",
        "class Point { var x = 0\n var y = 0 }",
        "import math",
        "b += 1",
        "f(b)",
        "let p = Point()",
        "p.x = 3",
        "p",
        "math.sqrt(16.0)",
        "math.pi > 3.0",
    ))
    assert err == ""
    assert shown(out) == ["20", "Point(x: 3, y: 0)", "4.0", "true"]


def test_from_import_kept():
    rc, out, err = repl(lines("from math import sqrt, floor", "sqrt(9.0)", "floor(2.5)"))
    assert err == ""
    assert shown(out) == ["3.0", "2"]


def test_closures_and_state_survive_entries():
    rc, out, err = repl(lines(
        "fn counter() {",
        "  var n = 0",
        "  return fn() { n += 1; return n }",
        "}",
        "let c = counter()",
        "c()",
        "c()",
        "var items = []",
        "items.push(1)",
        "items.push(2)",
        "items",
    ))
    assert err == ""
    assert shown(out) == ["1", "2", "[1, 2]"]


def test_multi_line_fn_definition():
    rc, out, err = repl(lines(
        "fn fact(n) {",
        "  if n <= 1 {",
        "    return 1",
        "  }",
        "  return n * fact(n - 1)",
        "}",
        "fact(10)",
    ))
    assert err == ""
    assert out.count("... ") == 5
    assert shown(out) == ["3628800"]


def test_multi_line_expression():
    rc, out, err = repl(lines("[1,", " 2,", " 3]", "1 +", "  2"))
    assert err == ""
    assert shown(out) == ["[1, 2, 3]", "3"]


def test_later_entries_call_earlier_functions_that_recurse():
    rc, out, err = repl(lines("fn fib(n) { if n < 2 { return n }\n return fib(n - 1) + fib(n - 2) }", "fib(15)"))
    assert err == ""
    assert shown(out) == ["610"]


def test_input_reads_the_following_line():
    rc, out, err = repl(lines("let name = input()", "Ada", "name"))
    assert err == ""
    assert shown(out) == ['"Ada"']


# --------------------------------------------------------------------------- redefinition


def test_redefinition_with_another_type_shadows():
    # (A redefinition whose type fits replaces the old binding instead:
    # test_repl_commands.py.)
    rc, out, err = repl(lines(
        "let x = 1",
        "fn get() { return x }",
        'let x = "two"',
        "x",
        "get()",  # compiled against the first x
        "var x = x + \"!\"",  # the right side still sees the previous x
        "x",
        'x = "set"',
        "x",
    ))
    assert err == "note: 'x' is now string (was int), a new binding: get still uses the old one (redefine it to use the new one)\n"
    assert shown(out) == ['"two"', "1", '"two!"', '"set"']


def test_redefining_functions_and_classes():
    rc, out, err = repl(lines(
        "fn g() { return 1 }",
        "fn g() { return 2 }",
        "g()",
        "class A { var v = 1 }",
        "class A extends A { var w = 2 }",
        "A()",
        "import math",
        "let math = 5",
        "math",
    ))
    assert err == ""
    assert shown(out) == ["2", "A(v: 1, w: 2)", "5"]


def test_redeclaring_twice_in_one_entry_is_still_an_error():
    rc, out, err = repl(lines("let x = 1; let x = 2", "x"))
    assert "<repl>:1:12: error: 'x' is already declared in this scope" in err
    assert "undeclared name 'x'" in err  # the failed entry declared nothing


def test_assigning_to_let_of_earlier_entry_is_a_compile_error():
    rc, out, err = repl(lines("let k = 1", "k = 2", "k += 1", "k", "fn f() { }", "f = 3"))
    assert rc == 0
    assert "<repl>:1:1: error: cannot assign to 'k': it is declared with 'let'" in err
    assert err.count("cannot assign to 'k'") == 2
    assert "cannot assign to 'f'" in err
    assert shown(out) == ["1"]


# --------------------------------------------------------------------------- errors


def test_compile_error_then_continuing():
    rc, out, err = repl(lines("let = 3", "1 + 1", "let y = undefined_name", "y", "let y = 4", "y"))
    assert rc == 0
    assert err.startswith("<repl>:1:5: error:")
    assert "\n    let = 3\n        ^" in err
    assert "<repl>:1:9: error: undeclared name 'undefined_name'" in err
    assert "<repl>:1:1: error: undeclared name 'y'" in err  # nothing of a failed entry is kept
    assert shown(out) == ["2", "4"]


def test_compile_error_lines_count_from_the_entry():
    rc, out, err = repl(lines("1", "fn f() {", "  return nope", "}"))
    assert "<repl>:2:10: error: undeclared name 'nope'" in err


def test_all_compile_errors_of_an_entry_are_reported():
    rc, out, err = repl(lines("let a = b; let c = d"))
    assert "undeclared name 'b'" in err and "undeclared name 'd'" in err


def test_runtime_error_then_continuing():
    rc, out, err = repl(lines("1 / 0", "fn bad() { return [1][5] }", "bad()", "40 + 2"))
    assert rc == 0
    assert "error: ZeroDivisionError: division by zero\n  at <module> (<repl>:1:3)\n" in err
    assert "error: IndexError: index 5 out of range for length 1\n  at bad (<repl>:1:22)\n  at <module> (<repl>:1:1)\n" in err
    assert shown(out) == ["42"]


def test_thrown_values_and_errors():
    rc, out, err = repl(lines('throw "oops"', 'throw ValueError("bad")', "try { throw 1 } catch e { print(e) }"))
    assert "error: oops\n" in err
    assert "error: ValueError: bad\n" in err
    assert shown(out) == ["1"]


def test_runtime_error_keeps_what_ran_and_drops_what_did_not():
    rc, out, err = repl(lines(
        "let x = 1",
        "let a = 5; print(\"ran\"); let x = 1 / 0; let z = 3",
        "a",
        "x",  # the failed redeclaration is dropped: the earlier x is back
        "z",
    ))
    assert "error: ZeroDivisionError" in err
    assert "<repl>:1:1: error: undeclared name 'z'" in err
    assert shown(out) == ["ran", "5", "1"]


def test_incomplete_entry_at_eof_is_reported():
    rc, out, err = repl("fn f() {\n  return 1\n")
    assert rc == 0
    assert "<repl>:" in err and "end of file" in err


def test_unterminated_block_comment_continues():
    rc, out, err = repl(lines("/* a", "comment */ 5"))
    assert err == ""
    assert shown(out) == ["5"]


def test_lexical_error_is_not_incomplete():
    rc, out, err = repl(lines('"abc', "1"))
    assert "<repl>:1:" in err
    assert shown(out) == ["1"]


# --------------------------------------------------------------------------- ending


def test_eof_exits_zero():
    assert repl("") == (0, ">>> \n", "")
    rc, out, err = repl("1")  # no final newline
    assert rc == 0 and shown(out) == ["1"]


@pytest.mark.parametrize("cmd", [":quit", ":q", "  :q  "])
def test_quit_commands(cmd):
    rc, out, err = repl(lines("1", cmd, 'print("not run")'))
    assert rc == 0
    assert shown(out) == ["1"]
    assert err == ""


def test_help_and_unknown_commands():
    rc, out, err = repl(lines(":help", ":nope", "2"))
    assert ":quit" in out
    assert "unknown command ':nope'" in err
    assert shown(out)[-1] == "2"


def test_blank_lines_are_ignored():
    rc, out, err = repl(lines("", "   ", "3"))
    assert err == "" and shown(out) == ["3"]


# --------------------------------------------------------------------------- modules


def test_file_imports_are_relative_to_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "geo.tl").write_text('export fn area(w, h) { return w * h }\nexport let unit = 2\nprint("geo loaded")\n')
    (tmp_path / "broken.tl").write_text("let = 1\n")
    monkeypatch.chdir(tmp_path)
    rc, out, err = repl(lines(
        'import "./geo" as geo',
        "geo.area(2, 3)",
        'from "./geo" import unit',
        "unit",
        'import "./broken" as b',
        'import "./missing" as m',
        "geo.nope",
    ))
    assert shown(out) == ["geo loaded", "6", "2"]  # the module runs once
    assert "broken.tl:1:5: error:" in err
    assert 'cannot find module "./missing"' in err
    assert "module \"./geo\" has no export 'nope'" in err


def test_a_file_that_failed_is_compiled_again_by_a_later_entry(tmp_path):
    # An entry reports a broken import's errors each time it imports it, and
    # once the file is fixed the next entry's import compiles and runs it.
    from tinyvm.cli.repl import Session

    (tmp_path / "lib.tl").write_text("export let = 1\n")
    out, err = io.StringIO(), io.StringIO()
    s = Session(io.StringIO(), out, err)
    s.comp.source_set = DirectorySources(str(tmp_path))  # (the session's imports are relative to this folder)
    assert not s.execute('import "./lib" as lib')
    assert not s.execute('import "./lib" as lib')
    assert err.getvalue().count("lib.tl:1:12: error:") == 2
    (tmp_path / "lib.tl").write_text("export let v = 7\n")
    assert s.execute('import "./lib" as lib\nlib.v')
    assert out.getvalue() == "7 : int\n"


# --------------------------------------------------------------------------- the session's state


def test_vm_get_sees_the_live_bindings():
    from tinyvm.cli.repl import Session

    s = Session(io.StringIO(), io.StringIO(), io.StringIO())
    assert s.execute("let x = 1")
    assert s.execute("let x = 2")
    assert s.vm.get("x") == 2
    assert s.execute("fn add(a, b) { return a + b }")
    assert s.vm.call("add", 2, 3) == 5
    assert not s.execute("let y = 1 / 0")
    with pytest.raises(KeyError):
        s.vm.get("y")


def test_module_globals_list_grows_in_place():
    from tinyvm.cli.repl import Session

    s = Session(io.StringIO(), io.StringIO(), io.StringIO())
    s.execute("let a = 1")
    module = s.vm.machine.modules["<repl>"]
    globals_list = module.globals
    s.execute("let b = 2; fn f() { return a + b }")
    s.execute("let c = f()")
    assert module.globals is globals_list
    assert len(module.code.globals) == len(globals_list)
    assert s.vm.get("c") == 3


def test_gc_stress_session():
    from tinyvm.api import VM
    from tinyvm.cli.repl import Session

    out = io.StringIO()
    s = Session(io.StringIO(), out, io.StringIO())
    s.vm = VM(gc_stress=True, stdout=out)
    for entry in ["var xs = []", "for i in 0..50 { xs.push([i]) }", "class P { fn str() { return \"p\" } }", "[P(), xs[3]]", "xs.len()"]:
        assert s.execute(entry)
    assert shown(out.getvalue()) == ["[p, [3]]", "50"]


# --------------------------------------------------------------------------- input modes


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_mode_without_prompt_toolkit(monkeypatch):
    monkeypatch.setitem(sys.modules, "prompt_toolkit", None)  # makes the import fail
    reader = repl_mod.make_reader(FakeTTY(), FakeTTY())
    assert isinstance(reader, PlainReader)


def test_plain_mode_does_not_import_prompt_toolkit():
    code = (
        "import io, sys\n"
        "from tinyvm.cli.repl import run_repl\n"
        "out = io.StringIO()\n"
        "run_repl(io.StringIO('1 + 1\\n'), out, sys.stderr)\n"
        "assert out.getvalue() == '>>> 2 : int\\n>>> \\n', out.getvalue()\n"
        "assert 'prompt_toolkit' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_history_file_and_unwritable_home(tmp_path, monkeypatch):
    pytest.importorskip("prompt_toolkit")
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    monkeypatch.setenv("HOME", str(tmp_path))
    h = repl_mod._history()
    assert isinstance(h, FileHistory)
    h.append_string("let x = 1")
    assert "let x = 1" in (tmp_path / ".tvm_history").read_text()
    monkeypatch.setenv("HOME", str(tmp_path / "does" / "not" / "exist"))
    assert isinstance(repl_mod._history(), InMemoryHistory)
    (tmp_path / ".tvm_history").unlink()
    (tmp_path / ".tvm_history").mkdir()  # a directory: cannot be opened for appending
    monkeypatch.setenv("HOME", str(tmp_path))
    assert isinstance(repl_mod._history(), InMemoryHistory)


# --------------------------------------------------------------------------- the real command


def _tvm(args: list[str], stdin: str) -> subprocess.CompletedProcess:
    code = "import sys; from tinyvm.cli.main import tvm_main; sys.argv[1:] = %r; tvm_main()" % (args,)
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize("args", [["repl"], []])
def test_tvm_repl_through_the_cli(args):
    p = _tvm(args, lines("let x = 20", "fn double(n) {", "  return n * 2", "}", "double(x) + 2", "1 / 0", "let = 1", '"done"'))
    assert p.returncode == 0
    assert p.stdout == '>>> >>> ... ... >>> 42 : any\n>>> >>> >>> "done" : string\n>>> \n'
    assert "error: ZeroDivisionError: division by zero\n  at <module> (<repl>:1:3)" in p.stderr
    assert "<repl>:1:5: error:" in p.stderr


def test_tvm_repl_quit_through_the_cli():
    p = _tvm(["repl"], lines("1", ":q", "2"))
    assert p.returncode == 0
    assert p.stdout == ">>> 1 : int\n>>> "


# --------------------------------------------------------------------------- a real terminal (tmux)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_terminal_session_with_prompt_toolkit(tmp_path):
    pytest.importorskip("prompt_toolkit")
    import time

    sock = f"tvm-repl-test-{os.getpid()}"
    tmux = ["tmux", "-L", sock]
    done = tmp_path / "status"
    script = (
        f"HOME={tmp_path} {sys.executable} -c 'from tinyvm.cli.main import main; import sys; sys.exit(main([\"repl\"]))';"
        f" echo $? > {done}; sleep 60"
    )

    def screen() -> str:
        return subprocess.run(tmux + ["capture-pane", "-p", "-t", "t"], capture_output=True, text=True).stdout

    def wait_for(text: str, last_line: bool = False) -> None:
        # (capture-pane drops trailing blanks: prompts show as ">>>")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            s = screen()
            shown = [line for line in s.split("\n") if line.strip()]
            if (shown and shown[-1] == text) if last_line else text in s:
                return
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared on the terminal:\n{screen()}")

    def send(*keys: str) -> None:
        subprocess.run(tmux + ["send-keys", "-t", "t", *keys], check=True)

    subprocess.run(tmux + ["new-session", "-d", "-s", "t", "-x", "100", "-y", "40", script], check=True)
    try:
        wait_for(">>>")
        send("fn sq(n) {", "Enter")
        wait_for("...")
        send("return n * n", "Enter", "}", "Enter")
        wait_for("... }")  # the closing brace was dedented
        send("sq(12)", "Enter")
        wait_for("144")
        send("1 / 0", "Enter")
        wait_for("error: ZeroDivisionError: division by zero")
        send("Up", "Up")  # history: back to sq(12)
        wait_for(">>> sq(12)", last_line=True)
        send("C-c")  # discards the recalled line
        send(":q", "Enter")
        deadline = time.monotonic() + 20
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.read_text().strip() == "0"
        assert "sq(12)" in (tmp_path / ".tvm_history").read_text()
    finally:
        subprocess.run(tmux + ["kill-server"], capture_output=True)


# --------------------------------------------------------------------------- capabilities


def test_repl_denies_env_by_default_and_takes_allow_flags(monkeypatch):
    from tinyvm.cli.main import main

    monkeypatch.setenv("TVM_REPL_PROBE", "yes")
    entry = "import os\nos.env(\"TVM_REPL_PROBE\")\n"
    for flags, want_out, want_err in (([], None, "PermissionError"), (["--allow-env=TVM_REPL_PROBE"], '"yes"', None), (["-A"], '"yes"', None)):
        out, err = io.StringIO(), io.StringIO()
        rc = main(["repl", *flags], stdin=io.StringIO(entry), stdout=out, stderr=err)
        assert rc == 0
        if want_out is not None:
            assert any(line.startswith(want_out) for line in typed(out.getvalue())), out.getvalue()
        if want_err is not None:
            assert want_err in err.getvalue()


def test_repl_rejects_unknown_options():
    from tinyvm.cli.main import main

    err = io.StringIO()
    rc = main(["repl", "--bogus"], stdin=io.StringIO(""), stdout=io.StringIO(), stderr=err)
    assert rc == 64 and "unknown option '--bogus' for repl" in err.getvalue()


# --------------------------------------------------------------------------- the README


def test_readme_transcript_is_what_the_repl_prints():
    """The README's `$ tvm repl` session: its entries, run through the REPL,
    print exactly the lines the README shows (an echo ends with ` : TYPE`)."""
    from pathlib import Path

    from tinyvm import __version__

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("$ tvm repl\n", 1)[1].split("```", 1)[0].rstrip("\n").split("\n")
    assert block[0] == repl_mod.BANNER.format(version=__version__, title="TinyLang")
    entries = [line[4:] for line in block[1:] if line.startswith((">>> ", "... "))]
    shown_lines = [line for line in block[1:] if not line.startswith((">>> ", "... ", ">>>"))]
    assert entries and shown_lines, "the README lost its REPL transcript"
    rc, out, err = repl(lines(*entries))
    assert (rc, err) == (0, "")
    assert typed(out) == shown_lines
