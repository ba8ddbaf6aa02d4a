"""Exact-pc deoptimisation out of native code (jit/native/deopt.py, docs/native.md "Deoptimisation").

Each test compares the native tier with the interpreter (stdout, stderr with
the trace, exit code) and checks from the log that native code really left at
the failing instruction, with the native frames it had: a re-run from the
call's entry (v0) would pass the output checks too, but not these.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

pytest.importorskip("llvmlite")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from native_helpers import both, cli, same, two_fibers  # noqa: E402

from tinyvm.api import VM  # noqa: E402

INT_MAX = 9223372036854775807


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
    # (spin on line 2 of t.tl: native_helpers.two_fibers)
    spin = "\nfn spin(n: int) -> int { var i = 0; var s = 0; while i < n { s = (s + i) % 1000; i += 1 }; return s }"
    want, out, log, _ = two_fibers(spin, "let r = spin(300000); order.push(r)", 'order.push("b")')
    assert out == want
    assert any(" deopt at t.tl:2 " in x and x.endswith("another fiber is ready") for x in log), log


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


# -- calls out --------------------------------------------------------------------

CALLOUT = """
fn show(n: int) -> string { return "v" + str(n) }
fn side(n: int) -> int { let a = ["x", str(n + 1)]; return int(a[1]) }  // (strings: not native)
fn loop(n: int, every: int) -> int {
  var s = 0
  for i in 0..n {
    s += i * 2
    if i % every == 0 { show(i) }
  }
  return s + side(n)
}
fn outer(n: int) -> int { return loop(n, 7) + loop(n, n + 1) }
print(outer(50))
var t = 0
for k in 0..100 { t += loop(3, 2) }
print(t)
"""


def test_a_native_loop_calls_out_through_the_vm() -> None:
    code, out, _ = same(CALLOUT, "outer")
    assert out == "5002\n1000\n"
    assert code == 0
    # outer and loop native; show and side are not: native code leaves at the
    # first call out, two frames rebuilt, and the VM makes the call.
    log = both.log
    assert any(x.startswith("jit: not native side:") for x in log) and any(x.startswith("jit: not native show:") for x in log), log
    assert deopts()[0] == (8, 44, "loop", 2), log
    # loop(3, 2) leaves at a call out every other iteration: after
    # CALLOUT_TRIES the other tiers run it.
    assert any(x.startswith("jit: native loop off: 64 calls out, 2.4 native iterations or calls each") for x in log), log


def test_an_error_in_a_called_out_function_has_the_interpreters_trace() -> None:
    src = """
fn bad(n: int) -> int { let a = [n]; return a[n] }
fn mid(n: int) -> int { var s = 0; for i in 0..n { s += i }; return s + bad(n) }
fn top(n: int) -> int { return mid(n) * 2 }
print(top(0))
print(top(3))
"""
    code, out, err = same(src, "top")
    assert code == 1 and out == "0\n" and "IndexError" in err and "at mid (" in err and "at top (" in err


def test_a_call_out_counts_fuel_exactly() -> None:
    want, got = both(CALLOUT, "--fuel=20000")
    assert got == want
    vms = []
    for jit in ("off", "native-eager"):
        vm = VM(stdout=io.StringIO(), jit=jit, meter_fuel=True)
        vm.run_source(CALLOUT, "t.tl")
        vms.append(vm.fuel_used)
    assert vms[0] == vms[1]


def test_print_is_a_call_out() -> None:
    src = """
