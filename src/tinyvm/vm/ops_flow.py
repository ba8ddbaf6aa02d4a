"""Builders of the control-flow instructions: jumps (threaded at decode time),
loops and iteration (FOR_RANGE, GET_ITER, FOR_ITER over arrays, ranges,
strings, maps, generators and channels), truthiness (Lox's conditions) and the
PRINT statement (the table is vm/ops.py).
"""

from __future__ import annotations

from typing import Any

from ..bytecode import opcodes as O
from ..bytecode.opcodes import PRINT_CLOX
from ..heap.objects import (
    UNINIT,
    Array,
)
from ..heap.packed import PackedArray
from ..runtime.errors import STREAM_ERRORS, HostIOError, RtError
from ..runtime.values import NeedsGuest, to_str, to_str_clox, typeof
from .blocks import bind_fuel
from .ops import BUILDERS, builder, unary


@builder(O.JUMP)
def b_jump(d, code, ops, pc, args, k):
    t = d.thread(code, args[0])
    if not d.vm.limits.metered:
        return lambda fb: ops[t]
    fuel = 0  # (the VM's meter: bind_fuel)

    def f(fb):
        nonlocal fuel
        fuel -= 1  # jumps are free (docs/limits.md): this dispatch is no instruction
        return ops[t]

    return bind_fuel(f, d.vm.limits.meter)


@builder(O.JUMP_IF_FALSE, O.JUMP_IF_TRUE)
def b_jump_if(d, code, ops, pc, args, k):
    t = d.thread(code, args[0])
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
    t = d.thread(code, args[0])
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
        if it.kind == -2 and type(it.source) is PackedArray:  # (ITER_PACKED: vm/object_ops.py; in place, it stays packed)
            buf = it.source.packed
            pos = it.pos
            if pos < len(buf):
                it.pos = pos + 1
                L.append(buf[pos] if buf.typecode != "b" else buf[pos] == 1)
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
    t = d.thread(code, t)
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


# --------------------------------------------------------------------------- truthiness, print


def _falsy(v: Any) -> bool:
    return v is None or v is False


@builder(O.JUMP_IF_FALSY, O.JUMP_IF_TRUTHY)
def b_jump_if_falsy(d, code, ops, pc, args, k):
    t = d.thread(code, args[0])
    # (falsy target, truthy target)
    falsy, truthy = (t, k) if code.code[pc] == O.JUMP_IF_FALSY else (k, t)

    def f(fb):
        v = fb.L.pop()
        if v is False or v is None:
            return ops[falsy]
        return ops[truthy]

    return f


BUILDERS[O.FALSY] = unary(_falsy)


@builder(O.PRINT)
def b_print(d, code, ops, pc, args, k):
    vm = d.vm
    if args[0] == PRINT_CLOX:

        def f(fb):
            v = fb.L.pop()
            text = (v if type(v) is str else to_str_clox(v)) + "\n"
            try:  # (free when nothing is raised)
                vm.stdout.write(text)
            except STREAM_ERRORS as e:
                raise HostIOError("stdout", "write to", e) from e
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
        try:  # a failing stdout is the host's, not the program's: see HostIOError
            vm.stdout.write(text + "\n")
        except STREAM_ERRORS as e:
            raise HostIOError("stdout", "write to", e) from e
        return ops[k]

    return f
