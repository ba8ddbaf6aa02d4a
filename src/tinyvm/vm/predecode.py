"""Pre-decoding: verified bytecode -> threaded closures, the form the VM runs.

Each instruction at offset `pc` becomes a Python closure `op(fiber) -> next_op`
with its operands already decoded into closure variables (constant values,
slot numbers, resolved globals list, the built-in object...). The dispatch loop
is then just `op = op(fiber)` (see machine.py): no opcode switch, no operand
fetch. Jumps are threaded: an instruction followed by an unconditional JUMP
continues straight at the jump's target.

Superinstructions: straight-line expression code is compiled into one closure
per block by blocks.py; a few other pairs are fused here (`_fuse`). The
instructions inside a fused run keep their own closures too, so jumps into the
middle of it still work, and fusion never crosses an exception-range boundary,
so a fused closure is covered by exactly the handlers of its first instruction.

A dispatch is one unit of the instruction budget (preemption, fuel): counts are
deterministic because fusion is.

Languages: a module's language selects the run-time rules (vm/dialects.py)
its instructions are built with -- operator slow paths and fast paths,
property access, messages. The rules are closure variables like any operand.
"""

from __future__ import annotations

from typing import Any, Callable

from ..bytecode import opcodes as O
from ..bytecode.code import FLAG_ASYNC, FLAG_GENERATOR, Code
from ..heap.objects import (
    UNINIT,
    Array,
    AsyncFunction,
    GeneratorFunction,
    BoundMethod,
    Cell,
    Class,
    Function,
    Instance,
    Map,
    ModuleObject,
    Native,
    Record,
)
from . import arith
from .blocks import BLOCK_PC, compile_block
from .errors import RtError, Throw, stack_overflow, undefined_global
from .fiber import DONE, Fiber
from .generators import gen_yield
from .values import PRINT_CLOX, NeedsGuest, check_key, to_str, to_str_clox, typeof


_ARITH_OPS = {O.ADD: "+", O.SUB: "-", O.MUL: "*"}
_CMP_OPS = {O.LT: "<", O.LE: "<=", O.GT: ">", O.GE: ">=", O.EQ: "==", O.NE: "!="}
_OTHER_OPS = (O.DIV, O.MOD, O.BAND, O.BOR, O.BXOR, O.SHL, O.SHR)


class Decoder:
    """Pre-decodes the code objects of one module for one VM."""

    def __init__(self, vm: Any, module: ModuleObject) -> None:
        self.vm = vm
        self.module = module
        self.G = module.globals
        self.rules = vm.rules_for(module.code.lang if module.code is not None else "tinylang")

    def decode(self, code: Code) -> list:
        cached = self.vm.decoded.get(code)
        if cached is not None:
            return cached
        ops: list = [None] * (len(code.code) + 1)
        self.vm.decoded[code] = ops
        self.vm.code_rules[code] = self.rules
        instrs = list(_iter_instructions(code.code))
        starts = {pc for pc, _, _ in instrs}
        nxt_of = {}
        for i, (pc, opc, args) in enumerate(instrs):
            nxt_of[pc] = instrs[i + 1][0] if i + 1 < len(instrs) else len(code.code)
        boundaries = _handler_boundaries(code)
        info = self.vm.op_info
        for i, (pc, opc, args) in enumerate(instrs):
            block = compile_block(self, code, ops, instrs, i, boundaries, nxt_of)
            if block is not None:
                ops[pc] = block
                info[block] = (code, BLOCK_PC)
                self.vm.block_start[block] = pc
                continue
            window = instrs[i : i + 4]
            fused = self._fuse(code, ops, window, boundaries, nxt_of)
            if fused is None:
                k = self._thread(code, nxt_of[pc])
                fn = BUILDERS[opc](self, code, ops, pc, args, k)
                info[fn] = (code, pc)
            else:
                # Errors of a fused op are reported at the instruction that can
                # raise (the operator), so traces point at the operator's column.
                fn, raising_pc = fused
                info[fn] = (code, raising_pc)
            ops[pc] = fn
        del starts
        return ops

    def global_name(self, g: int) -> str:
        """The name of this module's global slot g (for error messages)."""
        code = self.module.code
        return code.globals[g] if code is not None else str(g)

    def _thread(self, code: Code, pc: int) -> int:
        """Follow unconditional jumps so an instruction continues at the final target."""
        seen = 0
        c = code.code
        while pc < len(c) and c[pc] == O.JUMP and seen < 8:
            pc = c[pc + 1]
            seen += 1
        return pc

    # ------------------------------------------------------------------ fusion

    def _fuse(self, code: Code, ops: list, window: list, boundaries: set, nxt_of: dict) -> tuple[Callable, int] | None:
        """Pairs the block compiler (blocks.py) does not take: a fused closure and
        the offset of the instruction in it that can raise, or None."""
        if len(window) < 2 or window[1][0] in boundaries:
            return None
        p0, o0, a0 = window[0]
        p1, o1, a1 = window[1]
        if o0 == O.LOAD_LOCAL and o1 == O.RETURN:
            return _ret_local(a0[0]), p0
        if o0 == O.FOR_RANGE and o1 == O.STORE_LOCAL:
            k = self._thread(code, nxt_of[p1])
            t = self._thread(code, a0[2])
            return _for_range_store(ops, k, t, a0[0], a0[1], a1[0]), p0
        return None


