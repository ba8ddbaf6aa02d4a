"""A method compiled for the class of its `self` (jit/native/engine.py
`_prepare`, jit/tier.py `_receiver`; docs/native.md "Methods compiled for
the receiver's class").

A method a subclass inherits, whose calls on `self` reach methods the
subclasses override, is compiled for the subclass of the `self` it got hot
with: those calls are native calls of that subclass's methods, whatever the
base class declares they return (a type parameter here, as AWFY's
`Benchmark.inner_benchmark_loop` calls `benchmark() -> R`). Its entries
run it natively only for a `self` of that class; any other receiver runs
on the other tiers, with the same results. The AWFY harness's loop is the
case that made it (docs/native.md has the numbers). Also: every native
entry holds the GIL ("Native code holds the GIL")."""

from __future__ import annotations

import io

import pytest

pytest.importorskip("llvmlite")

from native_helpers import agree, in_one_module

from tinyvm.api import VM

BASE = """
class Shape<R> {
  fn step(i: int) -> R { throw Error("subclass responsibility") }
  fn ok(r: R) -> bool { return true }
  fn run(n: int) -> int {
    var good = 0
    for i in 0..n {
      if self.ok(self.step(i)) { good += 1 }
    }
    return good
  }
}
class Evens extends Shape<int> {
  var seen: int = 0
  fn step(i: int) -> int {
    self.seen += 1
    return i * 2
  }
  fn ok(r: int) -> bool { return r % 4 == 0 }
}
class Odds extends Shape<int> {
  fn step(i: int) -> int { return i * 2 + 1 }
  fn ok(r: int) -> bool { return r % 3 == 0 }
}
"""


def _run(src: str) -> tuple[str, list[str], dict]:
    log: list[str] = []
    out = io.StringIO()
    vm = VM(jit="native-eager", stdout=out, jit_log=log.append)
    vm.run_source(src, "t.tl")
    return out.getvalue(), log, vm.machine.jit.native.stats


def test_the_overrides_are_native_calls_of_the_receivers_class() -> None:
    src = BASE + "let e = Evens()\nprint(e.run(1000), e.seen)\n"
    assert agree(src)[1] == "500 1000\n"
    out, log, stats = _run(src)
    assert out == "500 1000\n"
    line = next(x for x in log if x.startswith("jit: native Shape.run in "))
    assert "; self: Evens; with " in line, line
    assert in_one_module(log, "Shape.run", "Evens.step", "Evens.ok"), log
    assert stats["native_calls"] == 1 and stats["deopts"] == 0  # (one entry: the loop and its 2000 calls native)


def test_another_receiver_runs_on_the_other_tiers_with_the_same_results() -> None:
    # Compiled for Evens (the first receiver); an Odds runs the same method
    # through the entry's class check on the other tiers, then Evens again
    # natively: outputs as the interpreter's, in any order of receivers.
    src = BASE + """
let e = Evens()
let o = Odds()
print(e.run(300), o.run(300), e.run(30), e.seen)
print(o.run(90), e.run(9))
"""
    want = agree(src)[1]
    assert want == "150 100 15 330\n30 5\n"
    out, log, stats = _run(src)
    assert out == want
    assert "; self: Evens; " in next(x for x in log if x.startswith("jit: native Shape.run in "))
    # (the Odds calls never enter: running the Evens code, they would leave
    # at its class guards on self, a deopt per call)
    assert stats["deopts"] == 0


def test_no_specialisation_for_the_declaring_class_itself() -> None:
    # A method called on an instance of the class declaring it compiles as
    # before: self is that class, and the log names no receiver.
    src = """
class Counter {
  var n: int = 0
  fn bump(k: int) -> int {
    for i in 0..k { self.n += 1 }
    return self.n
  }
}
let c = Counter()
print(c.bump(100), c.bump(5))
"""
    out, log, _ = _run(src)
    assert out == "100 105\n"
    line = next(x for x in log if x.startswith("jit: native Counter.bump in "))
    assert "self:" not in line, line


def test_a_method_calling_nothing_on_self_is_compiled_for_every_receiver() -> None:
    # Fields and `self` passed on only: compiled for the declaring class
    # (engine.py `_calls_on_self`), its entry taken by every receiver, not
    # only by the first subclass met.
    src = """
class Base {
  var n: int = 0
  fn grow(k: int) -> int {
    for i in 0..k { self.n += 1 }
    return self.n
  }
}
class A extends Base { }
class B extends Base { var extra: int = 5 }
let a = A()
let b = B()
print(a.grow(100), b.grow(50), a.grow(1), b.grow(2))
"""
    want = agree(src)[1]
    assert want == "100 50 101 52\n"
    out, log, stats = _run(src)
    assert out == want
    line = next(x for x in log if x.startswith("jit: native Base.grow in "))
    assert "self:" not in line, line
    assert stats["native_calls"] == 4  # (an A's calls and a B's: no receiver check)


def test_every_native_entry_holds_the_gil() -> None:
    # Scalar-only code too (engine.py `_PROTO`): released and retaken at
    # each short call, the GIL starved every other thread of the process,
    # the background compiler's included (docs/native.md, "Native code
    # holds the GIL").
    import ctypes

    vm = VM(jit="native-eager", stdout=io.StringIO())
    vm.run_source("fn add(a: int, b: int) -> int { return a + b }\nprint(add(1, 2))\n", "t.tl")
    comps = list(vm.machine.jit.native.compiled.values())
    assert comps and all(c.cfunc._flags_ & ctypes._FUNCFLAG_PYTHONAPI for c in comps)
    assert all(f._flags_ & ctypes._FUNCFLAG_PYTHONAPI for c in comps for f, _ in c.osr.values())
