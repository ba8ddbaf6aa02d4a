"""The countdown in a register (jit/native/calls.py): loop-free native
functions take the preemption countdown as an argument and return it with
their result, and tick at the native calls they make instead of at entry.

What must not be lost with it: a deep recursion without loops still polls
(a deadline stops it, another fiber gets its turn), fuel and results stay
identical where the two conventions call each other, and a poll that says
stop at a call rebuilds every native frame at its exact pc. Each test also
checks that the code it relies on really took the register convention (the
LLVM signature in `tvm jit-dump --native`), so it would fail if the
convention were lost rather than pass on the old one.
"""

from __future__ import annotations

import ctypes
import io
import re
import time

import pytest

pytest.importorskip("llvmlite")

from native_helpers import (
    both,
    cli,
    fresh_processes,
    module_texts,
    native,
    outcome,
    same,
    two_fibers,
    used,
)

from tinyvm.api import VM

FIB = """
fn fib(n: int) -> int {
  if n < 2 { return n }
  return fib(n - 1) + fib(n - 2)
}
"""

# Both conventions calling each other: `tri` has loops (ctx[0] in memory)
# and calls `leaf`, loop-free (the register); `both` is loop-free and calls
# `tri` and `fib`.
MIXED = (
    FIB
    + """
fn leaf(i: int, j: int) -> int { return (i * j) % 7 - j / 3 }
fn tri(n: int) -> int {
  var s = 0
  for i in 0..n { for j in 0..i { s += leaf(i, j) } }
  return s
}
fn both(n: int) -> int { return tri(n) + fib(n / 10) }
print(both(120))
print(both(200))
"""
)


def test_loop_free_functions_take_the_countdown_in_a_register() -> None:
    code, out, _ = cli(["jit-dump", "--native", "-e", FIB + "print(fib(10))\n"])
    assert code == 0, out
    out = out.split("--- LLVM IR after optimization")[0]
    assert "define internal {i64, i64} @f0(i64* %ctx, i64 %cd, i64 %v1)" in out  # (no depth: the budget and the stack, calls.py)
    assert "load i64, i64* %ctx\n" not in out.split("define i32 @entry")[0]  # (no countdown in memory inside fib, only in its slow path, tvm.budget)
    assert "@budget(" not in out and out.count("= call i64 %bfn.") == 4  # (the slow path is tvm.budget, once per process, through ctx[BUDGET]: a call per call site of fib and of its inlined copy)
    out = cli(["jit-dump", "--native", "-e", MIXED])[1]
    tri = out.split("--- fn tri: native ---")[1].split("--- fn ")[0]
    assert "{i64, i64} @f0(" not in tri and "%ctx = bitcast i64* %ent.ctx" in tri  # (tri has loops: ctx[0]; its body is @entry's, entries.py)
    assert "{i64, i64} @f1(i64* %ctx, i64 0, " in tri  # (leaf calls nothing: no budget, ctx[0] left alone: calls.leaves)


def test_a_deadline_stops_a_deep_recursion_without_loops() -> None:
    # fib(47) runs for seconds natively: only the polls at its calls stop it.
    log: list[str] = []
    vm = VM(stdout=io.StringIO(), jit="native-eager", jit_log=log.append, timeout=0.2)
    t0 = time.perf_counter()
    with pytest.raises(Exception, match="timeout"):
        vm.run_source(FIB + "print(fib(47))\n", "t.tl")
    assert time.perf_counter() - t0 < 4
    assert native("fib", log) and any("native frames): deadline or interrupt" in x for x in log), log


def test_another_fiber_preempts_a_deep_recursion_without_loops() -> None:
    want, out, log, _ = two_fibers(FIB, "let r = fib(27); order.push(r)", 'order.push("b")')
    assert out == want == '["b", 196418]\n'
    # The poll at a call left with every native frame rebuilt, the
    # interpreter made that call, and fib ran natively again.
    assert native("fib", log) and any(" native frames): another fiber is ready" in x for x in log), log


def test_mixed_conventions_agree_in_output_and_fuel() -> None:
    same(MIXED, "both")  # (one module: both, tri, leaf and fib)
    want = used(MIXED, "off")[:2]
    n, out, log = used(MIXED, "native-eager")
    assert (n, out) == want and native("both", log), log


