"""Fields in native code: reads and writes of scalar-typed fields of instances and records.

An object value in native code (machine type "p": `self`, a parameter of a
class or record type, an object read from a field) is the address of the
guest `Instance` or `Record` (heap/objects.py), borrowed: the interpreter
frame that passed it, or the field that held it, keeps it alive (and after
a store over that field, stores.py, the heap's allocation list does: no
collection runs inside native code; a call out leaves native code first).

The data representation is the interpreter's own: an instance keeps its
fields in a Python dict (`Instance.fields`, name -> value). Native code
reads it in place, so the interpreter, the Python JIT and native code work
on the same objects at all times (docs/native.md, "Fields: the data
representation", which also has the measurement that kept the dict rather
than a per-class slot layout):

- the receiver's ob_type is compared with the `Instance` (or `Record`)
  class (else a failure exit: the interpreter does what it does with a
  module, a tuple or nil);
- its `fields` slot (offset probed at start-up, as Array.items) gives the
  dict; the value (borrowed) is read inline from the dict's entry at the
  field's index in the class's template, guarded by the entry's key being
  the interned name (FieldLowering.lookup), else found by
  `_PyDict_GetItem_KnownHash(dict, key, hash)` with the interned field name
  and its hash (both per process:
  the module has one `@"tvm.fk.<name>"` global of two words per name, which
  `bind` fills after the object code is loaded, so the code holds no
  address of the process that made it and the disk cache stays valid);
- a missing field (NULL: a method of that name, or a field another class
  has) is a failure exit at the get_field: the interpreter makes the bound
  method or raises its own TypeError with its trace;
- the value is unboxed as arrays.py does for elements (the same code:
  compact ints inline, floats' ob_fval, bools by address), a value of
  another type being a failure exit there too;
- a scalar read (int, float, bool: `scalar_read`) keeps only its fast path
  inline (the entry found, a value of the field's type, an int of at most
  two digits); the lookup's call, the missing field, another type and a
  big int's unboxing are one call of `tvm.fget.i`/`.f`/`.b` (fieldslow.py,
  compiled once per process) returning the value and the object it read
  (0: fail at the get_field), which a store that follows takes over.

Writes (`set_field_proven`: the checker proved the value's type; an effect
in Typed.effects): the old value is looked up as above (missing: a failure
exit, the interpreter raises or, for an open class, adds it); a float
whose only reference is the dict's (count 1) is overwritten in place (no
one else can see that object: NBody-like updates then allocate nothing),
as is an int of count 1 with room for the new digits (arrays.store_int);
otherwise the value is boxed and replaces the old one in the entry the
inline lookup found (`PyDict_SetItem` when the lookup called), reference
counts exact: one call of a helper compiled once per process
(fieldslow.py: `tvm.fset.i`, `tvm.fset.f`); a bool singleton goes into
the entry inline when the old value keeps a reference (`stores.dict_set`),
else through `tvm.fset.o`. Stores of object references
are stores.py's, with the write barrier (barrier.py).

GC: a scalar is no heap object: the
write barriers (docs/gc.md: the incremental collector shades the stored
value, the generational one remembers an old object that gets a young
reference) have nothing to do for a scalar store, so none is called there. Instances keep
their size (their field count does not change), so the heap's accounting
is untouched too.

Laid-out instances (heap/layout.py "shapes", `heap.lays_out`): when the
receiver's declared class is laid out, `slot_access` replaces all of the
above with a check of the receiver's type against the class's shape (once
per receiver; a subclass's shape by one call of fieldslow's `tvm.fslot`)
and one load of the slot; stores go through the same code as a dict
entry's, the slot's address less 8 standing for the entry and "0" for the
dict (docs/native.md, "Instances: the data representation (shapes)").

The field's machine type comes from its declared type: a record type says
it (`{x: int}`), a class is looked up by name among the VM's globals (the
class object, its `info.field_types` and its parents'). Nothing depends
on that lookup being right: every read checks the value's type.
"""

from __future__ import annotations

import ctypes
import re
import sys
from collections.abc import Callable
from typing import Any

from ...ir.nodes import Instr
from . import charges, invariant, objects
from .effects import stores_field
from .exactself import is_exact_self
from .fieldtypes import ITER_OPS, LL, OBJ_ARRAY, OPS, field_index, is_native_builtin, shape_index


PRELUDE = """@"tvm.ty.Instance" = global i64 0
@"tvm.ty.Record" = global i64 0
@"tvm.ty.Array" = global i64 0
@"tvm.ty.Packed" = global i64 0
@"tvm.pk.i" = global i64 0
@"tvm.pk.f" = global i64 0
@"tvm.pk.b" = global i64 0
@"tvm.pk0.i" = global i64 0
@"tvm.pk0.f" = global i64 0
@"tvm.pk0.b" = global i64 0
@"tvm.pk1.b" = global i64 0
@PyList_Type = external global i8
declare i64 @_PyDict_GetItem_KnownHash(i64, i64, i64)
declare i32 @PyDict_SetItem(i64, i64, i64)
"""

_KEY = re.compile(r'@"tvm\.fk\.([A-Za-z_][A-Za-z0-9_]*)"')
# What may change an object's fields between two reads (a field store, any call).
_WRITERS = frozenset(("set_field", "set_field_proven", "call", "call_global", "call_method", "call_method_typed", "call_typed", "super_call"))
_CLS = re.compile(r'@"tvm\.cls\.([A-Za-z_][A-Za-z0-9_]*)"')
_SHAPE = re.compile(r'@"tvm\.sh\.([A-Za-z_][A-Za-z0-9_]*)"')  # (a class's shape: slot_check)
_COPY = {"i64": "add i64 {}, 0", "double": "fadd double {}, -0.0", "i1": "or i1 {}, false"}  # (a copy of an SSA value: x + -0.0 is x, also -0.0 and nan)
_LLT = {"i": "i64", "f": "double", "b": "i1"}
_KEEP: dict[str, str] = {}  # the interned field names the bound globals point to (kept alive)


