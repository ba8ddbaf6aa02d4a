"""The emit pass: resolved AST in, symbolic instructions out (one function at a time).

Shapes worth knowing (they are what the VM's pre-decoder fuses into
superinstructions, so keep them regular):

* `x op y` on locals/constants is `LOAD_LOCAL x; LOAD_CONST y; OP`;
* conditions end in `JUMP_IF_FALSE`; `and`/`or` are `DUP; JUMP_IF_x; POP; rhs; CHECK_BOOL`;
* `for i in a..b` compiles to an integer counter loop over hidden locals (no
  iterator object); other `for` loops use `GET_ITER`/`FOR_ITER`;
* calls to hoisted top-level functions are `CALL_GLOBAL g n`.

`return`, `break`, `continue`, `throw` and `try`/`catch`/`finally` (by
duplication) are emitted by the `ControlEmitter` mixin (control.py).

The format's limits are the compiler's (lang/nesting.py), so that `tvmc` never
writes what `tvm run` refuses: a count operand above MAX_COUNT (more than
65535 elements, entries, fields, arguments or interpolated parts), a function
whose operand stack is too deep, and a type checked at run time whose text is
too long or too deeply nested are compile errors.

Chains cost no recursion (lang/nesting.py): `expr` emits the left spine of
`a + b`, `a and b`, `f(x)`, `a.m(x)`, `a[i]` and `a.f` innermost first in a
loop, then each link's `rest_` code outwards; `s_If` follows `else if` in a
loop. The code is the same as a recursive walk would emit.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ...bytecode import opcodes as O
from ...bytecode.code import CLASS_EARLY_SUPER, CLASS_INTERFACE, FLAG_ASYNC, FLAG_GENERATOR, FLAG_INIT, FLAG_METHOD, FLAG_MODULE, ClassInfo, Code
from ..diagnostics import DiagnosticBag
from ...bytecode.code import INT_MAX, INT_MIN
from . import ast as A
from . import enums
from ...bytecode.assembler import Handler, Instr, Label, assemble
from ..nesting import MAX_COUNT, type_text_problem
from .control import ControlEmitter, LoopCtx, TryCtx
from .definite import early_fields
from .arguments import DefaultEmit
from .nilexpr import EmitRules
from .resolver import constant_value
from .scopes import BUILTIN, CELL, GLOBAL, LOCAL, UPVAL, FnScope, Ref
from .types import runtime_text


BINOPS = {
    "+": O.ADD, "-": O.SUB, "*": O.MUL, "/": O.DIV, "%": O.MOD,
    "&": O.BAND, "|": O.BOR, "^": O.BXOR, "<<": O.SHL, ">>": O.SHR,
    "==": O.EQ, "!=": O.NE, "<": O.LT, "<=": O.LE, ">": O.GT, ">=": O.GE,
    "..": O.RANGE, "..=": O.RANGE_INCL, "is": O.IS,
}  # fmt: skip
BINOPS["**"] = O.POW  # tlexpr (TinyLang 1.1)
ASSIGN_OPS = {"+=": O.ADD, "-=": O.SUB, "*=": O.MUL, "/=": O.DIV, "%=": O.MOD}
# The instructions with a count operand (the format's MAX_COUNT bounds it), and
# what the count is of, for the compile error.
COUNTED = {
    O.BUILD_ARRAY: "elements in an array literal", O.BUILD_MAP: "entries in a map literal",
    O.BUILD_RECORD: "fields in a record literal", O.BUILD_STRING: "parts in an interpolated string",
    O.CALL: "arguments", O.CALL_TYPED: "arguments", O.CALL_GLOBAL: "arguments", O.CALL_METHOD: "arguments",
    O.CALL_METHOD_TYPED: "arguments", O.SUPER_CALL: "arguments", O.SPAWN: "arguments", O.SPAWN_GLOBAL: "arguments",
    O.SELECT: "channel operands in a select", O.MAKE_CLASS: "methods in a class",
}  # fmt: skip
COUNTED[O.BUILD_TUPLE] = "elements in a tuple literal"  # (issue 18, tltuple)


def start_pos(e: A.Expr) -> tuple[int, int]:
    """Position of an expression's first character (operators carry their own)."""
    while True:
        if isinstance(e, (A.Binary, A.Logical)):
            e = e.left
        elif isinstance(e, A.Call):
            e = e.callee
        elif isinstance(e, (A.Field, A.Index)):
            e = e.obj
        else:
            return e.line, e.col


