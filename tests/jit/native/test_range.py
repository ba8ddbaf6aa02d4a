"""The Range of a for-range loop and of a Range kept but never read (jit/native/ranges.py; docs/native.md, "For-range loops").

`for i in a..b` compiles to `RANGE; POP`: a Range that the next instruction
drops. No tier makes or charges it (bytecode/opcodes.py `drops_range`): the
interpreter only checks its ends, the IR marks it `drop`, native code emits
nothing. A Range that is kept (`let r = 0..j`, never read) is made by the
interpreter and the Python JIT; native code charges its bytes against the
heap (inline within the push budget, else through `ArrayMaker.make`) and
makes no object. Checked against the interpreter and the Python JIT: heap
bytes after nested loops (the object count differs by exactly the
interpreter's kept Ranges, none after a collection; no tier lists a
for-range loop's); the memory limit refusing at the same RANGE with the
same message, trace and fuel; pushes that leave native code inside a
for-range loop (the interpreter resumes the loop); GC stress with the
verifier under the three collectors; a collection requested by a Range's
bytes running at the next native entry; reference counts flat.
"""

from __future__ import annotations

import gc
import io
import sys

import pytest

pytest.importorskip("llvmlite")

from native_helpers import GC_STRESS_MODES, agree, native, prepared, used

from tinyvm.api import VM
from tinyvm.heap.objects import Range
from tinyvm.jit.native import outofline

NESTED = """
fn tri(n: int) -> int {
  var s = 0
  for j in 0..n {
    for i in 0..j { s += i }
    for i in 0..=j { s -= 1 }
  }
  return s
}
fn grow(a: [int], n: int) -> int {
  var t = 0
  for j in 0..n {
    for i in 0..8 { a.push(j * 1000 + i); t += 1 }
  }
  return t
}
fn kept(n: int) -> int {
  var s = 0
  var j = 0
  while j < n {
    let r = 0..j  // (kept in the frame, never read: made, or charged natively)
    s += j
    j += 1
  }
  return s
}
"""
PROGRAM = (
    NESTED
    + """
var r = 0
let a: [int] = []
while r < 30 { print(tri(r * 7), grow(a, r * 3), kept(r)); r += 1 }
print(len(a))
"""
)
KEPT = sum(range(30))  # kept's Ranges in PROGRAM: one per turn of its loop


def _heap_after(
    src: str, jit: str, mode: str, threshold: int = 1 << 40, numbered: bool = False
) -> tuple:
    out = io.StringIO()
    log: list[str] = []
    vm = VM(jit=jit, stdout=out, gc=mode, jit_log=log.append)
    heap = vm.machine.heap
    heap.set_threshold(threshold)
    if numbered:
        heap.number_objects()  # (heap snapshots' allocation numbers)
    vm.run_source(src)
    ranges = [
        (r.start, r.stop, r.inclusive, r.step) for r in heap.objects if type(r) is Range
    ]
    seqs = [heap.seq_of(o) for o in heap.objects]  # (None each when not numbered)
    return (heap.bytes, heap.count, ranges, out.getvalue(), seqs), log


@pytest.mark.parametrize("mode", ["stw", "incremental", "generational"])
def test_heap_bytes_are_the_interpreters(mode: str) -> None:
    want, _ = _heap_after(PROGRAM, "off", mode)
    # The interpreter's heap lists kept's Ranges only (none collected): the
    # for-range loops of tri and grow made none (and tri's `0..=j` would be
    # an inclusive one).
    assert sorted(want[2]) == sorted((0, j, False, 1) for r in range(30) for j in range(r))
    assert len(want[2]) == KEPT
    assert _heap_after(PROGRAM, "eager", mode)[0] == want
    got, log = _heap_after(PROGRAM, "native-eager", mode)
    # The bytes (what decides collections and the memory limit) and the
    # output are the interpreter's. Native code makes no kept Range (its
    # bytes are charged: ranges.py), so until a collection the heap lists
    # one object fewer per kept Range: all of the interpreter's here, since
    # kept runs natively from its first call.
    assert (got[0], got[3]) == (want[0], want[3])
    assert got[2] == [] and got[1] == want[1] - KEPT, (got[1], want[1])
    assert native("tri", log) and native("grow", log) and native("kept", log), log


LOOPS_ONLY = NESTED + """
var r = 0
let a: [int] = []
while r < 30 { print(tri(r * 7), grow(a, r * 3)); r += 1 }
"""


@pytest.mark.parametrize("numbered", [False, True])
def test_for_range_loops_make_and_charge_nothing(numbered: bool) -> None:
    # Only for-range loops: every tier's heap is the same object for object
    # (bytes, count, allocation numbers), and none lists a Range.
    # (Native bytes equal to the interpreter's, which made no Range: native
    # code charged none either.)
    want, _ = _heap_after(LOOPS_ONLY, "off", "stw", numbered=numbered)
    assert want[2] == []
    assert _heap_after(LOOPS_ONLY, "eager", "stw", numbered=numbered)[0] == want
    got, log = _heap_after(LOOPS_ONLY, "native-eager", "stw", numbered=numbered)
    assert got == want
    assert native("tri", log) and native("grow", log), log


def test_with_snapshot_numbering_the_ranges_are_made() -> None:
    # Heap snapshots number every allocation: there native code makes the
    # very Range through Heap.alloc (ranges.make), so the objects, their
    # allocation numbers (in heap order) and the counts are the interpreter's.
    want, _ = _heap_after(PROGRAM, "off", "stw", numbered=True)
    got, log = _heap_after(PROGRAM, "native-eager", "stw", numbered=True)
    assert got == want and len(want[2]) > 400
    assert native("tri", log) and native("grow", log), log


