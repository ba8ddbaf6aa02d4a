"""Values native code only carries (jit/native/opaque.py): `[any]` arrays,
literals of references, arrays stored into arrays, and their allocation
through arraymaker.py.

Differential: a tree of `[any]` arrays built natively (AWFY Storage's
shape) agrees with the interpreter and the Python JIT in output, errors,
traces and fuel, under every collector with the verifier, near a memory
limit, and across deopts whose frames hold such arrays."""

from __future__ import annotations

import gc
import io
import sys

import pytest

pytest.importorskip("llvmlite")

from native_helpers import both, cli, heap_after, in_one_module, native, same, used

from tinyvm.api import VM

# (a while loop, not `for i in 0..4`: native code charges a Range's bytes
# but makes no object, the interpreter makes one, so the object counts
# heap_after compares would differ: docs/native.md "For-range loops")
TREE = '''
class Random {
  var seed: int = 74755
  fn next() -> int {
    self.seed = ((self.seed * 1309) + 13849) & 65535
    return self.seed
  }
}
class Storage {
  var count: int = 0
  fn build(depth: int, random: Random) -> [any] {
    self.count += 1
    if depth == 1 {
      let leaf: [any] = [nil] * (random.next() % 10 + 1)
      return leaf
    }
    let arr: [any] = [nil] * 4
    var i = 0
    while i < 4 {
      arr[i] = self.build(depth - 1, random)
      i += 1
    }
    return arr
  }
}
fn size(t: [any], depth: int) -> int {
  if depth == 1 { return len(t) }
  var s = 1
  var i = 0
  while i < len(t) {
    let sub: [any] = t[i]
    s += size(sub, depth - 1)
    i += 1
  }
  return s
}
'''

RUN = TREE + '''
let s = Storage()
let r = Random()
var total = 0
for k in 0..ROUNDS {
  let t = s.build(DEPTH, r)
  total += size(t, DEPTH)
}
print(s.count, total)
'''


def tree(rounds: int = 20, depth: int = 5) -> str:
    return RUN.replace("ROUNDS", str(rounds)).replace("DEPTH", str(depth))


def test_a_tree_of_any_arrays_is_built_natively_and_agrees() -> None:
    code, out, err = same(tree(), "Storage.build")
    assert (code, out, err) == (0, "6820 29746\n", ""), (code, out, err)
    jit = cli(["run", "--jit=eager", "-e", tree()])
    assert jit == (code, out, err)


def test_the_awfy_storage_benchmark_compiles_natively() -> None:
    code, _, err = cli(["run", "--jit=native-eager", "--jit-log", "benchmarks/awfy/run.tl", "Storage", "1", "1"])
    assert code == 0, err
    assert in_one_module(err.splitlines(), "Storage.benchmark", "Storage.build_tree_depth"), err  # (in benchmark's module, or the harness's)
    assert "not native Storage.build_tree_depth" not in err, err


def test_towers_benchmark_and_field_initialisers_compile_natively() -> None:
    code, _, err = cli(["run", "--jit=native-eager", "--jit-log", "benchmarks/awfy/run.tl", "Towers", "1", "1"])
    assert code == 0, err
    lines = err.splitlines()
    for name in ("Towers.benchmark", "Towers.$fields"):
        assert in_one_module(lines, name), err


LITERALS = '''
class Disk {
  var size: int
  var next: Disk? = nil
  fn init(size: int) { self.size = size }
}
class Piles {
  var piles: [Disk?] = []
  fn setup(n: int) -> [any] {
    self.piles = [nil, nil, nil]
    let d = Disk(n)
    let e = Disk(n + 1)
    self.piles[1] = d
    let both: [any] = [d, nil, e, self.piles]
    return both
  }
  fn top(k: int) -> int {
    let t = self.piles[k]
    if t == nil { return -1 }
    return t.size
  }
}
fn mk(n: int, say: bool) -> [any] {
  let arr: [any] = [nil] * n
  let leaf: [any] = [nil, nil]
  arr[0] = leaf
  if say { print("calling out", len(arr)) }
  arr[n - 1] = leaf
  return arr
}
let p = Piles()
print(len(p.piles))
var t = 0
for k in 0..300 {
  let b = p.setup(k)
  let d: Disk = b[0]
  let e: Disk = b[2]
  t += p.top(1) + p.top(0) + len(b) + d.size + e.size
}
print(t, len(p.piles))
'''


