"""The table of instruction builders, filled in by the instruction families.

`BUILDERS[opcode](decoder, code, ops, pc, args, k)` returns the closure that
runs one instruction: `op(fiber) -> next op`. `decoder` is the module's
`Decoder` (vm/predecode.py: the VM, the module, its globals and run-time
rules), `code` the code object, `ops` the list of its decoded closures by
offset (filled in as decoding goes on: a builder reads `ops[k]` only when its
closure runs), `pc` the instruction's offset, `args` its operands and `k` the
threaded offset of the next instruction.

The builders live with their family:

    ops_values.py   stack, constants, variables, operators, strings and
                    containers, fields and indexing
    ops_flow.py     jumps, loops and iteration, truthiness, print
    ops_calls.py    calls, methods, returns, throws, closures, classes,
                    spawn, await, yield, select

vm/predecode.py imports the three and checks that every opcode of the
instruction set (bytecode/opcodes.py) has a builder.
"""

from __future__ import annotations

from typing import Any, Callable

from ..bytecode import opcodes as O

BUILDERS: list[Callable] = [None] * O.NUM_OPCODES  # type: ignore[list-item]


def builder(*opcodes: int) -> Callable:
    """Decorator: the function builds the instructions `opcodes`."""

    def register(fn: Callable) -> Callable:
        for opc in opcodes:
            BUILDERS[opc] = fn
        return fn

    return register


def push_value(ops: list, k: int, value: Any) -> Callable:
    """The closure of an instruction that pushes a fixed value."""

    def f(fb):
        fb.L.append(value)
        return ops[k]

    return f


def unary(fn: Callable) -> Callable:
    """The builder of an instruction that replaces the top of stack by fn(top)."""

    def build(d, code, ops, pc, args, k):
        def f(fb):
            L = fb.L
            L[-1] = fn(L[-1])
            return ops[k]

        return f

    return build
