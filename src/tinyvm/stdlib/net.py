"""The `net` standard module: TCP for fibers (needs `--allow-net`).

    import net
    let l = net.listen("127.0.0.1", 0)     // port 0: any free port; l.port(), l.addr()
    let c = net.connect("127.0.0.1", l.port())
    let s = l.accept()                     // parks until a connection arrives
    c.write("ping\\n")                      // parks while the socket buffer is full
    print(s.read_line())                   // "ping"; parks until a line (or the end) arrives

Every socket is non-blocking. An operation that would block parks only the
calling fiber: it waits on the socket through the scheduler's `IOPoller`
(sched/io.py), and the other fibers keep running. So one OS thread serves as many
connections as there are fibers.

Exports:

* `listen(host, port) -> listener`: bind and listen (port 0 picks a free port).
* `connect(host, port) -> conn`: connect, trying each address `host` resolves
  to in turn; parks until connected.

A `listener` (typeof "listener") has `accept() -> conn`, `port() -> int`,
`addr() -> string` ("127.0.0.1:8080") and `close()`.

A `conn` (typeof "conn") has
* `read(max?) -> string?`: the text available now, at most `max` characters
  (default 65536), parking until there is some; nil at the end of the stream.
  Bytes are decoded as UTF-8 incrementally (a character split between two
  packets is never split in the result; invalid bytes become U+FFFD).
* `read_line() -> string?`: the next line without its "\\n" (or "\\r\\n"); at the
  end of the stream the last unterminated line, then nil.
* `write(s)`: send all of s (UTF-8), parking while the socket buffer is full.
* `close_write()`: shut down the sending side (the peer reads the end of the
  stream; this side can still read).
* `close()`, `addr() -> string` (the peer's "host:port"), `local_addr() -> string`.

Errors: OS errors raise `IOError` with the OS's message ("Connection refused",
"Connection reset by peer", "Address already in use"...); using a closed conn
or listener raises `IOError: conn is closed` / `IOError: listener is closed`,
also in a fiber parked on it when another fiber closes it. Both need the `net`
capability, checked once per listen or connect (capabilities.py).

Resources: a listener or conn the collector finds unreachable is closed (once
no fiber waits on it); `VM.close()` (at the end of `tvm run`) closes the rest.
The heap accounts an open socket at `OPEN_SOCKET_BYTES` more than its slots,
for what it holds outside the guest heap, so that a program that keeps making
and dropping connections (a server) is collected every few hundred sockets.
Name resolution (`getaddrinfo`) is synchronous; it is instant for addresses
and `localhost`.

Recording: under `tvm record` / `tvm replay` the sockets are tools/netrec.py's
stand-ins (`vm.inputs.net`, None in a live run), whose results are logged and
replayed; nothing else here changes.
"""

from __future__ import annotations

import codecs
import errno
import socket
from typing import Any

from ..heap.objects import HEADER, SLOT, HeapObject, Native, str_bytes
from ..runtime.builtins import arg_count_error
from ..runtime.errors import RtError, host_reason
from ..sched.io import READ, WRITE, Retarget
from ..runtime.values import typeof

__all__ = ["make_net_module", "Listener", "Conn"]

DEFAULT_READ = 65536
MAX_READ = 1 << 20  # the most one conn.read returns
_IN_PROGRESS = {errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN, errno.EALREADY}
_RETRY_ACCEPT = (BlockingIOError, InterruptedError, ConnectionAbortedError)
# What an open socket costs beyond its slots, in accounted bytes: the kernel's
# socket and buffers (a few KiB), and the host objects behind it (the Python
# socket, the decoder, the address texts: about 1 KiB, six times its slots).
# Accounted at its slots alone (72 bytes), a socket weighed so little that a
# server made tens of thousands of connections (fibers and conns, 1 KiB of
# host memory each) before the heap's first 4 MiB were reached, and a dropped
# conn's descriptor stayed open all that time. With it, a collection comes
# after about a thousand sockets made. A socket closed while still reachable
# is accounted at its slots again from the next collection on.
OPEN_SOCKET_BYTES = 4096


