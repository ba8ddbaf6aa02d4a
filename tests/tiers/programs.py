"""Hypothesis strategies for whole programs that every execution tier must run alike.

The programs are built to stress what a compiler above the interpreter gets
wrong: int64 arithmetic at its edges (overflow must raise at the same
instruction), division by zero, shifts out of range, loops whose counters a
range analysis reasons about, small callees an inliner takes (with errors
raised inside them, caught in the caller or not at all), closures over loop
variables, instances and records whose fields are read and written, and
try/catch/finally around all of it. Every program terminates by construction:
`while` loops are bounded by a counter of their own, `for` loops by a range
of at most 20, and recursion by an explicit depth argument.

`tl_program()` gives TinyLang source, `lox_program()` Lox source; each prints
as it goes, so a tier that diverges shows where.
"""

from __future__ import annotations

from hypothesis import strategies as st

NAMES = ["a", "b", "c"]
EDGES = ["0", "1", "7", "-3", "9223372036854775807", "(-9223372036854775807 - 1)", "4611686018427387904", "3037000500"]
BINOPS = ["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]

TL_PRELUDE = """\
class Box {
  var v: int = 0
  fn init(v: int) { self.v = v }
  fn get() -> int { return self.v }
  fn bump(d: int) -> int { self.v = self.v + d; return self.v }
}
fn h(x: int) -> int { return x * 3 - 1 }
fn risky(x: int, y: int) -> int {
  if y == 0 { throw ValueError("zero with ${x}") }
  return x / y
}
fn adder(n: int) -> fn(int) -> int { return fn(y: int) -> int => n + y }
fn depth(n: int, acc: int) -> int {
  if n <= 0 { return acc }
  return depth(n - 1, acc + n)
}
"""


@st.composite
def tl_expr(draw, depth: int = 0) -> str:
    if depth > 2 or draw(st.integers(0, 2)) == 0:
        return draw(st.sampled_from([*NAMES, *NAMES, *EDGES]))
    kind = draw(st.sampled_from(["bin", "bin", "bin", "call", "box", "closure", "array", "record", "neg", "depth"]))
    sub = lambda: draw(tl_expr(depth + 1))
    if kind == "bin":
        return f"({sub()} {draw(st.sampled_from(BINOPS))} {sub()})"
    if kind == "call":
        return f"h({sub()})" if draw(st.booleans()) else f"risky({sub()}, {sub()})"
    if kind == "box":
        return f"Box({sub()}).bump({sub()})"
    if kind == "closure":
        return f"adder({sub()})({sub()})"
    if kind == "array":
        return f"[{sub()}, {sub()}, 5][{sub()} % 4]"
    if kind == "record":
        return f"({{x: {sub()}, y: 2}}).x"  # (parenthesised: `if a < {` opens a block)
    if kind == "neg":
        return f"-{sub()}"
    return f"depth({draw(st.integers(0, 30))}, {sub()})"


@st.composite
def tl_cond(draw) -> str:
    c = f"{draw(tl_expr(1))} {draw(st.sampled_from(['<', '<=', '==', '!=', '>', '>=']))} {draw(tl_expr(1))}"
    return c if draw(st.booleans()) else f"{c} and not ({draw(tl_expr(2))} > 0)"


@st.composite
def tl_block(draw, depth: int = 0) -> list[str]:
    lines: list[str] = []
    kinds = ["assign", "assign", "print", "if", "while", "for", "try", "return", "closures"] if depth < 3 else ["assign", "print", "return"]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(kinds))
        inner = lambda: draw(tl_block(depth + 1))
        if kind == "assign":
            lines.append(f"{draw(st.sampled_from(NAMES))} = {draw(tl_expr())}")
        elif kind == "print":
            lines.append(f'print("p{depth}", {draw(st.sampled_from(NAMES))}, {draw(tl_expr(1))})')
        elif kind == "return":
            lines.append(f"if {draw(tl_cond())} {{ return {draw(tl_expr())} }}")
        elif kind == "if":
            lines += [f"if {draw(tl_cond())} {{", *inner(), "} else {", *inner(), "}"]
        elif kind == "while":
            k = f"k{depth}"
            lines += [f"{k} = 0", f"while {k} < 25 and ({draw(tl_cond())}) {{", f"{k} = {k} + 1", *inner(), "}"]
        elif kind == "for":
            i = f"i{depth}"
            lines += [f"for {i} in 0..({draw(tl_expr(1))} % 20) {{", f"a = a + {i}", *inner(), "}"]
        elif kind == "try":
            fin = ["} finally {", f'print("fin{depth}")'] if draw(st.booleans()) else []
            lines += ["try {", *inner(), "} catch e {", f'print("caught{depth}", typeof(e), e.message)', "c = c + 1", *fin, "}"]
        else:  # closures over a loop variable: each iteration its own binding
            lines += ["if true {", "var fs: [fn() -> int] = []", "for j in 0..3 { fs.push(fn() -> int => j * a) }", "b = b + fs[0]() + fs[2]()", "}"]
    return lines


