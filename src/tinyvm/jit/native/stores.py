"""Stores of object references in native code: fields and arrays of objects.

fields.py reads fields of any declared type but writes only scalars;
arrays.py writes elements of `[int]`/`[float]`/`[bool]`. This module adds
the stores of *references* (docs/native.md, "Stores of references and the
write barrier"):

- `obj.f = other` (`set_field_proven`, or `set_field` of a record) of a
  field declared of a class, a record, an optional one, or an array type,
  the value an object ("p"), an array ("ai", "af", "ab", "ap") or nil
  ("n": Py_None's address);
- `xs[i] = obj` (`set_index` of an array of objects, "ap"), the value an
  object or nil.

Reference counts are the interpreter's: a field store is `PyDict_SetItem`
on the instance's dict (the dict takes a reference to the new value and
drops the old one's, as `fields[name] = v` does); an element store adds a
reference to the new value, stores it, and drops the old element's
(`Py_DECREF`: never its last one, which the heap's allocation list holds:
native code's borrowed "p" values stay valid, docs/native.md "GC").

Each store is followed by the GC's write barrier on the object stored into
(barrier.py, `emit_barrier`), as `if obj.mark == heap.watch:
heap.barrier(obj, v)` follows the interpreter's. What fails does so
before anything is stored, at the store's exact pc (deopt.py): a receiver
that is not an instance or record of the field, a missing field (fields.py
checks both while finding the old value), an index out of bounds (the
interpreter raises its own error with its trace).
"""

from __future__ import annotations

import ctypes
from typing import Any

from ...ir.nodes import Instr
from .objects import NONE  # (Py_None's address, bound by objects.py)

# The dict version counter of inline dict stores (`dict_set`), by a name
# bound in `register` (the IR holds no address of the process that made it).
PRELUDE = '@"tvm.stores.dictver" = external global i64\n'

# A dict's `ma_version_tag` (PEP 509: changes at every modification, globally
# unique) is the word after ma_used on CPython 3.11 (checked by
# `_version_ok`). CPython's own counter is not exported, so an inline store
# takes its versions from a process-wide counter of its own, counting up from
# 2**63: a range CPython's counter (one per modification since start-up)
# never reaches, so every version is still unique and new.
_MA_VERSION = 24
_VERSIONS = ctypes.c_uint64(1 << 63)

_REFS = frozenset(("p", "ap", "ai", "af", "ab", "n"))  # machine values that are (or, nil, become) an object's address


def register(llvm: Any) -> None:
    """The version counter, by the name PRELUDE declares (MCJIT resolves it)."""
    llvm.add_symbol("tvm.stores.dictver", ctypes.addressof(_VERSIONS))


_checked: list = []  # [bool] once per process


def _version_ok() -> bool:
    """Whether ma_version_tag is where dict_set writes it: the word that
    takes a new, larger value at each store into a live dict."""
    if not _checked:
        ok = True
        try:
            d = {"a": 1.5}
            for k in range(3):
                before = ctypes.c_uint64.from_address(id(d) + _MA_VERSION).value
                d["a"] = float(k)
                after = ctypes.c_uint64.from_address(id(d) + _MA_VERSION).value
                ok = ok and 0 < before < after < 1 << 62 and ctypes.c_int64.from_address(id(d) + 16).value == 1  # (ma_used before it)
        except Exception:  # noqa: BLE001 - anything unexpected: PyDict_SetItem only
            ok = False
        _checked.append(ok)
    return _checked[0]


# ---------------------------------------------------------------- select.py


def field_store_type(i: Instr, m: str, a: list, ty: Any) -> str:
    """set_field_proven / set_field (of a record) of a field whose machine
    type m is a reference ("p:<type>", "ap:<type>", "ai", ...): the value
    must be a reference or nil. The interpreter stores it unchecked (the
    checker proved its type; records have no field checks), and so does
    native code."""
    from .barrier import check
    from .select import _NAMES, NotEligible

    v = a[1]
    if v not in _REFS:
        raise NotEligible(f"{i.op} of field '{i.attrs[0]}' ({m.split(':', 1)[-1]}) with {_NAMES.get(v, v)}")
    check()
    ty.heap = True
    ty.effects.append(i)
    return "v"


