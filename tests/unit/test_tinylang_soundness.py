"""TinyLang 1.1 soundness and diagnostics (issue 18, items 2 and 4): exact
positions of the definite-assignment, field-initialisation, narrowing and
undeclared-name errors (the `.tl` suite in tests/lang/13_v1_1/ checks messages
and lines, not columns), and the edit distance behind "did you mean"."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tinyvm import VM
from tinyvm.cli.main import main
from tinyvm.lang.diagnostics import CompileError
from tinyvm.lang.tinylang.hints import closest, edit_distance


def errors(source: str) -> list[tuple[int, int, str]]:
    with pytest.raises(CompileError) as info:
        VM(stdout=io.StringIO()).run_source(source, "t.tl")
    return [(d.line, d.col, d.message) for d in info.value.diagnostics]


def run(source: str) -> str:
    out = io.StringIO()
    VM(stdout=out).run_source(source, "t.tl")
    return out.getvalue()


def test_a_use_before_assignment_is_reported_at_the_use() -> None:
    src = "var v: int\nif len(\"a\") == 1 {\n  v = 1\n}\nprint(v)\n"
    assert errors(src) == [(5, 7, "variable 'v' is used where it may be unassigned: the `if` at line 2 does not assign it on every branch")]


def test_both_branches_assigning_is_accepted_and_runs() -> None:
    assert run("var v: int\nif len(\"a\") == 1 { v = 1 } else { v = 2 }\nprint(v)\n") == "1\n"


def test_a_capture_is_reported_where_the_closure_mentions_it() -> None:
    src = "fn f() {\n  var c: int\n  let g = fn() => c\n  c = 1\n}\n"
    assert errors(src) == [(3, 19, "variable 'c' is captured by a function before it is assigned (declared without a value at line 2)")]


def test_every_error_of_the_file_is_reported() -> None:
    src = "var a: int\nvar b: string\nprint(a)\nprint(b)\nlet x: int = \"s\"\n"
    got = errors(src)
    assert [(line, col) for line, col, _ in got] == [(3, 7), (4, 7), (5, 14)]


def test_field_errors_point_at_the_field() -> None:
    src = "class P {\n  var x: int\n  var y: int?\n  fn init() { }\n}\n"
    assert errors(src) == [(2, 3, "field 'x' of P is not assigned in init: give it a default (var x: int = ...), make it optional (int?), or assign it in init")]


def test_a_function_typed_field_is_advised_with_parentheses() -> None:
    src = "class P {\n  var f: fn(int) -> int\n}\n"
    (msg,) = [m for _, _, m in errors(src)]
    assert "make it optional ((fn(int) -> int)?)" in msg


def test_narrowing_after_assignment_runs_on_the_checked_path() -> None:
    src = "class P { var x: int = 4 }\nvar p: P? = nil\np = P()\nprint(p.x)\n"
    assert run(src) == "4\n"


def test_narrowing_ends_at_an_assignment_of_nil() -> None:
    src = "class P { var x: int = 4 }\nfn f() {\n  var p: P? = P()\n  p = nil\n  print(p.x)\n}\n"
    assert errors(src) == [(5, 11, "cannot use field 'x' of P? (it may be nil)")]


def test_undeclared_names_get_hints() -> None:
    src = "let total = 1\nprint(totl)\nprint(math.pi)\nprint(nothing_like_it)\n"
    assert errors(src) == [
        (2, 7, "undeclared name 'totl'; did you mean 'total'?"),
        (3, 7, "undeclared name 'math'; to use the standard module, add 'import math'"),
        (4, 7, "undeclared name 'nothing_like_it'"),
    ]


def test_a_failed_import_does_not_hide_the_other_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.tl").write_text('import "./nope" as n\nprint(n.f(), missing)\n')
    out, err = io.StringIO(), io.StringIO()
    assert main(["check", "m.tl"], stdin=io.StringIO(), stdout=out, stderr=err) == 2
    lines = [line for line in err.getvalue().splitlines() if ": error: " in line]
    assert lines == ['m.tl:1:1: error: cannot find module "./nope"', "m.tl:2:14: error: undeclared name 'missing'"]


def test_a_failed_import_does_not_hide_the_other_errors_when_embedded() -> None:
    # vm.run_source and the REPL compile through the REPL's session compiler.
    got = errors('import nosuch\nlet x: int = "s"\nprint(missing)\n')
    assert got == [(1, 1, 'cannot find module "nosuch"'), (2, 14, "variable 'x': expected int, got string"), (3, 7, "undeclared name 'missing'")]


@pytest.mark.parametrize(
    ("a", "b", "d"),
    [("length", "lenght", 1), ("print", "pritn", 1), ("abc", "abc", 0), ("kitten", "sitting", 3), ("", "ab", 2)],
)
def test_edit_distance_counts_a_transposition_as_one_edit(a: str, b: str, d: int) -> None:
    assert edit_distance(a, b, 5) == d


def test_closest_needs_a_close_enough_name() -> None:
    assert closest("countr", ["x", "counter", "count"]) == "counter"  # (first of equals)
    assert closest("x", ["y", "xx"]) is None  # one letter: no guess
    assert closest("abcdefgh", ["zzzzzzzz"]) is None
    assert closest("idx", ["__idx"]) is None
