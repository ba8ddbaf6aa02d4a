"""CPython's cyclic GC thresholds while VMs run (vm/machine.py host_gc_enter):
raised during a run, the host's own restored when the last run of the
process ends, also when runs on two threads overlap."""

from __future__ import annotations

import gc
import io
import threading

import pytest

from tinyvm.api import VM
from tinyvm.vm.machine import HOST_GC_GEN0, HOST_GC_GEN1

HOSTS = (1234, 7, 9)  # thresholds no default has: restored exactly or not


@pytest.fixture
def host_thresholds():
    saved = gc.get_threshold()
    gc.set_threshold(*HOSTS)
    yield
    gc.set_threshold(*saved)


def vm_seeing(seen: list, before=None) -> VM:
    vm = VM(stdout=io.StringIO())

    @vm.function
    def look() -> int:
        if before is not None:
            before()
        seen.append(gc.get_threshold())
        return 1

    vm.run_source("fn go() { return look() }")
    return vm


def test_a_run_raises_gen0_and_gen1_and_restores_the_hosts(host_thresholds):
    seen: list = []
    vm = vm_seeing(seen)
    assert vm.call("go") == 1
    assert seen == [(HOST_GC_GEN0, HOST_GC_GEN1, HOSTS[2])]
    assert gc.get_threshold() == HOSTS
    vm.close()


def test_higher_host_thresholds_are_kept(host_thresholds):
    gc.set_threshold(HOST_GC_GEN0 * 2, HOST_GC_GEN1 * 2, 3)
    seen: list = []
    vm = vm_seeing(seen)
    vm.call("go")
    assert seen == [(HOST_GC_GEN0 * 2, HOST_GC_GEN1 * 2, 3)]
    assert gc.get_threshold() == (HOST_GC_GEN0 * 2, HOST_GC_GEN1 * 2, 3)
    vm.close()


def test_overlapping_runs_on_two_threads_restore_the_hosts_once(host_thresholds):
    # A starts, B starts, A ends, B looks (still raised), B ends: restored.
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen_a: list = []
    seen_b: list = []

    def a_waits() -> None:
        a_in.set()
        assert b_in.wait(10)

    def b_waits() -> None:
        if not b_in.is_set():
            b_in.set()
            assert a_out.wait(10)

    vm_a = vm_seeing(seen_a, a_waits)
    vm_b = vm_seeing(seen_b, b_waits)

    def run_a() -> None:
        vm_a.call("go")
        a_out.set()

    ta = threading.Thread(target=run_a)
    ta.start()
    assert a_in.wait(10)
    tb = threading.Thread(target=vm_b.call, args=("go",))
    tb.start()
    ta.join(10)
    tb.join(10)
    assert not ta.is_alive() and not tb.is_alive()
    raised = (HOST_GC_GEN0, HOST_GC_GEN1, HOSTS[2])
    assert seen_a == [raised] and seen_b == [raised]  # (B looked after A's run ended)
    assert gc.get_threshold() == HOSTS
    vm_a.close()
    vm_b.close()
