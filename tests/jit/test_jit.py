"""The JIT tier (jit/): entries, exits, deoptimisation, errors, limits, scheduling, the log.

Each test runs a program with the JIT and checks what the interpreter would
give (output, errors, exit status) plus the JIT's own evidence (its log
lines, its counters): a test that passes with the JIT doing nothing would not
prove anything, so most also assert that the function was compiled.
"""

from __future__ import annotations

import io

import pytest

from tinyvm.api import VM
from tinyvm.bytecode.code import Code
from tinyvm.cli.main import main
from tinyvm.ir.nodes import FrameState, Instr
from tinyvm.ir.passes import REGISTRY, register
from tinyvm.jit import Jit, parse_threshold
from tinyvm.jit.tier import DEOPT_LIMIT, profitable_loops
from tinyvm.lang.driver import compile_program


def run(src: str, jit: str = "eager", **kw) -> tuple[str, list[str], VM]:
    out = io.StringIO()
    log: list[str] = []
    vm = VM(stdout=out, jit=jit, jit_log=log.append, **kw)
    vm.run_source(src, "t.tl")
    return out.getvalue(), log, vm


def cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(""), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def code_named(src: str, name: str):
    todo = [m.init for m in compile_program("t.tl", source=src).modules.values()]
    while todo:
        c = todo.pop()
        if c.name == name:
            return c
        todo += [k for k in c.consts if isinstance(k, Code)]
    raise LookupError(name)


def compiled(log: list[str], name: str) -> bool:
    return any(line.startswith(f"jit: compiled {name} ") for line in log)


LOOP = """
fn work(n: int) -> int {
  var s = 0
  var i = 0
  while i < n {
    var j = 0
    while j < 10 { s = s + i * j % 7 - j / 3; j = j + 1 }
    i = i + 1
  }
  return s
}
print(work(300))
"""


def test_compiled_code_computes_what_the_interpreter_does() -> None:
    want, _, _ = run(LOOP, jit="off")
    got, log, vm = run(LOOP)
    assert got == want
    assert compiled(log, "work")
    assert vm.machine.jit.stats["compiled"] >= 2  # <module> and work


def test_calls_between_compiled_functions_return_to_compiled_entries() -> None:
    src = "fn fib(n: int) -> int {\n  if n < 2 { return n }\n  return fib(n - 1) + fib(n - 2)\n}\nprint(fib(18))\n"
    got, log, vm = run(src)
    assert got == "2584\n"
    assert compiled(log, "fib")
    st = next(s for c, s in vm.machine.jit.codes.items() if c.name == "fib")
    # Entries after both calls: their returns land in compiled code.
    kinds = [e.kind for e in st.generated.entries]
    assert kinds.count("return") == 2


def test_osr_enters_a_long_loop_in_the_middle() -> None:
    # A module's code runs once: only the loop header's back-edge counter can
    # get it compiled, and the loop then continues in compiled code.
    src = "var s = 0\nvar i = 0\nwhile i < 5000 { s = s + i; i = i + 1 }\nprint(s, i)\n"
    got, log, vm = run(src, jit="on", jit_threshold=(1000, 50))
    assert got == "12497500 5000\n"
    assert compiled(log, "<module>")
    st = next(s for c, s in vm.machine.jit.codes.items() if c.name == "<module>")
    assert st.loops and max(st.loops.values()) == 50  # compiled at the 50th back-edge, then no more counting


def test_threshold_on_calls() -> None:
    src = "fn f(x) {\n  var k = 0\n  while k < x { k = k + 1 }\n  return k\n}\nvar i = 0\nwhile i < 5 { f(i); i = i + 1 }\n"
    _, log, _ = run(src, jit="on", jit_threshold=(5, 100000))
    assert compiled(log, "f")
    _, log, _ = run(src, jit="on", jit_threshold=(6, 100000))
    assert not compiled(log, "f")


def test_on_leaves_loop_free_functions_to_the_interpreter() -> None:
    src = "fn f(x) { return x + 1 }\nvar i = 0\nvar s = 0\nwhile i < 50 { f(i); s = s + i * 3 - (s % 7) * 2 + (i & 5) - (s >> 1); i = i + 1 }\nprint(i)\n"
    got, log, vm = run(src, jit="on", jit_threshold=(1, 1))
    assert got == "50\n"
    assert compiled(log, "<module>") and not any(" f " in line for line in log)
    assert [c.name for c in vm.machine.jit.codes if not c.name.startswith("<")] == []


def test_on_leaves_loops_that_mostly_call_to_the_interpreter() -> None:
    # Each call leaves compiled code and its return enters it again: a loop
    # that is little more than a call runs slower compiled (docs/jit.md).
    src = "fn f(x) { return x + 1 }\nfn g() {\n  var i = 0\n  while i < 50 { f(i); i = i + 1 }\n  return i\n}\nprint(g())\n"
    assert profitable_loops(code_named(src, "g")) == []
    got, log, _ = run(src, jit="on", jit_threshold=(1, 1))
    assert got == "50\n" and not compiled(log, "g")
    got, log, _ = run(src, jit="eager")
    assert got == "50\n" and compiled(log, "g")


