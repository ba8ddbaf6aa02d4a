"""Readiness waits: fibers parked on file descriptors, served by `selectors`.

One `IOPoller` per scheduler (`Scheduler.io`). A blocking I/O operation (a
socket read, an accept, a connect, `input()` on a pipe or terminal) is an
*attempt* function that never blocks: it returns `(True, value)` when it could
finish, `(False, None)` when it would have to wait, or raises `RtError`.
`IOPoller.run` tries it once at once (unless other fibers already queue on the
same descriptor and direction, which keeps them first-come first-served); if
it must wait, the fiber parks with a `Watch` on the descriptor and the
scheduler's loop calls `poll` when nothing else is ready (and, at most every
`POLL_INTERVAL` seconds, between fibers when something is: see
`Scheduler.poll_now`). A readiness event retries the attempts of the waiting
fibers in order, and each one that finishes wakes its fiber with the value
(or raises the error at the call).

A descriptor is registered with the selector only while some fiber waits on
it, for the directions someone waits for. The Wait's `done` flag decides who
is still waiting, as for channels; moreover setting `done` on an `IOWait`
drops its watch at once (`forget`), so a cancelled fiber's descriptor leaves
the selector right away and `waiting` counts live waits only. Closing a
descriptor through `close_fd` wakes its waiters with an `IOError` first.

Deadlocks: a fiber waiting on I/O can always be woken from outside (a peer
process writes, connects, or closes), so while any fiber waits on I/O the
program is not deadlocked: the VM sleeps in `select` until something happens.
"""

from __future__ import annotations

import os
import select
import selectors
import stat
import threading
from collections import deque
from typing import Any, Callable

from ..runtime.errors import STREAM_ERRORS, RtError, host_reason
from .fiber import READY, Wait

__all__ = ["IOPoller", "IOWait", "Watch", "Retarget", "READ", "WRITE", "StdinReader", "selectable_fd"]

READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE
POLL_INTERVAL = 0.002  # seconds between non-blocking polls while fibers are ready

Attempt = Callable[[], "tuple[bool, Any]"]



# The longest single blocking wait, in seconds (a day): longer sleeps wait again.
MAX_WAIT = 86400.0

class Watch:
    """A parked fiber waiting for descriptor `fd` to be ready for `event`."""

    __slots__ = ("wait", "fd", "event", "attempt", "cleanup")

    def __init__(self, wait: Any, fd: int, event: int, attempt: Attempt, cleanup: Callable[[], None] | None = None) -> None:
        self.wait = wait
        self.fd = fd
        self.event = event
        self.attempt = attempt
        self.cleanup = cleanup  # called if the wait ends without the operation (cancelled)


class IOWait(Wait):
    """The Wait of a fiber parked on I/O. Whoever completes it (the poller, a
    cancel, anything that sets `done`) also takes its watch out of the poller,
    so the poller's count of waiting fibers -- which decides whether the
    program is deadlocked -- is always exact, and a descriptor nobody waits on
    leaves the selector at once."""

    __slots__ = ("poller",)

    def __init__(self, fiber: Any, what: str, poller: "IOPoller") -> None:
        super().__init__(fiber, what)
        self.poller = poller

    @property
    def done(self) -> bool:
        return _wait_done.__get__(self)

    @done.setter
    def done(self, value: bool) -> None:
        _wait_done.__set__(self, value)
        if value:
            self.poller.forget(self)


_wait_done = Wait.__dict__["done"]  # the slot of the base class
_WAKER = "waker"  # the selector key data of the waker's socket


class Retarget(Exception):
    """Raised by an attempt that now waits on another descriptor (a connect
    moving on to the next address): the watch moves to `fd`, then `old` (the
    abandoned socket) is closed once it has left the selector."""

    def __init__(self, fd: int, old: Any) -> None:
        super().__init__(fd)
        self.fd = fd
        self.old = old