class FieldLayout:
    """Offsets of the `fields` slot of Instance and Record, probed on live objects."""

    def __init__(self) -> None:
        from ...heap.objects import Instance, Record

        d: dict = {}
        c = object()
        self.instance = _find(Instance(c, d), d)  # type: ignore[arg-type]
        self.instance_cls = _find(Instance(c, d), c)  # type: ignore[arg-type]
        self.record = _find(Record(d), d)
        self.fast = _dict_layout_ok()


# CPython 3.11's dicts (Include/internal/pycore_dict.h), as an instance's
# fields are (a copy of its class's template: combined, unicode keys):
# PyDictObject.ma_keys at 32, ma_values (NULL: combined) at 40; the keys
# object's dk_log2_index_bytes (u8) at 9, dk_kind (u8, 1: unicode) at 10,
# dk_nentries at 24, the index table at 32, then 16-byte {me_key, me_value}
# entries in insertion order. Verified on live dicts by _dict_layout_ok.
_MA_KEYS, _MA_VALUES, _DK_LOG2_INDEX, _DK_KIND, _DK_NENTRIES, _DK_INDICES = 32, 40, 9, 10, 24, 32


def _dict_layout_ok() -> bool:
    """Whether entry k of a template copy is where FieldLowering.lookup reads it."""

    def w(a: int, off: int, t: Any = ctypes.c_int64) -> int:
        return t.from_address(a + off).value

    try:
        if sys.version_info[:2] != (3, 11):
            return False
        for n in (1, 3, 7, 12, 40):
            template = {f"f{k}": float(k) for k in range(n)}
            d = dict(template)
            keys = w(id(d), _MA_KEYS)
            if w(id(d), _MA_VALUES) != 0 or w(keys, _DK_KIND, ctypes.c_uint8) != 1 or w(keys, _DK_NENTRIES) != n:
                return False
            ent = keys + _DK_INDICES + (1 << w(keys, _DK_LOG2_INDEX, ctypes.c_uint8))
            for k, name in enumerate(d):
                if w(ent + 16 * k, 0) != id(name) or w(ent + 16 * k, 8) != id(d[name]):
                    return False
        return True
    except Exception:  # noqa: BLE001 - anything unexpected: the lookup call only
        return False


def entries_start(em: Any, keys: str, lib: str) -> str:
    """LLVM IR: the address of entry 0 of a combined dict's keys object
    `keys`, after its header and its index table of 2**lib bytes (lib: the
    i8 dk_log2_index_bytes, loaded)."""
    L = em.lines
    lz, sh, e0, base = em.tmp(), em.tmp(), em.tmp(), em.tmp()
    L.append(f"  {lz} = zext i8 {lib} to i64")
    L.append(f"  {sh} = shl i64 1, {lz}")
    L.append(f"  {e0} = add i64 {keys}, {_DK_INDICES}")
    L.append(f"  {base} = add i64 {e0}, {sh}")
    return base


def _find(obj: Any, d: Any) -> int:
    for off in range(16, type(obj).__basicsize__, 8):
        if ctypes.c_int64.from_address(id(obj) + off).value == id(d):
            return off
    raise LookupError(f"no fields slot in {type(obj).__name__}")


def index_bytes(ty: Any, recv: Instr) -> int | None:
    """log2 of the index table's bytes (dk_log2_index_bytes) in the keys
    of a copy of `recv`'s class's template, as every instance of a TinyLang
    class gets (`dict(cls.template)`: CPython clones the template's keys,
    their size with them), or None (a record, an unknown class, an open
    one, whose dicts may grow). FieldLowering.table compares the table's
    byte with it and computes the entries' start from the constant: the
    entry loads then depend on the keys pointer only, so the CPU starts
    them while the header's checks are still loading (Bounce: the first
    probe of each ball waited for the header's cache miss, then the
    entry's). A dict with another size fails the test and takes the call,
    as any other layout does."""
    from ...bytecode.types import ClassT

    t = ty.objs.get(recv)
    if not isinstance(t, ClassT) or ty.field_type is None or getattr(ty.field_type, "cls", None) is None:
        return None
    c = ty.field_type.cls(t.name)
    if c is None or getattr(c, "open", True):
        return None
    try:
        d = dict(c.template)
        keys = ctypes.c_int64.from_address(id(d) + _MA_KEYS).value
        if ctypes.c_int64.from_address(id(d) + _MA_VALUES).value != 0:
            return None
        return ctypes.c_uint8.from_address(keys + _DK_LOG2_INDEX).value
    except Exception:  # noqa: BLE001 - an unexpected class object: the loaded size
        return None


_LAYOUT: list = []


def field_layout() -> FieldLayout:
    if not _LAYOUT:
        _LAYOUT.append(FieldLayout())
    return _LAYOUT[0]


def register(llvm: Any) -> None:
    """The C API functions field code calls (resolved by MCJIT by name)."""
    from .codegen import bind_c_api

    bind_c_api(llvm, ("_PyDict_GetItem_KnownHash", "PyDict_SetItem"))
    llvm.add_symbol("PyList_Type", id(list))