@pytest.mark.parametrize("fuel", [40000, 250001, 600000])
def test_fuel_limits_inside_mixed_conventions_stop_at_the_same_instruction(fuel: int) -> None:
    want = cli(["run", f"--fuel={fuel}", "-e", MIXED])
    got = cli(["run", "--jit=native-eager", f"--fuel={fuel}", "-e", MIXED])
    assert got == want and want[0] == 3 and "out of fuel" in want[2]


def test_a_short_countdown_polls_at_calls_without_changing_results() -> None:
    # A countdown of 3 polls at every third call of a recursion that makes
    # ~30,000 calls, through both conventions: the results must not change.
    out = io.StringIO()
    log: list[str] = []
    vm = VM(stdout=out, jit="native-eager", jit_log=log.append)
    vm.machine.jit.native.countdown = 3
    vm.run_source(MIXED + "print(fib(21))\n", "t.tl")
    want = io.StringIO()
    VM(stdout=want).run_source(MIXED + "print(fib(21))\n", "t.tl")
    assert out.getvalue() == want.getvalue() and native("fib", log), log


GROW = """
fn grow(n: int, x: int) -> int {
  if n == 0 { return x * 3 }
  return grow(n - 1, x) + 1
}
print(grow(5, 1))
print(grow(%d, 3074457345618258602))
"""


@pytest.mark.parametrize("depth", [6, 7])
def test_a_failure_inside_the_inlined_level_of_a_recursion_rebuilds_every_frame(depth: int) -> None:
    # grow calls itself through a copy LLVM inlines (calls.self_inline): the
    # overflow at the bottom happens in the copy at one depth and in the
    # original at the other; the trace must list every frame either way.
    src = GROW % depth
    out = cli(["jit-dump", "--native", "-e", src])[1]
    assert "@f0r(i64* %ctx, i64 %cd, i64 %v1, i64 %v2) alwaysinline {" in out, out
    code, stdout, err = same(src, "grow")
    assert code != 0 and stdout == "8\n" and "OverflowError" in err and "[previous line repeated" in err
    assert any(f"(pc 25, grow, {depth - 1} native frames): add fails" in x for x in both.log), both.log


# The budget (calls.py): one register for the countdown and the native depth,
# min(countdown, the depth left measured by the stack pointer), its slow path
# `@budget` out of line. It must keep both: the polls come every `countdown`
# calls, and a recursion deeper than the guest limit still overflows there.


def test_the_budget_keeps_the_countdown_exact() -> None:
    from tinyvm.jit.native.engine import _POLL

    out = io.StringIO()
    log: list[str] = []
    vm = VM(stdout=out, jit="native-eager", jit_log=log.append)
    tier = vm.machine.jit.native
    tier.countdown = 100
    polls = []

    def poll() -> int:
        polls.append(1)
        return 100

    cb = _POLL(poll)
    tier.ctx[2] = ctypes.cast(cb, ctypes.c_void_p).value
    vm.run_source(FIB + "fn go() -> int { return fib(20) }\nprint(go())\n", "t.tl")
    assert out.getvalue() == "6765\n" and native("go", log), log
    # fib(20) makes 21890 calls, each a tick: a poll every 100 (the budget
    # limited by the countdown, not only by the depth left, ~100x that).
    assert 215 <= len(polls) <= 219, len(polls)


@pytest.mark.parametrize("n", [150, 5000])
def test_the_budget_keeps_the_depth_limit_exact(n: int) -> None:
    # A loop-free recursion deeper than the guest limit (max_depth 120):
    # StackOverflowError at the same frame with the same trace as the
    # interpreter, and native code left for lack of depth on the way.
    src = "fn down(n: int) -> int {\n  if n == 0 { return 0 }\n  return down(n - 1) + 1\n}\nfn go(n: int) -> int { return down(n) }\nprint(go(50))\n" + f"print(go({n}))\n"
    got = {"off": outcome(src, "off", max_depth=120)[0]}
    got["native-eager"], log = outcome(src, "native-eager", max_depth=120)
    assert got["off"] == got["native-eager"], got
    assert got["off"][0] == "50\n" and "StackOverflow" in got["off"][1], got
    assert native("down", log) and any("native depth at a call" in x for x in log), log


