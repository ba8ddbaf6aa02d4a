"""The IDE's views: VM state and compiler output as the JSON the front end reads.

Why a module of its own: session.py decides *when* to look at a program
(which run, which instruction); this module only reads what is there at that
moment -- a paused machine's frames, fibers, heap and collector, a bundle's
code objects, a compile error's diagnostics -- and turns it into plain
dicts (docs/ide.md, "The API"). It reads the VM through the debugger's
inspection helpers (tools/debugger/inspect.py) and the heap snapshot's
naming (heap/snapshot.py), so the IDE shows frames, locals and objects as
`tvm debug` and `--heap-snapshot` name them.

A Value is `{kind, text, ref?}`: kind is int, float, bool, nil, string or
ref; a ref's `ref` is the id of a node of the heap graph, the object's
allocation number (heap.number_objects): the same object has the same id at
every step and in every re-run, so the front end can keep a node's place as
the timeline moves.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

from ...bytecode.code import FLAG_MODULE, Code
from ...bytecode.disasm import instructions
from ...heap.objects import (
    UNINIT,
    Array,
    BoundMethod,
    Cell,
    Class,
    Function,
    HeapObject,
    Instance,
    Map,
    ModuleObject,
    Record,
    unmap_key,
)
from ...heap.layout import SlotInstance
from ...heap.packed import PackedArray
from ...heap.snapshot import describe
from ...runtime.values import array_head, array_length
from ..debugger.inspect import (
    Frame,
    fiber_frames,
    frame_captured,
    frame_locals,
    module_globals,
    preview,
    unwrap,
)

# The most heap nodes one state walks (reachable from the frames, breadth
# first): a request's work stays bounded however large the heap is; the
# front end pages through them (`heap_offset`, `heap_limit`).
MAX_HEAP_NODES = 2000
MAX_FRAMES = 100  # frames listed per fiber (a deep recursion: the innermost 90 and the outermost 10)
MAX_FIBERS = 200  # fibers listed per state (a program that spawned thousands: the first 200; fibers_total says)
MAX_FIELDS = 64  # fields listed per node (a long array shows its first 64 elements)
PREVIEW_CHARS = 60


# --------------------------------------------------------------------------- diagnostics


_WORD = re.compile(r"[A-Za-z_0-9]+|\"[^\"\n]*\"?|\S")


def diagnostic(d: Any, lines: list[str], main: str) -> dict:
    """A Diagnostic as {line, col, end_line, end_col, severity, message,
    file}; the end is that of the token at line:col (the checker reports a
    position, the editor underlines a token). `main`: the program's own
    file (`lines` are its); an error in a file it imports names that file."""
    line, col = max(1, d.line), max(1, d.col)
    end = col + 1
    if d.path == main and 1 <= line <= len(lines):
        m = _WORD.match(lines[line - 1], col - 1)
        if m is not None:
            end = m.end() + 1
    return {"line": line, "col": col, "end_line": line, "end_col": end, "severity": d.severity, "message": d.message, "file": d.path}


# --------------------------------------------------------------------------- bytecode


def code_objects(bundle: Any) -> list[tuple[Code, tuple[str, ...]]]:
    """Every code object of the bundle's modules (module code first, then
    nested functions depth first), with its module's global names."""
    out: list[tuple[Code, tuple[str, ...]]] = []
    seen: set[int] = set()
    for module in bundle.modules.values():
        stack = [module.init]
        while stack:
            c = stack.pop(0)
            if id(c) in seen:
                continue
            seen.add(id(c))
            out.append((c, module.globals))
            stack[:0] = [k for k in c.consts if type(k) is Code]
    return out


def functions(bundle: Any) -> list[dict]:
    """The bytecode of every function: {name, id, line, instructions: [{pc,
    line, col, op, operands, text}]} (bytecode/disasm.py's data API)."""
    out = []
    for i, (code, globals_) in enumerate(code_objects(bundle)):
        rows = []
        for ins in instructions(code, globals_):
            text = f"{ins.opname} {' '.join(str(v) for v in ins.operands)}".rstrip()
            if ins.argrepr:
                text += f" ({ins.argrepr})"
            rows.append({"pc": ins.offset, "line": ins.line, "col": ins.col, "op": ins.opname, "operands": list(ins.operands), "text": text, "target": ins.is_jump_target})
        out.append({"name": code.name, "id": i, "line": code.line, "module": bool(code.flags & FLAG_MODULE), "instructions": rows})
    return out


