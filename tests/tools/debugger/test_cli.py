"""`tvm debug` driven through stdin: a whole session's transcript (breakpoints
with conditions, functions, steps, reverse steps and continues, evaluation,
listing, fibers, the end of the program), and its errors."""

from __future__ import annotations

import io

from tinyvm.cli.main import main

from .conftest import ADD_LOOP

PROG = ADD_LOOP

COMMANDS = "b 3 if c > 20\nb 99\nb nothing\nc\np c\nbt\nv\nn\nrs\nrs\nrc\nl\ncl\nb add\nc\nfinish\nup\np [total, i * 2]\np i +\nb\ncl 2\nc\nrs\np total\nfibers\nq\n"

TRANSCRIPT = """\
> prog.tl:1 <module>  (start)
   1 -> fn add(a: int, b: int) -> int {
(tvm) b 3 if c > 20
breakpoint 1 at prog.tl:3 if c > 20
(tvm) b 99
*** no code at or after line 99 of prog.tl
(tvm) b nothing
*** no function named nothing
(tvm) c
step 1
> prog.tl:3 add  (breakpoint)
   3 ->     return c
(tvm) p c
21
(tvm) bt
> #0 add at prog.tl:3:12
  #1 <module> at prog.tl:10:21
(tvm) v
a = 20  (int)
b = 1  (int)
c = 21  (int)
(tvm) n
> prog.tl:10 <module>
  10 ->     total = total + add(x, i)
(tvm) rs
> prog.tl:10 <module>
  10 ->     total = total + add(x, i)
(tvm) rs
> prog.tl:9 <module>
   9 -> for x in xs {
(tvm) rc
> prog.tl:1 <module>  (start)
   1 -> fn add(a: int, b: int) -> int {
(tvm) l
   1 -> fn add(a: int, b: int) -> int {
   2        let c = a + b
   3 B      return c
   4    }
   5    
   6    var total = 0
(tvm) cl
all breakpoints cleared
(tvm) b add
breakpoint 2 at function add
(tvm) c
> prog.tl:2 add  (breakpoint)
   2 ->     let c = a + b
(tvm) finish
> prog.tl:10 <module>
  10 ->     total = total + add(x, i)
(tvm) up
*** no frame above
(tvm) p [total, i * 2]
[0, 0]
(tvm) p i +
*** cannot evaluate 'i +': expected expression, found ')'
(tvm) b
  2 function add
(tvm) cl 2
breakpoint 2 cleared
(tvm) c
step 2
step 3
total 63
program exited with status 0 (position 102)
(tvm) rs
> prog.tl:14 <module>
  14 -> print("total ${total}")
(tvm) p total
63
(tvm) fibers
*   1 main         ready    <module> (prog.tl:14:1)
(tvm) q
"""


def debug(tmp_path, monkeypatch, commands: str, prog: str = PROG, name: str = "prog.tl", args: tuple = (), err: io.StringIO | None = None) -> tuple[int, str]:
    (tmp_path / name).write_text(prog)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    status = main(["debug", name, *args], stdin=io.StringIO(commands), stdout=out, stderr=err or io.StringIO())
    return status, out.getvalue()


def test_a_whole_session(tmp_path, monkeypatch):
    status, out = debug(tmp_path, monkeypatch, COMMANDS)
    assert status == 0
    assert out == TRANSCRIPT


def test_heap_help_and_unknown_commands(tmp_path, monkeypatch):
    status, out = debug(tmp_path, monkeypatch, "b 11\nc\nheap\nh\nfrobnicate\npos\n")
    assert status == 0
    assert "heap: " in out and "reachable objects" in out and "array" in out
    assert "rs / rc" in out and "finish" in out  # the help text
    assert "*** unknown command 'frobnicate'" in out
    assert "position " in out and "line events recorded" in out
    assert out.endswith("(tvm) \n")  # end of input quits


def test_exceptions_and_program_errors(tmp_path, monkeypatch):
    prog = "fn f(n: int) -> int {\n    return 10 / n\n}\nprint(f(2))\nprint(f(0))\n"
    status, out = debug(tmp_path, monkeypatch, "catch uncaught\nc\np n\nbt\nc\nq\n", prog)
    assert status == 0
    assert "> prog.tl:2 f  (uncaught ZeroDivisionError: division by zero)" in out
    assert "(tvm) p n\n0\n" in out
    assert "  #1 <module> at prog.tl:5:7" in out
    assert "error: ZeroDivisionError: division by zero" in out and "program exited with status 1" in out
    assert out.index("5\n") < out.index("> prog.tl:2 f")  # the program's output, in order


def test_compile_errors_and_usage(tmp_path, monkeypatch):
    err = io.StringIO()
    status, out = debug(tmp_path, monkeypatch, "q\n", "let x = \n", err=err)
    assert status == 2 and out == ""
    assert err.getvalue().startswith("prog.tl:2:1: error: expected expression")
    err = io.StringIO()
    assert main(["debug"], stdin=io.StringIO(""), stdout=io.StringIO(), stderr=err) == 64
    assert "debug needs a FILE" in err.getvalue()


def test_lox_program_with_arguments(tmp_path, monkeypatch):
    prog = 'fun greet(who) {\n  print "hi " + who;\n}\ngreet("you");\n'
    status, out = debug(tmp_path, monkeypatch, "b greet\nc\np who\nn\nc\n", prog, "hi.lox")
    assert status == 0
    assert "> hi.lox:2 greet  (breakpoint)" in out
    assert '(tvm) p who\n"you"\n' in out
    assert "hi you\n" in out and "program exited with status 0" in out


def test_a_compiled_tvm_program(tmp_path, monkeypatch):
    from tinyvm.cli.main import tvmc_main

    (tmp_path / "prog.tl").write_text(PROG)
    monkeypatch.chdir(tmp_path)
    assert tvmc_main(["prog.tl", "-o", "prog.tvm"], stdout=io.StringIO(), stderr=io.StringIO()) == 0
    out = io.StringIO()
    assert main(["debug", "prog.tvm"], stdin=io.StringIO("b 3\nc\nv\nrs\n"), stdout=out, stderr=io.StringIO()) == 0
    text = out.getvalue()
    assert "> prog.tl:3 add  (breakpoint)" in text and "c = 10  (int)" in text
    assert "(tvm) rs\n> prog.tl:2 add" in text


def test_restart_goto_and_frames(tmp_path, monkeypatch):
    status, out = debug(tmp_path, monkeypatch, "b 3\nc\nc\nrestart\np a\nup\np i\ndown\npos\ngoto 1\ngoto x\n")
    assert status == 0
    assert "(tvm) restart\n> prog.tl:2 add\n" in out
    assert "(tvm) p a\n20\n" in out  # the second call, from its first line
    assert "(tvm) up\n> prog.tl:10 <module>\n" in out and "(tvm) p i\n1\n" in out
    assert "(tvm) down\n> prog.tl:2 add\n" in out
    assert "(tvm) goto 1\n> prog.tl:1 <module>\n" in out
    assert "*** goto needs a position" in out
