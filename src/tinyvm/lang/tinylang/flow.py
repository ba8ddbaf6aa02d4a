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
* `assigned_narrowing` and `merge_narrowings`: a `T?` variable is `T` after
  it is assigned a non-nil value; where paths join (after an `if`), what
  every path that reaches there proves holds.
* `Proofs.of(cond)`: the narrowings a checked condition proves when it is
  true and when it is false (`x != nil`, `x is C`, `not`, `and`, `or`), for
  local variables and `let`s that no closure captures (`nil` there may be a
  `let` whose value is `nil`).

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
from .types import (
    ANY,
    NEVER,
    NIL,
    OK,
    WIDEN,
    ClassRefT,
    OptionalT,
    Type,
    join,
    relation,
)

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
            return breaks(s.body.stmts)
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


def breaks(stmts: Iterable[A.Stmt]) -> bool:
    """Does a `break` in stmts leave the loop whose body they are? (Breaks in
    nested loops leave those loops instead.)"""
    for s in stmts:
        if isinstance(s, A.Break):
            return True
        if isinstance(s, A.Block) and breaks(s.stmts):
            return True
        if isinstance(s, A.If):
            branch: A.If | A.Block | None = s
            while isinstance(branch, A.If):  # along an `else if` chain
                if breaks(branch.then.stmts):
                    return True
                branch = branch.orelse
            if branch is not None and breaks(branch.stmts):
                return True
        if isinstance(s, A.Try):
            for body in (s.body, s.catch_body, s.finally_body):
                if body is not None and breaks(body.stmts):
                    return True
        if isinstance(s, A.Select) and any(breaks(c.body.stmts) for c in s.cases):
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


def narrowable_var(var: Var | None, also: frozenset = frozenset()) -> bool:
    """Can a local fact about var's value be trusted until the code in sight
    changes it? Not for a captured variable, nor for a mutable global (a
    call could assign those) except those in `also`: in the module's own
    code, the globals that no function assigns (`top_level_only`)."""
    if var is None:
        return False
    return not var.mutable or (var.kind != GLOBAL and var.kind != CELL) or var in also


def top_level_only(body: list[A.Stmt], shadowed: frozenset = frozenset()) -> frozenset:
    """The module's mutable global `var`s that no function (nor method nor
    lambda) assigns: only the module's own code, which nothing else runs
    during, changes them, so they narrow there as locals do. (Inside a
    function they do not: another fiber's top-level code may run at any
    wait.) Not those named in `shadowed`, a REPL entry's redefinitions of an
    earlier entry's names: that entry's functions may assign them."""
    declared = {
        s.ref.var for s in body if isinstance(s, A.VarDecl) and s.mutable and s.ref is not None and s.ref.var is not None and s.name not in shadowed
    }
    in_functions: set = set()
    stack: list = [(s, False) for s in body]
    while stack:
        node, inside = stack.pop()
        if isinstance(node, (list, tuple)):
            stack.extend((n, inside) for n in node)
            continue
        if not isinstance(node, A.Node):
            continue
        if isinstance(node, (A.Lambda, A.FnDecl, A.ClassDecl)):
            inside = True
        if inside and isinstance(node, A.Assign) and isinstance(node.target, A.Name):
            ref = node.target.ref
            if ref is not None and ref.var is not None:
                in_functions.add(ref.var)
        for name in node.__slots__:  # type: ignore[attr-defined]
            if name not in _NOT_CHILDREN:
                child = getattr(node, name, None)
                if isinstance(child, (A.Node, list, tuple)):
                    stack.append((child, inside))
    return frozenset(declared - in_functions)


def assigned_narrowing(var: Var | None, value: Type, also: frozenset = frozenset()) -> Type | None:
    """The type a `T?` variable has right after it is assigned a value of
    type `value` (the checker checked the value against it): T when the
    value cannot be nil, else None (no narrowing)."""
    if not narrowable_var(var, also) or not isinstance(var.ty, OptionalT):
        return None
    if value is ANY or value is NIL or value is NEVER or isinstance(value, OptionalT):
        return None
    return var.ty.inner if relation(value, var.ty.inner) in (OK, WIDEN) else None


def merge_narrowings(states: list[dict[Var, Type]]) -> dict[Var, Type]:
    """What holds where paths join: a narrowing every path has (for a
    variable narrowed differently on the paths, the join of the types, when
    that is narrower than `any`)."""
    if not states:
        return {}
    out: dict[Var, Type] = {}
    first, rest = states[0], states[1:]
    for var, t in first.items():
        for other in rest:
            u = other.get(var)
            if u is None:
                t = None
                break
            t = join(t, u)
        if t is not None and t is not ANY and not isinstance(t, OptionalT):
            out[var] = t
    return out


def narrowable(e: A.Expr, also: frozenset = frozenset()) -> Var | None:
    """The variable `e` names, when a test of it can narrow its type."""
    if isinstance(e, A.Name) and e.ref is not None and e.ref.kind != BUILTIN:
        var = e.ref.var
        if narrowable_var(var, also):
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
        self.also: frozenset = frozenset()  # globals that narrow here (narrowable_var)
        self.nil_lets: set[Var] = set()  # local `let x = nil`s met so far (the checker adds them)

    def is_nil(self, e: A.Expr) -> bool:
        """`nil`, or a `let` constant whose value is `nil` (spec section 13)."""
        if isinstance(e, A.NilLit):
            return True
        var = e.ref.var if isinstance(e, A.Name) and e.ref is not None else None
        if var is None or var.mutable:
            return False
        decl = var.decl
        return var in self.nil_lets or (isinstance(decl, A.VarDecl) and isinstance(decl.init, A.NilLit))

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
                var = narrowable(a, self.also)
                if var is not None and self.is_nil(b):
                    t = a.ty
                    if isinstance(t, OptionalT):
                        non_nil = {var: t.inner}
                        return ({}, non_nil) if e.op == "==" else (non_nil, {})
            return {}, {}
        if isinstance(e, A.Binary) and e.op == "is":
            var = narrowable(e.left, self.also)
            ct = e.right.ty
            if var is not None and isinstance(ct, ClassRefT):
                return {var: ct.cls}, {}
            return {}, {}
        if isinstance(e, A.Unary) and e.op == "not":
            t, f = self.of(e.operand)
            return f, t
        return {}, {}
