"""Real I/O for fibers (vm/io.py, vm/stdlib_net.py, the scheduler's waiting):
TCP servers and clients written in TinyLang on loopback, many connections at
once served by fibers in one thread, timeouts with select, cancellation of
fibers parked on I/O, what counts as a deadlock when fibers wait on I/O, and
`input()` parking only the fiber that reads.

Everything stays on 127.0.0.1. Programs run through the embedding API (with
`allow="net"`) or, for stdin, as a `tvm run` subprocess."""

from __future__ import annotations

import faulthandler
import io
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tinyvm.api import VM
from tinyvm.cli.main import main
from tinyvm.runtime.errors import GuestException


@pytest.fixture(autouse=True)
def watchdog():
    """A regression here tends to hang (a fiber waiting forever): fail loudly,
    with every thread's stack, instead."""
    faulthandler.dump_traceback_later(240, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def run(source: str, *, gc_stress: bool = False, **kw) -> tuple[str, VM]:
    out = io.StringIO()
    vm = VM(stdout=out, allow="net", gc_stress=gc_stress, **kw)
    try:
        vm.run_source(source, "prog.tl")
    finally:
        vm.close()
    return out.getvalue(), vm


def in_thread(fn, *args) -> threading.Thread:
    t = threading.Thread(target=fn, args=args, daemon=True)
    t.start()
    return t


ECHO_SERVER = """
import net

fn handle(c) {
  while true {
    let line = c.read_line()
    if line == nil { break }
    c.write("echo ${line}\\n")
  }
  c.close()
}

fn serve(l) {
  while true { spawn handle(l.accept()) }
}

let l = net.listen("127.0.0.1", 0)
let server = spawn serve(l)
"""


# --------------------------------------------------------------------------- servers and clients


@pytest.mark.parametrize("gc_stress", [False, True], ids=["plain", "gc-stress"])
def test_echo_server_and_clients_in_one_program(gc_stress):
    n = 200 if not gc_stress else 20
    source = ECHO_SERVER + """
fn client(id: int, port: int, out: Chan) {
  let c = net.connect("127.0.0.1", port)
  c.write("hello ${id}\\nbye ${id}\\n")
  let a = c.read_line()
  let b = c.read_line()
  c.close()
  out.send([a, b])
}

let out = Chan()
for id in 0..N { spawn client(id, l.port(), out) }
var ok = 0
for _ in 0..N {
  let r = out.recv()
  let id = r[0].slice(len("echo hello "))
  if r[0] == "echo hello ${id}" and r[1] == "echo bye ${id}" { ok += 1 }
}
print(ok, "clients served")
server.cancel()
""".replace("N", str(n))
    out, vm = run(source, gc_stress=gc_stress)
    assert out == f"{n} clients served\n"
    io_ = vm.machine.sched.io
    assert io_.masks == {} and io_.waiting == 0  # the cancelled server left the selector


def test_python_clients_in_threads_many_at_once():
    vm = VM(stdout=io.StringIO(), allow=["net"])
    vm.run_source(
        ECHO_SERVER.replace("let server = spawn serve(l)\n", "")
        + """
fn port() { return l.port() }

// Serve n connections, each in its own fiber; return how many lines were echoed.
fn serve_n(n: int) -> int {
  var lines = 0
  let done = Chan()
  fn one(c) {
    while true {
      let line = c.read_line()
      if line == nil { break }
      lines += 1
      c.write(line.upper() + "\\n")
    }
    c.close()
    done.send(true)
  }
  for _ in 0..n { spawn one(l.accept()) }
  for _ in 0..n { done.recv() }
  return lines
}
""",
        "server.tl",
    )
    port = vm.call("port")
    n = 100
    replies: dict[int, list[str]] = {}
    barrier = threading.Barrier(n)

    def client(i: int) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            barrier.wait(timeout=30)  # every client is connected before any talks
            f = s.makefile("rw", encoding="utf-8", newline="\n")
            got = []
            for k in range(3):
                f.write(f"client {i} line {k}\n")
                f.flush()
                got.append(f.readline())
            replies[i] = got

    threads = [in_thread(client, i) for i in range(n)]
    assert vm.call("serve_n", n) == 3 * n
    for t in threads:
        t.join(30)
    vm.close()
    assert sorted(replies) == list(range(n))
    assert all(replies[i] == [f"CLIENT {i} LINE {k}\n" for k in range(3)] for i in range(n))


def test_read_decodes_utf8_split_between_packets():
    vm = VM(stdout=io.StringIO(), allow="net")
    vm.run_source(
        """
import net
let l = net.listen("127.0.0.1", 0)
fn port() { return l.port() }
fn serve() {
  let c = l.accept()
  let r = [c.read_line(), c.read(), c.read(), c.read_line()]
  c.close()
  return r
}
""",
        "prog.tl",
    )
    port = vm.call("port")

    def client() -> None:
        data = "h\u00e9llo\r\n".encode()
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(data[:2])  # "h" and half of "é"
            time.sleep(0.05)
            s.sendall(data[2:])
            time.sleep(0.05)
            s.sendall("\u20ac".encode())  # one 3-byte character, then the end

    t = in_thread(client)
    assert vm.call("serve") == ["h\u00e9llo", "\u20ac", None, None]
    t.join(10)
    vm.close()


def test_big_write_parks_until_the_reader_catches_up():
    out, _ = run(
        """
import net
let l = net.listen("127.0.0.1", 0)
let c = net.connect("127.0.0.1", l.port())
let s = l.accept()
var big = "0123456789abcdef"
while len(big) < 4000000 { big = big + big }
fn writer() { c.write(big); c.write("!"); c.close() }
let w = spawn writer()
var total = 0
var last = ""
while true {
  let piece = s.read(100000)
  if piece == nil { break }
  total += len(piece)
  last = piece.slice(len(piece) - 1)
}
await w
print(total == len(big) + 1, last)
"""
    )
    assert out == "true !\n"


def test_errors():
    out, _ = run(
        """
import net
let l = net.listen("127.0.0.1", 0)
let port = l.port()
try { net.listen("127.0.0.1", port) } catch e { print(typeof(e), e.message.replace(str(port), "PORT")) }
let c = net.connect("127.0.0.1", port)
let s = l.accept()
print(typeof(c), typeof(s), c.addr() == s.local_addr(), s.addr() == c.local_addr())
c.close()
c.close()    // closing twice is fine
for f in [fn() => c.read(), fn() => c.read_line(), fn() => c.write("x")] {
  try { f() } catch e { print(typeof(e), e.message) }
}
print(s.read())                            // the peer closed: end of stream
// Writing to a closed peer fails sooner or later (reset or broken pipe).
var failed = ""
try { for _ in 0..1000 { s.write("data\\n"); sleep(1) } } catch e { failed = typeof(e) }
print(failed)
l.close()
try { l.accept() } catch e { print(typeof(e), e.message) }
try { net.connect("127.0.0.1", port) } catch e { print(typeof(e), e.message.replace(str(port), "PORT")) }
fn dynamic(x) { return x }
try { net.listen("127.0.0.1", 70000) } catch e { print(typeof(e), e.message) }
try { s.read(dynamic("10")) } catch e { print(typeof(e), e.message) }
try { s.write(dynamic(1)) } catch e { print(typeof(e), e.message) }
try { s.read(1, 2) } catch e { print(typeof(e), e.message) }
"""
    )
    assert out.splitlines() == [
        "IOError listen on 127.0.0.1:PORT: Address already in use",
        "conn conn true true",
        "IOError conn is closed",
        "IOError conn is closed",
        "IOError conn is closed",
        "nil",
        "IOError",
        "IOError listener is closed",
        "IOError connect to 127.0.0.1:PORT: Connection refused",
        "ValueError net.listen: port 70000 out of range 0..65535",
        "TypeError conn.read expects an int size, got string",
        "TypeError conn.write expects a string, got int",
        "TypeError conn.read expects 0 or 1 arguments, got 2",
    ]


def test_close_wakes_the_fibers_parked_on_it():
    out, _ = run(
        """
import net
let l = net.listen("127.0.0.1", 0)
let c = net.connect("127.0.0.1", l.port())
let s = l.accept()
fn reader() { try { s.read() } catch e { print("reader:", typeof(e), e.message) } }
fn acceptor() { try { l.accept() } catch e { print("acceptor:", typeof(e), e.message) } }
let r = spawn reader()
let a = spawn acceptor()
yield_now()
s.close()
l.close()
await r
await a
print("done")
"""
    )
    assert out == "reader: IOError conn is closed\nacceptor: IOError listener is closed\ndone\n"


def test_close_write_half_closes():
    out, _ = run(
        """
import net
let l = net.listen("127.0.0.1", 0)
let c = net.connect("127.0.0.1", l.port())
let s = l.accept()
c.write("request")
c.close_write()
var req = ""
while true { let p = s.read(); if p == nil { break }; req += p }
s.write("reply to ${req}")
s.close()
print(c.read(), c.read())
"""
    )
    assert out == "reply to request nil\n"


# --------------------------------------------------------------------------- timeouts and cancellation


def test_read_with_a_timeout_by_select_and_sleep():
    out, vm = run(
        """
import net
let l = net.listen("127.0.0.1", 0)
let c = net.connect("127.0.0.1", l.port())
let s = l.accept()

fn read_within(conn, ms: int) {
  let got = Chan(1)
  let t = spawn fn() { got.send(conn.read_line()) }()
  select {
    case line = got.recv() { return line }
    case sleep(ms) {
      t.cancel()
      return "timeout"
    }
  }
}

print(read_within(s, 30))
c.write("in time\\n")
print(read_within(s, 5000))
print(read_within(s, 10))
c.close()
print(read_within(s, 5000))
"""
    )
    assert out == "timeout\nin time\ntimeout\nnil\n"
    assert vm.machine.sched.io.masks == {}


def test_cancel_fibers_parked_in_accept_and_read():
    out, vm = run(
        """
import net
let l = net.listen("127.0.0.1", 0)
let c = net.connect("127.0.0.1", l.port())
let s = l.accept()
fn acceptor() {
  try { l.accept() } finally { print("acceptor: finally") }
}
fn reader() {
  try { s.read() } catch e { print("reader:", typeof(e)); throw e }
}
let a = spawn acceptor()
let r = spawn reader()
sleep(20)
print(a.done(), r.done())
a.cancel()
r.cancel()
for t in [a, r] { try { await t } catch e { print(typeof(e), e.message) } }
// The sockets work as before: nothing is left waiting on them.
c.write("still there\\n")
print(s.read_line())
let c2 = net.connect("127.0.0.1", l.port())
print(typeof(l.accept()))
"""
    )
    assert out.splitlines() == [
        "false false",
        "acceptor: finally",
        "reader: Cancelled",
        "Cancelled task was cancelled",
        "Cancelled task was cancelled",
        "still there",
        "conn",
    ]
    assert vm.machine.sched.io.masks == {}


def test_cancel_unregisters_at_once():
    """t.cancel() on a fiber parked in accept takes the listener out of the
    selector right away, before the cancelled fiber even runs again."""
    from tinyvm.heap.objects import Native

    vm = VM(stdout=io.StringIO(), allow="net")
    vm.run_source(
        """
import net
let l = net.listen("127.0.0.1", 0)
var probe = fn() {}
fn serve() { l.accept() }
fn main() {
  let t = spawn serve()
  yield_now()
  probe()
  t.cancel()
  probe()
  try { await t } catch e { }
  probe()
}
""",
        "prog.tl",
    )
    io_ = vm.machine.sched.io
    seen = []
    native = vm.machine.heap.alloc(Native("probe", lambda: seen.append((len(io_.masks), io_.waiting)), 0))
    vm.globals["probe"] = native
    vm.call("main")
    assert seen == [(1, 1), (0, 0), (0, 0)]
    vm.close()


def test_busy_fibers_do_not_starve_io():
    """Fibers that are always ready (yield_now ping-pong) do not keep a
    connection from being accepted: I/O is polled between switches too."""
    vm = VM(stdout=io.StringIO(), allow="net")
    vm.run_source(
        """
import net
let l = net.listen("127.0.0.1", 0)
fn port() { return l.port() }
var done = false
fn busy() -> int {
  var n = 0
  while not done { n += 1; yield_now() }
  return n
}
fn run() {
  let a = spawn busy()
  let b = spawn busy()
  let c = l.accept()
  done = true
  return [c.read_line(), (await a) > 0, (await b) > 0]
}
""",
        "prog.tl",
    )
    port = vm.call("port")
    # The client is another process: a thread of this one would compete for
    # the GIL with the busy VM (and can lose for seconds), which is not what
    # this test is about.
    client = (
        "import socket, time\n"
        f"s = socket.create_connection(('127.0.0.1', {port}))\n"
        "s.sendall(b'let me in\\n'); time.sleep(0.2); s.close()\n"
    )
    peer = subprocess.Popen([sys.executable, "-c", client])
    result: list = []
    runner = in_thread(lambda: result.append(vm.call("run")))
    runner.join(20)
    assert not runner.is_alive(), "the busy fibers starved the accept"
    assert peer.wait(10) == 0
    assert result == [["let me in", True, True]]
    vm.close()


# --------------------------------------------------------------------------- deadlocks and leaks


def test_a_read_the_peer_can_still_answer_is_not_a_deadlock():
    """Main waits on a channel, a fiber reads a socket: as long as the peer
    (here a Python thread) holds the connection open, the VM waits for it."""
    vm = VM(stdout=io.StringIO(), allow="net")
    vm.run_source(
        """
import net
let l = net.listen("127.0.0.1", 0)
fn port() { return l.port() }
fn run() {
  let ch = Chan()
  fn reader(c) { ch.send(c.read_line()); ch.send(c.read_line()) }
  spawn reader(l.accept())
  return [ch.recv(), ch.recv()]
}
""",
        "prog.tl",
    )
    port = vm.call("port")

    def peer() -> None:
        with socket.create_connection(("127.0.0.1", port)) as s:
            time.sleep(0.2)
            s.sendall(b"late\n")
            time.sleep(0.2)  # then close: the second read_line gets nil

    t = in_thread(peer)
    assert vm.call("run") == ["late", None]
    t.join(10)
    vm.close()


def test_deadlock_still_detected_once_no_one_waits_on_io():
    with pytest.raises(GuestException) as info:
        run(
            """
import net
let l = net.listen("127.0.0.1", 0)
let c = net.connect("127.0.0.1", l.port())
let s = l.accept()
let ch = Chan()
fn reader() { let x = s.read(); ch.send(x); ch.send(x) }
spawn reader()
c.close()           // the reader gets nil and blocks on ch; nothing waits on I/O then
sleep(10)
let never = Chan()
never.recv()
"""
        )
    assert info.value.class_name == "DeadlockError"
    assert info.value.message.startswith("all fibers are blocked: main fiber waits on recv from chan 2 at <module> (prog.tl:")
    assert "fiber 2 (reader) waits on send to chan 1" in info.value.message


def test_leak_report_names_io_waits(tmp_path):
    prog = tmp_path / "leak.tl"
    prog.write_text(
        """import net
let l = net.listen("127.0.0.1", 0)
fn serve() { let c = l.accept(); c.read() }
fn accept_more() { l.accept() }
spawn serve()
let c = net.connect("127.0.0.1", l.port())
sleep(20)
spawn accept_more()
yield_now()
print("main ends")
""",
        encoding="utf-8",
    )
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", "--warn-leaks", "--allow-net", str(prog)], stdin=io.StringIO(""), stdout=out, stderr=err)
    assert (code, out.getvalue()) == (0, "main ends\n")
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", err.getvalue())
    assert text.splitlines() == [
        f"warning: fiber 2 (serve) still waits on read on conn 2 (127.0.0.1:PORT) at serve ({prog}:3:34) when the main fiber ends",
        f"warning: fiber 3 (accept_more) still waits on accept on 127.0.0.1:PORT at accept_more ({prog}:4:20) when the main fiber ends",
    ]


def test_no_io_no_selector():
    out, vm = run("let ch = Chan(1)\nch.send(1)\nprint(ch.recv())\nsleep(1)\nprint(2)")
    assert out == "1\n2\n"
    assert vm.machine.sched.io.sel is None


def test_unreachable_sockets_are_closed_by_the_collector():
    vm = VM(stdout=io.StringIO(), allow="net")
    vm.run_source(
        """
import net
let l = net.listen("127.0.0.1", 0)
fn open_and_drop() {
  let c = net.connect("127.0.0.1", l.port())
  let s = l.accept()
  return nil
}
open_and_drop()
""",
        "prog.tl",
    )
    io_ = vm.machine.sched.io
    assert len(io_.resources) == 3
    vm.machine.collect()
    assert len(io_.resources) == 1  # only the listener, still held by a global
    vm.close()
    assert io_.resources == set()


# --------------------------------------------------------------------------- input()

TVM = [sys.executable, "-c", "from tinyvm.cli.main import tvm_main; tvm_main()"]


def tvm_proc(prog: Path, *flags: str) -> subprocess.Popen:
    # (stdout is a pipe, so block-buffered: the VM flushes it whenever it goes idle)
    return subprocess.Popen(TVM + ["run", *flags, str(prog)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_output_shows_while_the_vm_waits(tmp_path):
    prog = tmp_path / "srv.tl"
    prog.write_text(
        'import net\nlet l = net.listen("127.0.0.1", 0)\nprint("listening", l.port())\n'
        'let c = l.accept()\nprint("got", c.read_line())\n',
        encoding="utf-8",
    )
    p = tvm_proc(prog, "--allow-net")
    killer = threading.Timer(60, p.kill)
    killer.start()
    try:
        assert p.stdout is not None
        words = p.stdout.readline().split()  # printed, and flushed before waiting in accept
        assert words[0] == "listening"
        with socket.create_connection(("127.0.0.1", int(words[1]))) as s:
            s.sendall(b"hi\n")
        assert p.stdout.read() == "got hi\n"
        assert p.wait(30) == 0
    finally:
        killer.cancel()
        p.kill()


def test_input_parks_only_the_reading_fiber(tmp_path):
    prog = tmp_path / "ask.tl"
    prog.write_text(
        """fn ticker() {
  var i = 0
  while true { print("tick", i); i += 1; sleep(10) }
}
let t = spawn ticker()
let name = input("name? ")
t.cancel()
print("hello", name)
print("then", input())
print("last", input())
print("eof", input())
""",
        encoding="utf-8",
    )
    p = tvm_proc(prog)
    killer = threading.Timer(60, p.kill)
    killer.start()
    try:
        assert p.stdin is not None and p.stdout is not None
        seen = []
        while True:  # the ticker runs while the main fiber waits for a line
            line = p.stdout.readline()
            assert line, p.stderr.read() if p.stderr else ""
            seen.append(line)
            if line.startswith("tick 3"):
                break
        assert seen[0] == "name? tick 0\n"
        p.stdin.write("Ada\nBob\nCy")  # two lines and the start of a third at once
        p.stdin.flush()
        time.sleep(0.2)
        p.stdin.write("d\n")
        p.stdin.close()
        rest = p.stdout.read()
        assert p.wait(30) == 0
    finally:
        killer.cancel()
    tail = [line for line in rest.splitlines() if not line.startswith("tick")]
    assert tail == ["hello Ada", "then Bob", "last Cyd", "eof nil"]


def test_input_from_a_pipe_holding_many_lines(tmp_path):
    prog = tmp_path / "sum.tl"
    prog.write_text(
        """var total = 0
var lines = 0
while true {
  let line = input()
  if line == nil { break }
  total += int(line)
  lines += 1
}
print(lines, total)
""",
        encoding="utf-8",
    )
    data = "".join(f"{i}\n" for i in range(5000)) + "7"  # the last line has no newline
    p = subprocess.run(TVM + ["run", str(prog)], input=data, capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stdout, p.stderr) == (0, f"5001 {sum(range(5000)) + 7}\n", "")


def test_input_from_a_regular_file_and_devnull(tmp_path):
    prog = tmp_path / "two.tl"
    prog.write_text('print(input(), input(), input())\n', encoding="utf-8")
    data = tmp_path / "in.txt"
    data.write_text("one\r\ntwo\n", encoding="utf-8")
    with open(data) as f:
        p = subprocess.run(TVM + ["run", str(prog)], stdin=f, capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stdout) == (0, "one two nil\n")
    p = subprocess.run(TVM + ["run", str(prog)], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stdout) == (0, "nil nil nil\n")


def test_input_waiting_is_not_a_deadlock(tmp_path):
    """Main waits on a channel that only a fiber blocked in input() will feed:
    that fiber waits on I/O, so this is no deadlock."""
    prog = tmp_path / "feed.tl"
    prog.write_text(
        'let ch = Chan()\nfn reader() { ch.send(input()) }\nspawn reader()\nprint("got", ch.recv())\n',
        encoding="utf-8",
    )
    p = tvm_proc(prog)
    try:
        time.sleep(0.5)
        assert p.poll() is None
        out, err = p.communicate("late line\n", timeout=60)
    finally:
        p.kill()
    assert (p.returncode, out, err) == (0, "got late line\n", "")


def test_input_with_a_stringio_stays_synchronous():
    out = io.StringIO()
    vm = VM(stdout=out, stdin=io.StringIO("x\ny\n"))
    assert type(vm.machine.builtins["input"]).__name__ == "Native"
    vm.run_source('print(input("? "), input(), input())')
    assert out.getvalue() == "? x y nil\n"


# --------------------------------------------------------------------------- connect: every address in turn


def test_connect_moves_on_to_the_next_address(monkeypatch):
    """A host resolving to several addresses: when connecting to the first fails
    (here: asynchronously, after the fiber parked), the next one is tried and
    the fiber keeps waiting on the new socket."""
    import errno

    from tinyvm.stdlib import net as stdlib_net

    dead_port = 9  # never really dialled: the fake socket pretends it is refused
    made: list = []

    class FlakySocket(socket.socket):
        def connect_ex(self, sa):
            made.append(self)
            if sa[1] == dead_port:
                self.refused = True
                return errno.EINPROGRESS  # "in progress", then refused once writable
            return super().connect_ex(sa)

        def getsockopt(self, *args):
            if getattr(self, "refused", False) and args[:2] == (socket.SOL_SOCKET, socket.SO_ERROR):
                return errno.ECONNREFUSED
            return super().getsockopt(*args)

    vm = VM(stdout=io.StringIO(), allow="net")
    vm.run_source('import net\nlet l = net.listen("127.0.0.1", 0)\nfn port() { return l.port() }\n'
                  'fn go() { let c = net.connect("two.example", 80); let s = l.accept(); c.write("hi\\n"); return s.read_line() }',
                  "prog.tl")
    port = vm.call("port")
    real_getaddrinfo = socket.getaddrinfo

    def fake_getaddrinfo(host, p, *args, **kw):
        if host == "two.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", dead_port)),
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real_getaddrinfo(host, p, *args, **kw)

    monkeypatch.setattr(stdlib_net.socket, "getaddrinfo", fake_getaddrinfo)
    monkeypatch.setattr(stdlib_net.socket, "socket", FlakySocket)
    assert vm.call("go") == "hi"
    assert len(made) == 2 and made[0].fileno() == -1  # the refused socket was closed
    assert vm.machine.sched.io.masks == {}
    vm.close()
