"""Time travel in the engine: step back, reverse continue, restart frame and
goto land on the right line with the right values (the program re-executed
up to the target position), print nothing twice, and replay stdin."""

from __future__ import annotations

import pytest

from .conftest import ADD_LOOP

PROG = ADD_LOOP
FULL_OUTPUT = "step 1\nstep 2\nstep 3\ntotal 63\n"


@pytest.mark.parametrize("jit", ["off", "eager"])
def test_step_back_lands_on_previous_lines_with_their_values(program, session, jit):
    s = session(program(PROG), jit=jit)
    s.eng.set_breakpoints(s.path, [{"line": 3, "hitCondition": "== 3"}])
    st = s.eng.start()
    assert st.line == 3 and s.local("c") == "32"
    here = st.position
    assert s.stdout() == "step 1\nstep 2\n"
    back = s.eng.step_back()
    assert (back.reason, back.line) == ("step", 2) and back.position < here
    assert s.local("a") == "30" and "c" not in s.scope("Locals")
    back = s.eng.step_back()  # out of add's first line: the call's line in the caller
    assert (back.line, s.top()["name"]) == (10, "<module>")
    assert s.scope("Globals")["total"]["value"] == "31"
    assert s.eng.step_back().line == 9
    back = s.eng.step_back()
    assert back.line == 12 and s.scope("Globals")["i"]["value"] == "2"
    # Forwards again: the same states, and the output is never printed twice.
    fwd = s.eng.resume("next")
    assert fwd.line == 9
    s.eng.set_breakpoints(s.path, [])
    assert s.eng.resume("continue").reason == "exited"
    assert s.stdout() == FULL_OUTPUT


def test_reverse_continue_goes_to_previous_hits_then_to_the_start(program, session):
    s = session(program(PROG))
    (bp,) = s.eng.set_breakpoints(s.path, [{"line": 3}])
    s.eng.start()
    s.eng.resume("continue")
    st = s.eng.resume("continue")
    assert s.local("c") == "32"
    st = s.eng.reverse_continue()
    assert (st.reason, st.line) == ("breakpoint", 3) and s.local("c") == "21"
    assert st.hit_ids == [bp["id"]]  # (what DAP's stopped event reports)
    st = s.eng.reverse_continue()
    assert st.line == 3 and s.local("c") == "10"
    st = s.eng.reverse_continue()
    assert (st.reason, st.line) == ("entry", 1)
    assert s.eng.resume("continue").line == 3  # forwards: the first hit again
    assert s.local("c") == "10"


def test_reverse_continue_finds_a_breakpoint_set_after_the_line_ran(program, session):
    s = session(program(PROG))
    s.eng.set_breakpoints(s.path, [{"line": 14}])
    s.eng.start()
    s.eng.set_breakpoints(s.path, [{"line": 11}])
    st = s.eng.reverse_continue()
    assert st.line == 11 and s.scope("Globals")["i"]["value"] == "2"


def test_restart_frame_goes_back_to_the_first_line_of_the_call(program, session):
    s = session(program(PROG))
    s.eng.set_breakpoints(s.path, [{"line": 3, "hitCondition": "== 2"}])
    s.eng.start()
    assert s.local("c") == "21"
    frames, _ = s.eng.stack(1)
    st = s.eng.restart_frame(frames[0]["id"])
    assert st.line == 2 and s.local("a") == "20" and "c" not in s.scope("Locals")
    assert s.eng.resume("next").line == 3 and s.local("c") == "21"
    # Restarting the module's frame goes back to the program's first line.
    frames, _ = s.eng.stack(1)
    st = s.eng.restart_frame(frames[1]["id"])
    assert st.line == 1 and "total" not in s.scope("Globals")  # (not declared yet)


def test_goto_positions_backwards_and_forwards(program, session):
    s = session(program(PROG))
    s.eng.set_breakpoints(s.path, [{"line": 11}])
    first = s.eng.start()
    second = s.eng.resume("continue")
    assert second.position > first.position
    back = s.eng.goto(first.position)
    assert (back.reason, back.line, back.position) == ("goto", 11, first.position)
    assert s.scope("Globals")["total"]["value"] == "10"
    fwd = s.eng.goto(second.position)
    assert (fwd.line, fwd.position) == (11, second.position)
    assert s.scope("Globals")["total"]["value"] == "31"
    assert s.eng.position == second.position
    assert len(s.eng.history) > 10 and s.eng.history.nbytes() < 64 * len(s.eng.history)


