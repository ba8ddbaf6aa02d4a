"""`xs.pop()` of `[int]`, `[float]` and `[bool]` in native code (jit/native/pops.py).

Checked against the interpreter and the Python JIT: the values popped
(small and big ints, negative ones, -0.0 and nan, bools), pops mixed with
pushes in one loop (the list's size read again after each), the IndexError
of an empty array with the interpreter's message and trace (a failure exit
at the pop), fuel, heap bytes, GC stress with the verifier, and reference
counts (the list's reference dropped once per pop).
"""

from __future__ import annotations

import gc
import io
import sys

import pytest

pytest.importorskip("llvmlite")

from native_helpers import agree, heap_after, native, used

from tinyvm.api import VM

POPS = """
fn drain(xs: [int]) -> int {
  var s = 0
  while len(xs) > 0 { s = s % 1000003 * 3 + xs.pop() % 1000003 }
  return s
}
fn dropf(fs: [float], k: int) -> float {
  var s = 0.0
  var i = 0
  while i < k { s = s * 0.5 + fs.pop(); i += 1 }
  return s
}
fn flips(bs: [bool], n: int) -> int {
  var t = 0
  var i = 0
  while i < n {
    bs.push(i % 3 == 0)
    bs.push(i % 2 == 0)
    if bs.pop() { t += 1 }
    bs.pop()
    i += 1
  }
  return t
}
fn eat(xs: [int]) -> int {
  var s = 0
  for x in xs { s = s * 7 + x - xs.pop() }
  return s
}
fn churn(xs: [int], n: int) -> int {
  var t = 0
  var i = 0
  while i < n {
    xs.push(i * 1000000007)
    xs.push(-i)
    t += xs.pop() + xs.pop() % 11
    i += 1
  }
  return t
}
"""
PROGRAM = (
    POPS
    + """
let xs: [int] = [1, 2, 3, 4611686018427387904, -5, 0, -9223372036854775807]
print(drain(xs), len(xs))
let fs: [float] = [1.5, 2.5, -0.0, 3.25, 0.0 / 0.0, 7.0]
print(dropf(fs, 2), len(fs), dropf(fs, 2), fs[0], fs[1])
let bs: [bool] = [true]
print(flips(bs, 500), len(bs), bs[0])
let ys: [int] = [4, 5]
print(churn(ys, 3000), len(ys), ys[1])
let zs: [int] = [1, 2, 3, 4, 5, 6, 7]
print(eat(zs), len(zs), eat([]), eat([9]))
"""
)


def test_pops_agree_with_the_interpreter() -> None:
    code, out, err = agree(PROGRAM, "drain", "dropf", "flips", "churn", "eat")
    assert code == 0 and err == "", err
    lines = out.splitlines()
    assert lines[0].endswith(" 0") and lines[2] == "250 1 true", out


def test_fuel_and_heap_bytes_are_the_interpreters() -> None:
    want = used(PROGRAM, "off")
    got = used(PROGRAM, "native-eager")
    assert got[:2] == want[:2] and native("churn", got[2]), got[2]
    assert heap_after(PROGRAM, "native-eager")[0] == heap_after(PROGRAM, "off")[0]


EMPTY = (
    POPS
    + """
let fs: [float] = [1.0, 2.0]
print(dropf(fs, 2))
print(dropf(fs, 1))
"""
)


def test_an_empty_array_fails_at_the_pop_with_the_interpreters_error() -> None:
    code, out, err = agree(EMPTY, "dropf")
    assert code != 0 and out == "2.0\n", (code, out, err)
    assert "IndexError: pop from empty array" in err and "at dropf (" in err, err
    assert used(EMPTY, "native-eager")[:2] == used(EMPTY, "off")[:2]


@pytest.mark.parametrize(
    "mode",
    [
        ("--gc-stress", "--gc-verify"),
        ("--gc-stress", "--gc", "incremental", "--gc-verify"),
        ("--gc-stress", "--gc", "generational", "--gc-verify"),
    ],
    ids=lambda m: " ".join(m),
)
def test_under_every_collector(mode: tuple) -> None:
    src = PROGRAM.replace("churn(ys, 3000)", "churn(ys, 300)").replace(
        "flips(bs, 500)", "flips(bs, 50)"
    )
    code, _, err = agree(src, "churn", "flips", extra=mode)
    assert code == 0 and err == "", err


def test_reference_counts_stay_flat() -> None:
    # Each pop drops the list's reference once: True/False (counted objects
    # here) would move by thousands a round with one too many or too few.
    log: list[str] = []
    vm = VM(jit="native-eager", stdout=io.StringIO(), jit_log=log.append)
    vm.run_source(
        POPS + "let bs: [bool] = [true]\nfn go(n: int) -> int { return flips(bs, n) }\n"
    )
    objs = [True, False]
    seen = []
    for _ in range(4):
        for _ in range(50):
            vm.call("go", 40)
        gc.collect()
        seen.append([sys.getrefcount(o) for o in objs])
    assert seen[3] == seen[2], seen
    assert native("flips", log), (
        log
    )  # (go reads the global bs: interpreted, calling flips natively)
