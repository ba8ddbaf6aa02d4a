"""Slow paths of field stores and reads compiled once per process and called by name: `tvm.fset.i`, `.f`, `.o`, `tvm.fget.i`, `.f`, `.b`.

A field store's fast path stays inline (fields.py, stores.py): a float or
an int the dict entry alone holds is overwritten in place, a reference (or
a bool singleton) written into the entry the inline lookup found when the
old value keeps a reference (count > 1: dropping ours frees nothing). What
is left was the bulk of a field-heavy method's code: the new value boxed
(`PyFloat_FromDouble`, the small-int cache or `PyLong_FromLongLong`, a null
check), the entry write with the dict's version tag, the old value's drop
and its `_Py_Dealloc`, `PyDict_SetItem` when the lookup called and its
failure check: ~10 LLVM blocks a store, which the code generator pays for
by the block (Ball.bounce: 277 blocks, ~27 ms of codegen; docs/native.md,
"Compile time", round 6). Now it is one call and one failure check:

- `i32 tvm.fset.i(dict, entry, key, i64 v)`: v boxed, then `put`; a
  value of -5..256 in an int object of its own (`_PyLong_New(1)`, its size
  and digit set), not CPython's shared cached one, so that the field's
  next store writes it in place (Bounce's coordinates and velocities: the
  box path once per field, not once per store; nothing can tell, the
  in-place write makes such ints already), others by `PyLong_FromLongLong`;
- `i32 tvm.fset.f(dict, entry, key, double v)`: `PyFloat_FromDouble`, `put`;
- `i32 tvm.fset.o(dict, entry, key, obj)`: obj (borrowed) gets a reference,
  `put`.

`put` (of a new reference the helper owns) is what stores.dict_set did
inline: with the entry's address (not 0: the inline lookup found it, and
the dict's version tag is where stores.py writes it), the entry gets the
value, the dict a new version from stores.py's counter
(`tvm.stores.dictver`: a modification, as insertdict gives; why an entry
write is exact at all: "Stores of references and the write barrier") and
the old value its reference dropped (`Py_DecRef`: may free it); with 0,
`PyDict_SetItem` (the dict takes its own reference, ours is dropped). The
result is 0, or not 0 when boxing ran out of memory or PyDict_SetItem
failed (never for an existing key): the caller's failure exit at the
store's exact pc, before anything is stored (the interpreter's store runs
again and raises). Reference counts are the inline code's exactly.

Field reads' slow paths the same way (fields.scalar_read): the inline
read keeps the entry at the field's template index when it holds the key
and a value of the field's type (an int of at most two digits); anything
else (the entry not there, another layout, a missing field, another type,
an int of more digits) is one call returning `{value, object}`:

- `{i64, i64} tvm.fget.i(dict, key, hash)`: `_PyDict_GetItem_KnownHash`,
  an exact int (`PyLong_Type`: a bool is not one, as the inline check),
  `PyLong_AsLongLongAndOverflow`;
- `{double, i64} tvm.fget.f(...)`: an exact float, its ob_fval;
- `{i64, i64} tvm.fget.b(...)`: True (1) or False (0) by address.

The object is the value's (borrowed, as the inline read's), 0 when the
field is missing, of another type or beyond int64: the caller's failure
exit at the get_field (the interpreter reads again and raises or makes a
bound method, as before). A store after the read takes the object over
with entry 0 (its helper then calls PyDict_SetItem: exact, rare). The
helpers take no reference and raise nothing (an exact int's or float's
conversion cannot fail otherwise), so reference counts are the inline
code's.

Bound by name (`llvm.add_symbol`, as outofline.py's `tvm.make`) before
MCJIT links an object that calls one (engine.finish: `register`), so a
cached object holds no address and stays valid in another process; one
tiny module per process (`_made`), compiled at the first load that needs
it or by the worker's warm-up (warmup.py). Its semantics are part of
`Codegen.identity` (`VERSION`).
"""

from __future__ import annotations

from typing import Any

