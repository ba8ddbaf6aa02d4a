"""The parser's rules for TinyLang 1.1's expression syntax (spec section 13;
issue 18, helper tlexpr), mixed into `Parser` (parser.py):

* `conditional` and `coalesce`: `c ? a : b` (right-associative, the lowest
  precedence) over `a ?? b` (right-associative) over `or` (Parser.expr);
* `nil_postfix`: postfix `x!`, `a?.f`, `a?.m(args)` and `a?[i]` (a `?`
  directly followed by `[`: `adjacent_bracket`); `power`: `**`, tighter than a
  prefix operator on its left and right-associative (Parser.unary);
* `if_let`: `if let v = e { }`, rewritten into a hidden `let` and an `if`
  (Parser.if_stmt);
* `call_args`/`call_arg`: named arguments `name: value`; `check_defaults`:
  default parameter values come last (lang/tinylang/arguments.py binds
  them at the call).

The AST nodes are ast.py's tlexpr block; lang/tinylang/nilexpr.py checks
and emits them.
"""

from __future__ import annotations

from typing import Any

from . import ast
from .tokens import TK, Token


class Parse11:
    """Parser mixin (its state and helpers are Parser's)."""

    tok: Token
    toks: list[Token]
    nl_ok: bool
    advance: Any
    accept: Any
    expect: Any
    peek: Any
    nested: Any
    depth: int
    binary: Any
    unary: Any
    bracketed: Any
    seq: Any
    expr: Any
    expr_in_brackets: Any
    name_like: Any
    ident: Any
    report: Any
    condition: Any
    block: Any
    skip_newlines: Any
    continued_by: Any
    fail: Any

    def conditional(self) -> ast.Expr:
        """`cond ? a : b` (right-associative, lowest) over `??` (right-associative)
        over `or`. Inside brackets either may start a continuation line."""
        e = self.coalesce()
        self.continued_by(TK.QUESTION)
        q = self.tok
        if q.kind is not TK.QUESTION:
            return e
        self.advance()
        self.nested()
        then = self.conditional()
        if self.nl_ok:
            self.skip_newlines()
        if self.tok.kind is TK.FORMAT_SPEC:  # `"${c ? a : b}"`: the lexer took `: b}` as a spec
            self.fail("a ':' in '${...}' starts the format spec: put the conditional in parentheses")
        self.expect(TK.COLON, "in conditional expression ('c ? a : b')")
        orelse = self.conditional()
        self.depth -= 1
        return ast.Conditional(q.line, q.col, e, then, orelse)

    def coalesce(self) -> ast.Expr:
        left = self.binary(1)
        self.continued_by(TK.QQ)
        op = self.tok
        if op.kind is not TK.QQ:
            return left
        self.advance()
        self.nested()
        right = self.coalesce()
        self.depth -= 1
        return ast.Coalesce(op.line, op.col, left, right)

    def call_args(self) -> list[ast.Expr]:
        """After a call's `(`: arguments, then `name: value` named ones."""
        args = self.bracketed(lambda: self.seq(TK.RPAREN, self.call_arg, "')' after arguments"))
        named = False
        for a in args:
            if isinstance(a, ast.NamedArg):
                named = True
            elif named:
                self.report(_tok_at(a), "a positional argument cannot follow a named one")
                break
        return args

    def call_arg(self) -> ast.Expr:
        tok = self.tok
        if tok.kind is TK.IDENT and self.peek().kind is TK.COLON:
            self.advance()
            self.advance()
            return ast.NamedArg(tok.line, tok.col, tok.value, self.expr())
        return self.expr()

    def check_defaults(self, params: list[ast.Param]) -> None:
        """Parameters with defaults come last. (A default is any expression,
        evaluated at each call by the callee: lang/tinylang/arguments.py.)"""
        seen = False
        for p in params:
            if p.default is None:
                if seen:
                    self.report(_tok_at(p), "a parameter without a default cannot follow one with a default")
                    return
                continue
            seen = True

    def adjacent_bracket(self) -> bool:
        """`a?[i]`: a `?` directly followed by `[` (`c ? [1] : [2]` has a space)."""
        tok, nxt = self.tok, self.peek()
        return nxt.kind is TK.LBRACKET and nxt.line == tok.line and nxt.col == tok.col + 1

    def nil_postfix(self, e: ast.Expr) -> ast.Expr:
        """After `e`: `!`, `?.f`, `?.m(args)` or `?[i]`."""
        tok = self.advance()
        if tok.kind is TK.BANG:
            return ast.Unwrap(tok.line, tok.col, e)
        first = e  # the receiver's first token: where a method call's trace points
        while (left := ast.left_operand(first) if type(first) in ast.CHAIN_LINKS else None) is not None:
            first = left
        hole = ast.Hole(first.line, first.col)
        link: ast.Expr
        if tok.kind is TK.QDOT:
            name = self.name_like("field name after '?.'")
            link = ast.Field(name.line, name.col, hole, name.text)
            if self.tok.kind is TK.LPAREN:
                call = self.advance()
                link = ast.Call(call.line, call.col, link, self.call_args())
        else:  # `?[`
            bracket = self.advance()
            index = self.bracketed(self.expr_in_brackets)
            self.expect(TK.RBRACKET, "after index")
            link = ast.Index(bracket.line, bracket.col, hole, index)
        return ast.OptChain(tok.line, tok.col, e, link)

    def power(self, e: ast.Expr) -> ast.Expr:
        op = self.tok
        if op.kind is not TK.STARSTAR:
            return e
        self.advance()
        self.nested()
        right = self.unary()  # right-associative; `2 ** -1` is 2 ** (-1)
        self.depth -= 1
        return ast.Binary(op.line, op.col, "**", e, right)

    def if_let(self, if_tok: Token) -> tuple[ast.Block, ast.If]:
        """`if let v = e { A }` is `{ let v? = e; if v? != nil { let v = v?!; { A } } }`:
        the hidden `v?` (not a name a program can write) holds the value once."""
        kw = self.advance()
        name = self.ident("variable name after 'if let'")
        self.expect(TK.ASSIGN, "after the variable of 'if let'")
        value = self.condition()
        then = self.block("after 'if let' value")
        hidden = name.value + "?"
        hold = ast.VarDecl(kw.line, kw.col, False, hidden, None, value)
        bind = ast.VarDecl(name.line, name.col, False, name.value, None, ast.Unwrap(name.line, name.col, ast.Name(name.line, name.col, hidden)))
        cond = ast.Binary(kw.line, kw.col, "!=", ast.Name(name.line, name.col, hidden), ast.NilLit(kw.line, kw.col))
        node = ast.If(if_tok.line, if_tok.col, cond, ast.Block(then.line, then.col, [bind, then]), None)
        return ast.Block(if_tok.line, if_tok.col, [hold, node]), node


def _tok_at(node: ast.Node) -> Token:
    """A token standing for node's position, for `report`."""
    return Token(TK.IDENT, "", None, node.line, node.col)


def constant_default(e: ast.Expr) -> bool:
    """May this default value be copied to each call site (tldefault: the
    fast path of a call to a known function; arguments.py)?"""
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, (ast.IntLit, ast.FloatLit, ast.StrLit, ast.BoolLit, ast.NilLit)):
            continue
        if isinstance(x, ast.Unary) and x.op == "-" and isinstance(x.operand, (ast.IntLit, ast.FloatLit)):
            continue
        if isinstance(x, ast.ArrayLit):
            stack.extend(x.items)
        elif isinstance(x, ast.MapLit):
            for k, v in x.entries:
                stack += [k, v]
        elif isinstance(x, ast.RecordLit):
            stack.extend(v for _, v in x.fields)
        else:
            return False
    return True
