"""Fuel counted by compiled code (jit/fuel.py): a VM that counts fuel runs
compiled code whose count is the interpreter's, exactly.

Every comparison is against the same VM without the JIT (`fuel_used`,
output, error), and the tests that matter also assert that code was compiled:
a JIT that left metered code interpreted would pass the comparisons alone.
"""

from __future__ import annotations

import io
import itertools
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tinyvm.api import VM, GuestException
from tinyvm.cli.main import main
from tinyvm.ir.build import build
from tinyvm.ir.nodes import Instr
from tinyvm.ir.verify import verify
from tinyvm.jit.fuel import block_ends, meter, prefix_counts
from tinyvm.lang.driver import compile_program

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "tiers"))  # (the program generators)
from programs import lox_program, tl_program


def run(source: str, path: str = "t.tl", **kw) -> tuple[int, str, str, dict]:
    out = io.StringIO()
    vm = VM(stdout=out, meter_fuel=True, **kw)
    try:
        vm.run_source(source, path)
        end = ""
    except GuestException as e:
        end = f"{e.class_name}: {e.message}"
    except Exception as e:  # noqa: BLE001 - a compile error (Lox's constant limit, say): the same on both
        end = f"{type(e).__name__}: {e}"
    stats = dict(vm.machine.jit.stats) if vm.machine.jit is not None else {}
    return vm.fuel_used, out.getvalue(), end, stats


def same(source: str, path: str = "t.tl") -> dict:
    """The JIT's fuel, output and error are the interpreter's; its stats."""
    *want, _ = run(source, path)
    *got, stats = run(source, path, jit="eager")
    assert got == want, f"fuel, output or error differ under the JIT\n{source}"
    return stats


LOOPS = """
fn work(n: int) -> int {
  var s = 0
  var i = 0
  while i < n {
    var j = 0
    while j < 10 { s = s + i * j % 7 - j / 3; j = j + 1 }
    if i % 3 == 0 { s = s + 1 } else { s = s - 1 }
    i = i + 1
  }
  return s
}
fn arr(n: int) -> int {
  let a = []
  for i in 0..n { a.push(i * 2) }
  var t = 0
  for x in a { t = t + x }
  return t + len(a)
}
print(work(200))
print(arr(300))
"""


def test_loops_are_compiled_and_count_exactly() -> None:
    stats = same(LOOPS)
    assert stats["compiled"] >= 2


def test_an_error_mid_block_counts_what_the_interpreter_counts() -> None:
    # The error is raised by a stepped instruction in the middle of a block:
    # the instructions after it in that block are not counted.
    src = """
fn f(a: [int], n: int) -> int {
  var s = 0
  var i = 0
  while i < n { s = s + a[i] * 2 + 1; i = i + 1 }
  return s
}
let a = [1, 2, 3]
print(f(a, 3))
print(f(a, 5))
"""
    _, out, end, stats = run(src, jit="eager")
    assert "IndexError" in end and out == "15\n" and stats["compiled"] >= 1
    assert same(src)["compiled"] >= 1


def test_a_caught_error_and_a_deopt_count_exactly() -> None:
    src = """
fn g(x) { return x + 1 }
fn loop(v) {
  var t = 0
  var i = 0
  while i < 50 { t = g(v) ; i = i + 1 }
  return t
}
print(loop(1))
print(loop(1.5))
print(loop("a" + ""))
"""
    # (loop("a") raises in g: the interpreter's error, counted as it counts it)
    stats = same(src)
    assert stats["compiled"] >= 1


def test_calls_between_compiled_frames_count_exactly() -> None:
    src = """
fn fib(n: int) -> int {
  if n < 2 { return n }
  return fib(n - 1) + fib(n - 2)
}
fn sum(n: int) -> int {
  var s = 0
  for i in 0..n { s = s + fib(i % 12) }
  return s
}
print(sum(60))
"""
    assert same(src)["compiled"] >= 2


def test_builtins_that_charge_fuel_see_the_exact_count() -> None:
    # `+` of strings charges by length: it checks the limit against
    # fuel_used, which compiled code must have brought up to date first.
    src = """
fn f(n: int) -> int {
  var s = ""
  for i in 0..n { s = s + "abcdefgh" + str(i) }
  return len(s)
}
print(f(400))
"""
    assert same(src)["compiled"] >= 1


SAMPLES = sorted(p for d in ("tests/lang", "benchmarks/programs") for p in (ROOT / d).rglob("*") if p.suffix in (".tl", ".lox"))


