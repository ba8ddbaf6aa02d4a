"""Typed SSA IR -> LLVM IR text (the native tier, v0).

Every compiled guest function becomes

    define internal {<result>, i1} @fK(i64* %ctx, i64 %depth, <params>)

returning {result, false}, or {0, true}: it *left* (deoptimised). Every
failure exit goes through `fail_if(cond, at)` -- int64 overflow (LLVM's
`llvm.s{add,sub,mul}.with.overflow.i64`), division or remainder by zero,
INT_MIN / -1, the native call depth running out (checked by the caller
before the call), a callee that left -- and the poll saying stop (a
deadline, an interrupt, another fiber waiting) through `exit_to`: the exit
block writes the live values of the exit's frame state into the deopt
buffer (deopt.py: the state before `at`, so the interpreter runs `at` again
and fails the same way; for a callee that left, the caller's frame waiting
for it) and returns the flag; each native caller adds its own frame, so the
VM rebuilds every native frame as an interpreter frame at its exact pc
(engine.py `deoptimise`).

`ctx` is four int64 words: [0] the countdown to the next poll, decremented
at every function entry and every loop header (so neither loops nor
recursion run unbounded; a loop-free function takes it in a register
instead and ticks at its calls: calls.py); [1] the native call depth allowed (a call passes
`depth - 1` in a register and leaves when it is 0; a loop-free function
measures it by the stack instead, calls.py); [2] the address of the
poll callback, `i64 ()`, whose result is the new countdown (0: leave); [3]
the deopt buffer's cursor. Results and the fail flag come back in registers
(a two-field struct), not memory.

Machine types: int -> i64, float -> double, bool -> i1. Semantics follow
runtime/arith.py: truncating int division and C remainder (sdiv/srem, after
the checks above), int -> float promotion by sitofp (round to nearest, as
Python's float(int)), IEEE float arithmetic without fast-math flags (so no
reassociation or contraction), `frem` for float % (C fmod, as math.fmod),
ordered comparisons except `!=` (une: nan != nan).

`@entry` is the one external function: `i32 (i64* ctx, i64* args, i64* out)`
with every argument and the result in an int64 word (floats by their bits,
bools 0/1), so Python calls it through one ctypes prototype.
"""

from __future__ import annotations

import struct
from typing import Any

from ...ir.nodes import Block, Function, Instr
from ...ir.verify import dominates, dominators
from ..fuel import block_ends, prefix_counts
from . import (
    anyval,
    arraymaker,
    calls,
    construct,
    countdown,
    effects,
    fields,
    fieldtypes,
    hoist,
    inserts,
    loopguards,
    objects,
    outofline,
    polls,
    pops,
    ranges,
    stores,
)
from .alloc import group_grows
from .deopt import CALL_OUT, ExitState, entry_state, exit_state, start_state, word_slots
from .entries import can_fold, fold_root, folded_entry
from .exactself import exact_selves
from .exits import exit_blocks
from .inlining import SITE, every_pass, mark_inline
from .osr import Merged, Missing
from .osr import regions as osr_regions
from .osr import result_lines as osr_result_lines
from .osr import wrapper as osr_wrapper
from .osr import wrapper_text as osr_wrapper_text
from .select import ARRAYS, WORDS, NotEligible, Typed

# Every failure exit deoptimises to its exact pc (deopt.py), so functions with
# effects the VM can see (Typed.effects) may compile: other helpers read this.
EXACT_DEOPT = True

_ARRAY_OPS = frozenset(("get_index", "set_index", "builtin", "call", "call_method"))  # (arrays.OPS)
_ALLOC_OPS = frozenset(("array", "mul", "call", "call_method", "check_type"))  # (alloc.py)
_ANY_OPS = frozenset(("get_index", "check_type", "set_index", "call_method"))  # (anyval.py)
_CONSTRUCT_OPS = frozenset(("load_global", "call", "call_typed", "call_method"))  # (construct.py)

LLTYPE = {"i": "i64", "f": "double", "b": "i1", "ai": "i64", "af": "i64", "ab": "i64", "p": "i64", "n": "i1"}  # (arrays, "p": an address; "n": nil, always false)
# The value of a call out on the (dead) path after it, and of a dead value
# an OSR copy's exit records name (every machine type a value can have).
_DUMMY = {"i": "add i64 0, 0", "f": "fadd double 0.0, 0.0", "b": "or i1 false, false", "n": "or i1 false, false"}
_DUMMY.update({m: _DUMMY["i"] for m in WORDS})
LLTYPE.update({m: "i64" for m in WORDS | {"it"}})  # (every object's address: fields.py's "ap" too, and an iterator's array)
_DUMMY["it"] = _DUMMY["i"]
_ZERO = {"i": "0", "f": "0.0", "b": "false", "n": "false"}
_ZERO.update({m: "0" for m in WORDS})  # (an array result: alloc.py)
LLTYPE.update(objects.LLOPT)  # (optional scalars, {value, is nil}: objects.py)
_DUMMY.update({m: f"insertvalue {t} undef, i1 true, 1" for m, t in objects.LLOPT.items()})

_INTRINSICS = """declare {i64, i1} @llvm.sadd.with.overflow.i64(i64, i64)
declare {i64, i1} @llvm.ssub.with.overflow.i64(i64, i64)
declare {i64, i1} @llvm.smul.with.overflow.i64(i64, i64)
declare double @llvm.sqrt.f64(double)
declare i64 @llvm.read_register.i64(metadata)
"""

_ICMP = {"lt": "slt", "le": "sle", "gt": "sgt", "ge": "sge", "eq": "eq", "ne": "ne"}
_FCMP = {"lt": "olt", "le": "ole", "gt": "ogt", "ge": "oge", "eq": "oeq", "ne": "une"}
_FOP = {"add": "fadd", "sub": "fsub", "mul": "fmul", "div": "fdiv", "mod": "frem"}


def float_lit(x: float) -> str:
    # LLVM reads a double exactly in hex (bits); decimal text could round.
    return "0x%016X" % struct.unpack("<Q", struct.pack("<d", x))[0]


def back_edge_targets(fn: Function) -> set[Block]:
    """Loop headers: targets of edges to a block still on the DFS stack."""
    out: set[Block] = set()
    state: dict[Block, int] = {}
    stack = [(fn.entry, iter(fn.entry.succs))]
    state[fn.entry] = 1
    while stack:
        b, it = stack[-1]
        for s in it:
            if state.get(s) == 1:
                out.add(s)
            elif s not in state:
                state[s] = 1
                stack.append((s, iter(s.succs)))
                break
        else:
            state[b] = 2
            stack.pop()
    return out