def test_step_back_after_the_program_ended(program, session):
    s = session(program(PROG))
    end = s.eng.start()
    assert end.reason == "exited" and s.stdout() == FULL_OUTPUT
    back = s.eng.step_back()
    assert back.reason == "step" and back.line == 14
    assert s.scope("Globals")["total"]["value"] == "63"
    assert s.eng.resume("continue").reason == "exited"
    assert s.stdout() == FULL_OUTPUT


def test_re_execution_replays_stdin(program, session):
    src = """\
let a = input()
let b = input()
print("${a}+${b}")
"""
    s = session(program(src), stdin="one\ntwo\n")
    s.eng.set_breakpoints(s.path, [{"line": 3}])
    s.eng.start()
    assert s.scope("Globals")["b"]["value"] == '"two"'
    assert s.eng.step_back().line == 2
    assert s.eng.step_back().line == 1
    s.eng.set_breakpoints(s.path, [])
    assert s.eng.resume("continue").reason == "exited"
    assert s.stdout() == "one+two\n"


@pytest.mark.parametrize("name", ["producer_consumer.tl", "closures.tl", "shapes.lox"])
def test_re_execution_of_the_examples_is_exact(session, name):
    """Fibers, channels, closures, Lox: going back and running to the end again
    ends at the same position with the output of `tvm run`, printed once."""
    import io
    from pathlib import Path

    from tinyvm.api import VM

    path = str(Path(__file__).resolve().parents[3] / "examples" / name)
    expected = io.StringIO()
    VM(stdout=expected).run_file(path)
    s = session(path)
    end = s.eng.start()
    assert end.reason == "exited" and s.stdout() == expected.getvalue()
    for _ in range(3):
        back = s.eng.step_back()
    assert back.reason == "step" and back.position < end.position
    again = s.eng.resume("continue")
    assert again.position == end.position
    assert s.stdout() == expected.getvalue()


def test_jit_on_hot_code(program, session):
    src = "fn sq(n: int) -> int {\n    return n * n\n}\nvar s = 0\nfor i in 0..500 {\n    s += sq(i)\n}\nprint(s)\n"
    s = session(program(src), jit="on")
    s.eng.set_breakpoints(s.path, [{"line": 6, "hitCondition": "== 300"}])
    assert s.eng.start().line == 6
    assert s.scope("Globals")["s"]["value"] == str(sum(i * i for i in range(299)))
    assert s.eng.step_back().line == 5
    s.eng.set_breakpoints(s.path, [])
    assert s.eng.resume("continue").reason == "exited"
    assert s.stdout() == f"{sum(i * i for i in range(500))}\n"


def test_hit_counts_follow_the_position(program, session):
    """After going back, a hit condition counts the hits before the new
    position: `== 2` stops again at the second hit."""
    s = session(program(PROG))
    s.eng.set_breakpoints(s.path, [{"line": 3, "hitCondition": "== 2"}])
    st = s.eng.start()
    assert s.local("c") == "21"
    s.eng.set_breakpoints(s.path, [{"line": 3, "hitCondition": "== 2"}, {"line": 11}])
    s.eng.resume("continue")  # line 11, after the second call
    back = s.eng.goto(st.position - 20)  # before the second call
    assert back.position < st.position
    s.eng.set_breakpoints(s.path, [{"line": 3, "hitCondition": "== 2"}])
    again = s.eng.resume("continue")
    assert (again.line, again.position) == (3, st.position) and s.local("c") == "21"


def test_history_is_bounded(program, session):
    s = session(program(PROG))
    s.eng.history.max_events = 16
    end = s.eng.start()
    h = s.eng.history
    assert len(h) <= 16 and h.dropped > 0 and h.first == 1
    assert h.pos[0] > h.first  # the oldest were dropped...
    back = s.eng.reverse_continue()  # ...but the start is still reachable
    assert (back.reason, back.line, back.position) == ("entry", 1, 1)
    assert s.eng.resume("continue").position == end.position
