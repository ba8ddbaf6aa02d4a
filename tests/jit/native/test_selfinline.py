"""Leaf methods called on an exact `self`, inlined in TinyVM's IR (jit/native/selfinline.py).

A method whose `self` is exactly one class on every native way in gets the
bodies of the leaf methods it calls on `self` (no call, no loop) spliced
into its IR, so the emitter shares their field reads with its own. What is
checked: the calls are gone from the caller's LLVM IR and the callee's
field reads share the caller's; the three tiers agree, also when native
code leaves inside an inlined body (an IndexError, an OverflowError: the
interpreter resumes in the callee's frame with the caller waiting, and the
trace shows both), at the guest depth limit, with a subclass overriding the
leaf, and on a VM that counts fuel (no inlining there); the deopt record of
an inlined exit holds both frames."""

from __future__ import annotations

import io
import re

import pytest

pytest.importorskip("llvmlite")

from native_helpers import PILES, agree, outcome, prepared, used

from tinyvm.api import VM
from tinyvm.ir.build import build
from tinyvm.jit.native.engine import jit_pipeline_plain  # (first: deopt.py alone would meet the package's import cycle)
from tinyvm.jit.native import selfinline  # noqa: E402
from tinyvm.jit.native.deopt import CONST, WORD, ExitState, read_records  # noqa: E402

BOARD = """
class Board {
  var free: [bool] = []
  var marks: [int] = []

  fn free_at(r: int, c: int) -> bool {
    return self.free[r] and self.free[c + r]
  }

  fn mark(r: int, c: int, v: bool) {
    self.free[r] = v
    self.free[c + r] = v
    self.marks[r] += 1
  }

  fn run(last: int) -> int {
    var hits = 0
    for r in 0..last {
      if self.free_at(r, 1) {
        self.mark(r, 1, false)
        hits += 1
        self.mark(r, 1, true)
      }
    }
    return hits + self.marks[0]
  }

  fn main(size: int, last: int, start: int) -> int {
    self.free = [true] * size
    self.marks = [start] * size
    return self.run(last)
  }
}
let b = Board()
"""


def _function(text: str, name: str) -> str:
    m = re.search(rf"^define [^\n]*@{name}\(.*?^}}$", text, re.MULTILINE | re.DOTALL)
    assert m, (name, text)
    return m.group(0)


def _board(monkeypatch: pytest.MonkeyPatch) -> tuple[object, dict[str, str]]:
    preps, _ = prepared(BOARD + "print(b.main(10, 8, 0))\n", monkeypatch)
    prep = next(p for p in preps if [c.name for c in p.group][:1] == ["Board.main"])
    return prep, {c.name: f"f{k}" for k, c in enumerate(prep.group)}


def test_the_leaf_calls_are_gone_from_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    # run calls free_at once and mark twice a pass, all on its exact self
    # (main's native call checked it): three bodies inlined, no call left
    # but for none; free_at and mark stay in the module only as functions
    # nothing calls.
    prep, names = _board(monkeypatch)
    run = next(t for t in prep.typed if t.code.name == "Board.run")
    assert len(run.inline_sites) == 3
    assert {c.attrs[0] for c in run.inline_sites.values()} == {"free_at", "mark"}
    text = _function(prep.text, names["Board.run"])
    for leaf in ("Board.free_at", "Board.mark"):
        if leaf in names:
            assert not re.search(rf"call [^\n]*@{names[leaf]}\(", text), leaf
    # The fields' reads: the inlined bodies share them where nothing on the
    # way may change the field (fields.py `earlier`): `free` is read once by
    # free_at's body and the first mark's reuses it, against five reads
    # (two, then two and one in each mark's) when each body read its own.
    main = next(t for t in prep.typed if t.code.name == "Board.run")
    reads = [i for b in main.fn.blocks for i in b.instrs if i.op == "get_field"]
    assert {i.attrs[0] for i in reads} == {"free", "marks"}


def test_three_tiers_agree() -> None:
    got = agree(BOARD + "print(b.main(10, 8, 0))\nprint(b.main(10, 9, 5))\nprint(b.main(12, 3, -4))\n", "Board.main")
    assert got[1] == "10\n16\n1\n", got  # (hits, plus marks[0]: start + 2)


