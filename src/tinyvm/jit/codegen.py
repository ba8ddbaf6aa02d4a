"""IR -> Python source: the JIT's code generator (docs/jit.md).

One guest function's SSA IR (after the pass pipeline) becomes one Python
function `_body(e, fb)`; its entry ops (jit/tier.py) are
`functools.partial(_body, k)`, one per place the interpreter may enter it.
The frames stay the interpreter's (Sparkplug-style): compiled code keeps SSA
values in Python locals `v<id>` and writes them back into the frame list
`fb.L` (locals in slot order, then the operand stack, bottom first) whenever
it hands over to the interpreter. So it can enter and leave at any bytecode pc.

Control flow: a dispatch loop over labels (`while True: if _b == 3: ...
elif ...`), resume labels first, then blocks innermost loop first. A loop
header's label holds a Python `while True:` of its own whose back-edges
`continue` it; a block with one predecessor is emitted inline in it; an
if-then(-else) diamond whose arms are jump chains is emitted as a Python
`if`, its join after it. Phis are parallel assignments on each edge.

What is compiled inline: constants, jumps, branches, returns, phis, guards,
the counted loop's compare and step, and fast paths that mirror the
interpreter's own (`fast_paths`: int and float arithmetic and comparisons
when the language's rules allow, `Rules.int_fast`; fields of instances;
array indexing and for-in). An inline store (a field, an array element) is
followed by the heap's write barrier, `if x.mark == _heap.watch:
_heap.barrier(x, v)` (docs/gc.md, "Write barriers"), unless the value is
known to be a scalar (typed int, float or bool, or a scalar constant); the
stores that step run the interpreter's closures, which barrier themselves. Everything else *steps*: the frame state is written back into fb.L and the instruction's
plain (unfused) interpreter closure runs inline. When it continues at its
successor (`_P[q]`), compiled code pops the result and goes on; when it
returns anything else (a guest call pushed a frame, a fiber parked), compiled
code returns that op to the dispatch loop: a guest call never recurses in
Python. Its return lands on `_P[q]`, which is a compiled entry when the values
live after the call can all be read back from the frame.

Exits: a failing guard deoptimises (`return _deopt(fb, site)` after the
write back: the interpreter resumes at the guard's pc); a back-edge whose
countdown ran out, or with a collection pending, writes the header's state
back and calls `_slice` (jit/tier.py: collect, limits, preemption).
Errors: one try/except around the body; the except clause finds the raising
instruction from the traceback's line number (`lines`: line -> frame state),
writes that state back from `locals()`, sets `fb.epc` (the entry ops are
registered as BLOCK_PC ops: "ask the fiber") and re-raises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..bytecode import opcodes as O
from ..bytecode.opcodes import OPCODES, eval_effect
from ..bytecode.types import BOOL, FLOAT, INT, ArrayT, TupleT
from ..heap.objects import INT_MAX, INT_MIN
from ..ir.build import OPS, decode
from ..ir.nodes import Block, FrameState, Function, Instr
from ..ir.passes.prune import live_locals
from .fuel import block_ends, prefix_counts

# IR ops whose interpreter closure may hand control elsewhere (a guest
# frame): compiled code gets an entry after them when it can.
CALLS = frozenset(
    {
        "call",
        "call_global",
        "call_typed",
        "call_method",
        "call_method_typed",
        "super_call",
    }
)
_INT_BIN = {"add": "+", "sub": "-", "mul": "*"}
# Division and remainder truncate (runtime/arith.py): Python's floor forms
# agree when a >= 0 and b > 0, the only case taken inline.
_INT_DIV = {"div": "//", "mod": "%"}
_CMP = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
# Guard type names -> the Python test of a value `x` (others: typeof(x) == T).
_GUARD_TESTS = {
    "int": "type({x}) is int",
    "float": "type({x}) is float",
    "string": "type({x}) is str",
    "bool": "type({x}) is bool",
    "nil": "{x} is None",
}
BACKEDGE_COUNT = 1000  # loop iterations between time-slice checks (preemption, limits)
MAX_DEPTH = 12  # indentation levels before a block is emitted under its own label, not inline


class NotCompilable(Exception):
    """The function's IR uses something the code generator cannot compile."""


@dataclass
class Entry:
    pc: int
    index: int
    kind: str  # "header" (block start, OSR) or "return" (after a call)


@dataclass
class Generated:
    source: str
    entries: list[Entry]
    lines: dict[int, tuple]  # source line -> (pc, local names, stack names)
    sites: list[tuple[int, str, Any]]  # deopt site -> (pc, reason, the profile key of its speculation)
    consts: list = field(default_factory=list)
    ninstrs: int = 0


def _name(v: Instr | None) -> str | None:
    return None if v is None else f"v{v.id}"


