"""On-stack replacement entries inside the function they enter (docs/native.md, "Compile time").

An OSR entry at a loop header h (engine.py installs it as the op at h's
pc) was a copy of every block reachable from h (emit.py `emit_osr`): the
code LLVM compiled for a function with a loop doubled (Mandelbrot,
Sieve, NBody's `advance`: 40-50% of their compile time was the copy).

When the blocks reachable from h are entered through h only (a
*single-entry region*: a loop that is no inner loop, with everything
after it), the function itself takes the entry instead. It gets two more
parameters, `i64 %osr` (0 for a call; the pc of the header to enter) and
`i64* %oargs` (the words of the header's frame state, as the copy took
them); its entry block switches on %osr to one block per header that
loads the words and jumps to h. Every other caller passes 0 and null.

A value defined before the region and used inside it is then not defined
on every path to its uses: inside the region, a use is renamed to a phi
at h, `%h<label>.<id>`, which takes the value itself from h's
predecessors outside the region, the phi along back edges, and the word
from the OSR block (a value that only exit records name and no slot
holds gets 0: its slot is dead there, as the copy's dummy). Regions
are ordered by inclusion (if h2 is reachable from h1, every block
reachable from h2 is; otherwise a block both reach would have a
predecessor outside one of them), so a use is renamed to the phi of the
innermost region that contains it and not the value's definition.

The header's own phis get the word of their slot from the OSR block
(undef when no slot holds them, as in the copy). A region whose code
names a value defined before it that no slot holds cannot be entered
(`Missing`: emit_module emits the function again without it, and that
header gets a copy, or no entry, as before). A header whose region has
other entries keeps the copy (emit_osr).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...ir.nodes import Block, Function, Instr
from .deopt import ExitState, exit_state, start_state, word_slots
from .select import NotEligible


class Missing(NotEligible):
    """A region's code names a value defined before it that no slot of the header's state holds."""

    def __init__(self, h: Block, v: Instr) -> None:
        super().__init__(f"no OSR entry at pc {h.pc}: v{v.id} is defined before the loop and held by no slot")
        self.h = h


@dataclass(eq=False)
class Region:
    """The blocks reachable from loop header h, entered through h only."""

    h: Block
    blocks: set[Block]
    es: ExitState  # the header's frame state: the words the entry takes (es.osr)
    renamed: dict[Instr, bool] = field(default_factory=dict)  # value defined before -> named by code (not only by exit records)


def reach(h: Block) -> set[Block]:
    seen = {h}
    todo = [h]
    while todo:
        b = todo.pop()
        for t in b.succs:
            if t not in seen:
                seen.add(t)
                todo.append(t)
    return seen


def regions(fn: Function, types: dict, headers: set, skip: set) -> list[Region]:
    """The loop headers of fn that get an entry inside fn, outermost first
    (`skip`: headers a first attempt found Missing values for)."""
    defined = set(fn.values())
    out: list[Region] = []
    for h in sorted(headers, key=lambda b: b.pc if b.pc is not None else -1):
        if not h.pc or h in skip:  # (pc 0 is the function's entry op; None: no bytecode pc)
            continue
        blocks = reach(h)
        if fn.entry in blocks or any(p not in blocks for b in blocks if b is not h for p in b.preds):
            continue
        if any(b.catch_preds for b in blocks) or any(len(r.blocks) == len(blocks) for r in out):
            continue
        try:
            es = exit_state(start_state(fn, h.pc, h), types, reason="osr", defined=defined)
        except NotEligible:
            continue
        inside = {v for b in blocks for v in b.phis + b.instrs}
        if any(types[v] == "it" for v in es.values) or any(v in inside and v not in h.phis for v in es.values):
            continue
        out.append(Region(h, blocks, es))
    out.sort(key=lambda r: -len(r.blocks))
    return out


class Merged:
    """The OSR entries of one function (its _FnEmitter holds it as `merged`)."""

    def __init__(self, fn: Function, regs: list[Region]) -> None:
        self.regions = regs
        self.where: dict[Instr, Block] = {v: b for b in fn.blocks for v in b.phis + b.instrs}
        # Headers whose entry checks (loopguards.py) the OSR path makes too:
        # its block then ends at `osrgo<pc>`, the header phis' predecessor.
        self.checked: set[Block] = set()
        # Field reads hoist.py made at a region header's preheader -> their
        # twins on its OSR path (emit.py `osr_checks`), whose values the
        # header's renamed phis take from that path.
        self.made: dict[Instr, Instr] = {}

    def into(self, h: Block) -> str:
        """The label the OSR path into header h jumps to h from."""
        return f"osrgo{h.pc}" if h in self.checked else f"osr{h.pc}"

    def name(self, v: Instr, b: Block | None, in_exit: bool) -> str | None:
        """The name of v used in block b: a region's phi, or None (v itself)."""
        if b is None:
            return None
        d = self.where.get(v)  # (None: a parameter, defined before every region)
        for r in reversed(self.regions):
            if b in r.blocks and d not in r.blocks:
                r.renamed[v] = r.renamed.get(v, False) or not in_exit
                return f"%h{r.h.label}.{v.id}"
        return None

    def dispatch(self) -> list[str]:
        """The entry block's switch to the OSR blocks (then label `start`)."""
        cases = " ".join(f"i64 {r.h.pc}, label %osr{r.h.pc}" for r in self.regions)
        return [f"  switch i64 %osr, label %start [ {cases} ]", "start:"]

    def phis(self, em: Any, exits: dict[Block, str], lltype: dict) -> dict[Block, list[str]]:
        """Every block's phi lines: its own (incoming values named in their
        predecessor) and, at a header, the renamed values' phis. Computed
        until no new value is renamed (a phi operand may be one)."""
        ty = em.ty
        while True:
            sizes = [len(r.renamed) for r in self.regions]
            out: dict[Block, list[str]] = {}
            for b in ty.fn.blocks:
                lines = []
                r = next((r for r in self.regions if r.h is b), None)
                for p in b.phis:
                    inc = []
                    for k, pred in enumerate(b.preds):
                        em.block = pred
                        inc.append(f"[ {em.phi_operand(p, k, exits[pred])}, %{exits[pred]} ]")
                    if r is not None:
                        inc.append(f"[ %o{b.pc}.{p.id}, %{self.into(b)} ]" if p in self.given(r) else f"[ undef, %{self.into(b)} ]")
                    lines.append(f"  %v{p.id} = phi {lltype[ty.types[p]]} {', '.join(inc)}")
                if r is not None:
                    given = self.given(r)
                    for v in sorted(r.renamed, key=lambda v: v.id):
                        m = ty.types[v]
                        inc = []
                        em.in_exit = not r.renamed[v]  # (a value only exit records name stays so along the back edges)
                        for pred in b.preds:
                            em.block = pred
                            inc.append(f"[ {em.val(v)}, %{exits[pred]} ]")
                        em.in_exit = False
                        if v in given:
                            inc.append(f"[ %o{b.pc}.{v.id}, %{self.into(b)} ]")
                        elif v in self.made:
                            inc.append(f"[ %v{self.made[v].id}, %{self.into(b)} ]")
                        elif r.renamed[v]:
                            raise Missing(b, v)
                        else:
                            inc.append(f"[ {'0.0' if m == 'f' else 'false' if lltype[m] == 'i1' else '0'}, %{self.into(b)} ]")
                        lines.append(f"  %h{b.label}.{v.id} = phi {lltype[m]} {', '.join(inc)}")
                out[b] = lines
            em.block = None
            if sizes == [len(r.renamed) for r in self.regions]:
                return out

    def given(self, r: Region) -> dict[Instr, list[int]]:
        """The values of r's header state the entry loads: each (once) with
        the L indexes of its slots: the header's phis and the renamed values."""
        return {v: js for v, js in word_slots(r.es).items() if v in r.h.phis or v in r.renamed}  # (AGAIN slots too: deopt.py)

    def osr_blocks(self, em: Any, lltype: dict) -> list[str]:
        """One block per header: its words loaded from %oargs (their order
        is es.osr's, which engine.py fills), then its loop's entry checks
        when it has a plan (`checked`: emit.py `osr_checks`), then the jump
        to the header."""
        out: list[str] = []
        for r in self.regions:
            pc = r.h.pc
            r.es.osr = []
            out.append(f"osr{pc}:")
            for k, (v, js) in enumerate(sorted(self.given(r).items(), key=lambda x: x[0].id)):
                m = em.ty.types[v]
                r.es.osr.append((m, js))
                out.append(f"  %oa{pc}.{k} = getelementptr i64, i64* %oargs, i64 {k}")
                if lltype[m] == "i64":
                    out.append(f"  %o{pc}.{v.id} = load i64, i64* %oa{pc}.{k}")
                else:
                    out.append(f"  %ow{pc}.{k} = load i64, i64* %oa{pc}.{k}")
                    out.append(f"  %o{pc}.{v.id} = {'bitcast i64' if m == 'f' else 'trunc i64'} %ow{pc}.{k} to {lltype[m]}")
            if r.h in self.checked:  # (entry checks or hoisted reads: emit.py `osr_checks`)
                em.osr_checks(r, {v: f"%o{pc}.{v.id}" for v in self.given(r)}, out)
                out += [f"  br label %osrgo{pc}", f"osrgo{pc}:"]
            out.append(f"  br label %B{r.h.label}")
        return out