def _iter_instructions(code: tuple[int, ...]):
    pc = 0
    n = len(code)
    while pc < n:
        opc = code[pc]
        size = O.OPCODES[opc].size
        yield pc, opc, tuple(code[pc + 1 : pc + size])
        pc += size


def _handler_boundaries(code: Code) -> set:
    out = set()
    for start, end, target, _ in code.handlers:
        out.update((start, end, target))
    return out


# --------------------------------------------------------------------------- fused helpers


def _ret_local(i: int) -> Callable:
    def f(fb):
        v = fb.L[i]
        L, ret = fb.frames.pop()
        L.append(v)
        fb.L = L
        return ret

    return f


def _for_range_store(ops: list, k: int, t: int, i: int, inclusive: int, d: int) -> Callable:
    # Counter and bound are ints (checked by RANGE before the loop); the
    # counter is a hidden local, so stepping past INT64_MAX cannot be observed.
    j = i + 1
    if inclusive:

        def f(fb):
            L = fb.L
            v = L[i]
            if v <= L[j]:
                L[i] = v + 1
                L[d] = v
                return ops[k]
            return ops[t]

    else:

        def f(fb):
            L = fb.L
            v = L[i]
            if v < L[j]:
                L[i] = v + 1
                L[d] = v
                return ops[k]
            return ops[t]

    return f


# --------------------------------------------------------------------------- builders
#
# BUILDERS[opcode](decoder, code, ops, pc, args, k) -> closure; k is the threaded
# offset of the next instruction.

BUILDERS: list[Callable] = [None] * O.NUM_OPCODES  # type: ignore[list-item]


def builder(*opcodes: int) -> Callable:
    def register(fn: Callable) -> Callable:
        for opc in opcodes:
            BUILDERS[opc] = fn
        return fn

    return register


@builder(O.NOP)
def b_nop(d, code, ops, pc, args, k):
    def f(fb):
        return ops[k]

    return f


@builder(O.POP)
def b_pop(d, code, ops, pc, args, k):
    def f(fb):
        fb.L.pop()
        return ops[k]

    return f


@builder(O.DUP)
def b_dup(d, code, ops, pc, args, k):
    def f(fb):
        L = fb.L
        L.append(L[-1])
        return ops[k]

    return f


@builder(O.DUP2)
def b_dup2(d, code, ops, pc, args, k):
    def f(fb):
        L = fb.L
        L += L[-2:]
        return ops[k]

    return f


@builder(O.SWAP)
def b_swap(d, code, ops, pc, args, k):
    def f(fb):
        L = fb.L
        L[-1], L[-2] = L[-2], L[-1]
        return ops[k]

    return f


def _push_value(ops: list, k: int, value: Any) -> Callable:
    def f(fb):
        fb.L.append(value)
        return ops[k]

    return f


@builder(O.LOAD_CONST)
def b_load_const(d, code, ops, pc, args, k):
    return _push_value(ops, k, code.consts[args[0]])


@builder(O.LOAD_NIL)
def b_load_nil(d, code, ops, pc, args, k):
    return _push_value(ops, k, None)


@builder(O.LOAD_TRUE)
def b_load_true(d, code, ops, pc, args, k):
    return _push_value(ops, k, True)


@builder(O.LOAD_FALSE)
def b_load_false(d, code, ops, pc, args, k):
    return _push_value(ops, k, False)


@builder(O.LOAD_LOCAL)
def b_load_local(d, code, ops, pc, args, k):
    i = args[0]

    def f(fb):
        L = fb.L
        L.append(L[i])
        return ops[k]

    return f


@builder(O.STORE_LOCAL)
def b_store_local(d, code, ops, pc, args, k):
    i = args[0]

    def f(fb):
        L = fb.L
        L[i] = L.pop()
        return ops[k]

    return f


@builder(O.LOAD_CELL)
def b_load_cell(d, code, ops, pc, args, k):
    i = args[0]

    def f(fb):
        L = fb.L
        L.append(L[i].value)
        return ops[k]

    return f


