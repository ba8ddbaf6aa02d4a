"""Scalar-typed fields in native code (jit/native/fields.py; docs/native.md, "Fields: the data representation").

Programs run on the interpreter, the Python JIT (`eager`) and `native-eager`
and must agree exactly (stdout, stderr with traces, exit status); each test
also checks that the functions under test compiled natively (their log
line), so a silent fallback cannot pass.
"""

from __future__ import annotations

import gc
import io
import sys

import pytest

pytest.importorskip("llvmlite")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from native_helpers import agree, agree_log, both, cli, native, tiers, used
from test_native_differential import FLOATS, INTS

from tinyvm.api import VM

CLASS = """
class P {
  var i: int
  var f: float
  var b: bool
  fn init(i: int, f: float, b: bool) { self.i = i; self.f = f; self.b = b }
  fn get_i() -> int { return self.i }
  fn get_f() -> float { return self.f }
  fn get_b() -> bool { return self.b }
  fn set_i(v: int) -> int { self.i = v; return self.i }
  fn set_f(v: float) -> float { self.f = v; return self.f }
  fn set_b(v: bool) -> bool { self.b = v; return self.b }
  fn step(n: int) -> int {
    var s = 0
    for k in 0..n {
      self.i = self.i + k
      self.f = self.f * 0.5 + 1.0
      self.b = not self.b
      s += self.i
    }
    return s
  }
}
fn mix(p: P, q: P) -> float { return p.f + q.f + sqrt(abs(p.f)) }
fn iabs(p: P) -> int { return abs(p.i) }
"""


def test_reads_and_writes_of_each_field_type_agree_on_three_tiers() -> None:
    src = CLASS + """
let p = P(3, 1.5, true)
let q = P(-4, -0.0, false)
print(p.step(10), p.i, p.f, p.b)
print(p.get_i(), p.get_f(), p.get_b(), q.get_f())
print(p.set_i(1073741824), p.set_i(-5), p.set_i(257), p.set_i(9223372036854775807), p.get_i())
print(p.set_f(0.0 / 0.0), p.set_f(-1.0 / 0.0), p.set_f(-0.0), p.get_f())
print(p.set_b(false), p.get_b(), p.set_b(true), p.get_b())
print(mix(p, q), iabs(q))
"""
    agree(src, "P.step", "P.get_i", "P.get_f", "P.get_b", "P.set_i", "P.set_f", "P.set_b", "mix", "iabs")


RECORDS = """
fn norm(r: {x: float, y: float}) -> float { return sqrt(r.x * r.x + r.y * r.y) }
fn bump(r: {n: int, ok: bool}, k: int) -> int {
  for j in 0..k { r.n = r.n + j; r.ok = r.n % 2 == 0 }
  return r.n
}
let r = {x: 3.0, y: 4.0}
let c = {n: 1, ok: false}
print(norm(r), bump(c, 10), c.n, c.ok)
"""


def test_record_fields() -> None:
    agree(RECORDS, "norm", "bump")


OBJECTS = """
class Body {
  var x: float
  var m: float
  fn init(x: float, m: float) { self.x = x; self.m = m }
}
class Sys {
  var bodies: [Body]
  var counts: [int]
  fn init() { self.bodies = [Body(1.0, 2.0), Body(-3.5, 0.25), Body(10.0, 1.0)]; self.counts = [1, 2, 3] }
  fn energy() -> float {
    var e = 0.0
    for i in 0..len(self.bodies) {
      let a = self.bodies[i]
      for j in (i + 1)..len(self.bodies) {
        let b = self.bodies[j]
        e += a.m * b.m / abs(a.x - b.x)
      }
    }
    return e
  }
  fn total() -> int {
    var t = 0
    for i in 0..len(self.counts) { t += self.counts[i]; self.counts[i] = t }
    return t
  }
}
fn first(bs: [Body]) -> float { return bs[0].x + bs[len(bs) - 1].m }
let s = Sys()
print(s.energy(), s.total(), s.total(), first(s.bodies))
print(first([Body(1.0, 1.0)]))
print(first([]))
"""