def wrapper(pc: int, fname: str, root: Any, lltype: dict) -> str:
    """`i32 @osr<pc>(ctx, args, out)` calling the function itself at mode pc
    (its parameters undef: the region names none of them but through the words)."""
    params = "".join(f", {lltype[m]} undef" for m in root.params)
    return wrapper_text(pc, f"@{fname}(i64* %ctx, i64 %depth, i64 {pc}, i64* %args{params})", lltype[root.ret], root.ret)


def result_lines(ret: str) -> list[str]:
    """The end of an exported entry (@entry, @osr<pc>): the result %r of
    machine type `ret` stored in %out as a word, the fail flag %s returned."""
    conv = {"i": None, "f": "bitcast double %r to i64", "b": "zext i1 %r to i64", "n": "zext i1 %r to i64"}.get(ret)  # (None: a word)
    w = ["  store i64 %r, i64* %out"] if conv is None else [f"  %rw = {conv}", "  store i64 %rw, i64* %out"]
    return w + ["  ret i32 %s", "}"]


def wrapper_text(pc: int, call: str, rt: str, ret: str) -> str:
    """`i32 @osr<pc>(ctx, args, out)`, as @entry: `call` (a callee and its
    arguments, returning `{rt, i1}`) run with the words of the header's state
    in args; the result (machine type `ret`) stored in out as a word, the
    fail flag returned. Both kinds of OSR entry (a copy of the loop, emit.py,
    or the function itself entered at the header, here) are called this way."""
    w = [
        f"define i32 @osr{pc}(i64* %ctx, i64* %args, i64* %out) {{",
        "entry:",
        "  %dp = getelementptr i64, i64* %ctx, i64 1",
        "  %depth = load i64, i64* %dp",
        f"  %c = call {{{rt}, i1}} {call}",
        f"  %r = extractvalue {{{rt}, i1}} %c, 0",
        f"  %b = extractvalue {{{rt}, i1}} %c, 1",
        "  %s = zext i1 %b to i32",
    ]
    w += result_lines(ret)
    return "\n".join(w) + "\n"
