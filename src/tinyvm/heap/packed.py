"""Packed arrays: an Array of one scalar kind stored unboxed ("elements kinds").

An `Array` holds a Python list of boxed values. A `PackedArray` is an Array
whose elements are all ints, all floats or all bools, stored in an
`array.array` ('q': int64, 'd': IEEE double, 'b': a bool as 0 or 1) that
native code reads and writes in place: an element is 8 (or 1) bytes at
`ob_item + i * itemsize`, no object, no reference count, no unboxing.

The representation is invisible to the guest and to the tiers:

- **The same object.** `PackedArray` is a subclass of `Array` with the same
  layout (no slot of its own); its buffer sits in the `items` slot. Any code
  that reads `.items` -- every builtin, method, printer, converter written
  for lists -- gets a list: the `items` property *unpacks* the array (the
  buffer becomes a list of boxed values, the object's class becomes
  `Array`, for good), then returns it. So code that knows nothing of packed
  arrays stays correct; code that knows reads `packed` (the buffer) or calls
  `get`/`set`, which keep the array packed while the values fit.
- **Made only from contents, by VMs that run native code.** `repeat(items,
  n)` (`xs * n`, `Array(n, fill)`) packs when every element of `items` is of
  one scalar kind -- ints or bools (`PACKED`: not floats, below) -- and the
  VM's heap says so (`Heap.packs`: set when the
  native tier attaches and its layout probe accepts packed buffers,
  jit/tier.py). The other modes keep lists: CPython reads and writes an
  `array.array` element about 2x slower than a list's (it boxes on every
  read), so the interpreter and the Python JIT were 7-20% slower on AWFY
  Sieve, Permute and Queens with packed arrays, and only machine code gains
  from them (docs/memory.md, "Packed arrays"). Every tier of a native VM
  handles both representations (an uncompiled function, a deopt), and
  what a program prints, its errors, fuel and accounting are the same
  either way. Array literals, `[]`, `push`-built arrays and builtins'
  results are lists. A store of a value of another kind (an int into a `[float]`'s
  buffer, a string anywhere) unpacks first, as V8 moves an array to a more
  general elements kind; nothing packs an array again.
- **The same accounting.** `size()` and the bytes the collector adds for
  the elements (`child_bytes`) are what the unpacked list would be charged
  (heap/objects.py's sizes, `INT_BYTES` per int outside CPython's small-int
  cache, `FLOAT_BYTES` per float), so memory limits, collections and GC
  statistics do not depend on which representation an array has.

Bools are stored as 0/1 and read back through `_BOOLS` (a guest `true` is
never confused with `1`). Floats keep their bits (`-0.0`, nan, inf). Ints
are int64 by the language (`INT_MIN..INT_MAX`); a host int outside that
range cannot be packed and `repeat` leaves such an array a list.
"""

from __future__ import annotations

from array import array
from typing import Any

from .objects import _POISON, ARRAY_BASE, FLOAT_BYTES, INT_BYTES, INT_MAX, INT_MIN, SLOT, Array

_BOOLS = (False, True)

# The `items` slot's own descriptor: reads and writes the slot whatever the
# object's class (a PackedArray's `items` is a property that unpacks).
_SLOT = Array.__dict__["items"]


def kind_of(items: list) -> str | None:
    """The typecode packing `items` would use: 'b' (all bools), 'q' (all
    ints in int64, no bool), 'd' (all floats), or None (empty, mixed, or
    anything else)."""
    if not items:
        return None
    t = type(items[0])
    if t is bool:
        code = "b"
    elif t is int:
        code = "q"
    elif t is float:
        code = "d"
    else:
        return None
    for x in items:
        if type(x) is not t:
            return None
    if code == "q" and not all(INT_MIN <= x <= INT_MAX for x in items):
        return None
    return code


