"""The TinyLang parser: tokens -> `ast.Module` (spec sections 3-10).

Public API:

* `parse(source, path, bag) -> ast.Module` -- lex and parse a whole file. Never
  raises: syntax errors go to `bag` and the returned module holds every statement
  that parsed.
* `is_incomplete(source) -> bool` -- for the REPL: does `source` stop in the
  middle of a construct that more lines could complete?

Hand-written recursive descent, with precedence climbing for binary operators.
Precedence, lowest first: `or` . `and` . `not` (prefix) . `== != < <= > >= is` .
`.. ..=` . `|` . `^` . `&` . `<< >>` . `+ -` . `* / %` . unary `- ~ await spawn` .
postfix call / index / field. All binary operators are left-associative
(`a < b < c` is `(a < b) < c`). `yield` takes a whole expression (`yield a + b`);
a bare `yield` ends at `;`, a closing bracket or the end of its line.

Node positions. Every node carries the line/col of its first token, except the
nodes for an *operation*, which carry the position of the operator so that
runtime error carets point at it (`a / b` points at `/`):
`Binary` and `Logical` (the operator), `Unary` (the operator, which is also its
first token), `Call` (the `(`), `Index` (the `[`), `Field` (the field name).
Statements carry their first token (`export` for an exported declaration, the
target's first token for `Assign`). `Try.catch_line/col` is the catch variable's
position, or the `catch` keyword's when there is no variable. A negated
`-9223372036854775808` is folded into one `IntLit` at the `-`; any other use of
that literal is "integer literal too large".

Newlines. The lexer inserts `;` exactly as Go does. Inside `( )`, `[ ]` and
record literals the parser skips inserted `;` (flag `nl_ok`), so argument lists,
parameter lists, arrays, maps and records may span lines freely, and a line in
brackets may even start with a binary operator or a `.method` call.

Condition expressions (`if`, `while`, `for ... in`, select cases) are parsed
with `no_record` set: there a `{` ends the expression (it opens the block), as in
Go and Rust. Any bracket, call, lambda body or block resets the flag inside it.

Error recovery: the first error in a statement is recorded and a `_ParseError`
unwinds to the innermost statement loop (block, class body, select, module),
which skips to the end of the statement (see `sync`). So each statement reports
at most one syntax error, and every statement of a file gets checked.
Nesting (lang/nesting.py): each nested expression, block, type and `?` of `int??`
is a level of `depth`; past `MAX_DEPTH`, "expression nested too deeply" (the
later passes rely on this bound). Chains (`a + b`, `a.b(c)[d]`, `else if`) are loops.
"""

from __future__ import annotations

import gc
from typing import Callable, NoReturn, TypeVar

from ..diagnostics import DiagnosticBag
from ..nesting import recursion_room
from . import ast, enums_syntax
from .lexer import Lexer
from .parse11 import Parse11, _tok_at
from .tokens import KEYWORDS, SPELLING, TK, Token, describe

__all__ = ["parse", "is_incomplete", "Parser", "MAX_DEPTH"]

MAX_DEPTH = 200
_INT_MIN_MAGNITUDE = 2**63
FRAMES_PER_LEVEL = 12  # Python frames per level of nesting: ~8 at most, with a margin

_BINARY_PREC: dict[TK, int] = {
    TK.OR: 1, TK.AND: 2,
    # 3 is prefix `not`
    TK.EQ: 4, TK.NE: 4, TK.LT: 4, TK.LE: 4, TK.GT: 4, TK.GE: 4, TK.IS: 4,
    TK.DOTDOT: 5, TK.DOTDOTEQ: 5,
    TK.PIPE: 6, TK.CARET: 7, TK.AMP: 8, TK.SHL: 9, TK.SHR: 9,
    TK.PLUS: 10, TK.MINUS: 10, TK.STAR: 11, TK.SLASH: 11, TK.PERCENT: 11,
}  # fmt: skip
_NOT_PREC = 3
_LOGICAL_PREC = 2  # `and`/`or` build Logical nodes, the rest Binary

_ASSIGN_OPS = {TK.ASSIGN, TK.PLUS_EQ, TK.MINUS_EQ, TK.STAR_EQ, TK.SLASH_EQ, TK.PERCENT_EQ}
_STMT_END = {TK.SEMI, TK.RBRACE, TK.EOF}
_ENDS_AT_NEWLINE = {TK.QUESTION, TK.QQ, TK.YIELD, TK.GT, TK.SHR}  # see at_statement_end (QQ: `int??`)
_YIELD_END = {TK.SEMI, TK.RBRACE, TK.RPAREN, TK.RBRACKET, TK.COMMA, TK.COLON, TK.EOF}
_PREFIX = {TK.MINUS, TK.TILDE, TK.AWAIT, TK.SPAWN}
_KEYWORD_KINDS = frozenset(KEYWORDS.values())
# Recovery stops before one of these when it is the first token on its line.
_SYNC_KEYWORDS = {
    TK.LET, TK.VAR, TK.FN, TK.CLASS, TK.IF, TK.WHILE, TK.FOR, TK.RETURN, TK.THROW,
    TK.TRY, TK.IMPORT, TK.FROM, TK.EXPORT, TK.SELECT, TK.BREAK, TK.CONTINUE, TK.ASYNC,
    TK.INTERFACE,
}  # fmt: skip

# Tokens that may appear inside explicit type arguments (Parser.explicit_type_args).
_TYPE_TOKENS = frozenset({
    TK.IDENT, TK.NIL, TK.FN, TK.LBRACKET, TK.RBRACKET, TK.COLON, TK.COMMA, TK.QUESTION,
    TK.LBRACE, TK.RBRACE, TK.LPAREN, TK.RPAREN, TK.ARROW,
})  # fmt: skip

# tldefault: what may follow the `>` of type arguments on a name used as a
# value (`let f = first<int>`, `apply(first<int>, xs)`): nothing that could
# continue a comparison.
_AFTER_VALUE_TYPE_ARGS = frozenset({TK.SEMI, TK.RPAREN, TK.COMMA, TK.RBRACKET, TK.RBRACE, TK.EOF})

T = TypeVar("T")


class _ParseError(Exception):
    """Unwinds to the innermost statement loop; the error is already recorded."""


