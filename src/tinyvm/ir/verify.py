"""The IR verifier: `verify(fn)` lists everything wrong with a Function (empty: none).

It checks the invariants every pass must keep, so tests run it after building
and after every pass:

* structure: at least one block, the entry has no predecessors, each block ends
  with exactly one terminator (and has no terminator among its instructions or
  phis among them), labels and value ids are unique, jump takes one block and
  branch two, each value belongs to the block that lists it;
* the CFG: a block's `preds` are exactly the blocks whose terminators target it
  (as a multiset), its `catch_preds` the blocks of the instructions whose
  `catch` names it (one entry per instruction), every phi has one operand per
  predecessor, exceptional ones included; only an instruction with a frame
  state catches; `caught` opens a block reached only by exceptional edges;
* SSA: every use is dominated by its definition (a phi's operand by the end of
  the matching predecessor, or, along an exceptional edge, by the catching
  instruction: a value it defines itself is not available); dominators by Cooper, Harvey and Kennedy, "A
  Simple, Fast Dominance Algorithm" (2001), over the reachable blocks;
* types: every value has a type, an operand's type fits its op's signature
  (`_SIGNATURES`: a branch's condition is bool, arithmetic typed int takes ints),
  void instructions have none;
* frame states: every instruction that can raise (`RAISES`) has one, and every
  value it names is defined and dominates the instruction; along the `parent`
  chain of an inlined frame, each pc is an instruction of that frame's code
  object (when known) and each caller's pc is a call, and the chain ends.

Each error names its block and instruction (in the text form's terms).
"""

from __future__ import annotations

from collections import Counter

from ..bytecode.opcodes import OPCODES
from ..bytecode.types import ANY, BOOL, FLOAT, INT, STRING, TupleT
from .build import OPS, decode
from .nodes import Block, Function, Instr
from .text import format_instr

__all__ = ["RAISES", "dominates", "dominators", "verify"]

# IR ops that can raise or deoptimise, from the mapping table, and the extra
# ones the builder makes for FOR_ITER.
RAISES = frozenset({s.ir for s in OPS.values() if s.raises and s.ir} | {"throw", "guard"})


def _arith_ok(ins: Instr) -> str | None:
    ts = [a.type for a in ins.args]
    if ins.type == INT and any(t not in (INT, ANY) for t in ts):
        return "an int result from operands not all int"
    if ins.type == FLOAT and any(t not in (FLOAT, ANY) for t in ts):
        return "a float result from operands not all float"
    return None


def _bool_cond(ins: Instr) -> str | None:
    t = ins.args[0].type if ins.args else None
    return None if t in (BOOL, ANY) else f"a condition of type {t}"


def _guard_ok(ins: Instr) -> str | None:
    """`guard["int"] v : int`: one operand, a primitive type name, the result that type."""
    name = ins.attrs[0] if len(ins.attrs) == 1 else None
    if name not in ("int", "float", "string", "bool"):
        return f"guard needs one type attribute (int, float, string, bool), has {ins.attrs!r}"
    if ins.type is None or str(ins.type) != name:
        return f"guard[{name}] must be typed {name}, is {ins.type}"
    return None


_SIGNATURES = {op: _arith_ok for op in ("add", "sub", "mul", "div", "mod", "neg", "band", "bor", "bxor", "shl", "shr", "bnot")}
_SIGNATURES["branch"] = _bool_cond
_SIGNATURES["guard"] = _guard_ok


def _virtual_ok(ins: Instr) -> str | None:
    """`virtual[(names)] values : any`: one value per field name."""
    names = ins.attrs[0] if len(ins.attrs) == 1 and type(ins.attrs[0]) is tuple else None
    if names is None or len(names) != len(ins.args) or len(set(names)) != len(names):
        return "virtual needs one distinct field name per operand"
    return None


_SIGNATURES["virtual"] = _virtual_ok


