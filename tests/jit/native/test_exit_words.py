"""A scalar in several slots of a frame state is one word of its exit record (deopt.py `AGAIN`).

Structure: the exit table names the later slots of such a value (AGAIN),
the record holds its word once. Behaviour: exits and OSR entries whose
states name one int, float or bool in several slots (a parameter and a
for-range's end, copies of a variable) rebuild frames the interpreter runs
on exactly as without native code: output, errors and traces.
"""

from __future__ import annotations

import io

import pytest

pytest.importorskip("llvmlite")

from native_helpers import prepared, same

from tinyvm.api import VM
from tinyvm.jit.native import engine  # noqa: F401  (first: deopt.py alone would meet the package's import cycle)
from tinyvm.jit.native.deopt import AGAIN, WORD, word_slots  # noqa: E402

# n is the parameter and each for-range's end; a, b, c copies of one int,
# g of a float, q of a bool. Two fibers run f: with a short countdown each
# poll finds the other ready, so native code leaves at a loop header with
# all of them in the state, the interpreter goes on from the rebuilt frame
# and re-enters native code at the next header (an OSR entry reading them)
COPIES = """
fn f(n: int, k: int, w: float) -> int {
  var s = 0
  for i in 0..n {
    let a = i + 1
    let b = a
    var c = b
    let g = w * 0.5
    var h = g
    let q = i > 2
    var r = q
    for j in 0..n {
      s = (s + i * k + c) % 1000000007
      if r and h > 0.0 { s = s + 1 }
      c = c + j
    }
    if r { s = s + a + b + n }
  }
  return s
}
var out = []
fn fa() { out.push(f(300, 3, 1.5)) }
fn fb() { out.push(f(200, 7, -1.0)) }
let x = spawn fa()
let y = spawn fb()
await x
await y
print(out)
"""


def test_a_value_in_several_slots_is_one_word(monkeypatch: pytest.MonkeyPatch) -> None:
    prep = next(p for p in prepared(COPIES, monkeypatch, errors=False)[0] if p.code.name == "f")
    again = [es for es in prep.table if any(s[0] == AGAIN for s in es.slots)]
    assert again, [es.slots for es in prep.table]
    for es in prep.table:
        words = [s for s in es.slots if s[0] == WORD]
        assert len(words) == len(es.values) - sum(1 for s in es.slots if s[0] == 4)  # (an iterator: two values, one slot)
        assert len(set(v for v, s in zip(es.values, words) if s[1] in ("i", "f", "b"))) == sum(1 for s in words if s[1] in ("i", "f", "b"))
        for j, s in enumerate(es.slots):
            if s[0] == AGAIN:
                assert s[1] < j and es.slots[s[1]][0] == WORD and es.slots[s[1]][1] in ("i", "f", "b")
        for v, js in word_slots(es).items():
            assert js == sorted(js) and all(es.slots[j - 1][0] in (WORD, AGAIN) for j in js)


def test_exits_with_copies_rebuild_the_frame_exactly() -> None:
    want = io.StringIO()
    VM(stdout=want).run_source(COPIES, "t.tl")
    out = io.StringIO()
    log: list[str] = []
    vm = VM(stdout=out, jit="native-eager", jit_log=log.append)
    vm.machine.jit.native.countdown = 500
    vm.run_source(COPIES, "t.tl")
    assert out.getvalue() == want.getvalue()
    assert any(x.startswith("jit: native f deopt at t.tl:") and x.endswith("another fiber is ready") for x in log), log


# an OSR entry at the inner loop's header of a long first call: its state
# names n twice (the parameter, the range's end) and the copy d of c
OSR = """
fn g(n: int) -> int {
  var s = 0
  var c = 1
  var d = c
  for i in 0..n {
    s = (s + i * d + c) % 1000003
  }
  return s + n + d
}
print(g(300000))
"""


def test_an_osr_entry_reads_a_value_from_its_slots() -> None:
    same(OSR, "g")
