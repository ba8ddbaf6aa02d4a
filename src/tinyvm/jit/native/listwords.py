"""An array's list, size and item vector loaded once where that dominates (arrays.py).

Every element access follows three words (arrays.py): `Array.items` (the
list), the list's `ob_size` (the bounds check) and `ob_item` (the vector).
They were loaded again at each access, and with the native pipeline (no
GVN, no LICM: "Compile time" in docs/native.md) neither the IR passes nor
the code generator merged them: the code generator can hoist an
`!invariant.load` only when it also knows the address dereferenceable,
which an `inttoptr` never is. Sieve's inner loop reloaded all three per
store, Permute's `swap` at each of its four accesses of `self.v`.

`ListWords.get` gives an access the registers an earlier access of the
same array value loaded, when that earlier load still holds:

- of the same array value (a field read fields.py took from an earlier
  one is that one's value: `same_as`);
- in the same emission of the same IR block, with no instruction between
  the two that may run guest code or resize a list (a call of any kind,
  `push` and `pop` among them: `_clobbers`);
- in an IR block that dominates this one (emit.py's `_dominates`: OSR
  regions and copies included), when no instruction of the whole function
  clobbers (then nothing on any path between the two does).

The words cannot change otherwise: an Array's list is replaced only when
the heap frees it (unreachable then) and a list is resized, cleared or
reordered only by a push, a pop or code run by a call (a native
callee's pushes and pops are calls of this function too); the poll runs no
guest code (arrays.py's `!invariant.load` rests on the same facts). The
loads an access reuses were made on its block's straight path (arrays.py
lowers accesses at the top level of an instruction's code), so the
registers dominate every later use. A failure exit between the two changes
nothing: it leaves the function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...ir.nodes import Instr


def _clobbers(i: Instr, types: dict) -> bool:
    """Whether instruction i may run guest code or resize a list: any call
    but `len` (arrays.py reads ob_size for it) and the built-ins native code
    computes itself (`sqrt`, `abs`: fields.is_native_builtin; NBody's loops)."""
    if "call" not in i.op:
        return False
    if i.op == "call":
        from .fields import is_native_builtin

        return types.get(i.args[0]) != "L" and not is_native_builtin(i, types)
    return not (i.op == "call_method" and i.attrs[:1] == ("len",) and len(i.args) == 1)


class ListWords:
    """The list words of the arrays of one function (`em`: emit._FnEmitter)."""

    def __init__(self, em: Any) -> None:
        self.em = em
        types = em.ty.types
        # Each instruction's block and index; each block's clobbering indexes.
        self.where: dict[Instr, tuple[Any, int]] = {}
        self.clob: dict[Any, list[int]] = {}
        for b in em.ty.fn.blocks:
            for k, i in enumerate(b.instrs):
                self.where[i] = (b, k)
                if _clobbers(i, types):
                    self.clob.setdefault(b, []).append(k)
        self.quiet = not self.clob
        # (array, its register name) -> [(pass, block, lines, index, words)]
        self.seen: dict[tuple[Instr, str], list[tuple]] = {}

    def same_as(self, arr: Instr) -> Instr:
        """The value `arr` is a copy of: a read of a field that fields.py
        took from an earlier read or store of that field (`earlier`: no
        store of it or call between), so Permute's `swap`, three reads of
        `self.v`, shares one array's words."""
        fl = getattr(self.em, "_field_lowering", None)
        seen = 0
        while fl is not None and arr.op == "get_field" and seen < 8:
            prev = fl.earlier(arr)
            if prev is None:
                break
            arr = prev if prev.op == "get_field" else prev.args[1]
            seen += 1
        return arr

    def get(self, arr: Instr, at: Instr, load: Callable[[], tuple[str, str, str]]) -> tuple[str, str, str]:
        """(list, ob_size, ob_item) of array `arr` for the access `at`:
        registers an earlier access loaded where they still hold, else
        `load()`'s, recorded for later accesses."""
        em = self.em
        b = em.block
        pos = self.where.get(at)
        if b is None or pos is None or pos[0] is not b:
            return load()  # (not an instruction of the block being emitted: nothing shared)
        k = pos[1]
        arr = self.same_as(arr)
        key = (arr, em.val(arr))
        made = self.seen.setdefault(key, [])
        for pas, cb, lines, ck, words in made:
            if pas is not em.defined:  # (another emission: the body or an OSR copy)
                continue
            if cb is b:
                if lines is em.lines and ck <= k and not any(ck <= c < k for c in self.clob.get(b, ())):
                    return words
            elif self.quiet and em._dominates(cb, b):
                return words
        words = load()
        made.append((em.defined, b, em.lines, k, words))
        return words
