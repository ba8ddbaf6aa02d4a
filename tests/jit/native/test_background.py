"""Background compilation in `--jit=native` (jit/native/worker.py, jit/tier.py).

The interpreter does not wait for LLVM: with the worker held up, a program
whose hot function is being compiled runs to its end on the other tiers;
once the job is done the function's next call installs the native entry
(on the VM's thread) and runs natively. Output is the interpreter's
whatever the timing; each VM has its own worker, and closing or dropping
the VM stops it. No timed assertions: the tests hold the worker up with
its own lock rather than relying on how long anything takes.
"""

from __future__ import annotations

import gc
import io
import threading

import pytest

pytest.importorskip("llvmlite")

from native_helpers import cli

from tinyvm.api import VM

DEFS = """
fn poly(n: int) -> int {
  var s = 0
  for i in 0..n { s = (s * 31 + i * i) % 1000003 }
  return s
}
fn wave(x: float) -> float { return x * x - 0.5 * x + 0.125 }
"""
HOT = """
var t = 0
var w = 0.0
for k in 0..60 { t = (t + poly(k)) % 1000003
  w = w + wave(k * 0.5) }
print(t, w)
"""


def interpreted(src: str) -> str:
    out = io.StringIO()
    VM(stdout=out).run_source(src, "t.tl")
    return out.getvalue()


def native_vm(log: list[str]) -> tuple[VM, io.StringIO]:
    out = io.StringIO()
    return VM(stdout=out, jit="native", jit_threshold="5", jit_log=log.append), out


def test_the_program_runs_on_while_llvm_works_then_the_entry_is_installed() -> None:
    log: list[str] = []
    vm, out = native_vm(log)
    nt = vm.machine.jit.native
    assert nt.background
    nt.cache = None  # (a cache hit would install synchronously)
    released = threading.Event()
    nt.codegen.lock.acquire()  # the worker blocks in code generation until released
    guard = threading.Timer(60, lambda: (released.set(), nt.codegen.lock.release()))
    guard.start()
    try:
        vm.run_source(DEFS + HOT, "t.tl")  # would never end if the VM waited for the worker
        assert not released.is_set(), "the VM waited for the compile thread"
        assert out.getvalue() == interpreted(DEFS + HOT)
        assert set(nt.pending) and nt.stats["native_calls"] == 0  # submitted, nothing installed
        assert not any(x.startswith("jit: native poly in") for x in log)
    finally:
        if not released.is_set():
            guard.cancel()
            nt.codegen.lock.release()
    assert nt.wait(60)
    vm.run_source("print(poly(100), wave(2.0))", "u.tl")  # the next call installs and runs natively
    assert out.getvalue().splitlines()[-1] == interpreted(DEFS + "print(poly(100), wave(2.0))").strip()
    line = next(x for x in log if x.startswith("jit: native poly in "))
    assert "background" in line and "cache off" in line, log
    assert nt.stats["native_calls"] >= 2 and not nt.pending
    assert vm.machine.jit.codes[next(c for c in nt.compiled if c.name == "poly")].entry0 is not None
    vm.close()


def test_output_does_not_depend_on_when_code_is_ready() -> None:
    src = DEFS + HOT + HOT.replace("var t", "var t2").replace("t =", "t2 =").replace("(t +", "(t2 +").replace("print(t,", "print(t2,").replace("var w", "var w2").replace("w =", "w2 =").replace("w +", "w2 +").replace(", w)", ", w2)")
    want = interpreted(src)
    for _ in range(3):
        log: list[str] = []
        vm, out = native_vm(log)
        vm.run_source(src, "t.tl")
        vm.close()
        assert out.getvalue() == want
        assert any(x.startswith("jit: native poly in ") for x in log), log  # (logged at close at the latest)


def test_close_stops_the_worker_and_later_code_compiles_synchronously() -> None:
    log: list[str] = []
    vm, out = native_vm(log)
    nt = vm.machine.jit.native
    nt.cache = None
    vm.run_source(DEFS + HOT, "t.tl")
    nt.wait(60)
    vm.close()
    assert not nt.worker.alive
    vm.run_source("fn late(n: int) -> int { return n * 3 }\nfor i in 0..10 { late(i) }\nprint(late(14))", "u.tl")
    assert out.getvalue().endswith("42\n")
    line = next(x for x in log if x.startswith("jit: native late in "))
    assert "synchronous" in line and not nt.worker.alive


