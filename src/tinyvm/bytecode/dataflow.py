"""The verifier's type pass: the kind of value every stack slot and local holds.

The VM's instructions trust some of their operands without looking: LOAD_CELL
reads `.value` from whatever its local slot holds, FOR_ITER reads `.kind` from
the top of the stack, BUILD_STRING joins its operands as Python strings,
FOR_RANGE compares and increments its two locals as ints, MAKE_CLASS makes
methods of what it pops and calls a plain function's frame for `init`. Guest
values of unknown type never reach those places in compiled code, so the
interpreter stays fast; a `.tvm` file could put them there. This pass proves,
without running the code, that it cannot: like the JVM's type-checking
verifier, it runs a dataflow analysis over every path, giving each stack slot
and local an abstract *kind*, merging the kinds where paths join (and at
exception handlers, from every instruction they protect), until nothing
changes; then every instruction's operands have kinds it accepts.

Kinds are sets of value categories, as bit masks (the join is the union):

    INT    an int (a constant, FOR_RANGE's counter, an operand RANGE accepted)
    STR    a string (a constant, TO_STR's or BUILD_STRING's result)
    OTHER  any other guest value
    FN     a plain function made by MAKE_CLOSURE (a `Function`)
    FNX    an async or generator function made by MAKE_CLOSURE
    ITER   an iterator made by GET_ITER; not a guest value
    CELL   a cell made by MAKE_CELL; not a guest value

A guest value is `INT | STR | OTHER | FN | FNX` (GUEST): the result of a call,
a field, a global... is GUEST. Iterators and cells are the VM's own objects: an
instruction may move them (POP, DUP, DUP2, SWAP, STORE_LOCAL, LOAD_LOCAL) but
every other instruction that takes a value, and every place a value goes to
(globals, cells, fields, calls, returns), needs a guest value. The rules:

* LOAD_CELL, STORE_CELL: the local holds a cell; MAKE_CELL: it holds a guest
  value (never a cell of a cell); MAKE_CLOSURE: every local it captures holds a
  cell (upvalues of the running closure are cells by construction);
* GET_ITER makes an iterator; FOR_ITER needs one on top of the stack;
* FOR_RANGE: its two locals hold ints;
* BUILD_STRING: its operands are strings;
* MAKE_CLASS: its methods are functions made by MAKE_CLOSURE, and `init` and
  `$fields` plain ones (the VM enters them as ordinary frames);
* every other operand is a guest value.

FOR_RANGE's locals are ints because the compiler stores the two ends of the
range into them and then runs RANGE on the same values, which fails unless both
are ints. To see that, a stack entry also records which local it is equal to
(after DUP then STORE_LOCAL of the copy: `expr; DUP; STORE_LOCAL i`); RANGE
narrows those locals to INT. Any write to a local forgets the equalities with
it, and a join keeps only the equalities every incoming path has, so each is
true on every path.

Entries are ints: the mask in bits 0-6, SAME (the entry equals the one below
it: the copy DUP made) in bit 7, and the local it equals, plus one, from bit 8.
The stack is a persistent linked list, the locals a persistent vector (a store
copies one path of a small tree), the work list is taken in code order, and the
work is counted (`budget`), so the pass takes time about linear in the size of
the code, however many locals or nested loops it has: see check_kinds.

Locals start as the frame layout says: slot 0 the running function, the
parameters guest values, the other slots nil. A handler target starts with the
locals of every instruction its range protects (merged), the bottom `depth`
stack entries of theirs, and the error (a guest value). The depth pass
(verifier.py) has already proven the stack depths, so every pop here finds an
entry. Unreachable code is not checked: it never runs.
"""

from __future__ import annotations

from bisect import bisect_left
from heapq import heappop, heappush
from typing import Any, Callable

from .code import FLAG_ASYNC, FLAG_GENERATOR, Code
from .opcodes import BY_NAME, OPCODES

__all__ = ["check_kinds", "stack_kinds", "first_handlers", "budget", "describe"]

INT, STR, OTHER, FN, FNX, ITER, CELL = 1, 2, 4, 8, 16, 32, 64
GUEST = INT | STR | OTHER | FN | FNX
MASK = 127
SAME = 128
ALIAS = 8  # shift of the aliased local (+1)
FLAGS = ~MASK  # SAME and the alias

