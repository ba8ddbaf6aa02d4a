"""A counted loop's bounds and overflow checks, made once where it is entered.

Sieve's inner loop

    while k <= size { flags[k - 1] = false; k += i }

checked on every pass that `k - 1` is inside `flags` (a compare and a
branch) and that `k += i` did not overflow (a branch): with the countdown's
tick, the loop's own test and the representation branch, five branches a
pass where g++ -O2 has one ("Loop entry checks" in docs/native.md). Both facts follow, for the whole
loop, from a few values fixed before it runs:

- `k` is a *counter*: a phi of the loop header whose value from inside the
  loop is `k + s`, `s` defined outside the loop; with `s >= 0` (and the
  add exact: it is checked, or proved here) `k` never falls below its
  first value `k0`;
- the header's test `k <= n` (or `k < n`, i.e. `k <= n - 1`), `n` defined
  outside the loop, holds in every block reached through its true edge,
  so there `k0 <= k <= n`;
- an access `a[k + c]` (`c` a constant) of an array `a` defined outside
  the loop is then inside `a` when `k0 + c >= 0` and `n + c < len(a)`, as
  long as `len(a)` cannot change in the loop: the loop calls nothing and
  changes no array's length (below);
- `k + s`, computed in such a block, does not overflow when `n + s` does
  not.

So a *plan* is made for such a loop: at the end of its preheader (the one
block outside the loop that jumps to the header) native code computes those
conditions once and, if one fails, deoptimises to the header's pc with the
header's frame state as it is on the way in (each header phi its preheader
operand): the interpreter runs the loop from its start, exactly as the
checked code would have, and raises where it would. If they all hold, the
accesses in the plan lose their bounds check (arrays.py `element`), and the
index arithmetic and counter steps in the plan lose their overflow check.
When the loop would not run at all (`k0 > n`), nothing is checked.

Exactness is by construction; what the design keeps exact as well is
how often the entry leaves: a failed condition means the loop as written
would fail when it reaches its end. So a plan is made only for loops
whose one exit is the header's test and whose accesses run on every pass
(their block dominates the loop's latch), and the bounds are checked
against the counter's last value: `n` first, and, when that fails with a
stride other than 1, the largest `k0 + j*s <= n` (`emit_checks`). A loop
that would fail leaves at its entry instead of at the failing pass, and
the interpreter then runs it to the same error. (A `break`, a `return`
inside the loop, or an access under an `if` makes no plan: the loop may
end before the access goes out of range, and the entry would leave for
nothing on every call.)

What a loop may contain to get a plan: only instructions that compute
from scalars, read or write elements of arrays of scalars, and its own
control flow (`_QUIET`): no call of any kind (a call out could resize a
list: `push`, `pop`), no field access, no allocation. The poll at the
header runs no guest code. Not in a function that counts fuel (the exit at
the preheader would sit between two of its fuel blocks: the checked code
is kept there). An OSR entry inside the function (osr.py) jumps to the
header past the preheader, so it makes the same checks on its own path
(emit.py `osr_checks`, the counter's first value its header phi's word);
an OSR copy (a function entered at a header: `entered`) plans only the
loops inside it. A failed check at an OSR entry sends the pass to the
interpreter, which comes back to the entry at the next pass: the entry op
stops entering after a few (engine.py `REFUSALS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...ir.nodes import Block, FrameState, Function, Instr
from ...ir.passes.facts import natural_loops
from ...ir.verify import dominates, dominators

# The reason of the exit a failed entry check takes (deopt.py records; the
# engine's OSR entry op counts them: engine.py `_osr_op`).
REASON = "a loop's entry checks fail"

# Instructions a planned loop may hold (others make no plan): arithmetic and
# comparisons (typed int/float/bool by select.py, checked below), element
# reads and writes, constants, and the IR's own control and fuel ops.
_QUIET = frozenset(("const", "add", "sub", "mul", "div", "mod", "neg", "band", "bor", "bxor", "shl", "shr", "lt", "le", "gt", "ge", "eq", "ne", "not", "check_bool", "get_index", "set_index", "jump", "branch"))
_SCALARS = frozenset(("i", "f", "b"))
_ARRAYS = frozenset(("ai", "af", "ab"))  # (arrays of scalars: arrays.py `element`)


@dataclass(eq=False)
class Plan:
    """One loop's entry checks and what they prove."""

    header: Block
    pre: Block  # the preheader: its jump to the header gets the checks
    counter: Instr  # the header phi k
    first: Instr  # k0, its operand from the preheader
    bound: Instr  # n
    off: int  # 0 (`k <= n`) or -1 (`k < n`): k <= n + off in the body
    step: Instr  # s
    bounds: list[tuple[Instr, int]] = field(default_factory=list)  # (array a, c): n + off + c < len(a)
    lows: set[int] = field(default_factory=set)  # each c: k0 + c >= 0
    accesses: list[Instr] = field(default_factory=list)  # element reads and writes proved inside their array
    exact: list[Instr] = field(default_factory=list)  # index arithmetic and counter steps proved not to overflow
    steps_exact: bool = False  # the plan clears a step's check: n + off + s must not overflow


