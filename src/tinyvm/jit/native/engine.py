"""The native tier's compiler and entry ops: llvmlite, MCJIT, ctypes (docs/native.md).

`NativeTier(vm, log)` belongs to one VM's `Jit` (jit/tier.py). `entry(code,
fb, fallback)` decides whether `code` compiles (jit/native/select.py), emits
LLVM IR for it and every function it calls (jit/native/emit.py), looks the
IR's hash up in the disk cache (jit/native/cache.py), else optimizes it
(`PIPELINE`, no fast-math) and generates object code with one reused
TargetMachine (`Codegen`, jit/native/codegen.py), loads the object with MCJIT, and returns an
*entry op*: a decoded op that replaces the function's pc-0 op. In
`--jit=native` the LLVM part runs on a worker thread (`submit`, `collect`;
jit/native/worker.py) and jit/tier.py installs the entry op when it is
ready; `native-eager` compiles synchronously (`compile`). Called with the callee's frame already pushed (`fb.L =
[fn, args..., nils]`), the op

- passes the arguments as int64 words (a value of another type than the one
  declared -- never the case after the checker, but cheap to check -- goes to
  `fallback`),
- runs the machine code with a countdown and the native depth left,
- on success returns to the caller exactly as the RETURN instruction does,
- when native code leaves (a failure exit: overflow, a zero divisor, the
  native depth, the poll), rebuilds the interpreter frames it wrote
  (deopt.py), every native frame at its exact pc, and returns the
  interpreter's op there (`deoptimise`): the interpreter re-runs the failing
  instruction and raises the same error with the same trace, or makes the
  call native code could not, or continues where the poll stopped;
- hands the call to `fallback` (the interpreter or the Python JIT from the
  entry) when a debugger steps, the native depth is used up, or an argument
  is not of its declared type.

The poll callback (every `COUNTDOWN` loop iterations or calls) stops native
code when a deadline passed, an interrupt is pending, a debugger started
stepping, or another fiber is ready to run (fairness: the interpreter then
switches at its next chunk end). A stop is honoured in `deoptimise`, once the
frames are rebuilt: a deadline raises, a waiting fiber gets the turn.

Loop headers of the root get *OSR ops* too (`_osr_op`): the rest of a call
run natively from the frame the interpreter has there (after a call out, or
a hot loop already running).

GC: native code allocates nothing on the guest heap and stores no heap
reference (array stores are scalars, arrays.py); the arrays it reads are
borrowed from interpreter frames. No write barrier or safe point is needed; a
collection cannot start while it runs (the only Python code it calls is the
poll, which allocates nothing on the guest heap). Code touching Python
objects is called holding the GIL, and so is all native code (`_PROTO`:
PYFUNCTYPE; docs/native.md "Native code holds the GIL").

Fuel: on a VM that counts fuel, native code counts it per bytecode block
(emit.py; ctx word 4 holds what it may spend, docs/native.md "Fuel").
"""

from __future__ import annotations

import ctypes
import functools
import os
import struct
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

from ...bytecode.code import INT_MAX, INT_MIN, Code
from ...heap.objects import Array
from ...heap.packed import PackedArray

# The typecode of a PackedArray an array parameter of each machine type
# accepts (arrays.py reads it in place); "ap" (objects) takes lists only.
_PACKED_CODE = {"ai": "q", "af": "d", "ab": "b"}
from ...heap.objects import Function as GuestFunction
from ...ir.build import Unsupported, build
from ...ir.passes import PassContext, run_pipeline
from ...sched.scheduler import Switch
from ...vm.blocks import MAX_WEIGHT
from ..fuel import meter
from . import arraymaker, calls, construct, defaults, fields, fieldslow, fieldtypes, hoist, listwords, loopguards, nearcalls, objects, outofline, polls, selfinline, stores, warmup
from .alloc import HeapBridge
from .arraymaker import ArrayMaker
from .barrier import WATCH, BarrierBridge
from .cache import NativeCache, make_key
from .charges import adopt
from .codegen import (  # noqa: F401 - re-exported: benchmarks and tests name them here
    CACHE_FORMAT,
    CODEGEN_OPT,
    PIPELINE,
    PIPELINE_TEXT,
    Codegen,
    _target_machine,
    load_llvm,
    optimize,
)
from .deopt import CALL_OUT, read_records, rebuild
from .emit import emit_module
from .exactself import exact_selves
from .layout import array_of
from .select import ARRAYS, WORDS, NotEligible, Typed, analyze
from .worker import CompileWorker, Job

COUNTDOWN = 1_000_000  # loop iterations and calls between two polls
CALLOUT_TRIES = 64  # calls out of a function before deciding whether native code pays
REFUSALS = 3  # (an OSR entry op whose loop's entry checks failed this often stays the interpreter's: `_osr_op`)
_AT_ENTRY = frozenset((loopguards.REASON, hoist.REASON))  # (those exits: a loop's entry checks, its hoisted field reads)
CALLOUT_TICKS = 16  # loop iterations and calls per call out below which it does not
FUEL_UNLIMITED = 1 << 62  # a VM that counts fuel without a limit: native code never runs out
MAX_NATIVE_DEPTH = 10_000  # native frames (C stack); deeper, native code leaves at the call and the interpreter makes it

# TinyVM passes native code does without: LLVM's instcombine and its code
# generator (SelectionDAG's and MachineCSE's common subexpressions, constants
# folded) redo them. Measured (docs/native.md, "Compile time"): without them
# the machine code of all 33 functions AWFY compiles was byte for byte the same
# but for gvn's (Towers.benchmark: 48 bytes more, run once per iteration), and
# they were 0.5-1 ms of a Mandelbrot loop's 3.9 ms of TinyVM IR work. licm
# too (session 28, helper ncomp6): the code generator's MachineLICM hoists
# what it hoisted; without it the machine code of the 24 functions AWFY
# compiles and of benchmarks.native_compile's 8 was byte for byte the same,
# and it was 0.2-0.6 ms of the Mandelbrot loop's. (range stays: it removes
# overflow checks LLVM cannot, fib's code differs without it; prune-states,
# escape and dce shape what native code supports.)
NATIVE_SKIPS = ("sccp", "copy-prop", "gvn", "licm")