_NAMES = ((INT, "an int"), (STR, "a string"), (OTHER, "a value"), (FN, "a function"), (FNX, "an async or generator function"), (ITER, "an iterator"), (CELL, "a cell"))

# Opcodes with a rule of their own; the others pop guest values and push GUEST
# (or the kind in _RESULT).
_op = {name: info.code for name, info in BY_NAME.items()}
_POP, _DUP, _DUP2, _SWAP = _op["POP"], _op["DUP"], _op["DUP2"], _op["SWAP"]
_LOAD_LOCAL, _STORE_LOCAL = _op["LOAD_LOCAL"], _op["STORE_LOCAL"]
_LOAD_CELL, _STORE_CELL, _MAKE_CELL = _op["LOAD_CELL"], _op["STORE_CELL"], _op["MAKE_CELL"]
_LOAD_CONST = _op["LOAD_CONST"]
_GET_ITER, _FOR_ITER, _FOR_RANGE = _op["GET_ITER"], _op["FOR_ITER"], _op["FOR_RANGE"]
_RANGES = frozenset((_op["RANGE"], _op["RANGE_INCL"]))
_BUILD_STRING = _op["BUILD_STRING"]
_MAKE_CLOSURE, _MAKE_CLASS = _op["MAKE_CLOSURE"], _op["MAKE_CLASS"]
_SELECT = _op["SELECT"]
_RESULT = {
    _op["TO_STR"]: STR,
    _BUILD_STRING: STR,
    _op["LOAD_NIL"]: OTHER,
    _op["LOAD_TRUE"]: OTHER,
    _op["LOAD_FALSE"]: OTHER,
    _op["THIS_MODULE"]: OTHER,
    _op["BUILD_ARRAY"]: OTHER,
    _op["BUILD_MAP"]: OTHER,
    _op["BUILD_RECORD"]: OTHER,
    _op["RANGE"]: OTHER,
    _op["RANGE_INCL"]: OTHER,
    _op["MAKE_CLASS"]: OTHER,
}
# Issue 18, helper tljit: FORMAT makes a string (so that `-O`, which drops a
# TO_STR of a value the IR proves a string, keeps `"${x:>4}"` verifiable);
# BUILD_TUPLE a tuple and PAIRS an array.
_RESULT.update({_op["FORMAT"]: STR, _op["BUILD_TUPLE"]: OTHER, _op["PAIRS"]: OTHER})
_JUMP_KIND = "jump"
# Methods the VM enters as ordinary frames (vm/calls.py construct), so they
# must be plain functions.
_PLAIN_METHODS = frozenset(("init", "$fields"))


def describe(mask: int) -> str:
    """`an int or a cell` for a kind mask (in messages)."""
    mask &= MASK
    if mask & GUEST == GUEST:
        rest = [text for bit, text in _NAMES if mask & bit and not bit & GUEST]
        return " or ".join(["any value"] + rest)
    return " or ".join(text for bit, text in _NAMES if mask & bit) or "nothing"


def first_handlers(code: Code, starts: list[int]) -> dict[int, tuple[int, int]]:
    """pc -> (target, depth) of the handler the VM uses for an error at pc: the
    first entry of the table whose range holds pc (vm/calls.py _unwind).

    Handlers are taken in order, and each claims the instructions of its range
    that no earlier one claimed, skipping claimed runs through `nxt` (a
    union-find "next unclaimed" pointer), so overlapping tables stay near
    linear."""
    out: dict[int, tuple[int, int]] = {}
    n = len(starts)
    nxt = list(range(n + 1))

    def find(i: int) -> int:
        root = i
        while nxt[root] != root:
            root = nxt[root]
        while nxt[i] != root:
            nxt[i], i = root, nxt[i]
        return root

    for start, end, target, depth in code.handlers:
        i = find(bisect_left(starts, start))
        hi = bisect_left(starts, end)
        while i < hi:
            out[starts[i]] = (target, depth)
            nxt[i] = i + 1
            i = find(i + 1)
    return out


def _join(a: int, b: int) -> int:
    """The join of two stack entries: the union of the kinds, and the equalities
    both have."""
    if a == b:
        return a
    flags = a & FLAGS if a & FLAGS == b & FLAGS else 0
    return (a | b) & MASK | flags


