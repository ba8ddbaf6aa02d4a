"""perf's JIT map (jit/native/perfmap.py): TVM_PERF_MAP=1 writes
/tmp/perf-PID.map lines for every loaded native function, named after the
guest function; off by default; a write error never fails the run."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("llvmlite")

from tinyvm.jit.native import perfmap

ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
)

PROG = """
class Box {
  var n: int
  fn init(n: int) {
    self.n = n
  }
  fn total(k: int) -> int {
    var s = 0
    for i in 0..k {
      s = s + self.n + i
    }
    return s
  }
}
fn fib(n: int) -> int {
  if n < 2 {
    return n
  }
  return fib(n - 1) + fib(n - 2)
}
fn loop(n: int) -> int {
  var s = 0
  var i = 0
  while i < n {
    s = s + i % 7
    i = i + 1
  }
  return s
}
print(fib(15))
print(Box(3).total(10))
print(loop(3000))
"""

# Runs PROG on native-eager in a fresh process (the map is per pid) and
# prints, as JSON, the map's lines and the entry address of each module.
DRIVER = textwrap.dedent(
    """
    import ctypes, io, json, os, sys
    from tinyvm.api import VM
    out = io.StringIO()
    vm = VM(stdout=out, jit="native-eager")
    vm.run_source(sys.argv[1], "t.tl")
    nt = vm.machine.jit.native
    entries = {c.code.name: ctypes.cast(c.cfunc, ctypes.c_void_p).value for c in nt.compiled.values()}
    path = f"/tmp/perf-{os.getpid()}.map"
    text = open(path).read() if os.path.exists(path) else None
    if text is not None:
        os.remove(path)
    print(json.dumps({"out": out.getvalue(), "map": text, "entries": entries, "lines": nt.perf.lines if nt.perf else -1}))
    """
)


def run(env_value: str | None) -> dict:
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"), TVM_NATIVE_CACHE="off")
    env.pop(perfmap.ENV, None)
    if env_value is not None:
        env[perfmap.ENV] = env_value
    r = subprocess.run(
        [sys.executable, "-c", DRIVER, PROG],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def parse(text: str) -> list[tuple[int, int, str]]:
    rows = []
    for line in text.splitlines():
        start, size, name = line.split(" ", 2)
        rows.append((int(start, 16), int(size, 16), name))
    return rows


def test_map_names_every_compiled_function_with_disjoint_ranges() -> None:
    got = run("1")
    assert got["out"] == "610\n75\n8994\n"
    rows = parse(got["map"])
    assert got["lines"] == len(rows) > 0
    names = {n for _, _, n in rows}
    for fn in ("fib", "Box.total", "loop"):
        assert fn in got["entries"], got["entries"]
        assert f"tvm:{fn}:entry" in names, names
        assert f"tvm:{fn}" in names or any(n.startswith(f"tvm:{fn}:") for n in names)
    # Each module's @entry address (what ctypes calls) is inside its entry line.
    for fn, addr in got["entries"].items():
        (start, size) = next((s, z) for s, z, n in rows if n == f"tvm:{fn}:entry")
        assert start <= addr < start + size, (fn, hex(addr), hex(start), size)
    # Plausible sizes, and no two functions overlap.
    spans = sorted((s, s + z, n) for s, z, n in rows)
    for s, e, n in spans:
        assert 0 < e - s < 1 << 20, n
    for (s0, e0, n0), (s1, _e1, n1) in itertools.pairwise(spans):
        assert e0 <= s1, (n0, n1)
    # The loop in `loop` is entered on the stack (OSR) only under --jit=native;
    # native-eager compiles the entry, so no line names a missing entry.
    assert all(n.startswith("tvm:") for n in names)


def test_off_by_default_and_with_zero() -> None:
    for value in (None, "0"):
        got = run(value)
        assert got["map"] is None and got["lines"] == -1
        assert got["out"] == "610\n75\n8994\n"


def test_write_error_is_logged_once_and_the_run_goes_on(tmp_path) -> None:
    log: list[str] = []
    pm = perfmap.PerfMap(
        log.append, path=str(tmp_path / "no" / "such" / "dir" / "perf.map")
    )

    class Engine:
        def get_function_address(self, name: str) -> int:
            return 0x1000

    obj = _object_with_entry()
    pm.add(Engine(), obj, ["f"])
    pm.add(Engine(), obj, ["f"])
    assert pm.failed and len(log) == 1 and log[0].startswith("jit: perf map off: ")


def test_labels() -> None:
    names = ["Queens.place_queen", "Queens.set_row_column"]
    assert perfmap.label("f0", names) == "tvm:Queens.place_queen"
    assert perfmap.label("f1", names) == "tvm:Queens.set_row_column"
    assert perfmap.label("entry", names) == "tvm:Queens.place_queen:entry"
    assert perfmap.label("osr12", names) == "tvm:Queens.place_queen:osr@12"
    assert perfmap.label("f0_osr12", names) == "tvm:Queens.place_queen:osr@12.body"
    assert perfmap.label("tvm.check", names) == "tvm:helper:tvm.check"


def _object_with_entry() -> bytes:
    from tinyvm.jit.native.codegen import Codegen

    cg = Codegen()
    text = "define internal i64 @f0(i64 %x) {\n  %y = add i64 %x, 1\n  ret i64 %y\n}\ndefine i32 @entry(i64* %ctx, i64* %a, i64* %o) {\n  ret i32 0\n}\n"
    obj, _ = cg.object_code(text, {})
    return obj


def test_lines_from_an_object_file() -> None:
    obj = _object_with_entry()
    funcs = {f[0]: f for f in perfmap.elf_functions(obj)}
    assert "entry" in funcs
    lines = perfmap.lines_for(
        obj, ["g"], lambda sym: 0x10000 + funcs[sym][2] if sym == "entry" else 0
    )
    rows = parse("".join(lines))
    assert ("tvm:g:entry" in {n for _, _, n in rows}) and all(
        s >= 0x10000 for s, _, _ in rows
    )
    assert perfmap.lines_for(b"not an object", ["g"], lambda sym: 1) == []
