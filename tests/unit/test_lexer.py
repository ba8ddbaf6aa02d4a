"""Unit tests for the TinyLang lexer (tinyvm.lang.tinylang.lexer / tokens)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyvm.lang.diagnostics import DiagnosticBag
from tinyvm.lang.tinylang.lexer import tokenize
from tinyvm.lang.tinylang.tokens import KEYWORDS, OPERATORS, TK, Token


def lex(src: str) -> tuple[list[Token], list[tuple[int, int, str]]]:
    bag = DiagnosticBag("t.tl")
    toks = tokenize(src, "t.tl", bag)
    return toks, [(d.line, d.col, d.message) for d in bag.items]


def kinds(src: str) -> list[str]:
    toks, errors = lex(src)
    assert errors == []
    assert toks[-1].kind is TK.EOF
    return [t.kind.name for t in toks[:-1]]


def one(src: str) -> Token:
    toks, errors = lex(src)
    assert errors == [], errors
    real = [t for t in toks if t.kind not in (TK.SEMI, TK.EOF)]
    assert len(real) == 1, real
    return real[0]


# --------------------------------------------------------------------------- basics


def test_empty_source_is_just_eof():
    toks, errors = lex("")
    assert errors == [] and [t.kind for t in toks] == [TK.EOF]
    assert (toks[0].line, toks[0].col) == (1, 1)


def test_every_keyword_is_recognised():
    # the exact list of spec section 1, and section 13's (1.1) new keywords
    assert len(set(KEYWORDS) - {"interface", "implements", "enum", "static"}) == 37
    for word, kind in KEYWORDS.items():
        tok = one(word)
        assert tok.kind is kind and tok.value is None
    assert one("lets").kind is TK.IDENT
    assert one("_x9").value == "_x9"
    assert one("int").kind is TK.IDENT  # type names are plain identifiers


@pytest.mark.parametrize("text", sorted(OPERATORS))
def test_every_operator(text):
    toks, errors = lex(text)
    assert errors == []
    assert toks[0].kind is OPERATORS[text] and toks[0].text == text


def test_maximal_munch():
    assert kinds("a..=b") == ["IDENT", "DOTDOTEQ", "IDENT", "SEMI"]
    assert kinds("0..10") == ["INT", "DOTDOT", "INT", "SEMI"]
    assert kinds("x->y=>z") == ["IDENT", "ARROW", "IDENT", "FAT_ARROW", "IDENT", "SEMI"]
    assert kinds("a<<=b") == ["IDENT", "SHL", "ASSIGN", "IDENT", "SEMI"]
    assert kinds("a/=b") == ["IDENT", "SLASH_EQ", "IDENT", "SEMI"]
    assert kinds("1.x") == ["INT", "DOT", "IDENT", "SEMI"]


def test_positions_are_one_based_code_points():
    toks, _ = lex('let s = "é😀"; x\n  y')
    x = [t for t in toks if t.value == "x"][0]
    y = [t for t in toks if t.value == "y"][0]
    assert (x.line, x.col) == (1, 15)
    assert (y.line, y.col) == (2, 3)


def test_crlf_and_bom():
    toks, errors = lex("\ufeffa\r\nb\r\n")
    assert errors == []
    assert [(t.kind.name, t.line, t.col) for t in toks] == [
        ("IDENT", 1, 1), ("SEMI", 1, 3), ("IDENT", 2, 1), ("SEMI", 2, 3), ("EOF", 3, 1),
    ]  # fmt: skip


def test_unexpected_character_is_reported_and_lexing_continues():
    toks, errors = lex("a @ b # c")
    assert errors == [(1, 3, "unexpected character '@'"), (1, 7, "unexpected character '#'")]
    assert [t.kind.name for t in toks] == ["IDENT", "ERROR", "IDENT", "ERROR", "IDENT", "SEMI", "EOF"]
    _, errors = lex("x = \x00")
    assert errors == [(1, 5, "unexpected character U+0000")]


# --------------------------------------------------------------------------- comments


def test_line_and_nested_block_comments():
    assert kinds("a // b c\nd") == ["IDENT", "SEMI", "IDENT", "SEMI"]
    assert kinds("a /* b /* c */ d */ e") == ["IDENT", "IDENT", "SEMI"]
    toks, _ = lex("/* x\n y */ z")
    assert (toks[0].line, toks[0].col) == (2, 7)


def test_unterminated_block_comment_is_reported_at_its_start():
    _, errors = lex("a\n  /* x /* y */ z")
    assert errors == [(2, 3, "unterminated block comment")]


def test_multiline_block_comment_counts_as_newline():
    toks, _ = lex("a /* x\n */ b")
    assert [(t.kind.name, t.line, t.col) for t in toks[:3]] == [
        ("IDENT", 1, 1), ("SEMI", 1, 3), ("IDENT", 2, 5),
    ]  # fmt: skip
    assert kinds("a /* x */\nb") == ["IDENT", "SEMI", "IDENT", "SEMI"]
    assert kinds("a + /* x\n */ b") == ["IDENT", "PLUS", "IDENT", "SEMI"]


# --------------------------------------------------------------------------- semicolons


@pytest.mark.parametrize(
    "line",
    ["x", "42", "4.5", '"s"', '"a${b}"', "nil", "true", "false", "self", "return",
     "break", "continue", "f()", "a[1]", "{}"],
)  # fmt: skip
def test_semicolon_inserted_after(line):
    toks, errors = lex(line + "\nz")
    assert errors == []
    semis = [t for t in toks if t.kind is TK.SEMI]
    assert semis[0].text == "\n" and semis[0].line == 1 and semis[0].inserted
    assert toks[-2].kind is TK.SEMI and toks[-2].text == ""  # at end of file


@pytest.mark.parametrize("line", ["x +", "x =", "f(", "a,", "{", "x.", "not", "fn f() ->", "super", "x?"])
def test_no_semicolon_after(line):
    toks, _ = lex(line + "\nz")
    assert not any(t.kind is TK.SEMI and t.line == 1 for t in toks)


def test_semicolon_position_explicit_and_blank_lines():
    toks, _ = lex("ab  \n\n\ncd;ef")
    semis = [(t.text, t.line, t.col) for t in toks if t.kind is TK.SEMI]
    assert semis == [("\n", 1, 5), (";", 4, 3), ("", 4, 6)]
    assert not lex("x;")[0][1].inserted


def test_newlines_inside_brackets_still_insert():
    # The lexer is context-free (Go); the parser skips these inside brackets.
    assert kinds("f(a\n)") == ["IDENT", "LPAREN", "IDENT", "SEMI", "RPAREN", "SEMI"]


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    "text,kind,value",
    [("42", TK.INT, 42), ("0", TK.INT, 0), ("007", TK.INT, 7), ("1_000_000", TK.INT, 1000000),
     ("0xff", TK.INT, 255), ("0XFF_FF", TK.INT, 65535), ("0b1010", TK.INT, 10),
     ("0B1_0", TK.INT, 2), ("3.14", TK.FLOAT, 3.14), ("1e-9", TK.FLOAT, 1e-9),
     ("2.5E3", TK.FLOAT, 2500.0), ("1_000.5", TK.FLOAT, 1000.5), ("1e+2", TK.FLOAT, 100.0),
     ("9223372036854775807", TK.INT, 2**63 - 1), ("9223372036854775808", TK.INT, 2**63)],
)  # fmt: skip
def test_number_forms(text, kind, value):
    tok = one(text)
    assert tok.kind is kind and tok.value == value and type(tok.value) is type(value)


@pytest.mark.parametrize(
    "text,message",
    [("0x", "malformed number '0x': missing digits after '0x'"),
     ("0b", "malformed number '0b': missing digits after '0b'"),
     ("0b102", "malformed number '0b102': invalid binary digit"),
     ("0xfg", "malformed number '0xfg': invalid hex digit"),
     ("1e", "malformed number '1e': missing exponent digits"),
     ("1e+", "malformed number '1e+': missing exponent digits"),
     ("1__0", "malformed number '1__0': '_' must be between digits"),
     ("1_", "malformed number '1_': '_' must be between digits"),
     ("0x_1", "malformed number '0x_1': '_' must be between digits"),
     ("1_.5", "malformed number '1_.5': '_' must be between digits"),
     ("12ab", "malformed number '12ab'"),
     ("9223372036854775809", "integer literal too large"),
     ("123456789012345678901234567890", "integer literal too large"),
     ("1" * 5000, "integer literal too large"),
     ("1e999", "float literal out of range")],
)  # fmt: skip
def test_malformed_numbers(text, message):
    toks, errors = lex("x = " + text)
    assert errors == [(1, 5, message)]
    assert toks[2].kind in (TK.INT, TK.FLOAT)  # still a number: no cascade


# --------------------------------------------------------------------------- strings


def test_every_escape():
    assert one(r'"a\n\t\r\\\"\0\$b\u{1F600}\u{41}"').value == 'a\n\t\r\\"\0$b😀A'
    assert one('"cost: $5 $"').value == "cost: $5 $"
    assert one('""').value == ""


@pytest.mark.parametrize(
    "body,col,message",
    [(r"\q", 7, "unknown escape sequence '\\q'"),
     (r"\u{zz}", 7, "invalid unicode escape: expected \\u{1 to 6 hex digits}"),
     (r"\u41", 7, "invalid unicode escape: expected \\u{1 to 6 hex digits}"),
     (r"\u{110000}", 7, "invalid unicode escape: U+110000 is not a valid code point"),
     (r"\u{D800}", 7, "invalid unicode escape: U+D800 is not a valid code point")],
)  # fmt: skip
def test_bad_escapes(body, col, message):
    toks, errors = lex(f'x = "a{body}b"; y')
    assert errors == [(1, col, message)]
    assert toks[2].kind is TK.STRING and toks[2].value.endswith("b")
    assert toks[-3].value == "y"  # lexing resumed after the string


@pytest.mark.parametrize("src", ['x = "abc\ny', 'x = "abc', 'x = "abc\\', 'x = "a${b\nc', 'x = "${"q\n'])
def test_unterminated_string(src):
    toks, errors = lex(src)
    assert errors[0] == (1, 5, "unterminated string") or errors[-1] == (1, 5, "unterminated string")
    assert toks[-1].kind is TK.EOF


def test_interpolation_parts_and_positions():
    tok = one('"x = ${x + 1}!"')
    assert tok.kind is TK.INTERP
    head, expr, tail = tok.value
    assert head == "x = " and tail == "!"
    assert [(t.kind.name, t.col) for t in expr] == [("IDENT", 8), ("PLUS", 10), ("INT", 12), ("EOF", 13)]


def test_interpolation_with_braces_and_nested_strings():
    tok = one('"${ {x: 1}.x }"')
    assert [t.kind.name for t in tok.value[0]] == [
        "LBRACE", "IDENT", "COLON", "INT", "RBRACE", "DOT", "IDENT", "EOF",
    ]  # fmt: skip
    tok = one('"a ${f("b ${c}")} d"')
    a, call, d = tok.value
    assert (a, d) == ("a ", " d")
    inner = call[2]
    assert inner.kind is TK.INTERP and (inner.line, inner.col) == (1, 8)
    assert inner.value[0] == "b " and inner.value[1][0].value == "c" and inner.value[1][0].col == 13


def test_interpolation_nesting_limit():
    src = "1"
    for _ in range(40):
        src = '"${' + src + '}"'
    toks, errors = lex(src)
    assert len(errors) == 1 and errors[0][2] == "string interpolation nested too deeply"


# --------------------------------------------------------------------------- robustness


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_random_text_never_raises(src):
    toks, _ = lex(src)
    assert toks[-1].kind is TK.EOF
    lines = src.split("\n")
    kinds_with_text = set(OPERATORS.values()) - {TK.SEMI} | {TK.IDENT, TK.INT, TK.FLOAT}
    for t in toks:  # tokens are where they say they are
        if t.kind in kinds_with_text:
            bom = 1 if t.line == 1 and src.startswith("\ufeff") else 0
            start = t.col - 1 + bom
            assert lines[t.line - 1][start : start + len(t.text)] == t.text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(['"', "${", "}", "{", "\\", "a", "\n", "/*", "*/", "1", "x", " ", "$"]), max_size=40))
def test_random_string_soup_never_raises(parts):
    toks, _ = lex("".join(parts))
    assert toks[-1].kind is TK.EOF


def test_speed_smoke():
    src = 'fn f(a: int, b) -> int { let s = "v=${a}"; return a * 2 + b // c\n}\n' * 5000
    start = time.perf_counter()
    toks, errors = lex(src)
    assert errors == [] and len(toks) > 100_000
    assert time.perf_counter() - start < 3.0  # ~0.2 s on an idle machine
