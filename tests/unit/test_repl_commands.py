"""The REPL's commands (:type, :dis, :time, :mem, :load, :reload, :help) and
its redefinition rule (a redefinition replaces the old binding for every
caller when its type fits), driven through run_repl with in-memory streams
and through `tvm repl` with a piped stdin (cli/repl.py, lang/tinylang/repl.py)."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from tinyvm.cli.repl import HELP, Session, run_repl


def repl(text: str, lang: str | None = None, vm_options: dict | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = run_repl(io.StringIO(text), out, err, lang=lang, vm_options=vm_options)
    assert "Traceback" not in err.getvalue()
    return rc, out.getvalue(), err.getvalue()


def typed(out: str) -> list[str]:
    """What the session printed, prompts removed, blank lines dropped."""
    text = out.replace(">>> ", "").replace("... ", "")
    return [line for line in text.split("\n") if line]


def lines(*entries: str) -> str:
    return "".join(e + "\n" for e in entries)


# --------------------------------------------------------------------------- redefinition


def test_a_redefined_function_replaces_the_old_one_for_every_caller():
    rc, out, err = repl(lines("fn f() { return 1 }", "fn g() { return f() }", "g()", "fn f() { return 2 }", "g()"))
    assert (rc, err) == (0, "")
    assert typed(out) == ["1 : int", "2 : int"]


def test_redefinition_reaches_methods_lambdas_and_field_defaults():
    _rc, out, err = repl(lines(
        "fn base() { return 1 }",
        "class C { var v = [base()]\n fn m() { return base() } }",
        "let h = fn() => base() * 10",
        "fn base() { return 3 }",
        "C().m()",
        "C().v",
        "h()",
    ))
    assert err == ""
    assert typed(out) == ["3 : int", "[3] : [int]", "30 : int"]


def test_a_variable_redeclared_with_the_same_type_is_rebound():
    _rc, out, err = repl(lines(
        "var x = 1",
        "fn get() { return x }",
        "var x = x + 10",  # the initializer still reads the old value
        "get()",
        "let x = 5",
        "get()",
        "x = 6",  # x is a let now
        "get()",
    ))
    assert typed(out) == ["11 : int", "5 : int", "5 : int"]
    assert "cannot assign to 'x': it is declared with 'let'" in err


def test_a_redefinition_whose_type_does_not_fit_shadows_with_a_note():
    _rc, out, err = repl(lines(
        "let x = 1",
        "fn get() { return x }",
        'let x = "two"',
        "get()",
        "x",
    ))
    assert typed(out) == ["1 : int", '"two" : string']
    assert err == "note: 'x' is now string (was int), a new binding: get still uses the old one (redefine it to use the new one)\n"


def test_function_types_decide_between_replacing_and_shadowing():
    _rc, out, err = repl(lines(
        "fn h(a: int) -> int { return a }",
        "fn k() { return h(1) }",
        "fn h(a: any) -> int { return 5 }",  # wider parameter: fits, replaces
        "k()",
        "fn h(a: string) -> string { return a }",  # does not fit: shadows
        "k()",
        'h("z")',
    ))
    assert typed(out) == ["5 : int", "5 : int", '"z" : string']
    assert "note: 'h' is now fn(string) -> string (was fn(any) -> int), a new binding: k still uses the old one" in err


def test_a_redefined_class_is_a_new_class_with_a_note():
    _rc, out, err = repl(lines("class A { var v = 1 }", "fn mk() { return A() }", "class A { var v = 2 }", "mk()", "A()"))
    assert typed(out) == ["A(v: 1) : A", "A(v: 2) : A"]
    assert err == "note: 'A' is a new class (classes are nominal): mk still uses the old one (redefine it to use the new one)\n"


def test_no_note_when_the_users_are_redefined_in_the_same_entry():
    _rc, out, err = repl(lines("let x = 1", "fn get() { return x }", 'let x = "s"; fn get() { return x }', "get()"))
    assert err == ""
    assert typed(out) == ['"s" : string']


def test_a_redefinition_that_did_not_run_keeps_the_old_value():
    _rc, out, err = repl(lines("var n = 1", "fn f() { return n }", "var n = 1 / 0", "n", "f()"))
    assert "ZeroDivisionError" in err
    assert typed(out) == ["1 : int", "1 : int"]


def test_session_functions_are_not_called_by_call_global_but_files_still_are(tmp_path):
    from tinyvm.bytecode.disasm import format_module
    from tinyvm.lang.driver import compile_program

    _rc, out, _err = repl(lines("fn f(a: int) -> int { return a }", "fn g() { return f(1) }", ":dis g"))
    assert "CALL_GLOBAL" not in out and "CALL_TYPED" in out
    p = tmp_path / "prog.tl"
    p.write_text("fn f(a: int) -> int { return a }\nfn g() { return f(1) }\nprint(g())\n")
    assert "CALL_GLOBAL" in format_module(compile_program(str(p)).modules["prog"])


def test_embedded_namespaces_keep_shadowing_and_call_global():
    # Only the interactive session's globals are rebindable: a VM's namespace
    # (run_source, run_file) keeps CALL_GLOBAL, which the native tier needs.
    from tinyvm import VM
    from tinyvm.bytecode.disasm import format_code

    vm = VM()
    vm.run_source("fn f() { return 1 }\nfn g() { return f() }")
    vm.run_source("fn f() { return 2 }")
    assert vm.call("g") == 1
    assert "CALL_GLOBAL" in format_code(vm.get("g").code)


# --------------------------------------------------------------------------- :type


def test_type_shows_the_static_type_without_running():
    _rc, out, err = repl(lines(
        ":type 1 + 2",
        "let xs = [1, 2]",
        ":type xs",
        ":type xs.map(fn(v) => v * 0.5)",
        "fn add(a: int, b: int) -> int { return a + b }",
        ":type add",
        ':type print("not run")',
        ":t 2.5",
    ))
    assert err == ""
    assert typed(out) == ["int", "[int]", "[float]", "fn(int, int) -> int", "nil", "float"]


def test_type_errors_are_reported_and_the_session_goes_on():
    _rc, out, err = repl(lines(":type nope", ":type let x = 1", ":type", ":type 1 +", "1"))
    assert "<repl>:1:1: error: undeclared name 'nope'" in err
    assert "<repl>:1:1: error: ':type' takes one expression" in err
    assert ":type: needs an expression: :type EXPR" in err
    assert typed(out) == ["1 : int"]


def test_type_does_not_declare_anything():
    _rc, out, _err = repl(lines(":type fn() => 1", "let y = 2", ":type y"))
    assert typed(out) == ["fn() -> int", "int"]


# --------------------------------------------------------------------------- :dis


def test_dis_functions_methods_and_classes():
    _rc, out, err = repl(lines(
        "fn add(a, b) { return a + b }",
        ":dis add",
        "class P { var x = 1\n fn get() { return self.x }\n fn inc() { self.x += 1 } }",
        ":dis P.get",
        ":dis P",
    ))
    assert err == ""
    text = typed(out)
    assert text[0] == "== fn add (<repl>:1) arity 2, 3 locals, max stack 2 =="
    assert "LOAD_LOCAL        1 (a)" in out and "ADD" in out
    assert text.count("== fn P.get (<repl>:2) arity 1, 2 locals, max stack 1, method ==") == 2  # :dis P.get, :dis P
    assert "== fn P.inc (<repl>:3)" in out
    assert "GET_FIELD         0 (x)" in out


def test_dis_errors_are_one_line():
    _rc, out, err = repl(lines(":dis", ":dis nothing", "let n = 3", ":dis n", "class Q { }", ":dis Q", ":dis Q.m", ":dis n.x", "4"))
    assert err.splitlines() == [
        ":dis: needs a name: :dis NAME (a function, Class.method or a class)",
        ":dis: no global named 'nothing'",
        ":dis: 'n' is not a function: it holds an int",
        ":dis: class Q has no methods of its own",
        ":dis: class Q has no method 'm'",
        ":dis: 'n' has no member 'x' to disassemble",
    ]
    assert typed(out) == ["4 : int"]


def test_dis_a_function_of_an_imported_module(tmp_path, monkeypatch):
    (tmp_path / "geo.tl").write_text("export fn area(w, h) { return w * h }\n")
    monkeypatch.chdir(tmp_path)
    _rc, out, err = repl(lines('import "./geo" as geo', ":dis geo.area"))
    assert err == ""
    assert "== fn area (geo.tl:1) arity 2" in out and "MUL" in out


# --------------------------------------------------------------------------- :time


def test_time_prints_the_value_the_wall_time_and_the_instructions():
    _rc, out, err = repl(lines("fn fib(n) { if n < 2 { return n }\n return fib(n - 1) + fib(n - 2) }", ":time fib(15)", ":time 1"))
    assert err == ""
    text = typed(out)
    assert text[0] == "610 : any"
    assert text[1].startswith("time: ") and " ms, " in text[1] and text[1].endswith(" instructions")
    n_fib = int(text[1].split(" ms, ")[1].split(" ")[0].replace(",", ""))
    n_one = int(text[3].split(" ms, ")[1].split(" ")[0].replace(",", ""))
    assert n_fib > 10_000 > n_one > 0


def test_time_of_statements_and_of_errors():
    _rc, out, err = repl(lines(":time var t = 0; for i in 0..100 { t += i }", "t", ":time 1 / 0", ":time", "2"))
    text = typed(out)
    assert text[0].startswith("time: ") and text[1] == "4950 : int" and text[2] == "2 : int"
    assert "error: ZeroDivisionError: division by zero" in err
    assert ":time: needs an expression: :time EXPR" in err


# --------------------------------------------------------------------------- :mem


def test_mem_shows_live_objects_by_type_collections_and_the_mode():
    _rc, out, err = repl(lines("var keep = []", "for i in 0..200 { keep.push([i]) }", ":mem", ":mem now"))
    text = typed(out)
    assert text[0].startswith("live: ") and text[0].endswith("(reachable now)")
    assert text[1].startswith("heap: ") and "accounted, peak" in text[1]
    assert text[2].startswith("gc: mode stw, ") and "collections (full " in text[2]
    assert text[3].startswith("by type (")
    arrays = next(line for line in text if line.strip().startswith("array "))
    assert int(arrays.split()[1].replace(",", "")) >= 201
    assert ":mem: takes no argument" in err


def test_mem_names_the_gc_mode_of_the_session():
    _rc, out, _err = repl(lines(":mem"), vm_options={"gc": "generational"})
    assert "gc: mode generational, " in out and "minor " in out


# --------------------------------------------------------------------------- :load and :reload


def test_load_runs_a_file_into_the_session(tmp_path, monkeypatch):
    (tmp_path / "geo.tl").write_text('var calls = 0\nfn area(w: int, h: int) -> int { calls += 1; return w * h }\nprint("geo ran")\narea(1, 1)\n')
    monkeypatch.chdir(tmp_path)
    _rc, out, err = repl(lines(":load geo.tl", "area(2, 3)", "calls", ':load "geo.tl"', "calls"))
    assert err == ""
    # no echo of the file's last expression; loading again runs it again
    assert typed(out) == ["geo ran", "loaded geo.tl", "6 : int", "2 : int", "geo ran", "loaded geo.tl", "1 : int"]


def test_load_errors_name_the_file(tmp_path, monkeypatch):
    (tmp_path / "bad.tl").write_text("let a = 1\nlet b = nope\nlet c = alsonot\n")
    (tmp_path / "boom.tl").write_text("let before = 1\nlet z = [1][3]\nlet after = 2\n")
    (tmp_path / "latin1.tl").write_bytes(b"let s = '\xe9'\n")
    monkeypatch.chdir(tmp_path)
    _rc, out, err = repl(lines(":load bad.tl", ":load missing.tl", ":load", ":load boom.tl", "before", ":load latin1.tl", "a"))
    assert "bad.tl:2:9: error: undeclared name 'nope'" in err and "bad.tl:3:9: error: undeclared name 'alsonot'" in err
    assert ":load: cannot read missing.tl: No such file or directory" in err
    assert ":load: needs a file: :load FILE" in err
    assert "error: IndexError: index 3 out of range for length 1\n  at <module> (boom.tl:2:12)" in err
    assert "latin1.tl:1:10: error: source is not valid UTF-8" in err
    assert "<repl>:1:1: error: undeclared name 'a'" in err  # nothing of a failed file is kept
    assert typed(out) == ["1 : int"]


def test_reload_recompiles_the_loaded_files_keeping_the_globals_values(tmp_path, monkeypatch):
    lib = tmp_path / "lib.tl"
    lib.write_text('var count = 0\nlet label = "v1"\nfn bump() -> int { count += 1; return count }\nfn name() { return label }\n')
    monkeypatch.chdir(tmp_path)
    s = Session(io.StringIO(), io.StringIO(), io.StringIO())
    out = s.stdout
    s.command(":load lib.tl")
    assert s.execute("fn twice() { return bump() * 2 }")  # an entry calling the file's function
    s.execute("bump()")
    s.execute("twice()")
    # edit the file: bump counts by 10, a new function, label changes its initializer
    lib.write_text('var count = 0\nlet label = "v2"\nfn bump() -> int { count += 10; return count }\nfn name() { return "name: " + label }\nfn extra() { return 7 }\n')
    s.command(":reload")
    s.execute("twice()")  # the entry's function calls the new bump
    s.execute("count")  # kept its value (2), then +10
    s.execute("name()")  # the new function, the kept label
    s.execute("extra()")
    assert typed(out.getvalue()) == ["loaded lib.tl", "1 : int", "4 : int", "reloaded lib.tl", "24 : int", "12 : int", '"name: v1" : string', "7 : int"]
    assert s.stderr.getvalue() == ""


def test_reload_with_a_broken_file_keeps_the_old_definitions(tmp_path, monkeypatch):
    lib = tmp_path / "lib.tl"
    lib.write_text("fn one() { return 1 }\n")
    monkeypatch.chdir(tmp_path)
    s = Session(io.StringIO(), io.StringIO(), io.StringIO())
    s.command(":load lib.tl")
    lib.write_text("fn one() { return nope }\n")
    s.command(":reload")
    s.execute("one()")
    assert "lib.tl:1:19: error: undeclared name 'nope'" in s.stderr.getvalue()
    assert typed(s.stdout.getvalue()) == ["loaded lib.tl", "1 : int"]
    os.remove(lib)
    s.command(":reload")
    assert ":reload: cannot read lib.tl: No such file or directory" in s.stderr.getvalue()


def test_reload_when_a_variable_changed_its_type(tmp_path, monkeypatch):
    lib = tmp_path / "lib.tl"
    lib.write_text("var level = 1\n")
    monkeypatch.chdir(tmp_path)
    s = Session(io.StringIO(), io.StringIO(), io.StringIO())
    s.command(":load lib.tl")
    s.execute("level = 5")
    lib.write_text('var level: string = "high"\n')  # kept values must fit: this one is set anew
    s.command(":reload")
    s.execute("level")
    lib.write_text('var level = "low"\nvar other = 1\n')  # the same type: kept
    s.command(":reload")
    s.execute("level")
    lib.write_text("var level = 2.5\nvar other = 3\n")  # an inferred type that changed: set anew
    s.command(":reload")
    s.execute("level")
    s.execute("other")
    assert typed(s.stdout.getvalue()) == ["loaded lib.tl", "reloaded lib.tl", '"high" : string', "reloaded lib.tl", '"high" : string', "reloaded lib.tl", "2.5 : float", "1 : int"]
    assert s.stderr.getvalue() == ""


def test_reload_without_a_loaded_file():
    _rc, _out, err = repl(lines(":reload", ":reload x"))
    assert err.splitlines() == [":reload: no file was loaded (:load FILE)", ":reload: takes no argument (it reloads every :load-ed file)"]


# --------------------------------------------------------------------------- :help, unknown commands, robustness


def test_help_lists_every_command():
    _rc, out, _err = repl(lines(":help"))
    for cmd in (":type EXPR", ":dis NAME", ":time EXPR", ":mem", ":load FILE", ":reload", ":help", ":quit"):
        assert cmd in out
    assert HELP in out


def test_unknown_commands_and_bad_input_never_end_the_session():
    rc, out, err = repl(lines(":nope", ":type )", ":dis )", ":time )", ":load /", ":mem x", "}", "let = 1", "3"))
    assert rc == 0
    assert "unknown command ':nope' (:help lists them)" in err
    assert typed(out)[-1] == "3 : int"


def test_an_internal_error_of_a_command_is_one_line(monkeypatch):
    def broken(self, arg):
        raise RuntimeError("oops")

    monkeypatch.setattr(Session, "cmd_mem", broken)
    monkeypatch.setitem(__import__("tinyvm.cli.repl", fromlist=["_COMMANDS"])._COMMANDS, ":mem", broken)
    _rc, out, err = repl(lines(":mem", "1"))
    assert err == ":mem: internal error: RuntimeError: oops\n"
    assert typed(out) == ["1 : int"]


def test_a_compiler_bug_is_one_line_and_the_session_goes_on(monkeypatch):
    from tinyvm.lang.tinylang.repl import TinyLangRepl

    real = TinyLangRepl.compile

    def flaky(self, source, echo=True, keep=False):
        if source == "boom":
            raise AttributeError("no such thing")
        return real(self, source, echo, keep)

    monkeypatch.setattr(TinyLangRepl, "compile", flaky)
    _rc, out, err = repl(lines("boom", "2"))
    assert err == "internal error: AttributeError: no such thing\n"
    assert typed(out) == ["2 : int"]


# --------------------------------------------------------------------------- Lox


def test_lox_session_commands(tmp_path, monkeypatch):
    (tmp_path / "a.lox").write_text("fun f() { return 1; }\nfun g() { return f(); }\nprint g();\n")
    monkeypatch.chdir(tmp_path)
    _rc, out, err = repl(lines(":load a.lox", "fun f() { return 2; }", "print g();", ":dis g", ":time print g();", ":type 1", ":reload"), lang="lox")
    text = typed(out)
    assert text[:3] == ["1", "loaded a.lox", "2"]  # Lox globals are late-bound: redefinition already replaced
    assert "== fn g (a.lox:2) arity 0" in out
    assert "time: " in out
    assert text[-2:] == ["1", "reloaded a.lox"]  # a Lox file runs again as written
    assert err == ":type: Lox has no static types\n"


# --------------------------------------------------------------------------- through the command line


def test_commands_through_tvm_repl_with_a_pipe(tmp_path):
    (tmp_path / "lib.tl").write_text("fn sq(x: int) -> int { return x * x }\n")
    stdin = lines(":load lib.tl", ":type sq", "fn use() { return sq(3) }", "fn sq(x: int) -> int { return x + x }", "use()", ":time use()", ":bad", ":q")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    p = subprocess.run([sys.executable, "-m", "tinyvm.cli.main", "repl"], check=False, input=stdin, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert p.returncode == 0
    text = typed(p.stdout)
    assert text[:4] == ["loaded lib.tl", "fn(int) -> int", "6 : int", "6 : int"]
    assert text[4].startswith("time: ")
    assert p.stderr == "unknown command ':bad' (:help lists them)\n"


@pytest.mark.parametrize("options", [{"fuse": False}, {"meter_fuel": False}, {"jit": "eager"}, {"gc_stress": True}], ids=["plain", "unmetered", "jit-eager", "gc-stress"])
def test_redefinition_rule_on_every_tier(options):
    _rc, out, err = repl(lines(
        "fn f(n: int) -> int { return n + 1 }",
        "fn g() -> int { var t = 0; for i in 0..50 { t += f(i) }; return t }",
        "g()",
        "fn f(n: int) -> int { return n * 2 }",
        "g()",
        ":time g()",
    ), vm_options=options)
    assert err == ""
    assert typed(out)[:3] == ["1275 : int", "2450 : int", "2450 : int"]


def test_a_function_that_returned_nothing_is_not_replaced_by_one_that_returns_a_value():
    _rc, out, err = repl(lines("fn f() { print(1) }", "fn g() { return f() }", "fn f() { return 5 }", "g()", "f()"))
    assert typed(out) == ["1", "5 : int"]
    assert "note: 'f' is now fn() -> int (was fn() -> nil), a new binding: g still uses the old one" in err
