"""`tvm check --any` (lang/tinylang/anyuses.py): where a program's own
declarations leave a static type `any`.

Each kind of use is found on a small program (with its line, column, name and
reason), typed code reports nothing, a `// any:` comment marks a use kept on
purpose, the JSON form carries the same records, and the report is not an
error (exit status 0). The Are We Fast Yet ports report nothing but uses kept
with a reason (issue 18: "tvm check on the AWFY ports reports no any that
generics could have removed").
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tinyvm.cli.main import main as tvm

REPO = Path(__file__).resolve().parents[2]
PORTS = sorted((REPO / "benchmarks" / "awfy").glob("*.tl"))


def check_any(tmp_path: Path, source: str, *extra: str) -> tuple[int, str, str]:
    prog = tmp_path / "prog.tl"
    prog.write_text(source)
    out, err = io.StringIO(), io.StringIO()
    status = tvm(["check", "--any", *extra, str(prog)], stdout=out, stderr=err)
    return status, out.getvalue().replace(str(prog), "prog.tl"), err.getvalue()


def records(tmp_path: Path, source: str) -> list[dict]:
    status, out, err = check_any(tmp_path, source, "--json")
    assert status == 0, err
    return json.loads(out)["uses"]


def whys(tmp_path: Path, source: str) -> list[tuple[int, str, str, str]]:
    return [(r["line"], r["what"], r["kind"], r["why"]) for r in records(tmp_path, source)]


def test_explicit_any_annotations(tmp_path: Path) -> None:
    src = (
        "let a: any = 1\n"
        "let b: [any] = [1]\n"
        "fn f(m: [string: any]) -> any { return m }\n"
        "class C { var x: any? = nil }\n"
        "print(a, b, f([\"k\": 1]), C().x)\n"
    )
    assert whys(tmp_path, src) == [
        (1, "a", "variable", "declared any"),
        (2, "b", "variable", "declared [any]"),
        (3, "f", "return", "declared any"),
        (3, "m", "parameter", "declared [string: any]"),
        (4, "C.x", "field", "declared any?"),
    ]


def test_untyped_declarations(tmp_path: Path) -> None:
    src = (
        "class Box {\n"
        "  var a = nil\n"
        "  var n = 0\n"
        "}\n"
        "fn id(x) { return x }\n"
        "fn empty(n: int) { return [] }\n"
        "let xs = []\n"
        "let m = [:]\n"
        "let got = id(3)\n"
        "print(Box().a, Box().n, empty(1), xs, m, got)\n"
    )
    assert whys(tmp_path, src) == [
        (2, "Box.a", "field", "untyped field, default nil"),
        (5, "id", "return", "return type inferred as any"),
        (5, "x", "parameter", "untyped parameter"),
        (6, "empty", "return", "return type inferred as any"),
        (7, "xs", "variable", "inferred from an empty array, not annotated"),
        (8, "m", "variable", "inferred from an empty map, not annotated"),
        (9, "got", "variable", "inferred from an initializer of type any"),
    ]


def test_generic_type_argument_and_lambda(tmp_path: Path) -> None:
    src = (
        "class Stack<T> { var items: [T] = [] }\n"
        "let s = Stack<any>()\n"
        "let twice = fn(q) { return q }\n"
        "print(len(s.items), twice(2))\n"
    )
    got = whys(tmp_path, src)
    assert (2, "Stack", "type argument", "declared Stack<any>") in got
    assert (3, "q", "parameter", "untyped parameter") in got
    assert not [g for g in got if g[1] == "twice"]  # the lambda's parameter says it


def test_typed_code_reports_nothing(tmp_path: Path) -> None:
    src = (
        "class Stack<T> {\n"
        "  var items: [T] = []\n"
        "  fn push(x: T) { self.items.push(x) }\n"
        "  fn pop() -> T? { if len(self.items) == 0 { return nil }; return self.items.pop() }\n"
        "}\n"
        "enum Color { Red, Green }\n"
        "fn divmod(a: int, b: int) -> (int, int) { return (a / b, a % b) }\n"
        "let s = Stack<int>()\n"
        "s.push(1)\n"
        "let (q, r) = divmod(7, 2)\n"
        "let flags = [false] * 4\n"
        "let names: [string] = []\n"
        "let counts: [string: int] = [:]\n"
        "let doubled = [1, 2].map(fn(x) { return x * 2 })\n"
        "if let top = s.pop() { print(top ?? 0) }\n"
        "print(q, r, flags, names, counts, doubled, Color.Red)\n"
    )
    status, out, err = check_any(tmp_path, src)
    assert (status, out, err) == (0, "0 uses of any\n", "")


def test_text_form_reason_comment_and_exit_status(tmp_path: Path) -> None:
    src = "// any: a heterogeneous tree, no generic type names it\nlet t: [any] = [1, \"a\"]\nlet u = []\nprint(t, u)\n"
    status, out, err = check_any(tmp_path, src)
    assert status == 0 and err == ""
    assert out.splitlines() == [
        "prog.tl:2:1: 't' is [any] (declared [any]) [kept: a heterogeneous tree, no generic type names it]",
        "prog.tl:3:1: 'u' is any (inferred from an empty array, not annotated)",
        "2 uses of any (1 kept with a reason)",
    ]
    assert records(tmp_path, src)[0]["reason"] == "a heterogeneous tree, no generic type names it"
    # A comment ending a line keeps that line's use only, not the next line's.
    src = "let a: any = 1  // any: on purpose\nlet b: any = 2\nprint(a, b)\n"
    assert [r["reason"] for r in records(tmp_path, src)] == ["on purpose", ""]


def test_errors_are_still_errors(tmp_path: Path) -> None:
    status, out, err = check_any(tmp_path, "let x: int = \"s\"\n")
    assert status != 0
    assert "expected int, got string" in err
    assert out == "0 uses of any\n"


def test_json_without_any_is_a_usage_error(tmp_path: Path) -> None:
    prog = tmp_path / "p.tl"
    prog.write_text("print(1)\n")
    err = io.StringIO()
    assert tvm(["check", "--json", str(prog)], stdout=io.StringIO(), stderr=err) != 0
    assert "--any" in err.getvalue()


@pytest.mark.parametrize("port", PORTS, ids=lambda p: p.name)
def test_awfy_ports_keep_only_justified_any(port: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert tvm(["check", "--any", "--json", str(port)], stdout=out, stderr=err) == 0, err.getvalue()
    unjustified = [u for u in json.loads(out.getvalue())["uses"] if not u["reason"]]
    assert unjustified == []
