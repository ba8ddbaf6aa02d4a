"""Load generator for the TCP echo benchmark (``conc/echo`` in ``python -m benchmarks``).

Opens ``conns`` connections to 127.0.0.1:PORT (all of them first), then, on
every connection at once, sends ``reqs`` lines one after the other, each time
waiting for its echo before sending the next (a closed loop: 100 connections
means at most 100 requests in flight). Every echo must equal its request.
Each connection then closes its sending side and reads to the end, so that the
server sees the end of the stream and can finish.

It runs on asyncio in one thread. The measured time goes from the first
request to the last echo; the latency of a request is from just before its
write to its echo's arrival, as the client sees it (so it includes the
client's own scheduling delay, as any load generator's does).

Standalone: ``python -m benchmarks.echo_load PORT [--conns N] [--reqs N]``.

The second load, ``run_churn`` (``conc/churn``: benchmarks/echo_churn.tl),
is reconnecting clients for a fixed time: ``clients`` clients at once, each
opening a connection, sending ``per_conn`` lines one after the other (each
waiting for its echo), closing its sending side, reading to the end, closing,
and starting over with a new connection until ``seconds`` have passed. So the
server makes and finishes a connection (a fiber and a socket) every
``per_conn`` requests of each client, for the whole run. At ``first`` seconds
and once every client has finished, it asks the server's control port for its
figures (``stats``, then ``full``, then ``stop``; see echo_churn.tl).

Standalone: ``python -m benchmarks.echo_load PORT --churn SECONDS [--control PORT]
[--conns N] [--reqs N]`` (``--reqs``: requests per connection, default 20).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class Load:
    conns: int
    reqs: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, one per request
    mismatches: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """The p-th percentile latency in milliseconds (nearest rank)."""
        xs = sorted(self.latencies)
        if not xs:
            return float("nan")
        rank = max(1, min(len(xs), math.ceil(p / 100 * len(xs))))
        return xs[rank - 1] * 1000


async def _run(port: int, load: Load, connect_timeout: float) -> None:
    opened = await asyncio.wait_for(
        asyncio.gather(*(asyncio.open_connection("127.0.0.1", port) for _ in range(load.conns))),
        connect_timeout,
    )
    start = asyncio.Event()
    clock = time.perf_counter

    async def client(i: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await start.wait()
        lat = load.latencies
        for j in range(load.reqs):
            msg = f"connection {i} request {j}\n".encode()
            t0 = clock()
            writer.write(msg)
            line = await reader.readline()
            lat.append(clock() - t0)
            if line != msg:
                load.mismatches += 1
        writer.write_eof()
        while await reader.read(65536):
            pass
        writer.close()

    tasks = [asyncio.create_task(client(i, r, w)) for i, (r, w) in enumerate(opened)]
    await asyncio.sleep(0)  # every client waits at the start line
    t0 = clock()
    start.set()
    await asyncio.gather(*tasks)
    load.seconds = clock() - t0


def run_load(port: int, conns: int = 100, reqs: int = 100, connect_timeout: float = 30.0) -> Load:
    load = Load(conns, reqs)
    asyncio.run(_run(port, load, connect_timeout))
    return load


@dataclass
class Churn:
    clients: int
    per_conn: int  # requests per connection
    seconds: float  # how long clients keep reconnecting
    elapsed: float = 0.0  # from the start to the end of the last connection
    connections: int = 0  # connections that finished
    requests: int = 0
    mismatches: int = 0
    # The server's figures (its "stats"/"full" answers, parsed): "first" at
    # `first` seconds, "end" and "full" once every client has finished.
    samples: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0


async def _control(port: int, command: str) -> str:
    """Send one command line to the server's control port; its one-line answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(command.encode() + b"\n")
    line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return line.decode().strip()


async def _churn(port: int, control: Optional[int], churn: Churn, first: float) -> None:
    clock = time.perf_counter
    t0 = clock()
    deadline = t0 + churn.seconds

    async def client(i: int) -> None:
        k = 0
        while clock() < deadline:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for j in range(churn.per_conn):
                msg = f"client {i} connection {k} request {j}\n".encode()
                writer.write(msg)
                if await reader.readline() != msg:
                    churn.mismatches += 1
                churn.requests += 1
            writer.write_eof()
            while await reader.read(65536):
                pass
            writer.close()
            await writer.wait_closed()
            churn.connections += 1
            k += 1

    tasks = [asyncio.create_task(client(i)) for i in range(churn.clients)]
    if control is not None and first < churn.seconds:
        await asyncio.sleep(first)
        churn.samples["first"] = json.loads(await _control(control, "stats"))
    await asyncio.gather(*tasks)
    churn.elapsed = clock() - t0
    if control is not None:
        churn.samples["end"] = json.loads(await _control(control, "stats"))
        churn.samples["full"] = json.loads(await _control(control, "full"))
        await _control(control, "stop")


def run_churn(port: int, control: Optional[int], clients: int = 100, per_conn: int = 20,
              seconds: float = 60.0, first: float = 5.0) -> Churn:
    """Reconnecting clients on 127.0.0.1:PORT for `seconds` (see the module
    docstring); with a control port, the server's figures at `first` seconds
    and at the end, and then the server is told to stop."""
    churn = Churn(clients, per_conn, seconds)
    asyncio.run(_churn(port, control, churn, first))
    return churn


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.echo_load", description=__doc__.split("\n\n")[0])
    ap.add_argument("port", type=int)
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--reqs", type=int, default=None,
                    help="requests per connection (default 100, or 20 with --churn)")
    ap.add_argument("--churn", type=float, metavar="SECONDS",
                    help="reconnecting clients for SECONDS instead (echo_churn.tl's load)")
    ap.add_argument("--control", type=int, metavar="PORT",
                    help="with --churn: the server's control port (its figures are printed, then it stops)")
    args = ap.parse_args()
    if args.churn is not None:
        churn = run_churn(args.port, args.control, args.conns, args.reqs or 20, args.churn)
        print(f"{churn.requests} requests on {churn.connections} connections in {churn.elapsed:.3f} s: "
              f"{churn.per_second:,.0f} req/s; {churn.mismatches} mismatched echoes")
        for name, sample in churn.samples.items():
            print(f"server {name}: {json.dumps(sample)}")
        return
    load = run_load(args.port, args.conns, args.reqs or 100)
    print(f"{load.requests} requests on {load.conns} connections in {load.seconds:.3f} s: "
          f"{load.per_second:,.0f} req/s; latency p50 {load.percentile(50):.2f} ms, "
          f"p90 {load.percentile(90):.2f} ms, p99 {load.percentile(99):.2f} ms; "
          f"{load.mismatches} mismatched echoes")


if __name__ == "__main__":
    main()
