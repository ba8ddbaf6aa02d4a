"""Green threads: the run queue, timers, channels, tasks and select (spec section 9).

One `Scheduler` per VM. Fibers run one at a time on the VM's dispatch loop
(`Machine.run`); a fiber gives the loop up in three ways:

* it blocks: a blocking operation (`ch.recv()`, `await t`, `sleep(ms)`...)
  parks it with a `Wait` and raises `Switch`;
* it yields: `yield_now()` puts it at the back of the run queue;
* it is preempted: after `budget` instructions, if another fiber is ready.

Order is deterministic: the run queue is FIFO (a spawned fiber joins the back;
the spawner keeps running), timers fire by deadline then by the order they were
set, and a woken fiber joins the back of the queue.

Blocking operations are "blocking natives": Python functions `(fb, args, ret)`
that either finish at once (push a result, return `ret`) or park the fiber
(`fb.resume = ret`) and raise `Switch`. Waking a fiber pushes the operation's
result onto its frame (or sets `resume_error`) and queues it.

Every switch is a GC safe point (vm/machine.py collects there when the heap
asked for it). So whatever a parked fiber will need must be reachable from a
root by then, not only from the blocking native's Python locals: its frames
(the receiver and arguments are popped from them), a channel's queue (a
parked sender's value is traced through its channel), the fiber's
`resume_error`, a finished task's `result`. A value only a closure holds (an
I/O attempt's conn) may be collected meanwhile: the socket types survive that
(stdlib/net.py: freeing one only closes it once nobody waits on it).
Each of those stores into an existing object (a channel's buffer or send
queue, a task's `result` and `resume_error`) is followed by the heap's write
barrier (docs/gc.md, "Write barriers"); what is pushed onto a fiber's frames
needs none (they are roots).

Fibers also wait on file descriptors (sockets, stdin): `io`, an `IOPoller`
(sched/io.py), registers a descriptor with a `selectors` selector while some
fiber waits on it. When nothing is ready, the loop waits in one `select` for
both the first timer and I/O. While fibers are ready, `poll_now` still fires
due timers and polls I/O (without waiting), at most every `POLL_INTERVAL`
seconds: between fibers, at preemption and in `yield_now`, so busy fibers
cannot starve sleepers or the network.

When nothing is ready, no timer can fire and no fiber waits on I/O, the
program is deadlocked: `DeadlockError` is raised in the main fiber, naming
every blocked fiber, what it waits on and where. A fiber waiting on I/O is
never part of a deadlock: something outside the program (a peer, the user)
can always wake it, so the VM waits for that instead.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from typing import Any, Callable

from ..heap.objects import HEADER, MISSING, SLOT, AsyncFunction, BoundMethod, Function, HeapObject, Record
from ..runtime.errors import RtError, Throw
from ..runtime.memory import element_charge
from .fiber import BLOCKED, DONE, READY, Fiber, Wait
from .io import POLL_INTERVAL, IOPoller
from ..runtime.values import typeof

_GONE: Any = ()  # a finished fiber's frame and frame stack
_NO_ERROR: Any = object()  # Scheduler.wake's "no error" (nil is an error value)
DEQUE = 624  # accounted bytes of an empty deque (Chan.size)
QUEUE_ENTRY = 64  # a (Wait, value, case) tuple in a channel's queue
DEFAULT_BUDGET = 8192  # instructions a fiber runs before another ready one gets a turn


class Switch(Exception):
    """Raised by a blocking operation after parking the current fiber: the
    dispatch loop picks the next fiber."""


class Chan(HeapObject):
    """A channel: `cap` 0 is unbuffered (a send waits for a receiver)."""

    __slots__ = ("buf", "cap", "closed", "recvq", "sendq", "id")
    type_name = "chan"

    def __init__(self, cap: int, cid: int) -> None:
        self.buf: deque = deque()
        self.cap = cap
        self.closed = False
        self.recvq: deque = deque()  # (Wait, mode, case)
        self.sendq: deque = deque()  # (Wait, value, case)
        self.id = cid

    def refs(self) -> list:
        out = list(self.buf)
        out.extend(v for _, v, _ in self.sendq)
        return out

    def size(self) -> int:
        # Three deques (624 bytes each when empty, in CPython 3.11), a slot per
        # buffered value, and a tuple per parked entry.
        return HEADER + 3 * DEQUE + SLOT * len(self.buf) + QUEUE_ENTRY * (len(self.recvq) + len(self.sendq))


# What a parked receiver wants pushed when a value arrives (Chan.recvq modes).
RECV = 0  # ch.recv(): the value (nil once closed and drained)
ITER = 1  # for v in ch: the value and whether there was one
SELECT = 2  # a select case: the case index and the value


class Scheduler:
    def __init__(self, vm: Any, budget: int = DEFAULT_BUDGET) -> None:
        self.vm = vm
        self.budget = max(1, budget)
        self.ready: deque[Fiber] = deque()
        self.timers: list = []  # heap of (deadline, seq, Wait, case)
        self.seq = 0
        # Spawned fibers not done yet, in spawn order (GC roots); a dict so
        # that a finishing fiber leaves in O(1).
        self.alive: dict[Fiber, None] = {}
        self.next_id = 1
        self.next_chan = 1
        self.main: Fiber | None = None
        self.clock: Callable[[], float] = time.monotonic
        self.io = IOPoller(self)  # fibers waiting on file descriptors
        self.next_poll = 0.0  # when poll_now looks at timers and I/O again
        # Callbacks other threads posted (post), run on the VM's thread.
        self.posted: deque[Callable[[], Any]] = deque()
        # Waits of parked fibers that a posted callback will complete (an
        # `async def` host function, embed/hostfn.py): while one is pending,
        # an idle scheduler waits for it instead of reporting a deadlock.
        self.awaited: set[Any] = set()

    def post(self, callback: Callable[[], Any]) -> None:
        """Thread-safe: run `callback()` on the VM's thread at the next
        scheduling point (between fibers, at a preemption, or at once if the
        VM waits), waking a blocking wait."""
        self.posted.append(callback)  # (deque.append is atomic)
        self.io.wake()

    def run_posted(self) -> None:
        posted = self.posted
        while posted:
            posted.popleft()()

    def expect(self, wait: Any) -> None:
        """VM thread: a posted callback will complete `wait` (its fiber parks until then)."""
        self.awaited.add(wait)

    def settle(self, wait: Any) -> None:
        """VM thread: the callback for `wait` ran."""
        self.awaited.discard(wait)

    @property
    def expecting(self) -> bool:
        """Some parked fiber still waits for a posted callback (one whose
        fiber was cancelled meanwhile no longer counts)."""
        if self.awaited:
            self.awaited = {w for w in self.awaited if not w.done}
        return bool(self.awaited)

    # ------------------------------------------------------------------ fibers

    def spawn(self, frame: list, proven: bool = False) -> Fiber:
        """A new fiber that will call fn(*args), given frame [fn, args...] (which
        becomes its stack); it joins the back of the queue. `proven`: the
        compiler proved or checked the arguments (SPAWN_GLOBAL)."""
        vm = self.vm
        self.next_id = fid = self.next_id + 1
        fn = frame[0]
        t = type(fn)
        if (t is Function or t is AsyncFunction) and fn.required <= len(frame) - 1 < fn.arity:
            frame += [MISSING] * (fn.arity - len(frame) + 1)  # tldefault: the prologue fills them
        if (t is Function or t is AsyncFunction) and fn.arity == len(frame) - 1 and (proven or fn.checks is None or self._enter(fn, frame)):
            # The common case, entered now as push_frame would: the fiber's
            # first op is fn's own. Its bottom frame ends the fiber: RETURN
            # pushes the result onto `frame` (the list is free by then).
            if fn.code_pad:
                frame += fn.code_pad
            fb = Fiber(fn.name, fid, frame, [(frame, vm.fiber_exit)], fn.entry)
        else:  # anything else is called when the fiber starts, and fails there
            fb = Fiber(fn.method.name if t is BoundMethod else fn.name, fid, frame, None, vm.start_op(len(frame) - 1))
        vm.heap.alloc(fb)
        self.alive[fb] = None
        self.ready.append(fb)
        if vm.hooks.on_fiber:
            vm.hooks.fiber("spawn", fb)
        return fb

    @staticmethod
    def _enter(fn: Function, frame: list) -> bool:
        """Apply fn's parameter checks to frame [fn, args...]; False if one
        fails (the fiber then makes the call, and fails, when it starts)."""
        checks = fn.checks
        if checks is not None:
            try:
                for i, check in checks.items:
                    frame[i] = check(frame[i])
            except RtError:
                return False
        return True

    def finish(self, fb: Fiber, result: Any, failed: bool = False) -> None:
        """fb is done: `result` is its return value, or its error if it failed."""
        if self.vm.hooks.on_fiber:
            self.vm.hooks.fiber("end", fb)
        fb.state = DONE
        fb.result = result
        heap = self.vm.heap
        if fb.mark == heap.watch:  # (the Task keeps its result: the write barrier, docs/gc.md)
            heap.barrier(fb, result)
        if failed:
            fb.failed = True
        fb.L = fb.frames = _GONE  # (done fibers are not run, but still sized)
        fb.resume = fb.resume_error = fb.wait = None
        self.alive.pop(fb, None)
        if fb.awaiters is not None:
            for w in fb.awaiters:
                if not w.done:
                    fb.observed = True
                    self.wake_await(w, fb)
            fb.awaiters = None

    def wake(self, w: Wait, *push: Any, error: Any = _NO_ERROR) -> None:
        """Complete wait w: push values onto the fiber's frame (or arrange for
        `error` to be raised there: any value, nil included, as `throw nil`
        fails a task with nil) and queue the fiber."""
        w.done = True
        fb = w.fiber
        fb.wait = None
        if error is not _NO_ERROR:
            fb.resume_error = Throw(error)
            heap = self.vm.heap
            if fb.mark == heap.watch:
                heap.barrier(fb, error)
        else:
            fb.L.extend(push)
        fb.state = READY
        self.ready.append(fb)

    def park(self, fb: Fiber, ret: Any, what: str, cases: int = 0, wait: Wait | None = None) -> Wait:
        """Park fb (to continue at ret) with a new Wait (or `wait`, made by the
        caller); the caller registers the Wait, then raises Switch."""
        if fb.nested:
            raise RtError("Error", f"cannot block ({what}) inside a host callback such as str()")
        self.check_cancel(fb)
        w = Wait(fb, what, cases) if wait is None else wait
        fb.wait = w
        fb.state = BLOCKED
        fb.resume = ret
        return w

    @staticmethod
    def check_cancel(fb: Fiber) -> None:
        """At a blocking point: a cancelled fiber never waits (sticky: every
        blocking operation after cancel() raises Cancelled again)."""
        if fb.cancelled:
            fb.cancel_pending = False
            raise RtError("Cancelled", "task was cancelled")

    def cancel(self, fb: Fiber) -> None:
        """t.cancel(): Cancelled is raised in fb at its next suspension point
        (at once if it is parked now)."""
        if fb.state == DONE or fb.cancel_pending:
            return
        fb.cancelled = True
        w = fb.wait
        if w is not None and not w.done:
            self.wake(w, error=self.vm.make_error("Cancelled", "task was cancelled"))
        elif fb.yielded:  # suspended in yield_now(): raise it there
            err = self.vm.make_error("Cancelled", "task was cancelled")
            fb.resume_error = Throw(err)
            heap = self.vm.heap
            if fb.mark == heap.watch:
                heap.barrier(fb, err)
        else:
            fb.cancel_pending = True

    # ------------------------------------------------------------------ the loop

    def next_fiber(self) -> Fiber | None:
        """The next fiber to run, waiting for timers and I/O if that is all
        there is; None when nothing can ever run again (deadlock, or all done)."""
        while True:
            if self.ready:
                self.poll_now()  # due timers and ready I/O join the queue too
                return self.ready.popleft()
            if not self.wait_for_work():
                return None

    def poll_now(self) -> bool:
        """Without waiting: wake the fibers whose timer is due or whose I/O is
        ready (looked at most every `POLL_INTERVAL` seconds). True when some
        fiber is ready. Called between fibers, and by the points where a fiber
        that never blocks could keep the loop to itself (preemption,
        `yield_now`), so busy fibers cannot starve sleepers or the network."""
        if self.posted:
            self.run_posted()
        if not (self.timers or self.io.masks):
            return bool(self.ready)
        now = self.clock()
        if now >= self.next_poll:
            self.next_poll = now + POLL_INTERVAL
            if self.timers and self.timers[0][0] <= now:
                self.fire_timers()
            if self.io.masks:
                self.io.poll(0)
        return bool(self.ready)

    def wait_for_work(self) -> bool:
        """Nothing is ready: wait until the first timer is due or a descriptor
        some fiber waits on is ready, and wake whoever that was. False when
        neither can ever happen (no live timer, no fiber waiting on I/O).
        The wait ends at the run's deadline, or when another thread interrupts
        the run or posts a callback (`post`); a limit reached then is raised.
        Before the VM goes idle it flushes its stdout, so that what a program
        printed (a server's "listening on ...") shows while it waits."""
        io = self.io
        limits = self.vm.limits
        timeout = self.timer_timeout()
        if timeout is None and not io.waiting and not self.posted and not self.expecting:  # (waiting: exact, see io.IOWait)
            return False
        if timeout != 0:
            self.flush_output()
        # One wait for timers, I/O, the deadline and the waker: an interrupt
        # or a post from another thread ends it (vm/limits.py).
        io.wait(limits.bound_wait(timeout), lambda: limits.interrupted or bool(self.posted))
        self.run_posted()
        if limits.armed:
            limits.check()
        self.fire_timers()
        return True

    def flush_output(self) -> None:
        flush = getattr(self.vm.stdout, "flush", None)
        if flush is not None:
            try:
                flush()
            except (OSError, ValueError):  # a closed pipe: the next print reports it
                pass

    def timer_timeout(self) -> float | None:
        """Seconds until the first live timer is due (0 if it is); None without one."""
        timers = self.timers
        while timers and timers[0][2].done:
            heapq.heappop(timers)
        if not timers:
            return None
        return max(0.0, timers[0][0] - self.clock())

    def fire_timers(self) -> bool:
        """Wake the fibers whose timers are due. False when there is no live
        timer at all."""
        timers = self.timers
        while timers and timers[0][2].done:
            heapq.heappop(timers)
        if not timers:
            return False
        now = self.clock()
        while timers and timers[0][0] <= now:
            _, _, w, case = heapq.heappop(timers)
            if not w.done:
                if w.cases:
                    self.wake(w, case, None)
                else:
                    self.wake(w, None)
        return True

    def add_timer(self, w: Wait, ms: Any, case: int = 0) -> None:
        if type(ms) not in (int, float) or type(ms) is bool:
            raise RtError("TypeError", f"sleep expects a number of milliseconds, got {typeof(ms)}")
        self.seq += 1
        # Clamped to about 30 years: longer is forever, and the OS's sleep
        # cannot take it (nan is 0).
        ms = min(max(0.0, ms), 1e12) if ms == ms else 0.0
        heapq.heappush(self.timers, (self.clock() + ms / 1000.0, self.seq, w, case))

    def blocked_report(self) -> str:
        """`name waits on X at place` for every blocked fiber, main first."""
        fibers = [self.main] if self.main is not None else []
        fibers += [f for f in self.alive if f is not self.main]
        parts = []
        for fb in fibers:
            if fb is None or fb.state != BLOCKED or fb.wait is None:
                continue
            parts.append(f"{self.describe(fb)} waits on {fb.wait.what} at {self.vm.resume_place(fb)}")
        return "; ".join(parts)

    @staticmethod
    def describe(fb: Fiber) -> str:
        return "main fiber" if fb.id <= 1 else f"fiber {fb.id} ({fb.name})"

    # ------------------------------------------------------------------ channels

    def make_chan(self, cap: Any = 0) -> Chan:
        if type(cap) is not int:
            raise RtError("TypeError", f"Chan expects an int capacity, got {typeof(cap)}")
        if cap < 0:
            raise RtError("ValueError", f"channel capacity must be >= 0, got {cap}")
        self.next_chan += 1
        return self.vm.heap.alloc(Chan(cap, self.next_chan - 1))

    @staticmethod
    def _live(q: deque) -> Any:
        while q and q[0][0].done:
            q.popleft()
        return q[0] if q else None

    def try_send(self, ch: Chan, v: Any) -> bool:
        """Send without blocking if possible; raises on a closed channel."""
        if ch.closed:
            raise RtError("Error", "send on closed channel")
        r = self._live(ch.recvq)
        if r is not None:
            ch.recvq.popleft()
            self.deliver(r, v, True)
            return True
        if len(ch.buf) < ch.cap:
            heap = self.vm.heap
            heap.charge(element_charge(v, heap))  # (the buffer grows)
            ch.buf.append(v)
            if ch.mark == heap.watch:  # (the write barrier: docs/gc.md)
                heap.barrier(ch, v)
            return True
        return False

    def try_recv(self, ch: Chan) -> tuple[bool, Any, bool]:
        """(done, value, ok): done False when a receiver would have to wait."""
        sq = ch.sendq
        while sq and sq[0][0].done:
            sq.popleft()
        if ch.buf:
            v = ch.buf.popleft()
            if sq:  # a parked sender's value moves into the buffer (within ch: no barrier)
                s = sq.popleft()
                ch.buf.append(s[1])
                self.sent(s)
            return True, v, True
        if sq:  # unbuffered: take the value from the parked sender
            s = sq.popleft()
            self.sent(s)
            return True, s[1], True
        if ch.closed:
            return True, None, False
        return False, None, False

    def deliver(self, entry: tuple, v: Any, ok: bool) -> None:
        w, mode, case = entry
        if mode == RECV:
            self.wake(w, v)
        elif mode == ITER:
            self.wake(w, v, ok)
        else:
            self.wake(w, case, v)

    def sent(self, entry: tuple) -> None:
        w, _, case = entry
        if w.cases:
            self.wake(w, case, None)
        else:
            self.wake(w, None)

    def close(self, ch: Chan) -> None:
        if ch.closed:
            raise RtError("Error", "close of closed channel")
        ch.closed = True
        while ch.recvq:
            entry = ch.recvq.popleft()
            if not entry[0].done:
                self.deliver(entry, None, False)
        while ch.sendq:
            w = ch.sendq.popleft()[0]
            if not w.done:
                self.wake(w, error=self.vm.make_error("Error", "send on closed channel"))

    def send(self, fb: Fiber, ch: Chan, v: Any, ret: Any) -> Any:
        # The hot path of channel code: try_send inlined (calling it costs
        # about 7% of an unbuffered ping-pong's time).
        if fb.cancelled:
            self.check_cancel(fb)
        if ch.closed:
            raise RtError("Error", "send on closed channel")
        q = ch.recvq
        while q:
            entry = q.popleft()
            if not entry[0].done:
                self.deliver(entry, v, True)
                fb.L.append(None)
                return ret
        if len(ch.buf) < ch.cap:
            heap = self.vm.heap
            heap.charge(element_charge(v, heap))  # (the buffer grows)
            ch.buf.append(v)
            if ch.mark == heap.watch:  # (the write barrier: docs/gc.md)
                heap.barrier(ch, v)
            fb.L.append(None)
            return ret
        w = self.park(fb, ret, "send to chan %d" % ch.id)
        ch.sendq.append((w, v, 0))  # (the channel holds the value while the sender waits)
        heap = self.vm.heap
        if ch.mark == heap.watch:
            heap.barrier(ch, v)
        raise Switch

    def recv(self, fb: Fiber, ch: Chan, ret: Any, mode: int = RECV) -> Any:
        if fb.cancelled:
            self.check_cancel(fb)
        done, v, ok = self.try_recv(ch)
        if done:
            fb.L.append(v)
            if mode == ITER:
                fb.L.append(ok)
            return ret
        w = self.park(fb, ret, "recv from chan %d" % ch.id)
        ch.recvq.append((w, mode, 0))
        raise Switch

    # ------------------------------------------------------------------ tasks

    def await_task(self, fb: Fiber, t: Any, ret: Any) -> Any:
        if type(t) is not Fiber:
            raise RtError("TypeError", f"await expects a task, got {typeof(t)}")
        if t is fb:
            raise RtError("Error", "a task cannot await itself")
        self.check_cancel(fb)
        if t.state == DONE:
            t.observed = True
            if t.failed:
                raise Throw(t.result)
            fb.L.append(t.result)
            return ret
        w = self.park(fb, ret, f"await {self.describe(t)}")
        if t.awaiters is None:
            t.awaiters = [w]
        else:
            t.awaiters.append(w)
        raise Switch

    def wake_await(self, w: Wait, t: Fiber) -> None:
        if t.failed:
            self.wake(w, error=t.result)
        else:
            self.wake(w, t.result)

    # ------------------------------------------------------------------ select

    def select(self, fb: Fiber, cases: tuple, values: list, ret: Any) -> Any:
        """Commit the first ready case in order, else `default`, else park on
        all of them. Pushes (case index, received value or nil)."""
        self.check_cancel(fb)
        i = 0
        for n, kind in enumerate(cases):
            if kind == "recv":
                ch = self._chan(values[i], "recv")
                i += 1
                done, v, _ = self.try_recv(ch)
                if done:
                    fb.L.extend((n, v))
                    return ret
            elif kind == "send":
                ch = self._chan(values[i], "send")
                if self.try_send(ch, values[i + 1]):
                    fb.L.extend((n, None))
                    return ret
                i += 2
            elif kind == "sleep":
                i += 1
        if "default" in cases:  # only when no other case is ready, wherever listed
            fb.L.extend((cases.index("default"), None))
            return ret
        w = self.park(fb, ret, "select", len(cases))
        i = 0
        for n, kind in enumerate(cases):
            if kind == "recv":
                values[i].recvq.append((w, SELECT, n))
                i += 1
            elif kind == "send":
                ch, v = values[i], values[i + 1]
                ch.sendq.append((w, v, n))
                heap = self.vm.heap
                if ch.mark == heap.watch:
                    heap.barrier(ch, v)
                i += 2
            elif kind == "sleep":
                self.add_timer(w, values[i], n)
                i += 1
        raise Switch

    @staticmethod
    def _chan(v: Any, what: str) -> Chan:
        if type(v) is not Chan:
            raise RtError("TypeError", f"select {what} case needs a channel, got {typeof(v)}")
        return v


def make_record(vm: Any, fields: dict) -> Record:
    return vm.heap.alloc(Record(fields))
