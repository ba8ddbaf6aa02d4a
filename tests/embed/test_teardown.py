"""A stopped run is torn down (Machine.teardown): its fibers never run guest
code again, its timers and waits are gone, and the next run starts at once.
Host exceptions (KeyboardInterrupt, SystemExit, a signal handler's) reach
the host unchanged; os.exit raises GuestExit."""

from __future__ import annotations

import _thread
import io
import signal
import threading
import time

import pytest

from tinyvm import GuestExit, Interrupted, OutOfFuel
from tinyvm.api import VM

PROGRAM = """
fn worker(ch) {
  try {
    sleep(9500)
  } finally {
    print("worker finally")
  }
  ch.send(1)
}
fn main_like() {
  let ch = Chan()
  spawn worker(ch)
  spawn worker(ch)
  var i = 0
  while true { i = i + 1 }
}
fn quick() { return 42 }
fn guarded(g) {
  try { g() } catch e { print("caught") } finally { print("finally") }
}
fn spin() {
  var i = 0
  while true { i = i + 1 }
}
"""


def make() -> tuple[VM, io.StringIO]:
    out = io.StringIO()
    vm = VM(stdout=out, meter_fuel=True)
    vm.run_source(PROGRAM)
    return vm, out


def assert_clean(vm: VM) -> None:
    m = vm.machine
    assert not m.running and m.fibers == [] and m.fiber is None and m.extra_roots == []
    assert not m.sched.alive and not m.sched.ready and not m.sched.timers and m.sched.io.waiting == 0


def test_a_limit_drops_the_runs_fibers_without_running_them() -> None:
    vm, out = make()
    with pytest.raises(OutOfFuel):
        vm.call("main_like", fuel=50_000)
    assert_clean(vm)
    start = time.monotonic()
    assert vm.call("quick") == 42  # no 9.5 s sleep left behind
    assert time.monotonic() - start < 3.0  # (a leftover sleep would take 9.5 s or more; 3 s leaves room for CI load)
    assert out.getvalue() == ""  # no finally ran


def test_os_exit_is_a_host_exception_and_never_exits() -> None:
    out = io.StringIO()
    vm = VM(stdout=out)
    with pytest.raises(GuestExit) as info:
        vm.run_source('import os\nprint("bye")\ntry { os.exit(7) } finally { print("no") }')
    assert info.value.status == 7
    assert out.getvalue() == "bye\n"
    assert_clean(vm)


def test_keyboard_interrupt_propagates_unchanged() -> None:
    vm, _ = make()
    # A process a shell without job control started in the background
    # inherits SIGINT ignored, and Python then installs no handler for it:
    # interrupt_main would do nothing and the run would never end. So the
    # test installs Python's own Ctrl-C handler for its duration.
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Timer(0.1, _thread.interrupt_main).start()
        with pytest.raises(KeyboardInterrupt):
            vm.call("main_like")
    finally:
        signal.signal(signal.SIGINT, old)
    assert_clean(vm)
    assert vm.call("quick") == 42


class HostTimeout(Exception):
    pass


def test_a_signal_handlers_exception_reaches_the_host_unchanged() -> None:
    vm, _ = make()

    def handler(signum, frame):
        raise HostTimeout("the host's own deadline")

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with pytest.raises(HostTimeout):
            vm.call("spin")
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with pytest.raises(TimeoutError):
            signal.signal(signal.SIGALRM, lambda s, f: (_ for _ in ()).throw(TimeoutError("alarm")))
            vm.call("main_like")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert_clean(vm)
    assert vm.call("quick") == 42


def test_system_exit_from_a_host_callback_propagates() -> None:
    from tinyvm.heap.objects import Native

    vm, out = make()

    def leave() -> None:
        raise SystemExit(3)

    with pytest.raises(SystemExit):
        vm.call("guarded", vm.machine.heap.alloc(Native("leave", leave, 0)))
    assert out.getvalue() == ""
    assert_clean(vm)
    assert vm.call("quick") == 42


def test_interrupt_tears_down_every_fiber_of_the_run() -> None:
    vm, out = make()
    threading.Timer(0.1, vm.interrupt).start()
    with pytest.raises(Interrupted):
        vm.call("main_like")
    assert_clean(vm)
    assert out.getvalue() == ""
