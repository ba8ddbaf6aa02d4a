"""The VM's nondeterministic inputs, behind one per-VM seam: `vm.inputs`.

Everything a guest program can observe that is not a function of its code
and its arguments comes from the host: the clocks (`time.now_ms`,
`time.monotonic_ms`, the scheduler's clock that decides when timers fire),
stdin lines, file reads, environment variables. The standard modules do not
ask the host for these themselves; they ask `vm.inputs.take(kind, fn, *args)`,
which in a live run is just `fn(*args)` (one extra call at input points only,
nothing on the dispatch path). A recorder (tools/record.py) installs an
`Inputs` that also logs each result, and a replayer one that returns the
logged results instead of asking the host, so a replayed run sees exactly the
inputs of the recorded one and, the VM being deterministic otherwise, runs
the same instructions and prints the same output.

Random numbers need nothing here: `random` is seeded with a constant and
`random.seed(n)` takes its seed from the program (stdlib/random.py).

Kinds in use: "time" (wall clock ns), "mono" (monotonic ns), "clock" (the
scheduler's monotonic seconds), "stdin" (a line), "fs" (a file's bytes, a
directory listing, an existence test), "write" (a file write's outcome),
"env" (a variable), "net" (one host socket operation of stdlib/net.py, named:
resolve, socket, bind, listen, connect_ex, getsockopt, accept, getpeername,
getsockname, recv, send, shutdown -- its result or OSError) and "poll" (the
poller's readiness decision: which descriptors a select found ready, so
which parked fibers are retried and wake when).

The network does not go through `take` call by call in net.py: a recorded
or replayed run's `Inputs` carries `net` (tools/netrec.NetApi), which makes
the sockets net.py holds (each of whose operations is one `take`), and
tools/netrec.py replaces the poller's selector with one whose `select` is a
`take`. In a live run `net` is None (a class attribute: net.py uses the host's
`socket` directly, one attribute read where a socket is made or a name
resolved) and the selector is the host's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Inputs"]


class Inputs:
    """Live inputs: every read is the host's own (the default of every VM)."""

    __slots__ = ()
    mode = "live"
    # The network as inputs (tools/netrec.NetApi) in a recorded or replayed
    # run; None: stdlib/net.py uses the host's sockets directly.
    net: Any = None

    def take(self, kind: str, fn: Callable[..., Any], *args: Any) -> Any:
        """The result of the host read `fn(*args)` (an input of kind `kind`)."""
        return fn(*args)

