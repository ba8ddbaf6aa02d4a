"""Instruction tracing (`tvm run --trace`): every executed instruction, as records.

Why: a learner (or the web IDE) wants to see the machine work -- which
instruction ran, on which line, with what on the operand stack. The tracer
installs one stepping "instruction" hook (vm/hooks.py, every=1): the VM then
runs one plain instruction per dispatch (no superinstructions, JIT entries not
taken), and each event carries the opcode and a copy of the operand stack
before the instruction runs. Operands and their meaning come from the
disassembler's data API (bytecode/disasm.py `instructions`), so a trace line
reads like a `tvm disasm` line.

A trace is bounded (`limit`, default 10000 records): past it the hook is
removed -- the program then runs at full speed to its end -- and `truncated`
is set (the text view ends with one "trace truncated" line). Filters:
`fn` (only instructions of functions of that name; `Class.method` or
`method`), `lines` (only instructions on lines A..B, inclusive). The runtime
library's own code (the prelude) is left out unless `fn` names one of its
functions.

API: `Tracer(vm, fn=..., lines=(a, b), limit=N, out=stream)`; `.start()`,
run, `.stop()`; `.records` (TraceRecord list; not kept when `keep=False`, as
the CLI does for long traces). `format_record` is the text view.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple, Self, TextIO

from ..bytecode.disasm import Instruction, instructions, render_const
from ..heap.packed import PackedArray

DEFAULT_LIMIT = 10000
REPR_WIDTH = 24  # characters of one stack value's repr
STACK_VALUES = 8  # values shown (the top of the stack), the rest as "..."


class TraceRecord(NamedTuple):
    """One executed instruction, before it ran. (A named tuple: one is made
    per instruction traced, and a tuple is the cheapest record to make.)"""

    count: int  # the VM's instruction count (vm.hooks.count) at it
    fiber: int  # Fiber.id
    depth: int  # frames below it in its fiber (0: the outermost)
    function: str
    path: str
    line: int
    col: int
    pc: int
    op: str
    operands: tuple[int, ...]
    argrepr: str  # the operands decoded, as `tvm disasm` shows them
    stack: tuple[str, ...]  # the operand stack, bottom first, as short reprs

    def to_dict(self) -> dict:
        return {
            "count": self.count, "fiber": self.fiber, "depth": self.depth, "function": self.function,
            "path": self.path, "line": self.line, "col": self.col, "pc": self.pc, "op": self.op,
            "operands": list(self.operands), "argrepr": self.argrepr, "stack": list(self.stack),
        }  # fmt: skip


def short_repr(v: Any, width: int = REPR_WIDTH) -> str:
    """A guest value in a few characters, without running guest code."""
    t = type(v)
    if t is int:
        return str(v)  # (the common case, and never wider than 20 characters)
    if v is None or t is bool or t is float or t is str:
        text = render_const(v)
    else:
        name = getattr(v, "type_name", None) or type(v).__name__
        if name == "array":
            # (the length only: reading `items` would unpack a packed array, heap/packed.py)
            n = v.length() if type(v) is PackedArray else len(getattr(v, "items", []))
            text = f"[{n} item{'s' if n != 1 else ''}]"
        elif name == "map":
            text = "{map}"
        elif name == "instance":
            text = f"<{v.cls.name} instance>"
        elif name in ("function", "class"):
            text = f"<{name} {getattr(v, 'name', '?')}>"
        else:
            text = f"<{name}>"
    if len(text) > width:
        text = text[: width - 3] + "..."
    return text


def parse_lines(text: str) -> tuple[int, int]:
    """`A-B` (or `A`) -> (A, B); ValueError with the usage's words."""
    a, _, b = text.partition("-")
    try:
        lo, hi = int(a), int(b or a)
    except ValueError:
        raise ValueError("--trace-lines needs A-B (line numbers)") from None
    if lo < 1 or hi < lo:
        raise ValueError("--trace-lines needs A-B with 1 <= A <= B")
    return lo, hi


