"""Arrays native code makes and grows: literals, `xs * n`, `Array(n, fill)`, `push`.

The native tier's arrays (jit/native/arrays.py) are guest `Array` objects,
held by address. This module lets native code create them and push onto
them (`[int]`, `[float]`, `[bool]` only), with the guest heap's accounting
exactly as the interpreter's (heap/heap.py, runtime/memory.py):

- **Allocation goes through the VM's one allocation function**,
  `Heap.alloc`, from a ctypes callback (`HeapBridge.callback`, its address
  in ctx word 6): `i64 cb(i64 op, i64 a, i64 b)` returns the new Array's
  address, or 0 to refuse. It refuses whenever the interpreter's own
  allocation would do more than count bytes -- GC stress, or the heap going
  past `next_gc` (a collection due, an emergency mark, the memory limit) --
  and on a VM counting fuel when the interpreter charges items (`xs * n`,
  `Array(n, fill)`: Limits.charge_items). A refusal is a failure exit
  *before* the allocating instruction (deopt.py): the interpreter runs it
  again, collects, raises `MemoryError` with its trace, exactly. So no
  collection ever starts while native code runs, and every Array native
  code holds stays alive: `heap.objects` (the allocation list, every
  mode's) holds each new object until a collection, which only runs at a
  safe point after native code left (its frames then hold what is live).
  A new Array is registered by `Heap.alloc` itself: mark, list, bytes,
  snapshot numbering, as the interpreter's.
- **Push charges the heap inline**: ctx word 5 is the *budget*, the bytes
  native code may still charge before `next_gc` (`HeapBridge.enter`: 0
  under GC stress). A push takes its `element_charge` (ELEMENT, plus
  INT_BYTES for an int outside -5..256, FLOAT_BYTES for a float), or,
  when the budget would go negative, leaves before the push (the
  interpreter's `charge` then does what it does). What native code took is
  added to `heap.bytes` when it leaves (`HeapBridge.leave`) and before
  every allocation (the callback settles first): nobody reads `heap.bytes`
  meanwhile (no guest code runs inside native code).
  The element is appended inline when the list has room (`ob_size <
  allocated`: the slot gets a new reference, ob_size grows), else through
  the callback (`list.append`: CPython grows the vector).
- **Write barrier**: native code stores scalars only (bools, ints, floats
  are no heap objects), which the incremental collector's barrier ignores;
  the generational one would remember an old array a scalar went into,
  which changes nothing it traces. As for arrays.py's stores, none is
  emitted.
- Literals: the callback allocates `Array([None] * n)` (accounted as the
  interpreter's `BUILD_ARRAY`, `Heap.alloc(Array(items))`), native code
  then stores the n boxed elements over the Nones. `xs * n` and
  `Array(n, fill)` are made by the callback from the source array / the
  fill word; a negative count leaves before the call (the interpreter's
  ValueError).

arraymaker.py calls `HeapBridge._make` with `PyObject_Vectorcall`
rather than through the ctypes callback, and makes literals and `xs * n`
inline within the push budget (`Heap.alloc` step by step); pushes onto a
full list keep the callback.

A group that pushes makes arrays.py load a list's size and item vector
without `!invariant.load` (`_FnEmitter.grows`): a push (or a callee's)
changes both.

An empty literal `[]` has IR type `[any]`: its element type is taken from
its uses (a push's or a store's value, the function's declared result).
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable
from typing import Any

from ...heap.objects import FLOAT_BYTES, INT_BYTES, Array
from ...heap.packed import PackedArray, repeat
from ...ir.nodes import Function, Instr
from ...runtime.memory import ELEMENT, array_bytes
from . import arraymaker, charges
from .opaque import new_ref

# Callback operations (the first argument).
LIT, MUL, FILL, PUSH = 0, 1, 2, 5  # FILL + k, PUSH + k for k in KINDS order
# `xs * n` of an array of scalars: packed as the interpreter's (heap/packed.py
# `repeat`: by contents), where MUL's `[any]` product stays a list (an "ap"
# value is never a PackedArray: arrays.py). Through the maker, never inline.
MULK = 8
KINDS = "ifb"
PACKED_KINDS = "ib"  # (heap/packed.py PACKED, "qb", in machine kinds: ints and bools, not floats)

_SCALAR = {"int": "i", "float": "f", "bool": "b"}
_ARRAY = {"[int]": "i", "[float]": "f", "[bool]": "b"}

CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)


def is_push(i: Instr) -> bool:
    return i.op == "call_method" and i.attrs[:1] == ("push",) and len(i.args) == 2


def _is_fill(i: Instr) -> bool:
    return i.op == "call" and len(i.args) == 3 and i.args[0].op == "builtin" and i.args[0].attrs == ("Array",)


def _kind_of_type(t: Any) -> str | None:
    return _SCALAR.get(str(t)) if t is not None else None


def _kind_of_value(v: Instr, depth: int = 4) -> str | None:
    """i/f/b for v from its IR type, or as select.py will type it (a
    constant; arithmetic promoting to float, which the IR leaves `any`)."""
    k = _kind_of_type(v.type)
    if k is None and v.op == "const" and v.attrs:
        c = v.attrs[0]
        k = "b" if type(c) is bool else "i" if type(c) is int else "f" if type(c) is float else None
    if k is None and depth and v.op in ("add", "sub", "mul", "div", "mod", "neg"):
        ks = {_kind_of_value(x, depth - 1) for x in v.args}
        k = "f" if "f" in ks else "i" if ks == {"i"} else None
    if k is None and v.op in ("lt", "le", "gt", "ge", "eq", "ne", "not"):
        k = "b"
    return k


def empty_kind(i: Instr, fn: Function) -> str | None:
    """The element type of an empty literal: its IR type, or its uses'."""
    k = _ARRAY.get(str(i.type))
    if k is not None:
        return k
    for b in fn.blocks:
        for u in b.all():
            if not u.args or u.args[0] is not i:
                continue
            if is_push(u):
                k = _kind_of_value(u.args[1])
            elif u.op == "set_index" and len(u.args) == 3:
                k = _kind_of_value(u.args[2])
            elif u.op == "return":
                k = _ARRAY.get(str(fn.ret))
            elif u.op == "check_type" and u.attrs:
                k = _ARRAY.get(str(u.attrs[0][0]))
            if k is not None:
                return k
    return None