def test_objects_and_arrays_read_from_fields() -> None:
    code, _, err = agree(OBJECTS, "Sys.energy", "Sys.total", "first")
    assert code == 1 and "IndexError" in err  # (first([]): the interpreter's error, at the exact pc)


@pytest.mark.parametrize(
    "call",
    [
        "getx(odd)",  # an instance of another class: no field x
        "getx(rec)",  # a record with x a float: the value's type is checked as it is read
        "getx(nope)",  # nil
        "getx(arr)",  # not an object with fields
        "setx(odd, 1)",  # a store into a missing field
        "getm(pany)",  # a method of that name: the interpreter makes the bound method
    ],
)
def test_a_missing_or_ill_typed_field_deoptimises_with_the_interpreters_error(call: str) -> None:
    src = f"""
class P {{
  var x: int
  fn init() {{ self.x = 1 }}
  fn m() -> int {{ return 7 }}
}}
class Q {{
  var y: int
  fn init() {{ self.y = 2 }}
}}
class R {{
  var m: int
  fn init() {{ self.m = 3 }}
}}
fn getx(p: P) -> int {{
  var s = 0
  for i in 0..3 {{ s += i }}
  return p.x + s
}}
fn setx(p: P, v: int) -> int {{ p.x = v; return v }}
fn getm(r: R) -> int {{ return r.m }}
let p = P()
print(getx(p), setx(p, 5), getx(p))
let odd: any = Q()
let rec: any = {{x: 1.5}}
let nope: any = nil
let arr: any = [1]
let pany: any = p
print({call})
"""
    agree(src, "getx")


@st.composite
def field_program(draw) -> str:
    """Writes of int64 edges and float specials through native methods, then
    arithmetic on the fields (which may overflow: the interpreter's error)."""
    iv = draw(st.lists(st.sampled_from(INTS), min_size=1, max_size=4))
    fv = draw(st.lists(st.sampled_from(FLOATS), min_size=1, max_size=4))
    op = draw(st.sampled_from(["+", "-", "*"]))
    lines = [
        "class C {",
        "  var i: int",
        "  var j: int",
        "  var f: float",
        "  var b: bool",
        "  fn init() { self.i = 0; self.j = 1; self.f = 0.0; self.b = false }",
        "  fn put(v: int, w: float) -> bool { self.j = self.i; self.i = v; self.f = self.f + w; self.b = self.f > 0.0; return self.b }",
        f"  fn calc() -> int {{ return self.i {op} self.j }}",
        "}",
        "let c = C()",
    ]
    for k in range(max(len(iv), len(fv))):
        lines.append(f"print(c.put({iv[k % len(iv)]}, {fv[k % len(fv)]}), c.i, c.j, c.f, c.b)")
    lines.append("print(c.calc())")
    return "\n".join(lines) + "\n"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field_program())
def test_hypothesis_field_programs_agree_on_three_tiers(src: str) -> None:
    agree(src, "C.put", "C.calc")


def test_fuel_totals_are_identical() -> None:
    src = CLASS + OBJECTS.replace("print(first([]))\n", "") + """
let p = P(1, 0.5, false)
print(p.step(300), mix(p, p))
"""
    want = used(src, "off")[:2]
    assert used(src, "eager")[:2] == want
    n, out, log = used(src, "native-eager")
    assert (n, out) == want
    assert native("P.step", log) and native("Sys.energy", log), log


GC_MODES = [("--gc-stress", "--gc-verify"), ("--gc", "incremental", "--gc-verify"), ("--gc", "generational", "--gc-verify"),
            ("--gc-stress", "--gc", "generational", "--gc-verify"), ("--gc-stress", "--gc", "incremental", "--gc-verify")]


