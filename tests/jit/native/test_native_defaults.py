"""Functions and inits with default parameters in native code (issue 18, helper
tldjit; issue 16, helper ninit: jit/native/defaults.py; docs/native.md,
"Objects native code makes", "Default parameters").

A defaulted parameter of a checked machine type (int, float, bool, arrays of
them) is typed with its declared type and every argument assumed passed: calls
that pass every argument (the checker fills constant defaults in at the call
site) are native calls and constructions; calls that leave one out (a default
that is an expression or names an earlier parameter, a function value, a
named argument skipping one) run the callee on the interpreter, which evaluates
the default. Each program against the interpreter (stdout, stderr with traces,
exit status) and the Python JIT, with the functions compiled natively, and the
same fuel on a metered VM. The Python JIT's side is in tests/jit/test_defaults.py.
"""

from __future__ import annotations

import io

import pytest

pytest.importorskip("llvmlite")

from native_helpers import agree_log, both, cli, native, same, used

from tinyvm.api import VM

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


def test_the_native_tier_compiles_them_and_never_sees_the_marker() -> None:
    # (tldjit's test refused add and scale; ninit compiles them, every
    # argument passed: the module's calls pass the constant defaults)
    want = cli(["run", "-e", NATIVE])
    code, out, err = cli(["run", "--jit=native-eager", "--jit-log", "-e", NATIVE])
    assert (code, out) == want[:2] and want[0] == 0, err
    assert "jit: native sum in " in err, err
    assert "jit: native add in " in err and "jit: native scale in " in err, err


POINTS = """
class P {
  var x: float
  var y: float
  fn init(x: float, y: float = 0.5) {
    self.x = x
    self.y = y
  }
}
fn f(a: int, b: int = 1, c: bool = true) -> int {
  if c { return a + b }
  return a - b
}
fn run(n: int) -> float {
  var s = 0.0
  var t = 0
  for i in 0..n {
    let p = P(2.0)
    let q = P(2.0, 3.0)
    s = s + p.x + p.y + q.y
    t = t + f(i) + f(i, 2) + f(i, 3, false)
  }
  print(t)
  return s
}
print(run(300))
"""


def test_constant_defaults_compile_and_construct_natively() -> None:
    # run, P.init and f are one native module: the constructions are native
    # (no call out per construction), the results the interpreter's.
    (status, out, err), log = agree_log(POINTS, "run")
    assert status == 0 and out == "134550\n1650.0\n", (out, err)
    assert any(
        "(3 functions;" in line for line in log if line.startswith("jit: native run in")
    ), log
    # (the one call out: print(t), line 23, after the loop)
    assert all("<string>:23 " in line for line in log if " deopt " in line), log
    assert not any(
        "not native run" in line
        or "not native P.init" in line
        or "not native f" in line
        for line in log
    ), log


def test_fuel_identical_on_three_tiers() -> None:
    got = used(POINTS, "native-eager")
    assert got[:2] == used(POINTS, "off")[:2] == used(POINTS, "eager")[:2]
    assert any(line.startswith("jit: native run in") for line in got[2]), got[2]


@pytest.mark.parametrize(
    "mode",
    [
        ("--gc-stress", "--gc-verify"),
        ("--gc", "incremental", "--gc-stress", "--gc-verify"),
    ],
)
def test_constructions_under_gc_stress(mode: tuple[str, ...]) -> None:
    same(POINTS.replace("run(300)", "run(40)"), "run", extra=mode)


def test_defaults_that_are_expressions_run_on_the_interpreter() -> None:
    # b's default names a (LOAD_MISSING at the call site): that call runs g on
    # the interpreter, which evaluates the default; the calls passing both
    # arguments are native. A side effect in a default runs once per call.
    src = """
var hits = 0
fn side() -> int { hits += 1
  return 7 }
fn g(a: int, b: int = a * 2, c: int = side()) -> int { return a + b + c }
fn h(n: int) -> int {
  var t = 0
  for i in 0..n { t += g(i, 1, 2) + g(i) + g(i, 5) }
  return t
}
print(h(100))
print(hits)
"""
    same(src, "g")
    assert (
        "jit: not native h: a call leaves out a parameter whose default is not a constant"
        in both.log
    ), both.log
    assert used(src, "native-eager")[:2] == used(src, "off")[:2]


