"""What a native call may change (jit/native/effects.py).

A call whose callee is native runs only native code until it returns (a
call out leaves native code, its callers with it), so the fields its
callees store and whether they resize a list are known from their IR. A
field read after such a call takes the value read before it when no
callee stores that field, and an array's words are shared across it when
none resizes a list. Checked: the summaries of a group (recursion, a call
out, a push); the reads shared across Permute's recursive call (fewer
array checks than with every call a barrier); and the three tiers agreeing
where a callee does store the field, store an element or push."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("llvmlite")

from native_helpers import PILES, agree, global_reads, prepared

from tinyvm.jit.native import effects, listwords

GROUP = """
class P {
  var x: int = 0
  var y: int = 0
  var xs: [int] = [0]
}
fn setx(p: P, v: int) { p.x = v }
fn grow(p: P) { p.xs.push(p.x) }
fn rec(p: P, n: int) -> int {
  if n == 0 { return p.y }
  setx(p, n)
  return rec(p, n - 1)
}
fn talk(p: P) -> int {
  let m = ["a": p.x]
  return m["a"]
}
fn leaves(p: P) -> int {
  p.y += 1
  return talk(p)
}
fn top(p: P, n: int) -> int {
  var s = 0
  for i in 0..n {
    s += rec(p, 3) + leaves(p)
    grow(p)
  }
  return s + len(p.xs)
}
print(top(P(), 50))
"""


def test_the_summaries_of_a_group(monkeypatch: pytest.MonkeyPatch) -> None:
    # setx stores x; rec, recursive, calls setx: x; leaves stores y and
    # calls `talk` out (not native: a map), which leaves native code, so
    # nothing after it runs natively: y; grow pushes; top gathers them.
    preps, _ = prepared(GROUP, monkeypatch)
    prep = next(p for p in preps if p.group[0].name == "top")
    got = {code.name: e for code, e in effects.summaries(prep.typed).items()}
    assert got["setx"] == effects.Effects(frozenset({"x"}), False)
    assert got["rec"] == effects.Effects(frozenset({"x"}), False)
    assert got["leaves"] == effects.Effects(frozenset({"y"}), False)
    assert got["grow"] == effects.Effects(frozenset(), True)
    assert got["top"] == effects.Effects(frozenset({"x", "y"}), True)
    assert "talk" not in got
    assert agree(GROUP, "top")[1] == "1326\n"


PERMUTE = """
class Permute {
  var count: int = 0
  var v: [int] = []
  fn permute(n: int) {
    self.count += 1
    if n != 0 {
      let n1 = n - 1
      self.permute(n1)
      var i = n1
      while i >= 0 {
        self.swap(n1, i)
        self.permute(n1)
        self.swap(n1, i)
        i -= 1
      }
    }
  }
  fn swap(i: int, j: int) {
    let tmp = self.v[i]
    self.v[i] = self.v[j]
    self.v[j] = tmp
  }
  fn run() -> int {
    self.count = 0
    self.v = [0, 1, 2, 3, 4, 5]
    self.permute(5)
    return self.count * 1000 + self.v[0] * 100 + self.v[5]
  }
}
let p = Permute()
print(p.run(), p.run())
"""


def _function(text: str, name: str) -> str:
    m = re.search(rf"^define [^\n]*@{name}\(.*?^}}$", text, re.MULTILINE | re.DOTALL)
    assert m, name
    return m.group(0)


def _array_checks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Array checks (loads of the packed array type's address: arrays.py
    `check_array`) in permute's LLVM IR before LLVM's passes."""
    preps, _ = prepared(PERMUTE, monkeypatch)
    prep = next(p for p in preps if p.group[0].name == "Permute.run")
    name = {c.name: f"f{k}" for k, c in enumerate(prep.group)}["Permute.permute"]
    return len(global_reads(_function(prep.text, name), "tvm.ty.Packed"))  # (one per check: its type word against Array and PackedArray)