class _FnEmitter:
    def __init__(self, ty: Typed, names: dict, table: list[ExitState] | None = None) -> None:
        self.ty = ty
        self.names = names  # Code -> LLVM function name
        self.table: list[ExitState] = table if table is not None else []  # exit id -> state (shared by a module)
        # The exit blocks (exit_to): record words -> [(branching label, exit id)],
        # each block's index, and the exit id of each distinct state.
        self.exits: dict[tuple, list[tuple[str, int]]] = {}
        self.exit_index: dict[tuple, int] = {}
        self.ids: dict[tuple, int] = {}
        self.refs: set[Instr] = set()  # the values the emitted code names (emit_osr checks them)
        self.state_refs: set[Instr] = set()  # ... and those only exit records name
        self.in_exit = False
        self.exact_self: Any = None  # the class of self every way into this function proved (emit_module: exactself.py)
        # Fuel (a VM that counts it: the IR has jit/fuel.py's `fuel[n]` ops).
        # ctx[4] is the fuel native code may still spend; each `fuel[n]`
        # takes its block's n whole, or leaves at the block's start when
        # fewer are left (the interpreter then spends the rest, exactly). An
        # exit mid-block gives back what lies from its pc to the block's end
        # (the interpreter counts those): `fcur` is (start, end) of the
        # bytecode block the current IR block counted last, None when it
        # counted none yet.
        fn = ty.fn
        self.metered = any(i.op == "fuel" for b in fn.blocks for i in b.instrs)
        self.fcur: tuple[int, int] | None = None
        if self.metered:
            self.pre = prefix_counts(ty.code)
            starts = {i.pc for b in fn.blocks for i in b.instrs if i.op == "fuel"}
            self.ends = block_ends(ty.code, starts | {b.pc for b in fn.blocks if b.pc is not None} | {0})
        self.lines: list[str] = []
        self.n = 0
        self.cur = ""
        self.grows = False  # some function of the module pushes (alloc.py): lists resize
        # OSR entries inside this function (osr.py), the IR block being
        # emitted (uses there may be renamed), and the functions of the
        # module that take osr.py's two extra parameters.
        self.merged: Merged | None = None
        self.block: Block | None = None
        self.ext: set[str] = set()
        # Checks made once where they dominate (`checked`): key -> the IR
        # blocks that made one; the IR's dominators; an OSR copy (emit_osr)
        # uses its own blocks' checks only.
        self.checks: dict[tuple, list[Block]] = {}
        self.idom: dict[Block, Block] | None = None
        self.every: set | None = None  # (inlining.every_pass, when a native call asks)
        self.copy = False
        # The countdown in a register (calls.py): the names of the module's
        # functions that take it so, and, in one of them, its SSA value now
        # (None: this function keeps it in ctx[0]) and at each block's end.
        self.reg: set[str] = set()
        self.leaves: set[str] = set()  # (those of reg that call nothing: calls.leaves)
        self.cd: str | None = None
        self.cd_out: dict[Block, str] = {}
        # Loop entry checks (loopguards.py): preheader -> its plans, and what
        # they prove: element accesses inside their array, arithmetic that
        # cannot overflow.
        self.plan_at: dict[Block, list] = {}
        self.plan_es: dict[Any, ExitState] = {}  # (each plan's exit: _plan_exit, made once)
        self.hoisted: dict[Block, list[Instr]] = {}  # (preheader -> field reads made at its end: hoist.py)
        self.osr_hoisted: dict[Block, dict[Instr, Instr]] = {}  # (header -> each read's twin on its OSR path)
        self.hoisted_reads: set[Instr] = set()  # (both kinds: their exits' reason)
        self.inbounds: set[Instr] = set()
        self.nowrap: set[Instr] = set()
        self.osr_names: dict[Instr, str] | None = None  # (while an OSR path's checks are emitted: osr_checks)

    def tmp(self, base: str = "t") -> str:
        self.n += 1
        return f"%{base}.{self.n}"

    def val(self, v: Instr) -> str:
        if self.osr_names is not None and v.op != "const":  # (an OSR path: its words, or 0 for a dead slot: osr.py)
            self.state_refs.add(v)
            return self.osr_names.get(v) or _ZERO[self.ty.types[v]]
        if v.op == "const":
            x = v.attrs[0]
            t = self.ty.types[v]
            if t == "b" or t == "n":
                return "true" if x else "false"
            if t == "f":
                return float_lit(float(x))
            return str(int(x))
        (self.state_refs if self.in_exit else self.refs).add(v)
        if self.merged is not None:
            got = self.merged.name(v, self.block, self.in_exit)
            if got is not None:
                return got
        return f"%v{v.id}"

    def checked(self, key: tuple) -> bool:
        """Whether a check of a fact that stays true once checked (`key`:
        a receiver's type, fields.py) was emitted where it dominates the
        code now emitted: earlier in this IR block, or in a block that
        dominates it, which, with OSR entries inside the function (osr.py),
        is in every region this block is in (an entry jumps to a region's
        header). If not, the caller emits it, and it is recorded here."""
        b = self.block
        if b is None:
            return False
        made = self.checks.setdefault(key, [])
        for cb in made:
            if cb is b or self._dominates(cb, b):
                return True
        made.append(b)
        return False

    def _dominates(self, a: Block, b: Block) -> bool:
        if self.copy:  # (an OSR copy: entered at its header, whatever the IR's dominators)
            return False
        if self.idom is None:
            self.idom = dominators(self.ty.fn)
        if not dominates(self.idom, a, b):
            return False
        return self.merged is None or all(a in r.blocks for r in self.merged.regions if b in r.blocks)

    def phi_operand(self, p: Instr, k: int, label: str) -> str:
        """Operand k of phi p along the edge from the block ending in
        `label` (osr.py's phis name each in its predecessor, self.block):
        what emit() writes for each operand of a phi (objects.py: nil and
        optional operands)."""
        return objects.phi_operand(self, p, k, label)

    def as_float(self, v: Instr) -> str:
        if self.ty.types[v] == "f":
            return self.val(v)
        if v.op == "const":
            return float_lit(float(v.attrs[0]))
        t = self.tmp("cv")
        self.lines.append(f"  {t} = sitofp i64 {self.val(v)} to double")
        return t

    def label(self, name: str) -> None:
        self.lines.append(f"{name}:")
        self.cur = name

    def fail_if(self, cond: str, at: Instr, *, waiting: bool = False) -> None:
        """Leave native code when `cond` holds, because instruction `at` fails
        (overflow, a zero divisor, a callee that left): every failure exit goes
        through here. The exit deoptimises to the exact pc (deopt.py): it
        saves the live values of `at`'s frame state (the state before `at`
        runs, so the interpreter runs `at` again and fails the same way), or,
        `waiting` (at is a call whose native callee left), the frame waiting
        for the callee to return."""
        why = "a callee left" if waiting else hoist.REASON if at in self.hoisted_reads else f"{at.op} fails"
        es = exit_state(at.state, self.ty.types, reason=why, waiting=at if waiting else None)
        self.exit_to(cond, es)

    def refund(self, es: ExitState) -> None:
        """The fuel an exit gives back: what its frame counted of its
        bytecode block from the pc the interpreter resumes at (see __init__)."""
        es.refund = 0
        if not self.metered:
            return
        pc = es.ret_pc if es.callee is not None else es.pc
        fc = self.fcur
        if fc is None:
            if pc not in self.ends:
                raise NotEligible(f"fuel: an exit at pc {pc} before its block is counted")
            return
        if not fc[0] <= pc <= fc[1]:
            raise NotEligible(f"fuel: an exit at pc {pc} outside its bytecode block")
        es.refund = self.pre[fc[1]] - self.pre[pc]

    def fuel(self, i: Instr) -> None:
        """`fuel[n]`: take the block's n from ctx[4], or leave at its start."""
        s = i.pc
        st = start_state(self.ty.fn, s, i.block)
        es = exit_state(st, self.ty.types, reason="out of fuel in native code", defined=self.defined)
        n = i.attrs[0]
        f0, f1, fz = self.tmp("fu"), self.tmp("fu"), self.tmp("fz")
        L = self.lines
        L.append(f"  {f0} = load i64, i64* %fuel")
        L.append(f"  {f1} = sub i64 {f0}, {n}")
        L.append(f"  {fz} = icmp slt i64 {f1}, 0")
        self.fcur = None  # (nothing of this block is counted on its exit)
        self.refund(es)
        self.exit_to(fz, es)
        L.append(f"  store i64 {f1}, i64* %fuel")
        self.fcur = (s, self.ends[s])

    def exit_to(self, cond: str, es: ExitState) -> None:
        """Branch (unlikely) to the exit block that writes es's record into
        the deopt buffer and returns the fail flag; go on otherwise.

        Exits share code ("Compile time" in docs/native.md): every exit
        whose record holds the same words (the same SSA values, in order,
        and the same fuel refund) branches to one block, which takes the
        exit id through a phi (each value dominates every branch to it, so
        it dominates the shared block too); and exits with equal states
        (the several checks of one instruction) get one id. LLVM's code
        generator spent most of its time on per-exit blocks of stores
        (Ball.bounce: 107 exits, 41 ms)."""
        if es.refund < 0:
            self.refund(es)
        sid = self._exit_id(es)
        self.in_exit = True
        words = []
        half = None  # (an iterator, "it", is two words: its array, then its position: fields.py)
        for v in es.values:
            m = self.ty.types[v]
            if m == "it" and half is v:
                words.append((v, m, True))  # (its position: loaded in the exit block)
                half = None
                continue
            if m == "it":
                half = v
            words.append((self.val(v), m, False))
        self.in_exit = False
        key = (tuple(words), es.refund)
        preds = self.exits.get(key)
        if preds is None:
            preds = self.exits[key] = []
        x = f"X{self._exit_label(key)}"
        cont = self.tmp("ok")[1:]
        self.lines.append(f"  br i1 {cond}, label %{x}, label %{cont}, !prof !0")
        preds.append((self.cur, sid))
        self.label(cont)

    def _exit_id(self, es: ExitState) -> int:
        """es's exit id: a new entry of the table, or the id of an equal
        state this function already exits to (not a callee's waiting frame:
        fields.py sets its callee after the exit is made)."""
        key = None
        if es.callee is None:
            try:
                up = es.outer  # (an inlined callee's exit: its caller's frame too, deopt.py)
                key = (id(es.code), es.pc, tuple(es.slots), tuple(v.id for v in es.values), es.reason, es.refund, up and (id(up.code), up.pc, tuple(up.slots), id(up.callee)))
                hash(key)
            except TypeError:  # (an unhashable constant: its own id)
                key = None
        if key is not None and key in self.ids:
            return self.ids[key]
        sid = len(self.table)
        self.table.append(es)
        if key is not None:
            self.ids[key] = sid
        return sid

    def _exit_label(self, key: tuple) -> int:
        """The index of exit block key (its order in self.exits)."""
        got = self.exit_index.get(key)
        if got is None:
            got = self.exit_index[key] = len(self.exit_index)
        return got

    def exit_code(self) -> list[str]:
        """The shared exit blocks (exit_to), after the function's body: their stores shared too (exits.py)."""
        return exit_blocks(self)

    def tick(self, es: ExitState) -> None:
        """Decrement the countdown; at 0 ask the poll callback (0: deoptimise to es).
        (In a function with loops these loads and stores of ctx[0] become a
        register's: countdown.py.)"""
        c0, c1, z = self.tmp("cd"), self.tmp("cd"), self.tmp("cz")
        L = self.lines
        L.append(f"  {c0} = load i64, i64* %ctx")
        # (nsw: a countdown is at most engine.COUNTDOWN and a poll's answer
        # <= 0 leaves at once, so this never wraps; knowing it, LLVM branches
        # on the `dec`'s own flags: `dec; jle` instead of `dec; test; jle`,
        # one instruction of every loop's back edge -- Sieve -4%)
        L.append(f"  {c1} = sub nsw i64 {c0}, 1")
        L.append(f"  store i64 {c1}, i64* %ctx")
        L.append(f"  {z} = icmp sle i64 {c1}, 0")
        poll, cont = self.tmp("poll")[1:], self.tmp("go")[1:]
        L.append(f"  br i1 {z}, label %{poll}, label %{cont}, !prof !0")
        self.label(poll)
        npv = self.poll()
        L.append(f"  store i64 {npv}, i64* %ctx")
        self.exit_if_stop(npv, es)
        L.append(f"  br label %{cont}")
        self.label(cont)

    def poll(self) -> str:
        """Call the poll callback (ctx word 2, through polls.py's `tvm.poll`): the new countdown, <= 0 to stop."""
        return polls.poll(self)  # (through `tvm.poll`, preserve_mostcc: a cold call that splits no live range)

    def exit_if_stop(self, npv: str, es: ExitState) -> None:
        """Leave to es when the poll's answer npv says stop (<= 0)."""
        nz = self.tmp()
        self.lines.append(f"  {nz} = icmp sle i64 {npv}, 0")
        self.exit_to(nz, es)

    def emit(self) -> str:
        ty = self.ty
        fn = ty.fn
        name = self.names[ty.code]
        params = ", ".join(f"{LLTYPE[m]} %v{p.id}" for p, m in zip(fn.params[1:], ty.params))
        rt = LLTYPE[ty.ret]
        merged = self.merged
        extra = ", i64 %osr, i64* %oargs" if merged is not None else ""
        if name in self.reg:
            self.cd = "%cd"
            extra += ", i64 %cd"
        depth = "" if self.cd is not None else ", i64 %depth"  # (the register convention measures the depth by the stack: calls.py)
        head = f"define internal {calls.result_type(self, rt)} @{name}(i64* %ctx{depth}{extra}{', ' + params if params else ''}) {{"
        headers = back_edge_targets(fn)
        self.defined = set(fn.values())
        self._plan_loops(set())
        if merged is not None:  # (a region's header is entered past its preheader: its OSR path checks too)
            merged.checked = {r.h for r in merged.regions if r.h in self.osr_hoisted or any(pl.header is r.h for pls in self.plan_at.values() for pl in pls)}
            merged.made = {c: o for made in self.osr_hoisted.values() for c, o in made.items()}
        body, exits = self._emit_blocks(fn.blocks, headers)
        out = [head, "entry:"]
        # (the depth is checked by the caller, before the call: deopt.py)
        out.append("  %cur = getelementptr i64, i64* %ctx, i64 3")
        out.append("  %fuel = getelementptr i64, i64* %ctx, i64 4")
        if self.cd is None:
            out.append("  %d1 = sub i64 %depth, 1")
        out += fields.entry_lines(self)
        out += hoist.globals_to_entry(body, headers)
        if merged is not None:
            out += merged.dispatch()
        self.lines = out
        self.cur = "start" if merged is not None else "entry"
        self.fcur = None
        if self.cd is None and polls.ticks_at_entry(fn):  # (the register convention ticks at calls instead: calls.py)
            self.tick(exit_state(entry_state(ty.code, fn.params[1:]), ty.types, reason="poll at entry"))
        out.append(f"  br label %B{fn.entry.label}")
        phis = merged.phis(self, exits, LLTYPE) if merged is not None else None
        for b in fn.blocks:
            out.append(f"B{b.label}:")
            if phis is not None:
                out += phis[b]
                out += body[b]
                continue
            for p in b.phis:
                t = LLTYPE[ty.types[p]]
                inc = ", ".join(f"[ {self.phi_operand(p, k, exits[pred])}, %{exits[pred]} ]" for k, pred in enumerate(b.preds))
                out.append(f"  %v{p.id} = phi {t} {inc}")
            out += calls.block_phis(self, b, exits)
            out += body[b]
        if merged is not None:
            out += merged.osr_blocks(self, LLTYPE)
        out += self.exit_code()
        out.append("bail:")
        out.append(calls.bail(self, rt))
        out.append("}")
        return "\n".join(out) + "\n"

    def _emit_blocks(self, blocks: list[Block], headers: set) -> tuple[dict[Block, list[str]], dict[Block, str]]:
        """The LLVM lines of each block (its phis apart: the caller writes
        them, from the other map) and the label each one ends in (a block
        may open labels of its own: the phis' incoming edges name it). A loop
        header polls first (fuel, interrupts: "Fuel" in docs/native.md).
        Shared by the function body and its OSR copies."""
        ty, fn, defined = self.ty, self.ty.fn, self.defined
        body: dict[Block, list[str]] = {}
        exits: dict[Block, str] = {}
        for b in blocks:
            self.lines = []
            self.cur = f"B{b.label}"
            self.block = b
            self.fcur = None
            calls.block_start(self, b)
            if b in headers:
                st = start_state(fn, b.pc, b)
                self.tick(exit_state(st, ty.types, reason="poll at a loop header", defined=defined))
            if objects.throw_exit(self, b):  # (a block ending in throw: a failure exit, objects.py)
                body[b] = self.lines
                exits[b] = self.cur
                continue
            call = ty.inline_sites.get(b)
            if call is not None:  # (a leaf method's body inlined in place of call: selfinline.py)
                self._before_call(call)
            if b is fn.entry and not b.preds:
                for p in fn.params:
                    if ty.types.get(p) in ARRAYS:
                        self._arrays().prefetch(p)  # (its words, when loops would load them: listwords.py)
            for i in b.instrs:
                self.instr(i)
            for c in self.hoisted.get(b, ()):  # (a preheader: its loops' array fields of self, hoist.py)
                self.instr(c)
            for pl in self.plan_at.get(b, ()):  # (a preheader: its loops' entry checks)
                loopguards.emit_checks(self, pl, self.plan_es[pl])
            objects.pair_edges(self, b)  # (optional scalars its successors' phis take)
            self.term(b.terminator)
            calls.block_end(self, b)
            body[b] = self.lines
            exits[b] = self.cur
        self.block = None
        return body, exits

    def emit_osr(self, h: Block) -> tuple[str, ExitState]:
        """A second entry into this function at loop header h (on-stack
        replacement: engine.py installs it as the op at h's pc), or
        NotEligible. `@<name>_osr<pc>(ctx, depth, args)` takes the words of
        h's frame state (its ExitState's values, in order) and runs the
        blocks reachable from h, unchanged but for h's phis, which get the
        words from the entry edge. Only where that is plain SSA: every value
        the copy names is defined in it, or is a word of the state that is
        defined outside it (so an inner loop, whose outer loop's phis the
        copy redefines, has no OSR entry; nor a loop using a value LICM
        hoisted out of it and no local holds)."""
        ty = self.ty
        fn = ty.fn
        name = self.names[ty.code]
        rt = LLTYPE[ty.ret]
        headers = back_edge_targets(fn)
        defined = self.defined = set(fn.values())
        self.copy = True
        self._plan_loops({h})
        es = exit_state(start_state(fn, h.pc, h), ty.types, reason="osr", defined=defined)
        reach: list[Block] = []
        seen = {h}
        todo = [h]
        while todo:
            b = todo.pop()
            reach.append(b)
            for t in b.succs:
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        order = [b for b in fn.blocks if b in seen]
        inside = {v for b in order for v in b.phis + b.instrs}
        for v in es.values:
            if v in inside and v not in h.phis:
                raise NotEligible(f"no OSR entry at pc {h.pc}: v{v.id} is defined in the loop")
        body, exits = self._emit_blocks(order, headers)
        globals_at_entry = hoist.globals_to_entry(body, headers)
        # The words the entry takes: each value of the state the copy names,
        # once (a value may be in several slots; the interpreter may have
        # left a slot the IR still names but never reads nil: engine.py
        # reads a value from the first of its slots holding its type).
        if any(ty.types[v] == "it" for v in es.values):
            raise NotEligible(f"no OSR entry at pc {h.pc}: an iterator native code keeps as words (fields.py)")
        slots_of = word_slots(es)  # (its WORD slot and the AGAIN slots naming it: deopt.py)
        entry = ["entry:", "  %cur = getelementptr i64, i64* %ctx, i64 3", "  %fuel = getelementptr i64, i64* %ctx, i64 4", "  %d1 = sub i64 %depth, 1"]
        given: dict[Instr, str] = {}
        for v, js in slots_of.items():
            if v not in self.refs and v not in self.state_refs:  # (a value only exit records name is still the frame's: handed back by a deopt)
                continue
            k = len(es.osr)
            m = ty.types[v]
            es.osr.append((m, js))
            dst = f"%o{v.id}" if v in h.phis else f"%v{v.id}"
            entry.append(f"  %oa{k} = getelementptr i64, i64* %args, i64 {k}")
            if LLTYPE[m] == "i64":  # (an int or an object's address: arrays, "p")
                entry.append(f"  {dst} = load i64, i64* %oa{k}")
            else:
                entry.append(f"  %ow{k} = load i64, i64* %oa{k}")
                entry.append(f"  {dst} = {'bitcast i64' if m == 'f' else 'trunc i64'} %ow{k} to {LLTYPE[m]}")
            given[v] = dst
        entry += fields.entry_lines(self) + globals_at_entry
        entry.append(f"  br label %B{h.label}")
        out = [f"define internal {{{rt}, i1}} @{name}_osr{h.pc}(i64* %ctx, i64 %depth, i64* %args) {{", *entry]
        for b in order:
            out.append(f"B{b.label}:")
            for p in b.phis:
                inc = [f"[ {self.phi_operand(p, k, exits[pred])}, %{exits[pred]} ]" for k, pred in enumerate(b.preds) if pred in seen]
                if b is h:
                    inc.append(f"[ {given.get(p, 'undef')}, %entry ]")  # (undef: a phi nothing names)
                out.append(f"  %v{p.id} = phi {LLTYPE[ty.types[p]]} {', '.join(inc)}")
            out += body[b]
        missing = [v for v in self.refs if v not in inside and v not in given]
        if missing:
            raise NotEligible(f"no OSR entry at pc {h.pc}: v{missing[0].id} is defined before the loop and held by no slot")
        # A value defined before the loop that only exit records name and no
        # slot of the header holds is dead there (a state prune-states left
        # alone, Function.entries, names it): its slot is rebuilt 0, never read.
        for v in sorted(self.state_refs - self.refs, key=lambda v: v.id):
            if v not in inside and v not in given:
                out.insert(len(entry), f"  %v{v.id} = {_DUMMY[ty.types[v]]}")  # (before the entry's br)
        out += self.exit_code()
        out.append("bail:")
        out.append(f"  ret {{{rt}, i1}} {{{rt} {_ZERO[ty.ret]}, i1 true}}")
        out.append("}")
        return "\n".join(out) + "\n", es

    def _plan_loops(self, entered: set) -> None:
        """The loop entry checks of this emission (loopguards.py): none in a
        function that counts fuel, nor for a loop holding the header an OSR
        copy is entered at (`entered`: emit_osr), nor where the header's
        state is not known. (An OSR entry inside the function makes its
        loop's checks on its own path: osr_checks.)"""
        self.plan_at, self.inbounds, self.nowrap = {}, set(), set()
        if self.metered:
            return
        if self.idom is None:
            self.idom = dominators(self.ty.fn)  # (kept: _dominates reads it too)
        self.hoisted = hoist.plan(self, entered)  # (array fields of self read before their loop: hoist.py)
        if self.merged is not None:
            self.merged.where.update((c, pre) for pre, cs in self.hoisted.items() for c in cs)
        for pl in loopguards.plan(self.ty.fn, self.ty.types, entered, self.idom):
            try:
                self.plan_es[pl] = self._plan_exit(pl)  # (kept for the checks: one exit state per plan)
            except NotEligible:
                continue
            self.plan_at.setdefault(pl.pre, []).append(pl)
            self.inbounds.update(pl.accesses)
            self.nowrap.update(pl.exact)

    def _plan_exit(self, pl: Any, osr: bool = False) -> ExitState:
        """Where a loop's failed entry checks leave: its header's pc, with
        the header's state on the way in from the preheader (`osr`: from
        its OSR entry, the header phis the entry's words)."""
        st = start_state(self.ty.fn, pl.header.pc, pl.header)
        if st is None or st.parent is not None:
            raise NotEligible("no state at the loop header")
        return exit_state(st if osr else loopguards.entry_state(pl.header, pl.pre, st), self.ty.types, reason=loopguards.REASON, defined=self.defined)

    def osr_checks(self, r: Any, names: dict[Instr, str], out: list[str]) -> None:
        """The entry checks of region r's loop and its hoisted field reads
        (hoist.py, each read's twin) on its OSR path, appended to `out`
        (osr.py `osr_blocks`): every value named by the entry's word
        (`names`; the counter's first value is its header phi's word)."""
        pls = [pl for pls in self.plan_at.values() for pl in pls if pl.header is r.h]
        made = self.osr_hoisted.get(r.h, {})
        need = [v for pl in pls for v in (pl.counter, pl.bound, pl.step, *(a for a, _ in pl.bounds))] + [o.args[0] for o in made.values()]
        for v in need:
            if v.op != "const" and v not in names:  # (not a word of the entry: emit_module makes no entry here)
                raise Missing(r.h, v)
        saved = self.lines, self.cur, self.block
        self.lines, self.cur, self.block, self.osr_names = out, f"osr{r.h.pc}", None, names | {o: f"%v{o.id}" for o in made.values()}
        try:
            for pl in pls:
                loopguards.emit_checks(self, pl, self._plan_exit(pl, osr=True), first=pl.counter)
            for o in made.values():
                self.instr(o)  # (its value: the header's renamed phi of the preheader's read takes it, osr.py)
        finally:
            self.osr_names = None
            self.lines, self.cur, self.block = saved

    def _fields(self) -> Any:
        """The field lowering of this function (jit/native/fields.py)."""
        if getattr(self, "_field_lowering", None) is None:
            self._field_lowering = fields.FieldLowering(self)
        return self._field_lowering

    def _arrays(self) -> Any:
        """The array lowering of this function (jit/native/arrays.py)."""
        low = getattr(self, "_array_lowering", None)
        if low is None:
            from .arrays import ArrayLowering
            from .layout import probe

            lay, why = probe()
            if lay is None:  # (select refuses arrays then: engine.typed_ir)
                raise AssertionError(f"native arrays: {why}")
            low = self._array_lowering = ArrayLowering(self, lay)
        return low

    def _is_array_op(self, i: Instr) -> bool:
        """Whether i is lowered by arrays.py: `len` and its call are, other
        built-ins ("o") and their calls (calls out, Typed.effects) are not."""
        if i.op == "builtin":
            return self.ty.types.get(i) == "L"
        if i.op == "call":
            return self.ty.types.get(i.args[0]) == "L" and i not in self.ty.effects  # (len of a string: a call out, callouts.py)
        return True

    def instr(self, i: Instr) -> None:
        op = i.op
        if op in _ANY_OPS and anyval.handles(i, self.ty):
            anyval.lower(self, i)  # (elements of [any] arrays, scalars stored into them)
            return
        if op in _CONSTRUCT_OPS and construct.handles(i, self.ty):
            construct.lower(self, i)
            return
        if op == "set_index" and self.ty.types[i.args[0]] == fieldtypes.OBJ_ARRAY:
            from .stores import store_index

            store_index(self, i)  # (a reference into an array of objects: stores.py)
            return
        if op in fieldtypes.OPS or op == "call" and fieldtypes.is_native_builtin(i, self.ty.types) or op in fieldtypes.ITER_OPS or i in self.ty.methods or op == "get_index" and self.ty.types[i.args[0]] == fieldtypes.OBJ_ARRAY:
            self._fields().lower(i)
            return
        if pops.handles(i, self.ty.types):
            pops.lower(self, i)  # (xs.pop() of an array of scalars: pops.py)
            return
        if inserts.handles(i, self.ty.types):
            inserts.lower(self, i)  # (xs.insert(k, v) into an array of scalars: inserts.py)
            return
        if op in _ALLOC_OPS and self.ty.allocs:
            from . import alloc

            if alloc.handles(i, self.ty.types):
                alloc.AllocLowering(self, self._arrays()).lower(i)
                return
        if op in fieldtypes.METHOD_CALLS and i in self.ty.effects and self.ty.types.get(i.args[0]) == "o":
            self.exit_to("true", exit_state(i.state, self.ty.types, reason=CALL_OUT))  # (a method of a value native code does not hold: callouts.py)
            if self.ty.types[i] != "o":
                self.lines.append(f"  %v{i.id} = {_DUMMY[self.ty.types[i]]}")
            return
        if op in _ARRAY_OPS and self._is_array_op(i):
            self._arrays().lower(i)
            return
        if ranges.handles(i):
            ranges.lower(self, i)  # (a for-range loop's Range: its bytes charged, ranges.py)
            return
        ty = self.ty.types
        L = self.lines
        if op in ("const", "range", "range_incl", "builtin"):
            return  # constants are literals at their uses; a dropped `range` is two ints checked by select; a built-in is only called out
        if op == "fuel":
            self.fuel(i)
            return
        r = f"%v{i.id}"
        a = i.args
        if op in ("add", "sub", "mul", "div", "mod"):
            if ty[i] == "f":
                L.append(f"  {r} = {_FOP[op]} double {self.as_float(a[0])}, {self.as_float(a[1])}")
                return
            x, y = self.val(a[0]), self.val(a[1])
            if op in ("div", "mod"):
                z, m1, mn, both, bad = (self.tmp() for _ in range(5))
                L.append(f"  {z} = icmp eq i64 {y}, 0")
                L.append(f"  {m1} = icmp eq i64 {y}, -1")
                L.append(f"  {mn} = icmp eq i64 {x}, -9223372036854775808")
                L.append(f"  {both} = and i1 {m1}, {mn}")
                L.append(f"  {bad} = or i1 {z}, {both}")
                self.fail_if(bad, i)
                L.append(f"  {r} = {'sdiv' if op == 'div' else 'srem'} i64 {x}, {y}")
                return
            if not i.checked or i in self.nowrap:  # (nowrap: loopguards.py)
                L.append(f"  {r} = {op} i64 {x}, {y}")
                return
            s, o = self.tmp("ov"), self.tmp("of")
            L.append(f"  {s} = call {{i64, i1}} @llvm.s{op}.with.overflow.i64(i64 {x}, i64 {y})")
            L.append(f"  {r} = extractvalue {{i64, i1}} {s}, 0")
            L.append(f"  {o} = extractvalue {{i64, i1}} {s}, 1")
            self.fail_if(o, i)
            return
        if op == "neg":
            if ty[i] == "f":
                L.append(f"  {r} = fneg double {self.val(a[0])}")
                return
            s, o = self.tmp("ov"), self.tmp("of")
            L.append(f"  {s} = call {{i64, i1}} @llvm.ssub.with.overflow.i64(i64 0, i64 {self.val(a[0])})")
            L.append(f"  {r} = extractvalue {{i64, i1}} {s}, 0")
            L.append(f"  {o} = extractvalue {{i64, i1}} {s}, 1")
            self.fail_if(o, i)
            return
        if op in ("shl", "shr"):
            self._shift(i)
            return
        if op in ("band", "bor", "bxor"):
            L.append(f"  {r} = {op[1:]} i64 {self.val(a[0])}, {self.val(a[1])}")
            return
        if op in ("eq", "ne") and objects.compare(self, i):
            return  # (objects, nil, optional scalars)
        if op in _ICMP:
            t = ty[a[0]]
            if t == "f":
                L.append(f"  {r} = fcmp {_FCMP[op]} double {self.val(a[0])}, {self.val(a[1])}")
            else:
                L.append(f"  {r} = icmp {_ICMP[op]} {LLTYPE[t]} {self.val(a[0])}, {self.val(a[1])}")
            return
        if op == "not":
            L.append(f"  {r} = xor i1 {self.val(a[0])}, true")
            return
        if op == "check_bool":
            L.append(f"  {r} = xor i1 {self.val(a[0])}, false")
            return
        if op in ("call_global", "call", "call_typed") and i in self.ty.effects:
            # A call out (select.py, engine.group_of): leave for the VM, which
            # makes the call and goes on (the rest of this path is dead here).
            self.exit_to("true", exit_state(i.state, self.ty.types, reason=CALL_OUT))
            if ty[i] != "o":  # ("o": a result native code never holds, callouts.py)
                L.append(f"  {r} = {_DUMMY[ty[i]]}")
            return
        if op == "call_global":
            self.native_call(i, r, self.names[self.ty.callees[i.attrs[0]]])
            return
        raise AssertionError(f"native: no lowering for {op}")  # select.py let it through

    def native_call(self, i: Instr, r: str, fname: str) -> None:
        """A native call of @fname with i's arguments, its result in r (a
        global function's call, and a method's: fields.py). The callee's
        failure leaves this frame too, waiting for it (deopt.py rebuilds
        both); the last entry of self.table is that exit."""
        ty = self.ty.types
        L = self.lines
        rt = LLTYPE[ty[i]]
        args = "".join(f", i64 {objects.NONE}" if ty[x] == "n" else f", {LLTYPE[ty[x]]} {self.val(x)}" for x in i.args)  # (nil to an object parameter: objects.py)
        self._before_call(i)
        extra = ", i64 0, i64* null" if fname in self.ext else ""  # (osr.py: a call, not an OSR entry)
        s, agg, z, after = calls.call(self, fname, rt, i, extra, args)
        if self._every_pass(i.block):  # (inlining.py may inline the callee at this site)
            k = max(k for k, x in enumerate(L) if x.startswith(f"  {s} = call "))
            L[k] += SITE
        self.fail_if(z, i, waiting=True)
        L += after
        L.append(f"  {r} = extractvalue {agg} {s}, 0")

    def _before_call(self, i: Instr) -> None:
        """What a native call does before it calls, leaving at call i when
        it fails: a register-convention caller's tick (the budget in a
        register, the depth by the stack: calls.py), the others' native
        depth check (the interpreter then makes the call and raises
        StackOverflowError where the guest limit is reached). Also where a
        leaf method was inlined in place of i (selfinline.py): as the call
        would, so ticks, polls and stack overflows stay where they were."""
        if self.cd is not None:
            calls.call_tick(self, i)
            return
        dz = self.tmp("dz")
        self.lines.append(f"  {dz} = icmp sle i64 %d1, 0")
        self.fail_if(dz, i)

    def _every_pass(self, b: Block) -> bool:
        """Whether b runs on every pass of its loop or function (inlining.py)."""
        if self.every is None:
            self.every = every_pass(self.ty.fn)
        return b in self.every

    def _shift(self, i: Instr) -> None:
        """`<<` and `>>` as runtime/arith.py: a count outside 0..63 fails (a
        ValueError there), and so does a `<<` whose result leaves int64
        (an OverflowError): shifting back must give the operand again."""
        x, y = self.val(i.args[0]), self.val(i.args[1])
        r = f"%v{i.id}"
        bad = self.tmp("sc")
        self.lines.append(f"  {bad} = icmp ugt i64 {y}, 63")
        self.fail_if(bad, i)
        if i.op == "shr":
            self.lines.append(f"  {r} = ashr i64 {x}, {y}")
            return
        back, lost = self.tmp(), self.tmp("sl")
        self.lines.append(f"  {r} = shl i64 {x}, {y}")
        self.lines.append(f"  {back} = ashr i64 {r}, {y}")
        self.lines.append(f"  {lost} = icmp ne i64 {back}, {x}")
        self.fail_if(lost, i)

    def term(self, t: Instr) -> None:
        L = self.lines
        if t.op == "jump":
            L.append(f"  br label %B{t.targets[0].label}")
        elif t.op == "branch":
            L.append(f"  br i1 {self.val(t.args[0])}, label %B{t.targets[0].label}, label %B{t.targets[1].label}")
        elif t.op == "return" and self.cd is not None:
            L += calls.ret(self, LLTYPE[self.ty.ret], objects.operand(self, t.args[0], self.ty.ret))
        elif t.op == "return":
            rt = LLTYPE[self.ty.ret]
            x = self.tmp("rv")
            L.append(f"  {x} = insertvalue {{{rt}, i1}} {{{rt} {_ZERO[self.ty.ret]}, i1 false}}, {rt} {objects.operand(self, t.args[0], self.ty.ret)}, 0")
            L.append(f"  ret {{{rt}, i1}} {x}")
        else:  # pragma: no cover - select.py refuses throw
            raise AssertionError(f"native: terminator {t.op}")


