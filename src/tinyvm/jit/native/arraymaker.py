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
  appended to the engine's ctx array. Native code stores the operands,
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
"""

from __future__ import annotations

from typing import Any

MAKER, OP, A, B = 11, 12, 13, 14  # ctx words (engine.py's ctx array: appended by this module)
MUL = 1  # (alloc.MUL: the one op with an object operand)


class ArrayMaker:
    """alloc.py's allocations for native code, called with PyObject_Vectorcall."""

    def __init__(self, bridge: Any, ctx: Any) -> None:
        self.bridge = bridge
        self.ctx = ctx
        self.fn = self.make
        ctx[MAKER] = id(self.fn)

    def make(self, src: Any = None) -> Any:
        """HeapBridge's leave, _make and enter (inline: this is the hot path)."""
        ctx = self.ctx
        bridge = self.bridge
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


def call(em: Any, op: str, a: str, b: str) -> str:
    """LLVM IR of alloc.py's allocation `op` (LIT, MUL, FILL + k) with words
    a, b through the maker: the new Array's address, or 0 when refused."""
    from .stores import NONE

    L = em.lines
    words = [(OP, op), (A, a), (B, b)]
    for k, w in words:
        p = em.tmp("amp")
        L.append(f"  {p} = getelementptr i64, i64* %ctx, i64 {k}")
        L.append(f"  store i64 {w}, i64* {p}")
    fp, f, ap, r, none, out = em.tmp("amf"), em.tmp("amf"), em.tmp("ama"), em.tmp("amr"), em.tmp("amn"), em.tmp("amo")
    L.append(f"  {fp} = getelementptr i64, i64* %ctx, i64 {MAKER}")
    L.append(f"  {f} = load i64, i64* {fp}")
    L.append(f"  {ap} = getelementptr i64, i64* %ctx, i64 {A}")
    nargs = 1 if op == str(MUL) else 0
    L.append(f"  {r} = call i64 @PyObject_Vectorcall(i64 {f}, i64* {ap}, i64 {nargs}, i64 0)")
    L.append(f"  call void @tvm.decref(i64 {r})")  # (the heap's allocation list holds it; None is immortal enough: ours was a new reference)
    L.append(f"  {none} = icmp eq i64 {r}, {NONE}")
    L.append(f"  {out} = select i1 {none}, i64 0, i64 {r}")
    return out
