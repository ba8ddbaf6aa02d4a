"""The GC's write barrier in native code: after a store of an object reference.

Every store of a reference into an existing heap object, from every tier,
runs the heap's write barrier (heap/heap.py, docs/gc.md "Write barriers"):

    if obj.mark == heap.watch: heap.barrier(obj, value)

`watch` is NO_WATCH (-9, a mark no object has) while no collector needs to
see stores (stop-the-world mode, an incremental collector between cycles),
black during an incremental mark (the barrier shades the value), and the
clean old colour all the time in generational mode (the barrier remembers
the object). Native code does the same, inline, right after the store
(`emit_barrier`, the one entry point every native store uses: stores.py's
fields and arrays, alloc code pushing objects):

- `watch` is read from ctx word WATCH, which the entry and OSR ops set at
  every native entry (`heap.watch` cannot change while native code runs:
  there is no safe point inside it, and the poll runs no collector). When
  it is NO_WATCH nothing else is done: one load and a compare.
- Otherwise obj's `mark` (a `HeapObject.__slots__` member: its offset is
  probed on live objects at start-up and verified for Instance, Record and
  Array, as layout.py does for Array.items) is a Python int: a compact one
  (ob_size -1, 0 or 1: every colour the collectors use) is unboxed inline,
  sign times its digit, and compared with watch; a non-compact mark or an
  unset slot takes the slow path, which compares in Python.
- On equality the slow path is a ctypes callback (`BarrierBridge`, its
  address in ctx word SLOW, as alloc.py's HeapBridge callback) that runs
  `heap.barrier(obj, value)` after checking `obj.mark == heap.watch` itself
  (exact whatever the inline test let through). It allocates nothing on the
  guest heap and runs no guest code, so native code goes on after it.

The callback is reached through the ctx words: the object code holds no
address of the process that made it (the disk cache stays valid).
"""

from __future__ import annotations

import ctypes
from typing import Any

from ...heap.heap import NO_WATCH

# ctx words (engine.py's ctx array; appended after alloc.py's 5 and 6):
WATCH = 7  # heap.watch, set at every native entry (entry and OSR ops)
SLOW = 8  # the address of the slow-path callback, `void (i64 obj, i64 value)`
CTX_WORDS = 9

SLOW_PATH = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_int64)

_probed: list = []  # [(offset | None, why)] once per process: the interpreter does not change


def mark_offset() -> tuple[int | None, str]:
    """The byte offset of `HeapObject.mark` in guest objects, or (None, why
    native code cannot run the barrier inline: then it stores no reference)."""
    if not _probed:
        try:
            _probed.append(_probe())
        except Exception as e:  # noqa: BLE001 - any surprise turns stores off, never the VM
            _probed.append((None, f"mark probe failed: {type(e).__name__}: {e}"))
    return _probed[0]


def _probe() -> tuple[int | None, str]:
    from ...heap.objects import Array, HeapObject, Instance, Record
    from .layout import probe

    lay, why = probe()
    if lay is None:
        return None, why
    d = HeapObject.__dict__.get("mark")
    if d is None or type(d).__name__ != "member_descriptor":
        return None, "HeapObject.mark is not a slot"
    found = set()
    for obj in (Instance(object(), {}), Record({}), Array([])):  # type: ignore[arg-type]
        for mark in (1 << 40, 12345, -11):
            m = int(str(mark))  # (a fresh object: its address is unique)
            obj.mark = m
            hits = [k for k in range(lay.type + 8, type(obj).__basicsize__, 8) if ctypes.c_int64.from_address(id(obj) + k).value == id(m)]
            if len(hits) != 1:
                return None, f"no unique mark slot in {type(obj).__name__}"
            found.add(hits[0])
    if len(found) != 1:
        return None, "the mark slot is not at one offset"
    return found.pop(), ""


def check() -> None:
    """NotEligible when the barrier cannot be emitted (select.py time)."""
    from .select import NotEligible

    off, why = mark_offset()
    if off is None:
        raise NotEligible(f"stores of references are off: {why}")