class _Gen:
    def __init__(self, fn: Function, code: Any, *, int_fast: bool, stress: bool, metered: bool = False) -> None:
        self.fn = fn
        # Fuel (jit/fuel.py): the cursor [start, end, pc, extra] of what the
        # code emitted so far has added to the meter (None: nothing of the
        # current IR block yet); only for a VM that counts fuel.
        self.metered = metered
        self.fc: list | None = None
        if metered:
            self.pre = prefix_counts(code)
            starts = {i.pc for b in fn.blocks for i in b.instrs if i.op == "fuel"}
            self.fuel_ends = block_ends(code, starts | {b.pc for b in fn.blocks if b.pc is not None})
        self.code = code
        self.insns = decode(code)
        self.int_fast = int_fast
        self.stress = stress
        self.out: list[str] = []
        self.lines: dict[int, tuple] = {}
        self.sites: list[tuple[int, str]] = []
        self.consts: list = []
        self.nlocals = code.nlocals
        self.shapes: list = []  # (generate: the heap's shapes, for field access)

    # -- analysis --------------------------------------------------------------

    def analyse(self) -> None:
        fn = self.fn
        # The block entry states name a value in every slot; a slot dead in
        # the bytecode at that pc is untracked there, as prune-states does for
        # the instructions' states (a pass may have deleted its value).
        live = live_locals(self.code)
        for pc, st in fn.entries.items():
            slots = live.get(pc)
            if slots is not None:
                st.locals = [v if i == 0 or i in slots else None for i, v in enumerate(st.locals)]
        # Blocks reached by normal edges from the entry (handlers stay interpreted:
        # an error leaves compiled code and `_unwind` finds them).
        seen, order, stack = {fn.entry}, [], [fn.entry]
        while stack:
            b = stack.pop()
            order.append(b)
            for t in b.terminator.targets if b.terminator is not None else []:
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
        self.reach = seen
        self.order = [b for b in fn.blocks if b in seen]
        self.index = {b: i for i, b in enumerate(self.order)}
        self.defined = {p for p in fn.params}
        for b in self.order:
            for ins in b.all():
                if ins.type is not None or ins.is_phi:
                    self.defined.add(ins)
        self.headers = set()
        for b in self.order:
            for t in b.terminator.targets:
                if self.index[t] <= self.index[b]:
                    self.headers.add(t)
        self.liveness()

    def uses(self, ins: Instr) -> list[Instr]:
        out = [] if ins.is_phi else list(ins.args)
        if ins.state is not None:
            out += ins.state.values()
        return out

    def liveness(self) -> None:
        live_in: dict[Block, set] = {b: set() for b in self.order}
        changed = True
        while changed:
            changed = False
            for b in reversed(self.order):
                live = self.live_out(b, live_in)
                for ins in reversed(b.instrs + [b.terminator]):
                    live.discard(ins)
                    live.update(self.uses(ins))
                live |= set(b.phis) & self.used_anywhere(b)
                if live != live_in[b]:
                    live_in[b] = live
                    changed = True
        self.live_in = live_in

    def used_anywhere(self, b: Block) -> set:
        # (a phi is needed at its block's start when anything can read it; cheap superset)
        return set(b.phis)

    def live_out(self, b: Block, live_in: dict) -> set:
        live: set = set()
        for k, t in enumerate(b.terminator.targets):
            live |= live_in[t] - set(t.phis)
            i = self.edge_index(b, t, k)
            for p in t.phis:
                live.add(p.args[i])
        return live

    def edge_index(self, b: Block, t: Block, k: int) -> int:
        """The operand index of the edge b -> t that is b's k-th target."""
        targets = b.terminator.targets
        nth = sum(1 for x in targets[:k] if x is t)
        idx = [i for i, p in enumerate(t.preds) if p is b]
        return idx[min(nth, len(idx) - 1)]

    def state_ok(self, st: FrameState | None) -> bool:
        return st is not None and st.parent is None and all(v in self.defined for v in st.values())

    # -- emission helpers --------------------------------------------------------

    def emit(self, ind: int, text: str, state: tuple | None = None) -> None:
        self.out.append("    " * ind + text)
        if state is not None:
            self.lines[len(self.out)] = state

    def flush(self, ind: int, x: int) -> None:
        """Add to the meter what lies between the cursor and pc x; the cursor moves to x."""
        fc = self.fc
        if not self.metered or fc is None:
            return
        d = self.pre[x] - self.pre[fc[2]] + fc[3]
        if d:
            self.emit(ind, f"_M.cell_contents += {d}")
        fc[2], fc[3] = x, 0

    def exit_fuel(self, ind: int, pc: int) -> None:
        """Before leaving for the interpreter at pc: the meter holds exactly
        the instructions before pc (the interpreter counts pc itself)."""
        if not self.metered:
            return
        fc = self.fc
        if fc is None:
            if pc not in self.fuel_ends:  # (nothing of this block was counted: only its start is exact)
                raise NotCompilable(f"fuel: an exit at pc {pc} before its block is counted")
            return
        if not fc[0] <= pc <= fc[1]:
            raise NotCompilable(f"fuel: an exit at pc {pc} outside its bytecode block")
        d = self.pre[pc] - self.pre[fc[2]] + fc[3]
        if d:
            self.emit(ind, f"_M.cell_contents += {d}")

    def fuel_op(self, ins: Instr) -> None:
        """`fuel` (jit/fuel.py): control enters the bytecode block at ins.pc;
        what is left of the previous one is added with the next flush."""
        fc = self.fc
        extra = self.pre[fc[1]] - self.pre[fc[2]] + fc[3] if fc is not None else 0
        s = ins.pc
        self.fc = [s, self.fuel_ends[s], s, extra]

    def const(self, value: Any) -> str:
        if value is None or type(value) in (bool, str) or (type(value) is int and abs(value) < 1 << 62):
            return repr(value)
        if type(value) is float and math.isfinite(value):
            return repr(value)
        self.consts.append(value)
        return f"_K[{len(self.consts) - 1}]"

    def state_key(self, st: FrameState) -> tuple:
        return (
            st.pc,
            tuple(_name(v) for v in st.locals[1:]),
            tuple(_name(v) for v in st.stack),
        )

    def write_back(self, st: FrameState, extra: list[str] | None = None) -> str:
        """`L[1:] = (...)`: the frame list as the interpreter has it at st.pc."""
        # An untracked slot (`_`: prune-states) is dead where st resumes: nil.
        vals = [_name(v) or "None" for v in st.locals[1:]]
        vals += [_name(v) for v in st.stack] + (extra or [])
        if not vals:
            return "del L[1:]"
        return f"L[1:] = ({', '.join(vals)},)"

    def deopt(self, ind: int, st: FrameState, reason: str, counted: bool = True, key: Any = None) -> None:
        self.exit_fuel(ind, st.pc)
        self.emit(ind, self.write_back(st))
        if counted:
            self.sites.append((st.pc, reason, key))
            self.emit(ind, f"return _deopt(fb, {len(self.sites) - 1})")
        elif reason == "stress":
            self.emit(ind, f"return _stress_exit({st.pc})")
        else:
            self.emit(ind, f"return _O[{st.pc}]")

    def maybe_stress(self, ind: int, st: FrameState) -> None:
        if self.stress and self.state_ok(st):
            self.emit(ind, "if _rnd() < 0.125:")
            self.deopt(ind + 1, st, "stress", counted=False)

    # -- the function ------------------------------------------------------------

    def run(self) -> Generated:
        self.analyse()
        fn = self.fn
        entries: list[Entry] = []
        prologues: list[list[str]] = []
        self.seg_label: dict[Instr, int] = {}  # call -> label of the code after it
        used_pcs: set[int] = set()
        labels = {b: b.label for b in self.order}
        next_label = max(labels.values(), default=0) + 1
        # Entries at block starts: pc 0 always, then the loop headers.
        start = next((b for b in self.order if b.pc == 0 and b is not fn.entry), None)
        if start is None:
            # simplify-cfg merged the entry block into the block at pc 0 (no
            # jump back to pc 0): calls enter at the entry block, parameters in hand.
            if fn.entry.preds or not self.live_in[fn.entry] <= set(fn.params):
                raise NotCompilable("no block at pc 0")
            start = fn.entry
            self.start = start
            entries.append(Entry(0, 0, "header"))
            names = [_name(p) for p in fn.params]
            prologues.append(self.fuel_prologue(0) + [f"{', '.join(names)}, = {', '.join(f'L[{i}]' for i in range(len(names)))},", f"_b = {labels[start]}"])
            used_pcs.add(0)
        self.start = start
        for b in ([start] if start is not fn.entry else []) + [h for h in self.order if h in self.headers and h is not start]:
            st = fn.entries.get(b.pc) if b.pc is not None else None
            if st is None or not self.state_ok(st) or not self.covered(self.live_in[b], st):
                if b is start:
                    raise NotCompilable("the entry state at pc 0 is not known")
                raise NotCompilable(f"the loop header state at pc {b.pc} is not known")
            entries.append(Entry(b.pc, len(entries), "header"))
            prologues.append(self.prologue(st, labels[b], self.live_in[b]))
            used_pcs.add(b.pc)
        self.header_state = {b: fn.entries[b.pc] for b in self.headers}
        # Entries after calls, where everything live afterwards is in the frame.
        for b in self.order:
            live = self.live_out(b, self.live_in)
            later = b.instrs + [b.terminator]
            for j in range(len(later) - 1, -1, -1):
                ins = later[j]
                if ins.op in CALLS and ins.pc is not None and ins.state is not None:
                    q = ins.pc + OPCODES[self.insns[ins.pc][0]].size
                    st = ins.state
                    after = FrameState(
                        q,
                        list(st.locals),
                        st.stack[: len(st.stack) - len(ins.args)] + [ins],
                        st.code,
                    )
                    if q not in used_pcs and self.state_ok(after) and self.covered(live, after):
                        used_pcs.add(q)
                        self.seg_label[ins] = next_label
                        entries.append(Entry(q, len(entries), "return"))
                        prologues.append(self.prologue(after, next_label, live))
                        next_label += 1
                live.discard(ins)
                live.update(self.uses(ins))
        self.emit(0, "def _body(_e, fb):")
        self.emit(1, "L = fb.L")
        self.emit(1, f"_cd = {BACKEDGE_COUNT}")
        if any(ins.op in ("get_index", "set_index") for b in self.order for ins in b.instrs):
            self.emit(1, _PB_CACHES)
        for k, lines in enumerate(prologues):
            self.emit(1, f"{'if' if k == 0 else 'elif'} _e == {k}:")
            for line in lines:
                self.emit(2, line)
        self.emit(1, "try:")
        self.emit(2, "while True:")
        # Which blocks are emitted inline in their single predecessor.
        entry_blocks = {b for b in self.order if b in self.headers or b is start}
        self.inline = set()
        for b in self.order:
            if b is fn.entry or b in entry_blocks:
                continue
            if len(b.preds) == 1 and not b.catch_preds and b.preds[0] in self.reach:
                self.inline.add(b)
        # If-then(-else) diamonds: the join follows the `if` statement inline
        # rather than under a label of its own (no dispatch per iteration).
        self.joins: dict[Block, Block] = {}
        for b in self.order:
            j = self.diamond(b, entry_blocks)
            if j is not None and j not in self.inline:
                self.joins[b] = j
                self.inline.add(j)
        self.fallthrough: Block | None = None
        first = True
        self.labels = labels
        self.need_label: list[Block] = []
        self.loop: Block | None = None
        # Code after calls with an entry, under its own label: first in the
        # dispatch chain (every return to compiled code starts there).
        for b in self.order:
            later = b.instrs
            for j, ins in enumerate(later):
                if ins in self.seg_label:
                    self.emit(3, f"{'if' if first else 'elif'} _b == {self.seg_label[ins]}:")
                    first = False
                    self.loop = None
                    self.block(4, b, j + 1)
        # Innermost loops last in RPO: first in the dispatch chain.
        for b in reversed(self.order):
            if (b is fn.entry and b is not start) or b in self.inline:
                continue
            self.emit(3, f"{'if' if first else 'elif'} _b == {labels[b]}:")
            first = False
            self.chunk(4, b)
        # Blocks nested too deeply to be emitted inline: under their own labels.
        done: set[Block] = set()
        while self.need_label:
            b = self.need_label.pop()
            if b not in done:
                done.add(b)
                self.emit(3, f"elif _b == {labels[b]}:")
                self.chunk(4, b)
        self.emit(1, "except _ERRORS as _x:")
        self.emit(2, "_fail(fb, L, _x, _LINES.get(_x.__traceback__.tb_lineno), locals())")
        self.emit(2, "raise")
        # The entry ops: `functools.partial(_body, k)` each (jit/tier.py), a
        # C-level call cheaper than a Python wrapper per entry.
        ninstrs = sum(len(b.instrs) + len(b.phis) + 1 for b in self.order)
        return Generated(
            "\n".join(self.out) + "\n",
            entries,
            self.lines,
            self.sites,
            self.consts,
            ninstrs,
        )

    def covered(self, live: set, st: FrameState) -> bool:
        """Can an entry with state st define every value live there: read
        from the frame, or a constant recomputed (a hoisted one, say)?"""
        have = set(st.values())
        return all(self.remat(v, have, 0) for v in live)

    def remat(self, v: Instr, have: set, depth: int) -> bool:
        """Is v in the frame, or can an entry recompute it: a constant, a
        guard on a value it has, or an instruction that cannot raise (no
        frame state) over such values (LICM hoisted it out of the loop)?"""
        if v in have:
            return True
        if v not in self.defined or depth > 8:
            return False
        if v.op == "const":
            return True
        if v.op == "guard":
            return v.args[0] in have
        if v.op in ("phi", "param", "caught") or v.pc is None:
            return False
        if v.state is not None:
            # Only what compiles to one expression that cannot raise: int
            # comparisons and unchecked int arithmetic (what LICM may hoist).
            ints = self.int_fast and len(v.args) == 2 and all(a.type == INT for a in v.args)
            if not (ints and (v.op in _CMP or (v.op in _INT_BIN and not v.checked))):
                return False
        return all(self.remat(a, have, depth + 1) for a in v.args)

    def prologue(self, st: FrameState, label: int, live: set | None = None) -> list[str]:
        # The frame list holds exactly the state's slots: one unpacking (a slot
        # named twice is assigned twice, `_` takes the untracked ones).
        slots = [_name(v) or "_" for v in st.locals] + [_name(v) for v in st.stack]
        out = self.fuel_prologue(st.pc) + [f"{', '.join(slots)}, = L"]
        have = set(st.values())
        # A guard's result is its operand, the same object: where the frame
        # holds only the guarded value, the operand is defined too (a block
        # entry state, which typespec does not rewrite, may still name the
        # operand: a back-edge writes that state back).
        for v in sorted(have, key=lambda x: x.id):
            if v.op == "guard" and v.args[0] not in have and v.args[0] in self.defined:
                out.append(f"{_name(v.args[0])} = {_name(v)}")
        order: list[Instr] = []

        def visit(v: Instr) -> None:  # (operands first)
            if v in have or v in order:
                return
            for a in v.args if v.op != "guard" else []:
                visit(a)
            order.append(v)

        for v in sorted(live or (), key=lambda x: x.id):
            visit(v)
        for v in order:
            if v.op not in ("const", "guard"):  # an instruction that cannot raise, recomputed
                saved, self.out, stress, self.stress = self.out, [], self.stress, False
                self.instr(0, v)
                out += self.out
                self.out, self.stress = saved, stress
            elif v.op == "const":  # (LICM hoisted it out of the loop)
                k = v.attrs[0] if v.attrs else None
                if type(k).__name__ == "_Ref":
                    _, args, _ = self.bytecode(v)
                    k = self.code.consts[args[0]]
                out.append(f"{_name(v)} = {self.const(k)}")
            else:
                # A guard made before the loop (typespec) on a value the frame
                # holds: checked again here; failing, the interpreter goes on
                # at this entry's pc (nothing has run yet).
                t = str(v.attrs[0]) if v.attrs else str(v.type)
                a = _name(v.args[0])
                test = _GUARD_TESTS.get(t, "_typeof({x}) == " + repr(t)).format(x=a)
                out.append(f"if not ({test}):")
                out.append(f"    return _O[{st.pc}]")
                out.append(f"{_name(v)} = {a}")
        out.append(f"_b = {label}")
        return out

    def fuel_prologue(self, pc: int) -> list[str]:
        # The loop counted this entry's dispatch as one instruction: the
        # compiled code counts its own. With a fuel stop set, the interpreter
        # runs (it steps exactly to the stop: docs/jit.md, fuel).
        if not self.metered:
            return []
        return ["_M.cell_contents -= 1", "if _lim.stop is not None:", f"    return _O[{pc}]"]

    # -- blocks ----------------------------------------------------------------

    def chunk(self, ind: int, b: Block) -> None:
        """A labelled block; a loop header's is a Python `while` loop of its own
        (its back-edges `continue` it, other edges `break` to the dispatch)."""
        if b in self.headers:
            self.loop = b
            self.emit(ind, "while True:")
            self.block(ind + 1, b, 0)
        else:
            self.loop = None
            self.block(ind, b, 0)

    def goto(self, ind: int, label: int, block: Block | None = None) -> None:
        if block is not None and block is self.loop:
            self.emit(ind, "continue")
        elif self.loop is not None:
            self.emit(ind, f"_b = {label}")
            self.emit(ind, "break")
        else:
            self.emit(ind, f"_b = {label}")
            self.emit(ind, "continue")

    def block(self, ind: int, b: Block, start: int) -> None:
        self.fc = None
        if self.metered and start > 0:  # after a call: counted up to the call, included
            call = b.instrs[start - 1]
            fuels = [i for i in b.instrs[:start] if i.op == "fuel"]
            if not fuels:
                raise NotCompilable(f"fuel: the call at pc {call.pc} is in no counted block")
            s = fuels[-1].pc
            q = call.pc + OPCODES[self.insns[call.pc][0]].size
            self.fc = [s, self.fuel_ends[s], q, 0]
        for ins in b.instrs[start:]:
            self.instr(ind, ins)
            if ins in self.seg_label:
                self.goto(ind, self.seg_label[ins])
                return
        self.terminator(ind, b)

    def diamond(self, b: Block, entry_blocks: set) -> Block | None:
        """The join of an if-then or if-then-else at b whose arms are jump
        chains of single-predecessor blocks, or None."""
        term = b.terminator
        if term is None or term.op != "branch" or len(term.targets) != 2 or term.targets[0] is term.targets[1]:
            return None

        def arm(x: Block) -> tuple[Block, Block] | None:  # (the arm's last block, where it jumps)
            seen = 0
            while x in self.inline and x.terminator.op == "jump" and seen < 64:
                nxt = x.terminator.targets[0]
                if nxt not in self.inline or nxt in self.joins.values():
                    return x, nxt
                x = nxt
                seen += 1
            return None

        t, f = term.targets
        for a, j in ((t, f), (f, t)):  # if-then: one arm is the join itself
            end = arm(a)
            if end is not None and end[1] is j and set(j.preds) == {b, end[0]} and len(j.preds) == 2:
                return j if self.joinable(j, entry_blocks) else None
        et, ef = arm(t), arm(f)
        if et is not None and ef is not None and et[1] is ef[1] and set(et[1].preds) == {et[0], ef[0]} and len(et[1].preds) == 2:
            return et[1] if self.joinable(et[1], entry_blocks) else None
        return None

    def joinable(self, j: Block, entry_blocks: set) -> bool:
        return j not in entry_blocks and j not in self.headers and not j.catch_preds and j is not self.fn.entry

    def edge(self, ind: int, b: Block, t: Block, k: int) -> None:
        i = self.edge_index(b, t, k)
        dst = [p for p in t.phis if p.args[i] is not p]
        if dst:
            self.emit(
                ind,
                f"{', '.join(_name(p) for p in dst)}, = {', '.join(_name(p.args[i]) for p in dst)},",
            )
        if t is self.fallthrough:  # an arm of a diamond: the join follows the `if`
            self.emit(ind, "pass")
            return
        if t in self.headers and self.index[t] <= self.index[b]:
            # A back-edge: a GC safe point, and every so often the end of a
            # time slice (limits, preemption: jit/tier.py `slice_end`), with
            # the frame written back as the interpreter has it at the header.
            self.emit(ind, "_cd -= 1")
            self.emit(ind, f"if _cd < 0 or _heap.pending{' or _lim.stop is not None' if self.metered else ''}:")
            self.emit(ind + 1, self.write_back(self.header_state[t]))
            if self.metered:  # a fuel stop: the interpreter steps exactly to it
                self.emit(ind + 1, "if _lim.stop is not None:")
                self.emit(ind + 2, f"return _O[{t.pc}]")
            self.emit(ind + 1, f"_t = _slice(fb, {t.pc}, _cd < 0)")
            self.emit(ind + 1, f"_cd = {BACKEDGE_COUNT} if _cd < 0 else _cd")
            self.emit(ind + 1, "if _t is not None:")
            self.emit(ind + 2, "return _t")
        if t in self.inline and ind <= MAX_DEPTH:
            self.block(ind, t, 0)
        else:
            if t in self.inline:
                self.need_label.append(t)
            self.goto(ind, self.labels[t], t)

    def terminator(self, ind: int, b: Block) -> None:
        term = b.terminator
        op = term.op
        if self.fc is not None:  # the whole bytecode block ran (its jump, branch, return or throw too)
            self.flush(ind, self.fc[1])
        fc = list(self.fc) if self.fc is not None else None
        if op == "jump":
            self.edge(ind, b, term.targets[0], 0)
        elif op == "branch":
            c = _name(term.args[0])
            t, f = term.targets
            join = self.joins.get(b)
            if join is not None and ind <= MAX_DEPTH:
                saved, self.fallthrough = self.fallthrough, join
                if term.args[0].type == BOOL:
                    self.emit(ind, f"if {c}:")
                    self.edge(ind + 1, b, t, 0)
                    self.emit(ind, "else:")
                    self.edge(ind + 1, b, f, 1)
                else:
                    st = self.branch_state(b, term)
                    if st is None:
                        raise NotCompilable(f"no frame state for the branch at pc {term.pc}")
                    self.emit(ind, f"if {c} is True:")
                    self.edge(ind + 1, b, t, 0)
                    self.emit(ind, f"elif {c} is False:")
                    self.edge(ind + 1, b, f, 1)
                    self.emit(ind, "else:")
                    self.fc = fc
                    self.deopt(ind + 1, st, "condition not bool", counted=False)
                self.fallthrough = saved
                self.block(ind, join, 0)
                return
            if term.args[0].type == BOOL:
                self.emit(ind, f"if {c}:")
                self.edge(ind + 1, b, t, 0)
                self.emit(ind, "else:")
                self.edge(ind + 1, b, f, 1)
                return
            self.emit(ind, f"if {c} is True:")
            self.edge(ind + 1, b, t, 0)
            self.emit(ind, f"if {c} is False:")
            self.edge(ind + 1, b, f, 1)
            # Not a bool: the interpreter's jump raises the TypeError.
            st = self.branch_state(b, term)
            if st is None:
                raise NotCompilable(f"no frame state for the branch at pc {term.pc}")
            self.fc = fc
            self.deopt(ind, st, "condition not bool", counted=False)
        elif op == "return":
            self.emit(ind, "_c, _r = fb.frames.pop()")
            self.emit(ind, f"_c.append({_name(term.args[0])})")
            self.emit(ind, "fb.L = _c")
            self.emit(ind, "return _r")
        elif op == "throw":
            st = term.state
            self.emit(ind, f"raise _Throw({_name(term.args[0])})", self.state_key(st))
        else:
            raise NotCompilable(f"terminator {op}")

    def branch_state(self, b: Block, term: Instr) -> FrameState | None:
        t = term.targets[0]
        st = self.fn.entries.get(t.pc) if t.pc is not None else None
        if st is None or term.pc is None:
            return None
        i = self.edge_index(b, t, 0)
        sub = {p: p.args[i] for p in t.phis}
        out = FrameState(
            term.pc,
            [sub.get(v, v) if v is not None else None for v in st.locals],
            [sub.get(v, v) for v in st.stack] + [term.args[0]],
            st.code,
        )
        return out if self.state_ok(out) else None

    # -- instructions ------------------------------------------------------------

    def bytecode(self, ins: Instr) -> tuple[str, tuple, int]:
        """(opcode name, operands, next pc) of the instruction ins came from."""
        if ins.pc is None or ins.pc not in self.insns:
            raise NotCompilable(f"{ins.op} has no bytecode pc")
        opc, args = self.insns[ins.pc]
        info = OPCODES[opc]
        return info.name, args, ins.pc + info.size

    def instr(self, ind: int, ins: Instr) -> None:
        op = ins.op
        v = _name(ins)
        a = [_name(x) for x in ins.args]
        if op == "const":
            k = ins.attrs[0] if ins.attrs else None
            if type(k).__name__ == "_Ref":
                name, args, _ = self.bytecode(ins)
                k = self.code.consts[args[0]]
            self.emit(ind, f"{v} = {self.const(k)}")
            return
        if op == "fuel":
            if self.metered:
                self.fuel_op(ins)
            return
        if op == "guard":
            t = str(ins.attrs[0]) if ins.attrs else str(ins.type)
            test = _GUARD_TESTS.get(t, "_typeof({x}) == " + repr(t)).format(x=a[0])
            if self.stress:
                test = f"{test} and _rnd() >= 0.125"
            self.emit(ind, f"if not ({test}):")
            if not self.state_ok(ins.state):
                raise NotCompilable(f"guard without a usable frame state (pc {ins.pc})")
            # (the profile entry typespec made the guard from: banned if it keeps failing)
            g = ins.args[0]
            self.deopt(ind + 1, ins.state, f"guard {t} failed", key=("param", g.attrs[0]) if g.op == "param" else g.pc)
            self.emit(ind, f"{v} = {a[0]}")
            return
        name, args, q = self.bytecode(ins)
        if name == "FOR_RANGE":  # the counted loop: both locals proven ints
            if op in ("lt", "le"):
                self.emit(ind, f"{v} = {a[0]} {_CMP[op]} {a[1]}")
            elif op == "add":
                self.emit(ind, f"{v} = {a[0]} + {a[1]}")
            elif op == "const":
                pass
            else:
                raise NotCompilable(f"{op} at FOR_RANGE")
            return
        if op == "iter_done":
            self.emit(ind, f"{v} = {a[0]} is _DONE")
            return
        if op == "passed":  # (tldjit: JUMP_IF_PASSED's test, as vm/ops_defaults.py)
            self.emit(ind, f"{v} = {a[0]} is not _MISSING")
            return
        if op == "missing":  # (LOAD_MISSING: the marker as a call's argument)
            self.emit(ind, f"{v} = _MISSING")
            return
        if op == "truthy":
            self.emit(ind, f"{v} = not ({a[0]} is False or {a[0]} is None)")
            return
        if op == "for_iter":
            self.for_iter(ind, ins, args, q)
            return
        if OPS[name].ir != op:
            raise NotCompilable(f"{op} at pc {ins.pc} does not match its bytecode {name}")
        st = ins.state
        if st is not None and not self.state_ok(st):
            raise NotCompilable(f"{op} at pc {ins.pc}: frame state names undefined values")
        if st is not None:
            self.maybe_stress(ind, st)
        alts = self.fast_paths(ins, op, a, v, args)
        if alts and alts[0][0] == "True":  # proven: no test, no step
            for line in alts[0][1].split("\n"):
                self.emit(ind, line)
            return
        if st is not None and self.metered:  # (it may step: a built-in may charge, or read, the fuel)
            if self.fc is None:
                raise NotCompilable(f"fuel: {op} at pc {ins.pc} is in no counted block")
            if not alts:
                self.flush(ind, q)
        if alts:
            key = self.state_key(st) if st is not None else None
            for k, (cond, stmt) in enumerate(alts):
                self.emit(ind, f"{'if' if k == 0 else 'elif'} {cond}:", key)
                for line in stmt.split("\n"):  # (a store and its write barrier)
                    self.emit(ind + 1, line)
            self.emit(ind, "else:")
            self.step(ind + 1, ins, name, args, q, lazy=True)
            return
        self.step(ind, ins, name, args, q)

    def fast_paths(self, ins: Instr, op: str, a: list, v: str, args: tuple) -> list[tuple[str, str]]:
        """(condition, statement) pairs tried in order before the step; each
        mirrors the interpreter's own inline fast path for the same case
        (vm/ops_values.py), so the result is the interpreter's."""
        out: list[tuple[str, str]] = []
        types = [x.type for x in ins.args]
        v11 = _fast_paths_v11(ins, op, a, v, self.code, self.int_fast)
        if v11 is not None:
            return v11
        if op in ("get_field", "set_field", "set_field_proven"):
            name = repr(self.code.names[args[0]])
            # Laid-out instances (heap/layout.py) first, as every TinyLang
            # instance is one: one test of the shape and one slot access, by
            # name in the text, for each shape with the field that exists
            # when this is compiled (a hot function's classes have made
            # their instances by then); a shape made later takes the step,
            # which has its own cache. Then dict instances (Lox's, or every
            # instance when the heap does not lay out).
            field = self.code.names[args[0]]
            for shape in [t for t in self.shapes if field in t.INDEX][:_MAX_SHAPES]:
                slot = f"{a[0]}.{shape.ATTRS[shape.INDEX[field]]}"
                guard = f"type({a[0]}) is {self.const(shape)}"
                if op == "get_field":
                    out.append((f"{guard} and ({v} := {slot}) is not _UNINIT", "pass"))
                elif op == "set_field_proven":
                    out.append((guard, f"{slot} = {a[1]}" + _barrier(ins, a, 1)))
                else:  # (the checks are the instance's class's: classes share shapes)
                    out.append((f"{guard} and {a[0]}.cls.field_checks is None", f"{slot} = {a[1]}" + _barrier(ins, a, 1)))
            if op == "get_field":
                out.append((f"type({a[0]}) is _Instance and ({v} := {a[0]}.fields.get({name}, _UNINIT)) is not _UNINIT", "pass"))
            elif op == "set_field_proven":  # (the checker proved the value's type: no field check, as b_set_field_proven)
                out.append((f"type({a[0]}) is _Instance and {name} in {a[0]}.fields", f"{a[0]}.fields[{name}] = {a[1]}" + _barrier(ins, a, 1)))
            else:
                out.append((f"type({a[0]}) is _Instance and {name} in {a[0]}.fields and {a[0]}.cls.field_checks is None", f"{a[0]}.fields[{name}] = {a[1]}" + _barrier(ins, a, 1)))
            return out
        if op == "check_type":
            k = self.code.consts[args[0]]
            py = {"int": "int", "string": "str", "bool": "bool"}.get(k[0]) if type(k) is tuple and len(k) == 2 else None
            if py is not None:  # (the checker of these accepts exactly that type: vm/typecheck.py)
                out.append((f"type({a[0]}) is {py}", f"{v} = {a[0]}"))
            return out
        if op in ("get_index", "set_index"):
            test = f"type({a[0]}) is _Array and type({a[1]}) is int and 0 <= {a[1]} < len({a[0]}.items)"
            out.append((test, f"{v} = {a[0]}.items[{a[1]}]" if op == "get_index" else f"{a[0]}.items[{a[1]}] = {a[2]}" + _barrier(ins, a, 2)))
            # A packed array (heap/packed.py) read or written in place, as
            # the interpreter's b_get_index/b_set_index: a bool read back
            # from 0/1; a store of a scalar of the buffer's kind only (no
            # barrier: no reference), anything else steps (set_index
            # unpacks the array, then runs the barrier). Before the tuple's
            # test: `xs * n` and `Array(n, fill)` make packed arrays, a
            # tuple indexed by a variable is rare.
            ptest = f"type({a[0]}) is _Packed and type({a[1]}) is int and 0 <= {a[1]} < len(_pb := {a[0]}.packed)"
            if op == "get_index":
                out.append((ptest, _packed_read(v, a[1])))
            else:
                fits = _packed_fits(ins.args[2], a[2])
                if fits is not None:
                    out.append((f"{ptest} and {fits}", f"_pb[{a[1]}] = {a[2]}"))
            if op == "get_index" and not isinstance(ins.args[0].type, ArrayT):  # (tljit: a tuple's element, as runtime/tuples.py get_index)
                out.append((test.replace("_Array", "_Tuple", 1), f"{v} = {a[0]}.items[{a[1]}]"))
            return out
        if not self.int_fast or len(a) > 2:
            return out
        if op == "not" or op == "check_bool":
            out.append((f"type({a[0]}) is bool", f"{v} = {'not ' if op == 'not' else ''}{a[0]}"))
            return out
        if len(a) != 2:
            return out
        ints = all(t == INT for t in types)
        floats = all(t == FLOAT for t in types)
        int_test = "True" if ints else f"type({a[0]}) is int and type({a[1]}) is int"
        float_test = "True" if floats else f"type({a[0]}) is float and type({a[1]}) is float"
        if op in _INT_BIN:
            expr = f"{a[0]} {_INT_BIN[op]} {a[1]}"
            if not floats:
                if ins.checked:
                    out.append((f"{int_test} and _MIN <= ({v} := {expr}) <= _MAX".removeprefix("True and "), "pass"))
                else:
                    out.append((int_test, f"{v} = {expr}"))
            if not ints:
                out.append((float_test, f"{v} = {expr}"))
        elif op in _INT_DIV:
            if not floats:
                out.append((f"{int_test} and {a[0]} >= 0 and {a[1]} > 0".removeprefix("True and "), f"{v} = {a[0]} {_INT_DIV[op]} {a[1]}"))
            if op == "div" and not ints:
                out.append((f"{float_test} and {a[1]} != 0.0".removeprefix("True and "), f"{v} = {a[0]} / {a[1]}"))
        elif op in _CMP:
            expr = f"{v} = {a[0]} {_CMP[op]} {a[1]}"
            if op in ("eq", "ne") and any(x.op == "const" and x.attrs == (None,) for x in ins.args):
                # x == nil is identity (runtime/values.py `equals`: nil equals only nil).
                out.append(("True", f"{v} = {a[0]} {'is' if op == 'eq' else 'is not'} {a[1]}"))
                return out
            if not floats:
                out.append((int_test, expr))
            if not ints and (op not in ("eq", "ne")):
                out.append((float_test, expr))
        return out

    def int_test(self, ins: Instr) -> str:
        tests = [f"type({_name(x)}) is int" for x in ins.args if x.type != INT]
        return " and ".join(tests) if tests else "True"

    def step(self, ind: int, ins: Instr, name: str, args: tuple, q: int, lazy: bool = False) -> None:
        """Run the instruction's plain interpreter closure on the written-back
        frame. `lazy` (a fast path's slow case, on a metered VM): the count up
        to and including it is added for the step and taken back after it,
        so the fast path pays nothing (the block's end counts it)."""
        pc = ins.pc
        v = _name(ins)
        info = O.BY_NAME[name]
        pushes = info.pushes if isinstance(info.pushes, int) else eval_effect(info.pushes, args)
        st = ins.state
        if st is None:
            # Cannot raise: only its operands (and a cell's slot) need to be in the frame.
            a = [_name(x) for x in ins.args]
            if name in ("LOAD_CELL", "MAKE_CELL", "STORE_CELL"):
                self.emit(ind, f"L[{args[0]}] = {a[0]}")
                a = a[1:]
            for x in a:
                self.emit(ind, f"L.append({x})")
            self.emit(ind, f"_S[{pc}](fb)")
            if name == "MAKE_CELL":
                self.emit(ind, f"{v} = L[{args[0]}]")
            elif pushes:
                self.emit(ind, f"{v} = L.pop()")
            return
        key = self.state_key(st)
        d = 0
        if lazy and self.metered and self.fc is not None:
            fc = self.fc
            d = self.pre[q] - self.pre[fc[2]] + fc[3]
            if d:
                self.emit(ind, f"_M.cell_contents += {d}")
        self.emit(ind, self.write_back(st), key)
        self.emit(ind, f"_t = _S[{pc}](fb)", key)
        self.emit(ind, f"if _t is not _P[{q}]:", key)
        self.emit(ind + 1, "return _t")
        if d:
            self.emit(ind, f"_M.cell_contents -= {d}")
        if pushes and ins.type is not None:
            self.emit(ind, f"{v} = L.pop()")

    def for_iter(self, ind: int, ins: Instr, args: tuple, q: int) -> None:
        st = ins.state
        if not self.state_ok(st):
            raise NotCompilable("for_iter without a usable frame state")
        self.maybe_stress(ind, st)
        if self.metered:
            if self.fc is None:
                raise NotCompilable(f"fuel: for_iter at pc {ins.pc} is in no counted block")
            self.flush(ind, q)
        key = self.state_key(st)
        v = _name(ins)
        it = _name(ins.args[0])
        # An array's iterator, as the interpreter's FOR_ITER does it inline
        # (vm/ops_flow.py); then a packed array's (ITER_PACKED,
        # vm/object_ops.py): its buffer read in place.
        steps = (
            ("if", f"{it}.kind == 0", "_i", "items", "_i[_p]"),
            ("elif", f"{it}.kind == -2 and type({it}.source) is _Packed", "_pb", "packed", "_pb[_p] if _pb.typecode != 'b' else _pb[_p] == 1"),
        )
        for word, test, seq, slot, read in steps:
            self.emit(ind, f"{word} {test}:", key)
            self.emit(ind + 1, f"_p = {it}.pos")
            self.emit(ind + 1, f"{seq} = {it}.source.{slot}")
            self.emit(ind + 1, f"if _p < len({seq}):")
            self.emit(ind + 2, f"{it}.pos = _p + 1")
            self.emit(ind + 2, f"{v} = {read}")
            self.emit(ind + 1, "else:")
            self.emit(ind + 2, f"{v} = _DONE")
        self.emit(ind, "else:")
        ind += 1
        self.emit(ind, self.write_back(st), key)
        self.emit(ind, f"_t = _S[{ins.pc}](fb)", key)
        self.emit(ind, f"if _t is _P[{q}]:")
        self.emit(ind + 1, f"{v} = L.pop()")
        self.emit(ind, f"elif _t is _P[{args[0]}]:")
        self.emit(ind + 1, f"{v} = _DONE")
        self.emit(ind, "else:")
        self.emit(ind + 1, "return _t")


