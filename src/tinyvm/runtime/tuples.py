"""Tuples at run time (issue 18, TinyLang 1.1 section 13 "Tuples").

A tuple is a `heap.objects.Tuple`: immutable, fixed size, compared
structurally (runtime/values.py) and usable as a map key when every element
is a key (values.check_key). This module holds the run-time rules that touch
tuples and nothing else, so that the VM's general paths each call one
function here:

* `get_element(t, name)` -- `t.0` on a value the compiler could not type (a
  typed `t.0` is checked at compile time and runs the same code);
* `get_index(t, i)` -- `t[i]` (reads only: a tuple is immutable);
* `unpack_check(v, n, kind)` -- what `let (a, b) = v` / `let [a, b] = v`
  checks before reading the elements;
* `pairs(v)` -- the iterable of `for k, v in m` / `for i, x in xs`;
* the built-ins `zip(a, b)` and `enumerate(xs)`.

Decisions (documented in docs/tinylang-1.1.md):
* `(x,)` is a tuple of one (as in Python: without the comma `(x)` is a
  grouping); there is no empty tuple literal (`()` is a syntax error), but
  one made by the host prints as `()`.
* Assigning to an element is a compile error on a typed tuple and a
  TypeError (IMMUTABLE) on an untyped one.
"""

from __future__ import annotations

from typing import Any

from ..heap.objects import Array, Map, Tuple, unmap_key
from ..heap.packed import PackedArray
from .errors import RtError
from .values import array_elements, array_length, is_array, typeof

__all__ = ["IMMUTABLE", "enumerate_array", "get_element", "get_index", "pairs", "unpack_check", "zip_arrays"]

IMMUTABLE = "cannot assign to an element of a tuple (tuples are immutable)"

# UNPACK_CHECK's kind operand: the pattern `(a, b)` or `[a, b]`.
UNPACK_TUPLE = 0
UNPACK_ARRAY = 1


def get_element(t: Tuple, name: str) -> Any:
    """`t.0`, `t.1`... (the field name is the element's index, in decimal)."""
    items = t.items
    if name.isdigit() and (name == "0" or name[0] != "0"):
        i = int(name)
        if i < len(items):
            return items[i]
        raise RtError("IndexError", f"tuple index {i} out of range for a tuple of {len(items)}")
    raise RtError("TypeError", f"tuple has no field '{name}'")


def get_index(t: Tuple, i: Any) -> Any:
    if type(i) is not int:
        raise RtError("TypeError", f"tuple index must be int, got {typeof(i)}")
    n = len(t.items)
    if not 0 <= i < n:
        raise RtError("IndexError", f"index {i} out of range for length {n}")
    return t.items[i]


def unpack_check(v: Any, n: int, kind: int) -> Any:
    """The value of a destructuring `let`, checked to have exactly n elements
    of the pattern's kind; returned unchanged."""
    t = type(v)
    if kind == UNPACK_ARRAY:
        if t is not Array and t is not PackedArray:
            raise RtError("TypeError", f"cannot destructure {typeof(v)} as an array")
        m = array_length(v)
        if m != n:
            raise RtError("ValueError", f"cannot destructure an array of length {m} into {n} names")
        return v
    if t is not Tuple:
        raise RtError("TypeError", f"cannot destructure {typeof(v)} as a tuple")
    if len(v.items) != n:
        raise RtError("ValueError", f"cannot destructure a tuple of {len(v.items)} elements into {n} names")
    return v


def pairs(v: Any, alloc: Any) -> Array:
    """`for k, v in m` iterates m's (key, value) tuples, `for i, x in xs` the
    (index, element) tuples of xs: both a snapshot taken as the loop starts
    (as `m.items()` is)."""
    t = type(v)
    if t is Map:
        return alloc(Array([alloc(Tuple((unmap_key(k), x))) for k, x in v.items.items()]))
    if t is Array or t is PackedArray:
        return enumerate_array(v, alloc)
    raise RtError("TypeError", f"cannot iterate over {typeof(v)} with two loop variables (a map or an array is needed)")


def enumerate_array(xs: Any, alloc: Any) -> Array:
    if not is_array(xs):
        raise RtError("TypeError", f"enumerate expects an array, got {typeof(xs)}")
    return alloc(Array([alloc(Tuple((i, x))) for i, x in enumerate(array_elements(xs))]))


def zip_arrays(a: Any, b: Any, alloc: Any) -> Array:
    """Tuples of the elements at the same index: as long as the shorter array."""
    for i, x in enumerate((a, b)):
        if not is_array(x):
            raise RtError("TypeError", f"argument {i + 1} of zip: expected an array, got {typeof(x)}")
    return alloc(Array([alloc(Tuple(p)) for p in zip(array_elements(a), array_elements(b))]))
