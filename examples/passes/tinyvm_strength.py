"""strength-reduce: `mul.checked x, 2**k` on ints becomes `shl.checked x, k`.

An example of a third-party TinyVM pass, installed through the entry-point
group `tinyvm.passes` (see pyproject.toml here and docs/optimizer.md). It is
not in the default pipeline: ask for it with `--passes default,+strength-reduce`.

Why it is exact: for int64 x and 1 <= k <= 62, `x * 2**k` and `x << k` are
the same integer, and both raise the same OverflowError("integer overflow")
exactly when it leaves int64 (runtime/arith.py `mul` and `shl` both check
the result); k is in shl's 0..63 range, so shl's own error cannot happen.
Only where both operands are statically `int` -- and only for TinyLang code:
a Lox `*` computes in doubles, so the pass does nothing unless
`ctx.options["lang"]` says `tinylang`.

The frame state is left as it was: it describes the bytecode MUL (the
interpreter resumes there with x and 2**k on its stack), not the shift.
"""

from __future__ import annotations

from tinyvm.bytecode.types import INT
from tinyvm.ir.nodes import Function, Instr
from tinyvm.ir.passes import Pass, PassContext


def _power_of_two(v: Instr) -> int | None:
    """k if v is the constant 2**k with 1 <= k <= 62, else None."""
    if v.op != "const" or type(v.attrs[0]) is not int:
        return None
    n = v.attrs[0]
    k = n.bit_length() - 1
    return k if n > 1 and n == 1 << k and k <= 62 else None


def run(fn: Function, ctx: PassContext) -> bool:
    if ctx.options.get("lang") != "tinylang":
        return False
    changed = False
    for b in fn.blocks:
        for i, ins in enumerate(list(b.instrs)):
            if ins.op != "mul" or ins.type != INT or any(a.type != INT for a in ins.args):
                continue
            x, c = ins.args
            k = _power_of_two(c)
            if k is None:
                x, c = c, x
                k = _power_of_two(c)
            if k is None:
                continue
            shift = Instr(fn.new_id(), "const", attrs=(k,), type=INT, block=b)
            b.instrs.insert(b.instrs.index(ins), shift)
            ins.op, ins.args = "shl", [x, shift]
            changed = True
    return changed


PASS = Pass("strength-reduce", run, "int multiplication by a power of two becomes a left shift (TinyLang only)", order=85, default=False, module=__name__)