class PackedArray(Array):
    """An Array whose elements live unboxed in an `array.array` (the module
    docstring). Made by `repeat` or `PackedArray(buffer)`; a typecode other
    than 'q', 'd' or 'b' is a VM bug."""

    __slots__ = ()

    def __init__(self, buffer: array) -> None:  # (not Array.__init__: the slot takes the buffer)
        _SLOT.__set__(self, buffer)

    # The buffer itself, for code that knows packed arrays (the slot's
    # descriptor under another name: no unpacking).
    packed = _SLOT

    @property  # type: ignore[override]
    def items(self) -> list:
        """The elements as a list, for code written for lists: unpacks the
        array for good (its class becomes `Array`)."""
        return self.unpack()

    @items.setter
    def items(self, value: list) -> None:
        self.__class__ = Array
        _SLOT.__set__(self, value)

    def unpack(self) -> list:
        buf = _SLOT.__get__(self, PackedArray)
        lst = [x == 1 for x in buf] if buf.typecode == "b" else buf.tolist()
        self.__class__ = Array
        _SLOT.__set__(self, lst)
        return lst

    def values(self) -> list:
        """A list of the elements, leaving the array packed (printers,
        snapshots, converters that only read)."""
        buf = _SLOT.__get__(self, PackedArray)
        return [x == 1 for x in buf] if buf.typecode == "b" else buf.tolist()

    def length(self) -> int:
        """The element count (not __len__: an empty array must stay truthy,
        as every heap object is)."""
        return len(_SLOT.__get__(self, PackedArray))

    def get(self, i: int) -> Any:
        """Element i (0 <= i < len: the caller checked the bounds)."""
        buf = _SLOT.__get__(self, PackedArray)
        v = buf[i]
        return _BOOLS[v] if buf.typecode == "b" else v

    def set(self, i: int, value: Any) -> None:
        """Element i = value (the caller checked the bounds): in the buffer
        when value has the array's kind, else the array unpacks first."""
        buf = _SLOT.__get__(self, PackedArray)
        code = buf.typecode
        t = type(value)
        if (t is int and code == "q" and INT_MIN <= value <= INT_MAX) or (t is float and code == "d") or (t is bool and code == "b"):
            buf[i] = value
        else:
            self.unpack()[i] = value

    def refs(self) -> tuple:
        return ()  # (scalars only: nothing for the collector to follow)

    def size(self) -> int:
        n = len(_SLOT.__get__(self, PackedArray))
        return ARRAY_BASE + SLOT * n + (n >> 3)  # (Array.size's formula: the list it stands for)

    def child_bytes(self) -> int:
        """What the collector adds for the elements of the list this array
        stands for (Heap.trace: an int outside -5..256 or a float is an
        object of its own there)."""
        buf = _SLOT.__get__(self, PackedArray)
        code = buf.typecode
        if code == "b":
            return 0
        if code == "d":
            return FLOAT_BYTES * len(buf)
        return INT_BYTES * sum(1 for x in buf if not -5 <= x <= 256)

    def free(self) -> None:
        self.__class__ = Array
        _SLOT.__set__(self, _POISON)


# The kinds a VM with the native tier packs (Heap.packs). Not floats:
# CPython's containers compare an element by identity before `==`, so a list
# holding one nan object n times finds it again (`contains`, `index_of`, a
# set or a map keyed by the elements holds it once:
# tests/lang/13_v1_1/packed_edges/nan_keys.tl), and a buffer cannot keep a
# float's identity (each read makes a new float). Every path handles a 'd'
# buffer (tests pack floats through Heap.packs = "qdb") for the day nan
# keys have a meaning of their own; AWFY's arrays are bools and ints.
PACKED = "qb"


def repeat(items: list, n: int, kinds: str = PACKED) -> Array:
    """`xs * n` / `Array(n, fill)` for `items` (xs's elements, or [fill]):
    packed when they are of one scalar kind (kind_of) among `kinds` (the
    VM's `heap.packs`: "" packs nothing), else a list. Not yet on the heap
    (the caller allocates it)."""
    code = kind_of(items) if kinds else None
    if code is None or code not in kinds:
        return Array(items * n)
    return PackedArray(array(code, items) * n)

