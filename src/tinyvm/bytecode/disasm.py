"""Disassembler: TinyVM code objects as data (`instructions`) and as text.

The data API mirrors CPython's `dis.Instruction`: one `Instruction` per
instruction with its decoded operands and a human-readable `argrepr`, so tools
(tests, the debugger, profilers) can inspect bytecode without parsing text.
`format_code` / `format_module` are views over that data, e.g.::

    == fn fib (fib.tl:1) arity 1, 2 locals, max stack 3 ==
        0  L2:8   LOAD_LOCAL        1 (n)
        2  L2:12  LOAD_CONST        0 (2)
        4  L2:10  LT
        5  L2:5   JUMP_IF_FALSE     10 (to 10)
        7  L2:23  LOAD_LOCAL        1 (n)
        9  L2:16  RETURN
    >> 10  L3:12  LOAD_LOCAL        1 (n)
    ...

A line is: `>>` when the offset is a jump or handler target, the offset, the
source line:col, the opcode name, the raw operands, and the operands decoded
(constant values, local/upvalue/global/field names, `to N` for jumps; for
CHECK_TYPE, the type and place unquoted: `(int, argument 'n' of fib)`). A
function's exception table (`start to end -> target [depth d]`) follows its
code; nested functions follow their parent, each under its own header.

The disassembler does not require verified code: unknown opcodes, truncated
instructions and out-of-range operands are shown (as `<bad ...>`, `?`) rather
than raising, so it can be pointed at a file the verifier rejected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .code import FLAG_ASYNC, FLAG_GENERATOR, FLAG_INIT, FLAG_METHOD, FLAG_MODULE, ClassInfo, Code, ModuleCode
from .opcodes import BY_NAME, CONST, COUNT, GLOBAL, LOCAL, NAME, NUM_OPCODES, OPCODES, OPERAND_KINDS, UPVAL

# `opcodes.JUMP` is the operand-kind string at definition time but is then
# overwritten by the JUMP opcode number (opcodes exports every opcode name as a
# module constant), so the jump operand kind is spelled out here.
_JUMP_KIND = "jump"
assert _JUMP_KIND in OPERAND_KINDS
_CHECK_TYPE = BY_NAME["CHECK_TYPE"].code

__all__ = ["Instruction", "instructions", "render_const", "format_code", "format_module"]

_FLAG_NAMES = (
    (FLAG_METHOD, "method"),
    (FLAG_INIT, "init"),
    (FLAG_GENERATOR, "generator"),
    (FLAG_ASYNC, "async"),
    (FLAG_MODULE, "module"),
)


@dataclass(frozen=True, slots=True)
class Instruction:
    """One decoded instruction."""

    offset: int  # index of the opcode in Code.code
    opcode: int
    opname: str
    operands: tuple[int, ...]
    argrepr: str  # operands decoded by kind, "" when there is nothing to add
    line: int  # source position from the line table
    col: int
    is_jump_target: bool  # some jump or exception handler lands here


_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0", '"': '\\"', "\\": "\\\\"}


def _render_str(s: str) -> str:
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _render_text(s: str) -> str:
    """Text shown unquoted (a type, a place): only escapes are applied."""
    return _render_str(s)[1:-1].replace('\\"', '"')


def render_const(v: object) -> str:
    """A constant as TinyLang would write it (nil, true, "text", 1.5, ...)."""
    if v is None:
        return "nil"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if type(v) is int:
        return str(v)
    if type(v) is float:
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if type(v) is str:
        return _render_str(v)
    if type(v) is tuple:
        return "(" + ", ".join(render_const(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if type(v) is Code:
        return f"<code {v.name}>"
    if type(v) is ClassInfo:
        return f"<class {v.name}>"
    return f"<{type(v).__name__}>"


def _lookup(table: object, i: int) -> str | None:
    if isinstance(table, (tuple, list)) and 0 <= i < len(table):
        return table[i]
    return None


def _argrepr(code: Code, kind: str, v: int, globals_: tuple[str, ...], op: int = -1) -> str:
    if kind == CONST:
        if isinstance(code.consts, tuple) and 0 <= v < len(code.consts):
            k = code.consts[v]
            if op == _CHECK_TYPE and type(k) is tuple and len(k) == 2 and all(type(x) is str for x in k):
                return f"{_render_text(k[0])}, {_render_text(k[1])}"
            return render_const(k)
        return "?"
    if kind == _JUMP_KIND:
        return f"to {v}"
    if kind == COUNT:
        return ""
    table = {LOCAL: code.local_names, UPVAL: code.upval_names, GLOBAL: globals_, NAME: code.names}[kind]
    name = _lookup(table, v)
    return str(name) if name is not None else "?"


def _jump_targets(code: Code) -> set[int]:
    targets: set[int] = set()
    seq = code.code
    pc = 0
    while pc < len(seq):
        op = seq[pc]
        if not (type(op) is int and 0 <= op < NUM_OPCODES):
            pc += 1
            continue
        info = OPCODES[op]
        for kind, v in zip(info.operands, seq[pc + 1 : pc + info.size]):
            if kind == _JUMP_KIND:
                targets.add(v)
        pc += info.size
    for h in code.handlers:
        if isinstance(h, tuple) and len(h) == 4:
            targets.add(h[2])
    return targets


def instructions(code: Code, globals: tuple[str, ...] = ()) -> list[Instruction]:
    """Decode `code` into `Instruction`s. `globals` names the module's global
    slots (for GLOBAL operands); without it they show as "?"."""
    targets = _jump_targets(code)
    # Verified line tables ascend; malformed entries are skipped, not fatal.
    lines = [e for e in code.lines if isinstance(e, tuple) and len(e) == 3 and type(e[0]) is int]
    out: list[Instruction] = []
    seq = code.code
    li = 0
    line, col = code.line, code.col
    pc = 0
    while pc < len(seq):
        # Advance the line table in step with the offsets (both ascend).
        while li < len(lines) and lines[li][0] <= pc:
            _, line, col = lines[li]
            li += 1
        op = seq[pc]
        if type(op) is int and 0 <= op < NUM_OPCODES:
            info = OPCODES[op]
            operands = tuple(seq[pc + 1 : pc + info.size])
            parts = [_argrepr(code, kind, v, globals, op) for kind, v in zip(info.operands, operands)]
            argrepr = ", ".join(p for p in parts if p)
            if len(operands) < len(info.operands):
                argrepr = (argrepr + ", " if argrepr else "") + "<truncated>"
            out.append(Instruction(pc, op, info.name, operands, argrepr, line, col, pc in targets))
            pc += info.size
        else:
            out.append(Instruction(pc, op if type(op) is int else -1, f"<bad {op!r}>", (), "", line, col, pc in targets))
            pc += 1
    return out


def _flags_text(flags: int) -> str:
    names = [name for bit, name in _FLAG_NAMES if flags & bit]
    return (", " + " ".join(names)) if names else ""


def _format_one(code: Code, globals_: tuple[str, ...]) -> list[str]:
    out = [
        f"== fn {code.name} ({code.path}:{code.line}) arity {code.arity}, "
        + (f"required {code.required}, " if code.required >= 0 else "")  # tldefault: defaults
        + f"{code.nlocals} locals, max stack {code.max_stack}{_flags_text(code.flags)} =="
    ]
    if code.captures:
        caps = []
        for i, cap in enumerate(code.captures):
            name = _lookup(code.upval_names, i) or "?"
            if isinstance(cap, tuple) and len(cap) == 2:
                caps.append(f"{name} ({'local' if cap[0] else 'upval'} {cap[1]})")
            else:
                caps.append(f"{name} (<bad {cap!r}>)")
        out.append("captures: " + ", ".join(caps))
    # The checker's types (parameters: declared only, as the VM checks them).
    typed = [f"{_lookup(code.local_names, i) or i}: {t}" for i, t in enumerate(code.local_types) if t and type(t) is str]
    if typed or (code.ret_type and type(code.ret_type) is str):
        out.append("types: " + ", ".join(typed) + (f" -> {code.ret_type}" if code.ret_type else ""))
    for ins in instructions(code, globals_):
        mark = ">>" if ins.is_jump_target else "  "
        pos = f"L{ins.line}:{ins.col}"
        text = f"{mark}{ins.offset:>3}  {pos:<7}{ins.opname:<18}"
        if ins.operands:
            text += " ".join(str(v) for v in ins.operands)
        if ins.argrepr:
            text += f" ({ins.argrepr})"
        out.append(text.rstrip())
    if code.handlers:
        out.append("exception table:")
        for h in code.handlers:
            if isinstance(h, tuple) and len(h) == 4:
                start, end, target, depth = h
                out.append(f"  {start} to {end} -> {target} [depth {depth}]")
            else:
                out.append(f"  <bad {h!r}>")
    return out


def _nested(code: Code) -> list[Code]:
    found = []
    for k in code.consts:
        if type(k) is Code:
            found.append(k)
    return found


def format_code(code: Code, globals: tuple[str, ...] = (), recursive: bool = True) -> str:
    """Disassemble `code` as text; with `recursive`, nested functions follow,
    each under its own header."""
    blocks: list[list[str]] = []
    stack = [code]
    seen: set[int] = set()
    while stack:
        c = stack.pop(0)
        if id(c) in seen:
            continue
        seen.add(id(c))
        blocks.append(_format_one(c, globals))
        if recursive:
            # depth-first, in constant order
            stack[:0] = _nested(c)
    return "\n\n".join("\n".join(b) for b in blocks) + "\n"


def format_module(m: ModuleCode) -> str:
    """Disassemble a whole module: a summary header, then all of its code."""
    head = [f"=== module {m.path} ({m.lang}) ==="]
    head.append("globals: " + (", ".join(f"{i}={g}" for i, g in enumerate(m.globals)) or "-"))
    if m.exports:
        head.append("exports: " + ", ".join(m.exports))
    if m.imports:
        head.append("imports: " + ", ".join(m.imports))
    return "\n".join(head) + "\n\n" + format_code(m.init, m.globals, recursive=True)
