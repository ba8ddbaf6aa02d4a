"""CPython's object layout as native code sees it: offsets, type addresses, C API symbols.

Native code reads and writes guest arrays in place (docs/native.md, "Data
representation"): an `Array` (heap/objects.py) keeps its elements in a
Python `list`, and machine code follows the pointers CPython itself uses --

    Array        ob_refcnt, ob_type, mark, items      (items: a __slots__ member)
    list         ob_refcnt, ob_type, ob_size, ob_item (PyObject **), allocated
    float        ob_refcnt, ob_type, ob_fval (double)
    int          ob_refcnt, ob_type, ob_size (sign * digit count), ob_digit[] (30-bit digits)
    bool         the two singletons Py_True and Py_False (compared by address)

None of this is a stable ABI, so `probe()` does not trust constants: it
measures every offset on live objects of this interpreter (a list whose
ob_item and size it knows, floats, ints of 1, 2 and 3 digits, an Array
whose `items` it knows) and returns None, with the reason, when anything is
not as expected (another CPython version, a debug build counting
references, another digit size). The native tier then compiles no function
touching arrays and logs why; everything else works as before.

Writes box their value with `PyLong_FromLongLong` / `PyFloat_FromDouble`
(addresses from ctypes.pythonapi, registered with LLVM by name) and keep
reference counts exact: the new element's reference is the list's, the old
element loses one, and a count reaching zero calls `_Py_Dealloc` as
Py_DECREF does. Code doing this must hold the GIL: the engine calls such
modules through a `ctypes.PYFUNCTYPE` prototype (CFUNCTYPE would release it).
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any
from dataclasses import dataclass

WORD = 8


@dataclass(frozen=True)
class Layout:
    """Offsets (bytes) and addresses measured on this interpreter by probe()."""

    refcnt: int  # ob_refcnt in every object
    type: int  # ob_type in every object
    array_items: int  # Array.items (the list) in an Array
    list_size: int  # ob_size in a list
    list_item: int  # ob_item (PyObject **) in a list
    float_val: int  # ob_fval in a float
    long_size: int  # ob_size in an int (sign * number of digits)
    long_digit: int  # ob_digit[0] in an int
    digit_bits: int  # 30
    int_type: int  # &PyLong_Type
    float_type: int  # &PyFloat_Type
    true: int  # Py_True
    false: int  # Py_False
    small_ints: int  # int -5's offset in _PyRuntime (CPython's cache of -5..256, one object every small_stride bytes)
    small_stride: int
    symbols: dict  # C API name -> address (registered with llvmlite.binding.add_symbol)


_cache: list = []  # [(Layout | None, reason)] once per process: the interpreter does not change


def _word(addr: int, off: int) -> int:
    return ctypes.c_int64.from_address(addr + off).value


def probe() -> tuple[Layout | None, str]:
    """The layout, or (None, why native array support is off)."""
    return _once(_cache, _probe)


def _once(cache: list, measure: Any) -> Any:
    """measure()'s result, measured once per process (the layout is the
    interpreter's); any surprise turns the feature off, never the VM."""
    if cache:
        return cache[0]
    try:
        got = measure()
    except Exception as e:  # noqa: BLE001 - any surprise turns the feature off, never the VM
        got = (None, f"probe failed: {type(e).__name__}: {e}")
    cache.append(got)
    return got


def _find(addr: int, size: int, want: int, start: int = 0) -> int:
    for off in range(start, size, WORD):
        if _word(addr, off) == want:
            return off
    raise LookupError(f"no word {want:#x} in the first {size} bytes")


