"""The hook API: one way for tools to watch a VM run (Lua's `debug.sethook`,
CPython's `sys.monitoring`).

    h = vm.hooks.add("line", fn)          # fn(event: Event) -> None
    vm.hooks.remove(h)

Events (`EVENTS`):

    line         the first instruction of a source line in a frame (and a jump
                 back to the same line, entering a frame, returning into one)
    call         the first instruction of a new guest frame (a generator resume too)
    return       a frame was left, by a return or by an error unwinding it
    instruction  every instruction (every=1), or about every N dispatches
    exception    a guest error was thrown, before any unwinding
    fiber        a fiber was spawned, switched to, or ended
    gc           a collection ended
    jit          the JIT compiled, deoptimised or gave up on code

Two ways of watching, chosen by what is installed:

* **Stepping** (any line, call or return hook, or an instruction hook with
  every=1): the loop dispatches one *plain* instruction at a time (the
  unfused closures, predecode.py) and calls `Hooks.step` before each, which
  fires the events of the instruction about to run. Fused blocks and JIT
  entries are replaced by the plain instruction at their offset as they come
  up, so compiled code deoptimises where stepping needs it without the JIT
  knowing: the interpreter's frames are the JIT's frames (jit/tier.py), and
  every continuation names its bytecode offset (`vm.op_info`). The events
  fire *before* the instruction runs, when the frame is consistent: `L[0]` the
  function, `L[1:nlocals]` the locals, `L[nlocals:]` the operand stack.
* **Sampling** (only instruction hooks with every=N>1): nothing changes in the
  way code runs; the loop ends its chunks at every N dispatches and fires
  there, on whatever tier is running. It is deterministic for one tier, and
  cheap: the profiler's hook.

`count` is the number of instructions stepped (muted stretches excluded): a
deterministic position in the run, which the debugger's time travel uses.

Cost when nothing is installed: the loop tests `hooks.active` once per chunk
of 4096 dispatches, and the rare events (exception, fiber, gc, jit) test one
flag where they happen. An exception escaping a hook function ends the run
as a `HookError` (a BaseException, so no guest handler or VM error path takes
it), carrying the original as `__cause__`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..bytecode.code import Code
from ..bytecode.opcodes import NUM_OPCODES, OPCODES
from ..heap.objects import Instance
from .blocks import BLOCK_PC
from .calls import to_str_safe

EVENTS = ("line", "call", "return", "exception", "instruction", "fiber", "gc", "jit")
_STEPPING = ("line", "call", "return")
_NO_PLACE = (None, -1)


class HookError(BaseException):
    """A hook function raised: the run ends with this (the cause is the hook's error)."""


@dataclass(slots=True)
class Event:
    """One event, as data. `depth` is the fiber's number of saved frames (0:
    its outermost frame); `count` is `Hooks.count` when it fired."""

    kind: str
    vm: Any
    fiber: Any
    code: Code | None
    pc: int
    line: int
    col: int
    depth: int
    count: int
    data: dict = field(default_factory=dict)


@dataclass(slots=True)
class _Hook:
    event: str
    fn: Callable[[Event], None]
    every: int


class Hooks:
    """The hooks of one VM (`vm.hooks`)."""

    def __init__(self, vm: Any) -> None:
        self.vm = vm
        self._hooks: dict[str, list[_Hook]] = {e: [] for e in EVENTS}
        self.active = False  # anything installed (the loop's one test per chunk)
        self.stepping = False  # one plain instruction per dispatch, `step` before each
        self.sampling = 0  # smallest `every` of the sampling instruction hooks (0: none)
        self.on_exception = self.on_fiber = self.on_gc = self.on_jit = False
        self.count = 0
        self._muted = 0
        self._since = 0  # progress since the last sample (see `sample`)
        self._spent = 0  # the fuel spent at the last sample (a VM that counts it)
        # The stepper's view of the running frame, to see calls, returns and
        # new lines: per fiber (a switch resumes the fiber's own view).
        self._fb: Any = None
        self._depth = -1
        self._code: Code | None = None
        self._line = -1
        self._pc = -1
        self._views: dict[Any, tuple] = {}
        self._unwound = False  # the frames being left are left by an error
        self._lines: dict[Code, list[tuple[int, int]]] = {}
        self._map: dict[Any, tuple] = {}  # op -> what `step` needs of it (`_mapping`)
        self._unstep_frames = False  # stepping ended: map the fiber's return points back once

    # ------------------------------------------------------------ registering

    def add(self, event: str, fn: Callable[[Event], None], every: int | None = None) -> _Hook:
        """Install fn for `event`; `every` (instruction hooks only): fire at every
        N-th instruction (1: each, and the VM steps) or about every N
        dispatches (N > 1, sampling). Returns the handle `remove` takes."""
        if event not in EVENTS:
            raise ValueError(f"unknown hook event {event!r} (events: {', '.join(EVENTS)})")
        if every is not None and (type(every) is not int or every < 1):
            raise ValueError("every must be a positive int")
        if every is not None and event != "instruction":
            raise ValueError("every applies to instruction hooks only")
        h = _Hook(event, fn, every or 1)
        self._hooks[event].append(h)
        self._update()
        return h

    def remove(self, h: _Hook) -> None:
        hooks = self._hooks.get(getattr(h, "event", None), [])
        if h in hooks:
            hooks.remove(h)
        self._update()

    def clear(self) -> None:
        for hooks in self._hooks.values():
            hooks.clear()
        self._update()

    @contextlib.contextmanager
    def muted(self) -> Iterator[None]:
        """No event fires and nothing is counted inside (a tool evaluating guest
        code from a hook: its instructions are not the program's)."""
        self._muted += 1
        try:
            yield
        finally:
            self._muted -= 1

    def _update(self) -> None:
        hk = self._hooks
        instr = hk["instruction"]
        was = self.stepping
        self.stepping = any(hk[e] for e in _STEPPING) or any(h.every == 1 for h in instr)
        self.sampling = 0 if self.stepping or not instr else min(h.every for h in instr)
        self.on_exception = bool(hk["exception"])
        self.on_fiber = bool(hk["fiber"])
        self.on_gc = bool(hk["gc"])
        self.on_jit = bool(hk["jit"])
        self.active = self.stepping or bool(self.sampling)
        if self.stepping and not was:
            self._fb = None  # the next step takes a fresh view of the frame
        if was and not self.stepping:
            self._unstep_frames = True  # (step: back to the fused ops)
        # The baseline of the samples' weights, as `sample_at` reads progress
        # (the meter too: compiled code counts into it between folds), so a
        # hook added or removed mid-run (the profiler re-installs its sampler
        # with a new period at each sample) does not count the meter twice.
        lim = self.vm.limits
        self._spent = lim.spent + lim.meter.cell_contents

    # ------------------------------------------------------------- firing

    def _fire(self, kind: str, fb: Any, code: Code | None, pc: int, data: dict) -> None:
        if self._muted:
            return
        line = col = 0
        if code is not None and pc >= 0:
            line, col = self.position(code, pc)
        depth = len(fb.frames) if fb is not None and isinstance(fb.frames, list) else 0
        ev = Event(kind, self.vm, fb, code, pc, line, col, depth, self.count, data)
        for h in tuple(self._hooks[kind]):
            if kind == "instruction" and h.every > 1 and self.stepping and self.count % h.every:
                continue
            try:
                h.fn(ev)
            except HookError:
                raise
            except Exception as e:
                raise HookError(f"{kind} hook {getattr(h.fn, '__qualname__', h.fn)!r} failed: {type(e).__name__}: {e}") from e

    def position(self, code: Code, pc: int) -> tuple[int, int]:
        """(line, col) of offset pc, from a per-code table (Code.position scans)."""
        table = self._lines.get(code)
        if table is None:
            table = []
            n = len(code.code)
            entries = [e for e in code.lines if isinstance(e, tuple) and len(e) == 3]
            k = 0
            cur = (code.line, code.col)
            for off in range(n):
                while k < len(entries) and entries[k][0] <= off:
                    cur = (entries[k][1], entries[k][2])
                    k += 1
                table.append(cur)
            self._lines[code] = table
        if 0 <= pc < len(table):
            return table[pc]
        return code.position(pc)

    # ----------------------------------------------------- the stepping mode

    def plain_op(self, op: Any) -> tuple[Any, Code | None, int]:
        """(the plain op to run for op, its code, its offset); (op, None, -1) for
        a continuation that is no instruction of the code (a fiber's end, the
        drop after a field initialiser, a late-raised error)."""
        vm = self.vm
        code, pc = vm.op_info.get(op, _NO_PLACE)
        if code is None:
            return op, None, -1
        if pc == BLOCK_PC:
            pc = vm.block_start[op]
        else:
            ops = vm.decoded.get(code)
            if ops is None or pc >= len(ops) or ops[pc] is not op:
                plain = vm.plain_decoded.get(code)
                if plain is None or pc >= len(plain) or plain[pc] is not op:
                    return op, None, -1  # a continuation with work of its own
                return op, code, pc
        plain = vm.plain_decoded.get(code)
        if plain is None:
            decoder = vm.decoders[code]
            plain = type(decoder)(vm, decoder.module, plain=True).decode(code)
        return plain[pc], code, pc

    def step(self, fb: Any, op: Any) -> Any:
        """Before one dispatch while stepping: fire the events of the instruction
        about to run; returns the op to dispatch (its plain form)."""
        if not self.stepping:  # a hook ended stepping earlier in this chunk
            return self._unstep(fb, op)
        m = self._map.get(op)
        if m is None:
            m = self._map[op] = self._mapping(op)
        op, code, pc, line = m
        if self._muted:
            return op
        self.count += 1
        if code is None:
            return op
        depth = len(fb.frames)
        if fb is not self._fb:
            self._switch_view(fb, depth, pc)
        new_line = line != self._line or code is not self._code or pc <= self._pc
        if depth != self._depth:
            self._frame_changed(fb, code, pc, depth)
            new_line = True
        self._unwound = False
        self._depth, self._code, self._line, self._pc = depth, code, line, pc
        hk = self._hooks
        if new_line and hk["line"]:
            self._fire("line", fb, code, pc, {})
        if hk["instruction"]:
            ins = code.code[pc]
            name = OPCODES[ins].name if type(ins) is int and 0 <= ins < NUM_OPCODES else "?"
            self._fire("instruction", fb, code, pc, {"op": name, "stack": list(fb.L[code.nlocals :])})
        if not self.stepping:  # that hook ended stepping (a tracer at its limit)
            return self._unstep(fb, op)
        return op

    def _unstep(self, fb: Any, op: Any) -> Any:
        """Stepping has ended: the fused op for a plain one, and once the
        fiber's saved return points too. Plain ops only ever continue at plain
        ops, so without this the rest of the run (`tvm run --trace` past its
        limit) would stay on the plain tier, 2-4x slower. Not near a fuel
        limit: the loop then runs plain ops on purpose (Machine._fit)."""
        if self.vm.limits.stop is not None:
            return op
        if self._unstep_frames:
            self._unstep_frames = False
            fb.frames[:] = [(L, self._fused(ret)) for L, ret in fb.frames]
        return self._fused(op)

    def _fused(self, op: Any) -> Any:
        """The op of the ordinary (fused) tier at the offset of plain op `op`;
        any other op as it is."""
        vm = self.vm
        code, pc = vm.op_info.get(op, _NO_PLACE)
        if code is None or pc < 0:
            return op
        plain = vm.plain_decoded.get(code)
        if plain is None or pc >= len(plain) or plain[pc] is not op:
            return op
        ops = vm.decoded.get(code)
        return ops[pc] if ops is not None and pc < len(ops) else op

    def _mapping(self, op: Any) -> tuple[Any, Code | None, int, int]:
        """(plain op, code, pc, line) for `step`, cached per op (`_map`): code is
        None for no place, and for the runtime library's code (the prelude's:
        the inside of built-ins, left out of traces too): counted, no events."""
        plain, code, pc = self.plain_op(op)
        if code is None or code in self.vm.library_code:
            return plain, None, -1, 0
        return plain, code, pc, self.position(code, pc)[0]

    def _switch_view(self, fb: Any, depth: int, pc: int) -> None:
        if self._fb is not None:
            self._views[self._fb] = (self._depth, self._code, self._line, self._pc)
        view = self._views.pop(fb, None)
        self._fb = fb
        if view is None:  # a fiber seen first: at its function's start, a call
            view = (depth - 1 if pc == 0 else depth, None, -1, -1)
        self._depth, self._code, self._line, self._pc = view

    def _frame_changed(self, fb: Any, code: Code, pc: int, depth: int) -> None:
        hk = self._hooks
        if depth > self._depth:
            if hk["call"]:
                self._fire("call", fb, code, pc, {})
        elif hk["return"]:
            left = self._code
            unwound = self._unwound
            value = None if unwound or not fb.L else fb.L[-1]
            for _ in range(self._depth - depth):
                self._fire("return", fb, code, pc, {"value": value, "code": left, "unwound": unwound})
                left, value = None, None

    def sample(self, fb: Any, op: Any, dispatched: int) -> None:
        """At a chunk end while sampling: fire the instruction hooks when due.
        Progress is in instructions on a VM that counts fuel (exact on every
        tier: a fused block or a compiled loop's dispatch counts what it
        ran), else in dispatches. `data["weight"]`: the progress since the
        last sample, for a profiler to attribute."""
        code, pc = self.vm.op_info.get(op, _NO_PLACE)
        if pc == BLOCK_PC:
            pc = self.vm.block_start.get(op, -1)
        self.sample_at(fb, code, pc, dispatched)

    def sample_at(self, fb: Any, code: Code | None, pc: int, dispatched: int) -> None:
        """`sample` at a known place: also called by compiled loops at their
        time-slice checks (jit/tier.py), where the frame is written back at
        the loop header, since one dispatch of a compiled loop may run for
        many thousand instructions."""
        lim = self.vm.limits
        if lim.metered:
            spent = lim.spent + lim.meter.cell_contents
            self._since += spent - self._spent
            self._spent = spent
        else:
            self._since += dispatched
        if self._since < self.sampling:
            return
        weight, self._since = self._since, 0
        self._fire("instruction", fb, code, pc, {"op": None, "stack": None, "weight": weight})

    def chunk(self, n: int) -> int:
        """The dispatches the loop may run before the next sample is due."""
        return max(1, min(n, self.sampling - self._since))

    # ------------------------------------------------------- the rare events

    def exception(self, fb: Any, op: Any, value: Any) -> None:
        """A guest error is about to unwind fb from op."""
        vm = self.vm
        code, pc = vm.where(fb, op)
        self._unwound = True  # (the stepper's return events)
        if not self.on_exception:
            return
        fields = value.fields if isinstance(value, Instance) else None  # (a dict, or a laid-out instance's view)
        if fields is not None and "message" in fields:  # an Error instance: "Class: message"
            message = f"{value.cls.name}: {to_str_safe(fields['message'])}"
        else:
            message = to_str_safe(value)
        self._fire("exception", fb, code, pc, {"value": value, "caught": self._caught(fb, code, pc), "message": message})

    def _caught(self, fb: Any, code: Code | None, pc: int) -> bool:
        """Will a guest handler catch an error raised at (code, pc)? (_unwind's
        search, without unwinding.)"""
        vm = self.vm
        frames = fb.frames
        k = len(frames)
        while True:
            if code is not None and any(start <= pc < end for start, end, _, _ in code.handlers):
                return True
            if k == 0:
                return False
            k -= 1
            ret = frames[k][1]
            if ret is vm._halt and k == 0:
                return False
            code, pc = vm.call_site(vm._caller_ret(ret))

    def fiber(self, action: str, fb: Any) -> None:
        self._fire("fiber", fb, None, -1, {"action": action, "fiber": fb})
        if action == "end":
            self._views.pop(fb, None)
            if self._fb is fb:
                self._fb = None

    def gc(self, freed: int, ms: float) -> None:
        heap = self.vm.heap
        self._fire("gc", self.vm.fiber, None, -1, {"freed": freed, "live": heap.count, "bytes": heap.bytes, "ms": ms, "kind": heap.stats.last_kind})

    def jit(self, action: str, name: str, ms: float | None = None, reason: str | None = None) -> None:
        self._fire("jit", self.vm.fiber, None, -1, {"action": action, "name": name, "ms": ms, "reason": reason})

