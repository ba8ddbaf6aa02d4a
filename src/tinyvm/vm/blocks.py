"""Expression blocks: a straight run of pure stack instructions as one closure.

The pre-decoder calls `compile_block` at every instruction. A block is a
maximal run of LOAD_LOCAL / LOAD_CONST / LOAD_NIL/TRUE/FALSE / LOAD_GLOBAL /
STORE_GLOBAL / ASSIGN_GLOBAL / binary operators / NEG / FALSY / STORE_LOCAL / POP /
GET_FIELD / SET_FIELD / SET_FIELD_PROVEN / GET_INDEX / SET_INDEX / CHECK_TYPE,
optionally ended by JUMP_IF_FALSE, JUMP_IF_TRUE, JUMP_IF_FALSY,
JUMP_IF_TRUTHY or RETURN, inside one exception range. Its operand stack is simulated at
pre-decode time, so values live in Python locals and only what the block leaves
behind touches the frame list. `s = s + i * j % 7` becomes one dispatch instead
of eight.

Fuel (vm/limits.py) counts the instructions a block stands for, not its one
dispatch: the generated code adds the others to the VM's meter before its
last instruction, and `compile_block` gives their positions, from which the
loop counts the instructions a block ran before one of them failed.

A block may also end in a *tail*: the call, spawn, await or constructor
instruction its values feed (`f(a, b + 1)`, `xs.push(x)`, `await t`). The
block pushes them, then runs the tail's own closure and returns what it
returns, so loading arguments and making the call is one dispatch; errors of
the tail are reported at the tail's offset like any other in the block.

Stores (SET_FIELD, SET_FIELD_PROVEN, SET_INDEX) are followed inline by the
heap's write barrier (`if x.mark == heap.watch: heap.barrier(x, v)`; docs/gc.md,
"Write barriers"), except when the value stored is a scalar constant; their
slow paths are the VM's, which barrier themselves.

Laid-out instances (heap/layout.py) take their own inline path after the
dict instance's, unchanged: a test of the shape the site saw last and one
slot access (`_SlotSite`).

Type checks (vm/typecheck.py): SET_FIELD stays inline only for instances of
classes without typed fields, and otherwise calls the VM's `set_field`, which
runs the field's check; SET_FIELD_PROVEN stays inline for every instance;
CHECK_TYPE of a scalar type (`int`, `float?`...) tests the value inline and
calls its pre-built checker only when that test fails, others call it always.

Every operator keeps its exact semantics: an inline fast path for int (with
the int64 overflow check, in languages with ints) and float operands, and the
slow path of the module's language otherwise (arith.py for TinyLang; see
runtime/dialects.py). Before any call that can raise, the generated code stores the
operator's bytecode offset in `fiber.epc`, so errors and traces point at the
operator, as they would without fusion (op_info records such closures with
offset BLOCK_PC, meaning "ask the fiber").

Blocks of the same shape share one generated factory (cached by source text),
so compilation cost is per shape, not per block.
"""

from __future__ import annotations

from types import FunctionType
from typing import Any, Callable

from ..bytecode import opcodes as O
from ..bytecode.code import CLASS_EXTENDS, CLASS_OPEN, ClassInfo, Code
from ..runtime.errors import RtError, undefined_global
from .typecheck import inline_test
from ..heap.objects import Tuple
from ..heap.layout import SlotInstance, slot_name
from ..runtime import tuples
from .ops_tlexpr import float_power, power
from ..runtime.values import typeof

BLOCK_PC = -2
MAX_BLOCK = 24
# The most instructions one dispatch stands for: a block (MAX_BLOCK body
# instructions), the FOR_RANGE + STORE_LOCAL step that may open it, and the
# call or constructor that may end it as its tail; a superblock's two blocks
# together stand for no more (_fall_through).
MAX_WEIGHT = MAX_BLOCK + 3

