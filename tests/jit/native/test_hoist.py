"""Array fields of `self` read once before a loop that calls (jit/native/hoist.py).

Queens' shape: a method's loop reads `self`'s array fields and calls the
method again. The reads are made once in the loop's preheader, so no field
slot is loaded inside the loop; a field the loop (or a callee) stores is read
on every pass as before; a hoisted read whose check fails deoptimises to the
loop header and the interpreter runs the loop; outputs, errors and fuel agree
on three tiers.
"""

from __future__ import annotations

import pytest

pytest.importorskip("llvmlite")

from hypothesis import given, settings
from hypothesis import strategies as st
from native_helpers import agree_log, blocks_in_cycles, in_one_module, llvm_blocks, prepared, two_fibers

from tinyvm.jit.native import hoist
from tinyvm.jit.native.engine import REFUSALS

# A board of n rows: place one rook per column, backtracking (Queens' loop).
BOARD = """
class Board {
  var free: [bool] = []
  var rows: [int] = []
  var tries: int = 0

  fn init(n: int) {
    self.free = [true] * n
    self.rows = [-1] * n
  }

  fn ok(r: int, c: int) -> bool {
    return self.free[r] and (r + c) % 3 != 1
  }

  fn place(c: int, n: int) -> bool {
    for r in 0..n {
      self.tries += 1
      if self.ok(r, c) {
        self.rows[r] = c
        self.free[r] = false
        if c == n - 1 { return true }
        if self.place(c + 1, n) { return true }
        self.free[r] = true
        self.rows[r] = -1
      }
    }
    return false
  }
}
"""

SOLVE = """
fn solve(n: int) -> string {
  let b = Board(n)
  let ok = b.place(0, n)
  return str(ok) + " " + str(b.rows) + " " + str(b.tries)
}
"""


def _functions(text: str) -> list[str]:
    """The text of each function an LLVM module defines."""
    return ["define " + part for part in text.split("\ndefine ")[1:]]


def _kind_checks_in_loops(text: str) -> int:
    """How many checks of an array's buffer kind (arrays.py `check_array`,
    made where an array field is read) the module's loops make."""
    n = 0
    for fn in _functions(text):
        blocks = llvm_blocks(fn)
        loops = blocks_in_cycles(blocks)
        n += sum(1 for label, lines in blocks if label in loops for x in lines if '@"tvm.pk.' in x)
    return n


def _hoisted(log: list[str]) -> int:
    return sum(hoist.REASON in line for line in log)


def test_the_loop_reads_no_field_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    preps, _ = prepared(BOARD + SOLVE + "print(solve(6))\n", monkeypatch)
    (prep,) = [p for p in preps if any(t.code.name.endswith("place") for t in p.typed)]
    # (a rook per column, 6 rows, every row r with (r + c) % 3 == 1 taken)
    assert _kind_checks_in_loops(prep.text) == 0, prep.text
    assert sum(es.reason == hoist.REASON for es in prep.table) >= 1
    # Without the hoisting, each pass reads and checks `free` and `rows`.
    monkeypatch.setattr(hoist, "plan", lambda em, entered: {})
    preps, _ = prepared(BOARD + SOLVE + "print(solve(6))\n", monkeypatch)
    (prep,) = [p for p in preps if any(t.code.name.endswith("place") for t in p.typed)]
    assert _kind_checks_in_loops(prep.text) >= 2


def test_three_tiers_agree_and_nothing_leaves() -> None:
    (code, out, _), log = agree_log(BOARD + SOLVE + "print(solve(6))\nprint(solve(7))\n", "Board.place")
    assert code == 0 and out.count("true") == 2, out
    assert _hoisted(log) == 0, log


def test_a_field_a_callee_replaces_is_read_on_every_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    # `swap` stores the field the loop reads: the loop must see each new
    # array, and no read of it is made before the loop (it would be wasted).
    src = """
class Flip {
  var a: [int] = []
  var b: [int] = []
  fn swap() {
    let t = self.a
    self.a = self.b
    self.b = t
  }
  fn walk(n: int) -> int {
    var s = 0
    for i in 0..n {
      s = s * 10 + self.a[i % 3]
      self.swap()
    }
    return s
  }
}
fn main() -> int {
  let f = Flip()
  f.a = [1, 2, 3]
  f.b = [7, 8, 9]
  return f.walk(6)
}
print(main())
"""
    (code, out, _), log = agree_log(src, "main")
    assert in_one_module(log, "main", "Flip.walk"), log
    assert (code, out) == (0, "183729\n")
    assert _hoisted(log) == 0, log
    preps, _ = prepared(src, monkeypatch)
    assert [es for p in preps for es in p.table if es.reason == hoist.REASON] == []


