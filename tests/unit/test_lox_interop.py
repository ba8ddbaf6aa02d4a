"""TinyLang and Lox in one program: a TinyLang module imports a Lox file and
uses its functions, classes and globals; values cross in both directions with
the conversions of docs/lox.md ("Crossing the boundary")."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from tinyvm.cli.main import main, tvmc_main

SHAPES = """
// A Lox module: every top-level declaration is an export.
class Shape {
  init(name) { this.name = name; }
  describe() { return "a " + this.name; }
}
class Circle < Shape {
  init(r) {
    super.init("circle");
    this.r = r;
  }
  area() { return 3 * this.r * this.r; }
}
fun square(x) { return x * x; }
fun half(x) { return x / 2; }
fun apply(f, x) { return f(x); }
fun kind(v) {
  if (v == nil) return "nil";
  if (v == true or v == false) return "bool";
  return "other";
}
fun show(v) { print v; }
var unit = Circle(1);
var count = 0;
fun bump() { count = count + 1; return count; }
fun fail() { return nil + 1; }
print "shapes loaded";
"""

MAIN = """
import "./shapes.lox" as shapes
from "./shapes.lox" import square, Circle, half

// TinyLang values into Lox: an int stays an int until Lox arithmetic, which
// computes in floats; strings, bools and nil are the same values.
print(shapes.square(3), typeof(shapes.square(3)), half(7), square(2.5))
print(shapes.kind(nil), shapes.kind(false), shapes.kind("s"))

// A Lox class is a TinyLang class; its instances are instances (open: any
// field may be added, from either language).
let c = shapes.Circle(2)
print(c.area(), c.describe(), c.name, c.r)
print(c, typeof(c), c is Circle, c is shapes.Shape)
c.extra = 5
print(c.extra)

// Functions cross both ways: Lox calls a TinyLang lambda.
print(shapes.apply(fn(x) => x * 10, 4))
print(typeof(shapes.square), shapes.square)

// Lox globals: read through the module, changed by Lox code.
print(shapes.unit.r, shapes.count)
shapes.bump()
print(shapes.bump(), shapes.count)

// Lox prints TinyLang values it has no form for as TinyLang would.
shapes.show([1, 2])
shapes.show(3)
shapes.show(2.5)

// A Lox runtime error is a TinyLang error, with clox's message.
try { shapes.fail() } catch e { print(typeof(e), e.message) }
try { shapes.square("a") } catch e { print(typeof(e), e.message) }
// Arity errors are reported in the caller's language.
try { shapes.square(1, 2) } catch e { print(e.message) }
"""

EXPECTED = """shapes loaded
9.0 float 3.5 6.25
nil bool other
12.0 a circle circle 2
Circle(name: "circle", r: 2) Circle true true
5
40
function <fn square>
1.0 0.0
2.0 2.0
[1, 2]
3
2.5
TypeError Operands must be two numbers or two strings.
TypeError Operands must be numbers.
square expects 1 argument, got 2
"""


@pytest.fixture
def program(tmp_path: Path) -> Path:
    (tmp_path / "shapes.lox").write_text(SHAPES, encoding="utf-8")
    (tmp_path / "main.tl").write_text(MAIN, encoding="utf-8")
    return tmp_path


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(""), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_tinylang_imports_lox(program: Path) -> None:
    code, out, err = run(["run", str(program / "main.tl")])
    assert (code, err) == (0, "")
    assert out == EXPECTED


def test_tinylang_imports_lox_under_gc_stress(program: Path) -> None:
    code, out, err = run(["run", "--gc-stress", str(program / "main.tl")])
    assert (code, err) == (0, "")
    assert out == EXPECTED


def test_compiled_bundle_holds_the_lox_module(program: Path, tmp_path: Path) -> None:
    target = tmp_path / "prog.tvm"
    assert tvmc_main([str(program / "main.tl"), "-o", str(target)], stderr=io.StringIO(), stdout=io.StringIO()) == 0
    os.remove(program / "shapes.lox")  # the .tvm file is self-contained
    code, out, err = run(["run", str(target)])
    assert (code, err) == (0, "")
    assert out == EXPECTED


def test_import_without_extension_finds_lox(tmp_path: Path) -> None:
    (tmp_path / "lib.lox").write_text("fun twice(x) { return x + x; }\n", encoding="utf-8")
    (tmp_path / "main.tl").write_text('import "./lib" as lib\nprint(lib.twice(2))\n', encoding="utf-8")
    assert run(["run", str(tmp_path / "main.tl")]) == (0, "4.0\n", "")


def test_lox_compile_error_in_an_import(tmp_path: Path) -> None:
    (tmp_path / "bad.lox").write_text("var x = ;\n", encoding="utf-8")
    (tmp_path / "main.tl").write_text('import "./bad.lox" as bad\nprint(1)\n', encoding="utf-8")
    code, out, err = run(["run", str(tmp_path / "main.tl")])
    assert code == 2 and out == ""
    assert "bad.lox:1:9: error: Error at ';': Expect expression." in err


def test_missing_lox_import(tmp_path: Path) -> None:
    (tmp_path / "main.tl").write_text('import "./nope.lox" as nope\n', encoding="utf-8")
    code, _, err = run(["run", str(tmp_path / "main.tl")])
    assert code == 2 and 'cannot find module "./nope.lox"' in err


def test_uncaught_lox_error_in_tinylang_program(tmp_path: Path) -> None:
    (tmp_path / "lib.lox").write_text("fun f(x) {\n  return -x;\n}\n", encoding="utf-8")
    (tmp_path / "main.tl").write_text('import "./lib.lox" as lib\nlib.f("s")\n', encoding="utf-8")
    code, _, err = run(["run", str(tmp_path / "main.tl")])
    # A TinyLang program reports errors the TinyLang way, frames of both languages.
    assert code == 1
    assert err.splitlines()[0] == "error: TypeError: Operand must be a number."
    assert "at f (" in err and "lib.lox:2:" in err and "main.tl:2:" in err


def test_embedding_api_calls_lox(tmp_path: Path) -> None:
    from tinyvm import VM

    path = tmp_path / "calc.lox"
    path.write_text("fun add(a, b) { return a + b; }\nclass P { init(x) { this.x = x; } }\n", encoding="utf-8")
    vm = VM(stdout=io.StringIO())
    vm.run_file(str(path))
    assert vm.call("add", 2, 3) == 5.0
    assert vm.call("add", "a", "b") == "ab"
    p = vm.call("P", 4)
    assert p.value.fields["x"] == 4  # an instance crosses as an opaque GuestObject
    assert vm.machine.max_depth == 64  # a Lox main program: clox's frame limit
