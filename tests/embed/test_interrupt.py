"""vm.interrupt() from another thread: a tight loop stops within a chunk, a
blocking wait (sleep, channel, select, input() on a pipe) is woken; the
latency bounds of issue 12 with generous margins (a shared machine). Also
machine.sched.post, which wakes the VM the same way."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import pytest

from tinyvm import Interrupted
from tinyvm.api import VM

WAITS = str(Path(__file__).resolve().parents[2] / "benchmarks" / "programs" / "limits" / "waits.tl")


@pytest.fixture
def pipe_vm():
    r, w = os.pipe()
    stdin = os.fdopen(r, "r")
    vm = VM(stdout=io.StringIO(), stdin=stdin, allow={"net": True})
    vm.run_file(WAITS)
    yield vm, w
    os.close(w)
    stdin.close()
    vm.close()


def latency(vm: VM, name: str) -> float:
    sent: list[float] = []

    def fire() -> None:
        sent.append(time.monotonic())
        vm.interrupt()

    t = threading.Timer(0.05, fire)
    t.start()
    with pytest.raises(Interrupted):
        vm.call(name)
    got = time.monotonic()
    t.join()
    return got - sent[0]


@pytest.mark.parametrize("name", ["spin", "calls", "nap", "recv", "choose", "read", "net_read"])
def test_interrupt_stops_the_call_soon(pipe_vm, name: str) -> None:
    vm, _ = pipe_vm
    assert latency(vm, name) < 0.5  # (the bounds are 10 and 50 ms: benchmarks/interrupt_latency.py)
    start = time.monotonic()
    assert vm.call("nap_for", 20) == "woke"  # nothing of the stopped call is left
    assert time.monotonic() - start < 3.0  # (a leftover sleep would take 9.5 s or more; 3 s leaves room for CI load)


def test_an_interrupt_without_a_run_does_not_stop_the_next(pipe_vm) -> None:
    vm, _ = pipe_vm
    vm.interrupt()
    assert vm.call("nap_for", 20) == "woke"


def test_input_after_an_interrupted_read_reads_the_next_line(pipe_vm) -> None:
    vm, w = pipe_vm
    latency(vm, "read")
    os.write(w, b"hello\n")
    assert vm.call("read") == "hello"


def test_post_runs_a_callback_on_the_vm_thread_and_wakes_it(pipe_vm) -> None:
    vm, _ = pipe_vm
    seen: list[object] = []
    sched = vm.machine.sched

    def from_thread() -> None:
        sched.post(lambda: seen.append(threading.current_thread()))

    threading.Timer(0.05, from_thread).start()
    start = time.monotonic()
    threading.Timer(0.3, vm.interrupt).start()
    with pytest.raises(Interrupted):
        vm.call("nap")
    assert seen == [threading.main_thread()]
    assert time.monotonic() - start < 2.0
