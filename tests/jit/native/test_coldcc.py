"""Slow-path calls under preserve_mostcc (jit/native/polls.py): the poll and `tvm.make`.

Structure (the LLVM IR before LLVM's passes, never time): every poll of a
loop nest is a `preserve_mostcc` call of `tvm.poll` through ctx word
`polls.POLL`, none a C-convention call of the callback; `tvm.make` is
declared and called with the same convention. Behaviour: with a poll at
every tick (a Python callback, which clobbers every caller-saved register)
and a collection's charges due at every Range (`gc_stress`: `tvm.make` at
each), a loop nest keeping many ints and floats live across those calls
computes what the interpreter does -- which it would not if a helper
broke the convention's promise to keep the caller's registers.
"""

from __future__ import annotations

import ctypes
import io
import re

import pytest

pytest.importorskip("llvmlite")

from native_helpers import native, prepared, same

from tinyvm.api import VM
from tinyvm.jit.native import outofline, polls

# (ints and floats live across every poll and every Range's charge: the
# parameters, six accumulators, the outer loop's variables)
LIVE = """
fn mix(n: int, m: int, k: float) -> float {
  var a = 1
  var b = 2
  var c = 3
  var f = 0.5
  var g = 1.5
  var h = k
  for i in 0..n {
    for j in 0..m {
      let ki = 0..i  // (two kept Ranges, never read: each charged, tvm.make the slow path)
      let kj = 0..j
      a = (a * 31 + i + j) % 1000003
      b = (b + a * 7) % 999983
      c = (c ^ (a + b)) % 65521
      f = f * 0.999 + 0.001 * j
      g = g + f * 0.5 - 0.25
      h = h * 0.5 + g * 0.01
    }
    var w = 0
    while w < 3 { c = (c + w * i) % 65521
      w += 1 }
  }
  return a + b + c + f + g + h + n + m + k
}
print(mix(NN, 9, 0.75))
"""


def test_polls_and_make_are_preserve_most_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    text = next(p.text for p in prepared(LIVE.replace("NN", "5"), monkeypatch)[0] if p.code.name == "mix")
    pollcalls = re.findall(rf"^  %t\.\d+ = call {polls.CC} i64 %t\.\d+\(i64\* %ctx\)$", text, re.MULTILINE)
    assert len(pollcalls) == 3, text  # (three loop headers: the function makes no call, no tick at entry)
    assert f"getelementptr i64, i64* %ctx, i64 {polls.POLL}" in text
    assert not re.search(r"= call i64 %t\.\d+\(\)", text), text  # (no C-convention call of the callback left)
    assert text.count(f"call {polls.CC} i64 @{outofline.NAME}(") == 2, text  # (each kept Range's charge)
    assert f"declare {polls.CC} i64 @{outofline.NAME}(" in text
    assert polls.uses_poll(text) and outofline.calls(text)


@pytest.mark.parametrize("n", [7, 60])
def test_values_live_across_every_poll_and_charge_survive(n: int) -> None:
    from tinyvm.jit.native.engine import _POLL

    src = LIVE.replace("NN", str(n))
    want = same(src, "mix")[1]
    out = io.StringIO()
    log: list[str] = []
    vm = VM(stdout=out, jit="native-eager", jit_log=log.append, gc_stress=True)
    tier = vm.machine.jit.native
    tier.countdown = 1
    polls: list[int] = []

    def poll() -> int:
        polls.append(sum(range(50)))  # (Python work between: the C convention's registers clobbered)
        return 1

    cb = _POLL(poll)
    tier.ctx[2] = ctypes.cast(cb, ctypes.c_void_p).value
    vm.run_source(src, "t.tl")
    assert out.getvalue() == want and native("mix", log), log
    # a tick per loop header visit: the outer header n + 1 times, the inner
    # n * (9 + 1), the while's n * (3 + 1)
    assert len(polls) == (n + 1) + n * 10 + n * 4, len(polls)
