"""Programs of a given shape and size: long flat chains and deep nesting of
every construct, in TinyLang and in Lox (issue 11).

A *chain* is written flat -- `a + b + c`, `a.b().c[0]`, `f()()`, `else if` --
but parses into a tree as deep as the chain is long; every compiler pass must
take chains of any length (10 000 links and more) without recursing per link.
A *nesting* is written nested -- brackets, blocks, functions in functions,
`[[int]]`, `int??` -- and is limited by the parser at a documented depth: past
it, a clear compile error; up to it, every later pass must cope.

`TL_CHAINS[kind](n)` and `LOX_CHAINS[kind](n)` give `(source, stdout)`: a
program with a chain of n links and what it prints. `TL_NESTINGS[kind](d)` and
`LOX_NESTINGS[kind](d)` give `(source, stdout)` for d levels of nesting (the
program is well-formed and prints stdout at any depth the parser accepts).
Used by tests/unit/test_deep_source.py and, as mutation operators, by
tests/fuzz/test_fuzz_source.py.
"""

from __future__ import annotations

from typing import Callable

Shape = Callable[[int], tuple[str, str]]

# --------------------------------------------------------------------------- TinyLang chains


def _tl_elseif(n: int) -> tuple[str, str]:
    links = "".join(f" else if x == {i} {{ print({i}) }}" for i in range(1, n + 1))
    return f"let x = {n}\nif x == 0 {{ print(0) }}{links} else {{ print(-1) }}\n", f"{n}\n"


def _tl_elseif_narrowing(n: int) -> tuple[str, str]:
    # Branches that assign and return: the checker's narrowing and
    # definite-return rules along the whole chain.
    links = "".join(f" else if x == {i} {{\n    y = {i}\n  }}" for i in range(1, n + 1))
    src = (
        "fn f(x: int) -> int {\n"
        "  var y: int? = nil\n"
        f"  if x == 0 {{\n    return 0\n  }}{links} else {{\n    return -1\n  }}\n"
        "  if y == nil {\n    return -2\n  }\n"
        "  return y + 1\n"
        "}\n"
        f"print(f({n}), f(0), f({n + 1}))\n"
    )
    return src, f"{n + 1} 0 -1\n"


def _tl_elseif_returns(n: int) -> tuple[str, str]:
    # Every branch returns, the last `else` too: no "missing return".
    links = "".join(f" else if x == {i} {{\n    return {i}\n  }}" for i in range(1, n + 1))
    src = f"fn f(x: int) -> int {{\n  if x == 0 {{\n    return 0\n  }}{links} else {{\n    return -1\n  }}\n}}\nprint(f({n}))\n"
    return src, f"{n}\n"


_N_CLASS = (
    "class N {\n  var n: any = nil\n  var a: [any] = []\n"
    "  fn init() {\n    self.n = self\n    self.a = [self]\n  }\n"
    "  fn m() -> N {\n    return self\n  }\n}\nlet r = N()\n"
)


def _tl_mixed_postfix(n: int) -> tuple[str, str]:
    links = "".join((".m()", ".n", ".a[0]", ".a[0].m()")[i % 4] for i in range(n))
    return f"{_N_CLASS}print(typeof(r{links}))\n", "N\n"


def _tl_function_chain(n: int) -> tuple[str, str]:
    # Unannotated functions each calling the next: the checker infers a
    # return type on demand, through the whole chain.
    fns = "".join(f"fn f{i}() {{\n  return f{i + 1}()\n}}\n" for i in range(n))
    return f"{fns}fn f{n}() {{\n  return {n}\n}}\nlet x: int = f0()\nprint(x)\n", f"{n}\n"


def _tl_field_default_chain(n: int) -> tuple[str, str]:
    # Unannotated field defaults each reading the next class's: typed on first use.
    classes = "".join(f"class C{i} {{\n  var v = C{i + 1}().v\n}}\n" for i in range(n))
    return f"{classes}class C{n} {{\n  var v = [{n}]\n}}\nprint(C0().v)\n", f"[{n}]\n"