class FunctionEmitter(ControlEmitter, EmitRules, DefaultEmit):  # tlexpr: EmitRules (nilexpr.py); tldefault: DefaultEmit (arguments.py)
    def __init__(self, unit: "ModuleEmitter", scope: FnScope, name: str, line: int, col: int):
        self.unit = unit
        self.scope = scope
        self.name = name
        self.line, self.col = line, col
        self.items: list = []
        self.consts: list = []
        self.const_index: dict = {}
        self.names: list[str] = []
        self.name_index: dict[str, int] = {}
        self.handlers: list[Handler] = []
        self.tries: list[TryCtx] = []
        self.loops: list[LoopCtx] = []
        self.base_depth = 0  # operand values held by enclosing constructs (for-loop iterators)
        self.pos = (line, col)
        self.rules = unit.rules  # node type -> its e_ method's function (see expr)

    # ------------------------------------------------------------------ basics

    def emit(self, op: int, *args: Any) -> None:
        if op in COUNTED:
            n = max(a for a, kind in zip(args, O.OPCODES[op].operands) if kind == O.COUNT)
            if n >= MAX_COUNT:
                self.unit.bag.error(self.pos[0], self.pos[1], f"too many {COUNTED[op]} ({n}; at most {MAX_COUNT - 1})")
        self.items.append(Instr(op, args, self.pos[0], self.pos[1]))

    def at(self, node: A.Node) -> None:
        self.pos = (node.line, node.col)

    def label(self) -> Label:
        lab = Label()
        self.items.append(lab)
        return lab

    def place(self, lab: Label) -> None:
        self.items.append(lab)

    def const(self, value: Any) -> int:
        if isinstance(value, (Code, ClassInfo, tuple)):
            key: Any = ("obj", id(value))
        elif isinstance(value, float):
            key = ("float", math.copysign(1.0, value), repr(value))
        else:
            key = (type(value).__name__, value)
        idx = self.const_index.get(key)
        if idx is None:
            idx = len(self.consts)
            self.consts.append(value)
            self.const_index[key] = idx
        return idx

    def name_(self, name: str) -> int:
        idx = self.name_index.get(name)
        if idx is None:
            idx = len(self.names)
            self.names.append(name)
            self.name_index[name] = idx
        return idx

    def hidden_local(self, name: str) -> int:
        return self.scope.new_slot(name, None)

    def error(self, node: A.Node, message: str) -> None:
        self.unit.bag.error(node.line, node.col, message)

    # ------------------------------------------------------------------ variables

    def load(self, ref: Ref) -> None:
        kind = ref.kind
        if kind == LOCAL:
            self.emit(O.LOAD_CELL if ref.var is not None and ref.var.kind == CELL else O.LOAD_LOCAL, ref.index)
        elif kind == UPVAL:
            self.emit(O.LOAD_UPVAL, ref.index)
        elif kind == GLOBAL:
            self.emit(O.LOAD_GLOBAL, ref.index)
        elif kind == BUILTIN:
            self.emit(O.LOAD_BUILTIN, self.name_(ref.name))
        else:  # pragma: no cover
            raise AssertionError(kind)

    def store(self, ref: Ref) -> None:
        kind = ref.kind
        if kind == LOCAL:
            self.emit(O.STORE_CELL if ref.var is not None and ref.var.kind == CELL else O.STORE_LOCAL, ref.index)
        elif kind == UPVAL:
            self.emit(O.STORE_UPVAL, ref.index)
        elif kind == GLOBAL:
            self.emit(O.STORE_GLOBAL, ref.index)
        else:  # pragma: no cover
            raise AssertionError(kind)

    def declare(self, ref: Ref | None) -> None:
        """Store the top of stack into a newly declared variable: a captured local
        gets a fresh cell each time its declaration runs (so every loop iteration
        has its own binding)."""
        if ref is None:
            self.emit(O.POP)
        elif ref.kind == LOCAL and ref.var is not None and ref.var.kind == CELL:
            self.emit(O.STORE_LOCAL, ref.index)
            self.emit(O.MAKE_CELL, ref.index)
        else:
            self.store(ref)

    # ------------------------------------------------------------------ functions

    def function_code(self, node: A.FnDecl | A.Lambda, flags: int) -> Code:
        scope: FnScope = node.scope
        name = scope.name
        sub = FunctionEmitter(self.unit, scope, name, node.line, node.col)
        return sub.compile_function(node, flags)

    def compile_function(self, node: A.FnDecl | A.Lambda, flags: int) -> Code:
        scope = self.scope
        is_method = scope.kind in ("method", "init")
        if is_method:
            flags |= FLAG_METHOD
        if scope.kind == "init":
            flags |= FLAG_INIT
        if scope.has_yield:
            flags |= FLAG_GENERATOR
        if scope.is_async:
            flags |= FLAG_ASYNC
        arity = len(node.params) + (1 if is_method else 0)
        self.pos = (node.line, node.col)
        # Captured parameters (and `self`) move into cells on entry.
        for slot in range(1, arity + 1):
            self.emit_default(node, slot - 1 - (arity - len(node.params)), slot)  # tldefault (arguments.py)
            var = scope.slot_vars[slot]
            if var is not None and var.kind == CELL:
                self.emit(O.MAKE_CELL, slot)
        body = node.body
        if isinstance(body, A.Block):
            self.block(body.stmts)
            self.pos = self._end_pos(body)
            self.implicit_return()
        else:
            self.arg(body)  # an expression body's conv is its return check
            self.emit(O.RETURN)
        code = self.finish(arity, flags, self.local_types(node, 1 + (1 if is_method else 0)), runtime_text(scope.ty.ret if scope.ty is not None else None))
        required = sum(1 for p in node.params if p.default is None) + (1 if is_method else 0)
        return code if required == arity else dataclasses.replace(code, required=required)  # tldefault

    def local_types(self, node: A.FnDecl | A.Lambda | None, first_param: int) -> tuple[str, ...]:
        """Checked type text per frame slot, for the JIT tiers and the VM's entry
        checks. A parameter's type is recorded only when it is declared: the VM
        checks those on entry, while a lambda parameter's type inferred from its
        context is an assumption that untyped callers need not honour."""
        out = []
        declared = {first_param + i for i, p in enumerate(node.params) if p.type is not None} if node is not None else set()
        nparams = len(node.params) if node is not None else 0
        for slot, var in enumerate(self.scope.slot_vars):
            inferred_param = first_param <= slot < first_param + nparams and slot not in declared
            text = "" if var is None or inferred_param else runtime_text(var.ty)
            if slot in declared and text and node is not None:
                p = node.params[slot - first_param]
                self.checkable(p, text, f"parameter '{p.name}'")  # (checked on entry)
            out.append(text)
        return tuple(out)

    def _end_pos(self, body: A.Block) -> tuple[int, int]:
        return (body.stmts[-1].line, body.stmts[-1].col) if body.stmts else (body.line, body.col)

    def load_self_of_init(self) -> None:
        """init's result, `self` (slot 1): through its cell when a closure
        made in init captured it (the slot then holds the cell)."""
        var = self.scope.slot_vars[1]
        self.emit(O.LOAD_CELL if var is not None and var.kind == CELL else O.LOAD_LOCAL, 1)

    def implicit_return(self) -> None:
        if self.scope.kind == "init":
            self.load_self_of_init()
        else:
            self.emit(O.LOAD_NIL)
        self.emit(O.RETURN)

    def finish(self, arity: int, flags: int, local_types: tuple[str, ...] = (), ret_type: str = "") -> Code:
        scope = self.scope
        nslots = len(scope.slots)
        local_types = (local_types + ("",) * nslots)[:nslots]
        code = assemble(
            self.items,
            self.handlers,
            name=self.name,
            path=self.unit.path,
            line=self.line,
            col=self.col,
            arity=arity,
            local_names=tuple(scope.slots),
            consts=tuple(self.consts),
            names=tuple(self.names),
            captures=tuple((fl, i) for fl, i, _ in scope.upvalues),
            upval_names=tuple(n for _, _, n in scope.upvalues),
            flags=flags,
            local_types=local_types,
            ret_type=ret_type,
        )
        if code.max_stack >= 4 * MAX_COUNT:  # (the verifier's bound)
            self.unit.bag.error(self.line, self.col, f"'{self.name}' needs an operand stack of {code.max_stack} values (at most {4 * MAX_COUNT - 1})")
        return code

    def make_closure(self, node: A.FnDecl | A.Lambda) -> None:
        code = self.function_code(node, 0)
        self.emit(O.MAKE_CLOSURE, self.const(code))

    # ------------------------------------------------------------------ statements

    def block(self, stmts: list[A.Stmt]) -> None:
        for s in stmts:
            self.stmt(s)

    def stmt(self, s: A.Stmt) -> None:
        self.at(s)
        self.unit.where = s
        getattr(self, "s_" + type(s).__name__)(s)

    def s_Block(self, s: A.Block) -> None:
        self.block(s.stmts)

    def s_ExprStmt(self, s: A.ExprStmt) -> None:
        self.expr(s.expr)
        self.emit(O.POP)

    def value(self, e: A.Expr, conv: tuple[str, str] | None) -> None:
        """Emit e for a typed place: `conv` (from the checker) is the place's type
        and name when the value needs a run-time check or int-to-float
        widening. An int literal widens at compile time."""
        if conv is not None and conv[0].startswith("float"):
            lit = e.operand if isinstance(e, A.Unary) and e.op == "-" else e
            if isinstance(lit, A.IntLit) and INT_MIN <= lit.value <= INT_MAX:
                self.at(e)
                self.emit(O.LOAD_CONST, self.const(float(-lit.value if lit is not e else lit.value)))
                return
        self.expr(e)
        self.check(e, conv)

    def check(self, node: A.Node, conv: tuple[str, str] | None) -> None:
        if conv is not None:
            self.at(node)
            self.checkable(node, conv[0], conv[1])
            self.emit(O.CHECK_TYPE, self.const(conv))

    def checkable(self, node: A.Node, text: str, place: str) -> str:
        """`text`, the type of `place`, which the VM will check values
        against: it must fit the format's limits for that."""
        problem = type_text_problem(text)
        if problem is not None:
            self.error(node, f"the type of {place} is too large to check at run time ({problem})")
        return text

    def s_VarDecl(self, s: A.VarDecl) -> None:
        if s.init is None:
            self.emit(O.LOAD_NIL)
        else:
            self.value(s.init, s.conv)
        self.at(s)
        self.declare(s.ref)

    def s_FnDecl(self, s: A.FnDecl) -> None:
        ref = s.ref
        if ref is not None and ref.kind == GLOBAL:
            return  # hoisted: bound in the module prologue
        if ref is not None and ref.var is not None and ref.var.kind == CELL:
            # The function may capture itself (recursion): make the cell first.
            self.emit(O.LOAD_NIL)
            self.emit(O.STORE_LOCAL, ref.index)
            self.emit(O.MAKE_CELL, ref.index)
            self.make_closure(s)
            self.emit(O.STORE_CELL, ref.index)
        else:
            self.make_closure(s)
            self.declare(ref)

    def s_ClassDecl(self, s: A.ClassDecl) -> None:
        if s.parent is not None:
            self.expr(s.parent)
        else:
            self.emit(O.LOAD_NIL)
        defaults = []
        for f, ftype in zip(s.fields, s.field_types or [""] * len(s.fields)):
            if ftype:
                self.checkable(f, ftype, f"field '{f.name}' of {s.name}")  # (stores are checked)
            ok, value = constant_value(f.default)
            if ok and isinstance(value, int) and not isinstance(value, bool) and ftype.startswith("float"):
                value = float(value)
            defaults.append(value if ok else None)
        names = []
        for m in s.methods if not s.is_interface else ():  # (an interface's are signatures)
            code = self.function_code(m, 0)
            self.at(m)
            self.emit(O.MAKE_CLOSURE, self.const(code))
            names.append(m.name)
        early, after_super = early_fields(s)  # (raw slots: heap/layout.py)
        flags = (CLASS_INTERFACE if s.is_interface else 0) | (CLASS_EARLY_SUPER if after_super else 0) | enums.class_flags(s)
        info = ClassInfo(s.name, tuple(f.name for f in s.fields), tuple(defaults), tuple(names), s.line, s.field_types or (), flags, tuple(s.interfaces or ()), early)
        self.at(s)
        self.emit(O.MAKE_CLASS, self.const(info), len(names))
        self.declare(s.ref)
        enums.emit_statics(self, s)  # tlenum (1.1)

    # tlenum (1.1): an enum is a class; a match, its lowered block.
    s_EnumDecl = s_ClassDecl
    s_Match = s_Block

    def e_EnumValue(self, e: A.EnumValue) -> None:
        enums.emit_enum_value(self, e)

    def s_Assign(self, s: A.Assign) -> None:
        t = s.target
        op = ASSIGN_OPS.get(s.op)
        if isinstance(t, A.Name):
            if t.ref is None:
                return
            if op is None:
                self.value(s.value, s.conv)
            else:
                self.load(t.ref)
                self.expr(s.value)
                self.at(s)
                self.emit(op)
                self.check(s, s.conv)
            self.store(t.ref)
        elif isinstance(t, A.Index):
            self.expr(t.obj)
            self.expr(t.index)
            if op is not None:
                self.emit(O.DUP2)
                self.at(t)
                self.emit(O.GET_INDEX)
                self.expr(s.value)
                self.at(s)
                self.emit(op)
                self.check(s, s.conv)
            else:
                self.value(s.value, s.conv)
            self.at(t)
            self.emit(O.SET_INDEX)
        elif isinstance(t, A.Field):
            self.expr(t.obj)
            if op is not None:
                self.emit(O.DUP)
                self.at(t)
                self.emit(O.GET_FIELD, self.name_(t.name))
                self.expr(s.value)
                self.at(s)
                self.emit(op)
                self.check(s, s.conv)
            else:
                self.value(s.value, s.conv)
            self.at(t)
            self.emit(O.SET_FIELD_PROVEN if s.proven else O.SET_FIELD, self.name_(t.name))

    def s_If(self, s: A.If) -> None:
        ends: list[Label] = []  # one per `if` of an `else if` chain, placed together
        while True:
            orelse = Label()
            self.expr(s.cond)
            self.at(s.cond)
            self.emit(O.JUMP_IF_FALSE, orelse)
            self.block(s.then.stmts)
            if s.orelse is None:
                self.place(orelse)
                break
            end = Label()
            ends.append(end)
            self.emit(O.JUMP, end)
            self.place(orelse)
            if isinstance(s.orelse, A.Block):
                self.block(s.orelse.stmts)
                break
            s = s.orelse
            self.at(s)
            self.unit.where = s
        for end in reversed(ends):
            self.place(end)

    def s_While(self, s: A.While) -> None:
        top = self.label()
        end = Label()
        self.expr(s.cond)
        self.at(s.cond)
        self.emit(O.JUMP_IF_FALSE, end)
        self.loops.append(LoopCtx(end, top, len(self.tries)))
        self.block(s.body.stmts)
        self.loops.pop()
        self.emit(O.JUMP, top)
        self.place(end)

    def s_For(self, s: A.For) -> None:
        it = s.iterable
        if isinstance(it, A.Binary) and it.op in ("..", "..="):
            self._for_range(s, it)
            return
        self.expr(it)
        self.at(it)
        self.emit(O.GET_ITER)
        top = self.label()
        brk, end = Label(), Label()
        self.emit(O.FOR_ITER, end)
        self.at(s)
        self.pos = (s.var_line, s.var_col)
        self.declare(s.ref)
        self.base_depth += 1
        self.loops.append(LoopCtx(brk, top, len(self.tries)))
        self.block(s.body.stmts)
        self.loops.pop()
        self.base_depth -= 1
        self.emit(O.JUMP, top)
        self.place(brk)
        self.emit(O.POP)  # the iterator, when leaving by `break`
        self.place(end)

    def _for_range(self, s: A.For, rng: A.Binary) -> None:
        # for v in a..b: counter and bound live in two adjacent hidden locals;
        # RANGE validates that both ends are ints once, before the loop, and
        # FOR_RANGE does test, yield and increment in one instruction.
        i_slot = self.hidden_local(f"${s.var}.i")
        self.hidden_local(f"${s.var}.end")
        self.expr(rng.left)
        self.emit(O.DUP)
        self.emit(O.STORE_LOCAL, i_slot)
        self.expr(rng.right)
        self.emit(O.DUP)
        self.emit(O.STORE_LOCAL, i_slot + 1)
        self.at(rng)
        # (RANGE_INCL for `..=`: the same check, and its error names `..=`.)
        self.emit(O.RANGE_INCL if rng.op == "..=" else O.RANGE)
        self.emit(O.POP)
        top = self.label()
        end = Label()
        self.at(s)
        self.emit(O.FOR_RANGE, i_slot, 1 if rng.op == "..=" else 0, end)
        self.pos = (s.var_line, s.var_col)
        self.declare(s.ref)
        self.loops.append(LoopCtx(end, top, len(self.tries)))
        self.block(s.body.stmts)
        self.loops.pop()
        self.emit(O.JUMP, top)
        self.place(end)

    def s_Import(self, s: A.Import) -> None:
        self.emit(O.IMPORT, self.const(s.path))
        self.declare(s.ref)

    def s_FromImport(self, s: A.FromImport) -> None:
        self.emit(O.IMPORT, self.const(s.path))
        for (name, line, col), ref in zip(s.names, s.refs or []):
            self.pos = (line, col)
            self.emit(O.DUP)
            self.emit(O.GET_FIELD, self.name_(name))
            self.declare(ref)
        self.emit(O.POP)

    def s_Select(self, s: A.Select) -> None:
        # The operands of every case, in order; SELECT pushes the chosen case's
        # index and received value, and a compare chain dispatches on the index.
        count = 0
        for c in s.cases:
            if c.kind == "recv":
                self.expr(c.channel)
                count += 1
            elif c.kind == "send":
                self.expr(c.channel)
                self.arg(c.value)
                count += 2
            elif c.kind == "sleep":
                self.expr(c.value)
                count += 1
        self.at(s)
        self.emit(O.SELECT, count, self.const(tuple(c.kind for c in s.cases)))
        self.emit(O.SWAP)  # value index
        end = Label()
        for n, c in enumerate(s.cases):
            nxt = Label()
            self.at(c)
            self.emit(O.DUP)
            self.emit(O.LOAD_CONST, self.const(n))
            self.emit(O.EQ)
            self.emit(O.JUMP_IF_FALSE, nxt)
            self.emit(O.POP)
            if c.var is not None:
                self.declare(c.ref)
            else:
                self.emit(O.POP)
            self.block(c.body.stmts)
            self.emit(O.JUMP, end)
            self.place(nxt)
        self.emit(O.POP)  # not reached: some case always matches
        self.emit(O.POP)
        self.place(end)

    # ------------------------------------------------------------------ expressions

    def expr(self, e: A.Expr) -> None:
        if type(e) not in A.CHAIN_LINKS:
            self.pos = (e.line, e.col)
            rule = self.rules.get(type(e))
            if rule is None:
                rule = self.rules[type(e)] = getattr(FunctionEmitter, "e_" + type(e).__name__)
            rule(self, e)
            return
        # A chain is a left-deep tree: go down its left spine in a loop, emit
        # the innermost operand, then each link's own code outwards.
        spine, e = A.left_spine(e, self._emitted_left)
        self.at(e)
        getattr(self, "e_" + type(e).__name__)(e)
        if spine:
            start = start_pos(e)  # where every link of the chain starts
            for link in reversed(spine):
                self.at(link)
                getattr(self, "rest_" + type(link).__name__)(link, start)

    def _emitted_left(self, e: A.Expr) -> A.Expr | None:
        """What a chain link's code continues from on the stack: a method
        call's object (then the arguments); nothing for a super call or a
        call of a top-level function by name (the callee is no stack value)."""
        if type(e) is A.Call:
            callee = e.callee
            ct = type(callee)
            if ct is A.Field:
                return callee.obj
            return None if ct is A.SuperField or self._global_fn(callee) else callee
        return A.left_operand(e)

    def arg(self, e: A.Expr) -> None:
        """An argument, array element, map entry or record field: the checker
        puts the place's run-time work on the value node itself."""
        self.value(e, e.conv)

    def e_IntLit(self, e: A.IntLit) -> None:
        if not INT_MIN <= e.value <= INT_MAX:
            self.error(e, "integer literal too large")
        self.emit(O.LOAD_CONST, self.const(e.value))

    def e_FloatLit(self, e: A.FloatLit) -> None:
        self.emit(O.LOAD_CONST, self.const(e.value))

    def e_StrLit(self, e: A.StrLit) -> None:
        self.emit(O.LOAD_CONST, self.const(e.value))

    def e_BoolLit(self, e: A.BoolLit) -> None:
        self.emit(O.LOAD_TRUE if e.value else O.LOAD_FALSE)

    def e_NilLit(self, e: A.NilLit) -> None:
        self.emit(O.LOAD_NIL)

    def e_Interp(self, e: A.Interp) -> None:
        n = 0
        for part in e.parts:
            if isinstance(part, str):
                if part:
                    self.emit(O.LOAD_CONST, self.const(part))
                    n += 1
            else:
                self.expr(part)
                self.at(part)
                self.emit(O.TO_STR)
                n += 1
        if n == 0:
            self.emit(O.LOAD_CONST, self.const(""))
        elif n > 1:
            self.at(e)
            self.emit(O.BUILD_STRING, n)

    def e_Name(self, e: A.Name) -> None:
        if e.ref is None:
            self.emit(O.LOAD_NIL)  # already reported
        else:
            self.load(e.ref)

    def e_SelfExpr(self, e: A.SelfExpr) -> None:
        if e.ref is None:
            self.emit(O.LOAD_NIL)
        else:
            self.load(e.ref)

    def _load_super(self, e: A.SuperField) -> None:
        if e.ref is None:
            self.emit(O.LOAD_NIL)  # already reported
        else:
            self.load(e.ref)

    def _load_self_for_super(self) -> None:
        ref = self.unit.resolver_self_ref(self.scope)
        if ref is None:
            self.emit(O.LOAD_NIL)
        else:
            self.load(ref)

    def e_SuperField(self, e: A.SuperField) -> None:
        self._load_self_for_super()
        self._load_super(e)
        self.at(e)
        self.emit(O.GET_SUPER, self.name_(e.name))

    def e_ArrayLit(self, e: A.ArrayLit) -> None:
        for x in e.items:
            self.arg(x)
        self.at(e)
        self.emit(O.BUILD_ARRAY, len(e.items))

    def e_MapLit(self, e: A.MapLit) -> None:
        for k, v in e.entries:
            self.arg(k)
            self.arg(v)
        self.at(e)
        self.emit(O.BUILD_MAP, len(e.entries))

    def e_RecordLit(self, e: A.RecordLit) -> None:
        for _, v in e.fields:
            self.arg(v)
        self.at(e)
        self.emit(O.BUILD_RECORD, self.const(tuple(n for n, _ in e.fields)), len(e.fields))

    # Issue 18, helper tltuple: tuples (runtime/tuples.py, vm/ops_tuples.py).
    def e_TupleLit(self, e: A.TupleLit) -> None:
        for x in e.items:
            self.arg(x)
        self.at(e)
        self.emit(O.BUILD_TUPLE, len(e.items))

    def e_Unpack(self, e: A.Unpack) -> None:
        self.expr(e.value)
        self.at(e)
        if e.count >= MAX_COUNT:
            self.error(e, f"too many names in a destructuring pattern ({e.count}; at most {MAX_COUNT - 1})")
        self.emit(O.UNPACK_CHECK, min(e.count, MAX_COUNT - 1), e.kind)

    def e_Pairs(self, e: A.Pairs) -> None:
        self.expr(e.iterable)
        self.at(e)
        self.emit(O.PAIRS)

    def e_Unary(self, e: A.Unary) -> None:
        operand = e.operand
        if e.op == "-" and isinstance(operand, A.IntLit):
            value = -operand.value
            if not INT_MIN <= value <= INT_MAX:
                self.error(operand, "integer literal too large")
            self.emit(O.LOAD_CONST, self.const(value))
            return
        if e.op == "-" and isinstance(operand, A.FloatLit):
            self.emit(O.LOAD_CONST, self.const(-operand.value))
            return
        self.expr(operand)
        self.at(e)
        self.emit({"-": O.NEG, "~": O.BNOT, "not": O.NOT}[e.op])

    # The links of chains (see expr): their left operand is on the stack, and
    # `start` is the position where the chain starts (a call's position).

    def rest_Binary(self, e: A.Binary, start: tuple[int, int]) -> None:
        self.expr(e.right)
        self.at(e)
        self.emit(BINOPS[e.op])

    def rest_Logical(self, e: A.Logical, start: tuple[int, int]) -> None:
        end = Label()
        self.at(e)
        self.emit(O.DUP)
        self.emit(O.JUMP_IF_FALSE if e.op == "and" else O.JUMP_IF_TRUE, end)
        self.emit(O.POP)
        self.expr(e.right)
        self.at(e)
        self.emit(O.CHECK_BOOL)
        self.place(end)

    def rest_Call(self, e: A.Call, start: tuple[int, int]) -> None:
        """A call whose callee value -- or, for `obj.m(...)`, whose object --
        is on the stack."""
        callee = e.callee
        n = len(e.args)
        for a in e.args:
            self.arg(a)
        self.pos = start
        if isinstance(callee, A.Field):
            if e.proven is not None and all(type_text_problem(t) is None for t in e.proven):
                self.emit(O.CALL_METHOD_TYPED, self.name_(callee.name), n, self.const(e.proven))
            else:
                self.emit(O.CALL_METHOD, self.name_(callee.name), n)
        elif e.proven is not None and all(type_text_problem(t) is None for t in e.proven):
            self.emit(O.CALL_TYPED, n, self.const(e.proven))
        else:
            self.emit(O.CALL, n)

    def e_Call(self, e: A.Call) -> None:
        """The calls that are not links of a chain: `super.m(...)` and calls of
        hoisted top-level functions."""
        callee = e.callee
        n = len(e.args)
        pos = start_pos(e)
        if isinstance(callee, A.SuperField):
            self._load_self_for_super()
            for a in e.args:
                self.arg(a)
            self._load_super(callee)
            self.pos = pos
            self.emit(O.SUPER_CALL, self.name_(callee.name), n)
            return
        if self._global_fn(callee):
            for a in e.args:
                self.arg(a)
            self.pos = pos
            self.emit(O.CALL_GLOBAL, callee.ref.index, n)
            return
        raise AssertionError("other calls are chain links (expr emits them)")  # pragma: no cover

    @staticmethod
    def _global_fn(callee: A.Expr) -> bool:
        """A hoisted top-level function: the checker proved or converted every
        argument of a call to it (see Checker.is_global_fn), so CALL_GLOBAL and
        SPAWN_GLOBAL skip its entry checks."""
        if isinstance(callee, A.Name) and callee.ref is not None and callee.ref.kind == GLOBAL:
            var = callee.ref.var
            # A REPL session's function may be rebound by a later entry
            # (lang/tinylang/repl.py): it is called as any value, with checks.
            return var is not None and var.is_fn and not var.session
        return False

    def rest_Index(self, e: A.Index, start: tuple[int, int]) -> None:
        self.expr(e.index)
        self.at(e)
        self.emit(O.GET_INDEX)

    def rest_Field(self, e: A.Field, start: tuple[int, int]) -> None:
        self.at(e)
        self.emit(O.GET_FIELD, self.name_(e.name))

    def e_Lambda(self, e: A.Lambda) -> None:
        self.make_closure(e)

    def e_Await(self, e: A.Await) -> None:
        self.expr(e.value)
        self.at(e)
        self.emit(O.AWAIT)

    def e_Yield(self, e: A.Yield) -> None:
        if e.value is None:
            self.emit(O.LOAD_NIL)
        else:
            self.arg(e.value)
        self.at(e)
        self.emit(O.YIELD)

    def e_Spawn(self, e: A.Spawn) -> None:
        call = e.call
        if not isinstance(call, A.Call):
            self.emit(O.LOAD_NIL)  # reported by the resolver
            return
        callee = call.callee
        if self._global_fn(callee):  # as CALL_GLOBAL: no entry checks
            for a in call.args:
                self.arg(a)
            self.at(e)
            self.emit(O.SPAWN_GLOBAL, callee.ref.index, len(call.args))
            return
        if isinstance(callee, A.Field):  # spawn obj.m(x): the bound method
            self.expr(callee.obj)
            self.at(callee)
            self.emit(O.GET_FIELD, self.name_(callee.name))
        else:
            self.expr(callee)
        for a in call.args:
            self.arg(a)
        self.at(e)
        self.emit(O.SPAWN, len(call.args))


