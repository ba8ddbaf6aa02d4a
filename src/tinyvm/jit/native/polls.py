"""Where native code polls: which function entries and loop headers tick.

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
"""

from __future__ import annotations

from ...ir.nodes import Function


def ticks_at_entry(fn: Function) -> bool:
    """Whether fn's entry ticks: it makes a call of some kind."""
    return any("call" in x.op for x in fn.values())
