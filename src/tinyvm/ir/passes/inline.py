"""Inlining of small known callees, keeping exact traces through frame-state chains.

`ctx.resolve(call) -> Code | None` names the callee a `call_global` or `call`
instruction is known to reach (the JIT resolves from run-time knowledge and
guards it; `module_resolver` below resolves statically the hoisted top-level
functions of one module). The callee's IR is built from its code object
(`ir.build.build`) and spliced in place of the call:

* its parameters become the arguments; slot 0, the running function, becomes
  the `call`'s callee operand, or for `call_global[g]` a `load_global[g]`
  inserted before the call with the call's frame state (the slot holds the
  function, or the call would not have been resolved);
* the caller's block is split at the call: it now jumps to the callee's entry,
  and every `return v` of the callee jumps to the continuation block (the rest
  of the caller's block), where a phi of the returned values (or the one
  value) replaces the call's result;
* every frame state of the callee gets as `parent` the caller's state at the
  call: the call's pc, the caller's locals, the caller's operand stack *below*
  the callee and its arguments, the caller's own parent. The JIT rebuilds one
  interpreter frame per link on deoptimisation or error: the caller frame
  resumes after the call instruction at `parent.pc`, with the callee's result
  pushed onto `parent.stack`. An error raised in inlined code therefore shows
  both frames in its trace;
* inside a `try` of the caller, every inlined instruction that can raise and
  that the callee does not catch itself gets the call's exceptional edge (the
  same handler, the call's operands for its phis: the callee cannot change
  the caller's locals or stack), so its errors unwind into the caller's
  handler as the interpreter's would.

The pass refuses, leaving the call alone (and saying why in `ctx.log`):
callees bigger than `ctx.options["inline.max_size"]` IR instructions (default
30), deeper than `inline.max_depth` inlined frames (default 3), recursive ones
(the callee is the function itself or a frame of the call's chain), callees
that are methods,
initialisers, generators or async, callees whose IR does not build, that read
their closure's upvalues or make closures or classes (those depend on the
running function object, which no longer has its own frame), that use
module globals when the callee belongs to another module, that never return,
arity mismatches, and `call` of a callee with typed parameters (the VM checks
those on entry; `call_global` was proven by the compiler).

Note that an inlined call no longer counts towards the VM's stack-depth
limit; recursion is never inlined, so the depth differs by a bounded amount.
"""

from __future__ import annotations

from typing import Any

from ...bytecode.code import (
    FLAG_ASYNC,
    FLAG_GENERATOR,
    FLAG_INIT,
    FLAG_METHOD,
    FLAG_MODULE,
    Code,
)
from ...bytecode.opcodes import OPCODES
from ...bytecode.types import ANY, BOOL
from ..build import OPS, Unsupported, _can_raise, build, decode
from ..nodes import Block, FrameState, Function, Instr, replace_uses
from ..text import _codes
from . import PassContext, register
from .typespec import retype

__all__ = ["module_resolver", "run", "splice"]

_CALLS = frozenset({"call_global", "call"})
# Ops that depend on the running function object (its upvalues, class, nested code).
_FRAME_BOUND = frozenset({"load_upval", "store_upval", "closure", "make_class", "super_call", "get_super"})
# Ops that name the module's globals.
_MODULE_BOUND = frozenset({"load_global", "store_global", "assign_global", "call_global", "spawn_global", "this_module", "import"})
_BAD_FLAGS = FLAG_METHOD | FLAG_INIT | FLAG_GENERATOR | FLAG_ASYNC | FLAG_MODULE
_MAX_INLINES = 64  # per function: bounds the growth whatever the options say


def _chain_codes(st: FrameState | None) -> list:
    out = []
    while st is not None:
        out.append(st.code)
        st = st.parent
    return out


def _depth(st: FrameState | None) -> int:
    return len(_chain_codes(st)) - 1


