"""The Lox code generator: a parsed, error-free Lox tree -> TinyVM code objects,
the entry point that compiles a Lox file (`compile_lox_module`, and
`compile_module` for the driver), and the REPL's entry compiler (`LoxRepl`).

Instructions are emitted as the TinyLang emitter emits them -- symbolic
`Instr`s with `Label` jump targets -- and assembled by the same assembler
(bytecode/assembler.py: offsets, stack depth, line table), so Lox code is
ordinary TinyVM bytecode and passes the same verifier. How Lox maps onto it
(docs/lox.md has the full table):

* Frames. TinyVM's slot 0 holds the running function; a method's receiver
  (`this`) is slot 1, a parameter like any other. clox numbers a method's
  locals from `this` at 0, so a clox slot s is TinyVM slot s + 1 in methods
  and initializers, s elsewhere. Slots are reused across sibling scopes, as
  in clox.
* Captured variables live in cells (the parser marks a `Local` captured when
  a closure refers to it): the declaration stores the value and runs
  MAKE_CELL, so every execution of a declaration -- every loop iteration's --
  makes a fresh variable, which is what clox's closing of upvalues at scope
  end amounts to. Captured parameters and `this` move into cells on entry.
* Globals are late bound by name in clox; here each name the module uses gets
  a module global slot. An unset slot is "Undefined variable" when read
  (LOAD_GLOBAL) or assigned (ASSIGN_GLOBAL); `var` sets it (STORE_GLOBAL) and
  may redefine it. Natives (`clock`) are stored into their slots first.
* Truthiness: conditions end in JUMP_IF_FALSY, `!` is FALSY, `and`/`or`
  jump on truthiness; in a condition, `and`, `or` and `!` become jumps
  without materialising a value.
* Chains cost no recursion per link (lang/nesting.py): the left spines of
  operators, calls and property chains, `and`/`or` chains (which clox nests
  to the right) and `else if` chains are loops.
* `print` is PRINT in clox's mode. Classes are MAKE_CLASS with the open-field
  flag; a superclass is also kept in a hidden local, `super`, that methods
  capture, as in clox. `obj.m(args)` is CALL_METHOD (under Lox's rules a field
  shadows a method), `super.m(args)` SUPER_CALL.
* An assignment whose value is unused (an expression statement) stores
  without DUP/POP. Other expression statements are evaluated and popped, even
  when they could be dropped (`a == b;`): the book's benchmarks time them.
* Every instruction is positioned where clox would report an error for it
  (the nodes carry that position; see lang/lox/ast.py).
"""

from __future__ import annotations

from typing import Any, Sequence

from ...bytecode import opcodes as O
from ...bytecode.assembler import Instr, Label, assemble
from ...bytecode.code import CLASS_EXTENDS, CLASS_OPEN, FLAG_INIT, FLAG_METHOD, FLAG_MODULE, ClassInfo, Code, ModuleCode, source_hash
from ...bytecode.opcodes import PRINT_CLOX
from ..frontend import CompiledModule, ModuleContext, ReplEntry
from . import ast as A
from .ast import GLOBAL, INITIALIZER, LOCAL, METHOD, UPVAL
from .lexer import BANG_EQUAL, EQUAL_EQUAL, GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, MINUS, PLUS, SLASH, STAR
from .errors import LoxCompileError
from ..diagnostics import Diagnostic
from ..nesting import MAX_COUNT, recursion_room
from .parser import FRAMES_PER_LEVEL, MAX_NESTING, parse

BINOPS = {
    PLUS: O.ADD, MINUS: O.SUB, STAR: O.MUL, SLASH: O.DIV,
    EQUAL_EQUAL: O.EQ, BANG_EQUAL: O.NE, LESS: O.LT, LESS_EQUAL: O.LE, GREATER: O.GT, GREATER_EQUAL: O.GE,
}  # fmt: skip

# Natives every Lox script has as globals (clox's defineNative calls), and
# TinyVM's own: `gc`, the gc module as an object (docs/gc.md), and the weak
# references (runtime/weakrefs.py). A script's own global of that name
# replaces it, as for clock.
NATIVES = ("clock", "gc", "WeakRef", "WeakMap")


