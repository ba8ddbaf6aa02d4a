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
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from dataclasses import dataclass, field


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


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.echo_load", description=__doc__.split("\n\n")[0])
    ap.add_argument("port", type=int)
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--reqs", type=int, default=100, help="requests per connection")
    args = ap.parse_args()
    load = run_load(args.port, args.conns, args.reqs)
    print(f"{load.requests} requests on {load.conns} connections in {load.seconds:.3f} s: "
          f"{load.per_second:,.0f} req/s; latency p50 {load.percentile(50):.2f} ms, "
          f"p90 {load.percentile(90):.2f} ms, p99 {load.percentile(99):.2f} ms; "
          f"{load.mismatches} mismatched echoes")


if __name__ == "__main__":
    main()
