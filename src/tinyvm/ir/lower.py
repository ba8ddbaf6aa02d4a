"""IR -> bytecode: `lower(fn, code)` turns a function's (optimized) SSA IR back
into a code object of the same instruction set (`tvmc -O`, ir/optimize.py).

The result replaces `code`: same name, path, arity, flags, captures and nested
code objects; its own instruction stream, constants (the old ones first, so
nested code objects keep their indices), names, line table, handler table,
local count and stack size. `Refused` says why a function is left as it was.

Out of SSA, in three parts:

1. *Shape* (ir/lower_shape.py): which values stay on the operand stack
   (expression trees, `a and b` joins, for-in iterators) and which counted
   loops get their FOR_RANGE back. Constants are rematerialised at each use.
2. *Slots* (ir/lower_slots.py): liveness, interference, and a local slot for
   every other value, preferring the guest slot the frame states show it in.
3. *Emission* (here): blocks laid out so each falls through to its likely
   successor; phis become parallel copies on each incoming edge, sequentialised
   through the operand stack (which solves the swap problem without a scratch
   slot); an edge out of a branch that needs copies (or must pop a for-in
   iterator) gets a trampoline at the end of the code. Every instruction gets
   the source position of its IR instruction's `pc` in the old line table, so
   errors and traces point where they did. The handler table is rebuilt as
   runs of instructions with one handler: a raising instruction's `catch`
   edge, any other instruction the handler its source pc had (a cancellation
   can arrive at an instruction that cannot raise).

Refused (the caller keeps the original code): handlers that keep stack values
(`depth > 0`), a handler only an asynchronous error reaches, ops the lowering
does not know (`guard`, `fuel`: JIT only), a branch with both edges to one
block, constants of a type bytecode cannot hold, interfering values a handler
phi needs in one slot, a captured local's slot holding another live value at a
MAKE_CLOSURE.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_right

from ..bytecode.code import ClassInfo, Code
from ..bytecode.dataflow import first_handlers
from ..bytecode.opcodes import BY_NAME, OPCODES, eval_effect, stack_effect
from .lower_shape import Refused, StackShape, _Loop, _RangeEnd
from .lower_slots import SlotAllocation
from .nodes import Block, Function, Instr

__all__ = ["Refused", "lower"]


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


class _Lowerer(StackShape, SlotAllocation):
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
        self.seq_of: dict[Block, list[Instr]] = {}  # each block's emitted instructions (trees)
        self.stack_phi: set[Instr] = set()  # (see stack_phis)
        self._dup_plan: dict[Instr, Block] = {}  # branch -> the side that pops the DUP
        self.for_iter: Instr | None = None  # the for_iter whose branch comes next
        self.silent: set[Instr] = set()  # a counted loop's parts FOR_RANGE does
        self.loops: dict[Instr, _Loop] = {}  # by the loop header's branch
        self.ranges: dict[Instr, _Loop] = {}  # by the RANGE that starts the loop
        self.loop_at: dict[Block, _Loop] = {}  # by the loop header
        if self.use_for_range:
            self.find_for_ranges()
        # An inclusive counted loop's step the range pass left checked (the
        # builder's `add` at a FOR_RANGE's pc) needs its FOR_RANGE: lowered
        # as ADD, its last pass at int64's max would raise OverflowError
        # where FOR_RANGE leaves the loop (ir/build.py).
        for b in fn.blocks:
            for ins in b.instrs:
                if ins.op == "add" and ins.checked and ins not in self.silent and ins.pc in self.orig and OPCODES[self.orig[ins.pc][0]].name == "FOR_RANGE":
                    raise Refused("an inclusive counted loop without its FOR_RANGE")
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

    def load(self, v: Instr | _RangeEnd) -> None:
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
        loop = self.loop_at.get(dst)
        loop = loop if loop is not None and loop.pre is src else None
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
        rest = iter(fn.blocks)
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
                b = next((s for s in rest if s not in placed), None)  # (rest: one pass in all)
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
            loop = self.loop_at.get(dst)
            if loop is not None and loop.pre is b and loop.range is None:
                # Both ends into FOR_RANGE's slots, RANGE proving them ints
                # to the verifier (it cannot fail: a pass proved them ints).
                e.pos = self.position(loop.more.pc)
                self.load(_RangeEnd(loop.init, loop.slot))
                self.load(_RangeEnd(loop.bound, loop.slot + 1))
                e.emit("RANGE_INCL" if loop.more.op == "le" else "RANGE")
                e.emit("POP")
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
            fi = self.for_iter
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
