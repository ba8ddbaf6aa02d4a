"""Static types of the 1.1 built-ins whose result depends on their arguments
(`sum sorted reversed any_of all_of range eprint`, runtime/library.py): a part
of the checker's call rules (members.py `call_builtin` sends them here).

* `sum(xs)`: int for `[int]` or a range, float for `[float]`, else `any`.
* `sorted(xs, key?)` and `reversed(xs)`: `[T]` for `[T]`, `[int]` for a range.
* `any_of(xs, f)` / `all_of(xs, f)`: bool; f is checked as `fn(T) -> bool`.
* `range(a, b, step?)`: a range, as `a..b` (heap/objects.py Range has a step).
* `eprint(...)`: nil, any arguments, as `print`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import ast as A
from .resolver import plural
from .types import ANY, BOOL, FLOAT, INT, NIL, RANGE, ArrayT, FnT, Type

if TYPE_CHECKING:  # pragma: no cover
    from .checker import Checker

_COUNTS = {"sum": (1, 1), "sorted": (1, 2), "reversed": (1, 1), "any_of": (2, 2), "all_of": (2, 2), "range": (2, 3)}


def _elem(t: Type) -> Type:
    if isinstance(t, ArrayT):
        return t.elem
    return INT if t is RANGE else ANY


def check_library_call(c: Checker, e: A.Call, name: str) -> Type:
    n = len(e.args)
    if name == "eprint":
        for a in e.args:
            c.expr(a)
        return NIL
    least, most = _COUNTS[name]
    if not least <= n <= most:
        count = plural(most, "argument") if least == most else f"{least} or {most} arguments"
        c.error(e, f"{name} expects {count}, got {n}")
        return c.loose_args(e)
    if name == "range":
        c.args(e, (INT,) * n, (), name)
        return RANGE
    xt = c.expr(e.args[0])
    if xt is not ANY and xt is not RANGE and not isinstance(xt, ArrayT):
        c.error(e.args[0], f"argument 1 of {name}: expected an array or range, got {xt}")
        xt = ANY
    elem = _elem(xt)
    if name == "sum":
        return elem if elem in (INT, FLOAT) else ANY
    if n == 2:
        want = FnT((elem,), ANY if name == "sorted" else BOOL)
        ft = c.expr(e.args[1], want)
        c.flow(e.args[1], ft, want, f"argument 2 of {name}", runtime=False)
    if name in ("any_of", "all_of"):
        return BOOL
    return ArrayT(elem) if xt is not ANY else ANY
