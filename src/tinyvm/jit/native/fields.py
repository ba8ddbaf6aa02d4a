"""Fields in native code: reads and writes of scalar-typed fields of instances and records.

An object value in native code (machine type "p": `self`, a parameter of a
class or record type, an object read from a field) is the address of the
guest `Instance` or `Record` (heap/objects.py), borrowed: the interpreter
frame that passed it, or the field that held it, keeps it alive (native
code only ever stores scalars, so nothing it holds can lose its last
reference while it runs; a call out leaves native code first).

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
  dict, and `_PyDict_GetItem_KnownHash(dict, key, hash)` the value,
  borrowed, with the interned field name and its hash (both per process:
  the module has one `@"tvm.fk.<name>"` global of two words per name, which
  `bind` fills after the object code is loaded, so the code holds no
  address of the process that made it and the disk cache stays valid);
- a missing field (NULL: a method of that name, or a field another class
  has) is a failure exit at the get_field: the interpreter makes the bound
  method or raises its own TypeError with its trace;
- the value is unboxed as arrays.py does for elements (the same code:
  compact ints inline, floats' ob_fval, bools by address), a value of
  another type being a failure exit there too.

Writes (`set_field_proven`: the checker proved the value's type; an effect
in Typed.effects): the old value is looked up as above (missing: a failure
exit, the interpreter raises or, for an open class, adds it); a float
whose only reference is the dict's (count 1) is overwritten in place (no
one else can see that object: NBody-like updates then allocate nothing);
otherwise the value is boxed (PyFloat_FromDouble, a cached small int or
PyLong_FromLongLong, a bool singleton) and `PyDict_SetItem` replaces the
old one (an existing key: no resize), reference counts exact.

GC: only scalars are ever stored, and a scalar is no heap object: the
write barriers (docs/gc.md: the incremental collector shades the stored
value, the generational one remembers an old object that gets a young
reference) have nothing to do for it, so none is called. Instances keep
their size (their field count does not change), so the heap's accounting
is untouched too.

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

OPS = frozenset(("get_field", "set_field_proven", "set_field"))  # (set_field: of a record only, which has no field checks)
OBJ_ARRAY = "ap"  # an array of instances or records (`[Body]`): read only (get_index, len)
BUILTINS = frozenset(("abs", "sqrt"))  # built-ins native code computes itself (a used result)

PRELUDE = """@"tvm.ty.Instance" = global i64 0
@"tvm.ty.Record" = global i64 0
@"tvm.ty.Array" = global i64 0
@PyList_Type = external global i8
declare i64 @_PyDict_GetItem_KnownHash(i64, i64, i64)
declare i32 @PyDict_SetItem(i64, i64, i64)
"""

_SCALAR = {"int": "i", "float": "f", "bool": "b", "[int]": "ai", "[float]": "af", "[bool]": "ab"}
_KEY = re.compile(r'@"tvm\.fk\.([A-Za-z_][A-Za-z0-9_]*)"')
_KEEP: dict[str, str] = {}  # the interned field names the bound globals point to (kept alive)


class FieldLayout:
    """Offsets of the `fields` slot of Instance and Record, probed on live objects."""

    def __init__(self) -> None:
        from ...heap.objects import Instance, Record

        d: dict = {}
        self.instance = _find(Instance(None, d), d)  # type: ignore[arg-type]
        self.record = _find(Record(d), d)


def _find(obj: Any, d: dict) -> int:
    for off in range(16, type(obj).__basicsize__, 8):
        if ctypes.c_int64.from_address(id(obj) + off).value == id(d):
            return off
    raise LookupError(f"no fields slot in {type(obj).__name__}")


_LAYOUT: list = []


def field_layout() -> FieldLayout:
    if not _LAYOUT:
        _LAYOUT.append(FieldLayout())
    return _LAYOUT[0]


def register(llvm: Any) -> None:
    """The C API functions field code calls (resolved by MCJIT by name)."""
    api = ctypes.pythonapi
    for name in ("_PyDict_GetItem_KnownHash", "PyDict_SetItem"):
        llvm.add_symbol(name, ctypes.cast(getattr(api, name), ctypes.c_void_p).value)
    llvm.add_symbol("PyList_Type", id(list))


def bind(engine: Any, text: str) -> None:
    """Fill the per-process globals of a loaded module: the guest classes'
    type addresses and, per field name, the interned key and its hash."""
    from ...heap.objects import Array, Instance, Record

    for name, cls in (("Instance", Instance), ("Record", Record), ("Array", Array)):
        addr = engine.get_global_value_address(f"tvm.ty.{name}")
        if addr:
            ctypes.c_int64.from_address(addr).value = id(cls)
    for name in set(_KEY.findall(text)):
        addr = engine.get_global_value_address(f"tvm.fk.{name}")
        if not addr:
            continue
        key = _KEEP.setdefault(name, sys.intern(name))
        ctypes.c_int64.from_address(addr).value = id(key)
        ctypes.c_int64.from_address(addr + 8).value = hash(key)


def globals_for(text: str) -> str:
    """The key globals a module's text names (one definition each)."""
    return "".join(f'@"tvm.fk.{n}" = global [2 x i64] zeroinitializer\n' for n in sorted(set(_KEY.findall(text))))


