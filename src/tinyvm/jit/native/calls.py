"""Cheaper native calls: the countdown in a register for loop-free functions, and self-recursion inlined one level.

Every native function polls (engine.py `_poll`: deadlines, interrupts,
another fiber waiting, a debugger) when the countdown, ctx[0], runs out, so
that neither loops nor recursion run unbounded. A function with a loop
(emit.py `tick`) decrements ctx[0] in memory at its entry and loop headers.
Done at every call of a small recursive function, that load and store is a
dependency chain through memory from each call to the next (a store then a
load of the same word: ~5 cycles of store forwarding): fib(30) spent 5.3 ms
with it and 2.8 ms without ("Numbers" in docs/native.md).

So a *loop-free* function whose result fits a register (`in_register`:
int, float, bool, an address) takes the countdown as an argument and gives
it back with its result:

    define internal {<result>, i64} @fK(i64* %ctx, i64 %depth, i64 %cd, <params>)

returning {result, countdown}, or {0, -1}: it left (a countdown is never
negative otherwise, so the sign is the fail flag; the result and the
countdown come back in two registers, rax and rdx, as before the result and
the flag). Inside the function the countdown is an SSA value (`self.cd` of
the emitter), with a phi where blocks merge (`block_phis`: the function has
no loop, so its blocks form a DAG and each block's value is known from its
predecessors').

Where it ticks: at each native *call* such a function makes (`call_tick`:
decrement, and at 0 the poll, which may leave to the frame state of the
call, as the depth check does: the interpreter makes the call again), not
at its entry. Every cycle of calls still ticks once per call (a call from
a function with loops into one of these enters a function whose own calls
tick, or which makes none), and an invocation that makes no call and has
no loop ends in bounded time: the leaves of a recursion (half of fib's
calls) neither tick nor save registers (their path is `n < 2; return`).

At the boundaries the countdown goes through ctx[0] as before: @entry loads
it and stores back what comes back, a function with loops calling one of
these passes ctx[0] and stores the result, and one of these calling a
function with loops (`memory_call`) stores its value before and loads it
after. Functions that construct.py calls (`$fields`, `init`: it emits those
calls itself) and functions that construct objects keep the memory
convention, as do OSR entries and their copies (they have loops).

And one level of a small self-recursion inlined (`self_inline`): such a
function calls a copy of itself that LLVM's always-inline pass folds into
it, so half of fib's calls are no longer machine calls (same code, same
exits: exact).
"""

from __future__ import annotations

from typing import Any

from ...ir.nodes import Block, Instr
from .deopt import exit_state

IN_REGISTER = frozenset(("i64", "double", "i1"))  # (LLVM result types returned with the countdown in two registers)


def in_register(group: list, names: dict, lltype: dict, has_loops: Any) -> set[str]:
    """The LLVM names of the functions of `group` that take the countdown
    in a register (see above)."""
    made: set = set()  # (codes construct.py calls: `init` and `$fields`)
    for ty in group:
        for plan in ty.ctors.values():
            if plan is None:  # (a construction native code does not make: a call out)
                continue
            init, fis = plan[1], plan[3]
            if init is not None:
                made.add(init.code)
            made.update(f.code for f in fis)
    out = set()
    for ty in group:
        if ty.code in made or ty.ctors or lltype[ty.ret] not in IN_REGISTER or has_loops(ty.fn):
            continue
        out.add(names[ty.code])
    return out


def result_type(em: Any, rt: str) -> str:
    """The LLVM result type of em's function."""
    return f"{{{rt}, i64}}" if em.cd is not None else f"{{{rt}, i1}}"


def block_start(em: Any, b: Block) -> None:
    """The countdown at the start of IR block b: the parameter in the
    function's entry block, else the phi `block_phis` writes."""
    if em.cd is None:
        return
    em.cd = "%cd" if b is em.ty.fn.entry and not b.preds else f"%cdin.{b.label}"


def block_end(em: Any, b: Block) -> None:
    if em.cd is not None:
        em.cd_out[b] = em.cd


def block_phis(em: Any, b: Block, exits: dict) -> list[str]:
    """The countdown's phi at the start of block b (after its other phis)."""
    if em.cd is None or (b is em.ty.fn.entry and not b.preds):
        return []
    inc = ", ".join(f"[ {em.cd_out[p]}, %{exits[p]} ]" for p in b.preds)
    return [f"  %cdin.{b.label} = phi i64 {inc}"]


def ret(em: Any, rt: str, value: str) -> list[str]:
    """A return of `value` with the countdown."""
    x, y = em.tmp("rv"), em.tmp("rv")
    return [
        f"  {x} = insertvalue {{{rt}, i64}} undef, {rt} {value}, 0",
        f"  {y} = insertvalue {{{rt}, i64}} {x}, i64 {em.cd}, 1",
        f"  ret {{{rt}, i64}} {y}",
    ]


def value_zero(em: Any) -> str:
    from .emit import _ZERO

    return _ZERO[em.ty.ret]


def bail(em: Any, rt: str) -> str:
    """The return of the shared failure block."""
    if em.cd is None:
        return f"  ret {{{rt}, i1}} {{{rt} {value_zero(em)}, i1 true}}"
    return f"  ret {{{rt}, i64}} {{{rt} {value_zero(em)}, i64 -1}}"