MAX_IR_FUNCTIONS = 64  # functions whose IR a compile shows (the rest: the bytecode only)


def ir(bundle: Any) -> list[dict]:
    """The SSA IR of each function (ir/build.py) as built, then after each
    pass of the default pipeline (`tvm ir --passes`, `tvm jit-dump`):
    [{function, id, passes: [{name, text, changed}]}]; a function the IR
    does not cover says why ("not built: ...")."""
    from ...ir.build import Unsupported, build
    from ...ir.passes import PassContext, default_pipeline, run_pipeline
    from ...ir.text import format_function

    out = []
    names = default_pipeline()
    for i, (code, _) in enumerate(code_objects(bundle)[:MAX_IR_FUNCTIONS]):
        lang = next((m.lang for m in bundle.modules.values()), "tinylang")
        passes: list[dict] = []
        try:
            fn = build(code)
            passes.append({"name": "built", "text": format_function(fn), "changed": True})

            run_pipeline(fn, names, PassContext(options={"lang": lang}), after=_recorder(passes, format_function))
        except Unsupported as e:
            passes.append({"name": "built", "text": f"not built: {e}", "changed": False})
        except Exception as e:  # noqa: BLE001 - an optimizer bug shows as text; the compile view stays
            passes.append({"name": "error", "text": f"internal error: {type(e).__name__}: {e}", "changed": False})
        out.append({"function": code.name, "id": i, "passes": passes})
    return out


def _recorder(passes: list[dict], fmt: Any) -> Any:
    """run_pipeline's `after`: each pass's IR into `passes` ("" when it changed nothing)."""

    def after(name: str, fn: Any, changed: bool) -> None:
        passes.append({"name": name, "text": fmt(fn) if changed else "", "changed": changed})

    return after


# --------------------------------------------------------------------------- values


def _is_node(v: Any) -> bool:
    return isinstance(v, HeapObject)


class Graph:
    """The heap nodes a state refers to: every value made a Value registers
    its object here; `walk` then follows fields breadth first."""

    def __init__(self, heap: Any, lox: bool = False) -> None:
        self.heap = heap
        self.lox = lox
        self.order: list[Any] = []
        self.ids: dict[int, int] = {}
        self._extra = 0  # ids for objects the heap did not number (made before numbering)

    def ident(self, obj: Any) -> int:
        key = id(obj)
        got = self.ids.get(key)
        if got is None:
            seq = self.heap.seq_of(obj) if self.heap is not None else None
            if seq is None:
                self._extra += 1
                seq = 10_000_000 + self._extra
            got = self.ids[key] = seq
            self.order.append(obj)
        return got

    def value(self, v: Any) -> dict:
        t = type(v)
        if v is None or v is UNINIT:
            return {"kind": "nil", "text": "nil"}
        if t is bool:
            return {"kind": "bool", "text": "true" if v else "false"}
        if t is int:
            return {"kind": "int", "text": str(v)}
        if t is float:
            return {"kind": "float", "text": preview(v, lox=self.lox)}
        if t is str:
            return {"kind": "string", "text": preview(v, PREVIEW_CHARS)}
        if _is_node(v):
            return {"kind": "ref", "text": preview(v, PREVIEW_CHARS, lox=self.lox), "ref": self.ident(v)}
        return {"kind": "nil", "text": preview(v, PREVIEW_CHARS)}

    def walk(self, limit: int = MAX_HEAP_NODES) -> tuple[list[dict], bool]:
        """The nodes reachable from the values registered so far, breadth
        first, at most `limit`; (nodes, whether the walk stopped short)."""
        nodes: list[dict] = []
        queue = deque(self.order)
        done: set[int] = set()
        colour, generation = _colours(self.heap)
        while queue:
            obj = queue.popleft()
            if id(obj) in done:
                continue
            if len(nodes) >= limit:
                return nodes, True
            done.add(id(obj))
            before = len(self.order)
            fields = [{"name": str(name), "value": self.value(child)} for name, child in _fields(obj)[:MAX_FIELDS]]
            queue.extend(self.order[before:])
            _, type_, label = describe(obj)
            nodes.append(
                {
                    "id": self.ident(obj),
                    "type": type_,
                    "label": _label(obj, label),
                    "fields": fields,
                    "colour": colour(obj),
                    "generation": generation(obj),
                }
            )
        return nodes, False


