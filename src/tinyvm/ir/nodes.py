"""The SSA IR's data model: functions, blocks, values, phis, terminators, frame states.

A `Function` is a control-flow graph of `Block`s in SSA form. Every value is an
`Instr` (a parameter, a phi or an ordinary instruction) with a function-wide id
(printed `v7`), an opcode name (`add`, `call`, `get_field`...; the table from
bytecode opcodes to these names is `build.OPS`), operands (other values),
`attrs` (literal operands: a constant, a field name, a global slot, a count)
and a type from bytecode/types.py (`int`, `float`, `[int]`, `any`...). An
instruction that produces no value (`store_global`, `set_field`) has type None.

A block is its phis, then its instructions, then exactly one terminator
(`jump`, `branch`, `return`, `throw`, also an `Instr` so that its operands are
uses like any other). `preds` lists the predecessor blocks in the order of every
phi's operands; `succs` is the terminator's targets.

Exceptional edges: an instruction that can raise inside a bytecode handler's
range names the handler's block in `catch` (printed `catch b7`). The handler
block lists the blocks of those instructions in `catch_preds`, one entry per
catching instruction (a block with two such instructions is listed twice, in
the order of those instructions). A phi has one operand per entry of `preds`
then one per entry of `catch_preds`; an exceptional operand is the value the
slot held just before the catching instruction ran. A handler block is reached
only by exceptional edges and starts with `caught`, the thrown value.

Every instruction that can raise or deoptimise carries a `FrameState`: the
bytecode pc at which the interpreter resumes (the instruction itself: it has not
run yet), the SSA value in each guest local slot (None where the slot holds no
value the IR tracks) and on the operand stack (bottom first, the instruction's
own operands on top), the code object, and `parent`, the caller's frame state
when the instruction was inlined (set by ir/passes/inline.py; None otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..bytecode.types import Type

TERMINATORS = ("jump", "branch", "return", "throw")


@dataclass(eq=False, slots=True)
class FrameState:
    pc: int
    locals: list["Instr | None"]
    stack: list["Instr"]
    code: Any = None  # the bytecode Code object (None in IR parsed from text)
    parent: "FrameState | None" = None
    # A parent state's callee, when the inliner knows the function object the
    # frame waits for (a method inlined by the native tier: jit/native/
    # selfinline.py); a deopt rebuilds the callee's frame around it.
    callee: Any = None

    def values(self) -> list["Instr"]:
        """Every value the state names, its parents' included."""
        out = [v for v in self.locals if v is not None] + list(self.stack)
        return out + (self.parent.values() if self.parent is not None else [])


@dataclass(eq=False, slots=True)
class Instr:
    id: int
    op: str
    args: list["Instr"] = field(default_factory=list)
    attrs: tuple = ()
    type: Type | None = None
    checked: bool = False  # arithmetic: raises on int64 overflow
    pc: int | None = None  # the bytecode pc it came from
    state: FrameState | None = None
    targets: list["Block"] = field(default_factory=list)  # terminators only
    catch: "Block | None" = None  # the handler block an error here continues at
    block: "Block | None" = None

    @property
    def is_phi(self) -> bool:
        return self.op == "phi"

    @property
    def is_terminator(self) -> bool:
        return self.op in TERMINATORS

    def __repr__(self) -> str:
        return f"v{self.id}" if self.type is not None else f"<{self.op}>"


@dataclass(eq=False, slots=True)
class Block:
    label: int
    phis: list[Instr] = field(default_factory=list)
    instrs: list[Instr] = field(default_factory=list)
    terminator: Instr | None = None
    preds: list["Block"] = field(default_factory=list)
    catch_preds: list["Block"] = field(default_factory=list)  # one per catching instruction
    pc: int | None = None  # the bytecode offset it starts at (None: synthetic)

    @property
    def succs(self) -> list["Block"]:
        """The terminator's targets, then the handlers of its catching instructions."""
        out = list(self.terminator.targets) if self.terminator is not None else []
        return out + [i.catch for i in self.all() if i.catch is not None]

    def phi_preds(self) -> list[tuple["Block", "Instr | None"]]:
        """The edge each phi operand comes along, in operand order: (block,
        None) for a normal edge, (block, the catching instruction) for an
        exceptional one (the k-th entry of a block in `catch_preds` is its k-th
        instruction that catches here)."""
        out: list[tuple[Block, Instr | None]] = [(p, None) for p in self.preds]
        seen: dict[Block, int] = {}
        for p in self.catch_preds:
            k = seen.get(p, 0)
            seen[p] = k + 1
            mine = [i for i in p.all() if i.catch is self]
            out.append((p, mine[k] if k < len(mine) else None))
        return out

    @property
    def name(self) -> str:
        return f"b{self.label}"

    def all(self) -> list[Instr]:
        """Phis, instructions and the terminator, in order."""
        return self.phis + self.instrs + ([self.terminator] if self.terminator is not None else [])

    def __repr__(self) -> str:
        return self.name


@dataclass(eq=False, slots=True)
class Function:
    name: str
    params: list[Instr]
    ret: Type
    blocks: list[Block] = field(default_factory=list)
    code: Any = None  # the bytecode Code object it was built from
    next_id: int = 0
    # The abstract frame at the start of each block that has a bytecode pc,
    # by pc (before its first instruction): where the JIT enters compiled
    # code from the interpreter (on-stack replacement at loop headers) and the
    # state a branch exits with. Kept current by `replace_uses`; a value a
    # pass deleted may still be named (the JIT checks what it needs is defined).
    entries: dict[int, FrameState] = field(default_factory=dict)

    @property
    def entry(self) -> Block:
        return self.blocks[0]

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def values(self) -> list[Instr]:
        return list(self.params) + [i for b in self.blocks for i in b.all()]


def set_terminator(block: Block, term: Instr) -> None:
    """End `block` with `term`, and record `block` as a predecessor of its targets."""
    block.terminator = term
    term.block = block
    for t in term.targets:
        t.preds.append(block)


def fold_trivial_phis(phis: list[Instr], alias: dict[Instr, Instr]) -> dict[Instr, Instr]:
    """Extend `alias` (removed value -> the value it stands for) with every phi
    of `phis` that is trivial once aliases are followed (every operand one
    value or the phi itself: Braun et al. 2013), until none is left; return
    the resolved map, each key of `alias` to its final value. The caller
    drops those phis from their blocks and calls `replace_uses` with it."""

    def find(v: Instr) -> Instr:
        while v in alias:
            v = alias[v]
        return v

    changed = True
    while changed:
        changed = False
        for p in phis:
            if p in alias:
                continue
            others = {find(a) for a in p.args} - {p}
            if len(others) == 1:
                alias[p] = others.pop()
                changed = True
    return {k: find(k) for k in alias}


def replace_uses(fn: Function, repl: dict[Instr, Instr]) -> None:
    """Make every use (operands and frame states) of each key of `repl` a use of
    its value, in one pass over the function."""
    if not repl:
        return

    def sub(values: list) -> list:
        return [repl.get(a, a) if a is not None else None for a in values]

    for st in fn.entries.values():
        st.locals = sub(st.locals)
        st.stack = sub(st.stack)
    for b in fn.blocks:
        for ins in b.all():
            ins.args = sub(ins.args)
            st = ins.state
            while st is not None:
                st.locals = sub(st.locals)
                st.stack = sub(st.stack)
                st = st.parent
