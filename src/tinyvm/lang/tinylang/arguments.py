"""Default parameter values and named arguments (spec section 13, "Parameters";
issue 18, helpers tlexpr and tldefault): the checker's rules and the
emitter's prologue.

`fn pad(s: string, width: int, fill: string = " ")` and `pad("x", width: 8)`.
The parser checks the declaration's form (defaults last) and that named
arguments come after the positional ones.

A default is any expression; the callee owns it (tldefault). It is resolved
and checked in the function's scope, after the parameters before it (`fn
f(a: int, b: int = a * 2)`), and compiled into the function's prologue
(`DefaultEmit.emit_default`): `JUMP_IF_PASSED slot, skip; <default>;
STORE_LOCAL slot; skip:` per parameter with a default, in order, before the
body. A call may pass from `Code.required` to `arity` arguments; the VM pads
a short list with a private MISSING marker (vm/calls.py), so calls through
function values, `any`, Lox and the embedding API get the defaults too.

When the checker knows the callee -- a top-level or imported function called
by name, a method of a statically known class, a class's `init` through the
class -- `bind_args` puts the arguments in parameter order, at compile time.
A left-out parameter whose default is a constant (a literal, or an array, map
or record of them) gets a fresh copy of it at the call site, as before: the
call keeps its full argument count and its fast path, and the JIT tiers still
compile the caller. Any other left-out parameter gets an `A.Missing`
(LOAD_MISSING): the callee evaluates it. Arguments are evaluated in parameter
order.

Not covered (compile errors): named arguments to a callee known only by its
type (a function value, `any`, a module's member).
"""

from __future__ import annotations

import copy
from typing import Any

from ...bytecode import opcodes as O
from ...bytecode.assembler import Label
from . import ast as A
from .hints import closest
from .parse11 import constant_default
from .types import ANY, ClassRefT, ClassT, Type


def required_of(decl: A.FnDecl) -> int:
    """FnT.required of a declared function: its parameters without a default,
    or -1 when none has one."""
    params = decl.params
    if not params or params[-1].default is None:
        return -1
    return sum(1 for p in params if p.default is None)


