"""The `math` standard module (spec section 11): constants and float functions.

`make_math_module(vm)` returns the module's exports, name -> value: the float
constants `pi e inf nan` and Natives `sqrt sin cos tan atan2 exp log pow floor
ceil`. Arguments are ints or floats (bools are not numbers); results are floats,
except `floor` and `ceil`, which return ints exactly like the builtins of the
same name.

Float math follows IEEE 754 like the rest of the language (`1 / 0.0` is inf):
these functions never raise for a numeric argument. A result too large for a
float is +-inf (`exp(1000)`, `pow(10, 400)`, `pow(-10, 401)` is -inf); a pole
gives +-inf (`log(0)` is -inf, `pow(0, -1)` is inf, `pow(-0.0, -1)` is -inf);
an argument outside a function's domain gives nan (`sqrt(-1)`, `log(-1)`,
`sin(inf)`, `pow(-8, 1/3)`) -- the C library's answers where Python's math
module raises. Only a non-number argument (TypeError) or a wrong argument
count is an error; `floor`/`ceil` keep the builtins' int conversion errors.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from ..heap.objects import Native
from ..runtime.builtins import arg_count_error, num_ceil, num_floor, num_sqrt
from ..runtime.errors import RtError
from ..runtime.values import typeof

__all__ = ["make_math_module"]


def _float_arg(name: str, x: Any) -> float:
    t = type(x)
    if t is float:
        return x
    if t is int:
        return float(x)
    raise RtError("TypeError", f"math.{name} expects a number, got {typeof(x)}")


def _nan(x: float) -> float:
    return math.nan


def _log_domain(x: float) -> float:
    # Python raises for x <= 0: log(+-0) is the pole -inf, log(negative) is nan.
    return -math.inf if x == 0.0 else math.nan


def _unary_float(
    name: str,
    fn: Callable[[float], float],
    domain: Callable[[float], float] = _nan,
    overflow: float = math.inf,
) -> Callable[..., float]:
    """A one-argument float function; `domain(x)` is the IEEE result where
    Python raises ValueError, `overflow` where it raises OverflowError."""

    def call(*args: Any) -> float:
        if len(args) != 1:
            raise arg_count_error("math." + name, 1, len(args))
        x = _float_arg(name, args[0])
        try:
            return fn(x)
        except ValueError:
            return domain(x)
        except OverflowError:
            return overflow

    return call


def _atan2(*args: Any) -> float:
    if len(args) != 2:
        raise arg_count_error("math.atan2", 2, len(args))
    return math.atan2(_float_arg("atan2", args[0]), _float_arg("atan2", args[1]))


def _pow(*args: Any) -> float:
    if len(args) != 2:
        raise arg_count_error("math.pow", 2, len(args))
    x = _float_arg("pow", args[0])
    y = _float_arg("pow", args[1])
    try:
        return math.pow(x, y)
    except ValueError:
        # Python raises for 0 ** negative (a pole: +-inf, the sign of the base
        # for an odd integer exponent) and for a negative finite base with a
        # non-integer exponent (nan), as C's pow returns.
        if x == 0.0:
            if y.is_integer() and int(y) % 2 == 1:
                return math.copysign(math.inf, x)
            return math.inf
        return math.nan
    except OverflowError:
        # The magnitude overflowed; the sign is negative only for a negative
        # base raised to an odd integer power.
        if x < 0.0 and y.is_integer() and int(y) % 2 == 1:
            return -math.inf
        return math.inf


def _qualified(name: str, fn: Callable[[str, Any], int]) -> Callable[..., int]:
    qual = "math." + name

    def call(*args: Any) -> int:
        if len(args) != 1:
            raise arg_count_error(qual, 1, len(args))
        return fn(qual, args[0])

    return call


def make_math_module(vm: Any) -> dict[str, Any]:
    """The exports of `import math`, functions allocated on vm.heap."""
    alloc = vm.heap.alloc
    fns: list[tuple[str, Callable[..., Any], int]] = [
        ("sqrt", _qualified("sqrt", num_sqrt), 1),
        ("sin", _unary_float("sin", math.sin), 1),
        ("cos", _unary_float("cos", math.cos), 1),
        ("tan", _unary_float("tan", math.tan), 1),
        ("atan2", _atan2, 2),
        ("exp", _unary_float("exp", math.exp), 1),
        ("log", _unary_float("log", math.log, domain=_log_domain), 1),
        ("pow", _pow, 2),
        ("floor", _qualified("floor", num_floor), 1),
        ("ceil", _qualified("ceil", num_ceil), 1),
    ]
    exports: dict[str, Any] = {
        "pi": math.pi,
        "e": math.e,
        "inf": math.inf,
        "nan": math.nan,
    }
    for name, fn, arity in fns:
        exports[name] = alloc(Native(name, fn, arity))
    return exports