def _osr_wrapper(pc: int, inner: str, ret: str) -> str:
    """`i32 @osr<pc>(ctx, args, out)` calling the loop's copy `inner` (osr.py)."""
    return osr_wrapper_text(pc, f"@{inner}(i64* %ctx, i64 %depth, i64* %args)", LLTYPE[ret], ret)


def emit_module(
    group: list[Typed],
    root: Typed,
    table: list[ExitState] | None = None,
    osr: dict[int, ExitState] | None = None,
    tags: dict[int, int] | None = None,
    receiver: Any = None,
) -> tuple[str, dict]:
    """LLVM IR text for root and every function it reaches, plus the @entry
    wrapper; `table` gets the module's exit states (exit id: index); `osr`,
    when given, the loop headers of root with an OSR entry `@osr<pc>`
    (their frame states: which words the entry takes); `tags`, when given,
    @entry takes those entries itself (entries.py): header pc -> its tag;
    `receiver`: the class root is compiled for, whose entries check it
    (engine.py `_prepare`; exactself.py)."""
    names = {ty.code: f"f{k}" for k, ty in enumerate(group)}
    exact = exact_selves(group, receiver)  # (each method's class of self, where every way in proves it)
    summaries = effects.summaries(group)  # (what each native call may change: effects.py)
    parts = [_INTRINSICS]
    if loopguards.lsr_off([(ty.fn, ty.types) for ty in group]):
        parts.insert(0, loopguards.NO_LSR + "\n")  # (codegen.py `with_lsr`)
    if any(ty.heap for ty in group):
        from .arrays import PRELUDE

        parts.append(PRELUDE)
        parts.append(fields.PRELUDE)
        parts.append(construct.PRELUDE)
        parts.append(stores.PRELUDE)
        parts.append(objects.PRELUDE)
        parts.append(arraymaker.PRELUDE)  # (the inline allocation path's C API)
        parts.append(outofline.DECLARE)  # (slow paths compiled once per process)
        from .fieldslow import DECLARE as FIELD_SLOW

        parts.append(FIELD_SLOW)  # (field stores' slow paths, the same way)
    if table is None:
        table = []
    grows = any(ty.allocs for ty in group) and group_grows(group) or pops.group_pops(group) or inserts.group_inserts(group)  # (pops.py: lists shrink; inserts.py: grow)
    # On-stack replacement entries into the root's loops: inside the root
    # where its blocks from the loop on are entered through the loop header
    # only (osr.py), else a copy (emit_osr).
    n0, skip = len(table), set()

    def emitter(ty: Typed) -> _FnEmitter:
        # (what every function's emitter of this module shares: the values
        # the loop below settles, read when the emitter is made)
        em = _FnEmitter(ty, names, table)
        em.exact_self = exact.get(ty.code)  # (the root's OSR copies too: its OSR ops check the receiver as its entry op does)
        em.summaries = summaries
        em.grows = grows
        em.ext = ext
        em.reg = reg
        em.leaves = leaves
        return em

    while True:
        regs = osr_regions(root.fn, root.types, back_edge_targets(root.fn), skip) if osr is not None else []
        ext = {names[root.code]} if regs else set()
        reg = calls.in_register(group, names, LLTYPE, back_edge_targets) - ext
        leaves = calls.leaves(group, names, reg)
        fparts = []
        try:
            for ty in group:
                em = emitter(ty)
                if ty is root and regs:
                    em.merged = Merged(root.fn, regs)
                fparts.append(em.emit())
            break
        except Missing as e:  # (again, that header without an entry inside)
            skip.add(e.h)
            del table[n0:]
    # Functions with loops keep the countdown in a slot (countdown.py), synced
    # with ctx[0] around calls of callees that may touch it: not leaves, nor
    # callees that touch no ctx[0] whatever they run (`untouched`).
    quiet = leaves | countdown.untouched({names[ty.code]: t for ty, t in zip(group, fparts)})
    fparts = [countdown.in_slot(t, quiet) if names[ty.code] not in reg and back_edge_targets(ty.fn) else t for ty, t in zip(group, fparts)]
    parts += calls.self_inline(group, names, reg, fparts)  # (one level of a small self-recursion: calls.py)
    wrappers = []  # (the OSR wrappers, unless @entry takes their entries: entries.py)
    for r in regs:
        osr[r.h.pc] = r.es
        wrappers.append(calls.with_limit(osr_wrapper(r.h.pc, names[root.code], root, LLTYPE), calls.levels(names)))
    if osr is not None:
        for h in sorted(back_edge_targets(root.fn), key=lambda b: b.pc if b.pc is not None else -1):
            if not h.pc or h.pc in osr:  # (pc 0 is the function's entry op; None: no bytecode pc)
                continue
            n = len(table)
            try:
                text, es = emitter(root).emit_osr(h)
            except NotEligible:
                del table[n:]
                continue
            osr[h.pc] = es
            parts.append(countdown.in_slot(text, quiet))  # (countdown.py)
            wrappers.append(calls.with_limit(_osr_wrapper(h.pc, f"{names[root.code]}_osr{h.pc}", root.ret), calls.levels(names)))
    merged = [r.h.pc for r in regs]
    if tags is not None and can_fold(len(osr or ()), names[root.code] in reg):
        entry = folded_entry(names[root.code], root.params, root.ret, LLTYPE, merged, [pc for pc in osr if pc not in merged], tags)
        parts.append(calls.with_limit(entry, calls.levels(names)))  # (the stack limit, as every entry sets it: calls.py)
        wrappers = []
    parts += wrappers
    w = ["define i32 @entry(i64* %ctx, i64* %args, i64* %out) {", "entry:"]
    args = []
    for k, m in enumerate(root.params):
        w.append(f"  %ap{k} = getelementptr i64, i64* %args, i64 {k}")
        w.append(f"  %aw{k} = load i64, i64* %ap{k}")
        if m == "i" or m in WORDS:
            args.append(f"i64 %aw{k}")
        elif m == "f":
            w.append(f"  %ax{k} = bitcast i64 %aw{k} to double")
            args.append(f"double %ax{k}")
        else:
            w.append(f"  %ax{k} = trunc i64 %aw{k} to i1")
            args.append(f"i1 %ax{k}")
    rt = LLTYPE[root.ret]
    w.append("  %dp = getelementptr i64, i64* %ctx, i64 1")
    w.append("  %depth = load i64, i64* %dp")
    extra = ", i64 0, i64* null" if ext else ""  # (osr.py: a call, not an OSR entry)
    w += calls.entry_call(names[root.code] in reg, rt, names[root.code], f"i64* %ctx, i64 %depth{extra}", "".join(", " + x for x in args), calls.levels(names))
    w.append("  %s = zext i1 %b to i32")
    w += osr_result_lines(root.ret)
    parts.append("\n".join(w) + "\n" if not tags else "")
    # Branch weights for the poll test: it almost never fires.
    parts.append(fields.globals_for("\n".join(parts)))  # (the field keys the code names: fields.bind fills them)
    parts.append('!0 = !{!"branch_weights", i32 1, i32 100000}\n')
    parts.append('!1 = !{!"rsp"}\n')  # (calls.py: the native depth by the stack pointer)
    return mark_inline(countdown.hoist(fold_root("\n".join(parts), names[root.code]))), names  # (what LLVM inlines: inlining.py)
