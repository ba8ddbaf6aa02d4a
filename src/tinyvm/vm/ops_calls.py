"""Builders of the call instructions: calls and method calls (with per-call-site
caches of the callee kind and of native methods by receiver type), super
calls, returns, throws, closures and classes, and the fiber instructions
(spawn, await, yield, select) (the table is vm/ops.py).

The fast paths push a guest frame inline; everything else goes through the
machine's call paths (vm/calls.py), which know every callable kind.
"""

from __future__ import annotations

from typing import Any

from ..bytecode import opcodes as O
from ..bytecode.code import FLAG_ASYNC, FLAG_GENERATOR, Code
from ..heap.objects import (
    AsyncFunction,
    BoundMethod,
    Class,
    Function,
    GeneratorFunction,
    Instance,
    Native,
)
from ..heap.layout import SlotInstance
from ..runtime.errors import RtError, Throw, stack_overflow
from ..runtime.values import NeedsGuest, typeof
from ..sched.fiber import DONE, Fiber
from ..sched.generators import gen_yield
from .ops import builder

# --------------------------------------------------------------------------- calls


def _proven_sig(d, code, args, i):
    """The signature a CALL_TYPED-like instruction proved its arguments
    against (operand i), or None for the plain instruction."""
    return d.vm.type_checks.sig(code.consts[args[i]]) if len(args) > i else None


@builder(O.CALL, O.CALL_TYPED)
def b_call(d, code, ops, pc, args, k):
    n = args[0]
    vm = d.vm
    call_slow = vm.call_slow
    limit = d.max_depth
    m = -n - 1
    want = _proven_sig(d, code, args, 1)

    def f(fb):
        L = fb.L
        fn = L[m]
        if type(fn) is Function and fn.arity == n:
            frames = fb.frames
            if len(frames) >= limit:
                raise stack_overflow()
            new = L[m:]
            checks = fn.checks
            # Typed parameters (vm/typecheck.py), unless proven at this site.
            if checks is not None and checks.sig is not want:
                for i, check in checks.items:
                    new[i] = check(new[i])
            del L[m:]
            if fn.nlocals > n + 1:
                new += fn.code_pad
            frames.append((L, ops[k]))
            fb.L = new
            return fn.entry
        return call_slow(fb, fn, n, ops[k], want)

    if n == 1 and want is None:
        generic = f

        # One argument, the common case (Lox calls every function this way, as
        # it has no CALL_GLOBAL): build the frame list directly, as
        # CALL_GLOBAL does. Typed parameters go the generic way.
        def f(fb):
            L = fb.L
            fn = L[-2]
            if type(fn) is Function:
                if fn.arity == 1 and fn.checks is None:
                    frames = fb.frames
                    if len(frames) >= limit:
                        raise stack_overflow()
                    new = [fn, L.pop()]
                    L.pop()
                    if fn.nlocals > 2:
                        new += fn.code_pad
                    frames.append((L, ops[k]))
                    fb.L = new
                    return fn.entry
                return generic(fb)  # typed parameters, or an arity error
            return call_slow(fb, fn, 1, ops[k])  # natives, classes, bound methods...

    return f


@builder(O.CALL_GLOBAL)
def b_call_global(d, code, ops, pc, args, k):
    # No parameter type checks here: the compiler emits CALL_GLOBAL only for
    # hoisted top-level functions whose arguments it proved or checked itself.
    g, n = args
    G = d.G
    vm = d.vm
    call_slow = vm.call_slow
    limit = d.max_depth

    def slow(fb, fn):
        L = fb.L
        L.insert(len(L) - n, fn)
        return call_slow(fb, fn, n, ops[k])

    # The common arities get their own closure: building the new frame list
    # directly is the bulk of a call's cost.
    if n == 1:

        def f(fb):
            fn = G[g]
            if type(fn) is Function and fn.arity == 1:
                frames = fb.frames
                if len(frames) >= limit:
                    raise stack_overflow()
                L = fb.L
                new = [fn, L.pop()]
                if fn.nlocals > 2:
                    new += fn.code_pad
                frames.append((L, ops[k]))
                fb.L = new
                return fn.entry
            return slow(fb, fn)

        return f

    def f(fb):
        fn = G[g]
        if type(fn) is Function and fn.arity == n:
            L = fb.L
            frames = fb.frames
            if len(frames) >= limit:
                raise stack_overflow()
            new = [fn]
            if n:
                new += L[-n:]
                del L[-n:]
            if fn.nlocals > n + 1:
                new += fn.code_pad
            frames.append((L, ops[k]))
            fb.L = new
            return fn.entry
        return slow(fb, fn)

    return f


