"""Built-in methods of arrays, strings and maps (spec section 11).

`make_methods(vm)` returns {"array": {...}, "string": {...}, "map": {...}}: each
maps a method name to a Python callable `(receiver, *args) -> value`, where the
receiver is the `Array`/`Map` object or the Python `str`. Every callable checks
its own argument count and types and raises TypeError ("array.insert expects 2
arguments, got 1", "string.find expects a string, got int").

Methods that call guest functions (`map filter reduce` and `sort(key)`) are not
here: they are written in TinyLang in runtime/prelude.tl, and PRELUDE_METHODS tells
the VM which prelude function implements each (receiver passed first). `sort`
is both: `sort()` is the native below, `sort(key)` is the prelude's
`array_sort_key`, which computes the keys and calls `sort_by_keys` (exposed as
the native `__sort_by_keys`).

`array.join` and `string.join` convert elements with `to_str`, which can raise
`NeedsGuest`; GUEST_FALLBACKS names the prelude function to call instead.

Write barriers (docs/gc.md, "Write barriers"): `push` stores a value into an
existing array and is followed by `heap.barrier(arr, v)`. `insert`, `remove`,
`sort` and `reverse` (and `sort_by_keys`, in runtime/builtins.py) move values
inside the array: `heap.barrier_all(arr)`, since an incremental mark scans a
large array in chunks and a value moved below its scan position would be
missed. `pop` and map `remove` only drop references: none. The methods that
build a new array fill it before anything else runs: none.

Decisions (the spec is silent):
* `slice(a, b)` (arrays and strings) clamps both bounds to [0, len], so
  negative bounds act as 0 (there is no counting from the end, as there are no
  negative indices); b < a gives an empty result; `slice(a)` runs to the end.
* `split()` with no argument splits on runs of whitespace; `split("")` is a
  ValueError "empty separator".
* `replace("", b)` inserts b around every character (as Go and Python do).
* `map.get(k)` without a default returns nil. Invalid key types (array...) are
  a TypeError in get/has/remove, as in indexing.
* Sorting: numbers (ints and floats mixed) or strings; any other element
  type, or a mix, is a TypeError "cannot compare string and int" (offending
  element's type first, then the first element's). Arrays of 0 or 1 elements
  sort without checks. The sort is stable.

Packed arrays (heap/packed.py): the reading methods (`len`, `index_of`,
`contains`, `join`, `slice`, the fuel count) read a packed array without
unpacking it; `push` and `pop` of its own kind, `reverse` and the sorts
(ints or floats) work on the buffer; `insert`, `remove`, and a store of
another kind unpack it (`.items`). `slice` of a packed array is packed.
"""

from __future__ import annotations

from typing import Any, Callable

from array import array

from ..heap.objects import INT_MAX, INT_MIN, Array, Map, Tuple, str_size_bound, unmap_key
from ..heap.packed import PackedArray
from .errors import RtError
from .memory import array_bytes, charge_long, element_charge, join_checked
from .values import array_elements, check_key, equals, is_array, repr_value, to_str, typeof

__all__ = ["make_methods", "sort_by_keys", "sort_array", "PRELUDE_METHODS", "GUEST_FALLBACKS"]

# receiver type -> method -> prelude function taking the receiver first.
# "sort" goes to the prelude only when called with one argument (the key).
PRELUDE_METHODS: dict[str, dict[str, str]] = {
    "array": {
        "map": "array_map",
        "filter": "array_filter",
        "reduce": "array_reduce",
        "sort": "array_sort_key",
        # 1.1 (runtime/library.py)
        "sort_by": "array_sort_by",
        "find": "array_find",
    },
}

# receiver type -> method -> prelude function to call (same arguments, receiver
# first) when the native raised NeedsGuest.
GUEST_FALLBACKS: dict[str, dict[str, str]] = {
    "array": {"join": "array_join_guest"},
    "string": {"join": "string_join_guest"},
}


def _argc(name: str, expected: int | str, got: int) -> RtError:
    noun = "argument" if expected == 1 else "arguments"
    return RtError("TypeError", f"{name} expects {expected} {noun}, got {got}")


def _want_int(name: str, what: str, v: Any) -> int:
    if type(v) is not int:
        raise RtError("TypeError", f"{name} expects an int {what}, got {typeof(v)}")
    return v


