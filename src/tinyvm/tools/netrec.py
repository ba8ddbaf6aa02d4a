"""Network I/O as recorded inputs: the sockets and the selector of a recorded
or replayed run (tools/record.py; the seam is runtime/inputs.py).

A live run uses the host's `socket` module and a `selectors` selector
directly: nothing here is on its path (stdlib/net.py asks `vm.inputs.net`, a
class attribute that is None in a live run, only where a socket is made or
a name resolved).

Recording and replay swap in two stand-ins:

* `NetApi` (`vm.inputs.net`): `socket()` and `getaddrinfo()` for net.py, and
  `NetSocket`, the socket net.py then holds. Every host operation whose
  result the program can observe -- making a socket (its descriptor number),
  resolving, bind/listen, connect_ex, SO_ERROR, accept (the new socket's
  descriptor and peer), getpeername/getsockname, recv (the bytes, b"" at the
  end of the stream), send (how many bytes went), shutdown -- is one input of
  kind "net": `["ok", VALUE]`, or `["os", ERRNO, STRERROR]` for an OSError
  (raised again as the same OSError subclass: BlockingIOError is a recorded
  "would block" like any other), `["gai", ERRNO, STRERROR]` for a failed name
  resolution. Bytes are `{"b": BASE64}`. setblocking, setsockopt and close
  are outputs: done when recording, skipped in a replay.
* `NetSelector` (the poller's `io.sel`): registrations go to the real
  selector when recording and are only kept in a replay; each `select()`
  (the poller's readiness decision: which parked fibers are retried, so which
  one wakes when) is one input of kind "poll", the list of `[FD, EVENTS]`
  ready (the poller's own waker is drained and not logged: it only ends a
  wait early, and a replay never waits).

A replay hands back the logged results and opens no socket at all: its
descriptors are the recorded numbers (so the poller's queues, keyed by
descriptor, are the recorded ones), its sends send nothing and return the
recorded count, and its selector never blocks.
"""

from __future__ import annotations

import base64
import errno
import selectors
import socket
from typing import Any

from ..sched.io import _WAKER

__all__ = ["NetApi", "NetSocket", "NetSelector", "attach"]


def _ok(value: Any) -> list:
    return ["ok", value]


def _err(e: BaseException) -> list:
    if isinstance(e, socket.gaierror):
        return ["gai", e.errno, e.strerror or str(e)]
    if isinstance(e, UnicodeError):
        return ["uni", str(e)]
    assert isinstance(e, OSError)
    return ["os", e.errno, e.strerror or str(e)]


def _result(r: Any) -> Any:
    """The value of a logged operation, or its error raised again."""
    tag = r[0]
    if tag == "ok":
        return r[1]
    if tag == "os":
        raise OSError(r[1], r[2]) if r[1] is not None else OSError(r[2])
    if tag == "gai":
        raise socket.gaierror(r[1], r[2])
    if tag == "uni":
        raise UnicodeError(r[1])
    raise ValueError(f"corrupt net input {r!r}")  # pragma: no cover


def _sa(sa: Any) -> list:
    return list(sa)


def _call(sock: Any, name: str, args: tuple, conv: Any) -> list:
    try:
        value = getattr(_live(sock), name)(*args)
    except OSError as e:
        return _err(e)
    return _ok(conv(value) if conv is not None else value)


def _b64(data: bytes) -> dict:
    return {"b": base64.b64encode(data).decode("ascii")}


class NetApi:
    """What net.py asks the host for, as recorded inputs (vm.inputs.net)."""

    __slots__ = ("inputs",)

    def __init__(self, inputs: Any) -> None:
        self.inputs = inputs

    def take(self, op: str, fn: Any, *args: Any) -> Any:
        """The result of host operation `op` (`fn(*args)` when recording).
        Each entry names its operation, so a replay that asks for another one
        than the log has next stops with a clear error."""
        r = self.inputs.take("net", _named, op, fn, args)
        if r[0] != op:
            from .record import ReplayDiverged

            i = getattr(self.inputs, "pos", 0)
            raise ReplayDiverged(f"replay diverged at input #{i}: the recording has a network operation ({r[0]}), the program asked for {op}")
        return _result(r[1:])

    def getaddrinfo(self, host: Any, port: int, type: int = 0, flags: int = 0) -> list:
        def resolve() -> list:
            try:
                infos = socket.getaddrinfo(host, port, type=type, flags=flags)
            except (OSError, UnicodeError) as e:
                return _err(e)
            return _ok([[int(f), int(k), p, c, _sa(sa)] for f, k, p, c, sa in infos])

        return [(f, k, p, c, tuple(sa)) for f, k, p, c, sa in self.take("resolve", resolve)]

    def socket(self, family: int, kind: int, proto: int) -> "NetSocket":
        box: list = []

        def make() -> list:
            try:
                s = socket.socket(family, kind, proto)
            except OSError as e:
                return _err(e)
            box.append(s)
            return _ok(s.fileno())

        fd = self.take("socket", make)
        return NetSocket(self, box[0] if box else None, fd)


def _named(op: str, fn: Any, args: tuple) -> list:
    return [op, *fn(*args)]