def format_record(r: TraceRecord, fibers: bool = False) -> str:
    """One trace line: count, [fiber], file:line:col, function, pc, opcode,
    operands (decoded), the operand stack before the instruction (bottom first)."""
    where = f"{os.path.basename(r.path)}:{r.line}:{r.col}"
    ops = " ".join(str(v) for v in r.operands)
    if r.argrepr:
        ops += f" ({r.argrepr})"
    stack = r.stack if len(r.stack) <= STACK_VALUES else ("...",) + r.stack[-STACK_VALUES:]
    fiber = f"f{r.fiber} " if fibers else ""
    return f"{r.count:>8}  {fiber}{where:<14} {r.function:<12} {r.pc:>4}  {r.op:<16} {ops:<20} [{', '.join(stack)}]"


class Tracer:
    """Traces one VM's instructions (see the module docstring)."""

    def __init__(self, vm: Any, *, fn: str | None = None, lines: tuple[int, int] | None = None, limit: int = DEFAULT_LIMIT, out: TextIO | None = None, keep: bool = True) -> None:
        self.vm = getattr(vm, "machine", vm)
        self.fn = fn
        self.lines = lines
        self.limit = limit if limit is not None else DEFAULT_LIMIT
        if self.limit < 0:
            raise ValueError("the trace limit must not be negative")
        self.out = out
        self.keep = keep
        self.records: list[TraceRecord] = []
        self.emitted = 0
        self.truncated = False
        self._handle: Any = None
        self._listings: dict[Any, dict[int, Instruction] | None] = {}  # None: not traced
        self._fibers_seen: set[int] = set()

    def start(self) -> Tracer:
        self._handle = self.vm.hooks.add("instruction", self._on_instruction, every=1)
        return self

    def stop(self) -> None:
        if self._handle is not None:
            self.vm.hooks.remove(self._handle)
            self._handle = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def finish(self) -> None:
        """Stop, and end the text view with the truncation note if it was cut."""
        self.stop()
        if self.truncated and self.out is not None:
            self.out.write(f"trace truncated: the first {self.limit} instructions were shown (--trace-limit N)\n")

    # ------------------------------------------------------------------ the hook

    def _wanted_code(self, code: Any) -> bool:
        """Is code traced at all (the function filter, the runtime library)?"""
        if self.fn is not None:
            name = code.name
            return name == self.fn or name.endswith("." + self.fn)
        return code not in self.vm.library_code

    def _listing(self, code: Any) -> dict[int, Instruction]:
        """The disassembler's instructions of code, by offset."""
        globals_: tuple = ()
        decoder = self.vm.decoders.get(code)
        module_code = getattr(getattr(decoder, "module", None), "code", None)
        if module_code is not None:
            globals_ = tuple(getattr(module_code, "globals", ()))
        return {ins.offset: ins for ins in instructions(code, globals_)}

    def _on_instruction(self, ev: Any) -> None:
        code = ev.code
        if code is None or ev.pc < 0:
            return
        table = self._listings.get(code)
        if table is None:  # first time in this code: is it traced, and its listing
            table = self._listings[code] = self._listing(code) if self._wanted_code(code) else None
        if table is None:
            return
        lines = self.lines
        if lines is not None and not (lines[0] <= ev.line <= lines[1]):
            return
        if self.emitted >= self.limit:
            self.truncated = True
            self.stop()  # the rest of the run goes at full speed
            return
        ins = table.get(ev.pc)
        data = ev.data
        op = data.get("op") or (ins.opname if ins is not None else "?")
        stack = tuple([short_repr(v) for v in data.get("stack") or ()])
        fb = ev.fiber
        r = TraceRecord(
            ev.count, fb.id if fb is not None else 0, ev.depth, code.name, code.path, ev.line, ev.col, ev.pc, op,
            ins.operands if ins is not None else (), ins.argrepr if ins is not None else "", stack,
        )  # fmt: skip
        self.emitted += 1
        if self.keep:
            self.records.append(r)
        if self.out is not None:
            self._fibers_seen.add(r.fiber)
            self.out.write(format_record(r, fibers=len(self._fibers_seen) > 1 or r.fiber != 0) + "\n")

