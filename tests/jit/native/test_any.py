"""Elements of `[any]` arrays read natively, scalars stored and pushed into
them (jit/native/anyval.py; docs/native.md "Values native code only
carries"): walkers over `[any]` trees and mixed arrays agree with the
interpreter and the Python JIT (output, errors with their traces, fuel),
reference counts stay flat, GC stress and the verifier pass."""

from __future__ import annotations

import gc
import io
import sys

import pytest

pytest.importorskip("llvmlite")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from native_helpers import agree, agree_log, both, heap_after, native, used

from tinyvm.api import VM

INT_MAX = 9223372036854775807

WALK = '''
fn size(t: [any]) -> int {
  var n = 0
  var i = 0
  while i < len(t) {
    let e = t[i]
    if e == nil {
      n = n + 1
    } else {
      let sub: [any] = e
      n = n + size(sub)
    }
    i = i + 1
  }
  return n
}
fn total(t: [any]) -> int {
  var s = 0
  var i = 0
  while i < len(t) {
    let x: int = t[i]
    s = s + x
    i = i + 1
  }
  return s
}
fn ftotal(t: [any]) -> float {
  var s = 0.0
  var i = 0
  while i < len(t) {
    let x: float = t[i]
    s = s + x
    i = i + 1
  }
  return s
}
fn trues(t: [any]) -> int {
  var n = 0
  var i = 0
  while i < len(t) {
    let b: bool = t[i]
    if b { n = n + 1 }
    i = i + 1
  }
  return n
}
fn nonnil(t: [any]) -> int {
  var n = 0
  var i = 0
  while i < len(t) {
    let e = t[i]
    if e != nil {
      let x: int = e
      n = n + x
    }
    i = i + 1
  }
  return n
}
fn build(depth: int, k: int) -> [any] {
  let r: [any] = [nil] * k
  if depth == 0 { return r }
  var i = 0
  while i < k {
    if i % 2 == 0 { r[i] = build(depth - 1, k) }
    i = i + 1
  }
  return r
}
fn mixed(n: int) -> [any] {
  let r: [any] = [nil] * n
  var i = 0
  while i < n {
    if i % 3 == 0 { r[i] = i * 1000000000000 }
    if i % 3 == 1 { r[i] = 0.5 * i }
    if i % 3 == 2 { r[i] = i % 2 == 0 }
    i = i + 1
  }
  r.push(9223372036854775807)
  r.push(-0.0)
  r.push(true)
  r.push(7)
  return r
}
fn copy(t: [any]) -> [any] {
  let r: [any] = []
  var i = 0
  while i < len(t) {
    let e = t[i]
    r.push(e)
    i = i + 1
  }
  return r
}
'''

NAMES = ("size", "total", "ftotal", "trues", "nonnil", "build", "mixed", "copy")


def test_walkers_and_stores_compile_natively_and_agree() -> None:
    src = WALK + '''
print(size(build(4, 3)))
print(total([1, 2, 3, -9223372036854775807 - 1, 9223372036854775807]))
print(ftotal([1.5, 2.5, -0.0]), ftotal([1.5, 2, 3]))
print(trues([true, false, true]))
print(nonnil([1, nil, 3, nil, 5]))
print(mixed(8))
let m = mixed(30)
print(len(m), m[29], m[30], m[31], m[32], m[33])
print(size(copy(build(3, 3))), copy([nil, [1], "s", 2.5, 7, nil]))
'''
    (code, out, err), log = agree_log(src, *NAMES)
    assert code == 0 and err == "", err
    assert out.startswith("63\n5\n4.0 6.5\n2\n9\n[0, 0.5, true, 3000000000000, 2.0, false, 6000000000000, 3.5, 9223372036854775807, -0.0, true, 7]\n"), out
    assert not any("deopt" in line and ("size" in line or "total (" in line or "trues" in line) for line in log), log


