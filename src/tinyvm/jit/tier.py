"""The JIT tier of one VM: counters, compilation, installation, deoptimisation policy, log.

`Jit(vm, mode=...)` attaches itself to a Machine (`vm.jit`; the vm package
never imports this one). The decoder then tells it of every code object it
decodes (`decoded`), and it wraps

- the op at pc 0 (which every Function made afterwards holds as `entry`) in a
  trampoline: it counts calls and, once the code is compiled, enters the
  compiled pc-0 entry (one extra Python call per guest call: the closures hold
  the trampoline, so nothing has to be patched when code is compiled or thrown
  away);
- in mode `on`, the op at every loop header in a counter of back-edges.

Compiling (`compile`) builds the IR (`ir.build`), runs the pass pipeline with
`speculate=True` and a profile of the frame's current values, generates
Python (jit/codegen.py), and installs its entries: `vm.decoded[code][pc]` is
replaced by the compiled entry op for pc, so every jump and every return to pc
reaches compiled code. Entries are BLOCK_PC ops (`vm.op_info`): an error in
compiled code sets `fb.epc` to the raising instruction's pc.

Deoptimisation policy: a guard site that deoptimises more than
`DEOPT_LIMIT` times has its speculation's profile key banned (left out of the
profile typespec sees; also `ctx.options["typespec.banned"]`) and the code is
recompiled; after `RECOMPILE_LIMIT` recompiles the code is left interpreted
("given up").
"""

from __future__ import annotations

import functools
import random
import time
from collections import ChainMap
from collections.abc import Callable
from typing import Any

from ..bytecode import opcodes as O
from ..bytecode.code import FLAG_METHOD, Code
from ..bytecode.opcodes import OPCODES
from ..heap.objects import INT_MAX, INT_MIN, MISSING, UNINIT, Array, Instance, Tuple
from ..heap.packed import PackedArray
from ..ir.build import Unsupported, build, decode
from ..ir.passes import PassContext, default_pipeline, run_pipeline
from ..runtime.errors import RtError, Throw
from ..runtime.values import typeof
from ..sched.scheduler import Switch
from ..vm.blocks import BLOCK_PC
from ..vm.ops_tlexpr import float_power
from .codegen import Generated, NotCompilable, generate
from .fuel import meter

MODES = ("off", "on", "eager", "native", "native-eager")
# The native tier (jit/native/, docs/native.md) on top of a Python-JIT mode.
NATIVE_MODES = {"native": "on", "native-eager": "eager"}
# (nil: no result, docs/native.md, e.g. a method updating fields; arrays of scalars: jit/native/alloc.py)
_SCALAR_RESULTS = ("int", "float", "bool", "nil", "[int]", "[float]", "[bool]")


def _receiver(code: Code, fb: Any) -> Any:
    """The class of `self` in the frame a method got hot in, when it is a
    subclass of the class declaring the method (None otherwise): the native
    tier compiles the method for that class (jit/native/engine.py
    `_prepare`), whose entries then check it."""
    if fb is None or not code.flags & FLAG_METHOD or len(fb.L) < 2:
        return None
    owner = getattr(fb.L[0], "owner", None)
    cls = getattr(fb.L[1], "cls", None)
    if owner is None or type(cls) is not type(owner) or cls is owner:
        return None
    return cls


def _object_result(ret_type: str) -> bool:
    """A declared result `C` or `C?` (a class or record): native code returns it (jit/native/objects.py)."""
    from .native.objects import result_type
    from .native.opaque import result_type as array_result

    return result_type(ret_type) is not None or array_result(ret_type) is not None  # (`[any]`: opaque.py)


DEFAULT_THRESHOLD = (100, 1000)  # calls, loop back-edges
DEOPT_LIMIT = 8  # deopts of one guard site before it is recompiled without that speculation
RECOMPILE_LIMIT = 3
MAX_INSTRS = 20000  # bigger functions stay interpreted (compile time)  # recompiles of one code object before it is left interpreted
_ERRORS = (
    RtError,
    Throw,
    ZeroDivisionError,
    OverflowError,
    MemoryError,
    RecursionError,
)


