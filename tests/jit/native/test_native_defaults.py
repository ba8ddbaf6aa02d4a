"""Parameter defaults and the native tier (issue 18, helper tldjit): a function
whose prologue evaluates defaults is refused by the native tier (it runs on
the Python JIT), so native code never receives the private missing-argument
marker as an int; its native callers still run. The Python JIT's side is in
tests/jit/test_defaults.py."""

from __future__ import annotations

import pytest

pytest.importorskip("llvmlite")

from native_helpers import cli

NATIVE = """
fn add(a: int, b: int = 1) -> int {
  return a + b
}
fn scale(x: float, by: float = 2.5) -> float {
  return x * by
}
fn sum(n: int) -> int {
  var s = 0
  for i in 0..n { s = s + i }
  return s
}
var t = 0
for i in 0..200 { t = t + add(i) + add(i, -1) }
print(t, scale(2.0), scale(2.0, 1.0), sum(10), add(sum(3)))
"""


def test_the_native_tier_refuses_them_and_never_sees_the_marker() -> None:
    want = cli(["run", "-e", NATIVE])
    code, out, err = cli(["run", "--jit=native-eager", "--jit-log", "-e", NATIVE])
    assert (code, out) == want[:2] and want[0] == 0, err
    assert "jit: native sum in " in err, (
        err
    )  # (the tier runs: the others are refused, not lost)
    assert "jit: native add in " not in err and "jit: native scale in " not in err, err
