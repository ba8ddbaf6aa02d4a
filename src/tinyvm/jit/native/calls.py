"""Cheaper native calls: the budget (countdown and native depth) in a register for loop-free functions, and self-recursion inlined one level.

Every native function polls (engine.py `_poll`: deadlines, interrupts,
another fiber waiting, a debugger) when the countdown runs out, so that
neither loops nor recursion run unbounded, and leaves at a call when the
native depth is used up (the interpreter makes the call). A function with a
loop (emit.py `tick`) decrements the countdown, ctx[0], at its entry and
loop headers (in a register between its calls and returns: countdown.py),
and takes the depth left in a register (`%depth`).
Done at every call of a small recursive function, that load and store is a
dependency chain through memory from each call to the next (a store then a
load of the same word: ~5 cycles of store forwarding): fib(30) spent 5.3 ms
with it and 2.8 ms without ("Numbers" in docs/native.md).

So a *loop-free* function whose result fits a register (`in_register`:
int, float, bool, an address) takes one number for both limits, the
*budget*, min(countdown, depth left), as an argument and gives back what is
left with its result:

    define internal {<result>, i64} @fK(i64* %ctx, i64 %cd, <params>)

returning {result, budget}, or {0, -1}: it left (a budget is never negative
otherwise, so the sign is the fail flag; the result and the budget come back
in two registers, rax and rdx). Inside the function the budget is an SSA
value (`self.cd` of the emitter), with a phi where blocks merge
(`block_phis`: the function has no loop, so its blocks form a DAG and each
block's value is known from its predecessors').

Where it ticks: at each native *call* such a function makes (`call_tick`:
`dec; jle`), not at its entry. What the register does not hold is in
memory: ctx[0] keeps the rest of the countdown (countdown = ctx[0] +
budget) and ctx[STACK] a stack limit. At 0, `tvm.budget` (out of line, one per
process, called through ctx[BUDGET]) asks the poll when the countdown is out, measures the depth left
for the callee by the stack pointer (`room`, a lower bound: see `levels`
and docs/native.md "The budget"), leaves to the frame state of the call
when either is used up (the interpreter makes the call again), and else
returns the new budget. Every cycle of calls still ticks once per call (a
call from a function with loops into one of these enters a function whose
own calls tick, or which makes none), and an invocation that makes no call
and has no loop ends in bounded time: the leaves of a recursion (half of
fib's calls) neither tick nor read memory (their path is `n < 2; return`).

At the boundaries: @entry (and an OSR entry) sets the stack limit from the
exact depth, and passes min(ctx[0], depth), the rest in ctx[0]; a function
with loops calling one of these does the same with its exact depth (to one
that calls nothing, `leaves`, it passes 0 and touches no memory); one of
these calling a function with loops passes the depth measured by the
stack, stores the countdown into ctx[0] before and takes the new budget
after. Functions that construct.py calls (`$fields`, `init`: it emits those
calls itself, after `tighten`) and functions that construct objects keep
the memory convention, as do OSR entries and their copies (they have loops).

And one level of a small self-recursion inlined (`self_inline`): such a
function calls a copy of itself that LLVM's always-inline pass folds into
it, so half of fib's calls are no longer machine calls (same code, same
exits: exact); the copy's calls test the base case themselves (peel.py).
"""

from __future__ import annotations

from typing import Any

from ...ir.nodes import Block, Instr
from . import polls
from .deopt import exit_state
from .peel import peeled

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


def leaves(group: list, names: dict, reg: set[str]) -> set[str]:
    """The register-convention functions of `group` that call nothing
    (no call of any kind in their IR: `array.len()` counts too, to be
    safe; but `abs` and `sqrt` of scalars, which native code computes
    inline, fieldtypes.is_native_builtin): they never spend or read the
    budget, only return it, so a function with loops calls them with a
    budget of 0 and leaves ctx[0] alone (`call`). (Bounce's
    `ball.bounce()`, which calls `abs`, took min(ctx[0], depth) out of the
    countdown and put it back at every ball.)"""
    from .fieldtypes import is_native_builtin

    return {names[ty.code] for ty in group if names[ty.code] in reg and not any("call" in x.op and not is_native_builtin(x, ty.types) for x in ty.fn.values())}


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