@builder(O.STORE_CELL)
def b_store_cell(d, code, ops, pc, args, k):
    i = args[0]

    def f(fb):
        L = fb.L
        L[i].value = L.pop()
        return ops[k]

    return f


@builder(O.MAKE_CELL)
def b_make_cell(d, code, ops, pc, args, k):
    i = args[0]
    alloc = d.vm.heap.alloc

    def f(fb):
        L = fb.L
        L[i] = alloc(Cell(L[i]))
        return ops[k]

    return f


@builder(O.LOAD_UPVAL)
def b_load_upval(d, code, ops, pc, args, k):
    i = args[0]

    def f(fb):
        L = fb.L
        L.append(L[0].upvals[i].value)
        return ops[k]

    return f


@builder(O.STORE_UPVAL)
def b_store_upval(d, code, ops, pc, args, k):
    i = args[0]

    def f(fb):
        L = fb.L
        L[0].upvals[i].value = L.pop()
        return ops[k]

    return f


@builder(O.LOAD_GLOBAL)
def b_load_global(d, code, ops, pc, args, k):
    g = args[0]
    G = d.G
    name = d.global_name(g)

    def f(fb):
        v = G[g]
        if v is UNINIT:
            raise undefined_global(name)
        fb.L.append(v)
        return ops[k]

    return f


@builder(O.STORE_GLOBAL)
def b_store_global(d, code, ops, pc, args, k):
    g = args[0]
    G = d.G

    def f(fb):
        G[g] = fb.L.pop()
        return ops[k]

    return f


@builder(O.LOAD_BUILTIN)
def b_load_builtin(d, code, ops, pc, args, k):
    name = code.names[args[0]]
    value = d.vm.builtins.get(name, UNINIT)
    if value is UNINIT:

        def missing(fb):
            raise RtError("Error", f"built-in '{name}' is not available in this version")

        return missing
    return _push_value(ops, k, value)


@builder(O.THIS_MODULE)
def b_this_module(d, code, ops, pc, args, k):
    return _push_value(ops, k, d.module)


@builder(O.IMPORT)
def b_import(d, code, ops, pc, args, k):
    spec = code.consts[args[0]]
    vm = d.vm
    importer = d.module.name

    def f(fb):
        return vm.import_module(fb, importer, spec, ops[k])

    return f


_STACK_ARITH = """
def make(ops, k, slow, alloc):
    def f(fb):
        L = fb.L
        y = L.pop(); x = L[-1]
        if type(x) is int and type(y) is int:
            r = x {OP} y
            if -9223372036854775808 <= r <= 9223372036854775807:
                L[-1] = r
                return ops[k]
        elif type(x) is float and type(y) is float:
            L[-1] = x {OP} y
            return ops[k]
        r = slow(x, y)
        if type(r) is Array:
            alloc(r)
        L[-1] = r
        return ops[k]
    return f
"""

# Languages without TinyLang's ints (Lox): floats inline, everything else slow.
_STACK_ARITH_FLOAT = """
def make(ops, k, slow, alloc):
    def f(fb):
        L = fb.L
        y = L.pop(); x = L[-1]
        if type(x) is float and type(y) is float:
            L[-1] = x {OP} y
            return ops[k]
        r = slow(x, y)
        if type(r) is Array:
            alloc(r)
        L[-1] = r
        return ops[k]
    return f
"""

_STACK_CMP = """
def make(ops, k, slow, alloc):
    def f(fb):
        L = fb.L
        y = L.pop(); x = L[-1]
        if type(x) is int and type(y) is int:
            L[-1] = x {OP} y
        else:
            L[-1] = slow(x, y)
        return ops[k]
    return f
"""

_STACK_CMP_FLOAT = """
def make(ops, k, slow, alloc):
    def f(fb):
        L = fb.L
        y = L.pop(); x = L[-1]
        if type(x) is float and type(y) is float:
            L[-1] = {EXPR}
        else:
            L[-1] = slow(x, y)
        return ops[k]
    return f
"""

_STACK_OTHER = """
def make(ops, k, slow, alloc):
    def f(fb):
        L = fb.L
        y = L.pop()
        L[-1] = slow(L[-1], y)
        return ops[k]
    return f
"""


def _stack_factory(opcode: int, int_fast: bool, cmp: dict[int, str]) -> Callable:
    if opcode in _ARITH_OPS:
        src = (_STACK_ARITH if int_fast else _STACK_ARITH_FLOAT).replace("{OP}", _ARITH_OPS[opcode])
    elif opcode in _CMP_OPS:
        if int_fast:
            src = _STACK_CMP.replace("{OP}", _CMP_OPS[opcode])
        else:
            src = _STACK_CMP_FLOAT.replace("{EXPR}", cmp[opcode].format(x="x", y="y"))
    else:
        src = _STACK_OTHER
    env: dict[str, Any] = {"Array": Array}
    exec(compile(src, f"<tinyvm {O.OPCODES[opcode].name}>", "exec"), env)
    return env["make"]