def alloc_type(i: Instr, a: list[str], ty: Any) -> str | None:
    """The machine type of an allocating or growing op (select.py), None
    when `i` is none of them (select's other rules decide), or NotEligible."""
    from .select import ARRAYS, NotEligible

    op = i.op
    if not handles_type(i, a, ARRAYS):
        return None
    if not _verified():
        raise NotEligible("arrays made in native code are off: list.allocated is not where alloc.py expects it")
    if op == "array":
        if a:
            k = a[0]
            if k not in ("i", "f", "b") or any(x != k for x in a):
                raise NotEligible("an array literal of other than ints, floats or bools of one type")
        else:
            k = empty_kind(i, ty.fn)
            if k is None:
                raise NotEligible("an empty array literal of unknown element type")
    elif op == "mul" and a and a[0] in ARRAYS:
        if a[1] != "i":
            raise NotEligible("an array repeated by other than an int")
        k = a[0][1]
    elif is_push(i) and a[0] in ARRAYS:
        if a[1] != a[0][1]:
            raise NotEligible(f"push of a {a[1]} value onto an array of {a[0][1]}")
        ty.heap = True
        ty.allocs = True
        ty.effects.append(i)
        return "v"
    elif op == "check_type" and a and a[0] in ARRAYS:
        # (an untyped local returned as a declared array: the check holds
        # when the machine type is that array's)
        if _ARRAY.get(str(i.attrs[0][0]) if i.attrs else "") != a[0][1]:
            raise NotEligible(f"check_type of an array of {a[0][1]} against {i.attrs[0][0] if i.attrs else '?'}")
        return a[0]
    elif _is_fill(i):
        if a[1] != "i" or a[2] not in ("i", "f", "b"):
            raise NotEligible("Array(n, fill) of other than an int count and a scalar fill")
        k = a[2]
    else:
        return None
    ty.heap = True
    ty.allocs = True
    return "a" + k