def _fuel_ok(ins: Instr) -> str | None:
    """`fuel[n]`: n > 0 bytecode instructions counted (jit/fuel.py); no result."""
    if len(ins.attrs) != 1 or type(ins.attrs[0]) is not int or ins.attrs[0] <= 0:
        return f"fuel needs one positive count attribute, has {ins.attrs!r}"
    if ins.type is not None:
        return "fuel has no result"
    return None


_SIGNATURES["fuel"] = _fuel_ok
# Issue 18, helper tljit: TinyLang 1.1's instructions (ir/build.py's OPS).


def _tuple_ok(ins: Instr) -> str | None:
    """`tuple v1, v2 : (int, any)`: no attributes; a tuple type has one element per operand."""
    if ins.attrs:
        return f"tuple takes no attributes, has {ins.attrs!r}"
    if isinstance(ins.type, TupleT) and len(ins.type.elems) != len(ins.args):
        return f"a tuple of {len(ins.args)} typed {ins.type}"
    return None


def _unpack_ok(ins: Instr) -> str | None:
    """`unpack_check[n, kind] v`: a size >= 0 and the pattern kind (0 tuple, 1 array)."""
    a = ins.attrs
    if len(a) != 2 or type(a[0]) is not int or a[0] < 0 or a[1] not in (0, 1):
        return f"unpack_check needs a size and a kind (0 or 1), has {a!r}"
    return None


def _pow_ok(ins: Instr) -> str | None:
    """`pow`: an int result only from int operands (int ** negative int is a float)."""
    ts = [a.type for a in ins.args]
    if ins.type == INT and any(t not in (INT, ANY) for t in ts):
        return "an int result from operands not all int"
    return None


def _format_ok(ins: Instr) -> str | None:
    """`format["spec"] v : string`."""
    if len(ins.attrs) != 1 or type(ins.attrs[0]) is not str:
        return f"format needs one spec attribute, has {ins.attrs!r}"
    if ins.type not in (STRING, ANY):
        return f"format makes a string, is typed {ins.type}"
    return None


def _set_static_ok(ins: Instr) -> str | None:
    """`set_static["name"] class, value`: no result."""
    if len(ins.attrs) != 1 or type(ins.attrs[0]) is not str:
        return f"set_static needs one member name, has {ins.attrs!r}"
    if ins.type is not None:
        return "set_static has no result"
    return None


_SIGNATURES.update({"tuple": _tuple_ok, "unpack_check": _unpack_ok, "pow": _pow_ok, "format": _format_ok, "set_static": _set_static_ok})
# Fixed operand counts.
_ARITY = {"branch": 1, "return": 1, "throw": 1, "jump": 0, "const": 0, "guard": 1, "not": 1, "neg": 1, "bnot": 1, "truthy": 1, "iter_done": 1, "fuel": 0}
_ARITY.update({"unpack_check": 1, "pairs": 1, "pow": 2, "format": 1, "set_static": 2})  # (tljit)
_ARITY.update({"passed": 1, "missing": 0})  # (tldjit: JUMP_IF_PASSED's test of a parameter's value, LOAD_MISSING)
_TARGETS = {"jump": 1, "branch": 2, "return": 0, "throw": 0}


def reverse_postorder(fn: Function) -> list[Block]:
    seen = {id(fn.entry)}
    order: list[Block] = []
    stack = [(fn.entry, iter(fn.entry.succs))]
    while stack:
        block, it = stack[-1]
        for s in it:
            if id(s) not in seen:
                seen.add(id(s))
                stack.append((s, iter(s.succs)))
                break
        else:
            stack.pop()
            order.append(block)
    order.reverse()
    return order


def dominators(fn: Function) -> dict[Block, Block]:
    """Immediate dominator of every reachable block (the entry's is itself)."""
    rpo = reverse_postorder(fn)
    index = {b: i for i, b in enumerate(rpo)}
    idom: dict[Block, Block] = {fn.entry: fn.entry}

    def intersect(a: Block, b: Block) -> Block:
        while a is not b:
            while index[a] > index[b]:
                a = idom[a]
            while index[b] > index[a]:
                b = idom[b]
        return a

    changed = True
    while changed:
        changed = False
        for b in rpo[1:]:
            done = [p for p in b.preds + b.catch_preds if p in idom and p in index]
            if not done:
                continue
            new = done[0]
            for p in done[1:]:
                new = intersect(p, new)
            if idom.get(b) is not new:
                idom[b] = new
                changed = True
    return idom


