"""TinyLang 1.1's expressions (spec section 13; issue 18, helper tlexpr): the
resolver, checker and emitter rules of `a ?? b`, `a?.f` / `a?.m()` / `a?[i]`,
`x!`, `c ? a : b`, `**`, `s * n` / `xs * n`, `Array(n, fill)` and format specs
in interpolation (`"${x:8.2f}"`). The parser builds the nodes (ast.py's
tlexpr block; `if let` is rewritten there into a hidden `let` and an `if`).

Each pass mixes in its class from here (one line in its class statement), so
the new rules stay out of the 900-line passes:

* `ResolveRules` walks the new nodes' children.
* `CheckRules` types them. `a ?? b` is `join(T, typeof b)` for an `a: T?`;
  `a?.f` is the field's type made optional; `x!` strips the `?`; `c ? a : b`
  needs a bool `c` and narrows each branch as `if` would; `int ** int` is an
  int only when the exponent is a non-negative literal (a negative exponent
  makes a float at run time), `any` otherwise, float when either side is.
  A format spec is checked here: a bad one is a compile error at the spec.
* `EmitRules` emits them with existing jumps (no new opcode for the nil
  operators): `a ?? b` is `a; DUP; LOAD_NIL; NE; JUMP_IF_TRUE end; POP; b`;
  an optional link tests its receiver the same way and leaves the nil in
  place; `x!` throws a built-in TypeError("unexpected nil") at the `!`. `**`
  is POW and a spec FORMAT (vm/ops_tlexpr.py).
"""

from __future__ import annotations

import re
from typing import Any

from ...bytecode import opcodes as O
from ...bytecode.assembler import Label
from . import ast as A
from .types import (
    ANY,
    FLOAT,
    INT,
    NIL,
    NUMERIC,
    STRING,
    ArrayT,
    Type,
    join,
    optional,
    strip_optional,
)

# Python's format-spec mini-language, restricted to what the spec lists:
# [[fill]align][sign][#][0][width][grouping][.precision][type]
_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?#?0?(?P<width>[0-9]+)?[,_]?(?:\.(?P<prec>[0-9]+))?(?P<type>[bdeEfFgGosxX%])?", re.DOTALL)
MAX_WIDTH = 1000  # a width or precision past this is refused (it only makes padding)
_NUMERIC_TYPES = frozenset("bdeEfFgGoxX%")
_INT_TYPES = frozenset("bdoxX")


def spec_problem(spec: str) -> str | None:
    """Why a format spec is not valid, or None."""
    m = _SPEC.fullmatch(spec)
    if m is None:
        return f"invalid format spec '{spec}'"
    for part in ("width", "prec"):
        if m.group(part) is not None and int(m.group(part)) > MAX_WIDTH:
            return f"format spec '{spec}': {'width' if part == 'width' else 'precision'} is at most {MAX_WIDTH}"
    for sample in (0, 0.0, ""):  # some kind of value must accept it
        try:
            format(sample, spec)
            return None
        except ValueError:
            pass
    return f"invalid format spec '{spec}'"


def _hole(link: A.Expr) -> A.Expr:
    """The Hole at the bottom of an OptChain's link."""
    e = link
    while type(e) in A.CHAIN_LINKS:
        e = e.callee.obj if type(e) is A.Call else A.left_operand(e)  # type: ignore[union-attr]
    return e


class ResolveRules:
    """Resolver rules (Resolver.expr dispatches on `e_` + node name)."""

    expr: Any

    def e_Coalesce(self, e: A.Coalesce) -> None:
        self.expr(e.left)
        self.expr(e.right)

    def e_Conditional(self, e: A.Conditional) -> None:
        self.expr(e.cond)
        self.expr(e.then)
        self.expr(e.orelse)

    def e_Unwrap(self, e: A.Unwrap) -> None:
        self.expr(e.operand)

    def e_OptChain(self, e: A.OptChain) -> None:
        self.expr(e.obj)
        self.expr(e.link)

    def e_Formatted(self, e: A.Formatted) -> None:
        self.expr(e.value)

    def e_NamedArg(self, e: A.NamedArg) -> None:
        self.expr(e.value)