def _tl_inheritance_chain(n: int) -> tuple[str, str]:
    classes = "".join(f"class C{i} extends C{i - 1} {{\n}}\n" for i in range(1, n + 1))
    src = f"class C0 {{\n  var v = 1\n  fn m() -> int {{\n    return self.v\n  }}\n}}\n{classes}let c: C0 = C{n}()\nprint(c.m(), c is C0)\n"
    return src, "1 true\n"


# Chains of declarations (a program of n functions or classes) are tested
# with fewer links: 3 000 such declarations are 6 000 to 9 000 lines.
TL_CHAIN_LINKS = {"function_chain": 3_000, "field_default_chain": 3_000, "inheritance_chain": 3_000}

TL_CHAINS: dict[str, Shape] = {
    "add": lambda n: ("let x = 1\nprint(x" + " + x" * n + ")\n", f"{n + 1}\n"),
    "arith": lambda n: ("let x = 2\nprint(x" + "".join((" + x", " - x", " * 1", " / 1", " % 3")[i % 5] for i in range(n)) + " >= 0)\n", "true\n"),
    "concat": lambda n: ('let s = "ab"\nprint(len(s' + " + s" * n + "))\n", f"{2 * (n + 1)}\n"),
    "and": lambda n: ("let t = 1\nprint(t == 1" + " and t == 1" * n + ")\n", "true\n"),
    "or": lambda n: ("let f = false\nprint(f" + " or f" * n + " or true)\n", "true\n"),
    "narrowing_and": lambda n: ("let x: int? = 3\nprint(x != nil" + " and x > 0" * n + ")\n", "true\n"),
    "elseif": _tl_elseif,
    "elseif_narrowing": _tl_elseif_narrowing,
    "elseif_returns": _tl_elseif_returns,
    "method": lambda n: ('let s = " a "\nprint(s' + ".trim()" * n + ")\n", "a\n"),
    "index": lambda n: ("let a: [any] = [nil]\na[0] = a\nprint(len(a" + "[0]" * n + "))\n", "1\n"),
    "call": lambda n: ("fn f() {\n  return f\n}\nprint(f" + "()" * n + ")\n", "<fn f>\n"),
    "field": lambda n: (f"{_N_CLASS}print(typeof(r" + ".n" * n + "))\n", "N\n"),
    "mixed_postfix": _tl_mixed_postfix,
    "interpolated": lambda n: ('let x = 1\nprint("${x' + " + x" * n + '}!")\n', f"{n + 1}!\n"),
    "in_function": lambda n: ("fn f(x: int) -> int {\n  return x" + " + x" * n + "\n}\nprint(f(1))\n", f"{n + 1}\n"),
    "condition": lambda n: ("var i = 0\nwhile i < 1" + " and i < 2" * n + " {\n  i += 1\n}\nprint(i)\n", "1\n"),
    "function_chain": _tl_function_chain,
    "field_default_chain": _tl_field_default_chain,
    "inheritance_chain": _tl_inheritance_chain,
}

# --------------------------------------------------------------------------- TinyLang nesting


def _tl_named_fns(d: int) -> tuple[str, str]:
    body = "return 1"
    for i in reversed(range(1, d)):
        body = f"fn f{i}() {{\n{body}\n}}\nreturn f{i}()"
    return f"fn f0() {{\n{body}\n}}\nprint(f0())\n", "1\n"


def _tl_methods(d: int) -> tuple[str, str]:
    body = "return 1"
    for i in reversed(range(1, d)):
        body = f"class C{i} {{\nfn m() -> int {{\n{body}\n}}\n}}\nreturn C{i}().m()"
    return f"class C0 {{\nfn m() -> int {{\n{body}\n}}\n}}\nprint(C0().m())\n", "1\n"


def _tl_interpolation(d: int) -> tuple[str, str]:
    s = "1"
    for _ in range(d):
        s = '"${' + s + '}"'
    return f"print({s})\n", "1\n"


def _tl_fn_type(d: int) -> tuple[str, str]:
    t = "int"
    for _ in range(d):
        t = f"fn({t})"
    return f"var v: {t}? = nil\nprint(v)\n", "nil\n"