def _probe() -> tuple[Layout | None, str]:
    from ...heap.objects import Array

    if sys.implementation.name != "cpython":
        return None, f"not CPython ({sys.implementation.name})"
    if hasattr(sys, "gettotalrefcount"):
        return None, "a debug build of CPython (reference counting differs)"
    if sys.version_info[:2] != (3, 11):
        # 3.12 makes some objects immortal and changes int's layout: not verified here.
        return None, f"CPython {sys.version_info[0]}.{sys.version_info[1]} (the layout is verified for 3.11)"
    if sys.int_info.bits_per_digit != 30 or sys.int_info.sizeof_digit != 4:
        return None, f"ints with {sys.int_info.bits_per_digit}-bit digits"
    if ctypes.sizeof(ctypes.c_void_p) != WORD:
        return None, "not a 64-bit build"
    obj = object()
    refcnt = 0
    typ = WORD
    if _word(id(obj), typ) != id(object):
        return None, "ob_type is not the second word"
    before = _word(id(obj), refcnt)
    keep = [obj, obj]  # noqa: F841 - two more references
    if _word(id(obj), refcnt) != before + 2:
        return None, "ob_refcnt is not the first word"
    # list: ob_size then ob_item; check ob_item[k] is element k.
    elems = [object() for _ in range(5)]
    lst = list(elems)
    a = id(lst)
    list_size = _find(a, list.__basicsize__, 5, 2 * WORD)
    list_item = list_size + WORD
    items = _word(a, list_item)
    if any(_word(items, k * WORD) != id(e) for k, e in enumerate(elems)):
        return None, "list ob_item is not where expected"
    # Array.items: the slot holding the list.
    arr = Array(lst)
    array_items = _find(id(arr), type(arr).__basicsize__, a, 2 * WORD)
    # float
    x = 1.0000000000000002
    float_val = 2 * WORD
    if ctypes.c_double.from_address(id(x) + float_val).value != x:
        return None, "float ob_fval is not the third word"
    # int: ob_size = sign * ndigits, digits (uint32, 30 bits) after it.
    long_size, long_digit = 2 * WORD, 3 * WORD
    for v in (0, 7, -7, 1 << 40, -(1 << 40), (1 << 62) + 5, -(1 << 63)):
        n = _word(id(v), long_size)
        m = abs(v)
        digits = []
        while m:
            digits.append(m & ((1 << 30) - 1))
            m >>= 30
        if n != (len(digits) if v >= 0 else -len(digits)):
            return None, f"int ob_size of {v} is {n}"
        got = [ctypes.c_uint32.from_address(id(v) + long_digit + 4 * k).value for k in range(len(digits))]
        if got != digits:
            return None, f"int digits of {v} are not where expected"
    api = ctypes.pythonapi
    symbols = {}
    for name in ("PyLong_FromLongLong", "PyFloat_FromDouble", "_Py_Dealloc", "PyLong_AsLongLongAndOverflow"):
        symbols[name] = ctypes.cast(getattr(api, name), ctypes.c_void_p).value
    for name, want in (("PyLong_Type", id(int)), ("PyFloat_Type", id(float)), ("_Py_TrueStruct", id(True)), ("_Py_FalseStruct", id(False))):
        symbols[name] = ctypes.addressof(ctypes.c_char.in_dll(api, name))
        if symbols[name] != want:
            return None, f"{name} is not the object Python uses"
    # Small ints (-5..256) are preallocated in _PyRuntime, evenly spaced:
    # stores of them need no call (PyLong_FromLongLong returns these too).
    runtime = ctypes.addressof(ctypes.c_char.in_dll(api, "_PyRuntime"))
    symbols["_PyRuntime"] = runtime
    stride = id(int("-4")) - id(int("-5"))
    if any(id(int(str(v))) != id(-5) + (v + 5) * stride for v in range(-5, 257)):
        return None, "the small ints are not one array"
    small = id(-5) - runtime
    if not 0 <= small < 1 << 24:
        return None, "the small ints are not in _PyRuntime"
    lay = Layout(
        refcnt, typ, array_items, list_size, list_item, float_val, long_size, long_digit, 30,
        id(int), id(float), id(True), id(False), small, stride, symbols,
    )
    return lay, ""


def register(llvm: object, lay: Layout) -> None:
    """Make the C API functions native code calls resolvable by MCJIT."""
    for name, addr in lay.symbols.items():
        llvm.add_symbol(name, addr)  # type: ignore[attr-defined]


def array_of(addr: int) -> object:
    """The guest Array at `addr` (a native array value), for deopt and tests.
    Only valid while something else keeps the Array alive (the frame does)."""
    return ctypes.cast(addr, ctypes.py_object).value