def handles_type(i: Instr, a: list[str], arrays: frozenset) -> bool:
    """Whether alloc_type types i (its operands' machine types `a`)."""
    op = i.op
    if op == "array" or _is_fill(i):
        return True
    if op in ("mul", "check_type") or is_push(i):
        return bool(a) and a[0] in arrays
    return False


def handles(i: Instr, types: dict) -> bool:
    """Whether emit.py hands i to AllocLowering."""
    op = i.op
    if op == "array":
        return True
    if op in ("mul", "check_type"):
        return types.get(i.args[0], "")[:1] == "a"
    return is_push(i) or _is_fill(i)


def group_grows(group: list) -> bool:
    """Whether some function of a group pushes (arrays.py's loads of a
    list's size and vector then may not be invariant)."""
    return any(is_push(i) for ty in group for b in ty.fn.blocks for i in b.instrs)


class AllocLowering:
    """LLVM IR of the allocating ops of one function (`em`: emit._FnEmitter,
    `low`: its arrays.ArrayLowering, whose boxing and loads this reuses)."""

    def __init__(self, em: Any, low: Any) -> None:
        self.em = em
        self.low = low
        self.lay = low.lay

    def call(self, op: str, a: str, b: str) -> str:
        em = self.em
        L = em.lines
        if int(op) < PUSH or int(op) == MULK:
            return arraymaker.call(em, op, a, b)  # (a Python call from C: cheaper than this ctypes callback)
        p, w, f, r = em.tmp("cbp"), em.tmp("cbw"), em.tmp("cbf"), em.tmp("cbr")
        L.append(f"  {p} = getelementptr i64, i64* %ctx, i64 6")
        L.append(f"  {w} = load i64, i64* {p}")
        L.append(f"  {f} = inttoptr i64 {w} to i64 (i64, i64, i64)*")
        L.append(f"  {r} = call i64 {f}(i64 {op}, i64 {a}, i64 {b})")
        return r

    def operand_only(self, i: Instr) -> bool:
        """Whether literal i is `[nil]` whose one use is as the left operand
        of `[nil] * n` (AWFY Storage's idiom) and which no frame state holds
        in a local: then no code can reach its list but that product (which
        copies it) or, after an exit, the interpreter's MUL of it (which
        reads it), so arraymaker.py may give it the ctx's shared `[None]`
        instead of a list of its own ("Shared operand lists" in
        docs/native.md). The Array itself is made and counted as before."""
        if len(i.args) != 1 or i.args[0].op != "const" or i.args[0].attrs[:1] != (None,):
            return False
        from .callouts import users

        ty = self.em.ty
        us = users(ty, i)
        if len(us) != 1 or us[0].op != "mul" or us[0].args[0] is not i or i in us[0].args[1:]:
            return False
        for b in ty.fn.blocks:
            for x in b.all():
                st = x.state
                while st is not None:
                    if any(v is i for v in st.locals):
                        return False
                    st = st.parent
        return True

    def word(self, v: Instr, k: str) -> str:
        """v (of kind k) as an i64 word: floats by their bits, bools 0/1."""
        em = self.em
        x = em.val(v)
        if k == "i":
            return x
        t = em.tmp("wd")
        em.lines.append(f"  {t} = {'bitcast double' if k == 'f' else 'zext i1'} {x} to i64")
        return t

    def box(self, i: Instr, v: Instr, k: str) -> str:
        """A new reference to the Python object of v (kind k)."""
        em, low = self.em, self.low
        L = em.lines
        if k == "p":
            return new_ref(em, low, v)  # (a reference: opaque.py's literals)
        x = em.val(v)
        if k == "i":
            return low.box_int(i, x)
        if k == "b":
            new = em.tmp("new")
            L.append(f"  {new} = select i1 {x}, i64 ptrtoint (i8* @_Py_TrueStruct to i64), i64 ptrtoint (i8* @_Py_FalseStruct to i64)")
            low.incref(new)
            return new
        new, null = em.tmp("new"), em.tmp("null")
        L.append(f"  {new} = call i64 @PyFloat_FromDouble(double {x})")
        L.append(f"  {null} = icmp eq i64 {new}, 0")
        em.fail_if(null, i)  # (out of memory)
        return new

    def refused(self, r: str, i: Instr) -> None:
        z = self.em.tmp("refused")
        self.em.lines.append(f"  {z} = icmp eq i64 {r}, 0")
        self.em.fail_if(z, i)

    def lower(self, i: Instr) -> None:
        em = self.em
        L = em.lines
        ty = em.ty.types
        res = f"%v{i.id}"
        if is_push(i):
            self.push(i)
            return
        if i.op == "check_type":
            L.append(f"  {res} = add i64 {em.val(i.args[0])}, 0")
            return
        if i.op == "array":
            n = len(i.args)
            if self.operand_only(i):
                r = arraymaker.call(em, str(LIT), "1", "0", shared=True)
                self.refused(r, i)
                L.append(f"  {res} = add i64 {r}, 0")
                return
            r = self.call(str(LIT), str(n), "0")
            self.refused(r, i)
            if n:
                k = ty[i][1]
                lst = self.low.load(r, self.lay.array_items)
                items = self.low.load(lst, self.lay.list_item)
                for j, v in enumerate(i.args):
                    new = self.box(i, v, k)
                    old = self.low.load(items, 8 * j)
                    self.low.store(items, 8 * j, new)
                    L.append(f"  call void @tvm.decref(i64 {old})")  # (None's reference, the list's)
            L.append(f"  {res} = add i64 {r}, 0")
            return
        neg = em.tmp("neg")
        if i.op == "mul":
            cnt = em.val(i.args[1])
            L.append(f"  {neg} = icmp slt i64 {cnt}, 0")
            em.fail_if(neg, i)  # (the interpreter's ValueError)
            src = i.args[0]
            k = ty[i][1]
            if k in PACKED_KINDS and self.inline_packed() and src.op == "array" and len(src.args) == 1 and ty.get(src.args[0]) == k:
                # `[x] * n`, the common case (Sieve, Queens, Permute): the
                # PackedArray made inline, the maker its slow path.
                r = arraymaker.packed_inline(em, k, em.val(src.args[0]), cnt, lambda: self.call(str(MULK), em.val(src), cnt))
            else:
                r = self.call(str(MULK if k in KINDS else MUL), em.val(src), cnt)
        else:  # Array(n, fill)
            k = ty[i][1]
            cnt = em.val(i.args[1])
            L.append(f"  {neg} = icmp slt i64 {cnt}, 0")
            em.fail_if(neg, i)
            if k in PACKED_KINDS and self.inline_packed():
                r = arraymaker.packed_inline(em, k, em.val(i.args[2]), cnt, lambda: self.call(str(FILL + KINDS.index(k)), cnt, self.word(i.args[2], k)))
            else:
                r = self.call(str(FILL + KINDS.index(k)), cnt, self.word(i.args[2], k))
        self.refused(r, i)
        L.append(f"  {res} = add i64 {r}, 0")

    def inline_packed(self) -> bool:
        """Whether PackedArrays are made inline (arraymaker.packed_inline):
        packed arrays on (layout.probe_packed), the inline path's offsets
        (arraymaker._fast), and no fuel to count (a metered VM's maker
        refuses `xs * n` and `Array(n, fill)`: Limits.charge_items)."""
        return self.low.pk is not None and not self.em.metered and arraymaker._fast()

    def push(self, i: Instr, kind: str | None = None) -> None:
        em, low = self.em, self.low
        L = em.lines
        arr, v = i.args
        k = kind or em.ty.types[arr][1]  # (kind: a scalar pushed onto an [any] array, anyval.py)
        # The charge (runtime/memory.py element_charge), against the budget.
        if k == "i":
            x = em.val(v)
            u, small, ch = em.tmp(), em.tmp(), em.tmp("chg")
            L.append(f"  {u} = add i64 {x}, 5")
            L.append(f"  {small} = icmp ult i64 {u}, 262")
            L.append(f"  {ch} = select i1 {small}, i64 {ELEMENT}, i64 {ELEMENT + INT_BYTES}")
        else:
            ch = str(ELEMENT + (FLOAT_BYTES if k == "f" else 0))

        def grow(lst: str) -> None:
            r = self.call(str(PUSH + KINDS.index(k)), em.val(arr), self.word(v, k))
            self.refused(r, i)

        emit_push(em, low, i, em.val(arr), ch, grow, lambda: self.box(i, v, k), scalars=True)


