"""Python-level tests of `tvm dap`: the framing, error responses for bad input,
and the session's request/event choreography over a stub engine (so these
pin the adapter's own behaviour; test_dap_client.py drives the real engine
with VS Code's client)."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tinyvm.tools.dap.protocol import MessageReader, encode
from tinyvm.tools.dap.server import run_session, serve_tcp

TVM = str(Path(sys.executable).with_name("tvm"))


def frame(obj) -> bytes:
    return encode(obj) if isinstance(obj, dict) else obj


def read_all(data: bytes) -> list:
    reader = MessageReader(io.BytesIO(data))
    out = []
    while (m := reader.read()) is not None:
        out.append(m)
    return out


# ---------------------------------------------------------------- framing


def test_encode_and_read_round_trip_with_unicode():
    msg = {"seq": 1, "type": "request", "command": "evaluate", "arguments": {"expression": "\"héllo ✓\""}}
    data = encode(msg)
    head, body = data.split(b"\r\n\r\n", 1)
    assert head == b"Content-Length: %d" % len(body)  # bytes, not characters
    assert read_all(data + data) == [msg, msg]


def test_malformed_messages_are_records_and_reading_goes_on():
    good = {"seq": 9, "type": "request", "command": "threads", "arguments": {}}
    data = (
        b"Content-Type: x\r\n\r\n"  # no Content-Length
        + b"Content-Length: abc\r\n\r\n"
        + b"Content-Length: 5\r\n\r\n{oops"
        + b"Content-Length: 2\r\n\r\n[]"
        + encode({"seq": 4, "type": "event", "event": "x"})
        + encode({"seq": 5, "type": "request"})
        + encode({"seq": 6, "type": "request", "command": "next", "arguments": 3})
        + encode(good)
    )
    got = read_all(data)
    assert [type(m).__name__ for m in got] == ["Malformed"] * 7 + ["dict"]
    reasons = [m.reason for m in got[:7]]
    assert "no Content-Length" in reasons[0]
    assert "not a number" in reasons[1]
    assert "not JSON" in reasons[2]
    assert "not an object" in reasons[3]
    assert "expected 'request'" in reasons[4] and got[4].seq == 4
    assert "no command" in reasons[5] and got[5].seq == 5
    assert got[6].command == "next" and got[6].seq == 6
    assert got[7] == good


def test_truncated_body_is_end_of_stream():
    assert read_all(b"Content-Length: 50\r\n\r\n{\"seq\":1}") == []


# ---------------------------------------------------------------- a stub engine


@dataclass
class Stop:
    reason: str
    fiber_id: int = 1
    position: int = 0
    text: str = ""
    hit_ids: list = field(default_factory=list)
    exit_code: int | None = None
    error: str | None = None


class EvalError(Exception):
    pass


class StubEngine:
    """Follows the engine contract (common14.md) with a scripted program:
    lines 1..5 of one file; a breakpoint stops there; `pause` is honoured by
    a `continue` that blocks until paused when no breakpoint is ahead."""

    def __init__(self, path, *, argv=(), stdin=None, on_output=None, jit="off", recorder=None):
        self.path, self.argv, self.jit, self.on_output = path, argv, jit, on_output
        self.line, self.bps, self.filters = 0, [], []
        self.paused = threading.Event()
        self.x = 1
        self.calls = []

    def set_breakpoints(self, path, bps):
        self.calls.append(("set_breakpoints", path, bps))
        self.bps = [b["line"] for b in bps]
        return [{"id": i + 1, "verified": True, "line": b["line"]} for i, b in enumerate(bps)]

    def set_function_breakpoints(self, bps):
        return [{"id": 100 + i, "verified": True} for i, _ in enumerate(bps)]

    def set_exception_breakpoints(self, filters):
        self.filters = list(filters)

    def start(self, stop_on_entry):
        self.on_output("stdout", "started\n")
        if stop_on_entry:
            self.line = 1
            return Stop("entry")
        return self.resume("continue")

    def resume(self, how, fiber_id=None):
        if how != "continue":
            self.line += 1
            return Stop("step") if self.line <= 5 else Stop("exited", exit_code=0)
        ahead = [b for b in self.bps if b > self.line]
        if ahead:
            self.line = ahead[0]
            return Stop("breakpoint", hit_ids=[self.bps.index(ahead[0]) + 1])
        if "block" in self.argv:  # a program that runs until paused
            self.paused.wait(10)
            self.paused.clear()
            return Stop("pause", text="paused")
        return Stop("exited", exit_code=3, error="error: boom")

    def pause(self):
        self.paused.set()

    def step_back(self, fiber_id=None):
        self.line = max(1, self.line - 1)
        return Stop("step")

    def reverse_continue(self):
        self.line = 1
        return Stop("entry")

    def restart_frame(self, frame_id):
        return Stop("step")

    def threads(self):
        return [{"id": 1, "name": "main", "state": "stopped"}] + ([{"id": 2, "name": "fiber 2", "state": "ready"}] if self.line >= 2 else [])

    def stack(self, fiber_id, start=0, levels=0):
        return [{"id": 7, "name": "main", "path": self.path, "line": self.line, "column": 1}], 1

    def scopes(self, frame_id):
        return [{"name": "Locals", "variablesReference": 11, "expensive": False}]

    def variables(self, ref, start=0, count=0):
        return [{"name": "x", "value": str(self.x), "type": "int", "variablesReference": 0}]

    def evaluate(self, expr, frame_id=None):
        if expr == "bad":
            raise EvalError("<eval>:1:1: error: undefined 'bad'")
        return {"result": str(self.x * 2), "type": "int", "variablesReference": 0}

    def set_variable(self, ref, name, value):
        self.x = int(value)
        return {"value": value, "type": "int", "variablesReference": 0}


class RawReader:
    """The client's side: any message, events included."""

    def __init__(self, stream):
        self.stream = stream

    def read(self):
        length = None
        while True:
            line = self.stream.readline()
            if not line:
                return None
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(self.stream.read(length))