def _loops(fn: Function, idom: dict | None = None) -> list[tuple[Block, set[Block], list[Block]]]:
    """(header, body, latches) of each natural loop of fn (a latch: a
    predecessor of the header inside the body, which it dominates)."""
    return [(h, body, [p for p in h.preds if p in body]) for h, body in natural_loops(fn, idom)]


def _accesses(fn: Function, types: dict) -> bool:
    """Whether fn reads or writes an element of an array of scalars at all
    (what both questions below need; cheaper than finding the loops)."""
    return any(i.op in ("get_index", "set_index") and types.get(i.args[0]) in _ARRAYS for b in fn.blocks for i in b.instrs)


# The first line of a module made without LLVM's loop strength reduction
# (codegen.py `with_lsr`): part of the IR text, so of the disk cache's key.
NO_LSR = "; tvm: no loop strength reduction (loopguards.py)"


def lsr_off(fns: list[tuple[Function, dict]]) -> bool:
    """Whether a module of these (function, machine types) is made without
    LLVM's loop strength reduction: some loop of one of them reads or
    writes an element of an array of scalars. (Measured, build of session
    41: Sieve 9.9 -> 7.4 us a run, Permute 27.7 -> 25.4, Queens 27.1 ->
    25.7; Mandelbrot, with no array, 55 -> 61 with it off, so it stays on
    there.)"""
    for fn, types in fns:
        if not _accesses(fn, types):
            continue
        for _, body, _ in _loops(fn):
            if any(i.op in ("get_index", "set_index") and types.get(i.args[0]) in _ARRAYS for b in body for i in b.instrs):
                return True
    return False


def _outside(v: Instr, body: set[Block], where: dict) -> bool:
    """Whether v is the same on every pass: a constant, a parameter, or defined in a block not in `body`."""
    b = where.get(v)
    return v.op == "const" or b is None or b not in body


def _offset(x: Instr, k: Instr) -> int | None:
    """c when x is k + c (k itself, `add k, C`, `add C, k`, `sub k, C`), else None."""
    if x is k:
        return 0
    if x.op not in ("add", "sub") or len(x.args) != 2:
        return None
    a, b = x.args
    if a is k and b.op == "const" and type(b.attrs[0]) is int:
        return b.attrs[0] if x.op == "add" else -b.attrs[0]
    if x.op == "add" and b is k and a.op == "const" and type(a.attrs[0]) is int:
        return a.attrs[0]
    return None


def plan(fn: Function, types: dict, entered: set[Block] = frozenset(), idom: dict | None = None) -> list[Plan]:
    """The plans of fn's loops (module docstring); `entered`: blocks an OSR
    copy is entered at, past any preheader (a loop holding one gets no
    plan); `idom`: fn's dominators, when the caller has them."""
    if idom is None:
        idom = dominators(fn)
    where = {v: b for b in fn.blocks for v in b.phis + b.instrs}
    out = []
    for h, body, latches in _loops(fn, idom):
        p = _plan(h, body, latches, types, where, idom, entered)
        if p is not None and (p.accesses or p.exact):
            out.append(p)
    return out


