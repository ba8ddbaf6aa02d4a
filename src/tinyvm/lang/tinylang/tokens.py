"""Token kinds and the `Token` record shared by the TinyLang lexer and parser.

Kinds are an `IntEnum` (not a plain `Enum`) on purpose: the lexer and parser look
kinds up in dicts and sets on every token, and `IntEnum` members hash and compare
at C speed, while plain `Enum.__hash__` is a Python-level call.

Token payloads (`Token.value`):

* `IDENT`   -- the name (same as `text`);
* `INT`     -- a Python `int` (the lexer allows up to 2**63 so that the parser can
  accept `-9223372036854775808`);
* `FLOAT`   -- a Python `float`;
* `STRING`  -- the decoded `str` of a string without interpolation;
* `INTERP`  -- a list of parts, each either a decoded `str` piece or a `list[Token]`
  holding one interpolated expression (lexed recursively, ending with an `EOF`
  token whose text is `"}"`, placed at the closing `}`; when the line ends before that `}`, the list
  ends with `ERROR`, `EOF` instead and the lexer has reported the string);
* `SEMI`    -- `None`; `text` is `";"` for an explicit semicolon, `"\\n"` for one
  inserted at a newline and `""` for one inserted at end of file;
* everything else -- `None`.
"""

from __future__ import annotations

from enum import IntEnum


class TK(IntEnum):
    """Token kinds."""

    # literals and names
    IDENT = 1
    INT = 2
    FLOAT = 3
    STRING = 4
    INTERP = 5
    # keywords (spec section 1; the list is exact)
    LET = 10
    VAR = 11
    FN = 12
    RETURN = 13
    IF = 14
    ELSE = 15
    WHILE = 16
    FOR = 17
    IN = 18
    BREAK = 19
    CONTINUE = 20
    CLASS = 21
    EXTENDS = 22
    SELF = 23
    SUPER = 24
    NIL = 25
    TRUE = 26
    FALSE = 27
    AND = 28
    OR = 29
    NOT = 30
    IS = 31
    TRY = 32
    CATCH = 33
    FINALLY = 34
    THROW = 35
    IMPORT = 36
    FROM = 37
    AS = 38
    EXPORT = 39
    SPAWN = 40
    ASYNC = 41
    AWAIT = 42
    YIELD = 43
    SELECT = 44
    CASE = 45
    DEFAULT = 46
    # tlgeneric (1.1): interfaces
    INTERFACE = 100
    IMPLEMENTS = 101
    # tlenum (1.1): enums, static members
    ENUM = 112
    STATIC = 113
    # operators and punctuation
    PLUS = 60
    MINUS = 61
    STAR = 62
    SLASH = 63
    PERCENT = 64
    AMP = 65
    PIPE = 66
    CARET = 67
    TILDE = 68
    SHL = 69
    SHR = 70
    EQ = 71
    NE = 72
    LT = 73
    LE = 74
    GT = 75
    GE = 76
    ASSIGN = 77
    PLUS_EQ = 78
    MINUS_EQ = 79
    STAR_EQ = 80
    SLASH_EQ = 81
    PERCENT_EQ = 82
    DOTDOT = 83
    DOTDOTEQ = 84
    DOT = 85
    COMMA = 86
    COLON = 87
    SEMI = 88
    LPAREN = 89
    RPAREN = 90
    LBRACKET = 91
    RBRACKET = 92
    LBRACE = 93
    RBRACE = 94
    ARROW = 95
    FAT_ARROW = 96
    QUESTION = 97
    # tlexpr (1.1 expressions, spec section 13): `??` `?.` postfix `!` `**`,
    # and the format spec of an interpolation (`${x:8.2f}`: value = the spec text)
    QQ = 100
    QDOT = 101
    BANG = 102
    STARSTAR = 103
    FORMAT_SPEC = 104
    # special
    ERROR = 120  # a spot the lexer already reported: the parser stays quiet there
    EOF = 121