def test_collections_free_them_alike() -> None:
    # A small threshold: collections run (at safe points), the Ranges die.
    want, _ = _heap_after(PROGRAM, "off", "stw", threshold=4096)
    got, log = _heap_after(PROGRAM, "native-eager", "stw", threshold=4096)
    assert got[3] == want[3] and native("tri", log)
    vm_live = []
    for jit in ("off", "native-eager"):
        vm = VM(jit=jit, stdout=io.StringIO())
        vm.run_source(PROGRAM)
        vm.machine.collect()
        vm_live.append((vm.machine.heap.bytes, vm.machine.heap.count))
    assert (
        vm_live[0] == vm_live[1]
    )  # (after a full collection: only live data, no Range)


FULL = """
fn sum(n: int) -> int {
  var s = 0
  var j = 0
  while j < n {
    let r = 0..j  // (a kept Range: the only request of sum)
    for i in 0..j { s += i }
    j += 1
  }
  return s
}
print(sum(50))
let a: [int] = []
try { while true { a.push(1) } } catch e { print(typeof(e)) }
print(sum(50))
"""


def test_the_memory_limit_refuses_at_the_range() -> None:
    # The heap full to the byte: the next request of the program is sum's
    # kept RANGE (64 bytes; its for-range loop asks for nothing). Native
    # code that made no Range ran on and printed.
    code, out, err = agree(FULL, "sum", extra=("--max-memory", "256K"))
    assert code != 0 and out == "19600\nMemoryError\n", (code, out, err)
    assert "(64 more bytes requested)" in err and "at sum (" in err, err
    assert err.splitlines()[0].startswith("error: MemoryError: out of memory"), err


def test_the_memory_limit_counts_the_same_fuel() -> None:
    # The Python JIT is the reference for the fuel (as in test_alloc.py):
    # the interpreter keeps dead locals reachable, so its fill loop's
    # emergency mark finds a push or two fewer fit; output and error agree.
    got = []
    for jit in ("off", "eager", "native-eager"):
        out = io.StringIO()
        log: list[str] = []
        vm = VM(
            jit=jit,
            stdout=out,
            meter_fuel=True,
            max_memory=256 << 10,
            jit_log=log.append,
        )
        try:
            vm.run_source(FULL)
        except Exception as e:  # noqa: BLE001 - the guest's MemoryError, compared below
            out.write(f"error: {e}\n")
        got.append((out.getvalue(), vm.machine.limits.fuel_used))
    assert got[2] == got[1] and got[2][0] == got[0][0], got
    assert "64 more bytes requested" in got[0][0]


def test_fuel_is_the_interpreters() -> None:
    # (pow's product overflows at i = 40: a failure exit inside the loop, the interpreter's error)
    src = (
        PROGRAM
        + "fn pow(n: int) -> int {\n  var s = 1\n  for i in 0..n { s = s * 3 }\n  return s\n}\nprint(pow(30))\nprint(pow(100))\n"
    )
    want = used(src, "off")
    assert used(src, "eager")[:2] == want[:2]
    got = used(src, "native-eager")
    assert got[:2] == want[:2] and "OverflowError" in want[1]
    assert native("tri", got[2]) and native("pow", got[2]), got[2]


def test_pushes_leaving_inside_the_loop_resume_it() -> None:
    # A budget of 4 KiB: grow's pushes leave native code inside its
    # for-range loops again and again; the interpreter resumes the loop from
    # the exit state (its counter and end, the Range already made and dropped).
    want, _ = _heap_after(PROGRAM, "off", "stw", threshold=4096)
    got, log = _heap_after(PROGRAM, "native-eager", "stw", threshold=4096)
    assert got[3] == want[3]
    assert any("native grow deopt" in x for x in log) or native("grow", log), log


GC_MODES = GC_STRESS_MODES


@pytest.mark.parametrize("mode", GC_MODES, ids=lambda m: " ".join(m))
def test_under_every_collector(mode: tuple) -> None:
    src = (
        NESTED
        + """
let a: [int] = []
var t = 0
for r in 0..12 { t += tri(r * 5) + grow(a, r) }
print(t, len(a))
"""
    )
    code, _, err = agree(src, "tri", "grow", extra=mode)
    assert code == 0 and err == "", err


def test_reference_counts_stay_flat() -> None:
    # True/False (every Range's `inclusive`) are counted objects: an extra or
    # missing reference per Range would move them by thousands a round.
    # (Small ints are immortal here: their counts move by one or two.)
    log: list[str] = []
    vm = VM(jit="native-eager", stdout=io.StringIO(), jit_log=log.append)
    vm.run_source(NESTED + "fn go(n: int) -> int { return tri(n) + kept(n) }\n")
    objs = [True, False]
    seen = []
    for _ in range(4):
        for _ in range(100):
            vm.call("go", 40)
        vm.machine.collect()
        gc.collect()
        seen.append([sys.getrefcount(o) for o in objs])
    assert seen[3] == seen[2], seen
    assert native("go", log), log


def test_only_the_kept_range_is_charged_in_native_code(monkeypatch: pytest.MonkeyPatch) -> None:
    # tri's loops are for-range loops only: its module has no charge, no
    # slow path and no heap budget (it no longer allocates); kept's one
    # Range is charged inline (ctx word 5, the push budget) with tvm.make
    # as the slow path.
    src = NESTED + "print(tri(5), kept(5))\n"
    got = {p.code.name: p for p in prepared(src, monkeypatch)[0]}
    budget = "getelementptr i64, i64* %ctx, i64 5"
    tri, kept = got["tri"], got["kept"]
    assert not outofline.calls(tri.text) and budget not in tri.text, tri.text
    assert not tri.allocs and not tri.heap  # (no budget handed over around its calls)
    assert outofline.calls(kept.text) and budget in kept.text, kept.text
    assert kept.allocs
