"""Capabilities (vm/capabilities.py, docs/capabilities.md): `fs`, `os.env` and
`net` are denied unless the host grants them, with one precise message per
kind; `tvm run --allow-read/--allow-write/--allow-net/--allow-env` and `-A`
grant them (optionally narrowed to a list), as does `VM(allow=...)`. Also the
fs and os modules themselves and their static types."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from tinyvm.api import VM
from tinyvm.cli.main import main
from tinyvm.stdlib.capabilities import Capabilities
from tinyvm.runtime.errors import GuestException


def run(tmp_path: Path, source: str, *flags: str, args: tuple[str, ...] = ()) -> tuple[int, str, str]:
    """`tvm run FLAGS prog.tl ARGS` in-process, in tmp_path."""
    prog = tmp_path / "prog.tl"
    prog.write_text(source, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        code = main(["run", *flags, "prog.tl", *args], stdin=io.StringIO(""), stdout=out, stderr=err)
    finally:
        os.chdir(cwd)
    return code, out.getvalue(), err.getvalue()


def first_error(err: str) -> str:
    return err.splitlines()[0] if err else ""


def denied(kind: str, target: str) -> str:
    return f"error: PermissionError: {kind} access to {target} denied (run with --allow-{kind})"


# --------------------------------------------------------------------------- denied by default

DENIED = [
    ('import fs\nfs.read_text("notes.txt")', "read", '"notes.txt"'),
    ('import fs\nfs.exists("notes.txt")', "read", '"notes.txt"'),
    ('import fs\nfs.list_dir(".")', "read", '"."'),
    ('import fs\nfs.write_text("out.txt", "x")', "write", '"out.txt"'),
    ('import os\nos.env("HOME")', "env", '"HOME"'),
    ('import net\nnet.listen("127.0.0.1", 0)', "net", "127.0.0.1:0"),
    ('import net\nnet.connect("127.0.0.1", 9)', "net", "127.0.0.1:9"),
    ('import net\nnet.connect("::1", 9)', "net", "[::1]:9"),
]


@pytest.mark.parametrize("source,kind,target", DENIED, ids=[s.split("\n")[1].split("(")[0] + "-" + k for s, k, _ in DENIED])
def test_denied_by_default(tmp_path, source, kind, target):
    code, out, err = run(tmp_path, source)
    assert code == 1
    assert first_error(err) == denied(kind, target)


def test_denial_is_catchable_and_touches_nothing(tmp_path):
    code, out, err = run(
        tmp_path,
        'import fs\ntry { fs.write_text("out.txt", "x") } catch e { print(typeof(e), e is PermissionError, e.message) }',
    )
    assert (code, err) == (0, "")
    assert out == 'PermissionError true write access to "out.txt" denied (run with --allow-write)\n'
    assert not (tmp_path / "out.txt").exists()


def test_args_and_exit_need_nothing(tmp_path):
    source = 'import os\nprint(os.args, len(os.args))\ntry { os.exit(3) } finally { print("finally does not run") }'
    code, out, err = run(tmp_path, source, args=("a", "b c"))
    assert (code, out, err) == (3, '["a", "b c"] 2\n', "")


def test_importing_is_free(tmp_path):
    code, out, err = run(tmp_path, 'import fs\nimport os\nimport net\nprint(typeof(fs.read_text), typeof(net.connect))')
    assert (code, out, err) == (0, "function function\n", "")


# --------------------------------------------------------------------------- granted by flags

FS_PROG = """import fs
fs.write_text("out.txt", "héllo\\nwörld")
print(fs.read_text("out.txt"))
"""


def test_each_flag_grants_only_its_kind(tmp_path):
    code, _, err = run(tmp_path, FS_PROG, "--allow-read")
    assert first_error(err) == denied("write", '"out.txt"')
    code, _, err = run(tmp_path, FS_PROG, "--allow-write")
    assert first_error(err) == denied("read", '"out.txt"')
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == "héllo\nwörld"
    code, out, err = run(tmp_path, FS_PROG, "--allow-write", "--allow-read")
    assert (code, out, err) == (0, "héllo\nwörld\n", "")


@pytest.mark.parametrize("flags", [["-A"], ["--allow-all"], ["--allow-read", "--allow-write", "--allow-env", "--allow-net"]])
def test_all(tmp_path, flags, monkeypatch):
    monkeypatch.setenv("TVM_CAPS_TEST", "yes")
    source = FS_PROG + """import os