KEYWORDS: dict[str, TK] = {
    "let": TK.LET, "var": TK.VAR, "fn": TK.FN, "return": TK.RETURN, "if": TK.IF,
    "else": TK.ELSE, "while": TK.WHILE, "for": TK.FOR, "in": TK.IN,
    "break": TK.BREAK, "continue": TK.CONTINUE, "class": TK.CLASS,
    "extends": TK.EXTENDS, "self": TK.SELF, "super": TK.SUPER, "nil": TK.NIL,
    "true": TK.TRUE, "false": TK.FALSE, "and": TK.AND, "or": TK.OR, "not": TK.NOT,
    "is": TK.IS, "try": TK.TRY, "catch": TK.CATCH, "finally": TK.FINALLY,
    "throw": TK.THROW, "import": TK.IMPORT, "from": TK.FROM, "as": TK.AS,
    "export": TK.EXPORT, "spawn": TK.SPAWN, "async": TK.ASYNC, "await": TK.AWAIT,
    "yield": TK.YIELD, "select": TK.SELECT, "case": TK.CASE, "default": TK.DEFAULT,
    # tlgeneric (1.1)
    "interface": TK.INTERFACE, "implements": TK.IMPLEMENTS,
    # tlenum (1.1); `match` and `when` are soft keywords (parser: Parser.match_stmt)
    "enum": TK.ENUM, "static": TK.STATIC,
}  # fmt: skip

OPERATORS: dict[str, TK] = {
    "+": TK.PLUS, "-": TK.MINUS, "*": TK.STAR, "/": TK.SLASH, "%": TK.PERCENT,
    "&": TK.AMP, "|": TK.PIPE, "^": TK.CARET, "~": TK.TILDE, "<<": TK.SHL,
    ">>": TK.SHR, "==": TK.EQ, "!=": TK.NE, "<": TK.LT, "<=": TK.LE, ">": TK.GT,
    ">=": TK.GE, "=": TK.ASSIGN, "+=": TK.PLUS_EQ, "-=": TK.MINUS_EQ,
    "*=": TK.STAR_EQ, "/=": TK.SLASH_EQ, "%=": TK.PERCENT_EQ, "..": TK.DOTDOT,
    "..=": TK.DOTDOTEQ, ".": TK.DOT, ",": TK.COMMA, ":": TK.COLON, ";": TK.SEMI,
    "(": TK.LPAREN, ")": TK.RPAREN, "[": TK.LBRACKET, "]": TK.RBRACKET,
    "{": TK.LBRACE, "}": TK.RBRACE, "->": TK.ARROW, "=>": TK.FAT_ARROW,
    "?": TK.QUESTION,
    # tlexpr
    "??": TK.QQ, "?.": TK.QDOT, "!": TK.BANG, "**": TK.STARSTAR,
}  # fmt: skip

# Source spelling of every fixed-text kind, for messages ("expected ')'").
SPELLING: dict[TK, str] = {k: s for s, k in OPERATORS.items()}
SPELLING.update({k: s for s, k in KEYWORDS.items()})

# A newline after a token of one of these kinds ends the statement (spec section 1).
INSERTS_SEMI: frozenset[TK] = frozenset({
    TK.IDENT, TK.INT, TK.FLOAT, TK.STRING, TK.INTERP, TK.NIL, TK.TRUE, TK.FALSE,
    TK.SELF, TK.RETURN, TK.BREAK, TK.CONTINUE, TK.RPAREN, TK.RBRACKET, TK.RBRACE,
    TK.BANG,  # tlexpr: `let y = x!` ends at the newline (spec 13)
})  # fmt: skip


class Token:
    """One lexeme: kind, source text, decoded value, 1-based line and column."""

    __slots__ = ("kind", "text", "value", "line", "col")

    def __init__(self, kind: TK, text: str, value: object, line: int, col: int) -> None:
        self.kind = kind
        self.text = text
        self.value = value
        self.line = line
        self.col = col

    def __repr__(self) -> str:
        return f"Token({self.kind.name}, {self.text!r}, {self.value!r}, {self.line}:{self.col})"

    @property
    def inserted(self) -> bool:
        """True for a `;` the lexer inserted at a newline or at end of file."""
        return self.kind is TK.SEMI and self.text != ";"


def describe(tok: Token) -> str:
    """How a token is named in 'found ...' parts of diagnostics."""
    k = tok.kind
    if k is TK.EOF:
        return "'}'" if tok.text == "}" else "end of file"  # end of a `${...}`
    if k is TK.SEMI:
        if tok.text == "\n":
            return "newline"
        return "end of file" if tok.text == "" else "';'"
    if k is TK.STRING or k is TK.INTERP:
        return "string literal"
    text = tok.text if len(tok.text) <= 24 else tok.text[:21] + "..."
    return f"'{text}'"
