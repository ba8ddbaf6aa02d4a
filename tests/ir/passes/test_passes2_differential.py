"""Differential tests: generated TinyLang functions, their IR evaluated before
and after inline, range, prune-states and escape (with virtual records), on
inputs at the int64 edges, must give the same result or the same error.

The evaluator (ir_eval.py) computes arithmetic whose overflow check a pass
cleared without the check, wrapping as machine code would: a check cleared
when the operation can overflow shows as a wrong result. The programs mix
loops bounded by `i < n`, constants near 2^62 and 2^63, records whose fields
are read and written, branches, and calls of small functions the inliner
splices in.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ir_eval import Deopt, NotModelled, OutOfFuel, evaluate
from passes2_util import compile_text, function, module_resolver, run

from tinyvm.ir.passes import PassContext
from tinyvm.ir.text import format_function
from tinyvm.runtime.errors import RtError

EDGES = [0, 1, -1, 2, 3, 7, 255, 2**31, -(2**31), 2**62, -(2**62), 2**63 - 1, -(2**63) + 1, -(2**63)]
LITERALS = [0, 1, 2, 3, 10, 255, 2**31, 2**62, 2**63 - 1, -1, -10, -(2**62), -(2**63 - 1)]
VARS = ["x", "y", "a", "b", "i", "r.p"]

HEADER = """fn h(v: int) -> int { return v * 3 + 1 }
fn g(v: int, w: int) -> int {
  if v < w { return w - v }
  return v - w
}
fn n2(s: {p: int, q: int}) -> int { return s.p - s.q }
fn f(a: int, b: int) -> int {
  var x = a
  var y = b
  var i = 0
  let r = {p: a, q: 1}
"""


@st.composite
def expr(draw) -> str:
    v = draw(st.sampled_from(VARS))
    n = draw(st.sampled_from(LITERALS))
    w = draw(st.sampled_from(VARS))
    return draw(st.sampled_from([v, str(n), f"{v} + {w}", f"{v} - {n}", f"{v} * {n}", f"{v} + {n}", f"h({v})", f"g({v}, {w})", f"({v} & {n})", f"-{v}", f"r.q * {v}", "n2(r)"]))


@st.composite
def cond(draw) -> str:
    v = draw(st.sampled_from(VARS))
    w = draw(st.sampled_from(VARS))
    n = draw(st.sampled_from(LITERALS))
    return draw(st.sampled_from([f"{v} < {w}", f"{v} >= {n}", f"{v} == {n}", f"{v} > {w}", f"{v} <= {n}"]))


def stmts(depth: int):
    @st.composite
    def one(draw) -> str:
        kinds = ["assign", "field", "bounded"] + (["if", "while", "count"] if depth else [])
        kind = draw(st.sampled_from(kinds))
        if kind == "bounded":  # arithmetic under a condition: the range pass's refinements at the edges
            v, w = draw(st.sampled_from(["x", "y", "a", "b"])), draw(st.sampled_from(["x", "y", "a", "b"]))
            n, m = draw(st.sampled_from(LITERALS)), draw(st.sampled_from(LITERALS))
            rel = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
            op = draw(st.sampled_from(["+", "-", "*"]))
            inner = draw(st.sampled_from([f"{v} {rel} {n}", f"{v} {rel} {w}"]))
            m2 = draw(st.sampled_from(LITERALS))
            return f"if {inner} {{\n y = {v} {op} {m}\n}} else {{\n x = {draw(st.sampled_from([v, w]))} {op} {m2}\n}}"
        if kind == "assign":
            return f"{draw(st.sampled_from(['x', 'y']))} = {draw(expr())}"
        if kind == "field":
            return f"r.{draw(st.sampled_from(['p', 'q']))} = {draw(expr())}"
        body = "\n".join(draw(st.lists(stmts(depth - 1), min_size=1, max_size=3)))
        if kind == "if":
            other = "\n".join(draw(st.lists(stmts(depth - 1), min_size=0, max_size=2)))
            return f"if {draw(cond())} {{\n{body}\n}} else {{\n{other}\n}}"
        if kind == "count":  # a counter bounded by a parameter, stepped by 1 or more
            step = draw(st.sampled_from(["1", "2", "x & 3"]))
            return f"i = a\nwhile i < b {{\n{body}\ni = i + {step}\nif i > a + 3 {{ i = b }}\n}}"
        n = draw(st.integers(0, 4))
        return f"i = 0\nwhile i < {n} {{\n{body}\ni = i + 1\n}}"

    return one()


@st.composite
def program(draw) -> str:
    body = "\n".join(draw(st.lists(stmts(2), min_size=1, max_size=5)))
    ret = draw(st.sampled_from(["x", "x + y", "r.p + r.q", "y - x", "x * 2"]))
    return HEADER + body + f"\nreturn {ret}\n}}\nprint(f(1, 2))\n"


def outcome(fn, args, resolve):
    try:
        return ("ok", evaluate(fn, list(args), resolve))
    except RtError as e:
        return ("error", e.cls)


@given(program(), st.lists(st.tuples(st.sampled_from(EDGES), st.sampled_from(EDGES)), min_size=3, max_size=3))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_passes_keep_the_behaviour_of_generated_programs(src: str, inputs: list) -> None:
    bundle = compile_text(src)
    resolve = module_resolver(bundle.modules[bundle.main].init)
    before = function(bundle, "f")
    after = function(bundle, "f")
    run(after, "inline,range,prune-states,escape,range", PassContext(resolve=resolve, options={"escape.virtual": True}))
    for args in inputs + [(3, 5)]:
        try:
            want = outcome(before, args, resolve)
        except (NotModelled, OutOfFuel):
            continue
        got = outcome(after, args, resolve)
        assert got == want, f"{args}: {want} became {got}\n{src}\n{format_function(after)}"


def test_the_evaluator_sees_a_wrongly_cleared_check() -> None:
    """The differential test can fail: clearing a check that can overflow
    changes the outcome from OverflowError to a wrapped result."""
    bundle = compile_text(HEADER + "x = x * 2\nreturn x\n}\n")
    resolve = module_resolver(bundle.modules[bundle.main].init)
    fn = function(bundle, "f")
    assert outcome(fn, (2**62, 0), resolve) == ("error", "OverflowError")
    for b in fn.blocks:
        for ins in b.instrs:
            ins.checked = False
    assert outcome(fn, (2**62, 0), resolve) == ("ok", -(2**63))


def test_the_evaluator_follows_inlined_frames_and_handlers() -> None:
    src = "fn half(x: int) -> int { return 100 / x }\nfn f(a: int, b: int) -> int {\n var r = 0\n try { r = half(a) + half(b) } catch e { r = -1 }\n return r\n}\n"
    bundle = compile_text(src)
    resolve = module_resolver(bundle.modules[bundle.main].init)
    plain, inlined = function(bundle, "f"), function(bundle, "f")
    run(inlined, "inline", PassContext(resolve=resolve))
    assert "call_global" not in format_function(inlined)
    for args in [(1, 2), (0, 1), (5, 0)]:
        assert outcome(inlined, args, resolve) == outcome(plain, args, resolve)
    assert outcome(inlined, (0, 1), resolve) == ("ok", -1)


@given(program(), st.lists(st.tuples(st.sampled_from(EDGES), st.sampled_from(EDGES)), min_size=2, max_size=2))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_guards_from_a_real_profile_never_fail_on_the_same_inputs(src: str, inputs: list) -> None:
    """Profile the unoptimised IR on some inputs, specialise with that
    profile: on those inputs no guard deoptimises and the results agree."""
    bundle = compile_text(src)
    resolve = module_resolver(bundle.modules[bundle.main].init)
    before = function(bundle, "f")
    profile: dict = {}
    wants = []
    for args in inputs:
        try:
            wants.append((args, outcome_profiled(before, args, resolve, profile)))
        except (NotModelled, OutOfFuel):
            return
    after = function(bundle, "f")
    run(after, "typespec,range", PassContext(profile=profile, speculate=True))
    guards = [i for b in after.blocks for i in b.instrs if i.op == "guard"]
    profiled = [i for b in before.blocks for i in b.instrs if i.op in ("call_global", "get_field") and i.type.text() == "any" and profile.get(i.pc) == "int"]
    assert len(guards) <= len(profiled) and all(profile[g.args[0].pc] == g.attrs[0] for g in guards)
    used = {id(a) for b in before.blocks for i in b.all() for a in i.args}
    assert not [i for i in profiled if id(i) in used] or guards  # (results nothing uses get none)
    for args, want in wants:
        assert outcome(after, args, resolve) == want  # (a Deopt would raise here)


def outcome_profiled(fn, args, resolve, profile):
    try:
        return ("ok", evaluate(fn, list(args), resolve, profile=profile))
    except RtError as e:
        return ("error", e.cls)


def test_a_wrong_profile_deoptimises() -> None:
    bundle = compile_text(HEADER + "x = h(x)\nreturn x\n}\n")
    resolve = module_resolver(bundle.modules[bundle.main].init)
    fn = function(bundle, "f")
    (call,) = [i for b in fn.blocks for i in b.instrs if i.op == "call_global"]
    run(fn, "typespec", PassContext(profile={call.pc: "string"}, speculate=True))
    with pytest.raises(Deopt):
        evaluate(fn, [1, 2], resolve)