@builder(O.CALL_METHOD, O.CALL_METHOD_TYPED)
def b_call_method(d, code, ops, pc, args, k):
    if d.rules.fields_shadow_methods:
        return _call_method_fields_first(d, code, ops, pc, args, k)
    name = code.names[args[0]]
    n = args[1]
    vm = d.vm
    method_slow = d.rules.call_method_slow
    limit = d.max_depth
    m = -n - 1
    want = _proven_sig(d, code, args, 2)
    native_method = vm.native_method
    fallback = vm._method_fallback
    natives: dict = {}  # receiver type -> its plain native for this call, or None
    shape: Any = None  # the last laid-out instance type seen (heap/layout.py)

    def f(fb):
        nonlocal shape
        L = fb.L
        recv = L[m]
        t = type(recv)
        if t is not shape and t is not Instance:  # (a laid-out instance first: every TinyLang instance is one)
            try:
                meth = natives[t]
            except KeyError:
                meth = natives[t] = native_method(t, name, n)
            if meth is not None:
                # As call_method_slow, without its lookups: arguments stay on
                # the stack until the call succeeds (NeedsGuest falls back).
                try:
                    result = meth(recv, L[-1]) if n == 1 else meth(recv, *L[len(L) - n :])
                except NeedsGuest:
                    return fallback(fb, typeof(recv), recv, name, n, ops[k])
                del L[m:]
                L.append(result)
                return ops[k]
            if t.__base__ is not SlotInstance:
                return method_slow(fb, recv, name, n, ops[k])
            shape = t  # (a laid-out instance: the instance path, next time at once)
        meth = recv.cls.methods.get(name)
        if type(meth) is Function and meth.arity == n + 1:
            frames = fb.frames
            if len(frames) >= limit:
                raise stack_overflow()
            new = L[m:]
            new.insert(0, meth)
            checks = meth.checks
            if checks is not None and checks.sig is not want:  # as in CALL
                for i, check in checks.items:
                    new[i] = check(new[i])
            del L[m:]
            if meth.nlocals > n + 2:
                new += meth.code_pad
            frames.append((L, ops[k]))
            fb.L = new
            return meth.entry
        return method_slow(fb, recv, name, n, ops[k])

    if (name == "send" and n == 1) or (name == "recv" and n == 0):
        return _chan_call_site(d, name, f, ops, k)
    return f


def _call_method_fields_first(d, code, ops, pc, args, k):
    """CALL_METHOD where a field of the receiver shadows a method of its class
    (Lox): the fast path is for an instance without such a field whose class
    method is a guest function of the right arity; everything else (fields,
    natives, errors) goes to the rules' slow path."""
    name = code.names[args[0]]
    n = args[1]
    method_slow = d.rules.call_method_slow
    limit = d.max_depth
    m = -n - 1

    def f(fb):
        L = fb.L
        recv = L[m]
        t = type(recv)
        if (t is Instance and name not in recv.fields) or (t.__base__ is SlotInstance and name not in t.INDEX):
            meth = recv.cls.methods.get(name)
            if type(meth) is Function and meth.arity == n + 1 and meth.checks is None:
                frames = fb.frames
                if len(frames) >= limit:
                    raise stack_overflow()
                new = L[m:]
                new.insert(0, meth)
                del L[m:]
                if meth.nlocals > n + 2:
                    new += meth.code_pad
                frames.append((L, ops[k]))
                fb.L = new
                return meth.entry
        return method_slow(fb, recv, name, n, ops[k])

    return f


def _chan_call_site(d, name, generic, ops, k):
    """A `x.send(v)` / `x.recv()` call site: channels go straight to the
    scheduler (the common case in concurrent code), anything else the usual way."""
    from ..sched.scheduler import Chan

    sched = d.vm.sched
    if name == "send":
        send = sched.send

        def f(fb):
            L = fb.L
            ch = L[-2]
            if type(ch) is Chan:
                v = L.pop()
                L.pop()
                return send(fb, ch, v, ops[k])
            return generic(fb)

        return f
    recv = sched.recv

    def f(fb):
        L = fb.L
        ch = L[-1]
        if type(ch) is Chan:
            L.pop()
            return recv(fb, ch, ops[k])
        return generic(fb)

    return f


@builder(O.SUPER_CALL)
def b_super_call(d, code, ops, pc, args, k):
    name = code.names[args[0]]
    n = args[1]
    vm = d.vm

    def f(fb):
        L = fb.L
        cls = L.pop()
        meth = vm.super_method(cls, name)
        # Stack: self args... -> call meth with self as its first argument.
        L.insert(len(L) - n - 1, meth)
        return vm.call_slow(fb, meth, n + 1, ops[k])

    return f


