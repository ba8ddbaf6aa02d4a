"""The built-in interface `Comparable` of TinyLang 1.1 (spec section 13).

`Comparable` declares `fn compare(other: Self) -> int` (negative, zero or
positive as the receiver is less than, equal to or greater than `other`),
and int, float and string implement it, so generic code bounded by it
(`fn max_by<T: Comparable>(xs: [T]) -> T?`) works over the scalars as over
classes that declare `implements Comparable`. This module gives the VM the
global `Comparable` (an interface: a class value with `interface` set, used
by `v is Comparable`) and the `compare` methods of the scalars.

Numbers compare by value across int and float (as `<` does); a string
compares with a string by code point. Anything else is a `TypeError`, with
the message `<` gives (runtime/values.py `compare`).
"""

from __future__ import annotations

from typing import Any

from ..heap.objects import Class
from .errors import RtError
from .values import compare, typeof


def _compare(name: str):
    kinds = (str,) if name == "string" else (int, float)  # (bool is not an int here: type() is exact)

    def method(recv: Any, *args: Any) -> int:
        if len(args) != 1:
            raise RtError("TypeError", f"{name}.compare expects 1 argument, got {len(args)}")
        other = args[0]
        if type(other) not in kinds:
            raise RtError("TypeError", f"{name}.compare: cannot compare {name} with {typeof(other)}")
        if compare("<", recv, other):
            return -1
        return 1 if compare(">", recv, other) else 0

    return method


def install_comparable(vm: Any) -> None:
    """Add the global `Comparable` and `int/float/string.compare` to a VM."""
    cls = vm.heap.alloc(Class("Comparable", None, None))
    cls.interface = True
    vm.builtins["Comparable"] = cls
    vm.methods.setdefault("int", {})["compare"] = _compare("int")
    vm.methods.setdefault("float", {})["compare"] = _compare("float")
    vm.methods.setdefault("string", {})["compare"] = _compare("string")