def _want_str(name: str, v: Any) -> str:
    if type(v) is not str:
        raise RtError("TypeError", f"{name} expects a string, got {typeof(v)}")
    return v


def _slice_bounds(name: str, n: int, args: tuple) -> tuple[int, int]:
    na = len(args)
    if na == 2:
        a, b = args
    elif na == 1:
        a = args[0]
        b = n
    else:
        raise _argc(name, "1 or 2", na)
    _want_int(name, "bound", a)
    _want_int(name, "bound", b)
    a = 0 if a < 0 else (n if a > n else a)
    b = a if b < a else (n if b > n else b)
    return a, b


# ---------------------------------------------------------------------------
# Sorting


_NUMBER_TYPES = frozenset({int, float})
_STRING_TYPES = frozenset({str})


def _check_sortable(vals: list) -> None:
    """TypeError unless vals (2+ elements) are all numbers or all strings."""
    types = set(map(type, vals))
    if types <= _NUMBER_TYPES or types == _STRING_TYPES:
        return
    first = vals[0]
    t0 = type(first)
    if t0 is str:
        ok: tuple = (str,)
    elif t0 is int or t0 is float:
        ok = (int, float)
    else:
        raise RtError("TypeError", f"cannot compare {typeof(vals[1])} and {typeof(first)}")
    for x in vals:
        if type(x) not in ok:
            raise RtError("TypeError", f"cannot compare {typeof(x)} and {typeof(first)}")


def _fits(code: str, v: Any) -> bool:
    """v can be stored in a buffer of typecode `code` (PackedArray.set's test)."""
    t = type(v)
    return (t is int and code == "q" and INT_MIN <= v <= INT_MAX) or (t is float and code == "d") or (t is bool and code == "b")


def sort_array(arr: Array) -> None:
    """`arr.sort()`: in place, stable, numbers or strings."""
    if type(arr) is PackedArray:
        buf = arr.packed
        if buf.typecode != "b":  # (bools: the TypeError below, after unpacking)
            if len(buf) > 1:
                # The same comparisons on the same values as the list's
                # sort: the same order (stable; nan and -0.0 as a list has them).
                buf[:] = array(buf.typecode, sorted(buf))
            return
    items = arr.items
    if len(items) > 1:
        _check_sortable(items)
        # Python compares a big int against a float exactly, not after promotion;
        # that only matters beyond 2**53 and is still a consistent total order.
        items.sort()


def sort_by_keys(arr: Array, keys: Array) -> None:
    """Sort arr in place by the parallel array of keys (stable). Used by the
    prelude's `array_sort_key`, which computed the keys with guest calls."""
    ks = array_elements(keys)
    if type(arr) is PackedArray:
        buf = arr.packed
        if len(ks) != len(buf):
            raise RtError("ValueError", "array changed size during sort")
        if len(buf) < 2:
            return
        _check_sortable(ks)
        buf[:] = array(buf.typecode, [buf[i] for i in sorted(range(len(buf)), key=ks.__getitem__)])
        return
    items = arr.items
    n = len(items)
    if len(ks) != n:
        raise RtError("ValueError", "array changed size during sort")
    if n < 2:
        return
    _check_sortable(ks)
    order = sorted(range(n), key=ks.__getitem__)
    items[:] = [items[i] for i in order]  # (values moved: the caller's barrier_all)


# ---------------------------------------------------------------------------
# Array methods (non-allocating ones at module level)


def array_pop(arr: Array, *args: Any) -> Any:
    if args:
        raise _argc("array.pop", 0, len(args))
    if type(arr) is PackedArray:
        buf = arr.packed
        if not buf:
            raise RtError("IndexError", "pop from empty array")
        v = buf.pop()
        return (v == 1) if buf.typecode == "b" else v
    items = arr.items
    if not items:
        raise RtError("IndexError", "pop from empty array")
    return items.pop()


def _array_insert(arr: Array, *args: Any) -> None:
    if len(args) != 2:
        raise _argc("array.insert", 2, len(args))
    i, v = args
    _want_int("array.insert", "index", i)
    items = arr.items
    if i < 0 or i > len(items):
        raise RtError("IndexError", f"insert index {i} out of range for array of length {len(items)}")
    items.insert(i, v)
    return None


def array_remove(arr: Array, *args: Any) -> Any:
    if len(args) != 1:
        raise _argc("array.remove", 1, len(args))
    i = args[0]
    _want_int("array.remove", "index", i)
    items = arr.items
    if i < 0 or i >= len(items):
        raise RtError("IndexError", f"remove index {i} out of range for array of length {len(items)}")
    return items.pop(i)