def call_tick(em: Any, i: Instr) -> None:
    """Before native call i of a register-convention function: decrement
    the countdown; at 0 ask the poll callback, and leave (to the frame
    state of the call: the interpreter makes it) when it says stop."""
    L = em.lines
    c1, z = em.tmp("cd"), em.tmp("cz")
    L.append(f"  {c1} = sub i64 {em.cd}, 1")
    L.append(f"  {z} = icmp sle i64 {c1}, 0")
    poll, cont = em.tmp("poll")[1:], em.tmp("go")[1:]
    pre = em.cur
    L.append(f"  br i1 {z}, label %{poll}, label %{cont}, !prof !0")
    em.label(poll)
    npv = em.poll()
    em.exit_if_stop(npv, exit_state(i.state, em.ty.types, reason="poll at a call"))
    back = em.cur
    L.append(f"  br label %{cont}")
    em.label(cont)
    c2 = em.tmp("cd")
    L.append(f"  {c2} = phi i64 [ {c1}, %{pre} ], [ {npv}, %{back} ]")
    em.cd = c2


def call(em: Any, fname: str, rt: str, head: tuple[str, str]) -> tuple[str, str, str, list[str]]:
    """The call of @fname (`head`: its arguments before the countdown's
    place and after it) in the callee's convention: (the call's result
    aggregate, its LLVM type, its fail flag, the lines to emit after the
    fail exit)."""
    L = em.lines
    s, z = em.tmp("st"), em.tmp()
    if fname in em.reg:
        cd = em.cd
        if cd is None:  # (a function with loops calling one of these: ctx[0] in and out)
            cd = em.tmp("cd")
            L.append(f"  {cd} = load i64, i64* %ctx")
        L.append(f"  {s} = call {{{rt}, i64}} @{fname}({head[0]}, i64 {cd}{head[1]})")
        c2 = em.tmp("cd")
        L.append(f"  {c2} = extractvalue {{{rt}, i64}} {s}, 1")
        L.append(f"  {z} = icmp slt i64 {c2}, 0")
        agg = f"{{{rt}, i64}}"
        if em.cd is None:
            return s, agg, z, [f"  store i64 {c2}, i64* %ctx"]
        em.cd = c2
        return s, agg, z, []
    # (a function with loops, ctx[0] its countdown)
    if em.cd is not None:
        L.append(f"  store i64 {em.cd}, i64* %ctx")
    L.append(f"  {s} = call {{{rt}, i1}} @{fname}({head[0]}{head[1]})")
    L.append(f"  {z} = extractvalue {{{rt}, i1}} {s}, 1")
    agg = f"{{{rt}, i1}}"
    if em.cd is None:
        return s, agg, z, []
    c2 = em.tmp("cd")
    em.cd = c2
    return s, agg, z, [f"  {c2} = load i64, i64* %ctx"]


def entry_call(reg: bool, rt: str, fname: str, head: str, rest: str) -> list[str]:
    """@entry's call of the root (its result in %r, the fail flag in %b)."""
    if not reg:
        return [
            f"  %c = call {{{rt}, i1}} @{fname}({head}{rest})",
            f"  %r = extractvalue {{{rt}, i1}} %c, 0",
            f"  %b = extractvalue {{{rt}, i1}} %c, 1",
        ]
    return [
        "  %cd0 = load i64, i64* %ctx",
        f"  %c = call {{{rt}, i64}} @{fname}({head}, i64 %cd0{rest})",
        f"  %r = extractvalue {{{rt}, i64}} %c, 0",
        f"  %cd1 = extractvalue {{{rt}, i64}} %c, 1",
        "  %b = icmp slt i64 %cd1, 0",
        "  %cd2 = select i1 %b, i64 %cd0, i64 %cd1",  # (left: the countdown as it was; engine.py counts ticks by it)
        "  store i64 %cd2, i64* %ctx",
    ]


# The largest function (lines of its LLVM IR) self_inline doubles: fib's is
# 128. Doubling a function costs the code generator about as much again
# (fib: +3-6 ms on the loaded machine, "Numbers" in docs/native.md), so only
# the smallest recursive functions, where a call is most of the work. 0: off.
SELF_INLINE_LINES = 160


def self_inline(group: list, names: dict, reg: set[str], texts: list[str], limit: int = SELF_INLINE_LINES) -> list[str]:
    """The functions' LLVM IR texts (in group order), each small
    register-convention function that calls itself split in two: itself,
    its self-calls now calling a copy `@<name>r` marked `alwaysinline`, and
    that copy, which still calls the original. LLVM's always-inline pass
    folds the copy into the original, so one level of the recursion is
    inlined: half the calls of fib (3.25 -> 2.57 ms for fib(30)). Exact as
    it stands: the copy is the same code (the same exit ids and records,
    the same depth and countdown passed on), only no longer a separate
    frame of the machine. `limit`: the largest function (lines of LLVM IR)
    doubled so (compile time: SELF_INLINE_LINES)."""
    out = []
    for ty, text in zip(group, texts):
        name = names[ty.code]
        call = f"}} @{name}("
        head, nl, body = text.partition("\n")
        if name not in reg or call not in body or text.count("\n") > limit or not head.endswith(") {"):
            out.append(text)
            continue
        copy = head.replace(f" @{name}(", f" @{name}r(", 1)[: -len(" {")] + " alwaysinline {" + nl + body
        out.append(head + nl + body.replace(call, f"}} @{name}r(") + copy)
    return out
