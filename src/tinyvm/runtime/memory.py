"""Memory accounting for the runtime library: what built-ins and operators
charge to the heap (heap/heap.py) for memory they make outside `alloc`.

Guest strings and numbers are plain Python values, not heap objects; an
array push or a new map key grows an object after its allocation. So the
operations that make them charge their accounted size (heap/objects.py's
constants) *before* building the result where it is known (`s + t`, `join`,
a file's size), or just after where it is not: over the limit the heap raises
the guest's MemoryError at that instruction, before a runaway program can
make the host allocate gigabytes. A collection recounts everything reachable,
so these charges only have to be right until the next one. docs/memory.md
describes the model.
"""

from __future__ import annotations

from typing import Any, Callable

from ..bytecode import opcodes as O
from ..heap.objects import (
    CONTAINER,
    ENTRY,
    FLOAT_BYTES,
    HEADER,
    INT_BYTES,
    SLOT,
    STR_HEADER,
    Array,
    str_bytes,
)
from ..heap.packed import PackedArray, repeat

ELEMENT = SLOT + 1  # an array element: its slot and the list's 1/8 spare room (Array.size)


# Strings shorter than this are charged when stored into a container, not
# when made: a short string that is only garbage costs nothing to account
# (CPython frees it at once, and no collection is needed for it), which keeps
# string-building loops as fast as before. Longer ones are charged (and
# checked against the limit) when made, before they are built where possible.
SMALL_STR = 256


def value_bytes(v: Any, heap: Any) -> int:
    """What a container slot holding v adds beyond the slot: a boxed number,
    or a short string. (Longer strings are charged where they are made,
    objects when allocated.) A short string stored again right after it was
    charged (`ch.send("msg")` in a loop, `xs.push(sep)`) is the same string:
    charged once (`heap.last_str`). Without that, a channel filled with one
    constant string was charged 13 times its growth, and its collections,
    each finding little of it live, came ever more often."""
    t = type(v)
    if t is int:
        return 0 if -5 <= v <= 256 else INT_BYTES
    if t is float:
        return FLOAT_BYTES
    if t is str and len(v) < SMALL_STR:
        if v is heap.last_str:
            return 0
        heap.last_str = v
        return str_bytes(v)
    return 0


def concat_bytes(a: str, b: str) -> int:
    """The accounted size of a + b (heap.objects.str_bytes of the result)."""
    n = len(a) + len(b)
    return STR_HEADER + (n if a.isascii() and b.isascii() else 4 * n)


def array_bytes(n: int) -> int:
    """The accounted size of an Array of n elements (Array.size)."""
    return HEADER + CONTAINER + SLOT * n + (n >> 3)


def _length(a: Array) -> int:
    # (an array of either representation, heap/packed.py: not unpacked)
    return a.length() if type(a) is PackedArray else len(a.items)


def element_charge(v: Any, heap: Any) -> int:
    """A push or insert of v."""
    t = type(v)
    if t is int:  # (inline: the common case of the hot path of push)
        return ELEMENT if -5 <= v <= 256 else ELEMENT + INT_BYTES
    return ELEMENT + value_bytes(v, heap)


def entry_charge(v: Any, heap: Any) -> int:
    """A new map entry holding v (its key is charged where it was made)."""
    return ENTRY + value_bytes(v, heap)


def checked_binary(heap: Any, binary: dict[int, Callable[[Any, Any], Any]], fuel: Callable[[int], None] | None = None, per_unit: int = 0) -> dict[int, Callable[[Any, Any], Any]]:
    """A language's binary slow paths with `+` charging its result first: a
    string or array concatenation is refused before it is built. With `fuel`
    (a metered VM's `Limits.charge_items`), `+` also pays fuel for the items
    it joins (docs/limits.md), here in the slow path itself: an extra
    wrapper's call would cost every string `+` more than the charge."""
    add = binary[O.ADD]
    charge = heap.charge
    reserve = heap.reserve
    if fuel is None:  # (short strings: one test, as without fuel)
        per_unit = SMALL_STR

    def add_checked(a: Any, b: Any) -> Any:
        ta = type(a)
        if ta is str and type(b) is str:
            n = len(a) + len(b)
            if n >= per_unit:
                if fuel is not None:
                    fuel(n)
                if n >= SMALL_STR:
                    charge(concat_bytes(a, b))
            return a + b
        if (ta is Array or ta is PackedArray) and (type(b) is Array or type(b) is PackedArray):
            n = _length(a) + _length(b)
            if fuel is not None:
                fuel(n)
            reserve(array_bytes(n))  # (alloc accounts it)
        return add(a, b)

    mul = binary[O.MUL]

    def mul_checked(a: Any, b: Any) -> Any:
        # tlexpr: `s * n` / `xs * n` is refused before it is built, as `+` is.
        ta = type(a)
        if (ta is str or ta is Array or ta is PackedArray) and type(b) is int and b > 0:
            n = (len(a) if ta is str else _length(a)) * b
            if fuel is not None and n >= per_unit:
                fuel(n)
            if ta is not str:
                reserve(array_bytes(n))
            elif n >= SMALL_STR:
                charge(STR_HEADER + (n if a.isascii() else 4 * n))
        if ta is Array and heap.packs and type(b) is int and b >= 0:
            return repeat(a.items, b, heap.packs)  # (a VM that runs native code packs one-kind scalars: heap/packed.py)
        return mul(a, b)

    out = dict(binary)
    out[O.ADD] = add_checked
    out[O.MUL] = mul_checked
    return out


def charge_long(heap: Any) -> Callable[[str], str]:
    """heap.charge_str for strings of SMALL_STR characters or more."""
    charge_str = heap.charge_str

    def charged(s: str) -> str:
        if len(s) >= SMALL_STR:
            charge_str(s)
        return s

    return charged


def join_checked(heap: Any, join: Callable[[str, list], str]) -> Callable[[str, list], str]:
    """`join` charging its result; refused first when the parts alone are
    known to exceed the limit (the separators' share is bounded by them)."""

    def joined(sep: str, items: list) -> str:
        n = len(items)
        if n > 1 and sep:
            heap.reserve(STR_HEADER + len(sep) * (n - 1))
        s = join(sep, items)
        if len(s) >= SMALL_STR:
            heap.charge_str(s)
        return s

    return joined
