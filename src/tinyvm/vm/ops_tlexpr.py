"""Instructions of TinyLang 1.1's expressions (issue 18, helper tlexpr): `**`
(POW) and format specs in interpolation (FORMAT).

Both are plain value instructions: they replace their operands by the
result, or raise the guest error at their own position. The JIT compiles
them (ir/build.py `pow`, `format`; jit/codegen.py inlines `**` of two floats
and the int cases that fit, and steps through these closures otherwise).

`**` follows the int rules of the other operators: int ** non-negative int is
exact and checked against int64 (OverflowError), computed without ever
building a huge Python int (an exponent past 63 overflows for any base of
magnitude 2 or more); every other numeric case is IEEE 754 float power
(`0.0 ** -1` is inf, `(-8.0) ** 0.5` is nan, never a host exception).

FORMAT applies Python's format-spec mini-language, which the compiler has
already validated (lang/tinylang/nilexpr.py): numbers format as numbers,
other values as their printed form; a spec whose type does not fit the value
(`${s:d}` with a string) is a ValueError.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..bytecode import opcodes as O
from ..heap.objects import INT_MAX, INT_MIN
from ..heap.packed import repeat
from ..runtime.errors import RtError
from ..runtime.values import NeedsGuest, to_str, typeof
from .ops import builder, unary  # noqa: F401

NUMERIC_TYPES = frozenset("dxXobeEfFgG%")
INT_ONLY_TYPES = frozenset("dxXobc")
_PLAIN_WIDTH = re.compile(r"(?:.?[<>^])?(?:[1-9][0-9]*)?")
_ALIGNED = re.compile(r".?[<>^]")


def _fpow(x: float, y: float) -> float:
    try:
        return math.pow(x, y)
    except OverflowError:
        odd = y.is_integer() and int(y) % 2 == 1
        return -math.inf if x < 0 and odd else math.inf
    except ValueError:  # 0 ** negative, or a negative base and a fractional exponent
        if x == 0.0:
            odd = y.is_integer() and int(y) % 2 == 1
            return math.copysign(math.inf, x) if odd else math.inf
        return math.nan


# (tljit: the JIT's inline `**` of two floats calls this, jit/codegen.py)
float_power = _fpow


def power(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        if b < 0:
            return _fpow(float(a), float(b))
        if a in (0, 1) or b == 0:
            return 1 if b == 0 else a
        if a == -1:
            return -1 if b & 1 else 1
        if b > 63:  # |a| >= 2: 2 ** 64 is past int64 already
            raise RtError("OverflowError", "integer overflow")
        r = a**b
        if INT_MIN <= r <= INT_MAX:
            return r
        raise RtError("OverflowError", "integer overflow")
    if (ta is int or ta is float) and (tb is int or tb is float):
        return _fpow(float(a), float(b))
    raise RtError("TypeError", f"unsupported operand types for **: {typeof(a)} and {typeof(b)}")


def spec_type(spec: str) -> str:
    """The presentation type of a (valid) spec: its last character if it is one."""
    return spec[-1] if spec and spec[-1].isalpha() or spec.endswith("%") else ""


def format_value(v: Any, spec: str) -> str:
    t = type(v)
    kind = spec_type(spec)
    try:
        if t is int or t is float:
            if kind == "s":
                return format(to_str(v), spec)
            if t is float and kind in INT_ONLY_TYPES:
                raise ValueError
            if t is float and _PLAIN_WIDTH.fullmatch(spec):
                # Only a width (and alignment): the printed form of the float
                # (`1.0`, not Python's `1.0`/`1e+20` rules), aligned as a number.
                return format(to_str(v), spec if _ALIGNED.match(spec) else ">" + spec)
            return format(v, spec)
        if kind in NUMERIC_TYPES:
            raise ValueError
        if t is not str:
            try:
                v = to_str(v)
            except NeedsGuest:  # an object with a str() method: its class name
                v = typeof(v)
        return format(v, spec)
    except ValueError:
        raise RtError("ValueError", f"format spec '{spec}' does not apply to {typeof(v)}") from None


@builder(O.POW)
def b_pow(d, code, ops, pc, args, k):
    def f(fb):
        L = fb.L
        y = L.pop()
        L[-1] = power(L[-1], y)
        return ops[k]

    return f


@builder(O.FORMAT)
def b_format(d, code, ops, pc, args, k):
    spec = code.consts[args[0]]
    charge = d.vm.heap.charge_str

    def f(fb):
        L = fb.L
        s = format_value(L[-1], spec)
        if len(s) >= 256:  # (as long strings made elsewhere: runtime/memory.py)
            charge(s)
        L[-1] = s
        return ops[k]

    return f


def install(vm: Any) -> None:
    """The built-in `Array(n, fill)`: an array of n elements, each `fill`
    (the same value: `Array(3, [])` holds one array three times)."""
    from ..heap.objects import Native
    from ..runtime.memory import array_bytes

    heap = vm.heap
    limits = vm.limits
    fuel = limits.charge_items if limits.metered else None

    def array_(*args: Any) -> Any:
        if len(args) != 2:
            raise RtError("TypeError", f"Array expects 2 arguments, got {len(args)}")
        n, fill = args
        if type(n) is not int:
            raise RtError("TypeError", f"argument 1 of Array: expected int, got {typeof(n)}")
        if n < 0:
            raise RtError("ValueError", f"array size must not be negative, got {n}")
        if fuel is not None:
            fuel(n)
        heap.reserve(array_bytes(n))
        return heap.alloc(repeat([fill], n, heap.packs))

    vm.builtins["Array"] = heap.alloc(Native("Array", array_, 2))
