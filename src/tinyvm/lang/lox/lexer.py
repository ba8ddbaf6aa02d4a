"""Lox's scanner, as clox's scanner.c: one token at a time, on demand.

The parser pulls tokens with `Scanner.scan_token()`, exactly as clox's compiler
calls `scanToken()`, so that errors are reported in the order clox reports
them. A problem in the input is not an exception but an ERROR token whose text
is the message ("Unexpected character.", "Unterminated string."); the parser
reports it (with clox's panic-mode suppression) and asks for the next token.

What clox does and this scanner keeps:

* A token's line is the scanner's line when the token ends, so a string
  literal spanning lines carries the line of its closing quote, and an
  unterminated string the line of the end of the file.
* Numbers are digits with an optional fraction (`1.5`); a leading or trailing
  dot is a separate DOT token (`.5` is DOT NUMBER, `5.` is NUMBER DOT).
* Strings have no escapes and may contain newlines.
* clox scans bytes: a character outside ASCII, anywhere but in a string or a
  comment, is one "Unexpected character." error token per UTF-8 byte.

Each token also records the column where it starts (1-based, in code points),
used only for TinyVM's line table and for diagnostics shown by TinyLang tools.
"""

from __future__ import annotations

# Token types (clox's TokenType, without the TOKEN_ prefix).
LEFT_PAREN, RIGHT_PAREN, LEFT_BRACE, RIGHT_BRACE = "(", ")", "{", "}"
COMMA, DOT, MINUS, PLUS, SEMICOLON, SLASH, STAR = ",", ".", "-", "+", ";", "/", "*"
BANG, BANG_EQUAL, EQUAL, EQUAL_EQUAL = "!", "!=", "=", "=="
GREATER, GREATER_EQUAL, LESS, LESS_EQUAL = ">", ">=", "<", "<="
IDENTIFIER, STRING, NUMBER = "IDENTIFIER", "STRING", "NUMBER"
AND, CLASS, ELSE, FALSE, FOR, FUN, IF, NIL, OR = "and", "class", "else", "false", "for", "fun", "if", "nil", "or"
PRINT, RETURN, SUPER, THIS, TRUE, VAR, WHILE = "print", "return", "super", "this", "true", "var", "while"
ERROR, EOF = "ERROR", "EOF"

KEYWORDS = frozenset({AND, CLASS, ELSE, FALSE, FOR, FUN, IF, NIL, OR, PRINT, RETURN, SUPER, THIS, TRUE, VAR, WHILE})

_SINGLE = {
    "(": LEFT_PAREN, ")": RIGHT_PAREN, "{": LEFT_BRACE, "}": RIGHT_BRACE, ";": SEMICOLON,
    ",": COMMA, ".": DOT, "-": MINUS, "+": PLUS, "/": SLASH, "*": STAR,
}  # fmt: skip
# A character that may be followed by '=': (alone, with '=').
_PAIRS = {"!": (BANG, BANG_EQUAL), "=": (EQUAL, EQUAL_EQUAL), "<": (LESS, LESS_EQUAL), ">": (GREATER, GREATER_EQUAL)}


def _is_alpha(c: str) -> bool:
    return ("a" <= c <= "z") or ("A" <= c <= "Z") or c == "_"


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9"


class Token:
    __slots__ = ("type", "text", "line", "col")

    def __init__(self, type_: str, text: str, line: int, col: int) -> None:
        self.type = type_
        self.text = text  # the lexeme (for ERROR tokens: the message)
        self.line = line
        self.col = col

    def __repr__(self) -> str:
        return f"Token({self.type}, {self.text!r}, line {self.line})"


class Scanner:
    def __init__(self, source: str) -> None:
        self.src = source
        self.start = 0
        self.current = 0
        self.line = 1
        self.line_start = 0  # offset of the current line's first character
        self.pending_bytes = 0  # error tokens still owed for a non-ASCII character
        self.pending_token: Token | None = None

    def scan_token(self) -> Token:
        if self.pending_bytes:
            self.pending_bytes -= 1
            assert self.pending_token is not None
            return self.pending_token
        self._skip_whitespace()
        self.start = self.current
        col = self.start - self.line_start + 1
        if self.current >= len(self.src):
            return Token(EOF, "", self.line, col)
        c = self.src[self.current]
        self.current += 1
        if _is_alpha(c):
            return self._identifier(col)
        if _is_digit(c):
            return self._number(col)
        kind = _SINGLE.get(c)
        if kind is not None:
            return Token(kind, c, self.line, col)
        pair = _PAIRS.get(c)
        if pair is not None:
            if self._match("="):
                return Token(pair[1], c + "=", self.line, col)
            return Token(pair[0], c, self.line, col)
        if c == '"':
            return self._string(col)
        token = Token(ERROR, "Unexpected character.", self.line, col)
        extra = len(c.encode("utf-8", "surrogatepass")) - 1
        if extra:  # clox sees each byte of the character
            self.pending_bytes = extra
            self.pending_token = token
        return token

    # ------------------------------------------------------------------ helpers

    def _peek(self) -> str:
        return self.src[self.current] if self.current < len(self.src) else "\0"

    def _peek_next(self) -> str:
        return self.src[self.current + 1] if self.current + 1 < len(self.src) else "\0"

    def _match(self, expected: str) -> bool:
        if self.current < len(self.src) and self.src[self.current] == expected:
            self.current += 1
            return True
        return False

    def _newline(self) -> None:
        self.line += 1
        self.line_start = self.current + 1

    def _skip_whitespace(self) -> None:
        src = self.src
        n = len(src)
        while self.current < n:
            c = src[self.current]
            if c in " \r\t":
                self.current += 1
            elif c == "\n":
                self._newline()
                self.current += 1
            elif c == "/" and self._peek_next() == "/":
                # A comment goes until the end of the line (the newline stays).
                end = src.find("\n", self.current)
                self.current = n if end < 0 else end
            else:
                return

    def _identifier(self, col: int) -> Token:
        src = self.src
        n = len(src)
        while self.current < n and (_is_alpha(src[self.current]) or _is_digit(src[self.current])):
            self.current += 1
        text = src[self.start : self.current]
        return Token(text if text in KEYWORDS else IDENTIFIER, text, self.line, col)

    def _number(self, col: int) -> Token:
        while _is_digit(self._peek()):
            self.current += 1
        if self._peek() == "." and _is_digit(self._peek_next()):
            self.current += 1  # the "."
            while _is_digit(self._peek()):
                self.current += 1
        return Token(NUMBER, self.src[self.start : self.current], self.line, col)

    def _string(self, col: int) -> Token:
        start_line = self.line
        while self._peek() != '"' and self.current < len(self.src):
            if self._peek() == "\n":
                self._newline()
            self.current += 1
        if self.current >= len(self.src):
            return Token(ERROR, "Unterminated string.", self.line, col if self.line == start_line else 1)
        self.current += 1  # the closing quote
        return Token(STRING, self.src[self.start : self.current], self.line, col if self.line == start_line else 1)


def tokenize(source: str) -> list[Token]:
    """Every token of `source`, ending with EOF (for tools and tests)."""
    scanner = Scanner(source)
    out = []
    while True:
        tok = scanner.scan_token()
        out.append(tok)
        if tok.type == EOF:
            return out
