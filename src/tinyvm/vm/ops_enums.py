"""Builder of SET_STATIC (issue 18, helper tlenum: static members and enums,
TinyLang 1.1; bytecode/opcodes.py, the table is vm/ops.py). Reading a static
member goes through GET_FIELD and CALL_METHOD on the class (vm/object_ops.py,
vm/calls.py); the rules live in runtime/enums.py.

The JIT compiles SET_STATIC (ir/build.py `set_static`, helper tljit): compiled
code runs this closure. Only declarations use it.
"""

from __future__ import annotations

from ..bytecode import opcodes as O
from ..runtime.enums import set_static
from .ops import builder


@builder(O.SET_STATIC)
def b_set_static(d, code, ops, pc, args, k):
    name = code.names[args[0]]
    heap = d.vm.heap

    def f(fb):
        L = fb.L
        v = L.pop()
        cls = L.pop()
        set_static(cls, name, v, heap)
        return ops[k]

    return f
