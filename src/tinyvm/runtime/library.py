"""The TinyLang 1.1 library additions (spec section 13, "Strings", "Built-ins and
methods", "Details of the library"): new string, array and map methods and the
new global built-ins, as natives.

`more_methods(vm)` returns {"array": {...}, "string": {...}, "map": {...}} that
runtime/methods.py merges into its tables (so fuel is charged the same way);
`install(vm)` adds the built-ins to vm.builtins, as runtime/weakrefs.py does.

Built-ins and methods that call guest functions (`sorted(xs, key)`, `any_of`,
`all_of`, `xs.sort_by(cmp)`, `xs.find(f)`) are written in TinyLang in
runtime/prelude.tl: a guest call never recurses in Python. The methods are
routed by PRELUDE_METHODS (runtime/methods.py); the built-ins raise
`NeedsGuest` before doing anything, and the VM redoes the call with the
prelude function named in GUEST_FALLBACKS (runtime/builtins.py).

Decisions (the spec is silent):
* `pad_left(w, fill)` / `pad_right`: fill is one character (else ValueError);
  a string already w characters or longer is returned unchanged.
* `repeat(n)` and `count(s)`: n < 0 is a ValueError; `count("")` is a
  ValueError "empty substring" (there is no useful answer); matches do not
  overlap.
* `is_digit()` is ASCII 0-9 only; `is_alpha()` and `is_space()` are Unicode
  letters / white space; all three are false on the empty string.
* `to_int()` / `to_float()` accept what `int(s)` / `float(s)` accept and return
  nil for anything else, an int beyond 64 bits included.
* `bytes_len()` counts UTF-8 bytes (a lone surrogate counts 3).
* `ord(s)` needs a one-character string; `chr(n)` 0..0x10FFFF (ValueError).
* `sum(xs)`: an array or range of numbers; ints add as checked ints
  (OverflowError), a float anywhere gives a float; `sum([])` is 0.
* `reversed(xs)` / `sorted(xs)`: an array or a range; always a new array.
* `range(a, b)` is the range `a..b`; `range(a, b, step)` with step 1 too;
  any other step gives an array of the ints (the VM's ranges have no step):
  iterable and `len`-able as the spec asks. step 0 is a ValueError.
* `eprint(...)` formats as `print` does and writes to the host's stderr.
* `xs.extend(ys)` appends an array's elements (ys may be xs itself);
  `xs.count(v)` counts elements `==` v; `xs.min()` / `xs.max()` as `min(xs)`.
* `m.set_default(k, v)`: m[k] when present, else stores v and returns it.
  `m.merge(other)` copies other's entries into m (in place, returns nil).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from ..heap.objects import INT_MAX, INT_MIN, Array, Map, Native, Range, str_size_bound
from ..heap.packed import PackedArray
from .builtins import _extreme, _parse_float, _parse_int, arg_count_error
from .errors import STREAM_ERRORS, HostIOError, RtError
from .memory import array_bytes, charge_long, element_charge, entry_charge
from .values import NeedsGuest, array_elements, check_key, equals, is_array, to_str, typeof

__all__ = ["BUILTIN_NAMES", "install", "more_methods"]

# The built-ins install() adds (the checker's signatures list the same names).
BUILTIN_NAMES = ("sum", "sorted", "reversed", "any_of", "all_of", "range", "eprint", "ord", "chr")


def _argc(name: str, want: int | str, got: int) -> RtError:
    noun = "argument" if want == 1 else "arguments"
    return RtError("TypeError", f"{name} expects {want} {noun}, got {got}")


def _int_arg(name: str, v: Any) -> int:
    if type(v) is not int:
        raise RtError("TypeError", f"{name} expects an int, got {typeof(v)}")
    return v


def _str_arg(name: str, v: Any) -> str:
    if type(v) is not str:
        raise RtError("TypeError", f"{name} expects a string, got {typeof(v)}")
    return v


def _no_args(name: str, args: tuple) -> None:
    if args:
        raise _argc(name, 0, len(args))


def _values(name: str, xs: Any) -> list | range:
    """The elements of an array or range argument (read-only: a packed
    array's are a copy, and it stays packed)."""
    t = type(xs)
    if t is Array:
        return xs.items
    if t is PackedArray:
        return xs.values()
    if t is Range:
        return xs.values()
    raise RtError("TypeError", f"{name} expects an array or range, got {typeof(xs)}")


# --------------------------------------------------------------------------- strings


def string_count(s: str, *args: Any) -> int:
    if len(args) != 1:
        raise _argc("string.count", 1, len(args))
    sub = _str_arg("string.count", args[0])
    if not sub:
        raise RtError("ValueError", "empty substring")
    return s.count(sub)


def string_index_of(s: str, *args: Any) -> int:
    if len(args) != 1:
        raise _argc("string.index_of", 1, len(args))
    return s.find(_str_arg("string.index_of", args[0]))


def string_is_digit(s: str, *args: Any) -> bool:
    _no_args("string.is_digit", args)
    return bool(s) and s.isascii() and s.isdigit()


def string_is_alpha(s: str, *args: Any) -> bool:
    _no_args("string.is_alpha", args)
    return s.isalpha()


def string_is_space(s: str, *args: Any) -> bool:
    _no_args("string.is_space", args)
    return s.isspace()


def string_to_int(s: str, *args: Any) -> int | None:
    _no_args("string.to_int", args)
    i = _parse_int(s)
    return i if i is not None and INT_MIN <= i <= INT_MAX else None


def string_to_float(s: str, *args: Any) -> float | None:
    _no_args("string.to_float", args)
    return _parse_float(s)


def string_bytes_len(s: str, *args: Any) -> int:
    _no_args("string.bytes_len", args)
    return len(s.encode("utf-8", "surrogatepass"))


# --------------------------------------------------------------------------- arrays and maps


def array_count(arr: Array, *args: Any) -> int:
    if len(args) != 1:
        raise _argc("array.count", 1, len(args))
    v = args[0]
    return sum(1 for x in array_elements(arr) if equals(x, v))


def array_min(arr: Array, *args: Any) -> Any:
    _no_args("array.min", args)
    return _extreme("array.min", (arr,), False)


def array_max(arr: Array, *args: Any) -> Any:
    _no_args("array.max", args)
    return _extreme("array.max", (arr,), True)


def more_methods(vm: Any) -> dict[str, dict[str, Callable[..., Any]]]:
    heap = vm.heap
    charge_str = charge_long(heap)

    def string_repeat(s: str, *args: Any) -> str:
        if len(args) != 1:
            raise _argc("string.repeat", 1, len(args))
        n = _int_arg("string.repeat", args[0])
        if n < 0:
            raise RtError("ValueError", f"string.repeat count must not be negative, got {n}")
        heap.reserve(str_size_bound(len(s) * n))  # (refused before it is built)
        return charge_str(s * n)

    def pad(name: str, left: bool) -> Callable[..., str]:
        def method(s: str, *args: Any) -> str:
            if len(args) not in (1, 2):
                raise _argc(name, "1 or 2", len(args))
            w = _int_arg(name, args[0])
            fill = _str_arg(name, args[1]) if len(args) == 2 else " "
            if len(fill) != 1:
                raise RtError("ValueError", f"{name} fill must be one character, got {len(fill)}")
            if len(s) >= w:
                return s
            heap.reserve(str_size_bound(w))
            return charge_str(s.rjust(w, fill) if left else s.ljust(w, fill))

        return method

    def array_extend(arr: Array, *args: Any) -> None:
        if len(args) != 1:
            raise _argc("array.extend", 1, len(args))
        ys = args[0]
        if not is_array(ys):
            raise RtError("TypeError", f"array.extend expects an array, got {typeof(ys)}")
        new = ys.values() if type(ys) is PackedArray else list(ys.items)  # (a copy: ys may be arr itself; a packed ys stays packed)
        heap.charge(sum(element_charge(v, heap) for v in new))
        if type(arr) is PackedArray and type(ys) is PackedArray and ys.packed.typecode == arr.packed.typecode:
            arr.packed.extend(ys.packed[:])  # (one kind: stays packed; a copy, as ys may be arr)
        else:
            arr.items.extend(new)
        if arr.mark == heap.watch:  # (values stored: the write barrier, docs/gc.md)
            heap.barrier_all(arr)

    def array_clear(arr: Array, *args: Any) -> None:
        _no_args("array.clear", args)
        if type(arr) is PackedArray:
            del arr.packed[:]  # (still packed: a later push of its kind stays in the buffer)
            return
        arr.items.clear()  # (references dropped only: no barrier)

    def map_set_default(m: Map, *args: Any) -> Any:
        if len(args) != 2:
            raise _argc("map.set_default", 2, len(args))
        k, v = args
        key = check_key(k)
        items = m.items
        if key in items:
            return items[key]
        heap.charge(entry_charge(v, heap) + entry_charge(k, heap))
        items[key] = v
        if m.mark == heap.watch:
            heap.barrier(m, v)
            heap.barrier(m, k)
        return v

    def map_merge(m: Map, *args: Any) -> None:
        if len(args) != 1:
            raise _argc("map.merge", 1, len(args))
        other = args[0]
        if type(other) is not Map:
            raise RtError("TypeError", f"map.merge expects a map, got {typeof(other)}")
        items = m.items
        new = [(k, v) for k, v in other.items.items() if k not in items]
        heap.charge(sum(2 * entry_charge(v, heap) for _, v in new))
        items.update(other.items)
        if m.mark == heap.watch:
            heap.barrier_all(m)

    return {
        "array": {
            "extend": array_extend,
            "clear": array_clear,
            "count": array_count,
            "min": array_min,
            "max": array_max,
        },
        "string": {
            "repeat": string_repeat,
            "pad_left": pad("string.pad_left", True),
            "pad_right": pad("string.pad_right", False),
            "count": string_count,
            "index_of": string_index_of,
            "is_digit": string_is_digit,
            "is_alpha": string_is_alpha,
            "is_space": string_is_space,
            "to_int": string_to_int,
            "to_float": string_to_float,
            "bytes_len": string_bytes_len,
        },
        "map": {"set_default": map_set_default, "merge": map_merge},
    }


# --------------------------------------------------------------------------- built-ins


def _sum(*args: Any) -> Any:
    if len(args) != 1:
        raise arg_count_error("sum", 1, len(args))
    xs = args[0]
    if type(xs) is Range:
        vals: Any = xs.values()
    elif type(xs) is PackedArray and xs.packed.typecode == "q":
        # Ints: an exact sum whatever the order, checked once at the end as
        # the loop below is. (Floats keep the loop: the order of the
        # additions is the result's, and builtin sum may compensate.)
        total = sum(xs.packed)
        if not INT_MIN <= total <= INT_MAX:
            raise RtError("OverflowError", "integer overflow")
        return total
    else:
        vals = _values("sum", xs)
    total: Any = 0
    for x in vals:
        t = type(x)
        if t is not int and t is not float:
            raise RtError("TypeError", f"sum expects numbers, got {typeof(x)}")
        total += x
    if type(total) is int and not INT_MIN <= total <= INT_MAX:
        raise RtError("OverflowError", "integer overflow")
    return total


def _ord(*args: Any) -> int:
    if len(args) != 1:
        raise arg_count_error("ord", 1, len(args))
    s = _str_arg("ord", args[0])
    if len(s) != 1:
        raise RtError("ValueError", f"ord expects one character, got a string of length {len(s)}")
    return ord(s)


def _chr(*args: Any) -> str:
    if len(args) != 1:
        raise arg_count_error("chr", 1, len(args))
    n = _int_arg("chr", args[0])
    if not 0 <= n <= 0x10FFFF:
        raise RtError("ValueError", f"chr code point out of range: {n}")
    return chr(n)


def _guest_only(name: str, least: int, most: int, native: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """A built-in that calls guest functions: after the argument count, the
    prelude does the work (NeedsGuest; see the module docstring). `native`
    does the calls that need no guest function (sorted without a key)."""

    def call(*args: Any) -> Any:
        n = len(args)
        if not least <= n <= most:
            raise arg_count_error(name, least if least == most else f"{least} or {most}", n)
        if native is not None and n == least:
            return native(*args)
        _values(name, args[0])  # (the collection's type is checked here, before any guest code runs)
        raise NeedsGuest()

    return call


def install(vm: Any) -> None:
    heap = vm.heap
    alloc = heap.alloc

    def new_array(vals: list) -> Array:
        heap.reserve(array_bytes(len(vals)))
        return alloc(Array(vals))

    def sorted_(xs: Any) -> Array:
        from .methods import sort_array

        out = new_array(list(_values("sorted", xs)))
        sort_array(out)
        return out

    def reversed_(*args: Any) -> Array:
        if len(args) != 1:
            raise arg_count_error("reversed", 1, len(args))
        vals = _values("reversed", args[0])
        return new_array(list(reversed(vals)))

    def range_(*args: Any) -> Any:
        n = len(args)
        if n not in (2, 3):
            raise arg_count_error("range", "2 or 3", n)
        a = _int_arg("range", args[0])
        b = _int_arg("range", args[1])
        step = _int_arg("range", args[2]) if n == 3 else 1
        if step == 0:
            raise RtError("ValueError", "range step must not be 0")
        return alloc(Range(a, b, False, step))  # (as `a..b` when step is 1)

    def eprint_(*args: Any) -> None:
        line = " ".join([a if type(a) is str else to_str(a) for a in args]) + "\n"
        err = getattr(vm, "stderr", None) or sys.stderr
        try:
            err.write(line)
        except STREAM_ERRORS as e:
            raise HostIOError("stderr", "write to", e) from e

    table: list[tuple[str, Callable[..., Any], int]] = [
        ("sum", _sum, 1),
        ("sorted", _guest_only("sorted", 1, 2, sorted_), -1),
        ("reversed", reversed_, 1),
        ("any_of", _guest_only("any_of", 2, 2), 2),
        ("all_of", _guest_only("all_of", 2, 2), 2),
        ("range", range_, -1),
        ("eprint", eprint_, -1),
        ("ord", _ord, 1),
        ("chr", _chr, 1),
    ]
    for name, fn, arity in table:
        vm.builtins[name] = alloc(Native(name, fn, arity))