def _scheduling_dependent(source: str, path: str) -> bool:
    # A program whose fiber switches depend on when preemption happens uses
    # fuel that depends on the tier (the fused and the plain interpreter
    # differ already: the budget counts dispatches): not a fuel question.
    return "spawn" in source or "async" in source or "preempt" in path


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_samples_count_the_same_fuel(path: Path) -> None:
    source = path.read_text(encoding="utf-8", errors="replace")
    if _scheduling_dependent(source, str(path)):
        pytest.skip("scheduling-dependent")
    same(source, str(path.relative_to(ROOT)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tl_program())
def test_generated_tinylang_counts_the_same_fuel(source: str) -> None:
    same(source, "gen.tl")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lox_program())
def test_generated_lox_counts_the_same_fuel(source: str) -> None:
    same(source, "gen.lox")


def cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(""), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_a_fuel_stop_is_the_interpreters(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.tl").write_text(LOOPS)
    total = run(LOOPS)[0]
    for n in sorted({1, 2, 3, 10, 57, 100, 999, 1000, 1001, 5000, total // 3, total - 1, total, total + 1}):
        got = cli(["run", f"--fuel={n}", "--jit=eager", "f.tl"])
        assert got == cli(["run", f"--fuel={n}", "f.tl"]), n
        assert (got[0] == 0) == (n >= total), n


def test_per_call_caps_stop_exactly_and_compiled_code_runs_again_after() -> None:
    out = io.StringIO()
    vm = VM(stdout=out, meter_fuel=True, jit="eager")
    vm.run_source(LOOPS, "t.tl")
    ref = VM(stdout=io.StringIO(), meter_fuel=True)
    ref.run_source(LOOPS, "t.tl")
    assert vm.fuel_used == ref.fuel_used
    for cap in (5, 500, 5000):
        for v in (vm, ref):
            with pytest.raises(Exception, match="out of fuel"):
                v.call("work", 1000, fuel=cap)
        assert vm.fuel_used == ref.fuel_used
    assert vm.call("work", 30) == ref.call("work", 30)
    assert vm.fuel_used == ref.fuel_used


def _work_code():
    bundle = compile_program("t.tl", source=LOOPS)
    init = next(iter(bundle.modules.values())).init
    return next(c for c in init.consts if getattr(c, "name", None) == "work")


def test_the_meter_op_marks_every_counted_block() -> None:
    code = _work_code()
    fn = build(code)
    meter(fn, code)
    assert verify(fn) == []
    pre = prefix_counts(code)
    fuels = [i for b in fn.blocks for i in b.instrs if i.op == "fuel"]
    ends = block_ends(code, {b.pc for b in fn.blocks if b.pc is not None})
    ranges = sorted((i.pc, ends[i.pc]) for i in fuels)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ranges))  # each instruction in one block
    assert all(i.attrs[0] == pre[ends[i.pc]] - pre[i.pc] for i in fuels)
    # (every reachable instruction but JUMPs; only the unreachable `return nil` after the return is not)
    assert max(pre.values()) - 2 <= sum(i.attrs[0] for i in fuels) <= max(pre.values())
    assert all(i.block.instrs[0] is i and i.pc == i.block.pc for i in fuels)


def test_verify_refuses_a_bad_fuel_op() -> None:
    fn = build(_work_code())
    b = next(b for b in fn.blocks if b.pc is not None)
    b.instrs.insert(0, Instr(fn.new_id(), "fuel", [], (0,), None, pc=b.pc, block=b))
    assert any("fuel needs one positive count" in e for e in verify(fn))


def test_a_failing_block_under_the_call_trampoline_counts_its_prefix():
    # f stays interpreted (its loop-header state is unknown to the JIT) but its
    # pc-0 op is the JIT's call trampoline around a fused block: when the
    # block's ADD overflows, the instructions before it in the block must be
    # counted as the interpreter counts them (found by hypothesis: the JIT run
    # used 5 units less per caught overflow).
    source = """
class Box {
  var v: int = 0
}
fn f(a: int, b: int) -> int {
  var c = a
  if a < (a + 9223372036854775807) and not (a > 0) {
  }
  return a + b + c
}
for t in 0..12 {
  try { print(f(t * 7 - 3, t)) } catch e { print("caught", typeof(e)) }
}
"""
    stats = same(source)
    assert stats.get("compiled", 0) >= 1, stats