# IR types whose values are scalars (never heap references): a store of one
# needs no write barrier.
_SCALAR_TYPES = (INT, FLOAT, BOOL)
# The most shapes one field access is compiled for (codegen fast_paths): a
# site sees one or two in practice; each extra one costs a test on a miss.
_MAX_SHAPES = 4
_SCALAR_CONSTS = (int, float, bool, str, type(None))


def _barrier(ins: Instr, a: list, k: int) -> str:
    """The write barrier after an inline store of ins.args[k] into ins.args[0]
    (docs/gc.md, "Write barriers"), as a second line of the store's statement;
    "" when the value is known to be a scalar: typed int, float or bool, or a
    scalar constant."""
    x = ins.args[k]
    if x.type in _SCALAR_TYPES or (x.op == "const" and x.attrs and type(x.attrs[0]) in _SCALAR_CONSTS):
        return ""
    return f"\nif {a[0]}.mark == _heap.watch: _heap.barrier({a[0]}, {a[k]})"


# Packed buffers' kinds, remembered per call of the compiled function: a
# local holds the last buffer seen of each kind (`_pbb` 'b', `_pbq` 'q',
# `_pbd` 'd', `_pbn` 'q' or 'd'), so a loop over one array tests its
# typecode once, then by identity (a buffer's typecode never changes, and
# the local keeps it alive: its identity cannot be reused). An array.array's
# `typecode` is a getter call: ~20 ns a test on CPython 3.11.
_PB_CACHES = "_pbb = _pbq = _pbd = _pbn = None"


