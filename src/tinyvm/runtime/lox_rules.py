"""Lox's run-time rules (see runtime/dialects.py): clox's semantics and messages for
the shared instructions, applied to the code of modules whose language is Lox.

Numbers. Lox has one number type, the double. Lox code computes only in
floats: its operators have no int fast path, and their slow paths convert a
TinyLang int operand (one that crossed from TinyLang) to float first, so
`n + 0` is a float whatever n was. Division follows IEEE 754 as C does:
`x / 0` is an infinity, and `0 / 0` is the default NaN of x86, whose sign bit
is set (clox prints it `-nan`; runtime/values.py, format_c_number).

Comparisons. clox compiles `a <= b` as `!(a > b)` and `a >= b` as
`!(a < b)`, so both are true when an operand is NaN; the inline fast paths
(`cmp`) and the slow paths keep that.

Properties. Only instances have properties and fields; a field shadows a
method of the same name, in reads and in calls (`fields_shadow_methods`:
clox's OP_INVOKE looks at the fields first). An open instance (a Lox class's)
gets a field on its first assignment; a TinyLang instance keeps its declared
fields.

Errors carry clox's messages ("Operands must be numbers.", "Undefined
property 'x'."...), in the TinyLang error classes (TypeError and friends) so
that TinyLang code calling Lox can catch them by class.

Natives. `clock()` is clox's: the processor time used, in seconds. Like all
clox natives it ignores its arguments. TinyVM's own: `WeakRef(obj)` and
`WeakMap()` (docs/memory.md), the only non-instances with methods in Lox,
and `gc`, the `gc` module as an object (stdlib/gc.py, installed by the VM,
Machine.rules_for).
"""

from __future__ import annotations

import math
import time
from typing import Any

from ..bytecode import opcodes as O
from ..heap.objects import UNINIT, BoundMethod, Instance, Native
from ..heap.weak import WeakMap, WeakRef
from . import arith
from .dialects import LOX, PLAIN_CMP, Rules
from .errors import RtError
from .memory import checked_binary

# Frames a Lox program may have (clox's FRAMES_MAX): the script's frame and 63
# nested calls.
LOX_MAX_DEPTH = 64

# The objects of the `WeakRef` and `WeakMap` natives (runtime/weakrefs.py):
# not instances, yet they have methods (`r.get()`, `m.set(k, v)`...).
WEAK_TYPES = (WeakRef, WeakMap)

MESSAGES: dict[str, str] = {
    "undefined_global": "Undefined variable '{name}'.",
    "arity": "Expected {expected} arguments but got {got}.",
    "not_callable": "Can only call functions and classes.",
    "stack_overflow": "Stack overflow.",
    "no_method": "Undefined property '{name}'.",
    "no_field": "Undefined property '{name}'.",
    "bad_superclass": "Superclass must be a class.",
}

# clox's `a <= b` is `!(a > b)` and `a >= b` is `!(a < b)` (true with a NaN).
CMP: dict[int, str] = dict(PLAIN_CMP)
CMP[O.LE] = "not ({x} > {y})"
CMP[O.GE] = "not ({x} < {y})"


def _numbers() -> RtError:
    return RtError("TypeError", "Operands must be numbers.")


def _is_num(t: type) -> bool:
    return t is float or t is int


def add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is str and tb is str:
        return a + b
    if _is_num(ta) and _is_num(tb):
        return float(a) + float(b)
    raise RtError("TypeError", "Operands must be two numbers or two strings.")


def sub(a: Any, b: Any) -> float:
    if _is_num(type(a)) and _is_num(type(b)):
        return float(a) - float(b)
    raise _numbers()


def mul(a: Any, b: Any) -> float:
    if _is_num(type(a)) and _is_num(type(b)):
        return float(a) * float(b)
    raise _numbers()


# The NaN x86 produces for an invalid operation such as 0.0 / 0.0: quiet, with
# the sign bit set (math.nan has it clear).
DEFAULT_NAN = -math.nan