_ARITH = {O.ADD: "+", O.SUB: "-", O.MUL: "*"}
_CMP = {O.LT: "<", O.LE: "<=", O.GT: ">", O.GE: ">=", O.EQ: "==", O.NE: "!="}
_OTHER = (O.DIV, O.MOD, O.BAND, O.BOR, O.BXOR, O.SHL, O.SHR)
_BINARY = frozenset(_ARITH) | frozenset(_CMP) | frozenset(_OTHER)
_FIELD_OPS = frozenset({O.GET_FIELD, O.SET_FIELD, O.SET_FIELD_PROVEN})
_GLOBAL_OPS = frozenset({O.LOAD_GLOBAL, O.STORE_GLOBAL, O.ASSIGN_GLOBAL})
_BODY_OPS = frozenset({O.LOAD_LOCAL, O.LOAD_CONST, O.LOAD_NIL, O.LOAD_TRUE, O.LOAD_FALSE, O.STORE_LOCAL, O.POP, O.NEG, O.FALSY, O.GET_INDEX, O.SET_INDEX, O.CHECK_TYPE}) | _FIELD_OPS | _BINARY | _GLOBAL_OPS
_ENDS = frozenset({O.JUMP_IF_FALSE, O.JUMP_IF_TRUE, O.JUMP_IF_FALSY, O.JUMP_IF_TRUTHY, O.RETURN})
# (POP is work: fused, the value it drops is never pushed at all.)
_WORK = frozenset({O.STORE_LOCAL, O.POP, O.NEG, O.FALSY, O.GET_INDEX, O.SET_INDEX, O.CHECK_TYPE, O.STORE_GLOBAL, O.ASSIGN_GLOBAL}) | _FIELD_OPS
# Instructions that may end a block as its tail: those whose operands are
# mostly loaded just before them. (Not JUMP, which is threaded anyway, nor
# the loop and iteration instructions, which are block heads or pairs.)
_TAILS = frozenset({
    O.CALL, O.CALL_GLOBAL, O.CALL_TYPED, O.CALL_METHOD, O.CALL_METHOD_TYPED, O.SUPER_CALL,
    O.SPAWN, O.SPAWN_GLOBAL, O.AWAIT, O.BUILD_ARRAY, O.BUILD_MAP, O.BUILD_RECORD, O.BUILD_STRING,
    O.TO_STR, O.GET_ITER, O.THROW, O.YIELD,
})  # fmt: skip
# Issue 18, helper tljit: TinyLang 1.1's instructions. `**` and a
# destructuring's check are body work (no allocation: the float power and
# the check's success inline, the rest through ops_tlexpr.power and
# runtime/tuples.py unpack_check with fb.epc set, as the operators' slow
# paths); those that allocate or charge the heap (a tuple, PAIRS' array,
# FORMAT's string, SET_STATIC's member) end a block as its tail, so that every
# live value is in the frame when they run.
_BODY_OPS = _BODY_OPS | {O.POW, O.UNPACK_CHECK}
_WORK = _WORK | {O.POW, O.UNPACK_CHECK}
_TAILS = _TAILS | {O.BUILD_TUPLE, O.PAIRS, O.FORMAT, O.SET_STATIC}
_SCALARS = (int, float, str, bool, type(None))

_cache: dict[str, Callable] = {}


def _cond_error(v: Any) -> RtError:
    return RtError("TypeError", f"condition must be bool, got {typeof(v)}")



