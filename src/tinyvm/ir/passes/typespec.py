"""Type specialisation: guards from run-time profiles make `any` values typed.

Runs only when `ctx.speculate` (the JIT, which can deoptimise) and a profile
is given (`ctx.profile`, see PassContext): `("param", slot)` -> the type name
seen for a parameter, `pc` -> the type name of the value the instruction at
that bytecode pc produced. For every value typed `any` whose profile says
`int`, `float`, `string` or `bool`, the pass inserts

    vG = guard["int"] v : int  @pc NEXT [locals | stack with v on top]

right after v's definition and makes every other use of v (operands, phi
operands, frame states) a use of vG; then the phis and arithmetic whose
operands are now typed are re-typed (optimistically, as the builder types
loops), so `add`/`lt` of guarded ints become int operations the range pass and
the JIT can specialise.

The guard's frame state is the state *right after the definition*: the
bytecode pc following the defining instruction, the locals it left, its
operand stack with its operands popped and v pushed, the same parent chain. The
interpreter resumes there with v computed, so nothing runs twice. This needs a
definition that carries a frame state and pushes exactly its IR operands'
count off the stack: calls, `get_field`, `get_index`, `load_global`; a
parameter's guard sits at the end of the entry block with the state of pc 0
(the parameters, every other local nil, an empty stack). A `for_iter` element is
guarded at the start of the loop body instead (`_guard_element`). Values the
profile names but that have no such definition (phis, `load_upval`,
`cell_get`) are left alone, as are profile types other than the four
primitives (classes: the JIT guards those its own way), values already typed,
values nothing uses, and inlined values (their pcs are the callee's, the
profile is this function's).

Contract with the JIT: `guard[T] v` deoptimises at its frame state unless
`type(v)` is T's Python type (`int` excluding bool, `float`, `str`, `bool`);
its result is v itself, now known to be T.
"""

from __future__ import annotations

from ...bytecode.opcodes import OPCODES
from ...bytecode.types import ANY, BOOL, FLOAT, INT, STRING, Type
from ..build import OPS, _result_type
from ..nodes import Block, FrameState, Function, Instr
from ..verify import dominators
from . import PassContext, register

__all__ = ["GUARD_TYPES", "retype", "run"]

GUARD_TYPES: dict[str, Type] = {"int": INT, "float": FLOAT, "string": STRING, "bool": BOOL}

# Definitions a guard can follow: they carry a frame state and pop exactly their operands.
_GUARDABLE = frozenset({"call", "call_global", "call_typed", "call_method", "call_method_typed", "super_call", "get_field", "get_index", "load_global"})
# IR op -> result rule, for the ops typed from their operands.
_RULES = {s.ir: s.result for s in OPS.values() if s.kind == "value" and s.result in ("arith", "int")}


def _state_after(v: Instr, fn: Function) -> FrameState | None:
    st = v.state
    code = st.code if st is not None and st.code is not None else None
    if st is None or code is None or v.pc is None or st.pc != v.pc:
        return None
    n = len(v.args)
    if len(st.stack) < n:
        return None
    nxt = v.pc + OPCODES[code.code[v.pc]].size
    return FrameState(nxt, list(st.locals), st.stack[: len(st.stack) - n] + [v], code, st.parent)


def _entry_state(fn: Function) -> FrameState | None:
    if fn.code is not None:
        nlocals = fn.code.nlocals
    else:  # IR read from text: the frame's width from any state of this frame
        widths = {len(i.state.locals) for b in fn.blocks for i in b.all() if i.state is not None and i.state.parent is None}
        if len(widths) != 1:
            return None
        nlocals = widths.pop()
    entry = fn.entry
    locs: list[Instr | None] = list(fn.params[:nlocals])
    if nlocals > len(locs):
        nil = next((i for i in entry.instrs if i.op == "const" and i.attrs == (None,)), None)
        if nil is None:
            return None
        locs += [nil] * (nlocals - len(locs))
    return FrameState(0, locs, [], fn.code)


def _uses(fn: Function) -> set[Instr]:
    return {a for b in fn.blocks for i in b.all() for a in i.args}


def _substitute(ins: Instr, old: Instr, new: Instr) -> None:
    """ins's uses of old (operands, every link of its frame state) become new."""
    ins.args = [new if a is old else a for a in ins.args]
    st = ins.state
    while st is not None:
        st.locals = [new if a is old else a for a in st.locals]
        st.stack = [new if a is old else a for a in st.stack]
        st = st.parent


def _replace_except(fn: Function, old: Instr, new: Instr, keep: set | frozenset = frozenset()) -> None:
    """Every use of old becomes new, but new's own and those of the
    instructions in `keep`."""
    for b in fn.blocks:
        for ins in b.all():
            if ins is not new and ins not in keep:
                _substitute(ins, old, new)