class NetSocket:
    """A socket whose observable results are recorded inputs: the real one
    when recording (`sock`), none in a replay (`sock` is None)."""

    __slots__ = ("api", "sock", "fd")

    def __init__(self, api: NetApi, sock: Any, fd: int) -> None:
        self.api = api
        self.sock = sock
        self.fd = fd

    def _op(self, name: str, *args: Any, conv: Any = None) -> Any:
        return self.api.take(name, _call, self.sock, name, args, conv)

    def fileno(self) -> int:
        return self.fd

    # outputs: done when recording, nothing to do in a replay
    def setblocking(self, flag: bool) -> None:
        if self.sock is not None:
            self.sock.setblocking(flag)

    def setsockopt(self, *args: Any) -> None:
        if self.sock is not None:
            self.sock.setsockopt(*args)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()

    # inputs
    def bind(self, sa: Any) -> None:
        self._op("bind", sa)

    def listen(self, n: int) -> None:
        self._op("listen", n)

    def connect_ex(self, sa: Any) -> int:
        return self._op("connect_ex", sa)

    def getsockopt(self, level: int, opt: int) -> int:
        return self._op("getsockopt", level, opt)

    def getpeername(self) -> Any:
        return self._op("getpeername", conv=_sa)

    def getsockname(self) -> Any:
        return self._op("getsockname", conv=_sa)

    def shutdown(self, how: int) -> None:
        self._op("shutdown", how)

    def send(self, data: Any) -> int:
        return self._op("send", data)

    def recv(self, n: int) -> bytes:
        r = self._op("recv", n, conv=_b64)
        return base64.b64decode(r["b"])

    def accept(self) -> tuple["NetSocket", Any]:
        box: list = []
        sock = self.sock

        def accept() -> list:
            try:
                s, addr = _live(sock).accept()
            except OSError as e:
                return _err(e)
            box.append(s)
            return _ok([s.fileno(), _sa(addr)])

        fd, addr = self.api.take("accept", accept)
        return NetSocket(self.api, box[0] if box else None, fd), addr


def _live(sock: Any) -> Any:
    if sock is None:  # a replayed socket, asked past the end of the recording
        raise OSError(errno.ENOTCONN, "the recorded connection ended with its recording")
    return sock


class _Key:
    """A selector key in a replay (what IOPoller._serve_events reads)."""

    __slots__ = ("fd", "fileobj", "events", "data")

    def __init__(self, fd: int, fileobj: Any, events: int, data: Any) -> None:
        self.fd, self.fileobj, self.events, self.data = fd, fileobj, events, data


class NetSelector:
    """The poller's selector, its readiness decisions recorded ("poll")."""

    def __init__(self, inputs: Any, sel: selectors.BaseSelector | None) -> None:
        self.inputs = inputs
        self.sel = sel  # None in a replay
        self.keys: dict[int, _Key] = {}  # registered descriptors (but the waker's), in a replay their keys

    def register(self, fileobj: Any, events: int, data: Any = None) -> Any:
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        key = _Key(fd, fileobj, events, data)
        if self.sel is not None:
            key = self.sel.register(fileobj, events, data)
        if data is not _WAKER:
            self.keys[fd] = key
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> Any:
        if self.sel is not None:
            return self.sel.modify(fileobj, events, data)
        return self.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> Any:
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        key = self.keys.pop(fd, None)
        if self.sel is not None:
            return self.sel.unregister(fileobj)
        if key is None:
            raise KeyError(fd)
        return key

    def get_key(self, fileobj: Any) -> Any:
        if self.sel is not None:
            return self.sel.get_key(fileobj)
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        return self.keys[fd]

    def close(self) -> None:
        if self.sel is not None:
            self.sel.close()
        self.keys.clear()

    def select(self, timeout: float | None = None) -> list:
        """Which registered descriptors are ready. With none registered (a
        wait for a timer only) there is no decision to log: the poller's
        registrations are the same in the recording and the replay."""
        sel = self.sel
        if sel is None:  # replay: the recorded decision, at once
            if not self.keys:
                return []
            ready = self.inputs.take("poll", _no_host)
            return [(_Key(fd, None, ev, None), ev) for fd, ev in ready]
        got = sel.select(timeout)
        if self.keys:
            self.inputs.take("poll", _ready, got)
        return got


def _ready(got: list) -> list:
    return [[k.fd, ev] for k, ev in got if k.data is not _WAKER]


def _no_host() -> Any:
    """A replayed network's wait past the end of its recording (the debugger
    replays a recording, then reads live: its sockets are gone by then)."""
    from .record import ReplayDiverged

    raise ReplayDiverged("the run went past its recording while waiting on the recorded network")


def attach(inputs: Any, machine: Any, replay: bool) -> None:
    """Route `machine`'s network I/O through `inputs` (a Recorder or Replayer)."""
    inputs.net = NetApi(inputs)
    io = machine.sched.io
    if io.sel is not None:  # pragma: no cover - attached before the run: no selector yet
        io.sel.close()
    if replay:
        io.sel = NetSelector(inputs, None)
        io._arm_waker = lambda: None  # (a replay never blocks: nothing to wake)
    else:
        io.sel = NetSelector(inputs, selectors.DefaultSelector())