def test_the_array_field_is_checked_once_across_the_recursive_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # swap is inlined into permute twice (selfinline.py); permute calls
    # only itself, storing `count` and elements: the second swap's read of
    # `self.v` takes the first's value, checked once, and the loop's first
    # read takes the one before the loop. With every call a barrier, each
    # inlined swap checks the array again.
    shared = _array_checks(monkeypatch)
    monkeypatch.setattr(effects, "summaries", lambda group: {})  # (no callee known: every call a barrier)
    barriers = _array_checks(monkeypatch)
    assert (shared, barriers) == (1, 2)
    assert agree(PERMUTE, "Permute.run")[1] == "1237005 1237005\n"  # (permute(5): 1237 calls; v back in order)


STORES_THE_FIELD = """
class Q {
  var v: [int] = [1, 2]
  var n: int = 0
  fn swap_in(k: int) { put(self, k) }
  fn bump() { self.n += 1 }
  fn run(m: int) -> int {
    var s = 0
    for i in 0..m {
      let a = self.v[0]
      self.bump()
      let b = self.v[0]
      self.swap_in(i)
      let c = self.v[1]
      s += a * 100 + b * 10 + c
    }
    return s + self.n
  }
  fn main(m: int) -> int { return self.run(m) }
}
fn put(q: Q, k: int) { q.v = [k, k + 1] }
print(Q().main(20))
"""


def test_a_callee_storing_the_field_makes_the_caller_read_it_again() -> None:
    # bump stores only `n`: b is a's value (shared); swap_in stores `v`
    # through its callee put: c reads the new array.
    assert agree(STORES_THE_FIELD, "Q.main")[1] == str(sum((i - 1 if i else 1) * 110 + i + 1 for i in range(20)) + 20) + "\n"


ELEMENTS = """
class E {
  var a: [int] = [1, 2, 3]
  fn poke(k: int) { self.a[0] = k }
  fn run(m: int) -> int {
    var s = 0
    for i in 0..m {
      let x = self.a[0]
      self.poke(i * 7)
      s += x * 1000 + self.a[0]
    }
    return s
  }
  fn main(m: int) -> int { return self.run(m) }
}
print(E().main(30))
"""


def test_an_element_stored_by_a_callee_is_read_again() -> None:
    # poke stores an element (no resize: the array's words are shared
    # across the call), and the element is read anew after it.
    want = 0
    a0 = 1
    for i in range(30):
        x = a0
        a0 = i * 7
        want += x * 1000 + a0
    assert agree(ELEMENTS, "E.main")[1] == f"{want}\n"


def _piles_checks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Array checks in Piles.push's LLVM IR."""
    preps, _ = prepared(PILES.replace("N", "10"), monkeypatch)
    prep = next(p for p in preps if p.group[0].name == "Piles.main")
    name = {c.name: f"f{k}" for k, c in enumerate(prep.group)}["Piles.push"]
    return len(global_reads(_function(prep.text, name), "tvm.ty.Array"))


def test_a_throw_native_code_never_makes_changes_nothing_it_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    # push's two reads of `self.piles`, with the store of `disk.next`
    # between them, share one check: the Error constructed before the
    # throw is never made in native code (effects.leaves), so nothing in
    # push may store `piles`. Counting that construction as a call that may
    # change anything, push checks the array twice.
    shared = _piles_checks(monkeypatch)
    monkeypatch.setattr(listwords, "leaves", lambda ty, i: False)
    assert (shared, _piles_checks(monkeypatch)) == (1, 2)
    assert agree(PILES.replace("N", "10"), "Piles.main") == (0, "6\n16\n", "")


def test_a_callee_whose_only_calls_are_before_throws_has_known_effects(monkeypatch: pytest.MonkeyPatch) -> None:
    # push and pop construct an Error only in blocks ending in throw: their
    # summaries are what they store (effects.summaries skips those blocks),
    # so a native call of either shares its caller's reads of other fields
    preps, _ = prepared(PILES.replace("N", "10"), monkeypatch)
    prep = next(p for p in preps if p.group[0].name == "Piles.main")
    summ = effects.summaries(prep.typed)
    by_name = {c.name: summ[c] for c in prep.group}
    assert by_name["Piles.push"] == effects.Effects(frozenset({"next"}), False)
    assert by_name["Piles.pop"] == effects.Effects(frozenset({"next"}), False)
    assert by_name["Piles.move"] == effects.Effects(frozenset({"next", "moves"}), False)