@pytest.mark.parametrize(
    "call, error",
    [
        ("b.main(10, 10, 0)", "IndexError"),  # (free_at's second read: free[10])
        ("b.main(10, 8, 9223372036854775807)", "OverflowError"),  # (mark's marks[r] += 1)
    ],
)
def test_an_error_inside_an_inlined_body_has_both_frames(call: str, error: str) -> None:
    # Native code leaves inside the inlined body: the interpreter resumes in
    # the leaf's frame, run's waiting for it, and raises there; the trace
    # (stderr, compared whole) names the leaf, run, main and the module.
    got = agree(BOARD + f"print(b.main(10, 8, 0))\nprint({call})\n", "Board.main")
    assert got[0] != 0 and error in got[2], got
    leaf = "free_at" if error == "IndexError" else "mark"
    assert re.search(rf"at Board\.{leaf} .*\n  at Board\.run .*\n  at Board\.main ", got[2]), got[2]


RECURSE = """class R {
  var n: int = 0
  fn bump(k: int) { self.n += k }
  fn rec(d: int) -> int {
    self.bump(d)
    if d == 0 { return self.n }
    return self.rec(d - 1)
  }
  fn main(d: int) -> int { return self.rec(d) }
}
"""


@pytest.mark.parametrize("d, line", [(56, None), (57, 5), (58, 7)])
def test_the_depth_limit_holds_at_an_inlined_call(d: int, line: int | None) -> None:
    # rec calls bump (inlined: rec's self is exact through main's call) and
    # itself. With max_depth 60, rec(56) fits, rec(57)'s deepest frame
    # fails at bump's call (line 5: its frame would be the one past the
    # limit) and rec(58)'s at the recursive call (line 7): the trace
    # (stderr, compared whole) is the interpreter's.
    src = RECURSE + f"print(R().main(10))\nprint(R().main({d}))\n"
    got = agree(src, "R.main", extra=("--max-depth", "60"))
    if line is None:
        assert got[0] == 0, got
    else:
        assert "StackOverflowError" in got[2] and re.search(rf"^  at R\.rec \([^)]*:{line}:", got[2], re.MULTILINE), got


OVERRIDE = """
class A {
  var n: int = 0
  fn step(k: int) { self.n += k }
  fn run(m: int) -> int {
    for i in 0..m { self.step(i) }
    return self.n
  }
  fn main(m: int) -> int { return self.run(m) }
}
class B extends A {
  fn step(k: int) { self.n += 2 * k }
}
print(A().main(10), B().main(10), A().main(5), B().main(5))
"""


def test_a_subclass_overriding_the_leaf_runs_its_own() -> None:
    # run's self is exact only where main's native call checked it to be
    # an A; a B's main leaves at that call, and B's step runs.
    got = agree(OVERRIDE, "A.main")
    assert got[1] == "45 90 10 20\n", got


