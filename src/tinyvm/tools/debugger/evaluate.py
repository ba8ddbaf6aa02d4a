"""Evaluating an expression in a paused frame: `p EXPR`, DAP's evaluate and
setVariable, breakpoint conditions and log messages.

Why this way: the expression must mean what it would mean in the program, so
it is compiled by the front end of the frame's language (TinyLang or Lox) as
a function whose parameters are the names the frame sees -- locals, captured
variables, the module's globals -- typed `any`, and called with their values
(`vm.run_function`, inside `vm.hooks.muted()` so no event fires and no
position is consumed, and under a deadline so `p loop_forever()` cannot hang
the debugger). Assignments the text makes to those names are written back
into the frame (TinyLang returns them; `x = EXPR` is also recognised for
both languages). The receiver (`self`, Lox's `this`) cannot be a parameter:
it is passed as `__self`/`__this`, the text renamed to match. A compiled
text is cached (a condition compiles once), and its module stays loaded for
the run (the VM decodes a code object for the first module it runs in).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from ...heap.objects import UNINIT, Cell
from .inspect import (
    EvalError,
    Frame,
    frame_captured,
    frame_locals,
    module_globals,
    unwrap,
)

EVAL_TIMEOUT = 5.0  # seconds an evaluation (a condition, a log message, `p`) may run
_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*=(?!=)(.+)$", re.DOTALL)
_ids = itertools.count(1)


def visible_names(frame: Frame) -> list[tuple[str, str, Any]]:
    """(name, kind, where) of every name an expression in the frame may use,
    innermost binding first wins: locals ("local", slot), captured variables
    ("captured", cell), globals ("global", index)."""
    out: dict[str, tuple[str, Any]] = {}
    module = frame.module
    for name, i in module_globals(module):
        if module.globals[i] is not UNINIT:  # (declared, but its declaration has not run)
            out[name] = ("global", i)
    for name, cell in frame_captured(frame):
        out[name] = ("captured", cell)
    for name, slot in frame_locals(frame):
        out[name] = ("local", slot)
    if frame.code.flags & 1 and frame.code.nlocals > 1:  # a method: `self` (and Lox's `this`)
        out.setdefault("self", ("local", 1))
    return [(n, k, w) for n, (k, w) in out.items()]


def read_name(frame: Frame, kind: str, where: Any) -> Any:
    if kind == "local":
        return unwrap(frame.L[where])
    if kind == "captured":
        return where.value
    module = frame.module
    return module.globals[where]


def write_name(frame: Frame, kind: str, where: Any, value: Any, vm: Any = None, name: str = "") -> None:
    """Store value in the name (kind, where) of frame. With `vm`, a local of
    declared type takes only what the VM's own run-time check admits
    (vm/typecheck.py): a debugger must not plant a value the checker's
    guarantees exclude (an `int` local holding a string would fail later, far
    from the cause); EvalError otherwise."""
    if kind == "local" and vm is not None:
        types = frame.code.local_types
        text = types[where] if 0 <= where < len(types) else ""
        if text and text != "any":
            from ...runtime.errors import RtError

            try:
                value = vm.type_checks.check(text, f"variable '{name}'")(value)
            except RtError as e:
                raise EvalError(f"cannot set {e.message}") from None
    if kind == "local":
        slot = frame.L[where]
        if type(slot) is Cell:
            slot.value = value
            _barrier(vm, slot, value)
        else:
            frame.L[where] = value  # (a frame: a root, no barrier)
    elif kind == "captured":
        where.value = value
        _barrier(vm, where, value)
    else:
        frame.module.globals[where] = value  # (module globals: roots)


def _barrier(vm: Any, obj: Any, value: Any) -> None:
    """The write barrier after a store into a heap object (docs/gc.md)."""
    heap = getattr(vm, "heap", None)
    if heap is not None and obj.mark == heap.watch:
        heap.barrier(obj, value)


def evaluator_source(lang: str, expr: str, names: list[str], fn: str) -> list[tuple[str, bool]]:
    """Candidate texts (source, writes_back) of a function `fn` taking `names`
    that evaluates `expr`, in the language `lang` (dialect), tried in order.
    TinyLang returns [value, names...] so assignments are written back; a
    text that is a statement (`x = 5`) is tried as one when it is no
    expression."""
    if lang == "lox":
        params = ", ".join(names)
        return [(f"fun {fn}({params}) {{ return ({expr}); }}\n", False)]
    params = ", ".join(f"{n}: any" for n in names)
    back = "".join(f", {n}" for n in names)
    return [
        (f"fn {fn}({params}) -> any {{\n    let __v: any = ({expr}\n    )\n    return [__v{back}]\n}}\n", True),
        (f"fn {fn}({params}) -> any {{\n    {expr}\n    return [nil{back}]\n}}\n", True),
    ]


_RECEIVER = re.compile(r'("(?:[^"\\]|\\.)*")|\b(self|this)\b')
RECEIVERS = ("self", "this")


def param_name(name: str) -> str:
    """The parameter standing for a visible name: the receiver (`self`,
    Lox's `this`) cannot be a parameter, so it is passed as `__self`."""
    return "__" + name if name in RECEIVERS else name


def rename_receiver(expr: str) -> str:
    """expr with `self`/`this` (outside string literals) renamed as param_name does."""
    return _RECEIVER.sub(lambda m: m.group(1) or "__" + m.group(2), expr)


def new_name() -> str:
    return f"__dbg{next(_ids)}"


def evaluate(eng: Any, expr: str, frame: Frame) -> Any:
    """expr's value in frame's context (the module docstring), in the engine
    eng's running VM; raises EvalError."""
    from ...lang.diagnostics import CompileError
    from ...lang.driver import compile_program
    from ...runtime.errors import GuestException, LimitExceeded

    m = eng.machine
    if m is None:
        raise EvalError("the program is not running")
    module = frame.module
    lang = module.code.lang if module is not None and module.code is not None else eng.frontend.dialect
    fe = eng.languages.for_dialect(lang)
    names = visible_names(frame)
    assign = _ASSIGN.match(expr)
    if assign is not None:  # `x = EXPR`: the value of EXPR, stored in the visible x
        target = next(((k, w) for n, k, w in names if n == assign.group(1)), None)
        if target is not None:
            value = evaluate(eng, assign.group(2), frame)
            write_name(frame, target[0], target[1], value, m, assign.group(1))
            return value
    fname = new_name()
    bundle, back, first_error = None, False, None
    params = [param_name(n) for n, _, _ in names]
    original = expr
    if any(n in RECEIVERS for n, _, _ in names):
        expr = rename_receiver(expr)
    cache_key = (lang, expr, tuple(params))
    cached = eng._compiled.get(cache_key)
    if cached is not None:  # (a condition evaluated at every hit compiles once)
        bundle, back, fname = cached
    else:
        for src, back in evaluator_source(lang, expr, params, fname):
            try:
                bundle = compile_program(f"{fname}{fe.extensions[0]}", source=src, lang=fe.name, languages=eng.languages)
                break
            except CompileError as e:
                if first_error is None:
                    d = e.diagnostics[0] if e.diagnostics else None
                    first_error = d.message if d is not None else e.render()
        if bundle is None:
            raise EvalError(f"cannot evaluate {original!r}: {first_error}")
        if len(eng._compiled) > 256:
            eng._compiled.clear()
        eng._compiled[cache_key] = (bundle, back, fname)
    key = bundle.main
    hooks = m.hooks
    before = hooks.count
    try:
        # (muted: no events, no positions; a deadline: `p loop_forever()`
        # must not hang the debugger)
        with hooks.muted(), m.limits.scope(timeout=EVAL_TIMEOUT):
            fn = eng._fns.get(cache_key)
            if fn is None:
                # Its module stays loaded for the run: the VM decodes a code
                # object once, for the module it first ran in.
                m.module_codes[key] = bundle.modules[key]
                mod = m.module_for(key)
                m.run_module_now(mod)
                fn = eng._fns[cache_key] = mod.globals[mod.code.globals.index(fname)]
            args = [read_name(frame, k, w) for _, k, w in names]
            m.extra_roots.append(args)
            try:
                result = m.run_function(fn, args)
            finally:
                m.extra_roots.pop()
    except GuestException as e:
        raise EvalError(f"{e.class_name}: {e.message}") from None
    except LimitExceeded as e:
        raise EvalError(f"evaluation stopped: {e.message}") from None
    except Exception as e:  # noqa: BLE001 - whatever the text does, a message, not a traceback
        raise EvalError(f"cannot evaluate {original!r}: {type(e).__name__}: {e}") from None
    finally:
        eng._skew += hooks.count - before
    if not back:
        return result
    values = result.items
    for (n, k, w), old, new in zip(names, args, values[1:]):
        if new is not old:
            write_name(frame, k, w, new, m, n)
    return values[0]