# Built on first use (exec at import time would slow down every start-up).
_STACK_FACTORIES: dict[tuple, Callable] = {}


@builder(*(list(_ARITH_OPS) + list(_CMP_OPS) + list(_OTHER_OPS) + [O.IS]))
def b_binary(d, code, ops, pc, args, k):
    opc = code.code[pc]
    rules = d.rules
    key = (opc, rules.int_fast, rules.cmp.get(opc))
    fac = _STACK_FACTORIES.get(key)
    if fac is None:
        fac = _STACK_FACTORIES[key] = _stack_factory(opc, rules.int_fast, rules.cmp)
    return fac(ops, k, rules.binary[opc], d.vm.heap.alloc)


@builder(O.NEG)
def b_neg(d, code, ops, pc, args, k):
    neg = d.rules.neg

    def f(fb):
        L = fb.L
        x = L[-1]
        L[-1] = -x if type(x) is float else neg(x)
        return ops[k]

    return f


def _unary(fn: Callable) -> Callable:
    def build(d, code, ops, pc, args, k):
        def f(fb):
            L = fb.L
            L[-1] = fn(L[-1])
            return ops[k]

        return f

    return build


BUILDERS[O.BNOT] = _unary(arith.bnot)
BUILDERS[O.NOT] = _unary(arith.not_)


def _check_bool(v: Any) -> Any:
    if v is True or v is False:
        return v
    raise RtError("TypeError", f"condition must be bool, got {typeof(v)}")


BUILDERS[O.CHECK_BOOL] = _unary(_check_bool)


@builder(O.CHECK_TYPE)
def b_check_type(d, code, ops, pc, args, k):
    check = d.vm.type_checks.check_const(code.consts[args[0]])

    def f(fb):
        L = fb.L
        L[-1] = check(L[-1])
        return ops[k]

    return f


@builder(O.RANGE, O.RANGE_INCL)
def b_range(d, code, ops, pc, args, k):
    inclusive = code.code[pc] == O.RANGE_INCL
    alloc = d.vm.heap.alloc

    def f(fb):
        L = fb.L
        y = L.pop()
        L[-1] = alloc(arith.make_range(L[-1], y, inclusive))
        return ops[k]

    return f


@builder(O.TO_STR)
def b_to_str(d, code, ops, pc, args, k):
    vm = d.vm

    def f(fb):
        L = fb.L
        v = L[-1]
        if type(v) is str:
            return ops[k]
        return vm.to_str_op(fb, ops[k])

    return f


@builder(O.BUILD_STRING)
def b_build_string(d, code, ops, pc, args, k):
    n = args[0]

    def f(fb):
        L = fb.L
        s = "".join(L[-n:])
        del L[-n:]
        L.append(s)
        return ops[k]

    return f


@builder(O.BUILD_ARRAY)
def b_build_array(d, code, ops, pc, args, k):
    n = args[0]
    alloc = d.vm.heap.alloc

    def f(fb):
        L = fb.L
        if n:
            items = L[-n:]
            del L[-n:]
        else:
            items = []
        L.append(alloc(Array(items)))
        return ops[k]

    return f


@builder(O.BUILD_MAP)
def b_build_map(d, code, ops, pc, args, k):
    n = args[0]
    alloc = d.vm.heap.alloc

    def f(fb):
        L = fb.L
        items: dict = {}
        if n:
            flat = L[-2 * n :]
            del L[-2 * n :]
            for i in range(0, 2 * n, 2):
                items[check_key(flat[i])] = flat[i + 1]
        L.append(alloc(Map(items)))
        return ops[k]

    return f


@builder(O.BUILD_RECORD)
def b_build_record(d, code, ops, pc, args, k):
    names = code.consts[args[0]]
    n = args[1]
    alloc = d.vm.heap.alloc

    def f(fb):
        L = fb.L
        if n:
            values = L[-n:]
            del L[-n:]
        else:
            values = []
        L.append(alloc(Record(dict(zip(names, values)))))
        return ops[k]

    return f


@builder(O.GET_FIELD)
def b_get_field(d, code, ops, pc, args, k):
    name = code.names[args[0]]
    get_field = d.rules.get_field

    def f(fb):
        L = fb.L
        obj = L[-1]
        if type(obj) is Instance:
            v = obj.fields.get(name, UNINIT)
            if v is not UNINIT:
                L[-1] = v
                return ops[k]
        L[-1] = get_field(obj, name)
        return ops[k]

    return f


