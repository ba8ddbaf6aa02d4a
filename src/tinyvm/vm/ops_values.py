"""Builders of the value instructions: the stack, constants, variables (locals,
cells, upvalues, globals, built-ins, modules), operators, type checks, strings
and containers, fields and indexing (the table is vm/ops.py).

Operators have an inline fast path for the operand types their language
computes with most (TinyLang's int64 with the overflow check, floats), then
the language's slow path (runtime/arith.py for TinyLang, its rules otherwise:
runtime/dialects.py). The stack forms are generated from source templates, one
factory per (opcode, rules) shape.
"""

from __future__ import annotations

from typing import Any, Callable

from ..bytecode import opcodes as O
from ..bytecode.code import PRIVATE_BUILTIN_PREFIX
from ..heap.objects import (
    UNINIT,
    Array,
    Cell,
    Instance,
    Map,
    Record,
)
from ..heap.layout import SlotInstance
from ..heap.packed import PackedArray
from ..runtime import arith
from ..runtime.errors import RtError, undefined_global
from ..runtime.memory import SMALL_STR
from ..runtime.values import check_key, typeof
from .ops import BUILDERS, builder, push_value, unary

# The buffer typecode that takes a value of each scalar type in place
# (heap/packed.py: 'q' int64, 'd' double, 'b' bool).
_PACKED_KIND = {int: "q", float: "d", bool: "b"}

_ARITH_OPS = {O.ADD: "+", O.SUB: "-", O.MUL: "*"}
_CMP_OPS = {O.LT: "<", O.LE: "<=", O.GT: ">", O.GE: ">=", O.EQ: "==", O.NE: "!="}
_OTHER_OPS = (O.DIV, O.MOD, O.BAND, O.BOR, O.BXOR, O.SHL, O.SHR)


@builder(O.NOP)
def b_nop(d, code, ops, pc, args, k):
    def f(fb):
        return ops[k]

    return f


@builder(O.POP)
def b_pop(d, code, ops, pc, args, k):
    def f(fb):
        fb.L.pop()
        return ops[k]

    return f


@builder(O.DUP)
def b_dup(d, code, ops, pc, args, k):
    def f(fb):
        L = fb.L
        L.append(L[-1])
        return ops[k]

    return f


@builder(O.DUP2)
def b_dup2(d, code, ops, pc, args, k):
    def f(fb):
        L = fb.L
        L += L[-2:]
        return ops[k]

    return f


@builder(O.SWAP)
def b_swap(d, code, ops, pc, args, k):
    def f(fb):
        L = fb.L
        L[-1], L[-2] = L[-2], L[-1]
        return ops[k]

    return f


@builder(O.LOAD_CONST)
def b_load_const(d, code, ops, pc, args, k):
    return push_value(ops, k, code.consts[args[0]])


@builder(O.LOAD_NIL)
def b_load_nil(d, code, ops, pc, args, k):
    return push_value(ops, k, None)


@builder(O.LOAD_TRUE)
def b_load_true(d, code, ops, pc, args, k):
    return push_value(ops, k, True)


@builder(O.LOAD_FALSE)
def b_load_false(d, code, ops, pc, args, k):
    return push_value(ops, k, False)


@builder(O.LOAD_LOCAL)
def b_load_local(d, code, ops, pc, args, k):
    i = args[0]

    def f(fb):
        L = fb.L
        L.append(L[i])
        return ops[k]

    return f


@builder(O.STORE_LOCAL)
def b_store_local(d, code, ops, pc, args, k):
    i = args[0]

    def f(fb):
        L = fb.L
        L[i] = L.pop()
        return ops[k]

    return f


@builder(O.LOAD_CELL)
def b_load_cell(d, code, ops, pc, args, k):
    i = args[0]

    def f(fb):
        L = fb.L
        L.append(L[i].value)
        return ops[k]

    return f


@builder(O.STORE_CELL)
def b_store_cell(d, code, ops, pc, args, k):
    i = args[0]
    heap = d.vm.heap

    def f(fb):
        L = fb.L
        cell = L[i]
        cell.value = v = L.pop()
        if cell.mark == heap.watch:  # (the write barrier: docs/gc.md)
            heap.barrier(cell, v)
        return ops[k]

    return f


