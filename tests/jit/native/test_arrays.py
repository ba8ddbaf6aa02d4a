"""Arrays in native code (jit/native/arrays.py, layout.py; docs/native.md, "Data representation").

Every test runs the program on the interpreter and on `--jit=native-eager`
and compares stdout, stderr (with traces) and the exit code, and checks
that the functions under test really compiled natively (their log line).

Stores are effects: the engine compiles them only with exact-pc deopt
(emit.EXACT_DEOPT). The `stores` fixture turns the flag on for programs
where v0's bail-and-re-run is exact anyway (no failure after a store in a
call); programs that fail after storing need the real deopt and are
skipped until it is there.
"""

from __future__ import annotations

import gc
import io
import math
import sys

import pytest

pytest.importorskip("llvmlite")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from native_helpers import agree_log, both, native, same, used

from tinyvm.api import VM
from tinyvm.jit.native import emit
from tinyvm.jit.native.layout import probe

INT_MAX = 9223372036854775807
REAL_DEOPT = getattr(emit, "EXACT_DEOPT", False)
needs_deopt = pytest.mark.skipif(not REAL_DEOPT, reason="stores before a failure need exact-pc deopt (emit.EXACT_DEOPT)")


@pytest.fixture
def stores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emit, "EXACT_DEOPT", True, raising=False)


def test_the_layout_is_verified_on_this_interpreter() -> None:
    lay, why = probe()
    assert lay is not None, why
    assert lay.true == id(True) and lay.int_type == id(int) and lay.float_type == id(float)


READS = f"""
fn isum(a: [int]) -> int {{
  var s = 0
  var i = 0
  while i < len(a) {{ s = s ^ a[i]; i += 1 }}
  return s
}}
fn at(a: [int], i: int) -> int {{ return a[i] }}
fn fat(a: [float], i: int) -> float {{ return a[i] }}
fn fsum(a: [float]) -> float {{
  var s = 0.0
  for i in 0..a.len() {{ s += a[i] }}
  return s
}}
fn count(a: [bool]) -> int {{
  var c = 0
  for i in 0..len(a) {{ if a[i] {{ c += 1 }} }}
  return c
}}
fn bat(a: [bool], i: int) -> bool {{ return a[i] }}
fn n(a: [float]) -> int {{ return len(a) + a.len() }}
var ints = [0, 1, -1, 1073741823, 1073741824, -1073741824, 1152921504606846975, 1152921504606846976,
            4611686018427387905, -4611686018427387905, {INT_MAX}, -{INT_MAX} - 1, 256, -5, -6, 257]
print(isum(ints), isum([]))
for i in 0..len(ints) {{ print(at(ints, i)) }}
var fs = [1.5, -0.0, 0.0 / 0.0, 1.0 / 0.0, -1.0 / 0.0, 5e-324, 1.7976931348623157e308]
for i in 0..len(fs) {{ print(fat(fs, i)) }}
print(fsum([0.1, 0.2, 0.3]), fsum([]), n(fs))
var bs = [true, false, true, true]
print(count(bs), bat(bs, 0), bat(bs, 1))
"""


def test_reads_and_len_of_each_element_type() -> None:
    code, out, err = same(READS, "isum", "at", "fat", "fsum", "count", "bat", "n")
    assert code == 0 and err == ""
    assert f"\n{INT_MAX}\n-{INT_MAX + 1}\n" in out and "\n-0.0\nnan\ninf\n-inf\n" in out


@pytest.mark.parametrize("index", ["-1", "len(a)", "-9223372036854775807 - 1", "9223372036854775807", "3 - 4"])
@pytest.mark.parametrize("elem", ["int", "float", "bool"])
def test_an_out_of_bounds_read_raises_the_interpreters_error(index: str, elem: str) -> None:
    vals = {"int": "[1, 2, 3]", "float": "[1.0, 2.0, 3.0]", "bool": "[true, false, true]"}[elem]
    src = f"""
fn get(a: [{elem}], i: int) -> {elem} {{
  let x = a[0]
  return a[i]
}}
fn outer(a: [{elem}]) -> {elem} {{ return get(a, {index}) }}
let a = {vals}
print(get(a, 2))
print(outer(a))
"""
    code, _, err = same(src, "get", "outer")
    assert code == 1 and "IndexError: index" in err and "at get (" in err and "at outer (" in err


