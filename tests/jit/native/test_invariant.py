"""Field probes made once for loops (jit/native/invariant.py, fields.py).

In a call-free function: a field no instruction may change is read once
for all its reads (NBody's `self.bodies`, at each step of its inner loop);
a receiver defined outside the loop its fields are read in (NBody's
`i_body`) has its type, dict, keys table and entries' keys checked before
the loop, each read in the loop loading only its value; a float field store
after a read of that field tests only the old float's count, its boxing
branch unlikely. The tests check that shape of the IR, and that the three
tiers agree when the assumptions fail: a subclass whose fields sit at other
entries, shared floats (boxing stores), an error inside the loop, a
function with a call in its loop: a call out (native code leaves there),
a native callee storing a field of the same name or resizing a list
(nothing shared across the loop).
"""

from __future__ import annotations

import io
import re

import pytest

pytest.importorskip("llvmlite")

from native_helpers import agree_log, module_texts

from tinyvm.api import VM

# The dict path of native field code (conftest.py `dict_instances`):
# instances of closed classes are laid out in slots otherwise.
pytestmark = pytest.mark.usefixtures("dict_instances")

PAIRS = """
class Body {
  var x: float
  var v: float
  var m: float
  fn init(x: float, v: float, m: float) {
    self.x = x
    self.v = v
    self.m = m
  }
}
class Sys {
  var bodies: [Body]
  fn init(bodies: [Body]) { self.bodies = bodies }
  fn step(dt: float) {
    for i in 0..len(self.bodies) {
      let a = self.bodies[i]
      for j in (i + 1)..len(self.bodies) {
        let b = self.bodies[j]
        let d = a.x - b.x
        let f = dt / (d * d + 0.5) BODY_EXTRA
        a.v = a.v - d * b.m * f
        b.v = b.v + d * a.m * f
      }
    }
    for b in self.bodies {
      b.x = b.x + dt * b.v
    }
  }
}
fn total(s: Sys) -> float {
  var e = 0.0
  for b in s.bodies { e += b.x * 1000.0 + b.v }
  return e
}
"""

MAIN = """
let s = Sys([Body(0.0, 0.1, 1.0), Body(1.0, 0.0, 2.0), Body(3.0, -0.2, 0.5), Body(7.0, 0.0, 3.0)])
for k in 0..200 { s.step(0.01) }
print(total(s))
"""


# `one()` in the inner loop: guest code native code calls out to (a
# function using a map is not native), a native callee, a native callee
# that stores a field named `bodies` (of an object of its own), or one that
# resizes a list.
GUEST_ONE = 'fn one() -> float {\n  let m = ["a": 1.0]\n  return m["a"]\n}\n'
NATIVE_ONE = "fn one() -> float { return 1.0 }\n"
STORING_ONE = "class Holder {\n  var bodies: [Body] = []\n}\nfn one() -> float {\n  let h = Holder()\n  h.bodies = []\n  return 1.0\n}\n"
PUSHING_ONE = "fn one() -> float {\n  var xs: [float] = []\n  xs.push(1.0)\n  return xs[0]\n}\n"


def _with_one(one: str) -> str:
    """PAIRS calling `one()` in its inner loop (one: GUEST_ONE...), and MAIN."""
    return PAIRS.replace("BODY_EXTRA", "* one()") + one + MAIN


def _step_module(texts: list[str]) -> str:
    """The module compiled for Sys.step: the only one reading both `bodies`
    and `m` (Body.init stores m; total reads bodies, x and v)."""
    got = [t for t in texts if '@"tvm.fk.bodies" = global' in t and '@"tvm.fk.m" = global' in t]
    assert len(got) == 1, [t[-300:] for t in texts]
    return got[0]


def _step(monkeypatch: pytest.MonkeyPatch, extra: str = "") -> str:
    return _step_module(module_texts(PAIRS.replace("BODY_EXTRA", extra) + MAIN, monkeypatch))


def _probes(body: str, name: str) -> int:
    """Probes of field `name` in a module: each loads the name's hash for its slow call."""
    return body.count(f'[2 x i64]* @"tvm.fk.{name}", i64 0, i64 1')


def test_a_field_nothing_changes_is_probed_once_in_a_call_free_function(monkeypatch: pytest.MonkeyPatch) -> None:
    # `self.bodies` is read five times (two len, two elements, the for-in).
    # Call-free: the first read before the outer loop is the value of all
    # of them; the outer loop's header has an OSR entry, whose region the
    # function's start is not in, so that entry's path reads it on its own
    # (hoist.py's twin of the read made before the loop) and every read
    # after the header takes the header's phi of the two: 2. A call of
    # guest code in the inner loop is a call out: native code leaves there
    # and comes back at a loop header's OSR entry, so it changes nothing
    # native code goes on reading (effects.leaves): 2. So does a native
    # callee storing no field and resizing no list (effects.py): 2. A
    # native callee storing a field named `bodies` may change this one:
    # nothing is hoisted, and the outer loop's body, the inner loop and the
    # for-in read it again: 4, and the module also holds that callee's
    # store and Holder's `$fields` store of its own `bodies`: 6.
    def probes(one: str) -> int:
        return _probes(_step_module(module_texts(_with_one(one), monkeypatch)), "bodies")

    got = (_probes(_step(monkeypatch), "bodies"), probes(GUEST_ONE), probes(NATIVE_ONE), probes(STORING_ONE))
    assert got == (2, 2, 2, 6)