# The abstract stack is a persistent linked list, so that a push or a pop costs
# the same whatever the depth and states share what they have in common: a
# cell is (entry, rest, depth, aliased), `aliased` counting the entries of the
# cell and below that record a local they equal; the empty stack is None.


_SAME_STACK: Any = object()  # "the taken branch has the fall-through stack"


def _push(rest: tuple | None, e: int) -> tuple:
    if rest is None:
        return (e, None, 1, 1 if e >> ALIAS else 0)
    return (e, rest, rest[2] + 1, rest[3] + (1 if e >> ALIAS else 0))


# The locals are a persistent vector: a tree of tuples, 32 entries a node
# (`_BITS`), every leaf at the same depth. A store copies one path (a few
# small tuples) whatever the number of locals, and states that share history
# share subtrees, so the join of two states walks only the subtrees in which
# they differ. (With flat tuples, a store cost a copy of every local: a
# function of 5 000 locals cost 25 million steps.) `shifts` gives, for each
# internal level from the root, how far an index is shifted to pick the child.
_BITS = 5
_WIDTH = 1 << _BITS
_LOW = _WIDTH - 1


def _shifts(n: int) -> tuple[int, ...]:
    levels = 0
    while _WIDTH ** (levels + 1) < n:
        levels += 1
    return tuple(_BITS * k for k in range(levels, 0, -1))


def _build(values: list[int], shifts: tuple[int, ...]) -> tuple:
    nodes = [tuple(values[i : i + _WIDTH]) for i in range(0, max(len(values), 1), _WIDTH)]
    for _ in shifts:
        nodes = [tuple(nodes[i : i + _WIDTH]) for i in range(0, len(nodes), _WIDTH)]
    return nodes[0]


def _get(tree: tuple, i: int, shifts: tuple[int, ...]) -> int:
    for shift in shifts:
        tree = tree[(i >> shift) & _LOW]
    return tree[i & _LOW]


def _set(tree: tuple, i: int, v: int, shifts: tuple[int, ...], level: int = 0) -> tuple:
    if level == len(shifts):
        j = i & _LOW
        return tree if tree[j] == v else tree[:j] + (v,) + tree[j + 1 :]
    k = (i >> shifts[level]) & _LOW
    child = _set(tree[k], i, v, shifts, level + 1)
    return tree if child is tree[k] else tree[:k] + (child,) + tree[k + 1 :]


def _join_locals(a: tuple, b: tuple, levels: int) -> tuple[tuple, int]:
    """(the join of two trees, the nodes visited); `a` itself when the join
    adds nothing to it."""
    if a is b:
        return a, 0
    if levels == 0:
        r = tuple(map(int.__or__, a, b))
        return (a if r == a else r), 1
    cost = 1
    out = []
    for x, y in zip(a, b):
        z, c = _join_locals(x, y, levels - 1)
        cost += c
        out.append(z)
    if all(z is x for z, x in zip(out, a)):
        return a, cost
    return tuple(out), cost


