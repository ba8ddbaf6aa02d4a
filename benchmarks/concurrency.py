"""The concurrency group of ``python -m benchmarks``: TinyVM's fibers and channels
against CPython's asyncio doing the same work (benchmarks/README.md, "Concurrency").

Programs live in ``benchmarks/programs/concurrency/``:

* ``spawn`` -- spawn 100 000 fibers that each compute one value, then await
  them all (asyncio: create and await 100 000 tasks);
* ``pingpong`` -- 200 000 messages between two fibers over unbuffered
  channels (asyncio: two tasks over two ``asyncio.Queue(1)``);
* ``idle`` -- not timed: the accounted heap per idle fiber (``IDLE_N`` fibers
  parked on one channel), which must stay under ``HEAP_LIMIT`` bytes, and the
  host memory (tracemalloc) per idle fiber and per idle asyncio task;
* ``echo`` -- a TCP line-echo server (``echo_server.tl``, one fiber per
  connection, ``net`` module) under ``ECHO_CONNS`` concurrent connections on
  loopback, against its asyncio twin (``echo_server.py``) under the same load
  from ``echo_load.py``: requests per second and latency percentiles. Each
  server runs as its own process (``tvm run --allow-net``, ``python``); the
  load generator runs in the harness's process. Skipped when TinyVM has no
  ``net`` module.
* ``churn`` -- not timed: memory of a long-running server.
  ``echo_churn.tl`` (one fiber per connection) runs in its own process on an
  embedded VM (``churn_server``) under ``CHURN_CLIENTS`` reconnecting clients
  (``echo_load.run_churn``: a new connection every ``CHURN_PER_CONN``
  requests) for ``CHURN_SECONDS`` (``--churn-seconds``; ``CHURN_QUICK`` under
  ``--quick``). The server's RSS at the end must be within ``RSS_SLACK`` of
  its RSS after the first ``CHURN_FIRST`` seconds, and once every client is
  done, a full collection must leave none of the finished connections' fibers
  and conns on the heap, and none of their sockets open.

The two timed programs run like the main table's (``tvm run NAME.tl`` and
``runpy`` of ``NAME.py`` in-process, wall clock, best of N, compilation
included), their runs alternating so that a change of machine load affects
both sides alike. Their outputs must match. Timings never fail the run; a
crash, a mismatch, an idle fiber over the heap limit, or a churn server whose
memory grows or that keeps finished connections does (exit status 1).
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import io
import json
import math
import os
import runpy
import subprocess
import sys
import threading
import tracemalloc
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .echo_load import Churn, Load, run_churn, run_load
from .runner import (
    PROGRAMS,
    REPO,
    MainFn,
    Result,
    TvmTimer,
    call_py,
    compare,
    selected,
)

CONC = PROGRAMS / "concurrency"
GROUP = "conc"
IDLE_N = 10_000  # idle fibers (and idle asyncio tasks) measured
HEAP_LIMIT = 1024  # accounted bytes allowed per idle fiber
ECHO_CONNS = 100  # concurrent connections (echo_server.tl/.py serve exactly this many)
ECHO_REQS = 100  # requests per connection, one after the other
ECHO_TIMEOUT = 120.0  # seconds a server may take to start, serve and exit
CHURN_CLIENTS = 100  # reconnecting clients at once
CHURN_PER_CONN = 20  # requests per connection
CHURN_SECONDS = 60.0  # how long they keep reconnecting (--churn-seconds)
CHURN_QUICK = 15.0  # ... under --quick
CHURN_FIRST = 5.0  # the server's RSS then is the reference
RSS_SLACK = 0.10  # the RSS at the end may exceed the reference by this fraction
# After the clients are gone and a full collection, what may be left: the
# acceptor's fiber (the main fiber is the host's, not on the heap), the
# control conn being answered, and it and the two listeners open. Anything
# more is a finished connection kept.
CHURN_LIVE = {"fibers_on_heap": 1, "conns_on_heap": 1, "sockets_open": 3, "fibers_alive": 1}


@dataclass(frozen=True)
class Timed:
    name: str
    work: int  # units of work done by one run
    unit: str  # what a unit is ("fibers", "messages")
    target: str  # the goal, as a condition on the time ratio tinyvm/asyncio
    met: Callable[[float], bool]


TIMED = [
    Timed("spawn", 100_000, "fibers", "ratio < 1 (faster than asyncio)", lambda r: r < 1.0),
    Timed("pingpong", 200_000, "messages", "ratio <= 1 (as many msg/s as asyncio)", lambda r: r <= 1.0),
]
NAMES = [t.name for t in TIMED] + ["idle", "echo", "churn"]


def wanted(filters: Optional[list[str]]) -> list[str]:
    return [n for n in NAMES if selected(f"{GROUP}/{n}", filters)]


# --------------------------------------------------------------------------- timed pairs


def run_timed(spec: Timed, main: Optional[MainFn], repeat: int) -> Result:
    res = Result(GROUP, spec.name)
    tl, py = CONC / f"{spec.name}.tl", CONC / f"{spec.name}.py"
    timer = TvmTimer(main, tl, res)
    py_best, py_out, py_failed = math.inf, None, False

    def run_py() -> None:
        nonlocal py_best, py_out, py_failed
        if py_failed:
            return
        try:
            elapsed, out = call_py(py)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001
            py_failed = True
            res.raised("asyncio program", exc)
            return
        py_best, py_out = min(py_best, elapsed), out

    for i in range(repeat):
        for side in (run_py, timer.run_once) if i % 2 == 0 else (timer.run_once, run_py):
            side()
    tvm_out = timer.finish()
    if not py_failed:
        res.cpython_s = py_best
    compare(res, tvm_out, py_out)
    m = res.metrics
    m["work"], m["unit"], m["target"] = spec.work, spec.unit, spec.target
    if res.tinyvm_s:
        m["tinyvm_per_s"] = spec.work / res.tinyvm_s
    if res.cpython_s:
        m["asyncio_per_s"] = spec.work / res.cpython_s
    if res.ratio is not None and res.status == "ok" and res.check == "ok":
        m["target_met"] = spec.met(res.ratio)
        res.note = "target met" if m["target_met"] else f"target {spec.target.split(' (')[0]}: not met"
    return res


# --------------------------------------------------------------------------- idle fibers


def idle_tinyvm(n: int) -> tuple[int, list[tuple[int, int, int]]]:
    """Run idle.tl's measure(n, probe) on an embedded VM; returns (fibers woken,
    [(accounted bytes, heap objects, traced host bytes)] at each probe)."""
    from tinyvm import VM
    from tinyvm.heap.objects import Native

    vm = VM(stdout=io.StringIO())
    vm.run_file(str(CONC / "idle.tl"))
    m = vm.machine
    samples: list[tuple[int, int, int]] = []

    def probe() -> None:
        # Called by the guest, between instructions, with no guest value held
        # in a Python local: a collection here is as safe as at a safe point.
        m.collect()
        gc.collect()
        samples.append((m.heap.bytes, m.heap.count, tracemalloc.get_traced_memory()[0]))

    native = m.heap.alloc(Native("probe", probe, 0))
    gc.collect()
    tracemalloc.start()
    try:
        woke = vm.call("measure", n, native)
    finally:
        tracemalloc.stop()
    return woke, samples


def idle_asyncio(n: int) -> tuple[int, list[int]]:
    """idle.py's measure(n, probe) under asyncio; returns (tasks woken, [traced bytes])."""
    ns = runpy.run_path(str(CONC / "idle.py"), run_name="idle")
    samples: list[int] = []

    def probe() -> None:
        gc.collect()
        samples.append(tracemalloc.get_traced_memory()[0])

    gc.collect()
    tracemalloc.start()
    try:
        woke = asyncio.run(ns["measure"](n, probe))
    finally:
        tracemalloc.stop()
    return woke, samples


