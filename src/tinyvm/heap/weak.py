"""Weak references and ephemeron tables: `WeakRef` and `WeakMap` heap objects,
and the collector's work for them (called from heap/heap.py).

Why a module of its own: the common mark loop (Heap.trace) stays exactly as
fast as before for programs that never make a weak object. Weak objects are
listed in `Heap.weak` when made (`new_weakref`, `new_weakmap`); only when that
list is non-empty does a mark run the second phase below.

Semantics (docs/memory.md, "Weak references"):

* `WeakRef.target` is not traced: `refs()` is empty. After a collection
  in which the target was not reached, `target` is None (`.get()` is nil).
* A `WeakMap` entry key -> value is an *ephemeron*: the key is not traced,
  and the value is traced only once the key is reached by some other path
  (roots, strong fields, or the value of another live entry). A value that
  refers to its own key therefore does not keep the entry alive, and chains
  (k1 -> v1 where v1 holds k2 -> v2 ...) resolve in one pass: marking a key
  releases the values waiting on it.
* Clearing happens after the fixpoint and before the sweep, all at once: no
  guest code runs during a collection (there are no finalizers), so a value
  that would "store its key in a global" never gets to run: an object is
  either reachable (and every weak reference to it still answers it) or it
  is gone from every weak reference and entry in the same collection. There
  is no resurrection.
* An emergency mark (at the memory limit, inside an allocation: values in
  the running instruction's Python locals are not rooted) runs the fixpoint,
  so the live bytes it counts include the values of live entries, but clears
  nothing: the next full collection decides.

Accounting: a WeakRef is HEADER + SLOT; a WeakMap is sized like a Map
(HEADER + CONTAINER + ENTRY per entry). Values of live entries are counted
like any reached object; the entries a collection drops are taken off the
live bytes it reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .objects import (
    _POISON,
    CONTAINER,
    ENTRY,
    FLOAT_BYTES,
    HEADER,
    INT_BYTES,
    SLOT,
    HeapObject,
    str_bytes,
)
from .packed import PackedArray

__all__ = ["WeakRef", "WeakMap", "new_weakref", "new_weakmap", "trace_ephemerons", "clear_weak", "weak_edges"]


class WeakRef(HeapObject):
    """`WeakRef(obj)`: `target` is the object, or None once it was collected."""

    __slots__ = ("target",)
    type_name = "weakref"

    def __init__(self, target: HeapObject) -> None:
        self.target = target

    def refs(self) -> Iterable[Any]:
        return ()  # weak: the collector does not trace the target

    def size(self) -> int:
        return HEADER + SLOT

    def free(self) -> None:
        self.target = _POISON


class WeakMap(HeapObject):
    """`WeakMap()`: heap object key -> value, keyed by identity (HeapObject
    hashes by identity), in insertion order. The dict holds its keys strongly
    for CPython; for the guest heap they are ephemeron keys (module docstring)."""

    __slots__ = ("items",)
    type_name = "weakmap"

    def __init__(self) -> None:
        self.items: dict[HeapObject, Any] = {}

    def refs(self) -> Iterable[Any]:
        return ()  # keys and values are traced by trace_ephemerons

    def size(self) -> int:
        return HEADER + CONTAINER + ENTRY * len(self.items)

    def free(self) -> None:
        self.items = _POISON


def new_weakref(heap: Any, target: HeapObject) -> WeakRef:
    w = heap.alloc(WeakRef(target))
    heap.weak.append(w)
    return w


def new_weakmap(heap: Any) -> WeakMap:
    m = heap.alloc(WeakMap())
    heap.weak.append(m)
    return m


def weak_edges(obj: Any) -> list[tuple[Any, Any]]:
    """For tools (heap snapshots, diffs): the weak edges of a weak object as
    (key or None, value) pairs: a WeakRef's target, a WeakMap's entries."""
    if type(obj) is WeakRef:
        return [] if obj.target is None else [(None, obj.target)]
    if type(obj) is WeakMap:
        return list(obj.items.items())
    return []


def trace_ephemerons(registry: list, epoch: int, seen_str: set[int]) -> int:
    """The mark's second phase: the ephemeron fixpoint. Every object reached
    so far has mark == epoch. Marks the values of the entries of reached
    WeakMaps whose keys are reached, and everything reachable from them, until
    nothing changes; returns the accounted bytes it reached (as Heap.trace
    counts them: objects, and the scalars in their slots, strings once).

    Linear in the entries and the objects reached: an entry whose key is not
    reached yet waits in `waiting` under the key's id, and is released the
    moment that key is marked (no rescans of every map per round)."""
    total = 0
    stack: list = []
    push = stack.append
    pending: list = []  # values released by a key just marked
    waiting: dict[int, list] = {}  # id(unreached key) -> the values its entries hold

    def scan(m: WeakMap) -> None:
        for k, v in m.items.items():
            if k.mark == epoch:
                pending.append(v)
            else:
                w = waiting.get(id(k))
                if w is None:
                    waiting[id(k)] = [v]
                else:
                    w.append(v)

    for w in registry:
        if type(w) is WeakMap and w.mark == epoch:
            scan(w)
    if not pending:
        return 0
    while pending or stack:
        while pending:
            child = pending.pop()
            t = type(child)
            if t is int:
                if not -5 <= child <= 256:
                    total += INT_BYTES
            elif t is str:
                i = id(child)
                if i not in seen_str:
                    seen_str.add(i)
                    total += str_bytes(child)
            elif t is float:
                total += FLOAT_BYTES
            elif isinstance(child, HeapObject) and child.mark != epoch:
                child.mark = epoch
                push(child)
                if waiting:
                    vals = waiting.pop(id(child), None)
                    if vals is not None:
                        pending.extend(vals)
        if stack:
            obj = stack.pop()
            total += obj.size()
            if type(obj) is WeakMap:  # reached only now: its entries join in
                scan(obj)
            elif type(obj) is PackedArray:  # (heap/packed.py: no references, its elements' bytes)
                total += obj.child_bytes()
                continue
            pending.extend(obj.refs())
    return total


def clear_weak(heap: Any, epoch: int) -> int:
    """After the fixpoint, before the sweep (full collections, major ones
    and the end of an incremental cycle's mark; `epoch` is the colour of the
    reached): clear
    the weak references whose targets were not reached, drop the entries
    whose keys were not reached, and forget the weak objects that were not
    reached themselves (the sweep frees them). Returns the accounted bytes of
    the dropped entries (counted by the mark in their map's size)."""
    kept = []
    dropped = 0
    for w in heap.weak:
        if w.mark != epoch:
            continue
        kept.append(w)
        if type(w) is WeakRef:
            t = w.target
            if t is not None and t.mark != epoch:
                w.target = None
        else:
            items = w.items
            dead = [k for k in items if k.mark != epoch]
            for k in dead:
                del items[k]
            dropped += ENTRY * len(dead)
    heap.weak = kept
    return dropped
