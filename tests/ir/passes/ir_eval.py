"""A reference evaluator of the SSA IR, for differential tests of the passes.

It runs a `Function` on concrete arguments with the runtime's own operator
semantics (runtime/arith.py: checked int64, truncating division), so the IR
before and after a pipeline can be compared on the same inputs: same result,
or the same error. Arithmetic whose `checked` flag a pass cleared is computed
as a JIT would that skips the test: exact, then wrapped to int64, so a check
cleared wrongly shows as a different result instead of the original's
OverflowError. `call_global` runs the callee's unoptimised IR (through the
resolver), `guard` raises `Deopt` when its type does not hold, `virtual` is
nothing. Only the subset of the IR the generated programs use is known; any
other op raises `NotModelled`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinyvm.ir.build import build
from tinyvm.ir.nodes import Block, Function, Instr
from tinyvm.runtime import arith
from tinyvm.runtime.errors import RtError

__all__ = ["Deopt", "NotModelled", "OutOfFuel", "evaluate"]

_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": arith.add, "sub": arith.sub, "mul": arith.mul, "div": arith.div, "mod": arith.mod,
    "band": arith.band, "bor": arith.bor, "bxor": arith.bxor, "shl": arith.shl, "shr": arith.shr,
    "eq": arith.eq, "ne": arith.ne, "lt": arith.lt, "le": arith.le, "gt": arith.gt, "ge": arith.ge,
}
_EXACT: dict[str, Callable[[int, int], int]] = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "shl": lambda a, b: a << b}
_PY_TYPE = {"int": int, "float": float, "string": str, "bool": bool}


class NotModelled(Exception):
    """An op the evaluator does not know."""


class Deopt(Exception):
    """A guard failed."""


class OutOfFuel(Exception):
    """More steps than allowed (a loop that does not end)."""


class _Fn:
    """The value of slot 0 and of `load_global`: a function known by its code."""

    def __init__(self, code: Any) -> None:
        self.code = code


_NAMES = {int: "int", float: "float", str: "string", bool: "bool"}


def _observe(profile: dict, key: Any, v: Any) -> None:
    name = _NAMES.get(type(v), "other")
    profile[key] = name if profile.get(key, name) == name else "mixed"


def _wrap(r: int) -> int:
    return (r + 2**63) % 2**64 - 2**63


def evaluate(fn: Function, args: list[Any], resolve: Callable[[Instr], Any], fuel: list[int] | None = None, profile: dict | None = None) -> Any:
    """fn's result on args; raises RtError as the VM would (or Deopt, OutOfFuel).
    profile: filled as the JIT's would be, pc (or ("param", slot)) -> the
    type name of the value seen there (`mixed` once two differ)."""
    fuel = fuel if fuel is not None else [200_000]
    env: dict[Instr, Any] = dict(zip(fn.params, [_Fn(fn.code), *args]))
    if profile is not None:
        for p in fn.params[1:]:
            _observe(profile, ("param", p.attrs[0]), env[p])
    block: Block = fn.entry
    edge: tuple[Block, Instr | None] | None = None
    caught: RtError | None = None
    while True:
        if edge is not None and block.phis:
            k = block.phi_preds().index(edge) if edge[1] is not None else [p for p, _ in block.phi_preds()].index(edge[0])
            values = [env[p.args[k]] for p in block.phis]
            env.update(zip(block.phis, values))
        nxt = None
        for ins in block.instrs:
            fuel[0] -= 1
            if fuel[0] < 0:
                raise OutOfFuel
            try:
                env[ins] = _step(ins, env, resolve, caught, fuel)
                if profile is not None and ins.pc is not None and ins.op.startswith(("call", "get_")):
                    _observe(profile, ins.pc, env[ins])
            except RtError as e:
                if ins.catch is None:
                    raise
                caught, edge, nxt = e, (block, ins), ins.catch
                break
        if nxt is not None:
            block = nxt
            continue
        t = block.terminator
        if t.op == "return":
            return env[t.args[0]]
        if t.op == "throw":
            err = RtError("Thrown", repr(env[t.args[0]]))
            if t.catch is None:
                raise err
            caught, edge, block = err, (block, t), t.catch
            continue
        if t.op == "jump":
            edge, block = (block, None), t.targets[0]
        elif t.op == "branch":
            cond = env[t.args[0]]
            if type(cond) is not bool:
                raise RtError("TypeError", "condition must be bool")
            edge, block = (block, None), t.targets[0 if cond else 1]
        else:
            raise NotModelled(t.op)


def _step(ins: Instr, env: dict, resolve: Callable, caught: RtError | None, fuel: list[int]) -> Any:
    op = ins.op
    a = [env[x] for x in ins.args]
    if op == "const":
        return ins.attrs[0]
    if op in _BINARY:
        if not ins.checked and op in _EXACT and type(a[0]) is int and type(a[1]) is int:
            return _wrap(_EXACT[op](a[0], a[1]))
        return _BINARY[op](a[0], a[1])
    if op == "neg":
        return _wrap(-a[0]) if not ins.checked and type(a[0]) is int else arith.neg(a[0])
    if op == "not":
        return arith.not_(a[0])
    if op == "record":
        return dict(zip(ins.attrs[0], a))
    if op == "get_field":
        if type(a[0]) is not dict or ins.attrs[0] not in a[0]:
            raise RtError("AttributeError", f"no field {ins.attrs[0]}")
        return a[0][ins.attrs[0]]
    if op in ("set_field", "set_field_proven"):
        if type(a[0]) is not dict or ins.attrs[0] not in a[0]:
            raise RtError("AttributeError", f"no field {ins.attrs[0]}")
        a[0][ins.attrs[0]] = a[1]
        return None
    if op == "load_global":
        code = resolve(_global_call(ins))
        if code is None:
            raise NotModelled("load_global of an unknown global")
        return _Fn(code)
    if op == "call_global":
        code = resolve(ins)
        if code is None:
            raise NotModelled("call_global of an unknown function")
        return evaluate(build(code), a, resolve, fuel)
    if op == "guard":
        t = _PY_TYPE[ins.attrs[0]]
        if type(a[0]) is not t:
            raise Deopt(ins.attrs[0])
        return a[0]
    if op == "virtual":
        return None
    if op == "caught":
        return caught
    raise NotModelled(op)


def _global_call(ins: Instr) -> Instr:
    """A stand-in call_global instruction for the resolver, from a load_global."""
    return Instr(-1, "call_global", [], (ins.attrs[0],), state=ins.state)
