"""The TinyLang lexer: source text -> list of `Token`s (spec section 1).

Entry point: `tokenize(source, path, bag) -> list[Token]`. The list always ends
with an `EOF` token; problems are recorded in `bag` and lexing continues, so one
run reports every lexical error of a file.

Design notes:

* Speed: one compiled master regex (blanks + one token per match) recognises
  everything except strings with escapes or `${` and block comments; the main
  loop iterates `finditer` and dispatches on the group number with everything
  hoisted into locals. The cyclic GC is paused while tokens are created.
* Positions are 1-based; columns count code points (Python `str` indices).
* Semicolon insertion follows Go: at a newline (or at a block comment spanning
  lines, or at end of file) a `;` is inserted when the last token was an
  identifier, a literal, `nil true false self return break continue`, `)` `]` or
  `}`, everywhere, exactly as in Go. (The parser, not the lexer, lets bracketed
  constructs span lines: inside `( )`, `[ ]` and record literals it skips
  inserted `;`. Keeping the lexer context-free means an unclosed `(` cannot
  swallow the statement ends of the rest of the file.)
* String interpolation: a string without `${` becomes a `STRING` token; one with
  interpolation becomes a single `INTERP` token whose value alternates `str`
  pieces and token lists for the embedded expressions, lexed recursively (so
  nested strings and braces work) with their true positions. Strings are
  single-line: a newline inside a string, or inside one of its interpolations,
  is "unterminated string".
* Unexpected characters become `ERROR` tokens after being reported, so the parser
  can abandon the statement silently instead of reporting a second error.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable

from ..diagnostics import DiagnosticBag
from .tokens import INSERTS_SEMI, KEYWORDS, OPERATORS, TK, Token

__all__ = ["tokenize", "Lexer"]

# One match = optional blanks + one token. Alternatives are tried in order (so
# `//` and `/*` win over `/`); the group number says what matched (see `_ID`...).
_MASTER = re.compile(
    r"""
    [ \t\r\f\v]*
    (?:
      ([A-Za-z_][A-Za-z0-9_]*)
    | (//[^\n]*)
    | (/\*)
    | (\?\?|\?\.|\*\*|\.\.=|\.\.|<<|>>|<=|>=|==|!=|\+=|-=|\*=|/=|%=|->|=>|[-+*/%&|^~<>=.,:;()\[\]{}?!])
    | (\n)
    | (0[xXbB][0-9A-Za-z_]*
      |[0-9][0-9_]*(?:\.[0-9][0-9_]*)?(?:[eE][+-]?[0-9_]*)?[A-Za-z0-9_]*)
    | ("[^"\\$\n]*")
    | (")
    | (.)
    | \Z
    )
    """,
    re.VERBOSE,
)
_ID, _LC, _BC, _OP, _NL, _NUM, _PLAIN_STR, _STR, _BAD = range(1, 10)
# The `num` alternative is deliberately greedy (it swallows trailing letters and
# underscores) so that `12ab`, `0x`, `1e` are one malformed token, not several.
# A `.` only joins a number when a digit follows, so `0..10` is `0` `..` `10`.

_DEC = r"[0-9]+(?:_[0-9]+)*"
_DEC_RE = re.compile(_DEC)
_FLOAT_RE = re.compile(rf"{_DEC}(?:\.{_DEC})?(?:[eE][+-]?{_DEC})?")
_HEX_RE = re.compile(r"0[xX][0-9a-fA-F]+(?:_[0-9a-fA-F]+)*")
_BIN_RE = re.compile(r"0[bB][01]+(?:_[01]+)*")
_BAD_US_DEC = re.compile(r"__|_$|_(?=[.eE+-])|(?<=[.eE+-])_")
_BAD_US_PREFIXED = re.compile(r"__|_$|^0[xXbB]_")

_INT_LIMIT = 2**63  # the lexer admits 2**63 itself: only `-2**63` is valid, see parser

_STR_CHUNK = re.compile(r'[^"\\$\n]+')
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "0": "\0", "$": "$"}
_UNI_ESC = re.compile(r"\\u\{([0-9A-Fa-f]{1,6})\}")
_UNI_BAD = re.compile(r'\\u(?:\{[^}"\n]*\}?)?')
_COMMENT_EDGE = re.compile(r"/\*|\*/")

# Recursion guard for `"${ "${ "${ ... }" }" }"`: each level costs Python frames.
MAX_INTERP_DEPTH = 32

_OPENER = {TK.RPAREN: TK.LPAREN, TK.RBRACKET: TK.LBRACKET, TK.RBRACE: TK.LBRACE}
_OPENER_KINDS = frozenset(_OPENER.values())


# Issue 18, helper tltuple: after a `.`, digits are a tuple element's index,
# never a float: `t.0.1` is `t` `.` `0` `.` `1` (the number token `0.1` split).
_ELEMENTS = re.compile(r"[0-9]+(?:\.[0-9]+)*")


def _element_tokens(text: str, line: int, col: int, append: Callable[[Token], None]) -> None:
    for i, part in enumerate(text.split(".")):
        if i:
            append(Token(TK.DOT, ".", None, line, col))
            col += 1
        append(Token(TK.INT, part, int(part), line, col))
        col += len(part)


def _show_char(ch: str) -> str:
    if ch.isprintable() and ch.isascii():
        return f"'{ch}'"
    if ch.isprintable():
        return f"'{ch}' (U+{ord(ch):04X})"
    return f"U+{ord(ch):04X}"


class Lexer:
    """Lexer state for one source text. Use `tokenize`; `is_incomplete` in the
    parser also reads `unterminated_comment` afterwards."""

    __slots__ = ("src", "n", "bag", "line", "ls", "interp_depth", "unterminated_comment", "too_deep")

    def __init__(self, source: str, bag: DiagnosticBag) -> None:
        self.src = source
        self.n = len(source)
        self.bag = bag
        self.line = 1
        self.ls = 0  # index of the first character of the current line
        self.interp_depth = 0
        self.unterminated_comment = False
        self.too_deep = False  # interpolation nesting limit hit: enclosing strings stay quiet

    def tokenize(self) -> list[Token]:
        pos = 0
        if self.src.startswith("\ufeff"):  # a BOM is not part of line 1's columns
            pos = self.ls = 1
        # Tokens hold no reference cycles, but a million new objects would make
        # the cyclic GC rescan the growing list over and over (2-3x slower).
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            toks, _, _ = self.run(pos, False)
        finally:
            if gc_was_enabled:
                gc.enable()
        return toks

    # ------------------------------------------------------------------ main loop

    def run(self, pos: int, interp: bool) -> tuple[list[Token], int, bool]:
        """Lex from `pos`.

        Top level (`interp` False): to end of input; returns the tokens with the
        final `;`/`EOF` appended. Interpolation mode: up to the `}` that closes the
        `${`; returns (tokens ending in EOF, index after the `}`, True), or
        (tokens, index of the offending newline/comment/end, False) when the
        string ends first. `self.line`/`self.ls` are kept in sync around calls
        into helpers, which read them.
        """
        src = self.src
        finditer = _MASTER.finditer
        toks: list[Token] = []
        append = toks.append
        kw_get = KEYWORDS.get
        ops = OPERATORS
        inserts = INSERTS_SEMI
        IDENT = TK.IDENT
        SEMI = TK.SEMI
        stack: list[TK] = []  # interpolation mode: open brackets, innermost last
        trig = False  # would a newline here insert a `;`?
        line = self.line
        ls = self.ls
        # `finditer` is much faster than repeated `match` calls; the rare tokens
        # that are lexed by hand (strings with escapes or `${`, block comments)
        # restart it after themselves.
        restart = True
        while restart:
            restart = False
            for m in finditer(src, pos):
                g = m.lastindex
                if g == _ID:
                    text = m.group(g)
                    kind = kw_get(text, IDENT)
                    append(Token(kind, text, text if kind is IDENT else None, line, m.start(g) - ls + 1))
                    trig = kind in inserts
                elif g == _OP:
                    text = m.group(g)
                    kind = ops[text]
                    if interp:  # track brackets to find the `}` ending the `${`
                        if kind in _OPENER_KINDS:
                            stack.append(kind)
                        elif kind in _OPENER:
                            opener = _OPENER[kind]
                            if opener in stack:  # also closes unclosed inner brackets
                                while stack.pop() is not opener:
                                    pass
                            elif kind is TK.RBRACE:
                                append(Token(TK.EOF, "}", None, line, m.start(g) - ls + 1))
                                return toks, m.end(), True
                        elif kind is TK.COLON and not stack:
                            # tlexpr: a top-level `:` starts the format spec (`${x:8.2f}`)
                            return self._format_spec(m.end(g), toks, line, ls)
                    append(Token(kind, text, None, line, m.start(g) - ls + 1))
                    trig = kind in inserts
                elif g == _NL:
                    start, end = m.span(g)
                    if interp:
                        return toks, start, False
                    if trig:
                        append(Token(SEMI, "\n", None, line, start - ls + 1))
                        trig = False
                    line += 1
                    ls = end
                elif g == _NUM:
                    text = m.group(g)
                    col = m.start(g) - ls + 1
                    if toks and toks[-1].kind is TK.DOT and _ELEMENTS.fullmatch(text):
                        _element_tokens(text, line, col, append)  # (tltuple) `t.0.1`
                        trig = True
                        continue
                    kind, value = self._number(text, line, col)
                    append(Token(kind, text, value, line, col))
                    trig = True
                elif g == _PLAIN_STR:
                    text = m.group(g)
                    append(Token(TK.STRING, text, text[1:-1], line, m.start(g) - ls + 1))
                    trig = True
                elif g == _LC:
                    pass  # the newline after it is lexed normally
                elif g is None:  # end of input (after optional blanks)
                    pos = m.end()
                    break
                elif g == _STR:
                    start = m.start(g)
                    self.line, self.ls = line, ls
                    pos = self._string(start, toks)
                    trig = True
                    restart = True
                    break
                elif g == _BC:
                    start = m.start(g)
                    self.line, self.ls = line, ls
                    pos, spans_lines = self._block_comment(start)
                    if spans_lines:
                        if interp:  # a string cannot span lines, even in a comment
                            self.line, self.ls = line, ls
                            return toks, start, False
                        if trig:  # a comment spanning lines counts as a newline
                            append(Token(SEMI, "\n", None, line, start - ls + 1))
                            trig = False
                    line, ls = self.line, self.ls
                    restart = True
                    break
                else:  # _BAD
                    start = m.start(g)
                    ch = src[start]
                    col = start - ls + 1
                    self.bag.error(line, col, f"unexpected character {_show_char(ch)}")
                    append(Token(TK.ERROR, ch, None, line, col))
        if interp:
            return toks, pos, False
        col = pos - ls + 1
        if trig:
            append(Token(SEMI, "", None, line, col))
        append(Token(TK.EOF, "", None, line, col))
        self.line, self.ls = line, ls
        return toks, pos, True

    # ------------------------------------------------------------------ helpers

    def _format_spec(self, pos: int, toks: list[Token], line: int, ls: int) -> tuple[list[Token], int, bool]:
        """tlexpr: the raw text of a format spec after the top-level `:` of a
        `${...}`, up to its `}` (a spec holds no braces, quotes or newlines):
        one FORMAT_SPEC token, then the EOF as `run` ends an interpolation."""
        src = self.src
        i = pos
        n = self.n
        while i < n and src[i] not in '}"\n':
            i += 1
        col = pos - ls + 1
        toks.append(Token(TK.FORMAT_SPEC, src[pos:i], src[pos:i], line, col))
        if i < n and src[i] == "}":
            toks.append(Token(TK.EOF, "}", None, line, i - ls + 1))
            return toks, i + 1, True
        return toks, i, False

    def _block_comment(self, pos: int) -> tuple[int, bool]:
        """Skip a (nesting) block comment starting at `pos`; returns (end, spans_lines)."""
        src = self.src
        depth = 0
        for m in _COMMENT_EDGE.finditer(src, pos):
            depth += 1 if m.group() == "/*" else -1
            if depth == 0:
                end = m.end()
                break
        else:
            self.bag.error(self.line, pos - self.ls + 1, "unterminated block comment")
            self.unterminated_comment = True
            end = self.n
        nls = src.count("\n", pos, end)
        if nls:
            self.line += nls
            self.ls = src.rfind("\n", pos, end) + 1
        return end, nls > 0

    def _number(self, text: str, line: int, col: int) -> tuple[TK, object]:
        bag = self.bag
        if len(text) > 1 and text[0] == "0" and text[1] in "xXbB":
            hex_ = text[1] in "xX"
            if (_HEX_RE if hex_ else _BIN_RE).fullmatch(text):
                value = int(text[2:].replace("_", ""), 16 if hex_ else 2)
                return TK.INT, self._check_int(value, line, col)
            if len(text) == 2:
                why = f": missing digits after '{text}'"
            elif _BAD_US_PREFIXED.search(text):
                why = ": '_' must be between digits"
            else:
                why = f": invalid {'hex' if hex_ else 'binary'} digit"
            bag.error(line, col, f"malformed number '{text}'{why}")
            return TK.INT, 0
        if _DEC_RE.fullmatch(text):
            digits = text.replace("_", "").lstrip("0") or "0"
            if len(digits) > 20:  # also keeps clear of int()'s 4300-digit limit
                bag.error(line, col, "integer literal too large")
                return TK.INT, 0
            return TK.INT, self._check_int(int(digits), line, col)
        if _FLOAT_RE.fullmatch(text):
            value = float(text.replace("_", ""))
            if value == float("inf"):
                bag.error(line, col, "float literal out of range")
            return TK.FLOAT, value
        if _BAD_US_DEC.search(text):
            why = ": '_' must be between digits"
        elif text[-1] in "eE+-":
            why = ": missing exponent digits"
        else:
            why = ""
        bag.error(line, col, f"malformed number '{text}'{why}")
        is_float = "." in text or "e" in text or "E" in text
        return (TK.FLOAT, 0.0) if is_float else (TK.INT, 0)

    def _check_int(self, value: int, line: int, col: int) -> int:
        if value > _INT_LIMIT:
            self.bag.error(line, col, "integer literal too large")
        return value

    def _string(self, pos: int, toks: list[Token]) -> int:
        """Lex the string starting at `pos` (a `"`), append its token, return the end."""
        src = self.src
        n = self.n
        line, ls = self.line, self.ls
        col0 = pos - ls + 1
        chunk = _STR_CHUNK.match
        parts: list = []
        buf: list[str] = []
        has_interp = False
        closed = False
        reported = False
        i = pos + 1
        while True:
            m = chunk(src, i)
            if m is not None:
                buf.append(m.group())
                i = m.end()
            if i >= n:
                break
            c = src[i]
            if c == '"':
                i += 1
                closed = True
                break
            if c == "\n":
                break
            if c == "\\":
                i = self._escape(i, buf)
                continue
            # c == "$"
            if i + 1 < n and src[i + 1] == "{":
                if buf:
                    parts.append("".join(buf))
                    buf = []
                has_interp = True
                if self.interp_depth >= MAX_INTERP_DEPTH:
                    self.bag.error(line, i - ls + 1, "string interpolation nested too deeply")
                    self.too_deep = reported = True
                    j = src.find("\n", i)
                    i = n if j < 0 else j
                    break
                self.interp_depth += 1
                sub, i, ok = self.run(i + 2, True)
                self.interp_depth -= 1
                self.line, self.ls = line, ls
                if not ok:
                    # Cut short by the end of the line (reported below): the
                    # ERROR token makes the parser drop the statement silently.
                    sub.append(Token(TK.ERROR, "", None, line, i - ls + 1))
                    sub.append(Token(TK.EOF, "", None, line, i - ls + 1))
                parts.append(sub)
                if not ok:
                    break
            else:
                buf.append("$")
                i += 1
        if not closed and not reported and not self.too_deep:
            self.bag.error(line, col0, "unterminated string")
        if self.interp_depth == 0:
            self.too_deep = False
        if buf:
            parts.append("".join(buf))
        text = src[pos:i]
        if has_interp:
            toks.append(Token(TK.INTERP, text, parts, line, col0))
        else:
            toks.append(Token(TK.STRING, text, parts[0] if parts else "", line, col0))
        return i

    def _escape(self, i: int, buf: list[str]) -> int:
        """Decode the escape at `src[i] == '\\'` into `buf`; return the index after it."""
        src = self.src
        c = src[i + 1] if i + 1 < self.n else ""
        dec = _ESCAPES.get(c)
        if dec is not None:
            buf.append(dec)
            return i + 2
        if c == "" or c == "\n":
            return i + 1  # the caller reports the unterminated string
        col = i - self.ls + 1
        if c == "u":
            m = _UNI_ESC.match(src, i)
            if m is not None:
                cp = int(m.group(1), 16)
                if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                    why = f"U+{cp:X} is not a valid code point"
                    self.bag.error(self.line, col, f"invalid unicode escape: {why}")
                else:
                    buf.append(chr(cp))
                return m.end()
            self.bag.error(self.line, col, "invalid unicode escape: expected \\u{1 to 6 hex digits}")
            m = _UNI_BAD.match(src, i)
            return m.end()
        self.bag.error(self.line, col, f"unknown escape sequence '\\{c}'")
        return i + 2


def tokenize(source: str, path: str, bag: DiagnosticBag) -> list[Token]:
    """Lex a whole TinyLang source file. Never raises; errors go to `bag`.

    `path` is accepted for symmetry with `parse` (diagnostics take their path
    from the bag).
    """
    return Lexer(source, bag).tokenize()
