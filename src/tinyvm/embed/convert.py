"""Values crossing between a host (Python) and one VM's guest heap.

Host -> guest (`Converter.to_guest`):

* `None`, `bool`, `int` (must fit int64, else `OverflowError`), `float`, `str`
  as themselves (subclasses are reduced to the plain type);
* `list` -> a new array, `tuple` -> a new tuple (TinyLang 1.1), `dict` -> a
  new map (keys by the map-key rules: int, float, bool, string, nil or a
  tuple of those, else `TypeError`); a `set` -> a new `Set` (1.1,
  runtime/sets.py; elements by the same rules);
* a registered host function (`HostFunction`), a handle (`Handle`), or a
  guest value the host got from this same VM (`GuestObject` and its
  callables, or a raw value from `vm.get`) -> the guest value it stands for;
* anything else -> `TypeError` naming the Python type (bytes, frozenset, modules,
  arbitrary objects never enter the guest). A guest value of another VM is a
  `TypeError` too.

Containers are converted with an explicit work list (no Python recursion: a
list nested 100000 deep converts), and a container met twice converts to one
guest container: a list that contains itself becomes an array that contains
itself (cycles and sharing are kept, both ways).

Guest -> host (`Converter.to_host`): scalars as themselves, arrays -> lists,
maps -> dicts, records -> dicts (iteratively, cycles and sharing kept), tuples
-> tuples (made once their elements are: nested tuples recurse; a cycle
always passes through a mutable container, which is filled later);
an enum value -> its member's name, a `str` (`Color.Red` -> "Red"; also as a
map key; a string passed back stays a string); a `Set` -> a Python set;
functions, closures, bound methods, built-ins and classes -> `GuestFunction`
(a Python callable that runs the VM), tasks -> `GuestTask` (awaitable, and
`.result()`), generators -> `GuestGenerator` (a Python iterator), a handle ->
the host's `Handle`; any other guest object (an instance, a range, a
channel...) -> an opaque `GuestObject` that can be passed back in.

A `GuestObject` pins its guest value: the VM's collector keeps it alive while
the host holds the proxy (`Pins`), and releases it when the proxy is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..heap.objects import (
    INT_MAX,
    INT_MIN,
    Array,
    BoundMethod,
    Class,
    Function,
    HeapObject,
    Map,
    Native,
    Record,
    Tuple,
    map_key,
    unmap_key,
)
from ..heap.packed import PackedArray
from ..runtime.enums import enum_name, is_enum_value
from ..runtime.sets import SetObject, host_set_to_guest
from ..runtime.values import check_key, typeof
from ..sched.fiber import Fiber
from ..sched.generators import Gen

_KEY_TYPES = (type(None), bool, int, float, str)
# Guest values that the host sees as Python callables.
_CALLABLE = (Function, Native, BoundMethod, Class)


class Pins:
    """Guest values held by host proxies: extra GC roots, counted per object
    (`machine.host_pins` is the dict the collector reads)."""

    def __init__(self, roots: dict) -> None:
        self.roots = roots  # id -> guest object (read by Machine.gc_roots)
        self.counts: dict[int, int] = {}

    def pin(self, obj: Any) -> None:
        k = id(obj)
        self.roots[k] = obj
        self.counts[k] = self.counts.get(k, 0) + 1

    def unpin(self, obj: Any) -> None:
        k = id(obj)
        n = self.counts.get(k, 0) - 1
        if n > 0:
            self.counts[k] = n
        else:
            self.counts.pop(k, None)
            self.roots.pop(k, None)


class HostValue:
    """A host-made value that has a guest side in one VM (a registered host
    function, a handle): the only host objects `to_guest` lets in."""

    __slots__ = ()

    def guest_value(self, vm: Any) -> Any:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


class GuestObject:
    """An opaque guest value held by the host: pass it back to `vm.call` or a
    guest function of the same VM. `value` is the raw guest object (for the
    VM's own tools; valid while this proxy lives)."""

    __slots__ = ("__weakref__", "value", "vm")

    def __init__(self, vm: Any, value: Any) -> None:
        self.vm = vm
        self.value = value
        vm._pins.pin(value)

    def __del__(self) -> None:
        pins = getattr(getattr(self, "vm", None), "_pins", None)
        if pins is not None:
            pins.unpin(self.value)

    @property
    def guest_type(self) -> str:
        """The guest's `typeof` of the value ("Point", "range", "chan"...)."""
        return typeof(self.value)

    def __repr__(self) -> str:
        return f"<guest {self.guest_type}>"


class GuestFunction(GuestObject):
    """A guest function, closure, bound method, built-in or class as a Python
    callable: `f(*args, fuel=None, timeout=None)` converts the arguments,
    runs the guest call on its VM (as `vm.call` does) and converts the result."""

    __slots__ = ()

    def __call__(self, *args: Any, fuel: int | None = None, timeout: float | None = None) -> Any:
        return self.vm.call_value(self.value, args, fuel=fuel, timeout=timeout)

    @property
    def name(self) -> str:
        return getattr(self.value, "name", "?")

    def __repr__(self) -> str:
        return f"<guest function {self.name}>"


class GuestTask(GuestObject):
    """A guest task (the Task of an `async fn` call). `result()` runs the VM
    until the task ends and gives its value (or raises its error, as
    GuestException); `await task` does the same from asyncio (on the VM's
    worker thread: see VM.call_async)."""

    __slots__ = ()

    def result(self, fuel: int | None = None, timeout: float | None = None) -> Any:
        return self.vm.call_value(self.vm._helper("await_task"), (self,), fuel=fuel, timeout=timeout)

    def __await__(self) -> Any:
        return self.vm.call_value_async(self.vm._helper("await_task"), (self,)).__await__()


class GuestGenerator(GuestObject):
    """A guest generator as a Python iterator: each `next()` resumes it on its
    VM (`g.next()` in the guest) until it returns."""

    __slots__ = ()

    def __iter__(self) -> GuestGenerator:
        return self

    def __next__(self) -> Any:
        step = self.vm.call_value(self.vm._helper("gen_step"), (self,))
        if step["done"]:
            raise StopIteration(step["value"])
        return step["value"]


class Converter:
    """The conversions of one VM (see the module docstring). `vm` is the api's
    VM; `alloc` its heap's allocator."""

    def __init__(self, vm: Any) -> None:
        self.vm = vm
        self.alloc: Callable[[Any], Any] = vm.machine.heap.alloc

    # ------------------------------------------------------------------ host -> guest

    def to_guest(self, v: Any) -> Any:
        t = type(v)
        if v is None or t is bool or t is float or t is str:
            return v
        if t is int:
            return _int(v)
        memo: dict[int, Any] = {}
        work: list[tuple[Any, Any]] = []
        root = self._one(v, memo, work)
        heap = self.vm.machine.heap
        while work:
            guest, host = work.pop()
            if type(guest) is Array:
                guest.items.extend(self._one(x, memo, work) for x in host)
            elif type(guest) is Tuple:  # made empty, filled once (immutable after)
                guest.items = tuple(self._one(x, memo, work) for x in host)
            else:
                items = guest.items
                for k, x in host.items():
                    items[self._key(k)] = self._one(x, memo, work)
            # Filled after its allocation (no guest code ran since): a
            # collector allocating in its marking colour must see the
            # contents (the write barrier, docs/gc.md).
            if guest.mark == heap.watch:
                heap.barrier_all(guest)
        return root

    def _one(self, v: Any, memo: dict[int, Any], work: list) -> Any:
        """The guest value for v; a container is made empty and queued to fill."""
        t = type(v)
        if v is None or t is bool or t is float or t is str:
            return v
        if t is int:
            return _int(v)
        if type(v) is set:  # a Set (1.1): its elements are map keys (a frozenset stays refused)
            return host_set_to_guest(self.vm.machine.heap, [unmap_key(self._key(x)) for x in v])
        if isinstance(v, (list, tuple, dict)):
            made = memo.get(id(v))
            if made is None:
                made = self.alloc(Map({}) if isinstance(v, dict) else Tuple(()) if isinstance(v, tuple) else Array([]))
                memo[id(v)] = made
                work.append((made, v))
            return made
        if isinstance(v, bool):
            return bool(v)
        if isinstance(v, int):
            return _int(int(v))
        if isinstance(v, float):
            return float(v)
        if isinstance(v, str):
            return str.__str__(v)
        return self._host_object(v)

    def _key(self, k: Any) -> Any:
        if isinstance(k, tuple):  # a tuple of keys (TinyLang 1.1)
            for x in k:
                self._key(x)
            return check_key(self.to_guest(k))
        if not isinstance(k, _KEY_TYPES):
            raise TypeError(f"a map key must be int, float, bool, str or None, not {type(k).__name__}")
        return map_key(self._one(k, {}, []))

    def _host_object(self, v: Any) -> Any:
        if isinstance(v, HostValue):  # a registered host function, a handle
            return v.guest_value(self.vm)
        if isinstance(v, GuestObject):
            if v.vm is not self.vm:
                raise TypeError(f"a guest value of another VM cannot be passed to this VM ({v!r})")
            return v.value
        if isinstance(v, HeapObject):
            # A raw guest value (vm.get, vm.machine): the VM's own tools use
            # them. One of another VM would run that VM's code (and reach its
            # host functions and handles) here, so it must be one of this
            # heap's objects: a scan, on this rare path only (proxies carry
            # their VM and are checked at once).
            if not any(o is v for o in self.vm.machine.heap.all_objects()):
                raise TypeError(f"a guest value of another VM (or a collected one) cannot be passed to this VM ({typeof(v)})")
            return v
        raise TypeError(f"cannot pass a Python {type(v).__name__} to the guest (register a function, or use vm.handle)")

    # ------------------------------------------------------------------ guest -> host

    def to_host(self, v: Any) -> Any:
        t = type(v)
        if v is None or t is bool or t is int or t is float or t is str:
            return v
        memo: dict[int, Any] = {}
        work: list[tuple[Any, Any]] = []
        root = self._out(v, memo, work)
        while work:
            host, guest = work.pop()
            t = type(guest)
            if t is Array:
                host.extend(self._out(x, memo, work) for x in guest.items)
            elif t is Map:
                for k, x in guest.items.items():
                    k = unmap_key(k)
                    host[enum_name(k) if is_enum_value(k) else self._out(k, memo, work) if type(k) is Tuple else k] = self._out(x, memo, work)
            else:
                for k, x in guest.fields.items():
                    host[k] = self._out(x, memo, work)
        return root

    def _out(self, v: Any, memo: dict[int, Any], work: list) -> Any:
        t = type(v)
        if v is None or t is bool or t is int or t is float or t is str:
            return v
        if t is Tuple:
            made = memo.get(id(v))
            if made is None:
                made = memo[id(v)] = tuple(self._out(x, memo, work) for x in v.items)
            return made
        if t is PackedArray:
            # Scalars of one kind: the list at once (bools as bool, ints as
            # int, floats as float), and the guest array stays packed. The
            # memo keeps one list for an array met twice, as for lists.
            made = memo.get(id(v))
            if made is None:
                made = memo[id(v)] = v.values()
            return made
        if t is Array or t is Map or t is Record:
            made = memo.get(id(v))
            if made is None:
                made = [] if t is Array else {}
                memo[id(v)] = made
                work.append((made, v))
            return made
        if t is SetObject:  # a Set (1.1): a Python set of its elements
            return {unmap_key(k) for k in v.items}
        host = getattr(v, "host_side", None)  # a handle: the host's own object
        if host is not None:
            return host
        if is_enum_value(v):  # (issue 18: an enum value crosses as its name)
            return enum_name(v)
        if t in _CALLABLE or isinstance(v, Function):
            return GuestFunction(self.vm, v)
        if t is Fiber:
            return GuestTask(self.vm, v)
        if t is Gen:
            return GuestGenerator(self.vm, v)
        return GuestObject(self.vm, v)


def _int(v: int) -> int:
    if not INT_MIN <= v <= INT_MAX:
        raise OverflowError(f"{v} does not fit in a TinyLang int (64-bit)")
    return v
