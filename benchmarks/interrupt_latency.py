"""How soon `vm.interrupt()` stops a run: in a tight loop, and in blocking waits.

    python -m benchmarks.interrupt_latency [--trials N]

For each case, a guest function (programs/limits/waits.tl) runs on the main thread and another thread
calls `vm.interrupt()` 10-30 ms into the call; the latency is the time from
that call to `Interrupted` reaching the host. The same VM serves every trial
(so each also shows the previous interrupted call left nothing behind).
Cases: a tight loop (`while true { i = i + 1 }`, checked at chunk ends), a
loop of calls, `sleep`, a channel receive and a `select` (the sender
sleeps meanwhile, so it is no deadlock) and `input()` on a pipe
(blocking waits, which the interrupt wakes). Prints p50, p99 and the maximum
per case, in milliseconds (issue 12's bounds: 10 ms in a tight loop, 50 ms
in a blocking wait).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import threading
import time
from pathlib import Path

PROGRAM = Path(__file__).resolve().parent / "programs" / "limits" / "waits.tl"

CASES = [("tight loop", "spin"), ("loop of calls", "calls"), ("sleep", "nap"), ("channel recv", "recv"), ("select", "choose"), ("input() on a pipe", "read"), ("network read", "net_read")]


def trial(vm, name: str) -> float:
    """Seconds from interrupt() to Interrupted for one call of `name`."""
    from tinyvm import Interrupted

    sent: list[float] = []

    def fire() -> None:
        sent.append(time.perf_counter())
        vm.interrupt()

    timer = threading.Timer(random.uniform(0.010, 0.030), fire)
    timer.start()
    try:
        vm.call(name)
    except Interrupted:
        got = time.perf_counter()
    else:
        raise AssertionError(f"{name} returned")
    timer.join()
    return got - sent[0]


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.interrupt_latency", description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=100, help="trials per case (default 100)")
    args = ap.parse_args(argv)
    from tinyvm import VM

    r, w = os.pipe()  # input() waits on a pipe nobody writes to
    stdin = os.fdopen(r, "r")
    vm = VM(stdout=io.StringIO(), stdin=stdin, allow={"net": True})
    vm.run_file(str(PROGRAM))
    print(f"{'case':<20}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}   ({args.trials} trials each)")
    for label, name in CASES:
        times = [trial(vm, name) * 1000 for _ in range(args.trials)]
        print(f"{label:<20}{percentile(times, 0.5):>9.2f}{percentile(times, 0.99):>9.2f}{max(times):>9.2f}")
    os.close(w)
    vm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