def _refusal(fn: Function, call: Instr, code: Code, callee: Function | None, ctx: PassContext, find) -> str | None:
    """Why `call` to `code` cannot be inlined (None: it can)."""
    if call.state is None:
        return "the call has no frame state"
    if code.flags & _BAD_FLAGS:
        return "the callee is a method, initialiser, generator, async or module code"
    if _depth(call.state) >= int(ctx.options.get("inline.max_depth", 3)):
        return "too deep"
    if code is fn.code or any(c is code for c in _chain_codes(call.state)):
        return "recursive"
    nargs = len(call.args) - (1 if call.op == "call" else 0)
    if nargs != code.arity:
        return f"{nargs} argument(s) for {code.arity} parameter(s)"
    if call.op == "call" and any(t not in ("", "any") for t in code.local_types[1 : code.arity + 1]):
        return "typed parameters (the VM checks them on entry)"
    if callee is None:
        return "its IR does not build"
    args = [find(a) for a in (call.args[1:] if call.op == "call" else call.args)]
    for p, a in zip(callee.params[1:], args):
        if a.type not in (p.type, ANY) and p.type != ANY:
            return f"an argument typed {a.type} for a parameter typed {p.type}"
    arg_of = dict(zip(callee.params[1:], args))
    for b in callee.blocks:
        t = b.terminator
        if t is not None and t.op == "branch" and t.args[0] in arg_of and arg_of[t.args[0]].type not in (BOOL, ANY):
            return f"it branches on a parameter given a {arg_of[t.args[0]].type} (the interpreter's error)"
    ops = {i.op for b in callee.blocks for i in b.all()}
    size = sum(len(b.phis) + len(b.instrs) for b in callee.blocks)
    if size > int(ctx.options.get("inline.max_size", 30)):
        return f"too big ({size} instructions)"
    if ops & _FRAME_BOUND:
        return "it uses its own closure or nested code (" + ", ".join(sorted(ops & _FRAME_BOUND)) + ")"
    caller_code = call.state.code
    if ops & _MODULE_BOUND and (caller_code is None or caller_code.path != code.path):
        return "it uses another module's globals"
    if "return" not in ops:
        return "it never returns"
    return None


def _build(code: Code) -> Function | None:
    try:
        return build(code)
    except Unsupported:
        return None


def _split(fn: Function, block: Block, at: int) -> Block:
    """Move block's instructions from position `at` and its terminator to a new
    block, which takes block's place as the predecessor of its successors."""
    cont = Block(max(b.label for b in fn.blocks) + 1)
    moved = block.instrs[at:]
    del block.instrs[at:]
    cont.instrs = moved
    cont.terminator, block.terminator = block.terminator, None
    for ins in cont.all():
        ins.block = cont
    for s in cont.terminator.targets:
        s.preds = [cont if p is block else p for p in s.preds]
    # Exceptional edges: of block's entries in a handler's catch-preds, the
    # first ones still belong to the instructions left in block.
    for h in {i.catch for i in moved if i.catch is not None}:
        staying = sum(1 for i in block.instrs if i.catch is h)
        seen = 0
        for k, p in enumerate(h.catch_preds):
            if p is block:
                if seen >= staying:
                    h.catch_preds[k] = cont
                seen += 1
    return cont


def _edge_operands(call: Instr) -> list[Instr]:
    """The operands the catching handler's phis take along call's exceptional edge."""
    if call.catch is None:
        return []
    k = next(k for k, (_, at) in enumerate(call.catch.phi_preds()) if at is call)
    return [phi.args[k] for phi in call.catch.phis]


def _drop_edge(call: Instr) -> None:
    h = call.catch
    k = next(k for k, (_, at) in enumerate(h.phi_preds()) if at is call)
    del h.catch_preds[k - len(h.preds)]
    for phi in h.phis:
        del phi.args[k]
    call.catch = None


def _raises(ins: Instr) -> bool:
    """Can this inlined instruction raise? (Its bytecode instruction can: the
    counted loop's compare and step carry a state for OSR but cannot.)"""
    code = ins.state.code if ins.state is not None else None
    if code is None:
        return False
    return _can_raise(OPS[OPCODES[code.code[ins.state.pc]].name])


def _inline(fn: Function, call: Instr, code: Code, callee: Function) -> Instr:
    """Splice callee in place of call; return the value that replaces the call's
    result (the caller makes the replacement: see `run`)."""
    block = call.block
    at = block.instrs.index(call)
    st = call.state
    handler, edge = call.catch, _edge_operands(call)
    # Slot 0 of the callee's frame: the function object.
    if call.op == "call":
        func, args = call.args[0], call.args[1:]
        if handler is not None:
            _drop_edge(call)
    else:
        # (No pc: a profile keyed by the call's pc describes the call's result.)
        func = Instr(fn.new_id(), "load_global", [], (call.attrs[0],), ANY, pc=None, block=block)
        func.state = FrameState(st.pc, list(st.locals), list(st.stack), st.code, st.parent)
        # It fails where the call would have (an unset global): it takes the
        # call's place among its block's catching instructions, edge and all.
        func.catch, call.catch = handler, None
        block.instrs.insert(at, func)
        args = list(call.args)
    return splice(fn, call, callee, func, args, handler=handler, edge=edge)