# ---------------------------------------------------------------- select.py


def field_types_of(G: list) -> Callable[[str, str], str | None]:
    """`(class name, field) -> declared type text`, from the classes in G."""
    from ...heap.objects import Class

    def lookup(cname: str, fname: str) -> str | None:
        for c in G:
            if type(c) is Class and c.name == cname:
                while c is not None:
                    info = c.info
                    if info is not None and fname in info.fields and info.field_types:
                        t = info.field_types[info.fields.index(fname)]
                        return t or None
                    c = c.parent
                return None
        return None

    return lookup


def object_type(t: Any) -> str | None:
    """"class", "record" or "array" (of either) for a declared type native
    code may hold as an object."""
    from ...bytecode.types import ArrayT, ClassT, RecordT

    if isinstance(t, ArrayT):
        return "array" if object_type(t.elem) in ("class", "record") else None
    return "class" if isinstance(t, ClassT) else "record" if isinstance(t, RecordT) else None


def param_machine_type(t: Any) -> str:
    """"ap" for an array of objects, else "p"."""
    return OBJ_ARRAY if object_type(t) == "array" else "p"


def field_machine_type(ty: Any, recv: Instr, name: str) -> str | None:
    """The machine type of field `name` of the object value `recv`."""
    from ...bytecode.types import RecordT, parse_type_text

    t = ty.objs.get(recv)
    if isinstance(t, RecordT):
        ft = t.get(name)
        text = ft.text() if ft is not None else None
    elif t is not None and ty.field_type is not None:
        text = ty.field_type(t.text(), name)
    else:
        text = None
    if text is None:
        return None
    m = _SCALAR.get(text)
    if m is not None:
        return m
    try:
        ft = parse_type_text(text)
    except Exception:  # noqa: BLE001 - a type text this reader does not know: not a field native code reads
        return None
    if object_type(ft):
        return ("ap:" if object_type(ft) == "array" else "p:") + text
    return None


def type_op(i: Instr, a: list, ty: Any) -> str:
    """The machine type of a field op or a native built-in call (select.py)."""
    from ...bytecode.types import RecordT
    from .select import _NAMES, NotEligible

    op = i.op
    if op == "call":
        return _builtin_type(i, a)
    if op in ("get_index", "set_index"):
        if op == "set_index" or a[1] != "i":
            raise NotEligible(f"{op} of an array of objects (native code stores no object reference)")
        t = ty.objs.get(i.args[0])
        if t is None:
            raise NotEligible("get_index of an array of objects of unknown type")
        ty.objs[i] = t.elem
        ty.heap = True
        return "p"
    if a[0] != "p":
        raise NotEligible(f"{op} of {_NAMES.get(a[0], a[0])}")
    name = i.attrs[0]
    if op == "set_field" and not isinstance(ty.objs.get(i.args[0]), RecordT):
        raise NotEligible(f"set_field of field '{name}' (a checked store: the class converts or checks the value)")
    m = field_machine_type(ty, i.args[0], name)
    if m is None:
        raise NotEligible(f"{op} of field '{name}', not of a scalar type")
    ty.heap = True
    if op == "get_field":
        if ":" in m:
            from ...bytecode.types import parse_type_text

            m, text = m.split(":", 1)
            ty.objs[i] = parse_type_text(text)
        return m
    if m not in ("i", "f", "b") or a[1] != m:
        raise NotEligible(f"{op} of field '{name}' ({_NAMES.get(m, 'an object')}) with {_NAMES.get(a[1], a[1])}")
    ty.effects.append(i)
    return "v"


def _builtin_type(i: Instr, a: list) -> str:
    from .select import NotEligible

    b = i.args[0]
    name = b.attrs[0] if b.op == "builtin" else None
    if len(a) != 2 or name not in BUILTINS or a[1] not in ("i", "f"):
        raise NotEligible("uses call")
    if name == "sqrt":
        return "f"
    return a[1]


def is_native_builtin(i: Instr, types: dict) -> bool:
    """A `call` of abs/sqrt native code computes (not a call out)."""
    b = i.args[0] if i.args else None
    return i.op == "call" and b is not None and b.op == "builtin" and b.attrs[0] in BUILTINS and types.get(i) in ("i", "f")


# ---------------------------------------------------------------- emit.py