def run_idle(main: Optional[MainFn]) -> Result:
    res = Result(GROUP, "idle", check="-")
    m = res.metrics
    m["work"], m["unit"], m["limit_bytes"] = IDLE_N, "idle fibers", HEAP_LIMIT
    woke_a: Any = None
    try:
        woke_a, host_a = idle_asyncio(IDLE_N)
        m["asyncio_host_bytes_per_task"] = (host_a[1] - host_a[0]) / IDLE_N
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001
        res.raised("asyncio program", exc)
    if main is None:
        res.status, res.note = "failed", "tinyvm not importable (see note above)"
        return res
    try:
        woke_t, samples = idle_tinyvm(IDLE_N)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 -- a VM bug must not stop the run
        res.raised("tinyvm", exc)
        return res
    (b0, c0, h0), (b1, c1, h1) = samples[0], samples[1]
    per = (b1 - b0) / IDLE_N
    m["accounted_bytes_per_fiber"] = per
    m["heap_objects_per_fiber"] = (c1 - c0) / IDLE_N
    m["tinyvm_host_bytes_per_fiber"] = (h1 - h0) / IDLE_N
    if woke_t != IDLE_N or (woke_a is not None and woke_a != IDLE_N):
        res.check = "MISMATCH"
        res.errors.append(f"fibers woken: tinyvm {woke_t}, asyncio {woke_a}, expected {IDLE_N}")
    elif per >= HEAP_LIMIT:
        res.check = "OVER"
        res.errors.append(f"an idle fiber takes {per:.0f} accounted bytes; the limit is {HEAP_LIMIT}")
    else:
        res.check = "ok"
    return res


