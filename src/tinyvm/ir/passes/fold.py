"""Constant folding with the language's exact semantics (used by sccp).

`fold(op, values, lang)` computes what the VM would compute for `op` over
constant operands, or raises `NoFold`. It refuses, rather than guesses:

* anything that raises at run time (int64 overflow, division by zero, a shift
  count outside 0..63, operand types the operator rejects): the instruction
  must stay and raise with its frame state;
* a result that is a NaN (the text form cannot keep a NaN's sign bit, and
  Lox's 0/0 is the x86 default NaN while TinyLang's is Python's);
* a string longer than `MAX_STRING` (a chain of `s = s + s` must not make the
  compiler build a gigabyte constant);
* whatever depends on the language when `lang` is None (the IR does not say
  which front end the code came from; the caller passes `ctx.options["lang"]`,
  `tinylang` or `lox`): int arithmetic (TinyLang's checked int64, Lox's
  doubles), int negation, int comparisons (Lox compares as doubles), string
  comparisons (Lox rejects them) and comparisons with a NaN (Lox's `a <= b` is
  `!(a > b)`).

The rules mirror runtime/arith.py, runtime/values.py (`equals`, `compare`) and
runtime/lox_rules.py, which the ir layer may not import; tests/ir/passes
check the two agree on a grid of operands.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["FOLDABLE", "MAX_STRING", "NoFold", "fold"]

INT_MIN = -(1 << 63)
INT_MAX = (1 << 63) - 1
MAX_STRING = 4096
TINYLANG, LOX = "tinylang", "lox"


class NoFold(Exception):
    """The operation cannot be folded (it raises, or its result depends on what we do not know)."""


def _int(v: Any) -> bool:
    return type(v) is int


def _num(v: Any) -> bool:
    return type(v) is int or type(v) is float


def _checked(r: int) -> int:
    if INT_MIN <= r <= INT_MAX:
        return r
    raise NoFold("overflow")


def _need(cond: bool) -> None:
    if not cond:
        raise NoFold()


def _arith(op: str, a: Any, b: Any, lang: str | None) -> Any:
    if _int(a) and _int(b) and op in ("add", "sub", "mul", "div"):
        if lang == LOX:
            a, b = float(a), float(b)  # Lox computes in doubles: fall through
        elif lang == TINYLANG:
            if op == "div":
                _need(b != 0)
                q = abs(a) // abs(b)
                return _checked(-q if (a < 0) != (b < 0) else q)
            return _checked(a + b if op == "add" else a - b if op == "sub" else a * b)
        else:
            raise NoFold("int arithmetic depends on the language")
    if op == "add" and type(a) is str and type(b) is str:
        _need(len(a) + len(b) <= MAX_STRING)
        return a + b
    _need(_num(a) and _num(b))
    x, y = float(a), float(b)
    if op == "add":
        return x + y
    if op == "sub":
        return x - y
    if op == "mul":
        return x * y
    # div: both languages give +-inf for x / 0.0 with x a non-zero number;
    # 0/0 and nan/0 are NaNs (refused below).
    if y == 0.0:
        _need(not math.isnan(x) and x != 0.0)
        return math.copysign(math.inf, x) * math.copysign(1.0, y)
    return x / y


def _mod(a: Any, b: Any) -> Any:
    # The same function in both languages (Lox has no `%` syntax; its rules keep arith's).
    if _int(a) and _int(b):
        _need(b != 0 and not (a == INT_MIN and b == -1))
        r = abs(a) % abs(b)
        return -r if a < 0 else r
    _need(_num(a) and _num(b))
    x, y = float(a), float(b)
    _need(y != 0.0 and not math.isinf(x))
    return math.fmod(x, y)


def _bits(op: str, a: Any, b: Any) -> int:
    _need(_int(a) and _int(b))
    if op == "band":
        return a & b
    if op == "bor":
        return a | b
    if op == "bxor":
        return a ^ b
    _need(0 <= b <= 63)
    return _checked(a << b) if op == "shl" else a >> b


def _equals(a: Any, b: Any) -> bool:
    """runtime/values.py `equals` on literal constants."""
    ta, tb = type(a), type(b)
    if ta is tb:
        return a == b  # floats: nan != nan, 0.0 == -0.0, as the VM
    if ta is int and tb is float:
        return float(a) == b
    if ta is float and tb is int:
        return a == float(b)
    return False


def _compare(op: str, a: Any, b: Any, lang: str | None) -> bool:
    if type(a) is str and type(b) is str:
        if lang != TINYLANG:
            raise NoFold("Lox compares numbers only")  # (unknown language: maybe Lox)
        x, y = a, b
    else:
        _need(_num(a) and _num(b))
        if _int(a) and _int(b):
            if lang is None:
                raise NoFold("int comparison depends on the language")
            x, y = (a, b) if lang == TINYLANG else (float(a), float(b))
        else:
            x, y = float(a), float(b)
        if math.isnan(x) or math.isnan(y):
            if lang is None:
                raise NoFold("comparison with nan depends on the language")
            return lang == LOX and op in ("le", "ge")  # clox: a <= b is !(a > b)
    return {"lt": x < y, "le": x <= y, "gt": x > y, "ge": x >= y}[op]


def _unary(op: str, a: Any, lang: str | None) -> Any:
    if op == "neg":
        if _int(a):
            if lang == TINYLANG:
                return _checked(-a)
            _need(lang == LOX)
            return -float(a)
        _need(type(a) is float)
        return -a
    if op == "bnot":
        _need(_int(a))
        return ~a
    if op in ("not", "check_bool"):
        _need(type(a) is bool)
        return (not a) if op == "not" else a
    if op == "truthy":
        return not (a is None or a is False)
    if op == "falsy":
        return a is None or a is False
    if op == "to_str":
        _need(type(a) is str)
        return a
    raise NoFold(op)


FOLDABLE = frozenset({
    "add", "sub", "mul", "div", "mod", "band", "bor", "bxor", "shl", "shr",
    "eq", "ne", "lt", "le", "gt", "ge", "neg", "bnot", "not", "check_bool", "truthy", "falsy",
    "to_str", "concat",
})  # fmt: skip


def fold(op: str, values: list[Any], lang: str | None = None) -> Any:
    """The VM's result of `op` over constant operands, or raise NoFold."""
    if op == "concat":
        _need(all(type(v) is str for v in values) and sum(len(v) for v in values) <= MAX_STRING)
        return "".join(values)
    if len(values) == 1:
        r = _unary(op, values[0], lang)
    elif len(values) != 2:
        raise NoFold(op)
    else:
        a, b = values
        if op in ("add", "sub", "mul", "div"):
            r = _arith(op, a, b, lang)
        elif op == "mod":
            r = _mod(a, b)
        elif op in ("band", "bor", "bxor", "shl", "shr"):
            r = _bits(op, a, b)
        elif op in ("eq", "ne"):
            r = _equals(a, b) == (op == "eq")
        elif op in ("lt", "le", "gt", "ge"):
            r = _compare(op, a, b, lang)
        else:
            raise NoFold(op)
    if type(r) is float and math.isnan(r):
        raise NoFold("a NaN result")
    return r
