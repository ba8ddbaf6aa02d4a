"""The guest-visible side of fibers, channels and generators: built-ins
(`Chan`, `sleep`, `yield_now`, and `input` that parks only its fiber), methods
of tasks, channels and generators, and the calls that do not simply push a
frame (`async fn`, generator functions).

Blocking operations are `BlockingNative`s: `fn(fb, args, ret) -> op`. They
either complete at once (push their result on `fb.L`, return `ret`) or park the
fiber through the scheduler and raise `Switch` (sched/scheduler.py). Methods that
block are in `blocking_methods(vm)`: `{kind: {name: fn(fb, receiver, args, ret)}}`.
"""

from __future__ import annotations

from typing import Any

from ..heap.objects import Native
from ..runtime.builtins import GUEST_FALLBACKS, write_prompt
from ..runtime.errors import RtError
from ..runtime.values import NeedsGuest
from .fiber import DONE, READY, Fiber
from .generators import Gen, gen_enter
from .io import READ, StdinReader, selectable_fd
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

    fd = selectable_fd(vm.stdin)
    if fd is not None:  # a pipe or terminal: input() parks only its fiber
        vm.builtins["input"] = alloc(_async_input(vm, fd))


def _async_input(vm: Any, fd: int) -> BlockingNative:
    """`input` as a blocking native, for a stdin that select can wait on: the
    calling fiber parks until a whole line (or the end of input) is there,
    and the other fibers keep running (see io.StdinReader). It replaces the
    plain `input` of runtime/builtins.py, whose prompt handling it shares."""
    readers: list = []

    def input_async(fb: Any, args: list, ret: Any) -> Any:
        try:
            write_prompt(vm, args)
        except NeedsGuest:  # a prompt with a str() method: format it in guest code
            fb.L.append(args[0])  # (rooted while the prelude may be loaded)
            guest = vm.prelude_fn(GUEST_FALLBACKS["input"])
            return vm.push_frame(fb, guest, [fb.L.pop()], ret)
        if not readers:
            readers.append(StdinReader(vm.stdin, fd))
        reader = readers[0]
        if fb.nested:  # a host callback may not park: read as before
            fb.L.append(reader.read_blocking())
            return ret
        return vm.sched.io.run(fb, ret, "input on stdin", fd, READ, reader.attempt)

    return BlockingNative("input", input_async, -1)


def chan_iter_next(vm: Any, fb: Fiber, ch: Chan, cont: Any) -> Any:
    """FOR_ITER over a channel: `cont` receives (value, ok)."""
    return vm.sched.recv(fb, ch, cont, ITER)
