"""The IDE's HTTP API (tools/ide/server.py), through starlette's TestClient:
check, compile, run, the state at known steps, moves, examples, errors."""

from __future__ import annotations

import pytest

from .helpers import client, example, move, needs_ide, run, state

pytestmark = needs_ide

ADD = """fn add(a: int, b: int) -> int {
  let s = a + b
  return s
}
let x = add(1, 2)
print(x)
"""


@pytest.fixture(scope="module")
def c():
    return client()


def at_line(r: dict, line: int, nth: int = 0) -> int:
    """The step of the nth line event of `line` in a run."""
    steps = [s for s, n in zip(r["lines"], r["line_numbers"]) if n == line]
    return steps[nth]


# --------------------------------------------------------------------------- info and examples


def test_info_lists_languages_examples_limits_and_no_capabilities(c) -> None:
    import tinyvm

    info = c.get("/api/info").json()
    assert info["version"] == tinyvm.__version__ and info["languages"] == ["tinylang", "lox"]
    names = [e["name"] for e in info["examples"]]
    for lesson in ("closures.tl", "recursion.tl", "gc_cycle.tl", "deadlock.tl", "linked_list.tl", "showcase.tl"):
        assert lesson in names
    assert {"name": "lox_closure.lox", "language": "lox"} in info["examples"]
    assert info["limits"] == {"fuel": 300_000, "memory": 32 << 20, "timeout": 20.0}
    assert info["allow"] == [] and info["initial"] is None


def test_every_listed_example_is_served_and_runs(c) -> None:
    for item in c.get("/api/info").json()["examples"]:
        ex = example(c, item["name"])
        assert ex["language"] == item["language"] and ex["source"]
        r = run(c, ex["source"], ex["language"])
        assert r["diagnostics"] == [], (item["name"], r["diagnostics"])


@pytest.mark.parametrize("name", ["../README.md", "..%2FREADME.md", "%2e%2e%2fpyproject.toml", "/etc/passwd", "ide/closures.tl", "lib/counter.tl", "expected/hello.out", "nope.tl", "closures", "README.md", ".", ""])
def test_example_names_are_a_whitelist(c, name) -> None:
    r = c.get(f"/api/example/{name}")
    assert r.status_code == 404
    if r.headers.get("content-type", "").startswith("application/json"):
        assert "error" in r.json()


# --------------------------------------------------------------------------- check and compile


def test_check_reports_every_error_with_line_and_column(c) -> None:
    r = c.post("/api/check", json={"language": "tinylang", "source": 'let x: int = "s"\nprint(y)\n'}).json()
    assert r["diagnostics"] == [
        {"line": 1, "col": 14, "end_line": 1, "end_col": 17, "severity": "error", "message": "variable 'x': expected int, got string", "file": "main.tl"},
        {"line": 2, "col": 7, "end_line": 2, "end_col": 8, "severity": "error", "message": "undeclared name 'y'", "file": "main.tl"},
    ]


def test_check_clears_when_the_program_is_fixed(c) -> None:
    bad = c.post("/api/check", json={"language": "tinylang", "source": "let a = 1\nprint(a + b)\n"}).json()
    assert [(d["line"], d["col"]) for d in bad["diagnostics"]] == [(2, 11)]
    good = c.post("/api/check", json={"language": "tinylang", "source": "let a = 1\nlet b = 2\nprint(a + b)\n"}).json()
    assert good == {"diagnostics": []}


def test_check_lox_with_clox_messages(c) -> None:
    r = c.post("/api/check", json={"language": "lox", "source": "var a = 1;\nprint a +;\n"}).json()
    assert r["diagnostics"] == [{"line": 2, "col": 10, "end_line": 2, "end_col": 11, "severity": "error", "message": "Error at ';': Expect expression.", "file": "main.lox"}]
    assert c.post("/api/check", json={"language": "lox", "source": "var a = 1;\nprint a + 1;\n"}).json() == {"diagnostics": []}


