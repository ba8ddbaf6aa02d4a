"""Packed arrays in native code (heap/packed.py; jit/native/arrays.py, docs/native.md "Arrays: the data representation").

A PackedArray keeps an array of one scalar kind unboxed in an `array.array`
buffer ('q', 'd', 'b'). Native code reads and writes that buffer in place
(one load or store per element, ob_size for len) and takes a list-backed
Array as before; both are the same guest value. Each test runs a program
whose arrays are packed (`[x] * n`, `Array(n, fill)`) natively and compares
it with the interpreter running the same program -- or, where the
interpreter of this branch cannot yet run an operation on a packed array,
the same program with the arrays written as list literals: the
representation must never show.
"""

from __future__ import annotations

import io
import re

import pytest

pytest.importorskip("llvmlite")

from native_helpers import both, cli, native, prepared, tiers, used

from tinyvm.api import VM
from tinyvm.heap.objects import Array
from tinyvm.heap.packed import PackedArray
from tinyvm.jit.native.layout import probe_packed

pytestmark = pytest.mark.skipif(probe_packed()[0] is None, reason=f"packed arrays off: {probe_packed()[1]}")


def lit(x: str, n: int) -> str:
    """`[x] * n` written as a list literal (the interpreter's array is a list)."""
    return "[" + ", ".join([x] * n) + "]"


def packed_vs_list(template: str, *names: str, **reps: tuple[str, int]) -> tuple[int, str, str]:
    """Run `template` natively with each `$name` a packed `[x] * n`, and on
    the interpreter with it a list literal: the same status, stdout and
    stderr; each function of `names` compiled natively and never deopted."""
    packed, listed = template, template
    for k, (x, n) in reps.items():
        packed = packed.replace("$" + k, f"[{x}] * {n}")
        listed = listed.replace("$" + k, lit(x, n))
    want = cli(["run", "-e", listed])
    code, out, err = cli(["run", "--jit=native-eager", "--jit-log", "-e", packed])
    log = [x for x in err.splitlines() if x.startswith("jit: ")]
    rest = "".join(x + "\n" for x in err.splitlines() if not x.startswith("jit: "))
    assert (code, out, rest) == want, (log, want)
    for n in names:
        assert native(n, log), log
        assert not any(x.startswith(f"jit: native {n} deopt") for x in log), log
    return want


INTS = """
fn f(a: [int]) -> int {
  var s = 0
  var i = 0
  while i < a.len() {
    s = s ^ a[i]
    a[i] = a[i] % 1000 * 3 - i
    i += 1
  }
  return s + len(a)
}
fn edges(a: [int]) -> int {
  a[0] = 9223372036854775807
  a[1] = -9223372036854775807 - 1
  a[2] = 256
  a[3] = 257
  a[4] = -5
  a[5] = -6
  return a[0] ^ a[1] ^ a[2] ^ a[3] ^ a[4] ^ a[5]
}
var a = $a
print(f(a), f(a), edges(a))
print(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a.len())
"""


def test_int_reads_writes_len_and_int64_edges() -> None:
    out = packed_vs_list(INTS, "f", a=("1000000007", 9))
    assert out[0] == 0 and "9223372036854775807 -9223372036854775808 256 257 -5 -6" in out[1]


FLOATS = """
fn g(a: [float]) -> float {
  var s = 0.0
  var i = 0
  while i < len(a) {
    s = s + a[i]
    a[i] = a[i] * -2.0
    i += 1
  }
  a[1] = -0.0
  a[2] = 0.0 / 0.0
  a[3] = 1.0 / 0.0
  return s
}
fn h(a: [float]) -> float {
  if a[2] == a[2] { return 0.0 }
  return 1.0 / a[1]
}
var a = $a
print(g(a), g(a), h(a), a[1], a[2], a[3])
"""


def test_float_reads_writes_nan_and_negative_zero() -> None:
    out = packed_vs_list(FLOATS, "g", "h", a=("0.1", 5))
    assert out[1].endswith(" -inf -0.0 nan inf\n"), out


BOOLS = """
fn count(a: [bool]) -> int {
  var c = 0
  var i = 0
  while i < a.len() {
    if a[i] { c += 1 }
    a[i] = not a[i] or i % 3 == 0
    i += 1
  }
  return c
}
fn sieve(flags: [bool], size: int) -> int {
  var n = 0
  for i in 2..=size {
    if flags[i - 1] {
      n += 1
      var k = i + i
      while k <= size { flags[k - 1] = false; k += i }
    }
  }
  return n
}
var a = $a
print(count(a), count(a), count(a), a[0], a[1])
print(sieve($b, 500))
"""


def test_bool_reads_and_writes() -> None:
    out = packed_vs_list(BOOLS, "count", "sieve", a=("true", 7), b=("true", 500))
    assert out[1].split("\n")[1] == "95"