@pytest.mark.parametrize(("call", "where"), [
    ('total([1, 2, "x", 4])', "at total (<string>:21:19)"),
    ("total([1, 2.5])", "at total (<string>:21:19)"),
    ("total([1, true])", "at total (<string>:21:19)"),
    ("trues([true, 1])", "at trues (<string>:41:20)"),
    ('ftotal([1.5, "a"])', "at ftotal (<string>:31:21)"),
    ("size([nil, [nil, 5]])", "at size (<string>:10:24)"),
    ('size([nil, "s"])', "at size (<string>:10:24)"),
    ("total([9223372036854775807, 1])", "at total (<string>:22:11)"),
    ("nonnil([1, nil, 2.5])", "at nonnil (<string>:"),
])
def test_an_element_of_the_wrong_type_is_the_interpreters_error(call: str, where: str) -> None:
    # The check's failure exit is at its pc: the interpreter raises its own
    # error, with its trace, after the same output.
    (code, out, err), _ = agree_log(WALK + f'print("before")\nprint({call})\n')
    assert code != 0 and out == "before\n", (out, err)
    assert "error:" in err and where in err, err


def test_an_int_checked_as_a_float_is_converted_by_the_interpreter() -> None:
    out = agree(WALK + "print(ftotal([1, 2.5, 3]))\nprint(ftotal([1.5, 2.5]))\n", "ftotal")
    assert out[1] == "6.5\n4.0\n", out


def test_strings_and_other_values_are_carried_exactly() -> None:
    # A value that is not nil or a heap object, in a function that stores or
    # calls (so the slot could be overwritten under it: swap's int, which
    # only the array owns, would be freed by `t[0] = t[1]`), leaves native
    # code at the read; where nothing can drop it, it is carried borrowed.
    src = WALK + '''
fn firsts(t: [any]) -> [any] {
  let r: [any] = [nil] * len(t)
  var i = 0
  while i < len(t) {
    let e = t[i]
    r[i] = e
    i = i + 1
  }
  return r
}
fn swap(t: [any]) -> int {
  let e = t[0]
  t[0] = t[1]
  t[1] = e
  return len(t)
}
let big = 123456789012345678 * 10
let xs: [any] = ["s", nil, [1, 2], 2.5, big, true]
print(firsts(xs))
xs[1] = len(xs) * 1000000000007
var k = 0
while k < 5 {
  swap(xs)
  k = k + 1
}
print(xs)
'''
    (code, out, err), _ = agree_log(src, "firsts", "swap")
    assert code == 0 and err == "", err
    assert out == '["s", nil, [1, 2], 2.5, 1234567890123456780, true]\n[6000000000042, "s", [1, 2], 2.5, 1234567890123456780, true]\n', out


def test_fuel_is_the_interpreters() -> None:
    src = WALK + 'print(size(build(3, 4)), total([1, 2, 3]), nonnil([nil, 4]), mixed(9))\nprint(total([1, "x"]))\n'
    got = used(src, "native-eager")
    assert got[:2] == used(src, "off")[:2] == used(src, "eager")[:2]
    assert native("size", got[2]) and native("mixed", got[2]), got[2]


def test_heap_accounting_of_pushes_is_the_interpreters() -> None:
    src = WALK + "var k = 0\nwhile k < 50 {\n  mixed(20)\n  copy(build(2, 5))\n  k = k + 1\n}\n"
    assert heap_after(src, "native-eager") == heap_after(src, "off")


def test_reference_counts_stay_flat() -> None:
    log: list[str] = []
    vm = VM(jit="native-eager", stdout=io.StringIO(), jit_log=log.append)
    vm.run_source(WALK + "fn go(n: int) -> int {\n  var s = 0\n  var k = 0\n  while k < n {\n    let m = mixed(12)\n    s = s + size(build(2, 3)) + nonnil([1, nil, 2])\n    k = k + 1\n  }\n  return s\n}\n")
    seen = []
    for _ in range(4):
        for _ in range(10):
            vm.call("go", 20)
        vm.machine.collect()
        gc.collect()
        seen.append((sys.getrefcount(None), sys.getrefcount(True), sys.getallocatedblocks()))
    assert abs(seen[3][0] - seen[2][0]) < 50, seen
    assert abs(seen[3][1] - seen[2][1]) < 50, seen
    assert abs(seen[3][2] - seen[2][2]) < 200, seen
    assert native("mixed", log) and native("size", log) and native("nonnil", log), log