def test_an_element_of_another_type_leaves_native_code() -> None:
    # The checker cannot see into `any`: a [int] parameter may hold a string
    # at run time; native code checks each element's type as it reads it.
    src = """
fn total(a: [int]) -> int {
  var s = 0
  for i in 0..len(a) { s += a[i] }
  return s
}
var xs: any = [1, 2, "three"]
print(total([1, 2, 3]))
print(total(xs))
"""
    code, out, err = same(src, "total")
    assert code == 1 and out == "6\n" and "TypeError" in err


def test_an_array_passed_between_native_functions() -> None:
    src = """
fn get(a: [float], i: int) -> float { return a[i] * 2.0 }
fn sum(a: [float]) -> float {
  var s = 0.0
  for i in 0..len(a) { s += get(a, i) }
  return s
}
print(sum([1.0, 2.5, -0.5]))
"""
    assert same(src, "sum")[1] == "6.0\n"
    assert any("native sum in" in line and "2 functions" in line for line in both.log)


def test_stores_wait_for_exact_deopt() -> None:
    if REAL_DEOPT:
        pytest.skip("exact-pc deopt is there")
    src = "fn put(a: [int], v: int) -> int { a[0] = v\n return v }\nlet a = [1]\nprint(put(a, 5), a)\n"
    assert same(src) == (0, "5 [5]\n", "")
    assert "jit: not native put: stores into an array: needs exact-pc deopt" in both.log


WRITES = f"""
fn fill(a: [int], v: int) -> int {{
  var i = 0
  while i < len(a) {{ a[i] = v + i; i += 1 }}
  return i
}}
fn scale(a: [float], k: float) -> int {{
  for i in 0..len(a) {{ a[i] = a[i] * k }}
  return len(a)
}}
fn flip(a: [bool]) -> int {{
  for i in 0..len(a) {{ a[i] = not a[i] }}
  return 0
}}
fn swap(a: [int], i: int, j: int) -> int {{
  let t = a[i]
  a[i] = a[j]
  a[j] = t
  return 0
}}
fn copy(dst: [int], src: [int]) -> int {{
  for i in 0..len(src) {{ dst[i] = src[i] + 1 }}
  return 0
}}
var xs = [0, 0, 0, 0]
print(fill(xs, 4611686018427387900), xs)
print(fill(xs, -{INT_MAX} - 1), xs)
print(fill(xs, -2), xs)
var fs = [1.5, -0.0, 0.0 / 0.0, 3.0]
let keep = fs[0]
print(scale(fs, -2.0), fs, keep)
print(scale(fs, 0.5), fs, keep)
var bs = [true, false, false]
print(flip(bs), bs)
print(swap(xs, 0, 3), xs)
print(copy(xs, xs), xs)
var ys = [5, 6, 7, 8]
print(copy(ys, xs), ys, xs)
"""


def test_writes_of_each_element_type(stores: None) -> None:
    code, out, err = same(WRITES, "fill", "scale", "flip", "swap", "copy")
    assert code == 0 and err == ""
    assert "[-3.0, 0.0, nan, -6.0] 1.5" in out and "[4611686018427387900, 4611686018427387901, 4611686018427387902, 4611686018427387903]" in out


@pytest.mark.parametrize("index", ["-1", "len(a)", "2 - 5"])
def test_an_out_of_bounds_write_raises_the_interpreters_error(stores: None, index: str) -> None:
    src = f"""
fn put(a: [float], i: int) -> int {{
  a[i] = 1.0
  return 0
}}
let a = [0.5, 0.25]
print(put(a, 1), a)
print(put(a, {index}))
"""
    code, out, err = same(src, "put")
    assert code == 1 and "IndexError: index" in err and "at put (" in err and out == "0 [0.5, 1.0]\n"


