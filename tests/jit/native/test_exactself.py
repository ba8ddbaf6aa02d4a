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

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from native_helpers import agree, outcome, prepared

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
    # The analysis itself on the captured group: the root without a receiver
    # has no class; with T as its receiver it has T, as rec and step have.
    preps, _ = prepared(RECURSION, monkeypatch)
    prep = next(p for p in preps if p.group[0].name == "T.run")
    assert prep.receiver is None
    got = exact_selves(prep.typed)
    assert {code.name: cls.name for code, cls in got.items()} == {"T.rec": "T", "T.step": "T"}, got
    t = next(iter(got.values()))  # (T itself)
    assert {code.name for code in exact_selves(prep.typed, t)} == {"T.run", "T.rec", "T.step"}


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


@st.composite
def hierarchy_program(draw) -> str:
    """Three classes in a chain, each overriding a random subset of g, h and
    f (h and f call methods on self; f's loop reads and writes a field of
    self), and a driver calling them on instances of random classes: from
    another class's method whose parameters are declared A, B and C (a
    module where
    an inherited f or h is called natively on two or three classes: x.f,
    y.f and z.f are one method when B and C do not override it), from a
    method of B's, and at the top level (a root compiled for the first
    class met)."""
    classes = ["A", "B", "C"]
    body = {
        "g": lambda k: f"  fn g() -> int {{ return {k} }}",
        "h": lambda k: f"  fn h(x: int) -> int {{\n    self.n += x\n    return self.g() * {k} + x\n  }}",
        "f": lambda k: (f"  fn f(m: int) -> int {{\n    var s = 0\n    for i in 0..m {{\n      s += self.h(i) + self.g() + {k}\n      self.n += 1\n    }}\n    return s + self.n\n  }}"),
    }
    lines = []
    for k, name in enumerate(classes):
        head = f"class {name}" + (f" extends {classes[k - 1]}" if k else "") + " {"
        lines.append(head)
        if k == 0:
            lines.append("  var n: int = 0")
        for meth in ("g", "h", "f"):
            if k == 0 or draw(st.booleans()):
                lines.append(body[meth](draw(st.integers(1, 9))))
        lines.append("}")
    lines += [
        "class D {",
        "  fn run(x: A, y: B, z: C, m: int) -> int {",
        "    var s = 0",
        "    for i in 0..m {",
        "      s += x.f(i % 3) + y.f(i % 4) + z.f(i % 2) + x.h(i) + y.h(i) + z.h(i) + z.g()",
        "    }",
        "    return s",
        "  }",
        "  fn only(b: B, m: int) -> int {",
        "    var s = 0",
        "    for i in 0..m {",
        "      s += b.f(2) + b.h(i)",
        "    }",
        "    return s",
        "  }",
        "}",
        "let d = D()",
    ]
    pick = st.sampled_from(classes)
    for _ in range(draw(st.integers(2, 5))):
        kind = draw(st.sampled_from(["run", "only", "top"]))
        if kind == "run":
            lines.append(f"print(d.run({draw(pick)}(), {draw(st.sampled_from(classes[1:]))}(), C(), {draw(st.integers(1, 30))}))")
        elif kind == "only":
            lines.append(f"print(d.only({draw(st.sampled_from(['B', 'C']))}(), {draw(st.integers(1, 30))}))")
        else:
            lines.append(f"let o{len(lines)} = {draw(pick)}()\nprint(o{len(lines)}.f({draw(st.integers(0, 20))}), o{len(lines)}.n)")
    return "\n".join(lines) + "\n"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hierarchy_program())
def test_hypothesis_class_hierarchies_agree_on_every_tier(src: str) -> None:
    # Whatever overrides the subclasses have and on whichever classes the
    # methods are called, natively or from the interpreter: the interpreter's
    # output on the Python JIT, native-eager and native.
    want = agree(src)
    got, _ = outcome(src, "native")
    assert (0, got[0], got[1]) == (want[0], want[1], ""), (src, got, want)