def bind(engine: Any, text: str, classes: dict | None = None) -> None:
    """Fill the per-process globals of a loaded module: the guest classes'
    type addresses, per field name the interned key and its hash, and the
    class objects method calls check receivers against."""
    from ...heap.objects import Array, Instance, Record

    for name, cls in (("Instance", Instance), ("Record", Record), ("Array", Array)):
        addr = engine.get_global_value_address(f"tvm.ty.{name}")
        if addr:
            ctypes.c_int64.from_address(addr).value = id(cls)
    # PackedArray and its buffers' descriptors per kind (layout.probe_packed;
    # left 0 when packed arrays are off: no object has type 0, so native
    # code then takes every array for a list or refuses it)
    from .layout import probe_packed

    pk = probe_packed()[0]
    if pk is not None:
        from .arraymaker import protos

        zero = protos()  # (arraymaker.packed_inline's one-zero buffers)
        for name, v in (("ty.Packed", pk.type), ("pk.i", pk.descrs["q"]), ("pk.f", pk.descrs["d"]), ("pk.b", pk.descrs["b"]), ("pk0.i", id(zero["q"])), ("pk0.f", id(zero["d"])), ("pk0.b", id(zero["b"])), ("pk1.b", id(zero["b1"]))):
            addr = engine.get_global_value_address(f"tvm.{name}")
            if addr:
                ctypes.c_int64.from_address(addr).value = v
    for g, c in (classes or {}).items():
        if g.startswith("tvm.rc."):  # (a class this module makes instances of inline: the machine sweep may keep its dead ones, newinst.py)
            if getattr(c, "recycle", False) is None:
                c.recycle = []
            continue
        addr = engine.get_global_value_address(g)
        if addr:
            if g.startswith("tvm.sh."):  # (the class's shape; 0, no object's type, when its instances keep dicts here: every check takes the call)
                shape = getattr(c, "layout", None)
                ctypes.c_int64.from_address(addr).value = id(shape) if shape else 0
            else:
                ctypes.c_int64.from_address(addr).value = id(c)
    for name in set(_KEY.findall(text)):
        addr = engine.get_global_value_address(f"tvm.fk.{name}")
        if not addr:
            continue
        key = _KEEP.setdefault(name, sys.intern(name))
        ctypes.c_int64.from_address(addr).value = id(key)
        ctypes.c_int64.from_address(addr + 8).value = hash(key)


def globals_for(text: str) -> str:
    """The key and class globals a module's text names (one definition each)."""
    keys = "".join(f'@"tvm.fk.{n}" = global [2 x i64] zeroinitializer\n' for n in sorted(set(_KEY.findall(text))))
    shapes = "".join(f'@"tvm.sh.{n}" = global i64 0\n' for n in sorted(set(_SHAPE.findall(text))))
    return keys + shapes + "".join(f'@"tvm.cls.{n}" = global i64 0\n' for n in sorted(set(_CLS.findall(text))))


# ---------------------------------------------------------------- select.py


def entry_lines(em: Any) -> list[str]:
    """The stack slots of the function's iterators (their positions), in its entry block."""
    return [f"  %it{i.id} = alloca i64" for b in em.ty.fn.blocks for i in b.instrs if i.op == "get_iter" and em.ty.types.get(i) == "it"]


def iter_pos(em: Any, v: Instr, X: list[str]) -> str:
    """An exit record's second word of iterator v: its position now."""
    t = em.tmp("ipos")
    X.append(f"  {t} = load i64, i64* %it{v.id}")
    return t


# ---------------------------------------------------------------- emit.py
class _BoxByCall:
    """An ArrayLowering whose `box_int` is another emitter: arrays.store_int's
    in-place int store with its slow path (box, replace) one helper call
    (fieldslow.py). A stand-in rather than a parameter of store_int: that
    function is another helper's to change this round (narr)."""

    def __init__(self, arr: Any, box: Callable[[Instr, str], None]) -> None:
        self._arr = arr
        self.box_int = box

    def __getattr__(self, name: str) -> Any:
        return getattr(self._arr, name)