@builder(O.SET_FIELD)
def b_set_field(d, code, ops, pc, args, k):
    name = code.names[args[0]]
    set_field = d.rules.set_field  # (also adds the fields of open instances)

    def f(fb):
        L = fb.L
        v = L.pop()
        obj = L.pop()
        if type(obj) is Instance:
            fields = obj.fields
            if name in fields:
                checks = obj.cls.field_checks
                if checks is None:  # no typed field in the class
                    fields[name] = v
                    return ops[k]
                check = checks.get(name)
                fields[name] = v if check is None else check(v)
                return ops[k]
        set_field(obj, name, v)
        return ops[k]

    return f


@builder(O.SET_FIELD_PROVEN)
def b_set_field_proven(d, code, ops, pc, args, k):
    name = code.names[args[0]]
    set_field = d.rules.set_field_proven

    def f(fb):
        L = fb.L
        v = L.pop()
        obj = L.pop()
        if type(obj) is Instance:
            fields = obj.fields
            if name in fields:
                fields[name] = v
                return ops[k]
        set_field(obj, name, v)
        return ops[k]

    return f


@builder(O.GET_INDEX)
def b_get_index(d, code, ops, pc, args, k):
    get_index = d.vm.get_index

    def f(fb):
        L = fb.L
        i = L.pop()
        obj = L[-1]
        if type(obj) is Array and type(i) is int:
            items = obj.items
            if 0 <= i < len(items):
                L[-1] = items[i]
                return ops[k]
        L[-1] = get_index(obj, i)
        return ops[k]

    return f


@builder(O.SET_INDEX)
def b_set_index(d, code, ops, pc, args, k):
    set_index = d.vm.set_index

    def f(fb):
        L = fb.L
        v = L.pop()
        i = L.pop()
        obj = L.pop()
        if type(obj) is Array and type(i) is int:
            items = obj.items
            if 0 <= i < len(items):
                items[i] = v
                return ops[k]
        set_index(obj, i, v)
        return ops[k]

    return f


@builder(O.JUMP)
def b_jump(d, code, ops, pc, args, k):
    t = d._thread(code, args[0])

    def f(fb):
        return ops[t]

    return f


@builder(O.JUMP_IF_FALSE, O.JUMP_IF_TRUE)
def b_jump_if(d, code, ops, pc, args, k):
    t = d._thread(code, args[0])
    on_false = code.code[pc] == O.JUMP_IF_FALSE
    fall, jump = (k, t) if on_false else (t, k)

    def f(fb):
        v = fb.L.pop()
        if v is True:
            return ops[fall]
        if v is False:
            return ops[jump]
        raise RtError("TypeError", f"condition must be bool, got {typeof(v)}")

    return f


@builder(O.GET_ITER)
def b_get_iter(d, code, ops, pc, args, k):
    make_iter = d.vm.make_iter

    def f(fb):
        L = fb.L
        L[-1] = make_iter(L[-1])
        return ops[k]

    return f


@builder(O.FOR_ITER)
def b_for_iter(d, code, ops, pc, args, k):
    t = d._thread(code, args[0])
    vm = d.vm
    next_item = vm.next_item
    transfer = vm.iter_transfer
    done = UNINIT

    # Generators and channels: the next item arrives later, through these.
    def gen_cont(fb):
        L = fb.L
        rec = L.pop().fields
        if rec["done"]:
            L.pop()
            return ops[t]
        L.append(rec["value"])
        return ops[k]

    def chan_cont(fb):
        L = fb.L
        if L.pop():
            return ops[k]
        del L[-2:]  # nil and the iterator: the channel is closed and drained
        return ops[t]

    for cont in (gen_cont, chan_cont):
        vm.op_info[cont] = (code, pc + 2)  # as if FOR_ITER's next instruction

    def f(fb):
        L = fb.L
        it = L[-1]
        if it.kind == 0:  # array: the fast, common case
            items = it.source.items
            pos = it.pos
            if pos < len(items):
                it.pos = pos + 1
                L.append(items[pos])
                return ops[k]
            L.pop()
            return ops[t]
        if it.kind >= 4:
            return transfer(fb, it, gen_cont, chan_cont)
        v = next_item(it)
        if v is done:
            L.pop()
            return ops[t]
        L.append(v)
        return ops[k]

    return f


@builder(O.FOR_RANGE)
def b_for_range(d, code, ops, pc, args, k):
    i, inclusive, t = args
    t = d._thread(code, t)
    j = i + 1

    def f(fb):
        L = fb.L
        v = L[i]
        if v < L[j] or (inclusive and v == L[j]):
            L[i] = v + 1
            L.append(v)
            return ops[k]
        return ops[t]

    return f


# --------------------------------------------------------------------------- calls