def jit_pipeline_plain() -> list[str]:
    from ..tier import jit_pipeline

    return [p for p in jit_pipeline() if p not in NATIVE_SKIPS]


def typed_ir(code: Code, callee_of: Callable[[int], Code | None], passes: list[str], *, metered: bool = False, field_type: Callable | None = None, receiver: Any = None, exact: Any = None) -> Typed:
    """Build, optimize (no speculation) and type one code object, or raise
    NotEligible; `metered`: with jit/fuel.py's fuel ops (a VM that counts
    fuel); `receiver`: the class of `self` in a method (select.analyze);
    `exact`: the class `self` is exactly an instance of, whose leaf methods
    called on `self` are inlined (selfinline.py; not when metered)."""
    try:
        fn = build(code)
        if metered:
            meter(fn, code)
    except Unsupported as e:
        raise NotEligible(str(e)) from None
    defaults.assume_passed(fn, code)  # (defaulted parameters: every argument passed, defaults.py)
    run_pipeline(fn, passes, PassContext(speculate=False))
    sites = selfinline.inline_leaves(fn, code, exact, passes) if exact is not None and not metered else {}
    ty = analyze(fn, code, callee_of, field_type, receiver)
    if listwords.merge(fn, ty.types):  # (a scalar element read again in its block: the first read's value, listwords.py)
        ty = analyze(fn, code, callee_of, field_type, receiver)
    ty.inline_sites = sites
    if ty.heap:
        _heap_allowed(ty)
    return ty


def packed_type() -> type | None:
    """PackedArray when native code reads packed arrays (layout.probe_packed),
    else None: then an array parameter takes lists only, a PackedArray
    goes to the interpreter."""
    from .layout import probe_packed

    return PackedArray if probe_packed()[0] is not None else None


def _heap_allowed(ty: Typed) -> None:
    """Array code needs CPython's layout verified (layout.py) and, when it
    stores, exact-pc deopt (re-running a call that stored is not exact)."""
    from . import emit
    from .layout import probe

    lay, why = probe()
    if lay is None:
        raise NotEligible(f"arrays in native code are off: {why}")
    if ty.effects and not getattr(emit, "EXACT_DEOPT", False):
        raise NotEligible("stores into an array: needs exact-pc deopt")


def group_of(root: Code, typed: Callable[[Code], Typed], inlined: Callable[[Code, Any], Typed | None] | None = None, receiver: Any = None) -> list[Typed]:
    """root and every function it reaches through native calls: eligible,
    with matching argument types; every other call becomes a call out
    (Typed.effects: native code deoptimises there and the VM makes it).
    `inlined(code, cls)`: code typed with the leaf methods it calls on its
    `self` inlined (selfinline.py), or None when it has none, for each
    method of the group whose `self` is exactly an instance of cls on every
    native way in (exactself.py; `receiver`: the root's class, as for
    emit_module). Inlining only takes calls away, so that stays true."""
    first = typed(root)
    group = [first]
    seen = {root: first}
    k = 0
    while k < len(group):
        _link(group[k], typed, seen, group)
        k += 1
    if inlined is not None:
        exact = exact_selves(group, receiver)
        for k, ty in enumerate(list(group)):
            cls = exact.get(ty.code)
            if cls is not None and selfinline.candidates(ty.fn, ty.code):
                got = inlined(ty.code, cls)
                if got is not None:
                    group[k] = seen[ty.code] = got
                    _link(got, typed, seen, group)
    return group


def _link(ty: Typed, typed: Callable[[Code], Typed], seen: dict, group: list[Typed]) -> None:
    """Add ty's native callees to the group (typed once each); its other
    calls become calls out (Typed.effects)."""
    construct.add_callees(ty, typed, seen, group)  # (the inits of its constructions)
    for b in ty.fn.blocks:
        for i in b.instrs:
            if i.op not in ("call_global", *fieldtypes.METHOD_CALLS) or i in ty.effects or i.op != "call_global" and i not in ty.callees:
                continue
            callee = ty.callees[i.attrs[0] if i.op == "call_global" else i]  # (a method: fields.py)
            if callee not in seen:
                try:
                    seen[callee] = typed(callee)
                except NotEligible:
                    seen[callee] = None
                else:
                    group.append(seen[callee])
            cty = seen[callee]
            if cty is None or not objects.call_matches(ty, i, cty):
                # Not native (or not with these argument types): native
                # code calls out through the VM there (deopt.py).
                ty.effects.append(i)


@dataclass
class Compiled:
    code: Code
    params: list[str]
    ret: str
    cfunc: Any
    engine: Any
    ms: float
    nfuncs: int
    ir_before: str = ""
    ir_after: str = ""
    table: list = field(default_factory=list)  # exit id -> deopt.ExitState
    ticks: int = 0  # loop iterations and calls native code ran (counted while it calls out: see deoptimise)
    callouts: int = 0  # native runs that left at a call out
    off: bool = False  # most calls left at a call out: the other tiers run it
    osr: dict = field(default_factory=dict)  # loop header pc -> (cfunc, deopt.ExitState of its state)
    phases: dict[str, float] = field(default_factory=dict)  # ms per phase (PHASES)
    cache: str = "off"  # "hit", "miss" or "off" (no disk cache)
    background: bool = False
    allocs: bool = False  # (Prepared.allocs)
    budget: int = 0  # the address of tvm.budget when its code calls it (ctx[calls.BUDGET]: calls.py)
    poll: int = 0  # the address of tvm.poll when its code calls it (ctx[polls.POLL]: polls.py)
    osr_tags: dict = field(default_factory=dict)  # (Prepared.osr_tags)
    group: list = field(default_factory=list)  # (Prepared.group)
    receiver: Any = None  # (Prepared.receiver)

    @property
    def calls_out(self) -> bool:
        return any(es.reason == CALL_OUT for es in self.table)

    @property
    def record_words(self) -> int:
        """The largest deopt record of the module (int64 words)."""
        return max((es.words for es in self.table), default=1)


