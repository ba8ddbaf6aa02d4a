"""IR -> bytecode: `lower(fn, code)` turns a function's (optimized) SSA IR back
into a code object of the same instruction set (`tvmc -O`).

The result replaces `code`: same name, path, arity, flags, captures and nested
code objects; its own instruction stream, constants (the old ones first, so
nested code objects keep their indices), names, line table, handler table,
local count and stack size. `Refused` says why a function is left as it was.

Out of SSA, in four steps:

1. *Operand stack*: a value used once, by an instruction of its own block, and
   defined right before the value operands of that use that follow it (a
   tree, as a stack machine evaluates an expression) stays on the operand
   stack; the other operands of that use are loaded where the tree starts.
   Constants are rematerialised (`LOAD_CONST` at every use) rather than kept
   in slots. Every other value lives in a local slot.
2. *Liveness and interference*: live sets per block, then per instruction
   backwards; a definition interferes with what is live after it. A phi of a
   handler block is live from the exceptional edges' operands, which must
   already sit in the phi's slot when the instruction raises: no copy can run
   on an exceptional edge, so the phi and those operands share one slot, and
   interfering ones make the function refused.
3. *Slots*: parameters keep theirs; every other value prefers the guest slot
   the frame states show it in (so a disassembly reads like the original),
   then the slot of a phi it feeds or is fed by, then a temporary above the
   original `nlocals` (first fit, several non-interfering values per slot).
4. *Emission*: blocks in the IR's order; phis become parallel copies on each
   incoming edge, sequentialised through the operand stack (which solves the
   swap problem without a scratch slot); an edge out of a branch that needs
   copies gets a trampoline at the end of the code. Every instruction gets the
   source position of its IR instruction's `pc` in the old line table, so
   errors and traces point where they did; the handler table is rebuilt from
   the `catch` edges as contiguous runs of instructions that catch at the same
   handler (instructions that cannot raise join any run).

Refused (the caller keeps the original code): handlers that keep stack values
(`depth > 0`), ops the lowering does not know (`guard`, `fuel`: JIT only),
a branch with both edges to one block, constants of a type bytecode cannot
hold, interfering values a handler phi needs in one slot, a captured local's
slot holding another live value at a MAKE_CLOSURE.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_right
from dataclasses import dataclass

from ..bytecode.code import ClassInfo, Code
from ..bytecode.dataflow import first_handlers
from ..bytecode.opcodes import BY_NAME, OPCODES, eval_effect, stack_effect
from .nodes import Block, Function, Instr

__all__ = ["Refused", "lower"]


class Refused(Exception):
    """The lowering does not handle this function (the reason is the message)."""


# IR op -> bytecode opcode name, for the ops that are one bytecode instruction
# with their operands on the stack (build.OPS's `value` rows, inverted).
def _value_ops() -> dict[str, str]:
    from .build import OPS

    out: dict[str, str] = {}
    for name, spec in OPS.items():
        if spec.kind == "value":
            out.setdefault(spec.ir, name)
    return out


_VALUE_OPS = _value_ops()
# Ops that never appear as emitted instructions of their own.
_SILENT = frozenset(("param", "phi", "iter_done"))
_DC = object()  # handler tag: the handler of the source pc being lowered (_Emitter.tag)


def _const_key(k: object) -> tuple:
    if isinstance(k, (Code, ClassInfo)):
        return ("ref", id(k))
    return (type(k).__name__, repr(k))


_CONST_TYPES = (int, float, str, bool, type(None), tuple)


class _Emitter:
    """The new instruction stream with its positions and handler tags."""

    def __init__(self) -> None:
        self.ops: list[list] = []  # [opname, operands (ints or _Label), pos, tag]
        self.pos: tuple[int, int] = (0, 0)
        self.tag: Block | None = None  # the handler of the source pc being lowered
        self.written: set[int] = set()  # slots stored to so far

    def emit(self, name: str, *operands: object, tag: object = _DC) -> None:
        self.ops.append([name, list(operands), self.pos, self.tag if tag is _DC else tag])
        if name in ("STORE_LOCAL", "MAKE_CELL"):
            self.written.add(operands[0])


class _Label:
    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at = -1


class _Lowerer:
    def __init__(self, fn: Function, code: Code, for_range: bool = True) -> None:
        self.fn, self.code = fn, code
        self.use_for_range = for_range
        self.consts = list(code.consts)
        self.const_index = {}
        for i, k in enumerate(self.consts):
            self.const_index.setdefault(_const_key(k), i)
        self.names = list(code.names)
        self.name_index = {n: i for i, n in reversed(list(enumerate(self.names)))}
        self.line_offs = [off for off, _, _ in code.lines]
        self.orig = _decode(code)

    # -- analysis -----------------------------------------------------------------

    def prepare(self) -> None:
        fn = self.fn
        # Phis nothing but dead phis use go first (there is no value to copy
        # for them; the counted-loop shape also wants them out of the way).
        useful: set[Instr] = set()
        work = [a for b in fn.blocks for ins in b.instrs + [b.terminator] for a in ins.args if a.op == "phi"]
        while work:
            p = work.pop()
            if p not in useful:
                useful.add(p)
                work += [a for a in p.args if a.op == "phi"]
        for b in fn.blocks:
            b.phis = [p for p in b.phis if p in useful]
        handler_depth = {t: d for _, _, t, d in self.code.handlers}
        self.handlers = {b for b in fn.blocks if b.catch_preds}
        for h in self.handlers:
            if handler_depth.get(h.pc, 0) != 0:
                raise Refused("a handler keeps stack values")
        # The handler of every original pc: an instruction that cannot raise
        # still can be where a cancellation arrives (a preemption point), so
        # each emitted instruction keeps the handler its source pc had.
        by_pc = {h.pc: h for h in self.handlers}
        self.handler_at: dict[int, Block | None] = {}
        for pc, (target, _) in (first_handlers(self.code, sorted(self.orig)) if self.code.handlers else {}).items():
            if target not in by_pc:
                raise Refused("a handler that only an asynchronous error reaches")
            self.handler_at[pc] = by_pc[target]
        uses: dict[Instr, int] = {}
        for b in fn.blocks:
            for ins in b.all():
                if ins.op == "iter_done":
                    continue
                for a in ins.args:
                    uses[a] = uses.get(a, 0) + 1
                if ins.op not in _VALUE_OPS and ins.op not in _KNOWN:
                    raise Refused(f"op {ins.op}")
        self.uses = uses
        self.carried: set[Instr] = set()  # values that never leave the operand stack
        self.silent: set[Instr] = set()  # a counted loop's parts FOR_RANGE does
        self.loops: dict[Instr, _Loop] = {}  # by the loop header's branch
        self.ranges: dict[Instr, _Loop] = {}  # by the RANGE that starts the loop
        if self.use_for_range:
            self.find_for_ranges()
        # The exceptional-edge operand of each handler phi, per catching instruction.
        self.catch_args: dict[Instr, list[tuple[Instr, Instr]]] = {}  # catching ins -> [(phi, arg)]
        catch_arg_values: set[Instr] = set()
        for h in self.handlers:
            edges = h.phi_preds()
            for k, (_, ins) in enumerate(edges):
                if ins is None:
                    continue
                for p in h.phis:
                    if uses.get(p, 0):
                        self.catch_args.setdefault(ins, []).append((p, p.args[k]))
                        catch_arg_values.add(p.args[k])
        self.remat = {ins for b in fn.blocks for ins in b.instrs if ins.op == "const" and ins not in catch_arg_values}
        for ins in self.remat:
            v = ins.attrs[0]
            if not isinstance(v, _CONST_TYPES) and type(v).__name__ != "_Ref":
                raise Refused(f"constant of type {type(v).__name__}")
        self.find_iter_loops()
        self.trees()
        self.stack_phis()

    # -- counted loops ----------------------------------------------------------------

    def find_for_ranges(self) -> None:
        """Give back FOR_RANGE its loops. The builder turned `FOR_RANGE a`
        into `more = lt counter, bound; step = add counter, 1; branch more`
        at the loop header, with the counter a phi of (the range's start,
        step). Lowered as such, each iteration would run eight instructions
        where FOR_RANGE runs one; so when the shape is intact, the counter and
        step are pinned to slot a, slot a+1 is reserved for the bound, the
        RANGE before the loop stores both ends there (with DUP, so the
        verifier's type pass proves them ints, as the compiler's code does),
        and the value FOR_RANGE pushes becomes a new value (`cur`) replacing
        the counter in the loop body."""
        fn = self.fn
        idom = None
        for h in fn.blocks:
            t = h.terminator
            if t.op != "branch" or not h.phis:
                continue
            more = t.args[0]
            if more.op not in ("lt", "le") or more.block is not h or more.pc not in self.orig:
                continue
            op, operands = self.orig[more.pc]
            if OPCODES[op].name != "FOR_RANGE":
                continue
            a, incl, _ = operands
            if (more.op == "le") != bool(incl) or a + 1 >= self.code.nlocals:
                continue
            counter, bound = more.args
            steps = [i for i in h.instrs if i.op == "add" and i.args and i.args[0] is counter and i.pc == more.pc]
            if len(steps) != 1 or counter.op != "phi" or counter.block is not h or self.uses.get(more) != 1:
                continue
            step = steps[0]
            one = step.args[1]
            visible = [i for i in h.instrs if not (i.op == "const" and i is one)]
            if visible != [more, step] or one.op != "const" or one.attrs != (1,) or self.uses.get(one) != 1:
                continue
            body, exit_ = t.targets
            if body.preds != [h] or body is exit_:
                continue
            entries = [k for k, p in enumerate(h.preds) if counter.args[k] is not step]
            if len(entries) != 1 or h.catch_preds:
                continue
            pre = h.preds[entries[0]]
            init = counter.args[entries[0]]
            rng = [i for i in pre.instrs if i.op in ("range", "range_incl") and i.args == [init, bound]]
            if len(rng) != 1 or pre.terminator.op != "jump" or pre.preds.count(pre) or h.preds.count(pre) != 1:
                continue
            if any(u is not counter for u in self.users(step)):
                continue
            # The counter's uses in the body become uses of `cur`.
            if idom is None:
                from .verify import dominators

                idom = dominators(fn)
            under = _dominated(fn, idom, body)
            cur = Instr(fn.new_id(), "for_range_value", [], (), counter.type, block=body)
            body.instrs.insert(0, cur)
            for b in under:
                for ins in b.instrs + [b.terminator]:
                    ins.args = [cur if x is counter else x for x in ins.args]
            for b in fn.blocks:
                for k, p in enumerate(b.preds):
                    if p in under:
                        for phi in b.phis:
                            if phi.args[k] is counter:
                                phi.args[k] = cur
            left = [u for u in self.users(counter) if u not in (more, step)]
            if left:  # (used after the loop too: then counter and step overlap)
                for b in fn.blocks:
                    for ins in b.all():
                        ins.args = [counter if x is cur else x for x in ins.args]
                body.instrs.remove(cur)
                continue
            loop = _Loop(a, counter, step, more, rng[0], init, bound, cur, pre, h)
            self.silent |= {more, step, cur}
            self.loops[t] = loop
            self.ranges[rng[0]] = loop
        # Recount the uses the rewriting moved.
        if self.loops:
            uses: dict[Instr, int] = {}
            for b in fn.blocks:
                for ins in b.all():
                    # (FOR_RANGE compares in place of `more`: its operands are not used)
                    if ins.op != "iter_done" and not (ins in self.silent and ins.op in ("lt", "le")):
                        for x in ins.args:
                            uses[x] = uses.get(x, 0) + 1
            self.uses = uses

    def users(self, v: Instr) -> list[Instr]:
        return [ins for b in self.fn.blocks for ins in b.all() if any(x is v for x in ins.args)]

    def stack_args(self, ins: Instr) -> list[Instr]:
        """The operands `ins` takes from the operand stack, in push order."""
        op = ins.op
        if op in ("cell_get", "closure", "make_cell", "for_iter", "jump", "caught", "const"):
            return []
        if op == "cell_set":
            return [ins.args[1]]
        if op == "branch" and ins in self.fused:
            return [ins.args[0].args[0]]
        if op == "branch" and (ins.args[0].op == "iter_done" or ins in self.loops):
            return []
        return list(ins.args)

    def trees(self) -> None:
        """Which values stay on the operand stack, and where the others are loaded."""
        self.fused: set[Instr] = set()  # branches that test a `truthy` with JUMP_IF_FALSY
        self.preload: dict[Instr, list[Instr]] = {}  # instruction -> values to push before it
        for b in self.fn.blocks:
            seq = [i for i in b.instrs if i not in self.remat and i.op not in _SILENT and i not in self.silent] + [b.terminator]
            t = b.terminator
            if t.op == "branch" and len(seq) >= 2 and seq[-2] is t.args[0] and t.args[0].op == "truthy" and self.uses.get(t.args[0]) == 1:
                self.fused.add(t)
                seq.pop(-2)
            start: dict[int, int] = {}
            for u, ins in enumerate(seq):
                # Walk the operands from the last: one defined right before
                # (after the trees of the operands that follow it) stays on
                # the stack, with its own tree before it; any other is loaded
                # from its slot (or rematerialised) at that point.
                args = self.stack_args(ins)
                p = u - 1
                for j in range(len(args) - 1, -1, -1):
                    v = args[j]
                    if p >= 0 and seq[p] is v and self.carriable(v) and args.count(v) == 1:
                        self.carried.add(v)
                        p = start[p] - 1
                    else:
                        if ins in self.ranges:  # (both ends also go to FOR_RANGE's slots)
                            v = _RangeEnd(v, self.ranges[ins].slot + j)
                        self.preload.setdefault(seq[p + 1], [])[:0] = [v]
                start[u] = p + 1
            self.seq_of = getattr(self, "seq_of", {})
            self.seq_of[b] = seq

    def find_iter_loops(self) -> None:
        """Keep a for-in loop's iterator on the operand stack, as the compiler
        does: `GET_ITER` before the loop, `FOR_ITER` at its header, and the
        iterator below everything else while the body runs (in a slot, each
        iteration would load it again and pop it after FOR_ITER). Every block
        of the loop then starts one value deeper (`self.base`), and an edge
        leaving the loop other than FOR_ITER's own exit pops it. Not done when
        a handler block lies in the loop (its table depth would have to keep
        the iterator)."""
        self.base: dict[Block, int] = {b: 0 for b in self.fn.blocks}
        self.iter_on_stack: set[Instr] = set()  # for_iter instructions whose iterator stays
        self.iter_pre: dict[Block, Block] = {}  # loop header -> the block entering it
        for h in self.fn.blocks:
            t = h.terminator
            if t.op != "branch" or t.args[0].op != "iter_done":
                continue
            fi = t.args[0].args[0]
            x = fi.args[0] if fi.op == "for_iter" and fi.block is h else None
            if x is None or x.op != "get_iter" or self.uses.get(x) != 1 or x.block is h:
                continue
            pre = x.block
            if pre.terminator.op != "jump" or pre.terminator.targets[0] is not h or h.preds.count(pre) != 1:
                continue
            region, work = {h}, [p for p in h.preds if p is not pre]
            ok = True
            while work:
                b = work.pop()
                if b in region:
                    continue
                if b is pre or b.catch_preds or b in self.handlers or b is self.fn.blocks[0]:
                    ok = False
                    break
                region.add(b)
                work += b.preds
            if not ok or h.catch_preds:
                continue
            self.iter_on_stack.add(fi)
            self.iter_pre[h] = pre
            self.carried.add(x)
            for b in region:
                self.base[b] += 1

    def pops(self, src: Block, dst: Block) -> int:
        """How many iterators an edge leaves behind (see find_iter_loops)."""
        if self.iter_pre.get(dst) is src:
            return 0  # (the iterator is pushed on the way in)
        n = self.base[src] - self.base[dst]
        t = src.terminator
        if t.op == "branch" and t.args[0].op == "iter_done" and t.args[0].args[0] in self.iter_on_stack and dst is t.targets[0]:
            n -= 1  # (FOR_ITER pops its iterator when done)
        if n < 0:
            raise Refused("an edge into a for-in loop")
        return n

    def stack_phis(self) -> None:
        """Keep `a and b`'s value on the operand stack across its blocks.

        The compiler evaluates `a and b` as `a; DUP; JUMP_IF_FALSE end; POP;
        b; end:` -- the value reaches the join on the stack. In SSA that is a
        phi of a block's only phi; given a slot it would cost a store and a
        load on each edge. So a join's only phi stays on the stack when: the
        join consumes it first thing (the first value its first instruction
        loads, used nowhere else) or branches on it and passes it on to such
        a join; and every predecessor either jumps to the join with the value
        last on the stack, or branches on the value itself (`DUP`, then the
        branch; the other successor, reached only from there, starts with
        `POP`)."""
        self.stack_phi: set[Instr] = set()
        self.dup_branch: set[Instr] = set()  # branches that DUP their operand first
        self.pop_first: set[Block] = set()
        cands: dict[Block, Instr] = {}
        for j in self.fn.blocks[1:]:
            useful = [p for p in j.phis if self.uses.get(p, 0)]
            if len(useful) == 1 and not j.catch_preds and j not in self.handlers and len(set(j.preds)) == len(j.preds):
                cands[j] = useful[0]
        plans: dict[Block, list] = {}
        changed = True
        while changed:
            changed = False
            for j, p in list(cands.items()):
                plan = self.stack_phi_plan(j, p, cands)
                if plan is None:
                    del cands[j]
                    changed = True
                else:
                    plans[j] = plan
        for j, p in cands.items():
            self.stack_phi.add(p)
            for kind, x, extra in plans[j]:
                if kind == "carry":
                    self.carried.add(x)
                    pre = self.preload.get(extra)
                    if pre and pre[0] is x:
                        pre.pop(0)
                elif kind == "dup":
                    self.dup_branch.add(x)
                    self.pop_first.add(extra)
            first = self.seq_of[j][0]
            pre = self.preload.get(first)
            if pre and pre[0] is p:
                pre.pop(0)

    def stack_phi_plan(self, j: Block, p: Instr, cands: dict[Block, Instr]) -> list | None:
        """What keeping `p` on the stack needs, or None if it cannot be."""
        seq = self.seq_of[j]
        plan: list = []
        if any(self.base[pred] != self.base[j] for pred in j.preds):
            return None
        t = j.terminator
        first_load = self.preload.get(seq[0], [])[:1] == [p]
        if self.uses.get(p) == 1 and first_load and self.preload[seq[0]].count(p) == 1:
            pass
        elif seq == [t] and self.passes_on(j, p, cands):
            pass
        else:
            return None
        for k, pred in enumerate(j.preds):
            a = p.args[k]
            pt = pred.terminator
            pseq = self.seq_of[pred]
            if pt.op == "jump":
                if a in self.carried or a.op == "phi" and a in cands.values():
                    return None
                if len(pseq) >= 2 and pseq[-2] is a and self.uses.get(a) == 1 and self.carriable(a):
                    plan.append(("carry", a, pt))
                continue
            if pt.op != "branch" or pred is j or not self.passes_on(pred, a, cands, to=j):
                return None
            plan.append(("dup", pt, self._dup_plan[pt]))
            if a.op == "phi" and a.block is pred and cands.get(pred) is a:
                continue  # (pred's own stack phi: on the stack from its start)
            if len(pseq) < 2 or pseq[-2] is not a or not self.carriable_any(a):
                return None
            plan.append(("carry", a, pt))
        return plan

    def passes_on(self, b: Block, v: Instr, cands: dict[Block, Instr], to: Block | None = None) -> bool:
        """Whether b's branch tests v (on the stack) and hands v to one target's
        stack phi (`to`, when given) and nothing else uses v: DUP, then branch.
        Records the plan's DUP when it holds."""
        t = b.terminator
        if t.op != "branch" or t in self.loops or t.args[0].op == "iter_done" or t.targets[0] is t.targets[1]:
            return False
        if self.stack_args(t) != [v]:
            return False
        if self.uses.get(v) != 2:  # (the test, and the phi)
            return False
        phi_targets = [s for s in t.targets if s in cands and cands[s].args[s.preds.index(b)] is v]
        if len(phi_targets) != 1 or (to is not None and phi_targets[0] is not to):
            return False
        other = next(s for s in t.targets if s is not phi_targets[0])
        if self.base[other] != self.base[b] or other.preds != [b] or other.phis or other.catch_preds or other in self.handlers:
            return False
        self._dup_plan = getattr(self, "_dup_plan", {})
        self._dup_plan[t] = other
        return True

    def carriable_any(self, v: Instr) -> bool:
        """carriable, whatever the number of uses (a DUP makes the second)."""
        return v.type is not None and v.op not in ("make_cell", "caught", "for_iter", "phi", "param") and v not in self.remat

    def carriable(self, v: Instr) -> bool:
        return v.type is not None and self.uses.get(v, 0) == 1 and v.op not in ("make_cell", "caught", "for_iter", "phi", "param")

    def slotted(self, v: Instr) -> bool:
        if v in getattr(self, "stack_phi", ()):
            return False
        if v in self.silent and v.op in ("lt", "le"):  # (FOR_RANGE compares)
            return False
        return v.type is not None and v not in self.carried and v not in self.remat and v.op != "iter_done"

    def liveness(self) -> None:
        fn = self.fn
        # Normal phi operands are used at the end of the predecessor.
        phi_out: dict[Block, set[Instr]] = {b: set() for b in fn.blocks}
        for b in fn.blocks:
            for k, p in enumerate(b.preds):
                for phi in b.phis:
                    if self.uses.get(phi, 0) and self.slotted(phi.args[k]):
                        phi_out[p].add(phi.args[k])
        live_in: dict[Block, set[Instr]] = {b: set() for b in fn.blocks}
        self.live_in = live_in
        self.interf: dict[Instr, set[Instr]] = {}
        self.live_after: dict[Instr, set[Instr]] = {}
        changed = True
        final = False
        while True:
            changed = False
            for b in reversed(fn.blocks):
                live = set(phi_out[b])
                for s in b.terminator.targets:  # (a handler's: at each catching instruction)
                    live |= live_in[s]
                live = self.walk(b, live, final)
                if live != live_in[b]:
                    live_in[b] = live
                    changed = True
            if final:
                break
            if not changed:
                final = True
        # Parameters are defined together at the entry.
        entry_live = live_in[fn.blocks[0]] | {p for p in fn.params if self.uses.get(p, 0)}
        for p in fn.params:
            self.interf.setdefault(p, set()).update(entry_live - {p})
            for q in entry_live - {p}:
                self.interf.setdefault(q, set()).add(p)

    def walk(self, b: Block, live: set[Instr], record: bool) -> set[Instr]:
        live = set(live)

        def define(d: Instr) -> None:
            if record and self.slotted(d):
                others = live - {d}
                self.interf.setdefault(d, set()).update(others)
                for o in others:
                    self.interf.setdefault(o, set()).add(d)
            live.discard(d)

        for ins in [b.terminator] + b.instrs[::-1]:
            if ins.op == "closure" and record:
                self.live_after[ins] = set(live)
            if ins.type is not None:
                define(ins)
            if ins.op != "iter_done" and not (ins in self.silent and ins.op in ("lt", "le")):
                for a in ins.args:
                    if self.slotted(a):
                        live.add(a)
            for _, a in self.catch_args.get(ins, ()):
                if self.slotted(a):
                    live.add(a)
            if ins.catch is not None:
                live |= self.live_in[ins.catch]
        phis = [p for p in b.phis if self.uses.get(p, 0)]
        if record:
            for p in phis:
                live.add(p)
            for p in phis:
                define(p)
                live.add(p)
        for p in b.phis:
            live.discard(p)
        return live

    # -- slots ----------------------------------------------------------------------

    def allocate(self) -> None:
        fn, code = self.fn, self.code
        parent: dict[Instr, Instr] = {}

        def find(v: Instr) -> Instr:
            while v in parent:
                v = parent[v]
            return v

        for pairs in self.catch_args.values():
            for phi, a in pairs:
                ra, rp = find(a), find(phi)
                if ra is not rp:
                    parent[ra] = rp
        pin: dict[Instr, int] = {p: p.attrs[0] for p in fn.params}
        reserved: set[int] = set()
        for loop in self.loops.values():
            rs, rc = find(loop.step), find(loop.counter)
            if rs is not rc:
                parent[rs] = rc
            pin[loop.counter] = pin[loop.step] = loop.slot
            reserved |= {loop.slot, loop.slot + 1}
        homes: dict[Instr, list[int]] = {}
        for b in fn.blocks:
            for ins in b.all():
                st = ins.state
                if st is None:
                    continue
                for k, v in enumerate(st.locals):
                    if v is not None and k not in homes.setdefault(v, []):
                        homes[v].append(k)
                if ins.op == "closure":
                    caps = [i for from_local, i in self._closure_code(ins).captures if from_local]
                    for v, k in zip(ins.args, caps):
                        homes.setdefault(v, [])
                        if k in homes[v]:
                            homes[v].remove(k)
                        homes[v].insert(0, k)
        for loop in self.loops.values():  # (the frame states still name the counter)
            homes[loop.cur] = [k for k in homes.get(loop.counter, ()) if k not in (loop.slot, loop.slot + 1)]
        values: list[Instr] = [p for p in fn.params if self.uses.get(p, 0)]
        for b in fn.blocks:
            for ins in b.phis + b.instrs:
                if self.slotted(ins) and (self.uses.get(ins, 0) or ins in parent):
                    values.append(ins)
        groups: dict[Instr, list[Instr]] = {}
        for v in values:
            groups.setdefault(find(v), []).append(v)
        for pairs in self.catch_args.values():  # a group's members that are not otherwise used
            for phi, a in pairs:
                if self.slotted(a) and a not in groups.setdefault(find(a), []):
                    groups[find(a)].append(a)
        related: dict[Instr, list[Instr]] = {}
        for b in fn.blocks:
            for p in b.phis:
                for a in p.args:
                    related.setdefault(a, []).append(p)
                    related.setdefault(p, []).append(a)
        self.slot: dict[Instr, int] = {}
        members: dict[int, list[Instr]] = {}
        nslots = code.nlocals

        def fits(group: list[Instr], s: int) -> bool:
            for x in members.get(s, ()):
                for m in group:
                    if x in self.interf.get(m, ()):
                        return False
            return True

        order = list(groups.items())
        order.sort(key=lambda kv: 0 if any(m in pin for m in kv[1]) else 1)
        for _, group in order:
            for m in group:
                for o in group:
                    if o is not m and o in self.interf.get(m, ()):
                        raise Refused("values a handler needs in one slot interfere")
            pinned = {pin[m] for m in group if m in pin}
            if len(pinned) > 1:
                raise Refused("two pinned values a handler needs in one slot")
            if pinned:
                cands = list(pinned)
            else:
                cands = [k for m in group for k in homes.get(m, ())]
                cands += [self.slot[r] for m in group for r in related.get(m, ()) if r in self.slot]
                # (a value that only feeds a phi lands where the phi will live)
                cands += [k for m in group for r in related.get(m, ()) for k in homes.get(r, ())]
                cands += list(range(code.nlocals, nslots))
            chosen = next((s for s in cands if (pinned or s not in reserved) and fits(group, s)), None)
            if chosen is None:
                if pinned:
                    raise Refused("a pinned slot (parameter, counted loop) is taken")
                chosen = nslots
                nslots += 1
            for m in group:
                self.slot[m] = chosen
            members.setdefault(chosen, []).extend(group)
        self.nslots = nslots
        # A MAKE_CLOSURE reads its captured cells from fixed slots: the copies
        # into them must not clobber a value still live there.
        for ins, after in self.live_after.items():
            caps = [i for from_local, i in self._closure_code(ins).captures if from_local]
            for a, k in zip(ins.args, caps):
                for x in members.get(k, ()):
                    if x is not a and x in after:
                        raise Refused("a captured local's slot holds another live value")

    # -- constants and names --------------------------------------------------------

    def const(self, v: object, ins: Instr | None) -> int:
        if type(v).__name__ == "_Ref":
            kind = Code if v.kind == "fn" else ClassInfo
            cands = [i for i, k in enumerate(self.code.consts) if isinstance(k, kind) and k.name == v.name]
            if len(cands) > 1 and ins is not None and ins.pc in self.orig:
                mine = [a for a in self.orig[ins.pc][1] if a in cands]
                cands = mine[:1] if mine else cands
            if len(cands) != 1:
                raise Refused(f"ambiguous constant {v.kind} {v.name}")
            return cands[0]
        if not isinstance(v, _CONST_TYPES):
            raise Refused(f"constant of type {type(v).__name__}")
        key = _const_key(v)
        if key not in self.const_index:
            self.const_index[key] = len(self.consts)
            self.consts.append(v)
        return self.const_index[key]

    def name(self, n: str) -> int:
        if n not in self.name_index:
            self.name_index[n] = len(self.names)
            self.names.append(n)
        return self.name_index[n]

    def _closure_code(self, ins: Instr) -> Code:
        return self.code.consts[self.const(ins.attrs[0], ins)]

    # -- emission -------------------------------------------------------------------

    def position(self, pc: int) -> tuple[int, int]:
        i = bisect_right(self.line_offs, pc) - 1
        if i < 0:
            return (self.code.line, self.code.col)
        _, line, col = self.code.lines[i]
        return (line, col)

    def load(self, v: "Instr | _RangeEnd") -> None:
        e = self.e
        if isinstance(v, _RangeEnd):  # a counted loop's end, also stored to its slot
            self.load(v.value)
            e.emit("DUP")
            e.emit("STORE_LOCAL", v.slot)
        elif v in self.remat:
            k = v.attrs[0]
            if k is None:
                e.emit("LOAD_NIL")
            elif k is True:
                e.emit("LOAD_TRUE")
            elif k is False:
                e.emit("LOAD_FALSE")
            else:
                e.emit("LOAD_CONST", self.const(k, v))
        else:
            e.emit("LOAD_LOCAL", self.slot[v])

    def result(self, ins: Instr) -> None:
        if ins in self.carried:
            return
        if self.uses.get(ins, 0) or ins in self.slot:
            self.e.emit("STORE_LOCAL", self.slot[ins])
        else:
            self.e.emit("POP")

    def copies(self, pairs: list[tuple[Instr, int]], entry: bool = False) -> None:
        """Parallel copy: each value into its slot, as if all at once. (Out of
        the entry block, a nil need not be copied into a slot above the
        parameters: nothing has written it yet, and frames start with nil.)"""
        todo = [(a, d) for a, d in pairs if a in self.remat or self.slot.get(a) != d]
        if entry:
            todo = [(a, d) for a, d in todo if not (a in self.remat and a.attrs[0] is None and d > self.code.arity and d not in self.e.written)]
        consts = [(a, d) for a, d in todo if a in self.remat]
        moves = [(self.slot[a], d) for a, d in todo if a not in self.remat]
        while moves:
            srcs = {s for s, _ in moves}
            ready = [m for m in moves if m[1] not in srcs]
            if not ready:  # only cycles left: through the stack
                for s, _ in moves:
                    self.e.emit("LOAD_LOCAL", s)
                for _, d in reversed(moves):
                    self.e.emit("STORE_LOCAL", d)
                break
            for s, d in ready:
                self.e.emit("LOAD_LOCAL", s)
                self.e.emit("STORE_LOCAL", d)
            moves = [m for m in moves if m not in ready]
        for a, d in consts:
            self.load(a)
            self.e.emit("STORE_LOCAL", d)

    def edge_copies(self, src: Block, dst: Block) -> list[tuple[Instr, int]]:
        if not dst.phis:
            return []
        if dst.preds.count(src) != 1:
            raise Refused("two edges between one pair of blocks")
        k = dst.preds.index(src)
        loop = next((lp for lp in self.loops.values() if lp.header is dst and lp.pre is src), None)
        # (Into a counted loop, its RANGE has stored the counter's start.)
        return [(p.args[k], self.slot[p]) for p in dst.phis if self.uses.get(p, 0) and p not in self.stack_phi and (loop is None or p is not loop.counter)]

    def target(self, src: Block, dst: Block) -> _Label:
        """The label an edge jumps to: the block's, or a trampoline's doing the copies."""
        pairs = self.edge_copies(src, dst)
        pops = self.pops(src, dst)
        if not pops and not [1 for a, d in pairs if a in self.remat or self.slot.get(a) != d]:
            return self.labels[dst]
        lab = _Label()
        # (the stack there: the source's base, less FOR_ITER's iterator when done)
        self.trampolines.append((lab, pairs, dst, self.e.pos, self.e.tag, pops, self.base[dst] + pops))
        self.label_depth[lab] = self.base[dst] + pops
        return lab

    def run(self) -> Code:
        fn, code = self.fn, self.code
        if len(fn.params) != code.arity + 1:
            raise Refused("parameters do not match the code object")
        self.prepare()
        self.liveness()
        self.allocate()
        self.e = e = _Emitter()
        self.labels = {b: _Label() for b in fn.blocks}
        self.trampolines: list = []
        self.label_depth: dict[_Label, int] = {}
        e.pos = (code.line, code.col)
        layout = self.layout()
        for bi, b in enumerate(layout):
            nxt = layout[bi + 1] if bi + 1 < len(layout) else None
            e.ops.append(["LABEL", [self.labels[b]], e.pos, _DC])
            self.label_depth[self.labels[b]] = self.base[b]
            # Pristine: only the straight line from the entry has run so far.
            prev = layout[bi - 1] if bi else None
            self.pristine = bi == 0 or (self.pristine and b.preds == [prev] and not b.catch_preds and prev.terminator.op == "jump")
            if b.pc is not None:
                e.tag = self.handler_at.get(b.pc)
            if b in self.pop_first:
                e.emit("POP")  # (the value `a and b` handed to the other side)
            for ins in self.seq_of[b]:
                if ins.pc is not None:
                    e.pos = self.position(ins.pc)
                    e.tag = self.handler_at.get(ins.pc)
                for v in self.preload.get(ins, ()):
                    self.load(v)
                if ins.is_terminator:
                    self.terminator(b, ins, nxt)
                else:
                    self.instr(ins)
        for lab, pairs, dst, pos, tag, pops, _ in self.trampolines:
            e.pos, e.tag = pos, tag
            e.ops.append(["LABEL", [lab], pos, _DC])
            for _ in range(pops):
                e.emit("POP")  # (an iterator of the loop this edge leaves)
            self.copies(pairs)
            e.emit("JUMP", self.labels[dst])
        return self.assemble()

    def layout(self) -> list[Block]:
        """Block order: each block followed, where it can be, by the successor
        it would fall through to (a branch's true side, a loop's body), so
        fewer jumps run; otherwise the IR's order."""
        fn = self.fn
        order, placed = [], set()
        rest = list(fn.blocks)
        b: Block | None = fn.blocks[0]
        while b is not None:
            order.append(b)
            placed.add(b)
            t = b.terminator
            prefs = list(t.targets)
            if t.op == "branch" and (t.args[0].op == "iter_done" or t in self.loops):
                prefs = [t.targets[1]] if t.args[0].op == "iter_done" else [t.targets[0]]
            b = next((s for s in prefs if s not in placed), None)
            if b is None:
                b = next((s for s in rest if s not in placed), None)
        return order

    def instr(self, ins: Instr) -> None:
        e, op = self.e, ins.op
        # (A raising instruction's handler is its catch edge; where it has none,
        # its source pc had none either, or it cannot raise: FOR_RANGE's parts.)
        tag = ins.catch if ins.catch is not None else _DC
        if op == "caught":
            self.result(ins)
        elif op == "const":
            if ins.attrs[0] is None and ins.block is self.fn.blocks[0] and self.slot.get(ins, 0) > self.code.arity:
                return  # a frame's locals above the parameters start as nil
            self.remat.add(ins)
            self.load(ins)
            self.remat.discard(ins)
            self.result(ins)
        elif op == "cell_get":
            e.emit("LOAD_CELL", self.slot[ins.args[0]], tag=tag)
            self.result(ins)
        elif op == "cell_set":
            e.emit("STORE_CELL", self.slot[ins.args[0]], tag=tag)
        elif op == "make_cell":
            s = self.slot.get(ins)
            if s is None:
                return  # an unused cell: MAKE_CELL has no other effect
            v = ins.args[0]
            if v in self.remat or self.slot.get(v) != s:
                self.load(v)
                e.emit("STORE_LOCAL", s)
            e.emit("MAKE_CELL", s, tag=tag)
        elif op == "closure":
            sub = self._closure_code(ins)
            caps = [i for from_local, i in sub.captures if from_local]
            self.copies(list(zip(ins.args, caps)))
            e.emit("MAKE_CLOSURE", self.const(ins.attrs[0], ins), tag=tag)
            self.result(ins)
        elif op == "for_iter":
            if ins not in self.iter_on_stack:
                e.emit("LOAD_LOCAL", self.slot[ins.args[0]])
            self.for_iter = ins
        elif ins in self.ranges:
            loop = self.ranges[ins]
            # (Both ends are on the stack, stored to the counter's slots on
            # the way, see trees(), unless computed right here:)
            for end, k in ((loop.init, 0), (loop.bound, 1)):
                if end in self.carried:
                    e.emit("DUP")
                    e.emit("STORE_LOCAL", loop.slot + k)
            e.emit(_VALUE_OPS[op], tag=tag)
            self.result(ins)
        elif op == "truthy":
            e.emit("FALSY", tag=tag)
            e.emit("NOT", tag=tag)
            self.result(ins)
        else:
            name = _VALUE_OPS[op]
            e.emit(name, *self.operands(ins, name), tag=tag)
            if OPCODES[BY_NAME[name].code].pushes:
                self.result(ins)

    def operands(self, ins: Instr, name: str) -> list[int]:
        info = BY_NAME[name]
        attrs = list(ins.attrs)
        out: list[int | None] = []
        derived = None
        for kind, letter in zip(info.operands, "abc"):
            if kind == "count" and letter in info.pops:
                derived = len(out)
                out.append(0)
                continue
            if not attrs:
                raise Refused(f"{ins.op} lacks an operand")
            a = attrs.pop(0)
            if kind == "const":
                out.append(self.const(a, ins))
            elif kind == "name":
                out.append(self.name(a))
            else:
                out.append(int(a))
        if derived is not None:
            c0 = eval_effect(info.pops, out)
            out[derived] = 1
            c1 = eval_effect(info.pops, out)
            n, r = divmod(len(ins.args) - c0, c1 - c0)
            if r or n < 0:
                raise Refused(f"{ins.op} has {len(ins.args)} operands")
            out[derived] = n
        elif eval_effect(info.pops, out) != len(ins.args):
            raise Refused(f"{ins.op} has {len(ins.args)} operands")
        return out

    def terminator(self, b: Block, t: Instr, nxt: Block | None) -> None:
        e = self.e
        if t.op == "return":
            e.emit("RETURN")
        elif t.op == "throw":
            e.emit("THROW", tag=t.catch)
        elif t.op == "jump":
            dst = t.targets[0]
            self.copies(self.edge_copies(b, dst), entry=self.pristine)
            for _ in range(self.pops(b, dst)):
                e.emit("POP")  # (an iterator of the loop this edge leaves)
            for p in dst.phis:
                if p in self.stack_phi:  # the join's value goes on the stack, last
                    a = p.args[dst.preds.index(b)]
                    if a not in self.carried:
                        self.load(a)
            if dst is not nxt:
                e.emit("JUMP", self.labels[dst])
        elif t.op == "branch":
            if_true, if_false = t.targets
            if if_true is if_false:
                raise Refused("a branch with both edges to one block")
            if t in self.loops:
                loop = self.loops[t]
                e.emit("FOR_RANGE", loop.slot, 1 if loop.more.op == "le" else 0, self.target(b, if_false))
                self.result(loop.cur)
                self.jump_to(b, if_true, nxt)
                return
            fi = getattr(self, "for_iter", None)
            if fi is not None and fi.block is b:
                self.for_iter = None
                cond = t.args[0]
                if cond.op != "iter_done" or cond.args[0] is not fi:
                    raise Refused("for_iter without its iter_done branch")
                e.emit("FOR_ITER", self.target(b, if_true), tag=fi.catch)
                self.result(fi)  # the value (the iterator stays below it)
                if fi not in self.iter_on_stack:
                    e.emit("POP")
                self.jump_to(b, if_false, nxt)
                return
            if t in self.fused:
                jf, jt = "JUMP_IF_FALSY", "JUMP_IF_TRUTHY"
            else:
                jf, jt = "JUMP_IF_FALSE", "JUMP_IF_TRUE"
            if t in self.dup_branch:
                e.emit("DUP")  # (one copy for the test, one for the join)
            lt, lf = self.target(b, if_true), self.target(b, if_false)
            if lf is self.labels.get(nxt) and lt is not lf:
                e.emit(jt, lt, tag=_DC)
            else:
                e.emit(jf, lf, tag=_DC)
                if lt is not self.labels.get(nxt):
                    e.emit("JUMP", lt)
        else:
            raise Refused(f"terminator {t.op}")

    def jump_to(self, b: Block, dst: Block, nxt: Block | None) -> None:
        for _ in range(self.pops(b, dst)):
            self.e.emit("POP")
        self.copies(self.edge_copies(b, dst))
        if dst is not nxt:
            self.e.emit("JUMP", self.labels[dst])

    # -- assembly -------------------------------------------------------------------

    def assemble(self) -> Code:
        code = self.code
        ops = self.e.ops
        pc = 0
        for item in ops:
            if item[0] == "LABEL":
                item[1][0].at = pc
            else:
                pc += BY_NAME[item[0]].size
        stream: list[int] = []
        lines: list[tuple[int, int, int]] = []
        tags: list[tuple[int, int, object]] = []  # (start, end, tag)
        depth = max_depth = 0
        # Blocks entered with one value on the stack: handlers (the caught
        # value), joins of a stack phi, and the other sides of their DUPs.
        entry1 = {self.labels[h] for h in self.handlers} | {self.labels[p.block] for p in self.stack_phi}
        entry1 |= {self.labels[b] for b in self.pop_first}
        for name, operands, pos, tag in ops:
            if name == "LABEL":
                # Every block starts with an empty stack (values cross blocks
                # in slots), a handler with the caught value.
                depth = self.label_depth.get(operands[0], 0) + (1 if operands[0] in entry1 else 0)
                max_depth = max(max_depth, depth)
                continue
            at = len(stream)
            args = [o.at if isinstance(o, _Label) else o for o in operands]
            info = BY_NAME[name]
            stream.append(info.code)
            stream.extend(args)
            if not lines or lines[-1][1:] != pos:
                lines.append((at, *pos))
            tags.append((at, len(stream), tag))
            depth += stack_effect(info, args)
            if name == "FOR_ITER":
                max_depth = max(max_depth, depth)
            max_depth = max(max_depth, depth)
        handlers: list[tuple[int, int, int, int]] = []
        cur: list | None = None  # [start, end, handler block]
        for start, end, tag in tags:
            if cur is not None and tag is cur[2]:
                cur[1] = end
                continue
            if cur is not None:
                handlers.append((cur[0], cur[1], self.labels[cur[2]].at, 0))
                cur = None
            if tag is not None:
                cur = [start, end, tag]
        if cur is not None:
            handlers.append((cur[0], cur[1], self.labels[cur[2]].at, 0))
        extra = self.nslots - code.nlocals
        local_types = code.local_types
        if len(local_types) == code.nlocals and extra:
            local_types = local_types + ("",) * extra
        return dataclasses.replace(
            code,
            nlocals=self.nslots,
            local_names=code.local_names + tuple(f"$t{i}" for i in range(extra)),
            local_types=local_types,
            code=tuple(stream),
            consts=tuple(self.consts),
            names=tuple(self.names),
            lines=tuple(lines),
            handlers=tuple(handlers),
            max_stack=max(max_depth, 1),
        )