def test_literals_of_references_and_empty_literals_stored_into_fields() -> None:
    code, out, err = same(LITERALS, "Piles.setup", "Piles.$fields", "Piles.top")
    assert (code, out) == (0, "0\n135750 3\n"), (code, out, err)


DEOPT = LITERALS + '''
let a = mk(5, false)
let a2 = mk(6, true)
let l: [any] = a2[0]
l[0] = 7
let m: [any] = a2[5]
print(len(a), len(a2), m[0], a2[1] == nil)
let bad = mk(0, false)
'''


def test_a_deopt_rebuilds_frames_holding_any_arrays_exactly() -> None:
    # The call out (print) leaves native code with `arr` and `leaf` in the
    # frame: the interpreter continues with the very same arrays (a2[0] and
    # a2[5] are one object); a store out of bounds is the interpreter's
    # IndexError with its trace.
    code, out, err = same(DEOPT, "mk")
    assert code != 0 and out.endswith("calling out 6\n5 6 7 true\n"), (code, out, err)
    assert "IndexError" in err and "at mk" in err, err
    assert any("native mk deopt" in line and "a call out" in line for line in both.log), both.log  # type: ignore[attr-defined]


def test_fuel_is_the_interpreters() -> None:
    for src in (tree(4, 4), LITERALS):
        got = used(src, "native-eager")
        assert got[:2] == used(src, "off")[:2] == used(src, "eager")[:2]
        assert got[1] and any(line.startswith("jit: native ") for line in got[2]), got[2]


@pytest.mark.parametrize("limit", ["2M", "1M", "512K"])
def test_a_memory_limit_raises_the_interpreters_memory_error(limit: str) -> None:
    # A refused allocation leaves native code before it; the interpreter
    # then collects or raises its MemoryError with its trace. At 2M the
    # three tiers fail at the same allocation; nearer the limit where each
    # fails depends on what the emergency mark finds alive, which differs
    # between the interpreter (dead locals kept) and the JIT tiers, and
    # between a JIT frame and one a deopt rebuilt (docs/native.md "Arrays
    # made in native code"): there the error is still the interpreter's.
    src = tree(1, 4) + "let big = s.build(12, r)\nprint(s.count)\n"
    want = cli(["run", "--max-memory", limit, "-e", src])
    code, out, err = cli(["run", "--jit=native-eager", "--max-memory", limit, "-e", src])
    if limit == "2M":
        assert (code, out, err) == want
    assert (code, out) == want[:2] == (5, "85 375\n"), (code, out, err)
    lines = err.splitlines()
    assert lines[0].startswith("error: MemoryError: out of memory: the program needs more than its"), err
    assert lines[1].startswith("  at Storage.build (<string>:1") and lines[-1] == "  at <module> (<string>:46:11)", err


GC_MODES = [("--gc-stress", "--gc-verify"), ("--gc-stress", "--gc", "incremental", "--gc-verify"),
            ("--gc-stress", "--gc", "generational", "--gc-verify"), ("--gc", "stw", "--gc-verify"),
            ("--gc", "incremental", "--gc-verify"), ("--gc", "generational", "--gc-verify")]


@pytest.mark.parametrize("mode", GC_MODES, ids=lambda m: " ".join(m))
def test_trees_under_every_collector(mode: tuple) -> None:
    # (without stress, a small limit makes collections frequent; with it,
    # every native allocation is refused and the interpreter allocates)
    src = tree(6, 4) if "--gc-stress" in mode else tree(40, 5)
    extra = mode if "--gc-stress" in mode else (*mode, "--max-memory", "256K")
    code, _, err = same(src, "Storage.build", extra=extra)
    assert code == 0 and err == "", err


def test_the_environment_switches_stress_and_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TVM_GC_STRESS", "1")
    monkeypatch.setenv("TVM_GC_VERIFY", "1")
    for gc_mode in ("stw", "incremental", "generational"):
        code, _, err = same(tree(3, 4), "Storage.build", extra=("--gc", gc_mode))
        assert code == 0 and err == "", err


