"""The interpreter core: one VM, and its dispatch loop.

One `Machine` is one independent VM: its own heap, built-ins, loaded modules
and pre-decoded code. Nothing is shared between machines (no module globals
hold state), so many can run in one process. The machine is split by concern
into this module and three mixins:

    machine.py     state, roots, the dispatch loop and the scheduling around it
    calls.py       calls, construction, method calls, errors and unwinding
    object_ops.py  fields, indexing, iteration, class creation
    modules.py     bundles, module objects, imports, standard modules, the prelude

The dispatch loop (`run`) is

    for _ in budget: op = op(fiber)

where `op` is a pre-decoded instruction (predecode.py). The end of each budget
chunk is the VM's single hook point -- the place for preemption and GC safe
points now, and for fuel, tracing and breakpoints in later issues (set the
chunk to 1 to see every instruction). A collection the heap asked for also
runs where the loop changes fibers (a blocking operation, a fiber's end, a
yield) and after a caught error: fibers that switch or throw before a chunk
ends would otherwise never collect. Guest errors arrive as Python exceptions
(`RtError`, `Throw`) and are dispatched to exception-table handlers by
`_unwind` (calls.py), which walks the fiber's explicit frame stack: guest
calls never recurse in Python.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
import threading
from typing import Any, Callable

from ..bytecode.code import Code, ModuleCode
from ..heap.heap import Heap
from ..heap.layout import new_instance
from ..heap.tuning import check_mode, tuning_from
from ..heap.objects import AsyncFunction, Class, Function, Instance, ModuleObject, Native
from ..runtime.dialects import DEFAULT_MAX_DEPTH, LOX, Rules, make_rules
from ..runtime.inputs import Inputs
from ..runtime.errors import GuestExit, GuestException, HostIOError, LimitExceeded, RtError, Throw
from ..runtime.values import NeedsGuest, to_str
from ..runtime.weakrefs import install as install_weakrefs
from ..runtime.library import install as install_library
from ..runtime.sets import install as install_sets
from .ops_tlexpr import install as install_tlexpr  # tlexpr: Array(n, fill)
from ..sched.concurrency import install as install_concurrency
from ..sched.fiber import BLOCKED, DONE, Fiber
from ..sched.scheduler import DEFAULT_BUDGET, Scheduler, Switch
from ..stdlib.capabilities import Capabilities
from .blocks import BLOCK_PC, MAX_WEIGHT
from .calls import NO_PLACE, Calls, to_str_safe
from .hooks import Hooks
from .limits import Limits, OutputMeter
from .modules import Modules
from .object_ops import ObjectOps
from .typecheck import TypeChecks

ERROR_CLASSES = (
    "TypeError ValueError IndexError KeyError ZeroDivisionError OverflowError StackOverflowError "
    "MemoryError Cancelled DeadlockError PermissionError IOError"
).split()

CHUNK = 4096  # dispatches between safe points


# CPython's cyclic GC while VMs run (Machine._run_outermost): its generation-0
# threshold at least HOST_GC_GEN0 container allocations, generation 1 collected
# every HOST_GC_GEN1 generation-0 passes at most. Every guest object is a
# container that survives the passes until the guest sweep frees it, so a
# generation-1 pass traverses every guest object made since the last one: on
# a heap of a million live arrays (benchmarks/gc_bench.py's live heap) 6
# such passes took 0.8-1.1 s of a 13 s run, one pass at 100 (docs/native.md,
# "Collections and native code's allocations"). Host cycles the guest sweep
# does not break (few: the VM's own structures) wait longer to be freed.
HOST_GC_GEN0 = 100000
HOST_GC_GEN1 = 100
# The thresholds are the process's own: the first run to start (of any VM, on
# any thread) saves the host's and the last to end restores them, so that VMs
# running at once on several threads leave nothing behind. (This count is the
# one piece of process-wide state: the setting it guards is process-wide.)
_host_gc_lock = threading.Lock()
_host_gc_state: list[Any] = [0, None]  # [runs active, the host's thresholds]


def host_gc_enter() -> None:
    with _host_gc_lock:
        if _host_gc_state[0] == 0:
            saved = _host_gc_state[1] = gc.get_threshold()
            gc.set_threshold(max(saved[0], HOST_GC_GEN0), max(saved[1], HOST_GC_GEN1), *saved[2:])
        _host_gc_state[0] += 1


def host_gc_leave() -> None:
    with _host_gc_lock:
        _host_gc_state[0] -= 1
        if _host_gc_state[0] == 0:
            gc.set_threshold(*_host_gc_state[1])
            _host_gc_state[1] = None


class Halt(Exception):
    """Raised by the bottom frame's continuation: the fiber's entry call returned."""

    def __init__(self, value: Any) -> None:
        self.value = value


_NO_ERROR = object()


class Machine(Calls, ObjectOps, Modules):
    """One VM (see the module docstring)."""

    def __init__(self, loader: Any, *, gc_stress: bool = False, max_depth: int | None = None, stdout: Any = None, stdin: Any = None, argv: list[str] | None = None, budget: int = DEFAULT_BUDGET, fuse: bool = True, meter: bool = False, max_memory: int | None = None, alloc_sites: str | None = None, gc_mode: str = "stw", gc_verify: bool = False, gc_tuning: Any = None) -> None:
        # The VM's view of the front ends (lang/loader.py): resolves import
        # specs and compiles the prelude. The VM imports no compiler itself.
        self.loader = loader
        # max_memory: the heap's limit in accounted bytes (None: heap.DEFAULT_LIMIT).
        # alloc_sites: record where each object is made, "function" or "line"
        # (heap/sites.py: a Heap subclass, so that a VM without it pays nothing).
        # gc_mode, gc_verify, gc_tuning: the collector (heap/tuning.py; docs/gc.md).
        heap_kw: dict[str, Any] = {"stress": gc_stress, "limit": max_memory, "verify": gc_verify, "tuning": tuning_from(gc_tuning)}
        if alloc_sites:
            from ..heap.sites import SiteHeap

            self.heap = SiteHeap(self, alloc_sites, **heap_kw)
        else:
            self.heap = Heap(**heap_kw)
        # The roots, for a mark at the limit and collections at safe points (heap/heap.py).
        self.heap.roots = self.gc_roots
        self.heap.set_mode(check_mode(gc_mode))
        # None: the default of the language of the code each run starts with
        # (_fix_depth: clox's 64 for Lox), until then the default dialect's.
        # Decoded call sites hold the limit of their code's language
        # (predecode.Decoder.max_depth). `depth_fixed`: the host chose one.
        self.max_depth = max_depth if max_depth is not None else DEFAULT_MAX_DEPTH
        self.depth_fixed = max_depth is not None
        # Run-time rules per language (runtime/dialects.py), and those of each
        # decoded code object (for the text of keyed errors).
        self._rules: dict[str, Rules] = {}
        self.code_rules: dict[Code, Rules] = {}
        self._stdout = stdout if stdout is not None else sys.stdout
        self.stdout = self._stdout  # (an OutputMeter around it while max_output is set)
        # Sandbox limits (vm/limits.py): fuel, deadline, interrupt, output.
        self.limits = Limits(lambda: self.sched.io.wake())
        # meter: count fuel (vm/limits.py). Fixed when the machine is made,
        # as wasmtime's `consume_fuel`: the counting is compiled into the
        # decoded code (blocks add their instructions to the meter), which
        # costs 5-10% that a VM without a fuel limit should not pay.
        self.limits.metered = meter
        self.limits.loop_code = Machine._loop.__code__
        self.limits.on_output_limit = self._meter_output
        meter = self.limits.meter
        self.stdin = stdin if stdin is not None else sys.stdin
        self.argv = argv or []
        self.decoded: dict[Code, list] = {}
        # fuse=False: no superinstructions, no jump threading (the plain tier,
        # for differential tests); the plain copies the loop falls back to
        # when an op stands for more instructions than there is fuel left; the
        # decoder of each code object (for those copies); the instructions
        # each fused op stands for, where not 1; a block's instructions by offset.
        self.fuse = fuse
        self.plain_decoded: dict[Code, list] = {}
        self.decoders: dict[Code, Any] = {}
        self.op_weight: dict[Any, int] = {}
        self.block_positions: dict[Any, dict[int, int]] = {}
        # Compiled run-time type checks (parameters, fields, CHECK_TYPE), per VM.
        self.type_checks = TypeChecks()
        self.op_info: dict[Any, tuple[Code | None, int]] = {}
        self.modules: dict[str, ModuleObject] = {}  # file modules, by key
        self.std_modules: dict[str, ModuleObject] = {}  # standard modules, by name
        self.module_codes: dict[str, ModuleCode] = {}
        self.chunk = 1 if gc_stress else CHUNK
        self._discard_conts: dict[Any, Callable] = {}
        self.fiber: Fiber | None = None
        # Fibers being run, outermost first: a host call made while a fiber runs
        # (loading the prelude, formatting an uncaught error) nests another.
        self.fibers: list[Fiber] = []
        self.prelude: ModuleObject | None = None
        # The runtime library's code objects (the prelude's, as they are
        # decoded: vm/predecode.py): left out of traces.
        self.library_code: set[Code] = set()
        self.extra_roots: list = []  # values held by the embedding API
        self.host_pins: dict[int, Any] = {}  # guest values the host holds proxies of (api)

        # The host's nondeterministic inputs (clocks, stdin, files, env) are
        # read through this seam, so that a run can be recorded and replayed
        # (runtime/inputs.py, tools/record.py). Live: a plain call.
        self.inputs = Inputs()
        self.sched = Scheduler(self, budget)
        finish = self.sched.finish

        # The loop's own continuations are no instructions: no fuel (each
        # takes back the unit its dispatch counts).
        def halt(fb: Fiber) -> Any:
            meter.cell_contents -= 1
            raise Halt(fb.L[-1])

        def fiber_exit(fb: Fiber) -> Any:
            meter.cell_contents -= 1
            finish(fb, fb.L[-1])
            raise Switch

        self._halt = halt
        self.fiber_exit = fiber_exit
        self.op_info[halt] = (None, -1)
        self.op_info[fiber_exit] = (None, -1)
        self.op_weight[halt] = self.op_weight[fiber_exit] = 0
        self.running = False  # a scheduling run is active (nested runs may not block)
        self.warnings: list[str] = []  # for the host to show (--warn-leaks, lost task errors)
        self.warn_leaks = False
        # What fs/os/net may touch: nothing unless the host grants it (stdlib/capabilities.py).
        self.caps = Capabilities()
        self._lost: list[Fiber] = []  # failed tasks nobody awaited yet
        self._start_ops: dict[int, Callable] = {}
        self.block_start: dict[Any, int] = {}  # expression block op -> its first offset
        self._rethrow_ops: dict[Any, Callable] = {}
        # The JIT tier, when one is installed (jit/tier.py attaches itself
        # here; the vm package never imports it): the decoder tells it of
        # every code object it decodes.
        self.jit: Any = None
        # Tools' hooks (vm/hooks.py): the debugger, profiler, tracer.
        self.hooks = Hooks(self)
        if alloc_sites:
            self.heap.install()  # type: ignore[attr-defined]
        self._init_builtins()
        install_concurrency(self)
        install_weakrefs(self)
        install_library(self)  # the 1.1 built-ins (sum sorted range ord...)
        install_sets(self)
        install_tlexpr(self)

    # ------------------------------------------------------------------ setup

    def rules_for(self, lang: str) -> Rules:
        rules = self._rules.get(lang)
        if rules is None:
            rules = self._rules[lang] = make_rules(self, lang)
            if lang == LOX and "gc" not in self.builtins:
                # Lox cannot import: its scripts get the gc module as the
                # global `gc` (lang/lox/compiler.py NATIVES; docs/gc.md).
                from ..stdlib.gc import make_lox_gc

                self.builtins["gc"] = make_lox_gc(self)
        return rules

    def error_text(self, fb: Fiber, op: Any, e: RtError) -> str:
        """The message of e in the language of the code that raised it."""
        if e.key is None:
            return e.message
        code, _ = self.where(fb, op)
        rules = self.code_rules.get(code) if code is not None else None
        return rules.message(e) if rules is not None else e.message

    def _init_builtins(self) -> None:
        from ..runtime.builtins import make_builtins
        from ..runtime.methods import make_methods

        self.builtins: dict[str, Any] = make_builtins(self)
        self.error_classes: dict[str, Class] = {}
        base = self._native_class("Error", None)
        for name in ERROR_CLASSES:
            self._native_class(name, base)
        self.methods = make_methods(self)
        from ..runtime.comparable import install_comparable

        install_comparable(self)  # TinyLang 1.1: the interface and int/float/string.compare

    def _native_class(self, name: str, parent: Class | None) -> Class:
        cls = self.heap.alloc(Class(name, parent, None))
        if parent is None:
            cls.template = {"message": "", "stack": ""}

            def init(inst: Instance, *args: Any) -> Any:
                if len(args) > 1:
                    raise RtError("TypeError", f"{inst.cls.name}.init expects at most 1 argument, got {len(args)}")
                inst.fields["message"] = to_str(args[0]) if args else ""
                return inst

            cls.init = self.heap.alloc(Native("init", init, -1))
            cls.methods["init"] = cls.init
        else:
            cls.init = parent.init
        self.error_classes[name] = cls
        self.builtins[name] = cls
        return cls

    def gc_roots(self) -> list:
        """Every root of the guest heap, in one place."""
        roots: list = list(self.modules.values())
        roots.extend(self.std_modules.values())
        roots.extend(self.builtins.values())
        roots.extend(self.error_classes.values())
        if self.prelude is not None:
            roots.append(self.prelude)
        roots.extend(self.fibers)
        roots.extend(self.sched.alive)
        roots.extend(self._lost)  # failed tasks to report unless awaited
        roots.extend(self.extra_roots)
        roots.extend(self.host_pins.values())
        return roots

    def gc_stats(self) -> dict[str, Any]:
        """The collector's statistics (heap/gcstats.py; docs/gc.md)."""
        return self.heap.stats.report(self.heap)

    def collect(self) -> int:
        """A full collection now (gc.collect(), the host's vm.collect())."""
        return self._gc_done(self.heap.collect(self.gc_roots()))

    def gc_step(self) -> int:
        """At a safe point with a collection pending: the work the collector's
        mode does there (a full collection, a minor or major one, or an
        incremental slice: heap.step)."""
        return self._gc_done(self.heap.step())

    def _gc_done(self, freed: int) -> int:
        if self.hooks.on_gc:  # (the pause as the heap's statistics measured it)
            self.hooks.gc(freed, self.heap.stats.last_pause * 1000)
        return freed

    # ------------------------------------------------------------------ running

    def run_function(self, fn: Any, args: list) -> Any:
        """Call a guest callable from the host and run until it returns."""
        fb = Fiber()
        outer = self.fiber
        self.fiber = fb
        self.fibers.append(fb)
        fb.L = [None]
        fb.frames = []
        try:
            bottom = fb.L
            fb.L = bottom
            bottom.append(fn)
            bottom.extend(args)
            try:
                op = self.call_slow(fb, fn, len(args), self._halt)
            except RtError as e:  # the call itself failed (arity, not callable)
                raise self.uncaught(self.make_error(e.cls, e.message), []) from None
            except Throw as t:  # a native called from the host threw a guest value (a host function's HostError)
                raise self.uncaught(t.value, []) from None
            if op is self._halt:  # a native returned at once
                return bottom[-1]
            return self.run(fb, op)
        finally:
            self.fiber = outer
            self.fibers.pop()

    def run(self, fb: Fiber, op: Any) -> Any:
        """Run fiber fb from op until its entry call returns; returns the value.

        The outermost run is the scheduler's loop: fibers spawned meanwhile run
        too, and when fb (the main fiber) ends, the others are cancelled and
        run until they finish. A nested run (a host callback such as a str()
        method, while another run is active) runs fb alone and may not block.
        """
        if self.running:
            fb.nested = True
            return self._loop(fb, op, None)
        with self.limits.scope():  # (inside the API's scope, if any: that one's limits)
            return self._run_outermost(fb, op)

    def _run_outermost(self, fb: Fiber, op: Any) -> Any:
        self.running = True
        sched = self.sched
        sched.main = fb
        # The guest heap is collected by the VM's own collector; CPython's
        # cyclic GC, triggered every 700 container allocations by default,
        # spent a quarter of the time of spawning many fibers. Run it less
        # often while the VM runs (restored afterwards). It frees nothing of
        # the guest heap (heap.objects holds every guest object until the
        # VM's sweep, which breaks their cycles), yet traverses every live
        # one: at 20000, AWFY Storage on the native tier spent 17% of its
        # time in it (10.2-13.0 ms per 5 iterations; 6.7-10.3 at 100000).
        # (host_gc_enter: the thresholds, and why gen 1's too)
        host_gc_enter()
        try:
            return self._loop(fb, op, sched)
        except (GuestException, HostIOError):
            raise  # (the program ended; its other fibers were cancelled and ran out)
        except BaseException:
            # A limit, os.exit, Ctrl-C, a host's own exception: the run stops
            # here, and nothing of it may delay the next one.
            self.teardown()
            raise
        finally:
            host_gc_leave()
            self.running = False
            sched.main = None

    def _loop(self, fb: Fiber, op: Any, sched: Scheduler | None) -> Any:
        chunk = self.chunk
        heap = self.heap
        # Fuel (vm/limits.py): the loop counts dispatches (i: the index of the
        # one in progress, -1 between chunks; Limits reads it), folds them and
        # the meter into `spent` at every chunk end, and shortens the chunks
        # as the fuel left runs down.
        lim = self.limits
        meter = lim.meter
        weight = self.op_weight
        hooks = self.hooks
        budget = sched.budget if sched is not None else 1 << 62
        main = fb
        used = 0  # instructions run by fb since it was scheduled
        outcome: list = []  # main's return value, or the GuestException that ended it
        ready = sched.ready if sched is not None else None
        i = -1
        while True:
            err: Any = _NO_ERROR  # `throw nil` throws nil
            switch = False
            try:
                while True:
                    # (heap.chunk_cap: more frequent safe points while an
                    # incremental cycle runs, for short slices; heap/incremental.py)
                    n = min(chunk, budget - used, heap.chunk_cap)
                    if hooks.sampling:
                        n = hooks.chunk(n)
                    stop = lim.stop
                    if stop is not None:
                        left = stop - lim.spent - meter.cell_contents
                        if left < n * MAX_WEIGHT:  # maybe not enough for the whole chunk
                            n = left // MAX_WEIGHT
                            if n <= 0:  # one dispatch at a time, each checked
                                n = 1
                                if weight.get(op, 1) > left:
                                    op = self._fit(op, left)
                    if hooks.stepping:  # (vm/hooks.py: one plain instruction per dispatch)
                        step = hooks.step
                        for i in range(n):
                            op = step(fb, op)(fb)
                    else:
                        for i in range(n):
                            op = op(fb)
                    used += i + 1
                    lim.spent += i + 1 + meter.cell_contents
                    meter.cell_contents = 0
                    if hooks.sampling:
                        hooks.sample(fb, op, i + 1)
                    i = -1
                    if lim.armed:  # a deadline, or the host interrupted the run
                        lim.check()
                    # Safe point: every live value is reachable from a root here.
                    if heap.pending:
                        self.gc_step()
                    if used >= budget:
                        used = 0
                        # Preemption is a suspension point, except at a continuation
                        # that has no place in the code (a generator's or fiber's
                        # end): the next preemption point then raises it.
                        if fb.cancel_pending and self.op_info.get(op, NO_PLACE)[0] is not None:
                            fb.cancel_pending = False
                            err = self.make_error("Cancelled", "task was cancelled")
                            # Raised before `op` runs: the handler search starts at its offset.
                            fb.epc = self.block_start.get(op, fb.epc)
                            break
                        if sched.ready or sched.poll_now():  # (poll_now: due timers, ready I/O)
                            fb.resume = op
                            sched.ready.append(fb)
                            fb, op = self._next(sched, main)
                            if hooks.on_fiber:
                                hooks.fiber("switch", fb)
            except Switch:
                lim.spent += i + 1
                i = -1
                switch = True
            except Halt as h:
                lim.spent += i + 1
                i = -1
                if heap.pending:
                    self.gc_step()
                if sched is None:
                    return h.value
                outcome.append(h.value)
                self.extra_roots.append(h.value)  # while the others finish
                self._end_main(sched, main)
                switch = True
            except RtError as e:
                used += i + 1
                self._count_failed(op, fb, i)
                i = -1
                err = self.make_error(e.cls, e.message if e.key is None else self.error_text(fb, op, e))
            except Throw as t:
                used += i + 1
                self._count_failed(op, fb, i)
                i = -1
                err = t.value
            except NeedsGuest:  # pragma: no cover - handled where raised
                raise
            except RecursionError:
                self._count_failed(op, fb, i)
                i = -1
                err = self.make_error("StackOverflowError", "host recursion limit reached")
            except MemoryError as e:
                # The heap's limit (heap.OutOfMemory, raised before anything was
                # built), or the host itself out of memory: the guest's error either way.
                used += i + 1
                self._count_failed(op, fb, i)
                i = -1
                err = self.make_error("MemoryError", str(e) or "out of memory (the host could not allocate)")
            except ZeroDivisionError:
                self._count_failed(op, fb, i)
                i = -1
                err = self.make_error("ZeroDivisionError", "division by zero")
            except OverflowError:
                self._count_failed(op, fb, i)
                i = -1
                err = self.make_error("OverflowError", "numeric result out of range")
            except (GuestException, HostIOError, LimitExceeded, GuestExit):
                # An uncaught error of a nested run; a host stream that failed
                # (print's stdout); a limit (not the program's to catch: no
                # catch or finally runs); os.exit: none is the program's to
                # catch, nor a VM bug.
                lim.spent += i + 1
                raise
            except Exception as e:
                lim.spent += i + 1
                if _raised_by_host(e):  # a host signal handler's exception, say: the host's own
                    raise
                # Verified bytecode can still be nonsensical (a .tvm file crafted
                # to load a non-cell as a cell, say). Never show a host traceback:
                # stop with a clear message naming where it happened. These words
                # are for that alone: every expected host failure has its own
                # exception (HostIOError) or guest error class.
                code, pc = self.where(fb, op)
                place = f" in {code.name} at offset {pc}" if code is not None else ""
                raise GuestException(None, "InternalError", f"{type(e).__name__}: {e}{place} (corrupt bytecode or a VM bug)", self.trace(fb, op)) from e
            if err is not _NO_ERROR:
                if hooks.on_exception or hooks.stepping:
                    hooks.exception(fb, op, err)
                try:
                    op = self._unwind(fb, op, err)
                    # Safe point: the error is on the handler's frame, and the
                    # failed instruction's half-made values are garbage. (A loop
                    # that throws often restarts its chunk here.)
                    if heap.pending:
                        self.gc_step()
                except GuestException as g:
                    if sched is None:
                        raise
                    if fb is main:  # the program fails once the others are cancelled
                        outcome.append(g)
                        self.extra_roots.append(g.value)
                        self._end_main(sched, main)
                    else:  # the fiber ends; its task holds the error
                        sched.finish(fb, g.value if g.value is not None else err, failed=True)
                        if not fb.observed:
                            self._lost.append(fb)
                    switch = True
            if switch:
                used = 0
                # Safe point: the fiber that gave up the loop has saved its
                # state (parked with its frames and resume op, queued, or
                # finished with its result), and nothing else runs in between,
                # so every live value is reachable from a root. Without this, a
                # program whose fibers switch before a chunk ends would never
                # collect (a server, a channel ping-pong). One flag test per
                # switch.
                if heap.pending:
                    self.gc_step()
                if ready and not (sched.timers or sched.io.masks):
                    # The common case of _next, inline: a fiber is ready, and
                    # no timer or I/O can have become due meanwhile.
                    fb = self.fiber = ready.popleft()
                    op = fb.resume
                    fb.resume = None
                    fb.yielded = False
                    if fb.resume_error is not None:
                        op = self._rethrow_op(op)
                    if hooks.on_fiber:
                        hooks.fiber("switch", fb)
                    continue
                nxt = self._next(sched, main)
                if nxt is None:
                    self._report_lost()
                    if outcome:
                        self.extra_roots.pop()
                    if outcome and isinstance(outcome[0], GuestException):
                        raise outcome[0]
                    return outcome[0] if outcome else None
                fb, op = nxt
                if hooks.on_fiber:
                    hooks.fiber("switch", fb)

    def _count_failed(self, op: Any, fb: Fiber, i: int) -> None:
        """Fold the dispatches of a chunk a guest error ended; a block that
        failed before its meter update (before its end or tail) counts its
        instructions up to the failing one (fb.epc) here."""
        lim = self.limits
        lim.spent += i + 1
        positions = self.block_positions.get(op)
        if positions is not None:
            lim.spent += positions.get(fb.epc, 0)  # (the end or the tail: counted)

    def _fit(self, op: Any, left: int) -> Any:
        """`op` stands for more instructions than the `left` units of fuel:
        the plain (unfused) copy of its first instruction, which runs them one
        dispatch at a time; OutOfFuel when not even that one fits."""
        if left >= 1:
            code, pc = self.op_info.get(op, NO_PLACE)
            if code is not None:
                if pc == BLOCK_PC:
                    pc = self.block_start[op]
                plain = self.plain_decoded.get(code)
                if plain is None:
                    decoder = self.decoders[code]
                    plain = type(decoder)(self, decoder.module, plain=True).decode(code)
                return plain[pc]
        raise self.limits.out_of_fuel()

    def _meter_output(self, limit: int | None) -> None:
        self.stdout = self._stdout if limit is None else OutputMeter(self._stdout, self.limits)

    def teardown(self) -> None:
        """A run was stopped (a limit, os.exit, a host exception): drop what is
        left of it without running guest code -- its fibers (no catch, no
        finally), their timers and I/O waits, the values held for it -- so the
        next run on this VM starts at once and clean. Open sockets stay open
        (the host closes them with the VM)."""
        sched = self.sched
        dropped = list(sched.alive)
        if sched.main is not None:
            dropped.append(sched.main)
        for f in dropped:
            w = f.wait
            if w is not None:
                w.done = True  # (an I/O wait leaves the selector now)
            f.state = DONE
            f.cancelled = True
            f.frames = []
            f.resume = f.resume_error = f.wait = f.awaiters = None
        sched.alive.clear()
        sched.ready.clear()
        sched.timers.clear()
        sched.io.drop_waits()
        self._lost = []
        self.extra_roots = []

    def _end_main(self, sched: Scheduler, main: Fiber) -> None:
        """The main fiber is done: cancel the others (they run to their end)."""
        main.state = DONE
        if self.warn_leaks:
            for f in sched.alive:
                if f.state == BLOCKED and f.wait is not None:
                    self.warnings.append(f"warning: {sched.describe(f)} still waits on {f.wait.what} at {self.resume_place(f)} when the main fiber ends")
        for f in list(sched.alive):
            sched.cancel(f)

    def _report_lost(self) -> None:
        for f in self._lost:
            # Cancelled fibers (at the end of the program, say) failed on purpose.
            err = f.result  # (the error, as it failed)
            if not f.observed and isinstance(err, Instance) and not (f.cancelled and err.cls.name == "Cancelled"):
                msg = to_str_safe(err.fields.get("message", ""))
                self.warnings.append(f"warning: {self.sched.describe(f)} failed and was never awaited: {err.cls.name}: {msg}")
        self._lost = []

    def _next(self, sched: Scheduler, main: Fiber) -> tuple[Fiber, Any] | None:
        """Switch to the next ready fiber. When none can ever run and the main
        fiber is parked, it gets a DeadlockError; None when all are done."""
        nxt = sched.next_fiber()
        if nxt is None:
            if main.state != BLOCKED or main.wait is None:
                return None
            report = sched.blocked_report()
            sched.wake(main.wait, error=self.make_error("DeadlockError", f"all fibers are blocked: {report}"))
            nxt = sched.next_fiber()
        self.fiber = nxt
        op = nxt.resume
        nxt.resume = None
        nxt.yielded = False
        if nxt.resume_error is not None:
            op = self._rethrow_op(op)
        return nxt, op

    def _rethrow_op(self, ret: Any) -> Callable:
        """An op that raises the resumed fiber's pending error as if the call
        that parked it (the instruction before `ret`) had raised it."""
        op = self._rethrow_ops.get(ret)
        if op is None:
            meter = self.limits.meter

            def op(fb: Fiber) -> Any:
                meter.cell_contents -= 1  # (no instruction: the call's error, raised late)
                err = fb.resume_error
                fb.resume_error = None
                raise err

            self.op_info[op] = self.call_site(ret)
            self.op_weight[op] = 0
            self._rethrow_ops[ret] = op
        return op

    def resume_place(self, fb: Fiber) -> str:
        """`fn (file:line:col)` of the operation a parked fiber waits in."""
        code, pc = self.call_site(fb.resume)
        if code is None:
            return "?"
        line, col = code.position(max(0, pc))
        return f"{code.name} ({code.path}:{line}:{col})"

    def start_op(self, n: int) -> Callable:
        """The first op of a spawned fiber whose frame is [fn, args...]: call fn."""
        op = self._start_ops.get(n)
        if op is None:
            meter = self.limits.meter

            def op(fb: Fiber) -> Any:
                meter.cell_contents -= 1  # (no instruction: the fiber's start)
                L = fb.L
                fn = L[0]
                if type(fn) is Function or type(fn) is AsyncFunction:  # run it here, not in another fiber
                    args = L[1:]
                    del L[1:]
                    return self.push_frame(fb, fn, args, self.fiber_exit)
                return self.call_slow(fb, fn, n, self.fiber_exit)

            self.op_info[op] = (None, -1)
            self.op_weight[op] = 0
            self._start_ops[n] = op
        return op

    def make_error(self, cls_name: str, message: str) -> Instance:
        cls = self.error_classes.get(cls_name) or self.error_classes["Error"]
        # (admit: an error must be made even at the memory limit, MemoryError first.)
        inst = self.heap.admit(new_instance(self.heap, cls))
        inst.fields["message"] = message
        return inst


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


@functools.cache
def _python_lib() -> tuple[str, ...]:
    """The folders of Python's own library (asked on the error path only:
    sysconfig is not imported at start-up)."""
    import sysconfig

    return tuple({os.path.abspath(sysconfig.get_paths()[k]) + os.sep for k in ("stdlib", "platstdlib")})


def _raised_by_host(e: BaseException) -> bool:
    """Was e raised by host code that is not the VM's (a signal handler of the
    embedding program, say), rather than by the VM itself (a VM bug)? Decided
    by the innermost frame of its traceback outside Python's own library
    (json, re... called by the VM are the VM's): outside the tinyvm package
    (and its generated blocks), the exception is the host's."""
    tb = e.__traceback__
    where = None
    libs = _python_lib()
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if not name.startswith(libs):
            where = name
        tb = tb.tb_next
    if where is None:
        return False
    return not (os.path.abspath(where).startswith(_PACKAGE) or where in ("<tinyvm block>", "<tinyvm jit>"))