GC_MODES = [("--gc-stress", "--gc-verify"), ("--gc-stress", "--gc", "incremental", "--gc-verify"),
            ("--gc-stress", "--gc", "generational", "--gc-verify"), ("--gc", "incremental", "--gc-verify", "--max-memory", "256K")]


@pytest.mark.parametrize("mode", GC_MODES, ids=lambda m: " ".join(m))
def test_walkers_under_collectors(mode: tuple) -> None:
    src = WALK + '''
var s = 0
var k = 0
while k < 40 {
  let t = build(3, 3)
  let m = mixed(10)
  s = s + size(t) + size(copy(t)) + total([k, 1]) + trues([true, false])
  k = k + 1
}
print(s)
'''
    (code, _out, err), _ = agree_log(src, "size", "mixed", "copy", extra=mode)
    assert code == 0 and err == "", err


# ---------------------------------------------------------------- hypothesis

_INTS = [0, 1, -1, 7, 256, 257, -5, -6, 2**31, -(2**40), 2**62, INT_MAX, -INT_MAX - 1]
_FLOATS = ["0.0", "-0.0", "1.5", "-2.25", "1e308", "inf", "nan"]
_OTHERS = ["nil", "true", "false", '"s"', "[1, 2]", "[nil]"]


def _lit(x: object) -> str:
    if x == -INT_MAX - 1:
        return "(-9223372036854775807 - 1)"
    return str(x)


@st.composite
def any_program(draw: st.DrawFn) -> str:
    """A mixed [any] literal, a walker over it and scalar stores into it."""
    items = draw(st.lists(st.one_of(st.sampled_from(_INTS).map(_lit), st.sampled_from(_FLOATS), st.sampled_from(_OTHERS)), max_size=6))
    fn = draw(st.sampled_from(["total", "ftotal", "trues", "nonnil", "size"]))
    store = draw(st.sampled_from([_lit(x) for x in _INTS] + ["0.5", "-0.0", "true", "false"]))
    at = draw(st.integers(-1, 6))
    return (WALK + "let inf = 1e308 * 10.0\nlet nan = inf - inf\n"
            + "fn put(t: [any], i: int) -> int {\n  t.push(" + store + ")\n  t[i] = " + store + "\n  return len(t)\n}\n"
            + f"let xs: [any] = [{', '.join(items)}]\nprint(put(xs, {at}))\nprint(xs)\nprint({fn}(xs))\n")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_program())
def test_hypothesis_mixed_any_arrays_agree_with_the_interpreter(src: str) -> None:
    want, got = both(src)
    assert got == want, (src, both.log)  # type: ignore[attr-defined]
    assert native("put", both.log), (src, both.log)  # type: ignore[attr-defined]


def test_an_int_into_a_float_place_is_converted_natively() -> None:
    # check_type of an int against `float` (a float field, a typed local):
    # sitofp, rounding to nearest even as CPython's float(int) does.
    src = '''
class P {
  var x: int = 0
  var y: float = 0.0
  fn bump(k: int) -> float {
    self.x = self.x + k
    self.y = k
    let z: float = k * 3
    return self.y + z
  }
}
fn put(p: P, k: int) -> float {
  p.y = k
  return p.y
}
let p = P()
print(p.bump(2), p.x, p.y)
print(put(p, 9007199254740993), put(p, -9223372036854775807 - 1), put(p, 9223372036854775807), put(p, -3))
print(p.bump(9007199254740993))
'''
    (code, out, err), _ = agree_log(src, "P.bump", "put")
    assert code == 0 and err == "", err
    assert out.startswith("8.0 2 2.0\n9007199254740992.0 -9.223372036854776e+18 9.223372036854776e+18 -3.0\n"), out
