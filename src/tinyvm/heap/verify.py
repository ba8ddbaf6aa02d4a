"""The heap verifier (`--gc-verify`, `VM(gc_verify=True)`): checks the
collectors' invariants while the program runs, as V8's heap verifier does,
so that a store without a write barrier is reported where it breaks the
invariant, not later as a freed object in use (docs/gc.md, "Verifying").

* Generational mode, before every minor collection: no clean old object
  refers to a young one (through a strong slot, or a weak one: minor
  collections trace those too) that is not a remembered young value (the
  large arrays' store buffer, heap/generational.py). A violation is a store into an old object
  that did not run the barrier.
* Incremental mode, after every slice of the mark: no black object refers to
  a white one (the tri-colour invariant), except the roots, which are
  rescanned at the end of the mark; and at the atomic step, after the
  ephemeron fixpoint: every object reachable from the roots is black (so the
  sweep frees nothing reachable).
* Any mode: no object on the heap's lists refers to a freed one.

Each check walks the heap, so it is for tests and CI, not production. On a
large heap one check looks at WINDOW objects, a different window each time
round (a missed barrier leaves a reference that stays wrong until the
object is checked, so it is still found).

A violation raises `HeapVerifyError` naming the object, the slot and the
colours: it is a bug in the VM, never in the guest program.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .heap import FREED
from .objects import HeapObject
from .weak import WeakMap, WeakRef, weak_edges

WINDOW = 20_000  # objects looked at per check on a large heap


class HeapVerifyError(AssertionError):
    """The heap verifier found a broken invariant (a VM bug)."""


def _children(obj: Any, weak: bool) -> Iterable[Any]:
    """obj's references as the collector sees them (and, with `weak`, its
    weak slots: minor collections trace those too)."""
    if weak and (type(obj) is WeakRef or type(obj) is WeakMap):
        return [c for pair in weak_edges(obj) for c in pair]
    return obj.refs()


def _slot_of(obj: Any, child: Any) -> Any:
    """The name of the slot of obj holding child (for the message only)."""
    from .snapshot import named_refs

    for _kind, name, c in named_refs(obj):
        if c is child:
            return name
    return "?"


def _describe(obj: Any) -> str:
    name = getattr(obj, "name", None) or getattr(getattr(obj, "cls", None), "name", None)
    return f"{obj.type_name}{' ' + repr(name) if isinstance(name, str) else ''} at 0x{id(obj):x}"


def _window(heap: Any, objs: list) -> list:
    if len(objs) <= WINDOW:
        return objs
    start = getattr(heap, "verify_pos", 0) % len(objs)
    heap.verify_pos = start + WINDOW
    out = objs[start : start + WINDOW]
    if len(out) < WINDOW:
        out += objs[: WINDOW - len(out)]
    return out


def _fail(what: str, obj: Any, slot: Any, child: Any, colours: str) -> None:
    if slot is None:
        slot = _slot_of(obj, child)
    raise HeapVerifyError(f"gc verify: {what}: {_describe(obj)} slot {slot!r} -> {_describe(child)} ({colours})")


def verify_generational(heap: Any, gen: Any, roots: Iterable[Any]) -> None:
    clean = gen.clean
    root_ids = {id(r) for r in roots}
    remembered_values = {id(v) for v in gen.young_values}
    for obj in _window(heap, gen.old):
        m = obj.mark
        if id(obj) in root_ids:
            continue
        for child in _children(obj, weak=True):
            if not isinstance(child, HeapObject):
                continue
            if child.mark == FREED:
                _fail("an old object refers to a freed one", obj, None, child, f"mark {m}")
            if m == clean and child.mark > clean and id(child) not in remembered_values:
                _fail(
                    "a clean old object refers to a young one without a write barrier (generational invariant)",
                    obj,
                    None,
                    child,
                    f"old clean {clean}, child mark {child.mark}",
                )


def verify_incremental(heap: Any, inc: Any) -> None:
    grey, black = inc.grey, inc.black
    root_ids = {id(r) for r in heap.roots()}
    partial = {id(e[0]): e[1] for e in inc.partial}
    for obj in _window(heap, heap.objects):
        if obj.mark != black or id(obj) in root_ids:
            continue
        if id(obj) in partial:  # a large array mid-scan: its scanned part only
            children: Iterable = obj.items[: partial[id(obj)]]
        else:
            children = obj.refs()
        for child in children:
            if isinstance(child, HeapObject) and child.mark < grey:
                _fail(
                    "a black object refers to a white one (tri-colour invariant: a store without a write barrier)",
                    obj,
                    None,
                    child,
                    f"grey {grey}, black {black}, child mark {child.mark}",
                )


def verify_reachable(heap: Any, roots: Iterable[Any], colour: int, when: str) -> None:
    """Everything reachable from the roots (strong slots, and the values of
    WeakMap entries whose keys are reachable) has `colour`."""
    seen: set[int] = set()
    stack = [r for r in roots if isinstance(r, HeapObject)]
    parent: dict[int, tuple[Any, Any]] = {}
    weakmaps: list[Any] = []
    while True:
        while stack:
            obj = stack.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if obj.mark != colour:
                via = parent.get(id(obj))
                where = f" (reached from {_describe(via[0])} slot {via[1] or _slot_of(via[0], obj)!r})" if via else " (a root)"
                raise HeapVerifyError(f"gc verify: {when}: reachable {_describe(obj)} is not marked{where}: mark {obj.mark}, expected {colour}")
            if type(obj) is WeakMap:
                weakmaps.append(obj)
            if type(obj) is WeakRef:
                continue
            for child in obj.refs():
                if isinstance(child, HeapObject) and id(child) not in seen:
                    parent.setdefault(id(child), (obj, None))
                    stack.append(child)
        for m in weakmaps:
            for k, v in list(weak_edges(m)):
                if id(k) in seen and isinstance(v, HeapObject) and id(v) not in seen:
                    parent.setdefault(id(v), (m, "value"))
                    stack.append(v)
        if not stack:
            return


def verify_lists(heap: Any) -> None:
    """No listed object refers to a freed one (any mode)."""
    for obj in _window(heap, heap.all_objects()):
        for child in _children(obj, weak=True):
            if isinstance(child, HeapObject) and child.mark == FREED:
                _fail("an object refers to a freed one (a missing root or barrier)", obj, None, child, "")


__all__ = ["HeapVerifyError", "verify_generational", "verify_incremental", "verify_lists", "verify_reachable"]
