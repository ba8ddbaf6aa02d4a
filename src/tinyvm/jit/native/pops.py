"""`xs.pop()` of an array of scalars in native code, as runtime/methods.py `array_pop` does it.

`xs.pop()` on `[int]`, `[float]` or `[bool]` compiles to `call_method pop`
with the array as its only operand. The interpreter's `array_pop` raises
IndexError ("pop from empty array") on an empty array, else
`items.pop()`: the last element leaves the list, which drops its
reference, and the heap's accounting does not change (no charge is given
back: runtime/memory.py charges an element when it comes, as `heap.bytes`
counts until a collection recounts).

Native code does the same on the guest's own list (arrays.py's layout):

- **type_op** (select.py): the element's machine type ("i", "f", "b");
  the function touches the heap and has an effect the VM can see (the
  array shrinks: `Typed.effects`, exact-pc exits).
- **lower** (emit.py): `ob_size` read (not invariant: the module resizes
  lists, `group_pops` marks it as alloc.py's pushes do); 0 is a failure
  exit at the `pop`, so the interpreter runs it again and raises its
  IndexError with its trace. Else the last element is unboxed *before* it
  is removed (arrays.py `read`: an element of another type, which only
  code the checker cannot see puts there, fails at the `pop` with the
  array untouched), then `ob_size - 1` and the list's reference dropped
  (`tvm.decref`, Py_DecRef: an int only the list held is freed there, as
  `list.pop`'s caller would free it). The vector is not shrunk: CPython's
  `list_resize` may give capacity back below half; a list whose size is
  below its capacity is an ordinary list, and the next push uses the room.
- No fuel rule: the interpreter charges nothing for `pop` beyond the
  instruction.

**Arrays of objects** (`[Ball]`, `[Node?]`: fields.py's "ap" whose element
class is known) pop the same way, the element not unboxed: the result is
the object's address ("p" of the element's class, or nil, as `xs[i]` of
the array gives: fields.py), borrowed after the list's reference is
dropped. That is safe because an element of such an array is a guest heap
object (an Instance, a Record, an Array: the heap's lists hold each until
a collection, which never runs inside native code) or None, never freed
by the decref; an exit or the result hands the interpreter a new
reference (deopt.py, objects.py), as its frame gets the popped value.
`[any]` arrays (opaque.py) are not popped natively: their elements may be
ints or strings the list alone holds.
"""

from __future__ import annotations

from typing import Any

SCALAR_ARRAYS = ("ai", "af", "ab")


def is_pop(i: Any) -> bool:
    return i.op == "call_method" and i.attrs[:1] == ("pop",) and len(i.args) == 1


def object_type_op(i: Any, a: list[str], ty: Any) -> str:
    """select.py's machine type of a pop of an array of objects of a known class ("p")."""
    from .objects import strip
    from .select import NotEligible

    t = ty.objs.get(i.args[0])
    elem = getattr(t, "elem", None)
    if elem is None:
        raise NotEligible("pop of an array of objects of unknown type")
    ty.objs[i] = strip(elem)
    ty.heap = True
    if i not in ty.effects:
        ty.effects.append(i)  # (the array shrinks: the VM sees it)
    return "p"


def type_op(i: Any, a: list[str], ty: Any) -> str | None:
    """select.py's machine type of a pop of an array of scalars (None: another op)."""
    if not is_pop(i) or not a or a[0] not in SCALAR_ARRAYS:
        return None
    ty.heap = True
    if i not in ty.effects:
        ty.effects.append(i)  # (the array shrinks: the VM sees it)
    return a[0][1]


def handles(i: Any, types: dict) -> bool:
    """Whether emit.py hands i to `lower`."""
    return is_pop(i) and (types.get(i.args[0]) in SCALAR_ARRAYS or types.get(i.args[0]) == "ap" and types.get(i) == "p")


def group_pops(group: list) -> bool:
    """Whether some function of a group pops (arrays.py's loads of a list's
    size then may not be invariant: emit.py's `grows`)."""
    return any(is_pop(i) for ty in group for b in ty.fn.blocks for i in b.instrs)


def lower(em: Any, i: Any) -> None:
    """LLVM IR of a pop (module docstring): %v<i> the unboxed last element."""
    low = em._arrays()
    lay = low.lay
    L = em.lines
    kind = em.ty.types[i]
    if low.pk is not None and kind != "p":  # (a PackedArray, possible for an array of scalars: the interpreter pops it; its buffer holds no objects)
        t, w, isp = low.load(em.val(i.args[0]), lay.type), em.tmp("pkty"), em.tmp("packed")
        L.append(f'  {w} = load i64, i64* @"tvm.ty.Packed", !invariant.load !90')
        L.append(f"  {isp} = icmp eq i64 {t}, {w}")
        em.fail_if(isp, i)
    lst = low.load(em.val(i.args[0]), lay.array_items, invariant=True)
    n = low.load(lst, lay.list_size)
    empty = em.tmp("empty")
    L.append(f"  {empty} = icmp slt i64 {n}, 1")
    em.fail_if(empty, i)  # (the interpreter's IndexError, "pop from empty array")
    items = low.load(lst, lay.list_item)
    n1, off, a = em.tmp("n1"), em.tmp(), em.tmp()
    L.append(f"  {n1} = sub i64 {n}, 1")
    L.append(f"  {off} = shl i64 {n1}, 3")
    L.append(f"  {a} = add i64 {items}, {off}")
    e = low.load(a, 0)
    if kind == "p":  # (an object: its address, alive in the heap's lists: module docstring)
        L.append(f"  %v{i.id} = add i64 {e}, 0")
    else:
        low.read(
            i, kind, e
        )  # (unboxed while the list still holds it; another type fails here)
    low.store(lst, lay.list_size, n1)
    L.append(f"  call void @tvm.decref(i64 {e})")  # (the list's reference)