@pytest.mark.parametrize("mode", GC_MODES, ids=lambda m: " ".join(m))
def test_fields_under_every_collector(mode: tuple) -> None:
    # Instances allocated between native calls, so collections (and the
    # incremental and generational barriers' states) change while native code
    # writes the fields of old, black or remembered objects: scalars need no barrier.
    src = CLASS + """
var kept: [P] = []
for round in 0..40 {
  let p = P(round, 0.5 * round, round % 2 == 0)
  kept.push(p)
  p.step(round)
  let junk = [round, round + 1]
  kept[round / 2].step(3)
}
var t = 0
for p in kept { t += p.get_i() }
print(t, kept[0].f, kept[39].b)
"""
    code, _, err = agree(src, "P.step", "P.get_i", extra=mode)
    assert code == 0 and err == "", err


@pytest.mark.usefixtures("boxed_ints")  # (int fields boxed: raw int slots never take this path)
def test_reference_counts_stay_flat_over_a_million_writes() -> None:
    log: list[str] = []
    vm = VM(jit="native-eager", stdout=io.StringIO(), jit_log=log.append)
    vm.run_source(
        """
class W {
  var f: float
  var i: int
  var big: int
  var b: bool
  fn init() { self.f = 0.5; self.i = 1; self.big = 4611686018427387904; self.b = true }
  fn go(n: int) -> int {
    for k in 0..n {
      self.f = self.f + 1.0
      self.i = k
      self.big = self.big - 1
      self.b = not self.b
    }
    return n
  }
}
let w = W()
fn run(n: int) -> int { return w.go(n) }
"""
    )
    fields = vm.globals._ns.get("w").fields
    vm.call("run", 2)  # (compiled now: compiling keeps what it keeps)
    gc.collect()
    old_f, old_big = fields["f"], fields["big"]
    r_f, r_big = sys.getrefcount(old_f), sys.getrefcount(old_big)
    t0, f0 = sys.getrefcount(True), sys.getrefcount(False)
    blocks = sys.getallocatedblocks()
    vm.call("run", 1_000_000)
    gc.collect()
    t1, f1 = sys.getrefcount(True), sys.getrefcount(False)
    after = sys.getallocatedblocks()
    r_f1, r_big1 = sys.getrefcount(old_f), sys.getrefcount(old_big)
    assert (t1, f1) == (t0, f0)
    # The dict dropped the old values (exactly one reference each: the float
    # is referenced here too, so the first store boxed a new one; the later
    # ones updated that one in place, its only reference being the dict's).
    assert (r_big1, r_f1) == (r_big - 1, r_f - 1)
    nf, nbig = fields["f"], fields["big"]
    rc = sys.getrefcount(nf), sys.getrefcount(nbig)  # (measured before any assert: pytest's rewritten asserts keep their operands)
    assert rc == (3, 3)  # (the dict's, the name here, getrefcount's argument)
    assert nf is not old_f and nf == 2.5 + 1_000_000 and nbig == 4611686018427387904 - 1_000_002
    assert fields["i"] == 999_999 and fields["b"] is True
    assert after - blocks < 1000, (blocks, after)  # (a million boxed ints made and freed)
    assert native("W.go", log), log


def test_the_log_says_why_a_field_is_not_native() -> None:
    src = """
class S {
  var name: string
  fn init() { self.name = "a" }
  fn n() -> int { return len(self.name) }
}
print(S().n())
"""
    want, got = both(src)
    assert got == want
    assert any("not native S.n: get_field of field 'name', not of a scalar type" in x for x in both.log), both.log


FOR_IN = """
class B {
  var n: int
  var w: float
  fn init(n: int) { self.n = n; self.w = 0.5 * n }
}
class Box {
  var items: [B]
  fn init(items: [B]) { self.items = items }
  fn total(k: int) -> int {
    var t = 0
    for b in self.items {
      b.n = b.n * k
      b.w = b.w + 1.0
      t += b.n
    }
    return t
  }
}
fn ws(bs: [B]) -> float {
  var s = 0.0
  for b in bs { for c in bs { s += b.w * c.w } }
  return s
}
let box = Box([B(1), B(2), B(3), B(4)])
print(box.total(3), box.total(-2), ws(box.items), ws([]))
let odd: any = [B(5), B(6)]
odd.push(B(7))
print(ws(odd))
// The third element's field overflows inside the loop: native code leaves
// with the iterator rebuilt at its position, the interpreter raises there.
let big = Box([B(1), B(2), B(4611686018427387904), B(8)])
print(big.total(1))
print(big.total(3))
"""


