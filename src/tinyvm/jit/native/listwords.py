"""Repeated array reads share their work: an array's words loaded once, a scalar element read once per block.

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
  `push` and `pop` among them, but a native call whose callees resize no
  list: effects.py; `_clobbers`);
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

## A scalar element read again in its block is the first read's value (native code only) (`merge`)

`s += a[i] * 2; f += b[i] * a[i]` reads `a[i]` twice. TinyVM's gvn never
merges memory reads (a store may come between), and LLVM cannot merge the
two native reads either: each is an inline probe of the list with its own
type checks, slow-path call (`PyLong_AsLongLongAndOverflow` for an int of
three digits) and failure exit, which LLVM must keep apart. Each read is
~5 blocks and a call for the code generator ("Compile time" in
docs/native.md, round 9: the two-array loop's `asum`), and a second
probe at run time.

`merge` (engine.py's `typed_ir`, after select.py typed the function, which
is then typed again) replaces a `get_index` by an earlier one of the same
block with the same operands when nothing between them can change an
element: every instruction between is a read of a scalar array, arithmetic
or a comparison of scalars (machine types "i", "f", "b": native code runs
no user code for them) or deterministic (`facts.is_deterministic`) -- no
store, push, pop, insert, call or field store. Then the second read would find the same object in the same
slot and give the same value or fail the same way; when the first did not
fail, neither does it. Only reads of an array of machine type "ai", "af"
or "ab" (a scalar element: no reference native code holds) that raise
into no handler take part. The frame states naming the second read name the first (the
same value). Fuel is counted by its own ops (jit/fuel.py), which stay: a
metered function's reads are merged only where no fuel op comes between
(those are not deterministic), so counts stay exact either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...ir.nodes import Function, Instr, replace_uses
from ...ir.passes.facts import is_deterministic, remove_instr
from .effects import call_effects, leaves
from .invariant import in_loop_without


def _clobbers(i: Instr, types: dict, em: Any = None) -> bool:
    """Whether instruction i may run guest code or resize a list: any call
    but `len` (arrays.py reads ob_size for it), the built-ins native code
    computes itself (`sqrt`, `abs`: fieldtypes.is_native_builtin; NBody's
    loops) and, given the emitter `em`, a native call whose callees resize
    no list (effects.py: Permute's recursive `permute`) and a call native
    code never makes (effects.leaves: a call out, or a call in a block
    ending in `throw`; native code leaves there, and what follows on its
    path is dead; it comes back, if at all, through an OSR entry at a loop
    header, which starts a region of its own: emit.py `_dominates`). AWFY
    Towers' `pop_disk_from` throws an Error on an empty pile: that
    construction, never made in native code, made every read of
    `self.piles` in `move_top_disk` load and check the field again."""
    if "call" not in i.op:
        return False
    if em is not None:
        if leaves(em.ty, i):
            return False
        eff = call_effects(em, i)
        if eff is not None and not eff.resizes:
            return False
    if i.op == "call":
        from .fieldtypes import is_native_builtin

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
                if _clobbers(i, types, em):
                    self.clob.setdefault(b, []).append(k)
        for b, cs in getattr(em, "hoisted", {}).items():  # (field reads made at the end of a preheader: hoist.py)
            for c in cs:
                self.where[c] = (b, len(b.instrs))
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
            if arr in self.em.hoisted_reads:
                break  # (a read hoist.py made before a loop: an OSR entry at the loop gives it a value of its own there)
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

    def record(self, arr: Instr, words: tuple) -> None:
        """The words of `arr`, loaded by the code just emitted for `arr`'s
        own instruction (fields.py's read of an array field, which checks
        it: arrays.py `checked`), for the accesses after it in its block and,
        in a call-free function, in the blocks it dominates (`get`)."""
        em = self.em
        pos = self.where.get(arr)
        if em.block is None or pos is None or pos[0] is not em.block or self.same_as(arr) is not arr:
            return
        self.seen.setdefault((arr, em.val(arr)), []).append((em.defined, em.block, em.lines, pos[1], words))

    def prefetch(self, arr: Instr, load: Callable[[], tuple]) -> None:
        """At the top of the entry block, for parameter `arr`: `load()`'s
        words recorded for every later access, when the whole function is
        quiet (then the words hold from here on: above), this is the
        function's own body (an OSR copy is entered at a loop header) and
        an access of `arr` the entry block dominates (not one in an OSR
        region of a root: emit.py `_dominates`) sits on a loop. Sieve's
        outer loop read `flags[i - 1]` with the array's four words loaded
        again on every pass (its inner loop shared them from that read,
        which dominates it); loaded at the parameter, no pass loads them.
        (An array read from a field has its words recorded at the read:
        `record`.)"""
        em = self.em
        b = em.block
        if not self.quiet or em.copy or b is None:
            return
        far = [self.where[u][0] for u in self._accesses(arr) if self.where[u][0] is not b]
        if not any(in_loop_without(u, b) and em._dominates(b, u) for u in far):
            return  # (no access the words would serve)
        self.seen.setdefault((arr, em.val(arr)), []).append((em.defined, b, em.lines, -1, load()))

    def _accesses(self, arr: Instr) -> list[Instr]:
        """The instructions of the function that take `arr` as their array."""
        return [x for x in self.where if x.op in _ACCESS and arr in x.args[:2]]


# (the ops whose operands name the array whose words they load, first or
# after the callee: arrays.py; `len(xs)` is a call)
_ACCESS = frozenset(("get_index", "set_index", "call_method", "call"))


_SCALARS = frozenset(("i", "f", "b"))  # (machine types: select.py)
_ARRAYS = frozenset(("ai", "af", "ab"))
# Ops that compute from their operands alone when these are scalars
# (facts.py's deterministic ops, whose IR types are often `any` before
# select.py types them; with scalar operands native code runs no user code)
_ON_SCALARS = frozenset(("add", "sub", "mul", "div", "mod", "band", "bor", "bxor", "shl", "shr", "neg", "bnot", "not", "lt", "le", "gt", "ge", "eq", "ne", "pow"))


def _harmless(x: Instr, types: dict) -> bool:
    """Whether x, between two reads, cannot change an element."""
    if x.op == "get_index":
        return types.get(x.args[0]) in _ARRAYS if x.args else False
    if x.op in _ON_SCALARS and all(types.get(a) in _SCALARS for a in x.args):
        return True
    return is_deterministic(x)


def merge(fn: Function, types: dict) -> int:
    """Merge fn's repeated scalar element reads (module docstring), `types`
    select.py's machine types of fn; how many went."""
    repl: dict[Instr, Instr] = {}
    for b in fn.blocks:
        seen: dict[tuple[int, ...], Instr] = {}
        for ins in b.instrs:
            if ins.op == "get_index" and ins.catch is None and len(ins.args) == 2 and types.get(ins.args[0]) in _ARRAYS and types.get(ins) in _SCALARS:
                key = tuple(a.id for a in ins.args)
                first = seen.get(key)
                if first is not None:
                    repl[ins] = first
                else:
                    seen[key] = ins
            elif not _harmless(ins, types):
                seen.clear()  # (a store, a call, a fuel op...: what follows reads anew)
    if repl:
        replace_uses(fn, repl)
        for ins in repl:
            remove_instr(ins)
    return len(repl)