def test_heap_accounting_is_the_interpreters() -> None:
    src = tree(10, 5)
    assert heap_after(src, "native-eager") == heap_after(src, "off")


def test_reference_counts_stay_flat() -> None:
    log: list[str] = []
    vm = VM(jit="native-eager", stdout=io.StringIO(), jit_log=log.append)
    vm.run_source(TREE + "let s = Storage()\nlet r = Random()\nfn go(n: int) -> int {\n  var t = 0\n  for k in 0..n { t += len(s.build(4, r)) }\n  return t\n}\n")
    seen = []
    for _ in range(4):
        for _ in range(20):
            vm.call("go", 20)
        vm.machine.collect()
        gc.collect()
        seen.append((sys.getrefcount(None), sys.getallocatedblocks()))
    assert abs(seen[3][0] - seen[2][0]) < 50, seen
    assert abs(seen[3][1] - seen[2][1]) < 200, seen
    assert native("Storage.build", log), log


def test_scalars_into_any_arrays_are_boxed_natively() -> None:
    # An int stored into an [any] array is boxed as an [int] store boxes it
    # (jit/native/anyval.py; more in test_any.py), and the program agrees.
    src = "fn f(n: int) -> [any] {\n  let xs: [any] = [nil] * n\n  xs[0] = 5\n  return xs\n}\nprint(len(f(3)), f(2))\n"
    want, got = both(src)
    assert got == want and want[1] == "3 [5, nil]\n", (got, want)
    assert native("f", both.log), both.log  # type: ignore[attr-defined]


BARRIER = TREE + '''
let s = Storage()
let r = Random()
let A: [any] = [nil] * 8
let B: [any] = [nil] * 8
fn put(xs: [any], x: [any], k: int) -> int {
  xs[k] = x
  return k
}
for i in 0..8 {
  A[i] = s.build(2, r)
  B[i] = s.build(2, r)
}
var total = 0
for k in 0..3000 {
  let j = (k + 3) % 8
  put(B, A[j], k % 8)
  A[j] = s.build(3, r)
  put(A, s.build(2, r), k % 8)
  let b: [any] = B[(k + 5) % 8]
  total += size(b, 2)
}
print(s.count, total)
'''


@pytest.mark.parametrize("gc_mode", ["incremental", "generational"])
def test_stores_of_arrays_into_old_arrays_run_the_barrier(gc_mode: str) -> None:
    # Old arrays (A, B) get young subtrees (generational: remembered) and
    # subtrees moved from one to the other during incremental cycles (a
    # white array into a black one, then dropped from the first: shaded);
    # the verifier reports any store the barrier missed. (Generational: an
    # array a minor collection promoted starts dirty, remembered already, so
    # the slow path need not run.)
    out = io.StringIO()
    vm = VM(jit="native-eager", stdout=out, gc=gc_mode, gc_verify=True, max_memory=256 << 10)
    vm.run_source(BARRIER)
    assert vm.machine.jit.native.barriers.calls > 0 or gc_mode == "generational"
    want = io.StringIO()
    VM(stdout=want, gc=gc_mode, max_memory=256 << 10).run_source(BARRIER)
    assert out.getvalue() == want.getvalue()


def test_literals_and_products_are_made_inline() -> None:
    # Within the push budget (no collection due), native code makes `[nil]`
    # and `[nil] * k` itself (arraymaker.py): ArrayMaker.make, the slow
    # path, is not called; the heap's accounting is still the interpreter's.
    log: list[str] = []
    vm = VM(jit="native-eager", stdout=io.StringIO(), jit_log=log.append, max_memory=1 << 30)
    vm.run_source(tree(10, 5))
    assert native("Storage.build", log), log
    assert vm.machine.jit.native.arrays.calls == 0
    h = vm.machine.heap
    want = VM(stdout=io.StringIO(), max_memory=1 << 30)
    want.run_source(tree(10, 5))
    assert (h.bytes, len(h.objects)) == (want.machine.heap.bytes, len(want.machine.heap.objects))
