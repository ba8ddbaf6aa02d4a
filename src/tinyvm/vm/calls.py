"""Calls and unwinding: how the machine enters guest code and leaves it on an error.

Guest calls never recurse in Python. A call saves `(caller's frame list, return
op)` on `fiber.frames` and installs the callee's list (`push_frame`); RETURN pops
that pair back. Every callable kind has its path here (`call_slow`): guest
functions, natives, bound methods, classes (construction runs the `$fields`
initialisers and `init` as guest frames), blocking natives (which may park the
fiber, sched/concurrency.py), async and generator functions. Method calls on
values that are not instances go to the runtime's method tables, or to the
prelude when the method calls guest code (`map`, `filter`...), or when a native
met a value only guest code can format (NeedsGuest: the guest fallbacks).

Errors: an instruction raises `RtError` or `Throw`; the dispatch loop
(machine.py) hands the guest value to `_unwind`, which records the guest stack
trace, then walks the explicit frame stack looking up each frame's exception
table, and raises `GuestException` to the host when no frame catches it. A
frame's position is its return op's `call_site`: the instruction before the
op it continues at (a fused block maps to its first offset).

`Calls` is a mixin of `Machine` (vm/machine.py): its methods use the machine's
heap, fibers and tables.
"""

from __future__ import annotations

from typing import Any, Callable

from ..bytecode.code import FLAG_METHOD, FLAG_MODULE, Code
from ..heap.objects import MISSING, UNINIT, Array, AsyncFunction, BoundMethod, Class, Function, GeneratorFunction, Instance, ModuleObject, Native, Record
from ..runtime.enums import find_static
from ..runtime.errors import GuestException, RtError, TraceFrame, stack_overflow, trace_lines
from ..runtime.methods import PRELUDE_METHODS
from ..runtime.values import NeedsGuest, kind_of_type, to_str, typeof
from ..sched.concurrency import BlockingNative
from ..sched.fiber import Fiber
from ..sched.generators import FINISHED, Gen
from ..heap.layout import SlotInstance, new_instance
from .blocks import BLOCK_PC

# op_info's answer for an op with no place in the code (a continuation such as
# a fiber's end).
NO_PLACE = (None, -1)


def _plural(n: int) -> str:
    return "1 argument" if n == 1 else f"{n} arguments"


def to_str_safe(v: Any) -> str:
    try:
        return to_str(v)
    except NeedsGuest:
        return "<error message>"


class Calls:
    """The call and unwinding paths of `Machine` (see the module docstring)."""

    # ------------------------------------------------------------------ errors

    def trace(self, fb: Fiber, op: Any) -> list[str]:
        """Guest stack trace, innermost first: `at fn (file:line:col)` (runtime/errors.py, trace_lines)."""
        return trace_lines(self.trace_frames(fb, op))

    def trace_frames(self, fb: Fiber, op: Any) -> list[TraceFrame]:
        """The frames of the guest stack trace as data, innermost first. The
        runtime library's frames (the prelude's) are left out: they are the
        inside of built-ins, which have no frame of their own."""
        out = []
        library = self.library_code
        code, pc = self.where(fb, op)
        if code is not None and code not in library:
            out.append(self._frame(code, pc))
        for _, ret in reversed(fb.frames):
            code, pc = self.call_site(self._caller_ret(ret))
            if code is not None and pc >= 0 and code not in library:
                out.append(self._frame(code, pc))
        return out

    def call_site(self, ret: Any) -> tuple[Code | None, int]:
        """(code, offset) of the instruction a frame or a parked fiber will
        continue after, given the op it continues at: an offset inside the
        call (or parking) instruction just before `ret`. (None, -1) for
        continuations outside the code, such as a fiber's end."""
        code, pc = self.op_info.get(ret, NO_PLACE)
        if code is None:
            return NO_PLACE
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
        trace = trace_lines(frames)
        if isinstance(value, Instance) and value.cls.is_subclass_of(self.error_classes["Error"]):
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
        if isinstance(value, Instance) and value.cls.is_subclass_of(self.error_classes["Error"]):
            stack = value.fields.get("stack") or ""
            lines = stack.split("\n") if stack else trace
            return GuestException(value, value.cls.name, to_str_safe(value.fields.get("message", "")), lines, frames)
        return GuestException(value, typeof(value), self.safe_str(value), trace, frames, is_error=False)

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
            if not fn.required <= len(args) < fn.arity:
                raise self.arity_error(fn, len(args))
            args = args + [MISSING] * (fn.arity - len(args))  # tldefault: the prologue fills them
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
        least = fn.required - self_arg
        if least < expected:  # tldefault: parameters with defaults
            count = f"{least} or {expected} arguments" if expected == least + 1 else f"{least} to {expected} arguments"
            return RtError("TypeError", f"{name} expects {count}, got {got}", "arity", {"name": name, "expected": expected, "got": got})
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
                if not fn.required <= n < fn.arity:
                    raise self.arity_error(fn, n)
                args += [MISSING] * (fn.arity - n)  # tldefault
            if fn.checks is not None and fn.checks.sig is not proven:
                for i, check in fn.checks.items:
                    args[i - 1] = check(args[i - 1])
            if t is AsyncFunction:  # starts a fiber, returns its Task
                args.insert(0, fn)
                L.append(self.sched.spawn(args))
            else:
                L.append(self.heap.alloc(Gen([fn, *args, *fn.code_pad], fn.entry, fn.name, self.heap)))
            return ret
        raise RtError("TypeError", f"{typeof(fn)} is not callable", "not_callable", {"type": typeof(fn)})

    def construct(self, fb: Fiber, cls: Class, n: int, ret: Any, proven: tuple | None = None) -> Any:
        """`Cls(args)`: a new instance from the class template, then its `$fields`
        methods (root class first) and `init`, each as a guest frame."""
        L = fb.L
        inst = self.heap.alloc(new_instance(self.heap, cls))  # (heap/layout.py: by the shape's maker)
        args = L[len(L) - n :]
        del L[len(L) - n - 1 :]
        init = cls.init
        if type(init) is Function:
            if init.arity != n + 1 and not init.required <= n + 1 < init.arity:  # (tldefault: defaults)
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
        if t is Instance or t.__base__ is SlotInstance:  # (a shape's `fields` is a view: heap/layout.py)
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
        elif t is Class and find_static(recv, name) is not UNINIT:
            value = find_static(recv, name)  # `Point.origin()`: no receiver (runtime/enums.py)
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
        if t is Instance or t is Record or t is ModuleObject or t.__base__ is SlotInstance:
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

    def _guest_fallback(self, fb: Fiber, fn: Native, args: list, n: int, ret: Any) -> Any:
        """A native met a value it cannot format without calling guest code (an
        instance with a `str` method): redo the call with its prelude version."""
        from ..runtime.builtins import GUEST_FALLBACKS

        target = GUEST_FALLBACKS.get(fn.name)
        if target is None:
            raise RtError("TypeError", f"{fn.name}: cannot format this value")
        # Look the function up first: loading the prelude runs guest code, which
        # may collect, and values held only in Python locals are not roots.
        guest = self.prelude_fn(target)
        L = fb.L
        del L[len(L) - n - 1 :]
        if fn.name == "print" or fn.name == "eprint":
            args = [self.heap.alloc(Array(list(args)))]
        return self.push_frame(fb, guest, list(args), ret)

    def _method_fallback(self, fb: Fiber, kind: str, recv: Any, name: str, n: int, ret: Any) -> Any:
        from ..runtime.methods import GUEST_FALLBACKS

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