@pytest.mark.parametrize("mode", [(), ("--gc-stress", "--gc-verify"), ("--gc", "incremental", "--gc-verify"), ("--gc", "generational", "--gc-verify")], ids=lambda m: " ".join(m) or "default")
def test_for_in_over_an_array_of_objects_without_an_iterator(mode: tuple) -> None:
    code, _, err = agree(FOR_IN, "Box.total", "ws", extra=mode)
    assert code == 1 and "OverflowError" in err and "Box.total" in err, err


def test_a_deopt_inside_for_in_rebuilds_the_iterator() -> None:
    log: list[str] = []
    out = io.StringIO()
    vm = VM(jit="native-eager", stdout=out, jit_log=log.append)
    with pytest.raises(Exception, match="integer overflow"):
        vm.run_source(FOR_IN, "t.tl")
    assert any("jit: native Box.total deopt at t.tl:" in x and "mul fails" in x for x in log), log
    # The overflowing element is the third: the first two were multiplied by 3
    # in native code, the interpreter resumed with the iterator at position 3
    # (FOR_ITER had taken the third) and raised at the same multiplication.
    big = vm.globals._ns.get("big")
    assert [b.fields["n"] for b in big.fields["items"].items] == [3, 6, 4611686018427387904, 8]
    assert out.getvalue().splitlines()[-1] == "4611686018427387915"


METHODS = """
class C {
  var n: int
  fn init() { self.n = 0 }
  fn add(k: int) -> int { self.n = self.n * 2 + k; return k }
  fn show() { print(self.n) }
  fn run(m: int) -> int {
    var t = 0
    for i in 0..m { t += self.add(i); self.show() }
    return t
  }
}
class D extends C {
  fn add(k: int) -> int { self.n = self.n + k; return 1 }
}
print(C().run(5))
print(D().run(5))
print(C().run(70))
"""


def test_method_calls_on_self_are_native_calls_guarded_by_the_class() -> None:
    # C.run calls C.add natively (one module, 3 functions: run, add, show);
    # a D receiver fails the class guard, so the VM calls D.add; show's
    # print is a call out from a native callee (its method frame rebuilt);
    # add overflows at run(70): the interpreter's error and trace, through
    # the rebuilt method frames.
    code, _, err = agree(METHODS, "C.run")
    assert code == 1 and "OverflowError" in err and "at C.add" in err and "at C.run" in err, err
    log = tiers(METHODS)["native"][1]
    assert any(x.startswith("jit: native C.run in ") and "(3 functions;" in x for x in log), log


def test_awfy_permute_and_queens_read_their_arrays_from_fields_natively() -> None:
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[3] / "benchmarks" / "awfy"
    for name, fn in (("Permute", "Permute.permute"), ("Queens", "Queens.place_queen")):
        code, out, err = cli(["jit-dump", "--native", "--run", str(root / "run.tl"), name, "1", "2"])
        assert code == 0, err
        # (native as the root of its module, or inside a caller's: stores of
        # arrays into fields made `benchmark` and `queens` native too,
        # stores.py, and the harness's inner_benchmark_loop, specialised on
        # the benchmark's class, calls them natively: engine.py `_prepare`)
        lines = out.splitlines()
        said = lines[lines.index(f"--- fn {fn}: native ---") + 1]
        assert said.startswith(("; compiled in", "native inside")), said


