"""The interpreter: dispatch loop, calls, classes, errors and modules.

One `Machine` is one independent VM: its own heap, built-ins, loaded modules
and pre-decoded code. Nothing is shared between machines (no module globals
hold state), so many can run in one process.

The dispatch loop (`run`) is

    for _ in budget: op = op(fiber)

where `op` is a pre-decoded instruction (predecode.py). The end of each budget
chunk is the VM's single hook point -- the place for GC safe points now, and
for preemption, fuel, tracing and breakpoints in later issues (set the chunk
to 1 to see every instruction). Guest errors arrive as Python exceptions
(`RtError`, `Throw`) and are dispatched to exception-table handlers by
`_unwind`, which walks the fiber's explicit frame stack: guest calls never
recurse in Python.
"""

from __future__ import annotations

import gc
import sys
from typing import Any, Callable

from ..bytecode.code import CLASS_EXTENDS, CLASS_OPEN, FLAG_METHOD, FLAG_MODULE, Bundle, Code, ModuleCode
from ..heap.heap import Heap
from ..heap.objects import (
    UNINIT,
    Array,
    AsyncFunction,
    GeneratorFunction,
    BoundMethod,
    Class,
    Function,
    Instance,
    Iterator,
    Map,
    ModuleObject,
    Native,
    Range,
    Record,
    unmap_key,
)
from .concurrency import BlockingNative, chan_iter_next, install as install_concurrency
from .dialects import DEFAULT_MAX_DEPTH, Rules, make_rules
from .errors import GuestException, RtError, Throw, TraceFrame, stack_overflow
from .fiber import BLOCKED, DONE, Fiber
from .generators import FINISHED, Gen, gen_enter
from .scheduler import DEFAULT_BUDGET, Chan, Scheduler, Switch
from .blocks import BLOCK_PC
from .capabilities import Capabilities
from .predecode import Decoder
from .typecheck import TypeChecks
from .methods import PRELUDE_METHODS
from .values import NeedsGuest, check_key, kind_of_type, to_str, typeof

ERROR_CLASSES = (
    "TypeError ValueError IndexError KeyError ZeroDivisionError OverflowError StackOverflowError "
    "MemoryError Cancelled DeadlockError PermissionError IOError"
).split()

ITER_ARRAY, ITER_RANGE, ITER_STRING, ITER_MAP = 0, 1, 2, 3
# Iterators whose next item may need guest code or a wait: FOR_ITER hands
# them to Machine.iter_transfer.
ITER_GEN, ITER_CHAN = 4, 5
CHUNK = 4096  # dispatches between safe points


class Halt(Exception):
    """Raised by the bottom frame's continuation: the fiber's entry call returned."""

    def __init__(self, value: Any) -> None:
        self.value = value


_NO_ERROR = object()
_NO_PLACE = (None, -1)


def _plural(n: int) -> str:
    return "1 argument" if n == 1 else f"{n} arguments"


