"""Pre-decoding: verified bytecode -> threaded closures, the form the VM runs.

Each instruction at offset `pc` becomes a Python closure `op(fiber) -> next_op`
with its operands already decoded into closure variables (constant values,
slot numbers, resolved globals list, the built-in object...). The dispatch loop
is then just `op = op(fiber)` (see machine.py): no opcode switch, no operand
fetch. Jumps are threaded: an instruction followed by an unconditional JUMP
continues straight at the jump's target (except a call-like one, whose
successor is a return address: `_RETURNS`).

The closure of each instruction is made by its builder, one per opcode
(the table in ops.py, filled in by the instruction families ops_values.py,
ops_flow.py and ops_calls.py). Superinstructions: straight-line expression
code is compiled into one closure per block by blocks.py; a few other pairs are fused here (`_fuse`). The
instructions inside a fused run keep their own closures too, so jumps into the
middle of it still work, and fusion never crosses an exception-range boundary,
so a fused closure is covered by exactly the handlers of its first instruction.

A dispatch is one unit of the preemption budget: counts are deterministic
because fusion is. Fuel counts instructions, not dispatches: the weight of
each fused op (`Machine.op_weight`) is what it stands for, and its closure
adds the instructions beyond the first to the VM's fuel meter
(vm/limits.py); a JUMP's closure, dispatched when it is not threaded away,
takes one back (jumps are free). `plain` decoding (no fusion, no threading)
gives the same program the same fuel.

Nested functions: MAKE_CLOSURE's builder needs its function's closures, so a
code object's nested code objects are decoded first, innermost first, found
with an explicit stack (`decode`): however deeply functions nest, decoding
takes no Python recursion per level.

Languages: a module's language selects the run-time rules (runtime/dialects.py)
its instructions are built with -- operator slow paths and fast paths,
property access, messages. The rules are closure variables like any operand.
"""

from __future__ import annotations

from typing import Any, Callable

from ..bytecode import opcodes as O
from ..bytecode.code import Code
from ..heap.objects import ModuleObject
from ..runtime.dialects import DEFAULT_DIALECT
from .blocks import BLOCK_PC, bind_fuel, compile_block


