"""The object protocol the instructions share: field and index access,
iteration and class creation.

These are the paths of GET_FIELD, SET_FIELD, GET_INDEX, SET_INDEX, GET_ITER,
FOR_ITER and MAKE_CLASS that the pre-decoded fast paths (vm/predecode.py,
vm/blocks.py) do not take inline, with TinyLang's rules and messages; a
language whose rules differ wraps them (runtime/dialects.py, Lox's
runtime/lox_rules.py).

Iterators: an `Iterator` has a kind. Arrays, ranges, strings and maps (a
snapshot of the keys) step in `next_item`; generators and channels may need
guest code or a wait, so FOR_ITER hands them to `iter_transfer`.

`ObjectOps` is a mixin of `Machine` (vm/machine.py).
"""

from __future__ import annotations

import sys
from typing import Any

from ..bytecode.code import CLASS_EARLY_SUPER, CLASS_EXTENDS, CLASS_INTERFACE, CLASS_OPEN
from ..heap.objects import UNINIT, Array, BoundMethod, Class, Instance, Iterator, Map, ModuleObject, Native, Range, Record, Tuple, unmap_key
from ..heap.layout import SlotInstance
from ..heap.packed import PackedArray
from ..runtime.enums import get_static
from ..runtime.errors import RtError
from ..runtime.memory import entry_charge, value_bytes
from ..runtime.sets import SetObject
from ..runtime.values import check_key, repr_value, typeof
from ..runtime import tuples
from ..sched.concurrency import chan_iter_next
from ..sched.fiber import Fiber
from ..sched.generators import Gen, gen_enter
from ..sched.scheduler import Chan

ITER_ARRAY, ITER_RANGE, ITER_STRING, ITER_MAP = 0, 1, 2, 3
# Iterators whose next item may need guest code or a wait: FOR_ITER hands
# them to ObjectOps.iter_transfer.
ITER_GEN, ITER_CHAN = 4, 5
# A range with a step other than 1 (1.1 `range(a, b, step)`): its own kind, so
# the `a..b` iterator's path stays as it was.
ITER_STEP = -1
# A packed array (heap/packed.py): its own kind, read element by element in
# `next_item` (`get`), so a `for x in xs` leaves the array packed; ITER_ARRAY's
# inline path (FOR_ITER, the JIT's for_iter) reads `source.items`, which
# would unpack it, and stays as it was for lists.
ITER_PACKED = -2


