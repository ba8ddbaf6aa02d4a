"""Arrays native code makes, through a Python call from C instead of a ctypes callback.

alloc.py makes every Array native code allocates (a literal, `xs * n`,
`Array(n, fill)`) in `HeapBridge._make`, called from machine code through a
ctypes callback: ~1.5 us a call on this machine, most of it ctypes' own
(converting the three words, the GIL state, the result). AWFY Storage
allocates two small arrays per tree node (`[nil] * k`: the literal, then
its product), so that callback was most of its time. construct.py found the
same for instances and calls its maker with `PyObject_Vectorcall`; this
module does that for arrays:

- ctx words MAKER (the bound method `ArrayMaker.make`, kept alive here)
  and OP, A, B (its operands: alloc.py's op code and two words) are
  appended to the engine's ctx array. Native code calls `tvm.make`
  (outofline.py: compiled once per process, one call site instead of the
  stores, the call and the reference's drop), which stores the operands,
  then calls `PyObject_Vectorcall(make, &ctx[A], nargs, 0)`: for MUL the
  source Array's address is ctx[A], so it is passed as the call's one
  argument (no address-to-object conversion in Python); LIT and FILL pass
  none.
- `make` runs alloc.py's own `HeapBridge._make` between `leave` and `enter`
  (the push budget settled, then handed back), so allocation, accounting
  and the refusal rule are alloc.py's, unchanged. It returns the new Array
  or None when refused (never raises: an exception is a refusal too);
  native code drops the reference it got (the heap's allocation list holds
  the Array until a collection) and turns None into 0, alloc.py's refusal.
- Pushes onto a full list (`PUSH + k`) stay on the ctypes callback (they
  are rare: the list grows geometrically).

**Inline literals and products.** Even from C, `make` is Python (the
Array, `Heap.alloc`, the budget): ~1 us. A literal (its items `[None] *
n`, each element then stored by alloc.py) and `xs * n` are made by native
code itself when the heap is a plain `Heap` without snapshot numbering
(`seqs`) and the push budget (ctx word 5: `next_gc - bytes`, 0 under GC
stress) covers the Array's `array_bytes(n)`: the list by
`PySequence_Repeat` (of a one-None list, or of the source's items), the
Array by `PyType_GenericAlloc` with its `items` and `mark` slots set (the
mark: `heap.new_mark`, read at each native entry into ctx word NEWMARK,
as barrier.py reads `watch`: neither changes while native code runs), and
`heap.objects.append(arr)` by `PyList_Append` (ctx word OBJECTS, 0 when
the fast path is off). That is `Heap.alloc` step by step: the mark, the
allocation list, the bytes (charged against the budget, settled into
`heap.bytes` when native code leaves, as pushes are); `alloc`'s own check
(`bytes > next_gc or stress`) cannot fire because the budget held it.
Anything else -- the budget short, a C call failing, fuel counted for a
product (`Limits.charge_items`, known when compiling) -- takes `make`,
whose refusal rule decides.
"""

from __future__ import annotations

from typing import Any

MAKER, OP, A, B = 11, 12, 13, 14  # ctx words (engine.py's ctx array: appended by this module)
OBJECTS, NEWMARK, NONES = 15, 16, 17  # ctx words of the inline path: heap.objects (0: off), heap.new_mark, a [None]
LIT = 0  # (alloc.LIT)

PRELUDE = "declare i64 @PySequence_Repeat(i64, i64)\ndeclare i64 @PyType_GenericAlloc(i64, i64)\ndeclare void @PyErr_Clear()\n"
MUL = 1  # (alloc.MUL: an op with an object operand)
MULK = 8  # (alloc.MULK: MUL of an array of scalars, packed by the maker; the other one)


