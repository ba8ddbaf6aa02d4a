"""Type rules for member access, indexing and calls (a part of the Checker).

`MemberChecks` is mixed into `checker.Checker`; it holds the rules for
`obj.name`, `obj[i]` and every kind of call: named functions (whose places
name their parameters, `argument 'b' of add`), function-typed values,
constructors (`init`'s parameters), methods of classes, `super` calls,
built-in functions and the methods of arrays, strings and maps
(signatures.py). Arity errors are reported here for every callee whose
parameters are known.

Arguments that are `any` where a typed parameter is expected are left to the
callee's entry check, except under CALL_GLOBAL (calls of top-level functions
skip it: the argument gets its own CHECK_TYPE) and for natives, which do not
check element types.

Calls, indexing and field reads are links of chains (`a.b(c)[d]`), which
`Checker.expr` walks in a loop: their `rest_` rules get the type of the
object (or callee) already checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import ast as A
from . import enums
from . import signatures as S
from .library_types import check_library_call
from .resolver import plural
from .scopes import GLOBAL
from .tuples import IMMUTABLE
from .types import (
    ANY,
    BOOL,
    ERROR,
    FLOAT,
    INT,
    NEVER,
    NIL,
    NUMERIC,
    OK,
    WIDEN,
    RANGE,
    STRING,
    ArrayT,
    BuiltinT,
    ClassRefT,
    ClassSym,
    ClassT,
    FnT,
    GenericT,
    MapT,
    ModuleT,
    OptionalT,
    RecordT,
    TupleT,
    Type,
    relation,
    runtime_text,
)

if TYPE_CHECKING:  # pragma: no cover
    from .checker import Checker

    _Base = Checker
else:
    _Base = object


def suggest(name: str, candidates: list[str]) -> str:
    """"; did you mean 'x'?" when a candidate is close to name, else ""."""
    import difflib

    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.7)
    return f"; did you mean '{close[0]}'?" if close else ""


class MemberChecks(_Base):
    def field_target(self, t: A.Field) -> tuple[Type, str, bool]:
        """(type, place text, statically known class?) of an assigned field."""
        ot = self.expr(t.obj)
        if isinstance(ot, TupleT):  # (tltuple)
            self.error(t, IMMUTABLE)
            return ANY, "", False
        if enums.check_field_store(self, t, ot):  # tlenum (1.1)
            return ANY, "", False
        if isinstance(ot, ClassT) and ot.sym is not None:
            ft = self.field_type(ot.sym, t.name)
            if ft is not None:
                return ft, f"field '{t.name}' of {ot.name}", True
            if not ot.sym.is_open():
                if ot.sym.find_method(t.name) is not None:
                    self.error(t, f"cannot assign to method '{t.name}' of {ot.name}")
                else:
                    self.error(t, f"{ot.name} has no field '{t.name}'{suggest(t.name, self.field_names(ot.sym))}")
            return ANY, "", False
        if isinstance(ot, RecordT):
            ft = ot.get(t.name)
            if ft is None:
                self.error(t, f"{ot} has no field '{t.name}'{suggest(t.name, [n for n, _ in ot.fields])}")
                return ANY, "", False
            return ft, f"field '{t.name}' of {ot}", False
        if ot is not ANY:
            self.member_error(t, ot, t.name, "field")
        return ANY, "", False

    def field_names(self, sym: ClassSym) -> list[str]:
        return [n for c in sym.ancestors() for n in c.fields]

    def index_target(self, t: A.Index) -> tuple[Type, str]:
        ot = self.expr(t.obj)
        if ot is STRING:
            self.expr(t.index)
            self.error(t, "cannot assign to an index of a string (strings are immutable)")
            return ANY, ""
        if isinstance(ot, TupleT):  # (tltuple)
            self.expr(t.index)
            self.error(t, IMMUTABLE)
            return ANY, ""
        et = self.index_type(t, ot)
        if isinstance(ot, ArrayT):
            return et, f"element of {ot}"
        if isinstance(ot, MapT):
            return et, f"value of {ot}"
        return et, ""

    def e_SuperField(self, e: A.SuperField, expected: Type | None) -> Type:
        sig = self.super_sig(e)
        return sig if sig is not None else ANY

    def super_sig(self, e: A.SuperField) -> FnT | None:
        cls = self.ctx.cls
        parent = cls.parent if cls is not None else None
        if parent is None:
            return None
        found = parent.find_method(e.name)
        if found is None:
            if not parent.is_open() and e.name != "init":
                self.error(e, f"{parent.name} has no method '{e.name}'{suggest(e.name, parent.member_names())}")
            return None
        owner, decl = found
        return self.method_sig(owner, decl)

    def method_sig(self, owner: ClassSym, decl: Any) -> FnT | None:
        if isinstance(decl, A.FnDecl):
            return self.fn_sig(decl)
        return None

    def rest_Index(self, e: A.Index, ot: Type) -> Type:
        return self.index_type(e, ot)

    def index_type(self, e: A.Index, ot: Type) -> Type:
        it = self.expr(e.index)
        if ot is ANY:
            return ANY
        if isinstance(ot, TupleT):  # (tltuple)
            return self.tuple_index(e, ot, it)
        if isinstance(ot, ArrayT) or ot is STRING:
            kind = "array" if isinstance(ot, ArrayT) else "string"
            if it is not INT and it is not ANY:
                self.error(e.index, f"{kind} index: expected int, got {it}")
            return ot.elem if isinstance(ot, ArrayT) else STRING
        if isinstance(ot, MapT):
            if relation(it, ot.key) == ERROR:
                self.error(e.index, f"key of {ot}: expected {ot.key}, got {it}")
            return ot.value
        self.error(e, f"cannot index a value of type {ot}")
        return ANY

    def rest_Field(self, e: A.Field, ot: Type) -> Type:
        t = self.member_type(e, ot, e.name)
        return ANY if t is None else t

    def member_type(self, node: A.Node, ot: Type, name: str, calling: bool = False) -> Type | None:
        """The type of `obj.name` (a bound method for methods); None after an error."""
        if isinstance(ot, ClassRefT) and (st := enums.static_member(self, node, ot, name)) is not None:
            return st  # tlenum (1.1): `Point.ZERO`, `Color.Red`, `Point.origin`
        if ot is ANY or isinstance(ot, ClassRefT):
            return ANY
        if isinstance(ot, TupleT):  # (tltuple)
            return self.tuple_member(node, ot, name)
        if isinstance(ot, ClassT) and ot.sym is not None:
            ft = self.field_type(ot.sym, name)
            if ft is not None:
                return ft
            found = ot.sym.find_method(name)
            if found is not None:
                return self.method_sig(*found) or ANY
            if ot.sym.is_open():
                return ANY
            what = "method" if calling else "field"
            self.error(node, f"{ot.name} has no {what} '{name}'{suggest(name, ot.sym.member_names())}")
            return None
        if isinstance(ot, RecordT):
            ft = ot.get(name)
            if ft is None:
                self.error(node, f"{ot} has no field '{name}'{suggest(name, [n for n, _ in ot.fields])}")
            return ft
        if isinstance(ot, ModuleT):
            return ot.get(name) or ANY  # a missing export is reported by the resolver
        table = self.methods_of(ot)
        if table is not None and (name in table or (isinstance(ot, ArrayT) and name in S.GENERIC_ARRAY_METHODS)):
            sig = table.get(name)
            return FnT(sig.params, sig.ret) if sig is not None else ANY
        self.member_error(node, ot, name, "method" if calling else "field")
        return None

    def member_error(self, node: A.Node, ot: Type, name: str, what: str) -> None:
        if isinstance(ot, OptionalT):
            verb = "call method" if what == "method" else "use field"
            self.error(node, f"cannot {verb} '{name}' of {ot} (it may be nil)")
            return
        table = self.methods_of(ot)
        names = list(table) + (list(S.GENERIC_ARRAY_METHODS) if isinstance(ot, ArrayT) else []) if table else []
        self.error(node, f"{ot} has no {what} '{name}'{suggest(name, names)}")

    @staticmethod
    def methods_of(t: Type) -> dict[str, S.Sig] | None:
        if isinstance(t, ArrayT):
            return S.array_methods(t.elem)
        if isinstance(t, MapT):
            return S.map_methods(t.key, t.value)
        if t is STRING:
            return S.STRING_METHODS
        if isinstance(t, GenericT):
            return S.generic_methods(t)
        return None

    def rest_Call(self, e: A.Call, lt: Type) -> Type:
        """A call whose callee -- or, for a method call `obj.m(...)`, whose
        object -- has type lt (the left link of a chain: Checker.expr)."""
        self.bind_args(e, lt)  # type: ignore[attr-defined]  # tlexpr: defaults, named arguments (arguments.py)
        callee = e.callee
        if isinstance(callee, A.Field):
            return self.call_method(e, callee, lt)
        who = callee.name if isinstance(callee, A.Name) else "function"
        return self.call_value(e, lt, who, self.is_global_fn(callee))

    def e_Call(self, e: A.Call, expected: Type | None) -> Type:
        """`super.m(...)`: the one call that is not a link of a chain."""
        callee = e.callee
        if isinstance(callee, A.SuperField):
            sig = self.super_sig(callee)
            callee.ty = sig or ANY
            if sig is None:
                cls = self.ctx.cls
                if callee.name == "init" and cls is not None and cls.parent is not None and cls.parent.builtin:
                    self.args(e, S.ERROR_INIT.params, (), f"{cls.parent.name}.init", S.ERROR_INIT.min_args)
                    return NIL
                return self.loose_args(e)
            self.args(e, sig.params, sig.names, sig.owner or callee.name)
            return sig.ret
        raise AssertionError("other calls are chain links (Checker.expr checks them)")  # pragma: no cover

    def is_global_fn(self, callee: A.Expr) -> bool:
        """Will the emitter use CALL_GLOBAL (callee checks skipped) for this call?"""
        if isinstance(callee, A.Name) and callee.ref is not None and callee.ref.kind == GLOBAL:
            var = callee.ref.var
            # (Not a REPL session's function: a later entry may rebind it.)
            return var is not None and var.is_fn and not var.session and isinstance(var.decl, A.FnDecl)
        return False

    def call_value(self, e: A.Call, ct: Type, who: str, global_call: bool = False) -> Type:
        if isinstance(ct, FnT):
            # Places name the callee as its own run-time checks do; a function
            # type written as an annotation has no names: use the expression.
            owner = ct.owner if ct.owner and ct.names else who
            self.args(e, ct.params, ct.names, owner, ct.required, who=who, global_call=global_call, prove=not global_call)
            return ct.ret
        if isinstance(ct, ClassRefT):
            enums.check_construct(self, e, ct)  # tlenum (1.1)
            return self.construct(e, ct.cls)
        if isinstance(ct, BuiltinT):
            return self.call_builtin(e, ct.name)
        if ct is not ANY:
            self.error(e, f"cannot call a value of type {ct}")
        return self.loose_args(e)

    def loose_args(self, e: A.Call) -> Type:
        for a in e.args:
            self.expr(a)
        return ANY

    def construct(self, e: A.Call, cls: ClassT) -> Type:
        sym = cls.sym
        if sym is None:
            return self.loose_args(e)
        found = sym.find_method("init")
        if found is not None:
            sig = self.method_sig(*found)
            if sig is not None:
                self.args(e, sig.params, sig.names, sig.owner, who=sym.name, prove=True)
        elif any(c.builtin for c in sym.ancestors()):
            self.args(e, S.ERROR_INIT.params, (), f"{sym.name}.init", S.ERROR_INIT.min_args, who=sym.name)
        elif sym.is_open():
            self.loose_args(e)
        else:
            self.args(e, (), (), f"{sym.name}.init", who=sym.name)
        return cls

    def args(self, e: A.Call, params: tuple[Type, ...], names: tuple[str, ...], owner: str, required: int = -1, who: str | None = None, global_call: bool = False, lookup: bool = False, prove: bool = False) -> None:
        """Check a call's arguments against parameter types. With `lookup`, the
        first argument is only compared with `==` (a search or map key): an int
        and a float both fit a numeric type, unconverted. With `prove` (a guest
        callee that checks its typed parameters on entry), a call whose every
        argument is proven records the types in `e.proven`."""
        n = len(e.args)
        most = len(params)
        least = most if required < 0 else required
        if not least <= n <= most:
            if least == most:
                count = plural(most, "argument")
            elif most == least + 1:
                count = f"{least} or {most} arguments"
            else:
                count = f"{least} to {most} arguments"
            self.error(e, f"{who or owner} expects {count}, got {n}")
            self.loose_args(e)
            return
        proven = prove
        for i, a in enumerate(e.args):
            pt = params[i]
            at = self.expr(a, pt)
            if lookup and i == 0 and at in NUMERIC and pt in NUMERIC:
                continue
            place = f"argument '{names[i]}' of {owner}" if i < len(names) else f"argument {i + 1} of {owner}"
            # Callees check `any` arguments on entry, except under CALL_GLOBAL.
            a.conv = self.flow(a, at, pt, place, runtime=global_call)
            proven = proven and relation(at, pt) in (OK, WIDEN)
        texts = tuple(runtime_text(p) for p in params)
        if proven and any(texts):
            e.proven = texts

    def call_method(self, e: A.Call, callee: A.Field, ot: Type) -> Type:
        name = callee.name
        if isinstance(ot, ClassT) and ot.sym is not None:
            found = ot.sym.find_method(name)
            if found is not None:
                sig = self.method_sig(*found)
                if sig is None:  # a built-in class's method (init)
                    return self.loose_args(e)
                callee.ty = sig
                self.args(e, sig.params, sig.names, sig.owner, sig.required, prove=True)  # (tldefault: trailing defaults may be left out)
                return sig.ret
        if isinstance(ot, ArrayT) and name in S.GENERIC_ARRAY_METHODS:
            callee.ty = ANY
            return self.generic_array_method(e, ot, name)
        t = self.member_type(callee, ot, name, calling=True)
        callee.ty = t or ANY
        if t is None:
            return self.loose_args(e)
        table = self.methods_of(ot)
        if table is not None and name in table:
            sig = table[name]
            kind = "array" if isinstance(ot, ArrayT) else "map" if isinstance(ot, MapT) else "string" if ot is STRING else ot.name.lower()
            # Natives do not check element types: check `any` values here.
            self.args(e, sig.params, (), f"{kind}.{name}", sig.required, global_call=True, lookup=sig.lookup)
            if isinstance(ot, MapT) and name == "get":
                return S.map_get_result(ot.value, e.args[1].ty if len(e.args) == 2 else None)
            if isinstance(ot, GenericT) and ot.name == "WeakMap" and name == "get":
                return S.map_get_result(ot.arg2 or ANY, e.args[1].ty if len(e.args) == 2 else None)
            return sig.ret
        owner = f"{ot.name}.{name}" if isinstance(ot, ModuleT) else name
        return self.call_value(e, t, owner)

    def generic_array_method(self, e: A.Call, ot: ArrayT, name: str) -> Type:
        elem = ot.elem
        who = f"array.{name}"
        if name == "sort":
            if len(e.args) > 1:
                self.error(e, f"{who} expects 0 or 1 arguments, got {len(e.args)}")
                return self.loose_args(e)
            if e.args:
                self.args(e, (FnT((elem,), ANY),), (), who)
            return NIL
        if name == "reduce":
            if len(e.args) != 2:
                self.error(e, f"{who} expects 2 arguments, got {len(e.args)}")
                return self.loose_args(e)
            init = self.expr(e.args[1])
            acc = ANY if init in (NIL, NEVER) else init
            ft = self.expr(e.args[0], FnT((acc, elem), ANY))
            self.flow(e.args[0], ft, FnT((acc, elem), ANY), f"argument 1 of {who}", runtime=False)
            if isinstance(ft, FnT) and relation(ft.ret, acc) == OK:
                return acc
            return ANY
        if len(e.args) != 1:
            self.error(e, f"{who} expects 1 argument, got {len(e.args)}")
            return self.loose_args(e)
        want = FnT((elem,), BOOL if name == "filter" else ANY)
        ft = self.expr(e.args[0], want)
        self.flow(e.args[0], ft, want, f"argument 1 of {who}", runtime=False)
        if name == "filter":
            return ot
        ret = ft.ret if isinstance(ft, FnT) else ANY
        return ArrayT(ANY if ret in (NIL, NEVER) else ret)

    def call_builtin(self, e: A.Call, name: str) -> Type:
        if name in S.LIBRARY_BUILTINS:  # (the 1.1 library: library_types.py)
            return check_library_call(self, e, name)
        if name == "Array":  # tlexpr: typed from its fill (nilexpr.py)
            return self.array_ctor_type(e)  # type: ignore[attr-defined]
        sig = S.BUILTIN_SIGS.get(name)
        n = len(e.args)
        if name in S.VARIADIC_BUILTINS:
            least = S.VARIADIC_BUILTINS[name]
            if n < least:
                self.error(e, f"{name} expects at least {plural(least, 'argument')}, got {n}")
            types = [self.expr(a) for a in e.args]
            if name == "print" or not types:
                return NIL if name == "print" else ANY
            if n == 1:
                t = types[0]
                if isinstance(t, ArrayT):
                    return t.elem
                if t is not ANY:
                    self.error(e.args[0], f"argument 1 of {name}: expected an array, got {t}")
                return ANY
            first = types[0]
            return first if all(t == first for t in types) and first in (INT, FLOAT, STRING) else ANY
        if name == "zip" or name == "enumerate":  # (tltuple)
            return self.tuple_builtin(e, name)
        if name == "abs":
            if n != 1:
                self.error(e, f"abs expects 1 argument, got {n}")
                return self.loose_args(e)
            t = self.expr(e.args[0])
            return t if t in NUMERIC or t is ANY else self._numeric_error(e, name, t)
        if name == "WeakRef" and n == 1:
            # WeakRef<T> of the argument's type T, which must be an object type.
            t = self.expr(e.args[0])
            inner = t.inner if isinstance(t, OptionalT) else t
            if inner in (INT, FLOAT, BOOL, STRING, NIL):
                self.error(e.args[0], f"argument 1 of WeakRef: expected an object, got {t}")
                return GenericT("WeakRef", ANY)
            return GenericT("WeakRef", ANY if inner is NEVER else inner)
        if sig is None:  # the prelude's private natives
            return self.loose_args(e)
        self.args(e, sig.params, (), name, sig.required)
        if n == 1 and e.args[0].ty is not None:
            at = e.args[0].ty
            if name in ("sqrt", "floor", "ceil", "round") and at not in NUMERIC and at is not ANY:
                self._numeric_error(e, name, at)
            elif name == "len" and at is not ANY and not isinstance(at, (ArrayT, MapT, TupleT)) and at not in (STRING, RANGE) and not self.sized(at):
                self.error(e.args[0], f"argument 1 of len: expected string, array, map or range, got {at}")
        return sig.ret

    def _numeric_error(self, e: A.Call, name: str, t: Type) -> Type:
        self.error(e.args[0], f"argument 1 of {name}: expected int or float, got {t}")
        return ANY