def test_the_arrays_stay_packed_and_native_code_makes_packed_ones() -> None:
    # In process: after native reads and writes the global is still a
    # PackedArray (nothing unpacked it), and `[x] * n` / Array(n, fill)
    # made in native code are PackedArrays of the interpreter's kind.
    src = """
fn w(a: [int], b: [float], c: [bool]) -> int {
  a[1] = a[0] + 5
  b[1] = b[0] * 0.5
  c[1] = not c[0]
  return a.len() + len(b) + c.len()
}
fn mk(n: int) -> [int] { let x = [n] * n; x[0] = 7; return x }
fn mf(n: int) -> [float] { return Array(n, 0.25) }
fn mb(n: int) -> [bool] { return [false] * n }
var a = [3] * 4
var b = [1.5] * 4
var c = [true] * 4
var r = w(a, b, c)
var x = mk(5)
var y = mf(3)
var z = mb(2)
print(r, a[1], b[1], c[1], x[0], x[4], y[2], z[1])
"""
    out = io.StringIO()
    log: list[str] = []
    vm = VM(stdout=out, jit="native-eager", jit_log=log.append)
    vm.run_source(src, "t.tl")
    assert out.getvalue() == "12 8 0.75 false 7 5 0.25 false\n"
    for n in ("w", "mk", "mf", "mb"):
        assert native(n, log), log
    assert not [x for x in log if " deopt " in x], log
    ns = vm.globals._ns  # (the guest values themselves: the host conversion reads them)
    kinds = {k: (type(ns.get(k)), ns.get(k).packed.typecode) for k in "abcxyz" if type(ns.get(k)) is PackedArray}
    assert kinds == {k: (PackedArray, t) for k, t in zip("acxz", "qbqb")}, kinds
    assert all(type(ns.get(k)) is Array for k in "by")  # (floats stay lists: heap/packed.py PACKED)


def test_a_packed_array_of_another_kind_through_any() -> None:
    # Element types are not checked at run time: a `[int]` may be a packed
    # 'd' array. The entry check refuses it (the interpreter runs the call,
    # and its type check decides) and a check_type in native code is a
    # failure exit: the tiers agree whatever the interpreter says.
    src = """
fn first(a: [int]) -> int { return a[0] + a.len() }
var f: any = [2.5] * 3
var t: any = [true] * 2
print(first([4] * 2))
print(first(t))
print(first(f))
"""
    want, got = both(src)
    assert got == want, (got, want, both.log)
    assert want[1].startswith("6\n"), want
    assert native("first", both.log), both.log


def test_out_of_bounds_is_the_interpreters_index_error() -> None:
    for body in ("return a[n]", "a[n] = 1.0\n  return 0.0", "return a[0 - n]"):
        src = f"""
fn at(a: [float], n: int) -> float {{
  {body}
}}
fn outer(a: [float]) -> float {{ return at(a, 2) + at(a, 3) }}
print(outer([0.5] * 3))
"""
        want, got = both(src)
        assert got == want, (got, want, both.log)
        assert want[0] != 0 and "IndexError" in want[2] and "at at (<string>" in want[2], want


def test_fuel_is_the_interpreters() -> None:
    src = """
fn s(a: [int], b: [bool]) -> int {
  var t = 0
  for i in 0..a.len() {
    if b[i % b.len()] { t += a[i] }
    a[i] = t
  }
  return t
}
var a = Array(50, 7)
var b = Array(3, true)
print(s(a, b), s(a, b), a[49])
"""
    want = used(src, "off")
    got = used(src, "native-eager")
    assert got[:2] == want[:2], (got, want)
    assert native("s", got[2]), got[2]


def test_an_array_unpacked_between_native_calls_is_read_as_a_list() -> None:
    # A store of another kind through `any` unpacks the array in the
    # interpreter (heap/packed.py); native code then sees a list.
    src = """
fn sum(a: [int]) -> int {
  var s = 0
  for i in 0..a.len() { s += a[i]; a[i] = i }
  return s
}
fn mk() -> [int] { return [5] * 4 }
var a = mk()
print(sum(a))
var b: any = a
b[1] = 2.5
b[1] = 10
print(sum(a), sum(a))
"""
    out = io.StringIO()
    log: list[str] = []
    vm = VM(stdout=out, jit="native-eager", jit_log=log.append)
    vm.run_source(src, "t.tl")
    assert out.getvalue() == "20\n15 6\n"
    assert type(vm.globals._ns.get("a")) is Array and type(vm.globals._ns.get("a").items) is list
    assert native("sum", log) and not [x for x in log if " deopt " in x], log


