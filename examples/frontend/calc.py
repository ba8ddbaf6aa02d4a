"""Calc: a tiny expression language, and the example front end of
docs/frontends.md. It lives outside the package: a host imports this file by
path, registers it with `Languages.default().add(calc.FRONTEND)` and passes that
set to `compile_program`, the CLI's `main`, `run_repl` or `VM(languages=...)`;
`.calc` files are then Calc.

The language, one statement per line (a newline inside parentheses continues
the statement; blank lines and `# comments` are ignored):

    let NAME = EXPR     bind a global (a later `let` may rebind it)
    print EXPR          print the value and a newline

EXPR is built from integer literals, names (a name no earlier `let` binds is
a compile error), the binary operators `+ - * /` (`*` and `/` bind tighter;
all are left associative), unary minus and parentheses (at most 200 open at
once). The arithmetic is the VM's own (ADD, SUB, MUL, DIV, NEG in the
"tinylang" dialect): 64-bit integers, division truncating toward zero,
OverflowError and ZeroDivisionError at run time, reported at the operator.

The compiler is one pass: a regex tokenizer, then an operator precedence
parser with an explicit stack (no recursion: no nesting exhausts Python's
stack) that emits stack code as it parses, assembled by bytecode/assembler.py.
The first error of each statement is collected; any error means no code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from tinyvm.bytecode import opcodes as O
from tinyvm.bytecode.assembler import Instr, assemble
from tinyvm.bytecode.code import FLAG_MODULE, INT_MAX, INT_MIN, ModuleCode, source_hash
from tinyvm.lang.diagnostics import CompileError, Diagnostic
from tinyvm.lang.frontend import CompiledModule, FrontEnd, ModuleContext, ReplEntry

TOKEN = re.compile(
    r"(?P<skip>[ \t\r]+|\#[^\n]*)|(?P<nl>\n)|(?P<int>[0-9]+)"
    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*)|(?P<op>[-+*/()=])|(?P<bad>.)"
)
KEYWORDS = ("let", "print")
BINARY = {"+": (1, O.ADD), "-": (1, O.SUB), "*": (2, O.MUL), "/": (2, O.DIV)}
NEG_PRECEDENCE = 3  # unary minus binds tighter than any binary operator
MAX_NESTING = 200  # parentheses open at once


def tokenize(source: str) -> tuple[list[tuple[str, str, int, int]], int]:
    """(kind, text, line, col) tokens, and the parentheses still open at the end.
    A kind is int, name, op, bad (a character that starts no token), nl (the
    end of a statement: a newline inside parentheses is none) or eof."""
    tokens, line, line_start, depth = [], 1, 0, 0
    for m in TOKEN.finditer(source):
        kind, text = m.lastgroup, m.group()
        col = m.start() - line_start + 1
        if kind == "nl":
            if depth == 0:
                tokens.append(("nl", text, line, col))
            line, line_start = line + 1, m.end()
        elif kind != "skip":
            depth = depth + 1 if text == "(" else max(depth - 1, 0) if text == ")" else depth
            tokens.append((kind, text, line, col))
    tokens.append(("eof", "", line, len(source) - line_start + 1))
    return tokens, depth


class CalcError(Exception):
    """The first error of a statement, at a token."""

    def __init__(self, token: tuple[str, str, int, int], message: str) -> None:
        kind, text, self.line, self.col = token
        self.message = f"unexpected character {text!r}" if kind == "bad" else message


def describe(token: tuple[str, str, int, int]) -> str:
    return {"nl": "end of line", "eof": "end of input"}.get(token[0], repr(token[1]))


class Compiler:
    """One module's (or REPL entry's) compilation. `slots`: the global slot
    names so far; `known`: the names that hold a value when this code starts."""

    def __init__(self, source: str, path: str, slots: Sequence[str] = (), known: Iterable[str] = ()) -> None:
        self.source, self.path = source, path
        self.globals = list(slots)
        self.index = {name: i for i, name in enumerate(self.globals)}
        self.known = set(known)
        self.items: list[Instr] = []
        self.consts: dict[int, int] = {}  # value -> constant index (= insertion order)
        self.diagnostics: list[Diagnostic] = []
        self.tokens, self.pos = tokenize(source)[0], 0

    def compile(self) -> ModuleCode | None:
        while self.tokens[self.pos][0] != "eof":
            try:
                if self.tokens[self.pos][0] != "nl":  # else a blank line
                    self.statement()
            except CalcError as e:
                self.diagnostics.append(Diagnostic(self.path, e.line, e.col, e.message))
                while self.tokens[self.pos][0] not in ("nl", "eof"):  # skip the rest
                    self.pos += 1
            if self.tokens[self.pos][0] == "nl":
                self.pos += 1
        if self.diagnostics:
            return None
        _, _, line, col = self.tokens[-1]
        self.emit(O.THIS_MODULE, (), line, col)  # a module's code returns its module
        self.emit(O.RETURN, (), line, col)
        init = assemble(
            self.items, [], name="<module>", path=self.path, line=1, col=1, arity=0,
            local_names=("<module>",), consts=tuple(self.consts), names=(), captures=(),
            upval_names=(), flags=FLAG_MODULE,
        )  # fmt: skip
        return ModuleCode(path=self.path, source_hash=source_hash(self.source), globals=tuple(self.globals),
                          exports=(), imports=(), init=init, lang="tinylang")  # fmt: skip

    def emit(self, op: int, args: tuple, line: int, col: int) -> None:
        self.items.append(Instr(op, args, line, col))

    def next(self) -> tuple[str, str, int, int]:
        token = self.tokens[self.pos]
        if token[0] not in ("nl", "eof"):
            self.pos += 1
        return token

    def statement(self) -> None:
        first = self.next()
        if first[1] == "print":
            self.expression()
            self.emit(O.PRINT, (O.PRINT_STR,), first[2], first[3])
        elif first[1] == "let":
            name = self.next()
            if name[0] != "name" or name[1] in KEYWORDS:
                raise CalcError(name, f"expected a name after 'let', found {describe(name)}")
            try:
                equals = self.next()
                if equals[1] != "=":
                    raise CalcError(equals, f"expected '=' after 'let {name[1]}', found {describe(equals)}")
                self.expression()
            finally:  # bound even if the statement has an error: no cascade of errors
                self.known.add(name[1])
                if name[1] not in self.index:
                    self.index[name[1]] = len(self.globals)
                    self.globals.append(name[1])
            self.emit(O.STORE_GLOBAL, (self.index[name[1]],), name[2], name[3])
        else:
            raise CalcError(first, f"expected 'let' or 'print', found {describe(first)}")
        end = self.tokens[self.pos]
        if end[0] not in ("nl", "eof"):
            raise CalcError(end, f"unexpected {describe(end)} after the expression")

    def expression(self) -> None:
        """Shunting-yard: operands are emitted as they come, operators wait on
        `ops` until one of lower precedence (or the end) comes."""
        ops: list[tuple[str, int, tuple]] = []  # (text or "neg", precedence, token)
        operand = True  # expecting an operand (else an operator)
        while True:
            token = self.tokens[self.pos]
            kind, text, line, col = token
            if operand and text in ("-", "("):
                if text == "(" and sum(op[0] == "(" for op in ops) >= MAX_NESTING:
                    raise CalcError(token, "expression nested too deeply")
                ops.append(("neg", NEG_PRECEDENCE, token) if text == "-" else ("(", 0, token))
            elif operand and kind == "int":
                value = int(text)
                if ops and ops[-1][0] == "neg":  # -LITERAL is a constant: INT_MIN can be written
                    value = -value
                    ops.pop()
                if not INT_MIN <= value <= INT_MAX:
                    raise CalcError(token, "integer literal too large")
                self.emit(O.LOAD_CONST, (self.consts.setdefault(value, len(self.consts)),), line, col)
                operand = False
            elif operand and kind == "name" and text not in KEYWORDS:
                if text not in self.known:
                    raise CalcError(token, f"unknown name {text!r} (no 'let {text}' before)")
                self.emit(O.LOAD_GLOBAL, (self.index[text],), line, col)
                operand = False
            elif operand:
                opened = [op[2] for op in ops if op[0] == "("]
                if kind == "eof" and opened:  # the input ended inside parentheses
                    raise CalcError(opened[-1], "unclosed '('")
                raise CalcError(token, f"expected an expression, found {describe(token)}")
            elif text in BINARY:
                precedence = BINARY[text][0]
                while ops and ops[-1][1] >= precedence:
                    self.pop_operator(ops)
                ops.append((text, precedence, token))
                operand = True
            elif text == ")":
                while ops and ops[-1][0] != "(":
                    self.pop_operator(ops)
                if not ops:
                    raise CalcError(token, "unmatched ')'")
                ops.pop()
            else:
                break  # the end of the expression
            self.pos += 1
        while ops:
            if ops[-1][0] == "(":
                raise CalcError(ops[-1][2], "unclosed '('")
            self.pop_operator(ops)

    def pop_operator(self, ops: list) -> None:
        text, _, (_, _, line, col) = ops.pop()
        self.emit(O.NEG if text == "neg" else BINARY[text][1], (), line, col)


class CalcRepl:
    """The REPL's compiler: each entry is more of one module. Globals persist;
    nothing is echoed (use print)."""

    echo_slot = None

    def __init__(self, ctx: ModuleContext) -> None:
        self.path = ctx.path
        self.globals: tuple[str, ...] = ()  # the module's global slots so far
        self.known: set[str] = set()  # those that hold a value

    def compile(self, source: str) -> ReplEntry:
        compiler = Compiler(source, self.path, self.globals, self.known)
        code = compiler.compile()
        if code is None:
            raise CompileError(compiler.diagnostics, {self.path: source})
        return ReplEntry(code)

    def commit(self, entry: ReplEntry, defined: Sequence[bool]) -> tuple[str, ...]:
        # A `let` whose entry failed before it ran left its slot empty: unknown.
        self.globals = entry.code.globals
        self.known = {name for name, ok in zip(self.globals, defined) if ok}
        return self.globals


class Calc(FrontEnd):
    name = "calc"
    title = "Calc"
    extensions = (".calc",)
    dialect = "tinylang"  # the VM runs Calc code with TinyLang's run-time rules
    repl_help = "Each entry is more of one Calc module: globals persist. Use print to see a value."

    def compile_module(self, source: str, ctx: ModuleContext) -> CompiledModule:
        compiler = Compiler(source, ctx.path)
        code = compiler.compile()
        # Calc has no imports and exports nothing: importers see an empty module.
        return CompiledModule(None if ctx.check_only else code, {}, compiler.diagnostics)

    def is_incomplete(self, text: str) -> bool:
        """An entry with an unclosed '(' continues on the next line."""
        return tokenize(text)[1] > 0

    def repl(self, ctx: ModuleContext) -> CalcRepl:
        return CalcRepl(ctx)


FRONTEND = Calc()
