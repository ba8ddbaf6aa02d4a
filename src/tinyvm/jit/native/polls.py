"""Where native code polls (which function entries and loop headers tick) and how it calls the poll.

Native code decrements a countdown (ctx word 0) and, at zero, calls the
poll callback, which says whether to stop (a deadline, an interrupt, a
debugger stepping, another fiber's turn: "Interrupts, deadlines, fairness"
in docs/native.md); a stop leaves native code at the tick with the frame
state of that point. What the ticks must guarantee is that native code
never runs unbounded without one: every cycle of execution -- a loop of a
function's CFG, a cycle of native calls -- passes a tick.

Each tick is cheap at run time (a load, a decrement, a store, a branch) but
not at compile time: its poll is a call and its stop an exit record, ~0.3
ms of LLVM's code generator per tick ("Compile time"). So ticks go only
where the guarantee needs them:

- **At a function's entry** (`ticks_at_entry`), for cycles of calls
  (recursion), when the function makes a call of any kind (calls.leaves'
  rule: any IR op named `call...`). One that makes none is in no cycle of
  calls, and each of its runs returns, leaves, or reaches a loop header,
  which ticks. (Functions of the register convention tick at the calls
  they make instead: calls.py.)
- **At every loop header**, for the cycles of the CFG. (Dropping the
  headers of outer loops whose cycles all pass an inner header was tried
  and left: a nest `while true { for j in 0..n {...} }` with n = 0 then
  ran past its deadline; see docs/native.md "Compile time".)

The countdown is a measure of work between polls, not a count anything
observes: a stop still happens at a tick, with that point's exact frames
(fuel, which is exact, is counted per block by jit/fuel.py's ops, apart).

How the poll is called: under `preserve_mostcc`, as `tvm.make` is, so
these slow-path calls keep the caller's registers.

A call in a cold block still costs the code generator of the hot function:
under the C convention it clobbers the caller-saved registers (rax, rcx,
rdx, rsi, rdi, r8-r11), so every value live across it -- a loop's
variables, its bounds, the countdown -- is split around the call into a
callee-saved register or a spill slot, and the greedy register allocator's
splitting and the prologue's saves grow with each such call. LLVM's
`preserve_mostcc` moves that burden to the callee: it preserves every
general-purpose register but r11 (XMM registers stay the caller's to save,
as before), so across such a call nothing is split. Measured on the IR of
benchmarks/native_compile.py's rows, the code generator alone, min of 30
(docs/native.md "Compile time", round 9): the Mandelbrot loop 8.1-8.5 ->
7.0-7.1 ms, the doubly nested loop 5.9-6.0 -> 5.3-5.4 ms (four poll calls
and two `tvm.make` calls, and two of each).

The callee pays: it saves what it uses and what the C it calls may
clobber. That is right for a slow path (a poll runs once per countdown of
thousands of ticks; `tvm.make` refills a heap budget or makes an array
through Python) and wrong for a hot one, so only these two use it:

- **The poll**: `tvm.poll(ctx)`, a per-process helper compiled into the
  one module of calls.py's `tvm.budget`, calls the poll callback (ctx word
  2: a ctypes C function) and returns its answer. Native code calls it
  through ctx word `POLL` (the address, set by engine.py when a module
  using it is installed), not by name: a module calling a symbol by name
  loses the small code model (nearcalls.py).
- **`tvm.make`** (outofline.py): its definition, its declaration and its
  calls take `CC`.

`tvm.budget` (calls.py) stays a C-convention function: on fib, whose six
budget calls sit in a function with few values live across them, it
measured no gain (6.6-6.9 ms of codegen either way). The field helpers
(fieldslow.py) and the C API's calls (`PyLong_AsLongLongAndOverflow`, ...)
are not ours to change the convention of.
"""

from __future__ import annotations

from ...ir.nodes import Function


def ticks_at_entry(fn: Function) -> bool:
    """Whether fn's entry ticks: it makes a call of some kind."""
    return any("call" in x.op for x in fn.values())

CC = "preserve_mostcc"
POLL = 20  # (ctx word: the address of `tvm.poll`; engine.py's ctx array)
NAME = "tvm.poll"

# (compiled with calls.py's `tvm.budget`, in its helper module: one per
# process for both, `calls.helpers`)
TEXT = f"""
define {CC} i64 @{NAME}(i64* %ctx) noinline nounwind {{
entry:
  %pp = getelementptr i64, i64* %ctx, i64 2
  %pf = load i64, i64* %pp
  %fp = inttoptr i64 %pf to i64 ()*
  %r = call i64 %fp()
  ret i64 %r
}}
"""


def poll(em: object) -> str:
    """LLVM IR (appended to emitter em's lines) calling the poll through
    `tvm.poll`: the new countdown, <= 0 to stop."""
    L = em.lines  # type: ignore[attr-defined]
    pp, pw, fp, npv = em.tmp(), em.tmp(), em.tmp(), em.tmp()  # type: ignore[attr-defined]
    L.append(f"  {pp} = getelementptr i64, i64* %ctx, i64 {POLL}")
    L.append(f"  {pw} = load i64, i64* {pp}")
    L.append(f"  {fp} = inttoptr i64 {pw} to i64 (i64*)*")
    L.append(f"  {npv} = call {CC} i64 {fp}(i64* %ctx)")
    return npv


def uses_poll(text: str) -> bool:
    """Whether the module of LLVM IR `text` calls `tvm.poll` (`poll`)."""
    return f"call {CC} i64 %" in text
