"""Field probes of loop-invariant receivers, made once outside the loop (fields.py).

A field read in native code probes the receiver's dict (fields.py,
"Fields: the data representation" in docs/native.md): the receiver's type,
its fields dict, the dict's keys table (combined, unicode keys, its entry
count, where the entries start), then the field's entry -- its key compared
with the interned name, its value, the value's type. fields.py shares the
receiver's words (`share_of`) with the reads in blocks its first read
dominates, but a receiver defined outside a loop and first read inside it
(NBody's `i_body = self.bodies[i]`, read in the `j` loop) paid all of it at
every step, seven times a step for the seven fields.

In a call-free function (`quiet`: no call but `len`, `abs`, `sqrt`,
native calls whose callees resize no list, and calls native code never
makes -- calls out and calls in blocks ending in `throw`, where native code
leaves: effects.leaves; listwords._clobbers), nothing native code runs adds a key to a dict, removes
one or replaces its keys table (a field store replaces the value of an
existing entry: fields.py, stores.py; the poll runs no guest code; a missing
field is a failure exit, which leaves the function). So `prefetch`, at the
definition of such a receiver, emits once, on the path that reaches the
loop:

- its type (is it an `Instance`), kept as an i1: each read still fails at
  its own instruction when it is not (the interpreter runs that read again
  and raises as it does), without loading the type again;
- its dict and keys table (shared with the reads as fields.py's `share_of`
  would share a dominating read's);
- `allok`: the table is usable and has every entry the function reads of
  this receiver, and each of those entries holds its field's key. Each
  read then loads only its entry's value (checked non-null and of the
  field's type, as before): the key's load and compare and the entry count
  test leave the loop. An entry's key never changes while its table is the
  dict's (CPython's combined tables append entries; a deletion, which needs
  guest code, empties key and value), and a quiet function's dicts keep
  their tables.

Anything else (not an instance, another layout, a record) takes each read's
own slow path, as without the prefetch. It is only made where it pays: the
receiver's reads are in a loop the definition is not in (a cycle of blocks
avoiding the definition's block).
"""

from __future__ import annotations

from typing import Any

from ...ir.nodes import Block, Instr
from ...ir.verify import dominates


def quiet(fl: Any) -> bool:
    """Whether no instruction of fl's function may run guest code or resize
    a list (listwords._clobbers), cached on fl."""
    got = getattr(fl, "_quiet", None)
    if got is None:
        from .listwords import _clobbers

        types = fl.em.ty.types
        got = not any(_clobbers(x, types, fl.em) for x in fl.em.ty.fn.values())
        fl._quiet = got
    return got


def in_loop_without(u: Block, b: Block) -> bool:
    """Whether block u is on a cycle of the CFG that avoids block b."""
    seen: set[Block] = set()
    todo = [p for p in list(u.preds) + list(u.catch_preds) if p is not b]
    while todo:
        x = todo.pop()
        if x is u:
            return True
        if x in seen:
            continue
        seen.add(x)
        todo.extend(p for p in list(x.preds) + list(x.catch_preds) if p is not b)
    return False


def _fields_read(fl: Any, v: Instr) -> list[tuple[int, str]] | None:
    """(template index, name) of each field the function reads or writes of
    object v, when it should be prefetched at v's definition; else None."""
    from .fieldtypes import OPS, field_index

    em = fl.em
    b = v.block
    names: dict[str, int] = {}
    far = False
    for x in em.ty.fn.values():
        if x.op not in OPS or not x.args or x.args[0] is not v:
            continue
        k = field_index(em.ty, v, x.attrs[0])
        if k is None:
            return None
        names[x.attrs[0]] = k
        if x.block is not b and not far and in_loop_without(x.block, b):
            far = True
    if not far or not names:
        return None
    return sorted((k, n) for n, k in names.items())


