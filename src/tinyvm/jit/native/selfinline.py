"""Leaf methods called on an exact `self`, inlined in TinyVM's IR before the native tier types it.

Why: a method reading its object's arrays through fields (AWFY Queens'
`get_row_column` and `set_row_column`, Permute's `swap`) reads and checks
them again in every call, although the caller has just read the same
fields. LLVM inlines the native call, but it cannot merge the callee's
reads with the caller's: its pipeline here has no GVN, and it knows
nothing of what a field read means. TinyVM's emitter does (fields.py
`earlier`, listwords.py), within one function. So the callee's IR goes
into the caller's, where those passes see both.

What is inlined: a call `self.m(args)` (call_method_typed, its receiver
the caller's `self`) in a method whose `self` is an instance of exactly
one class `cls` on every native way in (exactself.py: the engine asks only
then), of `cls`'s method m when m is

- a plain guest function (no captures) whose parameters take arguments
  of their own static types, scalars or classes (the compiler proved
  them: the VM's check of an object argument at the call would pass);
- a leaf: no call of any kind, no loop, no exception handler, no
  allocation (`LEAF_OPS`), at most `MAX_SIZE` instructions after TinyVM's
  passes, not counting blocks that end in `throw` (never run natively:
  a failure exit at their first frame state, objects.py `throw_exit`,
  where the interpreter builds the error in the callee's frame and throws
  it).

A leaf makes no native call, so it has no ticks and no frames of its own
in native code; its callers' code keeps what a native call does first
(emit.py `_before_call`: the countdown tick of a register-convention
caller, the native depth check of the others, both leaving at the call
when they fail, so the interpreter makes it and raises the stack
overflow where the guest limit is). Its frame appears only when native
code leaves inside it: every frame state of the inlined code has the
call's state as its parent (ir/passes/inline.py `splice`), with the
method as the function the caller's frame waits for, and deopt.py writes
both frames into one record, the callee's first (`ExitState.outer`), so
the interpreter resumes in the callee at the failing instruction with
the caller waiting for it, as when the native call left; traces show
both frames.

Not on a VM that counts fuel: its fuel ops count each code's own
bytecode blocks (jit/fuel.py), which one function's blocks from two codes
would mix.
"""

from __future__ import annotations

from typing import Any

from ...bytecode.code import FLAG_ASYNC, FLAG_GENERATOR, FLAG_INIT, FLAG_METHOD
from ...bytecode.types import BOOL, FLOAT, INT, ClassT, OptionalT
from ...heap.objects import Function as GuestFunction
from ...ir.build import Unsupported, build
from ...ir.nodes import Block, Function, Instr, replace_uses
from ...ir.passes import PassContext, run_pipeline
from ...ir.passes.inline import splice
from ...ir.passes.typespec import retype
from . import defaults
from .emit import back_edge_targets

# The callee's instructions after TinyVM's passes: arithmetic, compares,
# fields and array elements, control flow without loops. No call (a frame
# of its own), allocation (a heap budget), global, iterator or range.
LEAF_OPS = frozenset(
    (
        "param", "const", "phi", "branch", "jump", "return",
        "add", "sub", "mul", "div", "mod", "neg", "band", "bor", "bxor", "shl", "shr",
        "lt", "le", "gt", "ge", "eq", "ne", "not", "check_bool",
        "get_field", "set_field_proven", "set_field", "get_index", "set_index",
    )
)  # fmt: skip
MAX_SIZE = 40  # instructions of the optimized callee: Queens' set_row_column is 24
_SCALARS = (INT, FLOAT, BOOL)
_BAD_FLAGS = FLAG_INIT | FLAG_GENERATOR | FLAG_ASYNC


def candidates(fn: Function, code: Any) -> list[Instr]:
    """The calls of methods on `self` in method fn (inlining's candidates)."""
    if not code.flags & FLAG_METHOD or len(fn.params) < 2:
        return []
    me = fn.params[1]
    return [i for b in fn.blocks for i in b.instrs if i.op == "call_method_typed" and i.args and i.args[0] is me and i.catch is None and i.state is not None and i.state.parent is None]


def leaf(cls: Any, call: Instr, passes: list[str]) -> tuple[Any, Function] | None:
    """(cls's method the call reaches, its optimized IR) when it may be
    inlined (the module docstring), else None."""
    meth = cls.methods.get(call.attrs[0])
    if type(meth) is not GuestFunction or meth.upvals or not meth.code.flags & FLAG_METHOD or meth.code.flags & _BAD_FLAGS:
        return None
    if meth.arity != len(call.args):
        return None
    try:
        callee = build(meth.code)
    except Unsupported:
        return None
    if not all(_passes(a, p) for a, p in zip(call.args[1:], callee.params[2:])):
        return None
    defaults.assume_passed(callee, meth.code)
    run_pipeline(callee, passes, PassContext(speculate=False))
    if back_edge_targets(callee):  # (a loop)
        return None
    size = 0
    for b in callee.blocks:
        if b.catch_preds:
            return None
        if b.terminator is not None and b.terminator.op == "throw":
            continue  # (a failure exit at its first state: the interpreter builds the error and throws it, objects.py `throw_exit`)
        for i in b.all():
            if i.op not in LEAF_OPS or i.catch is not None:
                return None
            size += 1
    if size > MAX_SIZE or not any(b.terminator is not None and b.terminator.op == "return" for b in callee.blocks):
        return None
    return meth, callee


def _passes(arg: Instr, param: Instr) -> bool:
    """Whether argument `arg` goes to `param` unchecked: both of one scalar
    type, or of one class type (`C`, `C?`), which the compiler proved (a
    call passing a value of another static type is left to the VM, which
    checks it at the call)."""
    t = param.type
    if t in _SCALARS:
        return arg.type == t
    c = t.inner if isinstance(t, OptionalT) else t
    return isinstance(c, ClassT) and str(arg.type) == str(t)


def inline_leaves(fn: Function, code: Any, cls: Any, passes: list[str]) -> dict[Block, Instr]:
    """Inline into method fn (after its passes) the leaf methods it calls
    on its `self`, an instance of exactly `cls`; returns each inlined
    body's entry block -> the call it replaced (emit.py `_before_call`
    runs there first)."""
    sites: dict[Block, Instr] = {}
    results: dict[Instr, Instr] = {}
    for call in candidates(fn, code):
        got = leaf(cls, call, passes)
        if got is None:
            continue
        meth, callee = got
        # (slot 0 of the inlined frame, the function, is no word of any
        # record: the caller's frame names the method, FrameState.callee)
        results[call] = splice(fn, call, callee, fn.params[0], list(call.args), callee_object=meth)
        sites[callee.entry] = call
    if results:
        replace_uses(fn, results)
        retype(fn)
    return sites