def test_three_tiers_agree() -> None:
    src = """
fn mix(a: [int], f: [float], b: [bool]) -> float {
  var s = 0.0
  for i in 0..a.len() {
    if b[i] { s = s + f[i] * 2.0 } else { s = s - 1.0 * a[i] }
    a[i] = a[i] + i
    f[i] = s
    b[i] = not b[i]
  }
  return s
}
var a = Array(6, 3)
var f = Array(6, 0.5)
var b = Array(6, true)
print(mix(a, f, b), mix(a, f, b), a[5], f[5], b[5])
"""
    got = tiers(src)
    want = got["interpreter"][0]
    for tier in ("python-jit", "native"):
        assert got[tier][0] == want, (tier, got[tier], want)
    assert want[0] == 0
    assert native("mix", got["native"][1]), got["native"][1]


def test_operations_on_lists_only_leave_or_unpack_a_packed_array() -> None:
    # push (the callback's append, which unpacks), pop and insert (failure
    # exits: the interpreter does them), for-in (read in place) on packed
    # arrays made in native code: never a read of the buffer as a list.
    # (Compared with the same program on list literals: this branch's
    # interpreter does not yet push onto a packed array itself.)
    template = """
fn grow(n: int) -> int {
  var a = $g
  a.push(n + 1)
  a.push(100000000000)
  var s = 0
  for x in a { s += x }
  return s + a.len()
}
fn it(f: [float], b: [bool]) -> float {
  var s = 0.0
  for x in f { s = s + x }
  for y in b { if y { s = s + 1.0 } }
  return s
}
fn mkf() -> [float] { return $f }
fn mkb() -> [bool] { return $b }
print(grow(3), grow(5), it(mkf(), mkb()))
"""
    packed_vs_list(template, "grow", "it", f=("1.25", 4), b=("true", 3), g=("n", 3))


def test_a_packed_store_moves_no_reference_count(monkeypatch: pytest.MonkeyPatch) -> None:
    src = """
fn st(a: [int], b: [float], c: [bool], i: int, x: int) -> int {
  a[i] = x
  b[i] = 1.5
  c[i] = false
  return 0
}
print(st([1] * 3, [0.5] * 3, [true] * 3, 1, 700))
"""
    preps, _ = prepared(src, monkeypatch)
    text = next(p.text for p in preps if p.code.name == "st")
    # The packed stores: one `store i64` / `store double` / `store i8` each,
    # in blocks of their own (`pk`), with no call, no count and no barrier.
    blocks = re.findall(r"^(pk[\w.]*):\n(.*?)(?=^\S)", text, re.MULTILINE | re.DOTALL)
    stores = [body for _, body in blocks if "store " in body]
    assert len(stores) == 3, blocks
    for body in stores:
        assert "call" not in body and "refcnt" not in body, body
        assert len(re.findall(r"^\s+store ", body, re.MULTILINE)) == 1, body
    assert {re.search(r"store (\w+) ", b).group(1) for b in stores} == {"i64", "double", "i8"}


def test_packed_arrays_are_made_inline_with_the_interpreters_values_and_bytes() -> None:
    # `[x] * n` of a one-element literal and Array(n, fill) make their
    # PackedArray inline (arraymaker.packed_inline: no call of the maker),
    # zeros and non-zeros alike (-0.0 is not zero: its bits), n = 0 too,
    # and the heap is charged what the interpreter charges.
    src = """
fn mk(n: int, x: int, y: float, z: bool) -> int {
  var t = 0
  for r in 0..50 {
    let a = [x] * n
    let b = [y] * n
    let c = [z] * n
    let d = Array(n, x + 1)
    let e = Array(n, -0.0)
    let f = [0] * n
    t += a.len() + b.len() + c.len() + d.len() + e.len() + f.len()
  }
  return t
}
fn keep(n: int) -> [float] { return [-0.0] * n }
fn keepb(n: int) -> [bool] { return Array(n, true) }
fn keepi(n: int) -> [int] { return [-9223372036854775807 - 1] * n }
print(mk(5, 7, 2.5, true), mk(0, 0, 0.0, false), mk(3, 0, -0.0, false))
var k = keep(3)
var kb = keepb(4)
var ki = keepi(2)
print(1.0 / k[2], kb[3], ki[1])
"""
    from tinyvm.jit.native import alloc

    runs = {}
    for how in ("maker", "inline"):
        # "maker": every packed array through the maker's Python call,
        # `Heap.alloc(repeat(...))` as the interpreter allocates it.
        with pytest.MonkeyPatch.context() as mp:
            if how == "maker":
                mp.setattr(alloc.AllocLowering, "inline_packed", lambda self: False)
            out, log = io.StringIO(), []
            vm = VM(stdout=out, jit="native-eager", jit_log=log.append)
            vm.run_source(src, "t.tl")
        runs[how] = (out.getvalue(), vm.machine.heap.bytes, vm.memory_used, vm)
    assert runs["inline"][:3] == runs["maker"][:3], (runs["inline"][:3], runs["maker"][:3])
    assert runs["maker"][0] == "1500 0 900\n-inf true -9223372036854775808\n"
    assert runs["maker"][3].machine.jit.native.arrays.calls > 0
    vm = runs["inline"][3]
    # Every int and bool array inline; floats are not packed (heap/packed.py
    # PACKED): theirs go through the maker, which makes lists.
    assert 0 < vm.machine.jit.native.arrays.calls < runs["maker"][3].machine.jit.native.arrays.calls
    ns = vm.globals._ns
    assert type(ns.get("k")) is Array
    assert [(type(ns.get(g)), ns.get(g).packed.typecode) for g in ("kb", "ki")] == [(PackedArray, "b"), (PackedArray, "q")]


