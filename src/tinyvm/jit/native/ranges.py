"""The Range object of a native for-range loop, made as the interpreter makes it.

`for i in a..b` compiles to `RANGE` (`..=`: `RANGE_INCL`) then `POP`, then
`FOR_RANGE` over two hidden locals (the counter and the end): the
interpreter allocates a guest `Range` per loop run (vm/ops_values.py,
`heap.alloc(arith.make_range(a, b, inclusive))`) and drops it at once. Its
only trace is the heap's accounting -- `heap.bytes`, the object count, when
the next collection runs, where `--max-memory` hits, heap snapshots -- and
that is part of what every tier must agree on. The IR's loop lowering
(ir/lower_shape.py) keeps the counter a machine int; the `range` /
`range_incl` instruction stays in the loop's preheader with no use.

Native code used to emit nothing for it (so it allocated nothing). Now:

- **select** (`type_op`): a `range`/`range_incl` of two ints that no
  instruction uses is machine type "p" -- the new Range's address,
  borrowed (select.py's convention for heap objects: the heap's
  allocation list keeps it alive until a collection, and none runs while
  native code runs). A frame state that names it (none does after a
  for-range's POP, but a pass may move states) rebuilds the very object
  (deopt.py boxes a "p" word from its address). The function allocates
  (`Typed.allocs`: the engine hands it the heap budget around each call).
- **emit** (`lower`): the operands go into arraymaker.py's ctx words (OP,
  A, B) and native code calls `ArrayMaker.make` with `PyObject_Vectorcall`
  (no ctypes callback), op RANGE or RANGE_INCL; alloc.py's
  `HeapBridge._make` hands those ops to `make` here, between the bridge's
  leave and enter (the push budget settled first).
- **make** allocates through the VM's one allocation function,
  `Heap.alloc`, the very `arith.make_range` the interpreter calls, and
  refuses (None: 0 in native code) whenever that allocation would do more
  than count bytes -- GC stress, or `heap.bytes + size > next_gc` (a
  collection due, an emergency mark, the memory limit): `Heap.alloc`'s own
  test. A refusal is a failure exit before the instruction (its frame
  state: the operands on the stack), so the interpreter runs `RANGE`
  again, collects or raises MemoryError with its own message and trace.
  The interpreter charges no fuel for `RANGE` beyond the instruction, so a
  metered VM needs no refusal.

**Inline.** A call into Python costs ~1 us, which is most of a short
loop's time (Queens runs 0..8 loops by the thousand): as arraymaker.py
does for literals, native code makes the Range itself when the heap is a
plain `Heap` without snapshot numbering (ctx word OBJECTS non-zero) and
the push budget (ctx word 5: `next_gc - bytes`, 0 under GC stress) covers
its SIZE bytes -- `Heap.alloc` step by step: `PyType_GenericAlloc` of the
Range type (global `tvm.ty.Range`, bound with the others by fields.bind),
its slots set (`mark` from ctx word NEWMARK, `start`/`stop` boxed ints,
`inclusive` a bool, `step` the int 1: where `_probe` found them), appended
to `heap.objects` (PyList_Append), its bytes taken from the budget
(settled into `heap.bytes` when native code leaves). `Heap.alloc`'s own
check (`bytes > next_gc or stress`) cannot fire since the budget held.
Anything else -- the budget short, a C call failing, `a..=b` with b the
largest int -- takes `make`, whose refusal rule decides. So the loop
itself is untouched: a few dozen instructions per loop run, none per
iteration.
"""

from __future__ import annotations

from typing import Any

from ...heap.objects import HEADER, SLOT

RANGE, RANGE_INCL = 16, 17  # (alloc.py's op codes for HeapBridge._make: above FILL + k and PUSH + k)
_OPS = {"range": RANGE, "range_incl": RANGE_INCL}
SIZE = HEADER + 2 * SLOT  # (Range.size)


