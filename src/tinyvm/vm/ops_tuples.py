"""Builders of the tuple instructions (issue 18, helper tltuple): BUILD_TUPLE,
UNPACK_CHECK and PAIRS (bytecode/opcodes.py; the table is vm/ops.py). The
rules they apply live in runtime/tuples.py; reading an element (`t.0`, `t[i]`)
goes through GET_FIELD and GET_INDEX (vm/object_ops.py).

The JIT compiles them (ir/build.py `tuple`, `unpack_check`, `pairs`; helper
tljit): compiled code runs these closures, except the checks it can do inline
(jit/codegen.py `_fast_paths_v11`).
"""

from __future__ import annotations

from ..bytecode import opcodes as O
from ..heap.objects import Tuple
from ..heap.packed import PackedArray
from ..runtime import tuples
from .ops import builder


@builder(O.BUILD_TUPLE)
def b_build_tuple(d, code, ops, pc, args, k):
    n = args[0]
    alloc = d.vm.heap.alloc

    def f(fb):
        L = fb.L
        if n:
            items = tuple(L[-n:])
            del L[-n:]
        else:
            items = ()
        L.append(alloc(Tuple(items)))
        return ops[k]

    return f


@builder(O.UNPACK_CHECK)
def b_unpack_check(d, code, ops, pc, args, k):
    n, kind = args[0], args[1]
    check = tuples.unpack_check

    def f(fb):
        v = fb.L[-1]
        t = type(v)
        if t is Tuple and kind == tuples.UNPACK_TUPLE and len(v.items) == n:
            return ops[k]
        if t is PackedArray and kind != tuples.UNPACK_TUPLE and v.length() == n:
            return ops[k]  # (heap/packed.py: its length without unpacking it)
        check(v, n, kind)
        return ops[k]

    return f


@builder(O.PAIRS)
def b_pairs(d, code, ops, pc, args, k):
    alloc = d.vm.heap.alloc
    pairs = tuples.pairs

    def f(fb):
        L = fb.L
        L[-1] = pairs(L[-1], alloc)
        return ops[k]

    return f
