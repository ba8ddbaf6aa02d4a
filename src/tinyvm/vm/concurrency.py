"""The guest-visible side of fibers, channels and generators: built-ins
(`Chan`, `sleep`, `yield_now`), methods of tasks, channels and generators, and
the calls that do not simply push a frame (`async fn`, generator functions).

Blocking operations are `BlockingNative`s: `fn(fb, args, ret) -> op`. They
either complete at once (push their result on `fb.L`, return `ret`) or park the
fiber through the scheduler and raise `Switch` (vm/scheduler.py). Methods that
block are in `blocking_methods(vm)`: `{kind: {name: fn(fb, receiver, args, ret)}}`.
"""

from __future__ import annotations

from typing import Any

from ..heap.objects import Native
from .errors import RtError
from .fiber import DONE, READY, Fiber
from .generators import Gen, gen_enter
from .scheduler import ITER, Chan, Switch

__all__ = ["BlockingNative", "install"]


class BlockingNative(Native):
    """A built-in that may park the calling fiber: fn(fb, args, ret) -> op."""

    __slots__ = ()


def _argc(name: str, want: int | str, got: int) -> RtError:
    plural = "argument" if want == 1 else "arguments"
    return RtError("TypeError", f"{name} expects {want} {plural}, got {got}")


def install(vm: Any) -> None:
    """Add the concurrency built-ins and methods to a Machine."""
    sched = vm.sched
    alloc = vm.heap.alloc

    def chan(*args: Any) -> Chan:
        if len(args) > 1:
            raise _argc("Chan", "0 or 1", len(args))
        return sched.make_chan(args[0] if args else 0)

    def sleep(fb: Fiber, args: list, ret: Any) -> Any:
        if len(args) != 1:
            raise _argc("sleep", 1, len(args))
        w = sched.park(fb, ret, f"sleep({args[0]})")
        sched.add_timer(w, args[0])
        raise Switch

    def yield_now(fb: Fiber, args: list, ret: Any) -> Any:
        if args:
            raise _argc("yield_now", 0, len(args))
        sched.check_cancel(fb)
        fb.L.append(None)
        if fb.nested or not (sched.ready or sched.poll_now()):
            return ret  # nobody else to run (not even a fiber whose timer or I/O is due)
        fb.resume = ret
        fb.state = READY
        fb.yielded = True
        sched.ready.append(fb)
        raise Switch

    vm.builtins["Chan"] = alloc(Native("Chan", chan, -1))
    vm.builtins["sleep"] = alloc(BlockingNative("sleep", sleep, -1))
    vm.builtins["yield_now"] = alloc(BlockingNative("yield_now", yield_now, -1))

    def task_cancel(t: Fiber, *args: Any) -> None:
        if args:
            raise _argc("task.cancel", 0, len(args))
        sched.cancel(t)

    def task_done(t: Fiber, *args: Any) -> bool:
        if args:
            raise _argc("task.done", 0, len(args))
        return t.state == DONE

    def chan_close(ch: Chan, *args: Any) -> None:
        if args:
            raise _argc("chan.close", 0, len(args))
        sched.close(ch)

    def chan_len(ch: Chan, *args: Any) -> int:
        if args:
            raise _argc("chan.len", 0, len(args))
        return len(ch.buf)

    def chan_cap(ch: Chan, *args: Any) -> int:
        if args:
            raise _argc("chan.cap", 0, len(args))
        return ch.cap

    vm.methods["task"] = {"cancel": task_cancel, "done": task_done}
    vm.methods["chan"] = {"close": chan_close, "len": chan_len, "cap": chan_cap}

    def chan_send(fb: Fiber, ch: Chan, args: list, ret: Any) -> Any:
        if len(args) != 1:
            raise _argc("chan.send", 1, len(args))
        return sched.send(fb, ch, args[0], ret)

    def chan_recv(fb: Fiber, ch: Chan, args: list, ret: Any) -> Any:
        if args:
            raise _argc("chan.recv", 0, len(args))
        return sched.recv(fb, ch, ret)

    def gen_next(fb: Fiber, g: Gen, args: list, ret: Any) -> Any:
        if args:
            raise _argc("gen.next", 0, len(args))
        return gen_enter(fb, g, ret)

    vm.blocking_methods = {"chan": {"send": chan_send, "recv": chan_recv}, "gen": {"next": gen_next}}


def chan_iter_next(vm: Any, fb: Fiber, ch: Chan, cont: Any) -> Any:
    """FOR_ITER over a channel: `cont` receives (value, ok)."""
    return vm.sched.recv(fb, ch, cont, ITER)