class Client:
    """A session over a socket pair, with the server on a thread."""

    def __init__(self, tmp_path, program_args=(), cl_program=None, engine_factory=StubEngine):
        self.sock, other = socket.socketpair()
        stream = other.makefile("rwb")
        self.server = threading.Thread(
            target=run_session, args=(stream, stream), kwargs={"engine_factory": engine_factory, "program": cl_program, "program_args": list(program_args)}, daemon=True
        )
        self.server.start()
        self.file = self.sock.makefile("rwb")
        self.reader = RawReader(self.file)
        self.seq = 0
        self.events: list = []
        self.program = tmp_path / "p.tl"
        self.program.write_text("print(1)\n")

    def send_raw(self, data: bytes):
        self.file.write(data)
        self.file.flush()

    def request(self, command, **arguments):
        self.seq += 1
        self.send_raw(encode({"seq": self.seq, "type": "request", "command": command, "arguments": arguments}))
        return self.response(self.seq)

    def response(self, seq):
        while True:
            m = self.reader.read()
            assert m is not None, "the adapter closed the connection"
            if m["type"] == "response" and m["request_seq"] == seq:
                return m
            self.events.append(m)

    def event(self, name):
        for i, m in enumerate(self.events):
            if m.get("event") == name:
                return self.events.pop(i)
        while True:
            m = self.reader.read()
            assert m is not None, f"the connection closed before a {name!r} event"
            if m.get("event") == name:
                return m
            self.events.append(m)


@pytest.fixture
def client(tmp_path):
    c = Client(tmp_path)
    yield c
    c.sock.close()


def test_initialize_capabilities(client):
    r = client.request("initialize", adapterID="tinyvm")
    assert r["success"]
    caps = r["body"]
    for key in ("supportsConfigurationDoneRequest", "supportsConditionalBreakpoints", "supportsHitConditionalBreakpoints", "supportsLogPoints",
                "supportsFunctionBreakpoints", "supportsStepBack", "supportsRestartFrame", "supportsSetVariable", "supportsEvaluateForHovers",
                "supportsTerminateRequest"):
        assert caps[key] is True, key
    assert [f["filter"] for f in caps["exceptionBreakpointFilters"]] == ["caught", "uncaught"]


