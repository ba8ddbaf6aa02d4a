"""The guest side of weak references: the built-ins `WeakRef(obj)` and
`WeakMap()` and their methods (the heap side, ephemeron marking, is
heap/weak.py; docs/memory.md "Weak references" is the user's page).

`install(vm)` adds them to a Machine, as sched/concurrency.py adds `Chan`:
both languages see them (TinyLang resolves the names as built-ins, Lox
scripts get them as natives, lang/lox/compiler.py NATIVES).

Decisions:
* Only heap objects can be weakly referenced or be WeakMap keys: arrays,
  maps, records, instances, functions, classes, tasks, channels... A number,
  string, bool or nil has no identity that could "die" (two equal strings are
  one value), so `WeakRef(1)` and `m.set("k", v)` are TypeErrors.
* `get/has/delete` with a key that is not a heap object answer nil
  (or the default) / false / false, as JavaScript's WeakMap does: no such key
  can be in the map.
* `delete(k)` returns whether an entry was removed (JavaScript's answer);
  `set(k, v)` returns nil.
* No iteration, no `keys()`: which entries are still there depends on when
  the collector ran (`--gc-stress`, the memory limit, the pacing), and handing
  out the keys would make weak keys strong. `len()` is there, and counts the
  entries not yet dropped by a collection: it is as timing-dependent as
  `WeakRef.get()`, which is the point of both.
"""

from __future__ import annotations

from typing import Any

from ..heap.objects import HeapObject, Native
from ..heap.weak import WeakMap, WeakRef, new_weakmap, new_weakref
from .errors import RtError
from .memory import entry_charge
from .values import typeof

__all__ = ["install"]


def _argc(name: str, want: int | str, got: int) -> RtError:
    noun = "argument" if want == 1 else "arguments"
    return RtError("TypeError", f"{name} expects {want} {noun}, got {got}")


def _is_heap(v: Any) -> bool:
    return isinstance(v, HeapObject)


def install(vm: Any) -> None:
    heap = vm.heap
    alloc = heap.alloc

    def weakref_(*args: Any) -> WeakRef:
        if len(args) != 1:
            raise _argc("WeakRef", 1, len(args))
        target = args[0]
        if not _is_heap(target):
            raise RtError("TypeError", f"WeakRef expects an object (array, map, record, instance, function...), got {typeof(target)}")
        return new_weakref(heap, target)

    def weakmap_(*args: Any) -> WeakMap:
        if args:
            raise _argc("WeakMap", 0, len(args))
        return new_weakmap(heap)

    vm.builtins["WeakRef"] = alloc(Native("WeakRef", weakref_, 1))
    vm.builtins["WeakMap"] = alloc(Native("WeakMap", weakmap_, 0))

    def ref_get(w: WeakRef, *args: Any) -> Any:
        if args:
            raise _argc("weakref.get", 0, len(args))
        return w.target

    def map_get(m: WeakMap, *args: Any) -> Any:
        n = len(args)
        if n != 1 and n != 2:
            raise _argc("weakmap.get", "1 or 2", n)
        default = args[1] if n == 2 else None
        k = args[0]
        if not _is_heap(k):
            return default
        return m.items.get(k, default)

    def map_set(m: WeakMap, *args: Any) -> None:
        if len(args) != 2:
            raise _argc("weakmap.set", 2, len(args))
        k, v = args
        if not _is_heap(k):
            raise RtError("TypeError", f"weakmap.set expects an object key (array, map, record, instance, function...), got {typeof(k)}")
        items = m.items
        if k not in items:
            heap.charge(entry_charge(v, heap))
        items[k] = v
        if m.mark == heap.watch:  # (the write barrier, docs/gc.md: the value is the strong reference)
            heap.barrier(m, v)

    def map_has(m: WeakMap, *args: Any) -> bool:
        if len(args) != 1:
            raise _argc("weakmap.has", 1, len(args))
        k = args[0]
        return _is_heap(k) and k in m.items

    def map_delete(m: WeakMap, *args: Any) -> bool:
        if len(args) != 1:
            raise _argc("weakmap.delete", 1, len(args))
        k = args[0]
        if not _is_heap(k) or k not in m.items:
            return False
        del m.items[k]
        return True

    def map_len(m: WeakMap, *args: Any) -> int:
        if args:
            raise _argc("weakmap.len", 0, len(args))
        return len(m.items)

    vm.methods["weakref"] = {"get": ref_get}
    vm.methods["weakmap"] = {"get": map_get, "set": map_set, "has": map_has, "delete": map_delete, "len": map_len}
