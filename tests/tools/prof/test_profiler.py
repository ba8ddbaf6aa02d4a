"""tvm prof and tools/profiler.py: sampling by instruction count, attribution to
guest stacks, fibers, the JIT tier, and the views (speedscope, Chrome trace,
folded, summary). The speedscope files are checked with speedscope's own
importer (test_speedscope.py)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prof_programs import FIBERS, HOT_COLD, tvm

from tinyvm import VM
from tinyvm.tools import profile_formats as pf
from tinyvm.tools.profiler import Profiler


def profile(source: str, path: str = "prog.tl", **kw):
    vm_kw = {k: kw.pop(k) for k in ("jit",) if k in kw}
    vm = VM(stdout=io.StringIO(), meter_fuel=True, **vm_kw)
    with Profiler(vm, program=path, **kw) as prof:
        vm.run_source(source, path)
    return prof.profile


def self_share(p, name: str) -> float:
    rows = {r["function"].split(" ")[0]: r for r in pf.function_table(p)}
    return rows[name]["self"] / p.total_weight() if name in rows else 0.0


def test_hot_function_gets_the_samples():
    p = profile(HOT_COLD, interval=100)
    assert len(p.samples) > 100
    assert p.instructions >= 100 * len(p.samples) * 0.9
    assert self_share(p, "busy") > 0.9
    assert self_share(p, "light") < 0.05
    # busy is always called from main, called from the module's code
    names = [[p.frames[i].name for i in s.stack] for s in p.samples]
    busy = [n for n in names if n and n[-1] == "busy"]
    assert busy and all(n == ["<module>", "main", "busy"] for n in busy)
    # lines: the loop body of busy (lines 4-6) holds the samples
    lines = {p.frames[s.stack[-1]].line for s in p.samples if s.stack and p.frames[s.stack[-1]].name == "busy"}
    assert lines <= {2, 3, 4, 5, 6, 7, 8} and lines & {4, 5, 6}


def test_deterministic_by_instruction_count():
    a, b = profile(HOT_COLD, interval=250), profile(HOT_COLD, interval=250)
    key = lambda p: [(tuple(p.frames[i] for i in s.stack), s.weight, s.op) for s in p.samples]
    assert key(a) == key(b)
    assert a.instructions == b.instructions


def test_interval_sets_the_sample_count():
    few, many = profile(HOT_COLD, interval=1000), profile(HOT_COLD, interval=100)
    assert 5 * len(few.samples) < len(many.samples)


def test_opcodes_are_estimated_from_samples():
    p = profile(HOT_COLD, interval=100)
    assert sum(p.opcodes.values()) == len(p.samples)
    assert all(op.isupper() for op in p.opcodes)


def test_fibers_are_separate():
    p = profile(FIBERS, interval=200)
    fibers = {s.fiber for s in p.samples}
    work = [s for s in p.samples if s.stack and p.frames[s.stack[-1]].name == "work"]
    workers = {s.fiber for s in work}
    assert len(workers) == 2 and 0 not in workers  # each worker is its own fiber, not main's
    assert all(p.fibers[f] for f in workers)  # named (speedscope and Chrome show the names)
    # a worker's stack starts at work: a fiber has no caller frames
    assert all(p.frames[s.stack[0]].name == "work" for s in work)
    view = pf.speedscope(p)
    assert len(view["profiles"]) == len(fibers)
    text = pf.summary(p)
    listed = text.split("\nfibers:\n")[1].split("\n\n")[0].splitlines()
    assert len(listed) == len(fibers) and all(f"fiber {w} (" in text for w in workers)


def test_jit_tier_is_sampled_too():
    p = profile(HOT_COLD, interval=100, jit="eager")
    assert p.tier == "jit eager"
    assert p.jit["compiled"] >= 1
    assert self_share(p, "busy") > 0.8


@pytest.mark.parametrize("jit", ["off", "on", "eager"])
def test_weights_add_up_to_the_instructions_run(jit: str):
    # each sample weighs the instructions since the previous one, exactly, on
    # every tier: together all but the tail after the last sample
    p = profile(HOT_COLD, interval=1000, jit=jit)
    assert p.counted == "instructions" and len(p.samples) > 10
    assert 0.9 * p.instructions <= p.total_weight() <= p.instructions


def test_jit_deopts_are_reported():
    # jit_stress fails compiled code's guards at random (seeded): deopts
    vm = VM(stdout=io.StringIO(), meter_fuel=True, jit="eager", jit_stress=1)
    with Profiler(vm, interval=1000) as prof:
        vm.run_source(HOT_COLD, "prog.tl")
    p = prof.profile
    assert p.jit["deopts"] == sum(p.deopts.values()) > 0
    assert p.jit["compiled"] >= 2 and p.jit["compile_ms"] > 0
    text = pf.summary(p)
    fn, reason = p.deopts.most_common(1)[0][0]
    assert f"x {fn}: {reason}" in text and f"{p.jit['deopts']} deopts" in text


def test_wall_mode_weights_are_milliseconds():
    p = profile(HOT_COLD, wall=True, interval=0.5)
    assert p.unit == "milliseconds" and p.samples
    assert all(s.weight >= 0.5 for s in p.samples)
    assert p.total_weight() <= p.seconds * 1000 + 1


def test_bad_interval():
    with pytest.raises(ValueError):
        Profiler(VM(), interval=0)
    with pytest.raises(ValueError):
        Profiler(VM(), interval=2.5)


# ----------------------------------------------------------------- views


def test_folded_lines_parse_and_add_up():
    p = profile(HOT_COLD, interval=100)
    text = pf.folded(p)
    total = 0
    for line in text.splitlines():
        stack, _, weight = line.rpartition(" ")
        assert stack and weight.isdigit()
        assert stack.split(";")[0].startswith("<module> (prog.tl:")
        total += int(weight)
    assert total == p.total_weight()
    assert any(line.startswith("<module> (prog.tl:1);main (prog.tl:15);busy (prog.tl:1) ") for line in text.splitlines())


def test_folded_with_fibers_starts_with_the_fiber():
    p = profile(FIBERS, interval=200)
    roots = {line.split(";")[0] for line in pf.folded(p).splitlines()}
    assert any(r.startswith("fiber 0 (main)") for r in roots) or len(roots) >= 2
    assert all(r.startswith("fiber ") for r in roots)


CHROME_EVENT_KEYS = {"M": {"ph", "pid", "tid", "name", "args"}, "X": {"ph", "pid", "tid", "name", "ts", "dur", "cat", "args"}}


def check_chrome(doc: dict) -> list[dict]:
    """The Trace Event Format's JSON object form, as Perfetto reads it."""
    assert set(doc) >= {"traceEvents", "displayTimeUnit"}
    events = doc["traceEvents"]
    for e in events:
        assert e["ph"] in CHROME_EVENT_KEYS, e
        assert set(e) == CHROME_EVENT_KEYS[e["ph"]], e
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int) and isinstance(e["name"], str)
        if e["ph"] == "X":
            assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0
            assert isinstance(e["dur"], (int, float)) and e["dur"] >= 0
    # slices of one thread nest: sorted by start, each ends before its parent does
    by_tid: dict[int, list] = {}
    for e in events:
        if e["ph"] == "X" and e["cat"] == "guest":
            by_tid.setdefault(e["tid"], []).append(e)
    for slices in by_tid.values():
        slices.sort(key=lambda e: (e["ts"], -e["dur"]))
        open_: list[float] = []
        for e in slices:
            end = e["ts"] + e["dur"]
            while open_ and open_[-1] <= e["ts"] + 1e-6:
                open_.pop()
            if open_:
                assert end <= open_[-1] + 1e-3, e
            open_.append(end)
    return events


