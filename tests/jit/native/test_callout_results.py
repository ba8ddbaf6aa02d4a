"""Used results of calls out (jit/native/callouts.py, docs/native.md "Calls out").

A call native code cannot make -- a callee declared `any` or a string, a
built-in such as `str(x)` or `len(s)` of a string, a closure -- whose
result the function uses: native code leaves at the call, the VM makes it,
and the loop header's OSR entry takes the function back. Checked against
the interpreter and the Python JIT (output, errors with their traces),
fuel on a metered VM, the log (it compiles, it is not handed back), and
that the loop runs natively between the calls (OSR entries taken).
"""

from __future__ import annotations

import io

import pytest

pytest.importorskip("llvmlite")

from native_helpers import agree, agree_log, used

from tinyvm.api import VM

HELPERS = """
fn untyped(n) { return n % 5 }
fn label(n: int) -> string { return "n" + str(n) }
fn half(n) { return n / 2.0 }
fn odd(n) { return n % 2 == 1 }
"""

LOOPS = (
    HELPERS
    + """
fn anyint(n: int) -> int {
  var s = 0
  for i in 0..n {
    s += (i + 1) % 7
    if i % 100 == 0 { s += untyped(i) }
  }
  return s
}
fn strlen(n: int) -> int {
  var s = 0
  for i in 0..n {
    s += i % 3
    if i % 50 == 0 { s += len(str(i * 1000)) }
  }
  return s
}
fn labels(n: int) -> int {
  var s = 0
  for i in 0..n {
    s += 1
    if i % 64 == 0 { s += len(label(i)) }
  }
  return s
}
fn floats(n: int) -> float {
  var x = 0.0
  for i in 0..n {
    x += 0.25
    if i % 40 == 0 { x += half(i) }
  }
  return x
}
fn bools(n: int) -> int {
  var c = 0
  for i in 0..n {
    if i % 30 == 0 {
      if odd(i / 30) { c += 1 }
    }
    c += 2
  }
  return c
}
fn printed(n: int) -> int {
  var s = 0
  for i in 0..n {
    s += i
    if i % 250 == 0 { print(label(i), str(s)) }
  }
  return s
}
print(anyint(3000), strlen(2000), labels(2000), floats(1000), bools(1500), printed(1000))
"""
)


def test_used_results_of_calls_out_agree_and_compile() -> None:
    (code, out, err), log = agree_log(
        LOOPS, "anyint", "strlen", "labels", "floats", "bools", "printed"
    )
    assert code == 0 and err == ""
    assert out.splitlines()[-1] == "8998 2253 2141 6250.0 3025 499500"
    # none of them is handed back to the other tiers: native between the calls
    assert not any(" off: " in x for x in log), log
    assert any(x.startswith("jit: not native untyped: ") for x in log), log


def test_the_loop_runs_natively_between_the_calls() -> None:
    """anyint calls out 30 times: each time the VM makes the call and the
    loop header's OSR entry takes the loop back into native code."""
    vm = VM(stdout=io.StringIO(), jit="native-eager")
    vm.run_source(LOOPS.split("print(anyint")[0], "t.tl")
    nt = vm.machine.jit.native
    before = nt.stats["osr_calls"]
    assert vm.call("anyint", 3000) == 8998
    assert nt.stats["osr_calls"] - before >= 30


def test_used_results_count_fuel_exactly() -> None:
    want = used(LOOPS, "off")
    got = used(LOOPS, "native-eager")
    assert got[:2] == want[:2]
    assert any(x.startswith("jit: native strlen in ") for x in got[2]), got[2]


def test_a_result_of_an_unexpected_type_falls_back_at_the_osr_entry() -> None:
    """`untyped` is guessed to return an int; here it returns a float and
    then a string: the OSR entry finds the slot's type differs (`s` a float) and the
    Python JIT runs the loop, with the interpreter's results and error."""
    src = """
fn pick(n) {
  if n > 600 { return "s" }
  if n > 300 { return 0.5 }
  return n
}
fn loop(n: int) {
  var s: any = 0
  for i in 0..n {
    s += 1
    if i % 100 == 0 { s += pick(i) }
  }
  print(s)
}
loop(300)
loop(500)
loop(1000)
"""
    code, out, err = agree(src, "loop")
    assert code == 1 and out.splitlines() == ["600", "1100.5"], out
    assert "TypeError" in err and "at loop (" in err
    assert used(src, "native-eager")[:2] == used(src, "off")[:2]