def _addr_text(sa: Any) -> str:
    host, port = sa[0], sa[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Socket(HeapObject):
    """What listeners and conns share: a non-blocking socket owned by one VM."""

    __slots__ = ("sock", "fd", "id", "io", "closed")
    kind = "socket"
    owns_resource = True  # free() closes it (heap/heap.py keeps it for the sweep)

    def __init__(self, sock: socket.socket, io: Any) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.fd = sock.fileno()
        io.next_id[self.kind] = self.id = io.next_id.get(self.kind, 0) + 1
        self.io = io
        self.closed = False
        io.adopt(self)

    def size(self) -> int:
        return HEADER + 5 * SLOT + (0 if self.closed else OPEN_SOCKET_BYTES)

    def close(self) -> None:
        """Close (idempotent): fibers parked on it get `IOError: KIND is closed`."""
        if self.closed:
            return
        self.closed = True
        io = self.io
        io.close_fd(self.fd, f"{self.kind} is closed")
        io.resources.discard(self)
        try:
            self.sock.close()
        except OSError:  # pragma: no cover - close errors are not reported (as in Go)
            pass

    def check_open(self) -> None:
        if self.closed:
            raise RtError("IOError", f"{self.kind} is closed")

    def free(self) -> None:
        # Unreachable from the guest: nobody can use it again.
        if not self.closed:
            self.io.release(self)


class Listener(_Socket):
    __slots__ = ("addr",)
    type_name = "listener"
    kind = "listener"

    def __init__(self, sock: socket.socket, io: Any) -> None:
        super().__init__(sock, io)
        self.addr = _addr_text(sock.getsockname())

    def port(self) -> int:
        return int(self.addr.rsplit(":", 1)[1])


class Conn(_Socket):
    __slots__ = ("peer", "local", "decoder", "rbuf", "rpos", "eof")
    type_name = "conn"
    kind = "conn"

    def size(self) -> int:
        return super().size() + str_bytes(self.rbuf)

    def __init__(self, sock: socket.socket, io: Any) -> None:
        super().__init__(sock, io)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # pragma: no cover - not TCP
            pass
        try:
            self.peer = _addr_text(sock.getpeername())
        except OSError:
            self.peer = "?"
        try:
            self.local = _addr_text(sock.getsockname())
        except OSError:  # pragma: no cover
            self.local = "?"
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.rbuf = ""  # decoded text not returned yet, from rpos on
        self.rpos = 0
        self.eof = False

    def what(self, op: str) -> str:
        return f"{op} on conn {self.id} ({self.peer})"

    # -- attempts: never block; (True, value) when done, (False, None) to wait

    def _fill(self, n: int) -> bool:
        """Receive up to n bytes into rbuf; False when nothing is there yet."""
        try:
            data = self.sock.recv(n)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as e:
            raise RtError("IOError", host_reason(e)) from None
        if not data:
            self.eof = True
            tail = self.decoder.decode(b"", True)
        else:
            tail = self.decoder.decode(data)
        if tail:
            if self.rpos:
                self.rbuf, self.rpos = self.rbuf[self.rpos :], 0
            # The read buffer grows (a line without an end keeps it growing):
            # charged to the heap, and counted in the conn's size from then on.
            self.io.sched.vm.heap.charge(str_bytes(tail))
            self.rbuf += tail
        return True

    def try_read(self, n: int) -> tuple[bool, Any]:
        self.check_open()
        while True:
            if self.rpos < len(self.rbuf):
                end = min(len(self.rbuf), self.rpos + n)
                text = self.rbuf[self.rpos : end]
                self.rpos = end
                if end == len(self.rbuf):
                    self.rbuf, self.rpos = "", 0
                return True, text
            if self.eof:
                return True, None
            if not self._fill(n):
                return False, None

    def try_read_line(self) -> tuple[bool, Any]:
        self.check_open()
        while True:
            i = self.rbuf.find("\n", self.rpos)
            if i >= 0:
                line = self.rbuf[self.rpos : i]
                self.rpos = i + 1
                if self.rpos == len(self.rbuf):
                    self.rbuf, self.rpos = "", 0
                return True, line[:-1] if line.endswith("\r") else line
            if self.eof:
                if self.rpos < len(self.rbuf):
                    line = self.rbuf[self.rpos :]
                    self.rbuf, self.rpos = "", 0
                    return True, line
                return True, None
            if not self._fill(DEFAULT_READ):
                return False, None


def make_net_module(vm: Any) -> dict[str, Any]:
    """The exports of `import net`; also installs the listener and conn methods."""
    from ..sched.concurrency import BlockingNative

    sched = vm.sched
    io = sched.io
    alloc = vm.heap.alloc

    def host_port(name: str, args: tuple | list) -> tuple[str, int]:
        if len(args) != 2:
            raise arg_count_error(name, 2, len(args))
        host, port = args
        if type(host) is not str:
            raise RtError("TypeError", f"{name} expects a string host, got {typeof(host)}")
        if type(port) is not int:
            raise RtError("TypeError", f"{name} expects an int port, got {typeof(port)}")
        if not 0 <= port <= 65535:
            raise RtError("ValueError", f"{name}: port {port} out of range 0..65535")
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        vm.caps.require("net", shown, shown)
        return host, port

    def resolve(host: str, port: int, passive: bool) -> list:
        api = vm.inputs.net  # (None in a live run; tools/netrec.py when recording or replaying)
        try:
            return (socket if api is None else api).getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE if passive else 0)
        except socket.gaierror as e:
            raise RtError("IOError", f"{host}: {host_reason(e)}") from None
        except UnicodeError:
            raise RtError("IOError", f"{host}: invalid host name") from None

    def listen(*args: Any) -> Listener:
        host, port = host_port("net.listen", args)
        family, kind, proto, _, sa = resolve(host, port, True)[0]
        api = vm.inputs.net
        sock = (socket.socket if api is None else api.socket)(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(sa)
            sock.listen(socket.SOMAXCONN)
        except OSError as e:
            sock.close()
            raise RtError("IOError", f"listen on {_addr_text(sa)}: {host_reason(e)}") from None
        return alloc(Listener(sock, io))

    def connect(fb: Any, args: list, ret: Any) -> Any:
        host, port = host_port("net.connect", args)
        sched.check_cancel(fb)
        addrs = resolve(host, port, False)
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        state: dict[str, Any] = {"sock": None, "error": None}

        def start() -> tuple[bool, Any]:
            """Connect to the next address: done, in progress, or raise."""
            while addrs:
                family, kind, proto, _, sa = addrs.pop(0)
                try:
                    api = vm.inputs.net
                    sock = (socket.socket if api is None else api.socket)(family, kind, proto)
                except OSError as e:
                    state["error"] = host_reason(e)
                    continue
                sock.setblocking(False)
                err = sock.connect_ex(sa)
                if err == 0:
                    return True, alloc(Conn(sock, io))
                if err in _IN_PROGRESS:
                    state["sock"] = sock
                    return False, None
                sock.close()
                state["error"] = _strerror(err)
            raise RtError("IOError", f"connect to {shown}: {state['error'] or 'no address'}")

        def attempt() -> tuple[bool, Any]:
            sock = state["sock"]
            if sock is None:
                return start()
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err in _IN_PROGRESS:
                return False, None
            if err == 0:
                try:
                    sock.getpeername()
                except OSError:  # pragma: no cover - a spurious wake-up: not connected yet
                    return False, None
                state["sock"] = None
                return True, alloc(Conn(sock, io))
            state["error"] = _strerror(err)
            state["sock"] = None
            try:
                done, value = start()
            except RtError:
                sock.close()
                raise
            if done:
                sock.close()
                return True, value
            raise Retarget(state["sock"].fileno(), sock)

        done, value = start()
        if done:
            fb.L.append(value)
            return ret
        def cleanup() -> None:  # cancelled while connecting
            if state["sock"] is not None:
                state["sock"].close()
                state["sock"] = None

        try:
            return io.run(fb, ret, f"connect to {shown}", state["sock"].fileno(), WRITE, attempt, try_first=False, cleanup=cleanup)
        except RtError:
            cleanup()
            raise

    install_methods(vm)
    return {
        "listen": alloc(Native("listen", listen, 2)),
        "connect": alloc(BlockingNative("connect", connect, 2)),
    }


def _strerror(err: int) -> str:
    import os

    return os.strerror(err)


def install_methods(vm: Any) -> None:
    """Methods of listeners and conns, all in `vm.blocking_methods` (the ones
    that never park simply push their result)."""
    io = vm.sched.io
    alloc = vm.heap.alloc

    def none(name: str, args: list) -> None:
        if args:
            raise arg_count_error(name, 0, len(args))

    # ---------------------------------------------------------------- listener

    def l_accept(fb: Any, l: Listener, args: list, ret: Any) -> Any:
        none("listener.accept", args)
        l.check_open()

        def attempt() -> tuple[bool, Any]:
            l.check_open()
            while True:
                try:
                    sock, _ = l.sock.accept()
                except _RETRY_ACCEPT as e:
                    if isinstance(e, ConnectionAbortedError):
                        continue  # the client gave up before we accepted: next one
                    return False, None
                except OSError as e:
                    raise RtError("IOError", f"accept on {l.addr}: {host_reason(e)}") from None
                return True, alloc(Conn(sock, io))

        return io.run(fb, ret, f"accept on {l.addr}", l.fd, READ, attempt)

    def l_port(fb: Any, l: Listener, args: list, ret: Any) -> Any:
        none("listener.port", args)
        fb.L.append(l.port())
        return ret

    def l_addr(fb: Any, l: Listener, args: list, ret: Any) -> Any:
        none("listener.addr", args)
        fb.L.append(l.addr)
        return ret

    def l_close(fb: Any, l: Listener, args: list, ret: Any) -> Any:
        none("listener.close", args)
        l.close()
        fb.L.append(None)
        return ret

    # ---------------------------------------------------------------- conn

    def c_read(fb: Any, c: Conn, args: list, ret: Any) -> Any:
        if len(args) > 1:
            raise arg_count_error("conn.read", "0 or 1", len(args))
        n = DEFAULT_READ
        if args and args[0] is not None:
            n = args[0]
            if type(n) is not int:
                raise RtError("TypeError", f"conn.read expects an int size, got {typeof(n)}")
            if n < 1:
                raise RtError("ValueError", f"conn.read: size must be at least 1, got {n}")
            # "Up to n": a larger read returns less. (socket.recv(n) allocates n
            # bytes before it reads one, so a guest's n must not reach it.)
            n = min(n, MAX_READ)
        c.check_open()
        return io.run(fb, ret, c.what("read"), c.fd, READ, lambda: c.try_read(n))

    def c_read_line(fb: Any, c: Conn, args: list, ret: Any) -> Any:
        none("conn.read_line", args)
        c.check_open()
        return io.run(fb, ret, c.what("read_line"), c.fd, READ, c.try_read_line)

    def c_write(fb: Any, c: Conn, args: list, ret: Any) -> Any:
        if len(args) != 1:
            raise arg_count_error("conn.write", 1, len(args))
        s = args[0]
        if type(s) is not str:
            raise RtError("TypeError", f"conn.write expects a string, got {typeof(s)}")
        c.check_open()
        data = memoryview(s.encode("utf-8", "surrogatepass"))
        pos = [0]

        def attempt() -> tuple[bool, Any]:
            c.check_open()
            while pos[0] < len(data):
                try:
                    pos[0] += c.sock.send(data[pos[0] :])
                except (BlockingIOError, InterruptedError):
                    return False, None
                except OSError as e:
                    raise RtError("IOError", host_reason(e)) from None
            return True, None

        return io.run(fb, ret, c.what("write"), c.fd, WRITE, attempt)

    def c_close_write(fb: Any, c: Conn, args: list, ret: Any) -> Any:
        none("conn.close_write", args)
        c.check_open()
        try:
            c.sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            raise RtError("IOError", host_reason(e)) from None
        fb.L.append(None)
        return ret

    def c_close(fb: Any, c: Conn, args: list, ret: Any) -> Any:
        none("conn.close", args)
        c.close()
        fb.L.append(None)
        return ret

    def c_addr(fb: Any, c: Conn, args: list, ret: Any) -> Any:
        none("conn.addr", args)
        fb.L.append(c.peer)
        return ret

    def c_local_addr(fb: Any, c: Conn, args: list, ret: Any) -> Any:
        none("conn.local_addr", args)
        fb.L.append(c.local)
        return ret

    vm.blocking_methods["listener"] = {"accept": l_accept, "port": l_port, "addr": l_addr, "close": l_close}
    vm.blocking_methods["conn"] = {
        "read": c_read,
        "read_line": c_read_line,
        "write": c_write,
        "close_write": c_close_write,
        "close": c_close,
        "addr": c_addr,
        "local_addr": c_local_addr,
    }