def test_unknown_request_and_malformed_message_get_error_responses(client):
    r = client.request("frobnicate")
    assert r["success"] is False and "unknown request 'frobnicate'" in r["message"]
    client.send_raw(b"Content-Length: 3\r\n\r\n{x}")
    r = client.response(0)
    assert r["success"] is False and "not JSON" in r["message"]
    # missing/ill-typed arguments
    assert "needs 'program'" in client.request("launch")["message"]
    assert "program not found" in client.request("launch", program="/nonexistent.tl")["message"]
    assert "send launch" in client.request("stackTrace", threadId=1)["message"]
    # the session still works
    assert client.request("threads")["body"]["threads"] == [{"id": 1, "name": "main"}]


def test_session_launch_breakpoint_step_inspect_and_exit(client):
    client.request("initialize")
    r = client.request("launch", program=str(client.program), args=["a"], jit=True)
    assert r["success"], r
    client.event("initialized")
    r = client.request("setBreakpoints", source={"path": str(client.program)}, breakpoints=[{"line": 3}])
    assert r["body"]["breakpoints"][0]["verified"] and r["body"]["breakpoints"][0]["source"]["path"] == str(client.program)
    assert client.request("setExceptionBreakpoints", filters=["uncaught"])["success"]
    assert "unknown exception filter" in client.request("setExceptionBreakpoints", filters=["all"])["message"]
    assert client.request("configurationDone")["success"]
    assert client.event("output")["body"] == {"category": "stdout", "output": "started\n"}
    stopped = client.event("stopped")["body"]
    assert stopped["reason"] == "breakpoint" and stopped["threadId"] == 1 and stopped["hitBreakpointIds"] == [1]
    assert client.event("thread")["body"] == {"reason": "started", "threadId": 2}
    st = client.request("stackTrace", threadId=1)["body"]
    assert st["totalFrames"] == 1 and st["stackFrames"][0]["line"] == 3 and st["stackFrames"][0]["source"]["path"] == str(client.program)
    assert client.request("scopes", frameId=7)["body"]["scopes"][0]["presentationHint"] == "locals"
    assert client.request("setVariable", variablesReference=11, name="x", value="21")["body"]["value"] == "21"
    assert client.request("evaluate", expression="x * 2", frameId=7)["body"]["result"] == "42"
    r = client.request("evaluate", expression="bad", frameId=7)
    assert r["success"] is False and "undefined 'bad'" in r["message"]
    assert client.request("next", threadId=1)["success"]
    assert client.event("stopped")["body"]["reason"] == "step"
    assert client.request("stepBack", threadId=1)["success"]
    assert client.event("stopped")["body"]["reason"] == "step"
    assert client.request("restartFrame", frameId=7)["success"]
    assert client.event("stopped")["body"]["reason"] == "restart"
    assert client.request("reverseContinue", threadId=1)["success"]
    assert client.event("stopped")["body"]["reason"] == "entry"
    assert client.request("continue", threadId=1)["body"] == {"allThreadsContinued": True}
    assert client.event("stopped")["body"]["reason"] == "breakpoint"
    client.request("continue", threadId=1)
    assert client.event("output")["body"] == {"category": "stderr", "output": "error: boom\n"}
    assert client.event("exited")["body"] == {"exitCode": 3}
    client.event("terminated")
    assert "ended" in client.request("stackTrace", threadId=1)["message"]
    assert client.request("disconnect")["success"]
    client.server.join(5)
    assert not client.server.is_alive()


def test_pause_while_running_and_requests_refused_while_running(tmp_path):
    c = Client(tmp_path, cl_program=None)
    try:
        c.request("initialize")
        c.request("launch", program=str(c.program), args=["block"])
        c.request("configurationDone")
        r = c.request("stackTrace", threadId=1)
        assert r["success"] is False and "running" in r["message"]
        assert c.request("threads")["success"]  # answered from the last stop, never blocks
        # a breakpoint change while running: paused, changed, continued, no stopped event
        r = c.request("setFunctionBreakpoints", breakpoints=[{"name": "f"}])
        assert r["success"] and r["body"]["breakpoints"][0]["verified"]
        assert "running" in c.request("stackTrace", threadId=1)["message"]
        assert c.request("pause", threadId=1)["success"]
        assert c.event("stopped")["body"]["reason"] == "pause"
        assert [e for e in c.events if e.get("event") == "stopped"] == []  # only the one asked for
        assert c.request("stackTrace", threadId=1)["success"]
        c.request("disconnect")
    finally:
        c.sock.close()


