"""Object arguments of a construction whose class native code does not know (construct.py).

An element of an `[any]` array passed to `C(e)`: the class init declares
for that parameter is the one guarded at run time (exactly it, else the
VM constructs: a subclass, an int, nil), so the construction is native
rather than a call out. Checked against the interpreter and the Python
JIT: output, the interpreter's TypeError and trace, fuel.
"""

from __future__ import annotations

import pytest

pytest.importorskip("llvmlite")

from native_helpers import agree, agree_log, used

SRC = """
class Box {
  var v: int = 0
  fn init(v: int) { self.v = v }
}
class Big extends Box {
  fn init(v: int) { self.v = v * 100 }
}
class Wrap {
  var b: Box? = nil
  var k: int = 0
  fn init(b: Box, k: int) { self.b = b; self.k = k + b.v }
}
fn wrapall(xs: [any], n: int) -> int {
  var c = 0
  for i in 0..n { let w = Wrap(xs[i % len(xs)], i); c += w.k }
  return c
}
"""


def test_an_argument_of_no_known_class_is_guarded_natively() -> None:
    src = SRC + "print(wrapall([Box(1), Box(2)], 300))\n"
    (code, out, err), log = agree_log(src, "wrapall")
    assert (code, out, err) == (0, "45300\n", "")
    # (Wrap.init joins wrapall's group: the construction is no call out)
    assert any(
        x.startswith("jit: native wrapall in ") and "(2 functions;" in x for x in log
    ), log
    assert not any("wrapall): a call out" in x for x in log), log
    assert used(src, "native-eager")[:2] == used(src, "off")[:2]


def test_another_class_or_type_is_the_interpreters() -> None:
    src = (
        SRC + "print(wrapall([Box(1), Big(2)], 50))\nprint(wrapall([Box(1), 5], 50))\n"
    )
    code, out, err = agree(src, "wrapall")
    assert code == 1 and out == "6250\n"
    assert (
        "TypeError: argument 'b' of Wrap.init: expected Box, got int" in err
        and "at wrapall (" in err
    )