class _Gen:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.params: list[str] = []  # closure parameters, in order
        self.args: list[Any] = []
        self.stack: list[str] = []  # names of Python locals holding virtual stack values
        self.ntemp = 0
        self.popped = 0  # values taken from the frame's real stack
        self.consts: dict[str, Any] = {}  # parameter name -> constant operand value
        self.sites: list[_SlotSite] = []  # field sites' caches of laid-out instances

    def param(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params.append(name)
        self.args.append(value)
        return name

    def temp(self) -> str:
        self.ntemp += 1
        return f"t{self.ntemp}"

    def pop(self) -> str:
        if self.stack:
            return self.stack.pop()
        t = self.temp()
        self.lines.append(f"{t} = L.pop()")
        self.popped += 1
        return t

    def emit(self, line: str) -> None:
        self.lines.append(line)

    def spill(self) -> None:
        """Push the values the block leaves behind onto the frame's real stack."""
        for v in self.stack:
            self.lines.append(f"L.append({v})")


def _scan(code: Any, instrs: list, start: int, boundaries: set) -> tuple[Any, list, Any] | None:
    """The loop step, body and tail of the block starting at instrs[start]
    (see compile_block), or None."""
    block = []
    tail = None  # (pc, opcode, args) of the instruction ending the block as its tail
    head = None  # a FOR_RANGE + STORE_LOCAL loop step opening the block
    first = start
    if start + 1 < len(instrs) and instrs[start][1] == O.FOR_RANGE and instrs[start + 1][1] == O.STORE_LOCAL and instrs[start + 1][0] not in boundaries:
        head = (instrs[start], instrs[start + 1])
        first = start + 2
    for idx in range(first, min(first + MAX_BLOCK, len(instrs))):
        pc, opc, args = instrs[idx]
        if idx > start and pc in boundaries:
            break
        if idx == first and head is not None and opc not in _BODY_OPS:
            break
        if opc == O.LOAD_CONST and not isinstance(code.consts[args[0]], _SCALARS):
            break
        if opc in _BODY_OPS:
            block.append(instrs[idx])
            continue
        if opc in _ENDS:
            block.append(instrs[idx])
        elif opc in _TAILS and block and idx > start:
            tail = instrs[idx]
        break
    # A block must do real work: at least one operator or store, and 2+
    # instructions; or load the operands of its tail.
    if tail is None and (len(block) < 2 or not any(op in _BINARY or op in _WORK for _, op, _ in block)):
        return None
    return head, block, tail


def _fall_through(code: Any, instrs: list, nxt: int, boundaries: set, end: Any, nxt_of: dict, weight: int) -> tuple[Any, list, Any] | None:
    """The block a superblock may continue into after its conditional `end`:
    the one at instrs[nxt], when that is the jump's plain fall-through, in the
    same exception range, without a loop step, and the two stand for at most
    MAX_WEIGHT instructions together (the loop's fuel check assumes no op
    stands for more: vm/limits.py)."""
    if end is None or end[1] == O.RETURN or nxt >= len(instrs) or nxt_of[end[0]] != instrs[nxt][0] or instrs[nxt][0] in boundaries:
        return None
    found = _scan(code, instrs, nxt, boundaries)
    if found is None or found[0] is not None:
        return None
    _, block, tail = found
    if weight + len(block) + (tail is not None) > MAX_WEIGHT:
        return None
    return found


def compile_block(decoder: Any, code: Any, ops: list, instrs: list, start: int, boundaries: set, nxt_of: dict) -> tuple[Callable, int, dict] | None:
    """A closure for the block starting at instrs[start], the number of
    instructions it stands for, and by offset the position of each one that
    runs before the block counts its fuel (vm/limits.py); None when fewer than two instructions would be fused
    (the plain builders are as fast then).

    A block ending in a conditional jump continues into the block that
    follows it when that one is its plain fall-through (no jump threaded
    away, the same exception range): a loop's condition and body, an `if`'s
    test and branch, are then one dispatch and one fuel update on that path
    (a superblock); the jump path leaves with the first block's count."""
    found = _scan(code, instrs, start, boundaries)
    if found is None:
        return None
    head, block, tail = found
    g = _Gen()
    ops_p = g.param(ops)
    consts = code.consts
    rules = decoder.rules
    int_fast = rules.int_fast
    if head is not None:
        # The loop step: leave for the exit, or take the next counter value.
        (fr_pc, _, (i, inclusive, exit_pc)), (_, _, (d,)) = head
        cmp = "<=" if inclusive else "<"
        g.emit(f"v = L[{g.param(i)}]")
        g.emit(f"if not v {cmp} L[{g.param(i + 1)}]: return {ops_p}[{g.param(decoder.thread(code, exit_pc))}]")
        g.emit(f"L[{g.param(i)}] = v + 1")
        g.emit(f"L[{g.param(d)}] = v")
    end = _emit_body(g, decoder, code, block)
    covered = ([head[0], head[1]] if head is not None else []) + block + ([tail] if tail is not None else [])
    metered = decoder.vm.limits.metered
    more = _fall_through(code, instrs, start + len(covered), boundaries, end, nxt_of, len(covered))
    if more is not None:
        # A superblock: the jump leaves with this block's count; the fall
        # path goes on with the next block's body, counted once at its end.
        pc, opc, args = end
        v = g.pop()
        g.spill()
        g.stack = []
        t = g.param(decoder.thread(code, args[0]))
        if opc == O.JUMP_IF_FALSY or opc == O.JUMP_IF_TRUTHY:
            falsy = f"{v} is False or {v} is None"
            g.emit(f"if {falsy}:" if opc == O.JUMP_IF_FALSY else f"if not ({falsy}):")
        else:
            g.emit(f"if {v} is {opc == O.JUMP_IF_TRUE}:")
        if metered:
            g.emit(f"    fuel += {len(covered) - 1}")
        g.emit(f"    return {ops_p}[{t}]")
        if opc == O.JUMP_IF_FALSE or opc == O.JUMP_IF_TRUE:
            g.emit(f"if {v} is not {opc == O.JUMP_IF_FALSE}: fb.epc = {g.param(pc)}; raise cond_error({v})")
        _, block, tail = more
        end = _emit_body(g, decoder, code, block)
        covered += block + ([tail] if tail is not None else [])
    # Fuel: the dispatch counts one instruction; the others are added here,
    # once every instruction that can fail before the last one has run (an
    # error earlier counts its instructions up to fb.epc: Machine._loop).
    # The loop step's exit above ran its FOR_RANGE alone: one, the dispatch.
    if len(covered) > 1 and metered:
        g.emit(f"fuel += {len(covered) - 1}")
    _emit_exit(g, decoder, code, ops_p, block, end, tail, nxt_of)
    body = "\n".join("        " + line for line in g.lines)
    # `alloc` and `heap` (per VM) are always the first parameters so shapes
    # stay shareable; `fuel` is a free variable, bound to the VM's meter cell
    # below (bind_fuel).
    src = f"def make(alloc, heap, {', '.join(g.params)}):\n    fuel = 0\n    def f(fb):\n        nonlocal fuel\n        L = fb.L\n{body}\n    return f\n"
    factory = _cache.get(src)
    if factory is None:
        env: dict[str, Any] = {"Array": Array, "PackedArray": PackedArray, "Instance": Instance, "UNINIT": UNINIT, "undefined": undefined_global, "cond_error": _cond_error}
        exec(compile(src, "<tinyvm block>", "exec"), env)
        factory = env["make"]
        _cache[src] = factory
    # (The end and the tail run after the meter update: not listed.)
    last = len(covered) - (tail is not None) - (end is not None)
    positions = {pc: n for n, (pc, _, _) in enumerate(covered[:last])}
    fn = factory(decoder.vm.heap.alloc, decoder.vm.heap, *g.args)
    if g.sites:
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
        for site in g.sites:
            site.bind(cells)
    if metered and len(covered) > 1:
        fn = bind_fuel(fn, decoder.vm.limits.meter)
    return fn, len(covered), positions


def bind_fuel(fn: Callable, cell: Any) -> Callable:
    """`fn` with its free variable `fuel` bound to `cell`, the VM's fuel meter
    (vm/limits.py). `nonlocal fuel; fuel += k` is the cheapest counter
    CPython has (a cell load and store, ~15 ns against ~23 ns for a list
    item's `meter[0] += k`), and the generated code it is in is shared
    between VMs, so each VM's copy of the closure gets its own cell here."""
    code = fn.__code__
    cells = tuple(cell if name == "fuel" else c for name, c in zip(code.co_freevars, fn.__closure__ or ()))
    return FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__, cells)



