"""Parameters with defaults in native code: every argument passed (docs/native.md, "Objects native code makes").

`fn f(a: int, b: int = 1)` and `fn init(x: float, y: float = 0.0)`: the
bytecode's prologue tests `JUMP_IF_PASSED slot` and runs the default's
code when the call left the parameter out (the VM padded the arguments
with the MISSING marker, vm/calls.py). In the IR the parameter is `any`
on entry (it may be the marker) and `passed[slot]` branches around the
default (ir/build.py `default_joins`), so the function was not native
("parameter of type any") and every construction of such a class was a
call out.

**Decision: the native function assumes every argument passed.** A call
whose callee the checker knows -- a function by name, a class's init, a
method of a known class -- already passes every argument when the left-out
parameters' defaults are constants (the call site pushes a copy of the
constant: tinylang/arguments.py), so those calls are the native ones. Here
(before the pipeline) each defaulted parameter whose declared type native
code passes as a checked machine value (int, float, bool, an array of
them) is typed with its declared type and its `passed` test becomes the
constant true: sccp and simplify-cfg drop the default's code, the join
becomes the parameter. The metered VM's fuel is unchanged: the prologue's
block keeps its `fuel[n]` (JUMP_IF_PASSED is counted, as the interpreter
counts it when the argument was passed) and the default's block, which
the interpreter does not run then, goes.

A call that does leave a parameter out never reaches this code:

- from the interpreter (a function value, `any`, a default that is not a
  constant: LOAD_MISSING), the entry op's argument check (engine.py
  `entry`: an int parameter must hold an int) refuses the marker and the
  interpreter runs the call, its default evaluated by the bytecode --
  expressions, earlier parameters, side effects, errors and fuel exactly
  its own;
- from native code: a caller that passes the marker (`missing`, LOAD_MISSING)
  is not native (select.py: "a call leaves out a parameter whose default is
  not a constant"); the interpreter or the Python JIT runs it.

Other defaulted parameters (objects, strings, `any`, nilable types) stay
`any` and the function is not native, as before ("parameter of type any");
native code has no check at its entry that would refuse the marker for
them.
"""

from __future__ import annotations

from typing import Any

from ...bytecode.types import BOOL
from ...ir.build import _slot_type, _text_type
from ...ir.nodes import Function

# Machine types whose entry check refuses the MISSING marker (engine.py
# `entry`: int, float, bool, arrays by their Python type).
_CHECKED = ("i", "f", "b")


def assume_passed(fn: Function, code: Any) -> int:
    """Type fn's defaulted parameters (of a checked machine type) with their
    declared types and fold their `passed` tests to true; how many."""
    from .select import ARRAYS, param_type

    n = 0
    params = fn.params
    for b in fn.blocks:
        for i in b.instrs:
            if i.op != "passed" or not i.args or i.args[0] not in params:
                continue
            p = i.args[0]
            declared = _text_type(_slot_type(code, params.index(p)))
            m = param_type(declared)
            if m not in _CHECKED and m not in ARRAYS:
                continue
            p.type = declared
            i.op, i.args, i.attrs, i.type, i.state = "const", [], (True,), BOOL, None
            n += 1
    return n
