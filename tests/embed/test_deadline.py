"""Deadlines (vm/limits.py): a per-VM default timeout and a per-call one, in
a busy loop and in every blocking wait; the VM is usable right after."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from tinyvm import DeadlineExceeded
from tinyvm.api import VM

WAITS = str(Path(__file__).resolve().parents[2] / "benchmarks" / "programs" / "limits" / "waits.tl")


def make(**kw) -> VM:
    vm = VM(stdout=io.StringIO(), **kw)
    vm.run_file(WAITS)
    return vm


@pytest.mark.parametrize("name", ["spin", "recv"])
def test_a_call_past_its_timeout_raises(name: str) -> None:
    vm = make()
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded) as info:
        vm.call(name, timeout=0.2)
    assert 0.15 < time.monotonic() - start < 2.0  # (generous: a shared machine)
    assert info.value.message == "timeout: the program ran longer than 200ms"
    assert info.value.limit == "timeout"


def test_sleep_never_outlives_the_deadline() -> None:
    vm = make()
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        vm.call("nap_for", 9500, timeout=0.1)
    assert time.monotonic() - start < 2.0


def test_the_vm_default_applies_to_each_run_and_a_call_may_narrow_it() -> None:
    vm = make(timeout=0.3)
    assert vm.call("nap_for", 10) == "woke"  # each run has its own deadline
    assert vm.call("nap_for", 10) == "woke"
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        vm.call("spin", timeout=0.1)
    assert time.monotonic() - start < 0.3 + 1.5
    with pytest.raises(DeadlineExceeded):
        vm.call("spin")


def test_the_next_call_starts_at_once_after_a_timeout() -> None:
    vm = make()
    with pytest.raises(DeadlineExceeded):
        vm.call("recv", timeout=0.1)  # leaves a fiber sleeping 60 s: dropped
    start = time.monotonic()
    assert vm.call("nap_for", 1) == "woke"
    assert time.monotonic() - start < 3.0  # (a leftover sleep would take 9.5 s or more; 3 s leaves room for CI load)


def test_bad_timeouts_are_refused() -> None:
    vm = make()
    with pytest.raises(ValueError):
        vm.call("nap_for", 1, timeout=0)


def test_a_sleep_longer_than_the_os_can_wait_still_waits_and_times_out() -> None:
    # sleep(1e300) is clamped to ~30 years; the selector takes at most a day
    # per wait (sched/io.py MAX_WAIT), so this once raised OverflowError from
    # poll() as a host traceback.
    vm = VM(stdout=io.StringIO(), timeout=0.2)
    with pytest.raises(DeadlineExceeded):
        vm.run_source("sleep(1e300)\n")
    with pytest.raises(DeadlineExceeded):
        vm.run_source('let t = spawn fn() { sleep(1e300) }()\nawait t\n')