STACK = 18  # (ctx word: the stack limit of the native depth, scaled: `limit`)


def levels(names: dict) -> int:
    """G, an upper bound of the guest frames one machine frame of the
    module of `names` holds: LLVM inlines a function called from one place
    into its caller, and a small one in no cycle of calls at each of its
    call sites (inlining.py), so each function is at most once in a chain
    of inlined calls, and self_inline doubles one (its peeled base case,
    peel.py, is the guest frame of the call it makes, not one more); plus
    one, spare.

    The stack measure (`room`, `limit_lines`): every machine frame that
    calls keeps its stack pointer 16-aligned at its calls (the x86-64 ABI;
    no argument is pushed there), so a frame m levels of machine frames
    below the one that set the limit (stack pointer S0, its first guest
    frame with R guest frames left) reads S <= S0 - 16m + 8 wherever it
    reads it (before its prologue too), holds at most G guest frames, and a
    callee of it has at least R - G - G*(S0 - S + 8)/16 guest frames left:
    (G*S - limit) >> 4 with limit = G*S0 - 16*(R - G) + 8*G."""
    return 2 * len(names) + 1


def stack_pointer(em: Any) -> str:
    """The machine stack pointer here (the native depth is measured by it)."""
    sp = em.tmp("sp")
    em.lines.append(f"  {sp} = call i64 @llvm.read_register.i64(metadata !1)")
    return sp


def limit_lines(g: int, room: str = "%depth") -> list[str]:
    """@entry's and the OSR entries' lines that set the stack limit
    (ctx[STACK]) for this frame (its stack pointer S, its first guest frame
    with `room` guest frames left, itself included): G*S - 16*(room - G) + 8*G
    (`levels`)."""
    return [
        "  %sp0 = call i64 @llvm.read_register.i64(metadata !1)",
        f"  %gs0 = mul i64 %sp0, {g}",
        f"  %gd0 = sub i64 {room}, {g}",
        "  %gd1 = shl i64 %gd0, 4",
        "  %gd2 = sub i64 %gs0, %gd1",
        f"  %lim0 = add i64 %gd2, {8 * g}",
        f"  %lp0 = getelementptr i64, i64* %ctx, i64 {STACK}",
        "  store i64 %lim0, i64* %lp0",
    ]


def with_limit(wrapper: str, g: int) -> str:
    """An OSR entry's text (osr.py `wrapper_text`) that sets the stack limit
    once it has loaded the depth."""
    at = "  %depth = load i64, i64* %dp\n"
    return wrapper.replace(at, at + "\n".join(limit_lines(g)) + "\n", 1)


def tighten(em: Any, below: int) -> None:
    """Before construct.py's calls of `$fields` and `init` (their frames
    count as nested, the deepest with `%d1 - below` guest frames left, though
    they are calls of this machine frame): the stack limit raised, if need
    be, to what a frame here with one more guest frame left would set, so
    that what they call is measured from there. (Raised only: a limit a
    deeper frame set stays valid, stricter, for its callers.)"""
    L, g = em.lines, levels(em.names)
    sp, a, b, b8, c, lp, old, lt, new = (em.tmp() for _ in range(9))
    L.append(f"  {sp} = call i64 @llvm.read_register.i64(metadata !1)")
    L.append(f"  {a} = mul i64 {sp}, {g}")
    L.append(f"  {b} = sub i64 %d1, {below + g - 1}")
    L.append(f"  {b8} = shl i64 {b}, 4")
    L.append(f"  {c}.0 = sub i64 {a}, {b8}")
    L.append(f"  {c} = add i64 {c}.0, {8 * g}")
    L.append(f"  {lp} = getelementptr i64, i64* %ctx, i64 {STACK}")
    L.append(f"  {old} = load i64, i64* {lp}")
    L.append(f"  {lt} = icmp slt i64 {old}, {c}")
    L.append(f"  {new} = select i1 {lt}, i64 {c}, i64 {old}")
    L.append(f"  store i64 {new}, i64* {lp}")


