"""Integer range analysis: clear the int64 overflow check of arithmetic that cannot overflow.

Every value of type `int` gets an interval [lo, hi] of the values it can hold,
computed over the SSA graph by abstract interpretation:

* constants are exact, parameters and every other int (a call's checked
  result, a `check_type[int]`) are the whole int64 range;
* `add sub mul neg shl` follow interval arithmetic on exact (unbounded)
  Python ints; a *checked* result is then clamped to int64 (had it overflowed,
  the instruction would have raised instead of producing it), a wrapping one
  (the counted loop's step) whose exact interval leaves int64 is the whole
  range; `band`, `shr`, `mod` and `div` by positive ranges have simple sound
  bounds; everything else is the whole range;
* a phi is the union of its operands, each taken at the end of its
  predecessor. Loop-carried phis are *widened*: a phi whose interval grows a
  second time jumps to the int64 bound it was growing towards, so the
  iteration ends (each bound can widen once); then two rounds without
  widening narrow the result back (any iterate from a post-fixpoint stays a
  sound over-approximation).

Ranges are refined per block by the branch conditions that dominate it: in a
block reached only through the true edge of `branch (lt i, n)` (the block's
single predecessor is the branch), `i <= hi(n) - 1` and `n >= lo(i) + 1`; the
false edge gives `i >= lo(n)`; likewise `le gt ge eq ne` and `not`. A value
computed from refined operands (the counted loop's `add i, 1`, computed in the
loop header but used in the body) is re-evaluated at its use from its
operands' refined ranges: SSA values never change, so the operands' facts at
that block hold for it too. Nothing is inserted into the IR.

Only comparisons whose operands are both typed `int` refine (an `any` operand
might be a float or a string), and only arithmetic typed `int` over operands
typed `int` loses its check; the instruction keeps its frame state (the
verifier requires one on every arithmetic op, and a later guard may need it).
`checked` cleared means: the operation provably stays within
[-2^63, 2^63-1], so the JIT and the lowering may skip the overflow test.
"""

from __future__ import annotations

from ...bytecode.types import INT
from ..nodes import Block, Function, Instr
from ..verify import dominators, reverse_postorder
from . import PassContext, register

__all__ = ["MAX", "MIN", "analyse", "run"]

MIN, MAX = -(2**63), 2**63 - 1
FULL = (MIN, MAX)
Range = tuple[int, int]

# Ops whose result range follows from their operands' (the rest are FULL).
_ARITH = frozenset({"add", "sub", "mul", "neg", "shl", "shr", "band", "mod", "div"})
# Ops whose overflow check the pass may clear.
_CHECKED = frozenset({"add", "sub", "mul", "neg", "shl"})
# Comparisons that refine, and the one that holds when their operands swap.
_SWAP = {"lt": "gt", "gt": "lt", "le": "ge", "ge": "le", "eq": "eq", "ne": "ne"}
# The comparison that holds on the false edge.
_NEGATE = {"lt": "ge", "ge": "lt", "gt": "le", "le": "gt", "eq": "ne", "ne": "eq"}


def _exact(op: str, rs: list[Range]) -> Range | None:
    """The exact interval of op over operand intervals (None: no simple bound)."""
    a = rs[0]
    if op == "neg":
        return (-a[1], -a[0])
    b = rs[1]
    if op == "add":
        return (a[0] + b[0], a[1] + b[1])
    if op == "sub":
        return (a[0] - b[1], a[1] - b[0])
    if op == "mul":
        c = [x * y for x in a for y in b]
        return (min(c), max(c))
    if op in ("shl", "shr"):
        if b[0] < 0 or b[1] > 63:
            return None  # a negative or huge shift raises or saturates: no bound
        if op == "shl":
            c = [x << y for x in a for y in b]
        else:
            c = [x >> y for x in a for y in b]
        return (min(c), max(c))
    if op == "band":
        # x & y is within [0, y] when y >= 0 (either side), whatever x is.
        bounds = [r[1] for r in (a, b) if r[0] >= 0]
        return (0, min(bounds)) if bounds else None
    if op == "mod" and b[0] >= 1:
        # |x mod y| < y under both floored and truncated semantics.
        return (0, b[1] - 1) if a[0] >= 0 else (-(b[1] - 1), b[1] - 1)
    if op == "div" and b[0] >= 1:
        # |x div y| <= |x| for y >= 1, rounding either way.
        return (min(a[0], 0), max(a[1], 0))
    return None


def _clamp(r: Range) -> Range:
    return (max(r[0], MIN), min(r[1], MAX))


def _fits(r: Range) -> bool:
    return MIN <= r[0] and r[1] <= MAX


def _is_int(v: Instr) -> bool:
    return v.type == INT