TL_NESTINGS: dict[str, Shape] = {
    "parens": lambda d: ("print(" + "(" * d + "1" + ")" * d + ")\n", "1\n"),
    "negation": lambda d: ("print(" + "-" * d + "1)\n", f"{'-' if d % 2 else ''}1\n"),
    "not": lambda d: ("print(" + "not " * d + "true)\n", f"{str(d % 2 == 0).lower()}\n"),
    "arrays": lambda d: ("print(len(" + "[" * d + "]" * d + "))\n", f"{1 if d > 1 else 0}\n"),
    "records": lambda d: ("let r = " + "{a: " * d + "1" + "}" * d + "\nprint(typeof(r))\n", "record\n"),
    "maps": lambda d: ("let m = " + '["k": ' * d + "1" + "]" * d + "\nprint(len(m))\n", "1\n"),
    "arguments": lambda d: ("fn id(x) {\n  return x\n}\nprint(" + "id(" * d + "1" + ")" * d + ")\n", "1\n"),
    "indexes": lambda d: ("let a = [0]\nprint(" + "a[" * d + "0" + "]" * d + ")\n", "0\n"),
    "interpolation": _tl_interpolation,
    "blocks": lambda d: ("{" * d + "print(1)" + "}" * d + "\n", "1\n"),
    "ifs": lambda d: ("if true {\n" * d + "print(1)\n" + "}\n" * d, "1\n"),
    "loops": lambda d: ("".join(f"for i{k} in 0..1 {{\n" for k in range(d)) + "print(1)\n" + "}\n" * d, "1\n"),
    "tries": lambda d: ("try {\n" * d + "print(1)\n" + "} catch e {\n}\n" * d, "1\n"),
    "lambdas": lambda d: ("let f = " + "fn() => " * d + "1\nprint(f" + "()" * d + ")\n", "1\n"),
    "lambda_blocks": lambda d: ("let f = " + "fn() {\nreturn " * d + "1" + "\n}" * d + "\nprint(f" + "()" * d + ")\n", "1\n"),
    "named_fns": _tl_named_fns,
    "classes_in_methods": _tl_methods,
    "array_types": lambda d: ("let v: " + "[" * d + "int" + "]" * d + " = []\nprint(len(v))\n", "0\n"),
    "optional_types": lambda d: ("let v: int" + "?" * d + " = 1\nprint(v)\n", "1\n"),
    "map_types": lambda d: ("let v: " + "[int: " * d + "int" + "]" * d + " = [:]\nprint(len(v))\n", "0\n"),
    "record_types": lambda d: ("var v: " + "{a: " * d + "int" + "}" * d + "? = nil\nprint(v)\n", "nil\n"),
    "fn_types": _tl_fn_type,
    "generic_types": lambda d: ("var v: " + "Chan<" * d + "int" + ">" * d + "? = nil\nprint(v)\n", "nil\n"),
}

# The kinds whose depth is the function nesting limit (64), not the parser's.
TL_FUNCTION_NESTINGS = frozenset({"lambdas", "lambda_blocks", "named_fns", "classes_in_methods"})

# --------------------------------------------------------------------------- Lox


def _lox_elseif(n: int) -> tuple[str, str]:
    # Locals only: clox adds a constant for every number and global name (256
    # per function).
    links = " else if (a) print a;" * n
    return "{\n  var a = false;\n  var b = true;\n  if (a) print a;" + links + " else print b;\n}\n", "true\n"


def _lox_funs(d: int) -> tuple[str, str]:
    return "".join(f"fun f{i}() {{\n" for i in range(d)) + "return 1;\n" + "}\n" * d + "print f0();\n", "nil\n"


def _lox_classes(d: int) -> tuple[str, str]:
    # (Declared, not all called: clox allows 64 frames.)
    body = "return 1;"
    for i in reversed(range(1, d)):
        body = f"class C{i} {{ m() {{\n{body}\n}} }}\nreturn 1;"
    return f"class C0 {{ m() {{\n{body}\n}} }}\nprint C0().m();\n", "1\n"


# clox's 16-bit jumps bound the chains that jump past the rest of the chain:
# an `and` link is 6 bytes of its code, `or` 9, `else if` 13.
LOX_CHAIN_LINKS = {"or": 6_000, "or_condition": 6_000, "elseif": 4_000}