def prefetch(fl: Any, v: Instr) -> None:
    """At the definition of object v (an element of an array of objects):
    its type, dict, keys table and `allok` (above), recorded for its reads
    (fl.pre[v]) and shared as fields.py's `share_of` shares a read's."""
    from .fields import _DK_KIND, _DK_LOG2_INDEX, _DK_NENTRIES, _MA_KEYS, _MA_VALUES, entries_start

    em, arr = fl.em, fl.arr
    if em.block is None or em.copy or not fl.lay.fast or em.ty.types.get(v) != "p" or not quiet(fl):
        return
    from ...bytecode.types import ClassT

    if not isinstance(em.ty.objs.get(v), ClassT):
        return
    got = _fields_read(fl, v)
    if got is None:
        return
    from .fieldtypes import shape_index

    if fl.slots is not None and shape_index(em.ty, v, got[0][1]) is not None:
        return  # (a laid-out class: its reads load their slots, fields.slot_access; nothing to hoist but one type check)
    L = em.lines
    recv = em.val(v)
    t, w, inst = arr.load(recv, arr.lay.type), em.tmp("cls"), em.tmp("pinst")
    L.append(f'  {w} = load i64, i64* @"tvm.ty.Instance", !invariant.load !90')
    L.append(f"  {inst} = icmp eq i64 {t}, {w}")
    p1, p2, j = em.tmp("pdict")[1:], em.tmp("pkeys")[1:], em.tmp("pjoin")[1:]
    b0 = em.cur
    L.append(f"  {inst}.n = xor i1 {inst}, true")
    L.append(f"  br i1 {inst}.n, label %{j}, label %{p1}, !prof !0")
    em.label(p1)
    d = arr.load(recv, fl.lay.instance)
    keys, vals = arr.load(d, _MA_KEYS), arr.load(d, _MA_VALUES)
    kind, lib, nent = arr.load(keys, _DK_KIND, "i8"), arr.load(keys, _DK_LOG2_INDEX, "i8"), arr.load(keys, _DK_NENTRIES)
    c1, c2, usable, c3, tabok = (em.tmp() for _ in range(5))
    L.append(f"  {c1} = icmp eq i64 {vals}, 0")
    L.append(f"  {c2} = icmp eq i8 {kind}, 1")
    L.append(f"  {usable} = and i1 {c1}, {c2}")
    base = entries_start(em, keys, lib)
    L.append(f"  {c3} = icmp sgt i64 {nent}, {got[-1][0]}")
    L.append(f"  {tabok} = and i1 {usable}, {c3}")
    b1 = em.cur
    L.append(f"  {tabok}.n = xor i1 {tabok}, true")
    L.append(f"  br i1 {tabok}.n, label %{j}, label %{p2}, !prof !0")
    em.label(p2)
    ok = "true"
    for k, name in got:
        key, ek, same, both = em.tmp("key"), arr.load(base, 16 * k), em.tmp(), em.tmp()
        L.append(f'  {key} = load i64, i64* getelementptr ([2 x i64], [2 x i64]* @"tvm.fk.{name}", i64 0, i64 0), !invariant.load !90')
        L.append(f"  {same} = icmp eq i64 {ek}, {key}")
        L.append(f"  {both} = and i1 {ok}, {same}")
        ok = both
    b2 = em.cur
    L.append(f"  br label %{j}")
    em.label(j)
    pd, pu, pn, pb, pa = (em.tmp(x) for x in ("pd", "pu", "pn", "pb", "pa"))
    L.append(f"  {pd} = phi i64 [ 0, %{b0} ], [ {d}, %{b1} ], [ {d}, %{b2} ]")
    L.append(f"  {pu} = phi i1 [ false, %{b0} ], [ {tabok}, %{b1} ], [ {tabok}, %{b2} ]")
    L.append(f"  {pn} = phi i64 [ 0, %{b0} ], [ {nent}, %{b1} ], [ {nent}, %{b2} ]")
    L.append(f"  {pb} = phi i64 [ 0, %{b0} ], [ {base}, %{b1} ], [ {base}, %{b2} ]")
    L.append(f"  {pa} = phi i1 [ false, %{b0} ], [ false, %{b1} ], [ {ok}, %{b2} ]")
    # (the dict is 0 and the table unusable when v is no instance: every
    # read fails at its own type check first, so they are never used then)
    fl.covered[pu] = got[-1][0]  # (pu: usable with every entry read: fields._entry_at tests nothing more)
    fl.share(("dict", v), pd)
    fl.share(("keys", v, pd), (pu, pn, pb))
    fl.pre.setdefault(v, []).append((em.block, em.defined, inst, pa))


