"""Failures of the host's standard streams are errors, not bugs.

A stdout that cannot be written (full disk, closed descriptor, a stream the
text cannot be encoded for) ends the run with `HostIOError`: `tvm` prints one
line, `error: cannot write to stdout: REASON`, and exits with status 74; the
embedding API raises it. It is never an `InternalError` ("corrupt bytecode or
a VM bug"), never a traceback, and no guest `catch` sees it. A stdin that
cannot be read makes `input()` raise a guest `IOError` the program can catch.
A broken pipe (`| head -1`) ends quietly. Diagnostics never go to stdout, even
when stderr is closed.

The subprocess tests run the installed `tvm` the way the issue reports it
(`tvm run hello.tl >&-`, `> /dev/full`), with Python's output buffered (the
error then surfaces at the final flush) and unbuffered (at the `print`).
"""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinyvm import VM
from tinyvm.cli.main import main
from tinyvm.runtime.errors import GuestException, HostIOError

FULL = "/dev/full"
needs_dev_full = pytest.mark.skipif(not os.path.exists(FULL), reason="needs /dev/full")


class FailingStream(io.TextIOBase):
    """A text stream whose writes (and flushes) fail with errno `code`."""

    def __init__(self, code: int = errno.ENOSPC) -> None:
        self.code = code
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        raise OSError(self.code, os.strerror(self.code))

    def flush(self) -> None:
        if self.writes:
            raise OSError(self.code, os.strerror(self.code))

    def readline(self, size: int = -1) -> str:
        raise OSError(self.code, os.strerror(self.code))

    read = readline


def run_vm(source: str, stdout=None, stdin=None, path: str = "prog.tl") -> VM:
    vm = VM(stdout=stdout if stdout is not None else io.StringIO(), stdin=stdin)
    vm.run_source(source, path=path)
    return vm


# --------------------------------------------------------------------------- the VM


@pytest.mark.parametrize(
    "source, path",
    [
        ('print("hello")', "prog.tl"),  # print of one value: the PRINT instruction
        ('print("a", 1, [2])', "prog.tl"),  # the print built-in
        ("class P { fn str() -> string { return \"p\" } }\nprint(P())", "prog.tl"),  # formatted by guest code
        ('let s = input("name? ")', "prog.tl"),  # input's prompt
        ("print 1 + 2;", "prog.lox"),  # Lox's print statement
        ("fn w() { print(1) }\nlet t = spawn w()\nawait t", "prog.tl"),  # in another fiber
    ],
)
def test_a_failing_stdout_raises_host_io_error(source: str, path: str) -> None:
    with pytest.raises(HostIOError) as info:
        run_vm(source, stdout=FailingStream(errno.ENOSPC), stdin=io.StringIO("x\n"), path=path)
    e = info.value
    assert str(e) == "cannot write to stdout: No space left on device"
    assert (e.stream, e.errno, e.broken_pipe) == ("stdout", errno.ENOSPC, False)


def test_the_program_cannot_catch_it() -> None:
    out = FailingStream()
    source = 'var caught = false\ntry { print("x") } catch e { caught = true }'
    vm = VM(stdout=out)
    with pytest.raises(HostIOError):
        vm.run_source(source)
    assert vm.get("caught") is False  # the catch block never ran
    vm = VM(stdout=io.StringIO())
    vm.run_source(source.replace('print("x")', "print(1 / 0)"))
    assert vm.get("caught") is True  # (the same program catches a guest error)


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda: FailingStream(errno.EBADF), "Bad file descriptor"),
        (lambda: FailingStream(errno.EPIPE), "Broken pipe"),
        (lambda: _closed(io.StringIO()), "I/O operation on closed file"),
        (lambda: io.TextIOWrapper(io.BytesIO(), encoding="ascii", write_through=True), "'ascii' codec can't encode character"),
    ],
)
def test_every_kind_of_stream_failure_is_host_io_error(make, reason: str) -> None:
    with pytest.raises(HostIOError) as info:
        run_vm('print("héllo")', stdout=make())
    assert str(info.value).startswith(f"cannot write to stdout: {reason}")
    assert "corrupt bytecode" not in str(info.value)