def _label(obj: Any, label: str) -> str:
    t = type(obj)
    if t is Array or t is PackedArray:
        return f"array ({array_length(obj)})"
    if t is Map:
        return f"map ({len(obj.items)})"
    if t is Record:
        return "record"
    if isinstance(obj, Function):
        return f"fn {obj.name or '(anonymous)'}"
    if getattr(t, "type_name", "") == "chan":
        return f"chan {obj.id} ({len(obj.buf)}/{obj.cap}{', closed' if obj.closed else ''})"
    if getattr(t, "type_name", "") == "task":
        return f"task {obj.id} {obj.name} ({obj.state})"
    return label


def _fields(obj: Any) -> list[tuple[str, Any]]:
    """(name, value) of the references a node shows: a container's elements,
    an object's fields, a closure's captured variables (cells: a variable two
    closures share is one node both point at)."""
    t = type(obj)
    if t is Array or t is PackedArray:  # (the shown part only, and a packed array is not unpacked)
        return [(str(i), x) for i, x in enumerate(array_head(obj, MAX_FIELDS))]
    if t is Map:
        return [(preview(unmap_key(k), PREVIEW_CHARS), x) for k, x in obj.items.items()]
    if t is Record or t is Instance:
        return list(obj.fields.items())
    if t.__base__ is SlotInstance:  # a laid-out instance (heap/layout.py): its slots, in the dict's order
        return list(zip(t.NAMES, obj.values_list()))
    if t is Cell:
        return [("value", obj.value)]
    if isinstance(obj, Function):
        names = getattr(obj.code, "upval_names", ()) or ()
        return [(names[i] if i < len(names) else f"upvalue[{i}]", c) for i, c in enumerate(obj.upvals)]
    if t is BoundMethod:
        return [("receiver", obj.receiver), ("method", obj.method)]
    if t is Class or t is ModuleObject:
        return []  # (methods and globals: not what a heap picture is for)
    tn = getattr(t, "type_name", "")
    if tn == "chan":
        out = [(f"buf[{i}]", v) for i, v in enumerate(obj.buf)]
        out.extend((f"sending[{i}]", v) for i, (_, v, _) in enumerate(obj.sendq))
        return out
    if tn == "task":
        return [("result", obj.result)] if obj.state == "done" else []
    try:
        return [(f"[{i}]", v) for i, v in enumerate(obj.refs()) if _is_node(v) or type(v) in (int, float, str, bool)]
    except Exception:  # noqa: BLE001 - a freed (poisoned) object: nothing to follow
        return []


def _colours(heap: Any) -> tuple[Any, Any]:
    """(colour(obj), generation(obj)) for the collector's mode: the
    incremental mark's white/grey/black during a cycle, the generational
    mode's young/old; None where the mode has no such thing."""
    gc = getattr(heap, "gc", None)
    mode = getattr(heap, "mode", "stw")

    def none(obj: Any) -> None:
        return None

    if gc is None:
        return none, none
    if mode == "incremental":
        phase = gc.phase
        if phase == "idle":
            return none, none
        grey, black = gc.grey, gc.black

        def colour(obj: Any) -> str:
            m = obj.mark
            if phase == "sweep":
                return "black" if m == black else "white"
            return "black" if m >= black else "grey" if m == grey else "white"

        return colour, none
    if mode == "generational":
        old = {id(o) for o in gc.old}
        return none, lambda obj: "old" if id(obj) in old else "young"
    return none, none


def gc_summary(machine: Any) -> dict:
    heap = machine.heap
    gens = heap.generations()
    gc = heap.gc
    phase = getattr(gc, "phase", "idle") if gc is not None else "idle"
    return {
        "mode": heap.mode,
        "phase": phase,
        "collections": heap.stats.collections,
        "live_bytes": heap.bytes,
        "young_bytes": gens.get("young", {}).get("bytes", 0),
        "old_bytes": gens.get("old", {}).get("bytes", 0),
        "objects": heap.count,
    }


# --------------------------------------------------------------------------- frames and fibers


def _tid(fb: Any) -> int:
    """A fiber's id as the debugger numbers threads: the main fiber is 1."""
    fid = getattr(fb, "id", 0)
    return fid if fid >= 2 else 1


