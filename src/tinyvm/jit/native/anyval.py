"""Values of `[any]` arrays native code reads, and scalars it stores into them.

opaque.py made `[any]` arrays "ap" that native code only carries; this
module (docs/native.md, "Values native code only carries") adds:

- **Reading an element** (`t[i]` of an "ap" of no declared element class):
  a PyObject whose use decides what native code does with it.
  - Used only by `check_type` to int, float or bool (a typed local, `let x:
    int = t[i]`) right after the read (nothing between them that stores or
    calls): no check at the read; the check_type is arrays.py's unboxing
    read, whose failure exit is at the check's pc (the interpreter converts
    (an int into a float) or raises its own error with its trace). The
    element is then never held, so it may be an int only the array owns.
  - Otherwise an opaque reference "p" of no class, borrowed. Where the
    function may drop the array's reference to it (a store into an array,
    a call of any kind) or returns it, or pushes it, the read checks the
    element is nil or a guest heap object (an `Array`, `Instance` or
    `Record`: alive in the heap's lists until a collection, which never
    runs in native code, so held borrowed even if the slot is overwritten
    later); anything else (an int, a string, a closure...) is a failure
    exit at the read's pc and the interpreter continues. Elsewhere nothing
    can overwrite the slot and any element is held unchecked (`if e !=
    nil { let x: int = e }`). A pushed read's element_charge is then
    ELEMENT (construct.py's push of an object). Its uses are what
    a reference of no known class allows: `== nil`/`!= nil`, stored,
    pushed, passed, returned, a phi (frame states), and `check_type` to
    `[any]` (the element's type is `Array` with a list of items: "ap") or a
    scalar. A field read or method call needs a class (fields.py refuses
    it), `==` of two such values is refused here (the interpreter's `==` of
    ints compares values, not addresses).
- **A scalar checked into a typed place** (`check_type` of an int, float
  or bool: the value stored into a `float` field `self.y = k`): itself, or
  an int converted to a float (the interpreter's conversion); any other
  pair stays ineligible (the interpreter raises).
- **Storing an int, float or bool** into an "ap" (`t[i] = 5`): arrays.py's
  write (the boxing and reference counts of `[int]`/`[float]`/`[bool]`
  stores, no charge, as the interpreter's set_index); a scalar needs no
  write barrier. **Pushing** one: alloc.py's push with the value's kind
  (the interpreter's element_charge against the push budget, the callback
  when the list is full).
"""

from __future__ import annotations

from typing import Any

from ...ir.nodes import Instr

_SCALARS = {"int": "i", "float": "f", "bool": "b"}
_ANY_ARRAY = "[any]"
_PACKABLE = {"[int]": "i", "[float]": "f", "[bool]": "b"}  # (array types whose value may be packed: arrays.py check_array)
# Ops that may stand between a read and its unboxing check without the
# slot's element being dropped (no store, no call, no allocation).
_PURE = frozenset(("const", "get_index", "check_type", "builtin", "eq", "ne", "lt", "le", "gt", "ge", "add", "sub", "mul", "not", "neg"))
_USES = frozenset(("check_type", "eq", "ne", "set_index", "set_field", "call_global", "call", "return", "phi", "array", "call_method"))


def _reads(ty: Any) -> dict:
    """get_index instr -> whether its read checks the element (per Typed)."""
    d = getattr(ty, "_any_reads", None)
    if d is None:
        d = {}
        ty._any_reads = d
    return d


def _pushed(ty: Any) -> set:
    """The reads whose value is pushed (per Typed): always checked."""
    d = getattr(ty, "_any_pushed", None)
    if d is None:
        d = set()
        ty._any_pushed = d
    return d


def _target(i: Instr) -> str:
    return str(i.attrs[0][0]).replace(" ", "") if i.attrs else ""


def _users(fn: Any, v: Instr) -> tuple[list, list]:
    """(instrs using v as an operand, instrs whose frame state names v)."""
    args, states = [], []
    for b in fn.blocks:
        for u in list(b.phis) + list(b.instrs) + ([b.terminator] if b.terminator is not None else []):
            if any(x is v for x in u.args):
                args.append(u)
            if u.state is not None and any(x is v for x in u.state.values()):
                states.append(u)
    return args, states