class Ranges:
    """The analysis result: `at(v, block)` is v's interval in that block (None:
    unknown, v is not an int or is not reached)."""

    def __init__(self, fn: Function) -> None:
        self.fn = fn
        self.rpo = reverse_postorder(fn)
        self.idom = dominators(fn)
        self.r: dict[Instr, Range] = {}
        self.facts = self._facts()

    # -- branch facts -------------------------------------------------------------

    def _facts(self) -> dict[Block, list[tuple[str, Instr, Instr]]]:
        """Per block: (op, a, b) comparisons known to hold there, `a op b`, from
        the branch edges that dominate it (innermost first)."""
        own: dict[Block, list[tuple[str, Instr, Instr]]] = {}
        for b in self.rpo:
            t = b.terminator
            if t is None or t.op != "branch" or t.targets[0] is t.targets[1]:
                continue
            for target, sense in zip(t.targets, (True, False)):
                if target.preds == [b] and not target.catch_preds:
                    cond = _comparison(t.args[0], sense)
                    if cond is not None:
                        own.setdefault(target, []).append(cond)
        out: dict[Block, list] = {}
        for b in self.rpo:
            up = self.idom.get(b)
            inherited = out.get(up, []) if up is not None and up is not b else []
            out[b] = own.get(b, []) + inherited
        return out

    # -- evaluation -----------------------------------------------------------------

    def at(self, v: Instr, block: Block, depth: int = 2) -> Range | None:
        """v's interval in `block`: its global one, re-evaluated from its operands
        there (depth levels deep), narrowed by the facts that hold there."""
        if not _is_int(v):
            return None
        r = self.r.get(v)
        if r is None:
            return None
        if depth and v.op in _ARITH and v.args and all(_is_int(a) for a in v.args):
            rs = [self.at(a, block, depth - 1) for a in v.args]
            if all(x is not None for x in rs):
                e = _exact(v.op, rs)
                if e is not None:
                    e = _clamp(e) if v.checked or _fits(e) else FULL
                    r = (max(r[0], e[0]), min(r[1], e[1]))
        for op, a, b in self.facts.get(block, ()):
            if a is v or b is v:
                other = b if a is v else a
                rel = op if a is v else _SWAP[op]
                o = self.r.get(other)
                if o is None:
                    continue
                r = _narrow(r, rel, o)
        if r[0] > r[1]:
            return None  # contradictory facts: the block is not reached with v
        return r

    def evaluate(self, v: Instr) -> Range | None:
        """v's global interval from its operands' current intervals."""
        if v.op == "const":
            k = v.attrs[0] if v.attrs else None
            return (k, k) if type(k) is int and MIN <= k <= MAX else FULL
        if v.op == "phi":
            out: Range | None = None
            for (pred, _), a in zip(v.block.phi_preds(), v.args):
                if pred not in self.idom:
                    continue
                if not _is_int(a):
                    return FULL
                r = self.at(a, pred)
                if r is not None:  # (None: not computed yet, a back edge, or not reached)
                    out = r if out is None else (min(out[0], r[0]), max(out[1], r[1]))
            return out
        if v.op in _ARITH and v.args and all(_is_int(a) for a in v.args):
            rs = [self.at(a, v.block, 1) for a in v.args]
            if any(r is None for r in rs):
                return None  # an operand not reached yet
            e = _exact(v.op, rs)
            if e is None:
                return FULL
            return _clamp(e) if v.checked or _fits(e) else FULL
        return FULL

    def solve(self) -> None:
        values = [i for b in self.rpo for i in b.phis + b.instrs if _is_int(i)]
        values = [p for p in self.fn.params if _is_int(p)] + values
        grown: dict[Instr, int] = {}
        for _ in range(200):  # widening bounds it far below this; a safety net
            changed = False
            for v in values:
                new = self.evaluate(v)
                old = self.r.get(v)
                if new is None or new == old:
                    continue
                if old is not None and v.op == "phi":
                    new = (min(new[0], old[0]), max(new[1], old[1]))
                    if new == old:
                        continue
                    grown[v] = grown.get(v, 0) + 1
                    if grown[v] >= 2:
                        new = (MIN if new[0] < old[0] else new[0], MAX if new[1] > old[1] else new[1])
                self.r[v] = new
                changed = True
            if not changed:
                break
        else:  # pragma: no cover - the widening makes this unreachable
            self.r = {v: FULL for v in values}
            return
        for _ in range(2):  # narrowing
            for v in values:
                new = self.evaluate(v)
                if new is not None:
                    self.r[v] = new


def _narrow(r: Range, rel: str, o: Range) -> Range:
    """r narrowed by `r rel o`."""
    lo, hi = r
    if rel == "lt":
        hi = min(hi, o[1] - 1)
    elif rel == "le":
        hi = min(hi, o[1])
    elif rel == "gt":
        lo = max(lo, o[0] + 1)
    elif rel == "ge":
        lo = max(lo, o[0])
    elif rel == "eq":
        lo, hi = max(lo, o[0]), min(hi, o[1])
    return (lo, hi)


def _comparison(cond: Instr, sense: bool) -> tuple[str, Instr, Instr] | None:
    """The fact `a op b` a branch on cond establishes when cond is `sense`."""
    while cond.op == "not" and cond.args:
        cond, sense = cond.args[0], not sense
    if cond.op not in _SWAP or len(cond.args) != 2 or not all(_is_int(a) for a in cond.args):
        return None
    op = cond.op if sense else _NEGATE[cond.op]
    return (op, cond.args[0], cond.args[1])


def analyse(fn: Function) -> Ranges:
    """Solve the ranges of fn (tests read them through `Ranges.at`)."""
    ranges = Ranges(fn)
    ranges.solve()
    return ranges


@register("range", doc="integer range analysis: clear int64 overflow checks that provably cannot fail", order=50)
def run(fn: Function, ctx: PassContext) -> bool:
    candidates = [i for b in fn.blocks for i in b.instrs if i.checked and i.op in _CHECKED and _is_int(i) and all(_is_int(a) for a in i.args)]
    if not candidates:
        return False
    ranges = analyse(fn)
    changed = False
    for ins in candidates:
        if ins.block not in ranges.idom:
            continue
        rs = [ranges.at(a, ins.block) for a in ins.args]
        if any(r is None for r in rs):
            continue
        e = _exact(ins.op, rs)
        if e is not None and _fits(e):
            ins.checked = False
            changed = True
    return changed