def div(a: Any, b: Any) -> float:
    if _is_num(type(a)) and _is_num(type(b)):
        a, b = float(a), float(b)
        if b == 0.0:  # IEEE 754, as C computes it (Python would raise)
            if a != a:
                return a  # a NaN operand propagates
            if a == 0.0:
                return DEFAULT_NAN
            return math.copysign(math.inf, a) * math.copysign(1.0, b)
        return a / b
    raise _numbers()


def _compare(op: str):
    def cmp(a: Any, b: Any) -> bool:
        if _is_num(type(a)) and _is_num(type(b)):
            x, y = float(a), float(b)
            if op == "<":
                return x < y
            if op == ">":
                return x > y
            if op == "<=":
                return not (x > y)
            return not (x < y)
        raise _numbers()

    return cmp


def neg(a: Any) -> float:
    if _is_num(type(a)):
        return -float(a)
    raise RtError("TypeError", "Operand must be a number.")


BINARY = dict(arith.BINARY)  # MOD, bit operators...: Lox has no syntax for them
BINARY.update({
    O.ADD: add, O.SUB: sub, O.MUL: mul, O.DIV: div,
    O.LT: _compare("<"), O.GT: _compare(">"), O.LE: _compare("<="), O.GE: _compare(">="),
})  # fmt: skip


def clock(*_args: Any) -> float:
    return time.process_time()


def lox_rules(vm: Any) -> Rules:
    heap = vm.heap
    alloc = heap.alloc
    call_slow = vm.call_slow

    def get_field(obj: Any, name: str) -> Any:
        # (isinstance: a TinyLang instance met by Lox rules may be laid out,
        # heap/layout.py; a Lox class's are open, so always dicts)
        if not isinstance(obj, Instance):
            raise RtError("TypeError", "Only instances have properties.")
        v = obj.fields.get(name, UNINIT)
        if v is not UNINIT:
            return v
        meth = obj.cls.methods.get(name)
        if meth is None:
            raise RtError("TypeError", f"Undefined property '{name}'.")
        return alloc(BoundMethod(obj, meth))

    def set_field(obj: Any, name: str, value: Any) -> None:
        if not isinstance(obj, Instance):
            raise RtError("TypeError", "Only instances have fields.")
        # An open instance takes any field; a TinyLang one only its own (typed
        # fields checked), as TinyLang's SET_FIELD does.
        if obj.cls.open and name not in obj.fields and obj.cls.field_checks is None:
            obj.fields[name] = value
            if obj.mark == heap.watch:  # (the write barrier: docs/gc.md)
                heap.barrier(obj, value)
            return
        vm.set_field(obj, name, value)

    def call_method_slow(fb: Any, recv: Any, name: str, n: int, ret: Any) -> Any:
        if not isinstance(recv, Instance):
            if type(recv) in WEAK_TYPES:  # WeakRef / WeakMap natives' objects: their methods
                return vm.call_method_slow(fb, recv, name, n, ret)
            raise RtError("TypeError", "Only instances have methods.")
        L = fb.L
        value = recv.fields.get(name, UNINIT)
        if value is not UNINIT:  # a field holding a callable: call it, no receiver
            L[len(L) - n - 1] = value
            return call_slow(fb, value, n, ret)
        meth = recv.cls.methods.get(name)
        if meth is None:
            raise RtError("TypeError", f"Undefined property '{name}'.")
        L.insert(len(L) - n - 1, meth)
        return call_slow(fb, meth, n + 1, ret)

    # clox's natives are globals of every script; the compiler loads them with
    # LOAD_BUILTIN, so they live among the VM's built-ins (TinyLang's resolver
    # knows its own built-in names and never refers to these).
    if "clock" not in vm.builtins:
        vm.builtins["clock"] = alloc(Native("clock", clock, -1))

    return Rules(
        LOX,
        int_fast=False,
        binary=checked_binary(vm.heap, BINARY),
        cmp=CMP,
        neg=neg,
        get_field=get_field,
        set_field=set_field,
        set_field_proven=set_field,
        call_method_slow=call_method_slow,
        fields_shadow_methods=True,
        messages=MESSAGES,
        max_depth=LOX_MAX_DEPTH,
    )