class ArgumentRules:
    """Checker mixin: `bind_args` (called from MemberChecks.rest_Call) and the
    check of default values against their parameters' types."""

    error: Any
    expr: Any
    flow: Any

    def static_callee(self, e: A.Call, lt: Type) -> tuple[A.FnDecl, str] | None:
        """The declaration a call will run, when the checker knows it, and its name."""
        callee = e.callee
        if type(callee) is A.Field:
            if isinstance(lt, ClassT) and lt.sym is not None:
                found = lt.sym.find_method(callee.name)
                if found is not None and isinstance(found[1], A.FnDecl):
                    return found[1], f"{found[0].name}.{callee.name}"
            return None
        if isinstance(lt, ClassRefT):
            sym = lt.cls.sym
            found = sym.find_method("init") if sym is not None else None
            if found is not None and isinstance(found[1], A.FnDecl):
                return found[1], sym.name
            return None
        if type(callee) is A.Name and callee.ref is not None:
            var = callee.ref.var
            if var is not None and isinstance(var.decl, A.FnDecl):  # (a `fn` is never reassigned)
                return var.decl, callee.name
        return None

    def bind_args(self, e: A.Call, lt: Type) -> None:
        """Put a call's arguments in parameter order, defaults filled in."""
        args = e.args
        named = [a for a in args if type(a) is A.NamedArg]
        found = self.static_callee(e, lt)
        if found is None or not (named or any(p.default is not None for p in found[0].params)):
            if named:
                self.error(named[0], "named arguments need a function, method or class known at compile time")
                e.args = [a.value if type(a) is A.NamedArg else a for a in args]
            return
        decl, who = found
        params = decl.params
        positional = [a for a in args if type(a) is not A.NamedArg]
        least = sum(1 for p in params if p.default is None)
        most = len(params)
        count = f"{least} or {most}" if most == least + 1 else f"{least} to {most}"
        if len(positional) > most:
            self.error(e, f"{who} expects {count} arguments, got {len(positional) + len(named)}")
            for a in positional[most:] + [a.value for a in named]:
                self.expr(a)
            positional = positional[:most]
            named = []
        slots: list[A.Expr | None] = [None] * len(params)
        slots[: len(positional)] = positional
        index = {p.name: i for i, p in enumerate(params)}
        ok = True
        for a in named:
            i = index.get(a.name)
            if i is None:
                near = closest(a.name, list(index))
                hint = f"; did you mean '{near}'?" if near is not None else ""
                self.error(a, f"{who} has no parameter '{a.name}'{hint}")
                ok = False
            elif slots[i] is not None:
                self.error(a, f"argument '{a.name}' of {who} given twice")
                ok = False
            else:
                slots[i] = a.value
        missing = [p for i, p in enumerate(params) if slots[i] is None and p.default is None]
        if missing and ok:
            if named:
                self.error(e, f"missing argument '{missing[0].name}' of {who}")
            else:
                self.error(e, f"{who} expects {count} arguments, got {len(positional)}")
        out: list[A.Expr] = []
        for i, p in enumerate(params):
            a = slots[i]
            if a is None:
                if p.default is not None and constant_default(p.default):
                    a = _fresh_copy(p.default, e.line, e.col)
                elif p.default is not None:  # tldefault: the callee evaluates it
                    a = A.Missing(e.line, e.col)
                else:  # (reported above) a placeholder, so args() does not count again
                    a = A.Hole(e.line, e.col)
                    a.ty = ANY
            out.append(a)
        if not _fixed_callee(e):
            # tldefault: the function that runs may not be the one the checker
            # sees (an override, a REPL redefinition): leave out only trailing
            # arguments (the VM pads them, or reports the callee's count);
            # never pass the marker of a left-out one to it.
            while out and type(out[-1]) is A.Missing:
                out.pop()
            for i, a in enumerate(out):
                if type(a) is A.Missing and ok:
                    self.error(e, f"argument '{params[i].name}' of {who} must be passed: a method's default that is not a constant can only be left out after the last argument given")
                    a.ty = ANY
                    break
        e.args = out

    def check_defaults(self, node: A.FnDecl | A.Lambda, params: tuple[Type, ...]) -> None:
        """Each default value must fit its parameter's type (tldefault: checked
        in the callee, which evaluates it; `conv` is its run-time check)."""
        for p, t in zip(node.params, params):
            if p.default is not None:
                dt = self.expr(p.default, t)
                p.default.conv = self.flow(p.default, dt, t, f"default of parameter '{p.name}'")

    def e_Missing(self, e: A.Missing, expected: Type | None) -> Type:
        # tldefault: the callee fills it with a value of its parameter's type.
        return expected if expected is not None else ANY

    def e_NamedArg(self, e: A.NamedArg, expected: Type | None) -> Type:
        # Reached only where bind_args does not run: `super.m(name: v)`.
        self.error(e, "named arguments need a function, method or class known at compile time")
        return self.expr(e.value, expected)


def _fixed_callee(e: A.Call) -> bool:
    """tldefault: does the call run exactly the declaration the checker bound
    it to -- a top-level or local `fn` or a class named directly -- so it may
    pass the marker of a left-out argument in the middle?"""
    callee = e.callee
    if type(callee) is not A.Name or callee.ref is None or callee.ref.var is None:
        return False
    var = callee.ref.var
    return not getattr(var, "session", False) and isinstance(var.decl, (A.FnDecl, A.ClassDecl))


def _fresh_copy(default: A.Expr, line: int, col: int) -> A.Expr:
    """A copy of a (constant) default value for one call site, placed at the
    call (for the line table), untyped so the call's check types it."""
    c = copy.deepcopy(default)
    stack: list[Any] = [c]
    while stack:
        x = stack.pop()
        if isinstance(x, A.Node):
            x.line, x.col = line, col
            if isinstance(x, A.Expr):
                x.ty = x.conv = None
            for name in x.__slots__:  # type: ignore[attr-defined]
                v = getattr(x, name, None)
                if isinstance(v, (A.Node, list, tuple)):
                    stack.append(v)
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
    return c


class DefaultEmit:
    """Emitter mixin (tldefault): a function's prologue code for its defaults,
    and the marker of a left-out argument."""

    emit: Any
    place: Any
    value: Any
    at: Any

    def emit_default(self, node: A.FnDecl | A.Lambda, i: int, slot: int) -> None:
        """Parameter i (in frame slot `slot`): evaluate its default, if it has
        one and the call left it out. Called in parameter order, before the
        parameter moves into a cell, so a default sees the earlier ones."""
        if i < 0 or node.params[i].default is None:
            return
        default = node.params[i].default
        passed = Label()
        self.at(default)
        self.emit(O.JUMP_IF_PASSED, slot, passed)
        self.value(default, default.conv)
        self.emit(O.STORE_LOCAL, slot)
        self.place(passed)

    def e_Missing(self, e: A.Missing) -> None:
        self.emit(O.LOAD_MISSING)