def test_chrome_trace_structure():
    p = profile(FIBERS, interval=200)
    events = check_chrome(pf.chrome(p))
    threads = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert threads[0] == "VM (GC, JIT)"
    fiber_tids = {s.fiber + 1 for s in p.samples}
    assert fiber_tids <= set(threads)
    assert {e["tid"] for e in events if e["ph"] == "X" and e["cat"] == "guest"} == fiber_tids
    names = {e["name"] for e in events if e["ph"] == "X"}
    assert "work" in names


def test_chrome_trace_has_gc_and_jit_slices():
    source = "var keep = []\nfor i in 0..20000 { keep = [i, [i]] }\nprint(len(keep))\n" + HOT_COLD
    p = profile(source, interval=500, jit="eager")
    events = check_chrome(pf.chrome(p))
    gc = [e for e in events if e["ph"] == "X" and e["cat"] == "gc"]
    jit = [e for e in events if e["ph"] == "X" and e["cat"] == "jit"]
    assert gc and all(e["tid"] == 0 for e in gc)
    assert p.gc["collections"] == len(gc)
    assert jit and any("busy" in e["name"] for e in jit)


def test_summary_text():
    p = profile(HOT_COLD, interval=100)
    text = pf.summary(p)
    assert "top functions" in text and "busy (prog.tl:1)" in text
    first = text.split("top functions")[1].splitlines()[2]
    assert "busy" in first  # the hottest first
    assert "instructions by opcode" in text and "GC:" in text