def test_parse_threshold() -> None:
    assert parse_threshold("10") == (10, 1000)
    assert parse_threshold("10,20") == (10, 20)
    for bad in ("", "0", "a", "1,2,3", "-1"):
        with pytest.raises(ValueError):
            parse_threshold(bad)


ERRORS = """
fn get(a, i) { return a[i] }
fn add(x: int, y: int) -> int { return x + y }
fn loop(a) {
  var i = 0
  while i < 10 { print(get(a, i)); i = i + 1 }
}
try { add(9223372036854775807, 1) } catch e { print(typeof(e), e.message) }
fn local_state(n) {
  var k = n * 2
  try { return [1, 2][k] } catch e { return k }
}
print(local_state(5))
loop([1, 2, 3])
"""


@pytest.mark.parametrize("mode", ["eager", "on"])
def test_an_error_in_compiled_code_gives_the_interpreters_trace(tmp_path, monkeypatch, mode: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "e.tl").write_text(ERRORS)
    want = cli(["run", "e.tl"])
    got = cli(["run", f"--jit={mode}", "--jit-threshold=1,1", "e.tl"])
    assert got == want
    assert want[0] == 1 and "IndexError" in want[2] and "at get (e.tl:2:" in want[2] and "at loop (e.tl:6:" in want[2]
    _, _, err = cli(["run", "--jit=eager", "--jit-log", "e.tl"])
    assert "jit: compiled get " in err and "jit: compiled loop " in err