class FieldLowering:
    """The field ops of one function (`em` is its emit._FnEmitter)."""

    def __init__(self, em: Any) -> None:
        self.em = em
        self.arr = em._arrays()  # (loads, stores, unboxing and boxing: arrays.py)
        self.lay = field_layout()

    def lower(self, i: Instr) -> None:
        em = self.em
        if i.op == "call":
            self.builtin(i)
            return
        if i.op == "get_index":
            # An element of an array of objects: its address, borrowed from
            # the list (native code never stores into such an array).
            a = self.arr.slot(i.args[0], i.args[1], i)
            e = self.arr.load(a, 0)
            em.lines.append(f"  %v{i.id} = add i64 {e}, 0")
            return
        d, key, h = self.dict_of(i)
        L = em.lines
        old = em.tmp("fv")
        L.append(f"  {old} = call i64 @_PyDict_GetItem_KnownHash(i64 {d}, i64 {key}, i64 {h})")
        null = em.tmp("fnull")
        L.append(f"  {null} = icmp eq i64 {old}, 0")
        em.fail_if(null, i)  # (no such field: the interpreter finds the method or raises)
        m = em.ty.types[i] if i.op == "get_field" else em.ty.types[i.args[1]]
        if i.op == "get_field":
            self.read(i, m, old)
        else:
            self.write(i, m, d, key, old)

    def dict_of(self, i: Instr) -> tuple[str, str, str]:
        """The receiver's fields dict (its type checked) and the key's two words."""
        em, arr = self.em, self.arr
        from ...bytecode.types import RecordT

        L = em.lines
        recv = em.val(i.args[0])
        rec = isinstance(em.ty.objs.get(i.args[0]), RecordT)
        want = f'@"tvm.ty.{"Record" if rec else "Instance"}"'
        t, w, bad = arr.load(recv, arr.lay.type), em.tmp("cls"), em.tmp("bt")
        L.append(f"  {w} = load i64, i64* {want}, !invariant.load !90")
        L.append(f"  {bad} = icmp ne i64 {t}, {w}")
        em.fail_if(bad, i)
        d = arr.load(recv, self.lay.record if rec else self.lay.instance)
        g = f'@"tvm.fk.{i.attrs[0]}"'
        k, kp, h = em.tmp("key"), em.tmp("kp"), em.tmp("hash")
        L.append(f"  {k} = load i64, i64* getelementptr ([2 x i64], [2 x i64]* {g}, i64 0, i64 0), !invariant.load !90")
        L.append(f"  {kp} = getelementptr [2 x i64], [2 x i64]* {g}, i64 0, i64 1")
        L.append(f"  {h} = load i64, i64* {kp}, !invariant.load !90")
        return d, k, h

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
            t, w, bad = arr.load(e, arr.lay.type), em.tmp("cls"), em.tmp("bt")
            L.append(f'  {w} = load i64, i64* @"tvm.ty.Array", !invariant.load !90')
            L.append(f"  {bad} = icmp ne i64 {t}, {w}")
            em.fail_if(bad, i)
            items = arr.load(e, arr.lay.array_items)
            lt, bad2 = arr.load(items, arr.lay.type), em.tmp("bt")
            L.append(f"  {bad2} = icmp ne i64 {lt}, ptrtoint (i8* @PyList_Type to i64)")
            em.fail_if(bad2, i)
        L.append(f"  %v{i.id} = add i64 {e}, 0")

    def write(self, i: Instr, m: str, d: str, key: str, old: str) -> None:
        em, arr = self.em, self.arr
        lay = arr.lay
        L = em.lines
        v = em.val(i.args[1])
        done = em.tmp("stored")[1:]
        if m == "f":
            typ = arr.load(old, lay.type)
            rc = arr.load(old, lay.refcnt)
            isf, one, mine = em.tmp(), em.tmp(), em.tmp()
            L.append(f"  {isf} = icmp eq i64 {typ}, ptrtoint (i8* @PyFloat_Type to i64)")
            L.append(f"  {one} = icmp eq i64 {rc}, 1")
            L.append(f"  {mine} = and i1 {isf}, {one}")
            inplace, box = em.tmp("inpl")[1:], em.tmp("box")[1:]
            L.append(f"  br i1 {mine}, label %{inplace}, label %{box}")
            em.label(inplace)
            arr.store(old, lay.float_val, v, "double")
            L.append(f"  br label %{done}")
            em.label(box)
            new = em.tmp("new")
            L.append(f"  {new} = call i64 @PyFloat_FromDouble(double {v})")
        elif m == "b":
            new = em.tmp("new")
            L.append(f"  {new} = select i1 {v}, i64 ptrtoint (i8* @_Py_TrueStruct to i64), i64 ptrtoint (i8* @_Py_FalseStruct to i64)")
            arr.incref(new)
        else:
            new = arr.box_int(i, v)
        null = em.tmp("null")
        L.append(f"  {null} = icmp eq i64 {new}, 0")
        em.fail_if(null, i)  # (out of memory: the interpreter's store raises it)
        r, bad = em.tmp("set"), em.tmp("setf")
        L.append(f"  {r} = call i32 @PyDict_SetItem(i64 {d}, i64 {key}, i64 {new})")
        L.append(f"  call void @tvm.decref(i64 {new})")  # (the dict holds its own reference now)
        L.append(f"  {bad} = icmp ne i32 {r}, 0")
        em.fail_if(bad, i)  # (never for an existing key; the store is then undone by nothing: it did not happen)
        L.append(f"  br label %{done}")
        em.label(done)

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