class IOPoller:
    def __init__(self, sched: Any) -> None:
        self.sched = sched
        self.sel: selectors.BaseSelector | None = None
        # fd -> (readers, writers): deques of Watch, first come first served.
        self.queues: dict[int, tuple[deque, deque]] = {}
        self.masks: dict[int, int] = {}  # fd -> events registered with the selector
        self.by_wait: dict[Any, Watch] = {}  # live watches, by Wait
        # Open guest resources (sockets), closed by close_all; `zombies` are the
        # ones the collector freed while a fiber still waited on them (closed
        # once nobody does).
        self.resources: set = set()
        self.zombies: list = []
        self.next_id: dict[str, int] = {}  # per kind, for naming resources ("conn 3")
        # The waker: a socket pair whose reading end is in the selector, so
        # that another thread (Limits.interrupt, Scheduler.post) can end a
        # blocking wait by writing a byte. Made by the first wait, and never
        # counted as a fiber waiting (`waiting`).
        self._waker: tuple[Any, Any] | None = None  # (socket, socket)
        self._waker_lock = threading.Lock()

    # ------------------------------------------------------------------ waiting

    @property
    def waiting(self) -> int:
        """How many fibers wait on I/O."""
        return len(self.by_wait)

    def run(self, fb: Any, ret: Any, what: str, fd: int, event: int, attempt: Attempt, try_first: bool = True, cleanup: Callable[[], None] | None = None) -> Any:
        """The body of a blocking I/O operation: finish at once if possible (push
        the value, return ret), else park fb on fd and raise Switch. `what`
        names the wait in deadlock and leak reports ("read on conn 3 (...)").
        try_first=False: the caller knows it must wait (a connect in progress);
        cleanup: what to undo if the fiber stops waiting (it is cancelled)."""
        sched = self.sched
        sched.check_cancel(fb)
        if try_first and not self._has_live(fd, event):
            try:
                done, value = attempt()
            except Retarget as r:  # (only a connect does this, and not at once)
                fd, done, value = r.fd, False, None
                r.old.close()
            if done:
                fb.L.append(value)
                return ret
        from .scheduler import Switch

        w = sched.park(fb, ret, what, wait=IOWait(fb, what, self))
        watch = Watch(w, fd, event, attempt, cleanup)
        self.by_wait[w] = watch
        try:
            self._enqueue(watch)
        except RtError:  # the descriptor cannot be waited on: fail the call instead
            w.done = True
            self._drop(watch)
            fb.wait, fb.state, fb.resume = None, READY, None
            raise
        raise Switch

    def _enqueue(self, watch: Watch) -> None:
        fd = watch.fd
        q = self.queues.get(fd)
        if q is None:
            q = self.queues[fd] = (deque(), deque())
        q[0 if watch.event == READ else 1].append(watch)
        self._sync(fd)

    def forget(self, w: Any) -> None:
        """Wait w is over (IOWait.done was set): drop its watch if the poller
        still holds it (the fiber was cancelled, say)."""
        watch = self.by_wait.get(w)
        if watch is not None:
            self._drop(watch)

    def close_fd(self, fd: int, message: str) -> None:
        """Descriptor fd is about to be closed: its waiters fail with
        IOError(message), and it leaves the selector."""
        q = self.queues.get(fd)
        if q is None:
            return
        for watch in list(q[0]) + list(q[1]):
            if watch.wait.done:
                continue
            self._finish(watch)
            self.sched.wake(watch.wait, error=self.sched.vm.make_error("IOError", message))
        self.queues.pop(fd, None)
        self._sync(fd)

    # ------------------------------------------------------------------ polling

    def poll(self, timeout: float | None) -> None:
        """Wait up to `timeout` seconds (None: until something happens) for a
        registered descriptor to be ready, and serve its waiters."""
        sel = self.sel
        if sel is None or not self.masks:
            return
        self._serve_events(sel.select(timeout))

    def wait(self, timeout: float | None, ready: Callable[[], bool]) -> None:
        """The scheduler's one blocking wait: up to `timeout` seconds (None:
        until something happens) for a registered descriptor or the waker;
        serves the descriptors' waiters. `ready()` is asked once the waker is
        in place, and a true answer (an interrupt came first) waits no more."""
        if self.sel is None:
            self.sel = selectors.DefaultSelector()
        self._arm_waker()
        if ready():
            timeout = 0
        elif timeout is not None and timeout > MAX_WAIT:
            # The OS's poll takes a bounded timeout (`sleep(1e300)`): wait
            # this long, and the scheduler, finding nothing due, waits again.
            timeout = MAX_WAIT
        self._serve_events(self.sel.select(timeout))

    def wake(self) -> None:
        """From any thread: end the blocking wait in progress (or the next one)."""
        with self._waker_lock:
            pair = self._waker
            if pair is not None:
                try:
                    pair[1].send(b"\0")
                except OSError:  # full (a wake is pending anyway), or closed
                    pass

    def _arm_waker(self) -> None:
        if self._waker is None:
            import socket  # (lazy: made at the first blocking wait; `tvm run hello.tl` never needs it)

            r, w = socket.socketpair()
            r.setblocking(False)
            w.setblocking(False)
            with self._waker_lock:
                self._waker = (r, w)
        r = self._waker[0]
        try:
            self.sel.get_key(r)  # type: ignore[union-attr]
        except KeyError:
            self.sel.register(r, READ, _WAKER)  # type: ignore[union-attr]

    def _serve_events(self, events: list) -> None:
        for key, ev in events:
            if key.data is _WAKER:
                try:
                    while key.fileobj.recv(4096):  # type: ignore[union-attr]
                        pass
                except OSError:  # drained (BlockingIOError)
                    pass
                continue
            fd = key.fd
            q = self.queues.get(fd)
            if q is None:
                continue
            if ev & READ:
                self._serve(q[0])
            if ev & WRITE:
                self._serve(q[1])
            self._sync(fd)
        if self.zombies:
            self._bury()

    def adopt(self, res: Any) -> None:
        """Track an open guest resource (it has `fd` and `close()`)."""
        self.resources.add(res)

    def release(self, res: Any) -> None:
        """The collector freed res: close it now, or once nobody waits on it."""
        if res in self.resources:
            if res.fd in self.queues:
                self.zombies.append(res)
            else:
                res.close()

    def close_all(self) -> None:
        """Close every open resource and the selector (the host is done with the VM)."""
        for res in list(self.resources):
            res.close()
        self.zombies.clear()
        if self.sel is not None:
            self.sel.close()
            self.sel = None
        self.masks.clear()
        with self._waker_lock:
            pair, self._waker = self._waker, None
        if pair is not None:
            for s in pair:
                s.close()

    def drop_waits(self) -> None:
        """A stopped run's fibers wait no more: every watch is dropped and its
        descriptor leaves the selector (the resources stay open)."""
        for w in list(self.by_wait):
            w.done = True  # (IOWait: forgets its watch)
        self.by_wait.clear()
        for fd in list(self.queues):
            del self.queues[fd]
            self._sync(fd)

    def _bury(self) -> None:
        keep = []
        for res in self.zombies:
            if res.fd in self.queues:  # still waited on
                keep.append(res)
            else:
                res.close()
        self.zombies = keep

    # ------------------------------------------------------------------ internals

    def _serve(self, q: deque) -> None:
        """Retry the attempts of q's fibers in order while they finish."""
        sched = self.sched
        while q:
            watch = q[0]
            w = watch.wait
            if w.done:
                q.popleft()
                self._abandon(watch)
                continue
            try:
                done, value = watch.attempt()
            except Retarget as r:  # wait on another descriptor from now on
                q.popleft()
                old_fd, watch.fd = watch.fd, r.fd
                try:
                    self._enqueue(watch)
                except RtError as e:
                    self._drop(watch)
                    sched.wake(w, error=sched.vm.make_error(e.cls, e.message))
                self._sync(old_fd)  # (it leaves the selector before it is closed)
                r.old.close()
                continue
            except RtError as e:
                q.popleft()
                self._finish(watch)
                sched.wake(w, error=sched.vm.make_error(e.cls, e.message))
                continue
            except OSError as e:  # an attempt should convert these itself
                q.popleft()
                self._finish(watch)
                sched.wake(w, error=sched.vm.make_error("IOError", host_reason(e)))
                continue
            if not done:
                return
            q.popleft()
            self._finish(watch)
            sched.wake(w, value)

    def _has_live(self, fd: int, event: int) -> bool:
        q = self.queues.get(fd)
        if q is None:
            return False
        q = q[0 if event == READ else 1]
        while q and q[0].wait.done:
            self._abandon(q.popleft())
        return bool(q)

    def _finish(self, watch: Watch) -> None:
        self.by_wait.pop(watch.wait, None)

    def _abandon(self, watch: Watch) -> None:
        """The fiber stopped waiting (cancelled) without the operation."""
        if self.by_wait.pop(watch.wait, None) is not None and watch.cleanup is not None:
            watch.cleanup()

    def _drop(self, watch: Watch) -> None:
        self._abandon(watch)
        q = self.queues.get(watch.fd)
        if q is not None:
            side = q[0 if watch.event == READ else 1]
            try:
                side.remove(watch)
            except ValueError:
                pass
        self._sync(watch.fd)

    def _sync(self, fd: int) -> None:
        """Register fd for exactly the directions live fibers wait for."""
        q = self.queues.get(fd)
        mask = 0
        if q is not None:
            for side, ev in ((q[0], READ), (q[1], WRITE)):
                while side and side[0].wait.done:
                    self._abandon(side.popleft())
                if side:
                    mask |= ev
            if not mask:
                del self.queues[fd]
        old = self.masks.get(fd, 0)
        if mask == old:
            return
        sel = self.sel
        if sel is None:
            sel = self.sel = selectors.DefaultSelector()
        try:
            if not mask:
                del self.masks[fd]
                sel.unregister(fd)
            elif not old:
                sel.register(fd, mask)
                self.masks[fd] = mask
            else:
                sel.modify(fd, mask)
                self.masks[fd] = mask
        except KeyError:  # pragma: no cover - the selector lost it (fd closed under us)
            self.masks.pop(fd, None)
        except (OSError, ValueError) as e:
            self.masks.pop(fd, None)  # (the selector drops a descriptor it failed on)
            if mask & ~old:  # only a new wait fails; giving one up never does
                raise RtError("IOError", f"cannot wait on descriptor {fd}: {host_reason(e)}") from None


