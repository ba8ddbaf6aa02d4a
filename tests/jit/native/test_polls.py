"""Where native code ticks (jit/native/polls.py): every cycle still polls.

Structure (the LLVM IR's poll calls, never time) and behaviour: a deadline
stops a loop nest of a function that makes no call (no tick at its entry),
also the cycle that skips the inner loop; a recursion through a function
with loops still polls at its entry.
"""

from __future__ import annotations

import io
import re
import time

import pytest

pytest.importorskip("llvmlite")

from native_helpers import native, prepared, same

from tinyvm.api import VM

NEST = """
fn mandel(w: int, h: int, maxit: int) -> int {
  var count = 0
  for y in 0..h {
    for x in 0..w {
      var zr = 0.0
      var zi = 0.0
      var i = 0
      while i < maxit and zr * zr + zi * zi <= 4.0 {
        let t = zr * zr - zi * zi + 2.0 * x / w - 1.5
        zi = 2.0 * zr * zi + 2.0 * y / h - 1.0
        zr = t
        i = i + 1
      }
      if i == maxit { count = count + 1 }
    }
  }
  return count
}
fn rec(n: int) -> int {
  var s = 0
  for i in 0..n { s += i }
  if n == 0 { return 0 }
  return s + rec(n - 1)
}
print(mandel(12, 10, 30), mandel(0, 5, 3), mandel(5, 0, 3), rec(20))
"""


def texts(src: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return {p.code.name: p.text for p in prepared(src, monkeypatch)[0]}


def polls(text: str) -> int:
    """The poll callback's calls (through `tvm.poll`, polls.py: `tick`)."""
    return len(re.findall(r"^  %t\.\d+ = call preserve_mostcc i64 %t\.\d+\(i64\* %ctx\)$", text, re.MULTILINE))


def test_ticks_go_where_cycles_need_them(monkeypatch: pytest.MonkeyPatch) -> None:
    got = texts(NEST, monkeypatch)
    # three loop headers, no call: no tick at entry, one per header
    assert polls(got["mandel"]) == 3, got["mandel"]
    # a function with loops that calls: its entry ticks (recursion), and
    # its one loop's header
    assert polls(got["rec"]) >= 2, got["rec"]
    code, out, _ = same(NEST, "mandel", "rec")
    assert code == 0 and out.split()[1:] == ["0", "0", "1330"]


# (The inner loop is a `while`: a `for j in 0..n` charges its Range's bytes
# each time round (charges.py) and leaves native code whenever a collection
# is due, where the interpreter would see the deadline instead: only the
# ticks can stop this nest inside native code.)
SPIN = """
fn spin(n: int) -> int {
  var s = 0
  while true {
    var j = 0
    while j < n {
      s = (s + j) % 1000003
      j += 1
    }
  }
  return s
}
print(spin(N))
"""


@pytest.mark.parametrize("n", [0, 3])
def test_a_deadline_stops_a_nest_also_where_the_inner_loop_is_skipped(n: int) -> None:
    # n = 0: the `while` never enters the `for`, so its own header's tick
    # is what stops it; n = 3: either header's
    log: list[str] = []
    vm = VM(stdout=io.StringIO(), jit="native-eager", jit_log=log.append, timeout=0.2)
    t0 = time.perf_counter()
    with pytest.raises(Exception, match="timeout"):
        vm.run_source(SPIN.replace("N", str(n)), "t.tl")
    assert time.perf_counter() - t0 < 5
    assert native("spin", log) and any(
        "deopt at t.tl:" in x and x.endswith("deadline or interrupt") for x in log
    ), log