class Parser(Parse11):  # tlexpr: the 1.1 expression syntax (parse11.py)
    """Parser state over one token list (swapped temporarily for `${...}` parts)."""

    def __init__(self, tokens: list[Token], path: str, bag: DiagnosticBag) -> None:
        self.toks = tokens
        self.pos = 0
        self.tok = tokens[0]
        self.path = path
        self.bag = bag
        self.depth = 0  # nesting of expressions/blocks/types, capped at MAX_DEPTH
        self.no_record = False  # in a condition: `{` ends the expression
        self.nl_ok = False  # inside ( ) [ ] or a record literal: newlines are spaces
        self.block_depth = 0  # 0 at top level (imports/exports are allowed there)
        self.eof_reported = False  # one "found end of file" is enough
        self.error_tokens: list[Token] = []  # tokens errors were reported at

    # ------------------------------------------------------------------ tokens

    def advance(self) -> Token:
        tok = self.tok
        if tok.kind is not TK.EOF:  # EOF is sticky: never run off the list
            self.pos += 1
            self.tok = self.toks[self.pos]
        return tok

    def accept(self, kind: TK) -> bool:
        if self.tok.kind is kind:
            self.advance()
            return True
        return False

    def peek(self, k: int = 1) -> Token:
        toks = self.toks
        return toks[min(self.pos + k, len(toks) - 1)]

    def continued_by(self, *kinds: TK) -> bool:
        """In brackets a line may continue with one of `kinds` (`.m()`, `??`,
        `? :`): step over the `;` the lexer inserted at the newline before it."""
        if self.nl_ok and self.tok.inserted and self.peek().kind in kinds:
            self.advance()
            return True
        return False

    def fail(self, message: str, tok: Token | None = None) -> NoReturn:
        """Record a syntax error at `tok` (default: the current token) and unwind."""
        tok = tok or self.tok
        if tok.kind is TK.EOF and tok.text != "}":  # the real end, not a `${...}`'s
            if not self.eof_reported:
                self.eof_reported = True
                self.report(tok, message)
        elif tok.kind is not TK.ERROR:  # ERROR: the lexer already reported this spot
            self.report(tok, message)
        raise _ParseError

    def fail_expected(self, what: str) -> NoReturn:
        self.fail(f"expected {what}, found {describe(self.tok)}")

    def report(self, tok: Token, message: str) -> None:
        """Record an error without unwinding (the construct is still usable)."""
        self.error_tokens.append(tok)
        self.bag.error(tok.line, tok.col, message)

    def expect(self, kind: TK, context: str) -> Token:
        if self.tok.kind is kind:
            return self.advance()
        self.fail_expected(f"'{SPELLING[kind]}' {context}")

    def ident(self, what: str) -> Token:
        if self.tok.kind is TK.IDENT:
            return self.advance()
        self.fail_expected(what)

    def name_like(self, what: str) -> Token:
        """A field name: an identifier or a keyword (`r.default`, `{in: 1}`)."""
        k = self.tok.kind
        if k is TK.IDENT or k in _KEYWORD_KINDS:
            return self.advance()
        self.fail_expected(what)

    def skip_newlines(self) -> None:
        """Skip `;` the lexer inserted: bracketed constructs may span lines."""
        while self.tok.kind is TK.SEMI and self.tok.text != ";":
            self.advance()

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail("expression nested too deeply")

    def bracketed(self, parse: Callable[[], T]) -> T:
        """Run `parse` inside ( ) [ ] or a record: records allowed, newlines ignored."""
        saved, (self.no_record, self.nl_ok) = (self.no_record, self.nl_ok), (False, True)
        result = parse()
        self.no_record, self.nl_ok = saved
        return result

    def seq(self, close: TK, item: Callable[[], T], what: str) -> list[T]:
        """`item, item, ...` with an optional trailing comma, up to and including
        `close`; `what` names the expected token(s) for the error message."""
        out: list[T] = []
        self.skip_newlines()
        while self.tok.kind is not close:
            out.append(item())
            self.skip_newlines()
            if not self.accept(TK.COMMA):
                break
            self.skip_newlines()
        if self.tok.kind is not close:
            self.fail_expected(what)
        self.advance()
        return out

    # ------------------------------------------------------------------ statements

    def parse_module(self) -> ast.Module:
        return ast.Module(1, 1, self.path, self.statements(top=True))

    def statements(self, top: bool = False) -> list[ast.Stmt]:
        """Statements up to a `}` (left in place) or end of file."""
        out: list[ast.Stmt] = []
        self.items(lambda: self.add_statement(out, self.statement()), top)
        return out

    def items(self, item: Callable[[], object], top: bool = False, separated: bool = True) -> None:
        """Call `item` for each statement (or class member, or select case) up to
        a `}` or end of file, recovering from errors in each one separately."""
        while True:
            k = self.tok.kind
            if k is TK.SEMI:
                self.advance()
            elif k is TK.EOF:
                return
            elif k is TK.RBRACE:
                if not top:
                    return
                self.report(self.tok, "unexpected '}' (no open block to close)")
                self.advance()
            else:
                start = self.pos
                saved = (self.depth, self.no_record, self.nl_ok, self.block_depth)
                try:
                    item()
                    if separated:
                        self.end_statement()
                except _ParseError:
                    self.depth, self.no_record, self.nl_ok, self.block_depth = saved
                    self.sync(start)

    def at_statement_end(self) -> bool:
        tok = self.tok
        if tok.kind in _STMT_END:
            return True
        # `?`, `>` and `yield` do not insert a `;` (spec section 1), yet
        # `var x: int?`, `var c: Chan<int>` or a bare `yield` at the end of a
        # line plainly ends the statement. (An expression never ends in `>`.)
        prev = self.toks[self.pos - 1]
        return prev.kind in _ENDS_AT_NEWLINE and prev.line < tok.line

    def end_statement(self) -> None:
        if not self.accept(TK.SEMI) and not self.at_statement_end():
            self.fail_expected("newline or ';' after statement")

    def sync(self, start: int) -> None:
        """After an error in the statement starting at token `start`, skip to its end.

        The end is the first `;` or `}` outside the brackets the failed statement
        opened (so `let r = {x: }` does not leave its `{` to be mistaken for the
        end of the enclosing block), or a statement keyword starting a line. A
        newline (inserted `;`) ends the statement even inside unclosed `(`/`[`,
        so a forgotten `)` costs one statement, not the rest of the file; braces
        are trusted to pair up.
        """
        toks = self.toks
        braces = parens = 0

        def count(k: TK) -> None:
            nonlocal braces, parens
            if k is TK.LBRACE:
                braces += 1
            elif k is TK.RBRACE:
                braces = max(braces - 1, 0)
            elif k is TK.LPAREN or k is TK.LBRACKET:
                parens += 1
            elif (k is TK.RPAREN or k is TK.RBRACKET) and parens > 0:
                parens -= 1

        for t in toks[start : self.pos]:
            count(t.kind)
        first = self.pos == start  # always make progress
        while (k := (tok := self.tok).kind) is not TK.EOF:
            if not first and braces == 0:
                if k is TK.SEMI and (parens == 0 or tok.text != ";"):
                    self.advance()
                    return
                if k is TK.RBRACE:
                    # It closes the enclosing block, unless there is none or it is
                    # a typo for `)`/`]` as in `f(x})`.
                    nxt = self.peek()
                    typo = parens > 0 and nxt.line == tok.line and nxt.kind in (TK.RPAREN, TK.RBRACKET)
                    if not typo and self.block_depth > 0:
                        return
                if (
                    k in _SYNC_KEYWORDS
                    and toks[self.pos - 1].line < tok.line
                    and not (k is TK.FN and self.peek().kind is TK.LPAREN)
                ):
                    return
            first = False
            count(k)
            self.advance()

    def statement(self) -> ast.Stmt:
        tok = self.tok
        k = tok.kind
        line, col = tok.line, tok.col
        if k is TK.LET or k is TK.VAR:
            return self.var_decl(tok, False)
        if (k is TK.FN and self.peek().kind is TK.IDENT) or (
            k is TK.ASYNC and self.peek().kind is TK.FN and self.peek(2).kind is TK.IDENT
        ):
            return self.fn_decl(tok, False)
        if k is TK.IF:
            return self.if_stmt()
        if k is TK.WHILE:
            self.advance()
            cond = self.condition()
            return ast.While(line, col, cond, self.block("after while condition"))
        if k is TK.FOR:
            self.advance()
            if self.tok.kind is TK.LPAREN or (self.tok.kind is TK.IDENT and self.peek().kind is TK.COMMA):
                return self.for_pattern(line, col)
            var = self.ident("loop variable after 'for'")
            self.expect(TK.IN, "after the loop variable")
            iterable = self.condition()
            body = self.block("after the for-in expression")
            return ast.For(line, col, var.value, var.line, var.col, iterable, body)
        if k is TK.RETURN:
            self.advance()
            return ast.Return(line, col, None if self.tok.kind in _STMT_END else self.expr())
        if k is TK.BREAK or k is TK.CONTINUE:
            self.advance()
            return ast.Break(line, col) if k is TK.BREAK else ast.Continue(line, col)
        if k is TK.THROW:
            self.advance()
            return ast.Throw(line, col, self.expr())
        if k is TK.TRY:
            return self.try_stmt()
        if k is TK.LBRACE:
            return self.block("")
        if k is TK.CLASS:
            return self.class_decl(tok, False)
        if k is TK.INTERFACE:
            return self.interface_decl(tok, False)
        if k is TK.EXPORT:
            return self.export()
        if k is TK.IMPORT or k is TK.FROM:
            return self.import_stmt()
        if k is TK.SELECT:
            return self.select()
        if k is TK.ENUM:  # tlenum (1.1)
            return self.enum_decl(tok, False)
        if k is TK.IDENT and tok.value == "match" and self.at_match():
            return self.match_stmt()
        if k is TK.ELSE:
            self.fail("'else' must be on the same line as the '}' closing the if block")
        if k is TK.CATCH or k is TK.FINALLY:
            self.fail(f"'{tok.text}' must be on the same line as the '}}' closing the try block")
        if k is TK.CASE or k is TK.DEFAULT:
            self.fail(f"'{tok.text}' outside of a select")
        target = self.expr()  # an expression statement or an assignment
        if self.tok.kind in _ASSIGN_OPS:
            op = self.advance()
            if not isinstance(target, (ast.Name, ast.Index, ast.Field)):
                self.report(tok, "invalid assignment target")
            return ast.Assign(line, col, target, op.text, self.expr())
        return ast.ExprStmt(line, col, target)

    def block(self, context: str) -> ast.Block:
        open_tok = self.tok
        if open_tok.kind is not TK.LBRACE:
            self.fail_expected("'{'" + (f" {context}" if context else ""))
        self.nested()
        self.advance()
        saved = self.no_record, self.nl_ok
        self.no_record = self.nl_ok = False
        self.block_depth += 1
        stmts = self.statements()
        self.block_depth -= 1
        self.no_record, self.nl_ok = saved
        if self.tok.kind is not TK.RBRACE:
            self.fail_expected(f"'}}' to close the block opened at {open_tok.line}:{open_tok.col}")
        self.advance()
        self.depth -= 1
        return ast.Block(open_tok.line, open_tok.col, stmts)

    def var_decl(self, start: Token, exported: bool) -> ast.VarDecl:
        kw = self.advance()
        mutable = kw.kind is TK.VAR
        if self.tok.kind is TK.LPAREN or self.tok.kind is TK.LBRACKET:
            return self.destructure(start, kw, exported)  # type: ignore[return-value]
        name = self.ident(f"variable name after '{kw.text}'")
        type_ = self.parse_type() if self.accept(TK.COLON) else None
        init = None
        if self.accept(TK.ASSIGN):
            init = self.expr()
        elif not self.at_statement_end():
            self.fail_expected("'=' in variable declaration")
        elif not mutable:
            self.report(kw, "'let' needs an initializer")
            init = ast.NilLit(kw.line, kw.col)
        return ast.VarDecl(start.line, start.col, mutable, name.value, type_, init, exported)

    def param(self) -> ast.Param:
        name = self.ident("parameter name")
        type_ = self.parse_type() if self.accept(TK.COLON) else None
        default = self.expr() if self.accept(TK.ASSIGN) else None  # tlexpr
        return ast.Param(name.line, name.col, name.value, type_, default)

    def signature(self, context: str) -> tuple[list[ast.Param], ast.TypeExpr | None]:
        """`(params) -> ret` of a function declaration or lambda."""
        self.expect(TK.LPAREN, context)
        params = self.seq(TK.RPAREN, self.param, "',' or ')' after parameter")
        self.check_defaults(params)  # tlexpr
        return params, (self.parse_type() if self.accept(TK.ARROW) else None)

    def fn_decl(self, start: Token, exported: bool) -> ast.FnDecl:
        is_async = self.accept(TK.ASYNC)
        self.expect(TK.FN, "after 'async'")
        name = self.ident("function name after 'fn'")
        type_params = self.type_params()
        params, ret = self.signature("after function name")
        body = self.block("to start the function body")
        decl = ast.FnDecl(start.line, start.col, name.value, params, ret, body, is_async, exported)
        decl.type_params = type_params
        return decl

    def class_decl(self, start: Token, exported: bool) -> ast.ClassDecl:
        self.advance()
        name = self.ident("class name after 'class'")
        type_params = self.type_params()
        parent = None
        if self.accept(TK.EXTENDS):
            p = self.ident("parent class name after 'extends'")
            parent = ast.Name(p.line, p.col, p.value)
            if self.accept(TK.LT):  # `extends Base<int>` (1.1): the parent's type arguments
                parent.type_args = [self.parse_type()]
                while self.accept(TK.COMMA):
                    parent.type_args.append(self.parse_type())
                self.close_angle()
        implements = self.implements_clause()
        self.expect(TK.LBRACE, "to start the class body")
        fields: list[ast.FieldDecl] = []
        methods: list[ast.FnDecl] = []
        statics: list[ast.Stmt] = []

        def member() -> None:
            tok = self.tok
            k = tok.kind
            if k is TK.VAR or k is TK.LET:
                if k is TK.LET:
                    self.report(tok, "fields are declared with 'var'")
                self.advance()
                name = self.ident("field name")
                type_ = self.parse_type() if self.accept(TK.COLON) else None
                default = self.expr() if self.accept(TK.ASSIGN) else None
                fields.append(ast.FieldDecl(tok.line, tok.col, name.value, type_, default))
            elif k is TK.FN or (k is TK.ASYNC and self.peek().kind is TK.FN):
                methods.append(self.fn_decl(tok, False))
            elif k is TK.STATIC:  # tlenum (1.1)
                statics.append(self.static_member())
            else:
                self.fail_expected("'var' or 'fn' in class body")

        self.block_depth += 1
        self.items(member)
        self.block_depth -= 1
        self.expect(TK.RBRACE, "to close the class body")
        decl = ast.ClassDecl(start.line, start.col, name.value, parent, fields, methods, exported, statics=statics)
        decl.type_params, decl.implements = type_params, implements
        return decl

    # ------------------------------------------------------------------ 1.1 generics and interfaces (tlgeneric)

    def type_params(self) -> list[ast.TypeParam] | None:
        """`<T, U: Comparable>` after a function's or class's name, if present."""
        if not self.accept(TK.LT):
            return None
        out: list[ast.TypeParam] = []
        while True:
            name = self.ident("type parameter name")
            bound = self.parse_type() if self.accept(TK.COLON) else None
            out.append(ast.TypeParam(name.line, name.col, name.value, bound))
            if not self.accept(TK.COMMA):
                break
        self.close_angle()
        return out

    def implements_clause(self) -> list[ast.TypeExpr] | None:
        """`implements Shape, Named` before a class body, if present."""
        if not self.accept(TK.IMPLEMENTS):
            return None
        out = [self.parse_type()]
        while self.accept(TK.COMMA):
            out.append(self.parse_type())
        return out

    def interface_decl(self, start: Token, exported: bool) -> ast.ClassDecl:
        """`interface Shape<T> { fn area() -> float ... }`: a ClassDecl marked
        is_interface whose methods are signatures (empty bodies, never run), so
        the resolver and the emitter treat its name as a class's."""
        self.advance()
        name = self.ident("interface name after 'interface'")
        type_params = self.type_params()
        self.expect(TK.LBRACE, "to start the interface body")
        methods: list[ast.FnDecl] = []

        def member() -> None:
            tok = self.tok
            if tok.kind is not TK.FN:
                self.fail_expected("'fn' in interface body")
            self.advance()
            mname = self.ident("method name after 'fn'")
            mparams = self.type_params()
            params, ret = self.signature("after method name")
            if self.tok.kind is TK.LBRACE:
                self.fail("an interface method has no body")
            decl = ast.FnDecl(tok.line, tok.col, mname.value, params, ret, ast.Block(tok.line, tok.col, []))
            decl.type_params = mparams
            methods.append(decl)

        self.block_depth += 1
        self.items(member)
        self.block_depth -= 1
        self.expect(TK.RBRACE, "to close the interface body")
        decl = ast.ClassDecl(start.line, start.col, name.value, None, [], methods, exported)
        decl.type_params, decl.is_interface = type_params, True
        return decl

    def explicit_type_args(self, value: bool = False) -> list[ast.TypeExpr] | None:
        """After a name, at `<`: type arguments when the tokens up to the
        matching `>` can only be types and a `(` follows (`Stack<int>()`,
        `first<string>(xs)`); else None, and nothing is consumed, so `a < b`
        stays a comparison. `a < b > (c)` reads as a call with a type
        argument, as in C# (the comparison reading, `(a < b) > c`, compares a
        bool and is a type error anyway). With `value` (tldefault: a name,
        not a member), a `>` followed by what cannot continue an expression
        (`)`, `,`, `]`, `}`, a line end) also closes type arguments: `let f =
        first<int>` (a comparison cannot end with `>`)."""
        toks = self.toks
        i = self.pos
        depth = 0
        while i < len(toks) and i - self.pos < 256:
            k = toks[i].kind
            if k is TK.LT:
                depth += 1
            elif k is TK.GT or k is TK.SHR:
                depth -= 1 if k is TK.GT else 2
                if depth < 0:
                    return None
                if depth == 0:
                    nxt = toks[min(i + 1, len(toks) - 1)]
                    after = nxt.kind
                    # (A `>` inserts no `;`: a token on a later line ends the statement.)
                    if after is not TK.LPAREN and not (value and (after in _AFTER_VALUE_TYPE_ARGS or nxt.line > toks[i].line)):
                        return None
                    break
            elif k not in _TYPE_TOKENS:
                return None
            i += 1
        else:
            return None
        self.advance()
        args = [self.parse_type()]
        while self.accept(TK.COMMA):
            args.append(self.parse_type())
        self.close_angle()
        return args

    def export(self) -> ast.Stmt:
        tok = self.advance()
        exported = self.block_depth == 0
        if not exported:
            self.report(tok, "export is only allowed at top level")
        k = self.tok.kind
        if k is TK.LET or k is TK.VAR:
            return self.var_decl(tok, exported)
        if k is TK.FN or (k is TK.ASYNC and self.peek().kind is TK.FN):
            return self.fn_decl(tok, exported)
        if k is TK.CLASS:
            return self.class_decl(tok, exported)
        if k is TK.INTERFACE:
            return self.interface_decl(tok, exported)
        if k is TK.ENUM:
            return self.enum_decl(tok, exported)
        self.fail_expected("let, var, fn, class, interface or enum after 'export'")

    def import_stmt(self) -> ast.Import | ast.FromImport:
        tok = self.advance()
        if self.block_depth > 0:
            self.report(tok, "import is only allowed at top level")
        path = self.tok
        if path.kind is TK.INTERP:
            self.fail("an import path cannot use interpolation")
        if path.kind is not TK.STRING and path.kind is not TK.IDENT:
            self.fail_expected(f"module name or file path after '{tok.text}'")
        self.advance()
        is_file = path.kind is TK.STRING
        if tok.kind is TK.FROM:
            self.expect(TK.IMPORT, "after the module path")
            names = []
            while True:
                n = self.ident("a name to import")
                names.append((n.value, n.line, n.col))
                if not self.accept(TK.COMMA):
                    return ast.FromImport(tok.line, tok.col, path.value, names, is_file)
        alias = path.value
        if self.accept(TK.AS):
            alias = self.ident("a name after 'as'").value
        elif is_file:
            self.fail_expected("'as NAME' after a file path in import")
        return ast.Import(tok.line, tok.col, path.value, alias, is_file)

    def condition(self) -> ast.Expr:
        saved, self.no_record = self.no_record, True
        e = self.expr()
        self.no_record = saved
        return e

    def if_stmt(self) -> ast.Stmt:
        # Iterative over `else if` so long chains cost no recursion.
        chain: list[ast.If] = []
        head: ast.Stmt | None = None
        while True:
            tok = self.advance()
            if self.tok.kind is TK.LET:  # tlexpr: `if let v = e`
                stmt, node = self.if_let(tok)
            else:
                cond = self.condition()
                stmt = node = ast.If(tok.line, tok.col, cond, self.block("after if condition"), None)
            if chain:
                chain[-1].orelse = stmt
            else:
                head = stmt
            chain.append(node)
            if not self.accept(TK.ELSE):
                return head
            if self.tok.kind is not TK.IF:
                node.orelse = self.block("after 'else'")
                return head

    def try_stmt(self) -> ast.Try:
        tok = self.advance()
        body = self.block("after 'try'")
        catch_name = catch_body = finally_body = None
        catch_line = catch_col = 0
        if self.tok.kind is TK.CATCH:
            c = self.advance()
            if self.tok.kind is TK.IDENT:
                c = self.advance()
                catch_name = c.value
            catch_line, catch_col = c.line, c.col
            catch_body = self.block("after 'catch'")
        if self.accept(TK.FINALLY):
            finally_body = self.block("after 'finally'")
        if catch_body is None and finally_body is None:
            nxt = self.peek().kind if self.tok.kind is TK.SEMI else None
            if nxt is not TK.CATCH and nxt is not TK.FINALLY:  # else: reported there
                self.report(tok, "try needs a catch or a finally")
        return ast.Try(tok.line, tok.col, body, catch_name, catch_body, finally_body, catch_line, catch_col)

    def select(self) -> ast.Select:
        tok = self.advance()
        self.expect(TK.LBRACE, "after 'select'")
        cases: list[ast.SelectCase] = []
        self.block_depth += 1
        self.items(lambda: cases.append(self.select_case(cases)), separated=False)
        self.block_depth -= 1
        self.expect(TK.RBRACE, "to close the select")
        return ast.Select(tok.line, tok.col, cases)

    def select_case(self, previous: list[ast.SelectCase]) -> ast.SelectCase:
        c = self.tok
        if c.kind is TK.DEFAULT:
            self.advance()
            body = self.block("after 'default'")
            if any(p.kind == "default" for p in previous):
                self.report(c, "select has more than one default")
            return ast.SelectCase(c.line, c.col, "default", None, None, None, body)
        if c.kind is not TK.CASE:
            self.fail_expected("'case' or 'default' in select")
        self.advance()
        var = None
        if self.tok.kind is TK.IDENT and self.peek().kind is TK.ASSIGN:
            var = self.advance().value
            self.advance()
        first = self.tok
        e = self.condition()
        kind = channel = value = None
        if isinstance(e, ast.Call):
            callee, args = e.callee, e.args
            method = callee.name if isinstance(callee, ast.Field) else None
            if method == "recv" and not args:
                kind, channel = "recv", callee.obj
            elif var is None and method == "send" and len(args) == 1:
                kind, channel, value = "send", callee.obj, args[0]
            elif var is None and isinstance(callee, ast.Name) and callee.name == "sleep" and len(args) == 1:
                kind, value = "sleep", args[0]
        if kind is None:
            what = "'ch.recv()', 'v = ch.recv()', 'ch.send(v)' or 'sleep(ms)'"
            self.report(first, f"a select case must be {what}")
            kind, channel = "recv", e
        body = self.block("after the select case")
        return ast.SelectCase(c.line, c.col, kind, var, channel, value, body)

    # ------------------------------------------------------------------ expressions

    def expr(self) -> ast.Expr:
        self.nested()
        e = self.conditional()  # tlexpr: `c ? a : b` and `??` are below `or`
        self.depth -= 1
        return e

    def binary(self, min_prec: int) -> ast.Expr:
        tok = self.tok
        if tok.kind is TK.NOT and min_prec <= _NOT_PREC:
            self.advance()
            self.nested()
            left: ast.Expr = ast.Unary(tok.line, tok.col, "not", self.binary(_NOT_PREC))
            self.depth -= 1
        else:
            left = self.unary()
        prec_of = _BINARY_PREC.get
        while True:
            op = self.tok
            p = prec_of(op.kind)
            if p is None and op.kind is TK.SEMI and self.nl_ok and op.text != ";":
                # In brackets, an operator may start the continuation line.
                p = prec_of(self.peek().kind)
                if p is not None and p >= min_prec:
                    self.advance()
                    op = self.tok
            if p is None or p < min_prec:
                return left
            self.advance()
            right = self.binary(p + 1)
            node = ast.Logical if p <= _LOGICAL_PREC else ast.Binary
            left = node(op.line, op.col, op.text, left, right)

    def unary(self) -> ast.Expr:
        tok = self.tok
        k = tok.kind
        if k in _PREFIX:
            self.advance()
            nxt = self.tok
            if k is TK.MINUS and nxt.kind is TK.INT and nxt.value == _INT_MIN_MAGNITUDE:
                # `-9223372036854775808` is the one literal that needs the minus to fit.
                if self.peek().kind not in (TK.LPAREN, TK.LBRACKET, TK.DOT):
                    self.advance()
                    return ast.IntLit(tok.line, tok.col, -_INT_MIN_MAGNITUDE)
            self.nested()
            operand = self.unary()
            self.depth -= 1
            if k is TK.AWAIT:
                return ast.Await(tok.line, tok.col, operand)
            if k is TK.SPAWN:
                if not isinstance(operand, ast.Call):
                    self.report(tok, "spawn needs a call")
                return ast.Spawn(tok.line, tok.col, operand)
            return ast.Unary(tok.line, tok.col, tok.text, operand)
        if k is TK.YIELD:
            self.advance()
            nxt = self.tok
            bare = nxt.kind in _YIELD_END or nxt.line > tok.line
            return ast.Yield(tok.line, tok.col, None if bare else self.expr())
        e = self.primary()
        while True:  # postfix operators
            tok = self.tok
            k = tok.kind
            if k is TK.LPAREN:
                self.advance()
                args = self.call_args()  # tlexpr: named arguments
                e = ast.Call(tok.line, tok.col, e, args)
            elif k is TK.LBRACKET:
                self.advance()
                index = self.bracketed(self.expr_in_brackets)
                self.expect(TK.RBRACKET, "after index")
                e = ast.Index(tok.line, tok.col, e, index)
            elif k is TK.DOT:
                self.advance()
                if self.tok.kind is TK.INT:  # a tuple element, `t.0` (tltuple)
                    e = self.element(e)
                    continue
                name = self.name_like("field name after '.'")
                e = ast.Field(name.line, name.col, e, name.text)
                if self.tok.kind is TK.LT:  # tldefault: `b.map<int>(f)`, `lib.Stack<int>()`
                    e.type_args = self.explicit_type_args()
            elif k is TK.SEMI and self.continued_by(TK.DOT, TK.QDOT):
                pass  # a method chain continued on the next line, in brackets
            elif k is TK.QDOT or k is TK.BANG or (k is TK.QUESTION and self.adjacent_bracket()):
                e = self.nil_postfix(e)  # tlexpr: `?.`, `!`, `?[`
            else:
                return self.power(e)  # tlexpr: `**` binds tighter than a prefix on its left

    def expr_in_brackets(self) -> ast.Expr:
        self.skip_newlines()
        e = self.expr()
        self.skip_newlines()
        return e

    def primary(self) -> ast.Expr:
        tok = self.tok
        k = tok.kind
        line, col = tok.line, tok.col
        if k is TK.IDENT:
            self.advance()
            name = ast.Name(line, col, tok.value)
            if self.tok.kind is TK.LT:
                name.type_args = self.explicit_type_args(True)
            name.called = self.tok.kind is TK.LPAREN  # tldefault (generics.py e_Name)
            return name
        if k is TK.INT:
            self.advance()
            if tok.value == _INT_MIN_MAGNITUDE:  # not directly negated (see unary)
                self.report(tok, "integer literal too large")
            return ast.IntLit(line, col, tok.value)
        if k is TK.FLOAT:
            self.advance()
            return ast.FloatLit(line, col, tok.value)
        if k is TK.STRING:
            self.advance()
            return ast.StrLit(line, col, tok.value)
        if k is TK.INTERP:
            return self.interpolation()
        if k is TK.TRUE or k is TK.FALSE:
            self.advance()
            return ast.BoolLit(line, col, k is TK.TRUE)
        if k is TK.NIL:
            self.advance()
            return ast.NilLit(line, col)
        if k is TK.SELF:
            self.advance()
            return ast.SelfExpr(line, col)
        if k is TK.SUPER:
            self.advance()
            if not self.accept(TK.DOT):
                self.fail("expected '.' after 'super'", tok)
            return ast.SuperField(line, col, self.name_like("method name after 'super.'").text)
        if k is TK.LPAREN:
            self.advance()
            e = self.bracketed(self.expr_in_brackets)
            if self.tok.kind is TK.COMMA:  # a tuple (tltuple)
                return self.bracketed(lambda: self.tuple_rest(line, col, e))
            self.expect(TK.RPAREN, "after expression")
            return e
        if k is TK.LBRACKET:
            self.advance()
            return self.bracketed(lambda: self.array_or_map(line, col))
        if k is TK.LBRACE and not self.no_record:
            self.advance()
            fields = self.bracketed(lambda: self.record_fields(self.expr, "literal"))
            return ast.RecordLit(line, col, fields)
        if k is TK.FN or (k is TK.ASYNC and self.peek().kind is TK.FN):
            return self.lambda_()
        if k is TK.ASYNC:
            self.advance()
            self.fail_expected("'fn' after 'async'")
        self.fail_expected("expression")

    def array_or_map(self, line: int, col: int) -> ast.Expr:
        """After `[`: `[]`, `[:]`, `[a, b]` or `[k: v, ...]`, with trailing commas."""
        self.skip_newlines()
        if self.accept(TK.RBRACKET):
            return ast.ArrayLit(line, col, [])
        if self.tok.kind is TK.COLON and self.peek().kind is TK.RBRACKET:
            self.advance()
            self.advance()
            return ast.MapLit(line, col, [])
        first = self.expr()
        self.skip_newlines()
        if not self.accept(TK.COLON):
            return ast.ArrayLit(line, col, [first, *self.rest(self.expr, "',' or ']' after array element")])

        def entry() -> tuple[ast.Expr, ast.Expr]:
            key = self.expr()
            self.skip_newlines()
            self.expect(TK.COLON, "after map key")
            return key, self.expr()

        entries = [(first, self.expr())]
        return ast.MapLit(line, col, entries + self.rest(entry, "',' or ']' after map entry"))

    def rest(self, item: Callable[[], T], what: str) -> list[T]:
        """The items of a `[...]` literal after its first one, and the `]`."""
        self.skip_newlines()
        if self.accept(TK.COMMA):
            return self.seq(TK.RBRACKET, item, what)
        if not self.accept(TK.RBRACKET):
            self.fail_expected(what)
        return []

    def record_fields(self, value: Callable[[], T], what: str) -> list[tuple[str, T]]:
        """After `{`: `name: value, ...` up to `}`, for record literals and types."""
        seen: set[str] = set()

        def field() -> tuple[str, T]:
            name = self.name_like(f"field name in record {what}")
            self.expect(TK.COLON, "after record field name")
            if name.text in seen:
                self.report(name, f"duplicate field '{name.text}' in record {what}")
            seen.add(name.text)
            return name.text, value()

        return self.seq(TK.RBRACE, field, f"',' or '}}' in record {what}")

    def lambda_(self) -> ast.Lambda:
        start = self.tok
        is_async = self.accept(TK.ASYNC)
        self.advance()  # `fn`
        params, ret = self.signature("after 'fn'")
        body: ast.Block | ast.Expr
        if self.accept(TK.FAT_ARROW):
            saved, self.no_record = self.no_record, False
            body = self.expr()
            self.no_record = saved
        elif self.tok.kind is TK.LBRACE:
            body = self.block("")
        else:
            self.fail_expected("'=>' or '{' after lambda parameters")
        for p in params:  # tlexpr: a lambda is called as a value, so nothing could fill them
            if p.default is not None:
                self.report(_tok_at(p.default), "a lambda's parameters cannot have default values")
        return ast.Lambda(start.line, start.col, params, ret, body, is_async)

    def interpolation(self) -> ast.Interp:
        tok = self.advance()
        parts: list[str | ast.Expr] = []
        for part in tok.value:
            if isinstance(part, str):
                parts.append(part)
                continue
            saved = (self.toks, self.pos, self.tok, self.no_record, self.nl_ok)
            self.toks, self.pos, self.tok, self.no_record, self.nl_ok = part, 0, part[0], False, False
            try:
                if self.tok.kind is TK.EOF:
                    self.fail("expected expression in '${}'")
                value = self.expr()
                if self.tok.kind is TK.FORMAT_SPEC:  # tlexpr: `${x:8.2f}`
                    spec = self.advance()
                    value = ast.Formatted(spec.line, spec.col, value, spec.value)
                parts.append(value)
                if self.tok.kind is not TK.EOF:
                    self.fail_expected("'}' after interpolated expression")
            finally:
                self.toks, self.pos, self.tok, self.no_record, self.nl_ok = saved
        return ast.Interp(tok.line, tok.col, parts)

    # ------------------------------------------------------------------ types

    def parse_type(self) -> ast.TypeExpr:
        self.nested()
        t = self.type_atom()
        levels = 1
        while self.tok.kind is TK.QUESTION or self.tok.kind is TK.QQ:  # `int??`: each `?` is a level
            for _ in range(1 + (self.advance().kind is TK.QQ)):  # (the lexer makes `??` one token)
                self.nested()
                levels += 1
                t = ast.OptionalType(t.line, t.col, t)
        self.depth -= levels
        return t

    def type_atom(self) -> ast.TypeExpr:
        tok = self.tok
        k = tok.kind
        line, col = tok.line, tok.col
        if k is TK.IDENT or k is TK.NIL:
            self.advance()
            args: list[ast.TypeExpr] = []
            if k is TK.IDENT and self.accept(TK.LT):
                args.append(self.parse_type())
                while self.accept(TK.COMMA):
                    args.append(self.parse_type())
                self.close_angle()
            return ast.NamedType(line, col, tok.text, args)
        if k is TK.LBRACKET:
            self.advance()
            elem = self.parse_type()
            if self.accept(TK.COLON):
                value = self.parse_type()
                self.expect(TK.RBRACKET, "after map value type")
                return ast.MapType(line, col, elem, value)
            self.expect(TK.RBRACKET, "after array element type")
            return ast.ArrayType(line, col, elem)
        if k is TK.LBRACE:
            self.advance()
            return ast.RecordType(line, col, self.record_fields(self.parse_type, "type"))
        if k is TK.FN:
            self.advance()
            self.expect(TK.LPAREN, "after 'fn' in a function type")
            params = self.seq(TK.RPAREN, self.fn_type_param, "',' or ')' in function type")
            return ast.FnType(line, col, params, self.parse_type() if self.accept(TK.ARROW) else None)
        if k is TK.LPAREN:  # grouping, e.g. `(fn() -> int)?`
            self.advance()
            t = self.parse_type()
            if self.tok.kind is TK.COMMA:  # a tuple type (tltuple)
                self.advance()
                elems = [t, *self.seq(TK.RPAREN, self.parse_type, "',' or ')' in tuple type")]
                return ast.TupleType(line, col, elems)
            self.expect(TK.RPAREN, "after type")
            return t
        self.fail_expected("type")

    # ------------------------------------------------------------------ tuples
    # Issue 18, helper tltuple. Destructuring is desugared here: `let (q, r) =
    # e` declares a hidden `$d<line>_<col>` holding Unpack(e), then `let q =
    # $d.0`, `let r = $d.1` (`$d[0]`... for `[a, b]`); `_` binds nothing. A
    # `$` name cannot be written in source, so it clashes with nothing.

    def add_statement(self, out: list[ast.Stmt], s: ast.Stmt | list[ast.Stmt]) -> None:
        if type(s) is list:
            out.extend(s)
        else:
            out.append(s)  # type: ignore[arg-type]

    def tuple_rest(self, line: int, col: int, first: ast.Expr) -> ast.TupleLit:
        """After `(first`: `, b, c)` or `,)`."""
        self.advance()  # the comma
        items = [first, *self.seq(TK.RPAREN, self.expr, "',' or ')' after tuple element")]
        return ast.TupleLit(line, col, items)

    def element(self, obj: ast.Expr) -> ast.Field:
        tok = self.advance()
        if tok.text != "0" and tok.text.startswith("0") or not tok.text.isdigit():
            self.report(tok, f"invalid tuple element index '{tok.text}'")
        return ast.Field(tok.line, tok.col, obj, str(tok.value))

    def pattern_names(self) -> tuple[list[Token], int]:
        """`(a, b)` or `[a, b]`: the names and the kind (0 tuple, 1 array)."""
        open_tok = self.advance()
        kind = 0 if open_tok.kind is TK.LPAREN else 1
        close = TK.RPAREN if kind == 0 else TK.RBRACKET
        names = self.bracketed(lambda: self.seq(close, lambda: self.ident("a name in the pattern"), "',' or '" + ")]"[kind] + "' in the pattern"))
        if not names:
            self.report(open_tok, "a destructuring pattern needs at least one name")
        seen: set[str] = set()
        for n in names:
            if n.value in seen and n.value != "_":
                self.report(n, f"'{n.value}' appears twice in the pattern")
            seen.add(n.value)
        return names, kind

    def destructure(self, start: Token, kw: Token, exported: bool) -> list[ast.Stmt]:
        mutable = kw.kind is TK.VAR
        if exported:
            self.report(start, "a destructuring declaration cannot be exported")
        names, kind = self.pattern_names()
        if self.tok.kind is TK.COLON:
            self.fail("a destructuring pattern takes no type annotation (annotate the value instead)")
        self.expect(TK.ASSIGN, "after the destructuring pattern")
        init = self.expr()
        hidden = f"$d{start.line}_{start.col}"
        out: list[ast.Stmt] = [ast.VarDecl(start.line, start.col, False, hidden, None, ast.Unpack(init.line, init.col, init, len(names), kind))]
        for i, n in enumerate(names):
            if n.value == "_":
                continue
            src = ast.Name(n.line, n.col, hidden)
            value: ast.Expr = ast.Field(n.line, n.col, src, str(i)) if kind == 0 else ast.Index(n.line, n.col, src, ast.IntLit(n.line, n.col, i))
            out.append(ast.VarDecl(n.line, n.col, mutable, n.value, None, value))
        return out

    def for_pattern(self, line: int, col: int) -> ast.For:
        """`for (a, b) in xs`, `for k, v in m`, `for i, x in xs`."""
        if self.tok.kind is TK.LPAREN:
            names, _ = self.pattern_names()
            pairs = False
        else:
            names = [self.advance()]
            self.advance()  # the comma
            names.append(self.ident("second loop variable after ','"))
            if names[0].value == names[1].value and names[0].value != "_":
                self.report(names[1], f"'{names[1].value}' appears twice in the pattern")
            pairs = True
        self.expect(TK.IN, "after the loop variables")
        iterable = self.condition()
        body = self.block("after the for-in expression")
        hidden = f"$f{line}_{col}"
        first = names[0]
        decls: list[ast.Stmt] = []
        for i, n in enumerate(names):
            if n.value == "_":
                continue
            src: ast.Expr = ast.Name(n.line, n.col, hidden)
            if not pairs and not decls and i == 0:
                src = ast.Unpack(n.line, n.col, src, len(names), 0)
            decls.append(ast.VarDecl(n.line, n.col, True, n.value, None, ast.Field(n.line, n.col, src, str(i))))
        if not pairs and (not decls or names[0].value == "_"):
            # The arity is checked once per element even when the first name is `_`.
            decls.insert(0, ast.ExprStmt(first.line, first.col, ast.Unpack(first.line, first.col, ast.Name(first.line, first.col, hidden), len(names), 0)))
        if pairs:
            iterable = ast.Pairs(iterable.line, iterable.col, iterable)
        body = ast.Block(body.line, body.col, decls + body.stmts)
        return ast.For(line, col, hidden, first.line, first.col, iterable, body)

    def fn_type_param(self) -> ast.TypeExpr:
        if self.tok.kind is TK.IDENT and self.peek().kind is TK.COLON:
            self.advance()  # an optional parameter name: `fn(x: int) -> int`
            self.advance()
        return self.parse_type()

    def close_angle(self) -> None:
        """Consume the `>` closing type arguments, splitting `>>` and `>=` tokens
        (`Chan<Task<int>>`, `var c: Chan<int>= Chan()`)."""
        tok = self.tok
        if self.accept(TK.GT):
            return
        rest = {TK.SHR: (TK.GT, ">"), TK.GE: (TK.ASSIGN, "=")}.get(tok.kind)
        if rest is None:
            self.fail_expected("'>' to close type arguments")
        self.tok = self.toks[self.pos] = Token(rest[0], rest[1], None, tok.line, tok.col + 1)


