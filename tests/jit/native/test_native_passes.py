"""The TinyVM passes native code runs (engine.NATIVE_SKIPS, docs/native.md
"Compile time"): LLVM's instcombine and code generator redo sccp, copy-prop,
gvn and licm, so native code's IR skips them; loops with loop-invariant work
still agree with the other tiers, exits and fuel included."""

from __future__ import annotations

import pytest

pytest.importorskip("llvmlite")

from native_helpers import agree, used

from tinyvm.jit.native.engine import NATIVE_SKIPS, jit_pipeline_plain
from tinyvm.jit.tier import jit_pipeline

INVARIANT = """
fn f(a: int, b: int, n: int) -> int {
  var s = 0
  for i in 0..n {
    let k = a * b
    let c = 2.0 * a / n - 1.5
    s = s + k + i
    if c > 100.0 { s = s + 1 }
  }
  return s
}
"""


def test_the_native_pass_list_skips_what_llvm_redoes() -> None:
    passes = jit_pipeline_plain()
    for p in ("sccp", "copy-prop", "gvn", "licm"):
        assert p in NATIVE_SKIPS and p not in passes
    # range removes overflow checks LLVM cannot; the others shape what native code supports
    for p in ("range", "prune-states", "escape", "dce"):
        assert p in passes and p in jit_pipeline()


def test_loop_invariant_work_agrees_without_tinyvm_licm() -> None:
    agree(INVARIANT + "print(f(3, 4, 10))\nprint(f(-7, 9, 1000))\n", "f")


def test_an_overflow_of_invariant_work_leaves_at_its_pc() -> None:
    # a * b overflows at the loop's first iteration: the exit's frame state is
    # the loop body's, whether or not the product was hoisted
    agree(INVARIANT + "print(f(3, 4, 5))\nprint(f(4611686018427387904, 4, 5))\n", "f")


def test_fuel_of_a_loop_with_invariant_work_is_exact() -> None:
    src = INVARIANT + "var t = 0\nfor r in 0..50 { t = t + f(r, 3, 40) }\nprint(t)\n"
    want = used(src, "off")
    got = used(src, "native-eager")
    assert got[:2] == want[:2]
    assert any(line.startswith("jit: native f in ") for line in got[2]), got[2]