def retype(fn: Function) -> None:
    """Optimistic typing of the phis and operators still `any` (unknown ->
    one type -> any), now that some operands are guarded."""
    todo = [i for b in fn.blocks for i in b.phis + b.instrs if i.type == ANY and (i.is_phi or i.op in _RULES)]
    for i in todo:
        i.type = None
    changed = True
    while changed:
        changed = False
        for i in todo:
            ts = [a.type for a in i.args if a is not i]
            if i.is_phi:
                known = {t for t in ts if t is not None}
                new = None if not known else known.pop() if len(known) == 1 else ANY
            elif any(t is None for t in ts):
                continue
            else:
                new = _result_type(_RULES[i.op], i.op, i.args, i.attrs)
            if new is not None and new != i.type and i.type != ANY:
                i.type = new if i.type is None else ANY
                changed = True
    for i in todo:
        if i.type is None:
            i.type = ANY


def _guard_element(fn: Function, v: Instr, t: Type, ctx: PassContext) -> bool:
    """A `for_iter` element: guarded at the start of the loop body (the
    element exists only there: on the other edge it is the end marker), with
    the state after FOR_ITER (the iterator stays on the stack, the element on
    top). Only the uses the body dominates become the guard's."""
    block = v.block
    term = block.terminator
    done = term.args[0] if term is not None and term.op == "branch" else None
    st, code = v.state, v.state.code if v.state is not None else None
    if done is None or done.op != "iter_done" or done.args != [v] or code is None or st.pc != v.pc:
        return False
    body = term.targets[1]
    if body.preds != [block] or body.catch_preds or body is term.targets[0]:
        return False
    state = FrameState(v.pc + OPCODES[code.code[v.pc]].size, list(st.locals), list(st.stack) + [v], code, st.parent)
    g = Instr(fn.new_id(), "guard", [v], (str(t),), t, pc=state.pc, state=state, block=body)
    body.instrs.insert(0, g)
    idom = dominators(fn)

    def in_body(b: Block) -> bool:
        while b in idom:
            if b is body:
                return True
            if idom[b] is b:
                return False
            b = idom[b]
        return False

    region = {b for b in fn.blocks if in_body(b)}
    for b in region:
        for ins in b.all():
            if ins is g:
                continue
            if not ins.is_phi:  # (a phi's operands come from its predecessors: below)
                _substitute(ins, v, g)
    for b in fn.blocks:
        for p in b.phis:
            p.args = [g if a is v and pred in region else a for (pred, _), a in zip(b.phi_preds(), p.args)]
    ctx.log.append(f"typespec: {fn.name}: element of the loop at pc {v.pc} guarded as {t}")
    return True


@register("typespec", doc="type specialisation: guards from run-time profiles (only when speculating)", order=65)
def run(fn: Function, ctx: PassContext) -> bool:
    profile = ctx.profile
    if not ctx.speculate or not profile:
        return False
    used = _uses(fn)
    guarded = {i.args[0] for b in fn.blocks for i in b.instrs if i.op == "guard"}  # (run twice: once is enough)
    conditions = {b.terminator.args[0] for b in fn.blocks if b.terminator is not None and b.terminator.op == "branch"}
    changed = False
    param_guards: list[Instr] = []
    for v in list(fn.params) + [i for b in fn.blocks for i in b.instrs]:
        if v.type != ANY or v not in used or v in guarded:
            continue
        if v.state is not None and v.state.parent is not None:
            continue  # inlined: its pc is the callee's, the profile is this code's
        if v.op == "param" and 0 <= getattr(fn.code, "required", -1) < v.attrs[0]:
            continue  # (tldjit: a defaulted parameter may be the MISSING marker on entry)
        key = ("param", v.attrs[0]) if v.op == "param" else v.pc if v.op in _GUARDABLE or v.op == "for_iter" else None
        t = GUARD_TYPES.get(profile.get(key)) if key is not None else None
        if t is None or (t != BOOL and v in conditions):
            continue  # (a branch on a non-bool is the interpreter's error to raise)
        if v.op == "for_iter":
            changed |= _guard_element(fn, v, t, ctx)
            continue
        if v.op == "param":
            state, block = _entry_state(fn), fn.entry
            at = len(block.instrs)
        else:
            state, block = _state_after(v, fn), v.block
            at = block.instrs.index(v) + 1
        if state is None:
            ctx.log.append(f"typespec: no frame state to guard v{v.id} as {t} at")
            continue
        g = Instr(fn.new_id(), "guard", [v], (str(t),), t, pc=state.pc, state=state, block=block)
        block.instrs.insert(at, g)
        if v.op == "param":
            param_guards.append(g)  # (replaced below: every entry guard's state names the raw parameters)
        else:
            _replace_except(fn, v, g)
        changed = True
    for g in param_guards:
        _replace_except(fn, g.args[0], g, set(param_guards))
    if changed:
        retype(fn)
    return changed