@dataclass
class Prepared:
    """A group's LLVM IR and cache key: what the VM thread hands the worker."""

    code: Code
    params: list[str]
    ret: str
    nfuncs: int
    text: str
    key: str
    phases: dict[str, float]
    # What the object code needs beside itself (rebuilt from the IR on a
    # cache hit too: the key is the IR text, so they match the cached code):
    table: list = field(default_factory=list)  # exit id -> deopt.ExitState
    osr: dict = field(default_factory=dict)  # loop header pc -> deopt.ExitState (entry `osr<pc>`)
    heap: bool = False  # touches Python objects: layout symbols bound, entries hold the GIL
    allocs: bool = False  # allocates or pushes: the heap budget around each call (alloc.py)
    names: list = field(default_factory=list)  # the group's guest function names (f0, f1, ...: perfmap.py)
    perf: Any = None  # the perf map (perfmap.PerfMap) when TVM_PERF_MAP is set
    osr_tags: dict = field(default_factory=dict)  # loop header pc -> what its OSR op adds to out: @entry takes it (entries.py); absent: `osr<pc>`
    group: list = field(default_factory=list)  # the group's Code objects, root first (dump.py)
    receiver: Any = None  # the class the root method is specialised on (its entries check self's): `_prepare`


# The phases of a compilation, in order, as the log names them (ms each):
# ir (TinyVM IR built, optimized and typed), emit (LLVM IR text), lookup
# (the disk cache read), parse (+ verify), opt (PIPELINE), codegen (object
# code), store (the cache write), load (MCJIT links the object in memory).
PHASES = ("ir", "emit", "lookup", "parse", "opt", "codegen", "store", "load")

# Every entry holds the GIL (PYFUNCTYPE). Code touching Python objects
# must; scalar code released it (CFUNCTYPE) until that starved every other
# thread: released and retaken at each of thousands of short calls a
# second, the GIL never stays with one thread for a switch interval, the
# only time a waiting thread may ask for it (docs/native.md, "Native code
# holds the GIL"). Other threads get it at returns and polls.
_PROTO = ctypes.PYFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
_POLL = ctypes.CFUNCTYPE(ctypes.c_int64)


def prepare(group: list[Typed], codegen: Codegen, phases: dict[str, float] | None = None, receiver: Any = None) -> Prepared:
    """The LLVM IR text of a group and its cache key (VM thread: reads the
    IR); `receiver`: the class the root is compiled for (`_prepare`)."""
    phases = {} if phases is None else phases
    t0 = time.perf_counter()
    root = group[0]
    table: list = []
    osr: dict = {}
    tags: dict = {}
    text, _ = emit_module(group, root, table, osr, tags, receiver)
    key = make_key(text, codegen.identity)
    phases["emit"] = (time.perf_counter() - t0) * 1000
    heap = any(ty.heap for ty in group)
    prep = Prepared(root.code, root.params, root.ret, len(group), text, key, phases, table, osr, heap, any(ty.allocs for ty in group), [ty.code.name for ty in group])
    prep.osr_tags = tags
    prep.group = [ty.code for ty in group]
    prep.classes = {k: c for ty in group for k, c in ty.classes.items()}  # type: ignore[attr-defined]  # (method guards: fields.bind)
    return prep


def lookup(prep: Prepared, cache: NativeCache | None) -> bytes | None:
    """The cached object code of prep, or None (a miss, or no cache)."""
    if cache is None:
        return None
    t0 = time.perf_counter()
    obj = cache.get(prep.key)
    prep.phases["lookup"] = (time.perf_counter() - t0) * 1000
    return obj


def finish(prep: Prepared, codegen: Codegen, cache: NativeCache | None, obj: bytes | None = None, *, keep_text: bool = False) -> Compiled:
    """Machine code for prep: loaded from obj (a cache hit), or generated
    (and stored in the cache). Touches nothing of the VM: runs on the worker."""
    phases = prep.phases
    after = ""
    state = "off" if cache is None else "hit" if obj is not None else "miss"
    if obj is None:
        obj, after = codegen.object_code(prep.text, phases, keep_text)
        if cache is not None:
            t0 = time.perf_counter()
            cache.put(prep.key, obj)
            phases["store"] = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    if prep.heap:
        # The C API symbols array code names (layout.py) must be bound
        # before MCJIT links the object, from the cache as much as fresh.
        from .layout import probe, register

        register(codegen.llvm, probe()[0])
        fields.register(codegen.llvm)
        stores.register(codegen.llvm)
        objects.register(codegen.llvm)
        construct.register(codegen.llvm)
        arraymaker.register(codegen.llvm)
        if outofline.calls(prep.text):
            outofline.register(codegen.llvm)
        fieldslow.register(codegen.llvm, prep.text)  # (field stores' slow paths, if it calls one)
    budget = calls.budget_address(codegen.llvm) if calls.uses_budget(prep.text) else 0  # (ctx[calls.BUDGET], set by _done)
    poll = calls.poll_address(codegen.llvm) if polls.uses_poll(prep.text) else 0  # (ctx[polls.POLL], set by _done)
    engine, addr = codegen.load(obj)
    if prep.heap:
        fields.bind(engine, prep.text, getattr(prep, "classes", {}))  # (the field keys and class addresses of this process)
    cfunc = _PROTO(addr)
    osr = {pc: (cfunc if pc in prep.osr_tags else _PROTO(_address(engine, f"osr{pc}")), es) for pc, es in prep.osr.items()}
    if prep.perf is not None:
        prep.perf.add(engine, obj, prep.names)  # (perf's map of this process: perfmap.py)
    phases["load"] = (time.perf_counter() - t0) * 1000
    ms = sum(phases.values())
    comp = Compiled(prep.code, prep.params, prep.ret, cfunc, engine, ms, prep.nfuncs, prep.text if keep_text else "", after, prep.table, phases=phases, cache=state)
    comp.osr = osr
    comp.osr_tags = prep.osr_tags
    comp.group = prep.group
    comp.receiver = prep.receiver
    comp.allocs = prep.allocs
    comp.budget = budget
    comp.poll = poll
    return comp