class ModuleUnit:
    """State shared by the functions of one module: its global slots."""

    def __init__(self, path: str, predeclared: list[str] | None = None) -> None:
        self.path = path
        self.globals: list[str] = list(predeclared or ())
        self.first_new = len(self.globals)  # slots from here on are this compilation's
        self.index: dict[str, int] = {}
        for i, name in enumerate(self.globals):
            self.index[name] = i  # a later slot of the same name wins
        self.exports: list[str] = []

    def slot(self, name: str) -> int:
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.globals)
            self.globals.append(name)
        return i


class FunctionCompiler:
    def __init__(self, unit: ModuleUnit, fn: A.Function, enclosing: "FunctionCompiler | None") -> None:
        self.unit = unit
        self.fn = fn
        self.enclosing = enclosing
        self.offset = 1 if fn.kind in (METHOD, INITIALIZER) else 0
        self.items: list = []
        self.consts: list = []
        self.const_index: dict = {}
        self.names: list[str] = []
        self.name_index: dict[str, int] = {}
        self.temp: int | None = None  # a hidden slot, when an expression needs one
        self.pos = (fn.line, fn.col)

    # ------------------------------------------------------------------ basics

    def emit(self, op: int, *args: Any) -> None:
        self.items.append(Instr(op, args, self.pos[0], self.pos[1]))

    def at(self, node: A.Node) -> None:
        self.pos = (node.line, node.col)

    def place(self, label: Label) -> None:
        self.items.append(label)

    def const(self, value: Any) -> int:
        key: Any = ("obj", id(value)) if isinstance(value, (Code, ClassInfo)) else (type(value).__name__, repr(value))
        i = self.const_index.get(key)
        if i is None:
            i = self.const_index[key] = len(self.consts)
            self.consts.append(value)
        return i

    def name(self, name: str) -> int:
        i = self.name_index.get(name)
        if i is None:
            i = self.name_index[name] = len(self.names)
            self.names.append(name)
        return i

    def slot(self, local: A.Local) -> int:
        return local.slot + self.offset

    def temp_slot(self) -> int:
        if self.temp is None:
            self.temp = len(self.fn.slot_names) + self.offset
        return self.temp

    # ------------------------------------------------------------------ variables

    def load(self, ref: A.Ref) -> None:
        if ref.kind == LOCAL:
            local = ref.local
            assert local is not None
            self.emit(O.LOAD_CELL if local.captured else O.LOAD_LOCAL, self.slot(local))
        elif ref.kind == UPVAL:
            self.emit(O.LOAD_UPVAL, ref.index)
        else:
            self.emit(O.LOAD_GLOBAL, self.unit.slot(ref.name))

    def assign(self, ref: A.Ref) -> None:
        """Pop into an existing variable (a global must be defined)."""
        if ref.kind == LOCAL:
            local = ref.local
            assert local is not None
            self.emit(O.STORE_CELL if local.captured else O.STORE_LOCAL, self.slot(local))
        elif ref.kind == UPVAL:
            self.emit(O.STORE_UPVAL, ref.index)
        else:
            self.emit(O.ASSIGN_GLOBAL, self.unit.slot(ref.name))

    def define(self, ref: A.Ref) -> None:
        """Pop into a variable being declared: a captured local gets a fresh
        cell; a global is (re)defined."""
        if ref.kind == LOCAL:
            local = ref.local
            assert local is not None
            self.emit(O.STORE_LOCAL, self.slot(local))
            if local.captured:
                self.emit(O.MAKE_CELL, self.slot(local))
        else:
            self.emit(O.STORE_GLOBAL, self.unit.slot(ref.name))

    def precell(self, ref: A.Ref) -> bool:
        """Before a declaration whose body may capture the variable itself (a
        function or class referring to its own name): make its cell first.
        True when done (the value then goes in with STORE_CELL)."""
        if ref.kind == LOCAL and ref.local is not None and ref.local.captured:
            self.emit(O.LOAD_NIL)
            self.emit(O.STORE_LOCAL, self.slot(ref.local))
            self.emit(O.MAKE_CELL, self.slot(ref.local))
            return True
        return False

    # ------------------------------------------------------------------ functions

    def function_code(self, fn: A.Function) -> Code:
        return FunctionCompiler(self.unit, fn, self).compile()

    def compile(self) -> Code:
        fn = self.fn
        is_method = fn.kind in (METHOD, INITIALIZER)
        self.pos = (fn.line, fn.col)
        entry = ([fn.this] if fn.this is not None else []) + fn.params
        for local in entry:
            if local.captured:
                self.emit(O.MAKE_CELL, self.slot(local))
        self.block(fn.body)
        self.pos = (fn.end_line, fn.end_col)
        self.implicit_return()
        flags = (FLAG_METHOD if is_method else 0) | (FLAG_INIT if fn.kind == INITIALIZER else 0)
        return self.finish(fn.name, len(fn.params) + (1 if is_method else 0), flags)

    def implicit_return(self) -> None:
        if self.fn.kind == INITIALIZER:
            self.load_this_local()
        else:
            self.emit(O.LOAD_NIL)
        self.emit(O.RETURN)

    def load_this_local(self) -> None:
        this = self.fn.this
        assert this is not None
        self.emit(O.LOAD_CELL if this.captured else O.LOAD_LOCAL, self.slot(this))

    def finish(self, name: str, arity: int, flags: int) -> Code:
        fn = self.fn
        local_names = ([""] if self.offset else []) + list(fn.slot_names)
        if self.temp is not None:
            local_names.append("$tmp")
        enclosing_offset = self.enclosing.offset if self.enclosing is not None else 0
        captures = tuple((is_local, index + enclosing_offset if is_local else index) for is_local, index in fn.upvalues)
        code = assemble(
            self.items,
            [],
            name=name,
            path=self.unit.path,
            line=fn.line,
            col=fn.col,
            arity=arity,
            local_names=tuple(local_names),
            consts=tuple(self.consts),
            names=tuple(self.names),
            captures=captures,
            upval_names=tuple(fn.upvalue_names),
            flags=flags,
        )
        if code.max_stack >= 4 * MAX_COUNT:
            # The format's bound (the verifier's); clox's 255 arguments keep
            # every count operand below MAX_COUNT, but calls nested a
            # thousand deep could hold more values than this.
            raise LoxCompileError([Diagnostic(self.unit.path, fn.line, fn.col, f"Error at '{fn.name}': Too much nesting.")], {})
        return code

    # ------------------------------------------------------------------ statements

    def block(self, stmts: list[A.Stmt]) -> None:
        for s in stmts:
            self.stmt(s)

    def stmt(self, s: A.Stmt) -> None:
        getattr(self, "s_" + type(s).__name__)(s)

    def s_Print(self, s: A.Print) -> None:
        self.expr(s.expr)
        self.at(s)
        self.emit(O.PRINT, PRINT_CLOX)

    def s_ExprStmt(self, s: A.ExprStmt) -> None:
        e = s.expr
        if isinstance(e, A.Assign):  # the value is not needed: no DUP/POP
            self.expr(e.value)
            self.at(e)
            self.assign(e.ref)
        elif isinstance(e, A.Set):
            self.expr(e.obj)
            self.expr(e.value)
            self.at(e)
            self.emit(O.SET_FIELD, self.name(e.name))
        else:
            self.expr(e)
            self.emit(O.POP)

    def s_VarDecl(self, s: A.VarDecl) -> None:
        if s.init is None:
            self.at(s)
            self.emit(O.LOAD_NIL)
        else:
            self.expr(s.init)
        self.at(s)
        self.define(s.target)
        if s.target.kind == GLOBAL and self.enclosing is None:
            self.unit.exports.append(s.target.name)

    def s_Block(self, s: A.Block) -> None:
        self.block(s.stmts)

    def s_If(self, s: A.If) -> None:
        ends: list[Label] = []  # one per `if` of an `else if` chain (a loop, not recursion)
        while True:
            otherwise = Label()
            self.cond(s.cond, otherwise)
            self.stmt(s.then)
            if s.otherwise is None:
                self.place(otherwise)
                break
            end = Label()
            ends.append(end)
            self.emit(O.JUMP, end)
            self.place(otherwise)
            if not isinstance(s.otherwise, A.If):
                self.stmt(s.otherwise)
                break
            s = s.otherwise
        for end in reversed(ends):
            self.place(end)

    def s_While(self, s: A.While) -> None:
        top = Label()
        end = Label()
        self.place(top)
        self.cond(s.cond, end)
        self.stmt(s.body)
        self.emit(O.JUMP, top)
        self.place(end)

    def s_For(self, s: A.For) -> None:
        if s.init is not None:
            self.stmt(s.init)
        top = Label()
        end = Label()
        self.place(top)
        if s.cond is not None:
            self.cond(s.cond, end)
        self.stmt(s.body)
        if s.incr is not None:
            self.s_ExprStmt(A.ExprStmt(s.incr))
        self.emit(O.JUMP, top)
        self.place(end)

    def s_Return(self, s: A.Return) -> None:
        if s.value is not None:
            self.expr(s.value)
            self.at(s)
        else:
            self.at(s)
            if self.fn.kind == INITIALIZER:
                self.load_this_local()
            else:
                self.emit(O.LOAD_NIL)
        self.emit(O.RETURN)

    def s_FunDecl(self, s: A.FunDecl) -> None:
        fn = s.function
        self.pos = (fn.end_line, fn.end_col)
        celled = self.precell(s.target)
        self.emit(O.MAKE_CLOSURE, self.const(self.function_code(fn)))
        self.pos = (fn.end_line, fn.end_col)
        if celled:
            self.emit(O.STORE_CELL, self.slot(s.target.local))  # type: ignore[arg-type]
        else:
            self.define(s.target)
        if s.target.kind == GLOBAL and self.enclosing is None:
            self.unit.exports.append(s.target.name)

    def s_ClassDecl(self, s: A.ClassDecl) -> None:
        self.at(s)
        celled = self.precell(s.target)
        if s.superclass is not None:
            self.expr(s.superclass)
            if s.super_local is not None:
                # The hidden `super` variable the methods capture.
                self.emit(O.DUP)
                self.define(A.Ref(LOCAL, None, s.super_local, "super"))
        else:
            self.emit(O.LOAD_NIL)
        for m in s.methods:
            code = self.function_code(m)
            self.pos = (m.end_line, m.end_col)
            self.emit(O.MAKE_CLOSURE, self.const(code))
        flags = CLASS_OPEN | (CLASS_EXTENDS if s.superclass is not None else 0)
        info = ClassInfo(s.name, (), (), tuple(m.name for m in s.methods), s.line, (), flags)
        if s.superclass is not None:
            self.pos = (s.super_line, s.super_col)  # clox's OP_INHERIT: "Superclass must be a class."
        else:
            self.at(s)
        self.emit(O.MAKE_CLASS, self.const(info), len(s.methods))
        self.at(s)
        if celled:
            self.emit(O.STORE_CELL, self.slot(s.target.local))  # type: ignore[arg-type]
        else:
            self.define(s.target)
        if s.target.kind == GLOBAL and self.enclosing is None:
            self.unit.exports.append(s.target.name)

    # ------------------------------------------------------------------ conditions

    def cond(self, e: A.Expr, false: Label) -> None:
        """Jump to `false` when e is falsy; fall through otherwise."""
        # The operands of an `and` chain, however it nests (clox nests it to
        # the right, parentheses to the left), each jump to `false` in turn:
        # taken in order with a stack, not by recursion per link.
        stack = [e]
        while stack:
            e = stack.pop()
            if isinstance(e, A.Logical) and e.op == "and":
                stack.append(e.right)
                stack.append(e.left)
            elif isinstance(e, A.Logical):  # `a or b or c`: a jump past the rest per operand
                trues = []
                while isinstance(e, A.Logical) and e.op == "or":
                    trues.append(Label())
                    self.cond_true(e.left, trues[-1])
                    e = e.right
                self.cond(e, false)
                for true in reversed(trues):
                    self.place(true)
            elif isinstance(e, A.Unary) and e.op == "!":
                self.cond_true(e.operand, false)
            else:
                self.expr(e)
                self.emit(O.JUMP_IF_FALSY, false)

    def cond_true(self, e: A.Expr, true: Label) -> None:
        """Jump to `true` when e is truthy; fall through otherwise."""
        stack = [e]  # the operands of an `or` chain (as in cond)
        while stack:
            e = stack.pop()
            if isinstance(e, A.Logical) and e.op == "or":
                stack.append(e.right)
                stack.append(e.left)
            elif isinstance(e, A.Logical):  # `a and b and c` (as `or` in cond)
                falses = []
                while isinstance(e, A.Logical) and e.op == "and":
                    falses.append(Label())
                    self.cond(e.left, falses[-1])
                    e = e.right
                self.cond_true(e, true)
                for false in reversed(falses):
                    self.place(false)
            elif isinstance(e, A.Unary) and e.op == "!":
                self.cond(e.operand, true)
            else:
                self.expr(e)
                self.emit(O.JUMP_IF_TRUTHY, true)

    # ------------------------------------------------------------------ expressions

    def expr(self, e: A.Expr) -> None:
        # Left-recursive nodes (`a + b + c`, `a.b().c`, `f()()`) nest as deep
        # as the chain is long; clox compiles such chains in a loop, and so
        # does this: down the left spine first, then each node's remainder.
        spine = []
        left = LEFT_CHILD.get(type(e))
        while left is not None:
            spine.append(e)
            e = left(e)
            left = LEFT_CHILD.get(type(e))
        getattr(self, "e_" + type(e).__name__)(e)
        for node in reversed(spine):
            getattr(self, "rest_" + type(node).__name__)(node)

    def e_Literal(self, e: A.Literal) -> None:
        self.at(e)
        v = e.value
        if v is None:
            self.emit(O.LOAD_NIL)
        elif v is True:
            self.emit(O.LOAD_TRUE)
        elif v is False:
            self.emit(O.LOAD_FALSE)
        else:
            self.emit(O.LOAD_CONST, self.const(v))

    def e_Variable(self, e: A.Variable) -> None:
        self.at(e)
        self.load(e.ref)

    def e_This(self, e: A.This) -> None:
        self.at(e)
        self.load(e.ref)

    def e_Assign(self, e: A.Assign) -> None:
        self.expr(e.value)
        self.at(e)
        self.emit(O.DUP)
        self.assign(e.ref)

    def e_Unary(self, e: A.Unary) -> None:
        operand = e.operand
        if e.op == "-" and isinstance(operand, A.Literal) and type(operand.value) is float:
            self.at(e)  # a negative literal: NEG of a number cannot fail
            self.emit(O.LOAD_CONST, self.const(-operand.value))
            return
        self.expr(operand)
        self.at(e)
        self.emit(O.NEG if e.op == "-" else O.FALSY)

    def rest_Binary(self, e: A.Binary) -> None:
        self.expr(e.right)
        self.at(e)
        self.emit(BINOPS[e.op])

    def rest_Logical(self, e: A.Logical) -> None:
        # clox nests `a and b and c` to the right: a right operand that is
        # itself an `and`/`or` continues this loop (its left operand first).
        ends = []
        while True:
            end = Label()
            ends.append(end)
            self.at(e)
            self.emit(O.DUP)
            self.emit(O.JUMP_IF_FALSY if e.op == "and" else O.JUMP_IF_TRUTHY, end)
            self.emit(O.POP)
            right = e.right
            if not isinstance(right, A.Logical):
                self.expr(right)
                break
            self.expr(right.left)
            e = right
        for end in reversed(ends):
            self.place(end)

    def rest_Call(self, e: A.Call) -> None:
        for a in e.args:
            self.expr(a)
        self.at(e)
        self.emit(O.CALL, len(e.args))

    def rest_Invoke(self, e: A.Invoke) -> None:
        for a in e.args:
            self.expr(a)
        self.at(e)
        self.emit(O.CALL_METHOD, self.name(e.name), len(e.args))

    def rest_Get(self, e: A.Get) -> None:
        self.at(e)
        self.emit(O.GET_FIELD, self.name(e.name))

    def rest_Set(self, e: A.Set) -> None:
        # obj value -> value: SET_FIELD pops both, so the value goes through
        # a hidden slot.
        self.expr(e.value)
        self.at(e)
        tmp = self.temp_slot()
        self.emit(O.DUP)
        self.emit(O.STORE_LOCAL, tmp)
        self.emit(O.SET_FIELD, self.name(e.name))
        self.emit(O.LOAD_LOCAL, tmp)

    def e_SuperGet(self, e: A.SuperGet) -> None:
        self.at(e)
        self.load(e.this)
        self.load(e.superclass)
        self.emit(O.GET_SUPER, self.name(e.name))

    def e_SuperInvoke(self, e: A.SuperInvoke) -> None:
        self.at(e)
        self.load(e.this)
        for a in e.args:
            self.expr(a)
        self.at(e)
        self.load(e.superclass)
        self.emit(O.SUPER_CALL, self.name(e.name), len(e.args))