@dataclass(frozen=True)
class PackedLayout:
    """A PackedArray (heap/packed.py) as native code sees it, measured by
    probe_packed(): the class's address, and of its `array.array` buffer
    (in the same `items` slot an Array's list is in) the words native code
    reads -- `ob_size` and `ob_item` (a `char *` to the raw elements) at the
    offsets a list has them (so an array's words are loaded the same way
    for both representations: arrays.py), and `ob_descr`, whose value says
    the typecode ('q', 'd', 'b': one static descriptor per typecode)."""

    type: int  # id(PackedArray)
    size: int  # ob_size in an array.array (== Layout.list_size)
    item: int  # ob_item (char *) in an array.array (== Layout.list_item)
    descr: int  # ob_descr in an array.array
    descrs: dict  # typecode -> the ob_descr pointer of that typecode


_packed_cache: list = []  # [(PackedLayout | None, reason)] once per process


def probe_packed() -> tuple[PackedLayout | None, str]:
    """PackedArray's layout, or (None, why native code treats every
    PackedArray as a failure exit: correct, the interpreter runs it)."""
    return _once(_packed_cache, _probe_packed)


def _probe_packed() -> tuple[PackedLayout | None, str]:
    from array import array

    from ...heap.packed import PackedArray

    lay, why = probe()
    if lay is None:
        return None, why
    if PackedArray.__basicsize__ != type(PackedArray.__mro__[1]([])).__basicsize__ or PackedArray.__slots__ != ():
        return None, "PackedArray does not have Array's layout"
    descrs: dict = {}
    descr = None
    for code, vals in (("q", [5, -(1 << 63), (1 << 63) - 1, 0, -1]), ("d", [1.5, -0.0, float("inf"), -2.25, 3.0]), ("b", [1, 0, 0, 1, 1])):
        buf = array(code, vals)
        pa = PackedArray(buf)
        if _word(id(pa), lay.type) != id(PackedArray) or _word(id(pa), lay.array_items) != id(buf):
            return None, "a PackedArray's buffer is not in the items slot"
        if _word(id(buf), lay.list_size) != len(vals):
            return None, "array.array's ob_size is not where a list's is"
        raw = _word(id(buf), lay.list_item)
        if raw != buf.buffer_info()[0]:
            return None, "array.array's ob_item is not where a list's is"
        size = buf.itemsize
        if size != (1 if code == "b" else 8):
            return None, f"array('{code}') has {size}-byte items"
        ctype = {"q": ctypes.c_int64, "d": ctypes.c_double, "b": ctypes.c_int8}[code]
        if [ctype.from_address(raw + k * size).value for k in range(len(vals))] != vals:
            return None, f"array('{code}')'s elements are not where expected"
        # ob_descr: the word after ob_item and allocated that is the same for
        # two arrays of one typecode and differs between typecodes.
        other = array(code, vals[:2])
        if descr is None:
            for off in range(lay.list_item + WORD, type(buf).__basicsize__, WORD):
                w = _word(id(buf), off)
                if w and w == _word(id(other), off) and w != len(vals) and w != raw:
                    descr = off
                    break
            if descr is None:
                return None, "no ob_descr in array.array"
        d = _word(id(buf), descr)
        if d != _word(id(other), descr) or d in descrs.values():
            return None, "array.array's ob_descr does not tell the typecodes apart"
        descrs[code] = d
    return PackedLayout(id(PackedArray), lay.list_size, lay.list_item, descr, descrs), ""


@dataclass(frozen=True)
class SlotLayout:
    """Laid-out instances (heap/layout.py `SlotInstance`, "shapes") as native
    code sees them, measured by probe_slots(): the `cls` and `fields` words
    where an `Instance` has them, slot i of every shape at `base + 8 * i`
    (`heap.layout.SLOT_BASE`), each slot a plain object pointer holding its
    own reference (a member descriptor of type T_OBJECT_EX), or a raw int64
    (T_LONGLONG), or a raw bool's byte (T_BOOL): a shape's RAW says which;
    probe_raw_ok)."""

    cls: int  # the cls word (== fields.FieldLayout.instance_cls)
    fields: int  # the fields word (None in a shape)
    base: int  # slot _0
    tp_base: int  # PyTypeObject.tp_base: a shape's is SlotInstance (objects.py's `==`: an instance by identity)


