"""Fields of laid-out instances in native code: the receiver's shape check and the slot's load (fields.py calls these).

heap/layout.py lays an instance of a closed class out in slots of its
shape when the heap lays out (`Heap.lays_out`: kept on when the native
tier attaches only if `layout.probe_slots` accepts the layout). A field op on a receiver
whose declared class is laid out (fieldtypes.shape_index) is then:

- `slot_check`: the receiver's type compared with the class's shape
  (`@"tvm.sh.<class>"`, fields.bind), once per receiver where it dominates;
  on a mismatch one call of fieldslow's `tvm.fslot` (a subclass's shape
  has the parent's fields at the same slots), else a failure exit;
- `slot_access`: one load of the slot, then a dict read's unboxing, or a
  dict store's code with the slot standing for the entry;
- `is_instance_of`: the exact-class checks (method calls, object
  arguments) compare the type with the class's shape (Instance for a
  class that is not laid out).

docs/native.md, "Instances: the data representation (shapes)".
"""

from __future__ import annotations

from typing import Any

from ...ir.nodes import Instr
from .exactself import is_exact_self

# The LLVM type of a raw slot's value in memory, per kind (heap/layout.py
# "Raw slots": T_LONGLONG, T_BOOL).
RAW_LLTYPE = {"i": "i64", "b": "i8"}


def shape_for(em: Any, cls: Any) -> Any:
    """The shape of `cls`'s instances (heap/layout.py) when native code
    reads them as slots (fieldtypes.field_types_of's `shape`: the VM's
    heap lays out, layout.probe_slots accepted), else None."""
    from ...heap.objects import Class

    ft = em.ty.field_type
    f = getattr(ft, "shape", None)
    if f is None or cls is None:
        return None
    if type(cls) is Class and ft.cls(cls.name) is not cls:  # (a class object, or a declared type naming one: objects.guard_args)
        return None
    return f(cls.name)


def is_instance_of(em: Any, t: str, cls: Any) -> str:
    """An i1: the type word `t` is the one `cls`'s instances have: cls's
    shape (`@"tvm.sh.<cls>"`) when the class is laid out, else Instance.
    Never both: a class's layout is decided once, at its first instance
    (heap/layout.py `shape_of`), and every instance is made by
    `new_instance` after it, so no instance of a laid-out class keeps a
    dict (one compare less per check: AWFY Bounce's loop makes one per
    ball). The caller compares the class word too (a shape is shared by
    the classes with the same fields)."""
    from .select import NotEligible

    L = em.lines
    if shape_for(em, cls) is None:
        w, isi = em.tmp("cls"), em.tmp("isi")
        L.append(f'  {w} = load i64, i64* @"tvm.ty.Instance", !invariant.load !90')
        L.append(f"  {isi} = icmp eq i64 {t}, {w}")
        return isi
    g = f"tvm.sh.{cls.name}"
    obj = em.ty.field_type.cls(cls.name)
    if em.ty.classes.setdefault(g, obj) is not obj:
        raise NotEligible(f"two classes named {cls.name}")
    s, iss = em.tmp("shape"), em.tmp("iss")
    L.append(f'  {s} = load i64, i64* @"{g}", !invariant.load !90')
    L.append(f"  {iss} = icmp eq i64 {t}, {s}")
    return iss