def index_store_type(i: Instr, a: list, ty: Any) -> str:
    """set_index of an array of objects ("ap") at an int, of an object or nil."""
    from .barrier import check
    from .select import _NAMES, NotEligible

    if a[1] != "i" or a[2] not in _REFS:  # (an array too: opaque.py's `[any]`)
        raise NotEligible(f"set_index of an array of objects at {_NAMES.get(a[1], a[1])} with {_NAMES.get(a[2], a[2])}")
    check()
    ty.heap = True
    ty.effects.append(i)
    return "v"


# ---------------------------------------------------------------- emit.py


def ref(em: Any, v: Instr) -> str:
    """The PyObject address of reference value v (nil: Py_None's)."""
    return NONE if em.ty.types[v] == "n" else em.val(v)


def store_field(fl: Any, i: Instr, d: str, key: str, old: str) -> None:
    """The store of a reference into field i.attrs[0] of i.args[0], whose
    dict d holds the field (fields.FieldLowering.lower found its value
    `old` and checked the receiver), then the barrier."""
    from .barrier import emit_barrier

    em = fl.em
    new = ref(em, i.args[1])
    dict_set(fl, i, d, key, new, old)
    emit_barrier(em, em.val(i.args[0]), new)


def dict_set(fl: Any, i: Instr, d: str, key: str, new: str, old: str) -> None:
    """`d[key] = new` (new borrowed) for a key d holds with value `old`:
    into the entry the inline lookup found (fl.entry: a reference to new
    added, old's dropped, as insertdict does) when old keeps a reference
    after (count > 1: nothing freed, no `_Py_Dealloc` block); else one call
    of `tvm.fset.o` (fieldslow.py, compiled once per process: the same
    entry write with old's drop, or PyDict_SetItem when the lookup called)."""
    from . import fieldslow

    em = fl.em
    low = fl.arr
    L = em.lines
    ent = getattr(fl, "entry", "0") if _version_ok() or d == "0" else "0"  # (d "0": a laid-out instance's slot, fields.slot_access: its entry always known, no version tag)
    done = em.tmp("dset")[1:]
    if ent != "0":
        rc = low.load(old, low.lay.refcnt)
        has, kept, ok = em.tmp(), em.tmp(), em.tmp()
        inl, call = em.tmp("dinl")[1:], em.tmp("dcall")[1:]
        L.append(f"  {has} = icmp ne i64 {ent}, 0")
        L.append(f"  {kept} = icmp sgt i64 {rc}, 1")
        L.append(f"  {ok} = and i1 {has}, {kept}")
        L.append(f"  br i1 {ok}, label %{inl}, label %{call}")
        em.label(inl)
        low.incref(new)
        low.store(ent, 8, new)  # (me_value)
        if d != "0":
            v0, v1 = em.tmp("dver"), em.tmp("dver")
            L.append(f'  {v0} = load i64, i64* @"tvm.stores.dictver"')
            L.append(f"  {v1} = add i64 {v0}, 1")
            L.append(f'  store i64 {v1}, i64* @"tvm.stores.dictver"')
            low.store(d, _MA_VERSION, v1)  # (a modification: a new version, as insertdict gives)
        c, c1 = low.load(old, low.lay.refcnt), em.tmp()  # (loaded again: new may be old)
        L.append(f"  {c1} = sub i64 {c}, 1")
        low.store(old, low.lay.refcnt, c1)  # (never 0 here: count > 1 before)
        L.append(f"  br label %{done}")
        em.label(call)
    fieldslow.call(em, i, fieldslow.OBJ, d, ent, key, new)  # (a reference to new, the old one's dropped)
    L.append(f"  br label %{done}")
    em.label(done)


def store_index(em: Any, i: Instr) -> None:
    """`xs[k] = v` into an array of objects: bounds checked (a failure exit
    at the set_index), the new element's reference added, the old one's
    dropped, then the barrier on the Array."""
    from .barrier import emit_barrier

    low = em._arrays()
    arr, idx, v = i.args
    a = low.slot(arr, idx, i)
    new = ref(em, v)
    old = low.load(a, 0)
    low.incref(new)
    low.store(a, 0, new)
    low.decref(old)
    emit_barrier(em, em.val(arr), new)