# The left child of each left-recursive node type (see FunctionCompiler.expr).
LEFT_CHILD = {
    A.Binary: lambda e: e.left,
    A.Logical: lambda e: e.left,
    A.Call: lambda e: e.callee,
    A.Get: lambda e: e.obj,
    A.Invoke: lambda e: e.obj,
    A.Set: lambda e: e.obj,
}


def compile_script(script: A.Function, path: str, predeclared: list[str] | None = None) -> tuple[Code, ModuleUnit]:
    """The module code of a parsed script, and its unit (globals, exports).
    `predeclared`: the globals of earlier REPL entries, in slot order."""
    unit = ModuleUnit(path, predeclared)
    fc = FunctionCompiler(unit, script, None)
    # The parser bounded the tree's nesting (chains are loops here too).
    with recursion_room(FRAMES_PER_LEVEL * MAX_NESTING):
        fc.pos = (1, 1)
        fc.block(script.body)
    fc.pos = (script.end_line, script.end_col)
    fc.emit(O.THIS_MODULE)
    fc.emit(O.RETURN)
    # Natives first: the slots of those this script uses and no earlier entry had.
    prologue = []
    for native in NATIVES:
        i = unit.index.get(native)
        if i is not None and i >= unit.first_new:
            prologue.append(Instr(O.LOAD_BUILTIN, (fc.name(native),), 1, 1))
            prologue.append(Instr(O.STORE_GLOBAL, (i,), 1, 1))
    fc.items[:0] = prologue
    code = fc.finish("script", 0, FLAG_MODULE)
    return code, unit


