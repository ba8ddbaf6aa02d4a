"""Which functions the native tier compiles (v0), and the machine type of every value.

The decision is made on the optimized SSA IR of a code object (ir/build.py,
then the JIT's pipeline without speculation: no guards; what can still
fail leaves at its exact pc, deopt.py). A function is *eligible* when

- its parameters are `int`, `float`, `bool` or arrays of them (or unused),
  its declared result one of the scalars, nil or an array of scalars;
- every value it computes gets one of the machine types below (phis must
  agree: a slot that holds an int on one path and a float on another is not
  eligible), inferred here rather than read from the IR's types, which leave
  call results and mixed arithmetic `any`;
- every instruction is in `WHITELIST` with operand types its rule accepts;
- every `call_global` names a hoisted top-level function (TinyLang makes those
  bindings constant: `f = 3` is a compile error) that is itself eligible, or
  else it is a call out (Typed.effects), as a call of a built-in other than
  `len` (`print`) or of a function value; a call out's used result gets a
  machine type native code never computes (callouts.py: the OSR entry after
  the call checks it).

Machine types: "i" (int64), "f" (IEEE double), "b" (bool, i1); "ai", "af",
"ab" for `[int]`, `[float]`, `[bool]` parameters (the guest Array's address:
jit/native/arrays.py reads and writes its list in place), "L" for the
built-in `len` (only ever called), "v" for a store's missing result, "n" for nil
(a function without result; i1, always false), "p" for a parameter of any other type that no instruction uses (a method's
`self` that only frame states name: the object's address, borrowed), "o" for a
built-in or a string constant (no machine value: only an argument of a call
out, which the VM makes after a deopt, and named by frame states).

Why the whitelist leaves things out: mixed int/float *comparisons* (Python
compares an int and a float exactly, not after rounding the int: no single
LLVM instruction does that), bools in arithmetic (a TypeError at run time),
and what touches the heap or the VM beyond what the modules named here
handle (fields.py: fields, object arrays, for-in over arrays with the
iterator's bytes charged (charges.py); alloc.py/construct.py: allocation;
...): strings other than call-out arguments, maps, globals other than
calls and classes, closures, exception handlers; printing is a call out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...bytecode.code import FLAG_METHOD
from ...ir.nodes import Function, Instr
from . import (
    anyval,
    callouts,
    construct,
    fieldtypes,
    inserts,
    objects,
    opaque,
    pops,
    ranges,
)

# IR op -> what it may be given (checked in `_type_of`).
WHITELIST = {
    "param": "the function's parameters (int, float, bool)",
    "const": "int, float or bool constants",
    "phi": "operands of one machine type",
    "add": "int x int (overflow-checked), float/int mixes (promoted to float)",
    "sub": "as add",
    "mul": "as add",
    "div": "int / int (truncating; bails on 0 and MIN/-1), float division (IEEE)",
    "mod": "int % int (C remainder; bails on 0 and MIN % -1), float fmod",
    "neg": "int (overflow-checked) or float",
    "band": "int x int", "bor": "int x int", "bxor": "int x int",
    "shl": "int x int (a count outside 0..63 or an overflow fails)", "shr": "int x int (a count outside 0..63 fails)",
    "lt": "int x int or float x float", "le": "as lt", "gt": "as lt", "ge": "as lt",
    "eq": "two values of one machine type", "ne": "as eq",
    "not": "bool", "check_bool": "bool",
    "range": "int x int whose result no instruction uses (a for-range loop's, range[\"drop\"]: nothing to do; a Range kept but never read: its bytes charged as the interpreter allocates them, ranges.py)",
    "range_incl": "as range (`a..=b`)",
    "call_global": "a hoisted function that is itself eligible (native call), or any other: a call out through the VM (a used result: callouts.py)",
    # Arrays ([int], [float], [bool] parameters; jit/native/arrays.py lowers them):
    "get_index": "array x int (bounds-checked; the element's type is checked as it is read)",
    "set_index": "array x int x element (bounds-checked; an effect)",
    "builtin": "`len`, called on an array; any other built-in only called (by calls out) and named by frame states",
    "call": "len(array) (native), or of another built-in or a function value: a call out through the VM (a used result: callouts.py)",
    # Fields (scalar-typed fields of instances and records; jit/native/fields.py lowers them):
    "get_field": "an object x a field of declared type int, float, bool, [int]/[float]/[bool] or a class/record",
    "set_field_proven": "an object x an int, float or bool field (an effect)",
    "set_field": "as set_field_proven, of a record (records have no field checks)",
    "call_method": "array.len(), array.push(v) (jit/native/alloc.py), array.pop() of scalars or objects (pops.py), insert into scalars (inserts.py), or a method of an object whose class is known (a native call, the class guarded), or a call out",
    "call_method_typed": "as call_method",
    "get_iter": "an array of objects or scalars (no iterator allocated: fields.py)", "for_iter": "its iterator", "iter_done": "a for_iter",
    # narrays: arrays native code makes (jit/native/alloc.py): literals of
    # scalars, `xs * n` (mul), `Array(n, fill)` (call), push (call_method).
    "array": "a literal of ints, floats or bools of one type (an empty one: typed from its uses)",
    "check_type": "an array checked against its own type (an untyped local returned as a declared array)",
    # nnew: objects native code makes (jit/native/construct.py): a class
    # global, called (`call`, `call_typed`): a new instance and its init.
    "load_global": "a class (a constant binding), only called", "call_typed": "a class called (construct.py)",
    "jump": "-", "branch": "a bool condition", "return": "the declared result type",
}

_SCALAR = {"int": "i", "float": "f", "bool": "b"}
# Arrays of scalars: the machine value is the address of the guest Array
# object (borrowed: the frame keeps it alive), "a" + the element's type.
_ARRAY = {"[int]": "ai", "[float]": "af", "[bool]": "ab"}
ARRAYS = frozenset(_ARRAY.values()) | {fieldtypes.OBJ_ARRAY}  # ("ap": an array of objects: fields.py, stores.py)
WORDS = ARRAYS | {"p"}  # machine values that are an object's address (i64)


class NotEligible(Exception):
    """Why a function is not compiled natively (logged under --jit-log)."""


@dataclass
class Typed:
    """One eligible function: its IR, the machine type of each value, its callees."""

    fn: Function
    code: Any
    params: list[str]  # machine types of the declared parameters (slot 1..)
    ret: str
    types: dict[Instr, str] = field(default_factory=dict)
    callees: dict[int, Any] = field(default_factory=dict)  # global slot -> the callee's Code
    # Instructions with effects the VM can see (heap stores, calls out of
    # native code). v0 bails and re-runs the whole call, which is exact only
    # for pure functions: a function with effects needs exact-pc deopt.
    effects: list[Instr] = field(default_factory=list)
    # Whether the code touches Python objects (arrays): it then runs holding
    # the GIL, and needs CPython's layout (jit/native/layout.py).
    heap: bool = False
    # Object values ("p": fields.py): their declared type (a ClassT or RecordT),
    # and `(class name, field) -> declared type text` (the engine's, from the VM's globals).
    objs: dict = field(default_factory=dict)
    field_type: Any = None
    # Native method calls (fields.py): call instr -> the receiver's class, and
    # the guard globals' name -> class object (bound after loading).
    methods: dict = field(default_factory=dict)
    classes: dict = field(default_factory=dict)
    # Whether it allocates or pushes (jit/native/alloc.py: the engine then
    # hands it the heap budget and the allocation callback).
    allocs: bool = False
    # Constructions (jit/native/construct.py): call instr -> plan (None: a call out).
    ctors: dict = field(default_factory=dict)
    # value -> the instructions using it (callouts.py, built when a call out's used result is typed).
    users: dict = field(default_factory=dict)
    # An inlined leaf method's entry block -> the call it replaced (selfinline.py).
    inline_sites: dict = field(default_factory=dict)


def scalar(t: Any) -> str | None:
    return _SCALAR.get(str(t)) if t is not None else None


def param_type(t: Any) -> str | None:
    """The machine type of a parameter: a scalar or an array of scalars."""
    return scalar(t) or (_ARRAY.get(str(t)) if t is not None else None) or opaque.param_type(t)  # (`[any]`: opaque.py)


def result_type(t: Any) -> str | None:
    """The machine type of a declared result: a scalar, an array of scalars, or "n" for nil (no result)."""
    return "n" if t is not None and str(t) == "nil" else param_type(t) or objects.result_type(t) or opaque.result_type(t)  # (an array: alloc.py; an object: objects.py)


def const_type(v: Any) -> str | None:
    t = type(v)
    if v is None:
        return "n"
    return "b" if t is bool else "i" if t is int else "f" if t is float else None


def analyze(fn: Function, code: Any, callee_of: Any, field_type: Any = None, receiver: Any = None) -> Typed:
    """Type every value of fn (optimized IR, no speculation) or raise NotEligible.

    `callee_of(slot)` returns the Code of the hoisted function in global
    `slot`, or None when the slot holds anything else now. `receiver`: for
    a method, the class `self` is taken to be (a subclass of the one that
    declares it: the entry op checks it, engine.py `_prepare`)."""
    params = []
    used = {a for b in fn.blocks for i in b.all() for a in i.args}
    for p in fn.params[1:]:
        m = param_type(p.type)
        if m is None:
            if p in used and not fieldtypes.object_type(p.type) and not callouts.is_function(p.type):  # (a function value: only called out, callouts.py)
                raise NotEligible(f"parameter of type {p.type}")
            m = fieldtypes.param_machine_type(p.type) if p in used else "p"  # (unused, e.g. a method's `self`: passed through for frame states only)
        params.append(m)
    ret = result_type(fn.ret)
    if ret is None:
        raise NotEligible(f"result type {fn.ret}")
    ty = Typed(fn, code, params, ret, field_type=field_type)
    types = ty.types
    for p, m in zip(fn.params[1:], params):
        types[p] = m
        if m in ("p", fieldtypes.OBJ_ARRAY) and fieldtypes.object_type(p.type):
            ty.objs[p] = objects.strip(p.type)  # (an object whose fields native code may read: fields.py)
    if receiver is not None and code.flags & FLAG_METHOD and len(fn.params) > 1:
        from ...bytecode.types import ClassT

        ty.objs[fn.params[1]] = ClassT(receiver.name)  # (self: the receiver's class, not the declaring one)
    uses: set[Instr] = {a for b in fn.blocks for i in b.all() for a in i.args}
    throws = objects.throw_blocks(fn)  # (failure exits, not typed: objects.py)
    for b in fn.blocks:
        if b.catch_preds:
            raise NotEligible("exception handler")
        for i in b.instrs + [b.terminator]:
            if i is not None and i.catch is not None:
                raise NotEligible("exception handler")
    # Phis first take the type of their already-typed operands; iterate until
    # nothing changes (loops: a phi's back-edge operand is typed after it).
    changed = True
    rounds = 0
    while changed:
        changed = False
        rounds += 1
        if rounds > len(fn.blocks) + 3:
            break
        for b in fn.blocks:
            for i in b.phis:
                got = {types[a] for a in i.args if a in types}
                got = objects.phi_types(i, got, types, ty)  # (objects and nil; optional scalars)
                if len(got) > 1:
                    raise NotEligible(f"v{i.id} holds values of different types ({', '.join(sorted(_NAMES[g] for g in got))})")
                if got and i not in types:
                    types[i] = got.pop()
                    changed = True
            for i in b.instrs if b not in throws else ():
                if i in types or i.op == "fuel":  # (fuel: jit/fuel.py, a VM that counts it)
                    continue
                if any(a not in types for a in i.args):
                    continue
                t = _type_of(i, types, uses, callee_of, ty)
                types[i] = t
                changed = True
    ret = objects.init_result(ty, ret)  # (an init returns self, declared nil)
    for b in fn.blocks:
        for i in b.all() if b not in throws else b.phis:
            if i.op not in ("call", "call_global", "call_typed") and not (i.op in fieldtypes.METHOD_CALLS and types.get(i.args[0]) == "o") and any(types.get(x) in ("o", callouts.GLOBAL) for x in i.args):  # (call_global: a call out, group_of; a method of an "o": callouts.py)
                raise NotEligible(f"{i.op} of a built-in or string (native code only passes them to calls out)")
            for k, x in enumerate(i.args):
                if types.get(x) == "L" and (i.op != "call" or k != 0):
                    raise NotEligible("the built-in len used other than called")
            if i.op in ("jump", "fuel"):
                continue
            if i.op == "branch":
                if types.get(i.args[0]) != "b":
                    raise NotEligible("branch on a value that is not bool")
                continue
            if i.op == "return":
                if not objects.return_ok(types.get(i.args[0]), ret):
                    raise NotEligible(f"returns {_NAMES.get(types.get(i.args[0]), 'a value of another type')}, declared {fn.ret}")
                continue
            if i.op not in WHITELIST:
                raise NotEligible(f"uses {i.op}")
            if i not in types:
                raise NotEligible(f"v{i.id} ({i.op}) has no machine type")
    return ty


_NAMES = {"i": "int", "f": "float", "b": "bool", "ai": "[int]", "af": "[float]", "ab": "[bool]", "ap": "an array of objects", "L": "len", "v": "nothing", "p": "an object", "n": "nil", None: "?"}
_NAMES.update({"qi": "int?", "qf": "float?", "qb": "bool?"})  # (optional scalars: objects.py)
_ARRAY_OPS = frozenset(("get_index", "set_index", "builtin", "call", "call_method"))
_ALLOC_OPS = frozenset(("array", "mul", "call", "call_method", "check_type"))  # (jit/native/alloc.py)


def _array_type(i: Instr, a: list, ty: Typed) -> str | None:
    """Machine types of the array operations (lowered by jit/native/arrays.py),
    or None when `i` is not one (another built-in or call: the rules after
    this one decide)."""
    op = i.op
    if op == "builtin":
        return "L" if i.attrs == ("len",) else None  # (no machine value: only `call` may use it, checked in analyze)
    if op == "call":
        if len(a) != 2 or a[0] != "L" or a[1] not in ARRAYS:
            return None
    elif op == "call_method":
        if i.attrs[:1] != ("len",) or len(a) != 1 or a[0] not in ARRAYS:
            return None
    elif a[0] not in ARRAYS or a[1] != "i" or op == "set_index" and a[2] != a[0][1]:
        raise NotEligible(f"{op} of {', '.join(_NAMES[x] for x in a)}")
    ty.heap = True
    if op == "get_index":
        return a[0][1]
    if op == "set_index":
        ty.effects.append(i)
        return "v"
    return "i"  # len


def _type_of(i: Instr, types: dict, uses: set, callee_of: Any, ty: Typed) -> str:
    op = i.op
    a = [types[x] for x in i.args]
    if op == "missing":  # (LOAD_MISSING: the callee evaluates the default, on the interpreter: defaults.py)
        raise NotEligible("a call leaves out a parameter whose default is not a constant")
    if op not in WHITELIST or op in ("phi", "param"):
        raise NotEligible(f"uses {op}")
    if op in ("eq", "ne") and objects.compare_type(i, a, ty) is not None:
        return "b"  # (objects, nil, optional scalars: objects.py)
    if any(x in objects.OPT for x in a):
        raise NotEligible(f"{op} of an optional scalar")
    t = anyval.type_op(i, a, ty)  # (elements of [any] arrays, scalars stored into them: anyval.py)
    if t is not None:
        return t
    t = construct.type_op(i, a, ty) or opaque.type_op(i, a, ty)  # (literals of references: opaque.py)
    if t is not None:
        return t
    if op in ("call", "call_typed") and a and a[0] in ("p", callouts.GLOBAL):
        return callouts.function_call(i, ty, i in uses)  # (a function value called: callouts.py)
    if op in fieldtypes.METHOD_CALLS and a and a[0] == "o":
        return callouts.method_call(i, ty, i in uses)  # (a method of a string or another value native code does not hold: callouts.py)
    if op in fieldtypes.METHOD_CALLS and a and a[0] == "p":
        return fieldtypes.method_type(i, a, ty, uses)
    if op in fieldtypes.OPS or op in fieldtypes.ITER_OPS or op == "call" and i.args[0].op == "builtin" and i.args[0].attrs[0] in fieldtypes.BUILTINS or op in ("get_index", "set_index") and a[0] == fieldtypes.OBJ_ARRAY:
        return fieldtypes.type_op(i, a, ty)
    if op == "call" and i in uses and callouts.builtin_name(i) not in (None, "len", "Array", *fieldtypes.BUILTINS):
        return callouts.call_out(i, ty)  # (a used result of a built-in native code does not compute: callouts.py)
    if "p" in a and op != "call_global":
        raise NotEligible(f"{op} of an object")
    if pops.is_pop(i) and a and a[0] in pops.SCALAR_ARRAYS:
        return pops.type_op(i, a, ty)  # (xs.pop() of an array of scalars: pops.py)
    if pops.is_pop(i) and a == [fieldtypes.OBJ_ARRAY] and i.args[0] in ty.objs:
        return pops.object_type_op(i, a, ty)  # (of an array of objects of a known class: pops.py)
    if inserts.is_insert(i) and a and a[0] in inserts.SCALAR_ARRAYS:
        return inserts.type_op(i, a, ty)  # (xs.insert(k, v) into an array of scalars: inserts.py)
    if op in _ALLOC_OPS:
        from .alloc import alloc_type

        t = alloc_type(i, a, ty)
        if t is not None:
            return t
    if op in _ARRAY_OPS:
        t = _array_type(i, a, ty)
        if t is not None:
            return t
    if op == "call" and i in uses and a[0] == "L" and len(a) == 2 and a[1] == "o":
        return callouts.call_out(i, ty)  # (len of a string: callouts.py)
    if "L" in a or any(x in ARRAYS for x in a) and op != "call_global":
        raise NotEligible(f"{op} of an array")
    if "n" in a and op not in ("call_global", "call", "eq", "ne"):  # (call: nil passed to a call out)
        raise NotEligible(f"{op} of nil")
    if op == "const":
        t = const_type(i.attrs[0] if i.attrs else None)
        if t is None and i.attrs and type(i.attrs[0]) is str:
            return "o"  # (a string: only an argument of a call out, checked in analyze; nil is "n")
        if t is None:
            raise NotEligible(f"constant {i.attrs[0]!r}")
        return t
    if op in ("add", "sub", "mul", "div", "mod"):
        if "b" in a:
            raise NotEligible(f"{op} of a bool")
        return "i" if a == ["i", "i"] else "f"
    if op == "neg":
        if a[0] == "b":
            raise NotEligible("neg of a bool")
        return a[0]
    if op in ("band", "bor", "bxor", "shl", "shr"):
        if a != ["i", "i"]:
            raise NotEligible(f"{op} of {'/'.join(_NAMES[x] for x in a)}")
        return "i"
    if op in ("lt", "le", "gt", "ge"):
        if a not in (["i", "i"], ["f", "f"]):
            raise NotEligible(f"{op} of {' and '.join(_NAMES[x] for x in a)} (mixed comparisons are exact in the interpreter)")
        return "b"
    if op in ("eq", "ne"):
        if a[0] != a[1]:
            raise NotEligible(f"{op} of {' and '.join(_NAMES[x] for x in a)}")
        return "b"
    if op in ("not", "check_bool"):
        if a != ["b"]:
            raise NotEligible(f"{op} of {_NAMES[a[0]]}")
        return "b"
    if op in ("range", "range_incl"):
        return ranges.type_op(i, a, uses, ty)  # (nothing, or a kept Range's bytes charged: ranges.py)
    if op == "builtin":
        # Not a machine value ("o"): native code never holds it, only calls
        # out with it (checked in analyze); a deopt rebuilds it by name (deopt.py).
        return "o"
    if op == "call":
        if i.args[0].op != "builtin" or i in uses:
            raise NotEligible("uses call")
        if i not in ty.effects:
            ty.effects.append(i)
        return "i"
    if op == "call_global":
        slot = i.attrs[0]
        callee = callee_of(slot)
        ret = result_type(getattr(callee, "ret_type", None)) if callee is not None else None
        if ret is None and i in uses:
            return callouts.call_out(i, ty, getattr(callee, "ret_type", None))  # (a used result: callouts.py)
        if ret is None and i not in uses:
            # A call native code cannot make whose result it never uses: a
            # call out, through the VM (native code deoptimises there).
            if i not in ty.effects:
                ty.effects.append(i)
            return "i"
        if callee is None:
            raise NotEligible(f"calls global {slot}, not a hoisted function")
        if ret is None:
            raise NotEligible(f"calls {callee.name}, whose result is not int, float or bool")
        ty.callees[slot] = callee
        return objects.call_result(i, ret, callee.ret_type, ty)
    raise NotEligible(f"uses {op}")  # pragma: no cover - every whitelisted op is handled above