@st.composite
def tl_program(draw) -> str:
    body = draw(tl_block())
    f = "fn f(a: int, b: int) -> int {\nvar c = a\nvar k0 = 0\nvar k1 = 0\nvar k2 = 0\n" + "\n".join(body) + "\nreturn a + b + c\n}\n"
    calls = [f"({draw(st.sampled_from(EDGES))}, {draw(st.sampled_from(EDGES))})" for _ in range(draw(st.integers(1, 3)))]
    main = "for t in 0..12 {\n  try { print(f(t * 7 - 3, t)) } catch e { print(\"main caught\", typeof(e), e.message) }\n}\n"
    main += "".join(f"try {{ print(f{args}) }} catch e {{ print(\"edge\", typeof(e), e.message) }}\n" for args in calls)
    # The last call is not caught: an uncaught error's trace must be the same too.
    main += f"print(f({draw(st.sampled_from(EDGES))}, {draw(st.sampled_from(EDGES))}))\n"
    return TL_PRELUDE + f + main


# --------------------------------------------------------------------------- Lox

LOX_PRELUDE = """\
class Box {
  init(v) { this.v = v; }
  bump(d) { this.v = this.v + d; return this.v; }
}
fun h(x) { return x * 3 - 1; }
fun adder(n) { fun add(y) { return n + y; } return add; }
fun depth(n, acc) { if (n <= 0) return acc; return depth(n - 1, acc + n); }
"""
LOX_ATOMS = ["a", "b", "c", "0", "1", "2.5", "-3", "100000000000000000000", "0.1"]


@st.composite
def lox_expr(draw, depth: int = 0) -> str:
    if depth > 2 or draw(st.integers(0, 2)) == 0:
        return draw(st.sampled_from(LOX_ATOMS))
    kind = draw(st.sampled_from(["bin", "bin", "call", "box", "closure", "depth", "str"]))
    sub = lambda: draw(lox_expr(depth + 1))
    if kind == "bin":
        return f"({sub()} {draw(st.sampled_from(['+', '-', '*', '/']))} {sub()})"
    if kind == "call":
        return f"h({sub()})"
    if kind == "box":
        return f"Box({sub()}).bump({sub()})"
    if kind == "closure":
        return f"adder({sub()})({sub()})"
    if kind == "depth":
        return f"depth({draw(st.integers(0, 20))}, {sub()})"
    return '("s" + "t")'  # a string where a number is expected: a runtime error when used


@st.composite
def lox_block(draw, depth: int = 0) -> list[str]:
    lines: list[str] = []
    kinds = ["assign", "assign", "print", "if", "while", "for", "return"] if depth < 3 else ["assign", "print"]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(kinds))
        inner = lambda: draw(lox_block(depth + 1))
        cond = f"{draw(lox_expr(1))} {draw(st.sampled_from(['<', '<=', '==', '!=', '>']))} {draw(lox_expr(1))}"
        if kind == "assign":
            lines.append(f"{draw(st.sampled_from(NAMES))} = {draw(lox_expr())};")
        elif kind == "print":
            lines.append(f"print {draw(lox_expr(1))};")
        elif kind == "return":
            lines.append(f"if ({cond}) return {draw(lox_expr())};")
        elif kind == "if":
            lines += [f"if ({cond}) {{", *inner(), "} else {", *inner(), "}"]
        elif kind == "while":
            lines += ["{ var k = 0;", f"while (k < 25 and ({cond})) {{", "k = k + 1;", *inner(), "} }"]
        else:
            lines += [f"for (var i = 0; i < {draw(st.integers(0, 15))}; i = i + 1) {{", "a = a + i;", *inner(), "}"]
    return lines


@st.composite
def lox_program(draw) -> str:
    body = draw(lox_block())
    f = "fun f(a, b) {\nvar c = a;\n" + "\n".join(body) + "\nreturn a + b + c;\n}\n"
    main = "for (var t = 0; t < 8; t = t + 1) { print f(t * 7 - 3, t); }\n"
    return LOX_PRELUDE + f + main
