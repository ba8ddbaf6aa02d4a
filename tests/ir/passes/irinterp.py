"""A tiny reference interpreter for IR functions, for the pass tests only.

It runs the straight-line subset the generated programs use -- constants,
arithmetic and comparisons (with runtime/arith.py's TinyLang semantics: the
very functions the VM's slow paths call), phis, branches, returns -- and
raises `NotModelled` for anything else (calls, fields, handlers...), so a
test can skip such functions. An error ends the run with the error's class
and message *and the frame state* of the instruction that raised, resolved
to values: a pass that changed what the interpreter would resume with is
caught as surely as one that changed the result.
"""

from __future__ import annotations

from typing import Any

from tinyvm.bytecode.types import BOOL, FLOAT, INT, STRING
from tinyvm.ir.nodes import Block, Function, Instr
from tinyvm.runtime import arith
from tinyvm.runtime.errors import RtError

_BIN = {
    "add": arith.add, "sub": arith.sub, "mul": arith.mul, "div": arith.div, "mod": arith.mod,
    "band": arith.band, "bor": arith.bor, "bxor": arith.bxor, "shl": arith.shl, "shr": arith.shr,
    "eq": arith.eq, "ne": arith.ne, "lt": arith.lt, "le": arith.le, "gt": arith.gt, "ge": arith.ge,
}  # fmt: skip
_UN = {"neg": arith.neg, "bnot": arith.bnot, "not": arith.not_}
_CHECKS = {INT: int, FLOAT: float, STRING: str, BOOL: bool}


class NotModelled(Exception):
    """The function uses an op this interpreter does not run."""


def _key(v: Any) -> Any:
    """Results compared by type and value (1 and 1.0 and true differ; every
    nan is one); objects (a range) by type only."""
    if v is None or type(v) in (bool, int, float, str):
        return (type(v).__name__, repr(v))
    return (type(v).__name__,)


def run(fn: Function, args: list[Any], fuel: int = 20_000) -> tuple:
    """("return", value) | ("error", class, message, pc, state values) | ("fuel",)."""
    env: dict[Instr, Any] = dict(zip(fn.params, args))
    block: Block = fn.entry
    came_from: Block | None = None
    while True:
        if block.catch_preds:
            raise NotModelled("handler")
        if block.phis:
            i = block.preds.index(came_from)
            vals = [env[p.args[i]] for p in block.phis]
            env.update(zip(block.phis, vals))
        for ins in block.instrs:
            fuel -= 1
            if fuel <= 0:
                return ("fuel",)
            try:
                env[ins] = _step(ins, [env[a] for a in ins.args])
            except RtError as e:
                st = ins.state
                assert st is not None, f"v{ins.id} raised without a frame state"
                if ins.catch is not None:
                    raise NotModelled("catch") from None
                vals = [None if v is None else _key(env[v]) for v in st.locals + st.stack]
                return ("error", e.cls, e.message, st.pc, vals)
        t = block.terminator
        if t.op == "return":
            return ("return", _key(env[t.args[0]]))
        if t.op == "jump":
            came_from, block = block, t.targets[0]
        elif t.op == "branch":
            c = env[t.args[0]]
            assert type(c) is bool
            came_from, block = block, t.targets[0 if c else 1]
        else:
            raise NotModelled(t.op)


def _step(ins: Instr, vals: list[Any]) -> Any:
    op = ins.op
    if op == "const":
        return ins.attrs[0]
    if op in _BIN:
        if not ins.checked and op in ("add", "sub", "mul") and all(type(v) is int for v in vals):
            return _BIN_PLAIN[op](*vals)  # unchecked: proven (or, for the loop step, known) in range
        return _BIN[op](*vals)
    if op in _UN:
        return _UN[op](vals[0])
    if op == "truthy":
        return not (vals[0] is None or vals[0] is False)
    if op == "falsy":
        return vals[0] is None or vals[0] is False
    if op == "check_bool":
        if type(vals[0]) is not bool:
            raise RtError("TypeError", "condition must be bool")
        return vals[0]
    if op == "check_type" and ins.type in _CHECKS:
        if type(vals[0]) is not _CHECKS[ins.type]:
            raise RtError("TypeError", f"expected {ins.type}")
        return vals[0]
    if op == "range":
        return arith.make_range(vals[0], vals[1], False)
    raise NotModelled(op)


_BIN_PLAIN = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}
