"""A scalar element read again in its block is the first read's value (jit/native/listwords.py).

Structure: the two-array loop's second `a[i]` goes (one int read and one
float read left), while a store, a push or a call between two reads keeps
both (counted by listwords.merge's result). Behaviour: the three tiers agree -- output, errors, traces -- where a
read is merged, where a store, a call or a push comes between, where the
first read fails (an int beyond the inline read's two digits, a
three-digit one: the helper path; out of range: the interpreter's error),
and fuel is counted exactly on a metered VM.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("llvmlite")

from native_helpers import agree_log, used

from tinyvm.jit.native import listwords

PROGRAM = """
fn asum(a: [int], b: [float]) -> float {
  var s = 0
  var f = 0.0
  for i in 0..len(a) {
    s += a[i] * 2
    f += b[i] * a[i]
  }
  return f + s
}
fn stored(a: [int]) -> int {
  var s = 0
  for i in 0..len(a) {
    s += a[i]
    a[i] = a[i] + 1
    s += a[i]
  }
  return s
}
fn bump(a: [int], i: int) -> int {
  a[i] = a[i] * 3
  return 0
}
fn called(a: [int]) -> int {
  var s = 0
  for i in 0..len(a) {
    s += a[i]
    s += bump(a, i)
    s += a[i]
  }
  return s
}
fn pushed(a: [int], n: int) -> int {
  var s = 0
  for i in 0..n {
    s += a[i]
    a.push(i)
    s += a[i] * a[i]
  }
  return s
}
fn twice(a: [int], k: int) -> int {
  return a[k] + a[k] * 7
}
print(asum([1, 2, 3], [0.5, 1.5, 2.5]))
print(asum([2305843009213693952, 5, 1], [1.0, 2.0, 0.25]))
print(stored([1, 2, 3, 40]))
print(called([1, 2, 3]))
print(pushed([5, 6], 4))
print(twice([2, 9, 4], 1))
print(twice([2, 9, 4], 3))
"""


def _merged(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    got: dict[str, int] = {}
    orig = listwords.merge

    def merge(fn: Any, types: dict) -> int:
        n = orig(fn, types)
        got[fn.name] = n  # (per typing: a function may be typed more than once)
        return n

    monkeypatch.setattr(listwords, "merge", merge)
    return got


def test_only_reads_nothing_can_change_between_are_merged(monkeypatch: pytest.MonkeyPatch) -> None:
    got = _merged(monkeypatch)
    (code, out, err), log = agree_log(PROGRAM.replace("print(twice([2, 9, 4], 3))\n", ""), "asum", "stored", "called", "pushed", "twice")
    assert code == 0, err
    # (in process: the native tier of the CLI runs in a subprocess; count here)
    from native_helpers import prepared

    prepared(PROGRAM.replace("print(twice([2, 9, 4], 3))\n", ""), monkeypatch)
    # asum: its second a[i]; stored: the read in `a[i] + 1` (not the one
    # after the store); called: none (a call between); pushed: the two
    # reads after the push, not the one before; twice: its second a[k]
    assert got == {"asum": 1, "stored": 1, "called": 0, "bump": 0, "pushed": 1, "twice": 1}, got


def test_a_merged_read_that_fails_fails_as_the_interpreter() -> None:
    (code, out, err), log = agree_log(PROGRAM, "asum", "twice")
    assert code != 0 and "twice" in err, (out, err)


def test_fuel_is_exact_with_merged_reads() -> None:
    src = PROGRAM.replace("print(twice([2, 9, 4], 3))\n", "")
    want = used(src, "off")
    got = used(src, "native-eager")
    assert got[:2] == want[:2] and any(x.startswith("jit: native asum in ") for x in got[2]), (got, want)
