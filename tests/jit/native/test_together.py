"""The three native-tier features of issue 16 together (docs/native.md).

Exact-pc deopt, calls out, fuel and OSR entries (ndeopt), arrays through
CPython's list layout with nil results (npacked) and the disk cache and
background compilation (ncache) were built apart. These tests run one
program that needs all of them: array code that stores, calls out (print)
from a loop over an array (so it re-enters at an OSR entry holding the
array's address), a function without result, and a failing store; from
fresh object code, from the disk cache and from the background worker; and
on a VM that counts fuel. Every run is compared with the interpreter.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("llvmlite")

from tinyvm.api import VM

PROG = """
fn fill(a: [int], k: int) {
  var i = 0
  while i < len(a) {
    a[i] = i * k
    if i % 500 == 0 { print("fill", i, a[i]) }
    i += 1
  }
}
fn total(a: [int]) -> int {
  var s = 0
  for i in 0..len(a) { s = s + a[i] }
  return s
}
fn scale(xs: [float], k: float) -> float {
  var s = 0.0
  for i in 0..len(xs) {
    xs[i] = xs[i] * k
    s = s + xs[i]
  }
  return s
}
fn poke(a: [int], i: int) -> int {
  a[0] = 7
  a[i] = 1
  return a[0]
}
var a = []
for i in 0..2000 { a.push(0) }
var fs = [1.5, 2.5, -0.0]
for r in 0..3 {
  fill(a, r + 1)
  print(total(a), scale(fs, 2.0), fs)
}
print(poke(a, 3))
print(poke(a, 5000))
"""


def run(jit: str, *, meter: bool = False, cache: Path | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[str, int, list[str], VM]:
    if monkeypatch is not None:
        monkeypatch.setenv("TVM_NATIVE_CACHE", str(cache) if cache is not None else "off")
    out, log = io.StringIO(), []
    kw = {"jit": jit, "jit_log": log.append} if jit != "off" else {}
    vm = VM(stdout=out, meter_fuel=meter, **kw)
    try:
        vm.run_source(PROG, "t.tl")
    except Exception as e:  # noqa: BLE001 - the error is part of what is compared
        out.write(f"error: {e}\n")
    vm.close()
    return out.getvalue(), vm.fuel_used if meter else 0, log, vm


def natives(log: list[str]) -> set[str]:
    return {x.split()[2] for x in log if x.startswith("jit: native ") and " in " in x}


@pytest.fixture(scope="module")
def want() -> str:
    out = run("off")[0]
    assert "IndexError" in out and out.count("fill") == 12
    return out


def test_fresh_then_cached_object_code(want: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "native"
    for state in ("miss", "hit"):
        out, _, log, vm = run("native-eager", cache=d, monkeypatch=monkeypatch)
        assert out == want, log
        assert {"fill", "total", "scale", "poke"} <= natives(log), log
        assert all(f"; cache {state};" in x for x in log if x.startswith("jit: native ") and " in " in x), log
        stats = vm.machine.jit.native.stats
        # fill calls out (print) and comes back at its loop header's OSR
        # entry, which takes the array's address: from cached code too.
        assert stats["osr_calls"] >= 3 and stats["deopts"] >= 1, (stats, log)


TVM = "import sys; from tinyvm.cli.main import tvm_main; sys.argv[0] = 'tvm'; tvm_main()"


def test_a_second_process_loads_array_code_from_the_cache(want: str, tmp_path: Path) -> None:
    # (a fresh process: nothing has bound the C API symbols array code
    # names before the cached object file is loaded)
    env = dict(os.environ, TVM_NATIVE_CACHE=str(tmp_path / "native"))
    runs = [
        subprocess.run([sys.executable, "-c", TVM, "run", "--jit=native-eager", "--jit-log", "-e", PROG], capture_output=True, text=True, env=env, timeout=120, check=False)
        for _ in range(2)
    ]
    for p in runs:
        assert p.returncode == 1 and p.stdout == want.split("error: ")[0], p.stderr
        assert "IndexError" in p.stderr
    assert "jit: native fill in" in runs[0].stderr and "cache hit" not in runs[0].stderr
    assert "jit: native fill in" in runs[1].stderr and "cache miss" not in runs[1].stderr, runs[1].stderr


def test_background_compilation(want: str, monkeypatch: pytest.MonkeyPatch) -> None:
    out, _, log, _ = run("native", monkeypatch=monkeypatch)
    assert out == want, log


def test_fuel_counts_through_arrays_and_calls_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TVM_NATIVE_CACHE", "off")
    out, n, _, _ = run("off", meter=True)
    got, m, log, _ = run("native-eager", meter=True, monkeypatch=monkeypatch)
    assert (got, m) == (out, n), log
    assert "fill" in natives(log), log