def _index_of(items: list, v: Any) -> int:
    tv = type(v)
    if tv is str or v is None:
        # Python's == agrees with the spec's for these (heap objects compare by
        # identity in Python), so the C loop of list.index can do the search.
        try:
            return items.index(v)
        except ValueError:
            return -1
    for i, x in enumerate(items):
        if equals(x, v):
            return i
    return -1


def _packed_index_of(arr: PackedArray, v: Any) -> int:
    buf = arr.packed
    if _fits(buf.typecode, v):
        # A value of the array's own kind: the buffer's C search, whose ==
        # is the spec's here (ints exactly, doubles by IEEE: a nan is never
        # found, as in a list; a bool as 0/1 among 0/1).
        try:
            return buf.index(v)
        except ValueError:
            return -1
    if (type(v) is int or type(v) is float) and buf.typecode != "b":
        return _index_of(arr.values(), v)  # (an int against floats or back: promoted, as `==`)
    return -1  # (another kind: no element can be equal)


def array_index_of(arr: Array, *args: Any) -> int:
    if len(args) != 1:
        raise _argc("array.index_of", 1, len(args))
    if type(arr) is PackedArray:
        return _packed_index_of(arr, args[0])
    return _index_of(arr.items, args[0])


def array_contains(arr: Array, *args: Any) -> bool:
    if len(args) != 1:
        raise _argc("array.contains", 1, len(args))
    if type(arr) is PackedArray:
        return _packed_index_of(arr, args[0]) >= 0
    return _index_of(arr.items, args[0]) >= 0


def array_reverse(arr: Array, *args: Any) -> None:
    if args:
        raise _argc("array.reverse", 0, len(args))
    if type(arr) is PackedArray:
        arr.packed.reverse()
        return None
    arr.items.reverse()
    return None


def array_sort(arr: Array, *args: Any) -> None:
    if args:
        # sort(key) is routed to the prelude (PRELUDE_METHODS) by the VM.
        raise _argc("array.sort", 0, len(args))
    sort_array(arr)
    return None


def _join(sep: str, items: list) -> str:
    return sep.join([x if type(x) is str else to_str(x) for x in items])


def _join_sep(args: tuple) -> str:
    if len(args) != 1:
        raise _argc("array.join", 1, len(args))
    sep = args[0]
    if type(sep) is not str:
        raise RtError("TypeError", f"array.join expects a string separator, got {typeof(sep)}")
    return sep


def array_len(arr: Array, *args: Any) -> int:
    if args:
        raise _argc("array.len", 0, len(args))
    if type(arr) is PackedArray:  # (inline, not array_length: a call more per .len() cost ~20 ns)
        return arr.length()
    return len(arr.items)


# ---------------------------------------------------------------------------
# String methods


def string_len(s: str, *args: Any) -> int:
    if args:
        raise _argc("string.len", 0, len(args))
    return len(s)


def _string_upper(s: str, *args: Any) -> str:
    if args:
        raise _argc("string.upper", 0, len(args))
    return s.upper()


def _string_lower(s: str, *args: Any) -> str:
    if args:
        raise _argc("string.lower", 0, len(args))
    return s.lower()


def string_trim(s: str, *args: Any) -> str:
    if args:
        raise _argc("string.trim", 0, len(args))
    return s.strip()


def _join_list(args: tuple) -> list:
    if len(args) != 1:
        raise _argc("string.join", 1, len(args))
    lst = args[0]
    if not is_array(lst):
        raise RtError("TypeError", f"string.join expects an array, got {typeof(lst)}")
    return array_elements(lst)


def string_contains(s: str, *args: Any) -> bool:
    if len(args) != 1:
        raise _argc("string.contains", 1, len(args))
    return _want_str("string.contains", args[0]) in s


def string_starts_with(s: str, *args: Any) -> bool:
    if len(args) != 1:
        raise _argc("string.starts_with", 1, len(args))
    return s.startswith(_want_str("string.starts_with", args[0]))


def string_ends_with(s: str, *args: Any) -> bool:
    if len(args) != 1:
        raise _argc("string.ends_with", 1, len(args))
    return s.endswith(_want_str("string.ends_with", args[0]))