def _proven_sig(d, code, args, i):
    """The signature a CALL_TYPED-like instruction proved its arguments
    against (operand i), or None for the plain instruction."""
    return d.vm.type_checks.sig(code.consts[args[i]]) if len(args) > i else None


@builder(O.CALL, O.CALL_TYPED)
def b_call(d, code, ops, pc, args, k):
    n = args[0]
    vm = d.vm
    call_slow = vm.call_slow
    limit = vm.max_depth
    m = -n - 1
    want = _proven_sig(d, code, args, 1)

    def f(fb):
        L = fb.L
        fn = L[m]
        if type(fn) is Function and fn.arity == n:
            frames = fb.frames
            if len(frames) >= limit:
                raise stack_overflow()
            new = L[m:]
            checks = fn.checks
            # Typed parameters (vm/typecheck.py), unless proven at this site.
            if checks is not None and checks.sig is not want:
                for i, check in checks.items:
                    new[i] = check(new[i])
            del L[m:]
            if fn.nlocals > n + 1:
                new += fn.code_pad
            frames.append((L, ops[k]))
            fb.L = new
            return fn.entry
        return call_slow(fb, fn, n, ops[k], want)

    if n == 1 and want is None:
        generic = f

        # One argument, the common case (Lox calls every function this way, as
        # it has no CALL_GLOBAL): build the frame list directly, as
        # CALL_GLOBAL does. Typed parameters go the generic way.
        def f(fb):
            L = fb.L
            fn = L[-2]
            if type(fn) is Function:
                if fn.arity == 1 and fn.checks is None:
                    frames = fb.frames
                    if len(frames) >= limit:
                        raise stack_overflow()
                    new = [fn, L.pop()]
                    L.pop()
                    if fn.nlocals > 2:
                        new += fn.code_pad
                    frames.append((L, ops[k]))
                    fb.L = new
                    return fn.entry
                return generic(fb)  # typed parameters, or an arity error
            return call_slow(fb, fn, 1, ops[k])  # natives, classes, bound methods...

    return f


@builder(O.CALL_GLOBAL)
def b_call_global(d, code, ops, pc, args, k):
    # No parameter type checks here: the compiler emits CALL_GLOBAL only for
    # hoisted top-level functions whose arguments it proved or checked itself.
    g, n = args
    G = d.G
    vm = d.vm
    call_slow = vm.call_slow
    limit = vm.max_depth

    def slow(fb, fn):
        L = fb.L
        L.insert(len(L) - n, fn)
        return call_slow(fb, fn, n, ops[k])

    # The common arities get their own closure: building the new frame list
    # directly is the bulk of a call's cost.
    if n == 1:

        def f(fb):
            fn = G[g]
            if type(fn) is Function and fn.arity == 1:
                frames = fb.frames
                if len(frames) >= limit:
                    raise stack_overflow()
                L = fb.L
                new = [fn, L.pop()]
                if fn.nlocals > 2:
                    new += fn.code_pad
                frames.append((L, ops[k]))
                fb.L = new
                return fn.entry
            return slow(fb, fn)

        return f

    def f(fb):
        fn = G[g]
        if type(fn) is Function and fn.arity == n:
            L = fb.L
            frames = fb.frames
            if len(frames) >= limit:
                raise stack_overflow()
            new = [fn]
            if n:
                new += L[-n:]
                del L[-n:]
            if fn.nlocals > n + 1:
                new += fn.code_pad
            frames.append((L, ops[k]))
            fb.L = new
            return fn.entry
        return slow(fb, fn)

    return f


@builder(O.CALL_METHOD, O.CALL_METHOD_TYPED)
def b_call_method(d, code, ops, pc, args, k):
    if d.rules.fields_shadow_methods:
        return _call_method_fields_first(d, code, ops, pc, args, k)
    name = code.names[args[0]]
    n = args[1]
    vm = d.vm
    method_slow = d.rules.call_method_slow
    limit = vm.max_depth
    m = -n - 1
    want = _proven_sig(d, code, args, 2)
    native_method = vm.native_method
    fallback = vm._method_fallback
    natives: dict = {}  # receiver type -> its plain native for this call, or None

    def f(fb):
        L = fb.L
        recv = L[m]
        t = type(recv)
        if t is not Instance:
            try:
                meth = natives[t]
            except KeyError:
                meth = natives[t] = native_method(t, name, n)
            if meth is not None:
                # As call_method_slow, without its lookups: arguments stay on
                # the stack until the call succeeds (NeedsGuest falls back).
                try:
                    result = meth(recv, L[-1]) if n == 1 else meth(recv, *L[len(L) - n :])
                except NeedsGuest:
                    return fallback(fb, typeof(recv), recv, name, n, ops[k])
                del L[m:]
                L.append(result)
                return ops[k]
        else:
            meth = recv.cls.methods.get(name)
            if type(meth) is Function and meth.arity == n + 1:
                frames = fb.frames
                if len(frames) >= limit:
                    raise stack_overflow()
                new = L[m:]
                new.insert(0, meth)
                checks = meth.checks
                if checks is not None and checks.sig is not want:  # as in CALL
                    for i, check in checks.items:
                        new[i] = check(new[i])
                del L[m:]
                if meth.nlocals > n + 2:
                    new += meth.code_pad
                frames.append((L, ops[k]))
                fb.L = new
                return meth.entry
        return method_slow(fb, recv, name, n, ops[k])

    if (name == "send" and n == 1) or (name == "recv" and n == 0):
        return _chan_call_site(d, name, f, ops, k)
    return f