@builder(O.MAKE_CELL)
def b_make_cell(d, code, ops, pc, args, k):
    i = args[0]
    alloc = d.vm.heap.alloc

    def f(fb):
        L = fb.L
        L[i] = alloc(Cell(L[i]))
        return ops[k]

    return f


@builder(O.LOAD_UPVAL)
def b_load_upval(d, code, ops, pc, args, k):
    i = args[0]

    def f(fb):
        L = fb.L
        L.append(L[0].upvals[i].value)
        return ops[k]

    return f


@builder(O.STORE_UPVAL)
def b_store_upval(d, code, ops, pc, args, k):
    i = args[0]
    heap = d.vm.heap

    def f(fb):
        L = fb.L
        cell = L[0].upvals[i]
        cell.value = v = L.pop()
        if cell.mark == heap.watch:
            heap.barrier(cell, v)
        return ops[k]

    return f


@builder(O.LOAD_GLOBAL)
def b_load_global(d, code, ops, pc, args, k):
    g = args[0]
    G = d.G
    name = d.global_name(g)

    def f(fb):
        v = G[g]
        if v is UNINIT:
            raise undefined_global(name)
        fb.L.append(v)
        return ops[k]

    return f


@builder(O.STORE_GLOBAL)
def b_store_global(d, code, ops, pc, args, k):
    g = args[0]
    G = d.G

    def f(fb):
        G[g] = fb.L.pop()
        return ops[k]

    return f


@builder(O.LOAD_BUILTIN)
def b_load_builtin(d, code, ops, pc, args, k):
    name = code.names[args[0]]
    value = d.vm.builtins.get(name, UNINIT)
    if name.startswith(PRIVATE_BUILTIN_PREFIX) and not d.privileged:
        # The runtime library's own helpers exist for the prelude only (the
        # verifier rejects them in .tvm files; this covers code from anywhere).
        value = UNINIT
    if value is UNINIT:

        def missing(fb):
            raise RtError("Error", f"built-in '{name}' is not available in this version")

        return missing
    return push_value(ops, k, value)


@builder(O.THIS_MODULE)
def b_this_module(d, code, ops, pc, args, k):
    return push_value(ops, k, d.module)


@builder(O.IMPORT)
def b_import(d, code, ops, pc, args, k):
    spec = code.consts[args[0]]
    vm = d.vm
    importer = d.module.name

    def f(fb):
        return vm.import_module(fb, importer, spec, ops[k])

    return f


_STACK_ARITH = """
def make(ops, k, slow, alloc):
    def f(fb):
        L = fb.L
        y = L.pop(); x = L[-1]
        if type(x) is int and type(y) is int:
            r = x {OP} y
            if -9223372036854775808 <= r <= 9223372036854775807:
                L[-1] = r
                return ops[k]
        elif type(x) is float and type(y) is float:
            L[-1] = x {OP} y
            return ops[k]
        r = slow(x, y)
        if type(r) is Array or type(r) is PackedArray:  # (`xs * n` may pack: heap/packed.py)
            alloc(r)
        L[-1] = r
        return ops[k]
    return f
"""

# Languages without TinyLang's ints (Lox): floats inline, everything else slow.
_STACK_ARITH_FLOAT = """
def make(ops, k, slow, alloc):
    def f(fb):
        L = fb.L
        y = L.pop(); x = L[-1]
        if type(x) is float and type(y) is float:
            L[-1] = x {OP} y
            return ops[k]
        r = slow(x, y)
        if type(r) is Array or type(r) is PackedArray:  # (`xs * n` may pack: heap/packed.py)
            alloc(r)
        L[-1] = r
        return ops[k]
    return f
"""

_STACK_CMP = """
def make(ops, k, slow, alloc):
    def f(fb):
        L = fb.L
        y = L.pop(); x = L[-1]
        if type(x) is int and type(y) is int:
            L[-1] = x {OP} y
        else:
            L[-1] = slow(x, y)
        return ops[k]
    return f
"""