def test_function_values_and_named_arguments_leave_parameters_out() -> None:
    # Through a function value the VM pads with the MISSING marker: the native
    # entry refuses it and the interpreter runs the default.
    src = """
fn f(a: int, b: int = 10) -> int { return a * b }
fn k(x: float, y: float = 1.5, z: float = 2.5) -> float { return x + y * z }
fn main() {
  let g = f
  var t = 0
  for i in 0..50 { t += g(i) + g(i, 3) + f(i) + f(b: 2, a: i) }
  print(t)
  print(k(1.0) + k(1.0, z: 4.0) + k(1.0, 2.0, 3.0))
}
main()
"""
    same(src, "main")


def test_errors_in_defaulted_functions_keep_the_interpreters_trace() -> None:
    src = """
class Q {
  var a: int
  fn init(a: int, d: int = 0) { self.a = a / d }
}
fn m(n: int) -> int {
  var t = 0
  for i in 0..n { t += Q(i, 1).a }
  return t + Q(1).a
}
print(m(20))
"""
    want, got = both(src)
    assert got == want and want[0] != 0 and "at Q.init (<string>:4:" in want[2], (
        got,
        want,
    )
    assert native("m", both.log), both.log


def test_object_defaults_stay_not_native_with_a_reason() -> None:
    src = """
class B { var v: int = 1 }
fn r(a: int, b: B? = nil) -> int {
  if b == nil { return a }
  return a + b!.v
}
print(r(1) + r(2, B()))
"""
    (_, _, _), log = agree_log(src)
    assert any(line == "jit: not native r: parameter of type any" for line in log), log


def test_an_osr_entry_after_the_interpreter_ran_the_default() -> None:
    # s's loop is entered at its header after the interpreter evaluated the
    # default (the call through a function value left `step` out): the OSR
    # entry takes the slot's value, checked as at the call entry.
    src = """
fn s(n: int, step: int = n / 50 + 1) -> int {
  var t = 0
  var i = 0
  while i < n { t += i
    i += step }
  return t
}
fn main() {
  let g = s
  print(g(5000))
  print(s(5000, 3))
}
main()
"""
    (status, out, _), _ = agree_log(src, "s")
    assert status == 0 and out == "123725\n4165833\n", out
    assert used(src, "native-eager")[:2] == used(src, "off")[:2]
    vm = VM(stdout=io.StringIO(), jit="native-eager")
    vm.run_source(src)
    assert vm.machine.jit.native.stats["osr_calls"] >= 1, vm.machine.jit.native.stats


def test_methods_and_array_defaults_and_named_arguments() -> None:
    # A method's defaulted int and bool, a function's defaulted [int] (a
    # fresh literal at each call site), named arguments skipping one: main,
    # Acc.add and total are one native module.
    src = """
class Acc {
  var n: int = 0
  fn add(k: int, times: int = 2, neg: bool = false) -> int {
    var j = 0
    while j < times { if neg { self.n -= k } else { self.n += k }
      j += 1 }
    return self.n
  }
}
fn total(xs: [int], scale: int = 3, extra: [int] = [1, 2]) -> int {
  var t = 0
  for x in xs { t += x * scale }
  for e in extra { t += e }
  return t
}
fn main() {
  let a = Acc()
  var s = 0
  for i in 0..200 {
    s += a.add(i) + a.add(i, 1) + a.add(i, neg: true)
    s += total([i, 1]) + total([i], 2) + total([i], extra: [5])
  }
  print(s)
  print(a.n)
}
main()
"""
    (status, out, _), log = agree_log(src, "main")
    assert status == 0 and out == "4221600\n19900\n", out
    assert any(
        "(3 functions;" in line
        for line in log
        if line.startswith("jit: native main in")
    ), log
    assert used(src, "native-eager")[:2] == used(src, "off")[:2]