def emit_barrier(fe: Any, obj: str, value: str) -> None:
    """The write barrier after `value` (an i64 SSA name, a PyObject address)
    was stored into the heap object at `obj` (i64): `if obj.mark ==
    heap.watch: heap.barrier(obj, value)` (module docstring). `fe` is the
    function's emit._FnEmitter; the code leaves it in a new block."""
    off, why = mark_offset()
    if off is None:
        from .select import NotEligible

        raise NotEligible(f"stores of references are off: {why}")
    lay = fe._arrays().lay  # (layout.py: ints' ob_size and digits)
    L = fe.lines
    t = fe.tmp
    wp, w, on = t("bwp"), t("bw"), t("bon")
    chk, read, slow, done = t("bchk")[1:], t("bread")[1:], t("bslow")[1:], t("bdone")[1:]
    L.append(f"  {wp} = getelementptr i64, i64* %ctx, i64 {WATCH}")
    L.append(f"  {w} = load i64, i64* {wp}")
    L.append(f"  {on} = icmp ne i64 {w}, {NO_WATCH}")
    L.append(f"  br i1 {on}, label %{chk}, label %{done}")
    fe.label(chk)
    ma, mp, m, null = t(), t(), t("mark"), t()
    L.append(f"  {ma} = add i64 {obj}, {off}")
    L.append(f"  {mp} = inttoptr i64 {ma} to i64*")
    L.append(f"  {m} = load i64, i64* {mp}")
    L.append(f"  {null} = icmp eq i64 {m}, 0")
    L.append(f"  br i1 {null}, label %{slow}, label %{read}")
    fe.label(read)
    sa, sp, sz, da, dp, d, dz = t(), t(), t("msz"), t(), t(), t("mdg"), t()
    L.append(f"  {sa} = add i64 {m}, {lay.long_size}")
    L.append(f"  {sp} = inttoptr i64 {sa} to i64*")
    L.append(f"  {sz} = load i64, i64* {sp}")
    L.append(f"  {da} = add i64 {m}, {lay.long_digit}")
    L.append(f"  {dp} = inttoptr i64 {da} to i32*")
    L.append(f"  {d} = load i32, i32* {dp}")
    L.append(f"  {dz} = zext i32 {d} to i64")
    s1, compact, v, eq, big, go = t(), t(), t("mv"), t(), t(), t()
    L.append(f"  {s1} = add i64 {sz}, 1")
    L.append(f"  {compact} = icmp ult i64 {s1}, 3")  # (ob_size -1, 0 or 1)
    L.append(f"  {v} = mul i64 {sz}, {dz}")  # (sign * digit; 0 for 0)
    L.append(f"  {eq} = icmp eq i64 {v}, {w}")
    L.append(f"  {big} = xor i1 {compact}, true")
    L.append(f"  {go} = or i1 {eq}, {big}")
    L.append(f"  br i1 {go}, label %{slow}, label %{done}")
    fe.label(slow)
    cp, cw, cf = t(), t("bcb"), t()
    L.append(f"  {cp} = getelementptr i64, i64* %ctx, i64 {SLOW}")
    L.append(f"  {cw} = load i64, i64* {cp}")
    L.append(f"  {cf} = inttoptr i64 {cw} to void (i64, i64)*")
    L.append(f"  call void {cf}(i64 {obj}, i64 {value})")
    L.append(f"  br label %{done}")
    fe.label(done)


class BarrierBridge:
    """The slow path of one VM's native tier (ctx word SLOW)."""

    def __init__(self, vm: Any, ctx: Any) -> None:
        self.vm = vm
        self.calls = 0  # slow-path calls (tests, measurements)
        self.failed = 0  # slow-path calls that raised (never expected: tests check it stays 0)
        self.callback = SLOW_PATH(self._slow)
        ctx[SLOW] = ctypes.cast(self.callback, ctypes.c_void_p).value or 0
        ctx[WATCH] = NO_WATCH

    def _slow(self, obj_addr: int, value_addr: int) -> None:
        # Called from machine code: must never raise (ctypes would print it).
        try:
            self.calls += 1
            obj = ctypes.cast(obj_addr, ctypes.py_object).value
            heap = self.vm.heap
            if getattr(obj, "mark", None) == heap.watch:
                heap.barrier(obj, ctypes.cast(value_addr, ctypes.py_object).value)
        except BaseException:  # noqa: BLE001 - the collector's barrier raises nothing; never unwind through machine code
            self.failed += 1
