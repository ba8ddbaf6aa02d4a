"""A scalar element read again in its block is the first read's value (native code only).

`s += a[i] * 2; f += b[i] * a[i]` reads `a[i]` twice. TinyVM's gvn never
merges memory reads (a store may come between), and LLVM cannot merge the
two native reads either: each is an inline probe of the list with its own
type checks, slow-path call (`PyLong_AsLongLongAndOverflow` for an int of
three digits) and failure exit, which LLVM must keep apart. Each read is
~5 blocks and a call for the code generator ("Compile time" in
docs/native.md, round 9: the two-array loop's `asum`), and a second
probe at run time.

`merge` (engine.py's `typed_ir`, after select.py typed the function, which
is then typed again) replaces a `get_index` by an earlier one of the same
block with the same operands when nothing between them can change an
element: every instruction between is a read of a scalar array, arithmetic
or a comparison of scalars (machine types "i", "f", "b": native code runs
no user code for them) or deterministic (`facts.is_deterministic`) -- no
store, push, pop, insert, call or field store. Then the second read would find the same object in the same
slot and give the same value or fail the same way; when the first did not
fail, neither does it. Only reads of an array of machine type "ai", "af"
or "ab" (a scalar element: no reference native code holds) that raise
into no handler take part. The frame states naming the second read name the first (the
same value). Fuel is counted by its own ops (jit/fuel.py), which stay: a
metered function's reads are merged only where no fuel op comes between
(those are not deterministic), so counts stay exact either way.
"""

from __future__ import annotations

from ...ir.nodes import Function, Instr, replace_uses
from ...ir.passes.facts import is_deterministic, remove_instr

_SCALARS = frozenset(("i", "f", "b"))  # (machine types: select.py)
_ARRAYS = frozenset(("ai", "af", "ab"))
# Ops that compute from their operands alone when these are scalars
# (facts.py's deterministic ops, whose IR types are often `any` before
# select.py types them; with scalar operands native code runs no user code)
_ON_SCALARS = frozenset(("add", "sub", "mul", "div", "mod", "band", "bor", "bxor", "shl", "shr", "neg", "bnot", "not", "lt", "le", "gt", "ge", "eq", "ne", "pow"))


def _harmless(x: Instr, types: dict) -> bool:
    """Whether x, between two reads, cannot change an element."""
    if x.op == "get_index":
        return types.get(x.args[0]) in _ARRAYS if x.args else False
    if x.op in _ON_SCALARS and all(types.get(a) in _SCALARS for a in x.args):
        return True
    return is_deterministic(x)


def merge(fn: Function, types: dict) -> int:
    """Merge fn's repeated scalar element reads (module docstring), `types`
    select.py's machine types of fn; how many went."""
    repl: dict[Instr, Instr] = {}
    for b in fn.blocks:
        seen: dict[tuple[int, ...], Instr] = {}
        for ins in b.instrs:
            if ins.op == "get_index" and ins.catch is None and len(ins.args) == 2 and types.get(ins.args[0]) in _ARRAYS and types.get(ins) in _SCALARS:
                key = tuple(a.id for a in ins.args)
                first = seen.get(key)
                if first is not None:
                    repl[ins] = first
                else:
                    seen[key] = ins
            elif not _harmless(ins, types):
                seen.clear()  # (a store, a call, a fuel op...: what follows reads anew)
    if repl:
        replace_uses(fn, repl)
        for ins in repl:
            remove_instr(ins)
    return len(repl)
