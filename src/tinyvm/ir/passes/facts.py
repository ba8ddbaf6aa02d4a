"""What the classic passes ask of the IR: purity, uses, edges, dominator tree, loops.

Not a pass (it registers nothing): the shared questions and edits that
simplify-cfg, sccp, copy-prop, gvn, licm and dce all need, written once so
that they agree. In particular `is_pure` is the single definition of "may be
removed, merged or moved": an instruction whose result depends only on its
operands, that reads no mutable memory, writes nothing and cannot raise or
deoptimise. An instruction with a frame state is pure only when its
operands' static types prove that the operation cannot fail (a float `add`,
an int `lt`, an unchecked int `add`); everything unknown -- including ops
other passes add later, such as `guard` and `fuel` -- is impure.

The edits keep the exceptional edges right: removing an instruction that
catches also removes its `catch_preds` entry and the matching phi operand in
the handler, so every pass can delete instructions through `remove_instr`.
"""

from __future__ import annotations

from ...bytecode.types import ANY, BOOL, FLOAT, INT, NIL, STRING, TupleT, Type
from ..nodes import Block, Function, Instr
from ..verify import dominates, dominators, reverse_postorder

__all__ = [
    "const_key",
    "const_type",
    "dom_children",
    "is_deterministic",
    "is_pure",
    "is_removable",
    "natural_loops",
    "remove_edge",
    "remove_instr",
    "same_const",
]  # fmt: skip

# Ops that never raise and compute their result from their operands alone.
_ALWAYS_PURE = frozenset({"const", "eq", "ne", "falsy", "truthy", "this_module"})
_ALWAYS_PURE |= {"passed", "missing"}  # (tldjit: the MISSING marker, an identity test against it)
# Ops without side effects that read memory (or allocate): DCE may drop them
# when unused, but GVN and LICM must not merge or move them.
_READS = frozenset({"load_upval", "cell_get", "builtin", "make_cell"})
_NUMS = (INT, FLOAT)


def _types(ins: Instr) -> list[Type | None]:
    return [a.type for a in ins.args]


def is_pure(ins: Instr) -> bool:
    """Can `ins` be removed, merged with an equal one, or moved, without any
    observable change? (No side effect, no memory read, cannot raise.)"""
    op = ins.op
    if op in _ALWAYS_PURE:
        return True
    ts = _types(ins)
    if not ts:
        return False
    if op in ("add", "sub", "mul"):
        # Floats never fail; ints only when the operation is unchecked (the
        # counted loop's step, or one the range pass proved in range).
        return all(t == FLOAT for t in ts) or (all(t == INT for t in ts) and not ins.checked)
    if op == "div":
        return all(t == FLOAT for t in ts)  # IEEE: x / 0.0 is inf or nan, no error
    if op == "neg":
        return ts[0] == FLOAT or (ts[0] == INT and not ins.checked)
    if op in ("band", "bor", "bxor", "bnot"):
        return all(t == INT for t in ts)
    if op in ("lt", "le", "gt", "ge"):
        # (Not strings: Lox's comparisons take numbers only, and the IR does
        # not say which language the code is in.)
        return all(t in _NUMS for t in ts)
    if op in ("not", "check_bool"):
        return ts[0] == BOOL
    if op == "check_type":
        return ins.type != ANY and ts[0] == ins.type
    if op == "to_str":
        return ts[0] == STRING
    return _pure_v11(ins, op, ts)


def _pure_v11(ins: Instr, op: str, ts: list[Type | None]) -> bool:
    """TinyLang 1.1's instructions (issue 18, helper tljit): `**` of numbers
    one of which is a float is IEEE power, which never raises (ops_tlexpr
    `_fpow`); `unpack_check[n, 0]` of a value typed a tuple of n elements
    cannot fail (the entry check of a typed tuple checks its size). The
    others may raise or allocate: impure."""
    if op == "pow":
        return all(t in _NUMS for t in ts) and FLOAT in ts
    if op == "unpack_check":
        t = ts[0]
        return ins.attrs[1:2] == (0,) and isinstance(t, TupleT) and len(t.elems) == ins.attrs[0]
    return False


# Ops that may raise but whose result and whether they raise depend on their
# operands alone (no memory read, no side effect, a fresh value of no
# identity): the operator table's arithmetic, comparisons and checks.
_DETERMINISTIC = frozenset({
    "add", "sub", "mul", "div", "mod", "band", "bor", "bxor", "shl", "shr", "neg", "bnot", "not",
    "lt", "le", "gt", "ge", "check_bool", "check_type",
    "pow",  # (tljit: numbers only, no identity; its errors depend on the operands alone)
})  # fmt: skip
_VALUE_TYPES = (INT, FLOAT, STRING, BOOL)