def check_kinds(code: Code, insns: dict, pops_of: dict[int, int], fail: Callable[[str, int], Exception]) -> dict[int, tuple[tuple, tuple | None]]:
    """Run the pass over `code`, whose instructions (`insns`: pc -> (opcode,
    operands)) and stack depths the verifier has checked; `pops_of[pc]` is how
    many values the instruction at pc pops. Raises fail(message, pc) on the
    first operand of a kind its instruction does not accept, or when the
    analysis would take more than `budget(code)` steps. Returns the state
    before every reachable pc (the IR builder reads the kinds: `stack_kinds`)."""
    nlocals = code.nlocals
    consts = code.consts
    names = code.local_names
    handler_of = first_handlers(code, sorted(insns)) if code.handlers else {}
    shifts = _shifts(nlocals)
    levels = len(shifts)
    locals0 = _build([GUEST] * (code.arity + 1) + [OTHER] * (nlocals - code.arity - 1), shifts)
    states: dict[int, tuple[tuple, tuple | None]] = {0: (locals0, None)}
    # The work list is a heap of pcs, lowest first: compiled code runs forward
    # and loops back to their start, so a loop's body is analysed once the
    # states flowing into its head are joined, and nested loops converge in a
    # few passes (a last-in-first-out list took time cubic in the nesting).
    work = [0]
    queued = {0}
    # Work done, in steps of about the cost of one instruction: instructions
    # visited, stack cells walked, locals copied (see budget()).
    steps = 0
    limit = budget(code)
    store_cost = levels + 1  # (the nodes a store copies)

    def local_name(i: int) -> str:
        return f"local {i} ({names[i]})" if 0 <= i < len(names) and names[i] else f"local {i}"

    def need(entry: int, allowed: int, what: str, pc: int) -> None:
        if entry & MASK & ~allowed:
            raise fail(f"{what} needs {describe(allowed)}, but it may be {describe(entry)}", pc)

    def merge(pc: int, locs: tuple, stack: tuple | None) -> None:
        nonlocal steps
        old = states.get(pc)
        if old is None:
            states[pc] = (locs, stack)
            if pc not in queued:
                queued.add(pc)
                heappush(work, pc)
            return
        ol, os = old
        nl, cost = _join_locals(ol, locs, levels)
        steps += cost
        ns = os
        if os is not stack:
            # Walk both stacks down to the part they share, joining entries.
            joined = []
            changed = False
            a, b = os, stack
            while a is not b:
                x = _join(a[0], b[0])
                changed = changed or x != a[0]
                joined.append(x)
                a, b = a[1], b[1]
            steps += len(joined)
            if changed:
                for x in reversed(joined):
                    a = _push(a, x)
                ns = a
        if nl != ol or ns is not os:
            states[pc] = (nl, ns)
            if pc not in queued:
                queued.add(pc)
                heappush(work, pc)

    def forget(stack: tuple | None, i: int) -> tuple | None:
        """`stack` without the entries' record of equality with local i (written)."""
        nonlocal steps
        if stack is None or not stack[3]:
            return stack
        tag = (i + 1) << ALIAS
        above = []
        cell = stack
        found = False
        while cell is not None and cell[3]:
            e = cell[0]
            if e & ~(MASK | SAME) == tag:
                e &= MASK | SAME
                found = True
            above.append(e)
            cell = cell[1]
        steps += len(above)
        if not found:
            return stack
        for e in reversed(above):
            cell = _push(cell, e)
        return cell

    def take(stack: tuple, n: int, allowed: int, what: str, pc: int) -> tuple[tuple | None, list[int]]:
        """Pop n entries, each of a kind in `allowed`: (the rest, the entries
        from the top down)."""
        nonlocal steps
        steps += n
        popped = []
        for _ in range(n):
            need(stack[0], allowed, what, pc)
            popped.append(stack[0])
            stack = stack[1]
        return stack, popped

    while work:
        pc = heappop(work)
        queued.discard(pc)
        steps += 1
        if steps > limit:
            raise fail(f"too complex to verify (the type analysis needs more than {limit} steps)", pc)
        locs, stack = states[pc]
        op, args = insns[pc]
        info = OPCODES[op]
        handler = handler_of.get(pc)
        if handler is not None:
            # An error here continues at the handler with these locals and the
            # bottom `depth` entries of the stack (the depth pass has proven
            # that the instruction leaves them), then the error.
            target, depth = handler
            cell = stack
            while cell is not None and cell[2] > depth:
                cell = cell[1]
                steps += 1
            merge(target, locs, _push(cell, GUEST))
        branch = _SAME_STACK  # the stack on the taken branch, when it differs
        if op == _LOAD_LOCAL:
            stack = _push(stack, _get(locs, args[0], shifts))
        elif op == _STORE_LOCAL:
            i = args[0]
            v = stack[0]
            stack = forget(stack[1], i)
            if v & SAME and stack is not None:
                # The copy DUP made is stored: the entry below equals local i now.
                stack = _push(stack[1], stack[0] & (MASK | SAME) | (i + 1) << ALIAS)
            steps += store_cost
            locs = _set(locs, i, v & MASK, shifts)
        elif op == _POP:
            stack = stack[1]
        elif op == _DUP:
            stack = _push(stack, stack[0] | SAME)
        elif op == _SWAP:
            top, below, rest = stack[0], stack[1][0], stack[1][1]
            stack = _push(_push(rest, top & ~SAME), below & ~SAME)
        elif op == _DUP2:
            top, below = stack[0], stack[1][0]
            stack = _push(_push(stack, below & ~SAME), top & ~SAME)
        elif op == _LOAD_CONST:
            k = consts[args[0]]
            stack = _push(stack, INT if type(k) is int else STR if type(k) is str else OTHER)
        elif op == _LOAD_CELL:
            need(_get(locs, args[0], shifts), CELL, f"LOAD_CELL of {local_name(args[0])}", pc)
            stack = _push(stack, GUEST)
        elif op == _STORE_CELL:
            need(_get(locs, args[0], shifts), CELL, f"STORE_CELL into {local_name(args[0])}", pc)
            stack, _ = take(stack, 1, GUEST, "STORE_CELL", pc)
        elif op == _MAKE_CELL:
            i = args[0]
            need(_get(locs, i, shifts), GUEST, f"MAKE_CELL of {local_name(i)}", pc)
            stack = forget(stack, i)
            steps += store_cost
            locs = _set(locs, i, CELL, shifts)
        elif op == _FOR_ITER:
            need(stack[0], ITER, "FOR_ITER", pc)
            branch = stack[1]
            stack = _push(stack, GUEST)
        elif op == _FOR_RANGE:
            i = args[0]
            need(_get(locs, i, shifts), INT, f"FOR_RANGE counter {local_name(i)}", pc)
            need(_get(locs, i + 1, shifts), INT, f"FOR_RANGE bound {local_name(i + 1)}", pc)
            branch = stack
            stack = _push(forget(stack, i), INT)  # the counter is incremented
        elif op == _GET_ITER:
            stack, _ = take(stack, 1, GUEST, "GET_ITER", pc)
            stack = _push(stack, ITER)
        elif op in _RANGES:
            stack, ends = take(stack, 2, GUEST, info.name, pc)
            for e in ends:
                i = (e >> ALIAS) - 1
                if i >= 0:  # RANGE fails unless both ends are ints: so is this local
                    steps += store_cost
                    locs = _set(locs, i, INT, shifts)
            stack = _push(stack, OTHER)
        elif op == _BUILD_STRING:
            stack, _ = take(stack, args[0], STR, "BUILD_STRING", pc)
            stack = _push(stack, STR)
        elif op == _MAKE_CLOSURE:
            sub = consts[args[0]]
            for capture in sub.captures:
                if capture[0]:
                    need(_get(locs, capture[1], shifts), CELL, f"MAKE_CLOSURE capturing {local_name(capture[1])}", pc)
            stack = _push(stack, FNX if sub.flags & (FLAG_ASYNC | FLAG_GENERATOR) else FN)
        elif op == _MAKE_CLASS:
            methods = consts[args[0]].methods
            stack, entries = take(stack, args[1], FN | FNX, "MAKE_CLASS", pc)
            for name, e in zip(methods, reversed(entries)):
                if name in _PLAIN_METHODS:
                    need(e, FN, f"MAKE_CLASS method {name!r}", pc)
            stack, _ = take(stack, 1, GUEST, "MAKE_CLASS parent", pc)
            stack = _push(stack, OTHER)
        elif op == _SELECT:
            stack, _ = take(stack, args[0], GUEST, "SELECT", pc)
            stack = _push(_push(stack, INT), GUEST)
        else:
            # Every other instruction takes guest values and makes guest values.
            pops = pops_of[pc]
            if pops:
                stack, _ = take(stack, pops, GUEST, info.name, pc)
            result = _RESULT.get(op, GUEST)
            for _ in range(info.pushes):
                stack = _push(stack, result)
        if not info.terminal:
            merge(pc + info.size, locs, stack)
        if info.branch is not None:
            # (Conditional jumps pop the same on both paths.)
            merge(args[info.operands.index(_JUMP_KIND)], locs, stack if branch is _SAME_STACK else branch)
    return states


def stack_kinds(state: tuple[tuple, tuple | None]) -> list[int]:
    """The kind masks of a state's stack entries, bottom first (flags dropped)."""
    out = []
    cell = state[1]
    while cell is not None:
        out.append(cell[0] & MASK)
        cell = cell[1]
    out.reverse()
    return out


def budget(code: Code) -> int:
    """How many steps the analysis of `code` may take. Compiled code needs a
    few per instruction word (about 10 for 190 nested loops, the deepest the
    TinyLang parser allows; 2 for a function of 5 000 locals); pathological
    code (a deep stack walked again and again) would take time quadratic in
    its size, so beyond a bound linear in the size it is rejected as too
    complex: verification time stays linear in the size of the file."""
    return 32 * len(code.code) + (1 << 16)
