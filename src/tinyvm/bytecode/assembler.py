"""The assemble pass: symbolic instructions in, a finished `Code` out.

The emitter produces a list of `Instr` (with `Label` objects as jump operands)
and `Label` markers. Assembly:

1. lays instructions out (each is 1 + #operands ints) and binds labels to offsets;
2. replaces label operands by offsets;
3. computes the maximum operand-stack depth by walking every path with the
   opcode table's stack effects (the same walk the verifier repeats on load);
4. builds the line table, emitting an entry only where the position changes.

Depth errors here are compiler bugs, so they raise AssertionError rather than
becoming user diagnostics.
"""

from __future__ import annotations

from dataclasses import dataclass

from .code import Code
from .opcodes import JUMP_KIND, OPCODES, stack_effect


class Label:
    __slots__ = ("offset", "name")

    def __init__(self, name: str = "") -> None:
        self.offset = -1
        self.name = name

    def __repr__(self) -> str:
        return f"<L{self.name}@{self.offset}>"


@dataclass(slots=True)
class Instr:
    op: int
    args: tuple  # ints, or Label for jump operands
    line: int
    col: int


@dataclass(slots=True)
class Handler:
    start: Label
    end: Label
    target: Label
    depth: int  # operand stack depth to restore before pushing the error


def assemble(
    items: list,
    handlers: list[Handler],
    *,
    name: str,
    path: str,
    line: int,
    col: int,
    arity: int,
    local_names: tuple[str, ...],
    consts: tuple,
    names: tuple[str, ...],
    captures: tuple[tuple[bool, int], ...],
    upval_names: tuple[str, ...],
    flags: int,
    local_types: tuple[str, ...] = (),
    ret_type: str = "",
    required: int = -1,
) -> Code:
    # 1. layout
    offset = 0
    instrs: list[tuple[int, Instr]] = []
    for it in items:
        if isinstance(it, Label):
            it.offset = offset
        else:
            instrs.append((offset, it))
            offset += 1 + len(it.args)
    end = offset
    # 2. encode
    flat: list[int] = []
    lines: list[tuple[int, int, int]] = []
    last_pos = None
    for off, ins in instrs:
        flat.append(ins.op)
        for a in ins.args:
            if isinstance(a, Label):
                assert a.offset >= 0, f"unbound label in {name}"
                flat.append(a.offset)
            else:
                flat.append(a)
        pos = (ins.line, ins.col)
        if pos != last_pos:
            lines.append((off, ins.line, ins.col))
            last_pos = pos
    hs = tuple((h.start.offset, h.end.offset, h.target.offset, h.depth) for h in handlers if h.start.offset < h.end.offset)
    code = tuple(flat)
    max_stack = _max_depth(code, hs, end, name)
    return Code(
        name=name,
        path=path,
        line=line,
        col=col,
        arity=arity,
        nlocals=len(local_names),
        local_names=local_names,
        code=code,
        consts=consts,
        names=names,
        captures=captures,
        upval_names=upval_names,
        lines=tuple(lines),
        handlers=hs,
        max_stack=max_stack,
        flags=flags,
        local_types=local_types,
        ret_type=ret_type,
        required=required,
    )


def _max_depth(code: tuple[int, ...], handlers: tuple, end: int, name: str) -> int:
    depth_at: dict[int, int] = {}
    work: list[tuple[int, int]] = [(0, 0)]
    for _, _, target, depth in handlers:
        work.append((target, depth + 1))
    best = 0
    while work:
        pc, d = work.pop()
        while True:
            seen = depth_at.get(pc)
            if seen is not None:
                assert seen == d, f"compiler bug: inconsistent stack depth in {name} at {pc}: {seen} vs {d}"
                break
            assert pc < end, f"compiler bug: code of {name} runs off its end"
            depth_at[pc] = d
            best = max(best, d)
            info = OPCODES[code[pc]]
            n = len(info.operands)
            operands = code[pc + 1 : pc + 1 + n]
            if info.branch is not None:
                target = operands[info.operands.index(JUMP_KIND)]
                work.append((target, d + stack_effect(info, operands, branch=True)))
            if info.terminal:
                break
            d += stack_effect(info, operands)
            assert d >= 0, f"compiler bug: stack underflow in {name} at {pc}"
            best = max(best, d)
            pc += 1 + n
    return best