LOX_CHAINS: dict[str, Shape] = {
    "add": lambda n: ("{\n  var x = 1;\n  print x" + " + x" * n + ";\n}\n", f"{n + 1}\n"),
    "and": lambda n: ("{\n  var t = true;\n  print t" + " and t" * n + ";\n}\n", "true\n"),
    "or": lambda n: ("{\n  var f = false;\n  print f" + " or f" * n + ";\n}\n", "false\n"),
    "condition": lambda n: ("{\n  var t = true;\n  if (t" + " and t" * n + ") print t;\n}\n", "true\n"),
    "or_condition": lambda n: ("{\n  var f = false;\n  while (f" + " or f" * n + ") print f;\n  if (!(!f" + " and !f" * n + ")) print f; else print !f;\n}\n", "true\n"),
    "call": lambda n: ("fun f() { return f; }\nprint f" + "()" * n + ";\n", "<fn f>\n"),
    "elseif": _lox_elseif,
}

LOX_NESTINGS: dict[str, Shape] = {
    "parens": lambda d: ("print " + "(" * d + "1" + ")" * d + ";\n", "1\n"),
    "negation": lambda d: ("print " + "-" * d + "1;\n", f"{'-' if d % 2 else ''}1\n"),
    "not": lambda d: ("print " + "!" * d + "true;\n", f"{str(d % 2 == 0).lower()}\n"),
    "blocks": lambda d: ("{" * d + "print 1;" + "}" * d + "\n", "1\n"),
    "ifs": lambda d: ("{\n  var t = true;\n" + "if (t) " * d + "print t;\n}\n", "true\n"),
    "funs": _lox_funs,
    "classes_in_methods": _lox_classes,
}

LOX_FUNCTION_NESTINGS = frozenset({"funs", "classes_in_methods"})

# --------------------------------------------------------------------------- mutations
#
# The same shapes grown inside other programs (the fuzzer's structural
# operators): a link of a chain found in the text repeated n times, a piece
# of the text wrapped in d levels of one construct, two programs spliced, and
# bytes that are not UTF-8. Each takes a `random.Random` and returns the new
# text (bytes for break_utf8); the result is usually wrong somewhere, and the
# compiler must say so cleanly.

import random  # noqa: E402
import re  # noqa: E402

_NAME = r"[A-Za-z_]\w*"
_OPERAND = rf"(?:{_NAME}|\d+(?:\.\d+)?|\"[^\"\\\n]*\")"
# A link of a chain, per language: the text that, repeated, makes it longer.
_TL_LINKS = [
    re.compile(rf"\s*(?:==|!=|<=|>=|<<|>>|[-+*/%&|^<>]|\band\b|\bor\b)\s*{_OPERAND}"),  # an operator and its right operand
    re.compile(rf"\.{_NAME}\([^()\n]*\)"),  # a method call
    re.compile(rf"\.{_NAME}\b(?!\s*\()"),  # a field
    re.compile(r"\[[^\[\]\n]*\]"),  # an index
    re.compile(rf"(?<=[\w)\]])\([^()\n]*\)"),  # a call's arguments
]
_LOX_LINKS = [
    re.compile(rf"\s*(?:==|!=|<=|>=|[-+*/<>]|\band\b|\bor\b)\s*{_OPERAND}"),
    re.compile(rf"\.{_NAME}\([^()\n]*\)"),
    re.compile(rf"\.{_NAME}\b(?!\s*\()"),
    re.compile(rf"(?<=[\w)])\([^()\n]*\)"),
]
_TL_ELSE = re.compile(r"\}\s*else\b")
_LOX_ELSE = re.compile(r"\belse\b")