def splice(fn: Function, call: Instr, callee: Function, func: Instr, args: list[Instr], *, callee_object: Any = None, handler: Block | None = None, edge: list[Instr] | None = None) -> Instr:
    """Splice callee's blocks in place of `call` (in its block, with no
    exceptional edge left: `handler` and its phis' operands `edge` are the
    edge it had), its parameters bound to `func` (slot 0) and `args`; return
    the value that replaces the call's result (the caller makes the
    replacement). Every frame state of the callee gets the caller's state
    at the call as its outermost parent, with `callee_object`: the function
    the caller's frame waits for, when the caller knows it (FrameState.callee)."""
    block = call.block
    at = block.instrs.index(call)
    st = call.state
    edge = edge or []
    parent = FrameState(st.pc, list(st.locals), st.stack[: len(st.stack) - len(call.args)], st.code, st.parent, callee_object)
    # Fresh ids and labels, then the parameters become the arguments.
    for v in callee.values():
        if v.type is not None and not v.is_terminator and v.op != "param":
            v.id = fn.new_id()
    label = max(b.label for b in fn.blocks) + 1
    for b in callee.blocks:
        b.label = label
        label += 1
        b.pc = None  # (its pc is the callee's: no block of this code starts there, OSR must not enter)
    replace_uses(callee, dict(zip(callee.params, [func] + args)))
    for b in callee.blocks:
        for ins in b.all():
            s = ins.state
            while s is not None and s.parent is not None:
                s = s.parent
            if s is not None:
                s.parent = parent
    if handler is not None:
        # An error the callee does not catch itself leaves its frame for the
        # caller's handler of the call, whose state (the caller's locals and
        # stack) the callee cannot change: every such edge carries the call's.
        for b in callee.blocks:
            for ins in b.all():
                if ins.catch is None and _raises(ins):
                    ins.catch = handler
                    handler.catch_preds.append(b)
                    for phi, v in zip(handler.phis, edge):
                        phi.args.append(v)
    cont = _split(fn, block, at + 1)
    block.instrs.pop(at)  # the call
    cont.label = label
    jump = Instr(-1, "jump", targets=[callee.entry], pc=call.pc, block=block)
    block.terminator = jump
    callee.entry.preds.append(block)
    results: list[Instr] = []
    for b in callee.blocks:
        t = b.terminator
        if t is not None and t.op == "return":
            results.append(t.args[0])
            b.terminator = Instr(-1, "jump", targets=[cont], pc=t.pc, block=b)
            cont.preds.append(b)
    if len({id(r) for r in results}) == 1:
        result = results[0]
    else:
        types = {r.type for r in results}
        result = Instr(fn.new_id(), "phi", results, (), types.pop() if len(types) == 1 else ANY, block=cont)
        cont.phis.append(result)
    i = fn.blocks.index(block)
    fn.blocks[i + 1 : i + 1] = callee.blocks + [cont]
    return result


@register("inline", doc="inline small known callees (ctx.resolve), with frame-state chains for exact traces", order=60)
def run(fn: Function, ctx: PassContext) -> bool:
    if ctx.resolve is None:
        return False
    refused: set[Instr] = set()
    count = 0
    # Results replace the calls' uses once at the end: one walk over the
    # function instead of one per inlined call (inlined values may name an
    # earlier call meanwhile; `find` follows the chain).
    results: dict[Instr, Instr] = {}

    def find(v: Instr) -> Instr:
        while v in results:
            v = results[v]
        return v

    while count < _MAX_INLINES:
        call = next((i for b in fn.blocks for i in b.instrs if i.op in _CALLS and i not in refused), None)
        if call is None:
            break
        code = ctx.resolve(call)
        if not isinstance(code, Code):
            refused.add(call)
            continue
        callee = _build(code)
        why = _refusal(fn, call, code, callee, ctx, find)
        if why is not None:
            ctx.log.append(f"inline: {fn.name} @pc {call.pc}: not inlining {code.name}: {why}")
            refused.add(call)
            continue
        results[call] = _inline(fn, call, code, callee)
        ctx.log.append(f"inline: {fn.name} @pc {call.pc}: inlined {code.name}")
        count += 1
    if count:
        replace_uses(fn, {c: find(c) for c in results})
        retype(fn)
    return count > 0


def module_resolver(init: Code):
    """A static resolver for the module whose top-level code is `init`:
    `call_global[g]` reaches the hoisted function stored in global g when the
    module stores that slot exactly once, from a `MAKE_CLOSURE` without
    captures, and no code of the module assigns it again."""
    codes = _codes(init)
    stores: dict[int, int] = {}
    bound: dict[int, Code] = {}
    for c in codes:
        prev = None
        for pc, (op, args) in sorted(decode(c).items()):
            name = OPCODES[op].name
            if name in ("STORE_GLOBAL", "ASSIGN_GLOBAL"):
                stores[args[0]] = stores.get(args[0], 0) + 1
                if c is init and prev is not None and OPCODES[prev[0]].name == "MAKE_CLOSURE":
                    sub = c.consts[prev[1][0]]
                    if isinstance(sub, Code) and not sub.captures:
                        bound[args[0]] = sub
            prev = (op, args)
    known = {g: k for g, k in bound.items() if stores.get(g) == 1}

    def resolve(call: Instr) -> Code | None:
        if call.op != "call_global" or not call.attrs:
            return None
        if call.state is None or call.state.code is None or call.state.code.path != init.path:
            return None  # (a call of another module's code names that module's globals)
        return known.get(call.attrs[0])

    return resolve