# --------------------------------------------------------------------------- files


def compile_lox_module(source: str, path: str, predeclared: list[str] | None = None) -> ModuleCode:
    """The module code (dialect "lox") of a Lox file; `path` is used in
    messages and traces. Raises LoxCompileError (clox's messages, in clox's
    order). A Lox module is self-contained (Lox has no imports); its globals
    are every name its code uses, its exports every global it declares at top
    level (`var`, `fun`, `class`): what a TinyLang module importing it can
    reach. `predeclared` (the REPL): the module's global slots so far, which
    the new code's globals extend."""
    script, errors = parse(source, path)
    if errors:
        raise LoxCompileError(errors.items, {path: source})
    code, unit = compile_script(script, path, predeclared)
    return ModuleCode(
        path=path,
        source_hash=source_hash(source),
        globals=tuple(unit.globals),
        exports=tuple(dict.fromkeys(unit.exports)),
        imports=(),
        init=code,
        lang="lox",
    )


def compile_module(source: str, ctx: ModuleContext) -> CompiledModule:
    """`FrontEnd.compile_module` for Lox. Lox has no separate checking pass:
    `ctx.check_only` compiles too. A module with errors offers importers
    nothing."""
    try:
        code = compile_lox_module(source, ctx.path)
    except LoxCompileError as e:
        return CompiledModule(None, None, e.diagnostics)
    return CompiledModule(code, dict.fromkeys(code.exports))


class LoxRepl:
    """The compile side of a Lox REPL session: each entry is more of one Lox
    script, as in clox's REPL. Globals persist (a `var` may redefine one), and
    nothing is echoed (`print` is a statement)."""

    echo_slot = None

    def __init__(self, ctx: ModuleContext) -> None:
        self.ctx = ctx  # (its path may change between entries: the embedding API's files)
        self.globals: list[str] = []  # global slot names so far

    def compile(self, source: str) -> ReplEntry:
        return ReplEntry(compile_lox_module(source, self.ctx.path, self.globals))

    def declare(self, name: str, ty: object) -> int:
        """A global set by the host (untyped in Lox): its slot."""
        if name in self.globals:
            return self.globals.index(name)
        self.globals.append(name)
        return len(self.globals) - 1

    def global_type(self, name: str) -> object:
        return None

    def commit(self, entry: ReplEntry, defined: Sequence[bool]) -> tuple[str, ...]:
        self.globals = list(entry.code.globals)
        return entry.code.globals
