"""TinyLang 1.1 defaults evaluated by the callee (issue 18, helper tldefault)
from outside TinyLang: a Lox function calling a TinyLang function with fewer
arguments, the embedding API calling one, and the run-time arity errors."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tinyvm import VM
from tinyvm.cli.main import main

LIB = """
var made = 0
fn next_id() -> int {
  made += 1
  return made
}
export fn pad(s: string, width: float = 4, fill: string = "${next_id()}") -> string {
  var out = s
  while len(out) < width { out = fill + out }
  return out
}
"""


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(""), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_lox_calls_a_tinylang_function_with_fewer_arguments(tmp_path: Path) -> None:
    (tmp_path / "lib.tl").write_text(LIB, encoding="utf-8")
    (tmp_path / "calls.lox").write_text("fun one(f) { return f(\"x\"); }\nfun two(f) { return f(\"x\", 2); }\nfun none(f) { return f(); }\n", encoding="utf-8")
    (tmp_path / "main.tl").write_text(
        'from "./lib" import pad\nimport "./calls.lox" as lox\nprint(lox.one(pad), lox.two(pad), lox.one(pad))\nprint(lox.none(pad))\n',
        encoding="utf-8",
    )
    code, out, err = run(["run", str(tmp_path / "main.tl")])
    assert out == "111x 2x 333x\n"
    assert code == 1
    # The count is the callee's rule; the message is the caller's language's (Lox).
    assert err.splitlines()[0] == "error: TypeError: Expected 3 arguments but got 0."


def test_embedding_api_calls_a_function_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "lib.tl"
    path.write_text(LIB.replace("export fn", "fn"), encoding="utf-8")
    vm = VM(stdout=io.StringIO())
    vm.run_file(str(path))
    assert vm.call("pad", "x") == "111x"
    assert vm.call("pad", "x", 2) == "2x"
    assert vm.call("pad", "x", 3, ".") == "..x"
    with pytest.raises(Exception) as info:
        vm.call("pad")
    assert "pad expects 1 to 3 arguments, got 0" in str(info.value)
    with pytest.raises(Exception) as info:
        vm.call("pad", 1)  # a passed argument is still checked
    assert "argument 's' of pad: expected string, got int" in str(info.value)
