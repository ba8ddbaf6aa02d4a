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
(`a < b < c` is `(a < b) < c`). `yield` takes a whole expression (`yield a + b`).

Node positions. Every node carries the line/col of its first token, except the
nodes for an *operation*, which carry the position of the operator so that
runtime error carets point at it (`a / b` points at `/`):
`Binary` and `Logical` (the operator), `Unary` (the operator, which is also its
first token), `Call` (the `(`), `Index` (the `[`), `Field` (the field name).
Statements carry their first token (`export` for an exported declaration, the
target's first token for `Assign`). `Try.catch_line/col` is the catch variable's
position, or the `catch` keyword's when there is no variable. A negated
`-9223372036854775808` is folded into one `IntLit` at the `-`.

Condition expressions (`if`, `while`, `for ... in`, select cases) are parsed
with `no_record` set: there a `{` ends the expression (it opens the block), as in
Go and Rust. Any bracket, call, lambda body or block resets the flag inside it.

Error recovery: the first error in a statement is recorded and a `_ParseError`
unwinds to the innermost statement loop (block, class body, select, module),
which skips to the next `;` or `}` at the statement's own nesting level, or to a
statement keyword that starts a line. So each statement reports at most one
syntax error, and every statement of a file gets checked. Nesting deeper than
`MAX_DEPTH` is reported as "expression nested too deeply" instead of recursing.
"""

from __future__ import annotations

import gc
import sys

from ..diagnostics import DiagnosticBag
from . import ast
from .lexer import Lexer
from .tokens import KEYWORDS, SPELLING, TK, Token, describe

__all__ = ["parse", "is_incomplete", "Parser", "MAX_DEPTH"]

MAX_DEPTH = 200
_INT_MIN_MAGNITUDE = 2**63
# Python frames per nesting level are ~7; this leaves room for MAX_DEPTH levels.
_RECURSION_LIMIT = 20_000

_BINARY_PREC: dict[TK, int] = {
    TK.OR: 1, TK.AND: 2,
    # 3 is prefix `not`
    TK.EQ: 4, TK.NE: 4, TK.LT: 4, TK.LE: 4, TK.GT: 4, TK.GE: 4, TK.IS: 4,
    TK.DOTDOT: 5, TK.DOTDOTEQ: 5,
    TK.PIPE: 6, TK.CARET: 7, TK.AMP: 8, TK.SHL: 9, TK.SHR: 9,
    TK.PLUS: 10, TK.MINUS: 10, TK.STAR: 11, TK.SLASH: 11, TK.PERCENT: 11,
}  # fmt: skip
_NOT_PREC = 3

_ASSIGN_OPS = {TK.ASSIGN, TK.PLUS_EQ, TK.MINUS_EQ, TK.STAR_EQ, TK.SLASH_EQ, TK.PERCENT_EQ}
_STMT_END = {TK.SEMI, TK.RBRACE, TK.EOF}
_YIELD_END = {TK.SEMI, TK.RBRACE, TK.RPAREN, TK.RBRACKET, TK.COMMA, TK.COLON, TK.EOF}
_KEYWORD_KINDS = frozenset(KEYWORDS.values())
# Recovery stops before one of these when it is the first token on its line.
_SYNC_KEYWORDS = {
    TK.LET, TK.VAR, TK.FN, TK.CLASS, TK.IF, TK.WHILE, TK.FOR, TK.RETURN, TK.THROW,
    TK.TRY, TK.IMPORT, TK.FROM, TK.EXPORT, TK.SELECT, TK.BREAK, TK.CONTINUE, TK.ASYNC,
}  # fmt: skip


class _ParseError(Exception):
    """Unwinds to the innermost statement loop; the error is already recorded."""


class Parser:
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

    def peek(self, k: int = 1) -> Token:
        toks = self.toks
        return toks[min(self.pos + k, len(toks) - 1)]

    def fail(self, message: str, tok: Token | None = None) -> None:
        """Record a syntax error at `tok` (default: the current token) and unwind."""
        tok = tok or self.tok
        if tok.kind is TK.ERROR:
            pass  # the lexer already reported this spot
        elif tok.kind is TK.EOF:
            if not self.eof_reported:
                self.eof_reported = True
                self.report(tok, message)
        else:
            self.report(tok, message)
        raise _ParseError

    def report(self, tok: Token, message: str) -> None:
        """Record an error without unwinding (the construct is still usable)."""
        self.error_tokens.append(tok)
        self.bag.error(tok.line, tok.col, message)

    def expect(self, kind: TK, context: str) -> Token:
        if self.tok.kind is kind:
            return self.advance()
        self.fail(f"expected '{SPELLING[kind]}' {context}, found {describe(self.tok)}")
        raise AssertionError  # unreachable

    def ident(self, what: str) -> Token:
        if self.tok.kind is TK.IDENT:
            return self.advance()
        self.fail(f"expected {what}, found {describe(self.tok)}")
        raise AssertionError  # unreachable

    def name_like(self, what: str) -> Token:
        """A field name: an identifier or a keyword (`r.default`, `{in: 1}`)."""
        k = self.tok.kind
        if k is TK.IDENT or k in _KEYWORD_KINDS:
            return self.advance()
        self.fail(f"expected {what}, found {describe(self.tok)}")
        raise AssertionError  # unreachable

    def skip_newlines(self) -> None:
        """Skip `;` the lexer inserted: bracketed constructs may span lines."""
        while self.tok.kind is TK.SEMI and self.tok.text != ";":
            self.advance()

    def save(self) -> tuple:
        return (self.depth, self.no_record, self.nl_ok, self.block_depth)

    def restore(self, saved: tuple) -> None:
        self.depth, self.no_record, self.nl_ok, self.block_depth = saved

    def enter_brackets(self) -> tuple[bool, bool]:
        """Inside ( ) [ ] { record }: records allowed again, newlines insignificant."""
        saved = (self.no_record, self.nl_ok)
        self.no_record = False
        self.nl_ok = True
        return saved

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail("expression nested too deeply")

    # ------------------------------------------------------------------ statements

    def parse_module(self) -> ast.Module:
        return ast.Module(1, 1, self.path, self.statements(top=True))

    def statements(self, top: bool) -> list[ast.Stmt]:
        """Statements up to a `}` (left in place) or end of file."""
        out: list[ast.Stmt] = []
        while True:
            k = self.tok.kind
            if k is TK.SEMI:
                self.advance()
                continue
            if k is TK.EOF:
                return out
            if k is TK.RBRACE:
                if not top:
                    return out
                self.report(self.tok, "unexpected '}' (no open block to close)")
                self.advance()
                continue
            start = self.pos
            saved = self.save()
            try:
                out.append(self.statement())
                self.end_statement()
            except _ParseError:
                self.restore(saved)
                self.sync(start)

    def at_statement_end(self) -> bool:
        tok = self.tok
        if tok.kind in _STMT_END:
            return True
        # `?` does not insert a `;`, so `var x: int?` then a newline ends here.
        prev = self.toks[self.pos - 1]
        return prev.kind is TK.QUESTION and prev.line < tok.line

    def end_statement(self) -> None:
        if self.tok.kind is TK.SEMI:
            self.advance()
        elif not self.at_statement_end():
            self.fail(f"expected newline or ';' after statement, found {describe(self.tok)}")

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
        for t in toks[start : self.pos]:
            k = t.kind
            if k is TK.LBRACE:
                braces += 1
            elif k is TK.RBRACE:
                braces = max(braces - 1, 0)
            elif k is TK.LPAREN or k is TK.LBRACKET:
                parens += 1
            elif (k is TK.RPAREN or k is TK.RBRACKET) and parens > 0:
                parens -= 1
        first = self.pos == start  # always make progress
        while True:
            tok = self.tok
            k = tok.kind
            if k is TK.EOF:
                return
            if not first and braces == 0:
                if k is TK.SEMI and (parens == 0 or tok.text != ";"):
                    self.advance()
                    return
                if k is TK.RBRACE:
                    nxt = self.peek()
                    typo = parens > 0 and nxt.line == tok.line and nxt.kind in (TK.RPAREN, TK.RBRACKET)
                    if not typo:  # `f(x})` is a typo; otherwise it closes our block
                        return
                if (
                    k in _SYNC_KEYWORDS
                    and toks[self.pos - 1].line < tok.line
                    and not (k is TK.FN and self.peek().kind is TK.LPAREN)
                ):
                    return
            first = False
            if k is TK.LBRACE:
                braces += 1
            elif k is TK.RBRACE:
                braces = max(braces - 1, 0)
            elif k is TK.LPAREN or k is TK.LBRACKET:
                parens += 1
            elif (k is TK.RPAREN or k is TK.RBRACKET) and parens > 0:
                parens -= 1
            self.advance()

    def statement(self) -> ast.Stmt:
        tok = self.tok
        k = tok.kind
        if k is TK.LET or k is TK.VAR:
            return self.var_decl(tok, False)
        if k is TK.FN and self.peek().kind is TK.IDENT:
            return self.fn_decl(tok, False)
        if k is TK.ASYNC and self.peek().kind is TK.FN and self.peek(2).kind is TK.IDENT:
            return self.fn_decl(tok, False)
        if k is TK.IF:
            return self.if_stmt()
        if k is TK.WHILE:
            self.advance()
            cond = self.condition()
            return ast.While(tok.line, tok.col, cond, self.block("after while condition"))
        if k is TK.FOR:
            return self.for_stmt()
        if k is TK.RETURN:
            self.advance()
            value = None if self.tok.kind in _STMT_END else self.expr()
            return ast.Return(tok.line, tok.col, value)
        if k is TK.BREAK:
            self.advance()
            return ast.Break(tok.line, tok.col)
        if k is TK.CONTINUE:
            self.advance()
            return ast.Continue(tok.line, tok.col)
        if k is TK.THROW:
            self.advance()
            return ast.Throw(tok.line, tok.col, self.expr())
        if k is TK.TRY:
            return self.try_stmt()
        if k is TK.LBRACE:
            return self.block("")
        if k is TK.CLASS:
            return self.class_decl(tok, False)
        if k is TK.EXPORT:
            return self.export()
        if k is TK.IMPORT:
            return self.import_stmt()
        if k is TK.FROM:
            return self.from_import()
        if k is TK.SELECT:
            return self.select()
        if k is TK.ELSE:
            self.fail("'else' must be on the same line as the '}' closing the if block")
        if k is TK.CATCH or k is TK.FINALLY:
            self.fail(f"'{tok.text}' must be on the same line as the '}}' closing the try block")
        if k is TK.CASE or k is TK.DEFAULT:
            self.fail(f"'{tok.text}' outside of a select")
        # expression statement or assignment
        target = self.expr()
        if self.tok.kind in _ASSIGN_OPS:
            op = self.advance()
            if not isinstance(target, (ast.Name, ast.Index, ast.Field)):
                self.report(tok, "invalid assignment target")
            value = self.expr()
            return ast.Assign(tok.line, tok.col, target, op.text, value)
        return ast.ExprStmt(tok.line, tok.col, target)

    def block(self, context: str) -> ast.Block:
        open_tok = self.tok
        if open_tok.kind is not TK.LBRACE:
            where = f" {context}" if context else ""
            self.fail(f"expected '{{'{where}, found {describe(open_tok)}")
        self.nested()
        self.advance()
        saved = (self.no_record, self.nl_ok)
        self.no_record = self.nl_ok = False
        self.block_depth += 1
        stmts = self.statements(top=False)
        self.block_depth -= 1
        self.no_record, self.nl_ok = saved
        if self.tok.kind is not TK.RBRACE:
            self.fail(
                f"expected '}}' to close the block opened at {open_tok.line}:{open_tok.col}, "
                f"found {describe(self.tok)}"
            )
        self.advance()
        self.depth -= 1
        return ast.Block(open_tok.line, open_tok.col, stmts)

    def var_decl(self, start: Token, exported: bool) -> ast.VarDecl:
        kw = self.advance()
        mutable = kw.kind is TK.VAR
        name = self.ident(f"variable name after '{kw.text}'")
        type_ = None
        if self.tok.kind is TK.COLON:
            self.advance()
            type_ = self.parse_type()
        init = None
        if self.tok.kind is TK.ASSIGN:
            self.advance()
            init = self.expr()
        elif not self.at_statement_end():
            self.fail(f"expected '=' in variable declaration, found {describe(self.tok)}")
        elif not mutable:
            self.report(kw, "'let' needs an initializer")
            init = ast.NilLit(kw.line, kw.col)
        return ast.VarDecl(start.line, start.col, mutable, name.value, type_, init, exported)

    def params(self, context: str) -> list[ast.Param]:
        self.expect(TK.LPAREN, context)
        params: list[ast.Param] = []
        self.skip_newlines()
        while self.tok.kind is not TK.RPAREN:
            name = self.ident("parameter name")
            type_ = None
            if self.tok.kind is TK.COLON:
                self.advance()
                type_ = self.parse_type()
            params.append(ast.Param(name.line, name.col, name.value, type_))
            self.skip_newlines()
            if self.tok.kind is not TK.COMMA:
                break
            self.advance()
            self.skip_newlines()
        if self.tok.kind is not TK.RPAREN:
            self.fail(f"expected ',' or ')' after parameter, found {describe(self.tok)}")
        self.advance()
        return params

    def fn_decl(self, start: Token, exported: bool) -> ast.FnDecl:
        is_async = self.tok.kind is TK.ASYNC
        if is_async:
            self.advance()
        self.expect(TK.FN, "after 'async'")
        name = self.ident("function name after 'fn'")
        params = self.params("after function name")
        ret = None
        if self.tok.kind is TK.ARROW:
            self.advance()
            ret = self.parse_type()
        body = self.block("to start the function body")
        return ast.FnDecl(start.line, start.col, name.value, params, ret, body, is_async, exported)

    def class_decl(self, start: Token, exported: bool) -> ast.ClassDecl:
        self.advance()
        name = self.ident("class name after 'class'")
        parent = None
        if self.tok.kind is TK.EXTENDS:
            self.advance()
            p = self.ident("parent class name after 'extends'")
            parent = ast.Name(p.line, p.col, p.value)
        self.expect(TK.LBRACE, "to start the class body")
        fields: list[ast.FieldDecl] = []
        methods: list[ast.FnDecl] = []
        self.block_depth += 1
        while True:
            tok = self.tok
            k = tok.kind
            if k is TK.SEMI:
                self.advance()
                continue
            if k is TK.RBRACE or k is TK.EOF:
                break
            start_pos = self.pos
            saved = self.save()
            try:
                if k is TK.VAR or k is TK.LET:
                    if k is TK.LET:
                        self.report(tok, "fields are declared with 'var'")
                    fields.append(self.field_decl())
                elif k is TK.FN or (k is TK.ASYNC and self.peek().kind is TK.FN):
                    methods.append(self.fn_decl(tok, False))
                else:
                    self.fail(f"expected 'var' or 'fn' in class body, found {describe(tok)}")
                self.end_statement()
            except _ParseError:
                self.restore(saved)
                self.sync(start_pos)
        self.block_depth -= 1
        self.expect(TK.RBRACE, "to close the class body")
        return ast.ClassDecl(start.line, start.col, name.value, parent, fields, methods, exported)

    def field_decl(self) -> ast.FieldDecl:
        kw = self.advance()
        name = self.ident("field name")
        type_ = default = None
        if self.tok.kind is TK.COLON:
            self.advance()
            type_ = self.parse_type()
        if self.tok.kind is TK.ASSIGN:
            self.advance()
            default = self.expr()
        return ast.FieldDecl(kw.line, kw.col, name.value, type_, default)

    def export(self) -> ast.Stmt:
        tok = self.advance()
        exported = True
        if self.block_depth > 0:
            self.report(tok, "export is only allowed at top level")
            exported = False
        k = self.tok.kind
        if k is TK.LET or k is TK.VAR:
            return self.var_decl(tok, exported)
        if k is TK.FN or (k is TK.ASYNC and self.peek().kind is TK.FN):
            return self.fn_decl(tok, exported)
        if k is TK.CLASS:
            return self.class_decl(tok, exported)
        self.fail(f"expected let, var, fn or class after 'export', found {describe(self.tok)}")
        raise AssertionError  # unreachable

    def module_path(self, after: str) -> tuple[str, bool]:
        tok = self.tok
        if tok.kind is TK.STRING:
            self.advance()
            return tok.value, True
        if tok.kind is TK.IDENT:
            self.advance()
            return tok.value, False
        if tok.kind is TK.INTERP:
            self.fail("an import path cannot use interpolation")
        self.fail(f"expected module name or file path after '{after}', found {describe(tok)}")
        raise AssertionError  # unreachable

    def import_stmt(self) -> ast.Import:
        tok = self.advance()
        if self.block_depth > 0:
            self.report(tok, "import is only allowed at top level")
        path, is_file = self.module_path("import")
        alias = path
        if self.tok.kind is TK.AS:
            self.advance()
            alias = self.ident("a name after 'as'").value
        elif is_file:
            self.fail(f"expected 'as NAME' after a file path in import, found {describe(self.tok)}")
        return ast.Import(tok.line, tok.col, path, alias, is_file)

    def from_import(self) -> ast.FromImport:
        tok = self.advance()
        if self.block_depth > 0:
            self.report(tok, "import is only allowed at top level")
        path, is_file = self.module_path("from")
        self.expect(TK.IMPORT, "after the module path")
        names = []
        while True:
            n = self.ident("a name to import")
            names.append((n.value, n.line, n.col))
            if self.tok.kind is not TK.COMMA:
                break
            self.advance()
        return ast.FromImport(tok.line, tok.col, path, names, is_file)

    def condition(self) -> ast.Expr:
        saved = self.no_record
        self.no_record = True
        e = self.expr()
        self.no_record = saved
        return e

    def if_stmt(self) -> ast.If:
        # Iterative over `else if` so long chains cost no recursion.
        chain: list[ast.If] = []
        while True:
            tok = self.advance()
            cond = self.condition()
            node = ast.If(tok.line, tok.col, cond, self.block("after if condition"), None)
            if chain:
                chain[-1].orelse = node
            chain.append(node)
            if self.tok.kind is not TK.ELSE:
                break
            self.advance()
            if self.tok.kind is not TK.IF:
                node.orelse = self.block("after 'else'")
                break
        return chain[0]

    def for_stmt(self) -> ast.For:
        tok = self.advance()
        var = self.ident("loop variable after 'for'")
        self.expect(TK.IN, "after the loop variable")
        iterable = self.condition()
        body = self.block("after the for-in expression")
        return ast.For(tok.line, tok.col, var.value, var.line, var.col, iterable, body)

    def try_stmt(self) -> ast.Try:
        tok = self.advance()
        body = self.block("after 'try'")
        catch_name = catch_body = finally_body = None
        catch_line = catch_col = 0
        if self.tok.kind is TK.CATCH:
            c = self.advance()
            catch_line, catch_col = c.line, c.col
            if self.tok.kind is TK.IDENT:
                n = self.advance()
                catch_name, catch_line, catch_col = n.value, n.line, n.col
            catch_body = self.block("after 'catch'")
        if self.tok.kind is TK.FINALLY:
            self.advance()
            finally_body = self.block("after 'finally'")
        if catch_body is None and finally_body is None:
            nxt = self.peek().kind if self.tok.kind is TK.SEMI else None
            if nxt is not TK.CATCH and nxt is not TK.FINALLY:  # else: reported there
                self.report(tok, "try needs a catch or a finally")
        return ast.Try(tok.line, tok.col, body, catch_name, catch_body, finally_body,
                       catch_line, catch_col)  # fmt: skip

    def select(self) -> ast.Select:
        tok = self.advance()
        self.expect(TK.LBRACE, "after 'select'")
        cases: list[ast.SelectCase] = []
        has_default = False
        self.block_depth += 1
        while True:
            c = self.tok
            k = c.kind
            if k is TK.SEMI:
                self.advance()
                continue
            if k is TK.RBRACE or k is TK.EOF:
                break
            start_pos = self.pos
            saved = self.save()
            try:
                if k is TK.CASE:
                    cases.append(self.select_case())
                elif k is TK.DEFAULT:
                    self.advance()
                    body = self.block("after 'default'")
                    if has_default:
                        self.report(c, "select has more than one default")
                    has_default = True
                    cases.append(ast.SelectCase(c.line, c.col, "default", None, None, None, body))
                else:
                    self.fail(f"expected 'case' or 'default' in select, found {describe(c)}")
            except _ParseError:
                self.restore(saved)
                self.sync(start_pos)
        self.block_depth -= 1
        self.expect(TK.RBRACE, "to close the select")
        return ast.Select(tok.line, tok.col, cases)

    def select_case(self) -> ast.SelectCase:
        c = self.advance()
        var = None
        if self.tok.kind is TK.IDENT and self.peek().kind is TK.ASSIGN:
            var = self.advance().value
            self.advance()
        first = self.tok
        e = self.condition()
        kind = None
        channel = value = None
        if isinstance(e, ast.Call):
            callee, args = e.callee, e.args
            if isinstance(callee, ast.Field) and callee.name == "recv" and not args:
                kind, channel = "recv", callee.obj
            elif var is None and isinstance(callee, ast.Field) and callee.name == "send" and len(args) == 1:
                kind, channel, value = "send", callee.obj, args[0]
            elif var is None and isinstance(callee, ast.Name) and callee.name == "sleep" and len(args) == 1:
                kind, value = "sleep", args[0]
        if kind is None:
            self.report(first, "a select case must be 'ch.recv()', 'v = ch.recv()', 'ch.send(v)' or 'sleep(ms)'")
            kind, channel = "recv", e
        body = self.block("after the select case")
        return ast.SelectCase(c.line, c.col, kind, var, channel, value, body)

    # ------------------------------------------------------------------ expressions

    def expr(self) -> ast.Expr:
        self.nested()
        e = self.binary(1)
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
            if p <= 2:
                left = ast.Logical(op.line, op.col, op.text, left, right)
            else:
                left = ast.Binary(op.line, op.col, op.text, left, right)

    def unary(self) -> ast.Expr:
        tok = self.tok
        k = tok.kind
        if k is TK.MINUS or k is TK.TILDE or k is TK.AWAIT or k is TK.SPAWN:
            self.advance()
            if k is TK.MINUS and self.tok.kind is TK.INT and self.tok.value == _INT_MIN_MAGNITUDE:
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
            value = None if self.tok.kind in _YIELD_END else self.expr()
            return ast.Yield(tok.line, tok.col, value)
        e = self.primary()
        while True:  # postfix operators
            tok = self.tok
            k = tok.kind
            if k is TK.LPAREN:
                self.advance()
                e = ast.Call(tok.line, tok.col, e, self.arguments())
            elif k is TK.LBRACKET:
                self.advance()
                saved = self.enter_brackets()
                index = self.expr()
                self.skip_newlines()
                self.no_record, self.nl_ok = saved
                self.expect(TK.RBRACKET, "after index")
                e = ast.Index(tok.line, tok.col, e, index)
            elif k is TK.SEMI and self.nl_ok and tok.text != ";" and self.peek().kind is TK.DOT:
                self.advance()  # a method chain continued on the next line, in brackets
            elif k is TK.DOT:
                self.advance()
                name = self.name_like("field name after '.'")
                e = ast.Field(name.line, name.col, e, name.text)
            else:
                return e

    def arguments(self) -> list[ast.Expr]:
        saved = self.enter_brackets()
        args: list[ast.Expr] = []
        self.skip_newlines()
        while self.tok.kind is not TK.RPAREN:
            args.append(self.expr())
            self.skip_newlines()
            if self.tok.kind is not TK.COMMA:
                break
            self.advance()
            self.skip_newlines()
        self.no_record, self.nl_ok = saved
        if self.tok.kind is not TK.RPAREN:
            self.fail(f"expected ')' after arguments, found {describe(self.tok)}")
        self.advance()
        return args

    def primary(self) -> ast.Expr:
        tok = self.tok
        k = tok.kind
        if k is TK.IDENT:
            self.advance()
            return ast.Name(tok.line, tok.col, tok.value)
        if k is TK.INT:
            self.advance()
            if tok.value == _INT_MIN_MAGNITUDE:  # not directly negated (see unary)
                self.report(tok, "integer literal too large")
            return ast.IntLit(tok.line, tok.col, tok.value)
        if k is TK.FLOAT:
            self.advance()
            return ast.FloatLit(tok.line, tok.col, tok.value)
        if k is TK.STRING:
            self.advance()
            return ast.StrLit(tok.line, tok.col, tok.value)
        if k is TK.INTERP:
            return self.interpolation()
        if k is TK.TRUE or k is TK.FALSE:
            self.advance()
            return ast.BoolLit(tok.line, tok.col, k is TK.TRUE)
        if k is TK.NIL:
            self.advance()
            return ast.NilLit(tok.line, tok.col)
        if k is TK.SELF:
            self.advance()
            return ast.SelfExpr(tok.line, tok.col)
        if k is TK.SUPER:
            self.advance()
            if self.tok.kind is not TK.DOT:
                self.fail("expected '.' after 'super'", tok)
            self.advance()
            name = self.name_like("method name after 'super.'")
            return ast.SuperField(tok.line, tok.col, name.text)
        if k is TK.LPAREN:
            self.advance()
            saved = self.enter_brackets()
            self.skip_newlines()
            e = self.expr()
            self.skip_newlines()
            self.no_record, self.nl_ok = saved
            self.expect(TK.RPAREN, "after expression")
            return e
        if k is TK.LBRACKET:
            return self.array_or_map()
        if k is TK.LBRACE and not self.no_record:
            return self.record()
        if k is TK.FN:
            return self.lambda_(tok, False)
        if k is TK.ASYNC:
            self.advance()
            if self.tok.kind is not TK.FN:
                self.fail(f"expected 'fn' after 'async', found {describe(self.tok)}")
            return self.lambda_(tok, True)
        self.fail(f"expected expression, found {describe(tok)}")
        raise AssertionError  # unreachable

    def array_or_map(self) -> ast.Expr:
        open_tok = self.advance()
        line, col = open_tok.line, open_tok.col
        saved = self.enter_brackets()
        self.skip_newlines()
        result: ast.Expr
        if self.tok.kind is TK.RBRACKET:
            result = ast.ArrayLit(line, col, [])
        elif self.tok.kind is TK.COLON and self.peek().kind is TK.RBRACKET:
            self.advance()
            result = ast.MapLit(line, col, [])
        else:
            first = self.expr()
            self.skip_newlines()
            if self.tok.kind is TK.COLON:
                self.advance()
                entries = [(first, self.expr())]
                self.skip_newlines()
                while self.tok.kind is TK.COMMA:
                    self.advance()
                    self.skip_newlines()
                    if self.tok.kind is TK.RBRACKET:
                        break
                    key = self.expr()
                    self.skip_newlines()
                    self.expect(TK.COLON, "after map key")
                    entries.append((key, self.expr()))
                    self.skip_newlines()
                what = "map entry"
                result = ast.MapLit(line, col, entries)
            else:
                items = [first]
                while self.tok.kind is TK.COMMA:
                    self.advance()
                    self.skip_newlines()
                    if self.tok.kind is TK.RBRACKET:
                        break
                    items.append(self.expr())
                    self.skip_newlines()
                what = "array element"
                result = ast.ArrayLit(line, col, items)
            if self.tok.kind is not TK.RBRACKET:
                self.fail(f"expected ',' or ']' after {what}, found {describe(self.tok)}")
        self.advance()
        self.no_record, self.nl_ok = saved
        return result

    def record(self) -> ast.RecordLit:
        open_tok = self.advance()
        saved = self.enter_brackets()
        fields: list[tuple[str, ast.Expr]] = []
        seen: set[str] = set()
        while True:
            self.skip_newlines()
            if self.tok.kind is TK.RBRACE:
                break
            name = self.name_like("field name in record literal")
            self.expect(TK.COLON, "after record field name")
            if name.text in seen:
                self.report(name, f"duplicate field '{name.text}' in record literal")
            seen.add(name.text)
            fields.append((name.text, self.expr()))
            self.skip_newlines()
            if self.tok.kind is not TK.COMMA:
                break
            self.advance()
        if self.tok.kind is not TK.RBRACE:
            self.fail(f"expected ',' or '}}' in record literal, found {describe(self.tok)}")
        self.advance()
        self.no_record, self.nl_ok = saved
        return ast.RecordLit(open_tok.line, open_tok.col, fields)

    def lambda_(self, start: Token, is_async: bool) -> ast.Lambda:
        self.advance()  # `fn`
        params = self.params("after 'fn'")
        ret = None
        if self.tok.kind is TK.ARROW:
            self.advance()
            ret = self.parse_type()
        body: ast.Block | ast.Expr
        if self.tok.kind is TK.FAT_ARROW:
            self.advance()
            saved_nr = self.no_record
            self.no_record = False
            body = self.expr()
            self.no_record = saved_nr
        elif self.tok.kind is TK.LBRACE:
            body = self.block("")
        else:
            self.fail(f"expected '=>' or '{{' after lambda parameters, found {describe(self.tok)}")
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
                    self.fail("expected expression in '${}', found '}'")
                parts.append(self.expr())
                if self.tok.kind is not TK.EOF:
                    self.fail(f"expected '}}' after interpolated expression, found {describe(self.tok)}")
            finally:
                self.toks, self.pos, self.tok, self.no_record, self.nl_ok = saved
        return ast.Interp(tok.line, tok.col, parts)

    # ------------------------------------------------------------------ types

    def parse_type(self) -> ast.TypeExpr:
        self.nested()
        t = self.type_atom()
        while self.tok.kind is TK.QUESTION:
            self.advance()
            t = ast.OptionalType(t.line, t.col, t)
        self.depth -= 1
        return t

    def type_atom(self) -> ast.TypeExpr:
        tok = self.tok
        k = tok.kind
        if k is TK.IDENT or k is TK.NIL:
            self.advance()
            args: list[ast.TypeExpr] = []
            if k is TK.IDENT and self.tok.kind is TK.LT:
                self.advance()
                while True:
                    args.append(self.parse_type())
                    if self.tok.kind is not TK.COMMA:
                        break
                    self.advance()
                self.close_angle()
            return ast.NamedType(tok.line, tok.col, tok.text, args)
        if k is TK.LBRACKET:
            self.advance()
            elem = self.parse_type()
            if self.tok.kind is TK.COLON:
                self.advance()
                value = self.parse_type()
                self.expect(TK.RBRACKET, "after map value type")
                return ast.MapType(tok.line, tok.col, elem, value)
            self.expect(TK.RBRACKET, "after array element type")
            return ast.ArrayType(tok.line, tok.col, elem)
        if k is TK.LBRACE:
            self.advance()
            fields: list[tuple[str, ast.TypeExpr]] = []
            seen: set[str] = set()
            while True:
                self.skip_newlines()
                if self.tok.kind is TK.RBRACE:
                    break
                name = self.name_like("field name in record type")
                self.expect(TK.COLON, "after record field name")
                if name.text in seen:
                    self.report(name, f"duplicate field '{name.text}' in record type")
                seen.add(name.text)
                fields.append((name.text, self.parse_type()))
                self.skip_newlines()
                if self.tok.kind is not TK.COMMA:
                    break
                self.advance()
            if self.tok.kind is not TK.RBRACE:
                self.fail(f"expected ',' or '}}' in record type, found {describe(self.tok)}")
            self.advance()
            return ast.RecordType(tok.line, tok.col, fields)
        if k is TK.FN:
            self.advance()
            self.expect(TK.LPAREN, "after 'fn' in a function type")
            params: list[ast.TypeExpr] = []
            while self.tok.kind is not TK.RPAREN:
                if self.tok.kind is TK.IDENT and self.peek().kind is TK.COLON:
                    self.advance()  # an optional parameter name: `fn(x: int)`
                    self.advance()
                params.append(self.parse_type())
                if self.tok.kind is not TK.COMMA:
                    break
                self.advance()
            self.expect(TK.RPAREN, "after function type parameters")
            ret = None
            if self.tok.kind is TK.ARROW:
                self.advance()
                ret = self.parse_type()
            return ast.FnType(tok.line, tok.col, params, ret)
        if k is TK.LPAREN:  # grouping, e.g. `(fn() -> int)?`
            self.advance()
            t = self.parse_type()
            self.expect(TK.RPAREN, "after type")
            return t
        self.fail(f"expected type, found {describe(tok)}")
        raise AssertionError  # unreachable

    def close_angle(self) -> None:
        """Consume the `>` closing type arguments, splitting `>>` and `>=` tokens
        (`Chan<Task<int>>`, `var c: Chan<int>= Chan()`)."""
        tok = self.tok
        if tok.kind is TK.GT:
            self.advance()
            return
        rest = {TK.SHR: (TK.GT, ">"), TK.GE: (TK.ASSIGN, "=")}.get(tok.kind)
        if rest is None:
            self.fail(f"expected '>' to close type arguments, found {describe(tok)}")
            return
        self.tok = Token(rest[0], rest[1], None, tok.line, tok.col + 1)
        self.toks[self.pos] = self.tok


# --------------------------------------------------------------------------- API


def _run(parser: Parser, path: str, bag: DiagnosticBag) -> ast.Module:
    old = sys.getrecursionlimit()
    if old < _RECURSION_LIMIT:
        sys.setrecursionlimit(_RECURSION_LIMIT)
    # The tree has no reference cycles; pausing the cyclic GC while it is built
    # avoids repeated rescans of a fast-growing heap (as in the lexer).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return parser.parse_module()
    except RecursionError:  # MAX_DEPTH should prevent this; never crash the host
        tok = parser.tok
        bag.error(tok.line, tok.col, "expression nested too deeply")
        return ast.Module(1, 1, path, [])
    finally:
        if gc_was_enabled:
            gc.enable()
        if old < _RECURSION_LIMIT:
            sys.setrecursionlimit(old)


def parse(source: str, path: str, bag: DiagnosticBag) -> ast.Module:
    """Lex and parse one TinyLang file; errors are recorded in `bag`."""
    lexer = Lexer(source, bag)
    return _run(Parser(lexer.tokenize(), path, bag), path, bag)


def is_incomplete(source: str) -> bool:
    """True when `source` ends inside a construct that more input could complete:
    an open `(`/`[`/`{`, an unterminated block comment, or after a token that
    needs an operand (a binary operator, `=`, `,`, `->`, `=>`, ...).

    Implemented as "every syntax error is at the real end of input": an error at a
    `;` the lexer inserted at the end means a newline would end the statement
    anyway, so more lines cannot help. Lexical errors mean erroneous, not
    incomplete.
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
    if not bag.items:
        return False
    return all(t.kind is TK.EOF for t in parser.error_tokens) and len(parser.error_tokens) == len(bag.items)