def room(em: Any) -> str:
    """A lower bound of the guest frames the callee of a call made here has
    left, itself included: (G*S - limit) >> 4 (<= 0: none; `levels`)."""
    L, g = em.lines, levels(em.names)
    sp, a, lp, lim, d, r = stack_pointer(em), em.tmp(), em.tmp(), em.tmp(), em.tmp(), em.tmp("room")
    L.append(f"  {a} = mul i64 {sp}, {g}")
    L.append(f"  {lp} = getelementptr i64, i64* %ctx, i64 {STACK}")
    L.append(f"  {lim} = load i64, i64* {lp}")
    L.append(f"  {d} = sub i64 {a}, {lim}")
    L.append(f"  {r} = ashr i64 {d}, 4")
    return r


BUDGET = 19  # (ctx word: the address of `tvm.budget`, the per-process slow path of call_tick)
BUDGET_VERSION = "budget 2"  # (Codegen.identity: bump when what tvm.budget or polls.py's tvm.poll, its module's, does; 2: tvm.poll)

_budget_made: list = []  # [(MCJIT engine, [(name, address)])] once compiled in this process (codegen.helper_module)


def budget_text() -> str:
    """`i64 tvm.budget(ctx, b, g)`, the slow path of call_tick, compiled once
    per process (`budget_address`) and called through ctx[BUDGET], not by
    name, so a module calling it keeps the small code model (nearcalls.py):
    each module's own `@budget` function cost the code generator ~0.3 ms
    (docs/native.md "Compile time", round 6). The countdown (ctx[0] + b) at
    0 asks the poll callback; then the native depth left for the callee,
    measured by the stack pointer with the module's G = `g` (`room`; the
    helper's own frame makes it smaller still: safe). Returns the new
    budget, min(countdown, room), its rest of the countdown in ctx[0]; or
    <= 0: leave (the poll said stop, or no depth is left)."""
    return f"""declare i64 @llvm.read_register.i64(metadata)

define i64 @tvm.budget(i64* %ctx, i64 %b1, i64 %g) noinline {{
entry:
  %x = load i64, i64* %ctx
  %c = add i64 %x, %b1
  %cz = icmp sle i64 %c, 0
  br i1 %cz, label %poll, label %have
poll:
  %pp = getelementptr i64, i64* %ctx, i64 2
  %pf = load i64, i64* %pp
  %fp = inttoptr i64 %pf to i64 ()*
  %npv = call i64 %fp()
  %nz = icmp sle i64 %npv, 0
  br i1 %nz, label %stop, label %have
stop:
  ret i64 0
have:
  %c2 = phi i64 [ %c, %entry ], [ %npv, %poll ]
  store i64 %c2, i64* %ctx
  %sp = call i64 @llvm.read_register.i64(metadata !1)
  %gs = mul i64 %sp, %g
  %lp = getelementptr i64, i64* %ctx, i64 {STACK}
  %lim = load i64, i64* %lp
  %d = sub i64 %gs, %lim
  %room = ashr i64 %d, 4
  %dz = icmp sle i64 %room, 0
  br i1 %dz, label %stop, label %ok
ok:
  %lt = icmp slt i64 %c2, %room
  %b2 = select i1 %lt, i64 %c2, i64 %room
  %rest = sub i64 %c2, %b2
  store i64 %rest, i64* %ctx
  ret i64 %b2
}}

!1 = !{{!"rsp"}}
"""


def uses_budget(text: str) -> bool:
    """Whether the module of LLVM IR `text` calls `tvm.budget` (call_tick)."""
    return "%bfn." in text


