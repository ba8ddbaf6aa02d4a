"""The Debug Adapter Protocol's base protocol: Content-Length framed JSON.

Why a module of its own: the framing is the one part of `tvm dap` that faces
bytes from outside, so it is where a malformed message must turn into a value
(a `Malformed` record the session answers with an error response) rather than
an exception that ends the server. The session (session.py) only ever sees
dicts or `Malformed`.

A message is

    Content-Length: N\\r\\n
    \\r\\n
    <N bytes of UTF-8 JSON>

Other header fields are allowed and ignored (the spec reserves them). A header
without Content-Length, a length that is not a number, a body that is not JSON
or not a JSON object are each reported as `Malformed` and reading goes on with
the next message; only the end of the stream ends reading.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any, BinaryIO

__all__ = ["Malformed", "MessageReader", "MessageWriter", "encode"]

# A header line longer than this is not a DAP header: refuse it rather than
# buffer without bound (a client that sends a file instead of a message).
MAX_HEADER_LINE = 8192
# The largest body read; larger messages are malformed (and skipped).
MAX_BODY = 64 * 1024 * 1024


@dataclass(slots=True)
class Malformed:
    """A message that could not be read; `seq` is the request's when it was
    readable (a JSON object with a seq but no valid command), else 0."""

    reason: str
    seq: int = 0
    command: str = ""


def encode(message: dict[str, Any]) -> bytes:
    """One framed message."""
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class MessageReader:
    """Reads framed messages from a binary stream (stdin or a socket file)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def _header(self) -> dict[str, str] | None:
        """The header fields of the next message; None at the end of the stream.
        Raises ValueError for a header that is not one."""
        fields: dict[str, str] = {}
        bad: str | None = None
        while True:
            line = self.stream.readline(MAX_HEADER_LINE + 1)
            if not line:
                return None
            if len(line) > MAX_HEADER_LINE and not line.endswith(b"\n"):
                bad = bad or "header line too long"
                # skip the rest of that line
                while line and not line.endswith(b"\n"):
                    line = self.stream.readline(MAX_HEADER_LINE + 1)
                continue
            text = line.rstrip(b"\r\n")
            if not text:
                if not fields and bad is None:
                    continue  # stray blank lines between messages are harmless
                break
            name, sep, value = text.decode("latin-1").partition(":")
            if not sep:
                bad = bad or f"header line without ':': {text[:60].decode('latin-1')!r}"
                continue
            fields[name.strip().lower()] = value.strip()
        if bad is not None:
            raise ValueError(bad)
        return fields

    def read(self) -> dict[str, Any] | Malformed | None:
        """The next message, a `Malformed` record, or None at the end of the stream."""
        try:
            fields = self._header()
        except ValueError as e:
            return Malformed(f"malformed header: {e}")
        if fields is None:
            return None
        length_text = fields.get("content-length")
        if length_text is None:
            return Malformed("malformed header: no Content-Length")
        if not length_text.isdigit():
            return Malformed(f"malformed header: Content-Length {length_text!r} is not a number")
        length = int(length_text)
        if length > MAX_BODY:
            return Malformed(f"message too large: {length} bytes (at most {MAX_BODY})")
        body = b""
        while len(body) < length:  # a raw stream may return less than asked
            chunk = self.stream.read(length - len(body))
            if not chunk:
                return None  # the stream ended inside the body
            body += chunk
        try:
            message = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            return Malformed(f"malformed message: not JSON ({e})")
        if not isinstance(message, dict):
            return Malformed(f"malformed message: a JSON {type(message).__name__}, not an object")
        seq = message.get("seq")
        seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else 0
        if message.get("type") != "request":
            if message.get("type") == "response":
                return message  # a reply to a reverse request (runInTerminal...): the session ignores it
            return Malformed(f"malformed message: type {message.get('type')!r}, expected 'request'", seq)
        command = message.get("command")
        if not isinstance(command, str) or not command:
            return Malformed("malformed request: no command", seq)
        args = message.get("arguments")
        if args is None:
            message["arguments"] = {}  # DAP lets a request without arguments leave them out
        elif not isinstance(args, dict):
            return Malformed(f"malformed request: arguments of {command!r} must be an object", seq, command)
        return message


class MessageWriter:
    """Writes framed messages, numbering them; safe to call from several
    threads (the reader answers requests while the engine thread sends
    stopped and output events)."""

    def __init__(self, stream: BinaryIO, log: Any = None) -> None:
        self.stream = stream
        self.log = log  # a text stream that gets each message as a JSON line, or None
        self._lock = threading.Lock()
        self._seq = 0
        self.closed = False

    def log_incoming(self, text: str) -> None:
        """`--log`: a message read from the client, as a line of the same log
        (under the same lock, so lines of both directions never interleave)."""
        if self.log is None:
            return
        with self._lock:
            try:
                self.log.write("-> " + text + "\n")
                self.log.flush()
            except (OSError, ValueError):
                pass

    def send(self, message: dict[str, Any]) -> None:
        with self._lock:
            if self.closed:
                return
            self._seq += 1
            message["seq"] = self._seq
            try:
                self.stream.write(encode(message))
                self.stream.flush()
            except (OSError, ValueError):
                self.closed = True  # the client is gone: nothing more can reach it
            if self.log is not None:
                try:
                    self.log.write("<- " + json.dumps(message) + "\n")
                    self.log.flush()
                except (OSError, ValueError):
                    pass
