"""A counted loop's bounds and overflow checks made once at its entry (jit/native/loopguards.py).

What is planned (the Sieve's inner loop; not a loop with a second exit, an
access that may not run on a pass, a call, nor a loop an OSR entry jumps
into); what the emitted code loses (the bounds check of a planned access);
that every failing entry condition deoptimises to the header and the
interpreter raises what the checked loop raises (past the end, below 0, a
negative step, a counter that overflows), on three tiers, and that a loop
that fails nothing never leaves; the module's choice of LLVM's loop
strength reduction.
"""

from __future__ import annotations

import pytest

pytest.importorskip("llvmlite")

from hypothesis import given, settings
from hypothesis import strategies as st
from native_helpers import agree_log, in_one_module, module_texts, prepared, sieve_program, two_fibers

from tinyvm.jit.native import loopguards
from tinyvm.jit.native.emit import back_edge_targets

LEFT = "a loop's entry checks fail"


def _plans(src: str, monkeypatch: pytest.MonkeyPatch, name: str, entered: bool = False) -> list[loopguards.Plan]:
    """loopguards' plans for function `name` of src as native code types it
    (no OSR entry unless `entered`: then each loop header is one)."""
    preps, _ = prepared(src, monkeypatch)
    ty = next(t for p in preps for t in p.typed if t.code.name == name)
    return loopguards.plan(ty.fn, ty.types, back_edge_targets(ty.fn) if entered else set())


def _left(log: list[str]) -> int:
    return sum(LEFT in line for line in log)


@pytest.fixture
def unstressed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The exits counted are those of a VM collecting as usual. Under
    TVM_GC_STRESS every allocation asks for a collection, which native code
    cannot run: the caller's array literal leaves native code at its
    allocation ("array fails"), the interpreter calls the loop's function,
    which is then compiled as a root of its own, and its OSR entry leaves
    again (REFUSALS times) after its call entry did."""
    monkeypatch.delenv("TVM_GC_STRESS", raising=False)


def test_the_sieve_loops_are_planned(monkeypatch: pytest.MonkeyPatch) -> None:
    plans = _plans(sieve_program(100), monkeypatch, "sieve")
    assert len(plans) == 2  # (the outer loop's read, the inner loop's store)
    inner = next(p for p in plans if any(a.op == "set_index" for a in p.accesses))
    assert [a.op for a in inner.accesses] == ["set_index"]
    assert inner.steps_exact and any(x.op == "add" and inner.counter in x.args for x in inner.exact)  # (`k += i`)
    assert inner.off == 0 and inner.lows == {-1}
    outer = next(p for p in plans if p is not inner)
    assert [a.op for a in outer.accesses] == ["get_index"] and not outer.steps_exact  # (its step is in the header: unproved)
    # An OSR entry jumping to a header past its preheader: no plan there.
    assert _plans(sieve_program(100), monkeypatch, "sieve", entered=True) == []


def test_a_planned_access_has_no_bounds_check(monkeypatch: pytest.MonkeyPatch) -> None:
    # The root's outer loop has an OSR entry inside the function (osr.py):
    # its checks are made on that path too. Three places check, and no
    # access compares its index with the size.
    (text,) = module_texts(sieve_program(100), monkeypatch)
    # (two preheaders and one OSR path; the inner loop's stride `i` makes
    # it check again with the counter's last value when the first fail)
    assert len([x for x in text.splitlines() if x.startswith("  %lgf.")]) == 4, text
    assert len([x for x in text.splitlines() if " = srem i64 " in x]) == 1, text
    assert "osrgo" in text, text
    assert [x for x in text.splitlines() if "= icmp uge i64" in x and "%oob." in x] == [], text


NOT_PLANNED = {
    "break": "while k <= n { if a[k] > 5 { break }\n t += a[k]; k += 1 }",
    "return": "while k <= n { if a[k] > 5 { return t }\n t += a[k]; k += 1 }",
    "maybe": "while k <= n { if t > 5 { t += a[k] }\n k += 1 }",
    "call": "while k <= n { t += a[k] + g(k); k += 1 }",
    "varying bound": "while k <= t { t += a[k] - 1; k += 1 }",
}


@pytest.mark.parametrize("body", list(NOT_PLANNED.values()), ids=list(NOT_PLANNED))
def test_loops_that_get_no_plan(body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    src = f"fn g(x: int) -> int {{ return x }}\nfn f(a: [int], n: int) -> int {{\n var k = 0\n var t = 0\n {body}\n return t\n}}\nfn h() -> int {{ return f([1, 2, 3, 4], 3) }}\nprint(h())\n"
    assert [a for p in _plans(src, monkeypatch, "f") for a in p.accesses] == []  # (a plan of the step alone may remain)


@pytest.mark.usefixtures("unstressed")
def test_the_sieve_agrees_and_never_leaves() -> None:
    (code, out, _), log = agree_log(sieve_program(1000), "sieve")
    assert (code, out) == (0, "168\n")
    assert _left(log) == 0, log


def _walk(kind: str, make: str, n: int, start: int, step: int, c: int, op: str = "<=") -> str:
    """f walks k from start by step while `k op n`, reading and writing
    a[k + c] (an array of `kind` made by `make`), called from a function
    so that the loop has a preheader outside every OSR entry."""
    one = {"int": "1", "float": "1.5", "bool": "true"}[kind]
    use = "if a[k + (%d)] { t += 1 }" % c if kind == "bool" else "t += a[k + (%d)]" % c
    t0 = "0.0" if kind == "float" else "0"
    return f"""