@needs_deopt
def test_a_failure_after_stores_keeps_them() -> None:
    src = """
fn fill(a: [int], n: int) -> int {
  for i in 0..n { a[i] = i * 10 }
  return n
}
let a = [0, 0, 0]
print(fill(a, 4))
"""
    code, _, err = same(src, "fill")
    assert code == 1 and "IndexError" in err


GC_MODES = [("--gc-stress",), ("--gc", "incremental", "--gc-verify"), ("--gc", "generational", "--gc-verify"),
            ("--gc-stress", "--gc", "generational", "--gc-verify"), ("--gc-stress", "--gc", "incremental")]


@pytest.mark.parametrize("mode", GC_MODES, ids=lambda m: " ".join(m))
def test_arrays_under_every_collector(stores: None, mode: tuple) -> None:
    # Arrays allocated between native calls, so collections run while native
    # code's arrays are live in frames; stores of scalars need no barrier.
    src = WRITES + """
var kept = []
for round in 0..30 {
  var a = [round, 1, 2, 3]
  kept.push(a)
  fill(a, round)
  swap(a, 0, 3)
  var f = [1.0 * round, 2.0]
  scale(f, 3.0)
  kept.push(f)
}
var t = 0
for a in kept { t += len(a) }
print(t, kept[0], kept[len(kept) - 1])
"""
    code, _, err = same(src, "fill", "swap", "scale", extra=mode)
    assert code == 0 and err == "", err


def test_reference_counts_do_not_leak(stores: None) -> None:
    log: list[str] = []
    vm = VM(jit="native-eager", stdout=io.StringIO(), jit_log=log.append)
    vm.run_source(
        """
var fs = [0.5, 1.5, 2.5]
var big = [4611686018427387904, 4611686018427387905]
var bs = [true, false, true]
fn rd(a: [float], n: int) -> float {
  var s = 0.0
  for i in 0..n { s += a[0] + a[1] }
  return s
}
fn rdi(a: [int], n: int) -> int {
  var s = 0
  for i in 0..n { s = s ^ a[0] }
  return s
}
fn wr(a: [float], n: int) -> int {
  for i in 0..n { a[1] = a[0] + 1.0 * i }
  return n
}
fn wri(a: [int], n: int) -> int {
  for i in 0..n { a[1] = a[0] - i }
  return n
}
fn wrb(a: [bool], n: int) -> int {
  for i in 0..n { a[i % 3] = i % 2 == 0 }
  return n
}
fn go_rd(n: int) -> float { return rd(fs, n) }
fn go_rdi(n: int) -> int { return rdi(big, n) }
fn go_wr(n: int) -> int { return wr(fs, n) }
fn go_wri(n: int) -> int { return wri(big, n) }
fn go_wrb(n: int) -> int { return wrb(bs, n) }
"""
    )
    fs = vm.globals._ns.get("fs").items
    big = vm.globals._ns.get("big").items
    bs = vm.globals._ns.get("bs").items
    x0, b0 = fs[0], big[0]
    old, oldi = fs[1], big[1]
    for name in ("go_rd", "go_rdi"):
        vm.call(name, 1)  # (compiled now; each compilation keeps what it keeps)
    gc.collect()
    before = sys.getrefcount(x0), sys.getrefcount(b0)
    vm.call("go_rd", 10_000)
    vm.call("go_rdi", 10_000)
    gc.collect()
    assert (sys.getrefcount(x0), sys.getrefcount(b0)) == before
    r_old, r_oldi = sys.getrefcount(old), sys.getrefcount(oldi)
    vm.call("go_wr", 10_000)
    vm.call("go_wri", 10_000)
    gc.collect()
    # The list dropped its reference to the old elements (exactly one) and
    # holds exactly one to the new ones (+2: the name here, getrefcount's argument).
    assert (sys.getrefcount(old), sys.getrefcount(oldi)) == (r_old - 1, r_oldi - 1)
    new, newi = fs[1], big[1]
    assert new == 0.5 + 9999.0 and newi == 4611686018427387904 - 9999
    assert sys.getrefcount(new) == 3 and sys.getrefcount(newi) == 3
    vm.call("go_wrb", 2)  # (compiled now: compiling keeps references to True and False)
    gc.collect()
    t0 = sys.getrefcount(True) - bs.count(True)
    f0 = sys.getrefcount(False) - bs.count(False)
    vm.call("go_wrb", 10_001)
    gc.collect()
    t1 = sys.getrefcount(True) - bs.count(True)
    f1 = sys.getrefcount(False) - bs.count(False)
    # (measured before any assert: pytest's rewritten asserts keep their results, True or False)
    # True and False are process-wide: other threads in the worker move their
    # counts by tens. A leak or a lost reference per store moves them by 10,001.
    assert abs(t1 - t0) < 1000 and abs(f1 - f0) < 1000, (t0, t1, f0, f1)
    assert bs == [False, True, True]
    for name in ("rd", "rdi", "wr", "wri", "wrb"):
        assert native(name, log), log