def prefetched(fl: Any, v: Instr) -> tuple[str, str] | None:
    """(is-instance i1, allok i1) of v's prefetch where it dominates the
    code now emitted (same emission, a dominating IR block), else None."""
    em = fl.em
    b = em.block
    if b is None:
        return None
    for cb, pas, inst, ok in fl.pre.get(v, ()):
        if pas is em.defined and (cb is b or em._dominates(cb, b)):
            return inst, ok
    return None


def across(fl: Any, i: Instr) -> Instr | None:
    """For a read i that fields.earlier's walk (straight-line paths only)
    did not reach: a read of the same field of the same receiver in a
    block dominating i's, when nothing in the whole function may change
    that field (`untouched`), so no path between the two, loops' back
    edges included, does. NBody's `advance` reads `self.bodies` at each
    step of its inner loop (`self.bodies[j]`, `len(...)`): the read before
    the outer loop is that value, and the array's list words are loaded
    once there too (listwords.py `same_as`)."""
    from .fieldtypes import OPS

    em = fl.em
    name, recv = i.attrs[0], i.args[0]
    if not untouched(fl, name):
        return None
    made = em.merged.made if em.merged is not None else {}
    for x in fl.found:
        if x.op in OPS and x.op == "get_field" and x.args[0] is recv and x.attrs[0] == name and x.block is not i.block and x.block is not None:
            # (a read hoist.py made before a loop whose header an OSR entry
            # enters: its twin on that path gives the header's renamed phi
            # of it its value there, so its value reaches the loop either way)
            if em._dominates(x.block, i.block) or x in made and dominates(em.idom, x.block, i.block):
                return x
    return None


def untouched(fl: Any, name: str) -> bool:
    """Whether no instruction of fl's function may change field `name` of
    any object: no store of a field of that name, and no call but the
    built-ins native code computes itself, `len` and native calls whose
    callees store no field of that name (listwords._clobbers,
    effects.stores_field):
    anything else may run guest code. The poll runs none, an allocation
    none (a collection waits for native code's exit), and an exit leaves
    the function (an OSR entry comes back at a loop header, where emit.py's
    `_dominates` keeps the regions apart). Cached on fl."""
    from .effects import stores_field
    from .fieldtypes import OPS
    from .listwords import _clobbers

    cache = fl.__dict__.setdefault("_untouched", {})
    got = cache.get(name)
    if got is None:
        types = fl.em.ty.types
        got = not any((x.op in OPS and x.op != "get_field" and x.attrs[0] == name) or _clobbers(x, types, fl.em) or ("call" in x.op and stores_field(fl.em, x, name) is True) for x in fl.em.ty.fn.values())
        cache[name] = got
    return got


def last_entry(fl: Any, v: Instr) -> int | None:
    """The highest template index of the fields fl's function reads or
    writes of receiver v (the same IR value), None if one has none: the
    keys table's test of the entry count for all of them at once
    (fields.table), so that each probe tests only `usable`. A dict with
    fewer entries takes every read's slow path, as a dict without that
    entry did; one receiver's dict never changes size in native code."""
    from .fieldtypes import OPS, field_index

    cache = fl.__dict__.setdefault("_last_entry", {})
    if v not in cache:
        ks = [field_index(fl.em.ty, v, x.attrs[0]) for x in fl.em.ty.fn.values() if x.op in OPS and x.args and x.args[0] is v]
        cache[v] = max(ks) if ks and None not in ks else None
    return cache[v]
