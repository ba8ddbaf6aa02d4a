"""The native tier (jit/native/, docs/native.md): exact results, bails, limits, the log, the viewer.

Every test compares with the interpreter and checks that the function really
ran natively (its `jit: native NAME in` log line, the tier's counters): a
test that passes with the tier doing nothing proves nothing.
"""

from __future__ import annotations

import io
import time

import pytest

pytest.importorskip("llvmlite")

from native_helpers import both, cli, native, same, two_fibers  # noqa: E402

from tinyvm.api import VM  # noqa: E402

INT_MAX = 9223372036854775807


FIB = """
fn fib(n: int) -> int {
  if n < 2 { return n }
  return fib(n - 1) + fib(n - 2)
}
print(fib(20))
"""


def test_fib_compiles_whole_with_native_recursion() -> None:
    assert same(FIB, "fib") == (0, "6765\n", "")


def test_int64_edges_and_overflow_raise_as_the_interpreter() -> None:
    src = f"""
fn add(a: int, b: int) -> int {{ return a + b }}
fn mul(a: int, b: int) -> int {{ return a * b }}
fn neg(a: int) -> int {{ return -a }}
print(add({INT_MAX}, 0), add(-{INT_MAX}, -1), mul(3037000499, 3037000499), neg(-{INT_MAX}))
print(add({INT_MAX}, 1))
"""
    code, out, err = same(src, "add", "mul", "neg")
    assert code == 1 and "OverflowError: integer overflow" in err and "at add (" in err
    assert out == f"{INT_MAX} -{INT_MAX + 1} 9223372030926249001 {INT_MAX}\n"


@pytest.mark.parametrize("call", ["mul(4611686018427387904, 2)", "neg(-9223372036854775807 - 1)", "sub(-9223372036854775807, 2)"])
def test_each_overflow_has_the_interpreters_trace(call: str) -> None:
    src = f"""
fn mul(a: int, b: int) -> int {{ return a * b }}
fn neg(a: int) -> int {{ return -a }}
fn sub(a: int, b: int) -> int {{ return a - b }}
fn outer(k: int) -> int {{ return k + 1 }}
print(outer(1))
print({call})
"""
    code, out, err = same(src, "outer")
    assert code == 1 and "OverflowError" in err and out == "2\n"


def test_division_and_modulo_follow_the_language() -> None:
    src = """
fn d(a: int, b: int) -> int { return a / b }
fn m(a: int, b: int) -> int { return a % b }
print(d(7, 2), d(-7, 2), d(7, -2), d(-7, -2), m(7, 3), m(-7, 3), m(7, -3), m(-7, -3))
print(d(-9223372036854775807 - 1, 1), m(-9223372036854775807 - 1, 2))
print(m(-9223372036854775807 - 1, -1))
"""
    code, out, err = same(src, "d", "m")
    assert out.splitlines()[0] == "3 -3 -3 3 1 -1 1 -1"
    assert code == 1 and "OverflowError" in err


@pytest.mark.parametrize("expr", ["d(1, 0)", "m(1, 0)", "d(0, 0)"])
def test_division_by_zero_raises_at_the_same_place(expr: str) -> None:
    src = f"""
fn d(a: int, b: int) -> int {{ return a / b }}
fn m(a: int, b: int) -> int {{ return a % b }}
fn via(a: int, b: int) -> int {{ return d(a, b) + 1 }}
print(via(4, 2))
print({expr})
"""
    code, out, err = same(src, "via")
    assert code == 1 and "ZeroDivisionError: division by zero" in err


FLOATS = """
fn div(a: float, b: float) -> float { return a / b }
fn mod(a: float, b: float) -> float { return a % b }
fn ops(a: float, b: float) -> float { return a * b - a + -b }
fn mix(a: int, b: float) -> float { return a * b + a / b - a % b }
fn lt(a: float, b: float) -> bool { return a < b }
fn eq(a: float, b: float) -> bool { return a == b }
fn ne(a: float, b: float) -> bool { return a != b }
let nan = 0.0 / 0.0
let inf = 1.0 / 0.0
print(div(1.0, 0.0), div(-1.0, 0.0), div(0.0, 0.0), div(1.0, -0.0), div(-0.0, 5.0), div(0.1, 0.3))
print(mod(5.5, -2.0), mod(-5.5, 2.0), mod(1.0, 0.0), mod(inf, 2.0), mod(2.0, inf), mod(-0.0, 1.0), mod(nan, 1.0))
print(ops(nan, 1.0), ops(inf, inf), ops(-0.0, 0.0), ops(1e308, 10.0), ops(0.1, 0.2))
print(mix(3, 0.5), mix(-9223372036854775807, 3.0), mix(7, -0.0))
print(lt(nan, 1.0), lt(-0.0, 0.0), eq(nan, nan), eq(-0.0, 0.0), ne(nan, nan), ne(1.0, 1.0))
"""


def test_float_specials_print_exactly_as_the_interpreter() -> None:
    code, out, _ = same(FLOATS, "div", "mod", "ops", "mix", "lt", "eq", "ne")
    assert code == 0 and "nan" in out and "-0.0" in out and "inf" in out