def is_deterministic(ins: Instr) -> bool:
    """Does `ins` compute the same result, or raise the same error, whenever
    its operands are the same values? Then a later copy that an earlier one
    dominates is redundant: if the earlier did not raise, neither will it.
    (`add` only on values without identity: `a + b` of two arrays is a new
    array each time.)"""
    if is_pure(ins):
        return True
    if ins.op not in _DETERMINISTIC:
        return False
    return ins.op != "add" or all(a.type in _VALUE_TYPES for a in ins.args)


def is_removable(ins: Instr) -> bool:
    """May DCE drop `ins` when nothing uses its value? Pure values, phis and
    side-effect-free reads; never a terminator, `caught`, or anything unknown."""
    if ins.is_terminator or ins.type is None:
        return False
    return ins.op == "phi" or is_pure(ins) or (ins.op in _READS and ins.state is None)


def const_type(v: object) -> Type | None:
    """The IR type of a literal constant (None: not a foldable literal)."""
    t = type(v)
    if v is None:
        return NIL
    if t is bool:
        return BOOL
    if t is int:
        return INT
    if t is float:
        return FLOAT
    if t is str:
        return STRING
    return None


def const_key(v: object) -> tuple:
    """A hashable key equal for constants the VM cannot tell apart: 1, 1.0 and
    true differ; 0.0 and -0.0 differ (by their text); every nan is one."""
    if type(v) is float:
        return (float, repr(v))
    if type(v) is tuple:
        return (tuple, tuple(const_key(x) for x in v))
    return (type(v), v) if const_type(v) is not None else (type(v), id(v))


def same_const(a: object, b: object) -> bool:
    return const_key(a) == const_key(b)


def _catch_index(handler: Block, pred: Block, ins: Instr) -> int:
    """The position in handler.catch_preds of the edge from `ins` (in `pred`)."""
    k = [i for i in pred.all() if i.catch is handler].index(ins)
    seen = -1
    for j, p in enumerate(handler.catch_preds):
        if p is pred:
            seen += 1
            if seen == k:
                return j
    raise AssertionError(f"{handler.name} lacks the catch edge of {pred.name}")


def remove_instr(ins: Instr) -> None:
    """Take `ins` out of its block (its value must be unused by then), with
    its exceptional edge if it has one."""
    b = ins.block
    assert b is not None
    if ins.catch is not None:
        h = ins.catch
        j = _catch_index(h, b, ins)
        del h.catch_preds[j]
        for p in h.phis:
            del p.args[len(h.preds) + j]
        ins.catch = None
    if ins.is_phi:
        b.phis.remove(ins)
    else:
        b.instrs.remove(ins)
    ins.block = None


def remove_edge(src: Block, dst: Block, index: int | None = None) -> None:
    """Forget one normal edge src -> dst in dst's preds and phis (the caller
    rewrites src's terminator). index: which entry of dst.preds, when src
    appears there more than once (default: the last)."""
    if index is None:
        index = max(i for i, p in enumerate(dst.preds) if p is src)
    del dst.preds[index]
    for p in dst.phis:
        del p.args[index]


def dom_children(fn: Function) -> tuple[dict[Block, Block], dict[Block, list[Block]]]:
    """(immediate dominators, the dominator tree's children in reverse postorder)."""
    idom = dominators(fn)
    kids: dict[Block, list[Block]] = {b: [] for b in idom}
    for b in reverse_postorder(fn):
        if b in idom and idom[b] is not b:
            kids[idom[b]].append(b)
    return idom, kids


def natural_loops(fn: Function, idom: dict[Block, Block] | None = None) -> list[tuple[Block, set[Block]]]:
    """Natural loops as (header, body including the header), innermost (the
    smallest) first. The back edges of one header form one loop. Exceptional
    edges count: a handler inside a loop is part of it. `idom`: fn's
    dominators, when the caller has them."""
    if idom is None:
        idom = dominators(fn)
    bodies: dict[Block, set[Block]] = {}
    for b in idom:
        for h in b.succs:
            if h in idom and dominates(idom, h, b):
                body = bodies.setdefault(h, {h})
                work = [b]
                while work:
                    x = work.pop()
                    if x in body:
                        continue
                    body.add(x)
                    work.extend(p for p in x.preds + x.catch_preds if p in idom)
    return sorted(bodies.items(), key=lambda hb: len(hb[1]))
