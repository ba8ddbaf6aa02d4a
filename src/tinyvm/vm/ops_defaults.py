"""Builders of the instructions of parameter defaults (TinyLang 1.1, issue 18,
helper tldefault): `JUMP_IF_PASSED` starts the prologue code that evaluates
one parameter's default, and `LOAD_MISSING` lets a call site leave out a
parameter in the middle (`f(a, c: 1)` when `b` has a default).

A call may pass between `Function.required` and `Function.arity` arguments;
the call set-up (vm/calls.py `push_frame`, the scheduler's `spawn`) fills
the rest with `MISSING`, which no guest code ever sees: the callee's prologue
replaces each by its default, in parameter order, before the body runs.
"""

from __future__ import annotations

from ..bytecode import opcodes as O
from ..heap.objects import MISSING
from .ops import builder


@builder(O.JUMP_IF_PASSED)
def b_jump_if_passed(d, code, ops, pc, args, k):
    slot = args[0]
    t = d.thread(code, args[1])

    def f(fb):
        if fb.L[slot] is MISSING:
            return ops[k]  # evaluate the default
        return ops[t]

    return f


@builder(O.LOAD_MISSING)
def b_load_missing(d, code, ops, pc, args, k):
    def f(fb):
        fb.L.append(MISSING)
        return ops[k]

    return f