def test_bools_and_branches() -> None:
    src = """
fn pick(a: bool, b: bool, n: int) -> bool {
  var r = a
  var i = 0
  while i < n { r = (r and not b) or (a == b); i += 1 }
  return r != a
}
fn sign(x: float) -> int { if x < 0.0 { return -1 } else if x > 0.0 { return 1 }; return 0 }
print(pick(true, false, 3), pick(false, true, 4), pick(true, true, 0), sign(-2.5), sign(0.0), sign(0.0 / 0.0))
"""
    same(src, "pick", "sign")


def test_loops_with_for_ranges_and_phis() -> None:
    src = """
fn tri(n: int) -> int {
  var s = 0
  for i in 0..n { for j in 0..i { s += (i * j) % 7 - j / 3 } }
  return s
}
fn bits(n: int) -> int { var x = n; var c = 0; while x != 0 { c += x & 1; x = x / 2 }; return c ^ 5 | 8 }
print(tri(60), bits(123456789))
"""
    same(src, "tri", "bits")


def test_what_is_not_eligible_runs_elsewhere_and_says_why() -> None:
    src = """
fn s(n: int) -> string { return str(n) }
fn arr(n: int) -> int { let a = [str(n)]; return len(a) + n - 1 }
fn mixcmp(a: int, b: float) -> bool { return a < b }
fn calls(n: int) -> int { return arr(n) + 1 }
print(s(3), arr(4), mixcmp(1, 2.0), calls(5))
"""
    same(src)
    log = both.log
    assert any(line.startswith("jit: not native s: result type string") for line in log), log
    assert any(line.startswith("jit: not native arr: an array literal of other than") for line in log), log  # (str(n) is a call out: callouts.py)
    assert any("not native mixcmp: lt of int and float" in line for line in log), log
    # (a call of a function that is not native is a call out: test_deopt.py)
    assert native("calls", log) and any("deopt at <string>:5 (pc 2, calls): a call out of native code" in line for line in log), log


def test_deep_recursion_bails_to_the_interpreters_stack_overflow() -> None:
    src = "fn down(n: int) -> int {\n  return down(n + 1) + 1\n}\nprint(down(0))\n"
    code, _, err = same(src, "down", extra=("--max-depth=300",))
    assert code != 0 and "StackOverflowError" in err


def test_compile_time_is_logged_in_ms() -> None:
    same(FIB, "fib")
    line = next(x for x in both.log if x.startswith("jit: native fib in "))
    ms = float(line.split(" in ")[1].split(" ms")[0])
    assert 0 < ms < 2000


def test_a_deadline_stops_a_native_loop() -> None:
    src = """
fn spin(n: int) -> int {
  var i = 0
  while true { i = (i + n) % 1000003 }
  return i
}
print(spin(7))
"""
    log: list[str] = []
    vm = VM(stdout=io.StringIO(), jit="native-eager", jit_log=log.append, timeout=0.2)
    t0 = time.perf_counter()
    with pytest.raises(Exception, match="timeout"):
        vm.run_source(src, "t.tl")
    assert time.perf_counter() - t0 < 5
    assert native("spin", log) and any("deopt at t.tl:4" in x and x.endswith("deadline or interrupt") for x in log), log


def test_a_busy_native_call_lets_other_fibers_run() -> None:
    spin = "fn spin(n: int) -> int { var i = 0; var s = 0; while i < n { s = (s + i) % 1000; i += 1 }; return s }"
    want, out, log, _ = two_fibers(spin, 'let r = spin(300000); order.push("a")', 'order.push("b")')
    assert out == want == '["b", "a"]\n'
    assert native("spin", log) and any(x.endswith(": another fiber is ready") for x in log), log


def test_a_metered_vm_counts_exact_fuel_in_native_code() -> None:
    log: list[str] = []
    vms = []
    for jit in ("off", "native-eager"):
        vm = VM(stdout=io.StringIO(), jit=jit, jit_log=log.append, meter_fuel=True)
        vm.run_source(FIB, "t.tl")
        vms.append(vm)
    assert vms[0].fuel_used == vms[1].fuel_used
    assert native("fib", log) and vms[1].machine.jit.native.stats["native_calls"] >= 1, log


def test_native_mode_compiles_hot_functions_only() -> None:
    src = FIB.replace("print(fib(20))", "print(fib(3))\nprint(fib(20))")
    code, out, err = cli(["run", "--jit=native", "--jit-log", "--jit-threshold=50", "-e", src])
    assert code == 0 and out == "2\n6765\n" and "jit: native fib in" in err


def test_embedding_calls_run_natively() -> None:
    vm = VM(jit="native-eager", stdout=io.StringIO())
    vm.run_source(FIB.replace("print(fib(20))", ""), "t.tl")
    assert vm.call("fib", 25) == 75025
    assert vm.machine.jit.native.stats["native_calls"] >= 1


def test_jit_dump_native_shows_llvm_ir_and_machine_code() -> None:
    code, out, _ = cli(["jit-dump", "--native", "-e", FIB + "fn s(n: int) -> string { return str(n) }\n"])
    assert code == 0
    assert "--- LLVM IR before optimization ---" in out and "llvm.sadd.with.overflow.i64" in out
    assert "--- LLVM IR after optimization (always-inline,sroa,instcombine,simplifycfg,jump-threading,simplifycfg,globaldce) ---" in out and "--- machine code ---" in out
    assert "not eligible: result type string" in out