def test_no_inlining_on_a_vm_that_counts_fuel(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fuel ops count each code's own blocks: the same fuel used as the
    # interpreter's, and nothing inlined.
    src = BOARD + "print(b.main(10, 8, 0))\nprint(b.main(10, 9, 5))\n"
    assert used(src, "native-eager")[:2] == used(src, "off")[:2]
    preps, _ = prepared(src, monkeypatch, meter_fuel=True)
    assert preps and all(not t.inline_sites for p in preps for t in p.typed)


LEAVES = """
class P { var x: int = 0 }
class T {
  var a: [int] = [1]
  fn ok(i: int) -> int { return self.a[i] + 1 }
  fn loops(n: int) -> int {
    var s = 0
    for i in 0..n { s += i }
    return s
  }
  fn calls(i: int) -> int { return self.ok(i) }
  fn obj(p: P) -> int { return p.x + 2 }
  fn unchecked(p: P) -> int { return p.x + 3 }
  fn go(p: P, u) -> int { return self.ok(0) + self.loops(3) + self.calls(0) + self.obj(p) + self.unchecked(u) }
}
print(T().go(P(), P()))
"""


def test_what_is_a_leaf() -> None:
    # Of go's calls on self, ok's and obj's methods are leaves (obj's
    # argument has the parameter's static type: proven); a loop or a call
    # keeps the others out, and a call passing an `any` (`u`) is no
    # candidate at all.
    vm = VM(stdout=io.StringIO())
    vm.run_source(LEAVES, "t.tl")
    T = vm.globals._ns.get("T")
    go = build(T.methods["go"].code)
    calls = {c.attrs[0]: c for c in selfinline.candidates(go, T.methods["go"].code)}
    assert set(calls) == {"ok", "loops", "calls", "obj"}  # (unchecked(u): a call_method, whose argument the VM checks)
    passes = jit_pipeline_plain()
    for name in ("ok", "obj"):
        meth, body = selfinline.leaf(T, calls[name], passes)
        assert meth is T.methods[name] and body.name == f"T.{name}"
    for name in ("loops", "calls"):
        assert selfinline.leaf(T, calls[name], passes) is None, name
    assert agree(LEAVES)[1] == "12\n"


def test_an_inlined_exit_record_reads_as_two_frames() -> None:
    # One record, one id: the callee's words, then its caller's, read back
    # innermost first; the caller's frame waits for the method.
    callee_fn = object()
    inner = ExitState("callee-code", 4, [(WORD, "i"), (CONST, 7)])
    outer = ExitState("caller-code", 10, [(WORD, "i"), (WORD, "b")], callee=callee_fn, ret_pc=13)
    inner.outer = outer
    plain = ExitState("other", 2, [(WORD, "f")])
    recs = read_records([0, 41, -3, 1, 1, 4607182418800017408], [inner, plain], {})
    assert [(es.code, vals) for es, vals in recs] == [("callee-code", [41, 7]), ("caller-code", [-3, True]), ("other", [1.0])]
    assert recs[1][0].callee is callee_fn


TWICE = """
class S {
  var n: int = 0
  fn add(k: int) { self.n += k }
  fn run(k: int) -> int {
    self.add(k)
    self.add(k)
    return self.n
  }
  fn main(k: int) -> int { return self.run(k) }
}
let s = S()
print(s.main(1))
s.n = 9223372036854775797
print(s.main(6))
"""


def test_two_inlined_calls_alike_leave_each_at_its_own_call() -> None:
    # The two calls' inlined exits have equal states but for the caller's
    # pc: the second overflows, and the trace names its line (7), not the
    # first call's.
    got = agree(TWICE, "S.main")
    assert "OverflowError" in got[2] and re.search(r"at S\.run \(t?[^)]*:7:", got[2]), got


BRANCHES = """
class D {
  fn inv(k: int) -> int { return 100 / k }
  fn run(k: int, left: bool) -> int {
    if left {
      return self.inv(k)
    }
    return self.inv(k)
  }
  fn main(k: int, left: bool) -> int { return self.run(k, left) }
}
let d = D()
print(d.main(5, true), d.main(4, false))
print(d.main(0, LEFT))
"""


@pytest.mark.parametrize("left, line", [("true", 6), ("false", 8)])
def test_inlined_exits_alike_but_for_the_call_leave_at_their_own(left: str, line: int) -> None:
    # The two calls' frames are alike (the same locals, nothing below the
    # operands) but for the caller's pc; the exit inside each inlined body
    # resumes at its own call: the division by zero's trace names its line.
    got = agree(BRANCHES.replace("LEFT", left), "D.main")
    assert "ZeroDivisionError" in got[2] and re.search(rf"at D\.run \([^)]*:{line}:", got[2]), got



def test_leaves_taking_objects_and_throwing() -> None:
    # push takes a Disk (the argument's static type: no check to skip),
    # pop throws on an empty pile: both are inlined into move.
    assert agree(PILES.replace("N", "10"), "Piles.main") == (0, "6\n16\n", "")


EMPTY = PILES.replace("p.push(Disk(3), 0)\n", "")


def test_a_throw_inside_an_inlined_leaf_has_both_frames() -> None:
    # The throw's block leaves native code in pop's frame, move's waiting
    # for it, and the interpreter throws the error there.
    got = agree(EMPTY.replace("print(p.main(N))\n", ""), "Piles.main")
    assert got[0] != 0 and "Attempting to remove a disk from an empty pile" in got[2], got
    assert re.search(r"at Piles\.pop .*\n  at Piles\.move .*\n  at Piles\.run ", got[2]), got[2]
