"""Generics and interfaces (TinyLang 1.1, spec section 13): a part of the Checker.

`GenericChecks` is mixed into `checker.Checker` ahead of `MemberChecks`:

* Type parameters. `fn first<T>(xs: [T]) -> T?`, `class Stack<T>`, methods
  with their own (`fn map<U>(f: fn(T) -> U) -> Box<U>`), each `T` optionally
  bounded (`T: Comparable`). Before any declaration is checked, every type
  annotation inside a generic declaration that names one of its parameters
  is bound to that parameter (`bind_type_params`: on the annotation node,
  `NamedType.param`, so `annot` needs no scope and importers see the
  bindings; an inner declaration's parameter of the same name wins). Inside the declaration `T` is opaque: it fits only itself
  and `any`, and its members are its bound's.
* Instantiation. `Stack<int>` is an `InstT`; the members of a generic
  class are substituted with the receiver's type arguments. A call of a
  generic function or method, or a construction of a generic class, takes
  explicit type arguments (`first<int>(xs)`, `Stack<int>()`) or infers them
  from the arguments (unification of each parameter's type with its
  argument's; lambdas are typed last, with what the other arguments
  determined; a parameter nothing determines is `any`). Type arguments must
  satisfy their parameter's bound.
* Erasure. Nothing of this reaches the bytecode: `runtime_text` (types.py)
  erases `T` to `any` and `Stack<int>` to `Stack`, so generic code compiles
  to exactly the instructions its erased version would, and code without
  generics is unchanged.
* Interfaces. `interface Shape { fn area() -> float }` is a ClassDecl with
  `is_interface` (parser.py); `class Circle implements Shape` must have each
  method with a compatible signature (parameters contravariant, return
  covariant, `Self` standing for the class), reported per missing or wrong
  method. The names of the interfaces a class implements, its ancestors'
  included, go to its ClassInfo for `v is Shape` and run-time checks.
  `Comparable` is built in (types.COMPARABLE): int, float and string
  implement it, with `compare(other) -> int`.

Inheritance: `class IntStack extends Stack<int>` records the parent's type
arguments (`ClassSym.parent_args`, in terms of the class's own parameters);
`recv_map` composes them along the chain.

Explicit type arguments may also be written on method calls and a module's
members (`b.map<int>(f)`, `lib.Stack<int>()`: `call_method`, `call_value`);
a generic function named as a value is instantiated (`name_value`: `let f =
first<int>`, or from the expected type; `any` for what nothing determines).

Limits (documented in docs/tinylang-1.1.md): type parameters of local
(nested) functions and classes are not supported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import ast as A
from . import signatures as S
from .resolver import plural
from .types import (
    ANY,
    COMPARABLE,
    ERROR,
    FLOAT,
    INT,
    NEVER,
    NIL,
    OK,
    SELF,
    ArrayT,
    ClassRefT,
    ClassSym,
    ClassT,
    FnT,
    GenericT,
    InstT,
    MapT,
    ModuleT,
    OptionalT,
    RecordT,
    Type,
    TypeParamT,
    class_type,
    join,
    optional,
    relation,
    runtime_text,
    strip_optional,
)

if TYPE_CHECKING:  # pragma: no cover
    from .checker import Checker

    _Base = Checker
else:
    _Base = object

# Node attributes that hold no syntax (set by later passes) or no types.
_SKIP = frozenset({"ty", "conv", "ref", "refs", "scope", "proven", "field_types", "interfaces", "line", "col"})


def subst(t: Type, m: dict) -> Type:
    """t with each type parameter in m replaced by its type."""
    if not m:
        return t
    if isinstance(t, TypeParamT):
        return m.get(t, t)
    if isinstance(t, InstT):
        return InstT(t.name, t.sym, t.key, tuple(subst(a, m) for a in t.args))
    if isinstance(t, OptionalT):
        return optional(subst(t.inner, m))
    if isinstance(t, ArrayT):
        return ArrayT(subst(t.elem, m))
    if isinstance(t, MapT):
        return MapT(subst(t.key, m), subst(t.value, m))
    if isinstance(t, GenericT):
        return GenericT(t.name, subst(t.arg, m), subst(t.arg2, m) if t.arg2 is not None else None)
    if isinstance(t, RecordT):
        return RecordT(tuple((n, subst(x, m)) for n, x in t.fields))
    if isinstance(t, FnT):
        return FnT(tuple(subst(p, m) for p in t.params), subst(t.ret, m), t.names, t.owner, t.required)
    return t


def mentions(t: Type, params: Any) -> bool:
    """Does t contain one of the type parameters in params?"""
    if isinstance(t, TypeParamT):
        return t in params
    if isinstance(t, InstT):
        return any(mentions(a, params) for a in t.args)
    if isinstance(t, OptionalT):
        return mentions(t.inner, params)
    if isinstance(t, ArrayT):
        return mentions(t.elem, params)
    if isinstance(t, MapT):
        return mentions(t.key, params) or mentions(t.value, params)
    if isinstance(t, GenericT):
        return mentions(t.arg, params) or (t.arg2 is not None and mentions(t.arg2, params))
    if isinstance(t, RecordT):
        return any(mentions(x, params) for _, x in t.fields)
    if isinstance(t, FnT):
        return any(mentions(p, params) for p in t.params) or mentions(t.ret, params)
    return False


def unify(p: Type, a: Type, m: dict, params: Any) -> None:
    """Infer type arguments: match parameter type p against argument type a,
    recording in m what each of `params` must be (joined over occurrences)."""
    if a is NEVER or a is ANY and not isinstance(p, TypeParamT):
        return
    if isinstance(p, TypeParamT):
        if p in params:
            m[p] = join(m[p], a) if p in m else a
        return
    if isinstance(p, OptionalT):
        if a is not NIL:
            unify(p.inner, strip_optional(a), m, params)
    elif isinstance(p, ArrayT) and isinstance(a, ArrayT):
        unify(p.elem, a.elem, m, params)
    elif isinstance(p, MapT) and isinstance(a, MapT):
        unify(p.key, a.key, m, params)
        unify(p.value, a.value, m, params)
    elif isinstance(p, GenericT) and isinstance(a, GenericT) and p.name == a.name:
        unify(p.arg, a.arg, m, params)
        if p.arg2 is not None and a.arg2 is not None:
            unify(p.arg2, a.arg2, m, params)
    elif isinstance(p, InstT) and isinstance(a, InstT) and p.sym is a.sym:
        for x, y in zip(p.args, a.args):
            unify(x, y, m, params)
    elif isinstance(p, FnT) and isinstance(a, FnT) and len(p.params) == len(a.params):
        for x, y in zip(p.params, a.params):
            unify(x, y, m, params)
        unify(p.ret, a.ret, m, params)
    elif isinstance(p, RecordT) and isinstance(a, RecordT):
        for n, x in p.fields:
            y = a.get(n)
            if y is not None:
                unify(x, y, m, params)


def _children(node: Any):
    """The syntax nodes directly inside node (for bind_type_params' walk)."""
    for name in getattr(type(node), "__dataclass_fields__", ()):
        if name in _SKIP:
            continue
        v = getattr(node, name, None)
        if isinstance(v, A.Node):
            yield v
        elif isinstance(v, (list, tuple)):
            for x in v:
                if isinstance(x, A.Node):
                    yield x
                elif isinstance(x, tuple):
                    for y in x:
                        if isinstance(y, A.Node):
                            yield y


class GenericChecks(_Base):
    def init_generics(self) -> None:
        """(Nothing yet: the bindings live on the syntax tree, where importers
        and later REPL entries find them.)"""
        self._scalar_methods: dict[Type, dict[str, S.Sig]] = {}

    # ------------------------------------------------------------------ declarations

    def bind_type_params(self, mod: A.Module, classes: list[A.ClassDecl]) -> None:
        """Give every generic declaration's type parameters their TypeParamT
        and bind the annotations that name them (see the module docstring)."""
        for s in mod.body:
            if isinstance(s, A.FnDecl) and s.type_params:
                self._bind(s, self._fn_params(s, {}))
            elif isinstance(s, A.ClassDecl):
                sym = self.syms[id(s)]
                sym.is_interface = s.is_interface
                scope: dict[str, TypeParamT] = {"Self": SELF} if s.is_interface else {}
                if s.type_params:
                    sym.tparams = self._make_params(s.type_params)
                    scope.update((t.name, t) for t in sym.tparams)
                if scope:
                    self._bind(s, scope)
                for m in s.methods:
                    if m.type_params:
                        self._bind(m, self._fn_params(m, scope))

    @staticmethod
    def fn_type_params(decl: Any) -> tuple[TypeParamT, ...]:
        """A function's own type parameters, as its module's checker made them
        (on the syntax tree, so importers and later REPL entries see them)."""
        params = getattr(decl, "type_params", None)
        if not params or params[0].ty is None:
            return ()
        return tuple(p.ty for p in params)

    def _make_params(self, params: list[A.TypeParam]) -> tuple[TypeParamT, ...]:
        out = []
        seen: set[str] = set()
        for p in params:
            if p.name in seen:
                self.error(p, f"type parameter '{p.name}' is already declared")
            seen.add(p.name)
            bound = self.annot(p.bound) if p.bound is not None else None
            p.ty = TypeParamT(p.name, id(p), None if bound is ANY else bound)
            out.append(p.ty)
        return tuple(out)

    def _fn_params(self, decl: A.FnDecl, outer: dict[str, TypeParamT]) -> dict[str, TypeParamT]:
        own = self._make_params(decl.type_params)
        scope = dict(outer)
        scope.update((t.name, t) for t in own)
        return scope

    def _bind(self, root: A.Node, scope: dict[str, TypeParamT]) -> None:
        """Bind, in root's subtree, each annotation naming a parameter in scope
        (iteratively: chains may be long)."""
        stack = [root]
        while stack:
            n = stack.pop()
            if isinstance(n, A.NamedType) and n.name in scope:
                n.param = scope[n.name]
            stack.extend(_children(n))

    def check_implements(self, classes: list[A.ClassDecl]) -> None:
        """Record what each class implements, check each method each interface
        requires, and give the emitter the names (inherited ones too)."""
        pending = []
        for c in classes:
            sym = self.syms[id(c)]
            sym.is_interface = c.is_interface
            if sym.parent is not None and sym.parent.is_interface:
                self.error(c.parent, f"a class cannot extend interface {sym.parent.name}; use 'implements'")
                sym.parent = None
            targs = c.parent.type_args if c.parent is not None else None
            if targs is not None and sym.parent is not None:
                want = len(sym.parent.tparams)
                if len(targs) != want:
                    self.error(c.parent, f"type '{sym.parent.name}' takes {plural(want, 'type argument')}, got {len(targs)}")
                args = [self.annot(a) for a in targs[:want]] + [ANY] * max(0, want - len(targs))
                for tp, a in zip(sym.parent.tparams, args):
                    self.check_bound(c.parent, tp, a, f"type '{sym.parent.name}'")
                sym.parent_args = tuple(args)
            for texpr in c.implements or ():
                it = self.annot(texpr)
                if not (isinstance(it, ClassT) and it.sym is not None and it.sym.is_interface):
                    if it is not ANY:
                        self.error(texpr, f"{it} is not an interface (a class is extended with 'extends')")
                    continue
                if any(i is it.sym for i in sym.implements):
                    self.error(texpr, f"{it} is already listed")
                    continue
                sym.implements.append(it.sym)
                pending.append((sym, it, texpr))
        for sym, it, texpr in pending:
            self._conforms(sym, it, texpr)
        for c in classes:
            names: list[str] = []
            for a in self.syms[id(c)].ancestors():
                names.extend(i.name for i in a.implements if i.name not in names)
            c.interfaces = tuple(names)

    def _conforms(self, sym: ClassSym, it: ClassT, where: A.Node) -> None:
        isym = it.sym
        m: dict = {SELF: class_type(sym)}
        if isinstance(it, InstT):
            m.update(zip(isym.tparams, it.args))
        for name, idecl in isym.methods.items():
            isig = idecl if isinstance(idecl, FnT) else self.fn_sig(idecl)
            isig = subst(isig, m)
            found = sym.find_method(name)
            if found is None:
                if not sym.is_open():
                    self.error(where, f"class {sym.name} does not implement {it}: missing method '{name}' of type {isig}")
                continue
            csig = self.method_sig(*found)
            if csig is None:
                continue
            if not self._compatible(isig, csig):
                at = found[1] if found[0] is sym else where
                self.error(at, f"method '{name}' of {sym.name} does not match {it}: expected {isig}, got {csig}")

    @staticmethod
    def _compatible(want: FnT, got: FnT) -> bool:
        """Can `got` stand where `want` is declared? Parameters take what the
        interface passes; the result gives what the interface promises."""
        if len(want.params) != len(got.params):
            return False
        if any(relation(w, g) == ERROR for w, g in zip(want.params, got.params)):
            return False
        r = relation(got.ret, want.ret)
        return r != ERROR and (r == OK or got.ret is ANY)

    # ------------------------------------------------------------------ annotations

    def generic_annot(self, t: A.NamedType) -> Type | None:
        """A type parameter, a generic class with its type arguments, or
        `Comparable`; None for every other named type (Checker.annot)."""
        tp = t.param
        if tp is not None:
            if t.args:
                self.error(t, f"type parameter '{t.name}' takes no type arguments")
            return tp
        sym = None
        for names in reversed(self.type_scopes):
            sym = names.get(t.name)
            if sym is not None:
                break
        if sym is None and t.name == "Comparable":
            sym = COMPARABLE
        if sym is None or not (sym.tparams or sym is COMPARABLE):
            return None
        if sym is COMPARABLE:
            if t.args:
                self.error(t, "type 'Comparable' takes no type arguments")
            return class_type(sym)
        want = len(sym.tparams)
        if not t.args:  # raw: type arguments unknown
            return InstT(sym.name, sym, id(sym), (ANY,) * want)
        if len(t.args) != want:
            self.error(t, f"type '{t.name}' takes {plural(want, 'type argument')}, got {len(t.args)}")
        args = [self.annot(a) for a in t.args[:want]]
        args += [ANY] * (want - len(args))
        for tp, a in zip(sym.tparams, args):
            self.check_bound(t, tp, a, f"type '{t.name}'")
        return InstT(sym.name, sym, id(sym), tuple(args))

    def check_bound(self, node: A.Node, tp: TypeParamT, arg: Type, who: str) -> None:
        if tp.bound is not None and relation(arg, tp.bound) == ERROR:
            self.error(node, f"type argument {arg} for '{tp.name}' of {who} does not implement {tp.bound}")

    # ------------------------------------------------------------------ instantiation

    def instantiate(self, e: A.Call, params: tuple[TypeParamT, ...], sig: FnT, type_args: list | None, who: str) -> tuple[FnT, dict]:
        """The signature of one call of a generic function: its type arguments
        written or inferred from the call's arguments; (signature, mapping)."""
        m: dict = {}
        if type_args is not None:
            if len(type_args) != len(params):
                self.error(e, f"{who} takes {plural(len(params), 'type argument')}, got {len(type_args)}")
            m.update(zip(params, (self.annot(a) for a in type_args)))
        elif len(e.args) == len(sig.params):  # (a wrong count is reported by args())
            later = []
            for a, p in zip(e.args, sig.params):
                if isinstance(a, A.Lambda):
                    later.append((a, p))
                    continue
                unify(p, self.expr(a, None if mentions(p, params) else p), m, params)
            for a, p in later:  # typed with what the other arguments determined
                want = subst(p, {tp: m.get(tp, ANY) for tp in params})
                unify(p, self.expr(a, want), m, params)
        for tp in params:
            t = m.get(tp, ANY)
            m[tp] = ANY if t is NEVER or t is NIL else t
            self.check_bound(e, tp, m[tp], who)
        return subst(sig, m), m

    def recv_map(self, ot: ClassT) -> dict:
        """What a member's type parameters are for a receiver of type ot:
        a generic class's for `Stack<int>` (none inside the class: `self`
        keeps `T`); an ancestor's as the `extends Base<...>` clauses along
        the chain give them (`any` when extended raw); `Self` for an
        interface."""
        sym = ot.sym
        cur: dict = dict(zip(sym.tparams, ot.args)) if isinstance(ot, InstT) else {}
        m = dict(cur)
        c = sym
        n = 0
        while c.parent is not None and n < 1000:  # (a chain is acyclic; guard anyway)
            p = c.parent
            if p.tparams:
                pargs = c.parent_args
                cur = {tp: subst(a, cur) for tp, a in zip(p.tparams, pargs)} if pargs else {tp: ANY for tp in p.tparams}
                m.update(cur)
            else:
                cur = {}
            c = p
            n += 1
        if sym.is_interface:
            m[SELF] = ot
        return m

    @staticmethod
    def prove_erased(e: A.Call, declared: FnT) -> None:
        """A call proven against the instantiated parameter types records the
        callee's declared (erased) ones, which its entry checks compare with
        (CALL_TYPED): the call then compiles as it would without generics."""
        if e.proven is not None:
            texts = tuple(runtime_text(p) for p in declared.params)
            e.proven = texts if any(texts) else None

    def generic_callee(self, callee: A.Expr) -> A.FnDecl | None:
        """The generic function a call's callee names: `first` (this module's
        or imported) or `lib.first`; None for anything else."""
        decl = None
        if isinstance(callee, A.Name) and callee.ref is not None and callee.ref.var is not None:
            decl = callee.ref.var.decl
        elif isinstance(callee, A.Field) and isinstance(callee.obj.ty, ModuleT):
            info = self.imports.get(callee.obj.ty.name)
            decl = info.exports.get(callee.name) if info is not None else None
        return decl if isinstance(decl, A.FnDecl) and self.fn_type_params(decl) else None

    # ------------------------------------------------------------------ overrides of MemberChecks

    def method_sig(self, owner: ClassSym, decl: Any) -> FnT | None:
        if isinstance(decl, FnT):  # a built-in interface's (Comparable.compare)
            return decl
        return super().method_sig(owner, decl)

    def methods_of(self, t: Type) -> dict[str, S.Sig] | None:
        if t is INT or t is FLOAT:  # Comparable's compare (a string's is in STRING_METHODS)
            return S.SCALAR_METHODS[t.name]
        return super().methods_of(t)

    def member_type(self, node: A.Node, ot: Type, name: str, calling: bool = False) -> Type | None:
        if isinstance(ot, TypeParamT):
            if ot.bound is None:
                what = "method" if calling else "field"
                self.error(node, f"{ot} has no {what} '{name}' (a type parameter without a bound has no members)")
                return None
            t = self.member_type(node, ot.bound, name, calling)
            return subst(t, {SELF: ot}) if t is not None else None
        t = super().member_type(node, ot, name, calling)
        if t is not None and isinstance(ot, ClassT) and ot.sym is not None:
            t = subst(t, self.recv_map(ot))
        return t

    def field_target(self, t: A.Field) -> tuple[Type, str, bool]:
        ft, place, proven = super().field_target(t)
        ot = t.obj.ty
        if isinstance(ot, ClassT) and ot.sym is not None:
            ft = subst(ft, self.recv_map(ot))
        return ft, place, proven

    def call_method(self, e: A.Call, callee: A.Field, ot: Type) -> Type:
        name = callee.name
        targs = callee.type_args  # tldefault: `b.map<int>(f)`
        recv = ot
        if isinstance(ot, TypeParamT) and ot.bound is not None:
            recv = ot.bound
        if isinstance(recv, ClassT) and recv.sym is not None:
            found = recv.sym.find_method(name)
            if found is not None:
                m = self.recv_map(recv)
                if recv is not ot:
                    m[SELF] = ot
                own = self.fn_type_params(found[1])
                orig = self.method_sig(*found) if m or own else None
                # (a signature without the receiver's parameters is checked as before)
                if orig is not None and (own or mentions(orig, m)):
                    sig = subst(orig, m)
                    if own:
                        sig, _ = self.instantiate(e, own, sig, targs, f"{recv.name}.{name}")
                    elif targs is not None:
                        self.error(callee, f"'{recv.name}.{name}' takes no type arguments")
                    callee.ty = sig
                    self.args(e, sig.params, sig.names, sig.owner or f"{recv.name}.{name}", sig.required, prove=True)
                    self.prove_erased(e, orig)
                    return sig.ret
        if targs is not None and not isinstance(ot, ModuleT):  # (a module's member: call_value)
            self.error(callee, f"'{name}' takes no type arguments")
        if recv is not ot:
            return super().call_method(e, callee, recv)
        return super().call_method(e, callee, ot)

    def name_value(self, e: A.Name, expected: Type | None, t: Type) -> Type:
        """tldefault: a generic function named as a value, not called, is
        instantiated: with its explicit type arguments (`let f = first<int>`),
        else from the expected function type (`let f: fn([int]) -> int? =
        first`); a type parameter nothing determines is `any`, as for a call."""
        if e.called:
            return t  # (call_value instantiates it)
        decl = self.generic_callee(e) if isinstance(t, FnT) else None
        if decl is None:
            if e.type_args is not None and not isinstance(t, ClassRefT):  # (`extends Base<int>`: the class's own rules)
                self.error(e, f"'{e.name}' takes no type arguments")
            return t
        params = self.fn_type_params(decl)
        m: dict = {}
        if e.type_args is not None:
            if len(e.type_args) != len(params):
                self.error(e, f"{e.name} takes {plural(len(params), 'type argument')}, got {len(e.type_args)}")
            m.update(zip(params, (self.annot(a) for a in e.type_args)))
        else:
            want = strip_optional(expected) if expected is not None else None
            if isinstance(want, FnT):
                unify(t, want, m, params)
        for tp in params:
            x = m.get(tp, ANY)
            m[tp] = ANY if x is NEVER or x is NIL else x
            self.check_bound(e, tp, m[tp], e.name)
        return subst(t, m)

    def call_value(self, e: A.Call, ct: Type, who: str, global_call: bool = False) -> Type:
        type_args = getattr(e.callee, "type_args", None)
        if isinstance(ct, ClassRefT) and ct.cls.sym is not None:
            sym = ct.cls.sym
            if sym.is_interface:
                self.error(e, f"cannot construct interface {sym.name}")
                return self.loose_args(e)
            if sym.tparams:
                return self.construct_generic(e, sym, type_args)
        decl = self.generic_callee(e.callee)
        if decl is not None and isinstance(ct, FnT):
            sig, _ = self.instantiate(e, self.fn_type_params(decl), ct, type_args, who)
            ret = super().call_value(e, sig, who, global_call)
            self.prove_erased(e, ct)
            return ret
        if type_args is not None:
            self.error(e.callee, f"'{who}' takes no type arguments")
        return super().call_value(e, ct, who, global_call)

    def construct(self, e: A.Call, cls: ClassT) -> Type:
        """A non-generic class whose `init` is inherited from a generic one
        (`class Leaf extends Mid<string>`): init's parameters substituted."""
        sym = cls.sym
        found = sym.find_method("init") if sym is not None else None
        if found is not None and found[0] is not sym:
            m = self.recv_map(cls)
            orig = self.method_sig(*found) if m else None
            if orig is not None and mentions(orig, m):
                sig = subst(orig, m)
                self.args(e, sig.params, sig.names, sig.owner, who=sym.name, prove=True)
                self.prove_erased(e, orig)
                return cls
        return super().construct(e, cls)

    def construct_generic(self, e: A.Call, sym: ClassSym, type_args: list | None) -> Type:
        """`Stack<int>()` or `Stack(...)` with the type arguments inferred from
        `init`'s arguments (any when nothing determines them)."""
        params = sym.tparams
        found = sym.find_method("init")
        sig = self.method_sig(*found) if found is not None else None
        if sig is not None and found[0] is not sym:  # inherited: the parent's parameters in ours
            sig = subst(sig, self.recv_map(class_type(sym)))
        if sig is not None:
            orig = sig
            sig, m = self.instantiate(e, params, sig, type_args, sym.name)
            self.args(e, sig.params, sig.names, sig.owner, who=sym.name, prove=True)
            self.prove_erased(e, orig)
        else:
            m = {}
            if type_args is not None:
                if len(type_args) != len(params):
                    self.error(e, f"{sym.name} takes {plural(len(params), 'type argument')}, got {len(type_args)}")
                m.update(zip(params, (self.annot(a) for a in type_args)))
                for tp in params:
                    self.check_bound(e, tp, m.get(tp, ANY), sym.name)
            self.construct(e, class_type(sym))
        return InstT(sym.name, sym, id(sym), tuple(m.get(tp, ANY) for tp in params))
