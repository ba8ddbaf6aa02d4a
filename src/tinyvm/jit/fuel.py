"""Fuel in compiled code: the JIT's metering step and the counts it uses.

A VM that counts fuel (docs/limits.md) counts bytecode instructions, JUMP
free. Compiled code counts the same thing by *bytecode basic block*: before
the pass pipeline runs, `meter(fn, code)` puts one `fuel[n]` at the start of
every block the builder cut (n: its instructions but JUMPs, `pc`: the block's
first pc). `fuel` is a side effect: no pass removes, moves, merges or
duplicates it, so after the pipeline each one still marks "control entered
the bytecode block at pc" in whatever IR block it ended up in.

The code generator (jit/codegen.py, `metered=True`) does not add n where the
`fuel` op is: it keeps a cursor (a pc) of what the generated code has added so
far and adds `prefix[x] - prefix[cursor]` lazily, where it matters:

- before an instruction that steps through an interpreter closure (the closure
  may call a built-in that charges fuel and checks the limit with
  `fuel_used`, or host code may read it): everything up to and including it;
- at a block's end (before its terminator runs and the edges leave it);
- on an exit to the interpreter at pc (a deopt, a condition that is not a
  bool): everything before pc (the interpreter counts pc itself), which may
  be a negative adjustment when the cursor is already past pc.

`prefix[pc]` is the number of counted instructions at pcs below pc, so a
difference counts any range of one block, and the count is exact on every
path: a straight line of bytecode is counted once whichever IR instructions
the passes kept, hoisted or folded.
"""

from __future__ import annotations

from ..bytecode.code import Code
from ..bytecode.opcodes import OPCODES
from ..ir.build import decode
from ..ir.nodes import Function, Instr

_FREE = frozenset({"JUMP"})  # (docs/limits.md: an unconditional jump costs nothing)


def prefix_counts(code: Code) -> dict[int, int]:
    """pc -> counted instructions at lower pcs, for every pc and the end."""
    out: dict[int, int] = {}
    n = 0
    end = 0
    for pc, (op, _) in sorted(decode(code).items()):
        out[pc] = n
        info = OPCODES[op]
        if info.name not in _FREE:
            n += 1
        end = pc + info.size
    out[end] = n
    return out


def block_ends(code: Code, starts: set[int]) -> dict[int, int]:
    """Bytecode block start -> the pc after its last instruction (the builder's
    cut: a block ends at a jump, return or throw, or before another start)."""
    insns = decode(code)
    out = {}
    for s in starts:
        pc = s
        while pc in insns:
            info = OPCODES[insns[pc][0]]
            nxt = pc + info.size
            if info.branch is not None or info.terminal or nxt in starts:
                break
            pc = nxt
        out[s] = pc + OPCODES[insns[pc][0]].size if pc in insns else pc
    return out


def meter(fn: Function, code: Code) -> None:
    """Put `fuel[n]` at the start of every bytecode block of fn (see above)."""
    starts = {b.pc for b in fn.blocks if b.pc is not None}
    pre = prefix_counts(code)
    ends = block_ends(code, starts)
    for b in fn.blocks:
        if b.pc is None:
            continue
        n = pre[ends[b.pc]] - pre[b.pc]
        if n:
            b.instrs.insert(0, Instr(fn.new_id(), "fuel", [], (n,), None, pc=b.pc, block=b))
