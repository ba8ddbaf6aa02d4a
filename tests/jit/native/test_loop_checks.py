"""What a loop over objects checks per pass (session 43: AWFY Bounce's `for ball in balls { ball.bounce() }`).

- A method call's receiver check compares the type word with the class's
  shape only (slots.py `is_instance_of`: a laid-out class has no dict
  instances), then the class word.
- `for x in xs` over an array of objects reads the Array's list once, at
  its get_iter, before the loop (fields.py `iterate`); its length and item
  vector are still read at every pass, so a loop that grows the array sees
  the new elements, as the interpreter does.
- The invariant globals of a function with loops (a class's shape and
  object, the heap's types) are loaded once at its entry
  (hoist.globals_to_entry).
Outputs agree on three tiers.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("llvmlite")

from native_helpers import agree_log, blocks_in_cycles, global_reads, llvm_blocks, prepared

from tinyvm.ir.nodes import Block
from tinyvm.jit.native import hoist

BALLS = """
class Ball {
  var x: int
  var v: int
  fn init(x: int, v: int) { self.x = x
    self.v = v }
  fn step() -> bool {
    self.x += self.v
    if self.x > 50 { self.x = 50
      self.v = -self.v
      return true }
    if self.x < 0 { self.x = 0
      self.v = -self.v
      return true }
    return false
  }
}

class Fast extends Ball {
  fn step() -> bool {
    self.x += 2 * self.v
    return false
  }
}

fn run(balls: [Ball], rounds: int) -> int {
  var n = 0
  for i in 0..rounds {
    for ball in balls {
      if ball.step() { n += 1 }
    }
  }
  return n
}
"""

MAIN = """
var balls: [Ball] = []
for i in 0..20 { balls.push(Ball(i * 7 % 50, i % 5 - 2)) }
print(run(balls, 30))
balls.push(Fast(3, 1))
print(run(balls, 30), balls[20].x)
"""


def _loop_function(monkeypatch: pytest.MonkeyPatch) -> str:
    """The LLVM IR (before LLVM's passes) of the function holding run's loops."""
    preps, _ = prepared(BALLS + MAIN, monkeypatch)
    (prep,) = [p for p in preps if p.code.name == "run"]
    (fn,) = ["define " + f for f in prep.text.split("\ndefine ")[1:] if "%itl" in f]
    return fn


def test_a_loop_over_objects_checks_each_receivers_shape_and_class_only(monkeypatch: pytest.MonkeyPatch) -> None:
    fn = _loop_function(monkeypatch)
    blocks = llvm_blocks(fn)
    loops = blocks_in_cycles(blocks)
    in_loops = [x for label, lines in blocks if label in loops for x in lines]
    # no global is loaded in the loops: the shape and the class are read at
    # the entry, the loops take copies of them
    assert not [x for x in in_loops if re.search(r"load i64, i64\* @", x)], in_loops
    assert global_reads(fn, "tvm.sh.Ball") and global_reads(fn, "tvm.cls.Ball")
    # a laid-out class's instances are never an Instance with a dict
    assert not global_reads(fn, "tvm.ty.Instance")
    # the Array's list: read by the get_iter (in the outer loop), and the
    # for_iter's blocks loop without passing through it
    (made,) = [label for label, lines in blocks if any(x.startswith("%itl") for x in lines)]
    users = {label for label, lines in blocks if any("%itl" in x and not x.startswith("%itl") for x in lines)}
    assert users and users <= blocks_in_cycles([(label, lines) for label, lines in blocks if label != made]), (made, users)


def test_a_subclass_receiver_in_the_loop_runs_its_own_method_on_every_tier() -> None:
    (code, out, err), _ = agree_log(BALLS + MAIN, "run")
    assert code == 0 and err == ""
    first, second = out.splitlines()
    assert int(first) > 0 and second.split()[1] == str(3 + 2 * 30)


GROW = """
class Cell {
  var n: int
  fn init(n: int) { self.n = n }
}

fn grow(cells: [Cell], limit: int) -> int {
  var seen = 0
  for c in cells {
    seen += c.n
    if cells.len() < limit { cells.push(Cell(c.n + 1)) }
  }
  return seen
}

var cells: [Cell] = [Cell(1)]
print(grow(cells, 6), cells.len())
var none: [Cell] = []
print(grow(none, 3), none.len())
"""


def test_a_loop_that_grows_its_array_visits_the_new_elements_on_every_tier() -> None:
    # the list is read once, but its length and items at every pass
    (code, out, _), _ = agree_log(GROW, "grow")
    assert (code, out) == (0, "21 6\n0 0\n")


def _body() -> tuple[dict[Block, list[str]], set[Block]]:
    a, b = Block(0), Block(1)
    body = {
        a: ['  %x = load i64, i64* @"tvm.sh.P", !invariant.load !90', "  %y = add i64 %x, 1"],
        b: ['  %z = load i64, i64* @"tvm.sh.P", !invariant.load !90', '  %w = load i64, i64* @"tvm.ty.Array", !invariant.load !90', "  %v = load i64, i64* %p"],
    }
    return body, {b}


def test_globals_to_entry_loads_each_global_once_and_leaves_other_loads() -> None:
    body, headers = _body()
    a, b = list(body)
    entry = hoist.globals_to_entry(body, headers)
    assert entry == ['  %gl.0 = load i64, i64* @"tvm.sh.P", !invariant.load !90', '  %gl.1 = load i64, i64* @"tvm.ty.Array", !invariant.load !90']
    assert body[a] == ["  %x = add i64 %gl.0, 0", "  %y = add i64 %x, 1"]
    assert body[b] == ["  %z = add i64 %gl.0, 0", "  %w = add i64 %gl.1, 0", "  %v = load i64, i64* %p"]


def test_globals_to_entry_leaves_a_function_without_loops_alone() -> None:
    body, _ = _body()
    before = {k: list(v) for k, v in body.items()}
    assert hoist.globals_to_entry(body, set()) == []
    assert body == before
