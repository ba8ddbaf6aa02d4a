"""Fuel counted in native code (docs/native.md "Fuel"): identical counts on
every tier, and a fuel limit stopping at the exact instruction.

Native code takes each bytecode block's weight (jit/fuel.py) at the block's
start and, when the fuel left cannot pay it, deoptimises there; the
interpreter spends the rest and raises the same out-of-fuel error. The tests
compare the interpreter, the Python JIT and the native tier, and check from
the log that native code really ran out inside a loop and inside deep
recursion (a run that never entered native code would pass the comparisons).
"""

from __future__ import annotations

import pytest

pytest.importorskip("llvmlite")

from native_helpers import cli, used  # noqa: E402


PROG = """
fn tri(n: int) -> int {
  var s = 0
  for i in 0..n { for j in 0..i { s += (i * j) % 7 - j / 3 } }
  return s
}
fn fib(n: int) -> int {
  if n < 2 { return n }
  return fib(n - 1) + fib(n - 2)
}
fn top(n: int) -> int { return fib(n) + tri(n * 10) }
print(tri(200))
print(fib(20))
print(top(18))
"""
TOTAL = 810889  # the interpreter's count for PROG

FAILS = """
fn f(n: int, d: int) -> int {
  var s = 0
  var w = 0
  while w < n { s += w * 3; w += 1 }
  return s / d
}
fn g(n: int) -> float { var x = 0.5; for i in 0..n { x = x * 1.0001 + 0.25 }; return x }
print(g(1000))
print(f(2000, 3))
print(f(3000, 0))
"""


@pytest.mark.parametrize("src", [PROG, FAILS])
def test_fuel_totals_are_identical_on_every_tier(src: str) -> None:
    want = used(src, "off")[:2]
    assert used(src, "eager")[:2] == want
    n, out, log = used(src, "native-eager")
    assert (n, out) == want
    assert any(x.startswith("jit: native ") and " in " in x for x in log), log
    if src is PROG:
        assert n == TOTAL


def run(fuel: int) -> tuple[tuple, tuple, str]:
    want = cli(["run", f"--fuel={fuel}", "-e", PROG])
    code, out, err = cli(["run", "--jit=native-eager", "--jit-log", f"--fuel={fuel}", "-e", PROG])
    log = "".join(x + "\n" for x in err.splitlines() if x.startswith("jit: "))
    rest = "".join(x + "\n" for x in err.splitlines() if not x.startswith("jit: "))
    return want, (code, out, rest), log


def test_fuel_runs_out_inside_a_native_loop_at_the_exact_instruction() -> None:
    want, got, log = run(300000)
    assert got == want and want[0] == 3 and "out of fuel: the program used its 300000 instructions" in want[2]
    assert "jit: native tri deopt at <string>:4 (pc 38, tri): out of fuel in native code" in log, log


def test_fuel_runs_out_inside_native_recursion_with_every_frame_rebuilt() -> None:
    want, got, log = run(450000)
    assert got == want and want[0] == 3 and want[1] == "-380240\n"
    assert "(pc 0, fib, 13 native frames): out of fuel in native code" in log, log


@pytest.mark.parametrize("fuel", [1, 50, 110000, 250001, 383838, 520000, 699999, 700000, 777777, TOTAL - 1, TOTAL, TOTAL + 1])
def test_fuel_limits_stop_every_tier_at_the_same_instruction(fuel: int) -> None:
    want, got, _ = run(fuel)
    assert got == want
    assert (want[0] == 0) == (fuel >= TOTAL)
