"""Process checkpoints for time travel (tools/timetravel.py): going back
resumes a forked copy of the paused program and lands on the same state as
a fresh run to that position; inputs are replayed, output is not shown
twice, the checkpoints are bounded in number and gone after close."""

from __future__ import annotations

import os
import time

import pytest

from tinyvm.tools.debugger.engine import Engine
from tinyvm.tools.timetravel import TimeTravel, heap_diff, open_engine, thin

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="checkpoints need os.fork")

PROGRAM = """\
import time
var total = 0
var i = 0
while i < 2000 {
  total = total + i
  i = i + 1
}
print("half " + str(total))
let name = input()
let stamp = time.monotonic_us()
print("name " + str(name))
var xs: [int] = []
var j = 0
while j < 2000 {
  total = total - 1
  if j % 500 == 0 { xs.push(j) }
  j = j + 1
}
print("end " + str(total))
"""
END_LINE = 19


@pytest.fixture
def prog(tmp_path):
    p = tmp_path / "prog.tl"
    p.write_text(PROGRAM)
    return str(p)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # pragma: no cover - no /proc (macOS): ask the kernel
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False


class Collect:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def __call__(self, category: str, text: str) -> None:
        if category == "stdout":
            self.parts.append(text)

    @property
    def text(self) -> str:
        return "".join(self.parts)


def state(eng) -> dict:
    """The observable state at a stop: position, line, locals, stack."""
    frames, total = eng.stack(eng.stop.fiber_id)
    scopes = eng.scopes(frames[0]["id"])
    out = {"position": eng.position, "line": frames[0]["line"], "depth": total}
    for s in scopes:
        out[s["name"]] = {v["name"]: v["value"] for v in eng.variables(s["variablesReference"]) if v["name"] != "stamp"}
    return out


def test_going_back_is_the_state_of_a_fresh_run(prog):
    out = Collect()
    tt = TimeTravel(prog, on_output=out, stdin="ann\n", every=3000, max_checkpoints=8)
    try:
        tt.set_breakpoints(prog, [{"line": END_LINE}])
        stop = tt.resume("continue") if tt.start().reason != "breakpoint" else tt.stop
        assert stop.reason == "breakpoint" and stop.line == END_LINE
        assert len(tt.checkpoints) >= 3
        seen = []
        for _ in range(4):
            tt.step_back()
            seen.append(state(tt))
        assert tt.switches >= 4  # each step back resumed a checkpoint
        tt.goto(5000)
        seen.append(state(tt))
        for want in seen:
            fresh = Engine(prog, stdin="ann\n")
            try:
                fresh.start(stop_on_entry=True)
                fresh.goto(want["position"])
                assert state(fresh) == want
            finally:
                fresh.close()
    finally:
        tt.close()


def test_inputs_are_replayed_and_output_not_repeated(prog):
    out = Collect()
    tt = TimeTravel(prog, on_output=out, stdin="ann\nbob\n", every=2000)
    try:
        tt.set_breakpoints(prog, [{"line": 11}])
        tt.start()
        assert tt.stop.line == 11
        stamp = tt.evaluate("stamp")["result"]
        assert [k for k, _ in tt.inputs] == ["stdin", "mono"]
        tt.goto(100)  # before the input() and the clock read
        assert tt.stop.line < 9
        time.sleep(0.01)
        tt.resume("continue")
        assert tt.stop.line == 11
        assert tt.evaluate("name")["result"] == '"ann"'  # not "bob": the recorded line
        assert tt.evaluate("stamp")["result"] == stamp  # the recorded clock
        tt.resume("continue")
        assert tt.stop.reason == "exited"
        tt.reverse_continue()  # back to the breakpoint, and on to the end again
        tt.resume("continue")
        assert out.text == "half 1999000\nname ann\nend 1997000\n"  # each line once
    finally:
        tt.close()