def test_a_loop_invariant_receivers_reads_load_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    body = _step(monkeypatch)
    # `a` (defined in the outer loop, read in the inner one) is prefetched
    # once; `b` of the inner loop and of the for-in are not.
    assert len(re.findall(r"%pinst\.\d+ = icmp eq", body)) == 1, body.count('\\n')
    # Two reads of `a` (x, m) and one of a.v take `allok` as their first
    # branch: three probes without a key compare.
    assert len(re.findall(r"= or i1 %pa\.\d+, false", body)) == 3, body.count('\\n')


def test_a_float_store_after_its_read_tests_the_count_only(monkeypatch: pytest.MonkeyPatch) -> None:
    body = _step(monkeypatch)
    # a.v, b.v and b.x are stored after a read of the same field: their
    # in-place branch tests `ob_refcnt == 1` only, the new box unlikely.
    # (the count's load, its compare, the inverted branch: no type's load)
    tests = re.findall(r"= icmp eq i64 (%w\.\d+), 1\n  %(\S+)\.n = xor i1 %\2, true\n  br i1 %\2\.n, label %box\.\d+, label %inpl\.\d+, !prof !0", body)
    assert len(tests) == 3, tests


def test_a_call_that_may_resize_a_list_prefetches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # A native callee that pushes (resizes a list) makes the function not
    # quiet: no receiver is prefetched. A call out does not (native code
    # leaves at it): the loop's receiver is prefetched as in a call-free
    # function.
    pushing = _step_module(module_texts(_with_one(PUSHING_ONE), monkeypatch))
    assert "%pinst." not in pushing and "%pa." not in pushing
    called = _step_module(module_texts(_with_one(GUEST_ONE), monkeypatch))
    assert len(re.findall(r"%pinst\.\d+ = icmp eq", called)) == 1


@pytest.mark.parametrize("one", [GUEST_ONE, STORING_ONE, PUSHING_ONE], ids=["call-out", "storing", "pushing"])
def test_the_tiers_agree_with_a_call_in_the_inner_loop(one: str) -> None:
    out, _ = agree_log(_with_one(one), "Sys.step")
    assert out[0] == 0 and out[1].strip(), out


def test_the_tiers_agree_on_the_pairs_loop() -> None:
    out, log = agree_log(PAIRS.replace("BODY_EXTRA", "") + MAIN, "Sys.step")
    assert out[0] == 0 and out[1].strip(), out


def test_a_dict_with_its_entries_elsewhere_takes_the_slow_paths() -> None:
    # One body's dict rebuilt in reverse order from the host: its entries
    # hold other keys than the template's. As `a`, its prefetch's `allok`
    # is false (every read of it the helper's); as `b`, each read's key
    # compare fails. The interpreter and the native tier print the same.
    outs = []
    for jit in ("off", "native-eager"):
        out = io.StringIO()
        vm = VM(jit=jit, stdout=out)
        vm.run_source(PAIRS.replace("BODY_EXTRA", "") + "let bs = [Body(0.0, 0.1, 1.0), Body(1.0, 0.0, 2.0), Body(3.0, -0.2, 0.5)]\nlet s = Sys(bs)\ns.step(0.01)\n", "t.tl")
        inst = vm.get("bs").items[1]
        inst.fields = dict(reversed(list(inst.fields.items())))
        vm.run_source("for k in 0..100 { s.step(0.01) }\nprint(total(s))\n", "u.tl")
        outs.append(out.getvalue())
    assert outs[0] == outs[1] and outs[0].strip(), outs


def test_the_tiers_agree_when_the_floats_are_shared() -> None:
    # Every body's v is the same float object at first (count > 1): the
    # stores box a new float each, then write in place; the count of the
    # shared one ends where the interpreter leaves it.
    src = (
        PAIRS.replace("BODY_EXTRA", "")
        + """
let v0 = 0.25
let bs = [Body(0.0, v0, 1.0), Body(1.0, v0, 2.0), Body(3.0, v0, 0.5)]
let s = Sys(bs)
for k in 0..50 { s.step(0.01) }
print(total(s))
print(v0)
"""
    )
    out, _ = agree_log(src, "Sys.step")
    assert out[0] == 0 and "0.25" in out[1], out


def test_an_error_in_the_loop_leaves_at_its_pc_with_the_interpreters_error() -> None:
    # An int overflow inside the inner loop, after `a`'s prefetch (the
    # fourth pair: i = 1): the exit goes back to the interpreter at that
    # pc, which raises as it does, with its trace.
    src = PAIRS.replace("BODY_EXTRA", "").replace(
        "    for i in 0..len(self.bodies) {", "    var c = 9223372036854775500\n    for i in 0..len(self.bodies) {"
    ).replace("        let d = a.x - b.x", "        c = c + 100\n        let d = a.x - b.x") + MAIN
    out, log = agree_log(src, "Sys.step")
    assert out[0] != 0 and "OverflowError" in out[2] and "Sys.step" in out[2], out
