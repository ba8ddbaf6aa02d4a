"""Syntax of enums, static members and `match` (issue 18, helper tlenum; spec
section 13, "Enums", "Match", "Static members"). The Parser's methods
`enum_decl`, `static_member`, `at_match` and `match_stmt` are these functions.

`enum Color { Red, Green, Blue }` becomes an `EnumDecl`: a class with the
fields `name: string` and `ordinal: int`, an `init` setting them, one `static
let` per member (an `EnumValue`, made when the declaration runs) and `static fn
values() -> [Color]`. The later passes treat it as that class, plus the rules of
lang/tinylang/matching.py.

`match` and `when` are soft keywords: `match` starts a match statement only at
the start of a statement, followed by an expression and a `{` (so `match(x)`,
`match = 1` or `obj.match(x)` stay what they were); `when` only inside one.
A match is lowered here into the statements of its own block:

    { let $match = subject
      if $match is Circle { let c = $match; ... }      // when c is Circle
      else if $match == 0 or $match == 1 { ... }       // when 0, 1
      else { ... } }

so the checker's `is` narrowing gives `c` the narrowed type and no later pass
needs new rules to run it; the Match node keeps its arms for the
exhaustiveness check.
"""

from __future__ import annotations

from typing import Any

from . import ast
from .tokens import TK, Token

# Tokens after `match` that make it an ordinary name (`match = 1`, `match.f`).
_NOT_MATCH = {TK.DOT, TK.ASSIGN, TK.PLUS_EQ, TK.MINUS_EQ, TK.STAR_EQ, TK.SLASH_EQ, TK.PERCENT_EQ, TK.SEMI, TK.RBRACE, TK.EOF}


def enum_decl(p: Any, start: Token, exported: bool) -> ast.EnumDecl:
    p.advance()  # `enum`
    name = p.ident("enum name after 'enum'")
    p.expect(TK.LBRACE, "to start the enum body")
    members: list[tuple[str, int, int]] = []
    while True:
        while p.tok.kind is TK.SEMI and p.tok.inserted:
            p.advance()
        if p.tok.kind is TK.RBRACE:
            break
        m = p.ident("enum member name")
        if m.value == "values":
            p.report(m, f"an enum member cannot be named 'values' ({name.value}.values() lists the members)")
        elif any(n == m.value for n, _, _ in members):
            p.report(m, f"'{m.value}' is already a member of {name.value}")
        else:
            members.append((m.value, m.line, m.col))
        while p.tok.kind is TK.SEMI and p.tok.inserted:
            p.advance()
        if not p.accept(TK.COMMA) and p.tok.kind is not TK.RBRACE:
            p.fail_expected("',' or '}' after enum member")
    p.expect(TK.RBRACE, "to close the enum body")
    if not members:
        p.report(start, f"enum {name.value} needs at least one member")
    line, col = start.line, start.col

    def n(text: str) -> ast.Name:
        return ast.Name(line, col, text)

    def typ(text: str) -> ast.NamedType:
        return ast.NamedType(line, col, text)

    fields = [ast.FieldDecl(line, col, "name", typ("string"), None), ast.FieldDecl(line, col, "ordinal", typ("int"), None)]
    init_body = ast.Block(line, col, [ast.Assign(line, col, ast.Field(line, col, ast.SelfExpr(line, col), f), "=", n(f)) for f in ("name", "ordinal")])
    init = ast.FnDecl(line, col, "init", [ast.Param(line, col, "name", typ("string")), ast.Param(line, col, "ordinal", typ("int"))], None, init_body)
    statics: list[ast.Stmt] = [ast.VarDecl(ml, mc, False, m, None, ast.EnumValue(ml, mc, n(name.value), m, i)) for i, (m, ml, mc) in enumerate(members)]
    listing = ast.ArrayLit(line, col, [ast.Field(line, col, n(name.value), m) for m, _, _ in members])
    values_body = ast.Block(line, col, [ast.Return(line, col, listing)])
    statics.append(ast.FnDecl(line, col, "values", [], ast.ArrayType(line, col, typ(name.value)), values_body))
    return ast.EnumDecl(line, col, name.value, None, fields, [init], exported, statics=statics, members=members)


