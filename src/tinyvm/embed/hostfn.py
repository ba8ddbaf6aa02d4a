"""Host functions: Python functions the guest can call (`vm.function`,
`vm.register`).

A registered function becomes a global of the VM's namespace whose static type
comes from its annotations, so TinyLang's checker checks every call at
compile time (a wrong call is a compile error with file:line:col):

    int -> int        float -> float      str -> string     bool -> bool
    None -> nil       list[T] -> [T]      tuple[A, B] -> (A, B)   tuple[T, ...] -> any
    dict[K, V] -> [K: V]                  Optional[T], T | None -> T?
    Callable[[A, B], R] -> fn(A, B) -> R  Any, or no annotation -> any

A function with defaults, `*args` or keyword-only parameters is typed `any`
(calls are checked at run time only: arity here, values by the function).
An annotation with no guest type (bytes, a class) is a `TypeError` at
registration.

At run time the arguments are checked against the declared types (calls from
untyped code or Lox), converted guest -> host, the function runs, and its
result is converted host -> guest and checked against the return type.

Errors: an exception raised by the function reaches the guest as a
`HostError` (an `Error` subclass; message = `str(exc)`), which guest code can
catch. If no guest code catches it, the API call raises the *original*
exception again, its `__cause__` the GuestException with the guest trace
(`VM._reraise`). A GuestException of a nested guest call the function let
through is rethrown in the guest as the original guest error. Sandbox limits
(`LimitExceeded`), `GuestExit`, `HostIOError`, `KeyboardInterrupt` and
`SystemExit` pass through unchanged.

`async def` functions: a guest call parks the calling fiber (other fibers run
meanwhile) and the coroutine runs on the asyncio loop of the current
`call_async` (`asyncio.run_coroutine_threadsafe`), or, for a synchronous call,
on a private loop thread of the VM; its completion wakes the fiber through
`Scheduler.post` on the VM's thread.
"""

from __future__ import annotations

import threading
import types
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..bytecode.types import (
    ANY,
    BOOL,
    FLOAT,
    INT,
    NIL,
    STRING,
    ArrayT,
    FnT,
    MapT,
    TupleT,
    Type,
    optional,
)
from ..heap.objects import Native
from ..runtime.errors import (
    GuestException,
    GuestExit,
    HostIOError,
    LimitExceeded,
    RtError,
    Throw,
)
from ..sched.concurrency import BlockingNative
from ..sched.scheduler import Switch
from .convert import HostValue

if TYPE_CHECKING:
    import asyncio

# Raised through a host function unchanged (never turned into HostError).
PASS_THROUGH = (LimitExceeded, GuestExit, HostIOError, RtError, Throw)

_SCALARS: dict[Any, Type] = {int: INT, float: FLOAT, str: STRING, bool: BOOL, type(None): NIL, None: NIL}


def guest_type(ann: Any, where: str) -> Type:
    """The guest type of a Python annotation (see the module docstring)."""
    import inspect  # (lazy: `import tinyvm` stays light)

    if ann is inspect.Parameter.empty or ann is Any or ann is object:
        return ANY
    if ann in _SCALARS:
        return _SCALARS[ann]
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin is typing.Union or origin is types.UnionType:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            inner = guest_type(rest[0], where)
            return optional(inner) if len(rest) < len(args) else inner
        return ANY  # int | str: checked at run time only
    if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        # (TinyLang 1.1) a Python tuple crosses as a guest tuple: `tuple[int, str]` is `(int, string)`.
        return TupleT(tuple(guest_type(a, where) for a in args))
    if ann is tuple or origin is tuple:
        return ANY  # a tuple of any length: the guest has no such type
    if ann is list or origin is list:
        return ArrayT(guest_type(args[0], where) if args else ANY)
    if ann is dict or origin is dict:
        return MapT(*(guest_type(a, where) for a in args)) if args else MapT(ANY, ANY)
    if origin is not None and getattr(origin, "__name__", "") == "Callable":
        if len(args) == 2 and isinstance(args[0], list):
            return FnT(tuple(guest_type(a, where) for a in args[0]), guest_type(args[1], where))
        return ANY
    raise TypeError(f"{where}: the annotation {ann!r} has no guest type (use int, float, str, bool, None, list, dict, Optional, Callable or Any)")