def type_op(i: Any, a: list[str], uses: Any, ty: Any) -> str | None:
    """select.py's machine type of a `range`/`range_incl` (None: another op)."""
    if i.op not in _OPS:
        return None
    from .select import NotEligible

    if a != ["i", "i"] or i in uses:
        raise NotEligible("a range value that is used")
    ty.heap = ty.allocs = True
    return "p"


def handles(i: Any) -> bool:
    return i.op in _OPS


PRELUDE = '@"tvm.ty.Range" = global i64 0\ndeclare void @PyObject_GC_UnTrack(i64)\n'


def lower(em: Any, i: Any) -> None:
    """LLVM IR of i: the Range inline or through ArrayMaker.make, refused -> exit."""
    from . import arraymaker

    a, b = em.val(i.args[0]), em.val(i.args[1])
    if _offsets() is None:
        r = arraymaker._make(em, str(_OPS[i.op]), a, b)
    else:
        r = _inline(em, i, a, b)
    z = em.tmp("rgref")
    em.lines.append(f"  {z} = icmp eq i64 {r}, 0")
    em.fail_if(z, i)  # (the interpreter's RANGE: a collection, MemoryError)
    em.lines.append(f"  %v{i.id} = add i64 {r}, 0")


def _inline(em: Any, i: Any, a: str, b: str) -> str:
    """The inline path (module docstring), `make` its slow path; the Range's
    address (0: refused) as a phi."""
    from .arraymaker import NEWMARK, OBJECTS, _make, _word

    off = _offsets()
    L = em.lines
    low = em._arrays()
    incl = i.op == "range_incl"
    fast, slow, done = em.tmp("rgfast")[1:], em.tmp("rgslow")[1:], em.tmp("rgdone")[1:]
    objs, budget = _word(em, OBJECTS), _word(em, 5)
    over, off0, o1 = em.tmp(), em.tmp(), em.tmp()
    L.append(f"  {over} = icmp slt i64 {budget}, {SIZE}")
    L.append(f"  {off0} = icmp eq i64 {objs}, 0")
    L.append(f"  {o1} = or i1 {over}, {off0}")
    if incl:
        top, o2 = em.tmp(), em.tmp()
        L.append(f"  {top} = icmp eq i64 {b}, 9223372036854775807")  # (b + 1 is no machine int: make boxes it)
        L.append(f"  {o2} = or i1 {o1}, {top}")
        o1 = o2
    L.append(f"  br i1 {o1}, label %{slow}, label %{fast}")
    em.label(fast)
    stop = b
    if incl:
        stop = em.tmp("rgstop")
        L.append(f"  {stop} = add i64 {b}, 1")
    start_o = low.box_int(i, a)  # (new references; null: an exit, as the interpreter's Range would fail)
    stop_o = low.box_int(i, stop)
    one = low.box_int(i, "1")
    t, obj, bad = em.tmp("rgty"), em.tmp("rgobj"), em.tmp()
    fail, ok = em.tmp("rgfail")[1:], em.tmp("rgok")[1:]
    L.append(f'  {t} = load i64, i64* @"tvm.ty.Range", !invariant.load !90')
    L.append(f"  {obj} = call i64 @PyType_GenericAlloc(i64 {t}, i64 0)")
    L.append(f"  {bad} = icmp eq i64 {obj}, 0")
    L.append(f"  br i1 {bad}, label %{fail}, label %{ok}")
    em.label(fail)
    for o in (start_o, stop_o, one):
        L.append(f"  call void @tvm.decref(i64 {o})")
    L.append("  call void @PyErr_Clear()")  # (make tries again, and refuses if it fails too)
    L.append(f"  br label %{slow}")
    em.label(ok)
    L.append(f"  call void @PyObject_GC_UnTrack(i64 {obj})")  # (it holds ints and a bool: no cycle; CPython's collector need not traverse it)
    mark = _word(em, NEWMARK)
    low.incref(mark)
    flag = "ptrtoint (i8* @_Py_TrueStruct to i64)" if incl else "ptrtoint (i8* @_Py_FalseStruct to i64)"
    fl = em.tmp("rgfl")
    L.append(f"  {fl} = add i64 {flag}, 0")
    low.incref(fl)
    for name, w in (("mark", mark), ("start", start_o), ("stop", stop_o), ("inclusive", fl), ("step", one)):
        low.store(obj, off[name], w)  # (GenericAlloc zeroed them: each takes its new reference)
    r, bad2 = em.tmp(), em.tmp()
    good, fail2 = em.tmp("rggood")[1:], em.tmp("rgfail")[1:]
    L.append(f"  {r} = call i32 @PyList_Append(i64 {objs}, i64 {obj})")
    L.append(f"  call void @tvm.decref(i64 {obj})")  # (heap.objects holds it; PyList_Append failing: freed with its slots)
    L.append(f"  {bad2} = icmp ne i32 {r}, 0")
    L.append(f"  br i1 {bad2}, label %{fail2}, label %{good}")
    em.label(fail2)
    L.append("  call void @PyErr_Clear()")
    L.append(f"  br label %{slow}")
    em.label(good)
    b1, bp = em.tmp("rgbud"), em.tmp("rgp")
    L.append(f"  {b1} = sub i64 {budget}, {SIZE}")
    L.append(f"  {bp} = getelementptr i64, i64* %ctx, i64 5")
    L.append(f"  store i64 {b1}, i64* {bp}")
    L.append(f"  br label %{done}")
    em.label(slow)
    r2 = _make(em, str(_OPS[i.op]), a, b)
    end = em.tmp("rgend")[1:]
    L.append(f"  br label %{end}")
    em.label(end)
    L.append(f"  br label %{done}")
    em.label(done)
    out = em.tmp("rgres")
    L.append(f"  {out} = phi i64 [{obj}, %{good}], [{r2}, %{end}]")
    return out