CTOR = """
fn down(n: int) -> int {
  if n == 0 { return 0 }
  return down(n - 1) + 1
}
class B {
  var y: int = 1
}
class A extends B {
  var x: int = 0
  fn init(n: int) { self.x = down(n) }
}
fn go(n: int) -> int {
  var s = 0
  for i in 0..3 {
    let a = A(n)
    s += a.x
  }
  return s
}
print(go(10))
"""


@pytest.mark.parametrize("n", [116, 117, 300])
def test_the_depth_limit_holds_below_a_native_construction(n: int) -> None:
    # go (loops: ctx[0]) constructs A natively (`$fields` frames and init
    # count as nested: construct.py raises the stack limit for them), init
    # calls the loop-free recursion: it overflows at the same frame as on
    # the interpreter, 117 frames under go with max_depth 120.
    src = CTOR + f"print(go({n}))\n"
    got = {"off": outcome(src, "off", max_depth=120)[0]}
    got["native-eager"], log = outcome(src, "native-eager", max_depth=120)
    assert got["off"] == got["native-eager"], got
    assert ("StackOverflow" in got["off"][1]) == (n > 116), got
    assert native("go", log), log


def test_a_function_with_loops_gives_a_recursion_a_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # (A.init, memory convention in go's module, calls the loop-free
    # recursion with min(ctx[0], its depth) and keeps the rest in ctx[0])
    text = "".join(module_texts(CTOR, monkeypatch))
    assert re.search(r"%cd\.(\d+) = select i1 %t\.\d+, i64 %cd\.\d+, i64 %d1\n(.*\n){2}.*call \{i64, i64\} @f\d+\(i64\* %ctx, i64 %cd\.\1, ", text), text


@pytest.mark.parametrize("n", [150, 185, 186])
def test_the_stack_measure_never_allows_more_than_the_guest_depth(n: int) -> None:
    # A countdown of 7: the budget runs out every few calls, so the depth
    # left is measured by the stack over and over while 150-190 frames deep
    # (a fib tree under a chain); max_depth 200. A measure that allowed one
    # frame too many would not overflow where the interpreter does.
    src = FIB + "fn deep(n: int) -> int {\n  if n == 0 { return fib(12) }\n  return deep(n - 1) + 1\n}\nfn go(n: int) -> int { return deep(n) }\n" + f"print(go({n}))\n"
    got = {"off": outcome(src, "off", max_depth=200)[0]}
    got["native-eager"], log = outcome(src, "native-eager", countdown=7, max_depth=200)
    assert got["off"] == got["native-eager"], got
    assert ("StackOverflow" in got["off"][1]) == (n > 185), got  # (185 frames of the chain and fib(12)'s 13 fit in 200)
    assert native("go", log), log


def test_the_budget_helper_runs_from_cached_code_in_a_fresh_process(tmp_path) -> None:
    # tvm.budget (calls.py) is compiled once per process and reached through
    # ctx[BUDGET]: a cache hit in a new process must set it too. fib(27)'s
    # 630k calls and the sums' depths run out of the budget (the poll, the
    # depth measured by the stack): the result, then the interpreter's
    # overflow at the same frame.
    src = FIB + """
fn sum(n: int) -> int {
  if n == 0 { return 0 }
  return n + sum(n - 1)
}
print(fib(27))
print(sum(300))
print(sum(5000))
"""
    want = cli(["run", "--max-depth", "1000", "-e", src])
    runs = fresh_processes(src, tmp_path / "cache", "--max-depth", "1000")
    for r in runs:
        rest = "".join(x + "\n" for x in r.stderr.splitlines() if not x.startswith("jit: "))
        assert (r.returncode, r.stdout, rest) == want, r
    assert want[1] == "196418\n45150\n" and "overflow" in want[2].lower(), want
    assert any(x.startswith("jit: native sum in ") and "cache hit" in x for x in runs[1].stderr.splitlines()), runs[1].stderr
