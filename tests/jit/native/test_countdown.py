"""The countdown in a register inside functions with loops (jit/native/countdown.py).

Structure (the LLVM IR after LLVM's passes, never time): a Sieve-like loop
nest reads and writes ctx[0] only where control leaves its own code (a
call, the poll, an exit, the return), never in a loop body that makes no
call, nor around a callee that never touches ctx[0] (`untouched`) once
LLVM inlined it into the loop. Behaviour: the polls come exactly every
`countdown` ticks, through loops, calls of functions with loops and calls
of loop-free ones, inlined or not.
"""

from __future__ import annotations

import ctypes
import io
import re

import pytest

pytest.importorskip("llvmlite")

from native_helpers import blocks_in_cycles, llvm_blocks, module_texts, native, same, sieve_program

from tinyvm.api import VM

SIEVE = sieve_program(5000)

_CTX0 = re.compile(r"(?:load i64, ptr %(?:ent\.)?ctx\b|store i64 [^,]+, ptr %(?:ent\.)?ctx\b)")  # (word 0: the others are at a getelementptr)
_CALL = re.compile(r"\bcall\b[^@%;]*([@%][-\w.$]+)\(")


def test_a_sieve_loop_keeps_the_countdown_out_of_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinyvm.jit.native.codegen import Codegen

    (text,) = [t for t in module_texts(SIEVE, monkeypatch) if "@entry" in t]
    assert "%cd.slot = alloca i64" in text, text
    after = Codegen().object_code(text, {}, keep_text=True)[1]
    assert "%cd.slot" not in after.replace("%cd.slot.", ""), after  # (promoted: sroa)
    ticks = 0
    blocks = llvm_blocks(after)
    loops = blocks_in_cycles(blocks)
    assert loops, after
    for label, lines in blocks:
        ticks += sum(1 for x in lines if re.search(r"= add nsw i64 %cd\.slot\.\d+, -1$", x))  # (nsw: `dec; jle`, emit.py's tick)
        if not any(_CTX0.search(x) for x in lines):
            continue
        calls = [m.group(1) for x in lines for m in [_CALL.search(x)] if m and not m.group(1).startswith("@llvm.")]
        ends = lines[-1].split()[0] in ("ret", "unreachable")
        # Only where control leaves: before the loops (the entry, and the
        # blocks jump threading split from it), a block that calls, a return.
        assert label not in loops or calls or ends, (label, lines)
    assert ticks == 2, after  # (both loop headers tick on an SSA value)


# A loop calling a loop-free method that reads and writes fields and calls
# nothing native code leaves for (Bounce's `ball.bounce()`): LLVM inlines it
# into the loop.
BALLS = """
class Ball {
  var x: int
  var v: int
  fn init(x: int, v: int) { self.x = x; self.v = v }
  fn step() -> bool {
    self.x += self.v
    if self.x > 50 { self.x = 50; self.v = -abs(self.v); return true }
    if self.x < 0 { self.x = 0; self.v = abs(self.v); return true }
    return false
  }
}
fn run(balls: [Ball], n: int) -> int {
  var hits = 0
  for i in 0..n {
    for b in balls {
      if b.step() { hits += 1 }
    }
  }
  return hits
}
let balls: [Ball] = [Ball(3, 7), Ball(40, -9), Ball(25, 13)]
print(run(balls, %d))
"""


def test_a_loop_calling_a_callee_that_never_touches_the_countdown_keeps_it_out_of_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # countdown.untouched: step() neither reads nor writes ctx[0] and calls
    # nothing but intrinsics, so run() calls it without storing its slot to
    # ctx[0] before and loading it back after; inlined, the loop then keeps
    # the countdown in a register (it held a store and a reload per ball).
    from tinyvm.jit.native.codegen import Codegen

    (text,) = [t for t in module_texts(BALLS % 40, monkeypatch) if "@entry" in t and "alwaysinline" in t]
    # step() calls only `abs`, which native code computes: a leaf
    # (calls.leaves), called with a budget of 0 and no countdown moved.
    (step,) = re.findall(r"define internal \{i1, i64\} @(\w+)\(i64\* %ctx, i64 %cd, i64 %v1\)", text)
    assert re.search(rf"= call \{{i1, i64\}} @{step}\(i64\* %ctx, i64 0, i64 %v\d+\)", text), text
    after = Codegen().object_code(text, {}, keep_text=True)[1]
    blocks = llvm_blocks(after)
    loops = blocks_in_cycles(blocks)
    assert loops, after
    for label, lines in blocks:
        calls = [m.group(1) for x in lines for m in [_CALL.search(x)] if m and not m.group(1).startswith("@llvm.")]
        if label in loops and not calls:
            assert not any(_CTX0.search(x) for x in lines), (label, lines)


