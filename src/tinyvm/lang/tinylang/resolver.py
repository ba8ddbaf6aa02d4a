"""The resolve pass: binds every name to where it lives, before code generation.

For each module it:

* declares top-level names as module globals (top-level `fn`s are hoisted: they
  are bound before any statement runs, so functions may call each other in any
  order; other globals must be declared before top-level code uses them, though
  function bodies may refer to later globals);
* gives each function its frame slots (slot 0: the function, then parameters,
  then locals in declaration order) and its upvalues, marking captured locals as
  cells;
* enforces the scoping rules of spec section 4: undeclared names, redeclaration
  in one scope, assignment to `let`, `break`/`continue` outside loops, `return`
  outside functions, `self`/`super` outside methods;
* checks that imported names are exported, and that functions nest at most
  `MAX_FUNCTION_NESTING` deep (lang/nesting.py: the `.tvm` format's limit).

`self` and `super` are the enclosing method's in every function nested in a
method -- a lambda or a named local `fn` -- which captures them like any other
variable of the method.

Chains (`a + b + c`, `a.b(c)[d]`, `else if`) are walked in loops, not by
recursion per link (lang/nesting.py).

Types, including call arity and class members, are the checker's (checker.py).

Errors are collected in the module's DiagnosticBag; resolution continues after
each so all of them are reported.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence

from ..diagnostics import DiagnosticBag
from ..frontend import ModuleInfo  # exported name -> declaring node (whose Var carries its type)
from ..nesting import MAX_FUNCTION_NESTING
from . import ast as A
from . import enums
from .hints import undeclared
from .nilexpr import ResolveRules
from .scopes import BUILTIN, GLOBAL, LOCAL, UPVAL, BlockScope, FnScope, Ref, Var

BUILTIN_NAMES = frozenset(
    """print len str int float typeof assert input sleep yield_now Chan WeakRef WeakMap abs min max sqrt floor ceil round
    Error TypeError ValueError IndexError KeyError ZeroDivisionError OverflowError StackOverflowError
    MemoryError Cancelled DeadlockError PermissionError IOError""".split()
    + ["Comparable"]  # tlgeneric (1.1): the built-in interface
    # 1.1 (runtime/library.py; zip/enumerate are tltuple's, Set is stdlib/sets.py's)
    + "sum sorted reversed any_of all_of range eprint ord chr Set".split()
)
# Issue 18, helper tltuple: the tuple built-ins (runtime/tuples.py).
BUILTIN_NAMES = BUILTIN_NAMES | {"zip", "enumerate"}
BUILTIN_NAMES |= {"Array"}  # tlexpr (TinyLang 1.1): Array(n, fill)


def constant_value(e: A.Expr | None) -> tuple[bool, object]:
    """(True, value) when e is a literal constant (such field defaults go into the
    class's instance template instead of running code per instance)."""
    if e is None:
        return True, None
    if isinstance(e, (A.IntLit, A.FloatLit, A.StrLit, A.BoolLit)):
        return True, e.value
    if isinstance(e, A.NilLit):
        return True, None
    if isinstance(e, A.Unary) and e.op == "-" and isinstance(e.operand, (A.IntLit, A.FloatLit)):
        return True, -e.operand.value
    return False, None


def _nothing(e: A.Expr) -> None:
    """The resolver's rule for a literal: nothing to resolve."""


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class Resolver(ResolveRules):  # tlexpr: the 1.1 expressions (nilexpr.py)
    def __init__(
        self,
        bag: DiagnosticBag,
        imports: dict[str, ModuleInfo],
        allow_private: bool = False,
        predeclared: Sequence[Var] = (),
        session: bool = False,
        rebind: Iterable[str] = (),
    ):
        self.bag = bag
        # The prelude may call the VM's private natives (`__name`) as built-ins.
        self.allow_private = allow_private
        self.imports = imports  # import spec as written -> ModuleInfo (None when missing)
        # `predeclared` (the REPL): the globals of earlier entries, in slot order
        # (var.index == position; of equal names the last one is visible). They
        # count as declared before this module's first statement. A top-level
        # declaration of one of their names is allowed: it gets a new slot and
        # shadows the old binding, which top-level code before it still sees --
        # except for the names in `rebind`: their declaration takes over the old
        # binding's slot, so code compiled earlier sees the new value (the
        # REPL's redefinition rule, lang/tinylang/repl.py).
        # `session`: the module is a REPL session's, whose globals may be
        # rebound so: its globals are marked `Var.session`.
        self.session = session
        self.rebind = frozenset(rebind)
        self.own: dict[str, Var] = {}  # this module's own declarations
        self.globals: list[Var] = list(predeclared)
        self.global_names: dict[str, Var] = {v.name: v for v in predeclared}
        self.first_slot = len(self.globals)  # this module's own globals start here
        self.shadowed: dict[str, Var] = {}  # name -> predeclared Var redeclared here
        self.fn: FnScope | None = None
        self.blocks: list[BlockScope] = []
        self.loop_depth = 0
        self.stmt_index = 0  # index of the top-level statement being resolved
        self.top_level_code = True  # resolving the module function's own code
        self.where: A.Node | None = None  # the statement being resolved (for run_pass)
        self.rules: dict[type, object] = {}  # node type -> its e_/rest_ method (see expr)

    # ------------------------------------------------------------------ entry

    def resolve_module(self, mod: A.Module) -> FnScope:
        scope = FnScope("<module>", None, "module")
        scope.new_slot("<module>", None)
        self.fn = scope
        # Declare every top-level name first, in order; redeclarations are errors.
        for i, stmt in enumerate(mod.body):
            for name, line, col, node in self._declared_names(stmt):
                slot = len(self.globals)
                if name in self.global_names:
                    old = self.global_names[name]
                    if name in self.own:
                        self.bag.error(line, col, f"'{name}' is already declared in this scope")
                        continue
                    self.shadowed[name] = old  # an earlier REPL entry's global
                    if name in self.rebind:
                        slot = old.index
                var = Var(name, self._is_mutable(stmt), GLOBAL, slot, None, line, col, decl_order=i)
                var.session = self.session
                var.is_fn = isinstance(stmt, A.FnDecl)
                var.is_class = isinstance(stmt, A.ClassDecl)
                var.decl = node
                if isinstance(stmt, A.Import):
                    var.is_import = True
                    info = self.imports.get(stmt.path)
                    if info is not None:
                        var.module_exports = tuple(info.exports)
                        var.module_name = stmt.path
                if slot < len(self.globals):
                    self.globals[slot] = var
                else:
                    self.globals.append(var)
                self.global_names[name] = var
                self.own[name] = var
        for i, stmt in enumerate(mod.body):
            self.stmt_index = i
            self.stmt(stmt, top=True)
        return scope

    def _declared_names(self, stmt: A.Stmt) -> Iterable[tuple[str, int, int, object]]:
        if isinstance(stmt, A.VarDecl):
            yield stmt.name, stmt.line, stmt.col, stmt
        elif isinstance(stmt, (A.FnDecl, A.ClassDecl)):
            yield stmt.name, stmt.line, stmt.col, stmt
        elif isinstance(stmt, A.Import):
            yield stmt.alias, stmt.line, stmt.col, stmt
        elif isinstance(stmt, A.FromImport):
            info = self.imports.get(stmt.path)
            for name, line, col in stmt.names:
                node = info.exports.get(name) if info is not None else None
                yield name, line, col, node

    @staticmethod
    def _is_mutable(stmt: A.Stmt) -> bool:
        return isinstance(stmt, A.VarDecl) and stmt.mutable

    # ------------------------------------------------------------------ scopes

    def declare_local(self, name: str, mutable: bool, line: int, col: int) -> Var:
        assert self.fn is not None
        block = self.blocks[-1]
        if name in block.names:
            self.bag.error(line, col, f"'{name}' is already declared in this scope")
        var = Var(name, mutable, LOCAL, 0, self.fn, line, col)
        var.index = self.fn.new_slot(name, var)
        block.names[name] = var
        return var

    def lookup(self, name: str, line: int, col: int) -> Ref | None:
        fn = self.fn
        assert fn is not None
        for block in reversed(self.blocks):
            var = block.names.get(name)
            if var is not None:
                return self.ref_to(var)
        var = self.global_names.get(name)
        if var is not None:
            if self.top_level_code and not var.is_fn and self.own.get(name) is var and var.decl_order >= self.stmt_index and self._is_module_code():
                # Top-level code runs in order: a later global is not declared yet
                # (but the earlier entry's binding it will shadow is).
                var = self.shadowed.get(name)
                if var is None:
                    return None
            return Ref(GLOBAL, var.index, var, name)
        if name in BUILTIN_NAMES or (self.allow_private and name.startswith("__")):
            return Ref(BUILTIN, 0, None, name)
        return None

    def _is_module_code(self) -> bool:
        return self.fn is not None and self.fn.kind == "module"

    def ref_to(self, var: Var) -> Ref:
        assert self.fn is not None
        if var.kind == GLOBAL:
            return Ref(GLOBAL, var.index, var, var.name)
        if var.fn is self.fn:
            return Ref(LOCAL, var.index, var, var.name)
        return Ref(UPVAL, self.fn.upvalue_for(var), var, var.name)

    def block(self, block: A.Block, pre: Iterable[tuple[str, bool, int, int]] = ()) -> list[Var]:
        self.blocks.append(BlockScope())
        out = [self.declare_local(n, m, l, c) for n, m, l, c in pre]
        for s in block.stmts:
            self.stmt(s)
        self.blocks.pop()
        return out

    def function(self, node: A.FnDecl | A.Lambda, name: str, kind: str, cls: tuple | None = None) -> FnScope:
        """Resolve a function body in a new FnScope. `cls` is (ClassDecl, parent
        Var) for methods; lambdas and local functions inherit their enclosing
        method's class context so `self` and `super` work inside them
        (captured like other variables)."""
        outer_fn, outer_loop = self.fn, self.loop_depth
        scope = FnScope(name, outer_fn, kind)
        scope.is_async = node.is_async
        scope.level = outer_fn.level + 1 if outer_fn is not None else 1
        if scope.level == MAX_FUNCTION_NESTING + 1:  # (deeper ones are inside this one)
            self.bag.error(node.line, node.col, f"functions nested more than {MAX_FUNCTION_NESTING} deep")
        if cls is not None:
            scope.class_decl, scope.super_var = cls
        elif outer_fn is not None:
            scope.class_decl, scope.super_var = outer_fn.class_decl, outer_fn.super_var
        scope.new_slot(name, None)
        # Enclosing functions' blocks stay visible: their names become upvalues.
        depth = len(self.blocks)
        self.fn, self.loop_depth = scope, 0
        self.blocks.append(BlockScope())
        was_top = self.top_level_code
        self.top_level_code = False
        if kind == "init" and node.is_async:
            self.bag.error(node.line, node.col, "'init' cannot be async")
        if kind in ("method", "init"):
            self.declare_local("self", False, node.line, node.col)
        for p in node.params:
            if p.default is not None:  # tldefault: evaluated by the callee, seeing the parameters before it
                self.expr(p.default)
            self.declare_local(p.name, True, p.line, p.col)
        body = node.body
        if isinstance(body, A.Block):
            for s in body.stmts:
                self.stmt(s)
        else:
            self.expr(body)
        del self.blocks[depth:]
        self.fn, self.loop_depth = outer_fn, outer_loop
        self.top_level_code = was_top
        node.scope = scope
        return scope

    # ------------------------------------------------------------------ statements

    def stmt(self, s: A.Stmt, top: bool = False) -> None:
        self.where = s
        method = getattr(self, "s_" + type(s).__name__)
        method(s, top)

    def s_Block(self, s: A.Block, top: bool) -> None:
        self.block(s)

    def s_ExprStmt(self, s: A.ExprStmt, top: bool) -> None:
        self.expr(s.expr)

    def s_VarDecl(self, s: A.VarDecl, top: bool) -> None:
        if s.init is not None:
            self.expr(s.init)
        if top:
            s.ref = self._global_ref(s.name, s)
        else:
            var = self.declare_local(s.name, s.mutable, s.line, s.col)
            s.ref = Ref(LOCAL, var.index, var, s.name)

    def s_FnDecl(self, s: A.FnDecl, top: bool) -> None:
        if top:
            s.ref = self._global_ref(s.name, s)
        else:
            # Declared before its body is resolved, so a local function can recurse.
            var = self.declare_local(s.name, False, s.line, s.col)
            var.is_fn = True
            var.decl = s
            s.ref = Ref(LOCAL, var.index, var, s.name)
        self.function(s, s.name, "function")

    def s_ClassDecl(self, s: A.ClassDecl, top: bool) -> None:
        parent_var = None
        if s.parent is not None:
            self.expr(s.parent)
            ref = s.parent.ref
            parent_var = ref.var if ref is not None else None
            if ref is not None and ref.kind == BUILTIN:
                # Built-in classes (Error and friends) are reached by name.
                parent_var = Var(s.parent.name, False, BUILTIN, 0, None)
        if top:
            s.ref = self._global_ref(s.name, s)
        else:
            var = self.declare_local(s.name, False, s.line, s.col)
            var.is_class = True
            var.decl = s
            s.ref = Ref(LOCAL, var.index, var, s.name)
        seen: dict[str, str] = {}
        for f in s.fields:
            if f.name in seen:
                self.bag.error(f.line, f.col, f"'{f.name}' is already declared in this class")
            seen[f.name] = "field"
        # Non-constant field defaults (`var items = []`) are evaluated for each new
        # instance by a synthetic `$fields` method, run before `init`. A constant
        # default that redeclares a field an ancestor's `$fields` sets goes there
        # too: the ancestors' `$fields` run first (root first) and would
        # overwrite the template's constant, yet the subclass's default must win.
        inherited = _set_by_ancestors(parent_var)
        dynamic = [
            f for f in s.fields
            if f.default is not None and (not constant_value(f.default)[0] or inherited is None or f.name in inherited)
        ]
        if dynamic and not any(m.name == "$fields" for m in s.methods):
            body = [A.Assign(f.line, f.col, A.Field(f.line, f.col, A.SelfExpr(f.line, f.col), f.name), "=", f.default) for f in dynamic]
            s.methods.append(A.FnDecl(s.line, s.col, "$fields", [], None, A.Block(s.line, s.col, body)))
        for m in s.methods:
            if m.name in seen:
                what = "a field" if seen[m.name] == "field" else "a method"
                self.bag.error(m.line, m.col, f"'{m.name}' is already declared in this class as {what}")
            seen[m.name] = "method"
        for m in s.methods:
            kind = "init" if m.name == "init" else "method"
            self.function(m, f"{s.name}.{m.name}", kind, (s, parent_var))
        enums.resolve_statics(self, s)  # tlenum (1.1)

    # tlenum (1.1): enums (classes with static members) and match (a block).
    s_EnumDecl = s_ClassDecl

    def s_Match(self, s: A.Match, top: bool) -> None:
        self.block(s)

    def e_EnumValue(self, e: A.EnumValue) -> None:
        self.expr(e.cls)

    def s_Assign(self, s: A.Assign, top: bool) -> None:
        self.expr(s.value)
        t = s.target
        if isinstance(t, A.Name):
            self.expr(t)
            ref = t.ref
            if ref is not None:
                var = ref.var
                if ref.kind == BUILTIN:
                    self.bag.error(t.line, t.col, f"cannot assign to built-in '{t.name}'")
                elif var is not None and not var.mutable:
                    self.bag.error(t.line, t.col, f"cannot assign to '{t.name}': it is declared with 'let'" if not (var.is_fn or var.is_class or var.is_import) else f"cannot assign to '{t.name}'")
        elif isinstance(t, (A.Index, A.Field)):
            self.expr(t)
        else:
            self.bag.error(t.line, t.col, "invalid assignment target")

    def s_If(self, s: A.If, top: bool) -> None:
        while True:  # along an `else if` chain
            self.expr(s.cond)
            self.block(s.then)
            orelse = s.orelse
            if not isinstance(orelse, A.If):
                if orelse is not None:
                    self.block(orelse)
                return
            s = orelse

    def s_While(self, s: A.While, top: bool) -> None:
        self.expr(s.cond)
        self.loop_depth += 1
        self.block(s.body)
        self.loop_depth -= 1

    def s_For(self, s: A.For, top: bool) -> None:
        self.expr(s.iterable)
        self.loop_depth += 1
        (var,) = self.block(s.body, [(s.var, True, s.var_line, s.var_col)])
        s.ref = Ref(LOCAL, var.index, var, s.var)
        self.loop_depth -= 1

    def s_Return(self, s: A.Return, top: bool) -> None:
        assert self.fn is not None
        if self.fn.kind == "module":
            self.bag.error(s.line, s.col, "'return' outside a function")
        elif self.fn.kind == "init" and s.value is not None:
            self.bag.error(s.line, s.col, "cannot return a value from 'init'")
        if s.value is not None:
            self.expr(s.value)

    def s_Break(self, s: A.Break, top: bool) -> None:
        if self.loop_depth == 0:
            self.bag.error(s.line, s.col, "'break' outside a loop")

    def s_Continue(self, s: A.Continue, top: bool) -> None:
        if self.loop_depth == 0:
            self.bag.error(s.line, s.col, "'continue' outside a loop")

    def s_Throw(self, s: A.Throw, top: bool) -> None:
        self.expr(s.value)

    def s_Try(self, s: A.Try, top: bool) -> None:
        self.block(s.body)
        if s.catch_body is not None:
            pre = [(s.catch_name, True, s.catch_line or s.line, s.catch_col or s.col)] if s.catch_name else []
            vars_ = self.block(s.catch_body, pre)
            if vars_:
                s.ref = Ref(LOCAL, vars_[0].index, vars_[0], s.catch_name or "")
        if s.finally_body is not None:
            self.block(s.finally_body)

    def s_Import(self, s: A.Import, top: bool) -> None:
        s.ref = self._global_ref(s.alias, s)

    def _global_ref(self, name: str, decl: object) -> Ref | None:
        # None when this declaration lost to an earlier one of the same name.
        var = self.global_names.get(name)
        return Ref(GLOBAL, var.index, var, name) if var is not None and var.decl is decl else None

    def s_FromImport(self, s: A.FromImport, top: bool) -> None:
        info = self.imports.get(s.path)
        refs = []
        for name, line, col in s.names:
            if info is not None and name not in info.exports:
                self.bag.error(line, col, f"module \"{s.path}\" has no export '{name}'")
            var = self.global_names.get(name)
            refs.append(Ref(GLOBAL, var.index, var, name) if var is not None else None)
        s.refs = refs

    def s_Select(self, s: A.Select, top: bool) -> None:
        for c in s.cases:
            self.expr(c.channel)
            self.expr(c.value)
            if c.var is not None:
                (var,) = self.block(c.body, [(c.var, True, c.line, c.col)])
                c.ref = Ref(LOCAL, var.index, var, c.var)
            else:
                self.block(c.body)

    # ------------------------------------------------------------------ expressions

    def expr(self, e: A.Expr | None) -> None:
        if e is None:
            return
        rules = self.rules
        if type(e) not in A.CHAIN_LINKS:
            rule = rules.get(type(e))
            if rule is None:
                rule = rules[type(e)] = getattr(self, "e_" + type(e).__name__, _nothing)
            rule(e)
            return
        # A chain is a left-deep tree: go down its left spine in a loop, then
        # finish each link outwards (the order a recursive walk would take).
        spine, e = A.left_spine(e)
        rule = rules.get(type(e))
        if rule is None:
            rule = rules[type(e)] = getattr(self, "e_" + type(e).__name__, _nothing)
        rule(e)
        for link in reversed(spine):
            getattr(self, "rest_" + type(link).__name__)(link)

    def e_Name(self, e: A.Name) -> None:
        ref = self.lookup(e.name, e.line, e.col)
        if ref is None:
            self.bag.error(e.line, e.col, undeclared(e.name, self.names_in_scope()))
        e.ref = ref

    def names_in_scope(self) -> Iterator[str]:
        """The names visible here, innermost first (for "did you mean")."""
        for block in reversed(self.blocks):
            yield from block.names
        for name, var in self.global_names.items():
            # (as lookup decides, without its side effects: no upvalues made)
            if self.top_level_code and not var.is_fn and var.index >= self.first_slot and var.decl_order >= self.stmt_index and self._is_module_code():
                continue  # not declared yet
            yield name
        yield from sorted(BUILTIN_NAMES)

    def e_SelfExpr(self, e: A.SelfExpr) -> None:
        if not self._in_method():
            static = enums.enclosing_static(self.fn)
            self.bag.error(e.line, e.col, f"'self' in static function '{static}'" if static else "'self' outside a method")
            return
        e.ref = self.lookup("self", e.line, e.col)

    def e_SuperField(self, e: A.SuperField) -> None:
        fn = self.fn
        assert fn is not None
        if not self._in_method() or fn.super_var is None:
            self.bag.error(e.line, e.col, "'super' outside a subclass method")
            return
        sv = fn.super_var
        self.lookup("self", e.line, e.col)  # super calls pass self: capture it now
        if sv.kind == BUILTIN:
            e.ref = Ref(BUILTIN, 0, None, sv.name)
        else:
            e.ref = self.ref_to(sv)

    def _in_method(self) -> bool:
        fn = self.fn
        while fn is not None:
            if fn.kind in ("method", "init"):
                return True
            if fn.kind == "module" or fn.kind == "static":
                return False
            fn = fn.parent  # a lambda or a local function: its enclosing function's
        return False

    def e_Interp(self, e: A.Interp) -> None:
        for p in e.parts:
            if not isinstance(p, str):
                self.expr(p)

    def e_ArrayLit(self, e: A.ArrayLit) -> None:
        for x in e.items:
            self.expr(x)

    # Issue 18, helper tltuple: the tuple nodes' children.
    def e_TupleLit(self, e: A.TupleLit) -> None:
        for x in e.items:
            self.expr(x)

    def e_Unpack(self, e: A.Unpack) -> None:
        self.expr(e.value)

    def e_Pairs(self, e: A.Pairs) -> None:
        self.expr(e.iterable)

    def e_MapLit(self, e: A.MapLit) -> None:
        for k, v in e.entries:
            self.expr(k)
            self.expr(v)

    def e_RecordLit(self, e: A.RecordLit) -> None:
        seen = set()
        for name, v in e.fields:
            if name in seen:
                self.bag.error(v.line, v.col, f"duplicate field '{name}' in record")
            seen.add(name)
            self.expr(v)

    def e_Unary(self, e: A.Unary) -> None:
        self.expr(e.operand)

    # The links of chains (see expr): their left operand is resolved already.

    def rest_Binary(self, e: A.Binary) -> None:
        self.expr(e.right)

    rest_Logical = rest_Binary

    def rest_Call(self, e: A.Call) -> None:
        for a in e.args:
            self.expr(a)

    def rest_Index(self, e: A.Index) -> None:
        self.expr(e.index)

    def rest_Field(self, e: A.Field) -> None:
        if isinstance(e.obj, A.Name) and e.obj.ref is not None and e.obj.ref.var is not None:
            var = e.obj.ref.var
            if var.is_import and var.module_exports is not None and e.name not in var.module_exports:
                self.bag.error(e.line, e.col, f"module \"{var.module_name}\" has no export '{e.name}'")

    def e_Lambda(self, e: A.Lambda) -> None:
        self.function(e, "<lambda>", "lambda")

    def e_Await(self, e: A.Await) -> None:
        self.expr(e.value)

    def e_Spawn(self, e: A.Spawn) -> None:
        self.expr(e.call)
        if not isinstance(e.call, A.Call):
            self.bag.error(e.line, e.col, "spawn needs a call, like 'spawn f(x)'")

    def e_Yield(self, e: A.Yield) -> None:
        self.expr(e.value)
        fn = self.fn
        assert fn is not None
        if fn.kind == "module":
            self.bag.error(e.line, e.col, "'yield' outside a function")
        elif fn.kind == "init":
            self.bag.error(e.line, e.col, "'init' cannot be a generator")
        elif fn.is_async:
            self.bag.error(e.line, e.col, "an async function cannot yield")
        else:
            fn.has_yield = True


def _set_by_ancestors(parent_var: Var | None) -> set[str] | None:
    """The fields the ancestors' `$fields` methods may set (those with a
    non-constant default), or None when an ancestor's declaration is not
    known here (the caller then assumes any field may be set)."""
    names: set[str] = set()
    var = parent_var
    for _ in range(10_000):  # (a cycle is an error reported elsewhere)
        if var is None or var.kind == BUILTIN:
            return names  # (built-in classes have no `$fields`)
        decl = var.decl
        if not isinstance(decl, A.ClassDecl):
            return None
        names.update(f.name for f in decl.fields if f.default is not None and not constant_value(f.default)[0])
        if decl.parent is None:
            return names
        ref = getattr(decl.parent, "ref", None)
        if ref is None:
            return None  # (a parent declared further down: not resolved yet)
        if ref.kind == BUILTIN:
            return names
        var = ref.var
    return None

