"""Exact-pc deoptimisation out of native code: the exit table and the frame rebuild (docs/native.md).

Every failure exit of native code (emit.py `fail_if`, and a poll that says
stop) has an *exit state*: the interpreter frame as it is just before the
failing instruction runs (ir/nodes.py FrameState), so that the interpreter
re-executes that instruction and raises the same error with the same trace,
or, for a caller whose native callee left, the frame *waiting for the
callee to return* (the call's operands popped; the interpreter's return op,
the op after the call, pushed with it on `fb.frames`).

How the values travel: the exit writes one *record* into the deopt buffer,
`[exit id, word...]`, one int64 word per value the state names that is not
a constant (i64 as is, double by its bits, i1 zero-extended), at the cursor
held in ctx[3], and advances the cursor; then the function returns its fail
flag. A native caller sees the flag at its call and writes its own
(waiting) record after the callee's, so the buffer holds the native frames
innermost first. `rebuild` reads them back, boxes each word by its machine
type, and rebuilds the interpreter frames outermost first: the root's frame
list in place (it is already `fb.L`), each native callee as a new frame list
`[fn, locals..., stack...]` with its caller pushed on `fb.frames` exactly as
CALL_GLOBAL pushes it. The op returned is the interpreter's op at the
innermost frame's pc (vm.decoded: whatever the interpreter would run there,
a Python-JIT entry included).

Exit ids are indices into the compiled module's table (`ExitState`), so a
table belongs to one `Compiled` and no id is shared between modules. Exits
of one function with equal states share an id, and exits whose records
hold the same words share the code that writes them (emit.py `exit_to`:
the id arrives through a phi), so a record says which exit was taken by
its id alone.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...bytecode.opcodes import OPCODES
from ...ir.build import decode
from ...ir.nodes import FrameState, Instr
from .layout import array_of
from .select import NotEligible

CALL_OUT = "a call out of native code"  # ExitState.reason of a call the VM makes (select.py)
_CALLS = frozenset(("call", "call_typed", "call_global", "call_method", "call_method_typed"))  # (an "o" result of one: a call out's, callouts.py)

# Slot kinds of an ExitState: a word of machine type "i"/"f"/"b", a constant,
# nil, a built-in (by name: the VM's own object).
WORD, CONST, NIL, BUILTIN = 0, 1, 2, 3
GLOBAL = 5  # a global's value (a function only called out: callouts.py), read from G at the rebuild
ITER = 4  # an array iterator native code keeps as two words, the array and the position (fields.py): rebuilt as an Iterator
# A scalar (int, float, bool) the record already holds in an earlier slot:
# (AGAIN, j), the value of slot j. A frame state often names one SSA value
# in several slots (a parameter and a for-range's hidden end, a variable and
# its copy on the stack); each word is a store in every exit block writing
# it, and exit stores are much of the code generator's time ("Compile time",
# round 9), so the record holds it once. Not objects' words (arrays, "p"):
# each stays a word of its own, as before.
AGAIN = 6
_ONCE = frozenset(("i", "f", "b"))


@dataclass
class ExitState:
    """One failure exit: where the interpreter resumes and how to refill the frame."""

    code: Any
    pc: int  # the pc the interpreter runs next in this frame (the failing instruction)
    slots: list[tuple]  # L[1:], in order: (WORD, m), (CONST, value) or (NIL,)
    values: list[Instr] = field(default_factory=list)  # the SSA values the words hold, in order
    reason: str = ""
    callee: int | None = None  # waiting for a native callee: its global slot (the frame's fn is G[callee])
    ret_pc: int = -1  # waiting: the pc after the call (its return op)
    refund: int = -1  # fuel the exit gives back (emit.py; -1: not decided yet)
    # An OSR entry's state (emit.py emit_osr): the words it takes, in order,
    # each (machine type, the L indexes that may hold the value).
    osr: list[tuple[str, list[int]]] = field(default_factory=list)
    # The frame of an inlined callee (selfinline.py) is this one; `outer` is
    # its caller's, waiting for it (callee: the method), whose words follow
    # this frame's in the same record: `values` holds both frames' words,
    # `slots` this frame's only, and `read_records` gives one per frame.
    outer: ExitState | None = None

    @property
    def words(self) -> int:
        return 1 + len(self.values)


def exit_state(
    st: FrameState | None,
    types: dict,
    *,
    reason: str,
    waiting: Instr | None = None,
    defined: set | None = None,
) -> ExitState:
    """The ExitState of frame state st (NotEligible when it cannot be rebuilt:
    no state, an inlined frame, a value native code does not hold).

    `waiting`: st is the state of that call instruction, and the exit is its
    callee having left: the frame waits for the callee, its operands popped.

    `defined` (a block-start state, Function.entries, which prune-states
    leaves alone): the values the function still defines; a value the passes
    deleted had no use left, so its slot is dead there and is rebuilt nil."""
    if st is None or st.code is None:
        raise NotEligible(f"no frame state to deoptimise to ({reason})")
    if st.parent is not None:
        return _inlined(st, types, reason, waiting, defined)
    vals = list(st.locals[1:])
    stack = list(st.stack)
    out = ExitState(st.code, st.pc, [], reason=reason)
    if waiting is not None:
        n = len(waiting.args)
        if len(stack) < n or stack[len(stack) - n :] != list(waiting.args):
            raise NotEligible(f"the state of the call at pc {st.pc} does not end with its arguments")
        stack = stack[: len(stack) - n]
        op, _ = decode(st.code)[st.pc]
        out.callee = waiting.attrs[0]
        out.ret_pc = st.pc + OPCODES[op].size
    first: dict[Instr, int] = {}  # (a scalar's first slot: AGAIN)
    for v in vals + stack:
        if v is not None and v in first:
            out.slots.append((AGAIN, first[v]))
        elif v is None or (defined is not None and v not in defined):
            out.slots.append((NIL,))
        elif v.op == "const":
            out.slots.append((CONST, v.attrs[0]))
        elif v.op == "builtin":
            out.slots.append((BUILTIN, v.attrs[0]))  # (len too: "L" holds no word)
        elif types.get(v) == "C":
            out.slots.append((CONST, types[v].cls))  # (a class global: construct.py)
        elif types.get(v) == "o" and v.op in _CALLS and reason != "osr":
            out.slots.append((NIL,))  # (a call out's result native code never holds: this exit is on a dead path after it, callouts.py)
        elif types.get(v) == "g" and v.op == "load_global":
            out.slots.append((GLOBAL, v.attrs[0]))  # (native code stores no global: G still holds it)
        elif types.get(v) == "it":
            out.slots.append((ITER,))
            out.values += [v, v]  # (emit.exit_to writes the array, then the position)
        elif v.op in ("range", "range_incl") or v not in types or types[v] in ("L", "v", "o", "qi", "qf", "qb"):  # (q*: an optional scalar, objects.py)
            raise NotEligible(f"the frame state at pc {st.pc} names v{v.id} ({v.op}), which native code does not hold")
        else:
            if types[v] in _ONCE:
                first[v] = len(out.slots)
            out.slots.append((WORD, types[v]))
            out.values.append(v)
    return out


def _inlined(st: FrameState, types: dict, reason: str, waiting: Instr | None, defined: set | None) -> ExitState:
    """The ExitState of a frame state of inlined code (selfinline.py): its
    own frame's, then, in `outer`, the caller's frame waiting at the call
    (the parent state: the caller's stack below the call's operands)."""
    up = st.parent
    assert up is not None
    if up.parent is not None or up.callee is None or up.code is None:
        raise NotEligible(f"no frame state to deoptimise to ({reason}): inlined twice, or an unknown callee")
    inner = exit_state(FrameState(st.pc, st.locals, st.stack, st.code), types, reason=reason, waiting=waiting, defined=defined)
    outer = exit_state(FrameState(up.pc, up.locals, up.stack, up.code), types, reason=reason)
    op, _ = decode(up.code)[up.pc]
    outer.callee = up.callee
    outer.ret_pc = up.pc + OPCODES[op].size
    inner.outer = outer
    inner.values = inner.values + outer.values
    return inner


def word_slots(es: ExitState) -> dict[Instr, list[int]]:
    """Each value es's words hold, with the L indexes (1-based) of every
    slot holding it: its WORD slot and the AGAIN slots naming that one."""
    out: dict[Instr, list[int]] = {}
    at: dict[int, Instr] = {}
    k = 0
    for j, sl in enumerate(es.slots):
        if sl[0] == WORD:
            v = es.values[k]
            k += 1
            at[j] = v
            out.setdefault(v, []).append(j + 1)
        elif sl[0] == AGAIN:
            out[at[sl[1]]].append(j + 1)
    return out


def start_state(fn: Any, pc: int | None, block: Any = None) -> FrameState | None:
    """The frame at the start of the bytecode block at pc: the state of the
    first instruction of `block` that resumes at pc (prune-states made its
    dead slots nil), else Function.entries[pc] (not pruned)."""
    if pc is None:
        return None
    if block is not None:
        for i in block.instrs:
            st = i.state
            if st is not None and st.pc == pc and st.parent is None:
                return st
    return fn.entries.get(pc)


def entry_state(code: Any, params: list[Instr]) -> FrameState:
    """The frame at pc 0 of a call: its parameters, every other local nil."""
    return FrameState(0, [None, *params] + [None] * max(0, code.nlocals - 1 - len(params)), [], code)


def _float(w: int) -> float:
    return struct.unpack("<d", struct.pack("<q", w))[0]


def read_records(words: list[int], table: list[ExitState], builtins: dict, made: list | None = None, globals_of: Callable[[Any], list] | None = None) -> list[tuple[ExitState, list]]:
    """The buffer's records, boxed: [(exit, L[1:] values)], innermost frame
    first; `made` gets the iterators made (the caller puts them on the heap);
    `globals_of(code)`: the globals of a frame's function (its own module's:
    a group's functions may come from several)."""
    out = []
    k = 0
    n = len(words)
    frame: ExitState | None = None
    while k < n:
        if frame is None:
            frame = table[words[k]]
            k += 1
        es, frame = frame, frame.outer  # (an inlined callee's record goes on with its caller's frame)
        vals: list = []
        for s in es.slots:
            kind = s[0]
            if kind == WORD:
                w = words[k]
                k += 1
                m = s[1]
                vals.append(w if m == "i" else _float(w) if m == "f" else w != 0 if m == "b" else None if m == "n" else array_of(w))
            elif kind == AGAIN:
                vals.append(vals[s[1]])
            elif kind == CONST:
                vals.append(s[1])
            elif kind == BUILTIN:
                vals.append(builtins[s[1]])
            elif kind == GLOBAL:
                vals.append(globals_of(es.code)[s[1]] if globals_of is not None else None)
            elif kind == ITER:
                from ...heap.objects import Iterator

                it = Iterator(0, array_of(words[k]))  # (kind 0: an array's, vm/object_ops.py ITER_ARRAY)
                it.pos = words[k + 1]
                k += 2
                vals.append(it)
                if made is not None:
                    made.append(it)
            else:
                vals.append(None)
        out.append((es, vals))
    return out


def rebuild(fb: Any, records: list[tuple[ExitState, list]], globals_of: Callable[[Any], list], decoded: dict, vm: Any = None) -> Any:
    """Rebuild the interpreter frames of `records` (innermost first; the last
    is the root, whose frame is fb.L) and return the op to run next;
    `globals_of(code)` as for read_records."""
    records = records[::-1]
    frames = fb.frames
    L = fb.L
    es, vals = records[0]
    L[1:] = vals
    for nxt, nvals in records[1:]:
        push = getattr(es.callee, "push", None)  # (a `$fields` of a construction: construct.Chain, the frames it comes with)
        if push is not None:
            L = push(frames, L, decoded[es.code][es.ret_pc], nvals, vm)
            es = nxt
            continue
        frames.append((L, decoded[es.code][es.ret_pc]))
        L = [globals_of(es.code)[es.callee] if type(es.callee) is int else es.callee, *nvals]  # (a global slot of the caller's module; a method: its Function, fields.py)
        es = nxt
    fb.L = L
    return decoded[es.code][es.pc]