# --------------------------------------------------------------------------- API

    # ------------------------------------------------------------------ tlenum (1.1)

    def enum_decl(self, start: Token, exported: bool) -> ast.EnumDecl:
        return enums_syntax.enum_decl(self, start, exported)

    def static_member(self) -> ast.Stmt:
        return enums_syntax.static_member(self)

    def at_match(self) -> bool:
        return enums_syntax.at_match(self)

    def match_stmt(self) -> ast.Match:
        return enums_syntax.match_stmt(self)


def _run(parser: Parser, path: str, bag: DiagnosticBag) -> ast.Module:
    # The tree has no reference cycles; pausing the cyclic GC while it is built
    # avoids repeated rescans of a fast-growing heap (as in the lexer).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with recursion_room(FRAMES_PER_LEVEL * MAX_DEPTH):
            return parser.parse_module()
    except RecursionError:  # MAX_DEPTH should prevent this; never crash the host
        tok = parser.tok
        bag.error(tok.line, tok.col, "expression nested too deeply")
        return ast.Module(1, 1, path, [])
    finally:
        if gc_was_enabled:
            gc.enable()


def parse(source: str, path: str, bag: DiagnosticBag) -> ast.Module:
    """Lex and parse one TinyLang file; errors are recorded in `bag`."""
    return _run(Parser(Lexer(source, bag).tokenize(), path, bag), path, bag)


def is_incomplete(source: str) -> bool:
    """True when `source` ends inside a construct that more input could complete:
    an open `(`/`[`/`{`, an unterminated block comment, or after a token that
    needs an operand (a binary operator, `=`, `,`, `->`, `=>`, ...).

    Implemented as "every syntax error is at the real end of input": an error at a
    `;` the lexer inserted at the end means a newline would end the statement
    anyway, so more lines cannot help. Lexical errors mean erroneous, not
    incomplete (except an unterminated block comment).
    """
    bag = DiagnosticBag("<input>")
    lexer = Lexer(source, bag)
    toks = lexer.tokenize()
    if lexer.unterminated_comment:
        return True
    if bag.items:
        return False
    parser = Parser(toks, "<input>", bag)
    _run(parser, "<input>", bag)
    return bool(parser.error_tokens) and all(t.kind is TK.EOF and t.text == "" for t in parser.error_tokens)
