"""The guest sweep's loop in machine code: `Heap.sweep` for a VM with the native tier.

`Heap.sweep` (heap/heap.py) keeps the objects of a list marked with the
collection's colour and frees the rest: each dead one gets the mark FREED
and its `free()` (which poisons it: heap/objects.py). In Python that loop
is ~90 ns per dead object (`[o for o in objects if o.mark == colour]`,
then a second pass with a method call per dead object); AWFY Storage
frees ~11,000 Arrays an iteration, so the sweep was ~1 ms of its 2.2 ms
(docs/native.md, "The sweep in machine code"). About half of that is
CPython deallocating the Arrays and their lists, which stays; the rest is
the interpreter's loop, which this module replaces:

    i64 tvm.sweep(objects, colour, live, rest, FREED, Array, POISON, int)

walks `objects` (a Python list of heap objects) in order and

- appends to `live` (a new empty list) each object whose mark equals
  `colour` (as Python's `==` of two ints: the same object, or two ints of
  one digit with the same value; anything else asks
  `PyObject_RichCompareBool`);
- for a dead object of type exactly `Array` does `Array.free` inline: the
  mark FREED, the items slot POISON (the old mark's and the list's
  references dropped: the list and its elements are freed there, as by
  the Python assignment);
- appends every other dead object to `rest`, in list order, for
  `Heap.sweep` to free in Python (its own `free()`: a socket's closes,
  a Record's poisons; their order among themselves is kept, and an
  Array's poisoning is seen by nobody, so running those first changes
  nothing observable).

It returns 0, or -1 with a Python error set (an append that found no
memory) or -2 (an object with no mark): `Heap.sweep` then runs its own
loop over the same list, which redoes the work exactly (the Arrays
already freed have mark FREED, not `colour`: they are dead to it too, and
poisoning twice is poisoning).

It is used only where the slot offsets are what arraymaker.py's inline
path probed (`_fast`: `mark` at 16, `items` at 24), for a heap without
snapshot numbering or an allocation-site table (those forget each freed
object by id: Python's loop). Compiled once per process as outofline.py's
`tvm.make` is (codegen.helper_module); called through ctypes (`PYFUNCTYPE`:
the GIL held, an error raised as the Python exception), ~1 us a sweep.
"""

from __future__ import annotations

import ctypes
from typing import Any, Callable

NAME = "tvm.sweep"
_made: list = []  # [(MCJIT engine, [(name, address)])] (codegen.helper_module)
_fn: list = []  # [the ctypes function], once made in this process
_PROTO = ctypes.PYFUNCTYPE(ctypes.c_int64, *([ctypes.py_object] * 8))

# Offsets (CPython 3.11, x86-64): the refcount, the type, a PyLong's ob_size
# and first digit, a heap object's `mark` and an Array's `items` (the two
# probed by arraymaker._fast), a list's ob_size and ob_item (layout.py's
# probe: checked in `sweeper`).
MARK, ITEMS = 16, 24