def string_find(s: str, *args: Any) -> int:
    if len(args) != 1:
        raise _argc("string.find", 1, len(args))
    # Python str indices are code points, as the spec's are.
    return s.find(_want_str("string.find", args[0]))


def _string_replace(s: str, *args: Any) -> str:
    if len(args) != 2:
        raise _argc("string.replace", 2, len(args))
    a, b = args
    return s.replace(_want_str("string.replace", a), _want_str("string.replace", b))


def _string_slice(s: str, *args: Any) -> str:
    a, b = _slice_bounds("string.slice", len(s), args)
    return s[a:b]


# ---------------------------------------------------------------------------
# Map methods


def map_get(m: Map, *args: Any) -> Any:
    n = len(args)
    if n == 2:
        return m.items.get(check_key(args[0]), args[1])
    if n == 1:
        return m.items.get(check_key(args[0]))
    raise _argc("map.get", "1 or 2", n)


def map_has(m: Map, *args: Any) -> bool:
    if len(args) != 1:
        raise _argc("map.has", 1, len(args))
    return check_key(args[0]) in m.items


def map_remove(m: Map, *args: Any) -> Any:
    if len(args) != 1:
        raise _argc("map.remove", 1, len(args))
    k = args[0]
    d = m.items
    key = check_key(k)
    if key not in d:
        raise RtError("KeyError", f"key not found: {repr_value(k)}")
    return d.pop(key)


def map_len(m: Map, *args: Any) -> int:
    if args:
        raise _argc("map.len", 0, len(args))
    return len(m.items)


# ---------------------------------------------------------------------------