class _SlotSite:
    """The cache of one fused field access for laid-out instances
    (heap/layout.py): two parameters of the block, `s` (the last shape seen
    with the field; None at first) and `a` (its slot's name), read by the
    generated code as free variables, and `m`, the access's slow path,
    called on a miss, which refills them.

    The slot is named in the text (`x._12`: heap/layout.py slot_name, an attribute load: half the cost
    of the dict probe; `getattr(x, a)` costs about the probe) when the
    module's own classes say where the field is: `_slot_guess`. The cache
    then only takes shapes with the field at that slot, others take the
    slow path. Without a guess the text reads `getattr(x, a)` and takes any
    shape. Either way the text does not depend on the shape, so blocks
    stay shared by source (`_cache`); the cache is per VM, as each VM's
    closure has its own cells. A site that sees several shapes in turn
    refills on each change: correct, slower."""

    __slots__ = ("s", "a", "m", "slow", "cs", "ca", "index")

    def __init__(self, g: _Gen, slow: Callable, field: str, decoder: Any) -> None:
        self.s = g.param(None)
        self.a = g.param("")
        self.m = g.param(self.miss)
        self.slow = slow
        self.cs: Any = None
        self.ca: Any = None
        self.index = _slot_guess(decoder, field)
        g.sites.append(self)

    def read(self, x: str) -> str:
        return f"getattr({x}, {self.a})" if self.index is None else f"{x}.{slot_name(self.index)}"

    def write(self, x: str, v: str) -> str:
        return f"setattr({x}, {self.a}, {v})" if self.index is None else f"{x}.{slot_name(self.index)} = {v}"

    def bind(self, cells: dict) -> None:
        self.cs, self.ca = cells[self.s], cells.get(self.a)

    def miss(self, x: Any, name: str, *value: Any) -> Any:
        t = type(x)
        if t.__base__ is SlotInstance and self.cs is not None:
            i = t.INDEX.get(name)
            if i is not None and (self.index is None or i == self.index):
                self.cs.cell_contents = t
                if self.ca is not None:
                    self.ca.cell_contents = t.ATTRS[i]
        return self.slow(x, name, *value)