def test_close_finishes_the_queued_jobs_then_stops() -> None:
    log: list[str] = []
    vm, out = native_vm(log)
    nt = vm.machine.jit.native
    nt.cache = None
    nt.codegen.lock.acquire()
    try:
        vm.run_source(DEFS + HOT, "t.tl")
        assert len(nt.pending) == 2  # poly running (blocked), wave queued
    finally:
        threading.Timer(0.2, nt.codegen.lock.release).start()
    vm.close()  # both finish (and are logged), then the thread ends
    assert not nt.worker.alive and not nt.pending
    assert out.getvalue() == interpreted(DEFS + HOT)
    assert {x.split()[2] for x in log if x.startswith("jit: native ")} == {"poly", "wave"}, log
    vm.run_source("print(wave(1.0), poly(7))", "u.tl")
    assert out.getvalue().splitlines()[-1] == interpreted(DEFS + "print(wave(1.0), poly(7))").strip()
    assert nt.stats["native_calls"] == 2


def test_each_vm_has_its_own_worker_and_dropping_a_vm_stops_it() -> None:
    vms = []
    for _ in range(3):
        log: list[str] = []
        vm, out = native_vm(log)
        vm.machine.jit.native.cache = None
        vm.run_source(DEFS + HOT, "t.tl")
        vms.append((vm, out, log))
    workers = [vm.machine.jit.native.worker for vm, _, _ in vms]
    assert len({id(w) for w in workers}) == 3
    for vm, out, _ in vms:
        assert out.getvalue() == interpreted(DEFS + HOT)
        vm.machine.jit.native.wait(60)
    threads = [w._thread for w in workers]
    del vms, vm, out
    gc.collect()
    for w, t in zip(workers, threads):
        if t is not None:
            t.join(30)
            assert not t.is_alive()
        assert w._closed  # the tier's finalizer closed it


def test_the_cli_in_native_mode_logs_background_compiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TVM_NATIVE_CACHE", "off")  # (a hit is installed synchronously)
    code, out, err = cli(["run", "--jit=native", "--jit-log", "--jit-threshold=5", "-e", DEFS + HOT])
    assert code == 0 and out == interpreted(DEFS + HOT)
    assert "jit: native poly in" in err and "background" in err


def test_a_running_job_shortens_the_switch_interval_and_the_last_puts_it_back() -> None:
    # While a job runs (a compilation, or the warm-up a compilation may
    # wait behind), the process's switch interval is worker.HURRY (the VM
    # thread hands the GIL back to each returning llvmlite call sooner); two
    # workers (two VMs) share one count; the old value comes back after the
    # last.
    import sys

    from tinyvm.jit.native import worker
    from tinyvm.jit.native.worker import CompileWorker, Job

    old = sys.getswitchinterval()
    sys.setswitchinterval(0.004)
    try:
        seen: dict[str, float] = {}
        a_go, b_go, b_started = threading.Event(), threading.Event(), threading.Event()

        def a_body() -> None:
            seen["a"] = sys.getswitchinterval()
            a_go.wait(30)

        def b_body() -> None:
            b_started.set()
            b_go.wait(30)
            seen["b after a"] = sys.getswitchinterval()

        w1, w2 = CompileWorker("t1"), CompileWorker("t2")
        idle = Job(lambda: seen.setdefault("idle", sys.getswitchinterval()), "idle", idle=True)
        w1.submit(idle)
        assert idle.wait(30)
        a, b = Job(a_body, "a"), Job(b_body, "b")
        w1.submit(a)
        w2.submit(b)
        assert b_started.wait(30)
        a_go.set()
        assert a.wait(30)
        assert sys.getswitchinterval() == worker.HURRY  # (b still runs)
        b_go.set()
        assert b.wait(30)
        w1.close()
        w2.close()
        assert seen == {"idle": worker.HURRY, "a": worker.HURRY, "b after a": worker.HURRY}
        assert sys.getswitchinterval() == 0.004
        # a host's interval shorter than HURRY is left as it is
        sys.setswitchinterval(worker.HURRY / 2)
        w3 = CompileWorker("t3")
        c = Job(lambda: seen.setdefault("c", sys.getswitchinterval()), "c")
        w3.submit(c)
        assert c.wait(30)
        w3.close()
        assert seen["c"] == worker.HURRY / 2 == sys.getswitchinterval()
    finally:
        sys.setswitchinterval(old)
