"""The IR's text form: `format_function` prints a Function, `parse_function` reads it back.

The two round-trip exactly: `format_function(parse_function(t)) == t` for every
`t` the printer wrote. The grammar (docs/ir.md has it with examples):

    function  := "fn " NAME "(" [param ("," param)*] ") -> " TYPE NL block*
    param     := VALUE ": " TYPE
    block     := LABEL ":" [" preds " LABEL ("," LABEL)*] [" catch-preds " LABEL ("," LABEL)*] NL line*
    line      := "  " [VALUE " = "] OP [".checked"] ["[" attr ("," attr)* "]"]
                 [" " operand ("," operand)*] [" : " TYPE] [state [" catch " LABEL]]
    operand   := VALUE | LABEL                      (labels only in jump and branch)
    state     := "  @pc " INT " [" slots " | " slots "]" (" <- @pc " INT " [" slots " | " slots "]")*
    slots     := [slot (", " slot)*]                slot := VALUE | "_"
    attr      := INT | FLOAT | STRING | "nil" | "true" | "false" | "(" [attr ("," attr)*] ")"
                 | "<fn " STRING ">" | "<class " STRING ">"
    VALUE := "v" INT    LABEL := "b" INT    TYPE: bytecode/types.py's text    STRING: JSON

NAME is the code object's name, JSON-quoted unless it is made of letters,
digits and `_.<>$`. A state lists the frame's locals then its operand stack;
`<-` introduces the caller's frame of an inlined one. Phis list one operand per
predecessor, in the order of the block's `preds` then `catch-preds` (the
exceptional edges: the k-th mention of a block there is its k-th instruction
whose `catch` names this block).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable

from ..bytecode.code import Code, ModuleCode
from ..bytecode.disasm import render_const
from ..bytecode.types import Type, TypeTextError, parse_type_text
from .build import Unsupported, _Ref, build
from .nodes import Block, FrameState, Function, Instr

__all__ = ["IRSyntaxError", "format_function", "parse_function", "format_attr", "format_module_ir"]

_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.<>$]+")


class IRSyntaxError(ValueError):
    """Text that is not IR: the message names the line."""


# -- printing -------------------------------------------------------------------


def format_attr(v: object) -> str:
    """An attribute: strings as JSON (the parser reads them back with json),
    tuples and code references here, every other constant as the
    disassembler writes it (nil, true, 1.5, nan, -inf)."""
    if type(v) is str:
        return json.dumps(v)
    if type(v) is tuple:
        return "(" + ", ".join(format_attr(x) for x in v) + ")"
    if isinstance(v, _Ref):
        return f"<{v.kind} {json.dumps(v.name)}>"
    return render_const(v)


def _name(name: str) -> str:
    return name if _PLAIN_NAME.fullmatch(name) else json.dumps(name)


def _slots(values: list) -> str:
    return ", ".join("_" if v is None else f"v{v.id}" for v in values)


def _state(st: FrameState) -> str:
    links, seen = [], set()
    cur: FrameState | None = st
    while cur is not None:
        if id(cur) in seen:  # broken IR (the verifier says so): print, do not recurse
            links.append("(loop)")
            break
        seen.add(id(cur))
        links.append(f"@pc {cur.pc} [{_slots(cur.locals)} | {_slots(cur.stack)}]")
        cur = cur.parent
    return " <- ".join(links)


def format_instr(ins: Instr) -> str:
    head = f"v{ins.id} = " if ins.type is not None and not ins.is_terminator else ""
    text = head + ins.op + (".checked" if ins.checked else "")
    if ins.attrs:
        text += "[" + ", ".join(format_attr(a) for a in ins.attrs) + "]"
    operands = [f"v{a.id}" for a in ins.args] + [t.name for t in ins.targets]
    if operands:
        text += " " + ", ".join(operands)
    if ins.type is not None and not ins.is_terminator:
        text += f" : {ins.type}"
    if ins.state is not None:
        text += "  " + _state(ins.state)
    if ins.catch is not None:
        text += f" catch {ins.catch.name}"
    return text


def format_function(fn: Function) -> str:
    params = ", ".join(f"v{p.id}: {p.type}" for p in fn.params)
    lines = [f"fn {_name(fn.name)}({params}) -> {fn.ret}"]
    for b in fn.blocks:
        head = f"{b.name}:" + (" preds " + ", ".join(p.name for p in b.preds) if b.preds else "")
        lines.append(head + (" catch-preds " + ", ".join(p.name for p in b.catch_preds) if b.catch_preds else ""))
        for ins in b.all():
            lines.append("  " + format_instr(ins))
    return "\n".join(lines) + "\n"


def _codes(code: Code) -> list[Code]:
    """`code` and the code objects nested in its constants, depth first."""
    out, stack = [], [code]
    while stack:
        c = stack.pop()
        out.append(c)
        stack.extend(reversed([k for k in c.consts if isinstance(k, Code)]))
    return out


def format_module_ir(m: ModuleCode, transform: Callable[[Function, ModuleCode], object] | None = None) -> str:
    """`tvm ir`: a header, then the IR of every function of the module, or the
    line `fn NAME: not built: Unsupported(WHAT)`. transform(fn, m), when
    given, rewrites each function in place before it is printed (`tvm ir
    --passes` runs the optimizer there; this layer does not import it)."""
    parts = [f"=== module {m.path} ({m.lang}) ===\n"]
    for c in _codes(m.init):
        try:
            fn = build(c)
            if transform is not None:
                transform(fn, m)
            parts.append(format_function(fn))
        except Unsupported as e:
            parts.append(f"fn {_name(c.name)}: not built: {e}\n")
    return "\n".join(parts)


# -- parsing --------------------------------------------------------------------


class _Line:
    """A cursor over one line of text."""

    def __init__(self, text: str, lineno: int) -> None:
        self.s, self.i, self.lineno = text, 0, lineno

    def fail(self, msg: str) -> IRSyntaxError:
        return IRSyntaxError(f"line {self.lineno}: {msg}: {self.s.strip()!r}")

    def eat(self, tok: str) -> bool:
        if self.s.startswith(tok, self.i):
            self.i += len(tok)
            return True
        return False

    def need(self, tok: str) -> None:
        if not self.eat(tok):
            raise self.fail(f"expected {tok!r}")

    def match(self, pattern: str) -> str:
        m = re.compile(pattern).match(self.s, self.i)
        if m is None:
            raise self.fail(f"expected {pattern}")
        self.i = m.end()
        return m.group(0)

    def string(self) -> str:
        try:
            value, end = json.JSONDecoder().raw_decode(self.s, self.i)
        except json.JSONDecodeError:
            raise self.fail("bad string") from None
        if type(value) is not str:
            raise self.fail("expected a string")
        self.i = end
        return value

    def attr(self) -> object:
        for word, value in (("nil", None), ("true", True), ("false", False), ("nan", math.nan), ("inf", math.inf), ("-inf", -math.inf)):
            if self.s.startswith(word, self.i) and not self.s[self.i + len(word) : self.i + len(word) + 1].isalnum():
                self.i += len(word)
                return value
        c = self.s[self.i : self.i + 1]
        if c == '"':
            return self.string()
        if c == "(":
            self.i += 1
            items = []
            while not self.eat(")"):
                if items:
                    self.need(", ")
                items.append(self.attr())
            return tuple(items)
        if c == "<":
            kind = self.match(r"<(fn|class) ")[1:-1]
            name = self.string()
            self.need(">")
            return _Ref(kind, name)
        num = self.match(r"-?[0-9][0-9.e+\-]*")
        try:
            return int(num) if re.fullmatch(r"-?[0-9]+", num) else float(num)
        except ValueError:
            raise self.fail(f"bad number {num!r}") from None


def _type(text: str, line: _Line) -> Type:
    try:
        return parse_type_text(text)
    except (TypeTextError, IndexError, ValueError) as e:
        raise line.fail(f"bad type {text!r} ({e})") from None


def _split_top(text: str) -> list[str]:
    """Split at the commas outside brackets."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return out + ([cur.strip()] if cur.strip() else [])