def take_budget(em: Any, i: Instr, charge: str) -> tuple[str, str]:
    """`charge` bytes taken from the heap budget (ctx word 5) for instruction
    i: a failure exit when they are more than it holds (the interpreter
    charges them: maybe a collection, the memory limit). Returns (the word's
    address, the budget left), for the caller to store once it has made the
    object (`store i64 left, i64* address`)."""
    L = em.lines
    bp, b0, b1, out = em.tmp("bp"), em.tmp("bud"), em.tmp("bud"), em.tmp("over")
    L.append(f"  {bp} = getelementptr i64, i64* %ctx, i64 5")
    L.append(f"  {b0} = load i64, i64* {bp}")
    L.append(f"  {b1} = sub i64 {b0}, {charge}")
    L.append(f"  {out} = icmp slt i64 {b1}, 0")
    em.fail_if(out, i)
    return bp, b1


def emit_push(em: Any, low: Any, i: Instr, arr: str, charge: str, grow: Callable[[str], None], new: Callable[[], str], scalars: bool = False) -> None:
    """A push's code, for scalars (ArrayLowering.push) and objects
    (construct.py): `charge` bytes taken from the budget (ctx word 5; short:
    a failure exit before the push, the interpreter charges), then the element
    `new()` (a new reference) stored in place when the list has room, else
    `grow(list)` (CPython grows the vector)."""
    L = em.lines
    lay = low.lay
    bp, b1 = take_budget(em, i, charge)
    lst = low.load(arr, lay.array_items, invariant=True)
    n = low.load(lst, lay.list_size)
    cap = low.load(lst, lay.list_item + 8)  # (list.allocated follows ob_item: checked by list_allocated_offset)
    full = em.tmp("full")
    L.append(f"  {full} = icmp sge i64 {n}, {cap}")
    if scalars and low.pk is not None:
        # A PackedArray (an array of scalars may be one: arrays.py) takes the
        # callback's `items.append`, which unpacks it: its buffer holds no
        # object to store, and nothing is lost (the charge is the same).
        t, w, isp, f2 = low.load(arr, lay.type), em.tmp("pkty"), em.tmp("packed"), em.tmp("full")
        L.append(f'  {w} = load i64, i64* @"tvm.ty.Packed", !invariant.load !90')
        L.append(f"  {isp} = icmp eq i64 {t}, {w}")
        L.append(f"  {f2} = or i1 {full}, {isp}")
        full = f2
    fast, slow, done = em.tmp("room")[1:], em.tmp("grow")[1:], em.tmp("pushed")[1:]
    L.append(f"  br i1 {full}, label %{slow}, label %{fast}")
    em.label(slow)
    grow(lst)
    L.append(f"  br label %{done}")
    em.label(fast)
    v = new()
    items = low.load(lst, lay.list_item)
    off, a, n1 = em.tmp(), em.tmp(), em.tmp()
    L.append(f"  {off} = shl i64 {n}, 3")
    L.append(f"  {a} = add i64 {items}, {off}")
    low.store(a, 0, v)
    L.append(f"  {n1} = add i64 {n}, 1")
    low.store(lst, lay.list_size, n1)
    L.append(f"  br label %{done}")
    em.label(done)
    L.append(f"  store i64 {b1}, i64* {bp}")

