"""The guest collector's two inner loops in machine code: `Heap.sweep` here, `Heap.trace`'s in mark.py, for a VM with the native tier.

`Heap.sweep` (heap/heap.py) keeps the objects of a list marked with the
collection's colour and frees the rest: each dead one gets the mark FREED
and its `free()` (which poisons it: heap/objects.py). In Python that loop
is ~90 ns per dead object (`[o for o in objects if o.mark == colour]`,
then a second pass with a method call per dead object); AWFY Storage
frees ~11,000 Arrays an iteration, so the sweep was ~1 ms of its 2.2 ms
(docs/native.md, "The collector's loops in machine code"). About half of
that is CPython deallocating the Arrays and their lists, which stays; the
rest is the interpreter's loop, which this module replaces:

    i64 tvm.sweep(objects, colour, live, rest, FREED, Array, POISON, int, PackedArray, SlotInstance, bins, Class, list)

walks `objects` (a Python list of heap objects) in order and

- appends to `live` (a new empty list) each object whose mark equals
  `colour` (as Python's `==` of two ints: the same object, or two ints of
  one digit with the same value; anything else asks
  `PyObject_RichCompareBool`);
- for a dead object of type exactly `Array` or `PackedArray` (whose class
  becomes `Array` first, as PackedArray.free does) does `Array.free` inline: the
  mark FREED, the items slot POISON (the old mark's and the list's
  references dropped: the list and its elements are freed there, as by
  the Python assignment);
- for a dead laid-out instance (a type whose `tp_base` is SlotInstance:
  heap/layout.py) does its generated `free()` inline: the mark FREED,
  `cls` and every reference slot POISON (the T_OBJECT_EX members of its
  type's `tp_members`, layout.probe_members; raw int and bool slots keep
  their values), the old references dropped;
- but first, for a dead object of one of those types that only the list
  holds (its reference count is 1), deallocates it on the spot: its entry
  in `objects` becomes POISON and the object its last reference goes
  with it. Poisoning such an object would only guard against references
  nobody has, and its memory is touched now, while the loop has it in
  cache: deallocated where it used to be, when the caller dropped the old
  list after the sweep, its cache lines were cold again (AWFY Bounce's
  ~10,400 dead instances a collection: a collection's p50 650 -> 450 us).
  An object something else still holds (a test's list, a generation's)
  is poisoned as above, so a stale reference still finds POISON;
- and of those, a laid-out instance whose class keeps a recycle list
  (`Class.recycle`: fields.bind makes one for each class native code makes
  instances of inline) is not deallocated but kept for reuse
  ("recycling", below);
- appends every other dead object to `rest`, in list order, for
  `Heap.sweep` to free in Python (its own `free()`: a socket's closes,
  a Record's poisons; their order among themselves is kept, and an
  Array's poisoning is seen by nobody, so running those first changes
  nothing observable).

It returns 0, or -1 with a Python error set (an append that found no
memory) or -2 (an object with no mark): `Heap.sweep` then runs its own
loop over the same list, which redoes the work exactly (the Arrays
already freed have mark FREED, not `colour`: they are dead to it too, and
poisoning twice is poisoning; the entries already deallocated are POISON,
which it leaves out and counts as freed).

    i64 tvm.mark(stack, colour, objs, kids, Array, int, float, bool, list, None, ...)

is `Heap.trace`'s loop (`Heap._trace_native`) for the objects whose size
and references it knows: mark.py, compiled in the same module. (It knew
Arrays only until session 40: 209 -> 33 ns per live object on Storage's
trees, microbenchmark.)

Recycling. Bounce makes and drops 100 Balls a run; a collection found
~10,400 dead and deallocated each (~18 ns apiece once the helpers were
inlined), and native code then allocated as many again through
PyType_GenericAlloc. Now the sweep empties such an instance -- every
reference slot, `cls`, `fields` and `mark` NULL, the old references
dropped: what PyType_GenericAlloc returns but for the raw slots' stale
words, which every maker overwrites -- and appends it to its class's
recycle list (~9 ns); newinst.py's inline path pops from that list before
it allocates. The guest sees nothing: the object was dead to it, counted
freed, its bytes released, and a popped one is charged, marked and listed
as a new one. Only objects the list alone holds are recycled, so no
reference to a recycled object exists anywhere else. The host keeps at
most one sweep's garbage: each list the sweep appends to goes on the
`bins` argument (the heap's `Heap.bins`) once, and `Heap.sweep` empties
those lists before the next sweep (`Heap.collect`, an explicit
collection, right after its own). `bins` None (tests) recycles nothing.

Both are used only where the slot offsets are what arraymaker.py's inline
path probed (`_fast`: `mark` at 16, `items` at 24); the sweep not for a
heap with snapshot numbering or an allocation-site table (those forget
each freed object by id: Python's loop). Compiled once per process as
outofline.py's `tvm.make` is (codegen.helper_module); called through
ctypes (`PYFUNCTYPE`: the GIL held, an error raised as the Python
exception), ~1 us a call.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any, Callable, NamedTuple

from . import mark as mark_mod
from .layout import MEMBER_OFFSET, MEMBER_SIZE, MEMBER_TYPE, T_OBJECT_EX

NAME = "tvm.sweep"
MARK_NAME = mark_mod.NAME
_made: list = []  # [(MCJIT engine, [(name, address)])] (codegen.helper_module)
_fn: list = []  # [the ctypes function], once made in this process
_PROTO = ctypes.PYFUNCTYPE(ctypes.c_int64, *([ctypes.py_object] * 13))
_MARK_PROTO = ctypes.PYFUNCTYPE(ctypes.c_int64, *([ctypes.py_object] * (4 + len(mark_mod.args()))))

# Offsets (CPython 3.11, x86-64): the refcount, the type, a PyLong's ob_size
# and first digit, a heap object's `mark` and an Array's `items` (the two
# probed by arraymaker._fast), a list's ob_size and ob_item (layout.py's
# probe: checked in `sweeper`).
MARK, ITEMS = 16, 24


class Shapes(NamedTuple):
    """What the sweep needs of laid-out instances: the type's tp_base and
    tp_members offsets (layout.probe_members), an instance's `cls` and
    `fields` slots (layout.probe_slots), a Class's `recycle` slot, a list's
    ob_size."""

    tp_base: int
    tp_members: int
    cls: int
    fields: int
    recycle: int
    list_size: int


def _members(p: str, tp_members: int, action: str, after: str) -> str:
    """A loop over the T_OBJECT_EX members of the type `%t` (its
    tp_members: layout.probe_members), from label `{p}shape`: `action` on
    each one's offset `%{p}moff`, then a branch to label `after`. Labels
    and values are prefixed with `p` (two loops in one function)."""
    return f"""{p}shape:
  %{p}mem0 = call i64 @sw.word(i64 %t, i64 {tp_members})
  br label %{p}member
{p}member:
  %{p}mem = phi i64 [%{p}mem0, %{p}shape], [%{p}mem1, %{p}mnext]
  %{p}mname = call i64 @sw.word(i64 %{p}mem, i64 0)
  %{p}mend = icmp eq i64 %{p}mname, 0
  br i1 %{p}mend, label %{after}, label %{p}mtype
{p}mtype:
  %{p}ptyp = add i64 %{p}mem, {MEMBER_TYPE}
  %{p}qtyp = inttoptr i64 %{p}ptyp to i32*
  %{p}typ = load i32, i32* %{p}qtyp
  %{p}isref = icmp eq i32 %{p}typ, {T_OBJECT_EX}
  br i1 %{p}isref, label %{p}mref, label %{p}mnext
{p}mref:
  %{p}moff = call i64 @sw.word(i64 %{p}mem, i64 {MEMBER_OFFSET})
  {action}
  br label %{p}mnext
{p}mnext:
  %{p}mem1 = add i64 %{p}mem, {MEMBER_SIZE}
  br label %{p}member"""


def _shape_free(shapes: Shapes | None) -> str:
    """The sweep's free() of a dead laid-out instance (heap/layout.py's
    generated `free`: every reference slot and `cls` POISON, the old
    references dropped; raw slots left as they are), for a type whose
    tp_base is SlotInstance; its reference slots are the T_OBJECT_EX
    members of its tp_members (layout.probe_members). `shapes` is
    None when native code does not know the layout: every other object
    goes to `rest`. `%isshape` is the `dead` block's (`_is_shape`)."""
    if shapes is None:
        return "  br label %torest"
    loop = _members("", shapes.tp_members, "call void @sw.replace(i64 %o, i64 %moff, i64 %poison)", "shcls")
    return f"""  br i1 %isshape, label %shape, label %torest
{loop}
shcls:
  call void @sw.replace(i64 %o, i64 {shapes.cls}, i64 %poison)
  call void @sw.replace(i64 %o, i64 {MARK}, i64 %freed)
  br label %next"""


