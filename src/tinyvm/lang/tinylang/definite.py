"""Definite assignment (spec section 13, "Nil handling"): a forward pass over
each function body, after the checker.

* A `var` declared without an initializer must be assigned on every path
  before each use. A closure (a lambda, a local `fn`, a method of a local
  class, or a top-level `fn` at its place in the file) that mentions the
  variable counts as a use where it is created: it may run at any time after.
* A field of non-optional type without a default must be assigned
  (`self.f = ...`) on every path through `init` (`super.init(...)` assigns the
  parent's fields). Assignments in closures or in methods `init` calls do
  not count (they may not run): the message says what to do instead.
  Reading such a field (`self.f`) in `init` before it is assigned is an
  error too (it would be nil).

The state at a point is the set of tracked variables (or fields) that may be
unassigned there, each with the reason it may be (for the message: where it
was declared, or which `if`, loop, `try` or `select` does not assign it on
every path). Assignments only remove from the set, so a loop's body is
analysed once, from the state before the loop: the state at the loop's head
is that state (a later iteration can only have assigned more). `break`
states flow to the end of their loop; `return`, `throw` and `continue` end
a path. A variable is reported once per path, then counted as assigned so
that one mistake does not cascade.

Statements nest as deep as the parser allows (each level a few Python frames,
in the pass's stack room); expressions are walked with an explicit stack and
`else if` chains in a loop (lang/nesting.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import DiagnosticBag
from . import ast as A

State = dict  # key (a Var, or a field name) -> reason it may be unassigned
_NOT_CHILDREN = frozenset(("line", "col", "ty", "ref", "scope", "conv", "refs", "field_types", "proven"))
_NON_OPTIONAL_EXEMPT = frozenset(("any", "nil"))


_CHILD_SLOTS: dict[type, tuple[str, ...]] = {}


def _children(t: type) -> tuple[str, ...]:
    """The slots of node type t that may hold child nodes (or lists of them)."""
    names = _CHILD_SLOTS.get(t)
    if names is None:
        names = _CHILD_SLOTS[t] = tuple(n for n in t.__slots__ if n not in _NOT_CHILDREN)  # type: ignore[attr-defined]
    return names


def walk(node: object, into_functions: bool = True) -> Iterator[A.Node]:
    """Every node under node (itself included), without recursion; with
    into_functions=False the bodies of nested functions and classes are
    skipped (the nodes themselves are still given)."""
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, (list, tuple)):
            stack.extend(reversed(node))
            continue
        if not isinstance(node, A.Node):
            continue
        yield node
        if not into_functions and isinstance(node, (A.Lambda, A.FnDecl, A.ClassDecl)):
            continue
        kids = []
        for name in _children(type(node)):
            child = getattr(node, name)
            if isinstance(child, (A.Node, list, tuple)):
                kids.append(child)
        stack.extend(reversed(kids))


def merge(states: list[State | None], reason: str) -> State | None:
    """The state where paths join (None: no path reaches it). A key missing
    from some of them (assigned on those paths) gets `reason`."""
    live = [s for s in states if s is not None]
    if not live:
        return None
    out: State = {}
    for s in live:
        for k, why in s.items():
            if k not in out:
                out[k] = why if all(k in t for t in live) else reason
    return out


class Paths:
    """The walk of one function body; subclasses say what a use, a
    declaration, an assignment and an exit do to the state."""

    def __init__(self, bag: DiagnosticBag):
        self.bag = bag
        self.loops: list[list[State]] = []  # the break states of each enclosing loop

    # hooks
    def expr(self, e: A.Expr | None, state: State) -> None: ...

    def assign(self, s: A.Assign, state: State) -> None:
        self.expr(s.target, state)
        self.expr(s.value, state)

    def declare(self, s: A.VarDecl, state: State) -> None:
        self.expr(s.init, state)

    def exit(self, node: A.Node, state: State) -> None: ...

    def nested(self, s: A.Stmt, state: State) -> None: ...

    # the walk
    def run(self, stmts: list[A.Stmt], state: State, end: A.Node) -> None:
        out = self.block(stmts, state)
        if out is not None:
            self.exit(end, out)

    def block(self, stmts: list[A.Stmt], state: State | None) -> State | None:
        for s in stmts:
            if state is None:
                return None  # unreachable code: nothing to report there
            state = self.stmt(s, state)
        return state

    def stmt(self, s: A.Stmt, state: State) -> State | None:
        t = type(s)
        if t is A.ExprStmt:
            self.expr(s.expr, state)
        elif t is A.VarDecl:
            self.declare(s, state)
        elif t is A.Assign:
            self.assign(s, state)
        elif t is A.Block or t is A.Match:  # (tlenum: a match runs as its lowered block)
            return self.block(s.stmts, state)
        elif t is A.If:
            return self.s_if(s, state)
        elif t is A.While:
            self.expr(s.cond, state)
            forever = isinstance(s.cond, A.BoolLit) and s.cond.value
            return self.loop(s, s.body, None if forever else dict(state), state)
        elif t is A.For:
            self.expr(s.iterable, state)
            return self.loop(s, s.body, dict(state), state)
        elif t is A.Return:
            self.expr(s.value, state)
            self.exit(s, state)
            return None
        elif t is A.Throw:
            self.expr(s.value, state)
            return None
        elif t is A.Break:
            if self.loops:
                self.loops[-1].append(state)
            return None
        elif t is A.Continue:
            return None
        elif t is A.Try:
            return self.s_try(s, state)
        elif t is A.Select:
            outs = []
            for c in s.cases:
                self.expr(c.channel, state)
                self.expr(c.value, state)
            for c in s.cases:
                outs.append(self.block(c.body.stmts, dict(state)))
            return merge(outs, f"the `select` at line {s.line} does not assign it in every case")
        elif t in (A.FnDecl, A.ClassDecl, A.EnumDecl):
            self.nested(s, state)
        return state

    def s_if(self, s: A.If, state: State) -> State | None:
        first = s
        outs: list[State | None] = []
        cur: State = state
        while True:  # along an `else if` chain
            self.expr(s.cond, cur)
            outs.append(self.block(s.then.stmts, dict(cur)))
            if isinstance(s.orelse, A.If):
                s = s.orelse
                continue
            outs.append(self.block(s.orelse.stmts, dict(cur)) if s.orelse is not None else dict(cur))
            break
        return merge(outs, f"the `if` at line {first.line} does not assign it on every branch")

    def loop(self, s: A.Stmt, body: A.Block, when_done: State | None, state: State) -> State | None:
        self.loops.append([])
        body_out = self.block(body.stmts, dict(state))
        breaks = self.loops.pop()
        why = f"the loop at line {s.line} may end before assigning it"
        out = merge([when_done, *breaks], why)
        if out is not None and body_out is not None:
            for k in out:  # assigned in the body, which may run no times
                if k not in body_out and not isinstance(out[k], str):
                    out[k] = why
        return out

    def s_try(self, s: A.Try, state: State) -> State | None:
        body_out = self.block(s.body.stmts, dict(state))
        failed = f"the `try` at line {s.line} may fail before assigning it"
        # A catch or finally body may start after any point of the try body:
        # what may be unassigned there is what may be at its start.
        at_any = {k: (why if body_out is not None and k in body_out else failed) for k, why in state.items()}
        outs = [body_out]
        if s.catch_body is not None:
            outs.append(self.block(s.catch_body.stmts, dict(at_any)))
        out = merge(outs, failed)
        if s.finally_body is not None:
            fin = self.block(s.finally_body.stmts, dict(at_any))
            if fin is None or out is None:
                return None
            out = {k: why for k, why in out.items() if k in fin}  # finally ran to its end
        return out


# --------------------------------------------------------------------------- locals


class Locals(Paths):
    """Definite assignment of `var`s declared without a value, in one
    function body (the module's top-level code is one too)."""

    def expr(self, e: A.Expr | None, state: State) -> None:
        if e is None:
            return
        for node in walk(e, into_functions=False):
            if type(node) is A.Name:
                self.use(node, state, False)
            elif isinstance(node, A.Lambda):
                self.captures(node.body, state)

    def use(self, name: A.Name, state: State, captured: bool) -> None:
        ref = name.ref
        var = ref.var if ref is not None else None
        if var is None or var not in state:
            return
        why = state.pop(var)  # reported once on this path
        what = "captured by a function" if captured else "used"
        if isinstance(why, int):
            message = f"variable '{var.name}' is {what} before it is assigned (declared without a value at line {why})"
        else:
            message = f"variable '{var.name}' is {what} where it may be unassigned: {why}"
        self.bag.error(name.line, name.col, message)

    def captures(self, body: object, state: State) -> None:
        """A nested function's mentions of tracked variables are uses where
        it is created."""
        if not state:
            return
        for node in walk(body):
            if type(node) is A.Name:  # (an assignment's target too)
                self.use(node, state, True)

    def assign(self, s: A.Assign, state: State) -> None:
        target = s.target
        if type(target) is A.Name:
            if s.op != "=":
                self.use(target, state, False)
            self.expr(s.value, state)
            var = target.ref.var if target.ref is not None else None
            state.pop(var, None)
            return
        self.expr(target, state)
        self.expr(s.value, state)

    def declare(self, s: A.VarDecl, state: State) -> None:
        self.expr(s.init, state)
        var = s.ref.var if s.ref is not None else None
        if s.init is None and var is not None:
            state[var] = s.line
        elif var is not None:
            state.pop(var, None)  # (a loop's next iteration: a fresh binding)

    def nested(self, s: A.Stmt, state: State) -> None:
        if isinstance(s, A.FnDecl):
            self.captures(s.body, state)
        elif isinstance(s, A.ClassDecl):
            self.expr(s.parent, state)
            for f in s.fields:
                self.captures(f.default, state)  # run by the constructor, later
            for m in s.methods:
                self.captures(m.body, state)
            for st in s.statics:  # (tlenum: a static let runs now, a static fn later)
                if isinstance(st, A.FnDecl):
                    self.captures(st.body, state)
                else:
                    self.expr(st.init, state)

    def exit(self, node: A.Node, state: State) -> None:
        pass


class TopLevel(Locals):
    """The module's code: an exported `var` must be assigned by its end
    (importers read it after the module has run)."""

    def __init__(self, bag: DiagnosticBag, exported: dict):
        super().__init__(bag)
        self.exported = exported  # Var -> its VarDecl

    def exit(self, node: A.Node, state: State) -> None:
        for var, decl in self.exported.items():
            if var in state:
                self.bag.error(decl.line, decl.col, f"exported variable '{var.name}' may be unassigned when the module has run: give it an initial value")


# --------------------------------------------------------------------------- fields


def needs_init(f: A.FieldDecl) -> bool:
    """A field that must be assigned in init: non-optional type, no default."""
    if f.default is not None or f.type is None:
        return False
    t = f.type
    if isinstance(t, A.OptionalType):
        return False
    return not (isinstance(t, A.NamedType) and t.name in _NON_OPTIONAL_EXEMPT)


def type_text(t: A.TypeExpr) -> str:
    """An annotation as written (normalized spacing): the field advice here
    and `tvm check --any` (anyuses.py) quote it."""
    if isinstance(t, A.NamedType):
        return t.name + (f"<{', '.join(type_text(a) for a in t.args)}>" if t.args else "")
    if isinstance(t, A.ArrayType):
        return f"[{type_text(t.elem)}]"
    if isinstance(t, A.MapType):
        return f"[{type_text(t.key)}: {type_text(t.value)}]"
    if isinstance(t, A.OptionalType):
        return type_text(t.inner) + "?"
    if isinstance(t, A.TupleType):
        return f"({', '.join(type_text(e) for e in t.elems)})"
    if isinstance(t, A.FnType):
        ret = f" -> {type_text(t.ret)}" if t.ret is not None else ""
        return f"fn({', '.join(type_text(p) for p in t.params)}){ret}"
    if isinstance(t, A.RecordType):
        return "{" + ", ".join(f"{n}: {type_text(x)}" for n, x in t.fields) + "}"
    return "T"


def _advice(f: A.FieldDecl) -> str:
    t = type_text(f.type)
    opt = f"({t})?" if isinstance(f.type, A.FnType) else f"{t}?"
    return f"give it a default (var {f.name}: {t} = ...), make it optional ({opt}), or assign it in init"


def parent_decl(c: A.ClassDecl) -> A.ClassDecl | None:
    p = c.parent
    var = p.ref.var if p is not None and p.ref is not None else None
    decl = var.decl if var is not None else None
    return decl if isinstance(decl, A.ClassDecl) else None


def ancestors(c: A.ClassDecl) -> list[A.ClassDecl]:
    out = []
    seen = {id(c)}
    p = parent_decl(c)
    while p is not None and id(p) not in seen:
        seen.add(id(p))
        out.append(p)
        p = parent_decl(p)
    return out


class Fields(Paths):
    """Every path through a class's `init` assigns each field that needs it,
    and reads none of them (`self.f`) before it does."""

    def __init__(self, bag: DiagnosticBag, cls: A.ClassDecl, own: dict[str, A.FieldDecl]):
        super().__init__(bag)
        self.cls = cls
        self.own = own
        self.missing: dict[str, str] = {}  # field -> reason, at some exit
        self.read: set[str] = set()  # fields reported as read too early (once each)

    def reads(self, e: A.Expr | None, state: State) -> None:
        """`self.f` read where f may not be assigned yet: it would be nil."""
        if e is None or not state:
            return
        for node in walk(e, into_functions=False):
            if type(node) is A.Field and type(node.obj) is A.SelfExpr and node.name in state and node.name not in self.read:
                self.read.add(node.name)
                why = state[node.name]
                where = f"where it may be unassigned: {why}" if isinstance(why, str) else "before it is assigned"
                self.bag.error(node.line, node.col, f"field '{node.name}' of {self.cls.name} is read in init {where}")

    def assign(self, s: A.Assign, state: State) -> None:
        t = s.target
        if type(t) is A.Field and type(t.obj) is A.SelfExpr:
            self.reads(s.value, state)
            if s.op == "=":
                state.pop(t.name, None)
            else:
                self.reads(t, state)
            return
        self.reads(t, state)
        self.reads(s.value, state)

    def expr(self, e: A.Expr | None, state: State) -> None:
        self.reads(e, state)
        # `super.init(...)` assigns what the parent's init must.
        if type(e) is A.Call and type(e.callee) is A.SuperField and e.callee.name == "init":
            for k in [k for k in state if k not in self.own]:
                del state[k]

    def exit(self, node: A.Node, state: State) -> None:
        for k, why in state.items():
            if k not in self.missing:
                self.missing[k] = why if isinstance(why, str) else f"the `return` at line {node.line} leaves it unassigned" if isinstance(node, A.Return) else ""


def check_fields(bag: DiagnosticBag, c: A.ClassDecl) -> None:
    own = {f.name: f for f in c.fields if needs_init(f)}
    inherited: dict[str, A.ClassDecl] = {}
    for a in ancestors(c):
        for f in a.fields:
            if needs_init(f) and f.name not in own and f.name not in inherited:
                inherited[f.name] = a
    init = next((m for m in c.methods if m.name == "init"), None)
    if init is None:
        for f in own.values():
            bag.error(f.line, f.col, f"field '{f.name}' of {c.name} has no default and {c.name} has no init to assign it: {_advice(f)}")
        return
    paths = Fields(bag, c, own)
    state: State = {k: 0 for k in own}
    state.update({k: 0 for k in inherited})
    paths.run(init.body.stmts, state, init)
    assigned = {n.target.name for n in walk(init.body, into_functions=False) if type(n) is A.Assign and type(n.target) is A.Field and type(n.target.obj) is A.SelfExpr}
    for k, why in paths.missing.items():
        tail = f" ({why})" if why else ""
        if k in own:
            f = own[k]
            if k not in assigned:
                bag.error(f.line, f.col, f"field '{k}' of {c.name} is not assigned in init: {_advice(f)}")
            else:
                bag.error(f.line, f.col, f"field '{k}' of {c.name} is not assigned on every path through init{tail}: {_advice(f)}")
        else:
            bag.error(init.line, init.col, f"{c.name}.init does not assign field '{k}' (of {inherited[k].name}) on every path{tail}: call super.init(...) or assign it")


# --------------------------------------------------------------------------- module


def inventory(mod: A.Module) -> tuple[list, set[int], list[A.ClassDecl]]:
    """One walk of the whole module: its functions (lambdas, `fn`s, methods),
    the ids of those (and of the module) that declare a `var` without a
    value (the only ones with anything to check), and its classes."""
    functions: list = []
    needy: set[int] = set()
    classes: list[A.ClassDecl] = []
    stack: list = [(mod.body, mod)]
    while stack:
        node, owner = stack.pop()
        if isinstance(node, (list, tuple)):
            stack.extend((n, owner) for n in node)
            continue
        if not isinstance(node, A.Node):
            continue
        t = type(node)
        if t is A.VarDecl and node.init is None:
            needy.add(id(owner))
        elif t is A.ClassDecl:
            classes.append(node)
        elif t is A.Lambda or t is A.FnDecl:
            functions.append(node)
            owner = node
        for name in _children(t):
            child = getattr(node, name)
            if child is not None and type(child) is not str:
                stack.append((child, owner))
    return functions, needy, classes


def check_module(mod: A.Module, bag: DiagnosticBag) -> None:
    """Definite assignment in every function of a resolved, checked module."""
    functions, needy, classes = inventory(mod)
    if id(mod) in needy:
        exported = {s.ref.var: s for s in mod.body if isinstance(s, A.VarDecl) and s.exported and s.init is None and s.ref is not None and s.ref.var is not None}
        TopLevel(bag, exported).run(mod.body, {}, mod)
    for fn in functions:
        if id(fn) in needy:  # (a lambda with an expression body declares nothing)
            Locals(bag).run(fn.body.stmts, {}, fn)
    for c in classes:
        check_fields(bag, c)


# --------------------------------------------------------------------------- early fields


def early_fields(c: A.ClassDecl) -> tuple[tuple[str, ...], bool]:
    """The fields the class's own `init` assigns before anything can see
    `self`, and whether it then calls `super.init(...)` first thing.

    An instance whose class has no `$fields` is seen by no one until its
    init lets `self` out, so a field assigned by then is never observed
    with its template's nil. heap/layout.py keeps such a field of type
    int or bool unboxed (a raw slot cannot hold nil). The scan is of init's
    statements in order, and stops at the first that may let `self` out:

    - `self.f = e`, e not mentioning `self` or `super`: f is early;
    - a statement mentioning neither, and not returning: skipped (a call
      of another object's method cannot reach an instance nobody has);
    - `super.init(args)`, no arg mentioning `self`: the parent's init's
      early fields are early too (the second result: the VM adds them,
      it knows the parent class at run time); the scan ends there;
    - anything else (a `self` anywhere, a lambda capturing it, a
      `return`): the scan ends.

    A parameter default mentioning `self` ends it before it starts."""
    init = next((m for m in c.methods if m.name == "init"), None)
    if init is None or c.is_interface or any(p.default is not None and _sees_self(p.default) for p in init.params):
        return (), False
    early: list[str] = []
    for s in init.body.stmts:
        if type(s) is A.Assign and s.op == "=" and type(s.target) is A.Field and type(s.target.obj) is A.SelfExpr:
            if _sees_self(s.value):
                break
            if s.target.name not in early:
                early.append(s.target.name)
            continue
        if type(s) is A.ExprStmt and type(s.expr) is A.Call and type(s.expr.callee) is A.SuperField and s.expr.callee.name == "init":
            return tuple(early), not any(_sees_self(a) for a in s.expr.args)
        if _sees_self(s) or any(type(n) is A.Return for n in walk(s, into_functions=False)):
            break
    return tuple(early), False


def _sees_self(node: object) -> bool:
    return any(type(n) is A.SelfExpr or type(n) is A.SuperField for n in walk(node))