def test_a_failing_hoisted_read_leaves_at_the_header() -> None:
    # `ints` holds a bool buffer that came through `any`: the read the loop
    # would make only past its 100th pass fails its kind check before the
    # loop. The interpreter runs the loop (which never reads it) each time.
    src = """
class Bag {
  var ints: [int] = []
  var n: int = 0
  fn count(k: int) -> int {
    var t = 0
    for i in 0..k {
      if i > 100 { t += self.ints[0] }
      t += i
      self.n += 1
    }
    return t
  }
}
fn main() -> int {
  let b = Bag()
  let x: any = [true] * 3
  b.ints = x
  return b.count(5) + b.count(7) + b.n
}
print(main())
"""
    (code, out, _), log = agree_log(src, "Bag.count")  # (main is not native: its check_type of `x`)
    assert (code, out) == (0, "43\n"), out
    # (the first call's entry leaves, then its loop's OSR entry REFUSALS
    # times, after which the OSR op stays the interpreter's; the second
    # call's entry leaves once)
    assert _hoisted(log) == 2 + REFUSALS, log


def test_an_out_of_range_element_raises_the_same_on_three_tiers() -> None:
    src = BOARD + SOLVE.replace("b.place(0, n)", "b.place(0, n + 1)") + "print(solve(5))\n"
    (code, out, err), log = agree_log(src, "Board.place")
    assert code != 0 and "IndexError" in err, (code, out, err)
    assert _hoisted(log) == 0, log


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 8), st.integers(0, 2), st.booleans())
def test_three_tiers_agree_on_boards(n: int, skip: int, lists: bool) -> None:
    src = BOARD.replace("% 3 != 1", f"% 3 != {skip}") + SOLVE + f"print(solve({n}))\n"
    if lists:  # (arrays as lists, not packed buffers: each read's other branch)
        src = src.replace("[true] * n", "Array(n, true).map(fn(x: bool) -> bool { return x })")
    agree_log(src, "Board.place")


def test_a_fiber_switch_comes_back_through_the_osr_path_reads() -> None:
    # Another fiber ready makes the poll leave `run`'s loop; the fiber comes
    # back at the loop header through its OSR entry, whose own reads of
    # `self.xs` (the preheader's twins) give the loop its array.
    acc = """
class Acc {
  var xs: [int] = []
  fn bump(k: int) -> int { return k % 3 }
  fn run(n: int) -> int {
    var t = 0
    for i in 0..n {
      t += self.xs[i % 4] + self.bump(i)
    }
    return t
  }
}"""
    want, out, log, vm = two_fibers(acc, "let a = Acc(); a.xs = [1, 2, 3, 4]; order.push(a.run(40000))", "let a = Acc(); a.xs = [5, 6, 7, 8]; order.push(a.run(30000))")
    assert out == want == "[225000, 139999]\n"
    assert any(x.endswith("another fiber is ready") for x in log), log
    assert vm.machine.jit.native.stats["osr_calls"] >= 2 and _hoisted(log) == 0, (vm.machine.jit.native.stats, log)


STMTS = [
    "t += self.a[i % {la}]",
    "if self.b[i % 3] {{ t += 1 }}",
    "t += self.touch(i)",
    "if i > {k} {{ t += self.a[0] }}",
    "self.n += 1",
    "self.a[i % 3] = t % 5",
    "if self.b[0] {{ self.b[i % 3] = not self.b[i % 3] }}",
]


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.integers(0, len(STMTS) - 1), min_size=1, max_size=5),
    st.integers(2, 4),
    st.integers(0, 6),
    st.integers(0, 9),
    st.sampled_from(["[1, 2, 3]", "[4] * 3", "x", "[5, 6, 7, 8]"]),
    st.booleans(),
)
def test_three_tiers_agree_on_random_loops_over_fields(picks: list[int], la: int, k: int, m: int, a: str, replaces: bool) -> None:
    # A loop reading, writing and testing self's array fields, calling a
    # method that may replace one of them; `x` is a bool buffer through
    # `any` in an [int] field (a failing hoisted read), an index past the
    # end an IndexError. Output, errors and traces agree on three tiers.
    body = "\n      ".join(STMTS[p].format(la=la, k=k) for p in picks)
    src = f"""
class C {{
  var a: [int] = []
  var b: [bool] = []
  var n: int = 0
  fn touch(k: int) -> int {{
    {"if k == 2 { self.a = [k, k + 1, k + 2] }" if replaces else ""}
    return k % 2
  }}
  fn run(m: int) -> int {{
    var t = 0
    for i in 0..m {{
      {body}
    }}
    return t
  }}
}}
fn main() -> string {{
  let c = C()
  let x: any = [true] * 3
  c.a = {a}
  c.b = [true, false, true]
  let r = c.run({m})
  return str(r) + " " + str(c.a) + " " + str(c.b) + " " + str(c.n)
}}
print(main())
"""
    agree_log(src)