def _recycle(shapes: Shapes | None) -> str:
    """From label `drop` (a dead object only the list holds): a laid-out
    instance whose class keeps a list to recycle into (`Class.recycle`;
    the class an exact Class, the list an exact list) goes on that list
    emptied -- every reference slot, `cls`, `fields` and `mark` NULL, the
    old references dropped: what PyType_GenericAlloc returns, but for its
    raw slots' stale words, which the maker's stores overwrite -- and the
    list goes on `bins` (once: when it was empty) for `Heap.sweep` to
    empty at the next sweep. Then, or for anything else, on to label
    `dealloc`, which drops the list entry's reference (the last one, but
    for the recycle list's). An append that fails (no memory) is
    forgotten: the object is deallocated as before."""
    if shapes is None:
        return "  br label %dealloc"
    loop = _members("rc", shapes.tp_members, "call void @sw.clear(i64 %o, i64 %rcmoff)", "rcslots")
    return f"""  %rcon = and i1 %isshape, %binning
  br i1 %rcon, label %rccls, label %dealloc
rccls:
  %rcc = call i64 @sw.word(i64 %o, i64 {shapes.cls})
  %rcct = call i64 @sw.word(i64 %rcc, i64 8)
  %rcisc = icmp eq i64 %rcct, %classty
  br i1 %rcisc, label %rclist, label %dealloc
rclist:
  %rl = call i64 @sw.word(i64 %rcc, i64 {shapes.recycle})
  %rlt = call i64 @sw.word(i64 %rl, i64 8)
  %rlok = icmp eq i64 %rlt, %listty
  br i1 %rlok, label %rcn, label %dealloc
rcn:
  %rln = call i64 @sw.word(i64 %rl, i64 {shapes.list_size})
  %rcfirst = icmp eq i64 %rln, 0
  br i1 %rcfirst, label %rcbin, label %rcput
rcbin:
  %rcb = call i32 @PyList_Append(i64 %bins, i64 %rl)
  %rcbf = icmp ne i32 %rcb, 0
  br i1 %rcbf, label %rcfail, label %rcput, !prof !0
rcput:
  %rcp = call i32 @PyList_Append(i64 %rl, i64 %o)
  %rcpf = icmp ne i32 %rcp, 0
  br i1 %rcpf, label %rcfail, label %rcshape, !prof !0
rcfail:
  call void @PyErr_Clear()
  br label %dealloc
{loop}
rcslots:
  call void @sw.clear(i64 %o, i64 {shapes.cls})
  call void @sw.clear(i64 %o, i64 {shapes.fields})
  call void @sw.clear(i64 %o, i64 {MARK})
  br label %dealloc"""