def grow_chain(rng: random.Random, text: str, n: int, lang: str = "tl") -> str:
    """One link of a chain in `text` (an operator and its operand, a method
    call, a field, an index, a call, an `else if`) repeated n more times."""
    patterns = _TL_LINKS if lang == "tl" else _LOX_LINKS
    found = [m for p in patterns for m in p.finditer(text)]
    elses = list((_TL_ELSE if lang == "tl" else _LOX_ELSE).finditer(text))
    if elses and (not found or rng.random() < 0.25):
        m = rng.choice(elses)
        link = " else if false {\n}" if lang == "tl" else " else if (false) nil;"
        head = "}" if lang == "tl" else ""
        return text[: m.start()] + head + link * n + " else" + text[m.end() :]
    if not found:
        return text
    m = rng.choice(found)
    return text[: m.end()] + m.group() * n + text[m.end() :]


# Wrappers: (open, close) around an operand, or around a statement (a line).
_TL_EXPR_WRAPS = [("(", ")"), ("[", "][0]"), ("-", ""), ("not ", ""), ("fn() => ", ""), ("id(", ")"), ("[", "]"), ("{a: ", "}"), ('"${', '}"')]
_TL_STMT_WRAPS = [("{", "}"), ("if true {", "}"), ("while false {", "}"), ("for i in 0..1 {", "}"), ("try {", "} catch e {}"), ("fn f() {", "}"), ("let g = fn() {", "}")]
_LOX_EXPR_WRAPS = [("(", ")"), ("-", ""), ("!", ""), ("id(", ")")]
_LOX_STMT_WRAPS = [("{", "}"), ("if (true) ", ""), ("while (false) ", ""), ("fun f() {", "}"), ("class C { m() {", "} }")]
_TL_TYPE = re.compile(r":\s*(?:int|float|string|bool|any|\[[^\]\n]*\])\??")


def deepen(rng: random.Random, text: str, d: int, lang: str = "tl") -> str:
    """Something in `text` wrapped in d levels of one construct: an operand
    (in brackets, prefix operators, lambdas, calls...), a line (in blocks,
    ifs, loops, functions...) or, in TinyLang, a type annotation."""
    lines = text.split("\n")
    kind = rng.randrange(3) if lang == "tl" else min(rng.randrange(3), 1)  # (Lox: no types; lines 2 in 3)
    if kind == 2:
        types = list(_TL_TYPE.finditer(text))
        if types:
            m = rng.choice(types)
            t = m.group()[1:].strip()
            new = ": " + ("[" * d + t + "]" * d if rng.random() < 0.5 else t + "?" * d)
            return text[: m.start()] + new + text[m.end() :]
        kind = 0
    if kind == 0:
        operands = list(re.finditer(_OPERAND, text))
        if operands:
            m = rng.choice(operands)
            open_, close = rng.choice(_TL_EXPR_WRAPS if lang == "tl" else _LOX_EXPR_WRAPS)
            return text[: m.start()] + open_ * d + m.group() + close * d + text[m.end() :]
    i = rng.randrange(len(lines))
    open_, close = rng.choice(_TL_STMT_WRAPS if lang == "tl" else _LOX_STMT_WRAPS)
    lines[i] = open_ * d + lines[i] + close * d
    return "\n".join(lines)


def splice(rng: random.Random, text: str, other: str) -> str:
    """The start of one program and the end of another, cut at lines or anywhere."""
    if rng.random() < 0.5:
        a, b = text.split("\n"), other.split("\n")
        return "\n".join(a[: rng.randrange(len(a) + 1)] + b[rng.randrange(len(b) + 1) :])
    return text[: rng.randrange(len(text) + 1)] + other[rng.randrange(len(other) + 1) :]


_BAD_UTF8 = [b"\xff", b"\xfe", b"\x80", b"\xbf", b"\xc0\xaf", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xf0\x9f\x98", b"\xf8\x88\x80\x80\x80"]


def break_utf8(rng: random.Random, data: bytes) -> bytes:
    """`data` with a byte sequence that is not UTF-8: a stray or overlong
    byte, a surrogate, a code point past U+10FFFF, or a character cut short."""
    multibyte = [i for i, b in enumerate(data) if b >= 0xC0]
    if multibyte and rng.random() < 0.3:
        i = rng.choice(multibyte)
        return data[: i + 1] + data[i + 2 :]  # a lead byte without all its continuation bytes
    pos = rng.randrange(len(data) + 1)
    return data[:pos] + rng.choice(_BAD_UTF8) + data[pos:]