# ----------------------------------------------------------------- the command


@pytest.fixture
def prog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)

    def write(text: str, name: str = "prog.tl") -> str:
        (tmp_path / name).write_text(text)
        return name

    return write


def test_cli_summary_on_stderr(prog):
    code, out, err = tvm(["prof", "--interval", "100", prog(HOT_COLD)])
    assert code == 0
    assert out.strip() == str(sum(sum(i * 2 for i in range(2000)) + k + 1 for k in range(20)))
    assert "tvm prof: prog.tl:" in err and "busy (prog.tl:1)" in err


def test_cli_writes_formats(prog, tmp_path: Path):
    name = prog(HOT_COLD)
    assert tvm(["prof", "--format", "chrome", "-o", "p.json", name])[0] == 0
    check_chrome(json.loads((tmp_path / "p.json").read_text()))
    code, _, err = tvm(["prof", "--format", "speedscope", name])
    assert code == 0 and "written to prog.speedscope.json" in err
    doc = json.loads((tmp_path / "prog.speedscope.json").read_text())
    assert doc["$schema"] == pf.SPEEDSCOPE_SCHEMA and doc["profiles"][0]["type"] == "sampled"
    code, out, _ = tvm(["prof", "--format", "folded", "-o", "-", name])
    assert code == 0 and "busy (prog.tl:1) " in out


def test_cli_program_error_still_profiles(prog):
    code, _, err = tvm(["prof", prog("fn f(n) { var s = 0\n for i in 0..n { s = s + i }\n return s }\nprint(f(5000))\nprint(1 / 0)\n")])
    assert code == 1
    assert "ZeroDivisionError" in err and "top functions" in err


def test_cli_compile_error_writes_no_profile(prog, tmp_path: Path):
    code, out, err = tvm(["prof", "--format", "chrome", prog("print(1 +)\n")])
    assert code == 2 and out == "" and "error" in err and "written" not in err
    assert not (tmp_path / "prog.trace.json").exists()


def test_cli_code_and_default_name(prog, tmp_path: Path):
    code, out, err = tvm(["prof", "--format", "folded", "-e", "var s = 0\nfor i in 0..50000 { s += i }\nprint(s)"])
    assert code == 0 and out == "1249975000\n" and "written to tvmprof.folded" in err
    assert (tmp_path / "tvmprof.folded").read_text().startswith("<module> (<string>:1) ")


def test_cli_usage_errors(prog):
    name = prog(HOT_COLD)
    assert tvm(["prof", "--format", "svg", name])[0] == 64
    assert tvm(["prof", "--interval", "0", name])[0] == 64
    code, _, err = tvm(["prof"])
    assert code == 64 and "prof needs a FILE" in err
    code, _, err = tvm(["prof", "-o", "/nonexistent/dir/x.json", "--format", "chrome", name])
    assert code == 1 and "cannot write /nonexistent/dir/x.json" in err


def test_cli_lox_program(prog):
    source = "fun busy(n) { var s = 0; for (var i = 0; i < n; i = i + 1) { s = s + i; } return s; }\nprint busy(20000);\n"
    code, out, _ = tvm(["prof", "--format", "folded", "-o", "-", prog(source, "busy.lox")])
    assert code == 0 and out.startswith("1.9999e+08\n")
    stacks = dict(line.rsplit(" ", 1) for line in out.splitlines()[1:])
    assert max(stacks, key=lambda k: int(stacks[k])) == "script (busy.lox:1);busy (busy.lox:1)"


def test_ctrl_c_writes_the_profile(tmp_path: Path):
    # a profiler is often stopped by hand: the profile of the run so far is written
    (tmp_path / "long.tl").write_text('print("started")\nvar s = 0\nfor i in 0..1000000000 { s += i }\nprint(s)\n')
    p = subprocess.Popen(
        [sys.executable, "-m", "tinyvm.cli.main", "prof", "--format", "folded", "-o", "long.folded", "long.tl"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert p.stdout.readline() == "started\n"
        time.sleep(0.3)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 130 and err.endswith("interrupted\n"), err
    assert "folded profile written to long.folded" in err
    assert (tmp_path / "long.folded").read_text().startswith("<module> (long.tl:1) ")
