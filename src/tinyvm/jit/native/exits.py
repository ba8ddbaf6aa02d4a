"""The exit blocks of a function: deopt records written with shared stores (docs/native.md, "Compile time").

Every failure exit writes a record into the deopt buffer (deopt.py): its
exit id, then the words of its frame state, at the cursor ctx[3], which it
then advances. emit.py's `exit_to` already gives exits whose records hold
the same words one block (the id through a phi). The stores were still
1-2 ms of the code generator's time (a Mandelbrot loop 1.3 ms, Ball.bounce
~2: measured by deleting them), and records of one function mostly start
alike: the parameters and the outer loops' variables come first.

So the records' word lists form a trie: each record's own block (`X<k>`,
the one exit_to branches to) stores the words its record does not share
with another's, then branches to the block of the longest prefix it
shares, which stores that prefix's words after the next shorter shared
prefix's, and so on to the root block `XR`, which writes the exit id and
advances the cursor by the record's length; both travel through phis.
Word j is always at offset 8(j+1), so a store means the same in every
record passing through its block; a word stored in a shared block is an
SSA value every exit below it names at that position, so it dominates
every branch there, and the block.
"""

from __future__ import annotations

from typing import Any

from . import fields


class _Node:
    __slots__ = ("children", "depth", "keys", "label", "parent", "preds", "rep")

    def __init__(self, depth: int, rep: tuple) -> None:
        self.depth = depth
        self.rep = rep  # the words of a record through here (all share their first `depth`)
        self.children: dict[tuple, _Node] = {}
        self.keys: list[int] = []  # exit blocks whose words end here
        self.label = ""  # its block's, when it has one
        self.parent: _Node | None = None  # the nearest ancestor with a block
        self.preds: list[tuple[str, str, str]] = []  # (block, id, length) branching here


def exit_blocks(em: Any) -> list[str]:
    """The exit blocks of emit._FnEmitter em (its `exits`: (words, refund)
    -> the branches to it, (block, exit id) each), ending at `%bail`."""
    exits = list(em.exits.items())
    root = _Node(0, ())
    ends = []  # per exit block: the trie node of its words
    for (words, _), _preds in exits:
        n = root
        for w in words:
            c = n.children.get(w)
            if c is None:
                c = n.children[w] = _Node(n.depth + 1, words)
            n = c
        n.keys.append(len(ends))
        ends.append(n)
    # A node gets a block where two records part (or one ends where another
    # goes on, or two end alike: their refunds differ); the root always.
    blocks: list[_Node] = []
    stack: list[tuple[_Node, _Node | None]] = [(root, None)]
    while stack:
        n, up = stack.pop()
        n.parent = up
        if n is root or len(n.keys) + len(n.children) > 1:
            n.label = "XR" if n is root else f"XS{len(blocks)}"
            blocks.append(n)
            up = n
        stack += [(c, up) for c in n.children.values()]
    X: list[str] = []

    def stores(words: tuple, lo: int, hi: int, tag: str) -> None:
        # words[lo:hi] at their offsets (cur unchanged until XR)
        if lo >= hi:
            return
        X.append(f"  %xc{tag} = load i64, i64* %cur")
        X.append(f"  %xp{tag} = inttoptr i64 %xc{tag} to i64*")
        for j in range(lo, hi):
            w, m, pos = words[j]
            if pos:
                w = fields.iter_pos(em, w, X)
            if m in ("f", "b", "n"):  # (ints and arrays, an Array's address, are words already)
                w2 = f"%xw{tag}.{j}"
                X.append(f"  {w2} = {'bitcast double' if m == 'f' else 'zext i1'} {w} to i64")
                w = w2
            X.append(f"  %xq{tag}.{j} = getelementptr i64, i64* %xp{tag}, i64 {j + 1}")
            X.append(f"  store i64 {w}, i64* %xq{tag}.{j}")

    # Each record's own block: its id, its fuel refund, its words past the
    # shared prefix; then on to the prefix's block.
    for k, ((words, refund), preds) in enumerate(exits):
        n = ends[k]
        up = n if n.label else n.parent
        assert up is not None
        X.append(f"X{k}:")
        ids = {sid for _, sid in preds}
        if len(ids) == 1:
            xi = str(preds[0][1])
        else:
            xi = f"%xi{k}"
            X.append(f"  {xi} = phi i64 " + ", ".join(f"[ {sid}, %{lab} ]" for lab, sid in preds))
        if refund:
            X.append(f"  %xf{k} = load i64, i64* %fuel")
            X.append(f"  %xg{k} = add i64 %xf{k}, {refund}")
            X.append(f"  store i64 %xg{k}, i64* %fuel")
        stores(words, up.depth, len(words), str(k))
        X.append(f"  br label %{up.label}")
        up.preds.append((f"X{k}", xi, str(1 + len(words))))
    # The shared blocks, deepest first (a block's predecessors precede it).
    for n in sorted(blocks, key=lambda b: -b.depth):
        X.append(f"{n.label}:")
        if len(n.preds) == 1:
            _, xi, xl = n.preds[0]
        else:
            xi, xl = f"%{n.label}.i", f"%{n.label}.l"
            X.append(f"  {xi} = phi i64 " + ", ".join(f"[ {i}, %{b} ]" for b, i, _ in n.preds))
            X.append(f"  {xl} = phi i64 " + ", ".join(f"[ {ln}, %{b} ]" for b, _, ln in n.preds))
        if n is root:
            X.append("  %xrc = load i64, i64* %cur")
            X.append("  %xrp = inttoptr i64 %xrc to i64*")
            X.append(f"  store i64 {xi}, i64* %xrp")
            X.append(f"  %xro = shl i64 {xl}, 3")
            X.append("  %xrn = add i64 %xrc, %xro")
            X.append("  store i64 %xrn, i64* %cur")
            X.append("  br label %bail")
            continue
        up = n.parent
        assert up is not None
        stores(n.rep, up.depth, n.depth, n.label)
        X.append(f"  br label %{up.label}")
        up.preds.append((n.label, xi, xl))
    return X