class ArrayMaker:
    """alloc.py's allocations for native code, called with PyObject_Vectorcall."""

    def __init__(self, bridge: Any, ctx: Any) -> None:
        self.bridge = bridge
        self.ctx = ctx
        self.fn = self.make
        ctx[MAKER] = id(self.fn)
        self.calls = 0  # (how often native code took the slow path: tests)
        self.nones = [None]
        ctx[NONES] = id(self.nones)
        bridge.on_enter = self.enter

    def enter(self) -> None:
        """At each native entry (HeapBridge.enter): the inline path's words."""
        from ...heap.heap import Heap

        heap = self.bridge.vm.heap
        ctx = self.ctx
        ctx[OBJECTS] = id(heap.objects) if heap.seqs is None and type(heap) is Heap and _fast() else 0
        ctx[NEWMARK] = id(heap.new_mark)
        if heap.native_sweep is None and ctx[OBJECTS]:
            # (jit/native/sweep.py: the guest sweep's loop in machine code,
            # for every collection of this heap from now on, whatever the
            # tier; the offsets it needs are the inline path's, `_fast`)
            from .sweep import lazy_mark, lazy_sweep

            heap.native_sweep = lazy_sweep
            heap.native_mark = lazy_mark

    def make(self, src: Any = None) -> Any:
        """HeapBridge's leave, _make and enter (inline: this is the hot path)."""
        ctx = self.ctx
        bridge = self.bridge
        self.calls += 1
        try:
            heap = bridge.vm.heap
            used = bridge.given - ctx[5]
            if used:
                heap.bytes += used
            bridge.given = ctx[5]
            arr = bridge._make(ctx[OP], src, ctx[A], ctx[B])
            ctx[5] = bridge.given = 0 if heap.stress else max(0, heap.next_gc - heap.bytes)
            return arr
        except BaseException:  # noqa: BLE001 (never unwinds through machine code: refused, the interpreter redoes it)
            return None


def register(llvm: Any) -> None:
    """The C API functions of the inline path (resolved by MCJIT by name)."""
    from .codegen import bind_c_api

    bind_c_api(llvm, ("PySequence_Repeat", "PyType_GenericAlloc", "PyErr_Clear"))


_FAST: list = []


def _fast() -> bool:
    """Whether the inline path knows where `mark` and `items` are (barrier.py's
    and layout.py's probes) and that a plain Array has no other slot."""
    if not _FAST:
        from ...heap.objects import Array
        from .barrier import mark_offset
        from .layout import probe

        lay = probe()[0]
        off = mark_offset()[0]
        _FAST.append(lay is not None and off is not None and Array.__slots__ == ("items",) and Array.__basicsize__ == 32 and lay.array_items == 24 and off == 16)
    return _FAST[0]


def call(em: Any, op: str, a: str, b: str, shared: bool = False) -> str:
    """LLVM IR of alloc.py's allocation `op` (LIT, MUL, FILL + k) with words
    a, b: inline (module docstring) or through the maker; the new Array's
    address, or 0 when refused. `shared`: a `[nil]` literal only read
    (alloc.py `operand_only`) gets ctx word NONES's list as its items
    instead of a copy (the maker's slow path makes a list as before)."""
    if op == str(LIT) or op == str(MUL) and not em.metered:
        return _inline(em, op, a, b, shared)
    return _make(em, op, a, b)


def _inline(em: Any, op: str, a: str, b: str, shared: bool = False) -> str:
    """The inline path with `_make` as its slow path; the result's phi."""
    L = em.lines
    low = em._arrays()
    lay = low.lay
    fast, slow, done = em.tmp("amfast")[1:], em.tmp("amslow")[1:], em.tmp("amdone")[1:]
    objs, budget = _admission(em)
    if op == str(LIT):
        src, n, times = _word(em, NONES), a, a
    else:
        src = low.load(a, lay.array_items)
        cnt = low.load(src, lay.list_size)
        n, times = em.tmp("amn"), b
        L.append(f"  {n} = mul i64 {cnt}, {b}")  # (bounded below: checked with the budget)
    s2 = _within_budget(em, n, objs, budget, slow, fast)
    items, arr, bad, bad2 = em.tmp("amit"), em.tmp("amarr"), em.tmp(), em.tmp()
    fail, ok1, ok2 = em.tmp("amfail")[1:], em.tmp("amok")[1:], em.tmp("amok")[1:]
    if shared:  # (the `[None]` itself, a new reference to it: alloc.py operand_only)
        low.incref(src)
        L.append(f"  {items} = add i64 {src}, 0")
    else:
        L.append(f"  {items} = call i64 @PySequence_Repeat(i64 {src}, i64 {times})")
    L.append(f"  {bad} = icmp eq i64 {items}, 0")
    L.append(f"  br i1 {bad}, label %{fail}, label %{ok1}")
    em.label(ok1)
    t = em.tmp("amty")
    L.append(f'  {t} = load i64, i64* @"tvm.ty.Array", !invariant.load !90')
    L.append(f"  {arr} = call i64 @PyType_GenericAlloc(i64 {t}, i64 0)")
    L.append(f"  {bad2} = icmp eq i64 {arr}, 0")
    L.append(f"  br i1 {bad2}, label %{fail}, label %{ok2}")
    em.label(ok2)
    low.store(arr, lay.array_items, items)  # (the list's reference: the Array's now)
    good = admit(em, arr, objs, budget, s2, fail)  # (PyList_Append failing: freed, items with it)
    return _or_maker(em, good, arr, fail, slow, done, lambda: _make(em, op, a, b))


