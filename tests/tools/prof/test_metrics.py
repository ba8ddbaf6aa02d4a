"""tvm run --metrics-port and tools/metrics.py: Prometheus metrics scraped over
HTTP while a program runs, /healthz, a registry per VM, the optional extra."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tinyvm import VM

prometheus_client = pytest.importorskip("prometheus_client")
from tinyvm.tools.metrics import MetricsServer, MetricsUnavailable

# Runs until the test closes the gate channel... a guest program cannot see
# the host, so it runs for a fixed, long-enough amount of work instead, with
# channels, fibers and garbage.
BUSY = """fn worker(input: Chan<int>, out: Chan<int>) -> int {
  var n = 0
  for v in input { out.send(v * 2)
    n += 1 }
  out.close()
  return n
}

let a: Chan<int> = Chan(4)
let b: Chan<int> = Chan(4)
let w = spawn worker(a, b)
var junk = []
for round in 0..ROUNDS {
  a.send(round)
  let got = b.recv()
  for i in 0..200 { junk = [i, [got]] }
}
a.close()
print(await w)
"""


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        return r.read().decode()


def value(text: str, name: str, labels: str = "") -> float:
    m = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.MULTILINE)
    assert m, f"{name}{labels} not in:\n{text}"
    return float(m.group(1))


def test_scrape_while_running():
    vm = VM(stdout=io.StringIO())
    server = MetricsServer(vm, 0).start()
    url = server.url
    assert url.startswith("http://127.0.0.1:")
    scrapes: list[str] = []
    done = threading.Event()

    def run() -> None:
        try:
            vm.run_source(BUSY.replace("ROUNDS", "3000"), "busy.tl")
        finally:
            done.set()

    t = threading.Thread(target=run)
    t.start()
    try:
        while not done.is_set():
            scrapes.append(scrape(url))
            time.sleep(0.05)
        t.join()
        final = scrape(url)
        assert scrape(url.replace("/metrics", "/healthz")) == "ok\n"
    finally:
        server.stop()
    assert vm.machine.stdout.getvalue() == "3000\n"
    during = [s for s in scrapes if value(s, "tinyvm_instructions_total") > 0]
    assert during, "no scrape saw the program running"
    # counters only grow; a live scrape saw both fibers
    seen = [value(s, "tinyvm_instructions_total") for s in scrapes] + [value(final, "tinyvm_instructions_total")]
    assert seen == sorted(seen)
    assert max(value(s, "tinyvm_fibers_live") for s in during) == 2
    assert value(final, "tinyvm_channel_operations_total", '{op="send"}') >= 6000
    assert value(final, "tinyvm_channel_operations_total", '{op="recv"}') >= 3000
    assert value(final, "tinyvm_heap_bytes") > 0 and value(final, "tinyvm_heap_objects") > 0
    assert value(final, "tinyvm_gc_pause_seconds_count", '{kind="full"}') >= 1
    assert value(final, "tinyvm_gc_pause_seconds_bucket", '{kind="full",le="+Inf"}') == value(final, "tinyvm_gc_pause_seconds_count", '{kind="full"}')
    assert value(final, "tinyvm_jit_compilations_total") == 0


def test_jit_counters_and_404():
    vm = VM(stdout=io.StringIO(), jit="eager")
    server = MetricsServer(vm, 0).start()
    try:
        vm.run_source("fn f(n) { var s = 0\n for i in 0..n { s += i }\n return s }\nprint(f(1000))\n", "f.tl")
        text = scrape(server.url)
        with pytest.raises(urllib.error.HTTPError) as e:
            scrape(server.url.replace("/metrics", "/nothing"))
        assert e.value.code == 404
    finally:
        server.stop()
    assert value(text, "tinyvm_jit_compilations_total") >= 1
    assert "tinyvm_jit_deopts_total" in text


def test_registry_per_vm():
    a, b = VM(stdout=io.StringIO()), VM(stdout=io.StringIO())
    sa, sb = MetricsServer(a, 0).start(), MetricsServer(b, 0).start()
    try:
        a.run_source("var s = 0\nfor i in 0..20000 { s += i }\n", "a.tl")
        ta, tb = scrape(sa.url), scrape(sb.url)
    finally:
        sa.stop()
        sb.stop()
    assert value(ta, "tinyvm_instructions_total") > 20000 > value(tb, "tinyvm_instructions_total")
    # nothing went to the process-wide default registry
    assert b"tinyvm_" not in prometheus_client.generate_latest(prometheus_client.REGISTRY)


def test_missing_prometheus_client(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import fails
    with pytest.raises(MetricsUnavailable, match=r"pip install 'tinyvm\[metrics\]'"):
        MetricsServer(VM(), 0)
    from prof_programs import tvm

    code, _, err = tvm(["run", "--metrics-port", "0", "-e", "print(1)"])
    assert code == 1 and err == "tvm: metrics need the prometheus-client package: pip install 'tinyvm[metrics]'\n"


def test_cli_serves_while_the_program_runs(tmp_path: Path):
    (tmp_path / "busy.tl").write_text(BUSY.replace("ROUNDS", "20000"))
    p = subprocess.Popen(
        [sys.executable, "-m", "tinyvm.cli.main", "run", "--metrics-port", "0", "busy.tl"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        line = p.stderr.readline()
        m = re.match(r"tvm: metrics at (http://127\.0\.0\.1:\d+/metrics) \(and /healthz\)$", line.strip())
        assert m, line
        live = 0.0
        while not live and p.poll() is None:  # (until the program has started)
            live = value(scrape(m.group(1)), "tinyvm_fibers_live")
            time.sleep(0.02)
        assert live >= 1
        assert scrape(m.group(1).replace("/metrics", "/healthz")) == "ok\n"
        out, err = p.communicate(timeout=120)
    finally:
        p.kill()
    assert p.returncode == 0 and out == "20000\n", err