def test_untouched_is_the_least_fixed_point_of_functions_calling_only_quiet_ones() -> None:
    from tinyvm.jit.native.countdown import untouched

    def fn(name: str, *body: str) -> str:
        return "\n".join([f"define internal {{i64, i1}} @{name}(i64* %ctx, i64 %v1) {{", "entry:", *body, "  ret {i64, i1} undef", "}"])

    texts = {
        "f0": fn("f0", "  %a = call {i64, i1} @llvm.sadd.with.overflow.i64(i64 %v1, i64 1)"),
        "f1": fn("f1", "  %r = call {i64, i1} @f0(i64* %ctx, i64 %v1)"),
        "f2": fn("f2", "  %c = load i64, i64* %ctx"),  # (reads ctx[0])
        "f3": fn("f3", "  store i64 0, i64* %ctx"),  # (writes it)
        "f4": fn("f4", "  %r = call {i64, i1} @f2(i64* %ctx, i64 %v1)"),
        "f5": fn("f5", '  %r = call i64 @"tvm.fslot"(i64 %v1, i64 0)'),  # (a helper)
        "f6": fn("f6", "  %t = call preserve_mostcc i64 %p(i64* %ctx)"),  # (a pointer: the poll)
        "f7": fn("f7", "  %r = call {i64, i1} @f8(i64* %ctx, i64 %v1)"),  # (a cycle)
        "f8": fn("f8", "  %r = call {i64, i1} @f7(i64* %ctx, i64 %v1)"),
        "f9": fn("f9", "  %w = getelementptr i64, i64* %ctx, i64 3", "  store i64 1, i64* %w"),  # (another word)
    }
    assert untouched(texts) == {"f0", "f1", "f9"}


@pytest.mark.parametrize("countdown", [1, 5, 64])
def test_polls_come_every_countdown_ticks_through_an_inlined_quiet_callee(countdown: int) -> None:
    n = 300
    src = BALLS % n
    got, polls, log = _polls(src, countdown)
    assert got == same(src)[1] and native("run", log), log
    # Ticks: run's entry (it calls) and its two loop headers (n + 1 and
    # n * (3 + 1)); step none (loop-free: it ticks at calls it makes, none).
    ticks = 1 + (n + 1) + n * (3 + 1)
    assert polls == ticks // countdown, (polls, ticks)


NEST = """
fn inner(m: int) -> int {
  var t = 0
  for j in 0..m { t += j }
  return t
}
fn leaf(x: int) -> int { return x * 2 + 1 }
fn outer(n: int) -> int {
  var s = 0
  for i in 0..n {
    s += inner(i %% 7) + leaf(i)
  }
  return s + inner(3)
}
print(outer(%d))
"""


def _polls(src: str, countdown: int) -> tuple[str, int, list[str]]:
    from tinyvm.jit.native.engine import _POLL

    out = io.StringIO()
    log: list[str] = []
    vm = VM(stdout=out, jit="native-eager", jit_log=log.append)
    tier = vm.machine.jit.native
    tier.countdown = countdown
    polls = []

    def poll() -> int:
        polls.append(1)
        return countdown

    cb = _POLL(poll)
    tier.ctx[2] = ctypes.cast(cb, ctypes.c_void_p).value
    vm.run_source(src, "t.tl")
    return out.getvalue(), len(polls), log


@pytest.mark.parametrize("countdown", [1, 7, 100])
def test_polls_come_every_countdown_ticks_through_loops_and_calls(countdown: int) -> None:
    n = 700
    src = NEST % n
    got, polls, log = _polls(src, countdown)
    assert got == same(src)[1] and native("outer", log), log
    # Ticks: outer's entry (it calls) and header (n + 1); each call of inner
    # its header (m + 1: no entry tick, it calls nothing); leaf none (the
    # register convention ticks at calls it makes: none).
    ticks = 1 + (n + 1) + sum(i % 7 + 1 for i in range(n)) + (3 + 1)
    assert polls == ticks // countdown, (polls, ticks)