_slots_cache: list = []  # [(SlotLayout | None, reason)] once per process


def probe_slots() -> tuple[SlotLayout | None, str]:
    """The shapes' layout, or (None, why native code must not read slots):
    then `jit/tier.py` leaves `heap.lays_out` off and every instance keeps
    its dict (native code refuses nothing: it reads dicts as before)."""
    return _once(_slots_cache, _probe_slots)


def probe_slots_ok() -> bool:
    """`probe_slots()` accepted the layout (the check jit/tier.py makes)."""
    return probe_slots()[0] is not None


def _probe_slots() -> tuple[SlotLayout | None, str]:
    from ...heap.layout import SLOT_BASE, SlotInstance, make_shape
    from ...heap.objects import Instance

    lay, why = probe()
    if lay is None:
        return None, why
    if SlotInstance.__slots__ != () or Instance.__slots__ != ("cls", "fields"):
        return None, "SlotInstance adds slots of its own"
    cls, marker = object(), object()
    plain = Instance(cls, {})  # type: ignore[arg-type]
    cls_off = _find(id(plain), Instance.__basicsize__, id(cls), 2 * WORD)
    fields_off = _find(id(plain), Instance.__basicsize__, id(plain.fields), 2 * WORD)
    for n in (1, 2, 5, 9, 11, 12, 40):  # (past 10: CPython lays __slots__ out sorted by name)
        names = tuple(f"f{k}" for k in range(n))
        shape = make_shape(names)
        if shape.__basicsize__ != SLOT_BASE + WORD * n or shape.__dictoffset__ or shape.__weakrefoffset__:
            return None, f"a shape of {n} fields is not {n} words after SLOT_BASE"
        obj = shape.__new__(shape)
        if _word(id(obj), lay.type) != id(shape):
            return None, "a shape's ob_type is not the second word"
        obj.cls = cls
        Instance.__dict__["fields"].__set__(obj, None)
        vals = [object() for _ in range(n)]
        for d, v in zip(shape.DESCS, vals):
            d.__set__(obj, v)
        if _word(id(obj), cls_off) != id(cls) or _word(id(obj), fields_off) != id(None):
            return None, "a shape's cls or fields word is not an Instance's"
        for k, v in enumerate(vals):
            if _word(id(obj), SLOT_BASE + WORD * k) != id(v):
                return None, f"slot {k} is not at SLOT_BASE + {WORD * k}"
        # a slot holds a reference of its own (native stores drop the old one)
        before = _word(id(marker), lay.refcnt)
        shape.DESCS[0].__set__(obj, marker)
        if _word(id(marker), lay.refcnt) != before + 1 or _word(id(obj), SLOT_BASE) != id(marker):
            return None, "a slot store does not take a reference"
        shape.DESCS[0].__set__(obj, None)
        if _word(id(marker), lay.refcnt) != before:
            return None, "a slot store does not drop the old reference"
    # tp_base: the word of a shape's type object that is SlotInstance's
    # address, and of SlotInstance's that is Instance's
    shape = make_shape(("a",))
    tp_base = None
    for off in range(2 * WORD, type.__basicsize__, WORD):
        if _word(id(shape), off) == id(SlotInstance) and _word(id(SlotInstance), off) == id(Instance) and _word(id(Instance), off) != id(SlotInstance):
            tp_base = off
            break
    if tp_base is None:
        return None, "no tp_base in a type object"
    return SlotLayout(cls_off, fields_off, SLOT_BASE, tp_base), ""


_raw_cache: list = []  # [(True | None, reason)] once per process


def probe_raw_ok() -> bool:
    """Whether a shape's raw slots (heap/layout.py "Raw slots") are where
    native code reads them (an int64, a bool's byte): then a VM with this
    tier keeps such fields raw (jit/tier.py `Heap.unboxes`); else boxed,
    as every other VM does."""
    return probe_slots()[0] is not None and _once(_raw_cache, _probe_raw)[0] is not None


