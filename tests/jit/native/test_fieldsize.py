"""A field probe's table address from the template's index size (fields.py `index_bytes`).

An instance of a TinyLang class has a copy of its class's template as its
dict, whose keys table has the template's index size: the probe compares
the table's `dk_log2_index_bytes` with that constant and computes where
the entries start from it, so the entry's loads wait for the keys pointer
only (AWFY Bounce, docs/native.md "Bounce's field probes"); an int field's
digits are read behind a branch on its type. The tests check
that shape of the IR, and that a dict with a larger index table (grown
from the host) takes the slow path with the interpreter's results.
"""

from __future__ import annotations

import io
import re

import pytest

pytest.importorskip("llvmlite")

from native_helpers import agree, module_texts

from tinyvm.api import VM

# The dict path of native field code (conftest.py `dict_instances`):
# instances of closed classes are laid out in slots otherwise.
pytestmark = pytest.mark.usefixtures("dict_instances")

BALL = """
class Ball {
  var x: int
  var y: int
  var vx: int
  var vy: int
  fn init(x: int, y: int, vx: int, vy: int) {
    self.x = x
    self.y = y
  ; self.vx = vx
  ; self.vy = vy
  }
  fn step() -> bool {
    self.x += self.vx
    self.y += self.vy
    var hit = false
    if self.x > 500 { self.x = 500; self.vx = -abs(self.vx); hit = true }
    if self.x < 0 { self.x = 0; self.vx = abs(self.vx); hit = true }
    if self.y > 500 { self.y = 500; self.vy = -abs(self.vy); hit = true }
    if self.y < 0 { self.y = 0; self.vy = abs(self.vy); hit = true }
    return hit
  }
}
fn run(bs: [Ball], n: int) -> int {
  var hits = 0
  for k in 0..n {
    for b in bs {
      if b.step() { hits += 1 }
    }
  }
  return hits
}
"""

MAIN = """
var bs: [Ball] = []
for i in 0..20 { bs.push(Ball(i * 37 % 500, i * 91 % 500, i * 13 % 41 - 20, i * 7 % 29 - 14)) }
print(run(bs, 300))
print(bs[3].x, bs[3].y, bs[3].vx, bs[3].vy)
"""


def test_a_class_instances_probe_tests_the_index_size_and_adds_a_constant(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [t for t in module_texts(BALL + MAIN, monkeypatch) if "define" in t and '@"tvm.fk.vy" = global' in t]
    assert texts
    body = "\n".join(texts)
    # Four fields: CPython's smallest table, 8 one-byte indices (log2 3),
    # so the entries start at keys + 32 + 8. The byte is compared, and no
    # probe shifts by it.
    assert re.search(r"= icmp eq i8 %\S+, 3\n", body), body[:2000]
    assert re.search(r"= add i64 %\S+, 40\n", body)
    assert "shl i64 1, " not in body


def test_an_int_field_reads_digits_behind_its_own_type_branch(monkeypatch: pytest.MonkeyPatch) -> None:
    # An int field's value is read from the object itself behind a branch
    # on its type (not from a select of the object or `tvm.notint`, which
    # made the digits' loads wait for the type's load).
    body = "\n".join(t for t in module_texts(BALL + MAIN, monkeypatch) if '@"tvm.fk.vy" = global' in t)
    assert re.search(r"br i1 %\S+\.n, label %fslow\.\d+, label %fint\.\d+, !prof !0", body)
    # (small_int's select then compares the int type with itself: LLVM
    # folds it to the object)
    assert re.search(r"= icmp eq i64 (ptrtoint \(i8\* @PyLong_Type to i64\)), \1\n  %int\.\d+ = select", body)


def test_the_tiers_agree_on_the_balls() -> None:
    out = agree(BALL + MAIN, "run")
    assert out[0] == 0 and out[1].count("\n") == 2, out


def test_a_dict_with_a_larger_index_table_takes_the_slow_path() -> None:
    # One ball's dict grown from the host (40 keys added, then deleted):
    # the same fields at the same entries, a table of another index size.
    # Read at the template's offset, its entries would be index bytes; the
    # probe's test sends it to the lookup call, which finds the fields.
    outs = []
    for jit in ("off", "native-eager"):
        out = io.StringIO()
        vm = VM(jit=jit, stdout=out)
        vm.run_source(BALL + MAIN, "t.tl")
        inst = vm.get("bs").items[3]
        d = dict(inst.fields)
        for j in range(40):
            d[f"z{j}"] = 0
        for j in range(40):
            del d[f"z{j}"]
        inst.fields = d
        vm.run_source("print(run(bs, 300))\nprint(bs[3].x, bs[3].y, bs[3].vx, bs[3].vy)\n", "u.tl")
        outs.append(out.getvalue())
    assert outs[0] == outs[1] and outs[0].count("\n") == 4, outs