class HostFunction(HostValue):
    """A Python function registered in one VM. Calling it from Python calls
    the function itself; the guest sees `native` (see the module docstring)."""

    def __init__(self, vm: Any, fn: Callable, name: str) -> None:
        import inspect  # (lazy: `import tinyvm` stays light)

        self.vm = vm
        self.fn = fn
        self.name = name
        self.is_async = inspect.iscoroutinefunction(fn)
        sig = inspect.signature(fn)
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # unresolvable string annotations: use them as written
            hints = {}
        params = list(sig.parameters.values())
        plain = all(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty for p in params)
        self.min_args = sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)
        self.max_args = -1 if any(p.kind == p.VAR_POSITIONAL for p in params) else sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
        where = f"host function {name}"
        self.param_types = tuple(guest_type(hints.get(p.name, p.annotation), f"{where}, parameter {p.name}") for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
        self.ret_type = guest_type(hints.get("return", sig.return_annotation), f"{where}, result")
        # The type the guest's checker sees.
        names = tuple(p.name for p in params)
        self.type: Type = FnT(self.param_types, self.ret_type, names, name) if plain else ANY
        self.native = self._make_native()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<host function {self.name}: {self.type}>"

    def guest_value(self, vm: Any) -> Any:
        if vm is not self.vm:
            raise TypeError(f"host function {self.name} is registered in another VM")
        return self.native

    # ------------------------------------------------------------------ the guest side

    def _arity(self, n: int) -> None:
        lo, hi = self.min_args, self.max_args
        if n < lo or (hi >= 0 and n > hi):
            want = str(lo) if lo == hi else (f"{lo} to {hi}" if hi >= 0 else f"at least {lo}")
            raise RtError("TypeError", f"{self.name} expects {want} argument{'' if want == '1' else 's'}, got {n}")

    def _make_native(self) -> Any:
        vm = self.vm
        checks = vm.machine.type_checks
        arg_checks = [None if t is ANY else checks.check(str(t), f"argument {i + 1} of {self.name}") for i, t in enumerate(self.param_types)]
        ret_check = None if self.ret_type is ANY else checks.check(str(self.ret_type), f"result of host function {self.name}")
        fn, name = self.fn, self.name

        def host_args(args: tuple) -> list:
            self._arity(len(args))
            out = []
            for i, a in enumerate(args):
                check = arg_checks[i] if i < len(arg_checks) else None
                out.append(vm.convert.to_host(check(a) if check is not None else a))
            return out

        def result(value: Any) -> Any:
            try:
                v = vm.convert.to_guest(value)
            except (TypeError, OverflowError) as e:
                raise Throw(vm._host_error(e)) from None
            return ret_check(v) if ret_check is not None else v

        if not self.is_async:

            def call(*args: Any) -> Any:
                a = host_args(args)
                return result(guarded(vm, fn, a))

            return vm.machine.heap.alloc(Native(name, call, -1))

        sched = vm.machine.sched

        def call_async(fb: Any, args: list, ret: Any) -> Any:
            a = host_args(tuple(args))
            coro = guarded(vm, fn, a)  # (creating the coroutine runs no code)
            w = sched.park(fb, ret, f"host function {name}")
            sched.expect(w)

            def done(outcome: Any, failed: bool) -> None:  # on the VM's thread
                sched.settle(w)
                if w.done:  # the fiber was cancelled meanwhile
                    return
                if not failed:
                    try:
                        sched.wake(w, result(outcome))
                    except Throw as t:
                        sched.wake(w, error=t.value)
                elif isinstance(outcome, GuestException) and outcome.value is not None:
                    sched.wake(w, error=outcome.value)
                elif isinstance(outcome, Exception) and not isinstance(outcome, PASS_THROUGH):
                    sched.wake(w, error=vm._host_error(outcome))
                else:  # a limit, KeyboardInterrupt...: raised as is where the fiber parked
                    sched.wake(w)
                    w.fiber.resume_error = outcome

            vm._async_runner().submit(coro, lambda outcome, failed: sched.post(lambda: done(outcome, failed)))
            raise Switch

        return vm.machine.heap.alloc(BlockingNative(name, call_async, -1))


def guarded(vm: Any, fn: Callable, args: list) -> Any:
    """Call a host function, mapping its exceptions (module docstring)."""
    try:
        return fn(*args)
    except PASS_THROUGH:
        raise
    except GuestException as e:
        if e.value is None:
            raise
        raise Throw(e.value) from None
    except Exception as e:
        raise Throw(vm._host_error(e)) from None


class AsyncRunner:
    """Runs the coroutines of `async def` host functions: on the loop of the
    running `call_async` when there is one, else on a private loop thread
    (started on first use, stopped by `close`)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None  # the caller's (call_async)
        self._own: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def submit(self, coro: Any, on_done: Callable[[Any, bool], None]) -> None:
        import asyncio  # (lazy: `import tinyvm` stays light)

        loop = self.loop or self._private()

        async def run() -> None:
            try:
                value = await coro
            except BaseException as e:  # handed to the VM's thread as the outcome
                on_done(e, True)
            else:
                on_done(value, False)

        asyncio.run_coroutine_threadsafe(run(), loop)

    def _private(self) -> asyncio.AbstractEventLoop:
        import asyncio  # (lazy: `import tinyvm` stays light)

        if self._own is None:
            self._own = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._own.run_forever, name="tinyvm-host-async", daemon=True)
            self._thread.start()
        return self._own

    def close(self) -> None:
        if self._own is not None:
            loop = self._own

            def stop() -> None:
                import asyncio  # (lazy: `import tinyvm` stays light)

                # Coroutines of runs that ended (a deadline, an interrupt)
                # may still wait: cancel them, then stop once they unwound
                # (their steps are queued before the stop).
                for task in asyncio.all_tasks(loop):
                    task.cancel()
                loop.call_soon(loop.stop)

            loop.call_soon_threadsafe(stop)
            assert self._thread is not None
            self._thread.join()
            self._own.close()
            self._own = self._thread = None
