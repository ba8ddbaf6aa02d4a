"""The exact class of `self` in each method of a native module, where every way in proves it.

A native method call checks its receiver before the call: an Instance or
the class's shape, of exactly the class whose method it calls
(fields.py `method_call`: three loads, two compares and a branch to a
call out). A method calling methods on its own `self` repeats that check
at every such call, though `self` cannot have changed class: an instance's
type and class are fixed for its life (heap/layout.py; only a PackedArray
ever changes type, and it is no instance), `self` is a parameter (one SSA
value, never reassigned), and the native calls into the method already
checked the class it is compiled for. Towers' recursion checks its `self`
at each of `move_disks`' calls and again inside the inlined `pop_disk_from`
and `push_disk`; Permute's `permute` at each `swap`; Queens' `place_queen`
at each `get_row_column` and `set_row_column`.

`exact_selves(group, receiver)` finds, for each method of a native module
(group), the class K such that `self.cls is K` on every way native code of
this module is entered:

- the root: only when it is compiled for a receiver class (engine.py
  `_prepare`): its entry op and every OSR op check `self.cls is receiver`
  before entering (engine.py `entry`, `_osr_op`). A root compiled for its
  declaring class is entered with any subclass's instances: no K.
- a callee: every native call of it in the module is a method call whose
  receiver was checked to be of exactly the same class c (fields.py
  `method_call`, `Typed.methods[i] = (c, meth)`); then K = c. A call of
  it with another class, a construction (`init`, `$fields`: construct.py),
  or a call of it as a global function leaves it without K.

The emitter then leaves out, where the receiver is the function's own
`self` parameter and the class is K:

- a method call's receiver check (fields.py `method_call`): the callee is
  the one the check would have let through;
- a field op's shape check (slots.py `slot_check`) when K is laid out: a
  class's instances all take the one layout decided for it
  (heap/layout.py `shape_of` caches it in `cls.layout`), so an exact K's
  type word is K's shape. LLVM inlines callees after the emitter shared
  such checks within each function, so Towers' `move_top_disk` made it
  three times a move (itself, the inlined `pop_disk_from` and `push_disk`).

Everything else about a call stays (object arguments' checks, the
budget's tick, the depth, exits and their frame states), so fuel, traces
and deoptimisation are unchanged. The result is per module: a function
compiled into two modules may have a K in one and none in the other
(engine.py's typed cache shares the typing, not this).

docs/native.md, "The class of self, known once (session 35)".
"""

from __future__ import annotations

from typing import Any

from ...bytecode.code import FLAG_METHOD
from ...ir.nodes import Instr

# A function entered some way that does not prove its self's class.
_UNKNOWN = object()


def exact_selves(group: list, receiver: Any = None) -> dict:
    """Code -> the class every `self` of that method is an exact instance
    of, on every native way into it (module docstring); methods without
    one are absent."""
    seen: dict = {}

    def saw(code: Any, cls: Any) -> None:
        got = seen.get(code, cls)
        seen[code] = cls if got is cls else _UNKNOWN

    root = group[0]
    saw(root.code, receiver if receiver is not None else _UNKNOWN)
    for ty in group:
        for i, plan in ty.methods.items():
            if plan is not None and i not in ty.effects:  # (a call out enters through the VM: not native)
                c, meth = plan
                saw(meth.code, c)
        for key, code in ty.callees.items():
            if not isinstance(key, Instr):  # (a global slot: call_global's callee, entered without a receiver check; a method call's key is its instruction)
                saw(code, _UNKNOWN)
        for plan in ty.ctors.values():  # (constructions: a new instance's init and `$fields`, construct.py)
            if plan is not None:
                init, fis = plan[1], plan[3]
                for f in [*fis, *([init] if init is not None else [])]:
                    saw(f.code, _UNKNOWN)
    return {code: cls for code, cls in seen.items() if cls is not _UNKNOWN and code.flags & FLAG_METHOD}


def is_exact_self(em: Any, recv: Any, cls: Any) -> bool:
    """Whether value `recv` of the function being emitted is its `self`
    parameter and every way into the function proved `self.cls is cls`
    (emit_module sets `em.exact_self` from `exact_selves`)."""
    fn = em.ty.fn
    return bool(cls is not None and em.exact_self is cls and em.ty.code.flags & FLAG_METHOD and len(fn.params) > 1 and recv is fn.params[1])