def dominates(idom: dict[Block, Block], a: Block, b: Block) -> bool:
    """Does block a dominate block b, by the immediate dominators `idom`?"""
    while True:
        if a is b:
            return True
        up = idom.get(b)
        if up is None or up is b:
            return False
        b = up


def verify(fn: Function) -> list[str]:
    errors: list[str] = []
    if not fn.blocks:
        return ["the function has no blocks"]

    def err(block: Block, ins: Instr | None, msg: str) -> None:
        where = f"{block.name}" + (f": {format_instr(ins)}" if ins is not None else "")
        errors.append(f"{where}: {msg}")

    labels = Counter(b.label for b in fn.blocks)
    for label, n in labels.items():
        if n > 1:
            errors.append(f"b{label}: defined {n} times")
    blocks = set(fn.blocks)
    defined: dict[Instr, tuple[Block, int]] = {p: (fn.entry, -1) for p in fn.params}
    ids = Counter(v.id for v in fn.values() if v.type is not None and not v.is_terminator)
    for vid, n in ids.items():
        if n > 1:
            errors.append(f"v{vid}: defined {n} times")
    if fn.entry.preds:
        err(fn.entry, None, "the entry block has predecessors")
    # Structure and the CFG.
    incoming: dict[Block, Counter] = {b: Counter() for b in fn.blocks}
    catching: dict[Block, Counter] = {b: Counter() for b in fn.blocks}
    for b in fn.blocks:
        if b.terminator is None:
            err(b, None, "no terminator at the end")
        for i, ins in enumerate(b.all()):
            defined[ins] = (b, i)
            if ins.block is not None and ins.block is not b:
                err(b, ins, f"listed in {b.name} but belongs to {ins.block.name}")
            if ins.is_phi and ins not in b.phis:
                err(b, ins, "a phi among the instructions")
            if ins.is_terminator and ins is not b.terminator:
                err(b, ins, "a terminator before the end of the block")
            if ins in b.instrs and ins.op == "phi":
                err(b, ins, "a phi after the first instruction")
            if ins.catch is not None:
                if ins.catch not in blocks:
                    err(b, ins, f"catches at {ins.catch.name}, which is not in the function")
                else:
                    catching[ins.catch][b] += 1
                if ins.state is None:
                    err(b, ins, "catches but has no frame state")
            if ins.op == "caught" and (ins is not (b.instrs[0] if b.instrs else None) or b.preds or not b.catch_preds):
                err(b, ins, "caught must open a block reached only by exceptional edges")
        t = b.terminator
        if t is None:
            continue
        if not t.is_terminator:
            err(b, t, "the block ends with a non-terminator")
        if len(t.targets) != _TARGETS.get(t.op, 0):
            err(b, t, f"{t.op} needs {_TARGETS.get(t.op, 0)} target block(s), has {len(t.targets)}")
        for s in t.targets:
            if s not in blocks:
                err(b, t, f"targets {s.name}, which is not in the function")
            else:
                incoming[s][b] += 1
    for b in fn.blocks:
        if Counter(b.preds) != incoming[b]:
            have = ", ".join(p.name for p in b.preds) or "none"
            want = ", ".join(p.name for p in incoming[b].elements()) or "none"
            err(b, None, f"preds are {have} but the blocks that jump here are {want}")
        if Counter(b.catch_preds) != catching[b]:
            have = ", ".join(p.name for p in b.catch_preds) or "none"
            want = ", ".join(p.name for p in catching[b].elements()) or "none"
            err(b, None, f"catch-preds are {have} but the blocks that catch here are {want}")
        for p in b.phis:
            if len(p.args) != len(b.preds) + len(b.catch_preds):
                err(b, p, f"phi has {len(p.args)} operand(s) for {len(b.preds) + len(b.catch_preds)} predecessor(s)")
    # Dominance.
    idom = dominators(fn)
    decoded: dict[int, dict[int, int]] = {}

    def pcs_of(code) -> dict[int, int]:
        """pc -> opcode of every instruction of a code object (decoded once)."""
        if id(code) not in decoded:
            decoded[id(code)] = {pc: op for pc, (op, _) in decode(code).items()}
        return decoded[id(code)]

    def available(v: Instr, block: Block, pos: int) -> bool:
        """Is `v` defined before position `pos` of `block` on every path?"""
        if v not in defined:
            return False
        vb, vpos = defined[v]
        if vb is block:
            return vpos < pos
        return vb in idom and dominates(idom, vb, block)

    for b in fn.blocks:
        if b not in idom:
            continue  # unreachable: nothing runs there
        for i, ins in enumerate(b.all()):
            if ins.is_phi:
                for (pred, at), v in zip(b.phi_preds(), ins.args):
                    if pred not in idom:
                        continue
                    if at is None and not available(v, pred, len(pred.all()) if pred in b.preds else -1):
                        err(b, ins, f"operand v{v.id} does not dominate the end of predecessor {pred.name}")
                    elif at is not None and not available(v, pred, pred.all().index(at)):
                        err(b, ins, f"operand v{v.id} is not defined before the instruction of {pred.name} that catches here")
                continue
            for v in ins.args:
                if not available(v, b, i):
                    err(b, ins, f"v{v.id} is used where its definition does not dominate it")
            # Types.
            if ins.type is None and not ins.is_terminator and ins.op in _VALUE_OPS:
                err(b, ins, "a value without a type")
            n = _ARITY.get(ins.op)
            if n is not None and len(ins.args) != n:
                err(b, ins, f"{ins.op} takes {n} operand(s), has {len(ins.args)}")
            elif ins.op in _SIGNATURES:
                msg = _SIGNATURES[ins.op](ins)
                if msg:
                    err(b, ins, msg)
            # Frame states.
            if ins.op in RAISES and ins.state is None:
                err(b, ins, "can raise but has no frame state")
            if ins.state is not None:
                chain = _chain_errors(ins.state, pcs_of)
                for msg in chain:
                    err(b, ins, msg)
                if "frame state chain loops" in chain:
                    continue  # (its values cannot be listed)
                for v in ins.state.values():
                    if not available(v, b, i):
                        err(b, ins, f"frame state names v{v.id}, which is not defined here")
    return errors