# ---------------------------------------------------------------- hypothesis

_IDX = st.integers(-3, 6)


@st.composite
def array_program(draw: st.DrawFn) -> str:
    """A function over an [int] and a [float] array: reads, arithmetic, and
    (when exact: no failure can follow a store) writes."""
    ints = draw(st.lists(st.sampled_from([0, 1, -1, 7, 2**31, -(2**40), 2**62, INT_MAX, -INT_MAX - 1]), max_size=5))
    floats = draw(st.lists(st.sampled_from([0.0, -0.0, 1.5, -2.25, 1e308, float("inf"), float("nan")]), max_size=5))
    writes = draw(st.booleans())
    body = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["ri", "rf", "len", "wi", "wf"] if writes else ["ri", "rf", "len"]))
        if writes and not REAL_DEOPT:
            # In bounds and no overflow (bxor): v0 re-runs a failing call from
            # its entry, exact only when no failure can follow a store.
            n_i, n_f = max(len(ints), 1), max(len(floats), 1)
            if not ints and kind in ("ri", "wi") or not floats and kind in ("rf", "wf"):
                kind = "len"
            k = draw(st.integers(0, (n_i if kind in ("ri", "wi") else n_f) - 1))
        else:
            k = draw(_IDX)
        if kind == "ri":
            # (with exact deopt, `+` may overflow after stores)
            body.append(f"s = s {'+' if REAL_DEOPT and draw(st.booleans()) else '^'} a[{k}]")
        elif kind == "rf":
            body.append(f"f = f * 0.5 + b[{k}]")
        elif kind == "len":
            body.append("s = s ^ (len(a) + b.len())")
        elif kind == "wi":
            body.append(f"a[{k}] = s ^ {draw(st.sampled_from([0, 3, INT_MAX]))}")
        else:
            body.append(f"b[{k}] = f - 1.0")
    lines = "\n  ".join(body)
    il = ", ".join(f"-{INT_MAX} - 1" if x == -INT_MAX - 1 else str(x) for x in ints)
    fl = ", ".join("0.0 / 0.0" if math.isnan(x) else repr(x).replace("inf", "1.0 / 0.0") for x in floats)
    return f"""
fn go(a: [int], b: [float]) -> float {{
  var s = 0
  var f = 0.0
  {lines}
  return f + 1.0 * (s % 1000)
}}
var a: [int] = [{il}]
var b: [float] = [{fl}]
print(go(a, b), a, b)
"""


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(array_program())
def test_hypothesis_array_programs_agree_with_the_interpreter(src: str) -> None:
    old = getattr(emit, "EXACT_DEOPT", False)
    emit.EXACT_DEOPT = True  # (without real deopt the generator writes only where re-running is exact)
    try:
        want, got = both(src)
    finally:
        emit.EXACT_DEOPT = old
    assert got == want, (src, both.log)
    assert native("go", both.log), (src, both.log)