_STACK_CMP_FLOAT = """
def make(ops, k, slow, alloc):
    def f(fb):
        L = fb.L
        y = L.pop(); x = L[-1]
        if type(x) is float and type(y) is float:
            L[-1] = {EXPR}
        else:
            L[-1] = slow(x, y)
        return ops[k]
    return f
"""

_STACK_OTHER = """
def make(ops, k, slow, alloc):
    def f(fb):
        L = fb.L
        y = L.pop()
        L[-1] = slow(L[-1], y)
        return ops[k]
    return f
"""


def _stack_factory(opcode: int, int_fast: bool, cmp: dict[int, str]) -> Callable:
    if opcode in _ARITH_OPS:
        src = (_STACK_ARITH if int_fast else _STACK_ARITH_FLOAT).replace("{OP}", _ARITH_OPS[opcode])
    elif opcode in _CMP_OPS:
        if int_fast:
            src = _STACK_CMP.replace("{OP}", _CMP_OPS[opcode])
        else:
            src = _STACK_CMP_FLOAT.replace("{EXPR}", cmp[opcode].format(x="x", y="y"))
    else:
        src = _STACK_OTHER
    env: dict[str, Any] = {"Array": Array, "PackedArray": PackedArray}
    exec(compile(src, f"<tinyvm {O.OPCODES[opcode].name}>", "exec"), env)
    return env["make"]


# Built on first use (exec at import time would slow down every start-up).
_STACK_FACTORIES: dict[tuple, Callable] = {}


@builder(*(list(_ARITH_OPS) + list(_CMP_OPS) + list(_OTHER_OPS) + [O.IS]))
def b_binary(d, code, ops, pc, args, k):
    opc = code.code[pc]
    rules = d.rules
    key = (opc, rules.int_fast, rules.cmp.get(opc))
    fac = _STACK_FACTORIES.get(key)
    if fac is None:
        fac = _STACK_FACTORIES[key] = _stack_factory(opc, rules.int_fast, rules.cmp)
    return fac(ops, k, rules.binary[opc], d.vm.heap.alloc)


@builder(O.NEG)
def b_neg(d, code, ops, pc, args, k):
    neg = d.rules.neg

    def f(fb):
        L = fb.L
        x = L[-1]
        L[-1] = -x if type(x) is float else neg(x)
        return ops[k]

    return f


BUILDERS[O.BNOT] = unary(arith.bnot)
BUILDERS[O.NOT] = unary(arith.not_)


def _check_bool(v: Any) -> Any:
    if v is True or v is False:
        return v
    raise RtError("TypeError", f"condition must be bool, got {typeof(v)}")


BUILDERS[O.CHECK_BOOL] = unary(_check_bool)


@builder(O.CHECK_TYPE)
def b_check_type(d, code, ops, pc, args, k):
    check = d.vm.type_checks.check_const(code.consts[args[0]])

    def f(fb):
        L = fb.L
        L[-1] = check(L[-1])
        return ops[k]

    return f


@builder(O.RANGE, O.RANGE_INCL)
def b_range(d, code, ops, pc, args, k):
    inclusive = code.code[pc] == O.RANGE_INCL
    alloc = d.vm.heap.alloc
    if O.drops_range(code.code, pc):
        # `for i in a..b`: the POP after drops the Range at once, so it is
        # checked and made but not allocated -- not listed, not charged
        # (O.drops_range: the rule every tier keeps). It is still a real
        # Range for the one instruction it lives, for a debugger stopped at
        # the POP; its mark is a new object's, so a collection run there
        # (a debugger's expression) traces it as any live object.
        make = arith.make_range
        heap = d.vm.heap

        def f_dropped(fb):
            L = fb.L
            y = L.pop()
            r = L[-1] = make(L[-1], y, inclusive)
            r.mark = heap.new_mark
            return ops[k]

        return f_dropped

    def f(fb):
        L = fb.L
        y = L.pop()
        L[-1] = alloc(arith.make_range(L[-1], y, inclusive))
        return ops[k]

    return f


