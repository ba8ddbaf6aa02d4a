"""The native tier's disk cache (jit/native/cache.py, docs/native.md "Cache").

A second VM or process with the same program loads machine code instead of
compiling ("cache hit" in the log); a bad file is a miss and is replaced; the
key follows the IR; `TVM_NATIVE_CACHE=off` turns it off; writers in several
processes at once leave whole entries; the folder keeps under its cap.
Every run is also checked against the interpreter's output.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("llvmlite")

from native_helpers import cli

from tinyvm.api import VM
from tinyvm.jit.native.cache import MAGIC, NativeCache, cache_dir, make_key

FIB = """
fn fib(n: int) -> int {
  if n < 2 { return n }
  return fib(n - 1) + fib(n - 2)
}
fn half(x: float) -> float { return x / 2.0 + 0.25 }
print(fib(20), half(3.0))
"""
WANT = "6765 1.75\n"
TVM = "import sys; from tinyvm.cli.main import tvm_main; sys.argv[0] = 'tvm'; tvm_main()"


def run(src: str = FIB) -> tuple[str, list[str], VM]:
    out, log = io.StringIO(), []
    vm = VM(stdout=out, jit="native-eager", jit_log=log.append)
    vm.run_source(src, "t.tl")
    vm.close()
    return out.getvalue(), log, vm


def states(log: list[str]) -> dict[str, str]:
    """name -> the cache state its `jit: native NAME in` line reports."""
    out = {}
    for line in log:
        if line.startswith("jit: native ") and " in " in line and "; cache " in line:
            out[line.split()[2]] = line.split("; cache ")[1].split(";")[0]
    return out


@pytest.fixture
def cdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "native"
    monkeypatch.setenv("TVM_NATIVE_CACHE", str(d))
    return d


def test_a_second_vm_loads_the_machine_code(cdir: Path) -> None:
    out, log, _ = run()
    assert out == WANT and states(log) == {"fib": "miss", "half": "miss"}, log
    assert len(list(cdir.glob("*.o"))) == 2
    out, log, vm = run()
    assert out == WANT and states(log) == {"fib": "hit", "half": "hit"}, log
    nt = vm.machine.jit.native
    assert nt.stats["cache_hits"] == 2 and nt.stats["native_calls"] >= 2
    # a hit's phases: no parse, passes or code generation
    line = next(x for x in log if x.startswith("jit: native fib in "))
    assert "+ load " in line and "+ codegen " not in line and "+ opt " not in line


def test_a_second_process_starts_hot(cdir: Path) -> None:
    env = dict(os.environ, TVM_NATIVE_CACHE=str(cdir))
    runs = [subprocess.run([sys.executable, "-c", TVM, "run", "--jit=native-eager", "--jit-log", "-e", FIB], capture_output=True, text=True, env=env, timeout=120, check=False) for _ in range(2)]
    for p in runs:
        assert p.returncode == 0 and p.stdout == WANT, p.stderr
    assert "fib in" in runs[0].stderr and "cache miss" in runs[0].stderr and "cache hit" not in runs[0].stderr
    assert "cache hit" in runs[1].stderr and "cache miss" not in runs[1].stderr


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "foreign key", "flipped byte"])
def test_a_bad_file_is_a_miss_and_is_replaced(cdir: Path, damage: str) -> None:
    run()
    files = sorted(cdir.glob("*.o"))
    good = {p: p.read_bytes() for p in files}
    for p, data in good.items():
        if damage == "garbage":
            p.write_bytes(b"\x7fELF not an object at all" * 10)
        elif damage == "truncated":
            p.write_bytes(data[: len(data) // 2])
        elif damage == "empty":
            p.write_bytes(b"")
        elif damage == "foreign key":  # a whole entry of another key under this name
            other = next(q for q in good if q != p)
            p.write_bytes(good[other])
        else:
            b = bytearray(data)
            b[-10] ^= 0xFF
            p.write_bytes(bytes(b))
    out, log, vm = run()
    assert out == WANT and states(log) == {"fib": "miss", "half": "miss"}, log
    assert vm.machine.jit.native.cache.stats["bad"] == 2
    for p, data in good.items():
        assert p.read_bytes() == data  # replaced by a good entry
    out, log, _ = run()
    assert out == WANT and states(log) == {"fib": "hit", "half": "hit"}, log


def test_the_key_follows_the_ir(cdir: Path) -> None:
    run()
    before = {p.name for p in cdir.glob("*.o")}
    out, log, _ = run(FIB.replace("x / 2.0 + 0.25", "x / 2.0 + 0.5"))
    assert out == "6765 2.0\n" and states(log) == {"fib": "hit", "half": "miss"}, log
    after = {p.name for p in cdir.glob("*.o")}
    assert len(after) == 3 and before < after
    assert make_key("a", "id") != make_key("b", "id") != make_key("b", "other id")
    assert make_key("a", "id") == make_key("a", "id")


def test_the_key_names_the_machine_and_versions() -> None:
    from tinyvm.jit.native.engine import Codegen

    ident = Codegen().identity
    import llvmlite

    for part in ("tinyvm ", f"llvmlite {llvmlite.__version__}", "llvm ", "passes ", "codegen O"):
        assert part in ident, ident
    import llvmlite.binding as llvm

    assert llvm.get_process_triple() in ident and llvm.get_host_cpu_name() in ident


def test_off_switch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TVM_NATIVE_CACHE", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    out, log, vm = run()
    assert out == WANT and states(log) == {"fib": "off", "half": "off"}, log
    assert vm.machine.jit.native.cache is None and not any(tmp_path.rglob("*.o"))
    assert cache_dir({"TVM_NATIVE_CACHE": "off"}) is None


def test_where_it_lives() -> None:
    assert cache_dir({"TVM_NATIVE_CACHE": "/x/y"}) == Path("/x/y")
    assert cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/tinyvm/native")
    assert cache_dir({}) == Path.home() / ".cache" / "tinyvm" / "native"


def test_an_unwritable_cache_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TVM_NATIVE_CACHE", str(blocker / "native"))
    out, log, _ = run()
    assert out == WANT and states(log) == {"fib": "miss", "half": "miss"}, log


def test_concurrent_writers_leave_whole_entries(tmp_path: Path) -> None:
    c = NativeCache(tmp_path)
    blobs = {f"{k:064x}": os.urandom(20000 + k) for k in range(4)}
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        try:
            for r in range(30):
                for key, blob in blobs.items():
                    c.put(key, blob)
                    got = c.get(key)
                    assert got is None or got == blob
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=writer, args=(s,)) for s in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    assert {k: c.get(k) for k in blobs} == blobs
    assert not list(tmp_path.glob(".tmp-*"))  # no temporary file left


def test_processes_sharing_the_cache_agree(cdir: Path) -> None:
    env = dict(os.environ, TVM_NATIVE_CACHE=str(cdir))
    ps = [subprocess.Popen([sys.executable, "-c", TVM, "run", "--jit=native-eager", "-e", FIB], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(4)]
    for p in ps:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and out == WANT, err
    c = NativeCache(cdir)
    for p in cdir.glob("*.o"):
        assert p.read_bytes().startswith(MAGIC) and c.get(p.stem) is not None
    assert not list(cdir.glob(".tmp-*"))


def test_the_size_cap_evicts_the_oldest(tmp_path: Path) -> None:
    c = NativeCache(tmp_path, cap=2500)
    for k in range(5):
        key = f"{k:064x}"
        c.put(key, bytes(1000))
        os.utime(c.path(key), (1000 + k, 1000 + k))  # (mtime order = write order)
    left = sorted(p.stem for p in tmp_path.glob("*.o"))
    assert left == [f"{3:064x}", f"{4:064x}"] and c.stats["evicted"] == 3


def test_the_cli_reports_hits(cdir: Path) -> None:
    code, out, err = cli(["run", "--jit=native-eager", "--jit-log", "-e", FIB])
    assert code == 0 and out == WANT and "cache miss" in err
    code, out, err = cli(["run", "--jit=native-eager", "--jit-log", "-e", FIB])
    assert code == 0 and out == WANT and "cache hit" in err and "cache miss" not in err
