"""`xs.insert(k, v)` of `[int]`, `[float]` and `[bool]` in native code (jit/native/inserts.py).

Checked against the interpreter and the Python JIT: inserts at the front,
the middle and the end (the list's size read again after each), big and
small ints, floats, bools, the IndexError of an index outside 0..len with
the interpreter's message and trace (a failure exit at the insert), fuel,
heap bytes, GC stress and the collector modes with the verifier (a watched
heap: the interpreter inserts), the memory limit, and reference counts.
"""

from __future__ import annotations

import gc
import io
import sys

import pytest

pytest.importorskip("llvmlite")

from native_helpers import GC_STRESS_MODES, agree, agree_log, at_limit, heap_after, used

from tinyvm.api import VM

INSERTS = """
fn ins(xs: [int], n: int) -> int {
  for i in 0..n { xs.insert(i % (len(xs) + 1), i * 1000000007) }
  var s = 0
  for x in xs { s = (s * 31 + x) % 1000000009 }
  return s
}
fn insf(fs: [float], n: int) -> float {
  for i in 0..n { fs.insert(0, i * 0.5) }
  return fs[0] + fs[len(fs) - 1]
}
fn insb(bs: [bool], n: int) -> int {
  for i in 0..n { bs.insert(len(bs), i % 3 == 0) }
  var c = 0
  for b in bs { if b { c += 1 } }
  return c
}
fn small(xs: [int], n: int) -> int {
  var i = 0
  while i < n { xs.insert(len(xs) / 2, i % 300 - 10); i += 1 }
  return xs[0] + xs[len(xs) / 2] + len(xs)
}
"""
PROGRAM = (
    INSERTS
    + """
let xs = [1, 2, 3]
print(ins(xs, 200), len(xs), insf([1.5], 100), insb([], 300), small([], 500))
"""
)


def test_inserts_agree_and_compile() -> None:
    (code, out, err), log = agree_log(PROGRAM, "ins", "insf", "insb", "small")
    assert (code, err) == (0, "") and out.startswith("766558903 203 51.0 100 ")
    assert not any(" off: " in x or "deopt at" in x for x in log), (
        log
    )  # (no insert leaves native code)


def test_an_index_out_of_range_has_the_interpreters_error() -> None:
    src = (
        INSERTS
        + """
fn at(xs: [int], k: int) -> int { xs.insert(k, 9); return len(xs) }
let ys = [1, 2]
print(at(ys, 2), at(ys, 0), ys[0], ys[3])
print(at(ys, 5))
"""
    )
    code, out, err = agree(src, "at")
    assert code == 1 and out == "3 4 9 9\n"
    assert (
        "IndexError: insert index 5 out of range for array of length 4" in err
        and "at at (" in err
    )
    code, _, err = agree(src.replace("at(ys, 5)", "at(ys, -1)"), "at")
    assert code == 1 and "insert index -1 out of range" in err


def test_inserts_count_fuel_and_heap_exactly() -> None:
    assert used(PROGRAM, "native-eager")[:2] == used(PROGRAM, "off")[:2]
    # (bytes: the object counts differ by the for-range loops' Ranges, charged but not made natively)
    assert heap_after(PROGRAM, "native-eager")[0] == heap_after(PROGRAM, "off")[0]


@pytest.mark.parametrize("mode", GC_STRESS_MODES)
def test_inserts_under_gc_stress_and_the_collectors(mode: tuple) -> None:
    agree(PROGRAM, extra=mode)


def test_inserts_at_the_memory_limit_fail_where_the_interpreter_does() -> None:
    src = "fn grow(xs: [int], n: int) { for i in 0..n { xs.insert(0, i * 1000003) } }\nlet xs: [int] = []\ngrow(xs, 100000)\nprint(len(xs))\n"
    got = at_limit(src, 400000)
    # (the Python JIT's fuel near the limit: where a collection runs, docs/native.md "Collection timing")
    assert got[2] == got[1] and got[2][0] == got[0][0], got
    assert "MemoryError" in got[0][0]


def test_an_inserted_value_has_one_reference_more() -> None:
    """Each inserted int (boxed by native code: a new object) is held by
    the list alone, as the interpreter's: not one reference more (the
    box's kept) or one less."""
    counts = {}
    for jit in ("off", "native-eager"):
        vm = VM(stdout=io.StringIO(), jit=jit)
        vm.run_source(
            INSERTS
            + "fn fill(xs: [int], n: int) { for i in 0..n { xs.insert(i / 2, i * 1000000007) } }\n",
            "t.tl",
        )
        vm.run_source("let keep: [int] = [1]\nfill(keep, 50)\n", "u.tl")
        keep = vm.get("keep")
        assert len(keep.items) == 51
        gc.collect()
        counts[jit] = sorted(sys.getrefcount(x) for x in keep.items if x > 1000)
    assert counts["native-eager"] == counts["off"] and len(counts["off"]) == 49, counts