def _slot_guess(decoder: Any, field: str) -> int | None:
    """The slot of `field` in the shapes of the decoded module's classes,
    when its root classes (no `extends`: their own fields are the whole
    template, in order) that declare it agree on one position; else None.
    A guess only: the site's cache admits a shape only where it holds."""
    guesses = getattr(decoder, "_slot_guesses", None)
    if guesses is None:
        positions: dict[str, set[int]] = {}
        code = getattr(decoder.module.code, "init", None)  # (a ModuleCode's top-level Code)
        stack = [code] if code is not None else []
        seen: set[int] = set()
        while stack:
            c = stack.pop()
            if id(c) in seen:
                continue
            seen.add(id(c))
            for k in getattr(c, "consts", ()):
                if isinstance(k, ClassInfo):
                    if not k.flags & (CLASS_EXTENDS | CLASS_OPEN):
                        for i, n in enumerate(dict.fromkeys(k.fields)):
                            positions.setdefault(n, set()).add(i)
                elif isinstance(k, Code):
                    stack.append(k)
        guesses = {n: next(iter(p)) for n, p in positions.items() if len(p) == 1}
        decoder._slot_guesses = guesses
    return guesses.get(field)


def _emit_barrier(g: _Gen, x: str, v: str) -> None:
    """The write barrier after an inline store of v into object x (docs/gc.md,
    "Write barriers"), inside the store's `if`; none when v is a constant
    scalar of the block (nil, true, false, a number or string literal)."""
    if v in ("None", "True", "False") or (v in g.consts and isinstance(g.consts[v], _SCALARS)):
        return
    g.emit(f"    if {x}.mark == heap.watch: heap.barrier({x}, {v})")


def _packed_fits(g: _Gen, v: str, b: str) -> str:
    """The test that value v can be stored in place in the packed array
    buffer b (heap/packed.py: 'b' a bool, 'd' a float, 'q' an int64): for
    a constant of the block, only the buffer's typecode (or False: the
    constant has no packed kind)."""
    if v in ("True", "False"):
        return f"{b}.typecode == 'b'"
    if v in g.consts:
        k = g.consts[v]
        t = type(k)
        if t is float:
            return f"{b}.typecode == 'd'"
        if t is int and -9223372036854775808 <= k <= 9223372036854775807:
            return f"{b}.typecode == 'q'"
        return "False"
    # (the typecode read once, ints first: the getter is a call)
    k = g.temp()
    return (
        f"(({k} := {b}.typecode) == 'q' and type({v}) is int and -9223372036854775808 <= {v} <= 9223372036854775807"
        f" or {k} == 'b' and ({v} is True or {v} is False) or {k} == 'd' and type({v}) is float)"
    )