class Decoder:
    """Pre-decodes the code objects of one module for one VM."""

    def __init__(self, vm: Any, module: ModuleObject, plain: bool = False) -> None:
        """`plain`: decode without fusion or threading, into `vm.plain_decoded`
        (the copy the loop falls back to when an op stands for more
        instructions than there is fuel left); a machine made with
        `fuse=False` decodes everything so."""
        self.vm = vm
        self.module = module
        self.plain = plain or not vm.fuse
        self.store: dict = vm.plain_decoded if plain else vm.decoded
        self.G = module.globals
        self.rules = vm.rules_for(module.code.lang if module.code is not None else DEFAULT_DIALECT)
        # The frame limit call sites check: the host's, else that of this code's language.
        self.max_depth = vm.max_depth if vm.depth_fixed else self.rules.max_depth
        # The prelude's code may load the runtime library's private built-ins.
        self.privileged = module is vm.prelude

    def decode(self, code: Code) -> list:
        """The closures of `code` (index: offset), decoded once per VM."""
        decoded = self.store
        cached = decoded.get(code)
        if cached is not None:
            return cached
        # Every nested code object not decoded yet, innermost first: when a
        # MAKE_CLOSURE is built, its function is decoded already (a cache hit).
        order: list[Code] = []
        seen = {code}  # (a code object shared by several constants is visited once)
        stack = [(code, False)]
        while stack:
            c, expanded = stack.pop()
            if expanded:
                order.append(c)
                continue
            stack.append((c, True))
            for k in c.consts:
                if type(k) is Code and k not in seen and k not in decoded:
                    seen.add(k)
                    stack.append((k, False))
        for c in order:
            self._decode_one(c)
        return decoded[code]

    def _decode_one(self, code: Code) -> list:
        vm = self.vm
        ops: list = [None] * (len(code.code) + 1)
        self.store[code] = ops
        vm.decoders[code] = self
        vm.code_rules[code] = self.rules
        if self.privileged:  # the runtime library's code: left out of traces
            self.vm.library_code.add(code)
        instrs = list(_iter_instructions(code.code))
        starts = {pc for pc, _, _ in instrs}
        nxt_of = {}
        for i, (pc, opc, args) in enumerate(instrs):
            nxt_of[pc] = instrs[i + 1][0] if i + 1 < len(instrs) else len(code.code)
        boundaries = _handler_boundaries(code)
        info = self.vm.op_info
        # Fuel (vm/limits.py): the instructions an op stands for, where not 1.
        weight = vm.op_weight
        for i, (pc, opc, args) in enumerate(instrs):
            block = None if self.plain else compile_block(self, code, ops, instrs, i, boundaries, nxt_of)
            if block is not None:
                fn, weight[fn], positions = block
                ops[pc] = fn
                info[fn] = (code, BLOCK_PC)
                vm.block_start[fn] = pc
                vm.block_positions[fn] = positions
                continue
            window = instrs[i : i + 4]
            fused = None if self.plain else self._fuse(code, ops, window, boundaries, nxt_of)
            if fused is None:
                k = nxt_of[pc] if opc in _RETURNS else self.thread(code, nxt_of[pc])
                fn = BUILDERS[opc](self, code, ops, pc, args, k)
                info[fn] = (code, pc)
                if opc == O.JUMP:
                    weight[fn] = 0
            else:
                # Errors of a fused op are reported at the instruction that can
                # raise (the operator), so traces point at the operator's column.
                fn, raising_pc = fused
                info[fn] = (code, raising_pc)
                weight[fn] = 2
            ops[pc] = fn
        del starts
        if vm.jit is not None and self.store is vm.decoded:
            # The JIT tier (jit/, installed from outside: vm imports no jit)
            # wraps the entry and the loop headers in its counters.
            vm.jit.decoded(code, ops)
        return ops

    def global_name(self, g: int) -> str:
        """The name of this module's global slot g (for error messages)."""
        code = self.module.code
        return code.globals[g] if code is not None else str(g)

    def thread(self, code: Code, pc: int) -> int:
        """Follow unconditional jumps so an instruction continues at the final
        target (the builders call it for their successor and jump targets)."""
        if self.plain:
            return pc
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
        # (Without fuel the pairs count into a cell of their own nobody reads.)
        lim = self.vm.limits
        if o0 == O.LOAD_LOCAL and o1 == O.RETURN:
            fn = _ret_local(a0[0])
        elif o0 == O.FOR_RANGE and o1 == O.STORE_LOCAL:
            k = self.thread(code, nxt_of[p1])
            t = self.thread(code, a0[2])
            fn = _for_range_store(ops, k, t, a0[0], a0[1], a1[0])
        else:
            return None
        return (bind_fuel(fn, lim.meter) if lim.metered else fn), p0


# Instructions whose closure hands its successor op to code that runs later,
# as a return address: a callee's frame, a parked fiber, a suspended
# generator. The machine finds the instruction a frame will continue after
# from that op (Machine.call_site: the op's offset minus one), for traces and
# for the exception table, so it must be the instruction's own successor: not
# threaded past a JUMP, whose target's offset says nothing of the call.
# (Compiled code never follows one of these by a JUMP: no cost there.)
_RETURNS = frozenset({
    O.CALL, O.CALL_GLOBAL, O.CALL_TYPED, O.CALL_METHOD, O.CALL_METHOD_TYPED, O.SUPER_CALL,
    O.AWAIT, O.YIELD, O.SELECT, O.IMPORT, O.TO_STR,
})  # fmt: skip


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


# A fused pair counts its second instruction in the meter (vm/limits.py):
# the loop step's exit runs its FOR_RANGE only.


def _ret_local(i: int) -> Callable:
    fuel = 0  # (the VM's meter: bind_fuel)

    def f(fb):
        nonlocal fuel
        fuel += 1
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
    fuel = 0  # (the VM's meter: bind_fuel)
    if inclusive:

        def f(fb):
            nonlocal fuel
            L = fb.L
            v = L[i]
            if v <= L[j]:
                fuel += 1
                L[i] = v + 1
                L[d] = v
                return ops[k]
            return ops[t]

    else:

        def f(fb):
            nonlocal fuel
            L = fb.L
            v = L[i]
            if v < L[j]:
                fuel += 1
                L[i] = v + 1
                L[d] = v
                return ops[k]
            return ops[t]

    return f


# --------------------------------------------------------------------------- the builders

# Every instruction family registers its builders in vm/ops.py's table.
from . import ops_calls, ops_enums, ops_flow, ops_tlexpr, ops_values  # noqa: E402,F401  (ops_tlexpr: POW, FORMAT)
from .ops import BUILDERS  # noqa: E402

_missing = [O.OPCODES[i].name for i, b in enumerate(BUILDERS) if b is None]
assert not _missing, f"opcodes without a pre-decode builder: {_missing}"
