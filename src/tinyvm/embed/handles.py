"""Handles: host objects the guest may use only through listed methods (FFI).

`vm.handle(obj, methods=["get", "put"], name=None)` gives a `Handle`; passed
to the guest (an argument, a global, a host function's result) it is an
opaque value of type "handle" that prints as `<handle Name>`. The guest can
call the listed methods (`h.get("k")`, arguments and result converted as for
host functions, exceptions becoming `HostError`), and nothing else: no
attributes, no other methods, no field writes, no indexing. Names starting
with `_` (dunders included) are refused when the handle is made, so the
guest can never reach `__class__`, `__dict__` or a private helper, and a
listed name must be a callable attribute of `obj` at that time.

`handle.revoke()` drops the host object: every later use from the guest is a
guest `Error` ("handle Name was revoked"), and the handle keeps nothing alive.

The guest side is a `GuestHandle` heap object holding only its `Handle`; the
VM's method table for kind "handle" (`HandleMethods`) sends every call to
`Handle.invoke`, which applies the allow-list per handle. The table knows
only the names some handle of the VM lists (the machine asks it without the
receiver), so `h.secret` is a TypeError at the access, like a missing field;
a name listed by *another* handle of the same VM gives a function value whose
call is refused by `invoke`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..heap.objects import HeapObject
from ..runtime.errors import RtError
from .convert import HostValue
from .hostfn import guarded


class GuestHandle(HeapObject):
    """The guest side of a handle (see the module docstring)."""

    __slots__ = ("host_side",)
    type_name = "handle"

    def __init__(self, host_side: Handle) -> None:
        self.host_side = host_side

    def host_label(self) -> str:
        return f"<handle {self.host_side.name}>"


class Handle(HostValue):
    """A host object exposed to one VM's guest through an allow-list of methods."""

    def __init__(self, vm: Any, obj: Any, methods: Iterable[str], name: str | None = None) -> None:
        if isinstance(methods, str):
            raise TypeError("methods must be a list of method names, not a string")
        allowed = []
        for m in methods:
            if not isinstance(m, str) or not m.isidentifier():
                raise TypeError(f"not a method name: {m!r}")
            if m.startswith("_"):
                raise ValueError(f"a handle cannot expose '{m}': names starting with '_' are never reachable from the guest")
            if not callable(getattr(obj, m, None)):
                raise ValueError(f"{type(obj).__name__} has no method '{m}'")
            allowed.append(m)
        self.vm = vm
        self.name = name or type(obj).__name__
        self.methods = frozenset(allowed)
        self._obj = obj
        self.revoked = False
        self.guest = vm.machine.heap.alloc(GuestHandle(self))
        vm._pins.pin(self.guest)

    def __del__(self) -> None:
        vm = getattr(self, "vm", None)
        if vm is not None and getattr(self, "guest", None) is not None:
            vm._pins.unpin(self.guest)

    def revoke(self) -> None:
        """Every later use from the guest is an error; the object is dropped."""
        self.revoked = True
        self._obj = None

    def guest_value(self, vm: Any) -> Any:
        if vm is not self.vm:
            raise TypeError(f"handle {self.name} belongs to another VM")
        return self.guest

    def __repr__(self) -> str:
        state = " revoked" if self.revoked else ""
        return f"<handle {self.name}{state}: {', '.join(sorted(self.methods))}>"

    def invoke(self, name: str, args: tuple) -> Any:
        """The guest called `h.name(args)`."""
        if self.revoked:
            raise RtError("Error", f"handle {self.name} was revoked")
        if name not in self.methods:
            raise RtError("TypeError", f"handle {self.name} has no method '{name}'")
        vm = self.vm
        method = getattr(self._obj, name)
        result = guarded(vm, method, [vm.convert.to_host(a) for a in args])
        try:
            return vm.convert.to_guest(result)
        except (TypeError, OverflowError) as e:
            from ..runtime.errors import Throw

            raise Throw(vm._host_error(e)) from None


class HandleMethods(dict):
    """The VM's method table for kind "handle": every name some handle of the
    VM lists answers with a dispatcher to the receiver's `Handle.invoke` (the
    allow-list is per handle, checked there). Installed as
    `machine.methods["handle"]`."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()  # listed by some handle (never shrinks: revoke is per handle)

    def allow(self, names: Iterable[str]) -> None:
        self.names.update(names)

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        if name not in self.names:
            return default

        def method(recv: Any, *args: Any) -> Any:
            if type(recv) is not GuestHandle:
                raise RtError("TypeError", f"{name} is a handle method")
            return recv.host_side.invoke(name, args)

        return method

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __getitem__(self, name: str) -> Any:
        method = self.get(name)
        if method is None:
            raise KeyError(name)
        return method