def _closed(stream: io.StringIO) -> io.StringIO:
    stream.close()
    return stream


def test_a_failing_stdin_is_a_guest_io_error_the_program_catches() -> None:
    out = io.StringIO()
    run_vm("try { input() } catch e { print(typeof(e), e.message) }", stdout=out, stdin=FailingStream(errno.EIO))
    assert out.getvalue() == "IOError stdin: Input/output error\n"
    undecodable = io.TextIOWrapper(io.BytesIO(b"\xff\n"), encoding="utf-8")
    with pytest.raises(GuestException) as info:
        run_vm("input()", stdin=undecodable)
    assert (info.value.class_name, info.value.trace) == ("IOError", ["at <module> (prog.tl:1:1)"])
    assert info.value.message.startswith("stdin: ")


def test_a_vm_bug_is_still_an_internal_error() -> None:
    """The words "corrupt bytecode or a VM bug" stay for what they mean: a
    native that raises an unexpected host exception. (The native fails in
    C code the VM called, a dict lookup: a Python function in this file
    raising would be host code, whose exceptions reach the host unchanged,
    tests/embed/test_teardown.py.)"""
    import functools

    from tinyvm.heap.objects import Native

    vm = VM(stdout=io.StringIO())
    vm.run_source("fn f(g) { return g() }")
    broken = functools.partial({}.__getitem__, "oops")

    with pytest.raises(GuestException) as info:
        vm.call("f", vm.machine.heap.alloc(Native("broken", broken, 0)))
    assert info.value.class_name == "InternalError"
    assert "(corrupt bytecode or a VM bug)" in info.value.message


# --------------------------------------------------------------------------- tvm, in-process


def tvm(argv: list[str], stdout, stdin: str = "") -> tuple[int, str]:
    err = io.StringIO()
    code = main(argv, stdin=io.StringIO(stdin), stdout=stdout, stderr=err)
    return code, err.getvalue()


def test_cli_reports_a_failing_stdout_with_status_74(tmp_path: Path) -> None:
    prog = tmp_path / "hello.tl"
    prog.write_text('print("hello")\n', encoding="utf-8")
    assert tvm(["run", str(prog)], FailingStream()) == (74, "error: cannot write to stdout: No space left on device\n")
    assert tvm(["--help"], FailingStream()) == (74, "error: cannot write to stdout: No space left on device\n")
    assert tvm(["disasm", str(prog)], FailingStream(errno.EBADF)) == (74, "error: cannot write to stdout: Bad file descriptor\n")
    assert tvm(["repl"], FailingStream(), stdin="1\n") == (74, "error: cannot write to stdout: No space left on device\n")


def test_cli_ends_quietly_on_a_broken_pipe(tmp_path: Path) -> None:
    prog = tmp_path / "many.tl"
    prog.write_text("for i in 0..10 { print(i) }\n", encoding="utf-8")
    assert tvm(["run", str(prog)], FailingStream(errno.EPIPE)) == (0, "")
    assert tvm(["--help"], FailingStream(errno.EPIPE)) == (0, "")


def test_cli_reports_a_failing_stdin_of_its_own() -> None:
    err = io.StringIO()
    assert main(["run", "-"], stdin=FailingStream(errno.EIO), stdout=io.StringIO(), stderr=err) == 74
    assert err.getvalue() == "error: cannot read from stdin: Input/output error\n"
    err = io.StringIO()
    assert main(["repl"], stdin=FailingStream(errno.EIO), stdout=io.StringIO(), stderr=err) == 74
    assert err.getvalue() == "error: cannot read from stdin: Input/output error\n"


# --------------------------------------------------------------------------- the installed tvm


def _tvm() -> str:
    script = Path(sys.executable).parent / "tvm"
    return str(script) if script.exists() else f"{sys.executable} -m tinyvm.cli.main"