# --------------------------------------------------------------------------- TCP echo


def has_net() -> bool:
    """True when this checkout's TinyVM has the `net` module."""
    try:
        return importlib.util.find_spec("tinyvm.stdlib.net") is not None
    except ImportError:
        return False


def serve_and_load(cmd: list[str]) -> tuple[Load, str]:
    """Start a server (it prints its port first), put the load on it, wait for
    it to exit; returns the load's measurements and the rest of its output."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    # A server that hangs (before printing its port, or mid-load) is killed:
    # its connections reset, the load generator fails, and the row says so.
    watchdog = threading.Timer(ECHO_TIMEOUT, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until the server listens (or dies)
        try:
            port = int(first)
        except ValueError:
            proc.kill()
            out, err = proc.communicate()
            raise RuntimeError(f"server did not print its port: {(first + out + err).strip()[-500:]}") from None
        load = run_load(port, ECHO_CONNS, ECHO_REQS)
        out, err = proc.communicate()
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        raise
    finally:
        watchdog.cancel()
    if proc.returncode != 0:
        raise RuntimeError(f"server exited with status {proc.returncode}: {err.strip()[-500:]}")
    if err.strip():
        raise RuntimeError(f"server wrote to stderr: {err.strip()[-500:]}")
    return load, out


def run_echo(main: Optional[MainFn], repeat: int) -> Result:
    res = Result(GROUP, "echo")
    m = res.metrics
    m["work"], m["unit"] = ECHO_CONNS * ECHO_REQS, "requests"
    m["connections"] = ECHO_CONNS
    if main is None:
        res.status, res.note = "failed", "tinyvm not importable (see note above)"
        return res
    if not has_net():
        res.status, res.check = "skipped", "-"
        res.note = "TinyVM has no net module yet"
        return res
    tl, py = CONC / "echo_server.tl", CONC / "echo_server.py"
    sides = {
        "tinyvm": [sys.executable, "-c", "import sys; from tinyvm.cli.main import main; sys.exit(main())",
                   "run", "--allow-net", str(tl)],
        "asyncio": [sys.executable, str(py)],
    }
    best: dict[str, Load] = {}
    outs: dict[str, str] = {}
    for i in range(repeat):
        for side in (("asyncio", "tinyvm") if i % 2 == 0 else ("tinyvm", "asyncio")):
            if side in outs and outs[side] is None:
                continue
            try:
                load, out = serve_and_load(sides[side])
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001
                res.status = "failed"
                res.errors.append(f"{side} echo server: {type(exc).__name__}: {exc}")
                outs[side] = None  # type: ignore[assignment]
                continue
            if load.mismatches:
                res.check = "MISMATCH"
                res.errors.append(f"{side}: {load.mismatches} echo(es) differ from their request")
            outs[side] = out
            if side not in best or load.seconds < best[side].seconds:
                best[side] = load
    for side, load in best.items():
        m[f"{side}_per_s"] = load.per_second
        for p in (50, 90, 99):
            m[f"{side}_p{p}_ms"] = load.percentile(p)
    if "tinyvm" in best:
        res.tinyvm_s = best["tinyvm"].seconds
    if "asyncio" in best:
        res.cpython_s = best["asyncio"].seconds
    if res.check != "MISMATCH" and outs.get("tinyvm") is not None and outs.get("asyncio") is not None:
        compare(res, outs["tinyvm"], outs["asyncio"])
    elif res.tinyvm_s is not None and res.cpython_s:
        res.ratio = res.tinyvm_s / res.cpython_s
    return res


# --------------------------------------------------------------------------- reconnecting clients


def rss_kb() -> Optional[int]:
    """This process's resident set size in KiB (None where it cannot be read)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    try:  # (macOS and other systems without /proc)
        out = subprocess.run(["ps", "-o", "rss=", "-p", str(os.getpid())], capture_output=True, text=True, timeout=10)
        return int(out.stdout.strip())
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def open_fds() -> Optional[int]:
    for d in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(d)) - 1  # (the listing's own descriptor)
        except OSError:
            continue
    return None


