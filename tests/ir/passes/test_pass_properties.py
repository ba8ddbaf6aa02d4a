"""Properties of the default pipeline over real and generated code.

Over every function of the benchmarks, the examples and generated programs:
the verifier accepts the IR after every pass (`verify_each`), and the
pipeline reaches a fixed point -- a second run may still merge what the
first one's licm hoisted next to an equal value (gvn runs before licm), so
the check is that a third run changes nothing after the second.

Semantics: generated TinyLang functions (int and float arithmetic that can
overflow and divide by zero, comparisons, loops) are run by the reference
IR interpreter (irinterp.py) before and after the pipeline, on several
arguments; the results must be equal -- and when the function raises, the
error, the pc it raises at and the values its frame state names must be
equal too.
"""

from __future__ import annotations

from pathlib import Path

import irinterp
import pytest
from helpers import ROOT, built_functions, codes_of, compile_path
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tinyvm.ir.build import build
from tinyvm.ir.passes import PassContext, default_pipeline, run_pipeline
from tinyvm.ir.text import format_function, parse_function
from tinyvm.lang.diagnostics import CompileError
from tinyvm.lang.driver import compile_program

PROGRAMS = sorted(
    [*ROOT.glob("benchmarks/awfy/*.tl"), *ROOT.glob("benchmarks/programs/*.tl"), *ROOT.glob("examples/*.tl"), *ROOT.glob("examples/*.lox")]
)


def optimize(fn, lang: str = "tinylang"):
    pipeline = default_pipeline() + ["simplify-cfg"]
    return run_pipeline(fn, pipeline, PassContext(options={"lang": lang}), verify_each=True)


def check_fixed_point(fn, lang: str) -> None:
    optimize(fn, lang)
    optimize(fn, lang)
    second = format_function(fn)
    optimize(fn, lang)
    assert format_function(fn) == second, f"{fn.name}: a third run still changed the IR"


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_pipeline_keeps_every_program_valid_and_settles(path: Path) -> None:
    lang = "lox" if path.suffix == ".lox" else "tinylang"
    fns = built_functions(compile_path(path))
    for fn in fns:
        check_fixed_point(fn, lang)
    assert fns


def test_the_pipeline_shrinks_the_benchmarks() -> None:
    """Not a timing: the optimizer must do *something* on real code."""
    before = after = 0
    for path in PROGRAMS:
        if "benchmarks" not in path.parts:
            continue
        for code in codes_of(compile_path(path)):
            fn = build(code)
            before += sum(len(b.all()) for b in fn.blocks)
            after += sum(len(b.all()) for b in optimize(fn).blocks)
    assert after < before * 0.95, (before, after)


# -- generated programs -------------------------------------------------------------

NAMES = ["a", "b", "c", "x"]
INTS = ["0", "1", "7", "-3", "2", "63", "64"]
BIG = "9223372036854775807"  # (rare: one overflow ends the run early)
FLOATS = ["2.5", "0.0", "-0.0", "1e308"]


@st.composite
def expr(draw, depth: int = 0, ints: bool = False) -> str:
    """Mostly constant leaves, so that folding has work; `ints`: no float
    anywhere (the bit operators take ints only, and the checker knows)."""
    if depth > 2 or draw(st.integers(0, 2)) == 0:
        if draw(st.integers(0, 15)) == 0:
            return BIG
        leaves = INTS + ["a", "b"] if ints else INTS + FLOATS + NAMES
        return draw(st.sampled_from(leaves))
    op = draw(st.sampled_from(["+", "-", "*", "/", "%", "&", "|", "<<", ">>"]))
    bits = ints or op in ("&", "|", "<<", ">>")
    return f"({draw(expr(depth + 1, bits))} {op} {draw(expr(depth + 1, bits))})"


@st.composite
def cond(draw) -> str:
    c = f"{draw(expr())} {draw(st.sampled_from(['<', '<=', '==', '!=', '>', '>=']))} {draw(expr())}"
    return draw(st.sampled_from([c, f"not ({c})", f"{c} and true", f"false or {c}", "true", "false"]))


@st.composite
def block(draw, depth: int = 0) -> list[str]:
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["assign", "assign", "if", "while", "for", "return"] if depth < 3 else ["assign", "return"]))
        if kind == "assign":
            name = draw(st.sampled_from(NAMES))
            lines.append(f"{name} = {draw(expr(ints=name in 'ab'))}")
        elif kind == "return":
            lines.append(f"if {draw(cond())} {{ return {draw(expr())} }}")
        elif kind == "if":
            lines += [f"if {draw(cond())} {{", *draw(block(depth + 1)), "} else {", *draw(block(depth + 1)), "}"]
        elif kind == "while":
            lines += [f"while {draw(cond())} {{", *draw(block(depth + 1)), "}"]
        else:
            lines += [f"for i{depth} in {draw(expr(ints=True))}..{draw(expr(ints=True))} {{", f"c = c + i{depth}", *draw(block(depth + 1)), "}"]
    return lines


@st.composite
def program(draw) -> str:
    body = draw(block())
    return "fn f(a: int, b: int) -> any {\nvar c: any = a\nvar x: any = b\n" + "\n".join(body) + "\nreturn c\n}\nprint(f(1, 2))\n"


ARGS = [(0, 0), (1, 2), (-7, 3), (9223372036854775807, 1), (5, -9223372036854775807 - 1)]


def the_function(source: str):
    try:
        bundle = compile_program("gen.tl", source=source)
    except CompileError:  # (a static type error: `a & 2.5` with a an int)
        assume(False)
    return next(build(c) for c in codes_of(bundle) if c.name == "f")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(program())
def test_generated_functions_mean_the_same_after_the_pipeline(source: str) -> None:
    fn = the_function(source)
    text = format_function(fn)
    optimized = optimize(parse_function(text))
    assert format_function(optimize(parse_function(format_function(optimized)))) == format_function(optimize(optimized))
    for args in ARGS:
        try:
            want = irinterp.run(parse_function(text), [None, *args])
        except irinterp.NotModelled:
            return
        if want == ("fuel",):
            continue
        got = irinterp.run(optimized, [None, *args])
        assert got == want, f"f{args}: {got} != {want}\n{source}\n{format_function(optimized)}"