def frames_of(machine: Any, fb: Any, top: tuple[Any, int] | None, graph: Graph) -> list[dict]:
    """The guest frames of fiber fb, innermost first, with their locals
    (parameters, declared locals, captured variables; a module's top-level
    code: its globals) and operand stacks."""
    out = []
    found = fiber_frames(machine, fb, top)
    shown = list(enumerate(found))
    if len(shown) > MAX_FRAMES:  # deep recursion: both ends, the middle elided
        shown = shown[: MAX_FRAMES - 10] + shown[-10:]
    for level, (L, code, pc, depth) in shown:
        if len(found) > MAX_FRAMES and level == len(found) - 10:
            out.append({"id": -1, "function": f"... {len(found) - MAX_FRAMES} more frames ...", "file": None, "line": 0, "col": 0, "pc": -1, "locals": [], "stack": [], "elided": len(found) - MAX_FRAMES})
        frame = Frame(level, fb, level, L, code, pc, depth)
        line, col = machine.hooks.position(code, max(pc, 0))
        locals_: list[dict] = []
        for name, slot in frame_locals(frame):
            locals_.append({"name": name, **graph.value(unwrap(L[slot]))})
        for name, cell in frame_captured(frame):
            locals_.append({"name": name, "captured": True, **graph.value(cell.value)})
        if code.flags & FLAG_MODULE:
            module = frame.module
            for name, i in module_globals(module):
                v = module.globals[i]
                if v is not UNINIT:
                    locals_.append({"name": name, "global": True, **graph.value(v)})
        stack = [graph.value(unwrap(v)) for v in L[code.nlocals :]]
        out.append({"id": level, "function": code.name, "file": code.path, "line": line, "col": col, "pc": pc, "locals": locals_, "stack": stack})
    return out


def fibers_of(machine: Any, running: Any, top: tuple[Any, int] | None, graph: Graph) -> list[dict]:
    """Every fiber alive (the main one first): its state, what it waits on,
    where it is, and its frames (so what a parked fiber holds is on the
    heap picture too)."""
    sched = machine.sched
    fibers = [sched.main] if sched.main is not None else []
    if running is not None and running not in fibers:
        fibers.append(running)
    fibers += [f for f in sched.alive if f not in fibers]
    out = []
    for fb in fibers[:MAX_FIBERS]:
        if fb is None:
            continue
        state = fb.state
        if fb is running and top is not None:
            state = "running"
        frames = frames_of(machine, fb, top if fb is running else None, graph) if fb.state != "done" or fb is running else []
        where = {"function": frames[0]["function"], "line": frames[0]["line"]} if frames else None
        waiting = fb.wait.what if state == "blocked" and fb.wait is not None else None
        out.append({"id": _tid(fb), "name": fb.name, "state": state, "waiting_on": waiting, "top": where, "frames": frames})
    return out


def capture(machine: Any, fb: Any, code: Any, pc: int, lox: bool = False) -> dict:
    """The whole state of a paused machine (`fb` about to run `code` at
    `pc`; None: the run is over): frames, fibers, heap graph, collector."""
    graph = Graph(machine.heap, lox)
    top = (code, pc) if code is not None else None
    frames = frames_of(machine, fb, top, graph) if fb is not None else []
    if not frames and machine.sched.main is not None and fb is None:
        frames = frames_of(machine, machine.sched.main, None, graph)
    fibers = fibers_of(machine, fb, top, graph)  # (their frames' values are roots of the picture too)
    nodes, capped = graph.walk()
    if frames:  # (inside the runtime library -- a built-in's own code -- it is where it was called)
        top_frame = frames[0]
        line, col, file, function, at = top_frame["line"], top_frame["col"], top_frame["file"], top_frame["function"], top_frame["pc"]
    elif code is not None:
        (line, col), file, function, at = machine.hooks.position(code, max(pc, 0)), code.path, code.name, pc
    else:
        line, col, file, function, at = 0, 0, None, None, None
    return {
        "line": line,
        "col": col,
        "file": file,
        "function": function,
        "pc": at,
        "in_library": code is not None and code in machine.library_code,
        "frames": frames,
        "fibers": fibers,
        "fibers_total": len(machine.sched.alive) + (machine.sched.main is not None and machine.sched.main not in machine.sched.alive),
        "heap_nodes": nodes,
        "heap_capped": capped,
        "gc": gc_summary(machine),
    }


def page(state: dict, offset: int, limit: int) -> dict:
    """The state as the API returns it: its heap nodes paged."""
    nodes = state["heap_nodes"]
    shown = nodes[offset : offset + limit]
    out = {k: v for k, v in state.items() if k not in ("heap_nodes", "heap_capped")}
    out["heap"] = {"nodes": shown, "total": len(nodes), "truncated": state["heap_capped"] or offset + limit < len(nodes), "offset": offset}
    return out