def test_an_error_in_a_used_call_out_has_the_interpreters_trace() -> None:
    src = """
fn boom(n) { return [1, 2][n] }
fn loop(n: int) -> int {
  var s = 0
  for i in 0..n { s += 2; if i == 77 { s += boom(i) } }
  return s
}
print(loop(50))
print(loop(100))
"""
    code, out, err = agree(src, "loop")
    assert (
        code == 1
        and out == "100\n"
        and "IndexError" in err
        and "at boom (" in err
        and "at loop (" in err
    )


def test_a_string_result_live_across_the_loop_is_exact() -> None:
    """A string made by a call out before the loop and printed in it: the
    header's state names it, so that header gets no OSR entry; the output
    is still the interpreter's."""
    src = """
fn tag(n: int) -> int {
  let t = str(n * 3)
  var s = 0
  for i in 0..n { s += i; if i % 40 == 0 { print(t, i) } }
  return s + len(t)
}
print(tag(100), tag(7))
"""
    code, out, _ = agree(src, "tag")
    assert code == 0 and out.splitlines()[-1] == "4953 23"


FUNCTION_VALUES = """
let triple = fn(x: int) -> int { return x * 3 }
fn shout(n: int) -> string { return "!" + str(n) }
fn apply(f: fn(int) -> int, n: int) -> int {
  var s = 0
  for i in 0..n { s += 1; if i % 100 == 0 { s += f(i) } }
  return s
}
fn viaglobal(n: int) -> int {
  var s = 0
  for i in 0..n { s += 2; if i % 64 == 0 { s += triple(i) } }
  return s
}
fn words(g: fn(int) -> string, n: int) -> int {
  var s = 0
  for i in 0..n { s += i % 5; if i % 128 == 0 { s += len(g(i)); g(s) } }
  return s
}
print(apply(triple, 1000), apply(fn(x: int) -> int => x - 1, 700), viaglobal(1000), words(shout, 1000))
"""


def test_calls_of_function_values_are_calls_out() -> None:
    """A parameter of function type and a global holding a closure, called:
    calls out (the VM calls them), the loop native between the calls."""
    (code, out, err), log = agree_log(FUNCTION_VALUES, "apply", "viaglobal", "words")
    assert code == 0 and err == "" and out == "14500 2793 25040 2030\n"
    assert not any(" off: " in x for x in log), log
    assert used(FUNCTION_VALUES, "native-eager")[:2] == used(FUNCTION_VALUES, "off")[:2]


def test_an_error_in_a_called_function_value_has_the_interpreters_trace() -> None:
    src = """
fn apply(f: fn(int) -> int, n: int) -> int {
  var s = 0
  for i in 0..n { s += 1; if i == 50 { s += f(i) } }
  return s
}
print(apply(fn(x: int) -> int => x / (x - 50), 40))
print(apply(fn(x: int) -> int => x / (x - 50), 60))
"""
    code, out, err = agree(src, "apply")
    assert code == 1 and out == "40\n" and "ZeroDivisionError" in err
    assert "at <lambda> (" in err and "at apply (" in err


def test_a_global_reassigned_between_calls_is_the_one_called() -> None:
    """A `var` global holding a function: each call out loads it again (an
    exit rebuilds the loaded value from the global, deopt.py GLOBAL)."""
    src = """
var op = fn(x: int) -> int => x + 1
fn run(n: int) -> int {
  var s = 0
  for i in 0..n { s += 1; if i % 10 == 0 { s += op(i) } }
  return s
}
print(run(100))
op = fn(x: int) -> int => x * 100
print(run(100))
"""
    code, out, _ = agree(src, "run")
    assert code == 0 and out == "560\n45100\n"


def test_methods_of_strings_made_by_calls_out_are_calls_out() -> None:
    """`t.len()` and `t.contains(..)` of a string `str(..)` made: calls out
    of a value native code never holds, their results used."""
    src = """
fn lens(n: int) -> int {
  var s = 0
  for i in 0..n {
    s += 1
    if i % 50 == 0 {
      let t = str(i * 7)
      s += t.len()
      if t.contains("7") { s += 100 }
    }
  }
  return s
}
print(lens(1000), lens(3))
"""
    (code, out, err), log = agree_log(src, "lens")
    assert (code, out, err) == (0, "1275 4\n", "")
    assert not any(" off: " in x for x in log), log
    assert used(src, "native-eager")[:2] == used(src, "off")[:2]
