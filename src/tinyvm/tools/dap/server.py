"""`tvm dap`: serve the Debug Adapter Protocol on stdio or on a TCP port.

    tvm dap                          one session on stdin/stdout (what editors spawn)
    tvm dap --port 4711              sessions on 127.0.0.1:4711, one connection at a time
    tvm dap --port 4711 prog.tl a b  ... and `attach` debugs prog.tl with arguments a b
    tvm dap --log dap.log            every message in and out, one JSON line each

Why this module is separate from session.py: it owns the process's streams.
On stdio, fd 1 carries the protocol, so it is duplicated for the writer and
fd 1 itself is pointed at stderr: nothing else in the process (a stray print,
a warning) can corrupt a message. The program's own output never goes to a
file descriptor: the engine hands it to the session, which sends it as
`output` events; its standard input is the launch request's `stdin` (default
empty), never the protocol's.

`--port 0` picks a free port; the server prints `tvm dap: listening on
127.0.0.1:PORT` on stderr either way, which is what a test or an editor's
"debugServer" setting reads.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any, BinaryIO, Callable, TextIO

from .protocol import MessageReader, MessageWriter
from .session import Session

__all__ = ["BadUsage", "main", "run_session", "serve_stdio", "serve_tcp"]

HOST = "127.0.0.1"


def run_session(
    inp: BinaryIO,
    out: BinaryIO,
    *,
    program: str | None = None,
    program_args: list[str] | None = None,
    log: TextIO | None = None,
    engine_factory: Callable[..., Any] | None = None,
) -> None:
    """One session: read requests from `inp` until the client disconnects or
    the stream ends; answer on `out`."""
    import json

    writer = MessageWriter(out, log)
    session = Session(writer, engine_factory=engine_factory, program=program, program_args=program_args or (), log=log)
    reader = MessageReader(inp)
    try:
        while not session.done.is_set():
            message = reader.read()
            if message is None:
                break
            if log is not None:
                writer.log_incoming(json.dumps(message) if isinstance(message, dict) else f"(malformed: {message.reason})")
            session.handle(message)
    finally:
        session.close()


def serve_stdio(*, program: str | None = None, program_args: list[str] | None = None, log: TextIO | None = None) -> int:
    """One session on this process's stdin and stdout."""
    inp = os.fdopen(os.dup(0), "rb")  # buffered: read(n) returns n bytes, however the pipe splits them
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else written to fd 1 lands on stderr, not in the protocol
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # and nothing else can read a request
    os.close(null)
    run_session(inp, out, program=program, program_args=program_args, log=log)
    return 0


def serve_tcp(
    port: int,
    *,
    program: str | None = None,
    program_args: list[str] | None = None,
    log: TextIO | None = None,
    once: bool = False,
    announce: TextIO | None = None,
    engine_factory: Callable[..., Any] | None = None,
) -> int:
    """Sessions on 127.0.0.1:port, one connection after the other (each a new
    session, with its own engine); with `once`, only the first."""
    announce = announce or sys.stderr
    with socket.create_server((HOST, port)) as server:
        print(f"tvm dap: listening on {HOST}:{server.getsockname()[1]}", file=announce, flush=True)
        while True:
            conn, _ = server.accept()
            with conn:
                stream = conn.makefile("rwb")
                try:
                    run_session(stream, stream, program=program, program_args=program_args, log=log, engine_factory=engine_factory)
                finally:
                    try:
                        stream.close()
                    except OSError:
                        pass
            if once:
                return 0


class BadUsage(ValueError):
    """A `tvm dap` command line that cannot be served; the CLI reports it as a usage error."""


# `tvm dap`'s command line: cli/main.py parses the options (tools/ is below
# cli/ and never imports it) and imports this module only for `tvm dap`.
def main(words: list[str], *, port: int | None, once: bool, log_path: str | None, stderr: TextIO) -> int:
    program, args = (words[0], words[1:]) if words else (None, [])
    if program is not None and not os.path.isfile(program):
        raise BadUsage(f"dap: no such file: {program}")
    if once and port is None:
        raise BadUsage("--once needs --port")
    log = None
    if log_path is not None:
        try:
            log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 (closed below, after the sessions)
        except OSError as e:
            raise BadUsage(f"--log: cannot open {log_path}: {e.strerror}") from None
    try:
        if port is not None:
            return serve_tcp(port, program=program, program_args=args, log=log, once=once, announce=stderr)
        return serve_stdio(program=program, program_args=args, log=log)
    except OSError as e:  # the port is taken, or the streams failed
        stderr.write(f"tvm dap: {e.strerror or e}\n")
        return 1
    finally:
        if log is not None:
            log.close()
