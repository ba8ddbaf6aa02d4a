"""Operator semantics (spec section 3), complete and exact: the slow paths.

Instruction handlers inline the common int/float cases and call these for
everything else, so these functions define the meaning of every operator:
checked int64 arithmetic (OverflowError), truncating division and C-style
remainder, float promotion, string and array concatenation, bitwise operators
on 64-bit two's complement, and the comparison and equality rules. Each
function takes the two operand values and returns the result or raises
`RtError`.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from ..bytecode import opcodes as O
from ..heap.objects import INT_MAX, INT_MIN, Array, Class, Instance, Range
from ..heap.packed import PackedArray
from .errors import RtError
from .values import compare, equals, typeof



def overflow() -> RtError:
    return RtError("OverflowError", "integer overflow")


def bad_operands(op: str, a: Any, b: Any) -> RtError:
    return RtError("TypeError", f"unsupported operand types for {op}: {typeof(a)} and {typeof(b)}")


def _num(a: Any) -> bool:
    t = type(a)
    return t is int or t is float


def _checked(r: int) -> int:
    if INT_MIN <= r <= INT_MAX:
        return r
    raise overflow()


def add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is str and tb is str:
        return a + b
    if ta is int and tb is int:
        return _checked(a + b)
    if _num(a) and _num(b):
        return float(a) + float(b)
    if ta is Array and tb is Array:
        # Not yet on the heap: the ADD handler allocates any Array result.
        return Array(a.items + b.items)
    if (ta is PackedArray or ta is Array) and (tb is PackedArray or tb is Array):
        # heap/packed.py: two packed arrays of one kind make a packed one
        # (the buffers joined); otherwise a list, the operands read without
        # unpacking them.
        if ta is tb and a.packed.typecode == b.packed.typecode:
            return PackedArray(a.packed + b.packed)
        return Array((a.values() if ta is PackedArray else a.items) + (b.values() if tb is PackedArray else b.items))
    raise bad_operands("+", a, b)


def sub(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        return _checked(a - b)
    if _num(a) and _num(b):
        return float(a) - float(b)
    raise bad_operands("-", a, b)


def mul(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        return _checked(a * b)
    if _num(a) and _num(b):
        return float(a) * float(b)
    # TinyLang 1.1 (tlexpr): `s * n` and `xs * n` repeat (n >= 0). Not yet
    # on the heap: the MUL handler allocates an Array result; memory.py's
    # checked_binary charges the size first.
    ta = type(a)
    if (ta is str or ta is Array) and type(b) is int:
        if b < 0:
            raise RtError("ValueError", f"repeat count must not be negative, got {b}")
        return a * b if ta is str else Array(a.items * b)  # (packing is the VM's choice: memory.checked_binary)
    if ta is PackedArray and type(b) is int:  # (what repeat would make of its values: packed, of its kind)
        if b < 0:
            raise RtError("ValueError", f"repeat count must not be negative, got {b}")
        return PackedArray(a.packed * b)
    raise bad_operands("*", a, b)


def div(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        if b == 0:
            raise RtError("ZeroDivisionError", "division by zero")
        q = abs(a) // abs(b)
        return _checked(-q if (a < 0) != (b < 0) else q)
    if _num(a) and _num(b):
        a, b = float(a), float(b)
        if b == 0.0:
            # IEEE 754: x / 0.0 is +-inf (nan for 0/0), never an error.
            if a == 0.0 or a != a:
                return math.nan
            return math.copysign(math.inf, a) * math.copysign(1.0, b)
        return a / b
    raise bad_operands("/", a, b)


def mod(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        if b == 0:
            raise RtError("ZeroDivisionError", "division by zero")
        if a == INT_MIN and b == -1:
            raise overflow()  # the quotient overflows; the spec makes % fail with it
        r = abs(a) % abs(b)
        return -r if a < 0 else r
    if _num(a) and _num(b):
        a, b = float(a), float(b)
        if b == 0.0 or math.isinf(a):
            return float("nan")  # IEEE fmod: no error (math.fmod raises here)
        return math.fmod(a, b)
    raise bad_operands("%", a, b)


def _ints(op: str, a: Any, b: Any) -> None:
    if type(a) is not int or type(b) is not int:
        raise bad_operands(op, a, b)


def band(a: Any, b: Any) -> int:
    _ints("&", a, b)
    return a & b


def bor(a: Any, b: Any) -> int:
    _ints("|", a, b)
    return a | b


def bxor(a: Any, b: Any) -> int:
    _ints("^", a, b)
    return a ^ b


def shl(a: Any, b: Any) -> int:
    _ints("<<", a, b)
    if not 0 <= b <= 63:
        raise RtError("ValueError", f"shift count {b} out of range 0..63")
    return _checked(a << b)


def shr(a: Any, b: Any) -> int:
    _ints(">>", a, b)
    if not 0 <= b <= 63:
        raise RtError("ValueError", f"shift count {b} out of range 0..63")
    return a >> b


def eq(a: Any, b: Any) -> bool:
    return equals(a, b)


def ne(a: Any, b: Any) -> bool:
    return not equals(a, b)


def lt(a: Any, b: Any) -> bool:
    return compare("<", a, b)


def le(a: Any, b: Any) -> bool:
    return compare("<=", a, b)


def gt(a: Any, b: Any) -> bool:
    return compare(">", a, b)


def ge(a: Any, b: Any) -> bool:
    return compare(">=", a, b)


def is_(a: Any, b: Any) -> bool:
    if type(b) is not Class:
        raise RtError("TypeError", f"right operand of 'is' must be a class, got {typeof(b)}")
    if b.interface:  # TinyLang 1.1: `v is Shape`, `v is Comparable`
        return implements(a, b.name)
    return isinstance(a, Instance) and a.cls.is_subclass_of(b)  # (either layout: heap/layout.py)


# The built-in interface the scalars implement (spec 13, Comparable).
_COMPARABLE_SCALARS = (int, float, str)


def implements(v: Any, name: str) -> bool:
    """Does v implement the interface called name? An instance when its class
    (or an ancestor) declared it; an int, float or string for Comparable."""
    if isinstance(v, Instance):
        return name in v.cls.interfaces
    return name == "Comparable" and type(v) in _COMPARABLE_SCALARS


def neg(a: Any) -> Any:
    if type(a) is int:
        return _checked(-a)
    if type(a) is float:
        return -a
    raise RtError("TypeError", f"unsupported operand type for -: {typeof(a)}")


def bnot(a: Any) -> int:
    if type(a) is int:
        return ~a
    raise RtError("TypeError", f"unsupported operand type for ~: {typeof(a)}")


def not_(a: Any) -> bool:
    if a is True:
        return False
    if a is False:
        return True
    raise RtError("TypeError", f"condition must be bool, got {typeof(a)}")


def make_range(a: Any, b: Any, inclusive: bool) -> Range:
    if type(a) is not int or type(b) is not int:
        raise bad_operands("..=" if inclusive else "..", a, b)
    return Range(a, b + 1 if inclusive else b, inclusive)


BINARY: dict[int, Callable[[Any, Any], Any]] = {
    O.ADD: add, O.SUB: sub, O.MUL: mul, O.DIV: div, O.MOD: mod,
    O.BAND: band, O.BOR: bor, O.BXOR: bxor, O.SHL: shl, O.SHR: shr,
    O.EQ: eq, O.NE: ne, O.LT: lt, O.LE: le, O.GT: gt, O.GE: ge, O.IS: is_,
}  # fmt: skip
