"""The text form: printing and parsing round-trip exactly, on every program we
have and on generated ones; malformed text is a clean IRSyntaxError."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from helpers import ROOT, codes_of, compile_path, cond, expr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyvm.ir.build import Unsupported, build
from tinyvm.ir.text import IRSyntaxError, _Line, format_attr, format_function, parse_function
from tinyvm.ir.verify import verify
from tinyvm.lang.driver import compile_program

PROGRAMS = sorted(
    [*ROOT.glob("benchmarks/awfy/*.tl"), *ROOT.glob("benchmarks/programs/*.tl"), *ROOT.glob("examples/*.tl"), *ROOT.glob("examples/*.lox")]
)


def check_all(codes) -> tuple[int, int]:
    """Build, verify, print, parse, print each code object: (built, refused)."""
    built = refused = 0
    for code in codes:
        try:
            fn = build(code)
        except Unsupported:
            refused += 1
            continue
        built += 1
        assert verify(fn) == [], (code.name, verify(fn)[:3])
        text = format_function(fn)
        assert format_function(parse_function(text)) == text, code.name
    return built, refused


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_programs_build_verify_and_round_trip(path: Path) -> None:
    built, _ = check_all(codes_of(compile_path(path)))
    assert built


def test_every_awfy_and_benchmark_program_function_builds() -> None:
    paths = [p for p in PROGRAMS if "benchmarks" in p.parts]
    assert paths
    for p in paths:
        assert check_all(codes_of(compile_path(p)))[1] == 0, p


# -- generated programs ---------------------------------------------------------

NAMES = ["a", "b", "c"]


@st.composite
def block(draw, depth: int = 0) -> list[str]:
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["assign", "assign", "if", "while", "for", "return"] if depth < 3 else ["assign", "return"]))
        if kind == "assign":
            lines.append(f"{draw(st.sampled_from(NAMES))} = {draw(expr())}")
        elif kind == "return":
            lines.append(f"if {draw(cond())} {{ return {draw(expr())} }}")
        elif kind == "if":
            lines += [f"if {draw(cond())} {{", *draw(block(depth + 1)), "} else {", *draw(block(depth + 1)), "}"]
        elif kind == "while":
            lines += [f"while {draw(cond())} {{", *draw(block(depth + 1)), "}"]
        else:
            lines += [f"for i{depth} in {draw(expr())}..{draw(expr())} {{", f"a = a + i{depth}", *draw(block(depth + 1)), "}"]
    return lines


@st.composite
def program(draw) -> str:
    body = draw(block())
    return "fn f(a: int, b: int) -> int {\nvar c = a\n" + "\n".join(body) + "\nreturn a + b + c\n}\nprint(f(1, 2))\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program())
def test_generated_programs_build_verify_and_round_trip(source: str) -> None:
    bundle = compile_program("gen.tl", source=source)
    built, refused = check_all(codes_of(bundle))
    assert (built, refused) == (2, 0)


# -- the text form itself ---------------------------------------------------------


@pytest.mark.parametrize("value", [0, -5, 2**63 - 1, 1.5, -0.0, 1e300, math.inf, -math.inf, "a : b", 'q"\\n', "", None, True, False, ("x", (1, 2.0)), ()])
def test_attrs_round_trip(value: object) -> None:
    text = format_attr(value)
    back = _Line(text, 1).attr()
    assert format_attr(back) == text and type(back) is type(value)


def test_nan_round_trips() -> None:
    assert math.isnan(_Line("nan", 1).attr())


def test_names_and_types_that_need_quoting_round_trip() -> None:
    text = 'fn "odd (name)"(v0: any, v1: fn(int, [string: float]) -> {x: int, y: Task<int>}) -> [int]\nb0:\n  return v1\n'
    assert format_function(parse_function(text)) == text


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "line 1: expected 'fn'"),
        ("fn f( -> int\n", "unclosed parameter list"),
        ("fn f(x: int) -> int\n", "bad parameter 'x: int'"),
        ("fn f() -> int\n  return v0\n", "line 2: an instruction outside a block"),
        ("fn f() -> int\nb0:\n  return v3\n", "line 3: undefined value v3"),
        ("fn f() -> int\nb0:\n  jump b9\n", "line 3: undefined block b9"),
        ("fn f() -> int\nb0:\n  v1 = const[1]\n  return v1\n", "line 3: a value needs a type"),
        ("fn f() -> int\nb0:\n  v1 = const[1] : in(t\n", "bad type"),
        ("fn f() -> int\nb0:\n  v1 = const[1 : int\n", "line 3: expected ']'"),
        ("fn f() -> int\nb0:\nb0:\n", "block b0 defined twice"),
        ("fn f() -> int\nb0 preds\n", "expected ':'"),
        ("fn f() -> int\nb0:\n  v1 = const[1] : int  @pc x\n", "bad frame state"),
        ("fn f() -> int\nb0:\n  v1 = const[\"x] : int\n", "bad string"),
        ("fn f(v0: int) -> int\nb0:\n  return v0, b0\n", "return takes no block"),
    ],
)
def test_malformed_text_is_a_syntax_error(text: str, message: str) -> None:
    with pytest.raises(IRSyntaxError, match=None) as info:
        parse_function(text)
    assert message in str(info.value)