class ModuleEmitter:
    """Emits a whole module: its top-level code and, through it, every function."""

    def __init__(self, path: str, bag: DiagnosticBag):
        self.path = path
        self.bag = bag
        self.where: A.Node | None = None  # the statement being emitted (for run_pass)
        self.rules: dict[type, Any] = {}  # node type -> FunctionEmitter's e_ method for it

    @staticmethod
    def resolver_self_ref(scope: FnScope) -> Ref | None:
        # `self` is slot 1 of the nearest method; the lambdas and local
        # functions inside it reach it as an upvalue.
        fn: FnScope | None = scope
        while fn is not None and fn.kind in ("lambda", "function"):
            fn = fn.parent
        if fn is None or fn.kind not in ("method", "init"):
            return None
        var = fn.slot_vars[1]
        if fn is scope:
            return Ref(LOCAL, 1, var, "self")
        assert var is not None
        return Ref(UPVAL, scope.upvalue_for(var), var, "self")

    def module_code(self, mod: A.Module, scope: FnScope) -> Code:
        em = FunctionEmitter(self, scope, "<module>", 1, 1)
        # Hoisted top-level functions are bound before any statement runs.
        for s in mod.body:
            if isinstance(s, A.FnDecl) and s.ref is not None and s.ref.kind == GLOBAL:
                em.at(s)
                em.make_closure(s)
                em.emit(O.STORE_GLOBAL, s.ref.index)
        em.block(mod.body)
        em.pos = (mod.body[-1].line, mod.body[-1].col) if mod.body else (1, 1)
        em.emit(O.THIS_MODULE)
        em.emit(O.RETURN)
        return em.finish(0, FLAG_MODULE, em.local_types(None, 1))
