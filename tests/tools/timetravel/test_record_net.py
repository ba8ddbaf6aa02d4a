"""Network I/O in tvm record / tvm replay (tools/netrec.py): accepts,
connects, bytes received, the end of a stream, errors and the poller's
readiness decisions are recorded inputs, and a replay reproduces the run --
output and instruction count -- without opening a single socket."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import selectors
import socket
import textwrap
import threading
import time

import pytest

from tinyvm.cli.main import main
from tinyvm.runtime.inputs import Inputs
from tinyvm.tools.record import read_recording

# A server fiber and a client in one program, talking over 127.0.0.1.
ECHO = textwrap.dedent(
    """\
    import net
    let l = net.listen("127.0.0.1", 0)
    fn serve(l) {
      let c = l.accept()
      var n = 0
      var line = c.read_line()
      while line != nil {
        n = n + 1
        c.write(line.upper() + "\\n")
        line = c.read_line()
      }
      c.close()
      return "served " + str(n)
    }
    fn chatter(tag) {
      var i = 0
      while i < 5 { i = i + 1; sleep(1) }
      return tag
    }
    let srv = spawn serve(l)
    let other = spawn chatter("chatter done")
    let c = net.connect("127.0.0.1", l.port())
    for w in ["alpha", "beta", "gamma"] {
      c.write(w + "\\n")
      print(c.read_line())
    }
    c.close_write()
    print(c.read())
    print(await srv)
    print(await other)
    print(c.addr() == l.addr())
    try {
      c.write("x")
      print("no error")
    } catch e {
      print("write error " + typeof(e))
    }
    """
)


def tvm(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def prog(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "echo.tl").write_text(ECHO)
    return tmp_path


class NoNetwork(AssertionError):
    pass


def forbid_network(monkeypatch) -> None:
    """Any socket, name resolution or selector the replay would make fails the test."""

    def refuse(*args, **kwargs):
        raise NoNetwork("the replay touched the network")

    for name in ("socket", "socketpair", "getaddrinfo", "create_connection"):
        monkeypatch.setattr(socket, name, refuse)
    monkeypatch.setattr(selectors, "DefaultSelector", refuse)


def test_a_replay_opens_no_socket_and_runs_the_same(prog, monkeypatch):
    code, out, err = tvm(["record", "--allow-net", "echo.tl", "-o", "e.tvmrec"])
    assert code == 0, err
    assert out.startswith("ALPHA\nBETA\nGAMMA\nnil\nserved 3\nchatter done\n")
    rec = read_recording("e.tvmrec")
    kinds = {k for k, _ in rec.entries}
    assert {"net", "poll", "clock"} <= kinds
    ops = {v[0] for k, v in rec.entries if k == "net"}
    assert {"resolve", "socket", "bind", "listen", "connect_ex", "accept", "recv", "send", "shutdown"} <= ops
    received = b"".join(base64.b64decode(v[2]["b"]) for k, v in rec.entries if k == "net" and v[:2] == ["recv", "ok"])
    assert b"alpha\n" in received and b"ALPHA\n" in received  # the bytes read are in the log
    forbid_network(monkeypatch)
    # replay checks the instruction count and the output against the recording
    assert tvm(["replay", "e.tvmrec"]) == (0, out, "")


def test_connect_refused_and_resolution_errors_are_replayed(prog, monkeypatch):
    (prog / "refused.tl").write_text(
        textwrap.dedent(
            """\
            import net
            let l = net.listen("127.0.0.1", 0)
            let p = l.port()
            l.close()
            try { net.connect("127.0.0.1", p) } catch e { print("caught " + e.message) }
            try { net.connect("no-such-host.invalid", 80) } catch e { print("caught " + typeof(e)) }
            try { l.accept() } catch e { print("caught " + e.message) }
            """
        )
    )
    code, out, err = tvm(["record", "--allow-net", "refused.tl", "-o", "r.tvmrec"])
    assert code == 0, err
    assert "Connection refused" in out and "caught IOError" in out and "listener is closed" in out
    forbid_network(monkeypatch)
    assert tvm(["replay", "r.tvmrec"]) == (0, out, "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_host_client_thread_while_recording(prog, monkeypatch):
    """The peer is outside the VM (a host thread with its own timing): what the
    program saw, and when, is what the replay sees."""
    port = free_port()
    (prog / "srv.tl").write_text(
        textwrap.dedent(
            """\
            import net
            import os
            let l = net.listen("127.0.0.1", int(os.args[0]))
            var ticks = 0
            var stop = false
            spawn fn() { while stop == false { ticks = ticks + 1; sleep(1) } }()
            let c = l.accept()
            var got = []
            var chunk = c.read(4)
            while chunk != nil {
              got.push(chunk)
              c.write("ack " + chunk + "\\n")
              chunk = c.read(4)
            }
            stop = true
            print(got.join("|"))
            print(len(got) > 0)
            print("ticks " + str(ticks > 0))
            """
        )
    )
    replies: list[bytes] = []

    def client() -> None:
        for _ in range(200):
            try:
                s = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.01)
        else:  # pragma: no cover
            return
        with s:
            for part in (b"hello ", b"wor", b"ld, and more"):
                s.sendall(part)
                time.sleep(0.02)
            s.shutdown(socket.SHUT_WR)
            while True:
                data = s.recv(4096)
                if not data:
                    break
                replies.append(data)

    t = threading.Thread(target=client)
    t.start()
    code, out, err = tvm(["record", "--allow-net", "srv.tl", str(port), "-o", "s.tvmrec"])
    t.join(10)
    assert code == 0, err
    assert out.splitlines()[0].replace("|", "") == "hello world, and more"
    assert b"ack " in b"".join(replies)
    forbid_network(monkeypatch)
    assert tvm(["replay", "s.tvmrec"]) == (0, out, "")


def test_an_edited_program_is_a_clear_error(prog):
    assert tvm(["record", "--allow-net", "echo.tl", "-o", "e.tvmrec"])[0] == 0
    (prog / "echo.tl").write_text(ECHO.replace('"beta", ', ""))
    code, out, err = tvm(["replay", "e.tvmrec"])
    assert code == 2 and out == ""
    assert "echo.tl changed since the run was recorded" in err and "Traceback" not in err


def test_a_replay_that_diverges_on_the_network_is_a_clear_error(prog, monkeypatch):
    assert tvm(["record", "--allow-net", "echo.tl", "-o", "e.tvmrec"])[0] == 0
    # The program edited, and the recorded hash forced to match: the replay
    # runs, and stops where the program asks for something the log lacks.
    edited = ECHO.replace('"beta", ', "").replace('let other = spawn chatter("chatter done")', 'let other = spawn chatter("chatter done")\nlet l2 = net.listen("127.0.0.1", 0)')
    (prog / "echo.tl").write_text(edited)
    lines = (prog / "e.tvmrec").read_text().splitlines()
    header = json.loads(lines[0])
    header["sources"]["echo.tl"] = hashlib.sha256(edited.encode()).hexdigest()
    lines[0] = json.dumps(header)
    (prog / "e.tvmrec").write_text("\n".join(lines) + "\n")
    forbid_network(monkeypatch)
    code, out, err = tvm(["replay", "e.tvmrec"])
    assert code != 0
    assert "replay diverged at input #" in err and "Traceback" not in err
    assert "network" in err


def test_a_live_run_uses_the_host_sockets_directly(prog):
    assert Inputs.net is None  # (stdlib/net.py: no stand-in, no extra call)
    code, out, err = tvm(["run", "--allow-net", "echo.tl"])
    assert code == 0, err
    assert out.startswith("ALPHA\nBETA\nGAMMA\n")


def test_each_network_entry_names_its_operation(prog, monkeypatch):
    assert tvm(["record", "--allow-net", "echo.tl", "-o", "e.tvmrec"])[0] == 0
    lines = (prog / "e.tvmrec").read_text().splitlines()
    inputs = json.loads(lines[1])
    i = next(i for i, (k, v) in enumerate(inputs) if k == "net" and v[0] == "bind")
    del inputs[i]  # the bind's outcome lost: the program asks for it, the log has the listen's
    lines[1] = json.dumps(inputs)
    (prog / "e.tvmrec").write_text("\n".join(lines) + "\n")
    forbid_network(monkeypatch)
    code, _, err = tvm(["replay", "e.tvmrec"])
    assert code != 0 and "Traceback" not in err
    assert f"replay diverged at input #{i + 1}: the recording has a network operation (listen), the program asked for bind" in err


@pytest.mark.parametrize("fork", [True, False])
def test_tvm_debug_steps_through_a_network_recording(prog, monkeypatch, fork):
    """The debugger replays the recorded network too (forward, and back by
    checkpoint or by re-execution): no live socket, the same lines read."""
    if not fork:
        monkeypatch.setenv("TVM_NO_FORK", "1")
    code, out, err = tvm(["record", "--allow-net", "echo.tl", "-o", "e.tvmrec"])
    assert code == 0, err
    line = ECHO.splitlines().index("  print(c.read_line())") + 1
    code, dbg, err = tvm(["debug", "e.tvmrec"], stdin=f"b {line}\nc\nrs\nrs\nc\nc\nc\nd {line}\nc\nq\n")
    assert code == 0, err
    assert "diverged" not in dbg + err and "Traceback" not in err
    assert dbg.count("ALPHA") == 1 and dbg.count("BETA") == 1  # shown once, though run again
    assert "GAMMA\nnil\nserved 3\nchatter done\n" in dbg
    assert "program exited with status 0" in dbg


def test_errors_come_back_as_the_same_oserror():
    """A logged OSError is raised again as its subclass (net.py tells "would
    block" and a reset apart by class), without the host."""
    from tinyvm.tools.netrec import NetApi, NetSocket
    from tinyvm.tools.record import Recorder, Replayer

    class Peer:
        def __init__(self):
            self.results = [b"hi", BlockingIOError(11, "Resource temporarily unavailable"), ConnectionResetError(104, "Connection reset by peer"), b""]

        def recv(self, n):
            r = self.results.pop(0)
            if isinstance(r, Exception):
                raise r
            return r

    rec = Recorder()
    s = NetSocket(NetApi(rec), Peer(), 7)
    seen = []
    for _ in range(4):
        try:
            seen.append(s.recv(10))
        except OSError as e:
            seen.append(type(e))
    assert seen == [b"hi", BlockingIOError, ConnectionResetError, b""]
    log = json.loads(json.dumps(rec.log))  # (as in the file)
    rep = Replayer(log)
    s2 = NetSocket(NetApi(rep), None, 7)
    again = []
    for _ in range(4):
        try:
            again.append(s2.recv(10))
        except OSError as e:
            again.append(type(e))
    assert again == seen and rep.left == 0