def budget_address(llvm: Any) -> int:
    """The address of `tvm.budget` in this process, compiled at the first
    call (codegen.helper_module: the worker and the VM thread may race). Per
    process, as outofline.py's `tvm.make`: the engine holding it lives as long."""
    from .codegen import helper_module

    return helper_module(llvm, _budget_made, budget_text() + polls.TEXT, ("tvm.budget", polls.NAME))[0][1]


def poll_address(llvm: Any) -> int:
    """The address of polls.py's `tvm.poll` in this process: compiled in
    one helper module with `tvm.budget` (`budget_address`), so that a process
    pays one such module for both."""
    budget_address(llvm)
    return _budget_made[0][1][1][1]


def call_tick(em: Any, i: Instr) -> None:
    """Before native call i of a register-convention function: take one
    from the budget; when it is used up, `@budget` (the poll, the depth by
    the stack, a new budget), and leave to the frame state of the call when
    it says so (the interpreter makes the call: it raises
    StackOverflowError where the guest limit is, or the poll's stop is
    honoured)."""
    L = em.lines
    b1, z = em.tmp("cd"), em.tmp("cz")
    L.append(f"  {b1} = sub i64 {em.cd}, 1")
    L.append(f"  {z} = icmp sle i64 {b1}, 0")
    slow, cont = em.tmp("slow")[1:], em.tmp("go")[1:]
    pre = em.cur
    L.append(f"  br i1 {z}, label %{slow}, label %{cont}, !prof !0")
    em.label(slow)
    b2, bp, bw, bf = em.tmp("cd"), em.tmp(), em.tmp(), em.tmp("bfn")
    L.append(f"  {bp} = getelementptr i64, i64* %ctx, i64 {BUDGET}")
    L.append(f"  {bw} = load i64, i64* {bp}")
    L.append(f"  {bf} = inttoptr i64 {bw} to i64 (i64*, i64, i64)*")
    L.append(f"  {b2} = call i64 {bf}(i64* %ctx, i64 {b1}, i64 {levels(em.names)})")
    em.exit_if_stop(b2, exit_state(i.state, em.ty.types, reason="poll or native depth at a call"))
    back = em.cur
    L.append(f"  br label %{cont}")
    em.label(cont)
    b3 = em.tmp("cd")
    L.append(f"  {b3} = phi i64 [ {b1}, %{pre} ], [ {b2}, %{back} ]")
    em.cd = b3