class FieldLowering:
    """The field ops of one function (`em` is its emit._FnEmitter)."""

    def __init__(self, em: Any) -> None:
        self.em = em
        self.arr = em._arrays()  # (loads, stores, unboxing and boxing: arrays.py)
        self.lay = field_layout()
        from .layout import probe_slots

        self.slots = probe_slots()[0]  # (laid-out instances' slots: slot_access; None: dict reads only)
        self.found: dict[Instr, tuple[str, str, str, str]] = {}  # get_field -> its lookup's (dict, key, value object (borrowed), entry): `earlier`
        self.shared: dict[tuple, list[tuple[Any, Any]]] = {}  # (what, ...) -> [(IR block, its SSA names)]: share_of
        self.pre: dict[Instr, list[tuple]] = {}  # receiver -> its probes made before a loop (invariant.prefetch)
        self.covered: dict[str, int] = {}  # a table's `usable` -> the last entry index it tested the count for

    def earlier(self, i: Instr) -> Instr | None:
        """An earlier get_field of the same field of the same receiver whose
        lookup i may take over (`found`): in i's IR block or a block
        dominating it through single-predecessor edges (an `if`'s arm),
        with nothing on the way that may change that field (a store of a
        field of that name, any call but a native built-in): the dict still
        holds the object it found, in the same entry. So a second read is
        that read's value (swap's three reads of `self.v`), and a store
        after a read (`self.x += d`, `if self.x > m { self.x = m }`) writes
        the entry the read found ("Compile time" in docs/native.md). For a
        read, a store of that field into that receiver (the same IR value)
        may be it too: the read is the value stored, of the same machine
        type (`self.x += d; if self.x > m`). Its
        code dominates i's (one IR block is straight-line code in LLVM,
        whatever exits it has); emit.py's `_dominates` also checks the OSR
        regions (osr.py: a block entered past the read)."""
        em = self.em
        name, recv = i.attrs[0], i.args[0]
        b = i.block
        if b is None:
            return None  # (a hoisted read's twin on an OSR path: hoist.py; nothing comes before it there)
        instrs = b.instrs
        k = instrs.index(i) if i in instrs else len(instrs)  # (not there: a read hoisted to the end of its loop's preheader, hoist.py)
        seen = {b}
        while True:
            for j in range(k - 1, -1, -1):
                x = instrs[j]
                if x.op == "get_field" and x.args[0] is recv and x.attrs[0] == name and x in self.found:
                    return x if x.block is i.block or em._dominates(x.block, i.block) else None
                if i.op == "get_field" and x.op in OPS and x.op != "get_field" and x.args[0] is recv and x.attrs[0] == name and em.ty.types.get(x.args[1]) == em.ty.types.get(i):
                    # (a read after a store of that field: the value stored)
                    return x if x.block is i.block or em._dominates(x.block, i.block) else None
                if x.op in _WRITERS and not (x.op in OPS and x.attrs[0] != name) and not is_native_builtin(x, em.ty.types) and stores_field(em, x, name) is not False:  # (False: a native call whose callees store no field of that name, effects.py)
                    return None
            if len(b.preds) != 1 or b.preds[0] in seen:
                return invariant.across(self, i) if i.op == "get_field" else None  # (loops: invariant.py)
            b = b.preds[0]
            seen.add(b)
            instrs = b.instrs
            k = len(instrs)

    def share_of(self, key: tuple) -> Any:
        """SSA names made for `key` (a receiver's dict, its keys table, a
        field's interned name) where they dominate the code now emitted:
        earlier in this IR block, or in a block dominating it within the
        same OSR regions (emit.py `_dominates`, as `checked`); None if not.
        What is shared never changes while native code runs: an object's
        fields dict, the dict's keys table (native code adds no field and
        removes none: a store replaces the value of an existing entry,
        stores.py), the process's interned names."""
        em = self.em
        b = em.block
        if b is None:
            return None
        for cb, names in self.shared.get(key, ()):
            if cb is b or em._dominates(cb, b):
                return names
        return None

    def share(self, key: tuple, names: Any) -> Any:
        if self.em.block is not None:
            self.shared.setdefault(key, []).append((self.em.block, names))
        return names

    def lower(self, i: Instr) -> None:
        em = self.em
        if i.op == "call":
            self.builtin(i)
            return
        if i.op in ITER_OPS:
            self.iterate(i)
            return
        if i in em.ty.methods:
            self.method_call(i)
            return
        if i.op == "get_index":
            # An element of an array of objects: its address, borrowed from
            # the list (native code never stores into such an array).
            a = self.arr.slot(i.args[0], i.args[1], i)
            e = self.arr.load(a, 0)
            em.lines.append(f"  %v{i.id} = add i64 {e}, 0")
            invariant.prefetch(self, i)  # (its reads inside a loop it is not in: their probes made here once)
            return
        m = em.ty.types[i] if i.op == "get_field" else em.ty.types[i.args[1]]
        sk = shape_index(em.ty, i.args[0], i.attrs[0]) if self.slots is not None else None
        prev = self.earlier(i)
        if prev is not None and i.op == "get_field":
            from .emit import LLTYPE

            copy = _COPY.get(LLTYPE.get(m, ""))
            if copy is not None:  # (its value, unboxed and checked by that read, or the value that store stored)
                em.lines.append(f"  %v{i.id} = {copy.format(em.val(prev if prev.op == 'get_field' else prev.args[1]))}")
                if i in em.hoisted_reads and prev in self.found:
                    self.found[i] = self.found[prev]  # (a read hoist.py made before a loop: the loop's reads take it, invariant.across)
                return
        elif prev is not None and not (sk is not None and sk[2]):  # (a raw slot's store is one store: slot_access)
            d, key, old, self.entry = self.found[prev]  # (the receiver checked, the field found: by that read)
            # (a float read checked the object's type, inline or in tvm.fget.f,
            # and an object's type never changes: the store tests its count only)
            self.write(i, m, d, key, old, typed=m == "f" and em.ty.types.get(prev) == "f")
            return
        if sk is not None:  # (a laid-out class: its slot, no dict)
            from .slots import slot_access

            slot_access(self, i, m, *sk)
            return
        d, key, h = self.dict_of(i)
        L = em.lines
        if i.op == "get_field" and m in ("i", "f", "b"):  # (a scalar read: its slow paths one call, fieldslow.py)
            self.found[i] = (d, key, self.scalar_read(i, m, d, key), self.entry)
            return
        old = self.lookup(i, d, key, h)
        null = em.tmp("fnull")
        L.append(f"  {null} = icmp eq i64 {old}, 0")
        em.fail_if(null, i)  # (no such field: the interpreter finds the method or raises)
        if i.op == "get_field":
            self.found[i] = (d, key, old, self.entry)
            self.read(i, m, old)
        else:
            self.write(i, m, d, key, old)

    def lookup(self, i: Instr, d: str, key: str, h: str) -> str:
        """The value of the field in dict d (borrowed; 0: missing). Inline
        first: an instance's dict is a copy of its class's template, so the
        field's entry is at its index in the template (a record's, at its
        index in the record type); the entry's key is compared with the
        interned name (the guard). Anything else (another layout, a split
        table, another class's or record's order) takes the call."""
        em = self.em
        L = em.lines
        k = field_index(em.ty, i.args[0], i.attrs[0]) if self.lay.fast else None
        if k is None:
            old = em.tmp("fv")
            L.append(f"  {old} = call i64 @_PyDict_GetItem_KnownHash(i64 {d}, i64 {key}, i64 {self.hash_of(i)})")
            self.entry = "0"  # (no entry address: a store calls PyDict_SetItem, stores.py)
            return old
        usable, nent, base = self.table(i, d)
        # Two branches, the entry's loads behind the first: on the hot path
        # they depend on nothing but the table's start (a linked list's
        # `x = x.next`: the select form, one branch, made each step wait
        # for the table's checks, List 13% slower).
        ent, ek, ev, slow, join = self._entry_at(k, usable, nent, base)
        same, some, hit = em.tmp(), em.tmp(), em.tmp()
        L.append(f"  {same} = icmp eq i64 {ek}, {key}")
        L.append(f"  {some} = icmp ne i64 {ev}, 0")
        L.append(f"  {hit} = and i1 {same}, {some}")
        fast = em.cur
        L.append(f"  {hit}.n = xor i1 {hit}, true")
        L.append(f"  br i1 {hit}.n, label %{slow}, label %{join}, !prof !0")  # (the call unlikely: out of the hot path's way, as scalar_read's)
        em.label(slow)
        called = em.tmp("fv")
        L.append(f"  {called} = call i64 @_PyDict_GetItem_KnownHash(i64 {d}, i64 {key}, i64 {self.hash_of(i)})")
        L.append(f"  br label %{join}")
        em.label(join)
        old = em.tmp("fv")
        L.append(f"  {old} = phi i64 [ {ev}, %{fast} ], [ {called}, %{slow} ]")
        self.entry = em.tmp("fent")  # (the entry's address, 0 when the call found it: a store's, stores.py)
        L.append(f"  {self.entry} = phi i64 [ {ent}, %{fast} ], [ 0, %{slow} ]")
        return old

    def scalar_read(self, i: Instr, m: str, d: str, key: str) -> str:
        """%v<i> = field i's value of machine type m (i, f, b) in dict d, and
        the object it was read from (borrowed; self.entry: its entry's
        address, or 0), for a store that follows. Inline, the fast path
        only (its branches to the call marked unlikely): the entry at the
        field's template index (as lookup) holds the key and a value of
        that type (an int of at most two digits); anything else,
        one call of fieldslow's `tvm.fget.<m>` (the lookup by hash, the
        type check and the unboxing) and its failure exit at i: ~4 blocks a
        read where the lookup's call, the missing field's exit and a big
        int's unboxing took ~7 (docs/native.md, "Compile time", round 8)."""
        from . import fieldslow
        from .arrays import _FALSE, _FLOAT_T, _INT_T, _TRUE

        em, arr = self.em, self.arr
        lay = arr.lay
        L = em.lines
        r = f"%v{i.id}"
        k = field_index(em.ty, i.args[0], i.attrs[0]) if self.lay.fast else None
        if k is None:
            v, o = fieldslow.get(em, i, m, d, key, self.hash_of(i))
            L.append(f"  {r} = trunc i64 {v} to i1" if m == "b" else f"  {r} = {_COPY[LL[m]].format(v)}")
            self.entry = "0"
            return o
        usable, nent, base = self.table(i, d)
        # lookup's two branches (the entry's loads behind the first, the
        # value's behind the second: the select forms, one branch, made the
        # loads wait for the checks, NBody ~10% slower), then the type's.
        # A receiver prefetched before the loop (invariant.py) had its
        # entries' keys and count checked there: `allok` is the first branch.
        pre = invariant.prefetched(self, i.args[0])
        ent, ek, ev, slow, join = self._entry_at(k, usable, nent, base, pre[1] if pre is not None else None)
        same, good = em.tmp(), em.tmp("fok")
        if ek is None:
            L.append(f"  {same} = or i1 true, true")
        else:
            L.append(f"  {same} = icmp eq i64 {ek}, {key}")
        if m == "b":
            t, f, tf = em.tmp(), em.tmp(), em.tmp()
            L.append(f"  {t} = icmp eq i64 {ev}, {_TRUE}")
            L.append(f"  {f} = icmp eq i64 {ev}, {_FALSE}")
            L.append(f"  {tf} = or i1 {t}, {f}")
            L.append(f"  {good} = and i1 {same}, {tf}")
            x = t
        else:
            some, hit, typed = em.tmp(), em.tmp(), em.tmp("ftype")[1:]
            L.append(f"  {some} = icmp ne i64 {ev}, 0")
            L.append(f"  {hit} = and i1 {same}, {some}")
            L.append(f"  {hit}.n = xor i1 {hit}, true")
            L.append(f"  br i1 {hit}.n, label %{slow}, label %{typed}, !prof !0")  # (the slow path unlikely: out of the hot path's way)
            em.label(typed)
            typ = arr.load(ev, lay.type)
            if m == "f":
                L.append(f"  {good} = icmp eq i64 {typ}, {_FLOAT_T}")
                x = arr.load(ev, lay.float_val, "double")
            else:  # (the type's own branch, not small_int's select of the object: the digits' loads then wait for the object's address only, not for its type's load too)
                isint, intok = em.tmp(), em.tmp("fint")[1:]
                L.append(f"  {isint} = icmp eq i64 {typ}, {_INT_T}")
                L.append(f"  {isint}.n = xor i1 {isint}, true")
                L.append(f"  br i1 {isint}.n, label %{slow}, label %{intok}, !prof !0")
                em.label(intok)
                x = self._small_int(ev, _INT_T, good, _INT_T)
        fast = em.cur
        L.append(f"  {good}.n = xor i1 {good}, true")
        L.append(f"  br i1 {good}.n, label %{slow}, label %{join}, !prof !0")  # (the slow path unlikely: out of the hot path's way)
        em.label(slow)
        v, o = fieldslow.get(em, i, m, d, key, self.hash_of(i))
        if m == "b":
            vb = em.tmp()
            L.append(f"  {vb} = trunc i64 {v} to i1")
            v = vb
        back = em.cur
        L.append(f"  br label %{join}")
        em.label(join)
        L.append(f"  {r} = phi {LL[m]} [ {x}, %{fast} ], [ {v}, %{back} ]")
        old = em.tmp("fv")
        L.append(f"  {old} = phi i64 [ {ev}, %{fast} ], [ {o}, %{back} ]")
        self.entry = em.tmp("fent")  # (0 when the call found it: a store's, stores.py)
        L.append(f"  {self.entry} = phi i64 [ {ent}, %{fast} ], [ 0, %{back} ]")
        return old

    def _small_int(self, e: str, typ: str, good: str, int_t: str) -> str:
        """The value of int object e (of type typ) when it has at most two
        digits (then `good`), as arrays.read's fast path; another type's
        object is read as `tvm.notint` (3 digits: not good)."""
        v, mag, _ = self.arr.small_int(e, typ, int_t)
        self.em.lines.append(f"  {good} = icmp ule i64 {mag}, 2")
        return v

    def _entry_at(self, k: int, usable: str, nent: str, base: str, allok: str | None = None) -> tuple[str, str | None, str, str, str]:
        """The first of a field probe's two branches: to a new block `slow`
        (marked unlikely: out of the hot path's way) when the table is not
        usable or has no entry k, else on to the entry's loads. Returns (the
        entry's address, its key, its value, the slow label, a label for the
        caller's join); the caller emits `slow` and `join`. With `allok`
        (invariant.prefetch: the count and the entries' keys checked before
        the loop) the branch is on it, and the key is not loaded (None)."""
        em, arr = self.em, self.arr
        L = em.lines
        ok, ent = em.tmp(), em.tmp("fent")
        if allok is not None:
            L.append(f"  {ok} = or i1 {allok}, false")
        elif k <= self.covered.get(usable, -1):  # (table tested the count for this entry: `usable` is enough)
            L.append(f"  {ok} = or i1 {usable}, false")
        else:
            c3 = em.tmp()
            L.append(f"  {c3} = icmp sgt i64 {nent}, {k}")
            L.append(f"  {ok} = and i1 {usable}, {c3}")
        probe, slow, join = em.tmp("fprobe")[1:], em.tmp("fslow")[1:], em.tmp("fgot")[1:]
        L.append(f"  {ok}.n = xor i1 {ok}, true")
        L.append(f"  br i1 {ok}.n, label %{slow}, label %{probe}, !prof !0")
        em.label(probe)
        L.append(f"  {ent} = add i64 {base}, {16 * k}")
        ek = arr.load(ent, 0) if allok is None else None
        ev = arr.load(ent, 8)
        return ent, ek, ev, slow, join

    def table(self, i: Instr, d: str) -> tuple:
        """The keys table's words, once per receiver where they dominate
        (share_of): whether the inline read applies (a combined table of
        unicode keys), its entry count, and where its entries start."""
        em, arr = self.em, self.arr
        L = em.lines
        tab = self.share_of(("keys", i.args[0], d))
        if tab is None:
            keys, vals = arr.load(d, _MA_KEYS), arr.load(d, _MA_VALUES)
            kind, lib, nent = arr.load(keys, _DK_KIND, "i8"), arr.load(keys, _DK_LOG2_INDEX, "i8"), arr.load(keys, _DK_NENTRIES)
            c1, c2, usable = (em.tmp() for _ in range(3))
            L.append(f"  {c1} = icmp eq i64 {vals}, 0")
            L.append(f"  {c2} = icmp eq i8 {kind}, 1")
            known = index_bytes(em.ty, i.args[0])
            if known is not None:  # (the template copy's index size: tested, not used, so the entries' address waits for no load of the table's header)
                c0, c2k = em.tmp(), em.tmp()
                L.append(f"  {c0} = icmp eq i8 {lib}, {known}")
                L.append(f"  {c2k} = and i1 {c2}, {c0}")
                c2 = c2k
            kmax = invariant.last_entry(self, i.args[0])
            if kmax is None:
                L.append(f"  {usable} = and i1 {c1}, {c2}")
            else:  # (every entry the function reads of this receiver there: one test here, none per read, _entry_at)
                c3, c12 = em.tmp(), em.tmp()
                L.append(f"  {c3} = icmp sgt i64 {nent}, {kmax}")
                L.append(f"  {c12} = and i1 {c1}, {c2}")
                L.append(f"  {usable} = and i1 {c12}, {c3}")
                self.covered[usable] = kmax
            if known is not None:
                base = em.tmp()
                L.append(f"  {base} = add i64 {keys}, {_DK_INDICES + (1 << known)}")
            else:
                base = entries_start(em, keys, lib)
            tab = self.share(("keys", i.args[0], d), (usable, nent, base))
        return tab

    def dict_of(self, i: Instr) -> tuple[str, str, str]:
        """The receiver's fields dict (its type checked), the field name's
        key and the global holding it (hash_of: its hash)."""
        em, arr = self.em, self.arr
        from ...bytecode.types import RecordT

        L = em.lines
        recv = em.val(i.args[0])
        rec = isinstance(em.ty.objs.get(i.args[0]), RecordT)
        want = f'@"tvm.ty.{"Record" if rec else "Instance"}"'
        if not em.checked((i.args[0], want)):  # (an object's type never changes: one check where it dominates, emit.py)
            pre = None if rec else invariant.prefetched(self, i.args[0])
            bad = em.tmp("bt")
            if pre is not None:  # (the type compared before the loop: fail here, at this read, as below)
                L.append(f"  {bad} = xor i1 {pre[0]}, true")
            else:
                t, w = arr.load(recv, arr.lay.type), em.tmp("cls")
                L.append(f"  {w} = load i64, i64* {want}, !invariant.load !90")
                L.append(f"  {bad} = icmp ne i64 {t}, {w}")
            em.fail_if(bad, i)
        d = self.share_of(("dict", i.args[0]))  # (its fields slot never changes while native code runs)
        if d is None:
            d = self.share(("dict", i.args[0]), arr.load(recv, self.lay.record if rec else self.lay.instance))
        g = f'@"tvm.fk.{i.attrs[0]}"'
        k = self.share_of(("key", g))
        if k is None:
            k = self.share(("key", g), em.tmp("key"))
            L.append(f"  {k} = load i64, i64* getelementptr ([2 x i64], [2 x i64]* {g}, i64 0, i64 0), !invariant.load !90")
        return d, k, g

    def hash_of(self, i: Instr) -> str:
        """The hash of field i's name, loaded where the lookup call needs it."""
        g = f'@"tvm.fk.{i.attrs[0]}"'
        kp, h = self.em.tmp("kp"), self.em.tmp("hash")
        self.em.lines.append(f"  {kp} = getelementptr [2 x i64], [2 x i64]* {g}, i64 0, i64 1")
        self.em.lines.append(f"  {h} = load i64, i64* {kp}, !invariant.load !90")
        return h

    def read(self, i: Instr, m: str, e: str) -> None:
        em, arr = self.em, self.arr
        L = em.lines
        if m in ("i", "f", "b"):
            arr.read(i, m, e)
            return
        # An object: an Array ([int]/[float]/[bool] field: its items must be
        # a list, as the entry checks of a parameter) or an instance/record
        # (its type is checked where it is used).
        if m in ("ai", "af", "ab", OBJ_ARRAY):
            items, packed = arr.check_array(i, e, m[1] if m != OBJ_ARRAY else None)  # (an array of scalars may be packed: arrays.py)
            L.append(f"  %v{i.id} = add i64 {e}, 0")
            arr.checked(i, items, packed)  # (its words for its accesses: listwords.py)
            return
        L.append(f"  %v{i.id} = add i64 {e}, 0")

    def write(self, i: Instr, m: str, d: str, key: str, old: str, typed: bool = False) -> None:
        em, arr = self.em, self.arr
        L = em.lines
        if m not in ("i", "f", "b"):
            from .stores import store_field

            store_field(self, i, d, key, old)  # (a reference: stores.py)
            return
        from . import fieldslow
        from .stores import _version_ok, dict_set

        v = em.val(i.args[1])
        if m == "b":  # (a singleton, borrowed: into the entry inline, else a call)
            new = em.tmp("new")
            L.append(f"  {new} = select i1 {v}, i64 ptrtoint (i8* @_Py_TrueStruct to i64), i64 ptrtoint (i8* @_Py_FalseStruct to i64)")
            dict_set(self, i, d, key, new, old)
            return
        # In place inline (the value's only reference is the entry's); a new
        # box and the entry's update one call of a helper compiled once per
        # process (fieldslow.py: ~10 blocks less a store).
        ent = getattr(self, "entry", "0") if _version_ok() or d == "0" else "0"  # (d "0": a slot, slot_access)
        done = em.tmp("stored")[1:]
        if m == "f":
            from .arrays import _FLOAT_T

            inplace, box = em.tmp("inpl")[1:], em.tmp("box")[1:]
            arr._if_sole(old, _FLOAT_T, inplace, box, typed=typed, likely=True)  # (arrays.store_float's fast path; a new box only the first time a shared float is replaced)
            arr.store(old, arr.lay.float_val, v, "double")
            L.append(f"  br label %{done}")
            em.label(box)
            fieldslow.call(em, i, fieldslow.FLOAT, d, ent, key, v)
        else:
            type(arr).store_int(_BoxByCall(arr, lambda _i, x: fieldslow.call(em, i, fieldslow.INT, d, ent, key, x)), i, old, v, done)
        L.append(f"  br label %{done}")
        em.label(done)

    def method_call(self, i: Instr) -> None:
        """A native call of the receiver's class's method (select: method_type),
        after checking the receiver is an instance of exactly that class; else,
        a call out (a subclass may override it: the VM looks it up)."""
        from .deopt import CALL_OUT, exit_state
        from .emit import _DUMMY

        em, arr = self.em, self.arr
        L = em.lines
        ty = em.ty
        r = f"%v{i.id}"
        if i in ty.effects:  # (group_of: the method is not native with these types)
            em.exit_to("true", exit_state(i.state, ty.types, reason=CALL_OUT))
            L.append(f"  {r} = {_DUMMY[ty.types[i]]}")
            return
        c, meth = ty.methods[i]
        if not is_exact_self(em, i.args[0], c):  # (self, whose class every way into this function proved: exactself.py)
            recv = em.val(i.args[0])
            t, bad = arr.load(recv, arr.lay.type), em.tmp("bt")
            from .slots import is_instance_of

            L.append(f"  {bad} = xor i1 {is_instance_of(em, t, c)}, true")  # (c's shape, or Instance when c is not laid out)
            cl, want, other, either = arr.load(recv, self.lay.instance_cls), em.tmp("cls"), em.tmp("oc"), em.tmp("bad")
            L.append(f'  {want} = load i64, i64* @"tvm.cls.{c.name}", !invariant.load !90')
            L.append(f"  {other} = icmp ne i64 {cl}, {want}")
            L.append(f"  {either} = or i1 {bad}, {other}")
            em.exit_to(either, exit_state(i.state, ty.types, reason=CALL_OUT))  # (another class: the VM calls)
        objects.guard_args(em, i, meth, exit_state(i.state, ty.types, reason=CALL_OUT))  # (object arguments: objects.py)
        em.native_call(i, r, em.names[meth.code])
        em.table[-1].callee = meth  # (the waiting frame's callee: this Function, not a global: deopt.rebuild)

    def iterate(self, i: Instr) -> None:
        """get_iter, for_iter and iter_done of an array of objects, as the
        interpreter's FOR_ITER does (the length read at every step)."""
        em, arr = self.em, self.arr
        lay = arr.lay
        L = em.lines
        r = f"%v{i.id}"
        if i.op == "get_iter":
            charges.charge(em, i, charges.ITER, em.val(i.args[0]), "0")  # (the interpreter's Iterator: its bytes, no object)
            L.append(f"  store i64 0, i64* %it{i.id}")
            L.append(f"  {r} = add i64 {em.val(i.args[0])}, 0")
            if em.ty.types.get(i.args[0]) == OBJ_ARRAY:
                # The Array's list, read here, before the loop, once: an
                # array of references is never packed (check_array) and an
                # Array's list is only ever replaced by its free(), which
                # nothing reachable gets. LLVM hoists no load out of a loop
                # (its pipeline has no LICM: codegen.py), so the for_iter
                # read it at every step (AWFY Bounce: a load per ball).
                L.append(f"  %itl{i.id} = add i64 {arr.load(r, lay.array_items, invariant=True)}, 0")
            return
        if i.op == "iter_done":
            L.append(f"  {r} = or i1 %done{i.args[0].id}, false")
            return
        it = i.args[0]
        p = em.tmp("pos")
        L.append(f"  {p} = load i64, i64* %it{it.id}")
        kind = em.ty.types[i]
        if em.ty.types.get(it.args[0]) == OBJ_ARRAY:
            items = f"%itl{it.id}"  # (read by the get_iter, under the same test)
        else:
            items = arr.load(em.val(it), lay.array_items, invariant=arr.pk is None)  # (a PackedArray's slot changes when a call unpacks it)
        n = arr.load(items, lay.list_size, invariant=True)
        done = em.tmp("end")
        L.append(f"  {done} = icmp sge i64 {p}, {n}")
        nxt, fin, join = em.tmp("next")[1:], em.tmp("fin")[1:], em.tmp("iter")[1:]
        L.append(f"  br i1 {done}, label %{fin}, label %{nxt}")
        em.label(nxt)
        vec = arr.load(items, lay.list_item, invariant=True)
        off, a, p1 = em.tmp(), em.tmp(), em.tmp()
        L.append(f"  {off} = mul i64 {p}, 8")
        L.append(f"  {a} = add i64 {vec}, {off}")
        if kind != "p" and arr.pk is not None:
            # An array of scalars may be a PackedArray (its buffer's ob_size
            # and ob_item are where a list's are: layout.probe_packed): its
            # element is one load of the raw value. An array of objects
            # ("p") never is (check_array, the entry checks).
            t, w, isp = arr.load(em.val(it), lay.type), em.tmp("pkty"), em.tmp("packed")
            L.append(f'  {w} = load i64, i64* @"tvm.ty.Packed", !invariant.load !90')
            L.append(f"  {isp} = icmp eq i64 {t}, {w}")
            pk, ls, both = em.tmp("pk")[1:], em.tmp("list")[1:], em.tmp("pkj")[1:]
            L.append(f"  br i1 {isp}, label %{pk}, label %{ls}")
            em.label(pk)
            lt = {"i": "i64", "f": "double", "b": "i8"}[kind]
            pa, pp, raw = em.tmp(), em.tmp(), em.tmp("pkv")
            if kind == "b":
                L.append(f"  {pa} = add i64 {vec}, {p}")
            else:
                L.append(f"  {pa} = add i64 {vec}, {off}")
            L.append(f"  {pp} = inttoptr i64 {pa} to {lt}*")
            L.append(f"  {raw} = load {lt}, {lt}* {pp}")
            pv = raw
            if kind == "b":
                pv = em.tmp("pkv")
                L.append(f"  {pv} = icmp ne i8 {raw}, 0")
            L.append(f"  br label %{both}")
            em.label(ls)
            x = em.tmp("el")
            arr.read(i, kind, arr.load(a, 0), x)
            back = em.cur
            L.append(f"  br label %{both}")
            em.label(both)
            e = em.tmp("el")
            L.append(f"  {e} = phi {_LLT[kind]} [ {pv}, %{pk} ], [ {x}, %{back} ]")
        elif kind != "p":  # (a scalar, unboxed before the position moves: a wrong type fails at this FOR_ITER, which the interpreter runs again)
            x = em.tmp("el")
            arr.read(i, kind, arr.load(a, 0), x)
            e = x
        else:
            e = arr.load(a, 0)
        L.append(f"  {p1} = add i64 {p}, 1")
        L.append(f"  store i64 {p1}, i64* %it{it.id}")
        got = em.cur
        L.append(f"  br label %{join}")
        em.label(fin)
        L.append(f"  br label %{join}")
        em.label(join)
        llt, zero = {"i": ("i64", "0"), "f": ("double", "0.0"), "b": ("i1", "false")}.get(kind, ("i64", "0"))
        L.append(f"  {r} = phi {llt} [ {e}, %{got} ], [ {zero}, %{fin} ]")
        L.append(f"  %done{i.id} = phi i1 [ false, %{got} ], [ true, %{fin} ]")

    def builtin(self, i: Instr) -> None:
        """abs(int) (INT_MIN fails: an OverflowError), abs(float), sqrt (IEEE:
        nan for a negative, as runtime/builtins.py)."""
        em = self.em
        L = em.lines
        x = i.args[1]
        r = f"%v{i.id}"
        name = i.args[0].attrs[0]
        if name == "sqrt":
            L.append(f"  {r} = call double @llvm.sqrt.f64(double {em.as_float(x)})")
            return
        v = em.val(x)
        if em.ty.types[x] == "f":
            n, neg = em.tmp(), em.tmp()
            # fabs by the sign bit (abs(-0.0) is 0.0, abs(nan) is nan, as Python's)
            L.append(f"  {n} = bitcast double {v} to i64")
            L.append(f"  {neg} = and i64 {n}, 9223372036854775807")
            L.append(f"  {r} = bitcast i64 {neg} to double")
            return
        mn, neg, lt = em.tmp(), em.tmp(), em.tmp()
        L.append(f"  {mn} = icmp eq i64 {v}, -9223372036854775808")
        em.fail_if(mn, i)
        L.append(f"  {neg} = sub i64 0, {v}")
        L.append(f"  {lt} = icmp slt i64 {v}, 0")
        L.append(f"  {r} = select i1 {lt}, i64 {neg}, i64 {v}")
