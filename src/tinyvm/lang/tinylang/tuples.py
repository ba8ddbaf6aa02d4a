"""Type rules of tuples (issue 18, TinyLang 1.1 section 13 "Tuples").

`TupleChecks` is a mixin of the checker (checker.py), like `MemberChecks`:

* a literal `(1, "a")` has type `(int, string)`; met with an expected tuple
  type of the same arity, each element flows into its element type (an int
  widens to float, an `any` is checked at run time), as array literals do;
* `t.0` is the element's type; an index past the end is a compile error; an
  assignment to `t.0` (or `t[i]`) is one too: tuples are immutable;
* `t[i]` reads an element: its type is the element's for a literal index,
  else the join of the element types;
* destructuring (`Unpack`): a typed tuple must have exactly as many elements
  as the pattern has names, an array pattern needs an array (its length is
  checked at run time); `any` is checked at run time (UNPACK_CHECK);
* `for k, v in m` / `for i, x in xs` (`Pairs`): a map gives `(K, V)`, an
  array `(int, T)` tuples;
* the built-ins `zip(a, b)` (`[(A, B)]`) and `enumerate(xs)` (`[(int, T)]`).

Tuple types relate element-wise, like array elements (types.relation): `(int,
int)` fits `(any, int)` but not `(float, int)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import ast as A
from .resolver import plural
from .types import (
    ANY,
    INT,
    NEVER,
    NIL,
    ArrayT,
    MapT,
    OptionalT,
    TupleT,
    Type,
    join,
    strip_optional,
)

if TYPE_CHECKING:  # pragma: no cover
    from .checker import Checker

    _Base = Checker
else:
    _Base = object

IMMUTABLE = "cannot assign to an element of a tuple (tuples are immutable)"


def _elem(t: Type) -> Type:
    return ANY if t is NEVER else t


class TupleChecks(_Base):
    def annot_tuple(self, t: A.TupleType) -> Type:
        return TupleT(tuple(self.annot(x) for x in t.elems))

    def e_TupleLit(self, e: A.TupleLit, expected: Type | None) -> Type:
        want = strip_optional(expected) if expected is not None else None
        if isinstance(want, TupleT) and len(want.elems) == len(e.items):
            for i, (x, wt) in enumerate(zip(e.items, want.elems)):
                x.conv = self.flow(x, self.expr(x, wt), wt, f"element {i} of {want}")
            return want
        return TupleT(tuple(_elem(self.expr(x)) for x in e.items))

    def tuple_member(self, node: A.Node, ot: TupleT, name: str) -> Type | None:
        """The type of `t.<name>`; None after an error."""
        if not name.isdigit():
            self.error(node, f"{ot} has no field '{name}' (a tuple's elements are read as .0, .1, ...)")
            return None
        i = int(name)
        if i >= len(ot.elems):
            self.error(node, f"{ot} has no element {i} (it has {plural(len(ot.elems), 'element')})")
            return None
        return ot.elems[i]

    def tuple_index(self, e: A.Index, ot: TupleT, it: Type) -> Type:
        if it is not INT and it is not ANY:
            self.error(e.index, f"tuple index: expected int, got {it}")
        if isinstance(e.index, A.IntLit):
            i = e.index.value
            if 0 <= i < len(ot.elems):
                return ot.elems[i]
            self.error(e.index, f"{ot} has no element {i} (it has {plural(len(ot.elems), 'element')})")
            return ANY
        out: Type = NEVER
        for t in ot.elems:
            out = join(out, t)
        return _elem(out)

    def e_Unpack(self, e: A.Unpack, expected: Type | None) -> Type:
        t = self.expr(e.value)
        if t is ANY:
            return ANY
        n = e.count
        if isinstance(t, OptionalT) or t is NIL:
            self.error(e, f"cannot destructure a value of type {t} (it may be nil)")
            return ANY
        if e.kind == 0:
            if not isinstance(t, TupleT):
                self.error(e, f"cannot destructure a value of type {t} as a tuple")
                return ANY
            if len(t.elems) != n:
                self.error(e, f"cannot destructure a tuple of {plural(len(t.elems), 'element')} into {plural(n, 'name')}")
                return ANY
            return t
        if not isinstance(t, ArrayT):
            self.error(e, f"cannot destructure a value of type {t} as an array")
            return ANY
        return t

    def e_Pairs(self, e: A.Pairs, expected: Type | None) -> Type:
        t = self.expr(e.iterable)
        if isinstance(t, MapT):
            return ArrayT(TupleT((t.key, t.value)))
        if isinstance(t, ArrayT):
            return ArrayT(TupleT((INT, t.elem)))
        if t is not ANY:
            self.error(e.iterable, f"cannot iterate over a value of type {t} with two loop variables (a map or an array is needed)")
        return ANY

    def tuple_builtin(self, e: A.Call, name: str) -> Type:
        """`zip(a, b)` and `enumerate(xs)`."""
        want = 2 if name == "zip" else 1
        types = [self.expr(a) for a in e.args]
        if len(types) != want:
            self.error(e, f"{name} expects {plural(want, 'argument')}, got {len(types)}")
            return ANY
        elems: list[Type] = []
        for i, (a, t) in enumerate(zip(e.args, types)):
            if isinstance(t, ArrayT):
                elems.append(t.elem)
            else:
                if t is not ANY:
                    self.error(a, f"argument {i + 1} of {name}: expected an array, got {t}")
                elems.append(ANY)
        if name == "enumerate":
            return ArrayT(TupleT((INT, elems[0])))
        return ArrayT(TupleT((elems[0], elems[1])))