def parse_function(text: str) -> Function:
    """Read the text `format_function` writes. Raises IRSyntaxError."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise IRSyntaxError("line 1: expected 'fn'")
    head = _Line(lines[0], 1)
    head.need("fn ")
    name = head.string() if head.s[head.i : head.i + 1] == '"' else head.match(r"[A-Za-z0-9_.<>$]+?(?=\()")
    head.need("(")
    depth, j = 1, head.i
    while j < len(head.s) and depth:
        depth += head.s[j] in "([{"
        depth -= head.s[j] in ")]}"
        j += 1
    if depth:
        raise head.fail("unclosed parameter list")
    values: dict[int, Instr] = {}
    params = []
    for item in _split_top(head.s[head.i : j - 1]):
        m = re.fullmatch(r"v([0-9]+): (.+)", item)
        if m is None:
            raise head.fail(f"bad parameter {item!r}")
        p = Instr(int(m[1]), "param", attrs=(len(params),), type=_type(m[2], head))
        values[p.id] = p
        params.append(p)
    head.i = j
    head.need(" -> ")
    fn = Function(name, params, _type(head.s[head.i :], head))
    blocks: dict[str, Block] = {}
    pending: list[tuple[Instr, list[str], _Line]] = []  # operands to resolve
    pending_states: list[tuple[Instr, list, _Line]] = []
    preds_of: list[tuple[Block, list[str], _Line]] = []
    catch_preds_of: list[tuple[Block, list[str], _Line]] = []
    catches: list[tuple[Instr, str, _Line]] = []

    def block_named(label: str) -> Block:
        if label not in blocks:
            blocks[label] = Block(int(label[1:]))
        return blocks[label]

    current: Block | None = None
    void_ids = []
    for lineno, raw in enumerate(lines[1:], 2):
        ln = _Line(raw, lineno)
        if not raw.startswith("  "):
            label = ln.match(r"b[0-9]+")
            current = block_named(label)
            if current in fn.blocks:
                raise ln.fail(f"block {label} defined twice")
            fn.blocks.append(current)
            ln.need(":")
            preds, _, cpreds = ln.s[ln.i :].partition(" catch-preds ")
            if preds:
                if not preds.startswith(" preds "):
                    raise ln.fail("expected ' preds'")
                preds_of.append((current, [p.strip() for p in preds[7:].split(",")], ln))
            if cpreds:
                catch_preds_of.append((current, [p.strip() for p in cpreds.split(",")], ln))
            continue
        if current is None:
            raise ln.fail("an instruction outside a block")
        ln.i = 2
        vid = None
        if ln.s.startswith("v", ln.i):
            vid = int(ln.match(r"v[0-9]+")[1:])
            ln.need(" = ")
        op = ln.match(r"[a-z_]+")
        ins = Instr(vid if vid is not None else -1, op, block=current)
        ins.checked = ln.eat(".checked")
        if ln.eat("["):
            attrs = [ln.attr()]
            while ln.eat(", "):
                attrs.append(ln.attr())
            ln.need("]")
            ins.attrs = tuple(attrs)
        names: list[str] = []
        if ln.eat(" "):
            if ln.s.startswith(("v", "b"), ln.i):
                names.append(ln.match(r"[vb][0-9]+"))
                while ln.eat(", "):
                    names.append(ln.match(r"[vb][0-9]+"))
            else:
                ln.i -= 1
        rest = ln.s[ln.i :]
        m = re.search(r" catch (b[0-9]+)$", rest)
        if m is not None and "  @pc " in rest:
            catches.append((ins, m[1], ln))
            rest = rest[: m.start()]
        type_text, _, state_text = rest.partition("  @pc ")
        if type_text:
            if not type_text.startswith(" : "):
                raise ln.fail("expected ' : TYPE'")
            ins.type = _type(type_text[3:], ln)
        elif vid is not None:
            raise ln.fail("a value needs a type")
        if state_text:
            pending_states.append((ins, state_text.split(" <- @pc "), ln))
        if vid is not None:
            if vid in values:
                raise ln.fail(f"v{vid} defined twice")
            values[vid] = ins
        else:
            void_ids.append(ins)
        pending.append((ins, names, ln))
        if ins.is_terminator:
            if current.terminator is not None:
                raise ln.fail(f"a second terminator in {current.name}")
            current.terminator = ins
        elif op == "phi":
            current.phis.append(ins)
        else:
            current.instrs.append(ins)

    def value(name: str, ln: _Line) -> Instr:
        if not name.startswith("v") or int(name[1:]) not in values:
            raise ln.fail(f"undefined value {name}")
        return values[int(name[1:])]

    def label(name: str, ln: _Line) -> Block:
        if not name.startswith("b") or name not in blocks or blocks[name] not in fn.blocks:
            raise ln.fail(f"undefined block {name}")
        return blocks[name]

    for ins, names, ln in pending:
        ins.args = [value(n, ln) for n in names if n.startswith("v")]
        ins.targets = [label(n, ln) for n in names if n.startswith("b")]
        if ins.targets and ins.op not in ("jump", "branch"):
            raise ln.fail(f"{ins.op} takes no block")
    for ins, parts, ln in pending_states:
        states = []
        for part in parts:
            m = re.fullmatch(r"([0-9]+) \[(.*) \| (.*)\]", part)
            if m is None:
                raise ln.fail("bad frame state")
            slots = [[None if s == "_" else value(s, ln) for s in re.split(r", ", g) if s] for g in (m[2], m[3])]
            states.append(FrameState(int(m[1]), slots[0], slots[1]))
        for inner, outer in zip(states, states[1:]):
            inner.parent = outer
        ins.state = states[0]
    for block, names, ln in preds_of:
        block.preds = [label(n, ln) for n in names]
    for block, names, ln in catch_preds_of:
        block.catch_preds = [label(n, ln) for n in names]
    for ins, name, ln in catches:
        ins.catch = label(name, ln)
    fn.next_id = max([v for v in values] + [-1]) + 1
    for ins in void_ids:
        ins.id = fn.new_id()
    return fn
