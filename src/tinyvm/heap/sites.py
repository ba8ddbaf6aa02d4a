"""Allocation sites: where each live object was made, recorded only when asked
(`VM(alloc_sites=...)`, `tvm run --alloc-sites`), for heap snapshots and
`tvm heapdiff` (docs/gc.md).

Why a Heap subclass chosen when the VM is made: `Heap.alloc` is bound once
by dozens of built-ins and pre-decoded instructions (`alloc = vm.heap.alloc`),
so the recording must be the heap's own method from the start; a VM that
does not record pays nothing, not even a flag test.

Three precisions:

* "function" (the default): the site is the guest function whose frame is
  running when the object is made: its name, file and first line (a
  built-in's allocations count for the guest function that called it). Cost:
  a dict store and a few attribute reads per allocation (measured in
  docs/gc.md), and a dict deletion per object a collection frees.
* "line": the site is the source line running. The line comes from the hook
  API's `line` event (vm/hooks.py), which makes the VM *step* (one plain
  instruction per dispatch, no JIT): several times slower, for hunting a
  leak, not for production.
* "stack": the sites of "function", and every allocation and charge also
  goes to a `recorder` callback when one is set: the allocation profiler
  (`tvm prof --alloc`, tools/allocprof.py) sets it to walk the guest stack.
  The heap knows nothing of stacks or tools (heap/ imports neither): it hands
  the callback the accounted bytes and the object (None for a charge). While
  no recorder is set, the cost is "function"'s plus one attribute test per
  allocation and charge. `SiteHeap(machine, "stack")` makes a `StackHeap`
  (the one subclass that overrides `charge`), so that machine.py chooses it
  as it chooses any SiteHeap and "function" pays nothing for it.

The table is keyed by `id(obj)`: a dead object's id may be reused, but every
allocation overwrites its entry, and collections drop the entries of the dead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

from .heap import Heap

UNKNOWN = "(unknown)"
PRECISIONS = ("function", "line", "stack")


class SiteHeap(Heap):
    """A Heap that records each object's allocation site (module docstring)."""

    def __new__(cls, machine: Any, precision: str = "function", **kwargs: Any) -> Self:
        # SiteHeap(machine, "stack") is a StackHeap: machine.py makes every
        # SiteHeap alike, and only "stack" pays for a charge override.
        return super().__new__(StackHeap if cls is SiteHeap and precision == "stack" else cls)

    def __init__(self, machine: Any, precision: str = "function", **kwargs: Any) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"alloc_sites must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        super().__init__(**kwargs)
        self.machine = machine
        self.precision = precision
        self.sites: dict[int, int] = {}  # id(object) -> index into site_names
        self.site_names: list[str] = [UNKNOWN]
        self._by_key: dict[Any, int] = {}
        self.line: tuple[Any, int] | None = None  # ("line": the (code, line) running)

    def install(self) -> None:
        """Start tracking lines (precision "line"): called once the machine's
        hooks exist."""
        if self.precision == "line":
            hooks = self.machine.hooks

            def on_line(e: Any) -> None:
                self.line = (e.code, e.line)

            hooks.add("line", on_line)

    def site(self) -> int:
        """The index of the current allocation site."""
        if self.precision == "line":
            key: Any = self.line
            if key is None:
                return 0
        else:
            fb = self.machine.fiber
            if fb is None or not fb.L:
                return 0
            key = getattr(fb.L[0], "code", None)
            if key is None:
                return 0
        i = self._by_key.get(key)
        if i is None:
            i = self._by_key[key] = len(self.site_names)
            self.site_names.append(_site_name(key))
        return i

    def alloc(self, obj: Any) -> Any:
        Heap.alloc(self, obj)
        self.sites[id(obj)] = self.site()
        return obj

    def admit(self, obj: Any) -> Any:
        Heap.admit(self, obj)
        self.sites[id(obj)] = self.site()
        return obj

    # Every sweep (full, minor, incremental) drops the sites of what it frees.
    tracks_sites = True

    def forget(self, obj: Any) -> None:
        Heap.forget(self, obj)
        self.sites.pop(id(obj), None)


class StackHeap(SiteHeap):
    """SiteHeap "stack": function sites, and each allocation's and charge's
    accounted bytes handed to `recorder(nbytes, obj)` while one is set (obj is
    None for a charge). Called after the heap accepted the request, so a
    refused one (MemoryError) is not recorded."""

    def __init__(self, machine: Any, precision: str = "stack", **kwargs: Any) -> None:
        super().__init__(machine, precision, **kwargs)
        self.recorder: Callable[[int, Any], None] | None = None

    def alloc(self, obj: Any) -> Any:
        Heap.alloc(self, obj)
        self.sites[id(obj)] = self.site()
        rec = self.recorder
        if rec is not None:
            rec(obj.size(), obj)
        return obj

    def admit(self, obj: Any) -> Any:
        Heap.admit(self, obj)
        self.sites[id(obj)] = self.site()
        rec = self.recorder
        if rec is not None:
            rec(obj.size(), obj)
        return obj

    def charge(self, nbytes: int) -> None:
        Heap.charge(self, nbytes)
        rec = self.recorder
        if rec is not None:
            rec(nbytes, None)


def _site_name(key: Any) -> str:
    """`fn (path:line)` for a code object or a (code, line) pair."""
    if isinstance(key, tuple):
        code, line = key
        return f"{code.name} ({code.path}:{line})"
    return f"{key.name} ({key.path}:{key.line})"