def test_functions_without_result_and_methods_compile() -> None:
    # A nil result ("n") and a method's unused `self` ("p": only frame states
    # name it, and deopt gives the interpreter the same object back).
    src = """
fn swap(v: [int], i: int, j: int) {
  let t = v[i]
  v[i] = v[j]
  v[j] = t
}
fn permute(v: [int], n: int) -> int {
  var count = 1
  if n != 0 {
    let n1 = n - 1
    count += permute(v, n1)
    var i = n1
    while i >= 0 {
      swap(v, n1, i)
      count += permute(v, n1)
      swap(v, n1, i)
      i -= 1
    }
  }
  return count
}
class Counter {
  var hits: int = 0
  fn count(flags: [bool], k: int) -> int {
    var c = 0
    for i in 0..len(flags) { if flags[i] { c += k } }
    return c + flags.len() - len(flags)
  }
}
var v = [0, 1, 2, 3, 4, 5]
print(permute(v, 6), v, swap(v, 0, 1), v)
let c = Counter()
print(c.count([true, false, true], 5))
print(c.count([true, false, true], 4611686018427387904), c.hits)
"""
    code, out, err = same(src, "permute", "Counter.count")
    assert code == 1 and out.startswith("8660 [1, 0, 2, 3, 4, 5] nil") and "OverflowError" in err and "at Counter.count (" in err


FOR_IN_SCALARS = """
fn isum(xs: [int]) -> int {
  var s = 0
  for x in xs { s = s + x * 2 }
  return s
}
fn fsum(xs: [float]) -> float {
  var s = 0.0
  for x in xs { s = s + x }
  return s
}
fn count(bs: [bool]) -> int {
  var n = 0
  for b in bs { if b { n += 1 } }
  return n
}
fn grow(xs: [int]) -> int {
  var n = 0
  for x in xs {
    if n < 3 { xs.push(x + 100) }
    n += 1
  }
  return n
}
print(isum([1, 2, 3, 1 << 40, -5]), isum([]))
print(fsum([0.5, -0.0, 1e300, 1e300]), fsum([]), fsum([-0.0]))
print(count([true, false, true, true]))
let ys = [1, 2]
print(grow(ys), ys)
let bad: any = [1, 2, "three", 4]
print(isum([1, 2, 4611686018427387904]))
"""


@pytest.mark.parametrize("mode", [(), ("--gc-stress", "--gc-verify"), ("--gc", "generational", "--gc-verify")], ids=lambda m: " ".join(m) or "default")
def test_for_in_over_arrays_of_scalars_agrees_with_the_interpreter(mode: tuple) -> None:
    # `for x in xs` over [int]/[float]/[bool] (fieldtypes._iter_type): no iterator
    # allocated, each element unboxed as xs[i] is, the length read at every
    # step (grow's pushes are seen); the overflow at the third element of the
    # last call leaves at the exact pc with a real Iterator rebuilt.
    (code, out, err), log = agree_log(FOR_IN_SCALARS, "isum", "fsum", "count", "grow", extra=mode)
    assert code == 1 and "OverflowError" in err and "at isum" in err, err
    assert out.splitlines()[:4] == ["2199023255554 0", "2e+300 0.0 0.0", "3", "5 [1, 2, 101, 102, 201]"]
    assert any("isum deopt at" in x and "mul fails" in x for x in log), log


def test_a_wrong_element_type_leaves_at_the_for_iter_with_the_interpreters_error() -> None:
    src = FOR_IN_SCALARS.replace("print(isum([1, 2, 4611686018427387904]))", "print(isum(bad))")
    (code, _, err), log = agree_log(src, "isum")
    assert code == 1 and "TypeError: unsupported operand types" in err and "at isum" in err, err
    assert any("isum deopt at" in x and "for_iter fails" in x for x in log), log


def test_for_in_over_scalars_counts_the_same_fuel() -> None:
    want = used(FOR_IN_SCALARS, "off")
    got = used(FOR_IN_SCALARS, "native-eager")
    assert got[:2] == want[:2]
    assert native("isum", got[2]) and native("grow", got[2]), got[2]