def slot_access(fl: Any, i: Instr, m: str, cls: Any, k: int, raw: str = "") -> None:
    """get_field / set_field_proven of field slot k of a receiver whose
    declared class `cls` lays its instances out (heap/layout.py): the
    receiver's check (`slot_check`, once per receiver where it
    dominates), then ONE load of the value at SLOT_BASE + 8k. Its
    "entry" (fields.py's word before the value: a dict entry's key) is
    the slot's address less 8, so the stores' code (in place, inline
    entry write, fieldslow's helpers) writes the slot as it writes a
    dict entry's value; the dict is "0" (no version tag to bump, no
    PyDict_SetItem: the entry is always known). The value's unboxing
    and type check are a dict read's (an UNINIT field fails it).

    A raw slot (`raw`: "i" an int64, "b" a bool's byte; heap/layout.py
    "Raw slots") is read with that one load and written with one store:
    no type check, no unboxing, no reference count, no allocation, no
    write barrier."""
    from .select import NotEligible

    em, arr = fl.em, fl.arr
    if raw and m != raw:
        raise NotEligible(f"field {i.attrs[0]} of {cls.name} is a raw slot of kind {raw}, used as {m}")
    slot_check(fl, i, cls)
    ent = em.tmp("sent")
    em.lines.append(f"  {ent} = add i64 {em.val(i.args[0])}, {fl.slots.base + 8 * k - 8}")
    if raw:  # (T_LONGLONG: an int64; T_BOOL: the slot's first byte, 0 or 1)
        t = RAW_LLTYPE[raw]
        if i.op == "get_field":
            x = arr.load(ent, 8, t)
            em.lines.append(f"  %v{i.id} = " + (f"add i64 {x}, 0" if raw == "i" else f"icmp ne i8 {x}, 0"))
            fl.found[i] = ("0", "0", "0", ent)  # (for `earlier`: a later read is this value)
        else:
            v = em.val(i.args[1])
            if raw == "b":
                byte = em.tmp("rawb")
                em.lines.append(f"  {byte} = zext i1 {v} to i8")
                v = byte
            arr.store(ent, 8, v, t)
        return
    old = arr.load(ent, 8)  # (not invariant: a store or a call may replace it)
    fl.entry = ent
    if i.op == "get_field":
        fl.found[i] = ("0", "0", old, ent)
        fl.read(i, m, old)
    else:
        fl.write(i, m, "0", "0", old)


def slot_check(fl: Any, i: Instr, cls: Any) -> None:
    """The receiver of field op i is an instance of `cls` or of a
    subclass, laid out, else a failure exit at i (the interpreter runs
    it: nil, a dict instance). Inline: its type is cls's shape
    (`@"tvm.sh.<cls>"`, filled by `bind`; 0 where the class is not laid
    out: never equal); else one call of fieldslow's `tvm.fslot`
    (a subclass's shape, which has cls's fields at the same slots: a
    class's template starts with its parent's). Once per receiver
    where the check dominates (an object's type never changes)."""
    from .select import NotEligible

    em, arr = fl.em, fl.arr
    recv = i.args[0]
    if fl.share_of(("shape", recv)) is not None:
        return
    if is_exact_self(em, recv, cls) and shape_for(em, cls) is not None:
        # (self, of exactly cls on every way in (exactself.py): its type is
        # cls's shape, since a class's instances all take the layout
        # decided for it once, heap/layout.py shape_of)
        return
    L = em.lines
    for g in (f"tvm.sh.{cls.name}", f"tvm.cls.{cls.name}"):
        if em.ty.classes.setdefault(g, cls) is not cls:
            raise NotEligible(f"two classes named {cls.name}")
    v = em.val(recv)
    t, w, same = arr.load(v, arr.lay.type), em.tmp("shape"), em.tmp("same")
    L.append(f'  {w} = load i64, i64* @"tvm.sh.{cls.name}", !invariant.load !90')
    L.append(f"  {same} = icmp eq i64 {t}, {w}")
    slow, join = em.tmp("sslow")[1:], em.tmp("sok")[1:]
    L.append(f"  {same}.n = xor i1 {same}, true")
    L.append(f"  br i1 {same}.n, label %{slow}, label %{join}, !prof !0")  # (a subclass's instance: the call, out of the hot path's way)
    em.label(slow)
    c, r, unfit = em.tmp("cls"), em.tmp("fslot"), em.tmp("unfit")
    L.append(f'  {c} = load i64, i64* @"tvm.cls.{cls.name}", !invariant.load !90')
    L.append(f'  {r} = call i64 @"tvm.fslot"(i64 {v}, i64 {c})')
    L.append(f"  {unfit} = icmp eq i64 {r}, 0")
    # The exit's branch in the slow path itself: joined first and tested
    # after (a phi of true and the call's answer), the fast path kept a
    # test of a constant and a branch that LLVM's code generator left in
    # (List's loops: three instructions per field read, ~10% of the samples).
    em.fail_if(unfit, i)
    L.append(f"  br label %{join}")
    em.label(join)
    fl.share(("shape", recv), same)