def make_methods(vm: Any) -> dict[str, dict[str, Callable[..., Any]]]:
    """The method tables; methods that allocate use vm.heap.alloc, those that
    grow an array or make a string charge vm.heap (runtime/memory.py)."""
    heap = vm.heap
    alloc = heap.alloc
    charge = heap.charge
    charge_str = charge_long(heap)
    join = join_checked(heap, _join)

    def array_push(arr: Array, *args: Any) -> None:
        if len(args) != 1:
            raise _argc("array.push", 1, len(args))
        v = args[0]
        charge(element_charge(v, heap))
        if type(arr) is PackedArray:
            buf = arr.packed
            if _fits(buf.typecode, v):
                buf.append(v)
                if arr.mark == heap.watch:  # (a scalar: kept only for the collectors' bookkeeping to match a list's push)
                    heap.barrier(arr, v)
                return
        arr.items.append(v)
        if arr.mark == heap.watch:  # (the write barrier: docs/gc.md)
            heap.barrier(arr, v)

    def array_insert(arr: Array, *args: Any) -> None:
        if len(args) == 2:
            charge(element_charge(args[1], heap))
        _array_insert(arr, *args)
        if arr.mark == heap.watch:  # (a value stored, and values moved up)
            heap.barrier_all(arr)

    def array_remove_(arr: Array, *args: Any) -> Any:
        v = array_remove(arr, *args)
        if arr.mark == heap.watch:  # (values moved down)
            heap.barrier_all(arr)
        return v

    def array_reverse_(arr: Array, *args: Any) -> None:
        array_reverse(arr, *args)
        if arr.mark == heap.watch:
            heap.barrier_all(arr)

    def array_sort_(arr: Array, *args: Any) -> None:
        array_sort(arr, *args)
        if arr.mark == heap.watch:
            heap.barrier_all(arr)

    def array_join(arr: Array, *args: Any) -> str:
        return join(_join_sep(args), array_elements(arr))

    def string_join(s: str, *args: Any) -> str:
        return join(s, _join_list(args))

    def string_upper(s: str, *args: Any) -> str:
        return charge_str(_string_upper(s, *args))

    def string_lower(s: str, *args: Any) -> str:
        return charge_str(_string_lower(s, *args))

    def string_replace(s: str, *args: Any) -> str:
        if len(args) == 2 and type(args[0]) is str and type(args[1]) is str:
            a, b = args
            if len(b) > len(a):  # the result can grow: its length is known before
                heap.reserve(str_size_bound(len(s) + (s.count(a) if a else len(s) + 1) * (len(b) - len(a))))
        return charge_str(_string_replace(s, *args))

    def string_slice(s: str, *args: Any) -> str:
        return charge_str(_string_slice(s, *args))

    def array_slice(arr: Array, *args: Any) -> Array:
        if type(arr) is PackedArray:  # (a packed slice of the buffer: the source stays packed)
            buf = arr.packed
            a, b = _slice_bounds("array.slice", len(buf), args)
            heap.reserve(array_bytes(max(b - a, 0)))
            return alloc(PackedArray(buf[a:b]))
        items = arr.items
        a, b = _slice_bounds("array.slice", len(items), args)
        heap.reserve(array_bytes(max(b - a, 0)))
        return alloc(Array(items[a:b]))

    def string_split(s: str, *args: Any) -> Array:
        n = len(args)
        heap.reserve(array_bytes(len(s) // 2))  # (the most parts s can split into, without the texts)
        if n == 0:
            return alloc(Array(s.split()))
        if n != 1:
            raise _argc("string.split", "0 or 1", n)
        sep = _want_str("string.split", args[0])
        if not sep:
            raise RtError("ValueError", "empty separator")
        return alloc(Array(s.split(sep)))

    def string_chars(s: str, *args: Any) -> Array:
        if args:
            raise _argc("string.chars", 0, len(args))
        heap.reserve(array_bytes(len(s)))
        return alloc(Array(list(s)))

    def map_keys(m: Map, *args: Any) -> Array:
        if args:
            raise _argc("map.keys", 0, len(args))
        heap.reserve(array_bytes(len(m.items)))
        return alloc(Array([unmap_key(k) for k in m.items]))

    def map_values(m: Map, *args: Any) -> Array:
        if args:
            raise _argc("map.values", 0, len(args))
        heap.reserve(array_bytes(len(m.items)))
        return alloc(Array(list(m.items.values())))

    def map_items(m: Map, *args: Any) -> Array:
        if args:
            raise _argc("map.items", 0, len(args))
        # (1.1) an array of (key, value) tuples.
        heap.reserve(array_bytes(len(m.items)) + len(m.items) * _PAIR_BYTES)
        return alloc(Array([alloc(Tuple((unmap_key(k), v))) for k, v in m.items.items()]))

    tables = {
        "array": {
            "push": array_push,
            "pop": array_pop,
            "insert": array_insert,
            "remove": array_remove_,
            "slice": array_slice,
            "index_of": array_index_of,
            "contains": array_contains,
            "reverse": array_reverse_,
            "sort": array_sort_,
            "join": array_join,
            "len": array_len,
        },
        "string": {
            "len": string_len,
            "upper": string_upper,
            "lower": string_lower,
            "trim": string_trim,
            "split": string_split,
            "join": string_join,
            "contains": string_contains,
            "starts_with": string_starts_with,
            "ends_with": string_ends_with,
            "find": string_find,
            "replace": string_replace,
            "slice": string_slice,
            "chars": string_chars,
        },
        "map": {
            "get": map_get,
            "has": map_has,
            "remove": map_remove,
            "keys": map_keys,
            "values": map_values,
            "items": map_items,
            "len": map_len,
        },
    }
    from .library import more_methods  # the 1.1 additions

    for kind, more in more_methods(vm).items():
        tables[kind].update(more)
    return _charging(vm, tables)


_PAIR_BYTES = Tuple((None, None)).size()  # a (key, value) tuple of map.items()


# Fuel (vm/limits.py, docs/limits.md): the methods whose work grows with their
# receiver pay for it, one unit per ITEMS_PER_UNIT elements or characters of
# it (sort: times log2 of the length), before they do it.
_FREE = {"array": {"push", "pop", "len", "clear"}, "string": {"len"}, "map": {"get", "has", "remove", "len", "set_default"}}


def _charging(vm: Any, tables: dict[str, dict[str, Callable[..., Any]]]) -> dict[str, dict[str, Callable[..., Any]]]:
    if not vm.limits.metered:  # (no fuel counted: no wrapper's cost)
        return tables
    charge = vm.limits.charge_items

    def wrap(fn: Callable[..., Any], sort: bool) -> Callable[..., Any]:
        def method(recv: Any, *args: Any) -> Any:
            t = type(recv)
            n = len(recv) if t is str else recv.length() if t is PackedArray else len(recv.items)
            if n >= 64:
                charge(n * n.bit_length() if sort else n)
            return fn(recv, *args)

        return method

    return {kind: {name: fn if name in _FREE[kind] else wrap(fn, name == "sort") for name, fn in table.items()} for kind, table in tables.items()}