def _call_method_fields_first(d, code, ops, pc, args, k):
    """CALL_METHOD where a field of the receiver shadows a method of its class
    (Lox): the fast path is for an instance without such a field whose class
    method is a guest function of the right arity; everything else (fields,
    natives, errors) goes to the rules' slow path."""
    name = code.names[args[0]]
    n = args[1]
    method_slow = d.rules.call_method_slow
    limit = d.vm.max_depth
    m = -n - 1

    def f(fb):
        L = fb.L
        recv = L[m]
        if type(recv) is Instance and name not in recv.fields:
            meth = recv.cls.methods.get(name)
            if type(meth) is Function and meth.arity == n + 1 and meth.checks is None:
                frames = fb.frames
                if len(frames) >= limit:
                    raise stack_overflow()
                new = L[m:]
                new.insert(0, meth)
                del L[m:]
                if meth.nlocals > n + 2:
                    new += meth.code_pad
                frames.append((L, ops[k]))
                fb.L = new
                return meth.entry
        return method_slow(fb, recv, name, n, ops[k])

    return f


def _chan_call_site(d, name, generic, ops, k):
    """A `x.send(v)` / `x.recv()` call site: channels go straight to the
    scheduler (the common case in concurrent code), anything else the usual way."""
    from .scheduler import Chan

    sched = d.vm.sched
    if name == "send":
        send = sched.send

        def f(fb):
            L = fb.L
            ch = L[-2]
            if type(ch) is Chan:
                v = L.pop()
                L.pop()
                return send(fb, ch, v, ops[k])
            return generic(fb)

        return f
    recv = sched.recv

    def f(fb):
        L = fb.L
        ch = L[-1]
        if type(ch) is Chan:
            L.pop()
            return recv(fb, ch, ops[k])
        return generic(fb)

    return f


@builder(O.SUPER_CALL)
def b_super_call(d, code, ops, pc, args, k):
    name = code.names[args[0]]
    n = args[1]
    vm = d.vm

    def f(fb):
        L = fb.L
        cls = L.pop()
        meth = vm.super_method(cls, name)
        # Stack: self args... -> call meth with self as its first argument.
        L.insert(len(L) - n - 1, meth)
        return vm.call_slow(fb, meth, n + 1, ops[k])

    return f


@builder(O.GET_SUPER)
def b_get_super(d, code, ops, pc, args, k):
    name = code.names[args[0]]
    vm = d.vm
    alloc = vm.heap.alloc

    def f(fb):
        L = fb.L
        cls = L.pop()
        meth = vm.super_method(cls, name)
        L[-1] = alloc(BoundMethod(L[-1], meth))
        return ops[k]

    return f


@builder(O.RETURN)
def b_return(d, code, ops, pc, args, k):
    def f(fb):
        v = fb.L[-1]
        L, ret = fb.frames.pop()
        L.append(v)
        fb.L = L
        return ret

    return f


@builder(O.THROW)
def b_throw(d, code, ops, pc, args, k):
    def f(fb):
        raise Throw(fb.L.pop())

    return f


@builder(O.SPAWN)
def b_spawn(d, code, ops, pc, args, k):
    n = args[0]
    m = -n - 1
    spawn = d.vm.sched.spawn
    from .concurrency import BlockingNative  # (concurrency imports the scheduler, which imports this module's users)

    callables = (Function, AsyncFunction, GeneratorFunction, BoundMethod, Class, Native, BlockingNative)

    def f(fb):
        L = fb.L
        fn = L[m]
        if type(fn) not in callables:
            raise RtError("TypeError", f"spawn needs a function call, got {typeof(fn)}")
        frame = L[m:]
        del L[m:]
        L.append(spawn(frame))
        return ops[k]

    return f