def _unchecked(i: Instr, args: list, states: list) -> bool:
    """Whether read i is used only by scalar check_types right after it
    (in its block, only pure ops between), nothing else naming it."""
    if not args or any(u.op != "check_type" or _target(u) not in _SCALARS for u in args):
        return False
    if any(u not in args for u in states):
        return False
    b = i.block
    if b is None or i not in b.instrs:
        return False
    k = b.instrs.index(i)
    for u in args:
        if u.block is not b or u not in b.instrs:
            return False
        for x in b.instrs[k + 1 : b.instrs.index(u)]:
            if x.op not in _PURE:
                return False
    return True


def type_op(i: Instr, a: list, ty: Any) -> str | None:
    """select.py's hook: the machine type of an `[any]` element read, its
    checks, and scalar stores/pushes into an "ap"; None: not one (select's
    other rules decide)."""
    from .alloc import is_push
    from .select import NotEligible

    op = i.op
    if op == "get_index" and a[:1] == ["ap"] and i.args[0] not in ty.objs:
        if a[1] != "i":
            raise NotEligible("get_index of an [any] array at other than an int")
        args, states = _users(ty.fn, i)
        for u in args:
            if u.op not in _USES:
                raise NotEligible(f"{u.op} of an element of an [any] array")
            if u.op in ("eq", "ne") and not any(x.op == "const" and x.attrs[:1] == (None,) for x in u.args):
                raise NotEligible(f"{u.op} of an element of an [any] array with other than nil")
            if u.op == "check_type" and _target(u) not in _SCALARS and _target(u) != _ANY_ARRAY:
                raise NotEligible(f"check_type of an element of an [any] array against {_target(u)}")
        _reads(ty)[i] = not _unchecked(i, args, states)
        ty.heap = True
        return "p"
    if op == "check_type" and a == ["p"] and i.args[0] in _reads(ty):
        t = _target(i)
        ty.heap = True
        return _SCALARS.get(t) or "ap"
    if op == "check_type" and a and a[0] in ("i", "f", "b") and (_SCALARS.get(_target(i)) == a[0] or a == ["i"] and _target(i) == "float"):
        return _SCALARS[_target(i)]  # (a scalar into a typed place: as it is, or an int converted to a float)
    if op == "set_index" and a[:1] == ["ap"] and len(a) == 3 and a[2] in ("i", "f", "b"):
        if a[1] != "i":
            raise NotEligible("set_index of an [any] array at other than an int")
        ty.heap = True
        ty.effects.append(i)
        return "v"
    if is_push(i) and a == ["ap", "p"] and i.args[1] in _reads(ty):
        # (an element pushed as read: checked nil or a heap object at its
        # read, so the interpreter's element_charge is ELEMENT: construct.py's push)
        _pushed(ty).add(i.args[1])
        ty.heap = ty.allocs = True
        ty.effects.append(i)
        return "v"
    if is_push(i) and a[:1] == ["ap"] and len(a) == 2 and a[1] in ("i", "f", "b"):
        ty.heap = ty.allocs = True
        ty.effects.append(i)
        return "v"
    return None


def handles(i: Instr, ty: Any) -> bool:
    """emit.py's hook: whether lower() emits i."""
    reads = getattr(ty, "_any_reads", None) or {}
    t = ty.types
    if i.op == "get_index":
        return i in reads
    if i.op == "check_type":
        return bool(i.args) and (i.args[0] in reads or t.get(i.args[0]) in ("i", "f", "b"))
    if i.op == "set_index":
        return t.get(i.args[0]) == "ap" and t.get(i.args[2]) in ("i", "f", "b")
    from .alloc import is_push

    return is_push(i) and t.get(i.args[0]) == "ap" and (t.get(i.args[1]) in ("i", "f", "b") or i.args[1] in reads)


