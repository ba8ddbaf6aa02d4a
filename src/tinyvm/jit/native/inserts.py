"""`xs.insert(i, v)` of an array of scalars in native code, as runtime/methods.py `array_insert` does it.

The interpreter's `array_insert` charges the element (runtime/memory.py
`element_charge`: ELEMENT, plus an int's or a float's own bytes), then
raises IndexError ("insert index i out of range for array of length n")
unless 0 <= i <= len, then `items.insert(i, v)`, then, when the array is
the object a collector watches (`arr.mark == heap.watch`),
`heap.barrier_all(arr)`.

Native code (`[int]`, `[float]`, `[bool]` with a value of the element's
type; anything else stays ineligible) does the same on the guest's own
list, leaving at the insert's pc -- nothing changed, so the interpreter
runs it again and charges, raises or watches itself -- where the
interpreter would do more than the plain insert:

- an index outside 0..len: the interpreter's IndexError with its trace;
- a collector watching any object (ctx word WATCH is not NO_WATCH,
  barrier.py: an incremental mark or a generational heap's old objects):
  the interpreter's `barrier_all`;
- the charge over the push budget (ctx word 5, alloc.py's rule for a
  push): a collection or the limit is the interpreter's;
- on a VM that counts fuel, an array of ITEMS_PER_UNIT (64) elements or
  more: the interpreter charges fuel for the elements moved
  (runtime/methods.py `_charging`), and may stop there.

Else the value is boxed (a new reference), `PyList_Insert` (declared and
registered with construct.py's C API) moves the
elements up and grows the vector when it is full (it takes its own
reference: ours is dropped after), and the charge leaves the budget. A
failing `PyList_Insert` (no memory) changed nothing: a failure exit too.
The list's size changes, so arrays.py's loads of it are not invariant in
the module (`group_inserts`, as alloc.py's pushes and pops.py's pops).
Fuel: the call is one instruction, as in the interpreter (below 64 elements).
"""

from __future__ import annotations

from typing import Any

from ...heap.heap import NO_WATCH
from ...heap.objects import FLOAT_BYTES, INT_BYTES
from ...runtime.memory import ELEMENT
from ...vm.limits import ITEMS_PER_UNIT

SCALAR_ARRAYS = ("ai", "af", "ab")


def is_insert(i: Any) -> bool:
    return i.op == "call_method" and i.attrs[:1] == ("insert",) and len(i.args) == 3


def type_op(i: Any, a: list[str], ty: Any) -> str:
    """select.py's machine type of an insert into an array of scalars ("v": no value)."""
    from .select import NotEligible

    if a[1] != "i" or a[2] != a[0][1]:
        raise NotEligible(f"insert of a {a[2]} at a {a[1]} into an array of {a[0][1]}")
    ty.heap = ty.allocs = True  # (the push budget: alloc.py)
    if i not in ty.effects:
        ty.effects.append(i)  # (the array grows: the VM sees it)
    return "v"


def handles(i: Any, types: dict) -> bool:
    """Whether emit.py hands i to `lower`."""
    return is_insert(i) and types.get(i.args[0]) in SCALAR_ARRAYS


def group_inserts(group: list) -> bool:
    """Whether some function of a group inserts (lists resize: emit.py's `grows`)."""
    return any(is_insert(i) for ty in group for b in ty.fn.blocks for i in b.instrs)


def lower(em: Any, i: Any) -> None:
    """LLVM IR of an insert (module docstring)."""
    from .alloc import AllocLowering, take_budget

    low = em._arrays()
    lay = low.lay
    L = em.lines
    arr, idx, v = i.args
    k = em.ty.types[arr][1]
    x = em.val(idx)
    if low.pk is not None:  # (a PackedArray, possible for an array of scalars: the interpreter inserts, unpacking it)
        t, w, isp = low.load(em.val(arr), lay.type), em.tmp("pkty"), em.tmp("packed")
        L.append(f'  {w} = load i64, i64* @"tvm.ty.Packed", !invariant.load !90')
        L.append(f"  {isp} = icmp eq i64 {t}, {w}")
        em.fail_if(isp, i)
    lst = low.load(em.val(arr), lay.array_items, invariant=True)
    n = low.load(lst, lay.list_size)
    out = em.tmp("outside")
    L.append(
        f"  {out} = icmp ugt i64 {x}, {n}"
    )  # (a negative index is a huge unsigned one)
    em.fail_if(out, i)  # (the interpreter's IndexError)
    if em.metered:  # (a VM counting fuel: runtime/methods.py charges n // ITEMS_PER_UNIT for 64 elements or more)
        big = em.tmp("big")
        L.append(f"  {big} = icmp sge i64 {n}, {ITEMS_PER_UNIT}")
        em.fail_if(big, i)  # (the interpreter charges and inserts)
    wp, w, on = em.tmp("wp"), em.tmp("watch"), em.tmp("watched")
    L.append(f"  {wp} = getelementptr i64, i64* %ctx, i64 7")  # (barrier.py WATCH)
    L.append(f"  {w} = load i64, i64* {wp}")
    L.append(f"  {on} = icmp ne i64 {w}, {NO_WATCH}")
    em.fail_if(on, i)  # (the interpreter's barrier_all)
    if k == "i":
        val = em.val(v)
        u, small, ch = em.tmp(), em.tmp(), em.tmp("chg")
        L.append(f"  {u} = add i64 {val}, 5")
        L.append(
            f"  {small} = icmp ult i64 {u}, 262"
        )  # (-5..256: CPython's shared small ints, as alloc.py's push)
        L.append(
            f"  {ch} = select i1 {small}, i64 {ELEMENT}, i64 {ELEMENT + INT_BYTES}"
        )
    else:
        ch = str(ELEMENT + (FLOAT_BYTES if k == "f" else 0))
    bp, b1 = take_budget(em, i, ch)
    new = AllocLowering(em, low).box(i, v, k)
    r, bad = em.tmp("ins"), em.tmp("insfail")
    L.append(f"  {r} = call i32 @PyList_Insert(i64 {lst}, i64 {x}, i64 {new})")
    L.append(
        f"  call void @tvm.decref(i64 {new})"
    )  # (PyList_Insert took its own reference)
    L.append(f"  {bad} = icmp ne i32 {r}, 0")
    em.fail_if(bad, i)  # (no memory: nothing inserted)
    L.append(f"  store i64 {b1}, i64* {bp}")