class _Done:
    """FOR_ITER's "no more values" in compiled code (never a guest value)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<done>"


DONE = _Done()


class CodeState:
    """What the JIT knows of one code object."""

    def __init__(self, code: Code, ops: list) -> None:
        self.code = code
        self.ops = ops
        self.orig = list(ops)  # the interpreter's own ops: exits resume there
        self.wrappers: dict[int, Callable] = {}  # pc -> counting wrapper installed
        self.entry0: Callable | None = None  # the compiled pc-0 entry
        self.calls = 0
        self.loops: dict[int, int] = {}
        self.tried = False  # compiled, or failed to (not again unless recompiling)
        self.given_up = False
        self.installed: list[int] = []
        self.steps: list | None = None  # the plain closures, by pc
        self.mirror: list | None = None  # the list those closures continue through
        self.banned: set[int] = set()
        self.deopts: dict[int, int] = {}
        self.recompiles = 0
        self.generated: Generated | None = None
        self.py_entry0: Callable | None = None  # the Python JIT's compiled pc-0 entry
        self.native: Callable | None = None  # the native tier's pc-0 entry
        self.native_tried = False
        self.job: Any = None  # `--jit=native`: the background compilation not installed yet (worker.Job)
        self.native_osr: set[int] = set()  # loop header pcs whose op enters native code
        self.python_ok = True  # `on` mode: the Python JIT compiles only code with loops worth it
        self.orig0: Callable | None = None
        self.plain0 = False
        # `on` mode: the only pcs compiled code is entered at (the loops worth
        # it); None: every entry (pc 0, loop headers, after calls).
        self.only: set[int] | None = None


def parse_threshold(text: str) -> tuple[int, int]:
    """`CALLS[,LOOPS]` -> (calls, loops); ValueError for anything else."""
    parts = [p.strip() for p in str(text).split(",")]
    if not 1 <= len(parts) <= 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"jit threshold must be CALLS[,LOOPS] (positive integers), got {text!r}")
    calls = int(parts[0])
    loops = int(parts[1]) if len(parts) == 2 else DEFAULT_THRESHOLD[1]
    return calls, loops


class Jit:
    """The JIT tier attached to one Machine (see the module docstring)."""

    def __init__(
        self,
        vm: Any,
        mode: str = "on",
        *,
        threshold: tuple[int, int] | None = None,
        log: Callable[[str], None] | None = None,
        stress: int | None = None,
        passes: list[str] | None = None,
    ) -> None:
        if mode not in MODES or mode == "off":
            raise ValueError(f"jit mode must be one of {', '.join(MODES[1:])}, got {mode!r}")
        native = mode in NATIVE_MODES
        background = mode == "native"  # (native-eager compiles synchronously: deterministic tests)
        mode = NATIVE_MODES.get(mode, mode)
        self.vm = vm
        self.mode = mode
        calls, loops = threshold or DEFAULT_THRESHOLD
        self.call_threshold = 1 if mode == "eager" else calls
        self.loop_threshold = 1 if mode == "eager" else loops
        self.log = log
        self.stress = stress
        self.rnd = random.Random(stress).random if stress is not None else None
        self.passes = passes
        self.codes: dict[Code, CodeState] = {}
        self.stats = {
            "compiled": 0,
            "not_compiled": 0,
            "deopts": 0,
            "recompiled": 0,
            "given_up": 0,
            "stress_exits": 0,
        }
        # A VM that counts fuel gets code that counts it too (jit/fuel.py).
        self.metered = bool(vm.limits.metered)
        # The native tier (docs/native.md); on a VM that counts fuel, native
        # code counts it too, per bytecode block (jit/fuel.py's weights).
        self.native: Any = None
        if native:
            from .native import require

            require()  # NativeUnavailable: the one-line "needs llvmlite" error
            from .native.engine import NativeTier

            self.native = NativeTier(vm, log, background=background)
            # Machine code reads packed arrays in place (jit/native/layout.py
            # probe_packed): this VM makes them (heap/packed.py).
            from ..heap.packed import PACKED
            from .native.engine import packed_type
            from .native.layout import probe_raw_ok, probe_slots_ok

            vm.heap.packs = PACKED if packed_type() is not None else ""
            # Instances laid out in slots (heap/layout.py) when machine code
            # can read them: probe_slots checked the slot offsets on live
            # objects once per process; otherwise dict instances, which
            # native code also reads.
            vm.heap.lays_out = probe_slots_ok()
            # Fields of type int (bool) never seen holding anything else
            # as raw int64s (bytes) (heap/layout.py "Raw slots"): one load or store in
            # machine code; the interpreter boxes at each access (Bounce
            # ~12% slower on it), so only a VM with this tier keeps them.
            vm.heap.unboxes = vm.heap.lays_out and probe_raw_ok()
        vm.jit = self

    # ------------------------------------------------------------------ hooks

    def decoded(self, code: Code, ops: list) -> None:
        """The decoder made ops for code: wrap its entry (and loop headers)."""
        if code in self.codes:
            return
        headers = loop_headers(code)
        native_candidate = self.native is not None and (code.ret_type in _SCALAR_RESULTS or _object_result(code.ret_type))
        python_ok = True
        if self.mode == "on":
            # Loop-free code gains nothing here: its calls go through the
            # interpreter's frames either way, and a compiled entry and resume
            # per call cost more than the fused ops they replace (docs/jit.md,
            # the numbers). Nor do loops that mostly call: each call leaves
            # compiled code and its return enters it again. Such code keeps
            # its plain ops: no counter, no cost.
            all_loops = headers
            headers = profitable_loops(code)
            if not headers:
                if not native_candidate:
                    return
                python_ok = False  # counted for the native tier only
                # (its loops too: a loop of pushes building an array is a
                # call loop to the Python JIT, and native code at its first
                # thousand back-edges: jit/native/alloc.py)
                headers = all_loops
        st = self.codes[code] = CodeState(code, ops)
        st.python_ok = python_ok
        if self.mode == "on":
            # Entered only at its start and its profitable loops' headers:
            # what runs after a call returns stays interpreted until control
            # reaches such a loop again.
            st.only = {0, *headers}
        vm = self.vm
        orig0 = ops[0]
        plain0 = vm.op_info.get(orig0, (None, 0))[1] != BLOCK_PC
        # A fused block that fails before its meter update counts its
        # instructions up to the failing one by its own op (Machine._count_failed,
        # keyed by the op the dispatch loop ran): run through a wrapper, the
        # wrapper must do it, or fuel would miss that prefix.
        count_failed = vm._count_failed
        st.orig0 = orig0
        st.plain0 = plain0
        jit = self
        threshold = self.call_threshold

        def enter(fb: Any) -> Any:
            e = st.entry0
            if e is not None:
                return e(fb)
            st.calls += 1
            if st.calls >= threshold and not st.tried:
                jit.compile(st, fb, 0)
                if st.entry0 is not None:
                    return st.entry0(fb)
            if plain0:
                fb.epc = 0
            try:
                return orig0(fb)
            except _ERRORS:
                count_failed(orig0, fb, -1)
                raise

        self._register(enter, orig0, code, 0)
        ops[0] = enter
        st.wrappers[0] = enter
        if self.mode == "on":
            for h in headers:
                if h != 0:
                    self._wrap_header(st, h)

    def _register(self, op: Callable, like: Any, code: Code, pc: int) -> None:
        vm = self.vm
        vm.op_info[op] = (code, BLOCK_PC)
        vm.block_start[op] = pc
        vm.op_weight[op] = vm.op_weight.get(like, 1) if like is not None else 1

    def _wrap_header(self, st: CodeState, h: int) -> None:
        ops = st.ops
        orig = ops[h]
        plain = self.vm.op_info.get(orig, (None, 0))[1] != BLOCK_PC
        count_failed = self.vm._count_failed  # (as in `decoded`)
        jit = self
        threshold = self.loop_threshold
        loops = st.loops
        loops[h] = 0

        def header(fb: Any) -> Any:
            n = loops[h] = loops[h] + 1
            if n >= threshold and (not st.tried or st.job is not None and st.job.done):
                if st.tried:
                    # (a background compilation done while this call's loop
                    # runs: its OSR entry takes the loop from here, rather
                    # than the function's next call, which may never come)
                    jit._collect_background(st)
                else:
                    jit.compile(st, fb, h)
                if ops[h] is not header:
                    return ops[h](fb)
            if plain:
                fb.epc = h
            try:
                return orig(fb)
            except _ERRORS:
                count_failed(orig, fb, -1)
                raise

        self._register(header, orig, st.code, h)
        ops[h] = header
        st.wrappers[h] = header

    # ------------------------------------------------------------------ compiling

    def _steps(self, st: CodeState) -> None:
        """The plain (one instruction each) closures of st.code, continuing
        through a list that mirrors the interpreter's ops."""
        from ..vm.predecode import (
            Decoder,  # (the decoder's module imports the builders)
        )

        vm = self.vm
        dec = vm.decoders[st.code]
        d = Decoder(vm, dec.module, plain=True)
        d.store = ChainMap({}, vm.decoded)  # nested code objects: the real ones
        d.max_depth = dec.max_depth  # (the limit the code's own call sites were built with)
        plain = d._decode_one(st.code)
        vm.decoders[st.code] = dec
        st.steps = list(plain)
        plain[:] = st.ops
        st.mirror = plain

    def profile(self, fb: Any, code: Code, pc: int) -> dict:
        L = fb.L
        out: dict = {}
        if L and L[0] is not None and getattr(L[0], "code", None) is code:
            for i in range(1, min(code.nlocals, len(L))):
                key = ("param", i) if i <= code.arity else ("local", i)
                out[key] = typeof(L[i])
        return out

    def _native_entry(self, st: CodeState, comp: Any = None, receiver: Any = None) -> Callable | None:
        """The native tier's pc-0 op for st.code (of comp, a background
        compilation's result, or compiled now for `receiver`: `_receiver`),
        or None (jit/native/engine.py).
        Its fallback (a bail: the same call re-run from its entry state) is
        the Python JIT's entry when there is one, else the interpreter."""
        dec = self.vm.decoders.get(st.code)
        rules = self.vm.code_rules.get(st.code)
        if dec is None or rules is None or not rules.int_fast:
            # (native code implements TinyLang's operator rules; Lox has its own)
            return None

        def fallback(fb: Any) -> Any:
            # (reached from the native entry when the VM does not count fuel:
            # on one that does, the entry hands over by returning resume0 for
            # the loop to dispatch, which counts a failing block itself,
            # engine.py `back`; either way the prefix is counted once)
            return self._other_tiers(st, fb)

        # (resume0: where a deopt back at the call's pc 0 goes on, the interpreter's own op)
        op = self.native.entry(st.code, dec.G, dec.max_depth, fallback, comp, resume0=st.orig0, receiver=receiver)
        if op is not None:
            self._register(op, None, st.code, 0)
        return op

    def _other_tiers(self, st: CodeState, fb: Any) -> Any:
        """Run a call of st.code without native code: the Python JIT's entry
        when there is one, else the interpreter's own pc-0 op. Shared by the
        native entry's fallback and the pending entry of a background
        compilation (not by `enter`, whose hot path keeps its locals)."""
        e = st.py_entry0
        if e is not None:
            return e(fb)
        if st.plain0:
            fb.epc = 0
        try:
            return st.orig0(fb)
        except _ERRORS:
            self.vm._count_failed(st.orig0, fb, -1)  # (a wrapper: as in `decoded`)
            raise

    def _install_native_osr(self, st: CodeState, op: Callable) -> None:
        """The native tier's entries at loop headers (on-stack replacement):
        the op at each such pc enters native code with the frame as it is
        (a hot loop already running, or a loop after a call out)."""
        makers = getattr(op, "osr", None) or {}
        for pc, make in makers.items():
            prev = st.ops[pc]
            entry = make(prev)
            self._register(entry, prev, st.code, pc)
            st.ops[pc] = entry
            st.native_osr.add(pc)

    def _native_background(self, st: CodeState, receiver: Any = None) -> Callable | None:
        """`--jit=native`: start compiling st.code on the native tier's worker
        (jit/native/worker.py). A cache hit is installed at once (the native
        entry op is returned); otherwise a *pending* entry is installed as
        st.native, which runs the call on the other tiers until the job is
        done and then, on the VM's own thread at that call's start (a safe
        point: the callee's frame is pushed, nothing of it ran), installs
        the native entry. None: not eligible."""
        dec = self.vm.decoders.get(st.code)
        rules = self.vm.code_rules.get(st.code)
        if dec is None or rules is None or not rules.int_fast:
            return None
        native = self.native
        got = native.submit(st.code, dec.G, receiver)
        if got is None:
            return None
        from .native.worker import Job

        if not isinstance(got, Job):
            return self._native_entry(st, got)
        job = st.job = got
        jit = self

        def pending(fb: Any) -> Any:
            if job.done and st.job is job:
                op = jit._collect_background(st)
                if op is not None:
                    return op(fb)
            return jit._other_tiers(st, fb)

        self._register(pending, None, st.code, 0)
        st.native = pending
        st.entry0 = pending
        return None

    def _collect_background(self, st: CodeState) -> Callable | None:
        """Install the finished background compilation of st.code (VM
        thread, at a safe point: a call's start, or a loop header the
        running call reaches): its entry op and OSR entries, as `compile`
        does for a synchronous one; the entry op, or None (not native)."""
        job, st.job = st.job, None
        comp = self.native.collect(st.code, job)
        op = self._native_entry(st, comp) if comp is not None else None
        st.native = op
        st.entry0 = op or st.py_entry0
        if op is not None:
            self._install_native_osr(st, op)
        return op

    def close(self) -> None:
        """The VM is done: stop the native tier's worker (jit/native/worker.py)."""
        if self.native is not None:
            self.native.close()

    def compile(self, st: CodeState, fb: Any, pc: int) -> bool:
        if self.native is not None and not st.native_tried:
            st.native_tried = True
            # (in the background: a pending entry, and the other tiers meanwhile)
            receiver = _receiver(st.code, fb)
            op = self._native_background(st, receiver) if self.native.background else self._native_entry(st, receiver=receiver)
            if op is not None:
                st.native = op
                st.entry0 = op
                self._install_native_osr(st, op)
                # (native code that calls out leaves for the rest of the call:
                # the Python JIT's entries after the call take it on)
                if (pc == 0 and not getattr(op, "calls_out", False)) or not st.python_ok:
                    st.tried = True
                    return True
        if not st.python_ok:
            st.tried = True
            return False
        st.tried = True
        code = st.code
        if self.passes is None:  # (the first time loads the pass modules and plugins: not timed)
            self.passes = jit_pipeline()
        t0 = time.perf_counter()
        try:
            fn = build(code)
            if self.metered:
                meter(fn, code)
        except Unsupported as e:
            self._not_compiled(code, str(e))
            return False
        names = self.passes
        profile = self.profile(fb, code, pc) if fb is not None else None
        for key in st.banned:  # speculations that kept failing: typespec sees no profile for them
            if profile is not None:
                profile.pop(key, None)
        ctx = PassContext(
            profile=profile,
            speculate=True,
            options={"typespec.banned": set(st.banned)},
        )
        try:
            run_pipeline(fn, names, ctx)
            rules = self.vm.code_rules.get(code)
            gen = generate(
                fn,
                code,
                int_fast=bool(rules is not None and rules.int_fast),
                stress=self.stress is not None,
                metered=self.metered,
                shapes=self.vm.heap.shapes.values(),  # (heap/layout.py: laid-out instances' types)
            )
        except NotCompilable as e:
            self._not_compiled(code, str(e))
            return False
        except RecursionError:  # (a deeply nested function: the passes or the generator)
            self._not_compiled(code, "nested too deeply")
            return False
        except Exception as e:  # noqa: BLE001 - a pass or generator bug: the interpreter runs it
            # A failure to compile must never fail the program: the code is
            # exactly as correct interpreted. The log names it for a bug report.
            self._not_compiled(code, f"internal error: {type(e).__name__}: {e}")
            return False
        if gen.ninstrs > MAX_INSTRS:
            self._not_compiled(
                code,
                f"too big ({gen.ninstrs} IR instructions; the limit is {MAX_INSTRS})",
            )
            return False
        if st.steps is None:
            self._steps(st)
        ns = self.namespace(st, gen)
        try:
            # The source is ours, made from verified bytecode: no guest text is in it
            # but constants, which codegen writes with repr() or passes in _K.
            exec(compile(gen.source, "<tinyvm jit>", "exec"), ns)  # noqa: S102
        except (
            SyntaxError,
            RecursionError,
            MemoryError,
        ) as e:  # (Python's own limits on nesting)
            self._not_compiled(code, f"Python could not compile it ({type(e).__name__})")
            return False
        st.generated = gen
        self._install(st, gen, ns)
        self.stats["compiled"] += 1
        if self.vm.hooks.on_jit:
            self.vm.hooks.jit("compile", code.name, (time.perf_counter() - t0) * 1000)
        if self.log is not None:
            ms = (time.perf_counter() - t0) * 1000
            entries = len(gen.entries)
            self.log(f"jit: compiled {code.name} in {ms:.1f} ms ({gen.ninstrs} IR instrs, {entries} entr{'y' if entries == 1 else 'ies'}, pipeline: {','.join(names) or 'none'})")
        return True

    def _not_compiled(self, code: Code, reason: str) -> None:
        self.stats["not_compiled"] += 1
        if self.vm.hooks.on_jit:
            self.vm.hooks.jit("not-compiled", code.name, reason=reason)
        if self.log is not None:
            self.log(f"jit: not compiled {code.name}: {reason}")

    def namespace(self, st: CodeState, gen: Generated) -> dict:
        vm = self.vm
        sites = gen.sites
        counts = [0] * len(sites)
        jit = self
        orig = st.orig

        def deopt(fb: Any, k: int) -> Any:
            pc, reason, key = sites[k]
            counts[k] += 1
            jit.stats["deopts"] += 1
            if vm.hooks.on_jit:
                vm.hooks.jit("deopt", st.code.name, reason=f"{reason} (pc {pc})")
            if jit.log is not None and counts[k] <= DEOPT_LIMIT:
                line, _ = st.code.position(pc)
                jit.log(f"jit: deopt {st.code.name} at {st.code.path}:{line} (pc {pc}): {reason}")
            if counts[k] == DEOPT_LIMIT + 1 and st.generated is gen:
                jit.recompile(st, fb, key)
            return orig[pc]

        def fail(fb: Any, L: list, x: BaseException, key: tuple | None, loc: dict) -> None:
            # An error inside compiled code: leave the frame as the interpreter
            # would have it at the raising instruction (see codegen).
            if key is None or fb.L is not L:
                return
            pc, lnames, snames = key
            try:
                vals = [loc[n] if n is not None else L[i + 1] for i, n in enumerate(lnames)]
                vals += [loc[n] for n in snames]
            except KeyError:  # pragma: no cover - every named value dominates the instruction
                return
            L[1:] = vals
            fb.epc = pc

        sched = vm.sched
        collect = vm.gc_step
        lim = vm.limits
        heap = vm.heap
        hooks = vm.hooks
        code = st.code

        def slice_end(fb: Any, pc: int, expired: bool) -> Any:
            # A back-edge of compiled code, the frame written back at the loop
            # header pc: the dispatch loop's chunk-end work, here (the loop's
            # own chunk may hold thousands of compiled iterations): a pending
            # collection; when the countdown `expired`, limits and preemption.
            # None: go on.
            if heap.pending:
                collect()  # (every live value is in fb.L now)
            if not expired:
                return None
            if hooks.sampling:  # (the profiler's samples: vm/hooks.py)
                hooks.sample_at(fb, code, pc, 1)
            if hooks.stepping:  # a hook installed meanwhile (a debugger's pause): interpret
                return orig[pc]
            if lim.armed:
                lim.check()
            if fb.nested or not vm.running or fb is not vm.fiber:
                return None
            if fb.cancel_pending:
                fb.cancel_pending = False
                fb.epc = pc
                raise Throw(vm.make_error("Cancelled", "task was cancelled"))
            if sched.ready or sched.poll_now():
                fb.resume = orig[pc]
                sched.ready.append(fb)
                raise Switch
            return None

        stats = self.stats

        def stress_exit(pc: int) -> Any:
            stats["stress_exits"] += 1
            return orig[pc]

        return {
            "_stress_exit": stress_exit,
            "_slice": slice_end,
            "_S": st.steps, "_P": st.mirror, "_O": orig, "_K": gen.consts, "_MIN": INT_MIN, "_MAX": INT_MAX,
            "_heap": vm.heap, "_lim": vm.limits, "_M": vm.limits.meter, "_rnd": self.rnd, "_DONE": DONE, "_Throw": Throw,
            "_typeof": typeof,
            "_Instance": Instance,
            "_Array": Array,
            "_Packed": PackedArray,  # (heap/packed.py: codegen's get/set_index and unpack_check fast paths)
            "_UNINIT": UNINIT, "_ERRORS": _ERRORS, "_LINES": gen.lines, "_fail": fail, "_deopt": deopt,
            "_Tuple": Tuple, "_fpow": float_power,  # (tljit: TinyLang 1.1's fast paths, codegen._fast_paths_v11)
            "_MISSING": MISSING,  # (tldjit: the `passed` test of a parameter's value)
        }  # fmt: skip

    def _install(self, st: CodeState, gen: Generated, ns: dict) -> None:
        for e in gen.entries:
            if st.only is not None and e.pc not in st.only:
                continue
            op = functools.partial(ns["_body"], e.index)
            self._register(op, None, st.code, e.pc)
            if e.pc == 0:
                st.py_entry0 = op
                st.entry0 = st.native or op
            else:
                # (where native code has an OSR entry, and after calls in code
                # it has some, the interpreter's ops lead back to native code)
                if not (e.pc in st.native_osr or (st.native_osr and e.kind == "return")):
                    st.ops[e.pc] = op
                st.mirror[e.pc] = op
                st.installed.append(e.pc)

    def uninstall(self, st: CodeState) -> None:
        """Back to the interpreter (frames already in compiled code finish there)."""
        for pc in st.installed:
            op = st.wrappers.get(pc, st.orig[pc])
            st.ops[pc] = op
            st.mirror[pc] = op
        st.installed = []
        st.py_entry0 = None
        st.entry0 = st.native
        st.generated = None

    def recompile(self, st: CodeState, fb: Any, key: Any) -> None:
        """Compile st.code again without the speculation `key` (a profile key:
        `("param", slot)` or a pc) that keeps failing."""
        st.banned.add(key)
        self.uninstall(st)
        st.recompiles += 1
        name = st.code.name
        if st.recompiles > RECOMPILE_LIMIT:
            st.given_up = True
            self.stats["given_up"] += 1
            if self.vm.hooks.on_jit:
                self.vm.hooks.jit("give-up", name, reason="still deoptimising after recompiles")
            if self.log is not None:
                self.log(f"jit: given up {name}: {st.recompiles - 1} recompiles, still deoptimising")
            return
        self.stats["recompiled"] += 1
        if self.log is not None:
            self.log(f"jit: recompiled {name} without speculating on {', '.join(sorted(_key_text(k) for k in st.banned))}")
        self.compile(st, fb, 0)


