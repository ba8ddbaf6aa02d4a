"""sccp: sparse conditional constant propagation (Wegman and Zadeck, 1991).

Every value starts at the lattice's top (no value seen yet), every edge
not executable, the entry block executable. Two worklists drive the
analysis: a flow list of newly executable edges, and an SSA list of values
whose lattice cell fell (top -> a constant -> bottom), whose users are then
re-evaluated. A phi meets its operands along executable edges only (normal
and exceptional ones), so a value that is constant on every path that can
run is found constant even when it is assigned in a loop; a branch whose
condition is a constant makes only its taken edge executable.

Folding is `fold.fold`: the VM's semantics exactly, refusing what raises
(overflow, division by zero), NaN results, huge strings, and whatever the
language decides when `ctx.options["lang"]` does not say which it is.

Then the rewrite: each value found constant (and not already a `const`)
is replaced by a `const` placed at the start of the entry block (which
dominates every use), and the instruction is deleted -- it is pure *with these operands*:
folding succeeded, so it does not raise. A `branch` on a constant becomes a
`jump` (first, while the cells still name the condition), and the blocks
no executable edge reaches are deleted (simplify-cfg's `drop_unreachable`),
since simplify-cfg itself runs before sccp in the default pipeline.
"""

from __future__ import annotations

from typing import Any

from ..nodes import Block, Function, Instr, replace_uses
from . import PassContext, register
from .facts import const_type, remove_edge, remove_instr, same_const
from .fold import FOLDABLE, NoFold, fold
from .simplify_cfg import drop_unreachable

__all__ = ["analyse", "sccp"]


class _Top:
    def __repr__(self) -> str:
        return "top"


class _Bottom:
    def __repr__(self) -> str:
        return "bottom"


TOP, BOTTOM = _Top(), _Bottom()


class _Const:
    """A lattice cell holding one constant (wrapped: nil is a constant too)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Const) and same_const(self.value, other.value)

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"const {self.value!r}"


def _meet(a: Any, b: Any) -> Any:
    if a is TOP:
        return b
    if b is TOP:
        return a
    if a is BOTTOM or b is BOTTOM:
        return BOTTOM
    return a if a == b else BOTTOM


def analyse(fn: Function, lang: str | None = None) -> tuple[dict[Instr, Any], set[Block], set[tuple[Block, Block]]]:
    """(lattice cell of every value, executable blocks, executable normal edges)."""
    cell: dict[Instr, Any] = {p: BOTTOM for p in fn.params}
    users: dict[Instr, list[Instr]] = {}
    for b in fn.blocks:
        for ins in b.all():
            for a in ins.args:
                users.setdefault(a, []).append(ins)
    live_blocks: set[Block] = set()
    live_edges: set[tuple[Block, Block]] = set()
    flow: list[tuple[Block | None, Block, bool]] = [(None, fn.entry, False)]  # (from, to, exceptional)
    ssa: list[Instr] = []

    def get(v: Instr) -> Any:
        return cell.get(v, TOP)

    def lower(ins: Instr, new: Any) -> None:
        old = get(ins)
        new = _meet(old, new)
        # Cells only fall: top -> a constant -> bottom (two constants meet at bottom).
        if new is not TOP and (old is TOP or (new is BOTTOM and old is not BOTTOM)):
            cell[ins] = new
            ssa.append(ins)

    def visit_phi(b: Block, phi: Instr) -> None:
        out: Any = TOP
        for (pred, at), v in zip(b.phi_preds(), phi.args):
            if (pred, b) in live_edges if at is None else pred in live_blocks:
                out = _meet(out, get(v))
        lower(phi, out)

    def visit(ins: Instr) -> None:
        b = ins.block
        if ins.is_phi:
            visit_phi(b, ins)
            return
        if ins.is_terminator:
            if ins.op == "jump":
                flow.append((b, ins.targets[0], False))
            elif ins.op == "branch":
                c = get(ins.args[0])
                if isinstance(c, _Const) and type(c.value) is bool:
                    flow.append((b, ins.targets[0 if c.value else 1], False))
                elif c is not TOP:
                    flow.extend((b, t, False) for t in ins.targets)
            return
        if ins.catch is not None:
            flow.append((b, ins.catch, True))
        if ins.type is None:
            return
        if ins.op == "const":
            v = ins.attrs[0] if ins.attrs else None
            lower(ins, _Const(v) if const_type(v) is not None else BOTTOM)
            return
        if ins.op == "check_type" and ins.args:
            c = get(ins.args[0])
            if isinstance(c, _Const):
                lower(ins, c if const_type(c.value) == ins.type else BOTTOM)
            elif c is BOTTOM:
                lower(ins, BOTTOM)
            return
        if ins.op not in FOLDABLE:
            lower(ins, BOTTOM)
            return
        ins_cells = [get(a) for a in ins.args]
        if any(c is BOTTOM for c in ins_cells):
            lower(ins, BOTTOM)
        elif any(c is TOP for c in ins_cells):
            return
        else:
            try:
                lower(ins, _Const(fold(ins.op, [c.value for c in ins_cells], lang)))
            except NoFold:
                lower(ins, BOTTOM)

    while flow or ssa:
        while flow:
            src, dst, exceptional = flow.pop()
            if src is not None and not exceptional:
                if (src, dst) in live_edges:
                    continue
                live_edges.add((src, dst))
            if dst in live_blocks:
                for phi in dst.phis:
                    visit_phi(dst, phi)
                continue
            live_blocks.add(dst)
            for ins in dst.all():
                visit(ins)
        while ssa:
            v = ssa.pop()
            for u in users.get(v, ()):
                if u.block in live_blocks:
                    visit(u)
    return cell, live_blocks, live_edges


@register("sccp", doc="sparse conditional constant propagation and exact constant folding", order=20)
def sccp(fn: Function, ctx: PassContext) -> bool:
    cell, live_blocks, _ = analyse(fn, ctx.options.get("lang"))
    changed = False
    entry = fn.entry
    made: list[tuple[Any, Instr]] = []  # constants placed in the entry block

    def const_for(value: Any) -> Instr:
        for v, k in made:
            if _Const(v) == _Const(value):
                return k
        k = Instr(fn.new_id(), "const", attrs=(value,), type=const_type(value), block=entry)
        entry.instrs.insert(len(made), k)  # first: the entry's own code may use it
        made.append((value, k))
        return k

    for b in fn.blocks:
        t = b.terminator
        if b not in live_blocks or t is None or t.op != "branch" or t.targets[0] is t.targets[1]:
            continue
        c = cell.get(t.args[0])
        if isinstance(c, _Const) and type(c.value) is bool:
            keep, drop = (t.targets[0], t.targets[1]) if c.value else (t.targets[1], t.targets[0])
            remove_edge(b, drop)
            b.terminator = Instr(t.id, "jump", targets=[keep], pc=t.pc, block=b)
            changed = True
    if changed:
        changed |= drop_unreachable(fn)
    repl: dict[Instr, Instr] = {}
    for b in fn.blocks:
        if b not in live_blocks:
            continue
        for ins in list(b.phis) + list(b.instrs):
            c = cell.get(ins)
            if ins.op == "const" or not isinstance(c, _Const) or ins.type is None:
                continue
            repl[ins] = const_for(c.value)
    if repl:
        replace_uses(fn, repl)
        for ins in repl:
            remove_instr(ins)
        changed = True
    return changed