@builder(O.TO_STR)
def b_to_str(d, code, ops, pc, args, k):
    vm = d.vm

    def f(fb):
        L = fb.L
        v = L[-1]
        if type(v) is str:
            return ops[k]
        return vm.to_str_op(fb, ops[k])

    return f


@builder(O.BUILD_STRING)
def b_build_string(d, code, ops, pc, args, k):
    n = args[0]
    if n == 0:  # (L[-0:] would be the whole frame)
        return push_value(ops, k, "")

    charge_str = d.vm.heap.charge_str

    def f(fb):
        L = fb.L
        s = "".join(L[-n:])
        if len(s) >= SMALL_STR:
            charge_str(s)
        del L[-n:]
        L.append(s)
        return ops[k]

    return f


@builder(O.BUILD_ARRAY)
def b_build_array(d, code, ops, pc, args, k):
    n = args[0]
    alloc = d.vm.heap.alloc

    def f(fb):
        L = fb.L
        if n:
            items = L[-n:]
            del L[-n:]
        else:
            items = []
        L.append(alloc(Array(items)))
        return ops[k]

    return f


@builder(O.BUILD_MAP)
def b_build_map(d, code, ops, pc, args, k):
    n = args[0]
    alloc = d.vm.heap.alloc

    def f(fb):
        L = fb.L
        items: dict = {}
        if n:
            flat = L[-2 * n :]
            del L[-2 * n :]
            for i in range(0, 2 * n, 2):
                items[check_key(flat[i])] = flat[i + 1]
        L.append(alloc(Map(items)))
        return ops[k]

    return f


@builder(O.BUILD_RECORD)
def b_build_record(d, code, ops, pc, args, k):
    names = code.consts[args[0]]
    n = args[1]
    alloc = d.vm.heap.alloc

    def f(fb):
        L = fb.L
        if n:
            values = L[-n:]
            del L[-n:]
        else:
            values = []
        L.append(alloc(Record(dict(zip(names, values)))))
        return ops[k]

    return f


@builder(O.GET_FIELD)
def b_get_field(d, code, ops, pc, args, k):
    name = code.names[args[0]]
    get_field = d.rules.get_field
    # A laid-out instance (heap/layout.py) is read through this
    # instruction's cache: the last shape seen with the field, and the
    # field's slot name in it (a getattr of a slot, ~15% faster than the
    # dict probe). It is tested first: every TinyLang instance is laid out;
    # a dict instance (Lox's, or any when the heap does not lay out) next.
    shape: Any = None
    slot = ""

    def f(fb):
        nonlocal shape, slot
        L = fb.L
        obj = L[-1]
        t = type(obj)
        if t is shape:
            v = getattr(obj, slot)
            if v is not UNINIT:
                L[-1] = v
                return ops[k]
        elif t is Instance:
            v = obj.fields.get(name, UNINIT)
            if v is not UNINIT:
                L[-1] = v
                return ops[k]
        elif t.__base__ is SlotInstance:
            i = t.INDEX.get(name)
            if i is not None:
                shape, slot = t, t.ATTRS[i]
                v = getattr(obj, slot)
                if v is not UNINIT:
                    L[-1] = v
                    return ops[k]
        L[-1] = get_field(obj, name)
        return ops[k]

    return f


def _shape_slot(t: Any, name: str) -> str | None:
    """The slot holding field `name` in shape t, or None (not a shape, or no
    such field): the set-field builders' cache fill."""
    if t.__base__ is not SlotInstance:
        return None
    i = t.INDEX.get(name)
    return None if i is None else t.ATTRS[i]