def _plan(h: Block, body: set[Block], latches: list[Block], types: dict, where: dict, idom: dict, entered: set[Block]) -> Plan | None:
    if len(latches) != 1 or len(h.preds) != 2 or any(b in entered for b in body):
        return None
    latch = latches[0]
    pre = h.preds[0] if h.preds[1] is latch else h.preds[1] if h.preds[0] is latch else None
    if pre is None or pre.terminator is None or pre.terminator.op != "jump" or pre in body:
        return None
    t = h.terminator
    if t is None or t.op != "branch" or t.targets[0] not in body or t.targets[1] in body:
        return None
    inner = t.targets[0]  # (the body's first block: reached through the test's true edge only)
    if inner is h or inner.preds != [h] or inner.catch_preds:
        return None
    for b in body:  # one exit (the header's test), and nothing but _QUIET inside
        if b is not h and any(s not in body for s in b.succs) or b.catch_preds:
            return None
        for i in b.instrs + [b.terminator]:
            if i is None or i.op not in _QUIET or i.catch is not None:
                return None
            if i.op in ("get_index", "set_index") and (types.get(i.args[0]) not in _ARRAYS or len(i.args) < 2 or types.get(i.args[1]) != "i"):
                return None
            if i.op not in ("get_index", "set_index", "jump", "branch", "const") and any(types.get(a) not in _SCALARS for a in i.args):
                return None
    test = t.args[0]
    if test.op not in ("le", "lt", "ge", "gt") or where.get(test) is not h:
        return None
    k, n = test.args
    if test.op in ("ge", "gt"):  # (n >= k is k <= n)
        k, n = n, k
    off = 0 if test.op in ("le", "ge") else -1
    if k not in h.phis or types.get(k) != "i" or types.get(n) != "i" or not _outside(n, body, where):
        return None
    first, nxt = (k.args[0], k.args[1]) if h.preds[0] is pre else (k.args[1], k.args[0])
    if nxt.op != "add" or len(nxt.args) != 2 or k not in nxt.args or types.get(nxt) != "i":
        return None
    s = nxt.args[1] if nxt.args[0] is k else nxt.args[0]
    if types.get(s) != "i" or not _outside(s, body, where) or s.op == "const" and s.attrs[0] < 0:
        return None
    pl = Plan(h, pre, k, first, n, off, s)

    def proved(b: Block) -> bool:  # k <= n + off holds in b
        return dominates(idom, inner, b)

    if proved(where[nxt]) and nxt.checked:
        pl.exact.append(nxt)
        pl.steps_exact = True
    for b in body:
        if not proved(b) or not dominates(idom, b, latch):
            continue  # (an access that may not run on a pass: module docstring)
        for i in b.instrs:
            if i.op not in ("get_index", "set_index") or not _outside(i.args[0], body, where):
                continue
            c = _offset(i.args[1], k)
            if c is None:
                continue
            pl.accesses.append(i)
            pl.bounds.append((i.args[0], c))
            pl.lows.add(c)
            x = i.args[1]
            if x is not k and x.checked and proved(where.get(x, h)) and x not in pl.exact:
                pl.exact.append(x)
    return pl


def entry_state(header: Block, pre: Block, st: FrameState) -> FrameState:
    """The header's frame state `st` as it is on the way in from the
    preheader `pre`: each header phi its preheader operand (also hoist.py's)."""
    k = header.preds.index(pre)
    m = {ph: ph.args[k] for ph in header.phis}
    return FrameState(st.pc, [m.get(v, v) if v is not None else None for v in st.locals], [m.get(v, v) for v in st.stack], st.code, st.parent, st.callee)