def churn_server(path: str) -> None:
    """The `churn` server process: echo_churn.tl's serve(stats) on an embedded
    VM, with `stats` reading this VM's heap and this process's memory."""
    from tinyvm import VM
    from tinyvm.heap.objects import Native
    from tinyvm.sched.fiber import Fiber
    from tinyvm.stdlib.net import Conn

    vm = VM(stdout=sys.stdout, allow="net")
    vm.run_file(path)
    m = vm.machine
    heap, sched = m.heap, m.sched

    def stats(full: bool) -> str:
        if full:
            # Called by the guest between instructions, every value it holds
            # on its frame: a collection here is as safe as at a safe point.
            m.collect()
        objs = heap.objects
        return json.dumps({
            "rss_kb": rss_kb(),
            "heap_objects": len(objs),
            "heap_bytes": heap.bytes,
            "collections": heap.stats.collections,
            "freed_objects": heap.stats.freed_objects,
            "fibers_on_heap": sum(1 for o in objs if type(o) is Fiber),
            "conns_on_heap": sum(1 for o in objs if type(o) is Conn),
            "fibers_alive": len(sched.alive),
            "sockets_open": len(sched.io.resources),
            "fds_open": open_fds(),
            "conns_made": sched.io.next_id.get("conn", 0),
        })

    echoed = vm.call("serve", heap.alloc(Native("stats", stats, 1)))
    vm.close()
    print("echoed", echoed, flush=True)