def _is_shape(shapes: Shapes | None) -> str:
    """`%isshape`: is the type `%t` a laid-out instance's (its tp_base
    SlotInstance)? Always false without the layout (`_shape_free`)."""
    if shapes is None:
        return "  %isshape = icmp eq i64 0, 1"
    return f"""  %tb = call i64 @sw.word(i64 %t, i64 {shapes.tp_base})
  %isshape = icmp eq i64 %tb, %slotinst"""


def _text(list_size: int, list_item: int, shapes: Shapes | None, mark_text: str) -> str:
    return f"""declare i32 @PyList_Append(i64, i64)
declare void @PyErr_Clear()
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

; the slot at %o + %off gets %new (a new reference: POISON, FREED), its old object (if any) losing one
define internal void @sw.replace(i64 %o, i64 %off, i64 %new) alwaysinline {{
  call void @sw.inc(i64 %new)
  call void @sw.put(i64 %o, i64 %off, i64 %new)
  ret void
}}

; the slot at %o + %off emptied (NULL, as a new object's), its old object (if any) losing one
define internal void @sw.clear(i64 %o, i64 %off) alwaysinline {{
  call void @sw.put(i64 %o, i64 %off, i64 0)
  ret void
}}

; the slot at %o + %off gets %new (its reference given), its old object (if any) losing one
define internal void @sw.put(i64 %o, i64 %off, i64 %new) alwaysinline {{
entry:
  %a = add i64 %o, %off
  %p = inttoptr i64 %a to i64*
  %old = load i64, i64* %p
  store i64 %new, i64* %p
  %held = icmp ne i64 %old, 0
  br i1 %held, label %drop, label %done
drop:
  call void @sw.dec(i64 %old)
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

define i64 @{NAME}(i64 %objs, i64 %colour, i64 %live, i64 %rest, i64 %freed, i64 %arrty, i64 %poison, i64 %long, i64 %pkty, i64 %slotinst, i64 %bins, i64 %classty, i64 %listty) {{
entry:
  %binty = call i64 @sw.word(i64 %bins, i64 8)
  %binning = icmp eq i64 %binty, %listty
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
{_is_shape(shapes)}
  %qa = icmp eq i64 %t, %arrty
  %qp = icmp eq i64 %t, %pkty
  %qap = or i1 %qa, %qp
  %ours = or i1 %qap, %isshape
  %rc = call i64 @sw.word(i64 %o, i64 0)
  %sole = icmp eq i64 %rc, 1
  %dropit = and i1 %ours, %sole
  br i1 %dropit, label %drop, label %kinds
drop:
{_recycle(shapes)}
dealloc:
  %slot = add i64 %vec, %off
  call void @sw.replace(i64 %slot, i64 0, i64 %poison)
  br label %next
kinds:
  %isarr = icmp eq i64 %t, %arrty
  br i1 %isarr, label %poisonit, label %packed
packed:
  %ispk = icmp eq i64 %t, %pkty
  br i1 %ispk, label %unpk, label %other
unpk:
  call void @sw.inc(i64 %arrty)
  %pty = add i64 %o, 8
  %qty = inttoptr i64 %pty to i64*
  store i64 %arrty, i64* %qty
  call void @sw.dec(i64 %pkty)
  br label %poisonit
poisonit:
  call void @sw.replace(i64 %o, i64 {MARK}, i64 %freed)
  call void @sw.replace(i64 %o, i64 {ITEMS}, i64 %poison)
  br label %next
other:
{_shape_free(shapes)}
torest:
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

{mark_text}
!0 = !{{!"branch_weights", i32 1, i32 2000}}
"""