def selectable_fd(stream: Any) -> int | None:
    """The descriptor of `stream` when waiting on it with select makes sense
    (a pipe, a terminal or other character device, a socket); None otherwise
    (no descriptor, such as io.StringIO, or a regular file, which never blocks)."""
    fileno = getattr(stream, "fileno", None)
    if fileno is None or os.name == "nt":  # (Windows selects on sockets only)
        return None
    try:
        fd = fileno()
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError, AttributeError):
        return None
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode):
        return fd
    return None


class StdinReader:
    """Line reads from a text stream on a pipe or terminal, without blocking
    the VM: `attempt()` returns a whole line (or nil at end of input) when one
    is available, else (False, None) so that the fiber waits for readiness.

    It reads through the stream itself (never behind its back), so lines the
    stream already buffered -- read ahead by an earlier readline, or by a host
    such as the REPL sharing the stream -- come first, and nothing is lost. To
    find out whether a line is there without blocking, the descriptor is put in
    non-blocking mode for the duration of one `readline()` (which then returns
    what it has when the descriptor has no more). Readiness before the read
    tells the end of input (readable, yet nothing read) from "nothing yet"."""

    def __init__(self, stream: Any, fd: int) -> None:
        self.stream = stream
        self.fd = fd
        self.partial = ""  # the start of a line whose end has not arrived yet

    def attempt(self) -> tuple[bool, Any]:
        while True:
            ready = self._readable()
            try:
                s = self._readline_nowait()
            except UnicodeDecodeError as e:
                if not ready:
                    return False, None  # half a character: wait for the rest
                raise RtError("IOError", f"stdin: {e.reason}") from None
            except OSError as e:
                raise RtError("IOError", f"stdin: {host_reason(e)}") from None
            if s.endswith("\n"):
                line, self.partial = self.partial + s, ""
                return True, strip_newline(line)
            self.partial += s
            if not ready:
                return False, None
            if not s:  # readable, yet nothing to read: the end of input
                line, self.partial = self.partial, ""
                return True, (line if line else None)

    def read_blocking(self) -> str | None:
        """A plain blocking read (inside a host callback, where no fiber may
        park). A failed read is the same guest IOError as in `attempt`."""
        try:
            s = self.stream.readline()
        except STREAM_ERRORS as e:  # as the plain input() (runtime/builtins.py)
            raise RtError("IOError", f"stdin: {host_reason(e)}") from None
        line, self.partial = self.partial + s, ""
        return strip_newline(line) if line else None

    def _readable(self) -> bool:
        try:
            if hasattr(select, "poll"):
                p = select.poll()
                p.register(self.fd, select.POLLIN)
                return bool(p.poll(0))
            return bool(select.select([self.fd], [], [], 0)[0])
        except (OSError, ValueError):
            return True  # cannot tell: let the read find out

    def _readline_nowait(self) -> str:
        fd = self.fd
        try:
            blocking = os.get_blocking(fd)
        except OSError:
            blocking = False
        if blocking:
            os.set_blocking(fd, False)
        try:
            return self.stream.readline()
        except BlockingIOError:
            return ""
        finally:
            if blocking:
                os.set_blocking(fd, True)


def strip_newline(line: str) -> str:
    if line[-1:] == "\n":
        line = line[:-1]
        if line[-1:] == "\r":
            line = line[:-1]
    return line