def test_compile_maps_each_instruction_to_its_source_line(c) -> None:
    r = c.post("/api/compile", json={"language": "tinylang", "source": ADD}).json()
    assert r["diagnostics"] == []
    fns = {f["name"]: f for f in r["functions"]}
    assert set(fns) == {"<module>", "add"}
    add = fns["add"]
    assert add["line"] == 1
    rows = [(i["line"], i["op"]) for i in add["instructions"]]
    assert rows[:4] == [(2, "LOAD_LOCAL"), (2, "LOAD_LOCAL"), (2, "ADD"), (2, "STORE_LOCAL")] or rows[0] == (2, "LOAD_LOCAL")
    assert {i["line"] for i in add["instructions"]} <= {1, 2, 3}
    assert any(i["line"] == 3 and i["op"] == "RETURN" for i in add["instructions"])
    first = add["instructions"][0]
    assert first["text"] == "LOAD_LOCAL 1 (a)" and first["operands"] == [1] and first["pc"] == 0
    module = fns["<module>"]
    assert {i["line"] for i in module["instructions"]} <= {1, 5, 6}


def test_compile_shows_the_ir_after_each_pass(c) -> None:
    r = c.post("/api/compile", json={"language": "tinylang", "source": ADD}).json()
    add = next(f for f in r["ir"] if f["function"] == "add")
    names = [p["name"] for p in add["passes"]]
    assert names[0] == "built" and "dce" in names and "gvn" in names
    assert add["passes"][0]["text"].startswith("fn add(")
    assert all(p["text"] == "" for p in add["passes"] if not p["changed"])
    assert c.post("/api/compile", json={"language": "tinylang", "source": ADD, "ir": False}).json()["ir"] == []


def test_compile_of_a_broken_program_is_its_diagnostics_only(c) -> None:
    r = c.post("/api/compile", json={"language": "tinylang", "source": "print(1 +)\n"}).json()
    assert r["functions"] == [] and r["ir"] == [] and r["diagnostics"][0]["line"] == 1


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"language": "cobol", "source": "x"}, 400, "unknown language 'cobol'"),
        ({"language": "tinylang"}, 400, "source must be a string"),
        ({"language": "tinylang", "source": 3}, 400, "source must be a string"),
        ([1, 2], 400, "JSON object"),
    ],
)
def test_bad_requests_are_4xx_with_a_message(c, body, status, words) -> None:
    for path in ("/api/check", "/api/compile", "/api/run"):
        r = c.post(path, json=body)
        assert r.status_code == status and words in r.json()["error"]


