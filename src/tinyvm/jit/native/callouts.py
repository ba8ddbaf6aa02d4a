"""Calls out whose result native code uses (docs/native.md, "Calls out").

A call out (select.py, `Typed.effects`) is an unconditional exit: native
code leaves at the call, the VM makes it, and the interpreter goes on to
the next loop header, whose OSR entry takes the function back into native
code. So native code never computes a call out's result: every
instruction after the call on its path is dead in native code, and the
result only matters where native code is entered again, at an OSR entry,
which reads it from the interpreter's frame like any value of its state.

That is why a *used* result may be given any machine type: the OSR entry
checks each word's type as it reads it (engine.py `_osr_op`) and hands the
frame to the Python JIT when a slot holds something else. The type is
chosen so that the function is eligible and the entry usually succeeds:

- the callee's declared result when it is a machine type (int, float,
  bool, an object, an array: select.py, as before);
- the result of a built-in whose result is known: `len` an int, `str` a
  string ("o", below), `int`/`float`/`floor`/...;
- otherwise (a callee declared `any` or without a declared result, a
  global not holding a hoisted function, another built-in) a guess from
  its uses: a bool where it is a branch's condition, a float where an
  operand beside it is a float, nil-free scalars' int otherwise, or "o"
  when it is only passed to other calls out.

**"o" results** (a string, a map, a closure... any value native code has
no machine type for) are never held: their only uses are arguments of
calls out, which native code never reaches without leaving first. An exit
record that names one is on a dead path (it is dominated by the call out)
and rebuilds nil there (deopt.py `exit_state`); a loop header whose state
names one gets no OSR entry (the value lives across the loop: the header
keeps the Python JIT's entry).
"""

from __future__ import annotations

from typing import Any

from ...ir.nodes import Instr

# Built-ins whose result's machine type is known ("o": not held).
BUILTIN_RESULT = {
    "len": "i", "str": "o", "int": "i", "float": "f", "floor": "i", "ceil": "i", "round": "i",
    "ord": "i", "chr": "o", "repr": "o", "type": "o", "input": "o", "sorted": "o",
}  # fmt: skip
_ARITH = frozenset(
    (
        "add",
        "sub",
        "mul",
        "div",
        "mod",
        "neg",
        "lt",
        "le",
        "gt",
        "ge",
        "eq",
        "ne",
        "band",
        "bor",
        "bxor",
        "shl",
        "shr",
    )
)
_BOOL = frozenset(("branch", "not", "check_bool"))
_CALLS = frozenset(
    ("call", "call_typed", "call_global", "call_method", "call_method_typed")
)
_SCALARS = {"int": "i", "float": "f", "bool": "b"}
GLOBAL = "g"  # a global's value only called (called_global): no machine value, rebuilt from the global


def users(ty: Any, v: Instr) -> list[Instr]:
    """The instructions (and terminators) of ty's function using v as an operand."""
    table = ty.users
    if not table:
        for b in ty.fn.blocks:
            for i in b.all():
                for a in i.args:
                    table.setdefault(a, []).append(i)
    return table.get(v, [])


def builtin_name(i: Instr) -> str | None:
    """The built-in a `call` calls, or None (a closure, a function value)."""
    f = i.args[0] if i.args else None
    return f.attrs[0] if f is not None and f.op == "builtin" and f.attrs else None


def guess(i: Instr, ty: Any) -> str:
    """The machine type of call out i's used result, from its uses (module docstring)."""
    us = users(ty, i)
    if any(u.op in _BOOL for u in us):
        return "b"
    for u in us:
        if u.op == "check_type" and u.attrs:
            t = _SCALARS.get(str(u.attrs[0][0]).replace(" ", ""))
            if t is not None:
                return t
        if u.op == "return" and ty.ret in ("i", "f", "b"):
            return ty.ret
        if u.op in _ARITH or u.op == "phi":
            for a in u.args:
                if a is not i and (
                    ty.types.get(a) == "f"
                    or a.op == "const"
                    and type(a.attrs[0] if a.attrs else None) is float
                ):
                    return "f"
    if us and all(u.op in _CALLS and u.args[0] is not i for u in us):
        return "o"  # (only passed on to other calls: analyze checks they are calls out)
    return "i"