def _perf_map(log: Callable[[str], None] | None) -> Any:
    if os.environ.get("TVM_PERF_MAP", "") in ("", "0"):
        return None
    from .perfmap import PerfMap

    return PerfMap(log)


def _address(engine: Any, name: str) -> int:
    addr = engine.get_function_address(name)
    if not addr:
        raise RuntimeError(f"the object file has no function {name}")
    return addr


def compile_group(group: list[Typed], *, keep_text: bool = False, codegen: Codegen | None = None, cache: NativeCache | None = None) -> Compiled:
    """Machine code for group[0] (and the functions it calls), synchronously."""
    cg = codegen if codegen is not None else Codegen()
    prep = prepare(group, cg)
    obj = None if keep_text else lookup(prep, cache)  # (the viewer wants the IR after the passes)
    return finish(prep, cg, None if keep_text else cache, obj, keep_text=keep_text)


def describe(comp: Compiled) -> str:
    """The log line's parenthesis: functions, phases, cache, pipeline, then
    the class a method is compiled for (`_prepare`'s receiver) and the other
    functions compiled into the module (native calls), by name."""
    n = comp.nfuncs
    ph = " + ".join(f"{k} {comp.phases[k]:.1f}" for k in PHASES if k in comp.phases)
    how = "background" if comp.background else "synchronous"
    text = f"{n} function{'s' if n != 1 else ''}; {ph} ms; cache {comp.cache}; {how}; LLVM {PIPELINE_TEXT}, codegen O{CODEGEN_OPT}, MCJIT"
    if comp.receiver is not None:
        text += f"; self: {comp.receiver.name}"
    if len(comp.group) > 1:
        text += f"; with {', '.join(c.name for c in comp.group[1:])}"
    return text


def _pack_float(x: float) -> int:
    return struct.unpack("<q", struct.pack("<d", x))[0]


def _unpack_float(w: int) -> float:
    return struct.unpack("<d", struct.pack("<q", w))[0]


