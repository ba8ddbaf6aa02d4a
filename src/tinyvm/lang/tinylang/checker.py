"""The check pass: gradual static types for a resolved module (spec section 12).

It runs between the resolver and the emitter, walks every statement and
expression once, and

* sets `Expr.ty` on every expression, `Var.ty` on every variable and
  `FnScope.ty` on every function (the emitter records them in code objects
  for the JIT tiers);
* reports every type error into the module's DiagnosticBag and keeps going
  (an erroneous expression gets type `any`, which suppresses follow-on errors);
* marks where a value flows into a typed place and needs run-time work: an
  `any` value checked against the place's type, or an int widened to float
  (`conv` on the node, emitted as CHECK_TYPE), and field stores whose value it
  proved (`Assign.proven`, emitted as SET_FIELD_PROVEN).

Inference: `let`/`var` take their initializer's type; unannotated parameters
are `any`; lambda parameters take the expected function type's; a function's
return type is inferred from its returns. Function bodies are checked after
the top-level code (so they see the types of globals declared after them),
except that a call to an unannotated function needs its return type first:
then its body is checked on demand. A recursive call met while inferring a
function's own return type sees `any`. On-demand checks nest (a chain of
unannotated functions each calling the next is as deep as it is long), so
past INFER_FRAMES Python frames of them a call sees `any` too, and the
callee's body is checked in its turn; the same holds for the default of a
field, typed on its first use.

Narrowing: inside `if x != nil`, after `if x == nil { return }`, on the right
of `x != nil and ...`, inside `if x is C`, and after `x = <not nil>` (1.1), a
local variable (or a `let`) has the narrower type; after an `if`, what every
branch that completes ends with (flow.merge_narrowings). Variables captured
by closures are never narrowed (a call could change them), and narrowing is
dropped for variables assigned in a loop (on entry to the loop). Definite
assignment is definite.py's, after this pass.

Chains cost no recursion (lang/nesting.py): `expr` walks the left spine of
`a + b`, `a and b`, `f(x)`, `a.m(x)`, `a[i]` and `a.f` in a loop and applies
each link's `rest_` rule outwards; `if ... else if ...` is a loop in `s_If`;
what a condition proves (flow.Proofs) is computed once per `and`/`or` node.
`self` is the enclosing method's in lambdas and local functions alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import DiagnosticBag
from . import ast as A
from . import enums, matching
from . import signatures as S
from .flow import Proofs, assigned_narrowing, assigned_vars, breaks, completes, merge_narrowings, top_level_only
from .hints import closest
from .generics import GenericChecks
from .library_generics import LibraryTypeChecks
from .members import MemberChecks
from .tuples import TupleChecks
from .arguments import ArgumentRules, required_of
from .nilexpr import CheckRules
from ..frontend import ModuleInfo
from .resolver import constant_value, plural
from ..nesting import deeper_than, stack_depth
from .scopes import BUILTIN, GLOBAL, FnScope, Var
from .types import (
    ANY,
    BOOL,
    CHECK,
    ERROR,
    FLOAT,
    INT,
    NEVER,
    NIL,
    NUMERIC,
    OK,
    PRIMS,
    RANGE,
    STRING,
    WIDEN,
    ArrayT,
    ClassRefT,
    ClassSym,
    FnT,
    GENERIC_ARITY,
    GENERICS,
    GenericT,
    MapT,
    ModuleT,
    OptionalT,
    RecordT,
    Type,
    checkable,
    class_type,
    join,
    relation,
    runtime_text,
    optional,
    strip_optional,
)

# Python frames of nested on-demand checks after which a callee (or a field)
# is `any` for now (see the module docstring): about 200 functions in a
# chain. The pipeline gives the checker this much more stack room.
INFER_FRAMES = 1600

ARITH = frozenset("- * / %".split())
BITWISE = frozenset("& | ^ << >>".split())
ORDER = frozenset("< <= > >=".split())


@dataclass(slots=True, eq=False)
class FnCtx:
    """The function whose body is being checked."""

    name: str  # for messages: "add", "Point.move", "<lambda>", "<module>"
    kind: str  # FnScope kind
    declared: Type | None  # declared return type; None: inferred from `returns`
    cls: ClassSym | None  # the class of `self`
    returns: list[Type] = field(default_factory=list)
    yields: list[Type] = field(default_factory=list)
    yield_type: Type | None = None  # a generator declared -> Gen<T>: T



def _checked_left(e: A.Expr) -> A.Expr | None:
    """The checker's left operand of a chain link: a method call's is its
    object (call_method types the callee itself); a super call has none."""
    if type(e) is A.Call:
        ct = type(e.callee)
        return e.callee.obj if ct is A.Field else None if ct is A.SuperField else e.callee
    return A.left_operand(e)

class Checker(LibraryTypeChecks, GenericChecks, MemberChecks, TupleChecks, CheckRules, ArgumentRules):  # tlexpr: the 1.1 expressions (nilexpr.py), defaults and named arguments (arguments.py)
    def __init__(self, bag: DiagnosticBag, imports: dict[str, ModuleInfo], globals_: list[Var]):
        self.bag = bag
        self.imports = imports
        self.globals = globals_
        self.syms: dict[int, ClassSym] = {}  # id(ClassDecl) -> its class
        self.sigs: dict[int, FnT] = {}  # id(FnDecl) -> signature, once known
        self.busy: set[int] = set()  # FnDecls whose bodies are being checked
        self.done: set[int] = set()  # FnDecls whose bodies have been checked
        self.owner: dict[int, ClassSym] = {}  # id(method FnDecl) -> its class
        self.type_scopes: list[dict[str, ClassSym]] = [{n: s for n, s in S.ERROR_CLASSES.items()}]
        self.narrow: dict[Var, Type] = {}
        self.ctx = FnCtx("<module>", "module", None, None)
        self.deferred: list[A.FnDecl] = []
        self.proofs = Proofs()  # what conditions prove (flow.py)
        self.where: A.Node | None = None  # the statement being checked (for run_pass)
        self.rules: dict[type, Any] = {}  # node type -> its e_ method (see expr)
        self.base_depth = 0  # the stack depth check_module started at
        self.init_generics()  # 1.1 generics and interfaces (generics.py)
        self.shadowed: frozenset = frozenset()  # names an earlier REPL entry declared (Resolver.shadowed)

    def error(self, node: A.Node, message: str) -> None:
        self.bag.error(node.line, node.col, message)

    # ------------------------------------------------------------------ module

    def check_module(self, mod: A.Module, scope: FnScope) -> None:
        self.base_depth = stack_depth()
        top = self.type_scopes[0]
        classes = [s for s in mod.body if isinstance(s, A.ClassDecl)]
        for c in classes:
            self.syms[id(c)] = ClassSym(c.name, None, c)
        for var in self.globals:
            if isinstance(var.decl, A.ClassDecl):
                sym = self.syms.get(id(var.decl)) or self._foreign_class(var.decl)
                if sym is not None:
                    top[var.name] = sym
        self.bind_type_params(mod, classes)
        for c in classes:
            self._declare_class(c)
        self.check_implements(classes)
        self.proofs.also = top_level_only(mod.body, self.shadowed)  # globals that narrow in this code
        for s in mod.body:
            self.stmt(s)
        self.proofs.also = frozenset()
        for decl in self.deferred:  # some were checked on demand already
            if id(decl) not in self.done:
                self.check_fn_body(decl)
        for sym in list(self.syms.values()):
            decl = sym.decl
            decl.field_types = tuple(runtime_text(self.field_type(sym, f.name)) for f in decl.fields)
        scope.ty = FnT((), NIL, (), "<module>")
        for var in self.globals:  # what importers of this module see
            if var.ty is None and var.decl is not None and var.kind == GLOBAL:
                var.ty = self.decl_type(var.decl)

    def _foreign_class(self, decl: A.ClassDecl) -> ClassSym | None:
        t = decl.ref.var.ty if decl.ref is not None and decl.ref.var is not None else None
        return t.cls.sym if isinstance(t, ClassRefT) else None

    def _declare_class(self, c: A.ClassDecl) -> None:
        """Fill in a class's parent, fields and methods (types of unannotated
        fields with non-constant defaults are inferred when first needed)."""
        sym = self.syms[id(c)]
        if c.parent is not None:
            pt = self.expr(c.parent)
            if isinstance(pt, ClassRefT) and pt.cls.sym is not None:
                sym.parent = pt.cls.sym
            else:
                sym.open = True
                if pt is not ANY:
                    self.error(c.parent, f"a class can only extend a class, got {pt}")
        for f in c.fields:
            if f.type is not None:
                t = self.annot(f.type)
                ok, value = constant_value(f.default)
                if ok and f.default is not None:
                    self.flow(f.default, self.expr(f.default), t, f"field '{f.name}' of {c.name}")
                sym.fields[f.name] = t
            else:
                ok, _ = constant_value(f.default)
                if f.default is None or isinstance(f.default, A.NilLit):
                    sym.fields[f.name] = ANY
                elif ok:
                    sym.fields[f.name] = self.expr(f.default)
                else:
                    sym.fields[f.name] = f  # inferred on first use
        for m in c.methods:
            sym.methods[m.name] = m
            self.owner[id(m)] = sym
        var = c.ref.var if c.ref is not None else None
        if var is not None:
            var.ty = ClassRefT(class_type(sym))

    def field_type(self, sym: ClassSym, name: str) -> Type | None:
        for c in sym.ancestors():
            t = c.fields.get(name)
            if t is None:
                continue
            if isinstance(t, A.FieldDecl):  # an unannotated non-constant default
                if self.too_deep_to_infer():
                    return ANY  # for now: typed at a later use
                c.fields[name] = ANY  # while inferring (a default mentioning its own field)
                saved, self.ctx = self.ctx, FnCtx(f"{c.name}.$fields", "method", None, c)
                c.fields[name] = self.expr(t.default)
                self.ctx = saved
                if c.fields[name] in (NIL, NEVER):
                    c.fields[name] = ANY
            return c.fields[name]
        return None

    # ------------------------------------------------------------------ annotations

    def annot(self, t: A.TypeExpr) -> Type:
        if isinstance(t, A.NamedType):
            g = self.generic_annot(t)
            if g is not None:
                return g
            name = t.name
            if name in PRIMS or (name in GENERICS and t.args):
                if name in PRIMS and t.args:
                    self.error(t, f"type '{name}' takes no type arguments")
                if name in GENERICS:
                    want = GENERIC_ARITY.get(name, 1)
                    if len(t.args) != want:
                        self.error(t, f"type '{name}' takes {plural(want, 'type argument')}, got {len(t.args)}")
                    if want == 2:  # WeakMap<K, V>
                        args = [self.annot(a) for a in t.args[:2]] + [ANY, ANY]
                        return GenericT(name, args[0], args[1])
                    return GenericT(name, self.annot(t.args[0]))
                return PRIMS[name]
            if name in GENERICS:
                return GenericT(name, ANY, ANY if GENERIC_ARITY.get(name, 1) == 2 else None)
            for names in reversed(self.type_scopes):
                sym = names.get(name)
                if sym is not None:
                    if t.args:
                        self.error(t, f"type '{name}' takes no type arguments")
                    return class_type(sym)
            near = closest(name, [*(n for names in reversed(self.type_scopes) for n in names), *PRIMS, *GENERICS])
            self.error(t, f"unknown type '{name}'" + (f"; did you mean '{near}'?" if near else ""))
            return ANY
        if isinstance(t, A.ArrayType):
            return ArrayT(self.annot(t.elem))
        if isinstance(t, A.MapType):
            return MapT(self.annot(t.key), self.annot(t.value))
        if isinstance(t, A.RecordType):
            return RecordT(tuple((n, self.annot(x)) for n, x in t.fields))
        if isinstance(t, A.FnType):
            return FnT(tuple(self.annot(p) for p in t.params), self.annot(t.ret) if t.ret is not None else NIL)
        if isinstance(t, A.OptionalType):
            inner = self.annot(t.inner)
            return inner if inner is ANY or inner is NIL or isinstance(inner, OptionalT) else OptionalT(inner)
        if isinstance(t, A.TupleType):
            return self.annot_tuple(t)
        return ANY  # pragma: no cover

    # ------------------------------------------------------------------ flows

    def flow(self, node: A.Node, src: Type, dst: Type, place: str, runtime: bool = True) -> tuple[str, str] | None:
        """Check a value of type src flowing into a place of type dst; returns the
        run-time work (CHECK_TYPE operand) it needs, if any. With runtime=False,
        `any` values are left to the callee's own entry check."""
        r = relation(src, dst)
        if r == OK:
            return None
        if r == ERROR:
            self.error(node, f"{place}: expected {dst}, got {src}")
            return None
        if r == WIDEN:
            return (dst.text(), place)
        if runtime and r == CHECK and checkable(dst):
            text = runtime_text(dst)  # (type parameters are erased: nothing to check)
            return (text, place) if text else None
        return None

    # ------------------------------------------------------------------ functions

    def decl_type(self, decl: Any) -> Type:
        """Type of the value a declaration binds (this module's or an import's)."""
        var = decl.ref.var if getattr(decl, "ref", None) is not None else None
        if var is not None and var.ty is not None:
            return var.ty
        if isinstance(decl, A.FnDecl) and decl.scope is not None:
            return self.fn_sig(decl)  # this module's (an import's has var.ty set)
        if isinstance(decl, A.ClassDecl) and id(decl) in self.syms:
            return ClassRefT(class_type(self.syms[id(decl)]))
        return ANY

    def param_types(self, node: A.FnDecl | A.Lambda, expected: FnT | None = None) -> tuple[Type, ...]:
        out = []
        for i, p in enumerate(node.params):
            if p.type is not None:
                out.append(self.annot(p.type))
            elif expected is not None:
                out.append(expected.params[i])
            else:
                out.append(ANY)
        return tuple(out)

    def fn_sig(self, decl: A.FnDecl) -> FnT:
        """The signature of a named function or method, checking its body first
        when its return type must be inferred."""
        sig = self.sigs.get(id(decl))
        if sig is not None:
            return sig
        if decl.ret_type is None:
            if id(decl) in self.busy or self.too_deep_to_infer():  # not known yet
                return FnT(self.param_types(decl), ANY, tuple(p.name for p in decl.params), decl.scope.name, required_of(decl))
            self.check_fn_body(decl)
            return self.sigs[id(decl)]
        sig = FnT(self.param_types(decl), self.call_type(decl, self.annot(decl.ret_type)), tuple(p.name for p in decl.params), decl.scope.name, required_of(decl))
        self.sigs[id(decl)] = sig
        return sig

    def too_deep_to_infer(self) -> bool:
        """Are on-demand checks nested INFER_FRAMES deep already?"""
        return deeper_than(self.base_depth + INFER_FRAMES)

    @staticmethod
    def call_type(node: A.FnDecl | A.Lambda, ret: Type) -> Type:
        """What calling a function gives, from what its body returns: a Task
        for an async function. (A generator's type is Gen<T> either way.)"""
        return GenericT("Task", ret) if node.is_async else ret

    def check_fn_body(self, decl: A.FnDecl, cls: ClassSym | None = None) -> None:
        """Check a named function's body; `cls` is the class of `self` for a
        local function in a method (a method's own class is `self.owner`'s)."""
        key = id(decl)
        self.busy.add(key)
        scope: FnScope = decl.scope
        params = self.param_types(decl)
        declared = self.annot(decl.ret_type) if decl.ret_type is not None else None
        if declared is not None:
            self.sigs[key] = FnT(params, self.call_type(decl, declared), tuple(p.name for p in decl.params), scope.name, required_of(decl))
        cls = self.owner.get(key, cls)
        ret = self.check_function(decl, params, declared, cls)
        if scope.kind == "init":
            ret = NIL
        self.sigs[key] = FnT(params, ret, tuple(p.name for p in decl.params), scope.name, required_of(decl))
        scope.ty = self.sigs[key]
        self.busy.discard(key)
        self.done.add(key)

    def check_function(self, node: A.FnDecl | A.Lambda, params: tuple[Type, ...], declared: Type | None, cls: ClassSym | None) -> Type:
        """Check a function body; returns its (declared or inferred) return type."""
        scope: FnScope = node.scope
        first = 2 if scope.kind in ("method", "init") else 1
        if first == 2 and scope.slot_vars[1] is not None:
            scope.slot_vars[1].ty = class_type(cls) if cls is not None else ANY
        for i, t in enumerate(params):
            var = scope.slot_vars[first + i]
            if var is not None:
                var.ty = t
        saved = (self.ctx, self.narrow)
        gen_decl = declared
        if scope.has_yield and declared is not None:
            # A generator's declared type is Gen<T>: T checks its yields; its
            # returns (which end it) are not checked.
            if not (isinstance(declared, GenericT) and declared.name == "Gen"):
                self.error(node, f"generator '{scope.name}' must be declared -> Gen<T>, got {declared}")
                gen_decl = GenericT("Gen", ANY)
            declared = None
        self.ctx = FnCtx(scope.name, scope.kind, declared, cls)
        if gen_decl is not None and scope.has_yield:
            self.ctx.yield_type = gen_decl.arg
        self.narrow = {}
        saved_also, self.proofs.also = self.proofs.also, frozenset()
        self.type_scopes.append({})
        self.check_defaults(node, params)  # tlexpr: default values fit their parameters (tldefault: in the callee)
        body = node.body
        if isinstance(body, A.Block):
            for s in body.stmts:
                self.stmt(s)
            falls_off = completes(body.stmts)
            returns = self.ctx.returns
            yields = self.ctx.yields
        else:
            t = self.expr(body, declared)
            if declared is not None:
                body.conv = self.flow(body, t, declared, f"return value of {scope.name}")
            falls_off, returns, yields = False, [t], []
        self.type_scopes.pop()
        self.ctx, self.narrow = saved
        self.proofs.also = saved_also
        if declared is not None:
            if falls_off and scope.kind != "init" and relation(NIL, declared) == ERROR:
                self.error(node, f"missing return in '{scope.name}': it must return {declared} on every path")
            ret = declared
        else:
            ret = NEVER
            for t in returns:
                ret = join(ret, t)
            if falls_off:
                ret = join(ret, NIL)
            if ret is NEVER:
                ret = NIL
        if scope.has_yield:
            elem = NEVER
            for t in yields:
                elem = join(elem, t)
            ret = gen_decl if gen_decl is not None else GenericT("Gen", ANY if elem in (NEVER, NIL) else elem)
        ret = self.call_type(node, ret)
        scope.ty = FnT(params, ret, tuple(p.name for p in node.params), scope.name)
        return ret

    # ------------------------------------------------------------------ narrowing

    def read_type(self, var: Var | None) -> Type:
        if var is None:
            return ANY
        t = self.narrow.get(var)
        if t is not None:
            return t
        if var.ty is not None:
            return var.ty
        if var.decl is not None and (var.is_fn or var.is_class or var.kind == GLOBAL):
            return self.decl_type(var.decl)
        return ANY

    def forget(self, variables: set) -> None:
        narrow = self.narrow
        if len(variables) > len(narrow):  # (a long `else if` chain assigns many)
            for v in [v for v in narrow if v in variables]:
                del narrow[v]
        else:
            for v in variables:
                narrow.pop(v, None)

    # ------------------------------------------------------------------ statements

    def stmt(self, s: A.Stmt) -> None:
        self.where = s
        getattr(self, "s_" + type(s).__name__)(s)

    def block(self, stmts: list[A.Stmt]) -> None:
        self.type_scopes.append({})
        for s in stmts:
            self.stmt(s)
        self.type_scopes.pop()

    def s_Block(self, s: A.Block) -> None:
        self.block(s.stmts)

    def s_ExprStmt(self, s: A.ExprStmt) -> None:
        self.expr(s.expr)

    def s_VarDecl(self, s: A.VarDecl) -> None:
        declared = self.annot(s.type) if s.type is not None else None
        place = f"variable '{s.name}'"
        if s.init is None:  # definite.py sees that it is assigned before use
            t = declared if declared is not None else ANY
        else:
            it = self.expr(s.init, declared)
            if declared is not None:
                s.conv = self.flow(s.init, it, declared, place)
                t = declared
            else:
                t = ANY if it in (NIL, NEVER) else it
        var = s.ref.var if s.ref is not None else None
        if var is not None:
            var.ty = t
            self.narrow.pop(var, None)
            if s.init is not None:
                self.narrow_on_assign(var, s.init.ty)
                if not s.mutable and isinstance(s.init, A.NilLit):
                    self.proofs.nil_lets.add(var)

    def s_FnDecl(self, s: A.FnDecl) -> None:
        var = s.ref.var if s.ref is not None else None
        if var is not None and var.kind == GLOBAL:
            self.deferred.append(s)  # checked after the top-level code
            return
        # A local function: declared before its body is checked (it may recurse).
        params = self.param_types(s)
        if var is not None:
            var.ty = FnT(params, self.annot(s.ret_type) if s.ret_type is not None else ANY, tuple(p.name for p in s.params), s.scope.name, required_of(s))
        self.check_fn_body(s, self.ctx.cls)  # in a method, `self` is the method's
        if var is not None:
            var.ty = self.sigs[id(s)]

    def s_ClassDecl(self, s: A.ClassDecl) -> None:
        if id(s) not in self.syms:  # a class declared inside a function
            self.syms[id(s)] = ClassSym(s.name, None, s)
            self.type_scopes[-1][s.name] = self.syms[id(s)]
            self._declare_class(s)
            self.check_implements([s])
            for m in s.methods if not s.is_interface else ():
                self.check_fn_body(m)
            enums.check_statics(self, s)  # tlenum (1.1)
            return
        if not s.is_interface:  # (an interface's methods are signatures)
            self.deferred.extend(s.methods)
        enums.check_statics(self, s)  # tlenum (1.1)

    # tlenum (1.1): enums are classes (lang/tinylang/enums.py); a match is a
    # block of its lowered statements plus its rules (lang/tinylang/matching.py).
    s_EnumDecl = s_ClassDecl

    def s_Match(self, s: A.Match) -> None:
        matching.check_match(self, s)

    def e_EnumValue(self, e: A.EnumValue, expected: Type | None) -> Type:
        return enums.e_EnumValue(self, e)

    def s_Assign(self, s: A.Assign) -> None:
        t = s.target
        if isinstance(t, A.Name):
            var = t.ref.var if t.ref is not None else None
            t.ty = self.read_type(var)  # the current (possibly narrowed) type, for `op=`
            declared = var.ty if var is not None and var.ty is not None else ANY
            self.store(s, t.ty, declared, f"variable '{t.name}'")
            if var is not None:
                self.narrow.pop(var, None)
                if s.op == "=":
                    self.narrow_on_assign(var, s.value.ty)
        elif isinstance(t, A.Field):
            place_t, place, proven = self.field_target(t)
            t.ty = place_t
            self.store(s, place_t, place_t, place)
            s.proven = proven
        elif isinstance(t, A.Index):
            place_t, place = self.index_target(t)
            t.ty = place_t
            self.store(s, place_t, place_t, place)
        else:
            self.expr(s.value)

    def narrow_on_assign(self, var: Var, value: Type | None) -> None:
        t = assigned_narrowing(var, value, self.proofs.also) if value is not None else None
        if t is not None:
            self.narrow[var] = t

    def store(self, s: A.Assign, current: Type, place_t: Type, place: str) -> None:
        """Type the value of `target op= value` and check it against the place."""
        if s.op == "=":
            vt = self.expr(s.value, place_t)
            s.conv = self.flow(s.value, vt, place_t, place)
            return
        vt = self.expr(s.value)
        result = self.binary_type(s, s.op[:-1], current, vt)
        s.conv = self.flow(s, result, place_t, place)

    def s_If(self, s: A.If) -> None:
        # An `else if` chain, in a loop: each `if` of it is checked with what
        # the conditions before it proved false. After the chain holds what
        # every branch that can complete ends with (a branch that returns,
        # throws, breaks or continues does not reach it; assignments in a
        # branch narrow or widen there: flow.merge_narrowings).
        ends: list[dict] = []  # the narrowings at the end of each branch that completes
        while True:
            self.condition(s.cond, "condition")
            when_true, when_false = self.proofs.of(s.cond)
            outer = dict(self.narrow)
            self.narrow.update(when_true)
            self.block(s.then.stmts)
            if completes(s.then.stmts):
                ends.append(self.narrow)
            self.narrow = outer
            self.narrow.update(when_false)
            if not isinstance(s.orelse, A.If):
                break
            s = s.orelse
        if s.orelse is not None:
            self.block(s.orelse.stmts)
            if completes(s.orelse.stmts):
                ends.append(self.narrow)
        else:
            ends.append(self.narrow)
        self.narrow = merge_narrowings(ends) if ends else outer

    def condition(self, e: A.Expr, what: str) -> None:
        t = self.expr(e)
        if t is not BOOL and t is not ANY:
            self.error(e, f"{what} must be bool, got {t}")

    def s_While(self, s: A.While) -> None:
        changed = assigned_vars([s.cond, s.body])
        self.forget(changed)
        self.condition(s.cond, "condition")
        saved = dict(self.narrow)
        # The condition is tested before every iteration, so what it proves
        # holds at the top of the body even for variables the body assigns
        # (an assignment ends the narrowing from there on).
        when_true, when_false = self.proofs.of(s.cond)
        self.narrow.update(when_true)
        self.block(s.body.stmts)
        self.narrow = saved
        if not breaks(s.body.stmts):  # the loop ends when its condition is false
            self.narrow.update(when_false)

    def s_For(self, s: A.For) -> None:
        it = self.expr(s.iterable)
        elem = self.iter_type(s.iterable, it)
        var = s.ref.var if s.ref is not None else None
        if var is not None:
            var.ty = elem
        changed = assigned_vars(s.body)
        self.forget(changed)
        saved = dict(self.narrow)
        self.block(s.body.stmts)
        self.narrow = saved

    def iter_type(self, node: A.Expr, t: Type) -> Type:
        if isinstance(t, ArrayT):
            return t.elem
        if isinstance(t, MapT):
            return t.key
        if t is STRING:
            return STRING
        if t is RANGE:
            return INT
        if isinstance(t, GenericT) and t.name in ("Chan", "Gen", "Set"):
            return t.arg
        if t is not ANY:
            self.error(node, f"cannot iterate over a value of type {t}")
        return ANY

    def s_Return(self, s: A.Return) -> None:
        ctx = self.ctx
        if ctx.kind == "init" or ctx.kind == "module":
            if s.value is not None:
                self.expr(s.value)
            return
        vt = self.expr(s.value, ctx.declared) if s.value is not None else NIL
        if ctx.declared is not None:
            s.conv = self.flow(s.value or s, vt, ctx.declared, f"return value of {ctx.name}")
        else:
            ctx.returns.append(vt)

    def s_Break(self, s: A.Break) -> None:
        pass

    s_Continue = s_Break

    def s_Throw(self, s: A.Throw) -> None:
        self.expr(s.value)

    def s_Try(self, s: A.Try) -> None:
        saved = dict(self.narrow)
        self.block(s.body.stmts)
        # The catch and finally bodies may start after any point of the try
        # body: only what held before it, and it did not change, holds there.
        changed = assigned_vars(s.body)
        self.narrow = {v: t for v, t in saved.items() if v not in changed}
        if s.catch_body is not None:
            if s.ref is not None and s.ref.var is not None:
                s.ref.var.ty = ANY
            self.block(s.catch_body.stmts)
        if s.finally_body is not None:
            self.block(s.finally_body.stmts)
        self.forget(assigned_vars([s.catch_body, s.finally_body]))

    def s_Import(self, s: A.Import) -> None:
        var = s.ref.var if s.ref is not None else None
        if var is None:
            return
        if not s.is_file:
            var.ty = S.STD_MODULE_TYPES.get(s.path, ANY)
            return
        info = self.imports.get(s.path)
        exports = tuple((n, self.decl_type(d) if d is not None else ANY) for n, d in info.exports.items()) if info is not None else ()
        var.ty = ModuleT(s.path, exports) if info is not None else ANY

    def s_FromImport(self, s: A.FromImport) -> None:
        info = self.imports.get(s.path)
        std = S.STD_MODULE_TYPES.get(s.path) if not s.is_file else None
        for (name, _, _), ref in zip(s.names, s.refs or []):
            if ref is None or ref.var is None:
                continue
            if std is not None:
                ref.var.ty = std.get(name) or ANY
            elif info is not None and info.exports.get(name) is not None:
                ref.var.ty = self.decl_type(info.exports[name])
            else:
                ref.var.ty = ANY

    def s_Select(self, s: A.Select) -> None:
        for c in s.cases:
            if c.kind in ("recv", "send"):
                ct = self.expr(c.channel)
                elem = ANY
                if isinstance(ct, GenericT) and ct.name == "Chan":
                    elem = ct.arg
                elif ct is not ANY:
                    self.error(c.channel, f"a select case needs a channel, got {ct}")
                if c.kind == "send":
                    c.value.conv = self.flow(c.value, self.expr(c.value, elem), elem, f"value sent to {ct}")
                elif c.ref is not None and c.ref.var is not None:
                    c.ref.var.ty = optional(elem)  # nil once the channel is closed
            elif c.kind == "sleep":
                t = self.expr(c.value)
                if t not in NUMERIC and t is not ANY:
                    self.error(c.value, f"sleep expects int or float milliseconds, got {t}")
            saved = dict(self.narrow)
            self.block(c.body.stmts)
            self.narrow = saved
        self.forget(assigned_vars([c.body for c in s.cases]))

    # ------------------------------------------------------------------ expressions

    def expr(self, e: A.Expr, expected: Type | None = None) -> Type:
        if e.ty is not None:  # a field default typed on first use
            return e.ty
        if type(e) not in A.CHAIN_LINKS:
            rule = self.rules.get(type(e))
            if rule is None:
                rule = self.rules[type(e)] = getattr(self, "e_" + type(e).__name__)
            t = e.ty = rule(e, expected)
            return t
        # A chain is a left-deep tree: go down its left spine in a loop, then
        # type each link outwards from the type of its left operand (the order
        # a recursive walk would take). `expected` matters to none of them.
        spine, e = A.left_spine(e, _checked_left, typed=True)
        self.call_expected = expected if len(spine) == 1 else None  # (tlset: the context of `Set()`)
        ty = e.ty
        if ty is None:
            ty = e.ty = getattr(self, "e_" + type(e).__name__)(e, None if spine else expected)
        for link in reversed(spine):
            ty = link.ty = getattr(self, "rest_" + type(link).__name__)(link, ty)
        return ty

    def e_IntLit(self, e: A.IntLit, expected: Type | None) -> Type:
        return INT

    def e_FloatLit(self, e: A.FloatLit, expected: Type | None) -> Type:
        return FLOAT

    def e_StrLit(self, e: A.StrLit, expected: Type | None) -> Type:
        return STRING

    def e_BoolLit(self, e: A.BoolLit, expected: Type | None) -> Type:
        return BOOL

    def e_NilLit(self, e: A.NilLit, expected: Type | None) -> Type:
        return NIL

    def e_Interp(self, e: A.Interp, expected: Type | None) -> Type:
        for p in e.parts:
            if not isinstance(p, str):
                self.expr(p)
        return STRING

    def e_Name(self, e: A.Name, expected: Type | None) -> Type:
        ref = e.ref
        if ref is None:
            return ANY
        if ref.kind == BUILTIN:
            return self.name_value(e, expected, S.builtin_type(ref.name))
        return self.name_value(e, expected, self.read_type(ref.var))  # tldefault: a generic fn as a value (generics.py)

    def e_SelfExpr(self, e: A.SelfExpr, expected: Type | None) -> Type:
        cls = self.ctx.cls
        return class_type(cls) if cls is not None else ANY

    def e_ArrayLit(self, e: A.ArrayLit, expected: Type | None) -> Type:
        want = strip_optional(expected) if expected is not None else None
        if isinstance(want, ArrayT):
            for x in e.items:
                x.conv = self.flow(x, self.expr(x, want.elem), want.elem, f"element of {want}")
            return want
        if not e.items:
            return ANY
        elem: Type = NEVER
        for x in e.items:
            elem = join(elem, self.expr(x))
        return ArrayT(ANY if elem in (NIL, NEVER) else elem)

    def e_MapLit(self, e: A.MapLit, expected: Type | None) -> Type:
        want = strip_optional(expected) if expected is not None else None
        if isinstance(want, MapT):
            for k, v in e.entries:
                k.conv = self.flow(k, self.expr(k, want.key), want.key, f"key of {want}")
                v.conv = self.flow(v, self.expr(v, want.value), want.value, f"value of {want}")
            return want
        if not e.entries:
            return ANY
        kt: Type = NEVER
        vt: Type = NEVER
        for k, v in e.entries:
            kt = join(kt, self.expr(k))
            vt = join(vt, self.expr(v))
        return MapT(kt, ANY if vt in (NIL, NEVER) else vt)

    def e_RecordLit(self, e: A.RecordLit, expected: Type | None) -> Type:
        want = strip_optional(expected) if expected is not None else None
        fields = []
        for name, v in e.fields:
            ft = want.get(name) if isinstance(want, RecordT) else None
            vt = self.expr(v, ft)
            if ft is not None:
                v.conv = self.flow(v, vt, ft, f"field '{name}' of {want}")
                vt = ft
            fields.append((name, ANY if vt is NIL else vt))
        return RecordT(tuple(fields))

    def e_Unary(self, e: A.Unary, expected: Type | None) -> Type:
        if e.op == "not":
            self.condition(e.operand, "operand of 'not'")
            return BOOL
        t = self.expr(e.operand)
        if t is ANY:
            return INT if e.op == "~" else ANY
        if (e.op == "-" and t in NUMERIC) or (e.op == "~" and t is INT):
            return t
        self.error(e, f"unsupported operand type for {e.op}: {t}")
        return ANY

    def rest_Binary(self, e: A.Binary, lt: Type) -> Type:
        if self.is_v11_binary(e.op, lt):  # tlexpr: `**`, `s * n`, `xs * n`
            return self.v11_binary(e, lt)
        return self.binary_type(e, e.op, lt, self.expr(e.right))

    def binary_type(self, node: A.Node, op: str, lt: Type, rt: Type) -> Type:
        if op in ("==", "!="):
            return BOOL
        if op == "is":
            if not isinstance(rt, ClassRefT) and rt is not ANY:
                self.error(node, f"right operand of 'is' must be a class, got {rt}")
            return BOOL
        result = self._binary_result(op, lt, rt)
        if result is None:
            self.error(node, f"unsupported operand types for {op}: {lt} and {rt}")
            return ANY
        return result

    @staticmethod
    def _binary_result(op: str, lt: Type, rt: Type) -> Type | None:
        if op == "*" and (lt is STRING or isinstance(lt, ArrayT)) and rt in (INT, ANY):
            return lt  # tlexpr (1.1): `s * n`, `xs * n` (also `s *= n`)
        if op in ORDER:
            ok = lt is ANY or rt is ANY or (lt in NUMERIC and rt in NUMERIC) or (lt is STRING and rt is STRING)
            return BOOL if ok else None
        if op in BITWISE:
            ok = lt in (INT, ANY) and rt in (INT, ANY)
            return INT if ok else None
        if op in ("..", "..="):
            return RANGE if lt in (INT, ANY) and rt in (INT, ANY) else None
        if lt is ANY or rt is ANY:
            # What the result must be if the operation succeeds at run time:
            # a string only concatenates with a string, a float stays a float.
            known = rt if lt is ANY else lt
            if known is ANY or known is INT:
                return ANY
            if known is FLOAT:
                return FLOAT
            if op == "+" and known is STRING:
                return STRING
            if op == "+" and isinstance(known, ArrayT):
                return ArrayT(ANY)
            return None
        if lt in NUMERIC and rt in NUMERIC:
            return INT if lt is INT and rt is INT else FLOAT
        if op == "+":
            if lt is STRING and rt is STRING:
                return STRING
            if isinstance(lt, ArrayT) and isinstance(rt, ArrayT):
                return ArrayT(join(lt.elem, rt.elem))
        return None

    def rest_Logical(self, e: A.Logical, lt: Type) -> Type:
        if lt is not BOOL and lt is not ANY:
            self.error(e.left, f"operand of '{e.op}' must be bool, got {lt}")
        # The right side runs only when the left was true (and) or false (or).
        when_true, when_false = self.proofs.of(e.left)
        saved = dict(self.narrow)
        self.narrow.update(when_true if e.op == "and" else when_false)
        self.condition(e.right, f"operand of '{e.op}'")
        self.narrow = saved
        return BOOL

    def e_Lambda(self, e: A.Lambda, expected: Type | None) -> Type:
        want = strip_optional(expected) if expected is not None else None
        if not (isinstance(want, FnT) and len(want.params) == len(e.params)):
            want = None
        params = self.param_types(e, want)
        declared = self.annot(e.ret_type) if e.ret_type is not None else None
        cls = self.ctx.cls
        ret = self.check_function(e, params, declared, cls)
        return FnT(params, ret, tuple(p.name for p in e.params), "<lambda>")

    def e_Await(self, e: A.Await, expected: Type | None) -> Type:
        t = self.expr(e.value)
        if isinstance(t, GenericT) and t.name == "Task":
            return t.arg
        if t is not ANY:
            self.error(e.value, f"await expects a task, got {t}")
        return ANY

    def e_Spawn(self, e: A.Spawn, expected: Type | None) -> Type:
        return GenericT("Task", self.expr(e.call))

    def e_Yield(self, e: A.Yield, expected: Type | None) -> Type:
        want = self.ctx.yield_type
        t = self.expr(e.value, want) if e.value is not None else NIL
        if want is not None and e.value is not None:
            e.value.conv = self.flow(e.value, t, want, f"value yielded by {self.ctx.name}")
        self.ctx.yields.append(t)
        return NIL

    # ------------------------------------------------------------------ calls

def check_module(mod: A.Module, scope: FnScope, bag: DiagnosticBag, imports: dict[str, ModuleInfo], globals_: list[Var]) -> None:
    """Run the check pass over a resolved module (see the module docstring)."""
    Checker(bag, imports, globals_).check_module(mod, scope)