VERSION = "field stores and reads out of line 4 (slots)"  # (Codegen.identity: bump when a helper's semantics change)
INT, FLOAT, OBJ = "tvm.fset.i", "tvm.fset.f", "tvm.fset.o"
_ARG = {INT: "i64", FLOAT: "double", OBJ: "i64"}
# Reads' slow paths (`get`): the value's machine type -> the helper's name and its result's LLVM type.
GET = {
    "i": ("tvm.fget.i", "i64"),
    "f": ("tvm.fget.f", "double"),
    "b": ("tvm.fget.b", "i64"),
}
SLOT = "tvm.fslot"  # (a laid-out receiver of a subclass: fields.slot_check)
_NAMES = tuple(_ARG) + tuple(n for n, _ in GET.values()) + (SLOT,)
DECLARE = f'declare i64 @"{SLOT}"(i64, i64)\n' + "".join(
    f'declare i32 @"{n}"(i64, i64, i64, {t})\n' for n, t in _ARG.items()
) + "".join(f'declare {{{t}, i64}} @"{n}"(i64, i64, i64)\n' for n, t in GET.values())
_C_API = (
    "PyLong_FromLongLong",
    "_PyLong_New",
    "PyFloat_FromDouble",
    "PyDict_SetItem",
    "Py_IncRef",
    "Py_DecRef",
    "_PyDict_GetItem_KnownHash",
    "PyLong_AsLongLongAndOverflow",
    "PyObject_CallFunctionObjArgs",
    "PyErr_Clear",
)
_TYPES = (
    ("PyLong_Type", int),
    ("PyFloat_Type", float),
    ("_Py_TrueStruct", True),
    ("_Py_FalseStruct", False),
)

_made: list = []  # [(MCJIT engine, [(name, address)])] once compiled in this process (codegen.helper_module)


def call(em: Any, i: Any, name: str, d: str, ent: str, key: str, v: str) -> None:
    """LLVM IR calling helper `name` for the store i of v (its type the
    helper's) into field key of dict d (ent: the entry's address or 0),
    and the failure exit at i when it fails."""
    r, bad = em.tmp("fset"), em.tmp("fsetf")
    em.lines.append(
        f'  {r} = call i32 @"{name}"(i64 {d}, i64 {ent}, i64 {key}, {_ARG[name]} {v})'
    )
    em.lines.append(f"  {bad} = icmp ne i32 {r}, 0")
    em.fail_if(bad, i)  # (out of memory, or PyDict_SetItem failed: nothing stored)


def get(em: Any, i: Any, m: str, d: str, key: str, h: str) -> tuple[str, str]:
    """LLVM IR calling the read helper of machine type m for field key
    (hash h) of dict d, and the failure exit at i when it fails: the
    value unboxed and the object (borrowed) it was read from."""
    name, t = GET[m]
    r, v, o, bad = em.tmp("fget"), em.tmp("fgv"), em.tmp("fgo"), em.tmp("fgf")
    L = em.lines
    L.append(f'  {r} = call {{{t}, i64}} @"{name}"(i64 {d}, i64 {key}, i64 {h})')
    L.append(f"  {v} = extractvalue {{{t}, i64}} {r}, 0")
    L.append(f"  {o} = extractvalue {{{t}, i64}} {r}, 1")
    L.append(f"  {bad} = icmp eq i64 {o}, 0")
    em.fail_if(
        bad, i
    )  # (missing, another type, an int beyond int64: the interpreter runs the read again)
    return v, o


def calls(text: str) -> bool:
    """Whether the module of LLVM IR `text` calls one of the helpers."""
    return f'call i64 @"{SLOT}"(' in text or any(f'call i32 @"{n}"(' in text for n in _ARG) or any(
        f'call {{{t}, i64}} @"{n}"(' in text for n, t in GET.values()
    )


