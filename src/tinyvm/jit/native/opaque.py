"""Values native code only carries: `[any]` arrays and literals of references.

AWFY Storage builds a tree of `[any]` arrays (a node holds four subtrees,
a leaf `[nil] * k`): native code never looks into such a value, it only
makes it, stores it into another array or a field, passes it to and
returns it from native calls, and hands it back to the interpreter. This
module types those values (docs/native.md, "Values native code only
carries"):

- **`[any]` is "ap"**, the machine type of an array of references
  (fields.py's arrays of objects): the address of a guest `Array`,
  borrowed. A parameter declared `[any]` (checked at entry as every array
  parameter: an `Array` whose items are a list), a declared result `[any]`
  or an array of objects (a native caller uses the address; the entry op
  hands the interpreter a new reference: `layout.array_of`).
- **Literals of references**: `[nil]`, `[nil, nil, nil]`, `[a, b]` with
  each element an object ("p"), an array or nil are "ap", made as alloc.py
  makes literals (the callback's `Array([None] * n)`, then each element's
  new reference stored over a None); `xs * n` of one is alloc.py's MUL
  (`Array(xs.items * n)`: the same references repeated), with the
  interpreter's accounting and refusal rule. An empty literal `[]` whose
  uses give it no scalar or class element type (stored into a field
  declared `[TowersDisk?]`, returned as `[any]`) is "ap" too: an empty
  Array is the same object whatever its element type.
- **Stores**: `xs[i] = v` into an "ap" takes any reference value (an
  object, an array, nil: stores.py, with the write barrier); the
  interpreter stores unchecked too.

Exactness: nothing here reads an element of an `[any]` array or stores a
scalar into one; anyval.py does both (a read checks the element is nil or
a heap object wherever the array's reference to it could be dropped, a
scalar is boxed). So every reference native code holds borrowed past such
a point is a heap object (or None), alive until a collection, which never
runs while native code runs (alloc.py): a value native code only carries
needs no check, no reference of its own and no new deopt rule (deopt.py
rebuilds "ap" slots by address already).
"""

from __future__ import annotations

from typing import Any

from ...ir.nodes import Instr

OPAQUE = "ap"  # (fieldtypes.OBJ_ARRAY: the same machine value, an Array's address)
_REFS = frozenset(("p", "n", "ap", "ai", "af", "ab"))  # values that are (nil: become) a reference


def _text(t: Any) -> str:
    return t if isinstance(t, str) else str(t) if t is not None else ""


def is_any_array(t: Any) -> bool:
    """Whether the declared type t (a Type or its text) is `[any]`."""
    return _text(t).replace(" ", "") == "[any]"


def param_type(t: Any) -> str | None:
    """"ap" for a parameter declared `[any]`, else None (select.py's other rules)."""
    return OPAQUE if is_any_array(t) else None


def result_type(t: Any) -> str | None:
    """"ap" for a declared result `[any]` or an array of objects (`[C]`,
    `[C?]`), else None."""
    if is_any_array(t):
        return OPAQUE
    from ...bytecode.types import parse_type_text
    from .fieldtypes import object_type

    try:
        tt = parse_type_text(t) if isinstance(t, str) and t else t
    except Exception:  # noqa: BLE001 - a type text this reader does not know: not an array of objects
        return None
    return OPAQUE if tt is not None and object_type(tt) == "array" else None


def type_op(i: Instr, a: list, ty: Any) -> str | None:
    """select.py's hook (after construct.py's): a literal of references, or
    an empty literal of no known element type, is "ap"; None for anything
    else (select's other rules decide)."""
    if i.op != "array":
        return None
    from .alloc import _verified, empty_kind

    if a:
        if not all(x in _REFS for x in a):
            return None
    elif empty_kind(i, ty.fn) is not None:
        return None
    if not _verified():
        from .select import NotEligible

        raise NotEligible("arrays made in native code are off: list.allocated is not where alloc.py expects it")
    ty.heap = ty.allocs = True
    return OPAQUE


def new_ref(em: Any, low: Any, v: Instr) -> str:
    """A new reference to reference value v (nil: None), for alloc.py's
    literal lowering to store over a None."""
    from .stores import ref

    x = ref(em, v)
    low.incref(x)
    return x
