"""Hypothesis: the interpreter, the Python JIT (`eager`) and the native tier (`native-eager`) agree.

Generated typed programs over int64 edges (overflow of + - * and unary -,
INT_MIN / -1, division and modulo by zero), float specials (nan, ±inf,
-0.0, printed) and bools run on all three tiers; stdout, stderr (traces of
the errors included) and the exit status must be identical. Each run also
checks that the tier under test compiled the code (its log lines), so a
tier that silently fell back to the interpreter cannot pass.
"""

from __future__ import annotations

import pytest

pytest.importorskip("llvmlite")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from native_helpers import cli, native, tiers
from test_native_differential import FLOATS, INTS, programs


def agree(src: str) -> dict[str, tuple[tuple[int, str, str], list[str]]]:
    got = tiers(src)
    want = got["interpreter"][0]
    for tier in ("python-jit", "native"):
        assert got[tier][0] == want, (tier, src, got[tier], want)
    return got


@st.composite
def arith(draw) -> str:
    """One int operation per call, over int64 edges, and float specials
    printed through a float function; the last call may fail (as in the
    interpreter: an OverflowError or ZeroDivisionError with its trace)."""
    ops = draw(st.lists(st.tuples(st.sampled_from(INTS), st.sampled_from(["+", "-", "*", "/", "%"]), st.sampled_from(INTS + ["0", "(-1)"])), min_size=1, max_size=4))
    fops = draw(st.lists(st.tuples(st.sampled_from(FLOATS), st.sampled_from(["+", "-", "*", "/", "%"]), st.sampled_from(FLOATS)), min_size=1, max_size=4))
    neg = draw(st.sampled_from(INTS))
    lines = [
        "fn iop(a: int, b: int, k: int) -> int {",
        "  if k == 0 { return a + b }",
        "  if k == 1 { return a - b }",
        "  if k == 2 { return a * b }",
        "  if k == 3 { return a / b }",
        "  return a % b",
        "}",
        "fn fop(x: float, y: float, k: int) -> float {",
        "  if k == 0 { return x + y }",
        "  if k == 1 { return x - y }",
        "  if k == 2 { return x * y }",
        "  if k == 3 { return x / y }",
        "  return x % y",
        "}",
        "fn ineg(a: int) -> int { return -a }",
        "fn fneg(x: float) -> float { return -x }",
        "fn fcmp(x: float, y: float) -> bool { return x < y or x == y or x != x }",
    ]
    code = {"+": 0, "-": 1, "*": 2, "/": 3, "%": 4}
    for a, op, b in fops:
        lines.append(f"print(fop({a}, {b}, {code[op]}), fneg({a}), fcmp({a}, {b}))")
    for a, op, b in ops:
        lines.append(f"print(iop({a}, {b}, {code[op]}))")
    lines.append(f"print(ineg({neg}))")
    return "\n".join(lines) + "\n"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arith())
def test_int64_edges_and_float_specials_agree_on_all_three_tiers(src: str) -> None:
    got = agree(src)
    assert native("fop", got["native"][1]), got["native"][1]
    assert any(x.startswith("jit: compiled fop in ") for x in got["python-jit"][1]), got["python-jit"][1]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_generated_functions_agree_on_all_three_tiers(src: str) -> None:
    got = agree(src)
    assert native("ff", got["native"][1]), got["native"][1]
    assert any(x.startswith("jit: compiled ff in ") for x in got["python-jit"][1]), got["python-jit"][1]


@st.composite
def counted_loops(draw) -> str:
    """Counted loops whose ends sit at or near int64's edges, inclusive and
    exclusive, entered many times (a loop body of integer work, a step over
    the edge left to the counter): the last pass of `a..=MAX` ends the loop
    on every tier (ir/build.py: the step's overflow deoptimises where the
    interpreter leaves it), and the -O lowering agrees."""
    edge = st.sampled_from(["9223372036854775807", "(-9223372036854775807 - 1)", "0"])
    loops = draw(st.lists(st.tuples(edge, st.integers(-3, 3), edge, st.integers(-3, 3), st.booleans()), min_size=1, max_size=4))
    lines = [
        "fn walk(a: int, b: int, incl: bool) -> int {",
        "  var n = 0",
        "  var h = 0",
        "  if incl {",
        "    for i in a..=b { n += 1\n h = (h * 31 + i % 1009) % 1000003\n if n > 40 { return -n } }",
        "  } else {",
        "    for i in a..b { n += 1\n h = (h * 31 + i % 1009) % 1000003\n if n > 40 { return -n } }",
        "  }",
        "  return n * 1000003 + h",
        "}",
    ]
    calls = []
    for a, da, b, db, incl in loops:
        # (an end moved inwards from its edge, so that every end is an int64)
        sa = "-" if a.startswith("9") else "+"
        sb = "-" if b.startswith("9") else "+"
        calls.append(f"walk({a} {sa} {abs(da)}, {b} {sb} {abs(db)}, {'true' if incl else 'false'})")
    lines.append("for r in 0..3 { print(" + ", ".join(calls) + ") }")
    return "\n".join(lines) + "\n"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(counted_loops())
def test_counted_loops_at_int64_edges_agree_on_all_tiers_and_optimized(src: str) -> None:
    got = agree(src)
    assert got["interpreter"][0][0] == 0, got["interpreter"][0]
    assert native("walk", got["native"][1]), got["native"][1]
    assert cli(["run", "-O", "-e", src]) == got["interpreter"][0]
