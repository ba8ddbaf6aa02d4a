"""`Set`: the 1.1 built-in set type (spec section 13, "Built-ins and methods").

`Set()` or `Set(xs)` (xs an array or range) makes a `SetObject`, a heap object
holding its elements as the keys of an insertion-ordered dict, so iteration
(`for x in s`, vm/object_ops.py make_iter: a snapshot, as for maps) is in
insertion order. Methods: `add(v)` (nil), `has(v)`, `remove(v)` (true when it
was there), `len()`, and `union(o) intersect(o) diff(o)`, each a new set in the
receiver's order (union: then o's new elements). The checker types a set
`Set<T>` (lang/tinylang/library_generics.py); at run time it is erased.

Decisions (the spec is silent):
* Elements are what map keys may be: int, float, bool, string, nil
  (`1` and `1.0` are one element, as they are one map key). Anything else
  is a TypeError, as for a map key: sets of objects would need identity
  hashing the host cannot give deterministically.
* Printed `Set{1, "a"}` (strings quoted, as inside other containers), the
  empty set `Set{}`; `typeof(s)` is "Set"; two sets are `==` only when they
  are the same set (identity, as for instances).
* `remove` of a missing element returns false (no error).
* Embedding (embed/convert.py): a Python set (not a frozenset) becomes a Set, a
  Set becomes a Python set.
* The collector: elements are scalars, so a set holds no references the GC
  must trace beyond its strings' accounting (refs returns the elements).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..heap.objects import (
    CONTAINER,
    ENTRY,
    HEADER,
    Array,
    HeapObject,
    Native,
    Range,
    map_key,
    unmap_key,
)
from ..heap.packed import PackedArray
from .errors import RtError
from .memory import array_bytes, entry_charge
from .values import check_key, repr_value, typeof

__all__ = ["SetObject", "install", "new_set"]


class SetObject(HeapObject):
    """A set of map-key values in insertion order (dict: key -> None)."""

    __slots__ = ("items",)
    type_name = "Set"

    def __init__(self, items: dict) -> None:
        self.items = items

    def refs(self) -> Iterable[Any]:
        return self.items  # (string elements: accounted where reached)

    def size(self) -> int:
        return HEADER + CONTAINER + ENTRY * len(self.items)

    def host_label(self) -> str:
        # runtime/values.py prints objects it does not know by this label.
        return "Set{" + ", ".join(repr_value(unmap_key(k)) for k in self.items) + "}"


def new_set(heap: Any, values: Iterable[Any]) -> SetObject:
    items: dict = {}
    for v in values:
        items[check_key(v)] = None
    heap.reserve(HEADER + CONTAINER + ENTRY * len(items))
    return heap.alloc(SetObject(items))


def _argc(name: str, want: int | str, got: int) -> RtError:
    noun = "argument" if want == 1 else "arguments"
    return RtError("TypeError", f"{name} expects {want} {noun}, got {got}")


def _other(name: str, args: tuple) -> SetObject:
    if len(args) != 1:
        raise _argc(name, 1, len(args))
    o = args[0]
    if type(o) is not SetObject:
        raise RtError("TypeError", f"{name} expects a Set, got {typeof(o)}")
    return o


def install(vm: Any) -> None:
    heap = vm.heap
    alloc = heap.alloc

    def set_(*args: Any) -> SetObject:
        if len(args) > 1:
            raise _argc("Set", "0 or 1", len(args))
        if not args:
            return new_set(heap, ())
        xs = args[0]
        t = type(xs)
        if t is Array:
            return new_set(heap, xs.items)
        if t is PackedArray:  # (read: it stays packed)
            return new_set(heap, xs.values())
        if t is Range:
            heap.reserve(array_bytes(len(xs.values())))
            return new_set(heap, xs.values())
        if t is SetObject:
            return new_set(heap, [unmap_key(k) for k in xs.items])
        raise RtError("TypeError", f"Set expects an array, range or Set, got {typeof(xs)}")

    def add(s: SetObject, *args: Any) -> None:
        if len(args) != 1:
            raise _argc("Set.add", 1, len(args))
        v = args[0]
        key = check_key(v)
        if key not in s.items:
            heap.charge(entry_charge(v, heap))
            s.items[key] = None

    def has(s: SetObject, *args: Any) -> bool:
        if len(args) != 1:
            raise _argc("Set.has", 1, len(args))
        return check_key(args[0]) in s.items

    def remove(s: SetObject, *args: Any) -> bool:
        if len(args) != 1:
            raise _argc("Set.remove", 1, len(args))
        key = check_key(args[0])
        if key in s.items:
            del s.items[key]
            return True
        return False

    def len_(s: SetObject, *args: Any) -> int:
        if args:
            raise _argc("Set.len", 0, len(args))
        return len(s.items)

    def union(s: SetObject, *args: Any) -> SetObject:
        o = _other("Set.union", args)
        return alloc_keys(list(s.items) + [k for k in o.items if k not in s.items])

    def intersect(s: SetObject, *args: Any) -> SetObject:
        o = _other("Set.intersect", args)
        return alloc_keys([k for k in s.items if k in o.items])

    def diff(s: SetObject, *args: Any) -> SetObject:
        o = _other("Set.diff", args)
        return alloc_keys([k for k in s.items if k not in o.items])

    def alloc_keys(keys: list) -> SetObject:
        heap.reserve(HEADER + CONTAINER + ENTRY * len(keys))
        return alloc(SetObject(dict.fromkeys(keys)))

    vm.builtins["Set"] = alloc(Native("Set", set_, -1))
    vm.methods["Set"] = {"add": add, "has": has, "remove": remove, "len": len_, "union": union, "intersect": intersect, "diff": diff}


def host_set_to_guest(heap: Any, values: Iterable[Any]) -> SetObject:
    """A Python set's elements (already guest scalars) as a guest Set."""
    return heap.alloc(SetObject({map_key(v): None for v in values}))