def _probe_raw() -> tuple[bool | None, str]:
    from ...heap.layout import SLOT_BASE, SlotInstance, make_shape
    from ...heap.objects import Instance

    raw = make_shape(("a", "b", "c", "d"), ("", "i", "", "b"))
    if raw.__basicsize__ != SLOT_BASE + 4 * WORD or raw.__base__ is not SlotInstance or raw.__dictoffset__:
        return None, "a shape with raw slots is not laid out as the others"
    obj = raw.__new__(raw)
    Instance.__dict__["fields"].__set__(obj, None)
    marker, other = object(), object()
    for k, v in ((0, marker), (1, -(2**63)), (2, other), (3, True)):
        raw.DESCS[k].__set__(obj, v)
    if _word(id(obj), SLOT_BASE) != id(marker) or _word(id(obj), SLOT_BASE + WORD) != -(2**63) or _word(id(obj), SLOT_BASE + 2 * WORD) != id(other):
        return None, "a raw int slot is not an int64 at its slot"
    if _word(id(obj), SLOT_BASE + 3 * WORD) != 1:  # (the byte 1, the slot's other bytes 0 since the allocation)
        return None, "a raw bool slot is not a byte at its slot"
    ctypes.c_int64.from_address(id(obj) + SLOT_BASE + WORD).value = 2**63 - 1
    ctypes.c_int8.from_address(id(obj) + SLOT_BASE + 3 * WORD).value = 0
    if raw.DESCS[1].__get__(obj) != 2**63 - 1 or raw.DESCS[3].__get__(obj) is not False:
        return None, "a raw slot does not read the value written there"
    return True, ""


_members_cache: list = []  # [(int | None, reason)] once per process


def probe_members() -> int | None:
    """The offset of `tp_members` in a type object, where the machine-code
    sweep (sweep.py) finds which slots of a dead shape's instance hold
    references, or None (its Python `free()` then): checked on a
    `__slots__` shape of twelve fields and a raw one, each member a
    PyMemberDef (name, type, offset, ...: MEMBER_SIZE bytes) at
    MEMBER_TYPE/MEMBER_OFFSET, the list ending at a NULL name."""
    return _once(_members_cache, _probe_members)[0] if probe_slots_ok() else None


MEMBER_SIZE, MEMBER_TYPE, MEMBER_OFFSET = 40, 8, 16  # (PyMemberDef: char *name; int type; Py_ssize_t offset; int flags; char *doc)
T_OBJECT_EX = 16  # (structmember.h: a reference slot; raw ones are T_LONGLONG 17, T_BOOL 14)


def _members(addr: int) -> dict[int, tuple[str, int]]:
    out = {}
    while (name := _word(addr, 0)) != 0:
        out[_word(addr, MEMBER_OFFSET)] = (ctypes.string_at(name).decode(), ctypes.c_int32.from_address(addr + MEMBER_TYPE).value)
        addr += MEMBER_SIZE
    return out


def _probe_members() -> tuple[int | None, str]:
    from ...heap.layout import SLOT_BASE, make_shape, slot_name

    plain = make_shape(tuple(f"f{k}" for k in range(12)))
    want = {SLOT_BASE + WORD * k: (slot_name(k), T_OBJECT_EX) for k in range(12)}
    if type.__itemsize__ != MEMBER_SIZE:
        return None, "a PyMemberDef is not 40 bytes"
    try:  # (a heap type keeps its members right after itself: the word that points there)
        found = _find(id(plain), type.__basicsize__, id(plain) + type.__basicsize__, 2 * WORD)
    except LookupError:
        return None, "no tp_members in a shape's type object"
    if _members(_word(id(plain), found)) != want:
        return None, "a shape's tp_members are not its slots"
    raw = make_shape(("a", "b", "c", "d"), ("", "i", "", "b"))
    kinds = (T_OBJECT_EX, 17, T_OBJECT_EX, 14)
    if _members(_word(id(raw), found)) != {SLOT_BASE + WORD * k: (slot_name(k), t) for k, t in enumerate(kinds)}:
        return None, "a raw shape's tp_members are not its slots"
    return found, ""
