"""Instance layouts: an instance's fields in slots of its own, not in a dict ("shapes").

An `Instance` keeps its fields in a Python dict (`fields`): a read is a
hash probe, and the object is three CPython allocations (the instance, the
dict, the dict's keys). A `SlotInstance` keeps them in slots of the object
itself, one per field, at fixed offsets: machine code reads a field with
one load after one check of the object's type (jit/native/fields.py), and
the object is one allocation.

- **Shapes.** The Python type of a laid-out instance is its *shape*: a
  subclass of `SlotInstance` with one slot per field, `slot_name(0)`, `slot_name(1)`, ... in the
  order of the class's `template` (inherited fields first, heap/objects.py
  `Class`). A shape is made for a tuple of field names (and which of them
  are raw int or bool slots: "Raw slots" below) and shared by every class
  with those names in that order (V8's hidden classes, without
  transitions: the field set of a closed class never changes). Field `i` of
  every shape is at the same offset (`SLOT_BASE + 8 * i`), so a subclass's
  instances keep their inherited fields where the parent's have them.
  Shapes are cached per heap (`Heap.shapes`), so their number is bounded by
  the distinct field lists of the program's classes, not by how many
  classes a program makes at run time (a class declared in a function body
  is a new Class per call, with the same shape).
- **Which instances.** Instances of closed classes (every TinyLang class;
  not Lox classes, whose instances take new fields at any time:
  `Class.open`) made by a VM whose heap lays out (`Heap.lays_out`: on in
  every VM; a VM with the native tier turns it off when
  jit/native/layout.probe_slots refuses the layout, jit/tier.py, and
  `TVM_TIER=dicts` turns it off to test that fallback). `new_instance` is
  the one place that chooses; every tier, the embedding API and the stdlib
  make instances through it.
- **The same object to the rest of the VM.** `fields` is a property that
  returns a `FieldView`, a mutable mapping over the slots with the dict's
  order and contents (a field not initialised yet holds `UNINIT` in both).
  Code written for the dict -- printers, converters, the debugger,
  snapshots -- reads and writes through it unchanged. What it cannot do is
  add or remove a field: a closed class has no such operation, and the view
  raises `KeyError` (an internal error) if a VM bug tries. Hot paths read
  the slots directly: `get`, `put`, `values_list`.
- **The same accounting.** `size()` is `Instance.size()`'s formula for the
  same number of fields, so memory limits, collections and GC statistics
  do not depend on the representation.
- **The danger.** `type(x) is Instance` is False for a laid-out instance;
  sites test `isinstance(x, Instance)` or `type(x).__base__ is SlotInstance`
  (`is_instance_type`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, MutableMapping
from operator import attrgetter
from typing import Any

from .objects import _POISON, CONTAINER, FIELD, HEADER, UNINIT, Instance

# The `fields` slot's own descriptor (Instance's): a SlotInstance leaves it
# None, and its `fields` is the property below.
_DICT_SLOT = Instance.__dict__["fields"]


class SlotInstance(Instance):
    """An instance whose fields are slots of its shape (a generated subclass).

    Class attributes each shape sets: NAMES (the field names, slot order),
    INDEX (name -> slot index), ATTRS (the slots' attribute names, `slot_name(i)`),
    DESCS (the slots' member descriptors), SIZE (the accounted size),
    ALL (an attrgetter of every slot: a tuple, or one value for one field),
    RAW (per slot: "i" a raw int64, "b" a raw bool, "" an object reference)."""

    __slots__ = ()
    NAMES: tuple[str, ...] = ()
    INDEX: dict[str, int] = {}
    ATTRS: tuple[str, ...] = ()
    DESCS: tuple[Any, ...] = ()
    SIZE = HEADER + CONTAINER
    MAKE: Any = None  # (shape_maker's `make(cls)`)
    RAW: tuple[str, ...] = ()

    @property  # type: ignore[override]
    def fields(self) -> FieldView:  # type: ignore[override]
        return FieldView(self)

    def get(self, name: str, default: Any = UNINIT) -> Any:
        """The field's value, or default when the shape has no such field
        (a field not initialised yet is UNINIT, as in the dict)."""
        i = type(self).INDEX.get(name)
        if i is None:
            return default
        return type(self).DESCS[i].__get__(self)

    def put(self, name: str, value: Any) -> bool:
        """Store into an existing field; False when there is none."""
        i = type(self).INDEX.get(name)
        if i is None:
            return False
        type(self).DESCS[i].__set__(self, value)
        return True

    def values_list(self) -> list[Any]:
        """Every field's value, in the dict's order."""
        t = type(self)
        n = len(t.NAMES)
        if n == 0:
            return []
        if n == 1:
            return [t.ALL(self)]
        return list(t.ALL(self))

    def refs(self) -> list[Any]:
        out = self.values_list()  # (a raw slot's value too, as a dict instance's refs have it: heap/snapshot.py's edges)
        out.append(self.cls)
        return out

    def size(self) -> int:
        return type(self).SIZE

    def free(self) -> None:
        t = type(self)
        for d, r in zip(t.DESCS, t.RAW):
            if not r:
                d.__set__(self, _POISON)
        self.cls = _POISON


class FieldView(MutableMapping):
    """A SlotInstance's fields as the dict `Instance.fields` would be."""

    __slots__ = ("obj",)

    def __init__(self, obj: SlotInstance) -> None:
        self.obj = obj

    def __getitem__(self, name: str) -> Any:
        i = type(self.obj).INDEX.get(name)
        if i is None:
            raise KeyError(name)
        return type(self.obj).DESCS[i].__get__(self.obj)

    def get(self, name: str, default: Any = None) -> Any:
        return self.obj.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in type(self.obj).INDEX

    def __setitem__(self, name: str, value: Any) -> None:
        if not self.obj.put(name, value):
            # (a closed class's instance never gains a field: a VM bug)
            raise KeyError(f"laid-out instance of {self.obj.cls.name} has no field {name!r} to add")

    def __delitem__(self, name: str) -> None:
        raise KeyError(f"a field of a laid-out instance cannot be removed: {name!r}")

    def __iter__(self) -> Iterator[str]:
        return iter(type(self.obj).NAMES)

    def __len__(self) -> int:
        return len(type(self.obj).NAMES)

    def values(self) -> list[Any]:  # type: ignore[override]
        return self.obj.values_list()

    def items(self) -> list[tuple[str, Any]]:  # type: ignore[override]
        return list(zip(type(self.obj).NAMES, self.obj.values_list()))

    def keys(self) -> tuple[str, ...]:  # type: ignore[override]
        return type(self.obj).NAMES

    def copy(self) -> dict[str, Any]:
        return dict(self.items())

    def __repr__(self) -> str:
        return f"FieldView({dict(self.items())!r})"


def slot_name(i: int) -> str:
    """The attribute name of slot i, the same in every shape.

    CPython sorts a type's __slots__ by name before it lays them out, so the
    name starts with the index's digit count: `_15` (slot 5) sorts before
    `_210` (slot 10), and slot i is the i-th in memory (SLOT_BASE + 8 * i),
    as native code assumes, in a shape of any size."""
    d = str(i)
    return f"_{len(d)}{d}"


def make_shape(names: tuple[str, ...], raw: tuple[str, ...] = ()) -> type[SlotInstance]:
    """A new shape type for these field names (Heap.shape caches them);
    `raw[i]` keeps field i as a raw int64 ("i") or bool ("b"), "" as a
    reference (see "Raw slots" below)."""
    attrs = tuple(slot_name(i) for i in range(len(names)))
    raw = raw if any(raw) else ()
    if raw:
        shape = _raw_shape(attrs, raw)
    else:
        shape = type("SlotInstance", (SlotInstance,), {"__slots__": attrs})
    shape.NAMES = names
    shape.INDEX = {n: i for i, n in enumerate(names)}
    shape.ATTRS = attrs
    shape.RAW = raw or ("",) * len(names)
    shape.DESCS = tuple(shape.__dict__[a] for a in attrs)
    shape.SIZE = HEADER + CONTAINER + FIELD * len(names)  # (Instance.size's formula)
    if attrs:
        shape.ALL = attrgetter(*attrs)  # type: ignore[attr-defined]
    shape_maker(shape)
    return shape


# Where the first slot of every shape is, in bytes from the object's start: after
# the Instance part (header, `mark`, `cls`, `fields`). Slot i is at
# SLOT_BASE + 8 * i. (jit/native/layout.py probes it on live objects.)
SLOT_BASE = SlotInstance.__basicsize__


def is_instance_type(t: type) -> bool:
    """`t` is Instance or a shape: a guest instance's Python type."""
    return t is Instance or t.__base__ is SlotInstance


def shape_of(heap: Any, cls: Any) -> type[SlotInstance] | None:
    """The shape of `cls`'s instances in this heap, or None when they keep a
    dict (an open class, or a heap that does not lay out)."""
    shape = cls.layout
    if shape is not None:
        return shape if shape is not False else None
    if cls.open or not heap.lays_out:
        cls.layout = False
        return None
    names = tuple(cls.template)
    u = cls.unboxed if heap.unboxes else None
    raw = tuple(u.get(n, "") for n in names) if u else ()
    shape = heap.shapes.get((names, raw))
    if shape is None:
        shape = heap.shapes[(names, raw)] = make_shape(names, raw)
    cls.layout = shape
    return shape


def new_instance(heap: Any, cls: Any) -> Instance:
    """A new instance of cls (not yet allocated: the caller passes it to
    `heap.alloc` or `heap.admit`), its fields the class template's values:
    laid out when the heap and the class allow (`shape_of`), else a dict."""
    shape = cls.layout
    if shape is None:
        shape = shape_of(heap, cls)
    if not shape:
        return Instance(cls, dict(cls.template))
    return shape.MAKE(cls)


# --------------------------------------------------------------------------
# Each shape's maker (helper lvm): setting the slots one descriptor call at a
# time costs ~2 us for four fields, three times the dict instance's
# `Instance(cls, dict(template))`, which allocation-heavy programs (AWFY
# List, Storage, Bounce) pay per object. `shape_maker` generates, once per
# shape (make_shape), a function that stores every slot in one unpacking of
# the template's values (the template's order is the shape's: shape_of keys
# shapes by `tuple(cls.template)`), and the shape's refs() and free().


def shape_maker(shape: type[SlotInstance]) -> Any:
    """Generate the shape's maker `make(cls) -> instance` (not allocated: the
    same object the descriptor loop would make, field for field), refs() and
    free(); set them on the shape and return the maker."""
    n = len(shape.NAMES)
    lines = ["def make(cls):", "    o = new(S)", "    o.cls = cls", "    dset(o, None)"]
    if n and not any(shape.RAW):
        lines.append(f"    {', '.join(f'o.{a}' for a in shape.ATTRS)}, = cls.template.values()")
    elif n:  # (a raw slot's nil, a field init assigns before anyone reads it, is 0 or false)
        lines.append(f"    {', '.join(f'v{k}' for k in range(n))}, = cls.template.values()")
        lines += [f"    o.{a} = v{k}" + _RAW_NIL[r] for k, (a, r) in enumerate(zip(shape.ATTRS, shape.RAW))]
    lines.append("    return o")
    ns: dict[str, Any] = {"new": shape.__new__, "S": shape, "dset": _DICT_SLOT.__set__}
    # The collector's per-object methods, generated too (the same results
    # as SlotInstance's loops over the descriptors, without the loops): a
    # trace calls refs() and a sweep free() on every instance it visits.
    slots = [f"self.{a}" for a in shape.ATTRS]
    lines += ["def refs(self):", f"    return [{', '.join([*slots, 'self.cls'])}]"]
    held = [s for s, r in zip(slots, shape.RAW) if not r]  # (a raw slot holds no reference: nothing to poison)
    lines += ["def free(self):", f"    {' = '.join([*held, 'self.cls'])} = POISON"]
    ns["POISON"] = _POISON
    exec("\n".join(lines), ns)  # noqa: S102 - our text: slot names _0.._n only
    shape.refs = ns["refs"]  # type: ignore[method-assign]
    shape.free = ns["free"]  # type: ignore[method-assign]
    make = shape.MAKE = ns["make"]
    return make


# --------------------------------------------------------------------------
# Raw slots. A field declared `int` (or `bool`) that nothing ever sees
# holding anything but an int (a bool) -- vm/object_ops.py `unboxed_fields`:
# a constant default of its type, or assigned by init before the instance
# can be seen -- is kept as a C int64 (a bool's byte) in its slot, not a
# reference to an object: native code reads and writes it with one load or
# store (no type check, no unboxing, no reference count, no allocation for
# a new value, no write barrier: an int or a bool is no heap object).
# CPython's `__slots__` can only hold references, so such a shape is made
# with the C API (`PyType_FromSpecWithBases`, through ctypes), with a
# T_LONGLONG (T_BOOL) member for a raw slot and T_OBJECT_EX for the others,
# at the same offsets a `__slots__` shape has (SLOT_BASE + 8 * i; a bool
# uses the slot's first byte). The interpreter and the Python JIT read and
# write it through the same member descriptors (`getattr` boxes, `setattr`
# unboxes), so they run on it unchanged. CPython's collector visits only
# the T_OBJECT_EX members; the type's traverse, clear and dealloc are those
# of a `__slots__` shape (subtype_*). A store of anything but an int64
# into an int slot raises, and CPython has then written -1 there (a bool
# slot checks first): every store into one is checked (SET_FIELD, the
# debugger's set_child) or proven (SET_FIELD_PROVEN, native code) of the
# field's type first, and a TinyLang int is an int64 (overflow is an
# error). Floats stay boxed: native code's in-place update of a float
# nothing else references already allocates nothing (NBody), and a double
# slot would hand the interpreter a new float object at every read.

_T_OBJECT_EX, _T_LONGLONG, _T_BOOL = 16, 17, 14
_MEMBER = {"": _T_OBJECT_EX, "i": _T_LONGLONG, "b": _T_BOOL}
_RAW_NIL = {"": "", "i": " or 0", "b": " or False"}
_TP_CLEAR, _TP_DEALLOC, _TP_MEMBERS, _TP_TRAVERSE = 51, 52, 72, 71
_HAVE_VERSION_TAG, _HAVE_GC = 1 << 18, 1 << 14


def _raw_shape(attrs: tuple[str, ...], raw: tuple[str, ...]) -> type[SlotInstance]:
    """A shape type whose slot i is a raw int64 or bool where raw[i] says
    so, made with the C API (the comment above); make_shape sets its class
    attributes."""
    import ctypes

    MemberDef, Slot, Spec, api, plain = _capi()
    names = [a.encode() for a in attrs]  # (the type keeps pointers to them: kept alive on the shape)
    members = (MemberDef * (len(attrs) + 1))()
    for i, (name, r) in enumerate(zip(names, raw)):
        members[i] = MemberDef(name, _MEMBER[r], SLOT_BASE + 8 * i, 0, None)
    slots = (Slot * 5)()
    slots[0] = Slot(_TP_MEMBERS, ctypes.cast(members, ctypes.c_void_p))
    for k, which in enumerate((_TP_TRAVERSE, _TP_CLEAR, _TP_DEALLOC), 1):
        slots[k] = Slot(which, api.PyType_GetSlot(plain, which))
    spec = Spec(b"tinyvm.heap.layout.SlotInstance", SLOT_BASE + 8 * len(attrs), 0, _HAVE_VERSION_TAG | _HAVE_GC, slots)
    shape = api.PyType_FromSpecWithBases(ctypes.byref(spec), (SlotInstance,))
    shape._keep = (names, members)  # type: ignore[attr-defined]
    return shape


@functools.cache
def _capi() -> tuple:
    """The C structures and functions _raw_shape uses, and a `__slots__`
    shape whose traverse, clear and dealloc (CPython's subtype_*, which
    walk the members) a raw shape takes: made once per process, when a
    program first has a raw slot (ctypes is not imported before)."""
    import ctypes

    class MemberDef(ctypes.Structure):
        _fields_ = [("name", ctypes.c_char_p), ("type", ctypes.c_int), ("offset", ctypes.c_ssize_t), ("flags", ctypes.c_int), ("doc", ctypes.c_char_p)]

    class Slot(ctypes.Structure):
        _fields_ = [("slot", ctypes.c_int), ("pfunc", ctypes.c_void_p)]

    class Spec(ctypes.Structure):
        _fields_ = [("name", ctypes.c_char_p), ("basicsize", ctypes.c_int), ("itemsize", ctypes.c_int), ("flags", ctypes.c_uint), ("slots", ctypes.POINTER(Slot))]

    api = ctypes.pythonapi
    api.PyType_GetSlot.restype = ctypes.c_void_p
    api.PyType_GetSlot.argtypes = [ctypes.py_object, ctypes.c_int]
    api.PyType_FromSpecWithBases.restype = ctypes.py_object
    api.PyType_FromSpecWithBases.argtypes = [ctypes.POINTER(Spec), ctypes.py_object]
    plain = type("SlotInstance", (SlotInstance,), {"__slots__": ("_10",)})
    return MemberDef, Slot, Spec, api, plain