class ObjectOps:
    """Field, index, iteration and class paths of `Machine`."""

    def get_field(self, obj: Any, name: str) -> Any:
        t = type(obj)
        if t is Instance or t.__base__ is SlotInstance:  # (a dict, or laid out: heap/layout.py)
            v = obj.fields.get(name, UNINIT) if t is Instance else obj.get(name)
            if v is not UNINIT:
                return v
            meth = obj.cls.methods.get(name)
            if meth is not None:
                return self.heap.alloc(BoundMethod(obj, meth))
            raise RtError("TypeError", f"{obj.cls.name} has no field '{name}'", "no_field", {"cls": obj.cls.name, "name": name})
        if t is Record:
            v = obj.fields.get(name, UNINIT)
            if v is UNINIT:
                raise RtError("TypeError", f"record has no field '{name}'")
            return v
        if t is ModuleObject:
            return self.module_get(obj, name)
        if t is Tuple:
            return tuples.get_element(obj, name)
        if t is Class:  # a static member (issue 18: runtime/enums.py)
            return get_static(obj, name)
        kind = "string" if t is str else typeof(obj)
        table = self.methods.get(kind)
        if table is not None and name in table:
            meth = table[name]
            return self.heap.alloc(Native(name, lambda *a: meth(obj, *a), -1))
        raise RtError("TypeError", f"{kind} has no field '{name}'")

    def set_field(self, obj: Any, name: str, value: Any) -> None:
        """SET_FIELD: checks the value against the field's declared type."""
        t = type(obj)
        if t is Instance:
            if name in obj.fields:
                checks = obj.cls.field_checks
                if checks is not None:
                    check = checks.get(name)
                    if check is not None:
                        value = check(value)
                obj.fields[name] = value
                heap = self.heap
                if obj.mark == heap.watch:  # (the write barrier: docs/gc.md)
                    heap.barrier(obj, value)
                return
            if obj.cls.open:  # an open instance (Lox) takes new fields
                obj.fields[name] = value
                heap = self.heap
                if obj.mark == heap.watch:
                    heap.barrier(obj, value)
                return
            raise RtError("TypeError", f"{obj.cls.name} has no field '{name}'")
        if t.__base__ is SlotInstance:
            # A laid-out instance: its class is closed (never open), so a
            # field it lacks is an error, as for a closed dict instance. The
            # check is the class's (two classes may share a shape, not checks).
            i = t.INDEX.get(name)
            if i is None:
                raise RtError("TypeError", f"{obj.cls.name} has no field '{name}'")
            checks = obj.cls.field_checks
            if checks is not None:
                check = checks.get(name)
                if check is not None:
                    value = check(value)
            t.DESCS[i].__set__(obj, value)
            heap = self.heap
            if obj.mark == heap.watch:
                heap.barrier(obj, value)
            return
        self.set_field_proven(obj, name, value)

    def set_field_proven(self, obj: Any, name: str, value: Any) -> None:
        """SET_FIELD_PROVEN: as set_field, without the type check."""
        t = type(obj)
        if t is Instance:
            if name in obj.fields or obj.cls.open:
                obj.fields[name] = value
                heap = self.heap
                if obj.mark == heap.watch:
                    heap.barrier(obj, value)
                return
            raise RtError("TypeError", f"{obj.cls.name} has no field '{name}'")
        if t is Record:
            if name in obj.fields:
                obj.fields[name] = value
                heap = self.heap
                if obj.mark == heap.watch:
                    heap.barrier(obj, value)
                return
            raise RtError("TypeError", f"record has no field '{name}'")
        if t.__base__ is SlotInstance:  # (closed: no new fields)
            if obj.put(name, value):
                heap = self.heap
                if obj.mark == heap.watch:
                    heap.barrier(obj, value)
                return
            raise RtError("TypeError", f"{obj.cls.name} has no field '{name}'")
        if t is Tuple:
            raise RtError("TypeError", tuples.IMMUTABLE)
        raise RtError("TypeError", f"cannot set field '{name}' on {typeof(obj)}")

    def get_index(self, obj: Any, i: Any) -> Any:
        t = type(obj)
        if t is Array or t is str:
            if type(i) is not int:
                raise RtError("TypeError", f"{typeof(obj)} index must be int, got {typeof(i)}")
            n = len(obj.items) if t is Array else len(obj)
            if not 0 <= i < n:
                raise RtError("IndexError", f"index {i} out of range for length {n}")
            return obj.items[i] if t is Array else obj[i]
        if t is Map:
            v = obj.items.get(check_key(i), UNINIT)
            if v is UNINIT:
                raise RtError("KeyError", f"key not found: {repr_value(i)}")
            return v
        if t is Tuple:
            return tuples.get_index(obj, i)
        if t is PackedArray:  # (heap/packed.py: read in place, the array stays packed)
            if type(i) is not int:
                raise RtError("TypeError", f"array index must be int, got {typeof(i)}")
            n = obj.length()
            if not 0 <= i < n:
                raise RtError("IndexError", f"index {i} out of range for length {n}")
            return obj.get(i)
        raise RtError("TypeError", f"{typeof(obj)} is not indexable")

    def set_index(self, obj: Any, i: Any, value: Any) -> None:
        t = type(obj)
        if t is Array:
            if type(i) is not int:
                raise RtError("TypeError", f"array index must be int, got {typeof(i)}")
            n = len(obj.items)
            if not 0 <= i < n:
                raise RtError("IndexError", f"index {i} out of range for length {n}")
            obj.items[i] = value
            heap = self.heap
            if obj.mark == heap.watch:
                heap.barrier(obj, value)
            return
        if t is Map:
            key = check_key(i)
            items = obj.items
            heap = self.heap
            if key not in items:  # a new entry: the map grows (runtime/memory.py)
                heap.charge(entry_charge(value, heap) + value_bytes(i, heap))
            items[key] = value
            if obj.mark == heap.watch:  # (a string key is a scalar: the value is the reference)
                heap.barrier(obj, value)
            return
        if t is Tuple:
            raise RtError("TypeError", tuples.IMMUTABLE)
        if t is PackedArray:
            if type(i) is not int:
                raise RtError("TypeError", f"array index must be int, got {typeof(i)}")
            n = obj.length()
            if not 0 <= i < n:
                raise RtError("IndexError", f"index {i} out of range for length {n}")
            obj.set(i, value)
            if type(obj) is Array and obj.mark == self.heap.watch:  # (unpacked by a value of another kind)
                self.heap.barrier(obj, value)
            return
        raise RtError("TypeError", f"{typeof(obj)} does not support item assignment")

    def make_iter(self, v: Any) -> Iterator:
        t = type(v)
        if t is Array:
            it = Iterator(ITER_ARRAY, v)
        elif t is PackedArray:
            it = Iterator(ITER_PACKED, v)
        elif t is Range:
            it = Iterator(ITER_RANGE if v.step == 1 else ITER_STEP, v)
            it.pos = v.start
        elif t is str:
            it = Iterator(ITER_STRING, v)
        elif t is Map:
            # Iterate a snapshot of the keys: mutation during the loop is safe.
            it = Iterator(ITER_MAP, self.heap.alloc(Array([unmap_key(k) for k in v.items])))
        elif t is SetObject:  # (1.1, runtime/sets.py: a snapshot, as for maps)
            it = Iterator(ITER_MAP, self.heap.alloc(Array([unmap_key(k) for k in v.items])))
        elif t is Gen:
            it = Iterator(ITER_GEN, v)
        elif t is Chan:
            it = Iterator(ITER_CHAN, v)
        else:
            raise RtError("TypeError", f"{typeof(v)} is not iterable")
        return self.heap.alloc(it)

    def iter_transfer(self, fb: Fiber, it: Iterator, gen_cont: Any, chan_cont: Any) -> Any:
        """FOR_ITER over a generator or a channel: run the generator (or wait for
        a value); then `gen_cont` gets the result record, or `chan_cont` the
        value and an ok flag, on top of the iterator."""
        if it.kind == ITER_GEN:
            return gen_enter(fb, it.source, gen_cont)
        return chan_iter_next(self, fb, it.source, chan_cont)

    def next_item(self, it: Iterator) -> Any:
        kind = it.kind
        if kind == ITER_RANGE:
            if it.pos < it.source.stop:
                it.pos += 1
                return it.pos - 1
            return UNINIT
        if kind == ITER_STRING:
            s = it.source
            if it.pos < len(s):
                it.pos += 1
                return s[it.pos - 1]
            return UNINIT
        if kind == ITER_STEP:
            src = it.source
            step = src.step
            if it.pos < src.stop if step > 0 else it.pos > src.stop:
                it.pos += step
                return it.pos - step
            return UNINIT
        if kind == ITER_PACKED:
            src = it.source
            pos = it.pos
            if type(src) is PackedArray:
                if pos < src.length():
                    it.pos = pos + 1
                    return src.get(pos)
                return UNINIT
            # (unpacked during the loop, e.g. by a push or a store of another
            # kind: the same array, now a list; the length is read each step,
            # as ITER_ARRAY's)
            items = src.items
            if pos < len(items):
                it.pos = pos + 1
                return items[pos]
            return UNINIT
        items = it.source.items  # ITER_MAP: an array of keys
        if it.pos < len(items):
            it.pos += 1
            return items[it.pos - 1]
        return UNINIT

    def make_class(self, info: Any, parent: Any, methods: list) -> Class:
        if (parent is not None or info.flags & CLASS_EXTENDS) and type(parent) is not Class:
            raise RtError("TypeError", f"a class can only extend a class, not {typeof(parent)}", "bad_superclass", {"type": typeof(parent)})
        heap = self.heap
        cls = heap.alloc(Class(info.name, parent, info))
        if info.flags & CLASS_OPEN:
            cls.open = True
        if info.flags & CLASS_INTERFACE:
            cls.interface = True
        if info.interfaces:
            cls.interfaces = cls.interfaces | frozenset(info.interfaces)
        for name, default in zip(info.fields, info.defaults):
            # (interned: native code finds a field's dict entry by the key's
            # address, jit/native/fields.py; every instance copies these keys)
            cls.template[sys.intern(name)] = default
        for name, fn in zip(info.methods, methods):
            fn.owner = cls  # (the closures were made by earlier instructions)
            if fn.mark == heap.watch:
                heap.barrier(fn, cls)
            if name == "$fields":
                cls.field_inits.append(fn)
                continue
            cls.own_methods[name] = fn
            cls.methods[name] = fn
        init = cls.methods.get("init")
        cls.init = init
        # Field type checks: the parent's (cls.field_checks starts as those),
        # overridden by the fields this class declares itself.
        own = self.type_checks.fields(info)
        inherited = cls.field_checks
        if own or (inherited is not None and any(name in inherited for name in info.fields)):
            merged = dict(inherited) if inherited is not None else {}
            for name in info.fields:
                merged.pop(name, None)
            merged.update(own)
            cls.field_checks = merged or None
        if "init" in cls.own_methods:
            cls.early = frozenset(info.early) | (parent.early if parent is not None and info.flags & CLASS_EARLY_SUPER else frozenset())
        cls.unboxed = unboxed_fields(cls)
        # The class was filled after its allocation: a collector that
        # allocates in its marking colour must see what it now holds.
        if cls.mark == heap.watch:
            heap.barrier_all(cls)
        return cls