def _emit_body(g: _Gen, decoder: Any, code: Any, block: list) -> Any:
    """Emit the code of a block's body instructions; its end (a conditional
    jump or RETURN), not emitted, or None."""
    consts = code.consts
    rules = decoder.rules
    int_fast = rules.int_fast
    end = None
    for pc, opc, args in block:
        if opc == O.LOAD_LOCAL:
            t = g.temp()
            g.emit(f"{t} = L[{g.param(args[0])}]")
            g.stack.append(t)
        elif opc == O.LOAD_CONST:
            name = g.param(consts[args[0]])
            g.consts[name] = consts[args[0]]
            g.stack.append(name)
        elif opc == O.LOAD_NIL:
            g.stack.append("None")
        elif opc == O.LOAD_TRUE:
            g.stack.append("True")
        elif opc == O.LOAD_FALSE:
            g.stack.append("False")
        elif opc == O.STORE_LOCAL:
            v = g.pop()
            g.emit(f"L[{g.param(args[0])}] = {v}")
        elif opc == O.POP:
            g.pop()  # a value of the block is dropped; one below it is popped
        elif opc == O.LOAD_GLOBAL:
            t = g.temp()
            G = g.param(decoder.G)
            gi = g.param(args[0])
            g.emit(f"{t} = {G}[{gi}]")
            g.emit(f"if {t} is UNINIT: fb.epc = {g.param(pc)}; raise undefined({g.param(decoder.global_name(args[0]))})")
            g.stack.append(t)
        elif opc == O.STORE_GLOBAL or opc == O.ASSIGN_GLOBAL:
            v = g.pop()
            G = g.param(decoder.G)
            gi = g.param(args[0])
            if opc == O.ASSIGN_GLOBAL:
                g.emit(f"if {G}[{gi}] is UNINIT: fb.epc = {g.param(pc)}; raise undefined({g.param(decoder.global_name(args[0]))})")
            g.emit(f"{G}[{gi}] = {v}")
        elif opc == O.FALSY:
            x = g.pop()
            r = g.temp()
            g.emit(f"{r} = {x} is None or {x} is False")
            g.stack.append(r)
        elif opc == O.GET_FIELD:
            # Instance fields inline; everything else (methods, records,
            # modules, errors) through the VM's general lookup.
            x = g.pop()
            r = g.temp()
            name = g.param(code.names[args[0]])
            pcp = g.param(pc)
            # A laid-out instance (heap/layout.py; every TinyLang instance):
            # the slot this site saw last (_SlotSite); then a dict instance.
            site = _SlotSite(g, rules.get_field, code.names[args[0]], decoder)
            g.emit(f"{r} = {site.read(x)} if ({r} := type({x})) is {site.s} else {x}.fields.get({name}, UNINIT) if {r} is Instance else UNINIT")
            g.emit(f"if {r} is UNINIT: fb.epc = {pcp}; {r} = {site.m}({x}, {name})")
            g.stack.append(r)
        elif opc == O.SET_FIELD or opc == O.SET_FIELD_PROVEN:
            # Inline for an instance of a class without typed fields (or when
            # the compiler proved the type); else the VM's set_field, which
            # runs the field's type check.
            v = g.pop()
            x = g.pop()
            name = g.param(code.names[args[0]])
            pcp = g.param(pc)
            # An open instance (Lox) takes a new field inline too.
            # A laid-out instance: the slot this site saw last, on the same
            # condition (no field checks of its class, for SET_FIELD).
            # An instance of either kind the inline paths leave (a typed
            # field's check, a missing field) goes to the VM's path at once;
            # anything else through the site's miss, which learns shapes.
            tt = g.temp()
            # (The laid-out path first, as for GET_FIELD.)
            if opc == O.SET_FIELD:
                put = g.param(rules.set_field)
                site = _SlotSite(g, rules.set_field, code.names[args[0]], decoder)
                g.emit(f"if ({tt} := type({x})) is {site.s} and {x}.cls.field_checks is None:")
                g.emit(f"    {site.write(x, v)}")
                _emit_barrier(g, x, v)
                g.emit(f"elif {tt} is Instance and ({name} in {x}.fields or {x}.cls.open) and {x}.cls.field_checks is None:")
            else:
                put = g.param(rules.set_field_proven)
                site = _SlotSite(g, rules.set_field_proven, code.names[args[0]], decoder)
                g.emit(f"if ({tt} := type({x})) is {site.s}:")
                g.emit(f"    {site.write(x, v)}")
                _emit_barrier(g, x, v)
                g.emit(f"elif {tt} is Instance and ({name} in {x}.fields or {x}.cls.open):")
            g.emit(f"    {x}.fields[{name}] = {v}")
            _emit_barrier(g, x, v)
            g.emit(f"elif {tt} is Instance or {tt} is {site.s}: fb.epc = {pcp}; {put}({x}, {name}, {v})")
            g.emit(f"else: fb.epc = {pcp}; {site.m}({x}, {name}, {v})")
        elif opc == O.CHECK_TYPE:
            x = g.pop()
            r = g.temp()
            k = consts[args[0]]
            check = g.param(decoder.vm.type_checks.check_const(k))
            test = inline_test(k[0]) if type(k) is tuple and len(k) == 2 else None
            if test is None:
                g.emit(f"fb.epc = {g.param(pc)}; {r} = {check}({x})")
            else:  # a scalar type: the checker runs only when the inline test fails
                g.emit(f"{r} = {x}")
                g.emit(f"if not ({test.format(v=r)}): fb.epc = {g.param(pc)}; {r} = {check}({r})")
            g.stack.append(r)
        elif opc == O.GET_INDEX:
            i = g.pop()
            x = g.pop()
            r = g.temp()
            get = g.param(decoder.vm.get_index)
            g.emit(f"if type({x}) is Array and type({i}) is int and 0 <= {i} < len({x}.items): {r} = {x}.items[{i}]")
            # A packed array (heap/packed.py) read in place: a bool comes back from 0/1.
            b = g.temp()
            g.emit(f"elif type({x}) is PackedArray and type({i}) is int and 0 <= {i} < len({b} := {x}.packed): {r} = {b}[{i}] if {b}.typecode != 'b' else {b}[{i}] == 1")
            g.emit(f"else: fb.epc = {g.param(pc)}; {r} = {get}({x}, {i})")
            g.stack.append(r)
        elif opc == O.SET_INDEX:
            v = g.pop()
            i = g.pop()
            x = g.pop()
            put = g.param(decoder.vm.set_index)
            g.emit(f"if type({x}) is Array and type({i}) is int and 0 <= {i} < len({x}.items):")
            g.emit(f"    {x}.items[{i}] = {v}")
            _emit_barrier(g, x, v)
            # A packed array takes a scalar of its kind in place (no barrier:
            # it holds no reference); any other value goes to set_index,
            # which unpacks it first and runs the barrier.
            b = g.temp()
            g.emit(f"elif type({x}) is PackedArray and type({i}) is int and 0 <= {i} < len({b} := {x}.packed) and {_packed_fits(g, v, b)}: {b}[{i}] = {v}")
            g.emit(f"else: fb.epc = {g.param(pc)}; {put}({x}, {i}, {v})")
        elif opc == O.NEG:
            x = g.pop()
            r = g.temp()
            g.emit(f"if type({x}) is float: {r} = -{x}")
            g.emit(f"else: fb.epc = {g.param(pc)}; {r} = {g.param(rules.neg)}({x})")
            g.stack.append(r)
        elif opc in _BINARY:
            y = g.pop()
            x = g.pop()
            r = g.temp()
            pcp = g.param(pc)
            slow = g.param(rules.binary[opc])
            # A constant operand's type is known now: test only the other one.
            both_int = " and ".join(f"type({v}) is int" for v in (x, y) if type(g.consts.get(v)) is not int) or "True"
            both_float = " and ".join(f"type({v}) is float" for v in (x, y) if type(g.consts.get(v)) is not float) or "True"
            if opc in _ARITH:
                op = _ARITH[opc]
                if int_fast:
                    g.emit(f"if {both_int}:")
                    g.emit(f"    {r} = {x} {op} {y}")
                    g.emit(f"    if not -9223372036854775808 <= {r} <= 9223372036854775807: fb.epc = {pcp}; {slow}({x}, {y})")
                    g.emit(f"elif {both_float}: {r} = {x} {op} {y}")
                else:
                    g.emit(f"if {both_float}: {r} = {x} {op} {y}")
                g.emit("else:")
                g.emit(f"    fb.epc = {pcp}; {r} = {slow}({x}, {y})")
                if opc == O.ADD or opc == O.MUL:  # (array `+` and 1.1's `xs * n` make a new array)
                    g.emit(f"    if type({r}) is Array or type({r}) is PackedArray: alloc({r})")  # (`xs * n` may pack)
            elif opc in _CMP:
                if int_fast:
                    g.emit(f"if {both_int}: {r} = {x} {_CMP[opc]} {y}")
                    g.emit(f"elif {both_float}: {r} = {rules.cmp[opc].format(x=x, y=y)}")
                else:
                    g.emit(f"if {both_float}: {r} = {rules.cmp[opc].format(x=x, y=y)}")
                g.emit(f"else: fb.epc = {pcp}; {r} = {slow}({x}, {y})")
            elif opc == O.DIV and not int_fast:
                g.emit(f"if {both_float} and {y}: {r} = {x} / {y}")
                g.emit(f"else: fb.epc = {pcp}; {r} = {slow}({x}, {y})")
            elif opc in (O.DIV, O.MOD):
                pyop = "//" if opc == O.DIV else "%"
                # Non-negative ints: truncation and floor agree, no overflow possible.
                ypos = "" if type(g.consts.get(y)) is int and g.consts[y] > 0 else f" and {y} > 0"
                g.emit(f"if {both_int} and {x} >= 0{ypos}: {r} = {x} {pyop} {y}")
                if opc == O.DIV:
                    g.emit(f"elif {both_float} and {y}: {r} = {x} / {y}")
                g.emit(f"else: fb.epc = {pcp}; {r} = {slow}({x}, {y})")
            else:
                g.emit(f"fb.epc = {pcp}; {r} = {slow}({x}, {y})")
            g.stack.append(r)
        elif opc == O.POW:  # (tljit)
            y = g.pop()
            x = g.pop()
            r = g.temp()
            g.emit(f"if type({x}) is float and type({y}) is float: {r} = {g.param(float_power)}({x}, {y})")
            g.emit(f"else: fb.epc = {g.param(pc)}; {r} = {g.param(power)}({x}, {y})")
            g.stack.append(r)
        elif opc == O.UNPACK_CHECK:  # (tljit) the value stays: only the check runs
            x = g.pop()
            n, kind = args
            cls = g.param(Tuple if kind == tuples.UNPACK_TUPLE else Array)
            ok = f"type({x}) is {cls} and len({x}.items) == {g.param(n)}"
            if kind != tuples.UNPACK_TUPLE:  # (a packed array's length without unpacking it)
                ok = f"{ok} or type({x}) is PackedArray and len({x}.packed) == {g.param(n)}"
            g.emit(f"if not ({ok}): fb.epc = {g.param(pc)}; {g.param(tuples.unpack_check)}({x}, {g.param(n)}, {g.param(kind)})")
            g.stack.append(x)
        else:
            end = (pc, opc, args)
    return end


