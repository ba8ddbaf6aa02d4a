"""What a paused program looks like: frames, scopes, variables, and
expressions evaluated in a frame's context (the data half of the debugger
engine; engine.py drives the run).

Why a module of its own: the engine's control logic (threads, stepping, time
travel) and the reading of VM state change for different reasons. Everything
here reads the VM's explicit frames (sched/fiber.py: `L` is a frame's slots,
`frames` the callers' `(L, ret)` pairs) and the code objects' debug tables
(bytecode/code.py: `local_names` per slot, `upval_names` per captured cell),
so it works the same for TinyLang and Lox, interpreted or JIT-compiled (a
stepping VM runs interpreter frames only).

Evaluation compiles the expression with the front end of the frame's file as
a function whose parameters are the names the frame sees (locals, captured
variables, the module's globals), typed `any`, and calls it with their
values (`vm.run_function`, inside `vm.hooks.muted()`). Assignments the text
makes to those names are written back into the frame (TinyLang; a Lox text
is an expression whose value is all it gives back).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from ...heap.objects import UNINIT, Array, BoundMethod, Cell, Class, Function, Instance, Map, ModuleObject, Record, unmap_key
from ...runtime.values import typeof

PREVIEW = 80  # characters of a value's one-line preview
_ids = itertools.count(1)


class EvalError(Exception):
    """An expression that cannot be evaluated: its message is for the user
    (a compile error's text, or the guest error it raised)."""


@dataclass(slots=True)
class Frame:
    """One guest frame of a paused fiber: its slots and where it is."""

    id: int
    fiber: Any
    level: int  # 0 = innermost
    L: list
    code: Any
    pc: int
    depth: int = 0  # len(fiber.frames) while this frame runs (the hook events' depth)

    @property
    def function(self) -> Any:
        return self.L[0] if self.L else None

    @property
    def module(self) -> Any:
        fn = self.function
        if type(fn) is BoundMethod:
            fn = fn.method
        return getattr(fn, "module", None)

    def position(self) -> tuple[int, int]:
        return self.code.position(max(self.pc, 0))


def fiber_frames(vm: Any, fb: Any, top: tuple[Any, int] | None) -> list[tuple[list, Any, int, int]]:
    """(L, code, pc, depth) of each guest frame of fiber fb, innermost first. `top`:
    (code, pc) of the running frame when fb is the fiber that stopped; for a
    parked fiber, where it will resume. Frames outside guest code (a fiber's
    start, the host's bottom frame) and the runtime library's are left out."""
    out: list[tuple[list, Any, int, int]] = []
    library = vm.library_code
    if top is None:
        # (call_site names the instruction before the continuation: the call
        # or the blocking operation the fiber waits in)
        code, pc = vm.call_site(fb.resume) if fb.resume is not None else (None, -1)
    else:
        code, pc = top
    if code is not None and code not in library:
        out.append((fb.L, code, pc, len(fb.frames)))
    # frames[i] = (the caller's slots, where the caller continues): depth i.
    for i in range(len(fb.frames) - 1, -1, -1):
        L, ret = fb.frames[i]
        code, pc = vm.call_site(vm._caller_ret(ret))
        if code is not None and pc >= 0 and code not in library:
            out.append((L, code, pc, i))
    return out


def display_name(name: str) -> bool:
    """Slot names the debugger shows: source names, not the compilers' own
    temporaries ("$tmp", "", "<module>")."""
    return bool(name) and not name.startswith(("$", "<"))


def frame_locals(frame: Frame) -> list[tuple[str, int]]:
    """(name, slot) of the frame's parameters and locals with source names."""
    code = frame.code
    names = code.local_names
    out = []
    seen: dict[str, int] = {}
    for slot in range(1, min(code.nlocals, len(frame.L), len(names))):
        name = names[slot]
        if display_name(name):
            seen[name] = slot  # (a later slot of the same name shadows: inner block)
    for name, slot in sorted(seen.items(), key=lambda kv: kv[1]):
        out.append((name, slot))
    return out


def frame_captured(frame: Frame) -> list[tuple[str, Cell]]:
    fn = frame.function
    if type(fn) is not Function and not isinstance(fn, Function):
        return []
    names = frame.code.upval_names
    return [(names[i] if i < len(names) else f"${i}", c) for i, c in enumerate(fn.upvals) if i >= len(names) or display_name(names[i])]


def module_globals(module: Any) -> list[tuple[str, int]]:
    if type(module) is not ModuleObject or module.code is None:
        return []
    names = module.code.globals
    return [(n, i) for i, n in enumerate(names) if display_name(n) and i < len(module.globals)]


def unwrap(v: Any) -> Any:
    return v.value if type(v) is Cell else v


# --------------------------------------------------------------------------- values


def type_name(v: Any, lox: bool = False) -> str:
    """typeof(v); for a Lox frame, numbers are "number" (Lox has one kind)."""
    if lox and type(v) in (int, float):
        return "number"
    try:
        return typeof(v)
    except Exception:  # noqa: BLE001 - a host object without a type name: its Python type
        return type(v).__name__


def preview(v: Any, budget: int = PREVIEW, depth: int = 0, lox: bool = False) -> str:
    """A one-line picture of v, cut at `budget` characters; never runs guest
    code (an instance's `str` method is not called: its fields are shown)."""
    t = type(v)
    if v is None:
        return "nil"
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        if lox and v.is_integer() and abs(v) < 1e16:
            return str(int(v))  # (as Lox prints it)
        return repr(v)  # (inf, nan as the language prints them)
    if t is str:
        s = '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        return s if len(s) <= budget else s[: budget - 4] + '..."'
    if depth > 2:
        return "..."
    if t is Array:
        inner = _join((preview(x, budget, depth + 1, lox) for x in v.items), budget)
        return f"[{inner}]"
    if t is Map:
        inner = _join((f"{preview(unmap_key(k), budget, depth + 1, lox)}: {preview(x, budget, depth + 1, lox)}" for k, x in v.items.items()), budget)
        return "{" + inner + "}" if inner else "{:}"
    if t is Record:
        inner = _join((f"{k}: {preview(x, budget, depth + 1, lox)}" for k, x in v.fields.items()), budget)
        return "{" + inner + "}"
    if t is Instance:
        inner = _join((f"{k}: {preview(x, budget, depth + 1, lox)}" for k, x in v.fields.items()), budget)
        return f"{v.cls.name}({inner})"
    if t is Cell:
        return preview(v.value, budget, depth, lox)
    if isinstance(v, Function):
        return f"<fn {v.name}>"
    if t is Class:
        return f"<class {v.name}>"
    if t is ModuleObject:
        return f"<module {v.name}>"
    name = getattr(v, "name", None)
    return f"<{type_name(v)} {name}>" if isinstance(name, str) else f"<{type_name(v)}>"


def _join(parts: Any, budget: int) -> str:
    out: list[str] = []
    n = 0
    for p in parts:
        n += len(p) + 2
        if n > budget:
            out.append("...")
            break
        out.append(p)
    return ", ".join(out)


def children(v: Any) -> list[tuple[str, Any]] | None:
    """(name, value) of what expanding v shows; None for a value without parts."""
    t = type(v)
    if t is Array:
        return [(str(i), x) for i, x in enumerate(v.items)]
    if t is Map:
        return [(preview(unmap_key(k)), x) for k, x in v.items.items()]
    if t is Record or t is Instance:
        return list(v.fields.items())
    if t is Class:
        return [(f"{k}()", m) for k, m in v.methods.items()]
    if t is ModuleObject and v.code is not None:
        return [(n, v.globals[i]) for n, i in module_globals(v)]
    return None


def expandable(v: Any) -> bool:
    t = type(v)
    return t in (Array, Map, Record, Instance, Class) or (t is ModuleObject and v.code is not None)


def set_child(v: Any, name: str, value: Any) -> None:
    """Write part `name` of container v (as `children` names it)."""
    t = type(v)
    if t is Array:
        v.items[int(name)] = value
    elif t is Map:
        for k in v.items:
            if preview(unmap_key(k)) == name:
                v.items[k] = value
                return
        raise EvalError(f"the map has no key {name}")
    elif t is Record or t is Instance:
        if name not in v.fields:
            raise EvalError(f"no field '{name}'")
        v.fields[name] = value
    else:
        raise EvalError(f"a {type_name(v)} has no parts to set")


# --------------------------------------------------------------------------- evaluation


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


def write_name(frame: Frame, kind: str, where: Any, value: Any) -> None:
    if kind == "local":
        slot = frame.L[where]
        if type(slot) is Cell:
            slot.value = value
        else:
            frame.L[where] = value
    elif kind == "captured":
        where.value = value
    else:
        frame.module.globals[where] = value


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