import net
print(os.env("TVM_CAPS_TEST"), os.env("TVM_CAPS_TEST_UNSET"))
let l = net.listen("127.0.0.1", 0)
let c = net.connect("127.0.0.1", l.port())
let s = l.accept()
c.write("over tcp\\n")
print(s.read_line())
"""
    code, out, err = run(tmp_path, source, *flags)
    assert (code, out, err) == (0, "héllo\nwörld\nyes nil\nover tcp\n", "")


def test_env_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("TVM_CAPS_A", "1")
    monkeypatch.setenv("TVM_CAPS_B", "2")
    source = 'import os\nprint(os.env("TVM_CAPS_A"))\nprint(os.env("TVM_CAPS_B"))'
    assert run(tmp_path, source, "--allow-env") == (0, "1\n2\n", "")
    code, out, err = run(tmp_path, source, "--allow-env=TVM_CAPS_A")
    assert (code, out) == (1, "1\n")
    assert first_error(err) == denied("env", '"TVM_CAPS_B"')


def test_scoped_read_and_write(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("A", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("S", encoding="utf-8")
    source = """import fs
print(fs.read_text("data/a.txt"), fs.read_text("./data/../data/a.txt"), fs.list_dir("data"))
fs.write_text("data/b.txt", "B")
print(fs.list_dir("data"))
try { fs.read_text("data/../secret.txt") } catch e { print(e.message) }
fs.write_text("elsewhere.txt", "E")
"""
    code, out, err = run(tmp_path, source, "--allow-read=data", "--allow-write=data/b.txt")
    assert code == 1
    assert out == (
        'A A ["a.txt"]\n'
        '["a.txt", "b.txt"]\n'
        'read access to "data/../secret.txt" denied (run with --allow-read)\n'
    )
    assert first_error(err) == denied("write", '"elsewhere.txt"')
    assert not (tmp_path / "elsewhere.txt").exists()


def test_scoped_net(tmp_path):
    source = """import net
let l = net.listen("127.0.0.1", 0)
print(typeof(l))
net.listen("localhost", 0)
"""
    code, out, err = run(tmp_path, source, "--allow-net=127.0.0.1")
    assert (code, out) == (1, "listener\n")
    assert first_error(err) == denied("net", "localhost:0")


def test_scoped_net_port(tmp_path):
    source = 'import net\nprint(typeof(net.listen("127.0.0.1", 0)))\nnet.listen("127.0.0.1", 1)'
    code, out, err = run(tmp_path, source, "--allow-net=127.0.0.1:0")
    assert (code, out) == (1, "listener\n")
    assert first_error(err) == denied("net", "127.0.0.1:1")


@pytest.mark.parametrize("flag", ["--allow-foo", "--allow-read=", "--allow-all=x"])
def test_bad_flags_are_usage_errors(tmp_path, flag):
    code, out, err = run(tmp_path, "print(1)", flag)
    assert code == 64
    assert err.startswith("tvm: ")


def test_tvm_with_a_flag_first_is_tvm_run(tmp_path):
    (tmp_path / "prog.tl").write_text('import os\nprint(os.env("TVM_CAPS_UNSET_VAR"))', encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main(["-A", "prog.tl"], stdout=out, stderr=err) == 0
        assert main(["--allow-env=TVM_CAPS_UNSET_VAR", "prog.tl"], stdout=out, stderr=err) == 0
    finally:
        os.chdir(cwd)
    assert (out.getvalue(), err.getvalue()) == ("nil\nnil\n", "")


def test_flags_after_the_file_are_program_arguments(tmp_path):
    code, out, err = run(tmp_path, "import os\nprint(os.args)", args=("--allow-net", "-A"))
    assert (code, out, err) == (0, '["--allow-net", "-A"]\n', "")


def test_help_lists_the_flags():
    out = io.StringIO()
    assert main(["--help"], stdout=out) == 0
    for flag in ("--allow-read", "--allow-write", "--allow-net", "--allow-env", "-A, --allow-all"):
        assert flag in out.getvalue()


# --------------------------------------------------------------------------- the embedding API


def vm_run(source: str, allow=None) -> str:
    out = io.StringIO()
    VM(stdout=out, allow=allow).run_source(source)
    return out.getvalue()


ENV_PROG = 'import os\nprint(os.env("TVM_CAPS_API") != nil)'


@pytest.mark.parametrize("allow", [True, "all", "env", ["env"], {"env": True}, {"env": ["TVM_CAPS_API"]}, Capabilities({"env": True})])
def test_api_grants(allow, monkeypatch):
    monkeypatch.setenv("TVM_CAPS_API", "x")
    assert vm_run(ENV_PROG, allow) == "true\n"


@pytest.mark.parametrize("allow", [None, False, [], "read", {"env": ["OTHER"]}])
def test_api_denies(allow):
    with pytest.raises(GuestException) as info:
        vm_run(ENV_PROG, allow)
    assert info.value.class_name == "PermissionError"
    assert info.value.message == 'env access to "TVM_CAPS_API" denied (run with --allow-env)'


def test_api_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="unknown capability 'disk'"):
        VM(allow=["disk"])


def test_one_check_point():
    caps = Capabilities({"read": ["/srv/data"], "net": ["example.org:443"]})
    assert caps.granted("read", "/srv/data/x/y.txt")
    assert not caps.granted("read", "/srv/database")  # a prefix of the name is not a parent
    assert not caps.granted("write", "/srv/data/x")
    assert caps.granted("net", "example.org:443") and not caps.granted("net", "example.org:80")
    assert "--allow-net=example.org:443" in repr(caps)


# --------------------------------------------------------------------------- fs and os themselves


def test_fs_functions(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "bad.txt").write_bytes(b"ok\xff")
    source = """import fs