def call(em: Any, fname: str, rt: str, i: Instr, extra: str, args: str) -> tuple[str, str, str, list[str]]:
    """The call of @fname with `args` (`extra`: osr.py's two words for a
    function with OSR entries inside) in the callee's convention, after
    the caller's tick and depth check (call_tick, or emit.py's `%d1`): (the
    call's result aggregate, its LLVM type, its fail flag, the lines to
    emit after the fail exit)."""
    L = em.lines
    s, z = em.tmp("st"), em.tmp()
    if fname in em.reg:
        agg = f"{{{rt}, i64}}"
        b = em.cd
        after: list[str] = []
        if b is None and fname in em.leaves:  # (a leaf: no budget needed, 0 comes back unless it left)
            L.append(f"  {s} = call {agg} @{fname}(i64* %ctx, i64 0{args})")
            c2 = em.tmp("cd")
            L.append(f"  {c2} = extractvalue {agg} {s}, 1")
            L.append(f"  {z} = icmp slt i64 {c2}, 0")
            return s, agg, z, []
        if b is None:  # (a function with loops calling one of these: the budget from ctx[0] and its exact depth)
            c, lt, b, rest = em.tmp("cd"), em.tmp(), em.tmp("cd"), em.tmp()
            L.append(f"  {c} = load i64, i64* %ctx")
            L.append(f"  {lt} = icmp slt i64 {c}, %d1")
            L.append(f"  {b} = select i1 {lt}, i64 {c}, i64 %d1")
            L.append(f"  {rest} = sub i64 {c}, {b}")
            L.append(f"  store i64 {rest}, i64* %ctx")
        L.append(f"  {s} = call {agg} @{fname}(i64* %ctx, i64 {b}{args})")
        c2 = em.tmp("cd")
        L.append(f"  {c2} = extractvalue {agg} {s}, 1")
        L.append(f"  {z} = icmp slt i64 {c2}, 0")
        if em.cd is None:
            x, y = em.tmp(), em.tmp()
            after = [f"  {x} = load i64, i64* %ctx", f"  {y} = add i64 {x}, {c2}", f"  store i64 {y}, i64* %ctx"]
            return s, agg, z, after
        em.cd = c2
        return s, agg, z, after
    # (a function with loops: ctx[0] its countdown, a depth in a register)
    agg = f"{{{rt}, i1}}"
    if em.cd is None:
        L.append(f"  {s} = call {agg} @{fname}(i64* %ctx, i64 %d1{extra}{args})")
        L.append(f"  {z} = extractvalue {agg} {s}, 1")
        return s, agg, z, []
    # (one of these calling it: its depth from the stack, the countdown through ctx[0])
    r = room(em)
    dz = em.tmp("dz")
    L.append(f"  {dz} = icmp sle i64 {r}, 0")
    em.fail_if(dz, i)
    x, y, b = em.tmp(), em.tmp(), em.cd
    L.append(f"  {x} = load i64, i64* %ctx")
    L.append(f"  {y} = add i64 {x}, {b}")
    L.append(f"  store i64 {y}, i64* %ctx")
    L.append(f"  {s} = call {agg} @{fname}(i64* %ctx, i64 {r}{extra}{args})")
    L.append(f"  {z} = extractvalue {agg} {s}, 1")
    c, lt, b2, rest = em.tmp("cnt"), em.tmp(), em.tmp("cd"), em.tmp()
    em.cd = b2
    return (
        s,
        agg,
        z,
        [
            f"  {c} = load i64, i64* %ctx",
            f"  {lt} = icmp slt i64 {b}, {c}",
            f"  {b2} = select i1 {lt}, i64 {b}, i64 {c}",
            f"  {rest} = sub i64 {c}, {b2}",
            f"  store i64 {rest}, i64* %ctx",
        ],
    )


def entry_call(reg: bool, rt: str, fname: str, head: str, rest: str, g: int) -> list[str]:
    """@entry's call of the root (its result in %r, the fail flag in %b)."""
    if not reg:
        return limit_lines(g) + [
            f"  %c = call {{{rt}, i1}} @{fname}({head}{rest})",
            f"  %r = extractvalue {{{rt}, i1}} %c, 0",
            f"  %b = extractvalue {{{rt}, i1}} %c, 1",
        ]
    return [
        "  %cd0 = load i64, i64* %ctx",
        "  %lt0 = icmp slt i64 %cd0, %depth",
        "  %bg0 = select i1 %lt0, i64 %cd0, i64 %depth",  # (the budget: min(countdown, depth), calls.py)
        "  %ex0 = sub i64 %cd0, %bg0",
        "  store i64 %ex0, i64* %ctx",
        *limit_lines(g),
        f"  %c = call {{{rt}, i64}} @{fname}(i64* %ctx, i64 %bg0{rest})",
        f"  %r = extractvalue {{{rt}, i64}} %c, 0",
        f"  %cd1 = extractvalue {{{rt}, i64}} %c, 1",
        "  %b = icmp slt i64 %cd1, 0",
        "  %ex1 = load i64, i64* %ctx",
        "  %cdn = add i64 %ex1, %cd1",
        "  %cd2 = select i1 %b, i64 %cd0, i64 %cdn",  # (left: the countdown as it was; engine.py counts ticks by it)
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
        leaf = peeled(name, head, body)  # (the copy's calls test the base case themselves: peel.py)
        copy = head.replace(f" @{name}(", f" @{name}r(", 1)[: -len(" {")] + " alwaysinline {" + nl + (body.replace(call, f"}} @{name}w(") if leaf else body)
        out.append(head + nl + body.replace(call, f"}} @{name}r(") + copy + (leaf or ""))
    return out