class CheckRules:
    """Checker rules (Checker.expr dispatches on `e_` + node name)."""

    expr: Any
    error: Any
    condition: Any
    proofs: Any
    narrow: dict
    binary_type: Any

    def e_Coalesce(self, e: A.Coalesce, expected: Type | None) -> Type:
        lt = self.expr(e.left)
        rt = self.expr(e.right, expected)
        if lt is NIL:
            return rt
        if lt is ANY:
            return ANY
        return join(strip_optional(lt), rt)

    def e_Conditional(self, e: A.Conditional, expected: Type | None) -> Type:
        self.condition(e.cond, "condition of '?:'")
        when_true, when_false = self.proofs.of(e.cond)
        saved = dict(self.narrow)
        self.narrow.update(when_true)
        a = self.expr(e.then, expected)
        self.narrow = dict(saved)
        self.narrow.update(when_false)
        b = self.expr(e.orelse, expected)
        self.narrow = saved
        return join(a, b)

    def e_Unwrap(self, e: A.Unwrap, expected: Type | None) -> Type:
        t = self.expr(e.operand)
        if t is NIL:
            self.error(e, "'!' of nil always fails")
            return ANY
        return strip_optional(t)

    def e_Hole(self, e: A.Hole, expected: Type | None) -> Type:
        return ANY  # (set by e_OptChain before its link is checked)

    def e_OptChain(self, e: A.OptChain, expected: Type | None) -> Type:
        ot = self.expr(e.obj)
        _hole(e.link).ty = ANY if ot is ANY or ot is NIL else strip_optional(ot)
        lt = self.expr(e.link)
        return lt if lt is ANY or lt is NIL else optional(lt)

    def e_Formatted(self, e: A.Formatted, expected: Type | None) -> Type:
        t = self.expr(e.value)
        problem = spec_problem(e.spec)
        if problem is not None:
            self.error(e, problem)
            return STRING
        kind = e.spec[-1:] if e.spec[-1:] in _NUMERIC_TYPES or e.spec[-1:] == "s" else ""
        if kind in _NUMERIC_TYPES and t is not ANY and t not in NUMERIC:
            self.error(e, f"format spec '{e.spec}' needs a number, got {t}")
        elif kind in _INT_TYPES and t is FLOAT:
            self.error(e, f"format spec '{e.spec}' needs an int, got float")
        return STRING

    def v11_binary(self, e: A.Binary, lt: Type) -> Type:
        """`**` (`s * n` and `xs * n` are in Checker._binary_result)."""
        rt = self.expr(e.right)
        if lt is FLOAT or rt is FLOAT:
            if (lt in NUMERIC or lt is ANY) and (rt in NUMERIC or rt is ANY):
                return FLOAT
        elif lt is INT and rt is INT:
            r = e.right
            if isinstance(r, A.IntLit):
                return INT
            if isinstance(r, A.Unary) and r.op == "-" and isinstance(r.operand, A.IntLit) and r.operand.value > 0:
                return FLOAT
            return ANY  # int or float, decided by the exponent's sign at run time
        elif (lt in NUMERIC or lt is ANY) and (rt in NUMERIC or rt is ANY):
            return ANY
        self.error(e, f"unsupported operand types for **: {lt} and {rt}")
        return ANY

    @staticmethod
    def is_v11_binary(op: str, lt: Type) -> bool:
        return op == "**"

    def array_ctor_type(self, e: A.Call) -> Type:
        """`Array(n, fill)`: [T] for a fill of type T."""
        if len(e.args) != 2:
            self.error(e, f"Array expects 2 arguments, got {len(e.args)}")
            for a in e.args:
                self.expr(a)
            return ArrayT(ANY)
        nt = self.expr(e.args[0])
        if nt is not INT and nt is not ANY:
            self.error(e.args[0], f"argument 1 of Array: expected int, got {nt}")
        ft = self.expr(e.args[1])
        return ArrayT(ANY if ft is NIL else ft)


class EmitRules:
    """FunctionEmitter rules (FunctionEmitter.expr dispatches on `e_` + node name)."""

    expr: Any
    emit: Any
    at: Any
    place: Any
    const: Any
    name_: Any

    def _nil_test(self, e: A.Expr, jump_if_nil: bool, target: Label) -> None:
        """With a value on the stack: jump to target, keeping it, when it is
        (jump_if_nil) or is not nil; fall through with it otherwise."""
        self.at(e)
        self.emit(O.DUP)
        self.emit(O.LOAD_NIL)
        self.emit(O.EQ if jump_if_nil else O.NE)
        self.emit(O.JUMP_IF_TRUE, target)

    def e_Coalesce(self, e: A.Coalesce) -> None:
        end = Label()
        self.expr(e.left)
        self._nil_test(e, False, end)
        self.emit(O.POP)
        self.expr(e.right)
        self.place(end)

    def e_Conditional(self, e: A.Conditional) -> None:
        orelse, end = Label(), Label()
        self.expr(e.cond)
        self.at(e)
        self.emit(O.JUMP_IF_FALSE, orelse)
        self.expr(e.then)
        self.emit(O.JUMP, end)
        self.place(orelse)
        self.expr(e.orelse)
        self.place(end)

    def e_Unwrap(self, e: A.Unwrap) -> None:
        ok = Label()
        self.expr(e.operand)
        self._nil_test(e, False, ok)
        self.emit(O.POP)
        self.emit(O.LOAD_BUILTIN, self.name_("TypeError"))
        self.emit(O.LOAD_CONST, self.const("unexpected nil"))
        self.emit(O.CALL, 1)
        self.emit(O.THROW)
        self.place(ok)

    def e_Hole(self, e: A.Hole) -> None:
        pass  # the receiver is on the stack already (e_OptChain)

    def e_NamedArg(self, e: A.NamedArg) -> None:
        self.expr(e.value)  # (only where the checker reported it: never emitted)

    def e_OptChain(self, e: A.OptChain) -> None:
        end = Label()
        self.expr(e.obj)
        self._nil_test(e, True, end)
        self.expr(e.link)
        self.place(end)

    def e_Formatted(self, e: A.Formatted) -> None:
        self.expr(e.value)
        self.at(e)
        t = e.value.ty
        if t is not None and t is not ANY and t not in NUMERIC and t is not STRING:
            self.emit(O.TO_STR)  # (an object's own str() runs first)
        self.emit(O.FORMAT, self.const(e.spec))
