"""The class of `self`, known once (jit/native/exactself.py; docs/native.md
"The class of self, known once").

A method call on `self` leaves out its receiver's class check when every
native way into the calling method already proved `self.cls` is the class
whose method it calls: the callee is the one the check would have let
through. Where some way in did not prove it -- a root compiled for its
declaring class and entered with a subclass's instance, a method called
natively on two classes in one module, a construction's `init` -- the check
stays, and an override still runs the subclass's method."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("llvmlite")

from native_helpers import outcome, prepared

from tinyvm.jit.native.exactself import exact_selves

RECURSION = """
class T {
  var n: int = 0
  fn step() { self.n += 1 }
  fn rec(d: int) {
    if d > 0 {
      self.step()
      self.rec(d - 1)
    }
  }
  fn run() -> int {
    self.rec(10)
    return self.n
  }
}
print(T().run())
"""


def _function(text: str, name: str) -> str:
    """The LLVM IR of function `name` (f0, the root, may be folded into
    @entry: entries.py)."""
    m = re.search(rf"^define [^\n]*@{name}\(.*?^}}$", text, re.MULTILINE | re.DOTALL)
    if m is None and name == "f0":
        return _function(text, "entry")
    assert m, (name, text)
    return m.group(0)


def _shape_checks(text: str) -> int:
    """Loads of T's shape word (slots.py `slot_check`) in LLVM IR text."""
    return len(re.findall(r'= load i64, i64\* @"tvm\.sh\.T"', text))


def _checks(text: str) -> int:
    """The method calls' receiver class compares in LLVM IR text (fields.py
    `method_call`'s `%oc.N`)."""
    return len(re.findall(r"^\s*%oc\.\d+ = icmp ne", text, re.MULTILINE))


def test_calls_on_self_leave_out_the_check_where_every_way_in_proved_the_class(monkeypatch: pytest.MonkeyPatch) -> None:
    # run: the root, compiled for T itself (its entry takes any subclass):
    # its call of rec keeps the check. rec: called only by run and by itself,
    # each on a self checked to be exactly T: its calls of step and rec have
    # none, and step has no call at all.
    preps, _ = prepared(RECURSION, monkeypatch)
    prep = next(p for p in preps if [c.name for c in p.group][:1] == ["T.run"])
    names = {c.name: f"f{k}" for k, c in enumerate(prep.group)}
    assert {"T.rec", "T.step"} <= set(names), names
    assert _checks(_function(prep.text, names["T.run"])) == 1
    assert _checks(_function(prep.text, names["T.rec"])) == 0
    # Its field reads: run's self gets the shape check (fields.py slot_check:
    # its type word against T's shape), step's none (an exact T's type is
    # T's shape: every instance of a class takes the one layout decided).
    assert _shape_checks(_function(prep.text, names["T.run"])) == 2  # (and its call's receiver check: Instance or T's shape)
    assert _shape_checks(_function(prep.text, names["T.step"])) == 0
    got, log = outcome(RECURSION, "native-eager")
    assert got == outcome(RECURSION, "off")[0] == ("10\n", ""), got
    assert any(x.startswith("jit: native T.run in ") for x in log), log


def test_exact_selves_of_a_module(monkeypatch: pytest.MonkeyPatch) -> None:
    # The analysis itself on the captured groups: the root without a receiver
    # has no class; with T as its receiver it has T, as rec and step have.
    from tinyvm.jit.native import engine

    groups: list = []
    orig = engine.prepare

    def prepare(group, codegen, phases=None, receiver=None):  # type: ignore[no-untyped-def]
        groups.append((list(group), receiver))
        return orig(group, codegen, phases, receiver)

    monkeypatch.setattr(engine, "prepare", prepare)
    monkeypatch.setenv("TVM_NATIVE_CACHE", "off")
    from tinyvm.api import VM

    VM(jit="native-eager", stdout=__import__("io").StringIO()).run_source(RECURSION, "t.tl")
    group, receiver = next((g, r) for g, r in groups if g[0].code.name == "T.run")
    assert receiver is None
    got = {code.name: cls.name for code, cls in exact_selves(group).items()}
    assert got == {"T.rec": "T", "T.step": "T"}, got
    t = next(cls for code, cls in exact_selves(group).items())
    assert {code.name for code in exact_selves(group, t)} == {"T.run", "T.rec", "T.step"}


TWO_CLASSES = """
class A {
  fn g() -> int { return 1 }
  fn f() -> int { return self.g() * 10 }
}
class B extends A {
  fn g() -> int { return 2 }
}
class C {
  fn run(a: A, b: B, n: int) -> int {
    var s = 0
    for i in 0..n {
      s += a.f() + b.f()
    }
    return s
  }
}
print(C().run(A(), B(), 1000))
"""


def test_a_method_called_on_two_classes_in_one_module_keeps_its_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    # A.f is called natively on an A and on a B (it inherits f): its self is
    # of either class, so its call of g checks the class, and a B's call runs
    # B.g. Taking the first class seen for f's would print 20000.
    preps, _ = prepared(TWO_CLASSES, monkeypatch)
    prep = next(p for p in preps if [c.name for c in p.group][:1] == ["C.run"])
    names = {c.name: f"f{k}" for k, c in enumerate(prep.group)}
    assert "A.f" in names, names
    assert _checks(_function(prep.text, names["A.f"])) == 1
    want = outcome(TWO_CLASSES, "off")[0]
    assert want == ("30000\n", "")
    for jit in ("native-eager", "native"):
        assert outcome(TWO_CLASSES, jit)[0] == want, jit


ROOT_FOR_ITS_OWN_CLASS = """
class A {
  fn g() -> int { return 1 }
  fn f(n: int) -> int {
    var s = 0
    for i in 0..n {
      s += self.g()
    }
    return s
  }
}
class B extends A {
  fn g() -> int { return 2 }
}
print(A().f(100), B().f(100), A().f(10))
"""


def test_a_root_compiled_for_its_own_class_checks_the_subclass_calling_it() -> None:
    # A.f is compiled at its first call, on an A: for its declaring class, so
    # its entry takes a B as well, and its call of g must check the class (a
    # B's runs B.g, through the VM). Taking the root's class for proven would
    # print 100 100 10.
    want = outcome(ROOT_FOR_ITS_OWN_CLASS, "off")[0]
    assert want == ("100 200 10\n", "")
    got, log = outcome(ROOT_FOR_ITS_OWN_CLASS, "native-eager")
    assert got == want, got
    assert any(x.startswith("jit: native A.f in ") and "; self:" not in x for x in log), log