class Machine:
    def __init__(self, *, gc_stress: bool = False, max_depth: int | None = None, stdout: Any = None, stdin: Any = None, argv: list[str] | None = None, budget: int = DEFAULT_BUDGET) -> None:
        self.heap = Heap(stress=gc_stress)
        # None: the default of the main program's language (load_bundle), until
        # then TinyLang's. Decoded call sites hold the value, so it is fixed
        # once code has been decoded.
        self.max_depth = max_depth if max_depth is not None else DEFAULT_MAX_DEPTH
        self.depth_fixed = max_depth is not None
        # Run-time rules per language (vm/dialects.py), and those of each
        # decoded code object (for the text of keyed errors).
        self._rules: dict[str, Rules] = {}
        self.code_rules: dict[Code, Rules] = {}
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stdin = stdin if stdin is not None else sys.stdin
        self.argv = argv or []
        self.decoded: dict[Code, list] = {}
        # Compiled run-time type checks (parameters, fields, CHECK_TYPE), per VM.
        self.type_checks = TypeChecks()
        self.op_info: dict[Any, tuple[Code | None, int]] = {}
        self.modules: dict[str, ModuleObject] = {}
        self.module_codes: dict[str, ModuleCode] = {}
        self.chunk = 1 if gc_stress else CHUNK
        self._discard_conts: dict[Any, Callable] = {}
        self.fiber: Fiber | None = None
        # Fibers being run, outermost first: a host call made while a fiber runs
        # (loading the prelude, formatting an uncaught error) nests another.
        self.fibers: list[Fiber] = []
        self.prelude: ModuleObject | None = None
        self.extra_roots: list = []  # values held by the embedding API

        self.sched = Scheduler(self, budget)
        finish = self.sched.finish

        def halt(fb: Fiber) -> Any:
            raise Halt(fb.L[-1])

        def fiber_exit(fb: Fiber) -> Any:
            finish(fb, fb.L[-1])
            raise Switch

        self._halt = halt
        self.fiber_exit = fiber_exit
        self.op_info[halt] = (None, -1)
        self.op_info[fiber_exit] = (None, -1)
        self.running = False  # a scheduling run is active (nested runs may not block)
        self.warnings: list[str] = []  # for the host to show (--warn-leaks, lost task errors)
        self.warn_leaks = False
        # What fs/os/net may touch: nothing unless the host grants it (vm/capabilities.py).
        self.caps = Capabilities()
        self._lost: list[Fiber] = []  # failed tasks nobody awaited yet
        self._start_ops: dict[int, Callable] = {}
        self.block_start: dict[Any, int] = {}  # expression block op -> its first offset
        self._rethrow_ops: dict[Any, Callable] = {}
        self._init_builtins()
        install_concurrency(self)

    # ------------------------------------------------------------------ setup

    def rules_for(self, lang: str) -> Rules:
        rules = self._rules.get(lang)
        if rules is None:
            rules = self._rules[lang] = make_rules(self, lang)
        return rules

    def error_text(self, fb: Fiber, op: Any, e: RtError) -> str:
        """The message of e in the language of the code that raised it."""
        if e.key is None:
            return e.message
        code, _ = self.where(fb, op)
        rules = self.code_rules.get(code) if code is not None else None
        return rules.message(e) if rules is not None else e.message

    def _init_builtins(self) -> None:
        from .builtins import make_builtins
        from .methods import make_methods

        self.builtins: dict[str, Any] = make_builtins(self)
        self.error_classes: dict[str, Class] = {}
        base = self._native_class("Error", None)
        for name in ERROR_CLASSES:
            self._native_class(name, base)
        self.methods = make_methods(self)

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
        roots.extend(self.builtins.values())
        roots.extend(self.error_classes.values())
        if self.prelude is not None:
            roots.append(self.prelude)
        roots.extend(self.fibers)
        roots.extend(self.sched.alive)
        roots.extend(self._lost)  # failed tasks to report unless awaited
        roots.extend(self.extra_roots)
        return roots

    def collect(self) -> int:
        return self.heap.collect(self.gc_roots())

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
        self.running = True
        sched = self.sched
        sched.main = fb
        # The guest heap is collected by the VM's own collector; CPython's
        # cyclic GC, triggered every 700 container allocations by default,
        # spent a quarter of the time of spawning many fibers. Run it less
        # often while the VM runs (restored afterwards).
        threshold = gc.get_threshold()
        gc.set_threshold(max(threshold[0], 20000), *threshold[1:])
        try:
            return self._loop(fb, op, sched)
        finally:
            gc.set_threshold(*threshold)
            self.running = False
            sched.main = None

    def _loop(self, fb: Fiber, op: Any, sched: Scheduler | None) -> Any:
        chunk = self.chunk
        heap = self.heap
        budget = sched.budget if sched is not None else 1 << 62
        main = fb
        used = 0  # instructions run by fb since it was scheduled
        outcome: list = []  # main's return value, or the GuestException that ended it
        ready = sched.ready if sched is not None else None
        i = 0
        while True:
            err: Any = _NO_ERROR  # `throw nil` throws nil
            switch = False
            try:
                while True:
                    i = -1
                    for i in range(min(chunk, budget - used)):
                        op = op(fb)
                    used += i + 1
                    # Safe point: every live value is reachable from a root here.
                    if heap.pending:
                        self.collect()
                    if used >= budget:
                        used = 0
                        # Preemption is a suspension point, except at a continuation
                        # that has no place in the code (a generator's or fiber's
                        # end): the next preemption point then raises it.
                        if fb.cancel_pending and self.op_info.get(op, _NO_PLACE)[0] is not None:
                            fb.cancel_pending = False
                            err = self.make_error("Cancelled", "task was cancelled")
                            # Raised before `op` runs: the handler search starts at its offset.
                            fb.epc = self.block_start.get(op, fb.epc)
                            break
                        if sched.ready or sched.poll_now():  # (poll_now: due timers, ready I/O)
                            fb.resume = op
                            sched.ready.append(fb)
                            fb, op = self._next(sched, main)
            except Switch:
                switch = True
            except Halt as h:
                if heap.pending:
                    self.collect()
                if sched is None:
                    return h.value
                outcome.append(h.value)
                self.extra_roots.append(h.value)  # while the others finish
                self._end_main(sched, main)
                switch = True
            except RtError as e:
                used += i + 1
                err = self.make_error(e.cls, e.message if e.key is None else self.error_text(fb, op, e))
            except Throw as t:
                used += i + 1
                err = t.value
            except NeedsGuest:  # pragma: no cover - handled where raised
                raise
            except RecursionError:
                err = self.make_error("StackOverflowError", "host recursion limit reached")
            except ZeroDivisionError:
                err = self.make_error("ZeroDivisionError", "division by zero")
            except OverflowError:
                err = self.make_error("OverflowError", "numeric result out of range")
            except (GuestException, BrokenPipeError):
                raise
            except Exception as e:
                # Verified bytecode can still be nonsensical (a .tvm file crafted
                # to load a non-cell as a cell, say). Never show a host traceback:
                # stop with a clear message naming where it happened.
                code, pc = self.where(fb, op)
                place = f" in {code.name} at offset {pc}" if code is not None else ""
                raise GuestException(None, "InternalError", f"{type(e).__name__}: {e}{place} (corrupt bytecode or a VM bug)", self.trace(fb, op)) from e
            if err is not _NO_ERROR:
                try:
                    op = self._unwind(fb, op, err)
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
                if ready and not (sched.timers or sched.io.masks):
                    # The common case of _next, inline: a fiber is ready, and
                    # no timer or I/O can have become due meanwhile.
                    fb = self.fiber = ready.popleft()
                    op = fb.resume
                    fb.resume = None
                    fb.yielded = False
                    if fb.resume_error is not None:
                        op = self._rethrow_op(op)
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
            if not f.observed and type(err) is Instance and not (f.cancelled and err.cls.name == "Cancelled"):
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

            def op(fb: Fiber) -> Any:
                err = fb.resume_error
                fb.resume_error = None
                raise err

            self.op_info[op] = self.call_site(ret)
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

            def op(fb: Fiber) -> Any:
                L = fb.L
                fn = L[0]
                if type(fn) is Function or type(fn) is AsyncFunction:  # run it here, not in another fiber
                    args = L[1:]
                    del L[1:]
                    return self.push_frame(fb, fn, args, self.fiber_exit)
                return self.call_slow(fb, fn, n, self.fiber_exit)

            self.op_info[op] = (None, -1)
            self._start_ops[n] = op
        return op

    def make_error(self, cls_name: str, message: str) -> Instance:
        cls = self.error_classes.get(cls_name) or self.error_classes["Error"]
        inst = self.heap.alloc(Instance(cls, dict(cls.template)))
        inst.fields["message"] = message
        return inst

    # ------------------------------------------------------------------ errors

    def trace(self, fb: Fiber, op: Any) -> list[str]:
        """Guest stack trace, innermost first: `at fn (file:line:col)`."""
        return [f"at {f.name} ({f.path}:{f.line}:{f.col})" for f in self.trace_frames(fb, op)]

    def trace_frames(self, fb: Fiber, op: Any) -> list[TraceFrame]:
        """The frames of the guest stack trace as data, innermost first."""
        out = []
        code, pc = self.where(fb, op)
        if code is not None:
            out.append(self._frame(code, pc))
        for _, ret in reversed(fb.frames):
            code, pc = self.call_site(self._caller_ret(ret))
            if code is not None and pc >= 0:
                out.append(self._frame(code, pc))
        return out

    def call_site(self, ret: Any) -> tuple[Code | None, int]:
        """(code, offset) of the instruction a frame or a parked fiber will
        continue after, given the op it continues at: an offset inside the
        call (or parking) instruction just before `ret`. (None, -1) for
        continuations outside the code, such as a fiber's end."""
        code, pc = self.op_info.get(ret, _NO_PLACE)
        if code is None:
            return _NO_PLACE
        if pc == BLOCK_PC:  # the continuation is a fused block: where it starts
            pc = self.block_start[ret]
        return code, pc - 1

    def where(self, fb: Fiber, op: Any) -> tuple[Code | None, int]:
        """(code, offset) of the instruction `op` was executing."""
        code, pc = self.op_info.get(op, (None, -1))
        if pc == BLOCK_PC:
            pc = fb.epc
        return code, pc

    @staticmethod
    def _frame(code: Code, pc: int) -> TraceFrame:
        line, col = code.position(pc)
        return TraceFrame(code.name, code.path, line, col, bool(code.flags & FLAG_MODULE))

    def _unwind(self, fb: Fiber, op: Any, value: Any) -> Any:
        """Find the handler for `value` thrown by `op`; returns the op to continue
        at, or raises GuestException when no guest frame catches it."""
        frames = self.trace_frames(fb, op)
        trace = [f"at {f.name} ({f.path}:{f.line}:{f.col})" for f in frames]
        if type(value) is Instance and value.cls.is_subclass_of(self.error_classes["Error"]):
            if not value.fields.get("stack"):
                value.fields["stack"] = "\n".join(trace)
        code, pc = self.where(fb, op)
        while True:
            if code is not None:
                for start, end, target, depth in code.handlers:
                    if start <= pc < end:
                        L = fb.L
                        del L[code.nlocals + depth :]
                        L.append(value)
                        return self.decoded[code][target]
            if not fb.frames:
                raise self.uncaught(value, trace, frames)
            L, ret = fb.frames.pop()
            fb.L = L
            if ret is self._halt and not fb.frames:
                raise self.uncaught(value, trace, frames)
            gen = getattr(ret, "gen", None)
            if gen is not None:  # the error leaves a generator: it is finished
                gen.state, gen.L = FINISHED, []
            code, pc = self.call_site(self._caller_ret(ret))

    @staticmethod
    def _caller_ret(ret: Any) -> Any:
        """Where a frame's caller continues: a generator's frame returns through
        its `finish` op to the caller of the current next()."""
        gen = getattr(ret, "gen", None)
        return gen.caller_ret if gen is not None else ret

    def uncaught(self, value: Any, trace: list[str], frames: list[TraceFrame] | None = None) -> GuestException:
        # `frames` are those of the last unwinding (for a rethrown error, where
        # it was rethrown); `trace` prefers the error's recorded `stack`.
        if type(value) is Instance and value.cls.is_subclass_of(self.error_classes["Error"]):
            stack = value.fields.get("stack") or ""
            lines = stack.split("\n") if stack else trace
            return GuestException(value, value.cls.name, to_str_safe(value.fields.get("message", "")), lines, frames)
        return GuestException(value, "", self.safe_str(value), trace, frames)

    def safe_str(self, value: Any) -> str:
        """The str form of an uncaught value, running its `str()` method if it has
        one (in a fresh fiber: the failed one has been unwound)."""
        try:
            return to_str(value)
        except NeedsGuest:
            pass
        self.extra_roots.append(value)  # unwound from every frame: root it here
        try:
            return str(self.run_function(self.prelude_fn("format_value"), [value]))
        except GuestException as e:
            return f"<{typeof(value)}: str() failed: {e.message}>"
        finally:
            self.extra_roots.remove(value)

    # ------------------------------------------------------------------ calls

    def push_frame(self, fb: Fiber, fn: Function, args: list, ret: Any, proven: tuple | None = None) -> Any:
        """Enter guest function fn with `args` (self included for methods).
        `proven`: the parameter types the call site proved (see ParamChecks)."""
        if fn.arity != len(args):
            raise self.arity_error(fn, len(args))
        frames = fb.frames
        if len(frames) >= self.max_depth:
            raise stack_overflow()
        new = [fn]
        new += args
        checks = fn.checks
        if checks is not None and checks.sig is not proven:  # typed parameters
            for i, check in checks.items:
                new[i] = check(new[i])
        new += fn.code_pad
        frames.append((fb.L, ret))
        fb.L = new
        return fn.entry

    def arity_error(self, fn: Function, got: int) -> RtError:
        # Counts exclude `self`; a constructor is named by its class ("Point").
        self_arg = 1 if fn.code.flags & FLAG_METHOD else 0
        expected, got = fn.arity - self_arg, got - self_arg
        name = fn.name[: -len(".init")] if fn.name.endswith(".init") else fn.name
        return RtError("TypeError", f"{name} expects {_plural(expected)}, got {got}", "arity", {"name": name, "expected": expected, "got": got})

    def call_slow(self, fb: Fiber, fn: Any, n: int, ret: Any, proven: tuple | None = None) -> Any:
        """Call `fn` sitting below n arguments on the stack; returns the next op."""
        L = fb.L
        t = type(fn)
        if t is Function:
            args = L[len(L) - n :]
            del L[len(L) - n - 1 :]
            return self.push_frame(fb, fn, args, ret, proven)
        if t is Native:
            args = L[len(L) - n :]
            if fn.arity >= 0 and fn.arity != n:
                raise RtError("TypeError", f"{fn.name} expects {_plural(fn.arity)}, got {n}")
            try:
                result = fn.fn(*args)
            except NeedsGuest:
                return self._guest_fallback(fb, fn, args, n, ret)
            del L[len(L) - n - 1 :]
            L.append(result)
            return ret
        if t is BoundMethod:
            L.insert(len(L) - n, fn.receiver)
            L[len(L) - n - 2] = fn.method
            return self.call_slow(fb, fn.method, n + 1, ret, proven)
        if t is Class:
            return self.construct(fb, fn, n, ret, proven)
        if t is BlockingNative:
            args = L[len(L) - n :]
            del L[len(L) - n - 1 :]
            return fn.fn(fb, args, ret)
        if t is AsyncFunction or t is GeneratorFunction:
            args = L[len(L) - n :]
            del L[len(L) - n - 1 :]
            if fn.arity != n:
                raise self.arity_error(fn, n)
            if fn.checks is not None and fn.checks.sig is not proven:
                for i, check in fn.checks.items:
                    args[i - 1] = check(args[i - 1])
            if t is AsyncFunction:  # starts a fiber, returns its Task
                args.insert(0, fn)
                L.append(self.sched.spawn(args))
            else:
                L.append(self.heap.alloc(Gen([fn, *args, *fn.code_pad], fn.entry, fn.name, self.heap.alloc)))
            return ret
        raise RtError("TypeError", f"{typeof(fn)} is not callable", "not_callable", {"type": typeof(fn)})

    def construct(self, fb: Fiber, cls: Class, n: int, ret: Any, proven: tuple | None = None) -> Any:
        """`Cls(args)`: a new instance from the class template, then its `$fields`
        methods (root class first) and `init`, each as a guest frame."""
        L = fb.L
        inst = self.heap.alloc(Instance(cls, dict(cls.template)))
        args = L[len(L) - n :]
        del L[len(L) - n - 1 :]
        init = cls.init
        if type(init) is Function:
            if init.arity != n + 1:
                raise self.arity_error(init, n + 1)
            nxt = self.push_frame(fb, init, [inst] + args, ret, proven)  # init returns self
        else:
            if init is not None:  # the native init of the Error classes
                init.fn(inst, *args)
            elif n:
                raise RtError("TypeError", f"{cls.name} expects 0 arguments, got {n}", "arity", {"name": cls.name, "expected": 0, "got": n})
            L.append(inst)
            nxt = ret
        # Frames pushed last run first; each `$fields` frame's return value is
        # dropped before its caller (the next initialiser, or init) starts.
        for fi in reversed(cls.field_inits):
            nxt = self.push_frame(fb, fi, [inst], self._discard_cont(nxt))
        return nxt

    def _discard_cont(self, target: Any) -> Callable:
        """An op that drops the value a `$fields` frame returned, then goes to target."""
        cont = self._discard_conts.get(target)
        if cont is None:

            def cont(fb: Fiber) -> Any:
                fb.L.pop()
                return target

            self._discard_conts[target] = cont
            self.op_info[cont] = (None, -1)
        return cont

    def call_method_slow(self, fb: Fiber, recv: Any, name: str, n: int, ret: Any) -> Any:
        L = fb.L
        t = type(recv)
        if t is Instance:
            meth = recv.cls.methods.get(name)
            if meth is not None:
                L.insert(len(L) - n - 1, meth)
                return self.call_slow(fb, meth, n + 1, ret)
            value = recv.fields.get(name, UNINIT)
            if value is UNINIT:
                raise RtError("TypeError", f"{recv.cls.name} has no method '{name}'", "no_method", {"cls": recv.cls.name, "name": name})
        elif t is Record:
            value = recv.fields.get(name, UNINIT)
            if value is UNINIT:
                raise RtError("TypeError", f"record has no field '{name}'")
        elif t is ModuleObject:
            value = self.module_get(recv, name)
        else:
            kind = "string" if t is str else typeof(recv)
            blocking = self.blocking_methods.get(kind)
            if blocking is not None and name in blocking:
                args = L[len(L) - n :]
                del L[len(L) - n - 1 :]
                return blocking[name](fb, recv, args, ret)
            pname = self.prelude_method(kind, name, n)
            if pname is not None:
                fn = self.prelude_fn(pname)
                L.insert(len(L) - n - 1, fn)
                return self.call_slow(fb, fn, n + 1, ret)
            meth = self.methods.get(kind, {}).get(name)
            if meth is None:
                raise RtError("TypeError", f"{kind} has no method '{name}'")
            args = L[len(L) - n :]
            try:
                result = meth(recv, *args)
            except NeedsGuest:
                return self._method_fallback(fb, kind, recv, name, n, ret)
            del L[len(L) - n - 1 :]
            L.append(result)
            return ret
        # A field or export holding a callable: call it without a receiver.
        L[len(L) - n - 1] = value
        return self.call_slow(fb, value, n, ret)

    @staticmethod
    def prelude_method(kind: str, name: str, n: int) -> str | None:
        """The prelude function implementing `kind.name` with n arguments, if any."""
        if name == "sort" and n != 1:
            return None  # sort() is native; sort(key) needs guest calls
        return PRELUDE_METHODS.get(kind, {}).get(name)

    def native_method(self, t: type, name: str, n: int) -> Callable | None:
        """The native behind `recv.name(n args)` for every receiver of Python
        type t (not Instance, Record or module, whose members vary), when it is
        a plain host call: not blocking, not written in the prelude. Call sites
        cache it per receiver type (vm/predecode.py)."""
        if t is Instance or t is Record or t is ModuleObject:
            return None
        kind = kind_of_type(t)
        if kind is None or name in self.blocking_methods.get(kind, ()) or self.prelude_method(kind, name, n):
            return None
        return self.methods.get(kind, {}).get(name)

    def super_method(self, cls: Any, name: str) -> Any:
        if type(cls) is not Class:
            raise RtError("TypeError", "superclass is not a class")
        meth = cls.methods.get(name)
        if meth is None:
            raise RtError("TypeError", f"{cls.name} has no method '{name}'", "no_method", {"cls": cls.name, "name": name})
        return meth

    # ------------------------------------------------------------------ guest fallbacks

    def prelude_fn(self, name: str) -> Function:
        if self.prelude is None:
            self._load_prelude()
        assert self.prelude is not None and self.prelude.code is not None
        return self.prelude.globals[self.prelude.code.globals.index(name)]

    def _load_prelude(self) -> None:
        from importlib import resources

        from ..compiler.driver import compile_module_ast, parse_source
        from ..diagnostics import CompileError, DiagnosticBag

        source = resources.files("tinyvm.vm").joinpath("prelude.tl").read_text("utf-8")
        bag = DiagnosticBag("<prelude>", source)
        mod = parse_source(source, "<prelude>", bag)
        code = None if bag else compile_module_ast(mod, "<prelude>", source, bag, {}, allow_private=True)
        if code is None:
            raise CompileError(bag.items, {"<prelude>": source})
        module = self._new_module("<prelude>", code)
        self.prelude = module
        self.run_module_now(module)

    def _guest_fallback(self, fb: Fiber, fn: Native, args: list, n: int, ret: Any) -> Any:
        """A native met a value it cannot format without calling guest code (an
        instance with a `str` method): redo the call with its prelude version."""
        from .builtins import GUEST_FALLBACKS

        target = GUEST_FALLBACKS.get(fn.name)
        if target is None:
            raise RtError("TypeError", f"{fn.name}: cannot format this value")
        # Look the function up first: loading the prelude runs guest code, which
        # may collect, and values held only in Python locals are not roots.
        guest = self.prelude_fn(target)
        L = fb.L
        del L[len(L) - n - 1 :]
        if fn.name == "print":
            args = [self.heap.alloc(Array(list(args)))]
        return self.push_frame(fb, guest, list(args), ret)

    def _method_fallback(self, fb: Fiber, kind: str, recv: Any, name: str, n: int, ret: Any) -> Any:
        from .methods import GUEST_FALLBACKS

        target = GUEST_FALLBACKS.get(kind, {}).get(name)
        if target is None:
            raise RtError("TypeError", f"{kind}.{name}: cannot format this value")
        guest = self.prelude_fn(target)  # before unrooting the arguments
        L = fb.L
        args = L[len(L) - n :]
        del L[len(L) - n - 1 :]
        return self.push_frame(fb, guest, [recv] + args, ret)

    def to_str_op(self, fb: Fiber, ret: Any) -> Any:
        L = fb.L
        try:
            L[-1] = to_str(L[-1])
            return ret
        except NeedsGuest:
            guest = self.prelude_fn("format_value")  # before unrooting v
            v = L.pop()
            return self.push_frame(fb, guest, [v], ret)

    # ------------------------------------------------------------------ objects

    def get_field(self, obj: Any, name: str) -> Any:
        t = type(obj)
        if t is Instance:
            v = obj.fields.get(name, UNINIT)
            if v is not UNINIT:
                return v
            meth = obj.cls.methods.get(name)
            if meth is not None:
                return self.heap.alloc(BoundMethod(obj, meth))
            raise RtError("TypeError", f"{obj.cls.name} has no field '{name}'", "no_field", {"cls": obj.cls.name, "name": name})
        if t is Record:
            v = obj.fields.get(name, UNINIT)
            if v is UNINIT:
                raise RtError("TypeError", f"record has no field '{name}'")
            return v
        if t is ModuleObject:
            return self.module_get(obj, name)
        kind = "string" if t is str else typeof(obj)
        table = self.methods.get(kind)
        if table is not None and name in table:
            meth = table[name]
            return self.heap.alloc(Native(name, lambda *a: meth(obj, *a), -1))
        raise RtError("TypeError", f"{kind} has no field '{name}'")

    def set_field(self, obj: Any, name: str, value: Any) -> None:
        """SET_FIELD: checks the value against the field's declared type."""
        t = type(obj)
        if t is Instance:
            if name in obj.fields:
                checks = obj.cls.field_checks
                if checks is not None:
                    check = checks.get(name)
                    if check is not None:
                        value = check(value)
                obj.fields[name] = value
                return
            if obj.cls.open:  # an open instance (Lox) takes new fields
                obj.fields[name] = value
                return
            raise RtError("TypeError", f"{obj.cls.name} has no field '{name}'")
        self.set_field_proven(obj, name, value)

    def set_field_proven(self, obj: Any, name: str, value: Any) -> None:
        """SET_FIELD_PROVEN: as set_field, without the type check."""
        t = type(obj)
        if t is Instance:
            if name in obj.fields or obj.cls.open:
                obj.fields[name] = value
                return
            raise RtError("TypeError", f"{obj.cls.name} has no field '{name}'")
        if t is Record:
            if name in obj.fields:
                obj.fields[name] = value
                return
            raise RtError("TypeError", f"record has no field '{name}'")
        raise RtError("TypeError", f"cannot set field '{name}' on {typeof(obj)}")

    def get_index(self, obj: Any, i: Any) -> Any:
        t = type(obj)
        if t is Array or t is str:
            if type(i) is not int:
                raise RtError("TypeError", f"{typeof(obj)} index must be int, got {typeof(i)}")
            n = len(obj.items) if t is Array else len(obj)
            if not 0 <= i < n:
                raise RtError("IndexError", f"index {i} out of range for length {n}")
            return obj.items[i] if t is Array else obj[i]
        if t is Map:
            v = obj.items.get(check_key(i), UNINIT)
            if v is UNINIT:
                from .values import repr_value

                raise RtError("KeyError", f"key not found: {repr_value(i)}")
            return v
        raise RtError("TypeError", f"{typeof(obj)} is not indexable")

    def set_index(self, obj: Any, i: Any, value: Any) -> None:
        t = type(obj)
        if t is Array:
            if type(i) is not int:
                raise RtError("TypeError", f"array index must be int, got {typeof(i)}")
            n = len(obj.items)
            if not 0 <= i < n:
                raise RtError("IndexError", f"index {i} out of range for length {n}")
            obj.items[i] = value
            return
        if t is Map:
            obj.items[check_key(i)] = value
            return
        raise RtError("TypeError", f"{typeof(obj)} does not support item assignment")

    def make_iter(self, v: Any) -> Iterator:
        t = type(v)
        if t is Array:
            it = Iterator(ITER_ARRAY, v)
        elif t is Range:
            it = Iterator(ITER_RANGE, v)
            it.pos = v.start
        elif t is str:
            it = Iterator(ITER_STRING, v)
        elif t is Map:
            # Iterate a snapshot of the keys: mutation during the loop is safe.
            it = Iterator(ITER_MAP, self.heap.alloc(Array([unmap_key(k) for k in v.items])))
        elif t is Gen:
            it = Iterator(ITER_GEN, v)
        elif t is Chan:
            it = Iterator(ITER_CHAN, v)
        else:
            raise RtError("TypeError", f"{typeof(v)} is not iterable")
        return self.heap.alloc(it)

    def iter_transfer(self, fb: Fiber, it: Iterator, gen_cont: Any, chan_cont: Any) -> Any:
        """FOR_ITER over a generator or a channel: run the generator (or wait for
        a value); then `gen_cont` gets the result record, or `chan_cont` the
        value and an ok flag, on top of the iterator."""
        if it.kind == ITER_GEN:
            return gen_enter(fb, it.source, gen_cont)
        return chan_iter_next(self, fb, it.source, chan_cont)

    def next_item(self, it: Iterator) -> Any:
        kind = it.kind
        if kind == ITER_RANGE:
            if it.pos < it.source.stop:
                it.pos += 1
                return it.pos - 1
            return UNINIT
        if kind == ITER_STRING:
            s = it.source
            if it.pos < len(s):
                it.pos += 1
                return s[it.pos - 1]
            return UNINIT
        items = it.source.items  # ITER_MAP: an array of keys
        if it.pos < len(items):
            it.pos += 1
            return items[it.pos - 1]
        return UNINIT

    def make_class(self, info: Any, parent: Any, methods: list) -> Class:
        if (parent is not None or info.flags & CLASS_EXTENDS) and type(parent) is not Class:
            raise RtError("TypeError", f"a class can only extend a class, not {typeof(parent)}", "bad_superclass", {"type": typeof(parent)})
        cls = self.heap.alloc(Class(info.name, parent, info))
        if info.flags & CLASS_OPEN:
            cls.open = True
        for name, default in zip(info.fields, info.defaults):
            cls.template[name] = default
        for name, fn in zip(info.methods, methods):
            fn.owner = cls
            if name == "$fields":
                cls.field_inits.append(fn)
                continue
            cls.own_methods[name] = fn
            cls.methods[name] = fn
        init = cls.methods.get("init")
        cls.init = init
        # Field type checks: the parent's (cls.field_checks starts as those),
        # overridden by the fields this class declares itself.
        own = self.type_checks.fields(info)
        inherited = cls.field_checks
        if own or (inherited is not None and any(name in inherited for name in info.fields)):
            merged = dict(inherited) if inherited is not None else {}
            for name in info.fields:
                merged.pop(name, None)
            merged.update(own)
            cls.field_checks = merged or None
        return cls

    # ------------------------------------------------------------------ modules

    def load_bundle(self, bundle: Bundle) -> ModuleObject:
        if not self.depth_fixed:
            # The frame limit of the main program's language (Lox: clox's 64).
            self.max_depth = self.rules_for(bundle.modules[bundle.main].lang).max_depth
            self.depth_fixed = True
        for key, code in bundle.modules.items():
            self.module_codes.setdefault(key, code)
        return self.module_for(bundle.main)

    def module_for(self, key: str) -> ModuleObject:
        module = self.modules.get(key)
        if module is not None:
            return module
        if key in self.module_codes:
            return self._new_module(key, self.module_codes[key])
        native = self._native_module(key)
        if native is None:
            raise RtError("Error", f"cannot find module \"{key}\"")
        return native

    def _new_module(self, key: str, code: ModuleCode) -> ModuleObject:
        module = self.heap.alloc(ModuleObject(key, code.path, [UNINIT] * len(code.globals), {}, code))
        module.exports = {name: code.globals.index(name) for name in code.exports}
        if key != "<prelude>":
            self.modules[key] = module
        return module

    def _native_module(self, key: str) -> ModuleObject | None:
        if key == "math":
            from .stdlib_math import make_math_module

            values = make_math_module(self)
        elif key == "time":
            from .stdlib_time import make_time_module

            values = make_time_module(self)
        elif key == "json":
            from .stdlib_json import make_json_module

            values = make_json_module(self)
        elif key == "random":
            from .stdlib_random import make_random_module

            values = make_random_module(self)
        elif key == "fs":
            from .stdlib_fs import make_fs_module

            values = make_fs_module(self)
        elif key == "os":
            from .stdlib_os import make_os_module

            values = make_os_module(self)
        elif key == "net":
            from .stdlib_net import make_net_module

            values = make_net_module(self)
        else:
            return None
        names = list(values)
        module = self.heap.alloc(ModuleObject(key, key, [values[n] for n in names], {n: i for i, n in enumerate(names)}))
        module.native = True
        module.initialized = True
        self.modules[key] = module
        return module

    def module_get(self, module: ModuleObject, name: str) -> Any:
        slot = module.exports.get(name)
        if slot is None:
            raise RtError("TypeError", f"module \"{module.name}\" has no export '{name}'")
        v = module.globals[slot]
        if v is UNINIT:
            raise RtError("Error", f"'{name}' of module \"{module.name}\" is used before its declaration has run")
        return v

    def module_entry(self, module: ModuleObject) -> Function:
        assert module.code is not None
        init = module.code.init
        ops = Decoder(self, module).decode(init)
        return self.heap.alloc(Function(init, (), module, ops[0], self.type_checks.params(init)))

    def import_module(self, fb: Fiber, importer: str, spec: str, ret: Any) -> Any:
        from ..compiler.driver import resolve_spec

        module = self.module_for(resolve_spec(importer, spec))
        if module.initialized:
            fb.L.append(module)
            return ret
        # Run its top level now; its code ends by returning the module object.
        module.initialized = True
        return self.push_frame(fb, self.module_entry(module), [], ret)

    def run_module_now(self, module: ModuleObject) -> Any:
        module.initialized = True
        return self.run_function(self.module_entry(module), [])

    def run_entry(self, key: str, code: ModuleCode) -> ModuleObject:
        """Run `code` as the next piece of top-level code of the growing module
        `key` (the REPL: each entry is compiled against the globals of the
        entries before it, so `code.globals` starts with the module's current
        ones). The first entry creates the module. The globals list is extended
        in place, never replaced: decoded code holds that very list. Guest
        errors propagate (the module stays in `self.modules[key]`)."""
        module = self.modules.get(key)
        if module is None:
            module = self._new_module(key, code)
        else:
            G = module.globals
            if len(code.globals) < len(G):
                raise ValueError(f"entry code for module {key!r} has fewer globals than the module")
            G.extend([UNINIT] * (len(code.globals) - len(G)))
            module.code = code
        self.run_module_now(module)
        return module


def to_str_safe(v: Any) -> str:
    try:
        return to_str(v)
    except NeedsGuest:
        return "<error message>"
