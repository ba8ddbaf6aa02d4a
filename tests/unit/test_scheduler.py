"""The fiber scheduler seen from the host (vm/scheduler.py, spec section 9):
`tvm run --budget N` (preemption granularity), `tvm run --warn-leaks` (fibers
still blocked when the main fiber ends), the warning for a failed task nobody
awaited, and the same options through the embedding API. The language-level
rules are in tests/lang/09_concurrency; these are what the lang runner cannot
pass (command-line options) or check (the whole of stderr)."""

from __future__ import annotations

import io
import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from tinyvm.api import VM
from tinyvm.cli.main import main
from tinyvm.runtime.errors import GuestException
from tinyvm.sched.scheduler import DEFAULT_BUDGET


TIME_LIMIT = 20.0  # seconds per program: a scheduling bug may make one spin forever


class ProgramTimeout(BaseException):
    pass


@contextmanager
def time_limit(seconds: float):
    """Raise ProgramTimeout in the test after `seconds` (POSIX main thread only)."""
    armed = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not armed:
        yield
        return

    def handler(signum, frame):
        raise ProgramTimeout(f"program still running after {seconds:g}s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run(tmp_path: Path, source: str, *flags: str, name: str = "prog.tl") -> tuple[int, str, str]:
    """`tvm run FLAGS NAME` in-process, in tmp_path, with a time limit."""
    (tmp_path / name).write_text(source, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with time_limit(TIME_LIMIT):
            code = main(["run", *flags, name], stdin=io.StringIO(""), stdout=out, stderr=err)
    except ProgramTimeout as e:
        pytest.fail(f"{e}\n--- stdout so far ---\n{out.getvalue()}--- stderr so far ---\n{err.getvalue()}", pytrace=False)
    finally:
        os.chdir(cwd)
    return code, out.getvalue(), err.getvalue()


def lines(text: str) -> list[str]:
    return text.splitlines()


# --------------------------------------------------------------------------- --warn-leaks

LEAKY = """\
let ch = Chan()
let other = Chan(1)
fn receiver() { ch.recv() }
fn sender() { ch.send(1); ch.send(2) }
fn sleeper() { sleep(100000) }
fn selector() {
  select {
    case v = other.recv() { }
    case sleep(100000) { }
  }
}
let r = spawn receiver()
let s = spawn sender()
let z = spawn sleeper()
let q = spawn selector()
fn awaiter() { await z }
spawn awaiter()
fn quick() { return 1 }
spawn quick()
yield_now()
print("main ends")
"""

LEAK_WARNINGS = [
    "warning: fiber 3 (sender) still waits on send to chan 1 at sender (prog.tl:4:27) when the main fiber ends",
    "warning: fiber 4 (sleeper) still waits on sleep(100000) at sleeper (prog.tl:5:16) when the main fiber ends",
    "warning: fiber 5 (selector) still waits on select at selector (prog.tl:7:3) when the main fiber ends",
    "warning: fiber 6 (awaiter) still waits on await fiber 4 (sleeper) at awaiter (prog.tl:16:16) when the main fiber ends",
]


def test_warn_leaks_names_each_blocked_fiber(tmp_path):
    # receiver got the first value and finished; quick finished too.
    code, out, err = run(tmp_path, LEAKY, "--warn-leaks")
    assert code == 0
    assert lines(out) == ["main ends"]
    assert lines(err) == LEAK_WARNINGS


def test_no_leak_warnings_without_the_flag(tmp_path):
    code, out, err = run(tmp_path, LEAKY)
    assert (code, lines(out), err) == (0, ["main ends"], "")


def test_warn_leaks_is_quiet_when_every_fiber_finished(tmp_path):
    src = """\
let ch = Chan()
fn worker() { ch.send("hi") }
let t = spawn worker()
print(ch.recv())
await t
"""
    assert run(tmp_path, src, "--warn-leaks") == (0, "hi\n", "")


def test_warn_leaks_does_not_count_ready_fibers(tmp_path):
    # A fiber that is ready (never started, or yielding) is not blocked.
    src = """\
fn spinner() { while true { yield_now() } }
spawn spinner()
fn later() { print("later runs") }
spawn later()
print("main ends")
"""
    code, out, err = run(tmp_path, src, "--warn-leaks")
    assert code == 0
    assert lines(out) == ["main ends", "later runs"]
    assert err == ""


def test_warn_leaks_with_a_failing_main_fiber(tmp_path):
    src = """\
fn sleeper() { sleep(100000) }
spawn sleeper()
yield_now()
throw Error("main fails")
"""
    code, out, err = run(tmp_path, src, "--warn-leaks")
    assert code == 1
    assert "warning: fiber 2 (sleeper) still waits on sleep(100000) at sleeper (prog.tl:1:16) when the main fiber ends" in lines(err)
    assert "error: Error: main fails" in lines(err)


def test_warn_leaks_through_the_api(tmp_path):
    vm = VM(warn_leaks=True, stdout=io.StringIO())
    vm.run_source("let c = Chan()\nfn w() { c.recv() }\nspawn w()\nyield_now()\n", path="api.tl")
    assert vm.warnings == ["warning: fiber 2 (w) still waits on recv from chan 1 at w (api.tl:2:10) when the main fiber ends"]
    quiet = VM(stdout=io.StringIO())
    quiet.run_source("let c = Chan()\nfn w() { c.recv() }\nspawn w()\nyield_now()\n", path="api.tl")
    assert quiet.warnings == []


# --------------------------------------------------------------------------- failed tasks nobody awaited

def test_unawaited_failure_is_reported_once_at_the_end(tmp_path):
    src = """\
fn bad(msg) { throw ValueError(msg) }
spawn bad("first")
let t = spawn bad("awaited")
spawn bad("second")
yield_now()
try { await t } catch e { print("caught", e.message) }
print("main ends")
"""
    code, out, err = run(tmp_path, src)
    assert code == 0
    assert lines(out) == ["caught awaited", "main ends"]
    assert lines(err) == [
        "warning: fiber 2 (bad) failed and was never awaited: ValueError: first",
        "warning: fiber 4 (bad) failed and was never awaited: ValueError: second",
    ]


def test_failure_awaited_after_it_happened_is_not_reported(tmp_path):
    src = """\
fn bad() { throw Error("late") }
let t = spawn bad()
yield_now()
yield_now()
print(t.done())
try { await t } catch e { print(e.message) }
"""
    assert run(tmp_path, src) == (0, "true\nlate\n", "")


def test_cancelled_tasks_are_not_reported(tmp_path):
    # Cancelled by t.cancel() and never awaited, or cancelled at program end.
    src = """\
fn sleeper() { sleep(100000) }
let t = spawn sleeper()
spawn sleeper()
yield_now()
t.cancel()
yield_now()
print(t.done())
"""
    assert run(tmp_path, src) == (0, "true\n", "")


def test_unawaited_non_error_value_is_not_an_error_instance(tmp_path):
    # Only Error instances are reported (a thrown string has no class).
    src = 'fn bad() { throw "plain" }\nspawn bad()\nyield_now()\nprint("end")\n'
    code, out, err = run(tmp_path, src)
    assert (code, out) == (0, "end\n")


def test_unawaited_failure_survives_garbage_collection(tmp_path):
    # The Task is dropped by the program; collections between its failure and
    # the end of the program must not free it before it is reported.
    src = """\
fn bad() { throw Error("boom") }
spawn bad()
yield_now()
var keep = []
for i in 0..2000 { keep = [i, [i]] }
print("end")
"""
    code, out, err = run(tmp_path, src, "--gc-stress")
    assert (code, out) == (0, "end\n")
    assert lines(err) == ["warning: fiber 2 (bad) failed and was never awaited: Error: boom"]


def test_unawaited_failure_and_main_error_are_both_shown(tmp_path):
    src = 'fn bad() { throw Error("lost") }\nspawn bad()\nyield_now()\nthrow Error("main")\n'
    code, out, err = run(tmp_path, src)
    assert code == 1
    assert "error: Error: main" in lines(err)
    assert "warning: fiber 2 (bad) failed and was never awaited: Error: lost" in lines(err)


def test_api_warnings_list_unawaited_failures():
    vm = VM(stdout=io.StringIO())
    vm.run_source('fn bad() { throw KeyError("k") }\nspawn bad()\n', path="api.tl")
    assert vm.warnings == ["warning: fiber 2 (bad) failed and was never awaited: KeyError: k"]


# --------------------------------------------------------------------------- --budget

# Programs whose output does not depend on where fibers are preempted.
BUDGET_INVARIANT = {
    "pipeline": """\
fn generate(out, n) {
  for i in 1..=n { out.send(i) }
  out.close()
}
fn square(inp, out) {
  for v in inp { out.send(v * v) }
}
let nums = Chan()
let squares = Chan(3)
spawn generate(nums, 20)
let ws = [spawn square(nums, squares), spawn square(nums, squares), spawn square(nums, squares)]
fn closer() {
  for w in ws { await w }
  squares.close()
}
spawn closer()
var sum = 0
var count = 0
for v in squares { sum += v; count += 1 }
print(sum, count)
""",
    "ordered_channel": """\
let ch = Chan()
fn producer() {
  for i in 0..30 { ch.send(i * 3) }
  ch.close()
}
spawn producer()
var got = []
for v in ch { got.push(v) }
print(got.len(), got[0], got[29])
""",
    "busy_fibers": """\
var stop = false
var total = 0
fn busy(n) {
  var i = 0
  while i < n { i += 1 }
  total += i
  return i
}
let ts = [spawn busy(3000), spawn busy(5000), spawn busy(7000)]
var results = []
for t in ts { results.push(await t) }
print(results, total)
""",
    "await_errors": """\
fn work(i) {
  var s = 0
  for k in 0..200 { s += k }
  if i % 2 == 1 { throw ValueError("odd ${i}") }
  return s + i
}
var out = []
var ts = []
for i in 0..6 { ts.push(spawn work(i)) }
for t in ts {
  try { out.push(await t) } catch e { out.push(e.message) }
}
print(out)
""",
    "generators": """\
fn fib() {
  var a = 0
  var b = 1
  while true {
    yield a
    let t = a + b
    a = b
    b = t
  }
}
fn take(n, g) {
  var k = 0
  for v in g {
    if k == n { return }
    yield v
    k += 1
  }
}
fn collect(g) {
  var xs = []
  for v in g { xs.push(v) }
  return xs
}
let t1 = spawn collect(take(10, fib()))
let t2 = spawn collect(take(5, fib()))
print(await t1, await t2)
""",
    "select_timeout": """\
let never = Chan()
let ch = Chan(1)
fn later() {
  sleep(5)
  ch.send("value")
}
spawn later()
select {
  case v = never.recv() { print("no") }
  case sleep(20000) { print("no") }
  case v = ch.recv() { print("got", v) }
}
select {
  case v = never.recv() { print("no") }
  case sleep(5) { print("timeout") }
}
""",
    "deadlock": """\
let ch = Chan()
fn worker() { ch.recv() }
let t = spawn worker()
try { await t } catch e { print(typeof(e)) }
""",
}

BUDGET_EXPECTED = {
    "pipeline": "2870 20\n",
    "ordered_channel": "30 0 87\n",
    "busy_fibers": "[3000, 5000, 7000] 15000\n",
    "await_errors": '[19900, "odd 1", 19902, "odd 3", 19904, "odd 5"]\n',
    "generators": "[0, 1, 1, 2, 3, 5, 8, 13, 21, 34] [0, 1, 1, 2, 3]\n",
    "select_timeout": "got value\ntimeout\n",
    "deadlock": "DeadlockError\n",
}


@pytest.mark.parametrize("budget", ["1", "2", "3", "7", "100", str(DEFAULT_BUDGET), "1000000"])
@pytest.mark.parametrize("name", sorted(BUDGET_INVARIANT))
def test_output_does_not_depend_on_the_budget(tmp_path, name, budget):
    code, out, err = run(tmp_path, BUDGET_INVARIANT[name], "--budget", budget)
    assert (code, out, err) == (0, BUDGET_EXPECTED[name], "")


INTERLEAVED = """\
var log = []
var stop = false
fn busy(name) {
  var n = 0
  while not stop {
    n += 1
    if n % 50 == 0 { log.push(name) }
  }
}
let a = spawn busy("a")
let b = spawn busy("b")
while log.len() < 40 { }
stop = true
await a
await b
print(log.slice(0, 40).join(""))
"""


@pytest.mark.parametrize("budget", ["1", "5", "64", "1000"])
def test_preemption_is_deterministic(tmp_path, budget):
    first = run(tmp_path, INTERLEAVED, "--budget", budget)
    second = run(tmp_path, INTERLEAVED, "--budget", budget)
    assert first[0] == 0 and first[2] == ""
    assert first == second
    assert set(first[1].strip()) == {"a", "b"}  # both busy fibers made progress


def test_a_smaller_budget_switches_more_often(tmp_path):
    # With budget 1, every instruction is a preemption point: two busy fibers
    # interleave finely; with a huge budget, the first runs alone until it is
    # done or the main fiber gets back.
    src = """\
var log = []
fn count(name) {
  for i in 0..5 { log.push(name) }
}
let a = spawn count("a")
let b = spawn count("b")
await a
await b
print(log.join(""))
"""
    assert run(tmp_path, src, "--budget", "1000000")[1] == "aaaaabbbbb\n"
    fine = run(tmp_path, src, "--budget", "1")[1].strip()
    assert sorted(fine) == sorted("aaaaabbbbb") and fine != "aaaaabbbbb"


def test_budget_one_with_gc_stress(tmp_path):
    code, out, err = run(tmp_path, BUDGET_INVARIANT["pipeline"], "--gc-stress", "--budget", "1")
    assert (code, out, err) == (0, BUDGET_EXPECTED["pipeline"], "")


@pytest.mark.parametrize("budget", ["1", "2", "4", "8", "100"])
def test_finally_blocks_run_at_program_end_whatever_the_budget(tmp_path, budget):
    # The fibers still blocked when the main fiber ends are cancelled and run
    # to their end: their finally blocks must run, and to completion, however
    # small the budget (a finally block is not cut short by a preemption).
    src = """\
fn worker(name) {
  try {
    sleep(100000)
  } finally {
    var n = 0
    for i in 0..20 { n += i }
    print(name, "cleanup", n)
  }
}
spawn worker("a")
spawn worker("b")
yield_now()
print("main ends")
"""
    code, out, err = run(tmp_path, src, "--budget", budget)
    assert (code, lines(out), err) == (0, ["main ends", "a cleanup 190", "b cleanup 190"], "")


@pytest.mark.parametrize("budget", ["1", "3", "100"])
def test_cancelled_fiber_catch_block_runs_whatever_the_budget(tmp_path, budget):
    src = """\
fn sleeper() {
  try {
    sleep(100000)
  } catch e {
    print("caught", e.message)
    throw e
  } finally {
    print("finally")
  }
}
let t = spawn sleeper()
yield_now()
t.cancel()
try { await t } catch e { print("await:", e.message) }
"""
    code, out, err = run(tmp_path, src, "--budget", budget)
    assert (code, lines(out), err) == (0, ["caught task was cancelled", "finally", "await: task was cancelled"], "")


@pytest.mark.parametrize("args", [["--budget", "0"], ["--budget", "-3"], ["--budget", "x"], ["--budget"]])
def test_bad_budget_is_a_usage_error(tmp_path, args):
    code, out, err = run(tmp_path, 'print("never")\n', *args)
    assert code == 64
    assert out == ""
    assert "--budget needs a positive integer" in err


def test_help_lists_budget_and_warn_leaks():
    out = io.StringIO()
    assert main(["--help"], stdout=out) == 0
    text = out.getvalue()
    assert "--budget N" in text and "--warn-leaks" in text


def test_budget_through_the_api():
    out = io.StringIO()
    vm = VM(budget=1, stdout=out)
    vm.run_source(BUDGET_INVARIANT["busy_fibers"])
    assert out.getvalue() == BUDGET_EXPECTED["busy_fibers"]
    assert vm.machine.sched.budget == 1


# --------------------------------------------------------------------------- the embedding API

def test_call_into_a_program_that_uses_fibers():
    out = io.StringIO()
    vm = VM(stdout=out)
    vm.run_source("""\
fn fan_out(n) {
  let ch = Chan(n)
  fn worker(i) { ch.send(i * i) }
  for i in 0..n { spawn worker(i) }
  var total = 0
  for i in 0..n { total += ch.recv() }
  return total
}
async fn later(x) { yield_now(); return x + 1 }
fn both() { return [await later(1), await later(2)] }
""")
    assert vm.call("fan_out", 5) == 30
    assert vm.call("fan_out", 10) == 285
    assert vm.call("both") == [2, 3]


def test_guest_exception_keeps_its_error_after_cleanup_fibers_ran():
    # The main fiber fails; the cancelled fibers then run (and allocate) before
    # the error reaches the host: the error value must still be alive.
    vm = VM(gc_stress=True, stdout=io.StringIO())
    src = """\
fn bg() {
  try { sleep(100000) } finally {
    var xs = []
    for i in 0..20 { xs.push([i]) }
  }
}
spawn bg()
yield_now()
throw ValueError("main failed")
"""
    with pytest.raises(GuestException) as info:
        vm.run_source(src)
    assert info.value.class_name == "ValueError"
    assert info.value.value.fields["message"] == "main failed"


def test_deadlock_through_the_api():
    vm = VM(stdout=io.StringIO())
    with pytest.raises(GuestException) as info:
        vm.run_source("let c = Chan()\nc.recv()\n", path="dl.tl")
    assert info.value.class_name == "DeadlockError"
    assert info.value.message == "all fibers are blocked: main fiber waits on recv from chan 1 at <module> (dl.tl:2:1)"


# --------------------------------------------------------------------------- cancellation at preemption points

GEN_UNDER_CANCEL = """\
fn gen() { yield 1 }
var gens = []
fn worker() {
  for k in 0..100 {
    let g = gen()
    gens.push(g)
    try { g.next(); g.next() } catch e { return "caught" }
  }
  return "finished"
}
let t = spawn worker()
t.cancel()
try { print(await t) } catch e { print("await", e.message) }
var stuck = 0
for g in gens {
  try { g.next() } catch e { stuck += 1 }
}
print("stuck", stuck)
"""


def test_cancelled_at_a_preemption_point_never_leaves_a_generator_running(tmp_path):
    # The worker is cancelled before it starts, so Cancelled is raised at its
    # first preemption point, after `budget` instructions: sweeping the budget
    # puts it between every pair of instructions of the loop, including just
    # as a generator returns to next() (its continuation op). Wherever it
    # falls, the error must unwind through the frame that called next() (its
    # catch is there) and leave the generator finished, never "already running".
    bad = []
    for budget in range(1, 121):
        code, out, err = run(tmp_path, GEN_UNDER_CANCEL, "--budget", str(budget))
        if code != 0 or err or not out.endswith("stuck 0\n"):
            bad.append((budget, out.strip().replace("\n", " | "), err.strip()))
    assert bad == []