class NativeTier:
    """The native compiler of one VM (see the module docstring)."""

    def __init__(self, vm: Any, log: Callable[[str], None] | None, *, background: bool = False, cache: NativeCache | None | str = "env") -> None:
        load_llvm()
        self.vm = vm
        self.log = log
        self.passes = jit_pipeline_plain()
        self.typed: dict[Code, Typed | NotEligible] = {}
        self.compiled: dict[Code, Compiled] = {}
        self.refused: dict[Code, str] = {}  # why a function is not native (`tvm jit-dump --native --run`: dump.py)
        self.keep_text = False  # keep each compilation's LLVM IR (dump.py; the disk cache is off then: a hit has none)
        self.stats = {"native": 0, "not_native": 0, "native_calls": 0, "osr_calls": 0, "deopts": 0, "cache_hits": 0, "background": 0}
        self._codegen: Codegen | None = None  # (made at the first compilation: ~2 ms)
        # The disk cache (jit/native/cache.py): from the environment unless given.
        self.cache: NativeCache | None = NativeCache.from_env() if cache == "env" else cache  # type: ignore[assignment]
        # `--jit=native`: LLVM's work on the worker thread (jit/native/worker.py).
        self.background = background
        self.worker = CompileWorker()
        self.pending: dict[Code, Job] = {}
        # Stops the worker when the tier is collected or the process exits
        # (the finalizer holds the worker, not the tier).
        self._finalizer = weakref.finalize(self, self.worker.close)
        self.warm_up = warmup.start(self.worker) if background else None  # (LLVM's first-use costs on the worker: warmup.py)
        self.ctx = (ctypes.c_int64 * 21)()  # (emit.py: countdown, depth, poll, deopt cursor, fuel; alloc.py: heap budget, allocation callback; barrier.py: watch, slow path; construct.py: instance maker, its argument; arraymaker.py: array maker, its op and two words, heap.objects, heap.new_mark, a [None]; calls.py: the stack limit, tvm.budget; polls.py: tvm.poll)
        self.metered = bool(vm.limits.metered)
        # The deopt buffer (deopt.py): records of the native frames that
        # left, innermost first, at most one per native frame; ctx[3] is its
        # cursor. One per VM, grown (on the VM thread, `_done`) when a module
        # with bigger records is installed. (A native call reads the buffer
        # it was given, not self.buf.)
        self.buf = (ctypes.c_int64 * 1)()
        self.poll_cb = _POLL(self._poll)
        self.ctx[2] = ctypes.cast(self.poll_cb, ctypes.c_void_p).value or 0
        self.ctx_addr = ctypes.addressof(self.ctx)
        self.bridge = HeapBridge(vm, self.ctx)  # (ctx words 5 and 6: arrays native code makes)
        self.barriers = BarrierBridge(vm, self.ctx)  # (ctx words 7 and 8: the write barrier of stores of references)
        self.maker = construct.InstanceMaker(self.bridge, self.ctx)  # (ctx words 9 and 10: instances native code makes)
        self.arrays = ArrayMaker(self.bridge, self.ctx)  # (ctx words 11-14: arrays native code makes, arraymaker.py)
        self.fiber: Any = None
        self.stop_reason = ""
        self.countdown = COUNTDOWN  # (tests lower it to poll often)
        self.perf = _perf_map(log)  # (None unless TVM_PERF_MAP is set: perfmap.py)

    @property
    def codegen(self) -> Codegen:
        cg = self._codegen
        if cg is None:
            cg = self._codegen = Codegen()
        return cg

    @codegen.setter
    def codegen(self, cg: Codegen) -> None:
        self._codegen = cg

    # ------------------------------------------------------------------ polling

    def _poll(self) -> int:
        # Called from machine code: must never raise (ctypes would print and return 0).
        try:
            vm = self.vm
            lim = vm.limits
            if lim.armed and (lim.interrupted or (lim.deadline is not None and time.monotonic() >= lim.deadline)):
                self.stop_reason = "deadline or interrupt"
                return 0
            if vm.hooks.stepping:
                self.stop_reason = "stepping"
                return 0
            fb = self.fiber
            sched = vm.sched
            if fb is not None and not fb.nested and vm.running and fb is vm.fiber and (sched.ready or sched.poll_now()):
                self.stop_reason = "another fiber is ready"
                return 0
            return self.countdown
        except BaseException:  # noqa: BLE001 - stop native code; the interpreter re-runs the call
            self.stop_reason = "poll failed"
            return 0

    # ------------------------------------------------------------------ compiling

    def globals_of(self, code: Code, G: list | None = None) -> list | None:
        """The globals `code` reads: its own module's (a group's callee may
        come from another module: a method of an imported class, an
        imported function), G when the VM has not decoded it. Every
        function value's code was decoded when its closure was made
        (MAKE_CLOSURE decodes its code), so a callee found through a
        Function always has its module here."""
        dec = self.vm.decoders.get(code)
        return dec.G if dec is not None else G

    def _calls_on_self(self, code: Code, G: list) -> bool:
        """Whether a method calls methods on `self` (or does not compile for
        its own class): only then is it compiled for its receiver's class
        (`_prepare`). Compiled for the class declaring it, such calls are
        guarded to that class and leave native code at each call with a
        subclass's `self`; a method that only reads fields or passes `self`
        on runs natively for every receiver as it is, which one compiled
        for a single class would not."""
        try:
            fn = self._typed(code, G).fn
        except NotEligible:
            return True
        me = fn.params[1] if len(fn.params) > 1 else None
        return any(i.op in fieldtypes.METHOD_CALLS and i.args and i.args[0] is me for b in fn.blocks for i in b.instrs)

    def _typed(self, code: Code, G: list, receiver: Any = None, exact: Any = None) -> Typed:
        key = code if receiver is None and exact is None else (code, receiver, exact)
        got = self.typed.get(key)
        if got is None:
            # (the callee's own module: its globals give its call_global
            # callees and its classes; the root's G would resolve another
            # module's slot to whatever the root keeps there)
            G = self.globals_of(code, G)

            def callee_of(slot: int) -> Code | None:
                f = G[slot] if 0 <= slot < len(G) else None
                return f.code if type(f) is GuestFunction and not f.upvals else None

            try:
                got = typed_ir(code, callee_of, self.passes, metered=self.metered, field_type=fieldtypes.field_types_of(G, self.vm.heap, receiver), receiver=receiver, exact=exact)
            except NotEligible as e:
                got = e
            except RecursionError:
                got = NotEligible("nested too deeply")
            self.typed[key] = got
        if isinstance(got, NotEligible):
            raise got
        return got

    def _inlined(self, code: Code, G: list, cls: Any, receiver: Any) -> Typed | None:
        """code typed with the leaf methods it calls on its `self`, exactly
        a `cls`, inlined (group_of, selfinline.py), or None: none inlined,
        or that typing is not eligible (the plain one stays)."""
        if self.metered:
            return None
        try:
            got = self._typed(code, G, receiver, cls)
        except NotEligible:
            return None
        return got if got.inline_sites else None

    def _prepare(self, code: Code, G: list, receiver: Any = None) -> Prepared | None:
        """The IR of code's group, typed and emitted (VM thread), or None
        (logged). `receiver`: the class of the `self` a method was called
        with when it got hot, when that is a subclass of the declaring class
        (jit/tier.py): the group is typed with `self` of that class, so its
        calls of methods on self are native calls of the subclass's methods
        (AWFY's `Benchmark.inner_benchmark_loop` calling `benchmark()`,
        declared `-> R`, then `verify_result`), and the entry ops run it only
        for a `self` of that class (the other tiers run the rest). Only for a
        method that calls methods on self (`_calls_on_self`), and not when
        the module knows another class of the same name (classes are found
        by name)."""
        t0 = time.perf_counter()
        if receiver is not None:
            same_name = any(type(c) is type(receiver) and c.name == receiver.name and c is not receiver for c in self.globals_of(code, G))
            if same_name or not self._calls_on_self(code, G):
                receiver = None
        try:
            group = group_of(code, lambda c: self._typed(c, G, receiver if c is code else None), lambda c, cls: self._inlined(c, G, cls, receiver if c is code else None), receiver)
            fieldtypes.calls_out_each_call(group)  # (NotEligible: a loop-free method leaving at a method call every time)
            if self.background:
                fieldtypes.worth_a_native_call(group)  # (NotEligible for a loop-free leaf of field reads: the Python JIT's is cheaper)
            phases = {"ir": (time.perf_counter() - t0) * 1000}
            prep = prepare(group, self.codegen, phases, receiver)
            prep.perf = self.perf
            prep.receiver = receiver
            return prep
        except NotEligible as e:
            self._not_native(code, str(e))
        except Exception as e:  # noqa: BLE001 - an emitter bug: the other tiers run it
            self._not_native(code, f"internal error: {type(e).__name__}: {e}")
        return None

    def _not_native(self, code: Code, why: str) -> None:
        self.stats["not_native"] += 1
        self.refused[code] = why
        if self.log is not None:
            self.log(f"jit: not native {code.name}: {why}")

    def _done(self, comp: Compiled) -> Compiled:
        """Install comp (VM thread: a background result too)."""
        need = comp.record_words * (MAX_NATIVE_DEPTH + 2)
        if need > len(self.buf):
            self.buf = (ctypes.c_int64 * need)()
        self.compiled[comp.code] = comp
        if comp.budget:
            self.ctx[calls.BUDGET] = comp.budget  # (the address of tvm.budget, which its call_ticks call: calls.py)
        if comp.poll:
            self.ctx[polls.POLL] = comp.poll  # (the address of tvm.poll, which its ticks call: polls.py)
        self.stats["native"] += 1
        if comp.cache == "hit":
            self.stats["cache_hits"] += 1
        if self.log is not None:
            self.log(f"jit: native {comp.code.name} in {comp.ms:.1f} ms ({describe(comp)})")
        return comp

    def compile(self, code: Code, G: list, receiver: Any = None) -> Compiled | None:
        """Machine code for code, synchronously, or None (logged with the
        reason); `receiver` as for `_prepare`."""
        if code in self.compiled:
            return self.compiled[code]
        prep = self._prepare(code, G, receiver)
        if prep is None:
            return None
        try:
            comp = finish(prep, self.codegen, self.cache, lookup(prep, self.cache), keep_text=self.keep_text)
        except Exception as e:  # noqa: BLE001 - an LLVM bug: the other tiers run it
            self._not_native(code, f"internal error: {type(e).__name__}: {e}")
            return None
        return self._done(comp)

    def submit(self, code: Code, G: list, receiver: Any = None) -> Compiled | Job | None:
        """`--jit=native`: a cache hit is loaded now (a Compiled); a miss
        becomes a Job on the worker, which the VM thread collects with
        `collect` at a safe point; None when code does not compile (logged).
        A closed worker (the VM was closed) compiles synchronously."""
        if code in self.compiled:
            return self.compiled[code]
        if code in self.pending:
            return self.pending[code]
        prep = self._prepare(code, G, receiver)
        if prep is None:
            return None
        try:
            obj = lookup(prep, self.cache)
            if obj is not None:
                return self._done(finish(prep, self.codegen, self.cache, obj, keep_text=self.keep_text))
        except Exception as e:  # noqa: BLE001 - an LLVM bug: the other tiers run it
            self._not_native(code, f"internal error: {type(e).__name__}: {e}")
            return None
        codegen, cache, keep_text = self.codegen, self.cache, self.keep_text
        job = Job(lambda: finish(prep, codegen, cache, keep_text=keep_text), code.name)
        if not self.worker.submit(job):
            job.run()
            return self.collect(code, job, background=False)
        self.pending[code] = job
        self.stats["background"] += 1
        return job

    def collect(self, code: Code, job: Job, *, background: bool = True) -> Compiled | None:
        """The result of a finished job (VM thread), logged; None when it failed."""
        self.pending.pop(code, None)
        if code in self.compiled:  # (collected already, by close())
            return self.compiled[code]
        if job.cancelled:
            return None
        if job.error is not None:
            e = job.error
            self._not_native(code, f"internal error: {type(e).__name__}: {e}")
            return None
        comp = job.result
        comp.background = background
        return self._done(comp)

    def wait(self, timeout: float | None = None) -> bool:
        """Until every queued compilation is done (tests, benchmarks; not the VM)."""
        return self.worker.drain(timeout)

    def close(self) -> None:
        """Stop the worker (the jobs queued finish first: worker.py);
        results not installed yet are logged, so a run's log does not
        depend on when it ended. Idempotent; later compilations are
        synchronous."""
        self.worker.close()
        for code, job in list(self.pending.items()):
            if job.done:
                self.collect(code, job)
            else:
                self.pending.pop(code, None)

    def entry(
        self,
        code: Code,
        G: list,
        max_depth: int,
        fallback: Callable[[Any], Any],
        comp: Compiled | None = None,
        resume0: Callable | None = None,
        receiver: Any = None,
    ) -> Callable | None:
        """The pc-0 op that runs code natively (comp, or compiled now, for
        `receiver`: `_prepare`), or None when it does not compile.
        `resume0`: the interpreter's own op at pc 0, where a deopt at the
        call's very start goes on (the function's pc-0 op is this entry op)."""
        if comp is None:
            comp = self.compile(code, G, receiver)
        if comp is None:
            return None
        params = comp.params
        n = len(params)
        args = (ctypes.c_int64 * max(n, 1))()
        out = ctypes.c_int64()
        args_addr = ctypes.addressof(args)
        out_addr = ctypes.addressof(out)
        ctx = self.ctx
        ctx_addr = self.ctx_addr
        cfunc = comp.cfunc
        hooks = self.vm.hooks
        stats = self.stats
        ret = comp.ret
        tier = self
        name = code.name
        kinds = [(k + 1, p) for k, p in enumerate(params)]
        packed_t = packed_type()
        lim = self.vm.limits
        metered = self.metered
        mcell = lim.meter
        # What native code leaves unspent for the rest of the dispatch loop's
        # chunk: the loop sized the chunk so that every op of it may weigh
        # MAX_WEIGHT and still fit the fuel left (vm/limits.py), and a native
        # call weighs far more. Near the end of the fuel, native code so
        # leaves at once and the interpreter steps exactly to the stop.
        reserve = self.vm.chunk * MAX_WEIGHT
        calls_out = comp.calls_out
        allocs = comp.allocs
        bridge = self.bridge
        heap = self.vm.heap
        vm = self.vm
        receiver = comp.receiver

        def back(fb: Any) -> Any:
            # The other tiers run the call. On a VM that counts fuel, the
            # interpreter's own pc-0 op is dispatched by the loop rather than
            # run here (see _osr_op's `back`).
            if metered and resume0 is not None:
                mcell.cell_contents -= 1
                return resume0
            return fallback(fb)

        def native(fb: Any) -> Any:
            if allocs and heap.pending and not (hooks.stepping or comp.off):
                # A safe point (the call's arguments in fb.L, its callers in
                # fb.frames, as at the dispatch loop's chunk end): the pending
                # collection runs here (or an incremental slice, a minor one),
                # then the call natively; were one still pending (no mode
                # leaves it set), the call would go to the other tiers
                # (docs/native.md "The safe point at native entry").
                vm.gc_step()
            if hooks.stepping or comp.off or allocs and heap.pending:  # (pending: alloc.py, the safe point first)
                return back(fb)
            L = fb.L
            if receiver is not None and getattr(L[1], "cls", None) is not receiver:
                return back(fb)  # (compiled for a `self` of another class: _prepare)
            for k, p in kinds:
                x = L[k]
                t = type(x)
                if p == "i" and t is int:
                    args[k - 1] = x
                elif p == "f" and t is float:
                    args[k - 1] = _pack_float(x)
                elif p == "b" and t is bool:
                    args[k - 1] = 1 if x else 0
                elif p in ARRAYS and t is Array and type(x.items) is list:
                    args[k - 1] = id(x)  # (borrowed: the frame holds it; arrays.py)
                elif t is packed_t and _PACKED_CODE.get(p) == x.packed.typecode:
                    args[k - 1] = id(x)  # (a PackedArray of the parameter's kind: arrays.py reads its buffer)
                elif p == "p":
                    args[k - 1] = id(x)  # (an unused parameter, e.g. self: only deopt boxes it back)
                else:
                    return back(fb)
            depth = max_depth - len(fb.frames)
            if depth <= 0:
                return back(fb)
            # (a native call inside the poll's Python cannot happen: it runs no guest code)
            saved = tier.fiber
            tier.fiber = fb
            ctx[0] = ctx_countdown = tier.countdown
            ctx[1] = depth if depth < MAX_NATIVE_DEPTH else MAX_NATIVE_DEPTH
            buf = tier.buf
            base = ctx[3] = ctypes.addressof(buf)
            ctx[WATCH] = heap.watch  # (the write barrier's colour: fixed while native code runs, barrier.py)
            if metered:
                # The fuel native code may spend: what is left, and the one
                # unit the loop counted for this dispatch (native code counts
                # every instruction of the call itself, pc 0's block included).
                stop = lim.stop
                fuel = ctx[4] = FUEL_UNLIMITED if stop is None else max(0, stop - lim.fuel_used + 1 - reserve)
            if allocs:
                bridge.enter()
            st = cfunc(ctx_addr, args_addr, out_addr)
            if allocs:
                bridge.leave()
            tier.fiber = saved
            stats["native_calls"] += 1
            if metered:
                mcell.cell_contents += fuel - ctx[4] - 1
            if calls_out:
                comp.ticks += ctx_countdown - ctx[0]
            if st:
                return tier.deoptimise(fb, comp, G, buf[: (ctx[3] - base) >> 3], name, resume0)
            w = out.value
            v = w if ret == "i" else _unpack_float(w) if ret == "f" else None if ret == "n" else array_of(w) if ret in WORDS else bool(w)  # (an object, "p": a new reference, objects.py)
            C, r = fb.frames.pop()
            C.append(v)
            fb.L = C
            return r

        native.calls_out = calls_out  # type: ignore[attr-defined]  # (jit/tier.py: compile the Python JIT too)
        # On-stack replacement: loop header pc -> make(prev) -> the op that
        # enters native code at that header (jit/tier.py installs them).
        native.osr = {pc: functools.partial(self._osr_op, comp, pc, G, max_depth) for pc in comp.osr}  # type: ignore[attr-defined]
        return native

    def _osr_op(self, comp: Compiled, pc: int, G: list, max_depth: int, prev: Callable) -> Callable:
        """The op at loop header pc that runs the rest of the call natively
        from the frame the interpreter has there (emit.py `emit_osr`); `prev`
        (the op it replaces) when a value is not of its machine type, a
        debugger steps, or native code leaves right at the header."""
        cfunc, es = comp.osr[pc]
        words = es.osr
        args = (ctypes.c_int64 * max(len(words), 1))()
        out = ctypes.c_int64()
        args_addr = ctypes.addressof(args)
        out_addr = ctypes.addressof(out) + comp.osr_tags.get(pc, 0)  # (the entry's tag in out's low bits: @entry takes it, entries.py)
        ctx = self.ctx
        ctx_addr = self.ctx_addr
        hooks = self.vm.hooks
        stats = self.stats
        ret = comp.ret
        tier = self
        name = comp.code.name
        lim = self.vm.limits
        metered = self.metered
        mcell = lim.meter
        reserve = self.vm.chunk * MAX_WEIGHT
        kinds = list(enumerate(words))
        packed_t = packed_type()
        calls_out = comp.calls_out
        allocs = comp.allocs
        bridge = self.bridge
        heap = self.vm.heap
        vm = self.vm
        receiver = comp.receiver
        # Native code leaving right here because its loop's entry checks
        # failed (loopguards.py), or an array field read before it did
        # (hoist.py): the interpreter runs the pass and comes back to this
        # op at the next, where they fail again while the loop runs (it
        # would fail at its end, its stride misses the bound, the field
        # holds what its type does not allow). After REFUSALS such exits
        # the op stays the interpreter's.
        refusals = [0]
        table = comp.table

        def back(fb: Any) -> Any:
            # The op this one replaced. On a VM that counts fuel, dispatched
            # by the loop rather than run here: a fused block failing inside
            # counts its instructions by the op dispatched (vm/machine.py
            # _count_failed), and this dispatch is then no instruction.
            if metered:
                mcell.cell_contents -= 1
                return prev
            return prev(fb)

        def osr(fb: Any) -> Any:
            if allocs and heap.pending and not (hooks.stepping or comp.off):
                vm.gc_step()  # (a loop header of the interpreter's frame: a safe point, as at the entry op)
            if hooks.stepping or comp.off or allocs and heap.pending or refusals[0] >= REFUSALS:  # (pending: alloc.py, the safe point first)
                return back(fb)
            L = fb.L
            if receiver is not None and getattr(L[1], "cls", None) is not receiver:
                return back(fb)  # (as at the entry op)
            for k, (p, js) in kinds:
                for j in js:
                    x = L[j]
                    t = type(x)
                    if p == "i" and t is int:
                        if not INT_MIN <= x <= INT_MAX:
                            # (an inclusive for-range's counter past its
                            # last value, int64's max + 1: FOR_RANGE leaves
                            # the loop with it; ctypes would store it wrapped)
                            return back(fb)
                        args[k] = x
                    elif p == "f" and t is float:
                        args[k] = _pack_float(x)
                    elif p == "b" and t is bool:
                        args[k] = 1 if x else 0
                    elif p in ARRAYS and t is Array and type(x.items) is list:
                        args[k] = id(x)  # (borrowed: the frame holds it; arrays.py)
                    elif t is packed_t and _PACKED_CODE.get(p) == x.packed.typecode:
                        args[k] = id(x)  # (a PackedArray of the parameter's kind: arrays.py)
                    elif p == "p" or p == "n" and x is None:
                        args[k] = id(x) if p == "p" else 0  # (p: only deopt boxes it back; n: always nil)
                    else:
                        continue
                    break
                else:
                    return back(fb)
            depth = max_depth - len(fb.frames)
            if depth <= 0:
                return back(fb)
            saved = tier.fiber
            tier.fiber = fb
            ctx[0] = ctx_countdown = tier.countdown
            ctx[1] = min(depth, MAX_NATIVE_DEPTH)
            buf = tier.buf
            base = ctx[3] = ctypes.addressof(buf)
            ctx[WATCH] = heap.watch  # (barrier.py)
            if metered:
                stop = lim.stop
                fuel = ctx[4] = FUEL_UNLIMITED if stop is None else max(0, stop - lim.fuel_used + 1 - reserve)
            if allocs:
                bridge.enter()
            st = cfunc(ctx_addr, args_addr, out_addr)
            if allocs:
                bridge.leave()
            tier.fiber = saved
            stats["osr_calls"] += 1
            if calls_out:
                comp.ticks += ctx_countdown - ctx[0]
            if metered:
                mcell.cell_contents += fuel - ctx[4] - 1
            if st:
                first = table[buf[0]]
                if first.pc == pc and first.code is comp.code and first.reason in _AT_ENTRY and first.outer is None:
                    refusals[0] += 1
                return tier.deoptimise(fb, comp, G, buf[: (ctx[3] - base) >> 3], name, prev, pc)
            w = out.value
            v = w if ret == "i" else _unpack_float(w) if ret == "f" else None if ret == "n" else array_of(w) if ret in WORDS else bool(w)  # (an object, "p": a new reference, objects.py)
            C, r = fb.frames.pop()
            C.append(v)
            fb.L = C
            return r

        return osr

    def deoptimise(
        self,
        fb: Any,
        comp: Compiled,
        G: list,
        words: list[int],
        name: str,
        resume0: Callable | None = None,
        entry_pc: int = 0,
    ) -> Any:
        """Native code left (deopt.py): rebuild the interpreter frames it
        wrote and return the op the interpreter runs next. A stop the poll
        asked for is honoured here, frames rebuilt: a deadline or interrupt
        raises as the interpreter's chunk end would, a fiber waiting gets the
        turn (this one resumes at the exact pc)."""
        stats = self.stats
        stats["deopts"] += 1
        made: list = []
        globals_of = self.globals_of

        def frame_globals(code: Code) -> list:
            return globals_of(code, G)

        records = read_records(words, comp.table, self.vm.builtins, made, frame_globals)
        vm = self.vm
        op = rebuild(fb, records, frame_globals, vm.decoded, vm)
        for it in made:  # (iterators native code kept as words, their bytes charged: on the guest heap now, in their frames)
            adopt(vm.heap, it)
        if len(records) == 1 and records[0][0].pc == entry_pc and resume0 is not None:
            op = resume0  # (not this entry op again: the interpreter runs on from there)
        why = self.stop_reason
        self.stop_reason = ""
        if records[0][0].reason == CALL_OUT:
            # The VM makes the call, and the loop header's OSR entry brings
            # the function back into native code. When native code does
            # little between two calls out (a call out every iteration),
            # each costs a deopt and an OSR entry for nothing: hand the
            # function to the other tiers (the Python JIT's entries).
            comp.callouts += 1
            if comp.callouts >= CALLOUT_TRIES and comp.ticks < CALLOUT_TICKS * comp.callouts and not comp.off:
                comp.off = True
                if self.log is not None:
                    self.log(f"jit: native {name} off: {comp.callouts} calls out, {comp.ticks / comp.callouts:.1f} native iterations or calls each")
        if self.log is not None and stats["deopts"] <= 8:
            es = records[0][0]
            line, _ = es.code.position(es.pc)
            depth = f", {len(records)} native frames" if len(records) > 1 else ""
            self.log(f"jit: native {name} deopt at {es.code.path}:{line} (pc {es.pc}, {es.code.name}{depth}): {why or es.reason}")
        if why:
            lim = vm.limits
            if lim.armed:
                lim.check()
            sched = vm.sched
            if not fb.nested and vm.running and fb is vm.fiber and (sched.ready or sched.poll_now()):
                fb.resume = op
                sched.ready.append(fb)
                raise Switch
        return op