def _admission(em: Any) -> tuple[str, str]:
    """The ctx words an inline maker reads: heap.objects (0: objects are
    not admitted inline) and the bytes left before the next collection."""
    L = em.lines
    objs, budget = em.tmp("amobj"), em.tmp("ambud")
    for w, k in ((objs, OBJECTS), (budget, 5)):
        p = em.tmp("amp")
        L.append(f"  {p} = getelementptr i64, i64* %ctx, i64 {k}")
        L.append(f"  {w} = load i64, i64* {p}")
    return objs, budget


def _within_budget(em: Any, n: str, objs: str, budget: str, slow: str, fast: str) -> str:
    """Branch to `slow` unless an array of n elements fits the budget
    (`array_bytes(n)`: runtime/memory.py) and objects are admitted inline
    (`objs` not 0), else on to `fast`; the size's register."""
    from ...heap.objects import CONTAINER, HEADER, SLOT

    L = em.lines
    big, size0, size1, s1, s2, over, off, o1, o2 = (em.tmp() for _ in range(9))
    L.append(f"  {big} = icmp ugt i64 {n}, 1099511627776")  # (2**40: no overflow below; the budget never covers it)
    L.append(f"  {size0} = mul i64 {n}, {SLOT}")
    L.append(f"  {size1} = lshr i64 {n}, 3")
    L.append(f"  {s1} = add i64 {size0}, {HEADER + CONTAINER}")
    L.append(f"  {s2} = add i64 {s1}, {size1}")
    L.append(f"  {over} = icmp ugt i64 {s2}, {budget}")
    L.append(f"  {off} = icmp eq i64 {objs}, 0")
    L.append(f"  {o1} = or i1 {big}, {over}")
    L.append(f"  {o2} = or i1 {o1}, {off}")
    L.append(f"  br i1 {o2}, label %{slow}, label %{fast}")
    em.label(fast)
    return s2


def _or_maker(em: Any, good: str, arr: str, fail: str, slow: str, done: str, make: Any) -> str:
    """The end of an inline maker: its array `arr` made in block `good`, or
    (a C call failed at `fail`: the error cleared, the maker tries again
    and refuses if it fails too; or over budget: `slow`) the maker's result
    `make()`; the register of whichever it was."""
    L = em.lines
    L.append(f"  br label %{done}")
    em.label(fail)
    L.append("  call void @PyErr_Clear()")
    L.append(f"  br label %{slow}")
    em.label(slow)
    r2 = make()
    end = em.tmp("amend")[1:]
    L.append(f"  br label %{end}")
    em.label(end)
    L.append(f"  br label %{done}")
    em.label(done)
    out = em.tmp("amres")
    L.append(f"  {out} = phi i64 [{arr}, %{good}], [{r2}, %{end}]")
    return out


