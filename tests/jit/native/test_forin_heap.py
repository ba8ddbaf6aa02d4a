"""The Iterator of a native for-in loop (jit/native/charges.py; docs/native.md, "Objects native code charges but does not make").

`for x in xs` over an array makes a guest Iterator per loop run in the
interpreter (GET_ITER: `heap.alloc(Iterator(ITER_ARRAY, xs))`); native code
keeps the array and the position in two words, charges the Iterator's bytes
(inline within the push budget, else through `ArrayMaker.make`) and makes no
object. Checked against the interpreter and the Python JIT: heap bytes after
loops over arrays of objects and of scalars (the object count differs by
exactly the interpreter's Iterators); a deopt inside the loop rebuilding the
real Iterator without charging it twice; the memory limit refusing at the
same GET_ITER, or at the same push inside the loop, with the same message
and trace; GC stress with the verifier under the three collectors; heap
snapshot numbering (native code refuses, the interpreter makes the object).
"""

from __future__ import annotations

import io

import pytest

pytest.importorskip("llvmlite")

from native_helpers import GC_STRESS_MODES, agree, at_limit, heap_after, native, used

from tinyvm.api import VM
from tinyvm.heap.objects import Iterator

LOOPS = """
class P {
  var x: int
  fn init(x: int) { self.x = x }
}
fn sumo(ps: [P]) -> int {
  var s = 0
  for p in ps { s += p.x }
  return s
}
fn sums(xs: [int]) -> int {
  var s = 0
  for x in xs { s += x }
  return s
}
fn sumf(fs: [float]) -> float {
  var s = 0.0
  for f in fs { s += f }
  return s
}
"""
PROGRAM = (
    LOOPS
    + """
let ps: [P] = []
let xs: [int] = []
let fs: [float] = []
var i = 0
while i < 10 { ps.push(P(i)); xs.push(i); fs.push(0.5 * i); i += 1 }
var t = 0
var f = 0.0
var k = 0
while k < 150 { t += sumo(ps) + sums(xs); f += sumf(fs); k += 1 }
print(t, f)
"""
)
RUNS = 3 * 150  # (loop runs: one Iterator each in the interpreter)


def test_heap_bytes_are_the_interpreters() -> None:
    want = heap_after(PROGRAM, "off")
    assert heap_after(PROGRAM, "eager") == want
    got = heap_after(PROGRAM, "native-eager")
    # The bytes (what decides collections and the memory limit) are the
    # interpreter's; the heap lists one object fewer per native loop run
    # (the Iterator charged, not made: charges.py) until a collection.
    assert got[0] == want[0] and got[1] == want[1] - RUNS, (got, want)
    fuel, out, log = used(PROGRAM, "native-eager")
    assert (fuel, out) == used(PROGRAM, "off")[:2] and out == "13500 3375.0\n", out
    assert native("sumo", log) and native("sums", log) and native("sumf", log), log


def test_no_iterator_is_made_and_collections_agree() -> None:
    live = []
    for jit in ("off", "native-eager"):
        vm = VM(jit=jit, stdout=io.StringIO())
        vm.run_source(PROGRAM)
        heap = vm.machine.heap
        live.append(sum(1 for o in heap.objects if type(o) is Iterator))
        vm.machine.collect()
        live.append((heap.bytes, len(heap.objects)))
    assert live[0] == RUNS and live[2] == 0, live
    assert live[1] == live[3], live  # (after a full collection: only live data)


DEOPT = (
    LOOPS
    + """
var names: [string] = []
fn note(x: int) -> int { names.push("n" + str(x)); return 1 }
fn noted(ps: [P]) -> int {
  var s = 0
  for p in ps {
    s += p.x
    if p.x % 7 == 3 { s += note(p.x) }
  }
  return s
}
fn copied(xs: [int], out: [int]) -> int {
  var s = 0
  for x in xs { s += x; out.push(x) }
  return s
}
let ps: [P] = []
let xs: [int] = []
let out: [int] = []
var i = 0
while i < 10 { ps.push(P(i)); xs.push(i); i += 1 }
var t = 0
var k = 0
while k < 200 { t += noted(ps) + copied(xs, out); k += 1 }
print(t, len(names), len(out))
"""
)


def test_a_deopt_inside_the_loop_rebuilds_the_iterator_once_charged() -> None:
    # noted calls out of native code inside its loop (note is not native):
    # the exit rebuilds the real Iterator (deopt.py ITER) at its position and
    # the interpreter finishes the loop; that Iterator's bytes were charged
    # by get_iter, so adopting it must not count them again.
    want = heap_after(DEOPT, "off")
    got = heap_after(DEOPT, "native-eager")
    assert got[0] == want[0], (got, want)
    fuel, out, log = used(DEOPT, "native-eager")
    assert (fuel, out) == used(DEOPT, "off")[:2] and out == "18200 200 2000\n", out
    assert any(x.startswith("jit: native noted deopt at") for x in log), log
    assert native("copied", log), log