def test_recursion_depth_limit_holds_under_the_jit(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.tl").write_text("fn down(n) {\n  return down(n + 1) + 1\n}\nprint(down(0))\n")
    want = cli(["run", "--max-depth=200", "r.tl"])
    got = cli(["run", "--max-depth=200", "--jit=eager", "r.tl"])
    assert got == want and "StackOverflowError" in want[2]


def test_a_deadline_stops_a_compiled_loop(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.tl").write_text("var i = 0\nwhile true { i = i + 1 }\n")
    code, _, err = cli(["run", "--jit=eager", "--jit-log", "--timeout=200ms", "w.tl"])
    assert code == 4 and "timeout" in err
    assert "jit: compiled <module>" in err


def test_two_busy_fibers_both_progress() -> None:
    src = """
var a = 0
var b = 0
fn spin_a() { while b < 5000 and a < 3000000 { a = a + 1 } }
fn spin_b() { while b < 5000 { b = b + 1 } }
let x = spawn spin_a()
let y = spawn spin_b()
await x
await y
print(a < 3000000, b)
"""
    got, log, _ = run(src)
    assert got == "true 5000\n"  # spin_a stopped: spin_b ran while it was busy
    assert compiled(log, "spin_a") and compiled(log, "spin_b")


def test_gc_stress_under_compiled_code() -> None:
    src = """
fn build(n) {
  var out = []
  var i = 0
  while i < n { out.push([i, str(i)]); i = i + 1 }
  return out
}
var t = 0
for p in build(300) { t = t + p[0] + len(p[1]) }
print(t)
"""
    want, _, _ = run(src, jit="off", gc_stress=True)
    got, log, _ = run(src, gc_stress=True)
    assert got == want and compiled(log, "build")


def test_fuel_is_the_interpreters_under_the_jit(tmp_path, monkeypatch) -> None:
    # (tests/jit/test_fuel.py checks compiled code's count in depth.)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.tl").write_text(LOOP)
    for n in (1, 57, 1000, 5000):
        assert cli(["run", f"--fuel={n}", "--jit=eager", "f.tl"]) == cli(["run", f"--fuel={n}", "f.tl"])
    out = io.StringIO()
    for jit in ("off", "eager"):
        vm = VM(stdout=out, jit=jit, meter_fuel=True)
        vm.run_source(LOOP, "t.tl")
        if jit == "off":
            want = vm.fuel_used
    assert vm.fuel_used == want


def test_generators_stay_interpreted_and_say_why() -> None:
    src = "fn gen() { yield 1; yield 2 }\nfor x in gen() { print(x) }\n"
    got, log, _ = run(src)
    assert got == "1\n2\n"
    assert any(line.startswith("jit: not compiled gen: Unsupported(YIELD)") for line in log), log


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_stress_mode_deoptimises_everywhere_and_computes_the_same(seed: int) -> None:
    src = LOOP + 'fn f(a) {\n  var out = ""\n  for x in a { out = out + str(x * 2) + "," }\n  return out\n}\nprint(f([1, 2, 3]), f([4.5]))\n'
    want, _, _ = run(src, jit="off")
    got, log, vm = run(src, jit_stress=seed)
    assert got == want and compiled(log, "work")
    assert vm.machine.jit.stats["stress_exits"] > 20


# --------------------------------------------------------------------------- guards and deopt

GUARD_PASS = "test-guard-param"


def _guard_param(fn, ctx) -> bool:
    """A speculation for the tests: parameter 1 is an int, checked at pc 0."""
    if fn.code is None or fn.code.arity < 1 or ("param", 1) in ctx.options.get("typespec.banned", ()):
        return False
    start = fn.entry.terminator.targets[0]
    st = fn.entries[0]
    g = Instr(
        fn.new_id(),
        "guard",
        [fn.params[1]],
        ("int",),
        fn.params[1].type,
        pc=0,
        block=start,
    )
    g.state = FrameState(0, list(st.locals), list(st.stack), st.code)
    start.instrs.insert(0, g)
    return True


if GUARD_PASS not in REGISTRY:
    register(
        GUARD_PASS,
        doc="tests only: guard parameter 1 as an int",
        order=999,
        default=False,
    )(_guard_param)


def guarded_vm() -> tuple[VM, list[str], io.StringIO]:
    out = io.StringIO()
    vm = VM(stdout=out)
    log: list[str] = []
    Jit(vm.machine, "eager", passes=[GUARD_PASS], log=log.append)
    return vm, log, out


def test_a_failed_guard_resumes_in_the_interpreter_at_its_pc_with_the_locals() -> None:
    vm, log, out = guarded_vm()
    vm.run_source(
        'fn twice(x) {\n  var y = x + x\n  return y\n}\nprint(twice(2))\nprint(twice("ab"))\nprint(twice(1.5))\n',
        "g.tl",
    )
    assert out.getvalue() == "4\nabab\n3.0\n"
    deopts = [line for line in log if line.startswith("jit: deopt twice")]
    assert deopts == ["jit: deopt twice at g.tl:2 (pc 0): guard int failed"] * 2


def test_a_guard_that_keeps_failing_is_recompiled_without_it() -> None:
    vm, log, out = guarded_vm()
    n = DEOPT_LIMIT + 5
    vm.run_source(
        f'fn id(x) {{ return x }}\nvar i = 0\nwhile i < {n} {{ id("s"); i = i + 1 }}\nprint(id(7))\n',
        "g.tl",
    )
    assert out.getvalue() == "7\n"
    assert sum(line.startswith("jit: deopt id ") for line in log) == DEOPT_LIMIT
    assert "jit: recompiled id without speculating on param 1" in log
    st = next(s for c, s in vm.machine.jit.codes.items() if c.name == "id")
    assert st.banned == {("param", 1)} and st.generated is not None
    assert "_deopt" not in st.generated.source.split("try:")[1]


def test_jit_dump_shows_ir_and_python(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.tl").write_text("fn sq(x: int) -> int { return x * x }\nprint(sq(3))\n")
    code, out, err = cli(["jit-dump", "--passes", "none", "d.tl"])
    assert code == 0 and err == ""
    assert "--- fn sq: built ---" in out and "fn sq(v0: any, v1: int) -> int" in out
    assert "--- fn sq: python ---" in out and "def _body(_e, fb):" in out and "_fail(" in out
    assert cli(["jit-dump", "--passes", "nope", "d.tl"])[0] == 64


def test_cli_rejects_bad_jit_options(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.tl").write_text("print(1)\n")
    assert cli(["run", "--jit=fast", "a.tl"])[0] == 64
    assert cli(["run", "--jit-threshold=0", "a.tl"])[0] == 64
    assert cli(["run", "--jit=on", "--jit-threshold=1,1", "--jit-stress=3", "a.tl"]) == (0, "1\n", "")
    with pytest.raises(ValueError):
        VM(jit="fast")


def test_host_calls_into_compiled_functions() -> None:
    out = io.StringIO()
    log: list[str] = []
    vm = VM(stdout=out, jit="eager", jit_log=log.append)
    vm.run_source("fn tri(n: int) -> int {\n  var s = 0\n  for i in 0..n { s = s + i }\n  return s\n}\n", "h.tl")
    assert [vm.call("tri", n) for n in (0, 1, 10, 1000)] == [0, 0, 45, 499500]
    assert compiled(log, "tri")


def test_lox_code_runs_compiled_with_its_own_rules() -> None:
    src = 'fun f(n) {\n  var s = 0;\n  for (var i = 0; i < n; i = i + 1) { s = s + i / 2; }\n  return s;\n}\nprint f(10);\nprint "a" + "b";\n'
    outs = []
    for jit in ("off", "eager"):
        out = io.StringIO()
        log: list[str] = []
        vm = VM(stdout=out, jit=jit, jit_log=log.append)
        vm.run_source(src, "l.lox")
        outs.append(out.getvalue())
    assert outs[0] == outs[1] == "22.5\nab\n"
    assert compiled(log, "f")


def _broken_pass(fn, ctx) -> bool:
    raise KeyError("a pass bug")


if "test-broken" not in REGISTRY:
    register("test-broken", doc="tests only: a pass that fails", order=998, default=False)(_broken_pass)


def test_a_failing_compile_leaves_the_code_interpreted() -> None:
    out = io.StringIO()
    vm = VM(stdout=out)
    log: list[str] = []
    Jit(vm.machine, "eager", passes=["test-broken"], log=log.append)
    vm.run_source("fn f(x) { return x * 2 }\nprint(f(21))\n", "b.tl")
    assert out.getvalue() == "42\n"
    assert "jit: not compiled f: internal error: KeyError: 'a pass bug'" in log