def admit(em: Any, obj: str, objs: str, budget: str, size: str, fail: str) -> str:
    """The end of `Heap.alloc` done inline, for a new object `obj` (our
    reference, its other slots set): its mark (`heap.new_mark`, ctx word
    NEWMARK; HeapObject.mark at 16, checked by the callers' probes),
    `heap.objects.append(obj)` (`objs`, ctx word OBJECTS), our reference
    dropped (the list holds it; if the append failed the object is freed,
    with what its slots hold: then on to label `fail`), and `size` bytes
    taken from the push budget (`budget`, ctx word 5). Returns the label of
    the block it leaves open, the allocation done."""
    L = em.lines
    low = em._arrays()
    mark = _word(em, NEWMARK)
    low.incref(mark)
    low.store(obj, 16, mark)
    r, bad = em.tmp(), em.tmp()
    L.append(f"  {r} = call i32 @PyList_Append(i64 {objs}, i64 {obj})")
    L.append(f"  call void @tvm.decref(i64 {obj})")
    L.append(f"  {bad} = icmp ne i32 {r}, 0")
    good = em.tmp("amgood")[1:]
    L.append(f"  br i1 {bad}, label %{fail}, label %{good}")
    em.label(good)
    b1, bp = em.tmp("ambud"), em.tmp("amp")
    L.append(f"  {b1} = sub i64 {budget}, {size}")
    L.append(f"  {bp} = getelementptr i64, i64* %ctx, i64 5")
    L.append(f"  store i64 {b1}, i64* {bp}")
    return good


def _word(em: Any, k: int) -> str:
    p, w = em.tmp("amp"), em.tmp("amw")
    em.lines.append(f"  {p} = getelementptr i64, i64* %ctx, i64 {k}")
    em.lines.append(f"  {w} = load i64, i64* {p}")
    return w


def _make(em: Any, op: str, a: str, b: str) -> str:
    """The call of `ArrayMaker.make`: one call of `tvm.make`, compiled once per
    process (outofline.py: the words' stores, the call, the reference dropped,
    None as 0)."""
    from .outofline import make

    return make(em, op, a, b, 1 if op in (str(MUL), str(MULK)) else 0)


# ---------------------------------------------------------------- packed arrays

# The typecode of the PackedArray `[x] * n` / `Array(n, fill)` makes for a
# scalar x of each machine type (heap/packed.py kind_of: an int is int64 in
# the language, so 'q'), the LLVM type of its elements and their size.
PACKED_KIND = {"i": ("q", "i64", 8), "f": ("d", "double", 8), "b": ("b", "i8", 1)}
_PROTOS: dict = {}  # typecode -> array(code, [0]), "b1" -> array("b", [1]): what PySequence_Repeat copies (kept alive here)


def protos() -> dict:
    """The one-zero buffers of each typecode (bound to `tvm.pk0.<k>` by
    fields.bind) and the one-true buffer of bools (`tvm.pk1.b`), made once
    per process."""
    if not _PROTOS:
        from array import array

        for code in ("q", "d", "b"):
            _PROTOS[code] = array(code, [0])
        _PROTOS["b1"] = array("b", [1])
    return _PROTOS


def _fill(em: Any, low: Any, k: str, x: str, n: str, buf: str) -> None:
    """The copies of int or float x over the n zeros of buffer `buf`, one
    store a pass (none to write for a zero: ints 0, floats +0.0 -- bits 0,
    not -0.0 --); the code after it goes on in a block of its own."""
    L = em.lines
    _, lt, size = PACKED_KIND[k]
    word = em.tmp()
    if k == "f":
        L.append(f"  {word} = bitcast double {x} to i64")
    else:
        L.append(f"  {word} = add i64 {x}, 0")
    nz, head, body, filled = em.tmp(), em.tmp("pmh")[1:], em.tmp("pmb")[1:], em.tmp("pmf")[1:]
    L.append(f"  {nz} = icmp ne i64 {word}, 0")
    vec = low.load(buf, low.lay.list_item)
    entry = em.cur
    L.append(f"  br i1 {nz}, label %{head}, label %{filled}")
    em.label(head)
    j, j1, more, off8, a, pp = em.tmp(), em.tmp(), em.tmp(), em.tmp(), em.tmp(), em.tmp()
    L.append(f"  {j} = phi i64 [ 0, %{entry} ], [ {j1}, %{body} ]")
    L.append(f"  {more} = icmp slt i64 {j}, {n}")
    L.append(f"  br i1 {more}, label %{body}, label %{filled}")
    em.label(body)
    L.append(f"  {off8} = mul i64 {j}, {size}")
    L.append(f"  {a} = add i64 {vec}, {off8}")
    L.append(f"  {pp} = inttoptr i64 {a} to {lt}*")
    L.append(f"  store {lt} {x}, {lt}* {pp}")
    L.append(f"  {j1} = add i64 {j}, 1")
    L.append(f"  br label %{head}")
    em.label(filled)


