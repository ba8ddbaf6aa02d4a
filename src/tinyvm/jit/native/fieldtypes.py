"""Fields in native code, the typing half: what machine types field reads, method calls and for-in loops have.

select.py types a function's IR for native code (machine types "i", "f",
"b", "p", arrays "ai"/"af"/"ab"/"ap", iterators "it"); the ops on objects
are typed here, from the classes' declared field types (`field_types_of`),
and refused (`NotEligible`) where native code has no lowering for them.
fields.py lowers what this module typed (the other half: the dict probes,
"Fields: the data representation" in docs/native.md). Nothing here emits
LLVM IR; everything here runs before emission, once per compiled group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...ir.nodes import Instr
from . import inserts, objects, pops

OPS = frozenset(("get_field", "set_field_proven", "set_field"))  # (set_field: of a record only, which has no field checks)
OBJ_ARRAY = "ap"  # an array of instances or records (`[Body]`): get_index, len, set_index (stores.py)
ITER_OPS = frozenset(("get_iter", "for_iter", "iter_done"))  # `for x in a` over an array of objects or scalars, no iterator allocated
BUILTINS = frozenset(("abs", "sqrt"))
METHOD_CALLS = frozenset(("call_method", "call_method_typed"))  # built-ins native code computes itself (a used result)
_SCALAR = {"int": "i", "float": "f", "bool": "b", "[int]": "ai", "[float]": "af", "[bool]": "ab"}
LL = {"i": "i64", "f": "double", "b": "i1"}  # (a scalar's LLVM type)


def field_types_of(G: list, heap: Any = None, receiver: Any = None) -> Callable[[str, str], str | None]:
    """`(class name, field) -> declared type text`, from the classes in G
    (and `receiver`, the class a method is specialised on, which may come
    from another module: engine.py `_prepare`); its `.cls(name)` is the
    class object itself (method calls), its `.shape(name)` the shape of
    that class's instances in `heap` (fields.py reads their slots) or None
    (dict instances, no heap given, or native code does not know the
    shapes' layout: layout.probe_slots)."""
    from ...heap.objects import Class

    known = [receiver, *G] if receiver is not None else G

    def cls(cname: str) -> Any:
        for c in known:
            if type(c) is Class and c.name == cname:
                return c
        return None

    def lookup(cname: str, fname: str) -> str | None:
        for c in known:
            if type(c) is Class and c.name == cname:
                while c is not None:
                    info = c.info
                    if info is not None and fname in info.fields and info.field_types:
                        t = info.field_types[info.fields.index(fname)]
                        return t or None
                    c = c.parent
                return None
        return None

    def shape(cname: str) -> Any:
        c = cls(cname)
        if c is None or heap is None or not heap.lays_out:
            return None
        from ...heap.layout import shape_of
        from .layout import probe_slots

        if probe_slots()[0] is None:
            return None
        # (decides the class's layout now if no instance made it yet: the
        # same decision new_instance makes with this heap)
        return shape_of(heap, c)

    lookup.cls = cls  # type: ignore[attr-defined]
    lookup.shape = shape  # type: ignore[attr-defined]
    lookup.glob = lambda slot: G[slot] if 0 <= slot < len(G) else None  # type: ignore[attr-defined]  # (a class global: construct.py)
    return lookup


def object_type(t: Any) -> str | None:
    """"class", "record" or "array" (of either) for a declared type native
    code may hold as an object."""
    from ...bytecode.types import ArrayT, ClassT, RecordT
    from .objects import strip

    t = strip(t)  # (`C?`: an object or nil, objects.py)
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


def shape_index(ty: Any, recv: Instr, name: str) -> tuple[Any, int, str] | None:
    """(the class, the slot of field `name`, the slot's raw kind: "i", "b"
    or "" for a reference, heap/layout.py "Raw slots") when `recv`'s
    declared class lays its instances out (fields.py:
    one load at SLOT_BASE + 8 * slot after a check of the object's type
    against the class's shape), else None (a record, a dict instance, an
    unknown class or field)."""
    from ...bytecode.types import ClassT

    t = ty.objs.get(recv)
    ft = ty.field_type
    if not isinstance(t, ClassT) or ft is None or getattr(ft, "shape", None) is None:
        return None
    shape = ft.shape(t.name)
    if shape is None:
        return None
    k = shape.INDEX.get(name)
    return None if k is None else (ft.cls(t.name), k, shape.RAW[k])


def field_index(ty: Any, recv: Instr, name: str) -> int | None:
    """Where field `name` is in the dict of `recv` if it was made as usual:
    its index in the class's template, or in the record type's fields."""
    from ...bytecode.types import ClassT, RecordT

    t = ty.objs.get(recv)
    if isinstance(t, RecordT):
        names = [n for n, _ in t.fields]
    elif isinstance(t, ClassT) and ty.field_type is not None and getattr(ty.field_type, "cls", None) is not None:
        c = ty.field_type.cls(t.name)
        names = list(c.template) if c is not None else []
    else:
        return None
    return names.index(name) if name in names else None


def type_op(i: Instr, a: list, ty: Any) -> str:
    """The machine type of a field op or a native built-in call (select.py)."""
    from ...bytecode.types import RecordT
    from .objects import strip
    from .select import _NAMES, NotEligible

    op = i.op
    if op == "call":
        return _builtin_type(i, a)
    if op in ITER_OPS:
        return _iter_type(i, a, ty)
    if op in ("get_index", "set_index"):
        if op == "set_index":
            from .stores import index_store_type

            return index_store_type(i, a, ty)  # (a reference stored: stores.py, with the write barrier)
        if a[1] != "i":
            raise NotEligible(f"{op} of an array of objects at other than an int")
        t = ty.objs.get(i.args[0])
        if t is None:
            raise NotEligible("get_index of an array of objects of unknown type")
        ty.objs[i] = strip(t.elem)
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
            ty.objs[i] = strip(parse_type_text(text))
        return m
    if m not in ("i", "f", "b"):
        from .stores import field_store_type

        return field_store_type(i, m, a, ty)  # (a reference stored: stores.py, with the write barrier)
    if a[1] != m:
        raise NotEligible(f"{op} of field '{name}' ({_NAMES.get(m, 'an object')}) with {_NAMES.get(a[1], a[1])}")
    ty.effects.append(i)
    return "v"


def _iter_type(i: Instr, a: list, ty: Any) -> str:
    """`for x in a`, a an array of objects or of scalars: the iterator is
    machine type "it" (the array's address; its position is a stack slot of
    the native frame, and a deopt rebuilds a real Iterator from both:
    deopt.py ITER); each element is an object "p", or unboxed as `a[i]` is."""
    from .objects import strip
    from .select import NotEligible

    op = i.op
    if op == "get_iter" and a[0] in _SCALAR_ARRAYS:
        ty.heap = ty.allocs = True  # (its Iterator's bytes charged: charges.py)
        return "it"
    if op == "for_iter" and a[0] == "it" and ty.types.get(i.args[0].args[0]) in _SCALAR_ARRAYS:
        return ty.types[i.args[0].args[0]][1]
    if op == "get_iter":
        if a[0] != OBJ_ARRAY or i.args[0] not in ty.objs:
            raise NotEligible("get_iter of something else than an array of objects or scalars")
        ty.objs[i] = strip(ty.objs[i.args[0]].elem)
        ty.heap = ty.allocs = True  # (its Iterator's bytes charged: charges.py)
        return "it"
    if op == "for_iter":
        if a[0] != "it":
            raise NotEligible("for_iter of an iterator native code does not hold")
        ty.objs[i] = ty.objs[i.args[0]]
        return "p"
    if i.args[0].op != "for_iter":
        raise NotEligible("iter_done of something else than a for_iter")
    return "b"


_SCALAR_ARRAYS = ("ai", "af", "ab")






def calls_out_each_call(group: list) -> None:
    """NotEligible for a function without loops whose method call is a call
    out (a callee that is not native, or whose result is no scalar): it
    would leave native code on every call, and no loop header brings it
    back (Towers' `move_disks`, calling `move_top_disk`, which moves object
    references: 1.2-1.5x slower than the other tiers before this rule)."""
    from .alloc import is_push
    from .emit import back_edge_targets
    from .select import NotEligible

    ty = group[0]
    if back_edge_targets(ty.fn):
        return
    for b in ty.fn.blocks:
        for i in b.instrs:
            # (a push of a scalar onto an array is native code: alloc.py)
            if i.op in METHOD_CALLS and i in ty.effects and not is_push(i) and not pops.handles(i, ty.types) and not inserts.handles(i, ty.types):  # (nor a pop: pops.py, nor an insert: inserts.py)
                raise NotEligible(f"calls out at {i.op} of '{i.attrs[0]}' on every call (no loop to come back at)")


def worth_a_native_call(group: list) -> None:
    """`--jit=native` (not `native-eager`, whose tests want every eligible
    function native): NotEligible for a function without loops or native
    callees that reads or writes fields. Entering native code from the
    other tiers costs a ctypes call and the argument checks (~0.5 us); such a
    function does a few dict operations, which the Python JIT's inline code
    does in less: Bounce's `Ball.bounce`, called 75,000 times per iteration
    from an interpreted loop, took 57 ms native against 35 ms on the Python
    JIT. Called from native code it is a native call (in the group) anyway."""
    from .emit import back_edge_targets
    from .select import NotEligible

    ty = group[0]
    if len(group) > 1 or back_edge_targets(ty.fn) or ty.code in ty.callees.values():  # (recursion: native calls after the one entry, objects.py's Element.length)
        return
    if any(i.op in OPS for b in ty.fn.blocks for i in b.instrs):
        raise NotEligible("a loop-free leaf of field operations (a native call's entry costs more than it saves)")


def method_type(i: Instr, a: list, ty: Any, uses: set) -> str:
    """A method call on an object whose declared type is a class C: a native
    call of C's method (the receiver's class is checked to be C exactly at
    run time, else the call leaves native code and the VM makes it), or a
    call out when the method is not a plain guest function or returns no
    scalar (its result unused). Arguments other than the receiver must be
    scalars: the VM checks an object argument's class at the call
    (CALL_METHOD_TYPED), which a native call would skip."""
    from ...bytecode.types import ClassT
    from ...heap.objects import Function
    from .select import NotEligible, result_type

    name = i.attrs[0]
    t = ty.objs.get(i.args[0])
    c = ty.field_type.cls(t.name) if isinstance(t, ClassT) and ty.field_type is not None else None
    meth = c.methods.get(name) if c is not None else None
    ret = result_type(getattr(meth.code, "ret_type", None)) if type(meth) is Function else None
    ok = ret is not None and not meth.upvals and meth.arity == len(a) and all(objects.arg_ok(meth, k, x, ty) for k, x in enumerate(a[1:], start=1))
    if not ok:
        if i in uses:
            raise NotEligible(f"{i.op} of '{name}', whose result native code cannot compute")
        ty.effects.append(i)  # (a call out: native code leaves there, the VM calls)
        ty.methods[i] = None
        return "i"
    g = f"tvm.cls.{c.name}"
    if ty.classes.setdefault(g, c) is not c:
        raise NotEligible(f"two classes named {c.name}")
    ty.methods[i] = (c, meth)
    ty.callees[i] = meth.code
    ty.heap = True
    return objects.call_result(i, ret, meth.code.ret_type, ty)


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