fn count(n: int) -> int {
  var s = 0
  for i in 0..n {
    s += i * i
    if i % 100000 == 0 { print("at", i, s, nil) }
  }
  return s
}
fn uses(n: int) -> int { let p = print(n); return n }
print(uses(3))
print(count(1000))
print(count(3037000600))
"""
    code, out, err = same(src, "count")
    assert code == 1 and out.startswith("3\n3\nat 0 0 nil\n332833500\nat 0 0 nil\nat 100000 333338333350000 nil\n") and out.endswith("at 3000000 9000004500000500000 nil\n") and "OverflowError" in err and "at count (" in err
    # (uses's `p` is dead: its print is a call out too)
    assert [(d[0], d[2]) for d in deopts()[:2]] == [(10, "uses"), (6, "count")], both.log


# -- on-stack replacement at loop headers ------------------------------------------

# `settle()` (a host function: `_osr_vm`) waits for the background
# compilations queued so far, so that in `native` mode the compiled code is
# ready when the loops reach their next header, however loaded the machine
# (the loops are otherwise done in ~50 ms, about what a compilation takes).
OSR = """
fn count(n: int) -> int {
  var s = 0
  for i in 0..n {
    s += i % 7
    if i % 20000 == 0 {
      settle()
      print("at", i, s)
    }
  }
  return s
}
fn once(n: int, k: int) -> int {
  var s = 0
  var i = 0
  while i < n {
    s = (s + i * k) % 1000003
    i += 1
    if i == 2000 { settle() }
  }
  return s * k * k
}
print(count(100000))
print(once(50000, 3))
print(once(50000, 3037000499))
"""


# (the program without `settle`, for the CLI)
OSR_PLAIN = OSR.replace("      settle()\n", "").replace("    if i == 2000 { settle() }\n", "")


def _osr_vm(**opts: Any) -> VM:
    vm = VM(**opts)

    def settle() -> None:
        nt = vm.machine.jit.native if vm.machine.jit is not None else None
        if nt is not None:
            nt.wait(60)

    vm.register(settle)
    return vm


@pytest.mark.parametrize("mode", ["native-eager", "native"])
def test_loops_enter_native_code_at_their_header(mode: str) -> None:
    want = io.StringIO()
    with pytest.raises(Exception, match="OverflowError"):
        _osr_vm(stdout=want).run_source(OSR, "t.tl")
    out = io.StringIO()
    log: list[str] = []
    vm = _osr_vm(stdout=out, jit=mode, jit_log=log.append)
    with pytest.raises(Exception, match="OverflowError"):
        vm.run_source(OSR, "t.tl")
    assert out.getvalue() == want.getvalue() and out.getvalue().startswith("at 0 0\nat 20000 59998\n")
    stats = vm.machine.jit.native.stats
    # count re-enters native code at its loop header after each print (a
    # call out). In `native` mode count, called once, gets native code only
    # through its running loop: the background compilation is installed at
    # the header the loop reaches after it is done (jit/tier.py
    # `_collect_background`), and so is once's.
    assert stats["osr_calls"] >= 5, "\n".join([str(stats), *log])
    assert any(x.startswith("jit: native count in ") for x in log) and any(x.startswith("jit: native once in ") for x in log), log


def test_osr_counts_fuel_exactly() -> None:
    got = {}
    for jit in ("off", "native-eager", "native"):
        vm = _osr_vm(stdout=io.StringIO(), jit=jit, meter_fuel=True)
        with pytest.raises(Exception, match="OverflowError"):
            vm.run_source(OSR, "t.tl")
        got[jit] = vm.fuel_used
    assert len(set(got.values())) == 1, got


def test_a_fused_block_failing_after_a_fallback_counts_fuel_exactly() -> None:
    # (found by the generated test: an OSR entry that hands over to the op it
    # replaced, a fused block, which then fails inside; and an OSR copy whose
    # exit records name a value dead at the header)
    src = """
fn f1(a: int) -> int {
  var s = a
  for i in 0..70 { s = s + s; if i == 0 { print("x") } }
  return s
}
print(f1(1))
"""
    got = {}
    for jit in ("off", "native-eager", "native"):
        log: list[str] = []
        vm = VM(stdout=io.StringIO(), jit=jit, meter_fuel=True, jit_log=log.append)
        with pytest.raises(Exception, match="OverflowError"):
            vm.run_source(src, "t.tl")
        got[jit] = vm.fuel_used
        if jit == "native-eager":
            assert vm.machine.jit.native.stats["osr_calls"] == 1, log
    assert got == {"off": 644, "native-eager": 644, "native": 644}


def test_a_failure_after_osr_has_the_interpreters_trace() -> None:
    code, _, err = same(OSR_PLAIN.replace("print(once(50000, 3))\n", ""), "count")
    assert code == 1 and "OverflowError" in err and "at once (" in err


# -- a generated differential test --------------------------------------------

_OPS = ["+", "-", "*", "/", "%"]


@st.composite
def programs(draw: st.DrawFn, loops: int = 4) -> str:
    """Three typed functions calling each other in loops, one failing (maybe) at a random point."""
    edge = st.sampled_from([0, 1, -1, 2, 7, 3037000499, INT_MAX, -INT_MAX - 1, 1 << 40])
    lines = []
    for name, callee in (("f2", None), ("f1", "f2"), ("f0", "f1")):
        body = ["  var s = a", "  var t = b"]
        n = draw(st.integers(0, loops))
        loop = []
        for _ in range(draw(st.integers(1, 3))):
            op = draw(st.sampled_from(_OPS))
            lhs = draw(st.sampled_from(["s", "t"]))
            rhs = draw(st.sampled_from(["s", "t", "i", str(draw(edge))]))
            loop.append(f"{lhs} = {lhs} {op} {rhs}")
        if callee is not None:
            loop.append(f"s = s + {callee}(t, i)")
        if draw(st.booleans()):  # a call out (print), then back in at the loop header (OSR)
            loop.append(f"if i % {draw(st.integers(1, 5))} == 0 {{ print(\"{name}\", i, s) }}")
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


def fuel_run(src: str, jit: str) -> tuple[int, str]:
    out = io.StringIO()
    vm = VM(stdout=out, jit=jit, meter_fuel=True)
    try:
        vm.run_source(src, "t.tl")
    except Exception as e:  # noqa: BLE001 - the error is part of what is compared
        out.write(f"error: {e}\n")
    return vm.fuel_used, out.getvalue()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(loops=40), st.floats(0.0, 1.0))
def test_generated_programs_count_fuel_exactly_and_stop_at_the_same_place(src: str, at: float) -> None:
    total, out = fuel_run(src, "off")
    assert fuel_run(src, "native-eager") == (total, out), src
    # A fuel limit somewhere in the run (native code runs only where more
    # than a chunk's worth is left: vm/limits.py; so in the bigger programs).
    n = max(1, int(total * at))
    want = cli(["run", f"--fuel={n}", "-e", src])
    got = cli(["run", "--jit=native-eager", f"--fuel={n}", "-e", src])
    assert got == want, (src, n)
