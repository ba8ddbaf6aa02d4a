"""Slow paths out of line and LLVM warmed up on the worker (jit/native/outofline.py, warmup.py; docs/native.md, "Compile time").

Structure, never time: the slow path of a Range's charge and of an array
made through `ArrayMaker.make` is one call of `tvm.make`, compiled once per
process and bound by name (no `PyObject_Vectorcall`, no stores of its
words, in the module); code calling it behaves as the interpreter where the
slow path is taken (heap snapshots' numbering, the memory limit), and an
object from the disk cache runs in a new process. A `--jit=native` VM
queues the warm-up as an idle job, which compiles the helper; `close()`
drops it while queued, so a short run's exit never waits for it.
"""

from __future__ import annotations

import io
import threading

import pytest

pytest.importorskip("llvmlite")

from native_helpers import fresh_processes, module_texts, native, same

from tinyvm.api import VM
from tinyvm.jit.native import outofline, warmup
from tinyvm.jit.native.worker import CompileWorker, Job

LOOPS = """
fn tri(n: int) -> int {
  var s = 0
  for j in 0..n {
    let rj = 0..j  // (kept, never read: its bytes charged; a for-range loop's own Range never is)
    for i in 0..j { s += i }
  }
  let rn = 0..n
  return s
}
fn fill(n: int) -> int {
  let a = Array(n, 7)
  return len(a) + a[n - 1]
}
var r = 0
var t = 0
while r < 40 { t += tri(r) + fill(r + 1); r += 1 }
print(t)
"""


def test_a_slow_path_is_one_call_of_the_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = module_texts(LOOPS, monkeypatch)
    tri = next(
        t for t in texts if "i64 16, i64 0" in t
    )  # (RANGE's op with its first word)
    assert (
        tri.count(f"call preserve_mostcc i64 @{outofline.NAME}(") == 2
    )  # (each kept Range: two lets)
    fill = next(t for t in texts if t is not tri and outofline.calls(t))
    for t in (tri, fill):
        assert "call i64 @PyObject_Vectorcall" not in t
        assert (
            "getelementptr i64, i64* %ctx, i64 12" not in t
        )  # (the op's word: the helper stores it)
    assert outofline._made  # (compiled in this process, bound before the load)


def test_compiled_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    module_texts(LOOPS, monkeypatch)
    made = list(outofline._made)
    module_texts(LOOPS, monkeypatch)  # (another VM, another Codegen)
    assert outofline._made == made and len(made) == 1


def test_the_slow_paths_behave_as_the_interpreter() -> None:
    same(LOOPS, "tri", "fill")
    same(
        LOOPS, "tri", extra=("--max-memory", "60000")
    )  # (past next_gc the helper refuses: the interpreter collects)


def test_with_snapshot_numbering_the_helper_makes_the_ranges() -> None:
    def run(jit: str) -> tuple:
        out = io.StringIO()
        log: list[str] = []
        vm = VM(jit=jit, stdout=out, jit_log=log.append)
        vm.machine.heap.number_objects()  # (every charge through the helper: ranges.make makes the Range)
        vm.run_source(LOOPS)
        return (out.getvalue(), vm.machine.heap.bytes, vm.machine.heap.count), log

    want, _ = run("off")
    got, log = run("native-eager")
    assert got == want and native("tri", log), log


def test_a_cached_object_calls_the_helper_in_a_new_process(tmp_path) -> None:
    runs = fresh_processes(LOOPS, tmp_path / "cache", "--max-memory", "60000")
    assert (
        runs[0].stdout == runs[1].stdout == "92490\n"
        and runs[0].returncode == runs[1].returncode == 0
    ), runs
    assert "range fails" in runs[1].stderr, runs[
        1
    ].stderr  # (past next_gc the helper refused: it ran, from the cached code)
    assert any(
        line.startswith("jit: native tri in ") and "cache hit" in line
        for line in runs[1].stderr.splitlines()
    ), runs[1].stderr


def test_close_drops_a_queued_idle_job_and_waits_for_the_others() -> None:
    w = CompileWorker("t")
    go = threading.Event()
    ran: list[str] = []
    busy = Job(lambda: (go.wait(30), ran.append("busy")), "busy")
    idle = Job(lambda: ran.append("idle"), "idle", idle=True)
    w.submit(busy)
    w.submit(idle)
    assert w.stats["jobs"] == 1  # (idle work is not counted as a compilation)
    closer = threading.Thread(target=w.close)
    closer.start()
    while not w.closing:
        pass
    go.set()
    closer.join(30)
    assert ran == ["busy"] and idle.done and idle.cancelled and not w.alive


def test_a_native_vm_warms_up_on_its_worker() -> None:
    vm = VM(jit="native", stdout=io.StringIO())
    nt = vm.machine.jit.native
    assert nt.warm_up is not None and nt.warm_up.idle
    nt.wait(60)
    from tinyvm.jit.native import sweep

    assert warmup.ran(nt.warm_up) == 3 and outofline._made and sweep._fn  # (the collector's loops too: the first collection does not compile them)
    vm.close()
    assert not nt.worker.alive
    eager = VM(jit="native-eager", stdout=io.StringIO())
    assert (
        eager.machine.jit.native.warm_up is None
    )  # (no worker: tests stay deterministic)


def test_a_running_warm_up_stops_at_its_next_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = CompileWorker("t")
    started, ran = threading.Event(), []

    def first() -> None:
        started.set()
        while not w.closing:  # (close() is called while this step runs)
            pass
        ran.append(1)

    monkeypatch.setattr(warmup, "_steps", lambda: [first, lambda: ran.append(2)])
    job = warmup.start(w)
    assert started.wait(30)
    w.close()
    assert ran == [1] and warmup.ran(job) == 1 and not w.alive
