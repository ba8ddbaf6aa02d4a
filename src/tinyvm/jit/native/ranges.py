"""The Range a native function makes and drops: its bytes charged as the interpreter's allocation charges them.

`for i in a..b` compiles to `RANGE` (`..=`: `RANGE_INCL`) then `POP`, then
`FOR_RANGE` over two hidden locals (the counter and the end). That Range
is made and charged by no tier since session 39 (bytecode/opcodes.py
`drops_range`; the IR's `range["drop"]`, `dropped` below): native code
emits nothing for it. What this module charges is a Range the interpreter
does keep though nothing reads it (`let r = 0..j`): the interpreter
allocates a guest `Range` (vm/ops_values.py, `heap.alloc(arith.make_range(a,
b, inclusive))`); the IR's `range` / `range_incl` has no use. What the
Range leaves behind is the heap's accounting: `heap.bytes`
(when the next collection is due, where `--max-memory` fails), the object
count until the next collection, heap snapshots' numbering. (Before
session 39 every for-range loop's Range took this path; the measurements
below are of that time.)

**Decision: charge its bytes, make no object** (docs/native.md, "For-range
loops"). Branch nrange made the very object inline (`PyType_GenericAlloc`,
its slots, `heap.objects.append`): exact in every count, but ~65 ns per
loop run to make it, the sweep's work later (AWFY Queens makes ~1200 per
iteration: 12 full collections of ~60K dead Ranges, 14 ms each, in 600
iterations), and a deopt 7-8 native frames deep whenever the budget ran
out: Queens 400-640 us per iteration against 130 before.
Charging `SIZE` (the Range's `size()`) keeps what decides behaviour --
`heap.bytes`, so collections are requested and the memory limit reached at
the same allocation as in the interpreter -- and costs a compare and a
subtract against the push budget (ctx word 5, `next_gc - bytes`, settled
into `heap.bytes` when native code leaves, as pushes and inline literals
are: alloc.py, arraymaker.py). What differs: until the next collection the
interpreter's heap lists one object more per loop run (`heap.count`, a
collection's `freed` in `--gc-stats`); a collection recounts the live
bytes, where a dead Range never is, so `heap.bytes` after it is the same.

The charge and its slow path are charges.py's (shared with the Iterator of
a native for-in loop); what is below is what they do for a Range.

- **select** (`type_op`): a `range`/`range_incl` of two ints that no
  instruction uses is machine type "i" with no machine value (no frame
  state may name it: deopt.py refuses one, as before), and it makes the
  function allocate (`Typed.allocs`: the budget handed in around each call).
- **emit** (`lower`): the inline charge when the budget covers SIZE and the
  heap is a plain `Heap` without snapshot numbering (arraymaker.py's ctx
  word OBJECTS non-zero); else `ArrayMaker.make` with op RANGE /
  RANGE_INCL (alloc.py's `HeapBridge._make` hands them to `make` here).
- **make** (charges.py) decides as `Heap.alloc` would, without running what native code
  cannot run (a collection, an emergency mark): past next_gc (under GC
  stress: past the limit; for an exact object: past next_gc or under GC
  stress) it refuses, and native
  code leaves before the instruction (its frame state: the operands on the
  stack), so the interpreter's RANGE marks, fails with its MemoryError and
  trace, or allocates, asks for the collection and runs it at its next
  safe point; else it charges (or, with snapshot numbering or a
  heap subclass, allocates the real Range); under GC stress it asks for
  the collection as `Heap._over` does (`pending`, `high`): it runs at the
  next safe point, the native entry op's included (engine.py).
- The interpreter charges no fuel for RANGE beyond the instruction: no
  fuel rule. A deopt inside the loop resumes the interpreter inside it (the
  Range made and dropped already), an OSR entry at its header likewise.
"""

from __future__ import annotations

from typing import Any

from ...ir.build import DROP
from .charges import RANGE, RANGE_INCL, SIZES, charge

_OPS = {"range": RANGE, "range_incl": RANGE_INCL}
SIZE = SIZES[RANGE]  # (Range.size)


def type_op(i: Any, a: list[str], uses: Any, ty: Any) -> str | None:
    """select.py's machine type of a `range`/`range_incl` (None: another op)."""
    if i.op not in _OPS:
        return None
    from .select import NotEligible

    if a != ["i", "i"] or i in uses:
        raise NotEligible("a range value that is used")
    if not dropped(i):
        ty.heap = ty.allocs = True
    return "i"  # (no machine value: only its bytes, if any; never named by a frame state)


def dropped(i: Any) -> bool:
    """A Range that POP drops at once (ir/build.py DROP): two ints are all
    it checks, so native code has nothing to do for it."""
    return DROP in i.attrs


def handles(i: Any) -> bool:
    return i.op in _OPS and not dropped(i)


def lower(em: Any, i: Any) -> None:
    """LLVM IR of i: the charge inline, else through `make`; refused -> exit
    (charges.py, shared with the Iterator of a for-in loop)."""
    charge(em, i, _OPS[i.op], em.val(i.args[0]), em.val(i.args[1]))