def _key_text(key: Any) -> str:
    return f"{key[0]} {key[1]}" if isinstance(key, tuple) else f"pc {key}"


def jit_pipeline() -> list[str]:
    """The default pipeline without `inline`, with `typespec` first.

    No `inline`: compiled code does not rebuild an inlined callee's frames yet
    (FrameState.parent chains), so it could not deoptimise inside them.
    `typespec` first: it puts a parameter's guard at the end of the entry
    block, which is only before the parameter's uses while that block is
    still the synthetic one (simplify-cfg merges it into the block at pc 0);
    the passes after it then see the speculated types (docs/jit.md)."""
    names = [p for p in default_pipeline() if p not in ("inline", "typespec")]
    return (["typespec"] if "typespec" in default_pipeline() else []) + names


def loop_headers(code: Code) -> list[int]:
    """The targets of backward jumps (where on-stack replacement enters)."""
    return sorted({t for t, _ in _back_edges(code)})


def _back_edges(code: Code) -> list[tuple[int, int]]:
    out = []
    for pc, (op, args) in decode(code).items():
        info = OPCODES[op]
        if "jump" in info.operands:
            t = args[info.operands.index("jump")]
            if t <= pc:
                out.append((t, pc))
    return out


# Instructions that leave compiled code when they call a guest function.
_CALLS = frozenset({O.CALL, O.CALL_GLOBAL, O.CALL_TYPED, O.CALL_METHOD, O.CALL_METHOD_TYPED, O.SUPER_CALL})
# A loop is worth compiling in `on` mode when its body has at least this many
# instructions per call (or no call): measured on the AWFY ports, loops whose
# bodies are little more than a call (Bounce, Permute, Queens, Towers) run
# slower compiled, since every call exits compiled code and every return
# enters it again (docs/jit.md).
MIN_WORK_PER_CALL = 16


def profitable_loops(code: Code) -> list[int]:
    """The loop headers of code whose loops are worth compiling (see MIN_WORK_PER_CALL)."""
    ins = decode(code)
    out = set()
    for header, end in _back_edges(code):
        body = [op for pc, (op, _) in ins.items() if header <= pc <= end]
        calls = sum(1 for op in body if op in _CALLS)
        if calls == 0 or len(body) >= MIN_WORK_PER_CALL * calls:
            out.add(header)
    return sorted(out)
