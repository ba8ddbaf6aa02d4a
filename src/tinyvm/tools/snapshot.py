"""Heap snapshots as data, and the difference between two of them.

Why: "which objects did this stretch of the program create, change or free?"
is the question a time-travelling debugger can answer that a plain one
cannot: take a snapshot at two positions and diff them. A snapshot is data
first (records; the text is a view), so the debugger, DAP and tests share it.

A snapshot holds every heap object reachable from the VM's roots (the same
roots the collector marks from, so garbage not collected yet is not in it),
each as an `ObjectInfo`: a stable id, its type, accounted size, the ids of
the objects it refers to, a short value summary and its slots (name -> short
text: fields, items, globals). The id is the object's allocation sequence
number (`heap.number_objects()`, heap/heap.py): allocation is deterministic,
so the same object has the same id in a re-execution or a forked checkpoint
at the same position, and two snapshots taken in different processes can be
compared. (Objects made before numbering was switched on are numbered in
heap order when it is; objects the VM never allocated through the heap --
the host's own fibers -- get negative ids in the order the walk meets them.)

`diff(a, b)` -> `Diff(created, changed, freed)`: ids only in b, in both with
other slots or size, only in a. `Diff.text()` is the view `tvm debug` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..heap.objects import (
    Array,
    Cell,
    Class,
    Function,
    HeapObject,
    Instance,
    Map,
    ModuleObject,
    Native,
    Record,
    Tuple,
    unmap_key,
)

from ..heap.layout import SlotInstance
from ..heap.packed import PackedArray
from ..runtime.values import array_head, array_length

__all__ = ["ObjectInfo", "Snapshot", "Diff", "take_snapshot", "diff"]

MAX_SLOTS = 64  # slots kept per object (an array's first items)
MAX_TEXT = 40  # characters of a scalar's text in a slot


@dataclass(slots=True)
class ObjectInfo:
    id: int
    type: str
    size: int
    refs: tuple[int, ...]
    summary: str
    slots: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"id": self.id, "type": self.type, "size": self.size, "refs": list(self.refs), "summary": self.summary, "slots": dict(self.slots)}


@dataclass(slots=True)
class Snapshot:
    position: int | None
    objects: dict[int, ObjectInfo]

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.objects.values())

    def to_dict(self) -> dict:
        return {"position": self.position, "count": len(self.objects), "bytes": self.bytes, "objects": [o.to_dict() for o in self.objects.values()]}


@dataclass(slots=True)
class Change:
    before: ObjectInfo
    after: ObjectInfo

    def slot_changes(self) -> list[tuple[str, str | None, str | None]]:
        """(slot, old text or None, new text or None) for each slot that differs."""
        a, b = self.before.slots, self.after.slots
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            if a.get(k) != b.get(k):
                out.append((k, a.get(k), b.get(k)))
        return out


@dataclass(slots=True)
class Diff:
    created: list[ObjectInfo]
    changed: list[Change]
    freed: list[ObjectInfo]
    before: int | None = None  # the snapshots' positions
    after: int | None = None

    def to_dict(self) -> dict:
        return {
            "before": self.before,
            "after": self.after,
            "created": [o.to_dict() for o in self.created],
            "changed": [{"id": c.after.id, "type": c.after.type, "slots": [list(t) for t in c.slot_changes()], "size": [c.before.size, c.after.size]} for c in self.changed],
            "freed": [o.to_dict() for o in self.freed],
        }

    def text(self, limit: int = 50) -> str:
        where = f" between {self.before} and {self.after}" if self.before is not None or self.after is not None else ""
        lines = [f"heap diff{where}: {len(self.created)} created, {len(self.changed)} changed, {len(self.freed)} freed"]
        shown = 0
        for o in self.created:
            if shown >= limit:
                break
            lines.append(f"  + #{o.id} {o.summary}")
            shown += 1
        for c in self.changed:
            if shown >= limit:
                break
            detail = ", ".join(f"{k}: {_or_none(old)} -> {_or_none(new)}" for k, old, new in c.slot_changes()[:6])
            if c.before.size != c.after.size and not detail:
                detail = f"size {c.before.size} -> {c.after.size}"
            lines.append(f"  ~ #{c.after.id} {c.after.type}: {detail}")
            shown += 1
        for o in self.freed:
            if shown >= limit:
                break
            lines.append(f"  - #{o.id} {o.summary}")
            shown += 1
        total = len(self.created) + len(self.changed) + len(self.freed)
        if total > shown:
            lines.append(f"  ... {total - shown} more")
        return "\n".join(lines)


def _or_none(t: str | None) -> str:
    return "(none)" if t is None else t


def _scalar(v: Any) -> str:
    if v is None:
        return "nil"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if type(v) is str:
        t = repr(v)
        return t if len(t) <= MAX_TEXT else t[: MAX_TEXT - 4] + "...'"
    if type(v) in (int, float):
        return repr(v)
    if type(v).__name__ == "_Uninit":  # a global not assigned yet
        return "(uninit)"
    return f"<{type(v).__name__}>"


def take_snapshot(vm: Any, position: int | None = None) -> Snapshot:
    """A snapshot of the live heap of machine `vm` (see the module docstring).
    Call `vm.heap.number_objects()` before the run for ids that are allocation
    numbers; otherwise the first snapshot numbers the heap as it finds it."""
    heap = vm.heap
    if heap.seqs is None:
        heap.number_objects()
    seqs = heap.seqs
    synthetic: dict[int, int] = {}

    def ident(obj: HeapObject) -> int:
        n = seqs.get(id(obj))
        if n is None:
            n = synthetic.get(id(obj))
            if n is None:
                n = synthetic[id(obj)] = -(len(synthetic) + 1)
        return n

    def text(v: Any) -> str:
        if isinstance(v, HeapObject):
            return f"#{ident(v)}"
        return _scalar(v)

    objects: dict[int, ObjectInfo] = {}
    seen: set[int] = set()
    stack: list[HeapObject] = []
    for r in vm.gc_roots():
        if isinstance(r, HeapObject) and id(r) not in seen:
            seen.add(id(r))
            stack.append(r)
    order: list[HeapObject] = []
    while stack:  # (iterative: deep structures do not recurse)
        obj = stack.pop()
        order.append(obj)
        for child in _children(obj):
            if isinstance(child, HeapObject) and id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    for obj in order:
        oid = ident(obj)
        slots = _slots(obj, text)
        refs = tuple(ident(c) for c in _children(obj) if isinstance(c, HeapObject))
        objects[oid] = ObjectInfo(oid, getattr(obj, "type_name", type(obj).__name__), obj.size(), refs, _summary(obj, text), slots)
    return Snapshot(position, dict(sorted(objects.items())))


def _children(obj: HeapObject) -> Any:
    try:
        return list(obj.refs())
    except Exception:  # pragma: no cover - a freed (poisoned) object: nothing to follow
        return []


def _slots(obj: HeapObject, text: Any) -> dict[str, str]:
    t = type(obj)
    if t is Array or t is PackedArray:  # (a packed array read as it is: heap/packed.py)
        out = {str(i): text(v) for i, v in enumerate(array_head(obj, MAX_SLOTS))}
        out["len"] = str(array_length(obj))
        return out
    if t is Map:
        out = {}
        for i, (k, v) in enumerate(obj.items.items()):
            if i >= MAX_SLOTS:
                break
            out[text(unmap_key(k))] = text(v)
        out["len"] = str(len(obj.items))
        return out
    if t is Instance or t is Record:
        return {k: text(v) for k, v in list(obj.fields.items())[:MAX_SLOTS]}
    if t.__base__ is SlotInstance:  # a laid-out instance (heap/layout.py): the same slots, no view
        return {k: text(v) for k, v in list(zip(t.NAMES, obj.values_list()))[:MAX_SLOTS]}
    if t is Cell:
        return {"value": text(obj.value)}
    if t is ModuleObject:
        names = obj.code.globals if obj.code is not None and hasattr(obj.code, "globals") else ()
        return {(names[i] if i < len(names) else str(i)): text(v) for i, v in enumerate(obj.globals[:MAX_SLOTS])}
    if t in (Function, Native, Class) or isinstance(obj, Function):
        return {}
    return {str(i): text(v) for i, v in enumerate(_children(obj)[:MAX_SLOTS])}


def _summary(obj: HeapObject, text: Any) -> str:
    t = type(obj)
    if t is Array or t is PackedArray:
        n = array_length(obj)
        head = ", ".join(text(v) for v in array_head(obj, 5))
        return f"array[{n}] [{head}{', ...' if n > 5 else ''}]"
    if t is Map:
        return f"map{{{len(obj.items)}}}"
    if t is Tuple:
        return f"tuple({len(obj.items)}) ({', '.join(text(v) for v in obj.items[:5])}{', ...' if len(obj.items) > 5 else ''})"
    if t is Instance or t.__base__ is SlotInstance:
        inner = ", ".join(f"{k}: {text(v)}" for k, v in list(obj.fields.items())[:4])
        return f"{obj.cls.name} {{{inner}}}"
    if t is Record:
        inner = ", ".join(f"{k}: {text(v)}" for k, v in list(obj.fields.items())[:4])
        return f"record {{{inner}}}"
    if isinstance(obj, Function):
        return f"fn {obj.name}"
    if t is Native:
        return f"native {obj.name}"
    if t is Class:
        return f"class {obj.name}"
    if t is ModuleObject:
        return f"module {obj.name}"
    if t is Cell:
        return f"cell {text(obj.value)}"
    return getattr(obj, "type_name", type(obj).__name__)


def diff(a: Snapshot, b: Snapshot) -> Diff:
    """What changed from snapshot a to snapshot b (see the module docstring)."""
    created = [o for i, o in b.objects.items() if i not in a.objects]
    freed = [o for i, o in a.objects.items() if i not in b.objects]
    changed = []
    for i, before in a.objects.items():
        after = b.objects.get(i)
        if after is not None and (after.slots != before.slots or after.size != before.size or after.refs != before.refs):
            changed.append(Change(before, after))
    return Diff(created, changed, freed, a.position, b.position)
