"""tvm prof --alloc and tools/allocprof.py: every allocation's accounted bytes,
attributed to its full guest stack and line (fibers, generators, built-ins,
the runtime library, Lox), on every tier; the views; the command line. The
speedscope file is checked with speedscope's own importer in
test_speedscope.py."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from prof_programs import tvm

from tinyvm import VM
from tinyvm.heap.objects import Array, Instance, Record
from tinyvm.heap.sites import SiteHeap, StackHeap
from tinyvm.tools import profile_formats as pf
from tinyvm.tools.allocprof import CHARGED, AllocProfiler

# f makes 1000 arrays of 3 at line 4; g 10 records at line 9; main calls f at
# line 11 and g at line 12; the module calls main at line 14.
KNOWN = """fn f() {
  var i = 0
  while i < 1000 {
    let a = [i, 1, 2]
    i = i + 1 }
}
fn g() {
  var k = 0
  while k < 10 { let r = {x: k, y: 2}; k = k + 1 }
}
fn main() { f()
  g()
}
main()
"""
ARRAY3 = Array([0, 1, 2]).size()
RECORD2 = Record({"x": 0, "y": 2}).size()


def profile(source: str, path: str = "prog.tl", **kw):
    vm = VM(stdout=io.StringIO(), alloc_sites="stack", **kw)
    with AllocProfiler(vm, program=path) as prof:
        vm.run_source(source, path)
    return prof.profile


def stacks(p, fiber: int | None = None) -> dict[tuple[str, ...], tuple[int, int]]:
    """{("fn:line", ...outermost first): (bytes, allocations)}"""
    out: dict = {}
    for s in p.samples:
        if fiber is not None and s.fiber != fiber:
            continue
        key = tuple(f"{p.frames[i].name}:{p.frames[i].line}" for i in s.stack)
        b, n = out.get(key, (0, 0))
        out[key] = (b + int(s.weight), n + s.count)
    return out


@pytest.mark.parametrize("tier", ["fused", "plain"])
def test_known_allocations_give_exact_stacks_and_bytes(tier: str):
    p = profile(KNOWN, fuse=tier == "fused")
    got = stacks(p)
    assert got[("<module>:14", "main:11", "f:4")] == (1000 * ARRAY3, 1000)
    assert got[("<module>:14", "main:12", "g:9")] == (10 * RECORD2, 10)
    # nothing else is made inside f, g or main (the rest: the module's functions)
    others = {k for k in got if len(k) > 1}
    assert others == {
        ("<module>:14", "main:11", "f:4"),
        ("<module>:14", "main:12", "g:9"),
    }
    assert p.by_type["array"] == [1000 * ARRAY3, 1000]
    assert p.by_type["record"] == [10 * RECORD2, 10]
    assert (
        p.bytes
        == sum(s.weight for s in p.samples)
        == sum(b for b, _ in p.by_type.values())
    )
    assert p.allocations == sum(s.count for s in p.samples)
    assert p.unit == "bytes" and p.mode == "alloc"


def test_totals_are_what_the_heap_accounted():
    vm = VM(stdout=io.StringIO(), alloc_sites="stack")
    vm.machine.heap.set_threshold(1 << 30)  # no collection: the heap's bytes only grow
    before = vm.machine.heap.bytes
    with AllocProfiler(vm) as prof:
        vm.run_source(
            'var s = ""\nvar xs = []\nfor i in 0..300 { s = s + "ab"; xs.push(s) }\nprint(len(xs))\n',
            "t.tl",
        )
    assert prof.profile.bytes == vm.machine.heap.bytes - before
    assert (
        prof.profile.by_type[CHARGED][0] > 0
    )  # the strings and the array's growth: charges


def test_stacks_deterministic_and_alike_on_every_tier():
    a = pf.folded(profile(KNOWN), lines=True)
    assert a == pf.folded(profile(KNOWN), lines=True)
    assert a == pf.folded(profile(KNOWN, fuse=False), lines=True)
    # stepping (a debugger's line hooks): the plain instructions' own positions
    vm = VM(stdout=io.StringIO(), alloc_sites="stack")
    vm.machine.hooks.add("line", lambda e: None)
    with AllocProfiler(vm, program="prog.tl") as prof:
        vm.run_source(KNOWN, "prog.tl")
    assert pf.folded(prof.profile, lines=True) == a


def test_a_builtins_allocation_counts_at_its_callers_line():
    src = 'fn words(s: string) -> int {\n  let parts = s.split(",")\n  return len(parts)\n}\nprint(words("a,b,c"))\n'
    got = stacks(profile(src))
    inner = {k[-1] for k in got if len(k) > 1}
    assert inner == {
        "words:2"
    }  # the split's array (and strings): words' line 2, no frame of its own
    assert got[("<module>:5", "words:2")][0] >= Array(["a", "b", "c"]).size()


def test_the_runtime_librarys_frames_are_left_out():
    # map is written in the prelude: the callback's arrays count for the
    # callback, called from the line of the map call
    src = "let xs = [1, 2, 3]\nlet ys = xs.map(fn(x) {\n  return [x, x]\n})\nprint(len(ys))\n"
    got = stacks(profile(src))
    pair = Array([1, 1]).size()
    (key,) = [k for k, (b, n) in got.items() if n == 3 and b == 3 * pair]
    assert key[0] == "<module>:2" and key[-1].endswith(":3") and len(key) == 2


def test_fibers_have_their_own_stacks_and_spawning_points():
    src = """fn work(n: int) {
  var i = 0
  while i < n {
    let a = [i, i]
    i = i + 1
  }
}
let t1 = spawn work(5)
let t2 = spawn work(10)
await t1
await t2
"""
    p = profile(src)
    fibers = {fid for fid, name in p.fibers.items() if name == "work"}
    assert len(fibers) == 2
    by_n = {}
    for fid in fibers:
        got = stacks(p, fid)
        assert list(got) == [("work:4",)]  # a fiber's stack starts at its function
        by_n[got[("work:4",)][1]] = fid
    assert sorted(by_n) == [5, 10]
    for n, line in ((5, 8), (10, 9)):
        at = p.spawned[by_n[n]]
        assert [f"{p.frames[i].name}:{p.frames[i].line}" for i in at] == [
            f"<module>:{line}"
        ]
    text = pf.alloc_summary(p)
    assert (
        "spawned at <module> (prog.tl:8)" in text
        and "spawned at <module> (prog.tl:9)" in text
    )


def test_generators_allocate_on_the_resumers_stack():
    src = "fn gen() {\n  for i in 0..3 {\n    yield [i]\n  }\n}\nfn use() {\n  for x in gen() { print(x) }\n}\nuse()\n"
    got = stacks(profile(src))
    key = ("<module>:9", "use:7", "gen:3")
    b, n = got[key]
    # three [i] arrays and the three {done: false, value} records YIELD makes
    assert (
        n == 6
        and b == 3 * Array([0]).size() + 3 * Record({"done": False, "value": 0}).size()
    )
    # the last next(): the {done: true} record, at the resumer's line
    assert got[("<module>:9", "use:7")][1] >= 1
    assert not [k for k in got if k and k[0] != "<module>:9" and len(k) > 1]


def test_lox():
    src = """class Point {
  init(x, y) {
    this.x = x;
    this.y = y;
  }
}
fun make(n) {
  for (var i = 0; i < n; i = i + 1) {
    var p = Point(i, i);
  }
}
make(100);
"""
    p = profile(src, "p.lox")
    got = stacks(p)
    empty = Instance.__new__(Instance)
    empty.fields = {}
    assert got[("script:12", "make:9")] == (
        100 * empty.size(),
        100,
    )  # made empty, then init fills it
    assert "make (p.lox:7)" in pf.alloc_summary(p)


def test_views():
    p = profile(KNOWN)
    doc = pf.speedscope(p)
    (prof,) = doc["profiles"]
    assert (
        prof["unit"] == "bytes" and prof["endValue"] == sum(prof["weights"]) == p.bytes
    )
    folded = pf.folded(p)
    assert (
        f"<module> (prog.tl:1);main (prog.tl:11);f (prog.tl:1) {1000 * ARRAY3}\n"
        in folded
    )
    assert sum(int(line.rsplit(" ", 1)[1]) for line in folded.splitlines()) == p.bytes
    text = pf.render(p, "summary")
    assert text.startswith(
        f"tvm prof --alloc: prog.tl: {p.bytes:,} bytes in {p.allocations:,} allocations"
    )
    assert "f (prog.tl:4)" in text and f"{1000 * ARRAY3:,}" in text
    with pytest.raises(ValueError, match="no time line"):
        pf.render(p, "chrome")
    d = json.loads(json.dumps(p.to_dict()))
    assert d["bytes"] == p.bytes and d["by_type"]["array"] == {
        "bytes": 1000 * ARRAY3,
        "count": 1000,
    }


def test_needs_a_stack_heap():
    with pytest.raises(ValueError, match='alloc_sites="stack"'):
        AllocProfiler(VM())
    vm = VM(alloc_sites="stack")
    assert type(vm.machine.heap) is StackHeap and isinstance(vm.machine.heap, SiteHeap)
    assert type(VM(alloc_sites="function").machine.heap) is SiteHeap
    with AllocProfiler(vm), pytest.raises(ValueError, match="already"):
        AllocProfiler(vm).start()
    assert vm.machine.heap.recorder is None  # stopped: the heap records nothing more


def test_a_refused_allocation_is_not_recorded():
    out = io.StringIO()
    vm = VM(stdout=out, alloc_sites="stack", max_memory=1 << 20)
    src = "var xs = []\ntry {\n  while true { xs.push([1, 2, 3, 4, 5, 6, 7, 8]) }\n} catch e {\n  print(len(xs))\n}\n"
    with AllocProfiler(vm) as prof:
        vm.run_source(src, "oom.tl")
    n = int(out.getvalue())
    # the arrays pushed, and maybe the one whose push was refused; not one more
    assert prof.profile.by_type["array"][1] in (n, n + 1)
    heap = VM(alloc_sites="stack", max_memory=1 << 20).machine.heap
    seen: list = []
    heap.recorder = lambda nbytes, obj: seen.append(nbytes)
    heap.roots = None  # (no emergency mark: the refusal comes at once)
    with pytest.raises(MemoryError):
        heap.charge(heap.limit + 1)
    with pytest.raises(MemoryError):
        heap.alloc(Array([0] * (heap.limit // 8)))
    assert seen == []
    heap.charge(10)
    assert seen == [10]


# --------------------------------------------------------------------------- command line


@pytest.fixture
def prog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)

    def write(text: str, name: str = "prog.tl") -> str:
        (tmp_path / name).write_text(text)
        return name

    return write


def test_cli_summary_on_stderr(prog):
    code, out, err = tvm(["prof", "--alloc", prog(KNOWN)])
    assert code == 0 and out == ""
    assert "tvm prof --alloc: prog.tl:" in err and "by type:" in err
    assert (
        f"{1000 * ARRAY3:,}     1,000  f (prog.tl:4)" in err
    )  # hot lines: bytes, allocations, line
    code, _, err = tvm(["prof", "--alloc", "--top", "1", prog(KNOWN)])
    assert code == 0 and "g (prog.tl:9)" not in err


def test_cli_formats(prog, tmp_path: Path):
    name = prog(KNOWN)
    code, _, err = tvm(["prof", "--alloc", "--format", "speedscope", name])
    assert (
        code == 0
        and "speedscope profile written to prog.speedscope.json" in err
        and "bytes" in err
    )
    doc = json.loads((tmp_path / "prog.speedscope.json").read_text())
    assert doc["profiles"][0]["unit"] == "bytes"
    code, out, _ = tvm(
        ["prof", "--alloc", "--lines", "--format", "folded", "-o", "-", name]
    )
    assert code == 0
    assert (
        f"<module> (prog.tl:14);main (prog.tl:12);g (prog.tl:9) {10 * RECORD2}\n" in out
    )


def test_cli_ignores_the_jit_environment(prog, monkeypatch: pytest.MonkeyPatch):
    # compiled code does not keep its allocations' lines: --alloc runs
    # interpreted unless --jit is on its own command line
    monkeypatch.setenv("TVM_JIT", "eager")
    code, out, _ = tvm(
        ["prof", "--alloc", "--lines", "--format", "folded", "-o", "-", prog(KNOWN)]
    )
    assert code == 0 and f"main (prog.tl:11);f (prog.tl:4) {1000 * ARRAY3}\n" in out
    _, _, err = tvm(["prof", "--alloc", prog(KNOWN)])
    assert "(interpreter)" in err and "approximate" not in err
    # asked for: the stacks and bytes stay exact, and the summary says the lines may not be
    code, _, err = tvm(["prof", "--alloc", "--jit", "eager", prog(KNOWN)])
    assert code == 0 and "(jit eager)" in err and "lines inside compiled code are approximate" in err
    assert f"{1000 * ARRAY3:,}     1,000  f (prog.tl:1)" in err  # f's self bytes and allocations


def test_cli_lox(prog):
    code, out, _ = tvm(
        [
            "prof",
            "--alloc",
            "--format",
            "folded",
            "-o",
            "-",
            prog(
                'fun f() { var xs = "a"; for (var i = 0; i < 400; i = i + 1) { xs = xs + "b"; } }\nf();\n',
                "s.lox",
            ),
        ]
    )
    assert code == 0 and "script (s.lox:1);f (s.lox:1) " in out


def test_cli_errors(prog, tmp_path: Path):
    code, _, err = tvm(["prof", "--alloc", "missing.tl"])
    assert (
        code == tvm(["prof", "missing.tl"])[0]
        and "missing.tl" in err
        and "Traceback" not in err
    )
    code, out, err = tvm(
        ["prof", "--alloc", "--format", "speedscope", prog("print(1 +)\n")]
    )
    assert (
        code == 2
        and out == ""
        and "error" in err
        and "written" not in err
        and "Traceback" not in err
    )
    assert not (tmp_path / "prog.speedscope.json").exists()
    name = prog(KNOWN)
    for extra in (["--wall"], ["--interval", "10"], ["--format", "chrome"]):
        code, _, err = tvm(["prof", "--alloc", *extra, name])
        assert code == 64 and "--alloc" in err, err
    code, _, err = tvm(["prof", "--alloc", "--top", "0", name])
    assert code == 64 and "--top needs a positive integer" in err
    code, _, err = tvm(["prof", "--alloc", prog("let xs = [1]\nprint(xs[5])\n")])
    assert (
        code == 1 and "IndexError" in err and "tvm prof --alloc:" in err
    )  # a failing program is profiled too


# --------------------------------------------------------------------------- the language suites

SUITES = Path(__file__).resolve().parents[2]
DIRS = ["lang/04_statements", "lang/07_errors", "lang/06_classes", "lang/09_concurrency", "lang/10_generators", "lang/11_builtins", "lox/closure", "lox/class", "lox/inheritance"]


def _folded(path: Path, mode: str) -> str:
    vm = VM(stdout=io.StringIO(), stdin=io.StringIO(""), alloc_sites="stack", fuse=mode != "plain")
    if mode == "stepped":
        for event in ("line", "call", "return"):
            vm.machine.hooks.add(event, lambda e: None)
    # (programs that fail on purpose: profiled up to their error)
    with AllocProfiler(vm, program=path.name) as prof, contextlib.suppress(Exception):
        vm.run_file(str(path))
    return pf.folded(prof.profile, lines=True)


@pytest.mark.parametrize("folder", DIRS)
def test_every_tier_gives_the_same_profile(folder: str):
    # pc bookkeeping (fused blocks: fiber.epc), the plain tier's own offsets
    # and a stepping VM's must name the same stacks, lines and bytes
    files = sorted((SUITES / folder).glob("*.tl")) + sorted((SUITES / folder).glob("*.lox"))
    assert files
    for path in files:
        fused = _folded(path, "fused")
        assert fused == _folded(path, "plain"), path
        assert fused == _folded(path, "stepped"), path
