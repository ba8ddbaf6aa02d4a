"""Control-flow facts the type checker needs, computed on the syntax tree.

* `completes(stmts)`: can control fall off the end of this statement list?
  A function with a declared non-nil return type whose body completes is
  missing a return; an `if` branch that cannot complete (it returns, throws,
  breaks or continues) lets a nil test narrow the variable after the `if`.
* `assigned_vars(node)`: the variables a statement or expression assigns
  (not counting nested functions, which can only assign captured variables,
  and captured variables are never narrowed). Narrowing of those variables is
  dropped on entry to a loop that assigns them, and after an `if` whose
  branches do.
* `Proofs.of(cond)`: the narrowings a checked condition proves when it is
  true and when it is false (`x != nil`, `x is C`, `not`, `and`, `or`), for
  local variables and `let`s that no closure captures.

Both are conservative in the safe direction: `completes` says True unless it
is sure, and `assigned_vars` finds every plain assignment.

None recurses along a chain (lang/nesting.py): an `else if` chain is
followed in a loop, `assigned_vars` walks the tree with an explicit stack, and
`Proofs` keeps the answer for each `and`/`or` node.
"""

from __future__ import annotations

from typing import Iterable

from . import ast as A
from .scopes import BUILTIN, CELL, GLOBAL, Var
from .types import ClassRefT, OptionalT, Type

Narrowing = tuple[dict[Var, Type], dict[Var, Type]]  # (when true, when false)


def completes(stmts: Iterable[A.Stmt]) -> bool:
    for s in stmts:
        if not stmt_completes(s):
            return False
    return True


def stmt_completes(s: A.Stmt) -> bool:
    if isinstance(s, (A.Return, A.Throw, A.Break, A.Continue)):
        return False
    if isinstance(s, A.Block):
        return completes(s.stmts)
    if isinstance(s, A.If):
        while True:  # along an `else if` chain
            if s.orelse is None or completes(s.then.stmts):
                return True
            if not isinstance(s.orelse, A.If):
                return completes(s.orelse.stmts)
            s = s.orelse
    if isinstance(s, A.While):
        # `while true` ends only through a `break` aimed at it.
        if isinstance(s.cond, A.BoolLit) and s.cond.value:
            return _breaks(s.body.stmts)
        return True
    if isinstance(s, A.Try):
        if s.finally_body is not None and not completes(s.finally_body.stmts):
            return False
        if completes(s.body.stmts):
            return True
        return s.catch_body is not None and completes(s.catch_body.stmts)
    if isinstance(s, A.Select):  # exactly one case runs (it waits until one can)
        return any(completes(c.body.stmts) for c in s.cases)
    return True


def _breaks(stmts: Iterable[A.Stmt]) -> bool:
    """Does a `break` in stmts leave the loop whose body they are? (Breaks in
    nested loops leave those loops instead.)"""
    for s in stmts:
        if isinstance(s, A.Break):
            return True
        if isinstance(s, A.Block) and _breaks(s.stmts):
            return True
        if isinstance(s, A.If):
            branch: A.If | A.Block | None = s
            while isinstance(branch, A.If):  # along an `else if` chain
                if _breaks(branch.then.stmts):
                    return True
                branch = branch.orelse
            if branch is not None and _breaks(branch.stmts):
                return True
        if isinstance(s, A.Try):
            for body in (s.body, s.catch_body, s.finally_body):
                if body is not None and _breaks(body.stmts):
                    return True
        if isinstance(s, A.Select) and any(_breaks(c.body.stmts) for c in s.cases):
            return True
    return False


_NOT_CHILDREN = frozenset(("line", "col", "ty", "ref", "scope", "conv"))


def assigned_vars(node: object, out: set | None = None) -> set:
    """Resolver `Var`s assigned anywhere inside node (a Stmt, Expr or list)."""
    if out is None:
        out = set()
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, (list, tuple)):
            stack.extend(node)
            continue
        if isinstance(node, (A.Lambda, A.FnDecl, A.ClassDecl)) or not isinstance(node, A.Node):
            continue
        if isinstance(node, A.Assign) and isinstance(node.target, A.Name):
            ref = node.target.ref
            if ref is not None and ref.var is not None:
                out.add(ref.var)
        for name in node.__slots__:  # type: ignore[attr-defined]
            if name not in _NOT_CHILDREN:
                child = getattr(node, name, None)
                if isinstance(child, (A.Node, list, tuple)):
                    stack.append(child)
    return out


def narrowable(e: A.Expr) -> Var | None:
    """The variable `e` names, when a test of it can narrow its type."""
    if isinstance(e, A.Name) and e.ref is not None and e.ref.kind != BUILTIN:
        var = e.ref.var
        if var is not None and (not var.mutable or (var.kind != GLOBAL and var.kind != CELL)):
            return var
    return None


class Proofs:
    """What conditions prove, for one module's checker.

    An `and`/`or` chain is a left-deep tree whose every link the checker asks
    about its left operand: each node's answer is kept, and the answer for a
    chain is found in a loop (never by recursion per link, nor walking the
    chain again for each link)."""

    def __init__(self) -> None:
        self.known: dict[int, tuple[A.Logical, Narrowing]] = {}  # id -> (node, answer)

    def of(self, e: A.Expr) -> Narrowing:
        """The narrowings that hold when e (checked already) is true, and
        when it is false."""
        if not isinstance(e, A.Logical):
            return self._simple(e)
        known = self.known
        pending = []
        while isinstance(e, A.Logical) and id(e) not in known:
            pending.append(e)
            e = e.left
        answer = known[id(e)][1] if isinstance(e, A.Logical) else self._simple(e)
        for node in reversed(pending):
            lt, lf = answer
            rt, rf = self.of(node.right)
            answer = ({**lt, **rt}, {}) if node.op == "and" else ({}, {**lf, **rf})
            known[id(node)] = (node, answer)
        return answer

    def _simple(self, e: A.Expr) -> Narrowing:
        """`of` anything but an `and`/`or`."""
        if isinstance(e, A.Binary) and e.op in ("==", "!="):
            for a, b in ((e.left, e.right), (e.right, e.left)):
                var = narrowable(a)
                if var is not None and isinstance(b, A.NilLit):
                    t = a.ty
                    if isinstance(t, OptionalT):
                        non_nil = {var: t.inner}
                        return ({}, non_nil) if e.op == "==" else (non_nil, {})
            return {}, {}
        if isinstance(e, A.Binary) and e.op == "is":
            var = narrowable(e.left)
            ct = e.right.ty
            if var is not None and isinstance(ct, ClassRefT):
                return {var: ct.cls}, {}
            return {}, {}
        if isinstance(e, A.Unary) and e.op == "not":
            t, f = self.of(e.operand)
            return f, t
        return {}, {}