_checked: list = []  # [bool] once per process, as layout.probe's: the interpreter does not change


def _verified() -> bool:
    if not _checked:
        from .layout import probe

        lay = probe()[0]
        _checked.append(lay is not None and list_allocated_offset(lay))
    return _checked[0]


def list_allocated_offset(lay: Any) -> bool:
    """Whether `list.allocated` is the word after ob_item (AllocLowering
    relies on it), measured on live lists of known capacity."""
    for n in (0, 3, 17):
        xs: list = []
        for j in range(n):
            xs.append(j)  # noqa: PERF402 - grown by append: its capacity is what CPython chose
        cap = (xs.__sizeof__() - [].__sizeof__()) // 8
        got = ctypes.c_int64.from_address(id(xs) + lay.list_item + 8).value
        if got != cap:
            return False
    return True


def _unpack(k: str, w: int) -> Any:
    if k == "i":
        return w
    if k == "f":
        return struct.unpack("<d", struct.pack("<q", w))[0]
    return w != 0


class HeapBridge:
    """The guest heap as native code sees it: the allocation callback and
    the push budget (ctx words 6 and 5) of one VM's native tier."""

    def __init__(self, vm: Any, ctx: Any) -> None:
        self.vm = vm
        self.ctx = ctx
        self.given = 0  # the budget handed to native code, not settled yet
        self.on_enter: Any = None  # (arraymaker.py: the inline path's words, at each entry)
        self.callback = CALLBACK(self._callback)
        ctx[6] = ctypes.cast(self.callback, ctypes.c_void_p).value or 0

    def enter(self) -> None:
        """Before native code runs: what it may charge before next_gc."""
        heap = self.vm.heap
        b = 0 if heap.stress else max(0, heap.next_gc - heap.bytes)
        self.ctx[5] = self.given = b
        if self.on_enter is not None:
            self.on_enter()

    def leave(self) -> None:
        """After native code (or in the callback): what it charged, to the heap."""
        used = self.given - self.ctx[5]
        if used:
            self.vm.heap.bytes += used
        self.given = self.ctx[5]

    def _callback(self, op: int, a: int, b: int) -> int:
        try:
            if PUSH <= op < PUSH + len(KINDS):  # (charged by native code already; the budget stays)
                arr = ctypes.cast(a, ctypes.py_object).value
                arr.items.append(_unpack(KINDS[op - PUSH], b))
                return 1
            self.leave()
            out = self._alloc(op, a, b)
            self.enter()
            return out
        except Exception:  # noqa: BLE001 (never unwinds through machine code: refused, the interpreter redoes it)
            return 0

    def _alloc(self, op: int, a: int, b: int) -> int:
        """A new Array for LIT (a elements), MUL (Array at a, times b) or
        FILL + k (a copies of word b), through Heap.alloc; 0: refused."""
        src = ctypes.cast(a, ctypes.py_object).value if op in (MUL, MULK) else None
        arr = self._make(op, src, a, b)
        return id(arr) if arr is not None else 0

    def _make(self, op: int, src: Any, a: int, b: int) -> Any:
        """_alloc's Array (src: MUL's source Array), or None: refused
        (also arraymaker.py's, called from C without a ctypes callback)."""
        vm = self.vm
        if op >= charges.FIRST:
            return charges.make(vm, op, a, b)  # (a for-range loop's Range, a for-in loop's Iterator: charges.py)
        heap = vm.heap
        # (a PackedArray source is read, never unpacked: `length`, `values`)
        n = (src.length() if type(src) is PackedArray else len(src.items)) * b if src is not None else a
        if op != LIT and vm.limits.metered:
            return None  # (Limits.charge_items: the interpreter counts that fuel)
        if heap.stress or heap.bytes + array_bytes(n) > heap.next_gc:
            return None  # (the interpreter allocates it: a collection, the limit)
        if op == LIT:
            return heap.alloc(Array([None] * n))
        if op == MUL:
            return heap.alloc(Array(src.items * b))  # ("ap": a list, as the Array values of objects must be)
        # `xs * n` of scalars and `Array(n, fill)`: packed when the interpreter
        # packs (repeat: one scalar kind), with the same accounting.
        # (heap.packs: "" when layout.probe_packed refused packed buffers
        # on this interpreter, jit/tier.py: then lists, invisibly.)
        if op == MULK:
            arr = PackedArray(src.packed * b) if type(src) is PackedArray else repeat(src.items, b, heap.packs)
        else:
            arr = repeat([_unpack(KINDS[op - FILL], b)], n, heap.packs)
        return heap.alloc(arr)
