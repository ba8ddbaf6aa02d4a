"""Callbacks posted to a VM from other threads (`Scheduler.post`).

A host thread (an asyncio loop finishing an `async def` host function the
guest called, api) must not touch the VM while it runs. It posts a callback
instead; the VM's own thread runs it at its next scheduling point
(`Scheduler.poll_now`, `wait_for_work`). While callbacks are *expected*
(`expect()`: a parked fiber waits for one), an idle scheduler waits on the
mailbox instead of reporting a deadlock.

This is the minimal version the embedding API needs; the limits work
(issue 12) owns waking a blocked selector, and may replace the waiting here
by its own wakeup.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

# While fibers also wait on I/O, the mailbox is looked at this often (seconds).
IO_SLICE = 0.01


class Mailbox:
    """Thread-safe queue of callbacks for the VM's thread."""

    def __init__(self) -> None:
        self.queue: deque[Callable[[], None]] = deque()
        self.cond = threading.Condition()
        # Waits of parked fibers that a posted callback will complete (VM
        # thread only). One that ended otherwise (the fiber was cancelled) no
        # longer keeps the scheduler waiting.
        self.waits: set[Any] = set()

    def expect(self, wait: Any) -> None:
        """A callback will complete `wait` (a fiber parks until it runs)."""
        self.waits.add(wait)

    def settle(self, wait: Any) -> None:
        """VM thread: the callback for `wait` ran."""
        self.waits.discard(wait)

    @property
    def expected(self) -> bool:
        """Some parked fiber still waits for a posted callback."""
        if self.waits:
            self.waits = {w for w in self.waits if not w.done}
        return bool(self.waits)

    def post(self, callback: Callable[[], None]) -> None:
        """Any thread: run `callback()` on the VM's thread soon."""
        with self.cond:
            self.queue.append(callback)
            self.cond.notify()

    def run_posted(self) -> bool:
        """VM thread: run the callbacks posted so far. True if any ran."""
        ran = False
        while True:
            with self.cond:
                if not self.queue:
                    return ran
                callback = self.queue.popleft()
            callback()
            ran = True

    def wait(self, timeout: float | None) -> bool:
        """VM thread: wait up to `timeout` seconds (None: until one comes) for a
        callback, then run what was posted. True if any ran."""
        with self.cond:
            if not self.queue:
                self.cond.wait(timeout)
        return self.run_posted()
