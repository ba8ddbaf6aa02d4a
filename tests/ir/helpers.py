"""Shared by the IR tests: compile a program, walk its code objects, generate
TinyLang expressions and conditions (hypothesis)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import strategies as st

from tinyvm.bytecode.code import Bundle, Code
from tinyvm.lang.driver import compile_program

ROOT = Path(__file__).resolve().parents[2]


def compile_path(path: Path) -> Bundle:
    """Compile a file, naming it by its path from the repository's root (so
    that golden output does not depend on where the checkout is)."""
    return compile_program(path.relative_to(ROOT).as_posix(), source=path.read_text(encoding="utf-8"))


def codes_of(bundle: Bundle) -> list[Code]:
    """Every code object of every module of the bundle, depth first."""
    out: list[Code] = []
    stack = [m.init for m in reversed(list(bundle.modules.values()))]
    while stack:
        c = stack.pop()
        out.append(c)
        stack.extend(reversed([k for k in c.consts if isinstance(k, Code)]))
    return out


def built_functions(bundle: Bundle) -> list:
    """The IR of every code object of the bundle that the builder models."""
    from tinyvm.ir.build import Unsupported, build

    out = []
    for code in codes_of(bundle):
        try:
            out.append(build(code))
        except Unsupported:
            continue
    return out


# Generated int expressions over the locals a, b, c: constants at the int64
# edge, operators that overflow or divide by zero.
LEAVES = ("a", "b", "c", "0", "1", "7", "-3", "9223372036854775807")
OPS = ("+", "-", "*", "/", "%", "&", "<<")


@st.composite
def expr(draw, depth: int = 0, leaves: tuple = LEAVES, ops: tuple = OPS) -> str:
    if depth > 2 or draw(st.booleans()):
        return draw(st.sampled_from(leaves))
    op = draw(st.sampled_from(ops))
    return f"({draw(expr(depth + 1, leaves, ops))} {op} {draw(expr(depth + 1, leaves, ops))})"


@st.composite
def cond(draw, leaves: tuple = LEAVES, ops: tuple = OPS) -> str:
    c = f"{draw(expr(0, leaves, ops))} {draw(st.sampled_from(['<', '<=', '==', '!=', '>']))} {draw(expr(0, leaves, ops))}"
    return c if draw(st.booleans()) else f"{c} and not ({draw(expr(0, leaves, ops))} > 0)"