def test_a_post_must_be_json(c) -> None:
    r = c.post("/api/run", content='{"language": "tinylang", "source": "print(1)"}', headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "JSON" in r.json()["error"]
    r = c.post("/api/run", content="{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not JSON" in r.json()["error"]


def test_only_local_host_names_are_answered() -> None:
    from .helpers import client as make

    c = make()
    c.base_url = "http://evil.example"
    assert c.get("/api/info").status_code == 400


# --------------------------------------------------------------------------- run


def test_run_reports_output_steps_and_line_events(c) -> None:
    r = run(c, ADD)
    assert r["status"] == "ok" and r["error"] is None and r["diagnostics"] == []
    assert r["output"] == [{"step": 15, "text": "3\n"}]
    assert r["steps"] == 19
    assert r["line_numbers"] == [1, 5, 2, 3, 5, 6]
    assert r["lines"] == sorted(r["lines"]) and r["lines"][0] == 0
    assert r["fibers_seen"] == 1 and r["gc"] == []


def test_run_error_has_line_and_column_and_trace(c) -> None:
    r = run(c, "fn f(xs: [int]) -> int {\n  return xs[5]\n}\nprint(\"before\")\nprint(f([1]))\n")
    assert r["status"] == "error"
    assert r["output"][0]["text"] == "before\n"
    err = r["error"]
    assert (err["line"], err["col"]) == (2, 12)
    assert "IndexError" in err["message"] and err["trace"][0].startswith("at f (main.tl:2:")


def test_a_compile_error_runs_nothing(c) -> None:
    r = run(c, "print(1 +)\n")
    assert r["status"] == "error" and r["steps"] == 0 and r["diagnostics"]
    assert (r["error"]["line"], r["error"]["col"]) == (r["diagnostics"][0]["line"], r["diagnostics"][0]["col"])
    assert c.get(f"/api/session/{r['session']}/state", params={"step": 0}).status_code == 400


def test_an_endless_loop_ends_at_the_fuel_limit() -> None:
    c = client(fuel=20_000)
    r = run(c, "var i = 0\nwhile true {\n  i += 1\n}\n")
    assert r["status"] == "limit" and "out of fuel" in r["error"]["message"]
    assert r["error"]["line"] in (2, 3) and 20_000 <= r["steps"] < 40_000
    st = state(c, r["session"], r["steps"] - 3)
    assert st["frames"][0]["function"] == "<module>"


def test_an_endless_loop_ends_at_the_timeout() -> None:
    c = client(fuel=10**9, timeout=0.5)
    r = run(c, "var i = 0\nwhile true {\n  i += 1\n}\n")
    assert r["status"] == "limit" and "time" in r["error"]["message"]


def test_capabilities_are_denied_by_default(c) -> None:
    r = run(c, 'import fs\nprint(fs.read_text("/etc/hostname"))\n')
    assert r["status"] == "error" and "PermissionError" in r["error"]["message"]


def test_lox_runs(c) -> None:
    ex = example(c, "lox_closure.lox")
    r = run(c, ex["source"], "lox")
    assert r["status"] == "ok" and "".join(o["text"] for o in r["output"]) == "1\n2\n"


# --------------------------------------------------------------------------- state


def test_state_at_each_step_has_locals_stack_and_output(c) -> None:
    r = run(c, ADD)
    sid = r["session"]
    st = state(c, sid, 7)  # in add, before ADD: a and b pushed
    assert st["step"] == 7 and (st["line"], st["function"]) == (2, "add")
    inner, outer = st["frames"]
    assert (inner["function"], inner["line"]) == ("add", 2) and outer["function"] == "<module>"
    assert [(v["name"], v["kind"], v["text"]) for v in inner["locals"]] == [("a", "int", "1"), ("b", "int", "2")]
    assert [v["text"] for v in inner["stack"]] == ["1", "2"]
    assert state(c, sid, 8)["frames"][0]["stack"] == [{"kind": "int", "text": "3"}]
    st = state(c, sid, 9)
    assert [(v["name"], v["text"]) for v in st["frames"][0]["locals"]] == [("a", "1"), ("b", "2"), ("s", "3")]
    # The output at step K: what was printed before instruction K.
    assert state(c, sid, 14)["output"] == "" and state(c, sid, 15)["output"] == "3\n"
    end = state(c, sid, r["steps"])
    assert end["output"] == "3\n" and end["step"] == r["steps"]
    assert ("x", "3") in [(v["name"], v["text"]) for v in end["frames"][0]["locals"]]
    assert state(c, sid, 10**9)["step"] == r["steps"] and state(c, sid, -5)["step"] == 0


def test_state_heap_of_a_linked_list(c) -> None:
    r = run(c, example(c, "linked_list.tl")["source"])
    st = state(c, r["session"], at_line(r, 15))  # after the list is built
    head = next(v for v in st["frames"][0]["locals"] if v["name"] == "head")
    nodes = {n["id"]: n for n in st["heap"]["nodes"]}
    chain, ref = [], head["ref"]
    while ref is not None:
        node = nodes[ref]
        assert node["type"] == "Node" and [f["name"] for f in node["fields"]] == ["value", "next"]
        chain.append(node["fields"][0]["value"]["text"])
        ref = node["fields"][1]["value"].get("ref")
    assert chain == ["3", "2", "1"]
    assert st["heap"]["total"] == 4 and not st["heap"]["truncated"]  # the class and three nodes
    paged = state(c, r["session"], at_line(r, 15), heap_offset=1, heap_limit=2)["heap"]
    assert [n["id"] for n in paged["nodes"]] == [n["id"] for n in st["heap"]["nodes"][1:3]] and paged["truncated"]


def test_state_node_ids_are_stable_across_steps(c) -> None:
    r = run(c, example(c, "linked_list.tl")["source"])
    a = state(c, r["session"], at_line(r, 15))
    b = state(c, r["session"], at_line(r, 21))
    ids = lambda st: {n["id"]: n["fields"][0]["value"]["text"] for n in st["heap"]["nodes"] if n["type"] == "Node"}
    assert ids(a) == ids(b) and len(ids(a)) == 3


def test_state_closures_share_a_captured_cell(c) -> None:
    r = run(c, example(c, "closures.tl")["source"])
    st = state(c, r["session"], at_line(r, 25))  # after acct.deposit(25)
    nodes = {n["id"]: n for n in st["heap"]["nodes"]}
    acct = next(v for v in st["frames"][0]["locals"] if v["name"] == "acct")
    record = nodes[acct["ref"]]
    deposit = nodes[next(f for f in record["fields"] if f["name"] == "deposit")["value"]["ref"]]
    balance = nodes[next(f for f in record["fields"] if f["name"] == "balance")["value"]["ref"]]
    cell_a = next(f for f in deposit["fields"] if f["name"] == "balance")["value"]["ref"]
    cell_b = next(f for f in balance["fields"] if f["name"] == "balance")["value"]["ref"]
    assert cell_a == cell_b and nodes[cell_a]["fields"][0]["value"]["text"] == "125"


def test_state_fibers_blocked_on_channels_in_a_deadlock(c) -> None:
    r = run(c, example(c, "deadlock.tl")["source"])
    assert r["status"] == "error" and "DeadlockError" in r["error"]["message"] and r["fibers_seen"] == 3
    st = state(c, r["session"], r["steps"])
    fibers = {f["id"]: f for f in st["fibers"]}
    assert fibers[2]["state"] == fibers[3]["state"] == "blocked"
    assert fibers[2]["waiting_on"] == "recv from chan 1" and fibers[3]["waiting_on"] == "recv from chan 2"
    assert fibers[2]["top"] == {"function": "worker", "line": 5}
    # Earlier, the main fiber waits on the first worker while the workers run.
    mid = state(c, r["session"], at_line(r, 5))
    main = next(f for f in mid["fibers"] if f["id"] == 1)
    assert main["state"] == "blocked" and main["waiting_on"] == "await fiber 2 (worker)"
    assert [f["state"] for f in mid["fibers"] if f["id"] == 2] == ["running"]


def test_state_gc_colours_during_an_incremental_cycle(c) -> None:
    r = run(c, example(c, "gc_cycle.tl")["source"])
    assert r["status"] == "ok" and r["gc"]
    assert all(g["kind"].startswith("incremental") for g in r["gc"])
    before = state(c, r["session"], 0)
    assert before["gc"]["mode"] == "stw"  # (the program switches at its first line)
    first = r["gc"][0]["step"]
    during = state(c, r["session"], first + 10)
    assert during["gc"]["mode"] == "incremental" and during["gc"]["phase"] in ("mark", "sweep")
    colours = {n["colour"] for n in during["heap"]["nodes"]}
    assert colours <= {"white", "grey", "black"} and len(colours) >= 2
    idle = state(c, r["session"], r["steps"])
    assert idle["gc"]["collections"] >= 1


def test_state_generations_in_generational_mode(c) -> None:
    r = run(c, example(c, "linked_list.tl")["source"], gc="generational")
    st = state(c, r["session"], at_line(r, 15))
    assert st["gc"]["mode"] == "generational"
    assert {n["generation"] for n in st["heap"]["nodes"]} <= {"young", "old"}
    assert "young" in {n["generation"] for n in st["heap"]["nodes"]}


def test_unknown_session_is_404(c) -> None:
    r = c.get("/api/session/nope/state", params={"step": 1})
    assert r.status_code == 404 and "no session" in r.json()["error"]
    assert c.get("/api/session/x/state", params={"step": "abc"}).status_code in (400, 404)


def test_sessions_are_bounded() -> None:
    c = client()
    ide = c.app.state.ide
    ide.options.max_sessions = 3
    sids = [run(c, f"print({i})\n")["session"] for i in range(5)]
    assert list(ide.sessions) == sids[2:]
    assert c.get(f"/api/session/{sids[0]}/state", params={"step": 0}).status_code == 404
    assert c.delete(f"/api/session/{sids[4]}").json() == {"ok": True} and sids[4] not in ide.sessions


# --------------------------------------------------------------------------- moves

RECURSE = """fn fact(n: int) -> int {
  if n <= 1 {
    return 1
  }
  let r = n * fact(n - 1)
  return r
}
let a = fact(3)
print(a)
"""


def test_step_into_over_and_out(c) -> None:
    r = run(c, RECURSE)
    sid = r["session"]
    s0 = at_line(r, 8)
    into = move(c, sid, s0, "step_into")
    assert (into["line"], into["reason"]) == (2, "step")
    st = state(c, sid, into["step"])
    assert [f["function"] for f in st["frames"]] == ["fact", "<module>"]
    over = move(c, sid, s0, "step_over")
    assert over["line"] == 9 and state(c, sid, over["step"])["frames"][0]["locals"][-1]["text"] == "6"
    # Into twice more: fact(3) -> line 5 -> fact(2)
    s = move(c, sid, into["step"], "step_over")
    assert s["line"] == 5
    deeper = move(c, sid, s["step"], "step_into")
    assert deeper["line"] == 2 and len(state(c, sid, deeper["step"])["frames"]) == 3
    out = move(c, sid, deeper["step"], "step_out")
    assert out["line"] == 5 and len(state(c, sid, out["step"])["frames"]) == 2
    # Over the recursive call stays in the frame.
    over5 = move(c, sid, s["step"], "step_over")
    assert over5["line"] == 6 and len(state(c, sid, over5["step"])["frames"]) == 2


def test_step_back_is_the_previous_line_of_the_frame(c) -> None:
    r = run(c, RECURSE)
    sid = r["session"]
    at9 = at_line(r, 9)
    back = move(c, sid, at9, "step_back")
    assert back["line"] == 8 and len(state(c, sid, back["step"])["frames"]) == 1  # over the calls
    first = move(c, sid, back["step"], "step_back")
    assert (first["step"], first["line"]) == (0, 1)  # the declaration of fact
    assert move(c, sid, 0, "step_back") == {"step": 0, "reason": "start", "line": 1, "file": "main.tl"}
    mid = at9 + 1  # mid-line: back to where the line began
    assert move(c, sid, mid, "step_back")["step"] == at9
    # line_back: every line event, the returns into a calling line too.
    ret = move(c, sid, at9, "line_back")
    assert ret["line"] == 8 and move(c, sid, ret["step"], "line_back")["line"] == 6


def test_continue_to_a_breakpoint_forwards_and_backwards(c) -> None:
    r = run(c, RECURSE)
    sid = r["session"]
    first = move(c, sid, 0, "continue", [6])
    assert (first["line"], first["reason"]) == (6, "breakpoint")
    n = lambda st: next(v["text"] for v in st["frames"][0]["locals"] if v["name"] == "n")
    assert n(state(c, sid, first["step"])) == "2"  # fact(1) returns at line 3
    second = move(c, sid, first["step"], "continue", [6])
    assert second["line"] == 6 and n(state(c, sid, second["step"])) == "3"
    end = move(c, sid, second["step"], "continue", [6])
    assert (end["reason"], end["step"]) == ("end", r["steps"])
    back = move(c, sid, end["step"], "reverse_continue", [6])
    assert back["step"] == second["step"] and back["reason"] == "breakpoint"
    back = move(c, sid, back["step"], "reverse_continue", [6])
    assert back["step"] == first["step"]
    assert move(c, sid, back["step"], "reverse_continue", [6])["reason"] == "start"


def test_bad_moves_are_400(c) -> None:
    sid = run(c, RECURSE)["session"]
    for body, words in (
        ({"from": 0, "action": "fly"}, "unknown action"),
        ({"from": "x", "action": "step_over"}, "from must be"),
        ({"from": 0, "action": "continue", "breakpoints": ["a"]}, "breakpoints"),
    ):
        r = c.post(f"/api/session/{sid}/move", json=body)
        assert r.status_code == 400 and words in r.json()["error"]


# --------------------------------------------------------------------------- profile


def test_profile_has_a_speedscope_flame_and_gc_events(c) -> None:
    r = run(c, example(c, "recursion.tl")["source"])
    p = c.get(f"/api/session/{r['session']}/profile").json()
    flame = p["flame"]
    assert flame["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    names = {f["name"] for f in flame["shared"]["frames"]}
    assert any("fib" in name for name in names)
    assert isinstance(p["gc"], list) and isinstance(p["jit"], list)
    g = run(c, example(c, "gc_cycle.tl")["source"])
    pg = c.get(f"/api/session/{g['session']}/profile").json()
    assert pg["gc"] and {"start_ms", "pause_ms", "kind"} <= set(pg["gc"][0])


def test_output_is_bounded() -> None:
    c = client(fuel=10**7, max_output=1000)
    r = run(c, 'while true {\n  print("spam spam spam")\n}\n')
    assert r["status"] == "limit" and sum(len(o["text"]) for o in r["output"]) <= 1000


def test_imports_read_the_project_folder_and_breakpoints_are_the_programs_lines(c) -> None:
    r = run(c, example(c, "modules.tl")["source"])
    assert r["status"] == "ok" and r["files"][0] == "main.tl" and "lib/geometry.tl" in r["files"]
    lib = r["files"].index("lib/geometry.tl")
    lib_lines = {n for f, n in zip(r["line_files"], r["line_numbers"]) if f == lib}
    main_lines = {n for f, n in zip(r["line_files"], r["line_numbers"]) if f == 0}
    only_lib = min(lib_lines - main_lines)
    assert move(c, r["session"], 0, "continue", [only_lib])["reason"] == "end"  # not a line of the program
    both = min((lib_lines & main_lines) - {r["line_numbers"][0]})  # (continue leaves the first line)
    hit = move(c, r["session"], 0, "continue", [both])
    assert hit["reason"] == "breakpoint" and hit["file"] == "main.tl" and hit["line"] == both
    into = [m for m in (move(c, r["session"], s, "step_into") for s in r["lines"][:40]) if m["file"] == "lib/geometry.tl"]
    assert into and state(c, r["session"], into[0]["step"])["frames"][0]["file"] == "lib/geometry.tl"
    bad = c.post("/api/check", json={"language": "tinylang", "source": 'import "../README" as n\nprint(1)\n'}).json()
    assert bad["diagnostics"][0]["message"] == "cannot import \"../README\": outside the IDE's project folder"


def test_an_empty_endless_loop_ends_cleanly() -> None:
    c = client(fuel=50_000)
    r = run(c, "while true {}\n")
    assert r["status"] == "limit" and r["error"]["line"] == 1 and r["steps"] >= 50_000
    st = state(c, r["session"], r["steps"])
    assert st["line"] == 1 and st["frames"][0]["function"] == "<module>"
    assert move(c, r["session"], 0, "continue", [1])["line"] == 1


def test_deep_recursion_lists_both_ends_of_the_stack() -> None:
    c = client(fuel=60_000)
    r = run(c, "fn f(n: int) -> int {\n  return f(n + 1)\n}\nf(0)\n")
    assert r["status"] == "limit"
    frames = state(c, r["session"], r["steps"])["frames"]
    assert len(frames) == 101 and frames[-1]["function"] == "<module>"
    gap = frames[90]
    assert gap["id"] == -1 and gap["elided"] > 1000 and gap["function"] == f"... {gap['elided']} more frames ..."
    assert [f["locals"][0]["text"] for f in frames[89:92:2]] == [str(int(frames[0]["locals"][0]["text"]) - 89), "8"]


def test_run_takes_a_collector_mode(c) -> None:
    r = run(c, "print(1)\n", gc="incremental")
    assert state(c, r["session"], 0)["gc"]["mode"] == "incremental"
    bad = c.post("/api/run", json={"language": "tinylang", "source": "print(1)\n", "gc": "refcount"})
    assert bad.status_code == 400 and "unknown gc mode 'refcount'" in bad.json()["error"]


def test_profile_lists_jit_compilations(c) -> None:
    src = "fn total(n: int) -> int {\n  var s = 0\n  for i in 0..n {\n    s += i\n  }\n  return s\n}\nvar t = 0\nfor k in 0..30 {\n  t += total(200)\n}\nprint(t)\n"
    r = run(c, src)
    p = c.get(f"/api/session/{r['session']}/profile").json()
    assert [(j["event"], j["function"]) for j in p["jit"]][:1] == [("compile", "total")] and p["jit"][0]["t_ms"] >= 0
    assert c.get(f"/api/session/{r['session']}/profile").json()["jit"] == p["jit"]  # (computed once)


def test_many_fibers_are_listed_up_to_a_bound(c) -> None:
    src = "fn w(ch: Chan<int>) {\n  ch.recv()\n}\nlet ch: Chan<int> = Chan()\nfor i in 0..300 {\n  spawn w(ch)\n}\nch.recv()\n"
    r = run(c, src)
    assert r["status"] == "error" and r["fibers_seen"] == 301
    st = state(c, r["session"], r["steps"])
    assert len(st["fibers"]) == 200 and st["fibers_total"] == 301
    assert all(f["state"] == "blocked" and f["waiting_on"] == "recv from chan 1" for f in st["fibers"][1:])


def test_the_lessons_ship_with_the_package(monkeypatch) -> None:
    from tinyvm.tools.ide import lessons

    monkeypatch.setattr(lessons, "examples_dir", lambda: None)  # (an installed package: no checkout)
    cat = lessons.Catalogue()
    assert [e["name"] for e in cat.names()] == list(lessons.LESSONS) and cat.root is None
    assert cat.get("deadlock.tl")["source"] == (lessons.PACKAGED / "deadlock.tl").read_text()
