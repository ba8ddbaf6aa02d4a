"""tvm record / tvm replay (tools/record.py): the inputs of a run are logged
and handed back, so the replay prints the same and runs the same
instructions, without stdin and at another time."""

from __future__ import annotations

import io
import json
import textwrap

import pytest

from tinyvm.cli.main import main
from tinyvm.tools.record import Recorder, Replayer, ReplayDiverged, read_recording

PROGRAM = textwrap.dedent(
    """\
    import time
    let t0 = time.now_ms()
    let name = input("name? ")
    print("hello " + str(name))
    var total = 0
    var line = input()
    while line != nil {
        total = total + int(line)
        line = input()
    }
    print("total " + str(total))
    print("clock " + str(t0 % 100000))
    let m = time.monotonic_ms()
    var i = 0
    while i < (m % 7) * 10 {   // how long this loop runs depends on the clock
        i = i + 1
    }
    print("loop " + str(i))
    """
)


def tvm(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def prog(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.tl").write_text(PROGRAM)
    return tmp_path


def test_replay_is_identical_without_stdin_and_at_another_time(prog, monkeypatch):
    code, out, err = tvm(["record", "p.tl", "-o", "r.tvmrec"], stdin="ann\n3\n4\n")
    assert code == 0, err
    assert out.startswith("name? hello ann\ntotal 7\nclock ")
    rec = read_recording("r.tvmrec")
    kinds = [k for k, _ in rec.entries]
    assert kinds == ["time", "stdin", "stdin", "stdin", "stdin", "mono"]  # (the 4th line read: end of input)
    assert rec.instructions > 50
    # Another time, no stdin: the same output and instruction count.
    import time as host_time

    monkeypatch.setattr(host_time, "time_ns", lambda: 42_000_000)
    monkeypatch.setattr(host_time, "monotonic_ns", lambda: 5_000_000)
    code2, out2, err2 = tvm(["replay", "r.tvmrec"], stdin="")
    assert (code2, out2, err2) == (0, out, "")


def test_replay_reproduces_a_failed_run(prog):
    (prog / "f.tl").write_text('let x = input()\nprint("got " + x)\nlet y = int(input())\n')
    code, out, err = tvm(["record", "f.tl", "-o", "f.tvmrec"], stdin="a\nnope\n")
    assert code == 1 and "got a" in out and "ValueError" in err
    assert tvm(["replay", "f.tvmrec"]) == (code, out, err)


def test_options_and_arguments_are_replayed(prog):
    (prog / "a.tl").write_text('import os\nprint(os.args)\nprint(os.env("TVMREC_TEST"))\n')
    code, out, err = tvm(["record", "--allow-env", "a.tl", "x", "y", "-o", "a.tvmrec"])
    assert code == 0, err
    assert out == '["x", "y"]\nnil\n'
    rec = read_recording("a.tvmrec")
    assert rec.run == ["--allow-env", "a.tl", "x", "y"]
    assert [k for k, _ in rec.entries] == ["env"]
    assert tvm(["replay", "a.tvmrec"]) == (0, out, "")


def test_file_reads_are_replayed(prog):
    (prog / "data.txt").write_text("one\ntwo\n")
    (prog / "r.tl").write_text('import fs\nprint(fs.read_text("data.txt"))\nprint(fs.exists("data.txt"))\nfs.write_text("out.txt", "w")\n')
    code, out, err = tvm(["record", "-A", "r.tl", "-o", "fs.tvmrec"])
    assert code == 0, err
    (prog / "data.txt").write_text("changed")  # a replay reads the recorded bytes
    (prog / "out.txt").unlink()
    assert tvm(["replay", "fs.tvmrec"]) == (0, out, "")
    assert not (prog / "out.txt").exists()  # nor does it write again


def test_timers_replay(prog):
    (prog / "t.tl").write_text(
        textwrap.dedent(
            """\
            let ch = Chan(10)
            spawn fn() { sleep(3); ch.send("slow") }()
            spawn fn() { var i = 0; while i < 20000 { i = i + 1 }; ch.send("busy") }()
            print(ch.recv())
            print(ch.recv())
            """
        )
    )
    code, out, err = tvm(["record", "t.tl", "-o", "t.tvmrec"])
    assert code == 0, err
    rec = read_recording("t.tvmrec")
    assert any(k == "clock" for k, _ in rec.entries)
    assert tvm(["replay", "t.tvmrec"]) == (0, out, "")


def test_tampered_program_is_a_clear_error(prog):
    assert tvm(["record", "p.tl", "-o", "r.tvmrec"], stdin="a\n")[0] == 0
    (prog / "p.tl").write_text(PROGRAM.replace("hello", "goodbye"))
    code, out, err = tvm(["replay", "r.tvmrec"])
    assert code == 2 and out == ""
    assert "p.tl changed since the run was recorded" in err and "Traceback" not in err


def test_a_log_that_does_not_match_is_a_clear_error(prog):
    assert tvm(["record", "p.tl", "-o", "r.tvmrec"], stdin="a\n")[0] == 0
    lines = (prog / "r.tvmrec").read_text().splitlines()
    inputs = json.loads(lines[1])
    del inputs[1:3]  # two stdin reads gone
    lines[1] = json.dumps(inputs)
    (prog / "r.tvmrec").write_text("\n".join(lines) + "\n")
    code, _, err = tvm(["replay", "r.tvmrec"])
    assert code == 1
    assert "replay diverged" in err and "Traceback" not in err


def test_not_a_recording(prog):
    (prog / "x.tvmrec").write_text("hello\n")
    code, _, err = tvm(["replay", "x.tvmrec"])
    assert code == 2 and "not a TinyVM recording" in err
    (prog / "y.tvmrec").write_text(json.dumps({"tvmrec": 99, "run": []}) + "\n")
    assert "format 99 is not supported" in tvm(["replay", "y.tvmrec"])[2]
    code, _, err = tvm(["replay"])
    assert code == 64 and "replay needs one FILE.tvmrec" in err


def test_replayer_checks_kinds():
    rep = Replayer([["time", 5], ["fs", {"e": ["IOError", "x: gone"]}]])
    assert rep.take("time", lambda: 0) == 5
    from tinyvm.runtime.errors import RtError

    with pytest.raises(RtError, match="x: gone"):
        rep.take("fs", lambda: b"")
    with pytest.raises(ReplayDiverged, match="has only 2"):
        rep.take("stdin", lambda: "")
    rec = Recorder()
    assert rec.take("fs", lambda: b"\x00\xff") == b"\x00\xff"
    assert Replayer(rec.log).take("fs", lambda: None) == b"\x00\xff"


def test_tvm_debug_steps_through_a_recording(prog):
    (prog / "d.tl").write_text('import time\nlet t = time.monotonic_us()\nlet name = input("who? ")\nprint("hi " + str(name))\nlet u = t + 1\nprint("done")\n')
    code, out, _ = tvm(["record", "d.tl", "-o", "d.tvmrec"], stdin="zed\n")
    assert code == 0 and out == "who? hi zed\ndone\n"
    stamp = next(v for k, v in read_recording("d.tvmrec").entries if k == "mono") // 1000
    code, out, err = tvm(["debug", "d.tvmrec"], stdin="b 5\nc\np name\np t\nrs\nrs\np t\nq\n")
    assert code == 0, err
    assert '(tvm) p name\n"zed"' in out  # the recorded line, though the debugger's stdin has none
    assert out.count(f"\n{stamp}\n") == 2  # the recorded clock, before and after going back
    assert out.count("hi zed") == 1  # shown once
    (prog / "d.tl").write_text("print(1)\n")
    code, _, err = tvm(["debug", "d.tvmrec"], stdin="q\n")
    assert code == 2 and "changed since the run was recorded" in err


@pytest.mark.parametrize("setting", [("TVM_TIER", "plain"), ("TVM_JIT", "eager")])
def test_the_tier_is_replayed(prog, monkeypatch, setting):
    """The instruction count depends on the tier: the recorded one is used again."""
    (prog / "loop.tl").write_text("fn f(n: int) -> int { var s = 0\n var i = 0\n while i < n { s = s + i\n i = i + 1 }\n return s }\nprint(f(3000))\n")
    monkeypatch.setenv(*setting)
    code, out, err = tvm(["record", "loop.tl", "-o", "l.tvmrec"])
    assert code == 0, err
    assert read_recording("l.tvmrec").header["env"] == dict([setting])
    monkeypatch.delenv(setting[0])
    assert tvm(["replay", "l.tvmrec"]) == (0, out, "")
    import os

    assert setting[0] not in os.environ  # (restored after the replay)