@builder(O.GET_SUPER)
def b_get_super(d, code, ops, pc, args, k):
    name = code.names[args[0]]
    vm = d.vm
    alloc = vm.heap.alloc

    def f(fb):
        L = fb.L
        cls = L.pop()
        meth = vm.super_method(cls, name)
        L[-1] = alloc(BoundMethod(L[-1], meth))
        return ops[k]

    return f


@builder(O.RETURN)
def b_return(d, code, ops, pc, args, k):
    def f(fb):
        v = fb.L[-1]
        L, ret = fb.frames.pop()
        L.append(v)
        fb.L = L
        return ret

    return f


@builder(O.THROW)
def b_throw(d, code, ops, pc, args, k):
    def f(fb):
        raise Throw(fb.L.pop())

    return f


@builder(O.SPAWN)
def b_spawn(d, code, ops, pc, args, k):
    n = args[0]
    m = -n - 1
    spawn = d.vm.sched.spawn
    from ..sched.concurrency import BlockingNative  # (concurrency imports the scheduler, which imports this module's users)

    callables = (Function, AsyncFunction, GeneratorFunction, BoundMethod, Class, Native, BlockingNative)

    def f(fb):
        L = fb.L
        fn = L[m]
        if type(fn) not in callables:
            raise RtError("TypeError", f"spawn needs a function call, got {typeof(fn)}")
        frame = L[m:]
        del L[m:]
        L.append(spawn(frame))
        return ops[k]

    return f


@builder(O.SPAWN_GLOBAL)
def b_spawn_global(d, code, ops, pc, args, k):
    g, n = args
    G = d.G
    spawn = d.vm.sched.spawn
    generic = b_spawn(d, code, ops, pc, (n,), k)

    def f(fb):
        fn = G[g]
        if type(fn) is not Function:  # not yet defined: as SPAWN, which reports it
            L = fb.L
            L.insert(len(L) - n, fn)
            return generic(fb)
        L = fb.L
        if n == 1:
            L[-1] = spawn([fn, L[-1]], True)
        else:
            frame = [fn, *L[len(L) - n :]]
            del L[len(L) - n :]
            L.append(spawn(frame, True))
        return ops[k]

    return f


@builder(O.AWAIT)
def b_await(d, code, ops, pc, args, k):
    await_task = d.vm.sched.await_task

    def f(fb):
        L = fb.L
        t = L[-1]
        # A task that already succeeded, awaited by a fiber not cancelled:
        # await_task's common case, inline.
        if type(t) is Fiber and t.state is DONE and not t.failed and not fb.cancelled:
            t.observed = True
            L[-1] = t.result
            return ops[k]
        return await_task(fb, L.pop(), ops[k])

    return f


@builder(O.YIELD)
def b_yield(d, code, ops, pc, args, k):
    def f(fb):
        return gen_yield(fb, fb.L.pop(), ops[k])

    return f


@builder(O.SELECT)
def b_select(d, code, ops, pc, args, k):
    n = args[0]
    cases = code.consts[args[1]]
    select = d.vm.sched.select

    def f(fb):
        L = fb.L
        values = L[len(L) - n :] if n else []
        del L[len(L) - n :]
        return select(fb, cases, values, ops[k])

    return f


@builder(O.MAKE_CLOSURE)
def b_make_closure(d, code, ops, pc, args, k):
    sub: Code = code.consts[args[0]]
    sub_ops = d.decode(sub)
    entry = sub_ops[0]
    module = d.module
    captures = sub.captures
    alloc = d.vm.heap.alloc
    checks = d.vm.type_checks.params(sub)  # built once per code object
    kind = AsyncFunction if sub.flags & FLAG_ASYNC else GeneratorFunction if sub.flags & FLAG_GENERATOR else Function

    def f(fb):
        L = fb.L
        if captures:
            ups = L[0].upvals
            upvals = tuple(L[i] if from_local else ups[i] for from_local, i in captures)
        else:
            upvals = ()
        L.append(alloc(kind(sub, upvals, module, entry, checks)))
        return ops[k]

    return f


@builder(O.MAKE_CLASS)
def b_make_class(d, code, ops, pc, args, k):
    info = code.consts[args[0]]
    n = args[1]
    make_class = d.vm.make_class

    def f(fb):
        L = fb.L
        methods = L[-n:] if n else []
        if n:
            del L[-n:]
        L[-1] = make_class(info, L[-1], methods)
        return ops[k]

    return f
from . import ops_defaults  # noqa: E402,F401  (tldefault: JUMP_IF_PASSED, LOAD_MISSING)