@builder(O.SPAWN_GLOBAL)
def b_spawn_global(d, code, ops, pc, args, k):
    g, n = args
    G = d.G
    spawn = d.vm.sched.spawn
    generic = b_spawn(d, code, ops, pc, (n,), k)

    def f(fb):
        fn = G[g]
        if type(fn) is not Function:  # not yet defined: as SPAWN, which reports it
            L = fb.L
            L.insert(len(L) - n, fn)
            return generic(fb)
        L = fb.L
        if n == 1:
            L[-1] = spawn([fn, L[-1]], True)
        else:
            frame = [fn, *L[len(L) - n :]]
            del L[len(L) - n :]
            L.append(spawn(frame, True))
        return ops[k]

    return f


@builder(O.AWAIT)
def b_await(d, code, ops, pc, args, k):
    await_task = d.vm.sched.await_task

    def f(fb):
        L = fb.L
        t = L[-1]
        # A task that already succeeded, awaited by a fiber not cancelled:
        # await_task's common case, inline.
        if type(t) is Fiber and t.state is DONE and not t.failed and not fb.cancelled:
            t.observed = True
            L[-1] = t.result
            return ops[k]
        return await_task(fb, L.pop(), ops[k])

    return f


@builder(O.YIELD)
def b_yield(d, code, ops, pc, args, k):
    def f(fb):
        return gen_yield(fb, fb.L.pop(), ops[k])

    return f


@builder(O.SELECT)
def b_select(d, code, ops, pc, args, k):
    n = args[0]
    cases = code.consts[args[1]]
    select = d.vm.sched.select

    def f(fb):
        L = fb.L
        values = L[len(L) - n :] if n else []
        del L[len(L) - n :]
        return select(fb, cases, values, ops[k])

    return f


@builder(O.MAKE_CLOSURE)
def b_make_closure(d, code, ops, pc, args, k):
    sub: Code = code.consts[args[0]]
    sub_ops = d.decode(sub)
    entry = sub_ops[0]
    module = d.module
    captures = sub.captures
    alloc = d.vm.heap.alloc
    checks = d.vm.type_checks.params(sub)  # built once per code object
    kind = AsyncFunction if sub.flags & FLAG_ASYNC else GeneratorFunction if sub.flags & FLAG_GENERATOR else Function

    def f(fb):
        L = fb.L
        if captures:
            ups = L[0].upvals
            upvals = tuple(L[i] if from_local else ups[i] for from_local, i in captures)
        else:
            upvals = ()
        L.append(alloc(kind(sub, upvals, module, entry, checks)))
        return ops[k]

    return f


@builder(O.MAKE_CLASS)
def b_make_class(d, code, ops, pc, args, k):
    info = code.consts[args[0]]
    n = args[1]
    make_class = d.vm.make_class

    def f(fb):
        L = fb.L
        methods = L[-n:] if n else []
        if n:
            del L[-n:]
        L[-1] = make_class(info, L[-1], methods)
        return ops[k]

    return f





# --------------------------------------------------------------------------- truthiness, print, globals


def _falsy(v: Any) -> bool:
    return v is None or v is False


@builder(O.JUMP_IF_FALSY, O.JUMP_IF_TRUTHY)
def b_jump_if_falsy(d, code, ops, pc, args, k):
    t = d._thread(code, args[0])
    # (falsy target, truthy target)
    falsy, truthy = (t, k) if code.code[pc] == O.JUMP_IF_FALSY else (k, t)

    def f(fb):
        v = fb.L.pop()
        if v is False or v is None:
            return ops[falsy]
        return ops[truthy]

    return f


BUILDERS[O.FALSY] = _unary(_falsy)


@builder(O.PRINT)
def b_print(d, code, ops, pc, args, k):
    vm = d.vm
    if args[0] == PRINT_CLOX:

        def f(fb):
            v = fb.L.pop()
            vm.stdout.write((v if type(v) is str else to_str_clox(v)) + "\n")
            return ops[k]

        return f
    alloc = vm.heap.alloc

    def f(fb):
        L = fb.L
        v = L[-1]
        try:
            text = v if type(v) is str else to_str(v)
        except NeedsGuest:
            # An instance with a str() method: the prelude's print does it.
            guest = vm.prelude_fn("print_guest")  # (may collect: v is still on the stack)
            L.pop()
            return vm.push_frame(fb, guest, [alloc(Array([v]))], vm._discard_cont(ops[k]))
        L.pop()
        vm.stdout.write(text + "\n")
        return ops[k]

    return f


@builder(O.ASSIGN_GLOBAL)
def b_assign_global(d, code, ops, pc, args, k):
    g = args[0]
    G = d.G
    name = d.global_name(g)

    def f(fb):
        if G[g] is UNINIT:
            raise undefined_global(name)
        G[g] = fb.L.pop()
        return ops[k]

    return f


_missing = [O.OPCODES[i].name for i, b in enumerate(BUILDERS) if b is None]
assert not _missing, f"opcodes without a pre-decode builder: {_missing}"