def test_the_rebuilt_iterator_is_on_the_heap_in_its_frame() -> None:
    # Fuel counted and outputs identical across the tiers with the deopts.
    assert agree(DEOPT, "copied", "noted", extra=("--gc-verify",))[0] == 0


FULL = (
    LOOPS
    + """
let xs: [int] = [1, 2, 3]
print(sums(xs))
let a: [int] = []
try { while true { a.push(1) } } catch e { print(typeof(e)) }
print(sums(xs))
"""
)


def test_the_memory_limit_refuses_at_the_get_iter() -> None:
    # The heap full to the byte: the next request of the program is sums'
    # GET_ITER (an Iterator, 64 bytes). Native code that charged nothing ran
    # on and printed; now it refuses and the interpreter fails there.
    code, out, err = agree(FULL, "sums", extra=("--max-memory", "256K"))
    assert code != 0 and out == "6\nMemoryError\n", (code, out, err)
    assert "(64 more bytes requested)" in err and "at sums (" in err, err


FILL = (
    LOOPS
    + """
fn fill(ps: [P], xs: [int], out: [int]) -> int {
  var t = 0
  for p in ps {
    for x in xs {
      while true { out.push(p.x + x); t += 1 }
    }
  }
  return t
}
let ps: [P] = []
let xs: [int] = []
var i = 0
while i < 5 { ps.push(P(i)); xs.push(i); i += 1 }
print(fill(ps, xs, []))
"""
)


def test_the_memory_limit_fails_at_the_same_push_inside_the_loops() -> None:
    # Pushes inside two for-in loops fill the heap, the loops' Iterators
    # live (in the interpreter's frame; after the push's exit, rebuilt and
    # adopted: charges.adopt): the failing request is the interpreter's push.
    code, out, err = agree(FILL, "fill", extra=("--max-memory", "512K"))
    assert code != 0 and out == "", (code, out, err)
    assert "(9 more bytes requested)" in err and "at fill (" in err, err


def test_the_memory_limit_at_the_get_iter_counts_the_same_fuel() -> None:
    # The Python JIT is the reference for the fuel (as in test_range.py):
    # the interpreter keeps dead locals reachable, so its fill loop's
    # emergency mark may find a push fewer fits; output and error agree.
    got = at_limit(FULL, 256 << 10)
    assert got[2] == got[1] and got[2][0] == got[0][0], got
    assert "64 more bytes requested" in got[0][0]


def test_fuel_is_the_interpreters() -> None:
    want = used(DEOPT, "off")
    got = used(DEOPT, "native-eager")
    assert got[:2] == want[:2] and native("copied", got[2])


GC_MODES = GC_STRESS_MODES


@pytest.mark.parametrize("mode", GC_MODES, ids=lambda m: " ".join(m))
def test_under_every_collector(mode: tuple) -> None:
    src = DEOPT.replace("while k < 200", "while k < 40")
    code, _, err = agree(src, "copied", extra=mode)
    assert code == 0 and err == "", err


def test_with_snapshot_numbering_the_interpreter_makes_them() -> None:
    # Heap snapshots number every allocation: native code cannot hand the
    # Iterator it would make to a later deopt, so its get_iter refuses and
    # the interpreter runs the loop; objects and numbers are the interpreter's.
    got = []
    for jit in ("off", "native-eager"):
        vm = VM(jit=jit, stdout=io.StringIO())
        heap = vm.machine.heap
        heap.number_objects()
        vm.run_source(PROGRAM)
        got.append(
            (heap.bytes, len(heap.objects), [heap.seq_of(o) for o in heap.objects])
        )
    assert got[0] == got[1]


LONG = """
fn sums(xs: [int]) -> int {
  var s = 0
  for x in xs { s += x }
  return s
}
fn sumr(xs: [int]) -> int {
  var s = 0
  for i in 0..len(xs) { s += xs[i] }
  return s
}
fn drive(xs: [int], n: int) -> int {
  var t = 0
  var k = 0
  while k < n { t += sums(xs) + sumr(xs); k += 1 }
  return t
}
print(drive([1, 2, 3], 20000))
"""


def test_a_long_native_loop_leaves_past_next_gc_instead_of_slow_charges() -> None:
    # 40000 loop runs, 2.5 MB of Iterators and Ranges, a 64 KiB threshold,
    # all inside one native call of drive, which has no safe point. Past
    # next_gc a charge is refused (charges.py): native code leaves, the
    # interpreter allocates and collects, the OSR op brings drive back.
    # Charging on instead took the slow path (a Python call) for every loop
    # run after the first 64 KiB: ~39000 calls of the maker.
    out, log = io.StringIO(), []
    vm = VM(jit="native-eager", stdout=out, jit_log=log.append)
    vm.machine.heap.set_threshold(64 << 10)
    vm.run_source(LONG)
    nt = vm.machine.jit.native
    assert out.getvalue() == "240000\n" and native("drive", log), log
    assert nt.arrays.calls < 400 and 10 < nt.stats["deopts"] < 400, (
        nt.arrays.calls,
        nt.stats,
    )
    assert heap_after(LONG, "native-eager")[0] == heap_after(LONG, "off")[0]