def test_the_inline_entry_lookup_and_its_misses_agree() -> None:
    # A field's dict entry is read inline at its index in the class's
    # template (a record's: in its type), guarded by the key's address; a
    # record written in another order, a subclass's instance (parent fields
    # first), and an instance whose dict is not a template copy (a record
    # through `any`) all give the same values as the interpreter.
    src = """
class A {
  var a: int
  var b: float
  fn init() { self.a = 1; self.b = 2.5 }
  fn sum(n: int) -> float {
    var s = 0.0
    for i in 0..n { s = s + self.b * 1.0 + 1.0 * self.a; self.a = self.a + 1 }
    return s
  }
}
class B extends A {
  var c: int
  fn init() { self.a = 10; self.b = 0.5; self.c = 3 }
}
fn rsum(r: {x: int, y: float}) -> float { return 1.0 * r.x + r.y }
print(A().sum(5), B().sum(5))
print(rsum({x: 1, y: 2.5}), rsum({y: 0.25, x: 4}))
"""
    agree(src, "A.sum", "rsum")


def test_a_loop_free_function_calling_out_at_a_method_call_is_not_native() -> None:
    # (Towers' move_disks: it would leave native code on every call. pop
    # stores a global, so it is no native callee: constructing N alone
    # would be, construct.py.)
    src = """
class N {
  var next: N? = nil
  var k: int = 0
}
class T {
  var n: int = 0
  fn link(a: N, b: N) -> int { a.next = b; return 1 }
  fn step(a: N, b: N, d: int) -> int {
    if d == 0 { return 0 }
    self.n = self.n + 1
    return self.step(a, b, d - 1) + self.n
  }
  fn move(d: int) { self.n = self.n + d; self.pop(d) }
  fn pop(d: int) -> N { made += d
    return N() }
}
var made = 0
let t = T()
t.move(3)
print(t.step(N(), N(), 4), t.n)
"""
    want, got = both(src)
    assert got == want
    assert any("not native T.move: calls out at call_method_typed of 'pop' on every call" in x for x in both.log), both.log
    # (step passes objects to a method: a native call since jit/native/objects.py, guarded)
    assert native("T.step", both.log), both.log


@pytest.mark.parametrize("name", ["FOR_IN", "METHODS"])
def test_fuel_totals_with_iterators_and_method_frames_rebuilt(name: str) -> None:
    # Deopts inside `for x in` (the iterator rebuilt) and inside native
    # method callees (method frames rebuilt) count fuel exactly.
    src = globals()[name]
    want = used(src, "off")[:2]
    assert used(src, "eager")[:2] == want
    n, out, log = used(src, "native-eager")
    assert (n, out) == want
    assert any(" deopt at " in x for x in log), log


ARRAY_ARGS = """
class S {
  var base: int = 1
  fn fill(xs: [int], n: int) -> int {
    var i = 0
    while i < n {
      xs[i] = xs[i] + self.base * i
      i += 1
    }
    return xs[n - 1]
  }
  fn count(bs: [bool], fs: [float]) -> float {
    var t = 0.0
    var i = 0
    while i < len(bs) {
      if bs[i] { t = t + fs[i] }
      i += 1
    }
    return t
  }
  fn run(n: int) -> int {
    let xs = [1] * n
    let k = self.fill(xs, n)
    let c = self.count([true, false, true], [0.5, 1.5, 2.25])
    if c > 2.0 { self.base = 4611686018427387904 }
    return k + self.fill(xs, n)
  }
}
let s = S()
print(s.run(10))
"""


def test_arrays_of_scalars_go_to_native_method_calls() -> None:
    # objects.arg_ok: an [int]/[bool]/[float] argument of a method whose
    # parameter is declared so is passed as the array's address (AWFY
    # Sieve.benchmark's `self.sieve([true] * 5000, 5000)` was a call out);
    # the second fill overflows inside the callee: its frame, holding the
    # same array, is rebuilt with the caller waiting.
    (code, out, err), log = agree_log(ARRAY_ARGS, "S.run")
    assert code == 1 and "OverflowError" in err and "at S.fill" in err and "at S.run" in err, err
    assert any(x.startswith("jit: native S.run in ") and "(3 functions;" in x for x in log), log