def lower(em: Any, i: Instr) -> None:
    """The code of an instr handles() accepted."""
    arr = em._arrays()
    L = em.lines
    if i.op == "get_index":
        e = arr.load(arr.slot(i.args[0], i.args[1], i), 0)
        if em.ty._any_reads[i] and (_may_drop(em.ty, i) or i in _pushed(em.ty)):
            _check_ref(em, arr, i, e)
        L.append(f"  %v{i.id} = add i64 {e}, 0")
        return
    if i.op == "check_type" and em.ty.types[i.args[0]] != "p":
        x, k = em.val(i.args[0]), em.ty.types[i.args[0]]
        if em.ty.types[i] != k:  # (an int into a float place: sitofp rounds to nearest even, as CPython's float(int))
            L.append(f"  %v{i.id} = sitofp i64 {x} to double")
        else:
            L.append(f"  %v{i.id} = " + {"i": f"add i64 {x}, 0", "f": f"fadd double {x}, -0.0", "b": f"or i1 {x}, false"}[k])
        return
    if i.op == "check_type":
        k = _SCALARS.get(_target(i))
        x = em.val(i.args[0])
        if k is not None:
            arr.read(i, k, x)  # (a failure exit at the check's pc: the interpreter converts or raises)
            return
        arr.check_array(i, x, _PACKABLE.get(_target(i)))  # (an array of scalars may be a PackedArray of that kind)
        L.append(f"  %v{i.id} = add i64 {x}, 0")
        return
    if i.op == "set_index":
        a = arr.slot(i.args[0], i.args[1], i)
        arr.write(i, em.ty.types[i.args[2]], a, i.args[2])
        return
    if em.ty.types[i.args[1]] == "p":
        from .construct import _push

        _push(em, i)  # (an element read and checked: nil or a heap object, charged ELEMENT, the barrier)
        return
    from .alloc import AllocLowering

    AllocLowering(em, arr).push(i, em.ty.types[i.args[1]])


def _droppers(ty: Any) -> bool:
    """Whether the function has an op that may drop an array's reference to
    an element (a store into an array, a call of any kind: its callee may
    store), so an element held borrowed could be freed under native code."""
    d = getattr(ty, "_any_drops", None)
    if d is None:
        from .alloc import is_push

        d = False
        for b in ty.fn.blocks:
            for u in b.instrs:
                store = u.op in ("set_index", "call_global", "call_method") and not is_push(u) and u.attrs[:1] != ("len",)
                if store or u.op == "call" and ty.types.get(u.args[0]) != "L" or u in ty.methods or u in ty.ctors or u in ty.effects and not is_push(u):
                    d = True
        ty._any_drops = d
    return d


def _escapes(v: Instr, fn: Any, seen: set) -> bool:
    """Whether v reaches a `return` (directly or through phis): a native
    caller would hold it borrowed past this function's view."""
    if v in seen:
        return False
    seen.add(v)
    args, _ = _users(fn, v)
    return any(u.op == "return" or u.op == "phi" and _escapes(u, fn, seen) for u in args)


def _may_drop(ty: Any, i: Instr) -> bool:
    """Whether read i must check its element is nil or a heap object: some
    op may drop the array's reference while i's value is held, or it is
    returned. Otherwise any value (an int only the array owns) is safe held
    borrowed: nothing in the function can overwrite the slot."""
    return _droppers(ty) or _escapes(i, ty.fn, set())


def _check_ref(em: Any, arr: Any, i: Instr, e: str) -> None:
    """Fail at i unless e is None or an Array, Instance or Record."""
    from .objects import NONE

    L = em.lines
    t = arr.load(e, arr.lay.type)
    acc = em.tmp("isn")
    L.append(f"  {acc} = icmp eq i64 {e}, {NONE}")
    for name in ("Array", "Instance", "Record"):
        w, c, o = em.tmp("ty"), em.tmp("is"), em.tmp("ok")
        L.append(f'  {w} = load i64, i64* @"tvm.ty.{name}", !invariant.load !90')
        L.append(f"  {c} = icmp eq i64 {t}, {w}")
        L.append(f"  {o} = or i1 {acc}, {c}")
        acc = o
    bad = em.tmp("bt")
    L.append(f"  {bad} = xor i1 {acc}, true")
    em.fail_if(bad, i)