def test_checkpoints_are_bounded_and_killed_at_close(prog):
    tt = TimeTravel(prog, stdin="x\n", every=200, max_checkpoints=6)
    try:
        tt.start()
        assert tt.stop.reason == "exited"
        assert tt.stop.position > 50 * 200  # many stretches...
        assert 2 <= len(tt.checkpoints) <= 6  # ...few checkpoints
        positions = sorted(tt.checkpoints)
        assert positions[0] <= 2  # the start stays
        pids = tt.pids()
        assert all(alive(p) for p in pids)
        gaps = [b - a for a, b in zip(positions, positions[1:])]
        assert gaps[-1] <= gaps[0]  # denser near the end
        tt.step_back()
        assert tt.stop.reason == "step"
    finally:
        tt.close()
    deadline = time.time() + 5
    while any(alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.02)
    assert not any(alive(p) for p in pids)


def test_thin_keeps_start_and_newest_and_doubles_spacing():
    positions = list(range(0, 100_001, 1000))
    dead = thin(positions, 1000, 12)
    kept = sorted(set(positions) - set(dead))
    assert len(kept) <= 12 and kept[0] == 0 and kept[-1] == 100_000
    gaps = [b - a for a, b in zip(kept[1:], kept[2:])]
    assert gaps == sorted(gaps, reverse=True)  # older stretches are sparser
    assert thin([0, 5, 9], 1000, 12) == []


def test_heap_diff_across_positions_and_the_fallback(prog, monkeypatch):
    tt = open_engine(prog, stdin="a\n", every=2000)
    assert isinstance(tt, TimeTravel)
    try:
        tt.set_breakpoints(prog, [{"line": END_LINE}])
        tt.start()
        end = tt.position
        d = heap_diff(tt, 100, end)
        assert tt.position == end  # back where it was
    finally:
        tt.close()
    monkeypatch.setenv("TVM_NO_FORK", "1")
    eng = open_engine(prog, stdin="a\n")
    assert isinstance(eng, Engine)
    try:
        eng.start(stop_on_entry=True)
        d2 = heap_diff(eng, 100, end)
    finally:
        eng.close()
    def unstamped(diff: dict) -> dict:  # (two sessions read the clock at other times)
        for c in diff["changed"]:
            c["slots"] = [t for t in c["slots"] if t[0] != "stamp"]
        return diff

    assert unstamped(d.to_dict()) == unstamped(d2.to_dict())  # same ids, same changes: allocation numbers are deterministic
    assert [o.summary for o in d.created] == ["array[4] [0, 500, 1000, 1500]"]  # xs
    module = next(c for c in d.changed if c.after.type == "module")
    assert {k for k, _, _ in module.slot_changes()} >= {"total", "i", "name", "j", "xs"}


def test_tvm_debug_uses_checkpoints_and_diff(prog):
    import io

    from tinyvm.tools.debugger.cli import main

    out = io.StringIO()
    script = f"b {END_LINE}\nc\nrs\np j\ndiff 100 300\nq\n"
    assert main(prog, [], stdin=io.StringIO(script), stdout=out) == 0
    text = out.getvalue()
    assert "end " not in text.split("(tvm) rs")[1]  # nothing printed twice
    assert "(tvm) p j\n2000" in text or "(tvm) p j\n1999" in text
    assert "heap diff between" in text and "changed" in text


def test_pause_and_errors_cross_the_process_boundary(tmp_path):
    import threading

    from tinyvm.tools.debugger.engine import EvalError

    p = tmp_path / "inf.tl"
    p.write_text("var i = 0\nwhile true {\n  i = i + 1\n}\n")
    tt = TimeTravel(str(p))
    try:
        tt.start(stop_on_entry=True)
        timer = threading.Timer(0.3, tt.pause)
        timer.start()
        stop = tt.resume("continue")
        assert stop.reason == "pause" and stop.position > 100
        with pytest.raises(EvalError, match="undeclared name 'nope'"):
            tt.evaluate("nope + 1")
        assert tt.step_back().position < stop.position
    finally:
        tt.close()