def register(llvm: Any) -> None:
    """The C API function the inline path adds to arraymaker.py's (by name)."""
    import ctypes

    llvm.add_symbol("PyObject_GC_UnTrack", ctypes.cast(ctypes.pythonapi.PyObject_GC_UnTrack, ctypes.c_void_p).value)


_PROBED: list = []


def _offsets() -> dict | None:
    """The byte offsets of Range's slots (`mark` included), or None: the
    inline path is off (arraymaker's layout checks fail, or a slot is not
    where a probe finds it uniquely)."""
    if not _PROBED:
        try:
            _PROBED.append(_probe())
        except Exception:  # noqa: BLE001 - any surprise turns the inline path off, never the VM
            _PROBED.append(None)
    return _PROBED[0]


def _probe() -> dict | None:
    import ctypes

    from ...heap.objects import Range
    from .arraymaker import _fast

    if not _fast() or Range.__slots__ != ("start", "stop", "inclusive", "step"):
        return None
    r = Range(0, 0, False)
    out = {}
    for name in ("mark", "start", "stop", "inclusive", "step"):
        m = int(str(1 << 41))  # (a fresh object: its address is unique)
        setattr(r, name, m)
        hits = [k for k in range(16, Range.__basicsize__, 8) if ctypes.c_int64.from_address(id(r) + k).value == id(m)]
        setattr(r, name, 0)
        if len(hits) != 1:
            return None
        out[name] = hits[0]
    return out if len(set(out.values())) == 5 else None


def make(vm: Any, op: int, a: int, b: int) -> Any:
    """The interpreter's Range of a..b (RANGE_INCL: a..=b) on the guest heap,
    or None when Heap.alloc would do more than count its bytes."""
    from ...runtime import arith

    heap = vm.heap
    if heap.stress or heap.bytes + SIZE > heap.next_gc:
        return None
    return heap.alloc(arith.make_range(a, b, op == RANGE_INCL))
