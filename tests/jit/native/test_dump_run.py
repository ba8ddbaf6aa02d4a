"""`tvm jit-dump --native --run` (jit/native/dump.py): the native tier's code after a run, with the running VM's classes.

The static dump cannot type a method that reads fields of class instances
(the classes exist only once the program runs); after a run it shows the
code the tier made. Each test fails if the run view fell back to the
static one, lost the program's output or exit status, or misnamed where
a function's code is.
"""

from __future__ import annotations

import pytest

pytest.importorskip("llvmlite")

from native_helpers import cli  # noqa: E402

PROG = """
class P {
  var x: int
  var v: int
  fn init(x: int) { self.x = x
    self.v = 3 }
  fn step() -> int {
    self.x += self.v
    return self.x
  }
}
fn twice(p: P) -> int { return p.step() + p.step() }
fn never(n: int) -> int { return n + 1 }
fn name(n: int) -> string { return str(n) }
let p = P(4)
print(twice(p), name(2))
"""


def sections(out: str) -> dict[str, str]:
    """`fn NAME` -> the text under its heading."""
    got: dict[str, str] = {}
    for part in out.split("--- fn ")[1:]:
        head, _, body = part.partition(": native ---\n")
        got[head] = body
    return got


def test_the_run_shows_code_the_static_dump_cannot_type() -> None:
    static = sections(cli(["jit-dump", "--native", "-e", PROG])[1])
    assert static["P.step"].startswith("not eligible:") and "field 'x'" in static["P.step"], static["P.step"]
    code, out, err = cli(["jit-dump", "--native", "--run", "-e", PROG])
    assert code == 0, err
    got = sections(out)
    body = got["twice"]
    assert body.startswith("; compiled in ") and "--- LLVM IR after optimization" in body and "--- machine code ---" in body
    assert "tvm.sh.P" in body  # (the receiver's shape check: the running VM's class)
    # step ran only inside twice's module (a native call there), init and
    # name as roots of their own or refused, never not at all:
    assert got["P.step"].startswith("native inside twice's code"), got["P.step"]
    assert got["never"].startswith("not called during the run"), got["never"]
    assert got["name"].startswith("not native: "), got["name"]
    assert out.startswith("=== module <string> (tinylang) ===\n")  # (the main module first)
    assert err == "17 2\n"  # (the program's output: stderr, so stdout is the dump alone)


def test_the_exit_status_is_the_runs_and_the_dump_still_prints() -> None:
    code, out, err = cli(["jit-dump", "--native", "--run", "-e", "fn f(n: int) -> int { return 10 / n }\nprint(f(2))\nprint(f(0))\n"])
    assert code == 1 and "ZeroDivisionError" in err and err.startswith("5\n"), (code, err)
    assert sections(out)["f"].startswith("; compiled in "), out[:300]


def test_a_run_that_does_not_end_is_stopped_by_its_timeout() -> None:
    code, out, err = cli(["jit-dump", "--native", "--run", "--timeout", "300ms", "-e", "fn spin() -> int {\n  var n = 0\n  while true { n += 1 }\n  return n\n}\nprint(spin())\n"])
    assert code == 4 and "timeout" in err.lower(), (code, err)
    assert sections(out)["spin"].startswith("; compiled in ")


def test_run_needs_native_and_a_compile_error_prints_no_dump() -> None:
    code, out, err = cli(["jit-dump", "--run", "-e", PROG])
    assert code == 64 and "--run needs --native" in err and out == ""
    code, out, err = cli(["jit-dump", "--native", "--run", "-e", "let x = \n"])
    assert code == 2 and "error" in err and out == ""