fs.write_text("b.txt", "two\\nlines")
fs.write_text("a.txt", "")
print(fs.list_dir("."))
print(fs.exists("a.txt"), fs.exists("nope.txt"), fs.exists("sub"))
print(len(fs.read_text("a.txt")), fs.read_text("b.txt").split("\\n"))
for p in ["nope.txt", "sub", "bad.txt"] {
  try { fs.read_text(p) } catch e { print(typeof(e), e.message) }
}
try { fs.list_dir("nope") } catch e { print(typeof(e), e.message) }
try { fs.write_text("sub/x/y.txt", "") } catch e { print(typeof(e), e.message) }
fn dynamic(x) { return x }
try { fs.write_text("c.txt", dynamic(1)) } catch e { print(typeof(e), e.message) }
"""
    code, out, err = run(tmp_path, source, "-A")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        '["a.txt", "b.txt", "bad.txt", "prog.tl", "sub"]',
        "true false true",
        '0 ["two", "lines"]',
        "IOError nope.txt: No such file or directory",
        "IOError sub: Is a directory",
        "IOError bad.txt: not valid UTF-8 (byte 2)",
        "IOError nope: No such file or directory",
        "IOError sub/x/y.txt: No such file or directory",
        "TypeError fs.write_text expects a string, got int",
    ]


def test_os_exit_checks_its_status(tmp_path):
    code, out, err = run(tmp_path, 'import os\ntry { os.exit(256) } catch e { print(e.message) }\nos.exit(0)\nprint("not reached")')
    assert (code, out, err) == (0, "os.exit: status 256 out of range 0..255\n", "")


def test_exit_from_a_fiber_flushes_output(tmp_path):
    source = 'import os\nfn f() { print("bye"); os.exit(7) }\nspawn f()\nsleep(1000)\nprint("not reached")'
    assert run(tmp_path, source) == (7, "bye\n", "")


def test_static_types(tmp_path):
    prog = tmp_path / "typed.tl"
    prog.write_text(
        'import fs\nimport os\nimport net\n'
        'let a: int = fs.read_text("x")\n'
        'let b: string = os.env("X")\n'
        'let c = net.connect("h", "80")\n'
        'let d: [string] = os.args\n'
        'let e: bool = fs.exists("x")\n',
        encoding="utf-8",
    )
    err = io.StringIO()
    assert main(["check", str(prog)], stderr=err) == 2
    messages = [line.split(": error: ", 1)[1] for line in err.getvalue().splitlines() if ": error: " in line]
    assert messages == [
        "variable 'a': expected int, got string",
        "variable 'b': expected string, got string?",
        "argument 2 of net.connect: expected int, got string",
    ]
