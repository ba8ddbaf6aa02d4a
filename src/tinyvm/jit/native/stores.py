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

from typing import Any

from ...ir.nodes import Instr

# Py_None, by a name of this module's own (bound by `register`, so the IR
# holds no address of the process that made it).
PRELUDE = '@"tvm.stores.none" = external global i8\n'
NONE = 'ptrtoint (i8* @"tvm.stores.none" to i64)'

_REFS = frozenset(("p", "ap", "ai", "af", "ab", "n"))  # machine values that are (or, nil, become) an object's address


def register(llvm: Any) -> None:
    """Py_None's address, by the name PRELUDE declares (MCJIT resolves it)."""
    llvm.add_symbol("tvm.stores.none", id(None))


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

    if a[1] != "i" or a[2] not in ("p", "n"):
        raise NotEligible(f"set_index of an array of objects at {_NAMES.get(a[1], a[1])} with {_NAMES.get(a[2], a[2])}")
    check()
    ty.heap = True
    ty.effects.append(i)
    return "v"


# ---------------------------------------------------------------- emit.py


def ref(em: Any, v: Instr) -> str:
    """The PyObject address of reference value v (nil: Py_None's)."""
    return NONE if em.ty.types[v] == "n" else em.val(v)


def store_field(fl: Any, i: Instr, d: str, key: str) -> None:
    """The store of a reference into field i.attrs[0] of i.args[0], whose
    dict d holds the field (fields.FieldLowering.lower found the old value
    and checked the receiver), then the barrier."""
    from .barrier import emit_barrier

    em = fl.em
    L = em.lines
    new = ref(em, i.args[1])
    r, bad = em.tmp("set"), em.tmp("setf")
    L.append(f"  {r} = call i32 @PyDict_SetItem(i64 {d}, i64 {key}, i64 {new})")  # (a reference to new, the old one's dropped)
    L.append(f"  {bad} = icmp ne i32 {r}, 0")
    em.fail_if(bad, i)  # (never for an existing key: no resize; the dict is then unchanged)
    emit_barrier(em, em.val(i.args[0]), new)


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
    em.lines.append(f"  call void @tvm.decref(i64 {old})")
    emit_barrier(em, em.val(arr), new)