def _text(list_size: int, list_item: int) -> str:
    return f"""declare i32 @PyList_Append(i64, i64)
declare void @_Py_Dealloc(i64)
declare i32 @PyObject_RichCompareBool(i64, i64, i32)

define internal void @sw.inc(i64 %o) alwaysinline {{
  %p = inttoptr i64 %o to i64*
  %rc = load i64, i64* %p
  %rc1 = add i64 %rc, 1
  store i64 %rc1, i64* %p
  ret void
}}

define internal void @sw.dec(i64 %o) alwaysinline {{
entry:
  %p = inttoptr i64 %o to i64*
  %rc = load i64, i64* %p
  %rc1 = sub i64 %rc, 1
  store i64 %rc1, i64* %p
  %z = icmp eq i64 %rc1, 0
  br i1 %z, label %free, label %done, !prof !0
free:
  call void @_Py_Dealloc(i64 %o)
  br label %done
done:
  ret void
}}

define internal i64 @sw.word(i64 %o, i64 %off) alwaysinline {{
  %a = add i64 %o, %off
  %p = inttoptr i64 %a to i64*
  %w = load i64, i64* %p
  ret i64 %w
}}

; 1: mark == colour, 0: not, -1: the comparison failed (an error set)
define internal i32 @sw.same(i64 %m, i64 %c, i64 %long) {{
entry:
  %id = icmp eq i64 %m, %c
  br i1 %id, label %yes, label %types
types:
  %tm = call i64 @sw.word(i64 %m, i64 8)
  %tc = call i64 @sw.word(i64 %c, i64 8)
  %l1 = icmp eq i64 %tm, %long
  %l2 = icmp eq i64 %tc, %long
  %ll = and i1 %l1, %l2
  br i1 %ll, label %sizes, label %slow
sizes:
  %sm = call i64 @sw.word(i64 %m, i64 16)
  %sc = call i64 @sw.word(i64 %c, i64 16)
  %ds = icmp ne i64 %sm, %sc
  br i1 %ds, label %no, label %small
small:
  %z = icmp eq i64 %sm, 0
  br i1 %z, label %yes, label %one
one:
  %a1 = icmp eq i64 %sm, 1
  %a2 = icmp eq i64 %sm, -1
  %a = or i1 %a1, %a2
  br i1 %a, label %digit, label %slow
digit:
  %pm = add i64 %m, 24
  %pc = add i64 %c, 24
  %qm = inttoptr i64 %pm to i32*
  %qc = inttoptr i64 %pc to i32*
  %dm = load i32, i32* %qm
  %dc = load i32, i32* %qc
  %eq = icmp eq i32 %dm, %dc
  br i1 %eq, label %yes, label %no
slow:
  %r = call i32 @PyObject_RichCompareBool(i64 %m, i64 %c, i32 2)
  ret i32 %r
yes:
  ret i32 1
no:
  ret i32 0
}}

define i64 @{NAME}(i64 %objs, i64 %colour, i64 %live, i64 %rest, i64 %freed, i64 %arrty, i64 %poison, i64 %long) {{
entry:
  br label %loop
loop:
  %i = phi i64 [0, %entry], [%i1, %next]
  %n = call i64 @sw.word(i64 %objs, i64 {list_size})
  %more = icmp slt i64 %i, %n
  br i1 %more, label %body, label %end
body:
  %vec = call i64 @sw.word(i64 %objs, i64 {list_item})
  %off = shl i64 %i, 3
  %o = call i64 @sw.word(i64 %vec, i64 %off)
  %m = call i64 @sw.word(i64 %o, i64 {MARK})
  %nomark = icmp eq i64 %m, 0
  br i1 %nomark, label %unmarked, label %test, !prof !0
test:
  %s = call i32 @sw.same(i64 %m, i64 %colour, i64 %long)
  switch i32 %s, label %err [ i32 1, label %keep
                              i32 0, label %dead ]
keep:
  %r1 = call i32 @PyList_Append(i64 %live, i64 %o)
  %b1 = icmp ne i32 %r1, 0
  br i1 %b1, label %err, label %next, !prof !0
dead:
  %t = call i64 @sw.word(i64 %o, i64 8)
  %isarr = icmp eq i64 %t, %arrty
  br i1 %isarr, label %poisonit, label %other
poisonit:
  call void @sw.inc(i64 %freed)
  %pmk = add i64 %o, {MARK}
  %qmk = inttoptr i64 %pmk to i64*
  store i64 %freed, i64* %qmk
  call void @sw.dec(i64 %m)
  %it = call i64 @sw.word(i64 %o, i64 {ITEMS})
  call void @sw.inc(i64 %poison)
  %pit = add i64 %o, {ITEMS}
  %qit = inttoptr i64 %pit to i64*
  store i64 %poison, i64* %qit
  %hasit = icmp ne i64 %it, 0
  br i1 %hasit, label %decit, label %next
decit:
  call void @sw.dec(i64 %it)
  br label %next
other:
  %r2 = call i32 @PyList_Append(i64 %rest, i64 %o)
  %b2 = icmp ne i32 %r2, 0
  br i1 %b2, label %err, label %next, !prof !0
next:
  %i1 = add i64 %i, 1
  br label %loop
end:
  ret i64 0
err:
  ret i64 -1
unmarked:
  ret i64 -2
}}

!0 = !{{!"branch_weights", i32 1, i32 2000}}
"""


def sweeper() -> Callable[[list, Any, list, list], int] | None:
    """The machine-code sweep as `f(objects, colour, live, rest) -> status`
    (module docstring), compiled at the first call in this process; None
    when the layout is not the one probed (the Python loop then)."""
    if _fn:
        return _fn[0]
    from ...heap.heap import FREED
    from ...heap.objects import _POISON, Array
    from .arraymaker import _fast
    from .codegen import bind_c_api, helper_module, load_llvm
    from .layout import probe

    lay = probe()[0]
    if not _fast() or lay is None:
        _fn.append(None)
        return None
    llvm = load_llvm()
    bind_c_api(llvm, ("PyList_Append", "_Py_Dealloc", "PyObject_RichCompareBool"))
    addr = helper_module(llvm, _made, _text(lay.list_size, lay.list_item), (NAME,))[0][1]
    raw = _PROTO(addr)

    def sweep(objects: list, colour: Any, live: list, rest: list) -> int:
        return raw(objects, colour, live, rest, FREED, Array, _POISON, int)

    _fn.append(sweep)
    return sweep