def shell(command: str, cwd: Path, buffered: bool) -> subprocess.CompletedProcess:
    """Run `command` (with TVM standing for the installed tvm) in sh."""
    env = dict(os.environ)
    env.pop("PYTHONUNBUFFERED", None)
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    env["TVM"] = _tvm()
    return subprocess.run(["sh", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def progs(tmp_path: Path) -> Path:
    (tmp_path / "hello.tl").write_text('print("hello")\n', encoding="utf-8")
    (tmp_path / "fails.tl").write_text('print("before")\nprint(1 / 0)\n', encoding="utf-8")
    (tmp_path / "many.tl").write_text("for i in 0..200000 { print(i) }\n", encoding="utf-8")
    (tmp_path / "hello.lox").write_text('print "hello";\n', encoding="utf-8")
    return tmp_path


BUFFERING = pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])


@BUFFERING
def test_stdout_closed(progs: Path, buffered: bool) -> None:
    p = shell("$TVM run hello.tl >&-", progs, buffered)
    assert (p.returncode, p.stderr) == (74, "error: cannot write to stdout: Bad file descriptor\n")


@needs_dev_full
@BUFFERING
@pytest.mark.parametrize("prog", ["hello.tl", "hello.lox"])
def test_stdout_full(progs: Path, buffered: bool, prog: str) -> None:
    p = shell(f"$TVM run {prog} > {FULL}", progs, buffered)
    assert (p.returncode, p.stderr) == (74, "error: cannot write to stdout: No space left on device\n")


@needs_dev_full
@BUFFERING
def test_stdout_full_and_a_guest_error(progs: Path, buffered: bool) -> None:
    p = shell(f"$TVM run fails.tl > {FULL}", progs, buffered)
    assert p.returncode == 74
    assert p.stderr.endswith("error: cannot write to stdout: No space left on device\n")
    assert "Traceback" not in p.stderr and "corrupt bytecode" not in p.stderr


@needs_dev_full
@BUFFERING
def test_help_and_repl_to_a_full_stdout(progs: Path, buffered: bool) -> None:
    for command in ("$TVM --help", "$TVM run --help", "echo 1 | $TVM repl"):
        p = shell(f"{command} > {FULL}", progs, buffered)
        assert (p.returncode, p.stderr) == (74, "error: cannot write to stdout: No space left on device\n"), command


@BUFFERING
def test_stderr_closed_never_writes_the_error_to_stdout(progs: Path, buffered: bool) -> None:
    p = shell("$TVM run fails.tl 2>&-", progs, buffered)
    assert (p.returncode, p.stdout) == (1, "before\n")


@BUFFERING
def test_a_reader_that_leaves_ends_the_run_quietly(progs: Path, buffered: bool) -> None:
    p = shell("$TVM run many.tl 2>err.txt | head -1; cat err.txt", progs, buffered)
    assert (p.returncode, p.stdout, p.stderr) == (0, "0\n", "")
    proc = subprocess.Popen(_tvm().split() + ["run", "many.tl"], cwd=progs, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b"0\n"
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    assert proc.stderr.read() == b""
    proc.stderr.close()


def test_input_in_a_host_callback_reports_a_failed_read_as_ioerror():
    # input() inside a nested run (here: the str() method of a thrown value,
    # called to format the uncaught error) reads without parking; a failed read
    # is the guest IOError there too, never the InternalError of a VM bug.
    import errno as _errno
    import os as _os

    from tinyvm.api import VM
    from tinyvm.runtime.errors import GuestException

    r, w = _os.pipe()

    class FailingStdin(io.TextIOBase):
        def fileno(self):
            return r

        def readline(self, *args):
            raise OSError(_errno.EIO, "Input/output error")

    try:
        vm = VM(stdout=io.StringIO(), stdin=FailingStdin())
        src = "class P {\n  fn str() -> string { return str(input()) }\n}\nthrow P()\n"
        with pytest.raises(GuestException) as e:
            vm.run_source(src, "cb.tl")
        assert "stdin: Input/output error" in e.value.message
        assert "corrupt bytecode" not in e.value.message
    finally:
        _os.close(r)
        _os.close(w)