def result_type(i: Instr, ty: Any, declared: Any = None) -> str:
    """The machine type of call out i's used result: the callee's `declared`
    result type's, a known built-in's, or guessed (module docstring)."""
    if i.op == "call":
        t = BUILTIN_RESULT.get(builtin_name(i) or "")
        if t is not None:
            return t
    text = str(declared).replace(" ", "") if declared is not None else ""
    if text in _SCALARS:
        return _SCALARS[text]
    if text not in ("", "any", "nil"):
        return "o"  # (a string, a map, a closure...: never held)
    return guess(i, ty)


def call_out(i: Instr, ty: Any, declared: Any = None) -> str:
    """Make i (a call native code cannot make, its result used) a call out: its result's machine type."""
    if i not in ty.effects:
        ty.effects.append(i)
    return result_type(i, ty, declared)


def is_function(t: Any) -> bool:
    """Whether the declared type t is a function type (`fn(int) -> int`, or optional)."""
    from ...bytecode.types import FnT
    from .objects import strip

    return isinstance(strip(t), FnT) if t is not None else False


def declared_result(f: Instr, ty: Any) -> Any:
    """The declared result type of the function value f calls: a parameter's
    function type's, or the code in the global f loads (None: unknown)."""
    from ...bytecode.types import FnT
    from .objects import strip

    t = strip(f.type) if f.type is not None else None
    if isinstance(t, FnT):
        return t.ret
    if f.op == "load_global":
        glob = getattr(ty.field_type, "glob", None)
        g = glob(f.attrs[0]) if glob is not None else None
        return getattr(getattr(g, "code", None), "ret_type", None)
    return None


def function_call(i: Instr, ty: Any, used: bool) -> str:
    """A `call` of a function value (a parameter of function type, a global
    holding a closure): always a call out, the VM makes it."""
    t = call_out(i, ty, declared_result(i.args[0], ty))
    return t if used else "i"  # (unused: the dead path's dummy)


# Methods of values native code does not hold ("o": strings, maps...) whose result's type is known.
METHOD_RESULT = {
    "len": "i",
    "upper": "o",
    "lower": "o",
    "trim": "o",
    "contains": "b",
    "starts_with": "b",
    "ends_with": "b",
    "find": "i",
}


def method_call(i: Instr, ty: Any, used: bool) -> str:
    """`s.m(...)` of an "o" value (a string made by a call out...): a call
    out, the VM looks the method up and calls it; its used result typed by
    METHOD_RESULT or guessed."""
    if i not in ty.effects:
        ty.effects.append(i)
    if not used:
        return "i"  # (the dead path's dummy)
    t = METHOD_RESULT.get(i.attrs[0] if i.attrs else "")
    return t if t is not None else guess(i, ty)


def called_global(i: Instr, ty: Any) -> str:
    """The machine type of a `load_global` of something other than a class:
    GLOBAL when every use calls it (a call out), else NotEligible. Native
    code never holds it: an exit rebuilds it from the global (deopt.py GLOBAL:
    native code stores no global, so the slot still holds what was loaded)."""
    from .select import NotEligible

    us = users(ty, i)
    if not us or any(
        u.op not in ("call", "call_typed") or u.args[0] is not i or i in u.args[1:]
        for u in us
    ):
        raise NotEligible("uses load_global (of something else than a class)")
    return GLOBAL


def is_call_out_result(v: Instr, ty: Any) -> bool:
    """Whether v is the result of a call out (its uses are dead in native code)."""
    return v.op in _CALLS and v in ty.effects