def packed_inline(em: Any, k: str, x: str, n: str, slow: Any) -> str:
    """A new PackedArray of n copies of scalar x (machine type k; its
    register, an i1 for a bool) made inline, as `_inline` makes a list's
    Array: `PySequence_Repeat` of a one-zero `array.array` (n zeros, one
    allocation and a memset in C), the copies stored over them when x is
    not zero (`_fill`; a bool repeats the one-true buffer instead),
    `PyType_GenericAlloc` of PackedArray, its buffer in the items
    slot, then `admit` (mark, heap.objects, the budget) -- with the heap
    charged `array_bytes(n)` as for a list (PackedArray.size is Array's
    formula) and the same refusal rule (the budget, ctx OBJECTS off). Any
    failure or refusal takes `slow()` (the maker's call, which makes it
    through `repeat`). Returns the new array's address (0: refused)."""
    L = em.lines
    low = em._arrays()
    lay = low.lay
    fast, slowl, done = em.tmp("pmfast")[1:], em.tmp("pmslow")[1:], em.tmp("pmdone")[1:]
    objs, budget = _admission(em)
    s2 = _within_budget(em, n, objs, budget, slowl, fast)  # (what the list would be charged)
    proto, buf, bad = em.tmp("pmproto"), em.tmp("pmbuf"), em.tmp()
    fail, ok1 = em.tmp("pmfail")[1:], em.tmp("pmok")[1:]
    L.append(f'  {proto} = load i64, i64* @"tvm.pk0.{k}", !invariant.load !90')
    if k == "b":
        # A bool's copies come from the one-true or the one-zero buffer:
        # array.array's repeat of a one-byte buffer is a memset (CPython's
        # array_repeat), where a store loop as _fill's wrote a byte a pass
        # (Sieve's `[true] * 5000`: ~10% of its samples, docs/native.md).
        one, pick = em.tmp("pmone"), em.tmp("pmproto")
        L.append(f'  {one} = load i64, i64* @"tvm.pk1.b", !invariant.load !90')
        L.append(f"  {pick} = select i1 {x}, i64 {one}, i64 {proto}")
        proto = pick
    L.append(f"  {buf} = call i64 @PySequence_Repeat(i64 {proto}, i64 {n})")
    L.append(f"  {bad} = icmp eq i64 {buf}, 0")
    L.append(f"  br i1 {bad}, label %{fail}, label %{ok1}")
    em.label(ok1)
    if k != "b":
        _fill(em, low, k, x, n, buf)
    t, arr, bad2, ok2, freebuf = em.tmp("pmty"), em.tmp("pmarr"), em.tmp(), em.tmp("pmok")[1:], em.tmp("pmfree")[1:]
    L.append(f'  {t} = load i64, i64* @"tvm.ty.Packed", !invariant.load !90')
    L.append(f"  {arr} = call i64 @PyType_GenericAlloc(i64 {t}, i64 0)")
    L.append(f"  {bad2} = icmp eq i64 {arr}, 0")
    L.append(f"  br i1 {bad2}, label %{freebuf}, label %{ok2}")
    em.label(freebuf)
    L.append(f"  call void @tvm.decref(i64 {buf})")
    L.append(f"  br label %{fail}")
    em.label(ok2)
    low.store(arr, lay.array_items, buf)  # (the buffer's reference: the PackedArray's now)
    good = admit(em, arr, objs, budget, s2, fail)
    return _or_maker(em, good, arr, fail, slowl, done, slow)
