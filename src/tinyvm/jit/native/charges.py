"""Objects native code charges but does not make: their bytes, as `Heap.alloc` counts them.

Two guest objects that the interpreter allocates and native code does not
need: a `Range` kept but never read (ranges.py; a for-range loop's own
Range, dropped at once, is made and charged by no tier) and the `Iterator` of a `for x in xs` loop over an array (fields.py
`iterate`: native code keeps it as two words, the array and the position,
and a deopt rebuilds the real one: deopt.py ITER). What either leaves
behind in the interpreter is the heap's accounting: `heap.bytes` (when the
next collection is due, where `--max-memory` fails), the object count until
the next collection, heap snapshots' numbering.

**Decision: charge the bytes, make no object** (docs/native.md, "Objects
native code charges but does not make"; the Range's history and numbers
are in "For-range loops").

- **charge** (the LLVM IR): inline when the push budget (ctx word 5,
  `next_gc - bytes`, settled into `heap.bytes` when native code leaves, as
  pushes and inline literals are: alloc.py, arraymaker.py) covers the size
  and the heap is a plain `Heap` without snapshot numbering (arraymaker.py's
  ctx word OBJECTS non-zero): a compare, a subtract, a store. Else
  `ArrayMaker.make`, through one call of `tvm.make` (outofline.py), with the
  object's op (RANGE, RANGE_INCL, ITER: alloc.py's
  `HeapBridge._make` hands them to `make` here); refused, native code leaves
  before the instruction (its frame state: the operands on the stack) and
  the interpreter runs it: marks, fails with its MemoryError and trace, or
  allocates and goes on.
- **make** decides as `Heap.alloc` would, without running what native code
  cannot run (a collection, an emergency mark): past `next_gc` it refuses
  (the interpreter allocates, asks for the collection and runs it at its
  next safe point; the OSR or entry op brings the function back); under
  GC stress it charges and asks for the collection as `Heap._over` does
  (`pending`, `high`), refusing only past the limit, so native code goes on
  and the collection runs at the next safe point, the native entry op's
  included (engine.py). With snapshot numbering or a heap subclass
  (allocation-site tables) the very object is wanted: a Range is made
  through `Heap.alloc` (refused past next_gc or under GC stress: only
  counting), an Iterator is refused (native code could not hand the one
  made to a later deopt: the interpreter runs the loop).
- **adopt**: an Iterator a deopt rebuilds goes on the heap's allocation
  list without its bytes, which the loop's `get_iter` charged already
  (engine.py; `heap.admit` would count them twice).
"""

from __future__ import annotations

from typing import Any

from ...heap.objects import HEADER, SLOT

RANGE, RANGE_INCL, ITER = (
    16,
    17,
    18,
)  # (alloc.py's op codes for HeapBridge._make: above FILL + k and PUSH + k)
FIRST = RANGE
SIZES = {
    RANGE: HEADER + 2 * SLOT,
    RANGE_INCL: HEADER + 2 * SLOT,
    ITER: HEADER + 2 * SLOT,
}  # (Range.size, Iterator.size: heap/objects.py)


def charge(em: Any, i: Any, op: int, a: str, b: str) -> None:
    """LLVM IR charging op's object for instruction i: inline, else through
    `make` (a, b: its words); refused -> a failure exit at i."""
    from .arraymaker import OBJECTS, _word
    from .outofline import make as out_of_line

    size = SIZES[op]
    L = em.lines
    fast, slow, done = em.tmp("rgfast")[1:], em.tmp("rgslow")[1:], em.tmp("rgdone")[1:]
    objs, budget = _word(em, OBJECTS), _word(em, 5)
    over, off0, o1 = em.tmp(), em.tmp(), em.tmp()
    L.append(f"  {over} = icmp slt i64 {budget}, {size}")
    L.append(
        f"  {off0} = icmp eq i64 {objs}, 0"
    )  # (snapshot numbering, a heap subclass: make decides)
    L.append(f"  {o1} = or i1 {over}, {off0}")
    L.append(
        f"  br i1 {o1}, label %{slow}, label %{fast}, !prof !0"
    )  # (emit.py's rarely-taken weights)
    em.label(fast)
    b1, bp = em.tmp("rgbud"), em.tmp("rgp")
    L.append(f"  {b1} = sub i64 {budget}, {size}")
    L.append(f"  {bp} = getelementptr i64, i64* %ctx, i64 5")
    L.append(f"  store i64 {b1}, i64* {bp}")
    L.append(f"  br label %{done}")
    em.label(slow)
    r = out_of_line(em, str(op), a, b)  # (one call, compiled once per process: outofline.py)
    z = em.tmp("rgref")
    L.append(f"  {z} = icmp eq i64 {r}, 0")
    em.fail_if(
        z, i
    )  # (the interpreter's RANGE / GET_ITER: an emergency mark, MemoryError)
    L.append(f"  br label %{done}")
    em.label(done)


def make(vm: Any, op: int, a: int, b: int) -> Any:
    """The slow path (module docstring): True (charged), the Range (made), or
    None (refused: the interpreter runs the instruction)."""
    from ...heap.heap import Heap

    heap = vm.heap
    size = SIZES[op]
    if heap.seqs is not None or type(heap) is not Heap:
        # Numbered (heap snapshots) or a subclass that tracks allocations:
        # the very object, refused whenever Heap.alloc would do more than count.
        if op == ITER or heap.stress or heap.bytes + size > heap.next_gc:
            return None
        from ...runtime import arith

        return heap.alloc(arith.make_range(a, b, op == RANGE_INCL))
    if heap.stress:  # (every allocation asks for a collection: charge, ask, go on)
        if heap.bytes + size > heap.limit:
            return None
        heap.bytes += size
        heap.pending = True  # (Heap._over under stress, below the limit)
        heap.high = max(heap.high, heap.bytes)
        return True
    if heap.bytes + size > heap.next_gc:
        # Past next_gc (min(gc_target, limit)) the interpreter's allocation
        # asks for a collection, which runs at its next safe point: refused,
        # the interpreter makes the object there and collects, and the OSR
        # or entry op brings the function back. (Charging on would leave
        # native code without a safe point and the budget at 0: every
        # further charge a Python call, ~1.3 us, until the limit.)
        return None
    heap.bytes += size
    return True


def adopt(heap: Any, obj: Any) -> None:
    """Put obj on the heap's allocation list as `Heap.admit` does, its bytes
    not counted again (module docstring)."""
    obj.mark = heap.new_mark
    heap.objects.append(obj)
    if heap.seqs is not None:
        heap.allocs += 1
        heap.seqs[id(obj)] = heap.allocs