@builder(O.SET_FIELD)
def b_set_field(d, code, ops, pc, args, k):
    name = code.names[args[0]]
    set_field = d.rules.set_field  # (also adds the fields of open instances)
    heap = d.vm.heap
    shape: Any = None  # (as b_get_field's cache)
    slot = ""

    def f(fb):
        nonlocal shape, slot
        L = fb.L
        v = L.pop()
        obj = L.pop()
        t = type(obj)
        if t is not shape and t is not Instance:
            s = _shape_slot(t, name)
            if s is not None:
                shape, slot = t, s
        if t is shape:
            # (the checks are the instance's class's: classes share shapes)
            checks = obj.cls.field_checks
            if checks is not None:
                check = checks.get(name)
                if check is not None:
                    v = check(v)
            setattr(obj, slot, v)
            if obj.mark == heap.watch:
                heap.barrier(obj, v)
            return ops[k]
        if t is Instance:
            fields = obj.fields
            if name in fields:
                checks = obj.cls.field_checks
                if checks is not None:  # a typed field in the class
                    check = checks.get(name)
                    if check is not None:
                        v = check(v)
                fields[name] = v
                if obj.mark == heap.watch:
                    heap.barrier(obj, v)
                return ops[k]
        set_field(obj, name, v)
        return ops[k]

    return f


@builder(O.SET_FIELD_PROVEN)
def b_set_field_proven(d, code, ops, pc, args, k):
    name = code.names[args[0]]
    set_field = d.rules.set_field_proven
    heap = d.vm.heap
    shape: Any = None  # (as b_get_field's cache)
    slot = ""

    def f(fb):
        nonlocal shape, slot
        L = fb.L
        v = L.pop()
        obj = L.pop()
        t = type(obj)
        if t is not shape and t is not Instance:
            s = _shape_slot(t, name)
            if s is not None:
                shape, slot = t, s
        if t is shape:
            setattr(obj, slot, v)
            if obj.mark == heap.watch:
                heap.barrier(obj, v)
            return ops[k]
        if t is Instance:
            fields = obj.fields
            if name in fields:
                fields[name] = v
                if obj.mark == heap.watch:
                    heap.barrier(obj, v)
                return ops[k]
        set_field(obj, name, v)
        return ops[k]

    return f


@builder(O.GET_INDEX)
def b_get_index(d, code, ops, pc, args, k):
    get_index = d.vm.get_index

    def f(fb):
        L = fb.L
        i = L.pop()
        obj = L[-1]
        if type(obj) is Array and type(i) is int:
            items = obj.items
            if 0 <= i < len(items):
                L[-1] = items[i]
                return ops[k]
        elif type(obj) is PackedArray and type(i) is int:
            # (heap/packed.py: the buffer read in place, a bool back from 0/1)
            buf = obj.packed
            if 0 <= i < len(buf):
                L[-1] = buf[i] if buf.typecode != "b" else buf[i] == 1
                return ops[k]
        L[-1] = get_index(obj, i)
        return ops[k]

    return f


@builder(O.SET_INDEX)
def b_set_index(d, code, ops, pc, args, k):
    set_index = d.vm.set_index
    heap = d.vm.heap

    def f(fb):
        L = fb.L
        v = L.pop()
        i = L.pop()
        obj = L.pop()
        if type(obj) is Array and type(i) is int:
            items = obj.items
            if 0 <= i < len(items):
                items[i] = v
                if obj.mark == heap.watch:
                    heap.barrier(obj, v)
                return ops[k]
        elif type(obj) is PackedArray and type(i) is int:
            # A scalar of the buffer's kind stored in place (no barrier: a
            # packed array holds no reference); anything else goes to
            # set_index, which unpacks the array first and runs the barrier.
            buf = obj.packed
            if 0 <= i < len(buf) and _PACKED_KIND.get(type(v)) == buf.typecode and (type(v) is not int or -9223372036854775808 <= v <= 9223372036854775807):
                buf[i] = v
                return ops[k]
        set_index(obj, i, v)
        return ops[k]

    return f


@builder(O.ASSIGN_GLOBAL)
def b_assign_global(d, code, ops, pc, args, k):
    g = args[0]
    G = d.G
    name = d.global_name(g)

    def f(fb):
        if G[g] is UNINIT:
            raise undefined_global(name)
        G[g] = fb.L.pop()
        return ops[k]

    return f


# Issue 18, helper tltuple: the tuple instructions register their builders too.
from . import ops_tuples  # noqa: F401