def _text() -> str:
    from .layout import probe
    from .stores import _MA_VERSION

    lay = probe()[0]
    boxes = {
        INT: "call i64 @tvm.fset.box(i64 %v)",
        FLOAT: "call i64 @PyFloat_FromDouble(double %v)",
    }
    out = [
        '@"tvm.stores.dictver" = external global i64',
        "declare i64 @PyLong_FromLongLong(i64)",
        "declare i64 @_PyLong_New(i64)",
        "declare i64 @PyFloat_FromDouble(double)",
        "declare i32 @PyDict_SetItem(i64, i64, i64)",
        "declare void @Py_IncRef(i64)",
        "declare void @Py_DecRef(i64)",
        f"""
define internal i64 @tvm.fset.box(i64 %v) {{
  %u = add i64 %v, 5
  %small = icmp ult i64 %u, 262
  br i1 %small, label %own, label %any
own:
  %o = call i64 @_PyLong_New(i64 1)
  %null = icmp eq i64 %o, 0
  br i1 %null, label %out, label %set
set:
  %neg = icmp slt i64 %v, 0
  %nv = sub i64 0, %v
  %mag = select i1 %neg, i64 %nv, i64 %v
  %zero = icmp eq i64 %v, 0
  %sg = select i1 %neg, i64 -1, i64 1
  %sz = select i1 %zero, i64 0, i64 %sg
  %ps = add i64 %o, {lay.long_size}
  %pps = inttoptr i64 %ps to i64*
  store i64 %sz, i64* %pps
  %d0 = trunc i64 %mag to i32
  %pd = add i64 %o, {lay.long_digit}
  %ppd = inttoptr i64 %pd to i32*
  store i32 %d0, i32* %ppd
  br label %out
any:
  %b = call i64 @PyLong_FromLongLong(i64 %v)
  br label %out
out:
  %r = phi i64 [ 0, %own ], [ %o, %set ], [ %b, %any ]
  ret i64 %r
}}

define internal i32 @"tvm.fset.put"(i64 %d, i64 %ent, i64 %key, i64 %new) {{
  %has = icmp ne i64 %ent, 0
  br i1 %has, label %inl, label %call
inl:
  %a = add i64 %ent, 8
  %pv = inttoptr i64 %a to i64*
  %old = load i64, i64* %pv
  store i64 %new, i64* %pv
  %slot = icmp eq i64 %d, 0
  br i1 %slot, label %dropped, label %ver
dropped:
  call void @Py_DecRef(i64 %old)
  ret i32 0
ver:
  %v0 = load i64, i64* @"tvm.stores.dictver"
  %v1 = add i64 %v0, 1
  store i64 %v1, i64* @"tvm.stores.dictver"
  %t = add i64 %d, {_MA_VERSION}
  %pt = inttoptr i64 %t to i64*
  store i64 %v1, i64* %pt
  call void @Py_DecRef(i64 %old)
  ret i32 0
call:
  %r = call i32 @PyDict_SetItem(i64 %d, i64 %key, i64 %new)
  call void @Py_DecRef(i64 %new)
  ret i32 %r
}}""",
    ]
    for name, box in boxes.items():
        out.append(f"""
define i32 @"{name}"(i64 %d, i64 %ent, i64 %key, {_ARG[name]} %v) {{
  %new = {box}
  %null = icmp eq i64 %new, 0
  br i1 %null, label %fail, label %put
fail:
  ret i32 -1
put:
  %r = call i32 @"tvm.fset.put"(i64 %d, i64 %ent, i64 %key, i64 %new)
  ret i32 %r
}}""")
    out.append(f"""
define i32 @"{OBJ}"(i64 %d, i64 %ent, i64 %key, i64 %v) {{
  call void @Py_IncRef(i64 %v)
  %r = call i32 @"tvm.fset.put"(i64 %d, i64 %ent, i64 %key, i64 %v)
  ret i32 %r
}}
""")
    out.append(_reads(lay))
    out.append(f"""
declare i64 @PyObject_CallFunctionObjArgs(i64, ...)
declare void @PyErr_Clear()
@tvm_slot_fits = external global i8
define i64 @"{SLOT}"(i64 %o, i64 %cls) {{
  %r = call i64 (i64, ...) @PyObject_CallFunctionObjArgs(i64 ptrtoint (i8* @tvm_slot_fits to i64), i64 %o, i64 %cls, i64 0)
  %null = icmp eq i64 %r, 0
  br i1 %null, label %err, label %ok
err:
  call void @PyErr_Clear()
  ret i64 0
ok:
  %f = icmp eq i64 %r, ptrtoint (i8* @_Py_TrueStruct to i64)
  call void @Py_DecRef(i64 %r)
  %v = zext i1 %f to i64
  ret i64 %v
}}""")
    return "\n".join(out)


_FITS: dict = {}  # (shape, the class's shape) -> whether the first has the second's slots


def slot_fits(obj: Any, cls: Any) -> bool:
    """`tvm.fslot`'s answer (called from machine code: never raises): obj
    is a laid-out instance whose shape has every field of cls's shape at
    the same slot (cls's own shape, or a subclass's: its template starts
    with cls's fields, heap/objects.py Class), so a read of cls's field k
    is the load of slot k."""
    from ...heap.layout import SlotInstance

    try:
        t = type(obj)
        if t.__base__ is not SlotInstance:
            return False
        want = cls.layout
        if not want:
            return False
        got = _FITS.get((t, want))
        if got is None:
            n = len(want.NAMES)
            got = _FITS[(t, want)] = t.NAMES[:n] == want.NAMES and t.RAW[:n] == want.RAW  # (a raw slot read as a reference, or the reverse, would be a wrong value)
        return got
    except Exception:  # noqa: BLE001 - anything unexpected: not a fit (a failure exit, the interpreter reads)
        return False