def test_bool_arrays_are_repeats_of_a_one_true_or_one_zero_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    # `[b] * n` of a bool repeats the one-true (`tvm.pk1.b`) or the one-zero
    # buffer (CPython's memset): no store loop in the module, and every byte
    # is exactly the interpreter's 1 or 0 -- for a constant and for a bool
    # only known at run time, n = 0 and a large n alike.
    src = """
fn mk(n: int, v: bool) -> [bool] { return [v] * n }
fn mkt(n: int) -> [bool] { return [true] * n }
fn count(a: [bool]) -> int {
  var c = 0
  for i in 0..len(a) { if a[i] { c += 1 } }
  return c
}
var out = []
for r in 0..3 {
  out.push(mk(5, r != 1))
  out.push(mkt(r * 3000))
}
print(count(out[0]), count(out[1]), count(out[2]), count(out[3]), count(out[4]), count(out[5]))
"""
    preps, vm = prepared(src, monkeypatch)
    texts = {p.typed[0].fn.name: p.text for p in preps}
    for name in ("mk", "mkt"):
        assert '@"tvm.pk1.b"' in texts[name] and "pmh" not in texts[name], name
    arrays = vm.globals._ns.get("out").items
    assert all(type(a) is PackedArray and a.packed.typecode == "b" for a in arrays)
    assert [bytes(a.packed.tobytes()) for a in arrays] == [b"\x01" * 5, b"", b"\x00" * 5, b"\x01" * 3000, b"\x01" * 5, b"\x01" * 6000]
    interp, nat = both(src)
    assert nat == interp == (0, "5 0 0 3000 5 6000\n", "")  # (r = 1: mk(5, false))


@pytest.mark.parametrize("held", [True, False], ids=["held elsewhere", "the list alone"])
def test_the_machine_sweep_frees_dead_packed_arrays_inline(held: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # sweep.py frees a dead PackedArray without handing it to Python's
    # loop; a live one stays as it was. Held elsewhere too, it is freed as
    # PackedArray.free does (class Array, items POISON, the buffer's and
    # the mark's references dropped); held by the list alone, it is
    # deallocated there (its entry POISON, its buffer gone with it).
    import sys
    from array import array

    from tinyvm.heap.heap import FREED, Heap
    from tinyvm.heap.objects import _POISON
    from tinyvm.jit.native.sweep import sweeper

    fast = sweeper()
    if fast is None:
        pytest.skip("no machine-code sweep on this interpreter")
    mark = 10**6 + 3
    bufs = [array("q", [i, 1 << 40]) for i in range(40)]
    objs = [PackedArray(b) for b in bufs]
    for k in range(len(objs)):
        objs[k].mark = 2 if k % 4 == 0 else mark  # (every fourth live: colour 2)
    keep = list(objs) if held else []
    counts = [sys.getrefcount(b) for b in bufs]
    h = Heap()
    h.native_sweep = fast
    called: list = []
    monkeypatch.setattr(PackedArray, "free", lambda self: called.append(self))  # (Python's free: must not run)
    pk_refs, before = sys.getrefcount(PackedArray), sys.getrefcount(mark)
    live, freed = h.sweep(objs, 2)
    assert freed == 30 and called == [] and [a.packed for a in live] == bufs[::4]
    for k, a in enumerate(objs):
        if k % 4 == 0:
            assert type(a) is PackedArray and a.packed is bufs[k] and a in live
        elif held:
            assert type(a) is Array and Array.__dict__["items"].__get__(a, Array) is _POISON and a.mark is FREED
        else:
            assert a is _POISON
        assert sys.getrefcount(bufs[k]) == counts[k] - (k % 4 != 0)
    assert sys.getrefcount(mark) == before - 30
    assert sys.getrefcount(PackedArray) == pk_refs - 30
    assert (objs == keep) == held
