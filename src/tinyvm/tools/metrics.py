"""Prometheus metrics for a running VM (`tvm run --metrics-port N`).

Why: a long-running guest program (a server, a worker pool) should be
observable the way other services are. `MetricsServer(vm, port)` serves, from
a daemon thread, `/metrics` in Prometheus' text format and `/healthz`; on
127.0.0.1 unless told otherwise (the metrics describe the program: exposing
them is the operator's choice).

prometheus-client is an optional extra (`pip install 'tinyvm[metrics]'`): the
core VM does not depend on it, and without it `MetricsServer` raises
`MetricsUnavailable` with that advice. Each server has its own
`CollectorRegistry` -- never the process-wide default one -- so several VMs in
one process export separately and nothing leaks between runs.

What is exported (all prefixed `tinyvm_`):

    instructions_total          instructions run (the VM's own count, vm.limits.spent: exact
                                on a VM that counts fuel, as `tvm run --metrics-port` makes
                                it; else dispatches)
    fibers_live                 fibers alive (the main fiber included while it runs)
    channel_operations_total    channel sends, receives and selects, by `op`
    heap_bytes / heap_objects   the guest heap now (accounted bytes, objects)
    gc_pause_seconds{kind}      GC pauses by kind (full, minor, major,
                                incremental-slice, emergency), a histogram
                                (from "gc" hook events)
    jit_compilations_total      JIT compilations ("jit" hook events), and
    jit_deopts_total            deoptimisations; jit_given_up_total

Values the VM keeps anyway (instructions, fibers, heap) are read when scraped;
GC and JIT are counted by hooks (vm/hooks.py), which cost nothing between
events. Channel operations have no hook event: this VM's scheduler's `send`,
`recv` and `select` are wrapped with a counter (instance attributes of that
one VM), so the server must be made before the program's code is decoded.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GC_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class MetricsUnavailable(Exception):
    """prometheus-client is not installed."""


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError:
        raise MetricsUnavailable("metrics need the prometheus-client package: pip install 'tinyvm[metrics]'") from None
    return prometheus_client


class VMCollector:
    """Reads the VM's own counters at each scrape (no cost while running)."""

    def __init__(self, vm: Any, channel_ops: dict[str, int]) -> None:
        self.vm = vm
        self.channel_ops = channel_ops

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        vm = self.vm
        what = "Instructions the VM has run" if vm.limits.metered else "Dispatches the VM has run (a VM that does not count fuel: a fused superinstruction counts once)"
        yield CounterMetricFamily("tinyvm_instructions", what, value=vm.limits.spent)
        sched = vm.sched
        main = sched.main
        live = len(sched.alive) + (1 if main is not None and main.state != "done" else 0)
        yield GaugeMetricFamily("tinyvm_fibers_live", "Fibers alive, the main fiber included", value=live)
        ch = CounterMetricFamily("tinyvm_channel_operations", "Channel operations", labels=["op"])
        for op in ("send", "recv", "select"):
            ch.add_metric([op], self.channel_ops.get(op, 0))
        yield ch
        yield GaugeMetricFamily("tinyvm_heap_bytes", "Guest heap size in accounted bytes", value=vm.heap.bytes)
        yield GaugeMetricFamily("tinyvm_heap_objects", "Objects on the guest heap", value=vm.heap.count)


class MetricsServer:
    """Serves one VM's metrics over HTTP while it runs: `start()`, `stop()`.

    `port` 0 picks a free port (`.port` tells which)."""

    def __init__(self, vm: Any, port: int, host: str = "127.0.0.1") -> None:
        prom = _prometheus()
        self.vm = getattr(vm, "machine", vm)
        self.host = host
        self.registry = prom.CollectorRegistry(auto_describe=False)
        self.channel_ops: dict[str, int] = {"send": 0, "recv": 0, "select": 0}
        self.registry.register(VMCollector(self.vm, self.channel_ops))
        self.gc_pauses = prom.Histogram("tinyvm_gc_pause_seconds", "GC pauses by kind", ["kind"], buckets=GC_BUCKETS, registry=self.registry)
        self.jit_compiles = prom.Counter("tinyvm_jit_compilations", "JIT compilations", registry=self.registry)
        self.jit_deopts = prom.Counter("tinyvm_jit_deopts", "JIT deoptimisations", registry=self.registry)
        self.jit_given_up = prom.Counter("tinyvm_jit_given_up", "Functions the JIT gave up on", registry=self.registry)
        self._latest = prom.generate_latest
        self._content_type = prom.CONTENT_TYPE_LATEST
        self._handles: list = []
        self._wrap_channels()
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def _wrap_channels(self) -> None:
        sched = self.vm.sched
        counts = self.channel_ops
        for op in ("send", "recv", "select"):
            inner = getattr(sched, op)

            def counted(*args: Any, _inner: Any = inner, _op: str = op) -> Any:
                counts[_op] += 1
                return _inner(*args)

            setattr(sched, op, counted)

    def _handler(self) -> type:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    body, ctype, status = server._latest(server.registry), server._content_type, 200
                elif path == "/healthz":
                    body, ctype, status = b"ok\n", "text/plain; charset=utf-8", 200
                else:
                    body, ctype, status = b"not found: try /metrics or /healthz\n", "text/plain; charset=utf-8", 404
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass  # the program's stderr is the program's

        return Handler

    def start(self) -> MetricsServer:
        hooks = self.vm.hooks
        self._handles = [hooks.add("gc", self._on_gc), hooks.add("jit", self._on_jit)]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="tinyvm-metrics", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        for h in self._handles:
            self.vm.hooks.remove(h)
        self._handles = []
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.httpd.server_close()

    def _on_gc(self, ev: Any) -> None:
        self.gc_pauses.labels(kind=ev.data.get("kind") or "full").observe(float(ev.data.get("ms") or 0.0) / 1000.0)

    def _on_jit(self, ev: Any) -> None:
        action = ev.data.get("action")
        if action == "compile":
            self.jit_compiles.inc()
        elif action == "deopt":
            self.jit_deopts.inc()
        elif action == "give-up":
            self.jit_given_up.inc()
