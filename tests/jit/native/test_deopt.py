"""Exact-pc deoptimisation out of native code (jit/native/deopt.py, docs/native.md "Deoptimisation").

Each test compares the native tier with the interpreter (stdout, stderr with
the trace, exit code) and checks from the log that native code really left at
the failing instruction, with the native frames it had: a re-run from the
call's entry (v0) would pass the output checks too, but not these.
"""

from __future__ import annotations

import io
import re

import pytest

pytest.importorskip("llvmlite")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from native_helpers import both, native  # noqa: E402
from tinyvm.api import VM  # noqa: E402

INT_MAX = 9223372036854775807


def same(src: str, *names: str, extra: tuple = ()) -> tuple[int, str, str]:
    want, got = both(src, *extra)
    assert got == want, (got, want, both.log)
    for n in names:
        assert native(n, both.log), both.log
    return want


def deopts() -> list[tuple[int, int, str, int]]:
    """(line, pc, function, native frames) of each deopt the last run logged."""
    out = []
    for line in both.log:
        m = re.match(r"jit: native \S+ deopt at \S+:(\d+) \(pc (\d+), (\S+?)(?:, (\d+) native frames)?\)", line)
        if m:
            out.append((int(m[1]), int(m[2]), m[3], int(m[4] or 1)))
    return out


NESTED = f"""
fn c(x: int, k: int) -> int {{
  var y = x * 2
  var z = y + k
  return z * {1 << 30}
}}
fn b(x: int) -> int {{
  var s = 0
  for i in 0..3 {{ s += c(x, i) }}
  return s + 1
}}
fn a(x: int) -> int {{
  let t = b(x) - 1
  return t
}}
fn top(x: int) -> int {{ return a(x) + a(x + 1) }}
print(top(0))
print(top(1 << 40))
"""


def test_overflow_four_native_frames_deep_has_the_interpreters_trace() -> None:
    code, out, err = same(NESTED, "top")
    assert code == 1 and out == f"{12 << 30}\n" and "OverflowError" in err
    assert [ln.strip() for ln in err.splitlines() if ln.strip().startswith("at ")] == [
        "at c (<string>:5:12)",
        "at b (<string>:9:24)",
        "at a (<string>:13:11)",
        "at top (<string>:16:32)",
        "at <module> (<string>:18:7)",
    ], err
    # Left at c's multiply, with top, a, b and c rebuilt as interpreter frames.
    assert (5, deopts()[0][1], "c", 4) == deopts()[0], both.log


def test_division_by_zero_after_a_loop_mutated_several_locals() -> None:
    src = """
fn f(n: int, d: int) -> int {
  var s = 0
  var p = 1
  var q = 7
  var w = 0
  while w < n { s += w; p = p * 3 % 1000; q = q ^ s; w += 1 }
  let r = s + p + q
  return r / (d - n)
}
print(f(10, 11))
print(f(10, 10))
"""
    code, _, err = same(src, "f")
    assert code == 1 and "ZeroDivisionError" in err and "at f (" in err
    assert [(d[0], d[2], d[3]) for d in deopts()] == [(9, "f", 1)], both.log


def test_stack_overflow_in_native_recursion_is_the_interpreters() -> None:
    src = "fn down(n: int) -> int {\n  return down(n + 1) + 1\n}\nprint(down(0))\n"
    code, _, err = same(src, "down", extra=("--max-depth=300",))
    assert code != 0 and "StackOverflowError" in err
    # The depth ran out at a call: native code left there with every frame.
    assert deopts() and deopts()[0][2] == "down" and deopts()[0][3] > 250, both.log


def test_deep_native_recursion_past_the_native_depth_cap_continues() -> None:
    # Deeper than MAX_NATIVE_DEPTH (10000) native frames but within the
    # guest's limit: native code leaves at the cap, the interpreter makes
    # that call, and the callee runs natively again on a fresh budget.
    src = "fn sum(n: int) -> int {\n  if n == 0 { return 0 }\n  return sum(n - 1) + n\n}\nprint(sum(25000))\n"
    code, out, _ = same(src, "sum")
    assert (code, out) == (0, f"{25000 * 25001 // 2}\n")
    assert len(deopts()) >= 2 and deopts()[0][3] == 10000, both.log


def test_a_fiber_switch_resumes_a_native_loop_at_its_header() -> None:
    src = """
var order = []
fn spin(n: int) -> int { var i = 0; var s = 0; while i < n { s = (s + i) % 1000; i += 1 }; return s }
fn fa() { let r = spin(300000); order.push(r) }
fn fb() { order.push("b") }
let x = spawn fa()
let y = spawn fb()
await x
await y
print(order)
"""
    want = io.StringIO()
    VM(stdout=want).run_source(src, "t.tl")
    out = io.StringIO()
    log: list[str] = []
    vm = VM(stdout=out, jit="native-eager", jit_log=log.append)
    vm.machine.jit.native.countdown = 1000
    vm.run_source(src, "t.tl")
    assert out.getvalue() == want.getvalue()
    assert any(" deopt at t.tl:3 " in x and x.endswith("another fiber is ready") for x in log), log


def test_floats_and_bools_are_boxed_back_by_machine_type() -> None:
    src = """
fn g(x: float, b: bool, n: int) -> int {
  var y = x * 1.5
  var c = not b
  var k = n
  if c { k = k + 1 }
  print(y)
  return k
}
fn h(x: float, b: bool, n: int) -> float {
  var y = x * 0.5
  var flag = b
  var m = n * 3
  let r = y + 1.0
  return r + (m / (n - 2))
}
print(h(-0.0, true, 3))
print(h(2.5, false, 2))
"""
    code, _, err = same(src, "h")
    assert code == 1 and "ZeroDivisionError" in err


# -- a generated differential test --------------------------------------------

_OPS = ["+", "-", "*", "/", "%"]


@st.composite
def programs(draw: st.DrawFn) -> str:
    """Three typed functions calling each other in loops, one failing (maybe) at a random point."""
    edge = st.sampled_from([0, 1, -1, 2, 7, 3037000499, INT_MAX, -INT_MAX - 1, 1 << 40])
    lines = []
    for name, callee in (("f2", None), ("f1", "f2"), ("f0", "f1")):
        body = ["  var s = a", "  var t = b"]
        n = draw(st.integers(0, 4))
        loop = []
        for _ in range(draw(st.integers(1, 3))):
            op = draw(st.sampled_from(_OPS))
            lhs = draw(st.sampled_from(["s", "t"]))
            rhs = draw(st.sampled_from(["s", "t", "i", str(draw(edge))]))
            loop.append(f"{lhs} = {lhs} {op} {rhs}")
        if callee is not None:
            loop.append(f"s = s + {callee}(t, i)")
        body.append(f"  for i in 0..{n} {{ {'; '.join(loop)} }}")
        body.append(f"  return s {draw(st.sampled_from(_OPS))} t")
        lines.append(f"fn {name}(a: int, b: int) -> int {{\n" + "\n".join(body) + "\n}")
    calls = [f"print(f0({draw(edge)}, {draw(edge)}))" for _ in range(3)]
    return "\n".join(lines) + "\n" + "\n".join(calls) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_generated_failures_deoptimise_exactly(src: str) -> None:
    want, got = both(src)
    assert got == want, (src, got, want, both.log)