def _chain_errors(st, pcs_of) -> list[str]:
    """A frame state and its parents (inlined frames): each pc an instruction
    of its code object, each parent's pc a call there, no frame its own
    caller (recursion is never inlined: a cycle would be an endless trace)."""
    out: list[str] = []
    seen: set[int] = set()
    depth = 0
    while st is not None:
        if id(st) in seen:
            return out + ["frame state chain loops"]
        seen.add(id(st))
        if st.pc < 0:
            out.append(f"frame state at negative pc {st.pc}")
        elif st.code is not None:
            ops = pcs_of(st.code)
            if st.pc not in ops:
                out.append(f"frame state pc {st.pc} {'of an inlined frame ' if depth else ''}is not an instruction of {st.code.name}")
            elif depth and not OPCODES[ops[st.pc]].name.startswith(("CALL", "SUPER_CALL")):
                out.append(f"inlined frame's caller state at pc {st.pc} is not a call ({OPCODES[ops[st.pc]].name})")
        if st.parent is not None and st.code is not None and st.parent.code is None:
            out.append("an inlined frame state's caller has no code object")
        st = st.parent
        depth += 1
    return out


# Ops that always produce a value.
_VALUE_OPS = frozenset({s.ir for s in OPS.values() if s.ir and s.result != "none" and s.kind not in ("jump", "branch", "return", "throw")} | {"phi", "iter_done", "truthy", "caught", "guard", "virtual"})
