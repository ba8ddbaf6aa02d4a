"""`tvm ide`: it serves on 127.0.0.1 and prints its URL, serves `/` and the
API, stops on SIGINT; without the extra it says so in one line (exit 64);
`tvm run` never loads it."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tinyvm.cli.main import main

from .helpers import needs_ide

REPO = Path(__file__).resolve().parents[2]


def tvm(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(""), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def start(*args: str) -> tuple[subprocess.Popen, str]:
    """`tvm ide --no-browser --port 0 ARGS` in a process of its own; (it, its URL)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tinyvm.cli.main import tvm_main; sys.argv[0] = 'tvm'; tvm_main()", "ide", "--no-browser", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    line = proc.stdout.readline()
    if not line.startswith("TinyVM IDE: http://127.0.0.1:"):
        proc.kill()
        raise AssertionError(f"no URL: {line!r} {proc.stderr.read()}")
    return proc, line.split()[-1]


def get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=20) as r:
        return r.status, r.headers.get("content-type", ""), r.read()


def stop(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("tvm ide did not stop on SIGINT") from None
    return code, proc.stderr.read()


@needs_ide
def test_serves_its_url_and_stops_on_sigint() -> None:
    proc, url = start()
    try:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/") and not url.endswith(":0/")
        status, ctype, body = get(url)
        assert status == 200 and ctype.startswith("text/html") and b"TinyVM IDE" in body
        status, _, body = get(url + "api/info")
        info = json.loads(body)
        assert info["initial"] is None and info["allow"] == [] and info["limits"]["fuel"] == 1_000_000
    finally:
        code, err = stop(proc)
    assert code == 0 and "Traceback" not in err


@needs_ide
def test_file_limits_and_grants_reach_the_api() -> None:
    proc, url = start("examples/showcase.tl", "--fuel", "5000", "--timeout", "3s", "--memory", "8M", "--allow-read")
    try:
        info = json.loads(get(url + "api/info")[2])
        assert info["initial"]["name"] == "showcase.tl" and info["initial"]["language"] == "tinylang"
        assert info["initial"]["source"] == (REPO / "examples/showcase.tl").read_text()
        assert info["limits"] == {"fuel": 5000, "memory": 8 << 20, "timeout": 3.0}
        assert info["allow"] == ["read"]
        # showcase imports ./lib/geometry: from FILE's folder.
        req = urllib.request.Request(url + "api/run", data=json.dumps({"language": "tinylang", "source": info["initial"]["source"]}).encode(), headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            run = json.loads(r.read())
        assert run["diagnostics"] == [] and run["status"] == "limit" and "out of fuel" in run["error"]["message"]
    finally:
        stop(proc)


@needs_ide
def test_opens_the_browser_unless_told_not_to(monkeypatch) -> None:
    import webbrowser

    import uvicorn

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url))
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    code, out, err = tvm(["ide", "--port", "0"])
    assert code == 0 and err == "" and opened == [out.split()[-1]]
    code, out, _ = tvm(["ide", "--port", "0", "--no-browser"])
    assert code == 0 and len(opened) == 1 and out.startswith("TinyVM IDE: http://127.0.0.1:")


@needs_ide
def test_usage_errors() -> None:
    assert tvm(["ide", "a.tl", "b.tl"])[0] == 64
    code, _, err = tvm(["ide", "--port", "http"])
    assert code == 64 and "--port" in err
    code, _, err = tvm(["ide", "--no-browser", "--port", "0", "missing.tl"])
    assert code == 1 and err.startswith("tvm: cannot read missing.tl")


def test_without_the_extra_one_line_and_exit_64(monkeypatch) -> None:
    # The extra's absence, simulated: its imports fail (None in sys.modules).
    for name in ("starlette", "uvicorn"):
        monkeypatch.setitem(sys.modules, name, None)
    import tinyvm.tools.ide as package
    from tinyvm.tools.ide import MISSING

    for name in [m for m in sys.modules if m.startswith("tinyvm.tools.ide.")]:
        monkeypatch.delitem(sys.modules, name)
        monkeypatch.delattr(package, name.rsplit(".", 1)[1], raising=False)

    assert MISSING == "the IDE needs starlette and uvicorn: pip install 'tinyvm[ide]'"
    assert tvm(["ide", "--no-browser"]) == (64, "", MISSING + "\n")
    assert tvm(["run", "-e", "print(1)"]) == (0, "1\n", "")


def test_help_lists_the_command() -> None:
    code, out, _ = tvm(["--help"])
    assert code == 0 and "\n  ide " in out
    code, out, _ = tvm(["ide", "--help"])
    assert code == 0 and "--no-browser" in out and "--allow-read" in out and "127.0.0.1" in out


def test_tvm_run_does_not_load_the_ide() -> None:
    code = "import sys; from tinyvm.cli.main import main; main(['run', '-e', 'print(1)']); print(sorted(m for m in sys.modules if m.startswith(('tinyvm.tools.ide', 'starlette', 'uvicorn'))))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60).stdout
    assert out.splitlines()[-1] == "[]"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a process")
@needs_ide
def test_sigint_during_a_request_still_stops() -> None:
    proc, url = start()
    try:
        assert get(url)[0] == 200
        time.sleep(0.2)
    finally:
        code, _ = stop(proc)
    assert code == 0


@needs_ide
def test_a_port_in_use_is_a_clear_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        code, out, err = tvm(["ide", "--no-browser", "--port", str(port)])
    assert code == 1 and out == "" and err.startswith(f"tvm: cannot listen on 127.0.0.1:{port}: ")