_RAW_KINDS = {"int": ("i", int), "bool": ("b", bool)}  # declared type -> (raw slot kind, the template value's exact type)


def unboxed_fields(cls: Class) -> dict[str, str]:
    """The fields of cls's instances a shape keeps as raw slots
    (heap/layout.py "Raw slots"), name -> kind ("i": an int64, "b": a
    bool's byte): declared `int` (or `bool`) by every class of the chain
    that declares them (so every store into one is checked, or proven, of
    that type), and never seen holding anything else. That is, a constant
    default of the type, or no default and assigned by init before
    anything can see the instance (`Class.early`; only when no `$fields`
    method runs first: it could read the field before init assigns it)."""
    if cls.open:
        return {}
    out: dict[str, str] = {}
    for name, value in cls.template.items():
        if value is not None and type(value) not in (int, bool):
            continue
        if value is None and (cls.field_inits or name not in cls.early):
            continue
        kind = None
        c = cls
        while c is not None:
            info = c.info
            if info is not None and name in info.fields:
                text = info.field_types[info.fields.index(name)] if info.field_types else ""
                k = _RAW_KINDS.get(text)
                if k is None or (kind is not None and k != kind) or (value is not None and type(value) is not k[1]):
                    break
                kind = k
            c = c.parent
        else:
            if kind is not None:
                out[name] = kind[0]
    return out