def _emit_exit(g: _Gen, decoder: Any, code: Any, ops_p: str, block: list, end: Any, tail: Any, nxt_of: dict) -> None:
    """Emit how a block leaves: through its tail, its end, or to the next instruction."""
    if tail is not None:
        g.spill()
        tail_pc = g.param(tail[0])
        g.emit(f"fb.epc = {tail_pc}")
        g.emit(f"return {ops_p}[{tail_pc}](fb)")
    elif end is None:
        g.spill()
        k = decoder.thread(code, nxt_of[block[-1][0]])
        g.emit(f"return {ops_p}[{g.param(k)}]")
    else:
        pc, opc, args = end
        if opc == O.RETURN:
            v = g.pop()  # values left below it are discarded with the frame
            g.emit("L, ret = fb.frames.pop()")
            g.emit(f"L.append({v}); fb.L = L")
            g.emit("return ret")
        elif opc == O.JUMP_IF_FALSY or opc == O.JUMP_IF_TRUTHY:
            v = g.pop()
            g.spill()
            k = decoder.thread(code, nxt_of[pc])
            t = decoder.thread(code, args[0])
            falsy, truthy = (t, k) if opc == O.JUMP_IF_FALSY else (k, t)
            g.emit(f"if {v} is False or {v} is None: return {ops_p}[{g.param(falsy)}]")
            g.emit(f"return {ops_p}[{g.param(truthy)}]")
        else:
            v = g.pop()
            g.spill()
            k = decoder.thread(code, nxt_of[pc])
            t = decoder.thread(code, args[0])
            fall, jump = (k, t) if opc == O.JUMP_IF_FALSE else (t, k)
            g.emit(f"if {v} is True: return {ops_p}[{g.param(fall)}]")
            g.emit(f"if {v} is False: return {ops_p}[{g.param(jump)}]")
            g.emit(f"fb.epc = {g.param(pc)}; raise cond_error({v})")

from ..heap.objects import UNINIT, Array, Instance  # noqa: E402  (used by the generated code)
from ..heap.packed import PackedArray  # noqa: E402