fn f(a: [{kind}], n: int, s: int) -> {"float" if kind == "float" else "int"} {{
  var k = {start}
  var t = {t0}
  while k {op} n {{
    {use}
    a[k + ({c})] = {one}
    k += s
  }}
  return t
}}
fn g() -> {"float" if kind == "float" else "int"} {{ return f({make}, {n}, {step}) }}
print(g())
"""


CASES = {
    "fits": ("int", "[0, 1, 2, 3, 4, 5, 6, 7]", 8, 1, 1, -1, "<=", False),
    "pairs": ("int", "[1, 2, 3, 4, 5, 6]", 6, 0, 2, 1, "<", False),
    "strided, short of the bound": ("float", "[0.5] * 7", 8, 0, 3, 0, "<=", False),
    "strided, past the end": ("bool", "[true] * 7", 9, 1, 3, 0, "<", True),
    "fits packed": ("float", "[0.5] * 9", 9, 0, 2, 0, "<", False),
    "never runs": ("int", "[]", -1, 0, 1, 0, "<=", False),
    "past the end": ("bool", "[true] * 5", 6, 0, 1, 0, "<=", True),
    "below 0": ("int", "[1, 2, 3]", 2, 0, 1, -1, "<=", True),
    "negative step": ("int", "[1, 2, 3]", 2, 2, -1, 0, "<=", True),
    "counter overflows": ("int", "[4, 5]", 9223372036854775806, 9223372036854775806, 3, -9223372036854775806, "<=", True),
}


@pytest.mark.usefixtures("unstressed")
@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_failed_entry_checks_leave_and_the_interpreter_raises_the_same(case: tuple) -> None:
    kind, make, n, start, step, c, op, fails = case
    src = _walk(kind, make, n, start, step, c, op)
    (code, out, err), log = agree_log(src, "g")
    assert in_one_module(log, "g", "f"), log
    assert _left(log) == (1 if fails else 0), log
    assert (code != 0) == fails, (code, out, err)


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(["int", "float", "bool"]),
    st.integers(0, 12),
    st.integers(-3, 14),
    st.integers(-2, 4),
    st.sampled_from([1, 2, 3, 7, 4611686018427387904]),
    st.integers(-2, 2),
    st.sampled_from(["<=", "<"]),
    st.booleans(),
)
def test_three_tiers_agree_on_random_walks(kind: str, length: int, n: int, start: int, step: int, c: int, op: str, packed: bool) -> None:
    one = {"int": "1", "float": "1.5", "bool": "true"}[kind]
    make = f"[{one}] * {length}" if packed else "[" + ", ".join([one] * length) + "]"
    agree_log(_walk(kind, make, n, start, step, c, op), "g")


def test_modules_with_array_loops_are_made_without_lsr(monkeypatch: pytest.MonkeyPatch) -> None:
    (text,) = module_texts(sieve_program(50), monkeypatch)
    assert text.startswith(loopguards.NO_LSR)
    floats = "fn m(n: int) -> float {\n var x = 0.0\n for i in 0..n { x = x * 0.5 + 1.0 }\n return x\n}\nprint(m(10))\n"
    assert all(not t.startswith(loopguards.NO_LSR) for t in module_texts(floats, monkeypatch))


def test_the_lsr_choice_changes_the_machine_code(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinyvm.jit.native.codegen import Codegen

    (text,) = module_texts(sieve_program(50), monkeypatch)
    cg = Codegen()
    without, _ = cg.object_code(text, {})
    with_it, _ = cg.object_code(text[len(loopguards.NO_LSR) + 1 :], {})
    again, _ = cg.object_code(text, {})
    assert without != with_it and without == again


WALK = """
fn walk(a: [int], n: int) -> int {
  var t = 0
  var k = 0
  while k < n {
    t += a[k]
    a[k] = t % 7
    k += 1
  }
  return t
}
print(walk([3] * 3000, 3000))
print(walk([1, 2, 3, 4, 5], 6))
"""


@pytest.mark.usefixtures("unstressed")
def test_an_osr_entry_checks_and_stops_entering_when_they_keep_failing() -> None:
    # walk's loop is entered at its header by the interpreter (the OSR
    # entry op) after the second call's entry checks fail: those fail there
    # too, REFUSALS times, then the interpreter runs the loop to its error.
    from tinyvm.jit.native.engine import REFUSALS

    (code, out, err), log = agree_log(WALK, "walk")
    assert (code, out) == (1, "9000\n") and "IndexError: index 5 out of range for length 5" in err
    assert _left(log) == 1 + REFUSALS, log


def test_a_fiber_switch_comes_back_through_the_osr_path_checks() -> None:
    # Another fiber ready makes the poll leave walk's loop; the fiber comes
    # back at the loop header through its OSR entry, whose checks pass.
    want, out, log, vm = two_fibers(WALK.split("print(")[0], "order.push(walk([3] * 40000, 40000))", "order.push(walk([2] * 30000, 29999))")
    assert out == want
    assert any(x.endswith("another fiber is ready") for x in log), log
    assert vm.machine.jit.native.stats["osr_calls"] >= 2 and _left(log) == 0, (vm.machine.jit.native.stats, log)