def _reads(lay: Any) -> str:
    """The read helpers (module docstring): `{value, object}`, object 0 to fail."""
    head = """
declare i64 @_PyDict_GetItem_KnownHash(i64, i64, i64)
declare i64 @PyLong_AsLongLongAndOverflow(i64, i32*)
@PyLong_Type = external global i8
@PyFloat_Type = external global i8
@_Py_TrueStruct = external global i8
@_Py_FalseStruct = external global i8
"""
    # Each: the lookup (0: missing), the exact type (a subclass or another
    # type fails, as the inline checks), then the value.
    find = """  %o = call i64 @_PyDict_GetItem_KnownHash(i64 %d, i64 %key, i64 %h)
  %none = icmp eq i64 %o, 0
  br i1 %none, label %fail, label %found
found:"""
    typ = f"""  %tp = add i64 %o, {lay.type}
  %pt = inttoptr i64 %tp to i64*
  %t = load i64, i64* %pt"""
    return (
        head
        + f"""
define {{i64, i64}} @"{GET["i"][0]}"(i64 %d, i64 %key, i64 %h) {{
  %ovf = alloca i32
{find}
{typ}
  %isint = icmp eq i64 %t, ptrtoint (i8* @PyLong_Type to i64)
  br i1 %isint, label %int, label %fail
int:
  %v = call i64 @PyLong_AsLongLongAndOverflow(i64 %o, i32* %ovf)
  %f = load i32, i32* %ovf
  %big = icmp ne i32 %f, 0
  br i1 %big, label %fail, label %ok
ok:
  %r0 = insertvalue {{i64, i64}} undef, i64 %v, 0
  %r1 = insertvalue {{i64, i64}} %r0, i64 %o, 1
  ret {{i64, i64}} %r1
fail:
  ret {{i64, i64}} zeroinitializer
}}

define {{double, i64}} @"{GET["f"][0]}"(i64 %d, i64 %key, i64 %h) {{
{find}
{typ}
  %isf = icmp eq i64 %t, ptrtoint (i8* @PyFloat_Type to i64)
  br i1 %isf, label %ok, label %fail
ok:
  %fp = add i64 %o, {lay.float_val}
  %pf = inttoptr i64 %fp to double*
  %v = load double, double* %pf
  %r0 = insertvalue {{double, i64}} undef, double %v, 0
  %r1 = insertvalue {{double, i64}} %r0, i64 %o, 1
  ret {{double, i64}} %r1
fail:
  ret {{double, i64}} zeroinitializer
}}

define {{i64, i64}} @"{GET["b"][0]}"(i64 %d, i64 %key, i64 %h) {{
{find}
  %t = icmp eq i64 %o, ptrtoint (i8* @_Py_TrueStruct to i64)
  %f = icmp eq i64 %o, ptrtoint (i8* @_Py_FalseStruct to i64)
  %either = or i1 %t, %f
  br i1 %either, label %ok, label %fail
ok:
  %v = zext i1 %t to i64
  %r0 = insertvalue {{i64, i64}} undef, i64 %v, 0
  %r1 = insertvalue {{i64, i64}} %r0, i64 %o, 1
  ret {{i64, i64}} %r1
fail:
  ret {{i64, i64}} zeroinitializer
}}
"""
    )


def compile_once(llvm: Any) -> list:
    """The helpers' addresses in this process (name, address), compiled at
    the first call (codegen.helper_module: the worker's warm-up and the VM
    thread may race)."""
    from . import stores
    from .codegen import bind_c_api, helper_module

    bind_c_api(llvm, _C_API)
    for name, obj in _TYPES:
        llvm.add_symbol(name, id(obj))
    llvm.add_symbol("tvm_slot_fits", id(slot_fits))  # (a module-level function: alive as long as the process)
    stores.register(llvm)  # (the version counter the entry write takes from)
    return helper_module(llvm, _made, _text(), _NAMES)


def register(llvm: Any, text: str) -> None:
    """Bind the helpers for MCJIT when the module `text` calls one (module
    docstring), compiling them if need be."""
    if calls(text):
        for name, addr in compile_once(llvm):
            llvm.add_symbol(name, addr)