@pytest.mark.parametrize(("name", "jit"), [("worker_pool.tl", "off"), ("select_timeout.tl", "off"), ("showcase.tl", "on"), ("shapes.lox", "on")])
def test_examples_go_back_exactly(name, jit):
    """Fibers, channels, timers, the JIT, Lox: a checkpoint resumed lands where a fresh run does."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", name)

    def where(eng, stop):
        frames, depth = eng.stack(stop.fiber_id)
        values = {v["name"]: v["value"] for s in eng.scopes(frames[0]["id"]) for v in eng.variables(s["variablesReference"])}
        return stop.position, stop.line, stop.fiber_id, depth, values

    tt = TimeTravel(path, every=300, jit=jit)
    try:
        end = tt.start().position
        for pos in (end * 3 // 4, end // 2, end // 5):
            got = where(tt, tt.goto(pos))
            fresh = Engine(path, jit=jit)
            try:
                fresh.start(stop_on_entry=True)
                assert where(fresh, fresh.goto(pos)) == got
            finally:
                fresh.close()
        assert tt.switches == 3
    finally:
        tt.close()


def test_breakpoints_set_after_a_checkpoint_hold_in_it(prog):
    """A checkpoint older than the breakpoints gets them (same ids) when resumed."""
    tt = TimeTravel(prog, stdin="a\n", every=1000)
    try:
        tt.start(stop_on_entry=True)
        tt.goto(9000)  # checkpoints made on the way, without breakpoints
        assert len(tt.checkpoints) >= 3
        (bp,) = tt.set_breakpoints(prog, [{"line": 16}])  # if j % 500 == 0 { xs.push(j) }
        tt.goto(50)  # back: a checkpoint made before the breakpoint existed
        assert tt.switches == 1
        stop = tt.resume("continue")
        assert (stop.reason, stop.line, stop.hit_ids) == ("breakpoint", 16, [bp["id"]])
        first = stop.position
        stop = tt.resume("continue")
        assert stop.position > first and stop.hit_ids == [bp["id"]]
        assert tt.reverse_continue().position == first
    finally:
        tt.close()


def test_reexecution_fallback_replays_inputs_too(prog, monkeypatch):
    """Without fork, open_engine's engine re-runs from the start, with the
    first run's inputs (the clock, stdin) replayed."""
    monkeypatch.setenv("TVM_NO_FORK", "1")
    eng = open_engine(prog, stdin="ann\n")
    assert isinstance(eng, Engine)
    try:
        eng.set_breakpoints(prog, [{"line": 11}])
        eng.start()
        stamp = eng.evaluate("stamp")["result"]
        eng.goto(100)
        time.sleep(0.01)
        eng.resume("continue")
        assert eng.stop.line == 11 and eng.evaluate("stamp")["result"] == stamp
    finally:
        eng.close()


def test_an_assignment_forks_the_timeline(prog):
    tt = TimeTravel(prog, stdin="ann\nbob\n", every=1000)
    try:
        tt.set_breakpoints(prog, [{"line": END_LINE}])
        tt.start()
        before = tt.evaluate("total")["result"]
        ahead = len(tt.checkpoints)
        tt.goto(3000)  # in the first loop, before input()
        tt.evaluate("total + 1")  # reads only: the timeline stands
        assert len(tt.checkpoints) == ahead and [k for k, _ in tt.inputs] == ["stdin", "mono"]
        tt.evaluate("total = 1000000")
        assert all(p <= tt.position for p in tt.checkpoints) and tt.inputs == []
        tt.resume("continue")
        assert tt.stop.line == END_LINE
        assert tt.evaluate("total")["result"] != before
        assert [k for k, _ in tt.inputs] == ["stdin", "mono"]  # the new timeline's own inputs
    finally:
        tt.close()