def _packed_kind(code: str) -> str:
    """The test that the buffer `_pb` has typecode `code`, by the cache first."""
    c = f"_pb{code}"
    return f"(_pb is {c} or _pb.typecode == '{code}' and ({c} := _pb) is _pb)"


def _packed_read(v: str, i: str) -> str:
    """v = element i of the packed buffer `_pb` (a bool back from 0/1)."""
    return (
        f"{v} = _pb[{i}] == 1 if _pb is _pbb else _pb[{i}] if _pb is _pbn else "
        f"_pb[{i}] == 1 if _pb.typecode == 'b' and (_pbb := _pb) is _pb else (_pbn := _pb)[{i}]"
    )


def _packed_fits(x: Instr, name: str) -> str | None:
    """The test that value x (named `name`) can be stored in place in the
    packed buffer `_pb` (heap/packed.py: 'b' bool, 'd' float, 'q' int64),
    by x's IR type or constant when known; None when it never can."""
    if x.op == "const" and x.attrs:
        k = x.attrs[0]
        t = type(k)
        if t is bool:
            return _packed_kind("b")
        if t is float:
            return _packed_kind("d")
        if t is int:
            return _packed_kind("q") if INT_MIN <= k <= INT_MAX else None
        if t in _SCALAR_CONSTS:
            return None
    # Not by x's IR type: a type the specializer took from the values it saw
    # is not checked at every entry of the compiled code (a parameter typed
    # int here may hold a float on a later call: a list does not care, a
    # buffer does), so the value's own type is tested at run time.
    return (
        f"(type({name}) is int and {_packed_kind('q')} and _MIN <= {name} <= _MAX"
        f" or ({name} is True or {name} is False) and {_packed_kind('b')} or type({name}) is float and {_packed_kind('d')})"
    )


