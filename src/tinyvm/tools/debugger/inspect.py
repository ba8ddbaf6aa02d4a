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

Evaluating an expression in a frame is evaluate.py's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...bytecode.opcodes import LOCAL, OPCODES
from ...heap.objects import (
    Array,
    BoundMethod,
    Cell,
    Class,
    Function,
    Instance,
    Map,
    ModuleObject,
    Record,
    unmap_key,
)
from ...heap.layout import SlotInstance
from ...heap.packed import PackedArray
from ...runtime.errors import RtError
from ...runtime.values import array_elements, typeof

PREVIEW = 80  # characters of a value's one-line preview


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
    """(name, slot) of the frame's parameters and the locals declared so far
    (named by an instruction before pc), with their source names.

    A name declared in several blocks has a slot per declaration, and code
    objects keep no scope ranges: the slot shown is the one whose uses (the
    instructions naming it) span the frame's pc most narrowly -- an inner
    block's variable inside the block, the outer one after it -- else the
    latest declared before pc."""
    code = frame.code
    names = code.local_names
    by_name: dict[str, list[int]] = {}
    for slot in range(1, min(code.nlocals, len(frame.L), len(names))):
        name = names[slot]
        if display_name(name):
            by_name.setdefault(name, []).append(slot)
    out = []
    uses = slot_uses(code)
    for name, slots in by_name.items():
        slot = slots[0] if len(slots) == 1 else _slot_at(code, slots, frame.pc)
        if slot > code.arity and uses.get(slot, (0, 0))[0] > frame.pc:
            continue  # not declared yet: no instruction before pc has named it
        out.append((name, slot))
    out.sort(key=lambda kv: kv[1])
    return out


def _slot_at(code: Any, slots: list[int], pc: int) -> int:
    uses = slot_uses(code)
    best, best_width, latest = None, None, None
    for slot in slots:
        first, last = uses.get(slot, (1 << 30, -1))
        if slot <= code.arity:
            first, last = 0, 1 << 30  # a parameter: the whole function
        if first > pc:
            continue
        if latest is None or first >= uses.get(latest, (0, 0))[0]:
            latest = slot
        if pc <= last and (best_width is None or last - first < best_width):
            best, best_width = slot, last - first
    return best if best is not None else latest if latest is not None else slots[0]


_USES: dict[Any, dict[int, tuple[int, int]]] = {}


def slot_uses(code: Any) -> dict[int, tuple[int, int]]:
    """slot -> (first, last) offset of the instructions that name it (cached
    per code object; code objects are immutable)."""
    uses = _USES.get(code)
    if uses is None:
        uses = {}
        ops, n, pc = OPCODES, len(OPCODES), 0
        stream = code.code
        while pc < len(stream):
            op = stream[pc]
            info = ops[op] if 0 <= op < n else None
            if info is None:
                break
            for k, kind in enumerate(info.operands):
                if kind == LOCAL and pc + 1 + k < len(stream):
                    slot = stream[pc + 1 + k]
                    first, _ = uses.get(slot, (pc, pc))
                    uses[slot] = (first, pc)
            pc += info.size
        if len(_USES) > 4096:
            _USES.clear()
        _USES[code] = uses
    return uses


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
    if t is Array or t is PackedArray:
        # (a packed array is read as it is, not unpacked: heap/packed.py)
        inner = _join((preview(x, budget, depth + 1, lox) for x in array_elements(v)), budget)
        return f"[{inner}]"
    if t is Map:
        inner = _join((f"{preview(unmap_key(k), budget, depth + 1, lox)}: {preview(x, budget, depth + 1, lox)}" for k, x in v.items.items()), budget)
        return "{" + inner + "}" if inner else "{:}"
    if t is Record:
        inner = _join((f"{k}: {preview(x, budget, depth + 1, lox)}" for k, x in v.fields.items()), budget)
        return "{" + inner + "}"
    if t is Instance or t.__base__ is SlotInstance:  # (a laid-out instance: heap/layout.py)
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
    if t is Array or t is PackedArray:
        return [(str(i), x) for i, x in enumerate(array_elements(v))]
    if t is Map:
        return [(preview(unmap_key(k)), x) for k, x in v.items.items()]
    if t is Record or t is Instance or t.__base__ is SlotInstance:
        return list(v.fields.items())  # (a shape's view: the dict's order)
    if t is Class:
        return [(f"{k}()", m) for k, m in v.methods.items()]
    if t is ModuleObject and v.code is not None:
        return [(n, v.globals[i]) for n, i in module_globals(v)]
    return None


def expandable(v: Any) -> bool:
    t = type(v)
    return t in (Array, PackedArray, Map, Record, Instance, Class) or t.__base__ is SlotInstance or (t is ModuleObject and v.code is not None)


def set_child(v: Any, name: str, value: Any, heap: Any = None) -> None:
    """Write part `name` of container v (as `children` names it); with
    `heap`, then the write barrier (docs/gc.md)."""
    t = type(v)
    if t is PackedArray and 0 <= int(name) < v.length():
        v.set(int(name), value)  # (as a guest store: packed while the value has the array's kind, else unpacked)
    elif t is Array or t is PackedArray:
        v.items[int(name)] = value
    elif t is Map:
        for k in v.items:
            if preview(unmap_key(k)) == name:
                v.items[k] = value
                break
        else:
            raise EvalError(f"the map has no key {name}")
    elif t is Record or t is Instance or t.__base__ is SlotInstance:
        # (the `in` test first: a laid-out instance's view cannot add a field)
        if name not in v.fields:
            raise EvalError(f"no field '{name}'")
        checks = getattr(v.cls, "field_checks", None) if t is not Record else None
        check = checks.get(name) if checks is not None else None
        if check is not None:  # (the field's declared type, as a guest store checks it; a raw slot, heap/layout.py, holds only its type's values)
            try:
                value = check(value)
            except RtError as e:
                raise EvalError(e.message) from None
        v.fields[name] = value
    else:
        raise EvalError(f"a {type_name(v)} has no parts to set")
    if heap is not None and v.mark == heap.watch:
        heap.barrier(v, value)