def run_churn_row(main: Optional[MainFn], seconds: float) -> Result:
    res = Result(GROUP, "churn", check="-")
    m = res.metrics
    m["work"], m["unit"] = f"{seconds:g}", "s"
    m["clients"], m["per_conn"] = CHURN_CLIENTS, CHURN_PER_CONN
    if main is None:
        res.status, res.note = "failed", "tinyvm not importable (see note above)"
        return res
    if not has_net():
        res.status, res.note = "skipped", "TinyVM has no net module yet"
        return res
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), str(REPO), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-c", "import sys; from benchmarks.concurrency import churn_server; churn_server(sys.argv[1])",
           str(CONC / "echo_churn.tl")]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(seconds + ECHO_TIMEOUT, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        try:
            port, control = map(int, first.split())
        except ValueError:
            proc.kill()
            out, err = proc.communicate()
            raise RuntimeError(f"server did not print its ports: {(first + out + err).strip()[-500:]}") from None
        churn = run_churn(port, control, CHURN_CLIENTS, CHURN_PER_CONN, seconds, CHURN_FIRST)
        out, err = proc.communicate()
    except KeyboardInterrupt:
        proc.kill()
        raise
    except BaseException as exc:  # noqa: BLE001 -- a VM bug must not stop the run
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate()
        res.raised("churn load or server", exc)
        if err.strip():
            res.errors.append(f"server stderr: {err.strip()[-500:]}")
        return res
    finally:
        watchdog.cancel()
    if proc.returncode != 0 or err.strip():
        res.status = "failed"
        res.errors.append(f"server exited with status {proc.returncode}: {err.strip()[-500:]}")
        return res
    judge_churn(res, churn, out)
    return res


def judge_churn(res: Result, churn: Churn, out: str) -> None:
    """Fill the churn row's metrics and check from the load and the server's figures."""
    m = res.metrics
    first, end, full = (churn.samples.get(k, {}) for k in ("first", "end", "full"))
    m["connections"], m["requests"], m["elapsed_s"] = churn.connections, churn.requests, churn.elapsed
    m["requests_per_s"] = churn.per_second
    m["server"] = churn.samples
    res.check = "ok"
    if churn.mismatches or out.split()[-1:] != [str(churn.requests)]:
        res.check = "MISMATCH"
        res.errors.append(f"{churn.mismatches} echo(es) differ; the server says {out.strip()!r}, "
                          f"the clients made {churn.requests} requests")
        return
    r0, r1 = first.get("rss_kb"), end.get("rss_kb")
    if r0 and r1:
        m["rss_growth"] = r1 / r0 - 1
        if r1 > r0 * (1 + RSS_SLACK):
            res.check = "GROWS"
            res.errors.append(f"the server's RSS grew from {r0:,} KiB after {CHURN_FIRST:g} s to {r1:,} KiB "
                              f"at the end (+{m['rss_growth']:.0%}; {RSS_SLACK:.0%} allowed)")
    elif first:
        res.note = "RSS not measurable here"
    else:
        res.note = f"run shorter than {CHURN_FIRST:g} s: no RSS reference"
    kept = {k: full.get(k) for k, limit in CHURN_LIVE.items() if full.get(k) is None or full[k] > limit}
    if kept:
        res.check = "LEAK" if res.check == "ok" else res.check
        res.errors.append(f"after the clients left and a full collection: {kept} "
                          f"(at most {CHURN_LIVE} may remain)")


# --------------------------------------------------------------------------- output


def fmt_rate(v: Optional[float]) -> str:
    if v is None:
        return "-"
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if v >= div:
            return f"{v / div:.1f}{suffix}/s"
    return f"{v:.0f}/s"


def fmt_bytes(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:,.0f} B"


HEADER = (
    f"{'benchmark':<16} {'work':>16} {'tinyvm s':>9} {'asyncio s':>9} {'ratio':>7} "
    f"{'tinyvm':>10} {'asyncio':>10}  {'check':<6} note"
)


def print_header(repeat: int) -> None:
    print()
    print(f"concurrency: TinyVM fibers and channels vs CPython {sys.version.split()[0]} asyncio, "
          f"same work -- best of {repeat} run(s)")
    print("(ratio = tinyvm s / asyncio s, below 1 = TinyVM faster; rates = work / best time)")
    print(HEADER)
    print("-" * len(HEADER))


def print_row(res: Result) -> None:
    m = res.metrics
    note = res.note
    if res.status == "failed":
        note = ("FAILED " + note).strip()
    work = f"{m.get('work', '')} {m.get('unit', '')}".strip()
    if res.name == "echo" and res.status != "skipped":
        ratio = "-" if res.ratio is None else f"{res.ratio:.2f}x"
        s = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        print(
            f"{res.label:<16} {work:>16} {s(res.tinyvm_s):>9} {s(res.cpython_s):>9} {ratio:>7} "
            f"{fmt_rate(m.get('tinyvm_per_s')):>10} {fmt_rate(m.get('asyncio_per_s')):>10}  {res.check:<6} {note}".rstrip()
        )
        for side in ("tinyvm", "asyncio"):
            if f"{side}_p50_ms" in m:
                print(f"{'':<16} {side} latency: p50 {m[side + '_p50_ms']:.2f} ms, p90 {m[side + '_p90_ms']:.2f} ms, "
                      f"p99 {m[side + '_p99_ms']:.2f} ms ({ECHO_CONNS} connections)")
    elif res.name == "churn" and res.status != "skipped":
        print_churn(res)
    elif res.status == "skipped":
        print(f"{res.label:<16} {work:>16} {'-':>9} {'-':>9} {'-':>7} {'-':>10} {'-':>10}  {res.check:<6} skipped: {note}")
    elif res.name == "idle":
        if "accounted_bytes_per_fiber" in m:
            note = (f"accounted heap {fmt_bytes(m['accounted_bytes_per_fiber'])} per idle fiber "
                    f"(limit {HEAP_LIMIT} B, {m['heap_objects_per_fiber']:.2f} heap objects) {note}").strip()
        print(f"{res.label:<16} {work:>16} {'-':>9} {'-':>9} {'-':>7} {'-':>10} {'-':>10}  {res.check:<6} {note}".rstrip())
        host_t, host_a = m.get("tinyvm_host_bytes_per_fiber"), m.get("asyncio_host_bytes_per_task")
        if host_t is not None or host_a is not None:
            print(f"{'':<16} host memory (tracemalloc): TinyVM {fmt_bytes(host_t)} per idle fiber, "
                  f"asyncio {fmt_bytes(host_a)} per idle task")
    else:
        ratio = "-" if res.ratio is None else f"{res.ratio:.2f}x"
        s = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        print(
            f"{res.label:<16} {work:>16} {s(res.tinyvm_s):>9} {s(res.cpython_s):>9} {ratio:>7} "
            f"{fmt_rate(m.get('tinyvm_per_s')):>10} {fmt_rate(m.get('asyncio_per_s')):>10}  {res.check:<6} {note}".rstrip()
        )
    for line in res.errors:
        print(f"    {line}")
    sys.stdout.flush()


def print_churn(res: Result) -> None:
    m = res.metrics
    srv = m.get("server", {})
    first, end, full = (srv.get(k, {}) for k in ("first", "end", "full"))
    note = res.note if res.status != "failed" else ("FAILED " + res.note).strip()
    if "connections" in m:
        rss = lambda s: "-" if not s.get("rss_kb") else f"{s['rss_kb'] / 1024:.1f} MB"  # noqa: E731
        growth = m.get("rss_growth")
        note = (f"RSS {rss(first)} after {CHURN_FIRST:g} s, {rss(end)} at the end"
                + ("" if growth is None else f" ({growth:+.1%}, limit +{RSS_SLACK:.0%})") + f" {note}").strip()
    work = f"{m.get('work', '')} {m.get('unit', '')}".strip()
    print(f"{res.label:<16} {work:>16} {'-':>9} {'-':>9} {'-':>7} {fmt_rate(m.get('requests_per_s')):>10} {'-':>10}  "
          f"{res.check:<6} {note}".rstrip())
    if "connections" in m:
        print(f"{'':<16} {m['clients']} clients, a new connection every {m['per_conn']} requests: "
              f"{m['requests']:,} requests on {m['connections']:,} connections in {m['elapsed_s']:.1f} s")
        for name, s in (("after %g s" % CHURN_FIRST, first), ("at the end", end), ("after a full collection", full)):
            if s:
                print(f"{'':<16} server {name}: {s['heap_objects']:,} heap objects ({s['fibers_on_heap']:,} fibers, "
                      f"{s['conns_on_heap']:,} conns), {s['collections']} collections, "
                      f"{s['sockets_open']} sockets open, {s['fds_open']} fds, {s['fibers_alive']} fibers alive")


def run_group(main: Optional[MainFn], repeat: int, filters: Optional[list[str]],
              churn_seconds: float = CHURN_SECONDS) -> list[Result]:
    """Run and print the selected concurrency benchmarks; returns their rows."""
    names = wanted(filters)
    if not names:
        return []
    print_header(repeat)
    results = []
    for spec in TIMED:
        if spec.name in names:
            res = run_timed(spec, main, repeat)
            results.append(res)
            print_row(res)
    if "idle" in names:
        res = run_idle(main)
        results.append(res)
        print_row(res)
    if "echo" in names:
        res = run_echo(main, repeat)
        results.append(res)
        print_row(res)
    if "churn" in names:
        res = run_churn_row(main, churn_seconds)
        results.append(res)
        print_row(res)
    print("-" * len(HEADER))
    return results


def failed(results: list[Result]) -> list[str]:
    return [r.label for r in results if r.status == "failed" or r.check not in ("ok", "-")]