def sweeper() -> Callable[..., int] | None:
    """The machine-code sweep as `f(objects, colour, live, rest, bins=None) -> status`
    (module docstring), compiled at the first call in this process; None
    when the layout is not the one probed (the Python loop then)."""
    return _compiled()[0]


def marker() -> Callable[[list, Any, list, list], int] | None:
    """The machine-code mark as `f(stack, colour, objs, kids) -> bytes`
    (module docstring), or None as for `sweeper`."""
    return _compiled()[1]


def lazy_sweep(objects: list, colour: Any, live: list, rest: list, bins: list | None = None) -> int:
    """`sweeper()`'s function, compiled at the first collection that needs
    it rather than at the first native entry (~75 ms of LLVM once per
    process, which a program that never collects should not pay; a
    `native` VM's warm-up compiles it on the worker, warmup.py); -2 (the
    Python loop) if it cannot be."""
    f = _compiled()[0]
    return f(objects, colour, live, rest, bins) if f is not None else -2


def lazy_mark(stack: list, colour: Any, objs: list, kids: list) -> int:
    """`marker()`'s function, compiled likewise. Set only where `_fast()`
    holds, so it compiles (else every popped object goes to `objs`)."""
    f = _compiled()[1]
    if f is not None:
        return f(stack, colour, objs, kids)
    objs.extend(reversed(stack))
    stack.clear()
    return 0


@functools.cache
def recycle_offset() -> int:
    """The offset of `Class.recycle` in a Class (found as fields._find
    finds `template`: the slot that holds a known object); once per
    process, as every inline allocation of an instance asks for it."""
    from ...heap.objects import Class
    from .fields import _find

    probe = Class("probe", None, None)
    probe.recycle = []
    return _find(probe, probe.recycle)


def _compiled() -> tuple[Any, Any]:
    if _fn:
        return _fn[0]
    from ...heap.heap import FREED
    from ...heap.objects import _POISON, Array, Class
    from .arraymaker import _fast
    from .codegen import bind_c_api, helper_module, load_llvm
    from .layout import probe, probe_members, probe_slots

    lay = probe()[0]
    if not _fast() or lay is None:
        _fn.append((None, None))
        return _fn[0]
    llvm = load_llvm()
    bind_c_api(llvm, ("PyList_Append", "PyErr_Clear", "_Py_Dealloc", "PyObject_RichCompareBool"))
    tp_members = probe_members()
    slots = probe_slots()[0]
    shapes = None if tp_members is None or slots is None else Shapes(slots.tp_base, tp_members, slots.cls, slots.fields, recycle_offset(), lay.list_size)
    marks = mark_mod.text(lay.list_size, lay.list_item, mark_mod.kinds())
    addrs = dict(helper_module(llvm, _made, _text(lay.list_size, lay.list_item, shapes, marks), (NAME, MARK_NAME)))
    raw_sweep = _PROTO(addrs[NAME])
    raw_mark = _MARK_PROTO(addrs[MARK_NAME])
    mark_args = mark_mod.args()

    from ...heap.layout import SlotInstance
    from ...heap.packed import PackedArray
    from .layout import probe_packed

    # A dead PackedArray is freed inline too (PackedArray.free: its class
    # Array -- the heap type's counts moved as `__class__ =` moves them --,
    # then the Array's poisoning; its buffer's reference dropped): AWFY
    # Queens frees four per solve. None (no type's address) when native
    # code does not know PackedArray's layout: Python's free() then.
    pk = PackedArray if probe_packed()[0] is not None else None

    def sweep(objects: list, colour: Any, live: list, rest: list, bins: list | None = None) -> int:
        return raw_sweep(objects, colour, live, rest, FREED, Array, _POISON, int, pk, SlotInstance, bins, Class, list)

    def mark(stack: list, colour: Any, objs: list, kids: list) -> int:
        return raw_mark(stack, colour, objs, kids, *mark_args)

    _fn.append((sweep, mark))
    return _fn[0]