def _fast_paths_v11(ins: Instr, op: str, a: list, v: str, code: Any, int_fast: bool) -> list[tuple[str, str]] | None:
    """Fast paths of TinyLang 1.1's instructions (issue 18, helper tljit), as
    `_Gen.fast_paths` (None: not one of them). None of them raises or
    allocates: every other case steps, so errors, traces, fuel and the heap
    are the interpreter's. A tuple's element `t.0` (GET_FIELD, as
    runtime/tuples.py get_element), UNPACK_CHECK of a tuple or array of the
    pattern's size (proven when the operand is typed a tuple of that size),
    and `**` of two floats (ops_tlexpr's float power, which never raises) or
    of an int and an exponent 0..63 whose exact power fits int64 (where the
    interpreter's checked power returns that same value)."""
    if op == "get_field":
        name = ins.attrs[0] if ins.attrs else ""
        if type(name) is not str or not (name.isascii() and name.isdigit() and (name == "0" or name[0] != "0")):
            return None
        i = int(name)
        t = ins.args[0].type
        if isinstance(t, TupleT) and i < len(t.elems):
            return [("True", f"{v} = {a[0]}.items[{i}]")]
        # (no instance has a field named by digits: anything but a tuple steps)
        return [(f"type({a[0]}) is _Tuple and len({a[0]}.items) > {i}", f"{v} = {a[0]}.items[{i}]")]
    if op == "unpack_check":
        n, kind = ins.attrs
        t = ins.args[0].type
        if kind == 0 and isinstance(t, TupleT) and len(t.elems) == n:
            return [("True", f"{v} = {a[0]}")]
        cls = "_Tuple" if kind == 0 else "_Array"
        out = [(f"type({a[0]}) is {cls} and len({a[0]}.items) == {n}", f"{v} = {a[0]}")]
        if kind != 0:  # (a packed array's length without unpacking it: heap/packed.py)
            out.append((f"type({a[0]}) is _Packed and len({a[0]}.packed) == {n}", f"{v} = {a[0]}"))
        return out
    if op == "pow":
        if not int_fast:
            return []
        ts = [x.type for x in ins.args]
        if ts == [FLOAT, FLOAT]:
            return [("True", f"{v} = _fpow({a[0]}, {a[1]})")]
        out = []
        if FLOAT not in ts:
            ints = "" if ts == [INT, INT] else f"type({a[0]}) is int and type({a[1]}) is int and "
            out.append((f"{ints}0 <= {a[1]} <= 63 and _MIN <= ({v} := {a[0]} ** {a[1]}) <= _MAX", "pass"))
        if INT not in ts:
            out.append((f"type({a[0]}) is float and type({a[1]}) is float", f"{v} = _fpow({a[0]}, {a[1]})"))
        return out
    return None


def generate(fn: Function, code: Any, *, int_fast: bool, stress: bool = False, metered: bool = False, shapes: Any = ()) -> Generated:
    """The Python source of fn (raises NotCompilable); `metered`: the code
    counts fuel (jit/fuel.py); `shapes`: the instance shapes of the VM's
    heap so far (heap/layout.py; Heap.shapes.values()), for field access."""
    g = _Gen(fn, code, int_fast=int_fast, stress=stress, metered=metered)
    g.shapes = list(shapes)
    return g.run()
