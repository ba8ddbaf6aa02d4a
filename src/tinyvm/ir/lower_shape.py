"""The shape of lowered code (ir/lower.py): what stays on the operand stack,
and which loops get their own instructions back.

A mixin of the lowering (`_Lowerer` in ir/lower.py), holding the analyses that
run before slots are allocated:

* expression trees (`trees`): a value used once, by an instruction of its own
  block, right after the trees of the operands that follow it, stays on the
  stack; the other operands are loaded where they come in push order;
* counted loops (`find_for_ranges`): the builder's `lt`, `add`, `branch` of a
  `FOR_RANGE` become one `FOR_RANGE` again, with its two slots pinned;
* for-in loops (`find_iter_loops`): the iterator stays under everything else
  on the stack for the whole loop, as the compiler keeps it;
* joins of `a and b` (`stack_phis`): a join's only phi stays on the stack
  (`DUP`, branch, `POP` on the other side).

Everything here only decides; ir/lower.py emits.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..bytecode.opcodes import OPCODES
from .nodes import Block, Instr

# Ops that never appear as emitted instructions of their own.
_SILENT = frozenset(("param", "phi", "iter_done"))


class Refused(Exception):
    """The lowering does not handle this function (the reason is the message)."""


class StackShape:
    """The lowering's stack-shape analyses (mixed into ir/lower.py `_Lowerer`)."""

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
        children: dict[Block, list[Block]] | None = None  # the dominator tree, once needed
        users: dict[Instr, list[Instr]] = {}
        for b in fn.blocks:
            for ins in b.all():
                for x in ins.args:
                    users.setdefault(x, []).append(ins)
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
            # (`one` may have other uses -- gvn shares a function's constants --:
            # a constant is emitted again at each use, lower.py.)
            if visible != [more, step] or one.op != "const" or one.attrs != (1,):
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
            if len(rng) > 1 or pre.terminator.op != "jump" or pre.preds.count(pre) or h.preds.count(pre) != 1:
                continue
            # (A pass that proved both ends ints may have dropped the RANGE:
            # the lowering then emits one at the end of `pre`, see `_Loop.range`.)
            rng = rng or [None]
            if any(u is not counter for u in users.get(step, ())):
                continue
            # The counter's uses in the body (blocks it dominates; a phi's
            # operand is used at the end of its predecessor) become `cur`'s.
            if children is None:
                from .verify import dominators

                children = {}
                for b, d in dominators(fn).items():
                    if d is not b:
                        children.setdefault(d, []).append(b)
            under = _subtree(children, body)
            cur = Instr(fn.new_id(), "for_range_value", [], (), counter.type, block=body)
            body.instrs.insert(0, cur)
            changed, left = [], False
            for u in dict.fromkeys(users.get(counter, ())):
                if u.op == "phi":
                    ks = [k for k, x in enumerate(u.args) if x is counter and k < len(u.block.preds) and u.block.preds[k] in under]
                else:
                    ks = [k for k, x in enumerate(u.args) if x is counter] if u.block in under else []
                for k in ks:
                    u.args[k] = cur
                if ks:
                    changed.append(u)
                if u not in (more, step) and any(x is counter for x in u.args):
                    left = True
            if left:  # (used after the loop too: then counter and step overlap)
                for u in changed:
                    u.args = [counter if x is cur else x for x in u.args]
                body.instrs.remove(cur)
                continue
            users[counter] = [u for u in users[counter] if u not in changed]
            users[cur] = changed
            loop = _Loop(a, counter, step, more, rng[0], init, bound, cur, pre, h)
            self.silent |= {more, step, cur}
            self.loops[t] = loop
            self.loop_at[h] = loop
            if rng[0] is not None:
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
            for loop in self.loops.values():
                if loop.range is None:  # (the RANGE the lowering emits uses both ends)
                    for x in (loop.init, loop.bound):
                        uses[x] = uses.get(x, 0) + 1
            self.uses = uses

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
        # Consumed first thing in j (its first load), or tested and passed on.
        first_load = self.preload.get(seq[0], [])[:1] == [p]
        consumed = self.uses.get(p) == 1 and first_load and self.preload[seq[0]].count(p) == 1
        if not (consumed or (seq == [t] and self.passes_on(j, p, cands))):
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
        self._dup_plan[t] = other
        return True

    def carriable_any(self, v: Instr) -> bool:
        """carriable, whatever the number of uses (a DUP makes the second)."""
        return v.type is not None and v.op not in ("make_cell", "caught", "for_iter", "phi", "param") and v not in self.remat

    def carriable(self, v: Instr) -> bool:
        return v.type is not None and self.uses.get(v, 0) == 1 and v.op not in ("make_cell", "caught", "for_iter", "phi", "param")


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
    range: Instr | None  # the RANGE that checked both ends (None: emit one entering the loop)
    init: Instr
    bound: Instr
    cur: Instr  # the value FOR_RANGE pushes: the counter, in the body
    pre: Block  # the block that enters the loop (holds the RANGE)
    header: Block


def _subtree(children: dict[Block, list[Block]], top: Block) -> set[Block]:
    """The blocks `top` dominates (itself included), by the dominator tree."""
    out, work = set(), [top]
    while work:
        b = work.pop()
        out.add(b)
        work += children.get(b, ())
    return out