def emit_checks(em: Any, pl: Plan, es: Any, first: Instr | None = None) -> None:
    """The checks of plan pl where its loop is entered (the end of its
    preheader; its OSR path, with `first` the value the counter enters
    with there); a failure deoptimises to `es`.

    They are made against `N = n + off`, the counter's bound. With a
    stride other than 1 the counter's last value may lie below it (`k +=
    2` over pairs, `a[k + 1]`, with `k < len(a)`): when they fail with N,
    they are made again, off the fast path, with that last value,
    `N - (N - k0) % s`, so that only a loop that would fail leaves."""
    L = em.lines
    k0 = em.val(first if first is not None else pl.first)
    ovs: list[str] = []
    hi = em.val(pl.bound)
    if pl.off:
        hi = _add(em, hi, str(pl.off), ovs)
    runs = em.tmp("lgr")
    L.append(f"  {runs} = icmp sle i64 {k0}, {hi}")  # (k0 > N: the body never runs, nothing to check)
    at = pl.pre.instrs[-1] if pl.pre.instrs else None
    sizes = {arr: em._arrays().words(arr, at if at is not None else arr)[1] for arr, _ in pl.bounds}
    fail = _failing(em, pl, k0, hi, runs, sizes, ovs)
    if pl.step.op == "const" and pl.step.attrs[0] == 1 or not (pl.bounds or pl.steps_exact):
        em.exit_to(fail, es)  # (the last value is N, or nothing depends on it)
        return
    again, go = em.tmp("lgx")[1:], em.tmp("lgok")[1:]
    L.append(f"  br i1 {fail}, label %{again}, label %{go}, !prof !0")
    em.label(again)
    st = em.val(pl.step)
    pos, div, r, low, last = em.tmp("lg"), em.tmp("lg"), em.tmp("lg"), em.tmp("lg"), em.tmp("lg")
    ovs2: list[str] = list(ovs)
    d = _add(em, hi, k0, ovs2, "ssub")  # (N - k0 >= 0 here: the loop runs)
    L.append(f"  {pos} = icmp sgt i64 {st}, 0")
    L.append(f"  {div} = select i1 {pos}, i64 {st}, i64 1")  # (s <= 0: s < 0 fails anyway, s == 0 stays at k0)
    L.append(f"  {r} = srem i64 {d}, {div}")
    L.append(f"  {low} = sub i64 {hi}, {r}")
    L.append(f"  {last} = select i1 {pos}, i64 {low}, i64 {k0}")
    em.exit_to(_failing(em, pl, k0, last, runs, sizes, ovs2), es)
    L.append(f"  br label %{go}")
    em.label(go)


def _add(em: Any, x: str, y: str, ovs: list[str], op: str = "sadd") -> str:
    """x + y (op ssub: x - y), its overflow flag's struct added to `ovs`."""
    s, r = em.tmp("lgo"), em.tmp("lg")
    em.lines.append(f"  {s} = call {{i64, i1}} @llvm.{op}.with.overflow.i64(i64 {x}, i64 {y})")
    em.lines.append(f"  {r} = extractvalue {{i64, i1}} {s}, 0")
    ovs.append(s)
    return r


def _failing(em: Any, pl: Plan, k0: str, hi: str, runs: str, sizes: dict, ovs: list[str]) -> str:
    """The i1 saying that pl's loop runs and one of its conditions fails,
    with `hi` the counter's largest value: a negative step, `hi + s`
    overflowing, `k0 + c < 0`, `hi + c >= len(a)`, or an overflow in
    computing them (`ovs`: the structs of those computed before)."""
    L = em.lines
    ovs = list(ovs)
    bad = []
    if pl.step.op != "const":
        neg = em.tmp("lg")
        L.append(f"  {neg} = icmp slt i64 {em.val(pl.step)}, 0")
        bad.append(neg)
    if pl.steps_exact:
        _add(em, hi, em.val(pl.step), ovs)
    for c in sorted(pl.lows):
        lo, low = _add(em, k0, str(c), ovs), em.tmp("lg")
        L.append(f"  {low} = icmp slt i64 {lo}, 0")
        bad.append(low)
    for arr, c in dict.fromkeys(pl.bounds):
        top, out = _add(em, hi, str(c), ovs), em.tmp("lg")
        L.append(f"  {out} = icmp sge i64 {top}, {sizes[arr]}")
        bad.append(out)
    for s in ovs:
        o = em.tmp("lg")
        L.append(f"  {o} = extractvalue {{i64, i1}} {s}, 1")
        bad.append(o)
    acc = "false"
    for b in bad:
        x = em.tmp("lg")
        L.append(f"  {x} = or i1 {acc}, {b}")
        acc = x
    fail = em.tmp("lgf")
    L.append(f"  {fail} = and i1 {runs}, {acc}")
    return fail
