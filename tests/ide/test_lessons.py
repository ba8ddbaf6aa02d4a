"""The lesson plan of docs/ide.md, checked: what each lesson tells the
class to look at is what the API shows."""

from __future__ import annotations

from collections import Counter

import pytest

from .helpers import client, example, move, needs_ide, run, state

pytestmark = needs_ide


@pytest.fixture(scope="module")
def c():
    return client()


def local(frame: dict, name: str) -> dict:
    return next(v for v in frame["locals"] if v["name"] == name)


def test_lesson_closures(c) -> None:
    r = run(c, example(c, "closures.tl")["source"])
    at13 = r["lines"][r["line_numbers"].index(13)]  # after `let a = make_counter()`
    st = state(c, r["session"], at13)
    nodes = {n["id"]: n for n in st["heap"]["nodes"]}
    fn = nodes[local(st["frames"][-1], "a")["ref"]]
    assert fn["type"] == "function" and fn["fields"][0]["name"] == "n"
    cell = nodes[fn["fields"][0]["value"]["ref"]]
    assert (cell["type"], cell["label"], cell["fields"][0]["value"]["text"]) == ("cell", "(captured variable)", "0")
    assert "".join(o["text"] for o in r["output"]) == "1 2 1\nbalance: 125\n"


def test_lesson_recursion(c) -> None:
    r = run(c, example(c, "recursion.tl")["source"])
    hit = move(c, r["session"], 0, "continue", [5])
    st = state(c, r["session"], hit["step"])
    frames = [(f["function"], f["line"]) for f in st["frames"]]
    assert frames == [("fact", 5)] + [("fact", 7)] * 4 + [("<module>", 17)]
    assert [local(f, "n")["text"] for f in st["frames"][:-1]] == ["1", "2", "3", "4", "5"]
    out = move(c, r["session"], hit["step"], "step_out")
    assert len(state(c, r["session"], out["step"])["frames"]) == 5
    flame = c.get(f"/api/session/{r['session']}/profile").json()["flame"]
    assert any(f["name"].startswith("fib") for f in flame["shared"]["frames"])


def test_lesson_gc_cycle(c) -> None:
    r = run(c, example(c, "gc_cycle.tl")["source"])
    ticks = [g["step"] for g in r["gc"]]
    first = state(c, r["session"], ticks[0] + 1)
    assert first["gc"]["phase"] == "mark"
    nodes = {n["id"]: n for n in first["heap"]["nodes"]}
    assert nodes[local(first["frames"][-1], "keep")["ref"]]["colour"] == "white"
    assert set(Counter(n["colour"] for n in first["heap"]["nodes"])) == {"white", "grey", "black"}
    second = state(c, r["session"], ticks[1] + 1)
    nodes = {n["id"]: n for n in second["heap"]["nodes"]}
    assert nodes[local(second["frames"][-1], "keep")["ref"]]["colour"] == "black"
    sweeping = [state(c, r["session"], t + 1) for t in ticks]
    sweeping = [s for s in sweeping if s["gc"]["phase"] == "sweep"]
    assert sweeping and all(n["colour"] == "black" for s in sweeping for n in s["heap"]["nodes"])
    assert sum(g["freed"] for g in r["gc"]) > 0


def test_lesson_deadlock(c) -> None:
    r = run(c, example(c, "deadlock.tl")["source"])
    assert r["status"] == "error" and r["error"]["line"] == 15
    assert r["error"]["message"].startswith("error: DeadlockError: all fibers are blocked")
    end = {f["id"]: f for f in state(c, r["session"], r["steps"])["fibers"]}
    assert [(end[i]["state"], end[i]["waiting_on"]) for i in (2, 3)] == [("blocked", "recv from chan 1"), ("blocked", "recv from chan 2")]