def test_attach_debugs_the_command_line_program(tmp_path):
    prog = tmp_path / "q.tl"
    prog.write_text("print(2)\n")
    c = Client(tmp_path, program_args=["x", "y"], cl_program=str(prog))
    try:
        c.request("initialize")
        assert c.request("attach", stopOnEntry=True)["success"]
        c.event("initialized")
        c.request("configurationDone")
        assert c.event("stopped")["body"]["reason"] == "entry"
        assert c.request("stackTrace", threadId=1)["body"]["stackFrames"][0]["source"]["path"] == str(prog)
    finally:
        c.sock.close()
    nothing = Client(tmp_path)
    try:
        assert "nothing to attach to" in nothing.request("attach")["message"]
    finally:
        nothing.sock.close()


def test_tcp_server_serves_sessions_and_announces_its_port():
    done = threading.Event()

    class Announce(io.StringIO):
        def write(self, s):
            r = super().write(s)
            done.set()
            return r

    ann = Announce()
    t = threading.Thread(target=serve_tcp, args=(0,), kwargs={"once": True, "announce": ann, "engine_factory": StubEngine}, daemon=True)
    t.start()
    assert done.wait(5)
    port = int(ann.getvalue().strip().rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as s:
        f = s.makefile("rwb")
        f.write(encode({"seq": 1, "type": "request", "command": "initialize", "arguments": {}}))
        f.flush()
        r = MessageReader(f).read()
        assert r["success"] and r["body"]["supportsStepBack"]
        f.close()
    t.join(5)
    assert not t.is_alive()  # --once: the server ended with the connection


# ---------------------------------------------------------------- the command


def test_tvm_dap_on_stdio_answers_garbage_with_errors_not_tracebacks():
    big = {"seq": 2, "type": "request", "command": "initialize", "arguments": {"clientName": "x" * 300_000}}  # > a pipe's buffer
    data = b"hello\r\n\r\n" + b"Content-Length: 4\r\n\r\nnope" + encode({"seq": 1, "type": "request", "command": "nope"}) + encode(
        big
    ) + encode({"seq": 3, "type": "request", "command": "disconnect", "arguments": {}})
    p = subprocess.run([TVM, "dap"], input=data, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert b"Traceback" not in p.stderr and p.stderr == b""
    msgs = read_all(p.stdout)
    assert [(m.get("command"), m["success"]) for m in msgs] == [("", False), ("", False), ("nope", False), ("initialize", True), ("disconnect", True)]
    assert "without ':'" in msgs[0]["message"]
    assert msgs[2]["request_seq"] == 1 and msgs[2]["message"] == "unknown request 'nope'"


def test_tvm_dap_usage_errors():
    p = subprocess.run([TVM, "dap", "--port", "x"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 64 and "--port needs a port number" in p.stderr
    p = subprocess.run([TVM, "dap", "/no/such.tl"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 64 and "no such file" in p.stderr
    p = subprocess.run([TVM, "dap", "--once"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 64 and "--once needs --port" in p.stderr


def test_tvm_run_does_not_import_the_adapter():
    code = "import sys; from tinyvm.cli.main import main; main(['run', '-e', 'print(1)']); print(any(m.startswith('tinyvm.tools') for m in sys.modules))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={**os.environ})
    assert p.stdout.split() == ["1", "False"], p.stderr


def test_zero_based_lines_and_columns_are_converted(client):
    client.request("initialize", linesStartAt1=False, columnsStartAt1=False)
    client.request("launch", program=str(client.program), stopOnEntry=True)
    r = client.request("setBreakpoints", source={"path": str(client.program)}, breakpoints=[{"line": 2}])
    assert r["body"]["breakpoints"][0]["line"] == 2
    client.request("configurationDone")
    client.event("stopped")
    frame = client.request("stackTrace", threadId=1)["body"]["stackFrames"][0]
    assert (frame["line"], frame["column"]) == (0, 0)  # the engine's line 1, column 1
    client.request("continue", threadId=1)
    client.event("stopped")
    assert client.request("stackTrace", threadId=1)["body"]["stackFrames"][0]["line"] == 2  # engine line 3


def test_plain_run_for_nodebug_reports_like_tvm_run(tmp_path):
    from tinyvm.tools.dap.plain import PlainRun

    out = []
    prog = tmp_path / "ok.tl"
    prog.write_text('import os\nprint("hi ${os.args}")\nos.exit(7)\n')
    stop = PlainRun(str(prog), argv=["a"], on_output=lambda c, t: out.append((c, t)), jit="eager").start()
    assert (stop.reason, stop.exit_code, stop.error) == ("exited", 7, None)
    assert out == [("stdout", 'hi ["a"]\n')] or out == [("stdout", 'hi ["a"]'), ("stdout", "\n")]
    bad = tmp_path / "bad.lox"
    bad.write_text("print 1 +;\n")
    stop = PlainRun(str(bad)).start()
    assert stop.exit_code == 65 and "Expect expression" in stop.error
    run = PlainRun(str(prog))
    run.close()  # terminated before it began
    assert run.start().exit_code == 130


def test_tvm_dap_log_and_a_taken_port(tmp_path):
    log = tmp_path / "dap.log"
    data = encode({"seq": 1, "type": "request", "command": "initialize", "arguments": {}}) + encode({"seq": 2, "type": "request", "command": "disconnect"})
    p = subprocess.run([TVM, "dap", "--log", str(log)], input=data, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = log.read_text().splitlines()
    assert [ln[:3] for ln in lines] == ["-> ", "<- ", "-> ", "<- "]
    assert json.loads(lines[1][3:])["body"]["supportsStepBack"] is True
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        p = subprocess.run([TVM, "dap", "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and p.stderr.startswith("tvm dap: ") and "Traceback" not in p.stderr


REQUESTS = [
    "initialize", "launch", "attach", "configurationDone", "setBreakpoints", "setFunctionBreakpoints", "setExceptionBreakpoints",
    "continue", "next", "stepIn", "stepOut", "pause", "stepBack", "reverseContinue", "restartFrame", "threads", "stackTrace",
    "scopes", "variables", "evaluate", "setVariable", "exceptionInfo", "terminate",
]
GARBAGE = [
    {},
    {"threadId": "x", "frameId": None, "variablesReference": [], "breakpoints": 3, "source": 1, "filters": [None], "expression": 5,
     "name": {}, "value": 1, "program": 7, "args": "a", "jit": "fast", "cwd": 1, "stdin": 2, "lines": "x"},
    {"threadId": 99, "frameId": 12345, "variablesReference": 999, "startFrame": "a", "levels": -1, "start": "x", "count": {},
     "source": {"path": 5}, "breakpoints": [{"line": "3"}], "expression": "1 +", "name": "nope", "value": "1", "filters": ["caught", "x"]},
]


@pytest.mark.parametrize("engine", ["stub", "real"])
@pytest.mark.parametrize("stopped", [False, True])
def test_every_request_with_bad_arguments_gets_a_response(tmp_path, stopped, engine):
    """Before launch, or stopped at entry: each request with missing or
    ill-typed arguments is answered (an error or a success), and the session
    keeps working; with the stub and with the real engine."""
    client = Client(tmp_path, engine_factory=StubEngine if engine == "stub" else None)
    try:
        _bad_arguments(client, stopped)
    finally:
        client.sock.close()


def _bad_arguments(client, stopped):
    client.request("initialize")
    if stopped:
        client.request("launch", program=str(client.program), stopOnEntry=True)
        client.request("configurationDone")
        client.event("stopped")
    for command in REQUESTS:
        if stopped and command in ("terminate", "launch", "attach", "continue", "next", "stepIn", "stepOut", "stepBack", "reverseContinue", "restartFrame"):
            continue  # (these would legitimately run or end the program)
        for args in GARBAGE:
            r = client.request(command, **args)
            assert r["type"] == "response" and isinstance(r["success"], bool), (command, args, r)
            if not r["success"]:
                assert r["message"] and "Traceback" not in r["message"], (command, r)
                assert not r["message"].startswith("internal error"), (command, args, r["message"])
    if stopped:
        assert client.request("stackTrace", threadId=1)["success"]
    assert client.request("threads")["success"]
