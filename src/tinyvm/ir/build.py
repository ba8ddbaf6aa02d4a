"""Bytecode -> SSA IR: `build(code)` turns one verified code object into a `Function`.

The bytecode is cut into basic blocks at jump targets and after every jump,
return and throw. A synthetic entry block `b0` defines the parameters' slots
(slot 0, the running function, and the parameters are `param` values; the other
locals start as `const nil`) and jumps to the block at pc 0, so the entry never
has predecessors.

The blocks are then interpreted abstractly in reverse postorder: a block with a
single predecessor starts with the guest locals and operand stack its
predecessor leaves on that edge; a block with several gets a phi for every
local and stack slot (the verifier proved that the depth is the same on every
incoming path). Each bytecode instruction becomes zero (stack shuffles, local
loads and stores: they only move SSA values) or more IR instructions, through
the one table `OPS` keyed by the opcode names of bytecode/opcodes.py. When every
block is done the phis' operands are filled from their predecessors' exit
states, and the trivial phis (all operands one value, or the phi itself) are
removed until none is left, as in Braun et al. 2013, "Simple and Efficient
Construction of SSA Form".

Types: constants have their value's type, parameters their declared type
(`Code.local_types`), operators the type their operands imply (int + int is
int), CHECK_TYPE the type it checks; every value still `any` is narrowed by
the verifier's type pass (bytecode/dataflow.py) when it proves the value an int
or a string; a phi has the type all its operands share (else `any`).

Exception handlers: every instruction that can raise (it carries a frame state)
at a pc the handler table covers gets an exceptional edge (`Instr.catch`) to the
block of the handler the VM would use there (dataflow.first_handlers, as
vm/calls.py `_unwind` picks it). A handler block always gets a phi per local
and per kept stack slot (`depth` of them), filled from the catching
instructions' states (locals, stack cut to `depth`), then `caught`, the thrown
value, on top. Handler targets reached by normal flow too are refused.

What is not modelled raises `Unsupported(opname)`, a clean refusal:
generators' YIELD, AWAIT, SELECT, and handlers also reached without an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..bytecode.code import Code
from ..bytecode.dataflow import INT as K_INT
from ..bytecode.dataflow import STR as K_STR
from ..bytecode.dataflow import check_kinds, first_handlers, stack_kinds
from ..bytecode.opcodes import BY_NAME, OPCODES, drops_range, eval_effect
from ..bytecode.types import ANY, BOOL, FLOAT, INT, NIL, STRING, ArrayT, MapT, TupleT, Type, TypeTextError, parse_type_text
from .nodes import Block, FrameState, Function, Instr, fold_trivial_phis, replace_uses, set_terminator

__all__ = ["DROP", "OPS", "OpSpec", "Unsupported", "build"]


class Unsupported(Exception):
    """The code uses a bytecode feature the IR does not model yet (named)."""

    def __init__(self, opname: str) -> None:
        super().__init__(opname)
        self.opname = opname

    def __str__(self) -> str:
        return f"Unsupported({self.opname})"


@dataclass(frozen=True, slots=True)
class OpSpec:
    """How one bytecode opcode becomes IR.

    kind: `value` (pop the opcode's operands as the IR operands, push its
    result: the general case), `stack`, `local`, `const`, `cell`, `closure`,
    `jump`, `branch`, `for_iter`, `for_range`, `return`, `throw`, or
    `unsupported`. ir: the IR opcode. raises: the instruction can raise (or
    deoptimise) and so carries a frame state. checked: int64 overflow is
    checked. result: the rule for the result type (see `_result_type`)."""

    kind: str
    ir: str = ""
    raises: bool = False
    checked: bool = False
    result: str = "any"


def _v(ir: str, raises: bool = True, result: str = "any", checked: bool = False) -> OpSpec:
    return OpSpec("value", ir, raises, checked, result)


_STACK = OpSpec("stack")
# The attribute of a `range`/`range_incl` whose value the next instruction,
# POP, drops (bytecode/opcodes.py `drops_range`): it checks its operands
# only, and no tier makes or charges a Range for it.
DROP = "drop"
_RANGES = ("range", "range_incl")
_NO = OpSpec("unsupported")
# The one mapping table: every opcode of bytecode/opcodes.py has a row (a test
# checks it), and docs/ir.md's table is generated from it.
OPS: dict[str, OpSpec] = {
    "NOP": _STACK, "POP": _STACK, "DUP": _STACK, "DUP2": _STACK, "SWAP": _STACK,
    "LOAD_CONST": OpSpec("const", "const"), "LOAD_NIL": OpSpec("const", "const"),
    "LOAD_TRUE": OpSpec("const", "const"), "LOAD_FALSE": OpSpec("const", "const"),
    "LOAD_LOCAL": OpSpec("local"), "STORE_LOCAL": OpSpec("local"),
    "LOAD_CELL": OpSpec("cell", "cell_get"), "STORE_CELL": OpSpec("cell", "cell_set", result="none"),
    "MAKE_CELL": OpSpec("cell", "make_cell"),
    "LOAD_UPVAL": _v("load_upval", False), "STORE_UPVAL": _v("store_upval", False, "none"),
    "LOAD_GLOBAL": _v("load_global"), "STORE_GLOBAL": _v("store_global", False, "none"),
    "LOAD_BUILTIN": _v("builtin", False), "THIS_MODULE": _v("this_module", False),
    "IMPORT": _v("import"),
    "ADD": _v("add", result="arith", checked=True), "SUB": _v("sub", result="arith", checked=True),
    "MUL": _v("mul", result="arith", checked=True), "DIV": _v("div", result="arith", checked=True),
    "MOD": _v("mod", result="arith", checked=True),
    "BAND": _v("band", result="int"), "BOR": _v("bor", result="int"), "BXOR": _v("bxor", result="int"),
    "SHL": _v("shl", result="int", checked=True), "SHR": _v("shr", result="int"),
    "NEG": _v("neg", result="arith", checked=True), "BNOT": _v("bnot", result="int"),
    "NOT": _v("not", result="bool"),
    "EQ": _v("eq", False, "bool"), "NE": _v("ne", False, "bool"),
    "LT": _v("lt", result="bool"), "LE": _v("le", result="bool"), "GT": _v("gt", result="bool"), "GE": _v("ge", result="bool"),
    "IS": _v("is", result="bool"), "RANGE": _v("range"), "RANGE_INCL": _v("range_incl"),
    "CHECK_BOOL": _v("check_bool", result="bool"), "CHECK_TYPE": _v("check_type", result="check"),
    "TO_STR": _v("to_str", result="string"), "BUILD_STRING": _v("concat", result="string"),
    "BUILD_ARRAY": _v("array", result="array"), "BUILD_MAP": _v("map", result="map"),
    "BUILD_RECORD": _v("record"),
    "GET_FIELD": _v("get_field"), "SET_FIELD": _v("set_field", result="none"),
    "SET_FIELD_PROVEN": _v("set_field_proven", result="none"),
    "GET_INDEX": _v("get_index"), "SET_INDEX": _v("set_index", result="none"),
    "JUMP": OpSpec("jump", "jump"),
    "JUMP_IF_FALSE": OpSpec("branch", "branch"), "JUMP_IF_TRUE": OpSpec("branch", "branch"),
    "JUMP_IF_FALSY": OpSpec("branch", "truthy"), "JUMP_IF_TRUTHY": OpSpec("branch", "truthy"),
    "GET_ITER": _v("get_iter"), "FOR_ITER": OpSpec("for_iter", "for_iter", True),
    "FOR_RANGE": OpSpec("for_range", "lt", False),
    "CALL": _v("call"), "CALL_GLOBAL": _v("call_global"), "CALL_TYPED": _v("call_typed"),
    "CALL_METHOD": _v("call_method"), "CALL_METHOD_TYPED": _v("call_method_typed"),
    "SUPER_CALL": _v("super_call"), "GET_SUPER": _v("get_super"),
    "RETURN": OpSpec("return", "return"), "THROW": OpSpec("throw", "throw"),
    "SPAWN": _v("spawn"), "SPAWN_GLOBAL": _v("spawn_global"),
    "AWAIT": _NO, "YIELD": _NO, "SELECT": _NO,
    "MAKE_CLOSURE": OpSpec("closure", "closure", True), "MAKE_CLASS": _v("make_class"),
    "FALSY": _v("falsy", False, "bool"), "PRINT": _v("print", result="none"),
    "ASSIGN_GLOBAL": _v("assign_global", result="none"),
    # tlexpr: modelled since tljit (below)
    "POW": _NO, "FORMAT": _NO,
}
# Issue 18, helper tltuple: the tuple instructions (modelled since tljit, below).
OPS.update({"BUILD_TUPLE": _NO, "UNPACK_CHECK": _NO, "PAIRS": _NO})
# Issue 18, helper tlenum: SET_STATIC (modelled since tljit, below).
OPS.update({"SET_STATIC": _NO})
# Issue 18, helper tljit: TinyLang 1.1's instructions are ordinary value
# instructions. All may raise (a wrong kind or size, OverflowError, a spec
# that does not apply, out of memory): each carries a frame state, and the
# passes treat them as impure unless ir/passes/facts.py proves otherwise
# (float `**`, an `unpack_check` of a tuple typed with its size). `tuple` is
# typed from its operands, `pow` float when a float operand makes it so.
OPS.update({
    "BUILD_TUPLE": _v("tuple", result="tuple"),
    "UNPACK_CHECK": _v("unpack_check", result="same"),
    "PAIRS": _v("pairs"),
    "SET_STATIC": _v("set_static", result="none"),
    "POW": _v("pow", result="pow", checked=True),
    "FORMAT": _v("format", result="string"),
})  # fmt: skip
# Issue 18, helper tldefault: a function whose parameters have defaults (its
# prologue tests JUMP_IF_PASSED), and a call skipping one of them by name
# (LOAD_MISSING), stay on the interpreter.
OPS.update({"JUMP_IF_PASSED": _NO, "LOAD_MISSING": _NO})
# Issue 18, helper tldjit: JUMP_IF_PASSED is a `branch` on the pure
# `passed[slot value]` (true unless the value is the MISSING marker), so those
# functions compile. A defaulted parameter is `any` on entry (it may be the
# marker), and the prologue's join is typed with the declared type when the
# default is (`default_joins`). LOAD_MISSING (a call leaving out a parameter
# whose default is not a constant: the callee evaluates it) is the nullary
# `missing`, typed `any`, not a `const`: the marker must not be folded,
# compared or guarded as a value of the language.
OPS.update({"JUMP_IF_PASSED": OpSpec("passed", "passed", result="bool"), "LOAD_MISSING": _v("missing", False)})
# IR opcodes of the conditional jumps' sense: jump when the condition is true.
_JUMP_WHEN_TRUE = {"JUMP_IF_TRUE", "JUMP_IF_TRUTHY"}


def _const_type(v: object) -> Type:
    if v is None:
        return NIL
    if type(v) is bool:
        return BOOL
    if type(v) is int:
        return INT
    if type(v) is float:
        return FLOAT
    if type(v) is str:
        return STRING
    return ANY


def _common(types: list[Type | None]) -> Type:
    known = {t for t in types if t is not None}
    return known.pop() if len(known) == 1 else ANY


def _text_type(text: str) -> Type:
    if not text:
        return ANY
    try:
        return parse_type_text(text)
    except (TypeTextError, IndexError, ValueError, RecursionError):
        return ANY


def _result_type(rule: str, op: str, args: list[Instr], attrs: tuple) -> Type | None:
    ts = [a.type for a in args]
    if rule == "none":
        return None
    if rule == "bool":
        return BOOL
    if rule == "string":
        return STRING
    if rule == "check":
        return _text_type(attrs[0][0] if type(attrs[0]) is tuple else attrs[0])
    if rule == "array":
        return ArrayT(_common(ts)) if ts else ArrayT(ANY)
    if rule == "map":
        return MapT(_common(ts[0::2]), _common(ts[1::2])) if ts else MapT(ANY, ANY)
    if rule == "int":
        return INT if all(t == INT for t in ts) else ANY
    if rule == "tuple":
        return TupleT(tuple(ts)) if ts and all(t is not None for t in ts) else ANY
    if rule == "same":
        return ts[0] if ts and ts[0] is not None else ANY
    if rule == "pow":
        # int ** int is an int or (a negative exponent) a float: any.
        if all(t in (INT, FLOAT) for t in ts) and FLOAT in ts:
            return FLOAT
        return ANY
    if rule == "arith":
        if all(t == INT for t in ts):
            return INT
        if all(t == FLOAT for t in ts):
            return FLOAT
        if op == "add" and all(t == STRING for t in ts):
            return STRING
    return ANY


class _Ref:
    """A code object or class constant named in an attribute: `<fn NAME>`."""

    __slots__ = ("kind", "name")

    def __init__(self, kind: str, name: str) -> None:
        self.kind, self.name = kind, name


def _attr(kind: str, value: int, code: Code) -> object:
    """The literal an operand of a kind stands for, as the IR keeps it."""
    if kind == "const":
        k = code.consts[value]
        if isinstance(k, Code):
            return _Ref("fn", k.name)
        if type(k).__name__ == "ClassInfo":
            return _Ref("class", k.name)
        return k
    if kind == "name":
        return code.names[value]
    return value


def decode(code: Code) -> dict[int, tuple[int, tuple[int, ...]]]:
    insns = {}
    pc, n = 0, len(code.code)
    while pc < n:
        info = OPCODES[code.code[pc]]
        insns[pc] = (info.code, tuple(code.code[pc + 1 : pc + info.size]))
        pc += info.size
    return insns


class _Builder:
    def __init__(self, code: Code) -> None:
        self.code = code
        self.insns = decode(code)
        for op, _ in self.insns.values():
            name = OPCODES[op].name
            if OPS[name].kind == "unsupported":
                raise Unsupported(name)
        self.handler_of = first_handlers(code, sorted(self.insns)) if code.handlers else {}
        pops = {pc: eval_effect(OPCODES[op].pops, args) for pc, (op, args) in self.insns.items()}

        def fail(msg: str, pc: int) -> Exception:
            return Unsupported(f"unverified code: {msg}")

        self.kinds = check_kinds(code, self.insns, pops, fail)
        self.derived: list[tuple[Instr, str, Type]] = []  # (value, result rule, the type pass's type)
        params = [Instr(i, "param", attrs=(i,), type=ANY if i == 0 else _text_type(_slot_type(code, i))) for i in range(code.arity + 1)]
        for p in params[1 + _required(code) :]:
            p.type = ANY  # (tldjit: the MISSING marker until the prologue)
        self.skips: list[tuple[int, int]] = []  # (JUMP_IF_PASSED's target pc, its slot)
        self.fn = Function(code.name, params, _text_type(code.ret_type), code=code, next_id=len(params))

    # -- blocks -----------------------------------------------------------------

    def successors(self, pc: int) -> tuple[list[int], int]:
        """(successor pcs of the block ending with the instruction at pc, next pc)."""
        op, args = self.insns[pc]
        info = OPCODES[op]
        out = []
        nxt = pc + info.size
        if not info.terminal:
            out.append(nxt)
        if info.branch is not None:
            out.append(args[info.operands.index("jump")])
        return out, nxt

    def cut(self) -> None:
        leaders = {0}
        for pc, (op, args) in self.insns.items():
            info = OPCODES[op]
            if info.branch is not None or info.terminal:
                leaders.add(pc + info.size)
                if info.branch is not None:
                    leaders.add(args[info.operands.index("jump")])
        handlers = {target for target, _ in self.handler_of.values()}
        leaders |= handlers
        self.ends: dict[int, int] = {}  # leader -> pc of its last instruction
        self.succ_pcs: dict[int, list[int]] = {}
        order, seen, stack = [], {0}, [(0, False)]
        # Depth-first from pc 0: reverse postorder of the reachable blocks.
        while stack:
            start, done = stack.pop()
            if done:
                order.append(start)
                continue
            pc = start
            while True:
                succ, nxt = self.successors(pc)
                if nxt in leaders or not succ or succ != [nxt]:
                    break
                pc = nxt
            self.ends[start] = pc
            self.succ_pcs[start] = succ
            stack.append((start, True))
            for s in reversed(succ + self.catch_targets(start, pc)):
                if s not in seen:
                    seen.add(s)
                    stack.append((s, False))
        order.reverse()
        self.order = order
        self.blocks = {pc: Block(i + 1, pc=pc) for i, pc in enumerate(order)}
        self.npreds = {pc: 0 for pc in order}
        self.npreds[0] += 1  # the entry block's jump
        for pc in order:
            for s in set(self.succ_pcs[pc]):  # (a branch to its own fall-through is a jump)
                if s in handlers:
                    raise Unsupported("handler reached without an error")
                self.npreds[s] += 1
        self.handlers = handlers
        self.exc_in: dict[int, list[tuple[list, list]]] = {pc: [] for pc in handlers}

    def catch_targets(self, start: int, end: int) -> list[int]:
        """The handler pcs of the instructions of [start, end] that can raise."""
        out, pc = [], start
        while pc <= end:
            op, _ = self.insns[pc]
            info = OPCODES[op]
            h = self.handler_of.get(pc)
            if h is not None and _can_raise(OPS[info.name]):
                out.append(h[0])
            pc += info.size
        return out

    def catch(self, block: Block, ins: Instr) -> None:
        """Give `ins` (its frame state set) its exceptional edge, if a handler covers it."""
        h = self.handler_of.get(ins.state.pc) if ins.state is not None else None
        if h is None:
            return
        target, depth = h
        ins.catch = self.blocks[target]
        ins.catch.catch_preds.append(block)
        self.exc_in[target].append((list(ins.state.locals), list(ins.state.stack[:depth])))

    # -- values -----------------------------------------------------------------

    def emit(self, block: Block, op: str, args: list[Instr], attrs: tuple = (), type_: Type | None = ANY, pc: int | None = None) -> Instr:
        ins = Instr(self.fn.new_id() if type_ is not None else -1, op, list(args), attrs, type_, pc=pc, block=block)
        block.instrs.append(ins)
        return ins

    def state(self, pc: int, locs: list, stack: list) -> FrameState:
        return FrameState(pc, list(locs), list(stack), self.code)

    def run(self) -> Function:
        fn, code = self.fn, self.code
        self.cut()
        entry = Block(0)
        fn.blocks = [entry] + [self.blocks[pc] for pc in self.order]
        locs: list[Instr] = list(fn.params)
        if code.nlocals > len(locs):
            nil = self.emit(entry, "const", [], (None,), NIL)
            locs += [nil] * (code.nlocals - len(locs))
        set_terminator(entry, Instr(-1, "jump", targets=[self.blocks[0]], block=entry))
        # Exit state per (block pc, successor pc).
        self.out: dict[tuple[int, int], tuple[list, list]] = {(-1, 0): (locs, [])}
        self.into: dict[int, tuple[list, list]] = {0: (locs, [])}  # the last edge into a pc
        phis_of: dict[int, tuple[list, list]] = {}
        for start in self.order:
            block = self.blocks[start]
            if start in self.handlers:
                depth = self.handler_of_target(start)
                locs = [self.phi(block) for _ in range(code.nlocals)]
                stack = [self.phi(block) for _ in range(depth)]
                phis_of[start] = (locs, stack)
                locs, stack = list(locs), list(stack) + [self.emit(block, "caught", [], (), ANY, start)]
            elif self.npreds[start] == 1:
                locs, stack = self.into[start]
                locs, stack = list(locs), list(stack)
            else:
                depth = len(stack_kinds(self.kinds[start]))
                locs = [self.phi(block) for _ in range(code.nlocals)]
                stack = [self.phi(block) for _ in range(depth)]
                phis_of[start] = (locs, stack)
                locs, stack = list(locs), list(stack)
            if start not in self.handlers:
                fn.entries[start] = self.state(start, locs, stack)
            self.interpret(start, block, locs, stack)
        # Fill the phis from their predecessors' exit states, in `preds` order.
        for start, (plocs, pstack) in phis_of.items():
            block = self.blocks[start]
            edges = [self.out[(-1 if pred.pc is None else pred.pc, start)] for pred in block.preds]
            for olocs, ostack in edges + self.exc_in.get(start, []):
                for phi, v in zip(plocs + pstack, olocs + ostack):
                    phi.args.append(v)
        self.remove_trivial_phis()
        self.infer_types(self.default_joins(phis_of))
        return fn

    def default_joins(self, phis_of: dict[int, tuple[list, list]]) -> dict[Instr, tuple[Instr, Type]]:
        """tldjit: the joins after a default's code (JUMP_IF_PASSED's target):
        phi -> (the parameter, its declared type). The passed value has the
        declared type (the call checked it, or the checker proved it) and the
        marker never reaches the join (the default's STORE_LOCAL replaced it),
        so the join has the declared type when the default has it."""
        out = {}
        for target, slot in self.skips:
            phi = phis_of[target][0][slot] if target in phis_of else None
            param = self.fn.params[slot]
            declared = _text_type(_slot_type(self.code, slot))
            if phi is not None and declared != ANY and phi in self.blocks[target].phis and param in phi.args:
                out[phi] = (param, declared)
        return out

    def handler_of_target(self, target: int) -> int:
        """The stack depth a handler keeps (the table's entries for one target agree:
        the bytecode verifier merged them)."""
        return next(d for t, d in self.handler_of.values() if t == target)

    def phi(self, block: Block) -> Instr:
        p = Instr(self.fn.new_id(), "phi", [], (), None, block=block)
        block.phis.append(p)
        return p

    def remove_trivial_phis(self) -> None:
        final = fold_trivial_phis([p for b in self.fn.blocks for p in b.phis], {})
        for b in self.fn.blocks:
            b.phis = [p for p in b.phis if p not in final]
        replace_uses(self.fn, final)

    def infer_types(self, joins: dict[Instr, tuple[Instr, Type]]) -> None:
        """Types of phis and of operators typed from their operands, together,
        optimistically: each starts unknown (None), takes the type its known
        operands imply, and drops to `any` if that changes; then unknown is any.
        (Operators typed before their loop's phis would otherwise all be any.)"""
        phis = [p for b in self.fn.blocks for p in b.phis]
        derived = [(ins, rule, hint) for ins, rule, hint in self.derived if ins.block is not None]
        for ins, _, _ in derived:
            ins.type = None
        changed = True
        while changed:
            changed = False
            for p in phis:
                param, declared = joins.get(p, (None, None))
                ts = {a.type for a in p.args if a is not p and a is not param and a.type is not None}
                new = None if not ts else ts.pop() if len(ts) == 1 else ANY
                changed |= _settle(p, ANY if declared is not None and new not in (None, declared) else new)
            for ins, rule, hint in derived:
                known = [a for a in ins.args if a.type is not None]
                if len(known) < len(ins.args) and not known:
                    continue
                t = _result_type(rule, ins.op, known, ins.attrs) if len(known) == len(ins.args) else None
                if t is None:
                    continue
                changed |= _settle(ins, hint if t == ANY else t)
        for ins in phis + [d[0] for d in derived]:
            if ins.type is None:
                ins.type = ANY

    # -- one block ----------------------------------------------------------------

    def interpret(self, start: int, block: Block, locs: list, stack: list) -> None:
        code = self.code
        pc = start
        last = self.ends[start]
        while True:
            op, args = self.insns[pc]
            info = OPCODES[op]
            spec = OPS[info.name]
            kind = spec.kind
            nxt = pc + info.size
            if kind == "stack":
                if info.name == "POP":
                    stack.pop()
                elif info.name == "DUP":
                    stack.append(stack[-1])
                elif info.name == "DUP2":
                    stack += stack[-2:]
                elif info.name == "SWAP":
                    stack[-1], stack[-2] = stack[-2], stack[-1]
            elif kind == "local":
                if info.name == "LOAD_LOCAL":
                    stack.append(locs[args[0]])
                else:
                    locs[args[0]] = stack.pop()
            elif kind == "const":
                k = code.consts[args[0]] if info.name == "LOAD_CONST" else {"LOAD_NIL": None, "LOAD_TRUE": True, "LOAD_FALSE": False}[info.name]
                stack.append(self.emit(block, "const", [], (_attr("const", args[0], code) if info.name == "LOAD_CONST" else k,), _const_type(k), pc))
            elif kind == "cell":
                cell = locs[args[0]]
                if info.name == "MAKE_CELL":
                    locs[args[0]] = self.emit(block, spec.ir, [cell], (), ANY, pc)
                elif info.name == "LOAD_CELL":
                    stack.append(self.emit(block, spec.ir, [cell], (), ANY, pc))
                else:
                    self.emit(block, spec.ir, [cell, stack.pop()], (), None, pc)
            elif kind == "closure":
                sub = code.consts[args[0]]
                captured = [locs[i] for from_local, i in sub.captures if from_local]
                upvals = tuple(i for from_local, i in sub.captures if not from_local)
                ins = self.emit(block, "closure", captured, (_Ref("fn", sub.name), upvals), ANY, pc)
                ins.state = self.state(pc, locs, stack)
                self.catch(block, ins)
                stack.append(ins)
            elif kind == "value":
                n = eval_effect(info.pops, args)
                st = self.state(pc, locs, stack) if spec.raises else None
                operands = stack[len(stack) - n :] if n else []
                del stack[len(stack) - n :]
                # (A count that sets how many values it pops is the operands' number.)
                attrs = tuple(_attr(k, a, code) for k, a, letter in zip(info.operands, args, "abc") if k != "count" or letter not in info.pops)
                if spec.ir in _RANGES and drops_range(code.code, pc):  # (the test only for ranges: it runs per value instruction)
                    attrs = (DROP,)  # (a for-range loop's Range, which POP drops: checked, never made)
                ins = self.emit(block, spec.ir, operands, attrs, _result_type(spec.result, spec.ir, operands, attrs), pc)
                ins.checked = spec.checked
                ins.state = st
                self.catch(block, ins)
                if spec.result in _DERIVED:
                    # Typed from its operands' types once the phis have theirs.
                    self.derived.append((ins, spec.result, self.kind_type(nxt)))
                elif ins.type == ANY:
                    ins.type = self.kind_type(nxt)
                if info.pushes:
                    stack.append(ins)
            elif kind == "jump":
                self.finish(block, start, Instr(-1, "jump", targets=[self.blocks[args[0]]], pc=pc), {args[0]: (locs, stack)})
                return
            elif kind in ("return", "throw"):
                v = stack.pop()
                term = Instr(-1, kind, [v], pc=pc)
                term.block = block
                if kind == "throw":
                    term.state = self.state(pc, locs, stack + [v])
                    self.catch(block, term)
                self.finish(block, start, term, {})
                return
            elif kind == "branch":
                v = stack.pop()
                if spec.ir == "truthy":
                    v = self.emit(block, "truthy", [v], (), BOOL, pc)
                target = args[0]
                taken, fall = (target, nxt) if info.name in _JUMP_WHEN_TRUE else (nxt, target)
                self.branch(block, start, v, taken, fall, pc, (locs, stack), (locs, stack))
                return
            elif kind == "passed":
                slot, target = args
                cond = self.emit(block, "passed", [locs[slot]], (slot,), BOOL, pc)
                if slot < len(self.fn.params):
                    self.skips.append((target, slot))
                self.branch(block, start, cond, target, nxt, pc, (locs, stack), (locs, stack))
                return
            elif kind == "for_iter":
                it = stack[-1]
                value = self.emit(block, "for_iter", [it], (), ANY, pc)
                value.state = self.state(pc, locs, stack)
                self.catch(block, value)
                done = self.emit(block, "iter_done", [value], (), BOOL, pc)
                self.branch(block, start, done, args[0], nxt, pc, (locs, stack[:-1]), (locs, stack + [value]))
                return
            elif kind == "for_range":
                i, incl, target = args
                counter = locs[i]
                more = self.emit(block, "le" if incl else "lt", [counter, locs[i + 1]], (), BOOL, pc)
                one = self.emit(block, "const", [], (1,), INT, pc)
                # An exclusive range's step is unchecked: it only reaches the
                # body, where counter < bound <= int64's max. An inclusive
                # range's is checked: its last counter may be the max, and the
                # interpreter's FOR_RANGE then holds max + 1 (a Python int) and
                # leaves the loop; int64 code would wrap to the min and go on.
                # Checked, the step's overflow deoptimises at this pc with the
                # counter at the max, and the interpreter runs FOR_RANGE itself
                # (the range pass clears the check where the bound is below
                # the max).
                step = self.emit(block, "add", [counter, one], (), INT, pc)
                step.checked = bool(incl)
                # Neither raises (the verifier proved both locals ints), but the
                # loop header is where OSR enters and a guard would deoptimise.
                more.state = self.state(pc, locs, stack)
                step.state = self.state(pc, locs, stack)
                body_locs = list(locs)
                body_locs[i] = step
                self.branch(block, start, more, nxt, target, pc, (body_locs, stack + [counter]), (locs, stack))
                return
            if pc == last:
                self.finish(block, start, Instr(-1, "jump", targets=[self.blocks[nxt]], pc=None), {nxt: (locs, stack)})
                return
            pc = nxt

    def kind_type(self, pc: int) -> Type:
        """The type the verifier's type pass proves for the top of the stack at pc."""
        state = self.kinds.get(pc)
        if state is None or state[1] is None:
            return ANY
        mask = state[1][0] & 127
        return INT if mask == K_INT else STRING if mask == K_STR else ANY

    def branch(self, block: Block, start: int, cond: Instr, if_true: int, if_false: int, pc: int, true_state: tuple, false_state: tuple) -> None:
        if if_true == if_false:
            self.finish(block, start, Instr(-1, "jump", targets=[self.blocks[if_true]], pc=pc), {if_true: true_state})
            return
        term = Instr(-1, "branch", [cond], targets=[self.blocks[if_true], self.blocks[if_false]], pc=pc)
        self.finish(block, start, term, {if_true: true_state, if_false: false_state})

    def finish(self, block: Block, start: int, term: Instr, states: dict[int, tuple]) -> None:
        set_terminator(block, term)
        for target, (locs, stack) in states.items():
            self.out[(start, target)] = self.into[target] = (list(locs), list(stack))


def _can_raise(spec: OpSpec) -> bool:
    return spec.raises or spec.kind == "throw"


# Result rules whose type follows from the operands' (inferred with the phis').
_DERIVED = frozenset(("arith", "int", "array", "map", "tuple", "same", "pow"))


def _settle(ins: Instr, new: Type | None) -> bool:
    """Move `ins` up the lattice unknown -> one type -> any; True if it moved."""
    if new is None or new == ins.type or ins.type == ANY:
        return False
    ins.type = new if ins.type is None else ANY
    return True


def _required(code: Code) -> int:
    """How many parameters a call must pass (tldefault's `Code.required`)."""
    return code.arity if code.required < 0 else code.required


def _slot_type(code: Code, i: int) -> str:
    return code.local_types[i] if i < len(code.local_types) else ""


def build(code: Code) -> Function:
    """The SSA IR of one verified code object (not of the code objects nested in
    its constants). Raises `Unsupported` for what the IR does not model yet."""
    return _Builder(code).run()


assert set(OPS) == set(BY_NAME), "every opcode has a row in OPS"


def mapping_table() -> str:
    """The opcode mapping as Markdown (the generated part of docs/ir.md)."""
    out = ["| bytecode | IR | how | raises (frame state) | checked | result type |", "|---|---|---|---|---|---|"]
    how = {
        "value": "its operands become the IR operands, its result the value",
        "stack": "moves SSA values on the abstract stack: no IR",
        "local": "moves SSA values between stack and locals: no IR",
        "const": "`const[value]`",
        "cell": "the local slot's cell is an operand",
        "closure": "operands: the captured locals' cells; attrs: code, upvalue indices",
        "jump": "terminator",
        "branch": "`branch`; the Lox forms test `truthy` first",
        "for_iter": "`for_iter`, `iter_done`, `branch`",
        "for_range": "`lt`/`le`, `add` of the counter (wrapping for `..`, checked for `..=`: its last counter may be the max), `branch`",
        "passed": "`passed[slot]` of the slot's value (not the MISSING marker), `branch`",
        "return": "terminator",
        "throw": "terminator, with a frame state",
        "unsupported": "**Unsupported**",
    }
    for op in OPCODES:
        s = OPS[op.name]
        ir = f"`{s.ir}`" if s.ir else "-"
        raises = "yes" if s.raises or s.kind == "throw" else "no"
        out.append(f"| `{op.name}` | {ir} | {how[s.kind]} | {raises} | {'yes' if s.checked else '-'} | {s.result if s.kind == 'value' else '-'} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover - doc generator
    print(mapping_table(), end="")