def static_member(p: Any) -> ast.Stmt:
    """`static let NAME = value` or `static fn name(...) { }` in a class body."""
    tok = p.advance()  # `static`
    k = p.tok.kind
    if k is TK.LET:
        d = p.var_decl(tok, False)
        if d.init is None:
            p.report(tok, "'static let' needs an initializer")
        return d
    if k is TK.FN or (k is TK.ASYNC and p.peek().kind is TK.FN):
        return p.fn_decl(tok, False)
    if k is TK.VAR:
        p.fail("static members are declared with 'let' or 'fn' (a static member cannot be reassigned)")
    p.fail_expected("'let' or 'fn' after 'static'")


def at_match(p: Any) -> bool:
    """At `match`: does a match statement start here (an expression, then `{`)?"""
    nxt = p.peek()
    if nxt.kind in _NOT_MATCH or nxt.line != p.tok.line:
        return False
    depth = 0
    i = p.pos + 1
    toks = p.toks
    while i < len(toks):
        k = toks[i].kind
        if k in (TK.LPAREN, TK.LBRACKET):
            depth += 1
        elif k in (TK.RPAREN, TK.RBRACKET):
            depth -= 1
            if depth < 0:
                return False
        elif depth == 0 and k is TK.LBRACE:
            return i > p.pos + 1
        elif depth == 0 and k in (TK.SEMI, TK.RBRACE, TK.EOF):
            return False
        i += 1
    return False


def match_stmt(p: Any) -> ast.Match:
    kw = p.advance()  # `match`
    line, col = kw.line, kw.col
    subject = p.condition()
    open_tok = p.tok
    if open_tok.kind is not TK.LBRACE:
        p.fail_expected("'{' after the match subject")
    p.nested()
    p.advance()
    arms: list[ast.MatchArm] = []
    else_body: list[ast.Block | None] = [None]

    def arm() -> None:
        tok = p.tok
        if else_body[0] is not None and (tok.kind is TK.ELSE or (tok.kind is TK.IDENT and tok.value == "when")):
            p.fail("'else' must be the last arm of a match")
        if tok.kind is TK.ELSE:
            p.advance()
            else_body[0] = p.block("after 'else'")
            return
        if not (tok.kind is TK.IDENT and tok.value == "when"):
            p.fail_expected("'when' or 'else' in a match")
        p.advance()
        saved, p.no_record = p.no_record, True
        binding = type_ = None
        values: list[ast.Expr] = []
        try:
            if p.tok.kind is TK.IDENT and p.peek().kind is TK.IS:
                binding = p.advance()
                p.advance()  # `is`
                type_ = p.unary()
            else:
                values.append(p.expr())
                while p.accept(TK.COMMA):
                    values.append(p.expr())
        finally:
            p.no_record = saved
        body = p.block("after the 'when' pattern")
        arms.append(ast.MatchArm(tok.line, tok.col, binding.value if binding is not None else None, type_, values, body))

    saved = p.no_record, p.nl_ok
    p.no_record = p.nl_ok = False
    p.block_depth += 1
    p.items(arm, separated=False)
    p.block_depth -= 1
    p.no_record, p.nl_ok = saved
    if p.tok.kind is not TK.RBRACE:
        p.fail_expected(f"'}}' to close the match opened at {open_tok.line}:{open_tok.col}")
    p.advance()
    p.depth -= 1
    return lower(line, col, subject, arms, else_body[0])


def lower(line: int, col: int, subject: ast.Expr, arms: list[ast.MatchArm], else_body: ast.Block | None) -> ast.Match:
    """The match as statements: see the module docstring."""
    tmp = f"$match{line}_{col}"

    def subj(at: ast.Node) -> ast.Name:
        return ast.Name(at.line, at.col, tmp)

    chain: ast.If | ast.Block | None = else_body
    for a in reversed(arms):
        if a.type_ is not None:
            cond: ast.Expr = ast.Binary(a.line, a.col, "is", subj(a), a.type_)
            bind = ast.VarDecl(a.line, a.col, False, a.binding or "_", None, subj(a))
            then = ast.Block(a.body.line, a.body.col, [bind, *a.body.stmts])
        else:
            cond = ast.Binary(a.values[0].line, a.values[0].col, "==", subj(a), a.values[0])
            for v in a.values[1:]:
                cond = ast.Logical(v.line, v.col, "or", cond, ast.Binary(v.line, v.col, "==", subj(v), v))
            then = a.body
        chain = ast.If(a.line, a.col, cond, then, chain)
    stmts: list[ast.Stmt] = [ast.VarDecl(line, col, False, tmp, None, subject)]
    if chain is not None:
        stmts.append(chain)
    return ast.Match(line, col, stmts, subject=subject, arms=arms, else_body=else_body)