@dataclass(frozen=True)
class _RangeEnd:
    """A preloaded end of a counted loop's range: pushed, and stored with DUP to
    FOR_RANGE's slot, so that the verifier sees RANGE check that slot's value."""

    value: Instr
    slot: int


@dataclass(eq=False)
class _Loop:
    """A counted loop lowered to FOR_RANGE (see `find_for_ranges`)."""

    slot: int  # FOR_RANGE's counter slot (the bound is slot + 1)
    counter: Instr  # the header's phi
    step: Instr  # counter + 1
    more: Instr  # counter < bound
    range: Instr  # the RANGE that checked both ends
    init: Instr
    bound: Instr
    cur: Instr  # the value FOR_RANGE pushes: the counter, in the body
    pre: Block  # the block that enters the loop (holds the RANGE)
    header: Block


def _dominated(fn: Function, idom: dict[Block, Block], top: Block) -> set[Block]:
    out = set()
    for b in fn.blocks:
        x = b
        while x in idom:
            if x is top:
                out.add(b)
                break
            if idom[x] is x:
                break
            x = idom[x]
    return out


# Ops with a lowering of their own (the rest are in _VALUE_OPS).
_KNOWN = frozenset(("for_range_value", "param", "phi", "const", "caught", "cell_get", "cell_set", "make_cell", "closure", "for_iter", "iter_done", "truthy", "jump", "branch", "return", "throw"))


def _decode(code: Code) -> dict[int, tuple[int, tuple[int, ...]]]:
    out, pc, n = {}, 0, len(code.code)
    while pc < n:
        info = OPCODES[code.code[pc]]
        out[pc] = (info.code, tuple(code.code[pc + 1 : pc + info.size]))
        pc += info.size
    return out


def lower(fn: Function, code: Code, for_range: bool = True) -> Code:
    """Bytecode for `fn`, the (optimized) IR of `code`; raises Refused when the
    function is better left as it was. The result is not verified here: the
    caller knows the module's global count (`verifier.verify_code`).
    for_range: give counted loops back their FOR_RANGE (this rewrites `fn`:
    a caller that retries without it builds the IR again)."""
    return _Lowerer(fn, code, for_range).run()
