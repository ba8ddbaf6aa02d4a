"""Static verifier for TinyVM code objects.

The VM's pre-decoder and interpreter trust their input: they index locals,
constants and the operand stack without bounds checks. Anything that comes from
outside the compiler (a `.tvm` file above all) therefore goes through
`verify_code` / `verify_module` first, which prove, without running the code:

* the instruction stream decodes: every opcode exists and its operands fit;
* every operand is in range for its kind (`opcodes.OPERAND_KINDS`) and constant
  operands have the type their opcode needs;
* every jump target and exception-handler target is an instruction start;
* along every path the operand-stack depth never drops below what an
  instruction pops, never exceeds `max_stack`, is the same wherever paths merge,
  and control never runs off the end of the code;
* the tables are consistent: line-table offsets are instruction starts in
  non-decreasing order; handler ranges and targets lie on instruction
  boundaries, a handler target is entered with `depth + 1` values, and every
  reachable instruction a handler protects leaves at least `depth` values
  after its pops (it may take its operands before it raises: the VM cuts the
  stack back to `depth`, and cannot grow it); `nlocals >= arity + 1` and one
  local name per slot;
* every value has the kind its instruction trusts it to have, on every path
  (the type pass, bytecode/dataflow.py: cells, iterators, strings for
  BUILD_STRING, ints for FOR_RANGE, closures for MAKE_CLASS, guest values
  everywhere else);
* SELECT's case list matches its count, YIELD is only in a generator's code,
  LOAD_BUILTIN names no private built-in (`__id`...: the prelude's own, see
  code.PRIVATE_BUILTIN_PREFIX), and a module's top-level code takes no
  parameters and is neither a generator nor async;
* nested code objects in the constant pool verify too, with their captures
  valid in the enclosing code;
* type texts the VM checks values against parse (`bytecode/types.py`, `parse_type_text`):
  CHECK_TYPE's `(type, place)` constant, a class's non-empty `field_types`
  (one per field, or none at all), and the `local_types` of parameter slots
  1..arity (2..arity for a method: `self` is not checked). The types of other
  local slots are information only (the compiler may record types no text can
  express there, such as `class Point`), so any string is accepted for them.

Frame layout assumed (shared with the compiler and VM): local slot 0 holds the
running function, parameters occupy slots 1..arity (a method's `self` is
parameter 1, counted in arity), so `nlocals >= arity + 1`.

Failures raise `VerifyError` (a `LoadError`) with a message naming the
function, the offset when there is one, and the problem. Verification never
raises any other exception, whatever the Python types inside the `Code` are.
"""

from __future__ import annotations

from bisect import bisect_left

from .code import (
    CLASS_EARLY_SUPER,
    CLASS_ENUM,
    CLASS_EXTENDS,
    CLASS_INTERFACE,
    CLASS_OPEN,
    FLAG_ASYNC,
    FLAG_GENERATOR,
    FLAG_METHOD,
    LANGS,
    MAX_COUNT,
    MAX_NESTING,
    MAX_TYPE_TEXT,
    PRIVATE_BUILTIN_PREFIX,
    ClassInfo,
    Code,
    LoadError,
    ModuleCode,
)
from .opcodes import (
    BY_NAME,
    CONST,
    COUNT,
    GLOBAL,
    LOCAL,
    NAME,
    NUM_OPCODES,
    OPCODES,
    OPERAND_KINDS,
    SELECT_CASES,
    UPVAL,
    eval_effect,
)
from .dataflow import check_kinds
from .types import parse_type_text

# `opcodes.JUMP` is the operand-kind string at definition time but is then
# overwritten by the JUMP opcode number (opcodes exports every opcode name as a
# module constant), so the jump operand kind is spelled out here.
_JUMP_KIND = "jump"
assert _JUMP_KIND in OPERAND_KINDS
_SLOT0_WRITERS = frozenset(BY_NAME[n].code for n in ("STORE_LOCAL", "MAKE_CELL", "STORE_CELL", "FOR_RANGE"))
_FOR_RANGE = BY_NAME["FOR_RANGE"].code
_PRINT = BY_NAME["PRINT"].code
_YIELD = BY_NAME["YIELD"].code
_LOAD_BUILTIN = BY_NAME["LOAD_BUILTIN"].code
_SELECT = BY_NAME["SELECT"].code

__all__ = ["VerifyError", "verify_code", "verify_module", "MAX_COUNT", "MAX_NESTING"]

# COUNT operands below MAX_COUNT, type texts of at most MAX_TYPE_TEXT
# characters: the format's limits (bytecode/code.py).
# Nested code objects (closures in closures, tuples in tuples) deeper than
# MAX_NESTING (bytecode/code.py: the format's one limit) are rejected.

_OP_BY_NAME = {op.name: op.code for op in OPCODES}
_LOAD_CONST = _OP_BY_NAME["LOAD_CONST"]
_IMPORT = _OP_BY_NAME["IMPORT"]
_FORMAT = _OP_BY_NAME["FORMAT"]
_MAKE_CLOSURE = _OP_BY_NAME["MAKE_CLOSURE"]
_MAKE_CLASS = _OP_BY_NAME["MAKE_CLASS"]
_BUILD_RECORD = _OP_BY_NAME["BUILD_RECORD"]
_CHECK_TYPE = _OP_BY_NAME["CHECK_TYPE"]
# operand index of the proven-signature constant
_PROVEN_SIG = {_OP_BY_NAME["CALL_TYPED"]: 1, _OP_BY_NAME["CALL_METHOD_TYPED"]: 2}



def _linear(expr: str) -> tuple[int, ...]:
    """A stack-effect expression of the opcode table ("a+1", "2*a", "b"...) as
    (constant, coefficient of a, of b, of c): evaluating the text for every
    instruction was most of the verifier's time."""
    k = eval_effect(expr, (0, 0, 0))
    form = (k,) + tuple(eval_effect(expr, unit) - k for unit in ((1, 0, 0), (0, 1, 0), (0, 0, 1)))
    assert eval_effect(expr, (2, 3, 5)) == k + 2 * form[1] + 3 * form[2] + 5 * form[3], f"{expr!r} is not linear"
    return form


def _apply(form: tuple[int, ...], operands: tuple[int, ...]) -> int:
    total = form[0]
    for coef, v in zip(form[1:], operands):
        if coef:
            total += coef * v
    return total


_POPS = tuple(_linear(op.pops) for op in OPCODES)
_BRANCH = tuple(_linear(op.branch) if op.branch is not None else None for op in OPCODES)
_SIZES = tuple(op.size for op in OPCODES)
_JUMP_INDEX = tuple(op.operands.index(_JUMP_KIND) if _JUMP_KIND in op.operands else -1 for op in OPCODES)



class VerifyError(LoadError):
    """Code that fails static verification."""


def _is_int(v: object) -> bool:
    # bool is an int subclass in Python; a True in an int field is a type error.
    return type(v) is int


def _is_str_tuple(v: object) -> bool:
    return type(v) is tuple and all(type(s) is str for s in v)


def _const_type_name(v: object) -> str:
    return type(v).__name__


def _pair_desc(v: object) -> str:
    if type(v) is tuple:
        return f"a tuple of {len(v)}: ({', '.join(_const_type_name(x) for x in v[:3])}{', ...' if len(v) > 3 else ''})"
    return _const_type_name(v)


def _type_parses(text: str) -> bool:
    """Whether `text` is the text form of a type the VM can check against."""
    if len(text) > MAX_TYPE_TEXT:
        return False
    try:
        parse_type_text(text)
    except Exception:  # noqa: BLE001 - TypeTextError, or RecursionError on deep nesting
        return False
    return True


class _Verifier:
    """Verifies one code object (not its nested ones: `verify_code` recurses)."""

    def __init__(self, code: Code, nglobals: int) -> None:
        self.code = code
        self.nglobals = nglobals
        name = getattr(code, "name", None)
        self.fname = name if type(name) is str else repr(name)
        self.depth_at: dict[int, int] = {}
        self.pops_of: dict[int, int] = {}  # pc -> values its instruction pops

    def fail(self, msg: str, offset: int | None = None) -> VerifyError:
        where = f"function {self.fname}" if offset is None else f"function {self.fname} at offset {offset}"
        return VerifyError(f"verify: {where}: {msg}")

    # -- field types and tables ------------------------------------------------

    def check_fields(self) -> None:
        c = self.code
        if not isinstance(c, Code):
            raise VerifyError(f"verify: expected a code object, got {_const_type_name(c)}")
        for fld in ("line", "col", "arity", "nlocals", "max_stack", "flags"):
            v = getattr(c, fld)
            if not _is_int(v) or v < 0:
                raise self.fail(f"field {fld} must be a non-negative int, got {v!r:.40}")
        for fld in ("name", "path", "ret_type"):
            if type(getattr(c, fld)) is not str:
                raise self.fail(f"field {fld} must be a string")
        for fld in ("local_names", "names", "upval_names", "local_types"):
            if not _is_str_tuple(getattr(c, fld)):
                raise self.fail(f"field {fld} must be a tuple of strings")
        for fld in ("code", "consts", "captures", "lines", "handlers"):
            if type(getattr(c, fld)) is not tuple:
                raise self.fail(f"field {fld} must be a tuple")
        if not all(_is_int(x) for x in c.code):
            raise self.fail("the instruction stream must contain only ints")
        if c.nlocals < c.arity + 1:
            # slot 0 is the running function, parameters follow it
            raise self.fail(f"nlocals {c.nlocals} is less than arity {c.arity} + 1")
        if not _is_int(c.required) or not -1 <= c.required <= c.arity:  # tldefault
            raise self.fail(f"required {c.required!r:.40} must be -1 or between 0 and arity {c.arity}")
        if len(c.local_names) != c.nlocals:
            raise self.fail(f"{len(c.local_names)} local names for {c.nlocals} locals")
        for i, cap in enumerate(c.captures):
            if not (type(cap) is tuple and len(cap) == 2 and type(cap[0]) is bool and _is_int(cap[1])):
                raise self.fail(f"capture {i} must be a (bool, int) pair")
        for i, k in enumerate(c.consts):
            self.check_const_value(k, i, 0)
        # The slots the VM checks on entry: the parameters, except a method's self.
        for slot in range(2 if c.flags & FLAG_METHOD else 1, min(c.arity + 1, len(c.local_types))):
            text = c.local_types[slot]
            if text and not _type_parses(text):
                raise self.fail(f"parameter slot {slot} has malformed type {text!r:.80}")

    def check_const_value(self, v: object, index: int, depth: int) -> None:
        """Every constant must be of a serialisable kind, whatever uses it."""
        if depth > MAX_NESTING:
            raise self.fail(f"constant {index} is nested too deeply")
        if v is None or type(v) in (bool, int, float, str, Code):
            return
        if type(v) is tuple:
            for x in v:
                if isinstance(x, (Code, ClassInfo)):
                    raise self.fail(f"constant {index}: a tuple constant cannot hold {x!r}")
                self.check_const_value(x, index, depth + 1)
            return
        if type(v) is ClassInfo:
            ok = (
                type(v.name) is str
                and _is_str_tuple(v.fields)
                and _is_str_tuple(v.methods)
                and type(v.defaults) is tuple
                and len(v.defaults) == len(v.fields)
                and _is_int(v.line)
                and _is_str_tuple(v.field_types)
                and _is_int(v.flags)
                and v.flags & ~(CLASS_OPEN | CLASS_EXTENDS | CLASS_INTERFACE | CLASS_ENUM | CLASS_EARLY_SUPER) == 0
                and _is_str_tuple(v.interfaces)
                and _is_str_tuple(v.early)
            )
            if not ok:
                raise self.fail(f"constant {index}: malformed class info")
            if len(v.field_types) not in (0, len(v.fields)):
                raise self.fail(f"constant {index}: class {v.name} has {len(v.field_types)} field types for {len(v.fields)} fields")
            for fname, text in zip(v.fields, v.field_types):
                if text and not _type_parses(text):
                    raise self.fail(f"constant {index}: field {fname!r} of class {v.name} has malformed type {text!r:.80}")
            for d in v.defaults:
                if isinstance(d, (Code, ClassInfo)):
                    raise self.fail(f"constant {index}: class field default cannot be {d!r}")
                self.check_const_value(d, index, depth + 1)
            return
        raise self.fail(f"constant {index} has unsupported type {_const_type_name(v)}")

    # -- instruction decoding and operands -------------------------------------

    def decode(self) -> dict[int, tuple[int, tuple[int, ...]]]:
        """Map each instruction start to (opcode, operands), checking operands."""
        code = self.code.code
        n = len(code)
        insns: dict[int, tuple[int, tuple[int, ...]]] = {}
        pc = 0
        while pc < n:
            op = code[pc]
            if not 0 <= op < NUM_OPCODES:
                raise self.fail(f"invalid opcode {op}", pc)
            size = _SIZES[op]
            if pc + size > n:
                raise self.fail(f"{OPCODES[op].name} needs {size - 1} operand(s) but the code ends", pc)
            insns[pc] = (op, code[pc + 1 : pc + size])
            pc += size
        c = self.code
        limits = {
            CONST: (len(c.consts), "constant"),
            LOCAL: (c.nlocals, "local"),
            UPVAL: (len(c.captures), "upvalue"),
            GLOBAL: (self.nglobals, "global"),
            NAME: (len(c.names), "name"),
        }
        for pc, (op, operands) in insns.items():
            self.check_operands(pc, op, operands, insns, limits)
        return insns

    def check_operands(self, pc: int, op: int, operands: tuple[int, ...], insns: dict, limits: dict) -> None:
        c = self.code
        info = OPCODES[op]
        for kind, v in zip(info.operands, operands):
            if kind == _JUMP_KIND:
                if not 0 <= v < len(c.code):
                    raise self.fail(f"jump target {v} is outside the code", pc)
                if v not in insns:
                    raise self.fail(f"jump target {v} is inside an instruction", pc)
            elif kind == COUNT:
                if not 0 <= v < MAX_COUNT:
                    raise self.fail(f"{info.name} count {v} is out of range", pc)
            else:
                limit, what = limits[kind]
                if not 0 <= v < limit:
                    raise self.fail(f"{info.name} {what} index {v} is out of range (have {limit})", pc)
                if kind == LOCAL and v == 0 and op in _SLOT0_WRITERS:
                    # The VM reads the running function (its upvalues) from slot 0.
                    raise self.fail(f"{info.name} writes local slot 0, which holds the running function", pc)
        if op == _FOR_RANGE and operands[0] + 1 >= c.nlocals:
            raise self.fail("FOR_RANGE needs two adjacent local slots", pc)
        if op == _PRINT and operands[0] not in (0, 1):
            raise self.fail(f"PRINT mode {operands[0]} is not 0 (print) or 1 (clox)", pc)
        if op == _YIELD and c.flags & (FLAG_GENERATOR | FLAG_ASYNC) != FLAG_GENERATOR:
            # YIELD suspends the frame of a Gen: only a generator function's
            # code runs in one (an async one runs in a fiber of its own).
            raise self.fail("YIELD outside a generator function", pc)
        if op == _LOAD_BUILTIN and c.names[operands[0]].startswith(PRIVATE_BUILTIN_PREFIX):
            raise self.fail(f"LOAD_BUILTIN of {c.names[operands[0]]!r}: built-ins starting with {PRIVATE_BUILTIN_PREFIX!r} are private to the runtime library", pc)
        self.check_const_use(pc, op, operands)

    def check_const_use(self, pc: int, op: int, operands: tuple[int, ...]) -> None:
        c = self.code
        if op == _LOAD_CONST:
            k = c.consts[operands[0]]
            if isinstance(k, (Code, ClassInfo)):
                raise self.fail(f"LOAD_CONST of {k!r}: use MAKE_CLOSURE / MAKE_CLASS", pc)
        elif op == _IMPORT or op == _FORMAT:
            # (FORMAT's spec is handed to Python's format(): anything but a
            # string there is a host error, found by tests/fuzz/test_fuzz_tvm.py)
            k = c.consts[operands[0]]
            if type(k) is not str:
                raise self.fail(f"{'IMPORT' if op == _IMPORT else 'FORMAT'} needs a string constant, got {_const_type_name(k)}", pc)
        elif op == _MAKE_CLOSURE:
            k = c.consts[operands[0]]
            if type(k) is not Code:
                raise self.fail(f"MAKE_CLOSURE needs a code constant, got {_const_type_name(k)}", pc)
        elif op == _MAKE_CLASS:
            k = c.consts[operands[0]]
            if type(k) is not ClassInfo:
                raise self.fail(f"MAKE_CLASS needs a class info constant, got {_const_type_name(k)}", pc)
            if len(k.methods) != operands[1]:
                raise self.fail(f"MAKE_CLASS count {operands[1]} but class {k.name} has {len(k.methods)} methods", pc)
        elif op == _BUILD_RECORD:
            k = c.consts[operands[0]]
            if not _is_str_tuple(k):
                raise self.fail(f"BUILD_RECORD needs a tuple of field names, got {_const_type_name(k)}", pc)
            if len(k) != operands[1]:
                raise self.fail(f"BUILD_RECORD count {operands[1]} but {len(k)} field names", pc)
        elif op == _CHECK_TYPE:
            k = c.consts[operands[0]]
            if not (type(k) is tuple and len(k) == 2 and type(k[0]) is str and type(k[1]) is str):
                raise self.fail(f"CHECK_TYPE needs a (type, place) pair of strings, got {_pair_desc(k)}", pc)
            if not _type_parses(k[0]):
                raise self.fail(f"CHECK_TYPE of malformed type {k[0]!r:.80}", pc)
        elif op == _SELECT:
            k = c.consts[operands[1]]
            if not (_is_str_tuple(k) and all(case in SELECT_CASES for case in k)):
                raise self.fail(f"SELECT needs a tuple of case kinds ({', '.join(SELECT_CASES)}), got {_pair_desc(k)}", pc)
            want = sum(SELECT_CASES[case] for case in k)
            if operands[0] != want:
                raise self.fail(f"SELECT count {operands[0]} but its cases take {want} value(s)", pc)
        elif op in _PROVEN_SIG:
            k = c.consts[operands[_PROVEN_SIG[op]]]
            if not _is_str_tuple(k) or not all(t == "" or _type_parses(t) for t in k):
                raise self.fail(f"{OPCODES[op].name} needs a tuple of parameter types, got {_const_type_name(k)}", pc)

    def check_captures_of(self, inner: Code, index: int) -> None:
        """A nested function's captures must name cells of this (enclosing) code."""
        c = self.code
        for j, (from_local, i) in enumerate(inner.captures):
            limit = c.nlocals if from_local else len(c.captures)
            if not 0 <= i < limit:
                src = "local" if from_local else "upvalue"
                raise self.fail(
                    f"nested function {inner.name} (constant {index}) captures {src} {i}, "
                    f"but the enclosing function has {limit}"
                )

    # -- tables that reference offsets ---------------------------------------------

    def check_lines(self, insns: dict) -> None:
        prev = -1
        for i, entry in enumerate(self.code.lines):
            if not (type(entry) is tuple and len(entry) == 3 and all(_is_int(x) for x in entry)):
                raise self.fail(f"line table entry {i} must be an (offset, line, col) triple of ints")
            off, line, col = entry
            if off < prev:
                raise self.fail(f"line table offsets are not ascending ({prev} then {off})")
            if off not in insns:
                raise self.fail(f"line table entry {i}: offset {off} is not an instruction start")
            if line < 0 or col < 0:
                raise self.fail(f"line table entry {i}: negative line or column")
            prev = off

    def check_handlers(self, insns: dict) -> None:
        n = len(self.code.code)
        for i, h in enumerate(self.code.handlers):
            if not (type(h) is tuple and len(h) == 4 and all(_is_int(x) for x in h)):
                raise self.fail(f"handler {i} must be a (start, end, target, depth) tuple of ints")
            start, end, target, depth = h
            if not 0 <= start < end <= n:
                raise self.fail(f"handler {i} range [{start}, {end}) is invalid for code of length {n}")
            if start not in insns or (end != n and end not in insns):
                raise self.fail(f"handler {i} range [{start}, {end}) does not lie on instruction boundaries")
            if target not in insns:
                raise self.fail(f"handler {i} target {target} is not an instruction start")
            if depth < 0:
                raise self.fail(f"handler {i} has negative depth {depth}")

    # -- stack depth along every path -------------------------------------------

    def check_stack(self, insns: dict) -> None:
        c = self.code
        n = len(c.code)
        depth_at: dict[int, int] = {}
        self.depth_at = depth_at
        pops_of = self.pops_of
        work: list[int] = []

        def enter(target: int, depth: int, source: int | None) -> None:
            if depth > c.max_stack:
                raise self.fail(f"stack depth {depth} exceeds max_stack {c.max_stack}", source)
            old = depth_at.get(target)
            if old is None:
                depth_at[target] = depth
                work.append(target)
            elif old != depth:
                raise self.fail(f"inconsistent stack depth at offset {target}: {old} vs {depth}", source)

        if n == 0:
            raise self.fail("control runs off the end of the code", 0)
        enter(0, 0, None)
        # A handler target is an extra entry point: the stack is cut back to
        # `depth` values and the error pushed.
        for _start, _end, target, depth in c.handlers:
            enter(target, depth + 1, target)
        while work:
            pc = work.pop()
            depth = depth_at[pc]
            op, operands = insns[pc]
            info = OPCODES[op]
            pops = _apply(_POPS[op], operands)
            pops_of[pc] = pops
            if depth < pops:
                raise self.fail(f"stack underflow: {info.name} needs {pops} value(s), stack has {depth}", pc)
            if not info.terminal:
                nxt = pc + _SIZES[op]
                if nxt >= n:
                    raise self.fail(f"control runs off the end of the code after {info.name}", pc)
                enter(nxt, depth - pops + info.pushes, pc)
            branch = _BRANCH[op]
            if branch is not None:
                enter(operands[_JUMP_INDEX[op]], depth + _apply(branch, operands), pc)
        self.check_handler_depths(insns, depth_at)

    def check_handler_depths(self, insns: dict, depth_at: dict[int, int]) -> None:
        """The VM cuts the stack back to a handler's depth, so every reachable
        instruction the handler protects must leave at least that many values
        when it raises. An instruction may raise after taking its operands
        (`y = L.pop()`, then the operator fails; a call's arguments are gone
        from the caller's stack when the callee fails), and a fused block
        (vm/blocks.py) pops the values below it as it goes: the depth that
        counts is the one after the instruction's pops."""
        handlers = self.code.handlers
        if not handlers:
            return
        starts = sorted(insns)
        pops_of = self.pops_of
        # Range-minimum over instruction depths with a sparse table, so many
        # handlers over long code stay O(n log n) instead of O(handlers * n).
        big = 1 << 62  # unreachable instructions constrain nothing
        table = [[depth_at[pc] - pops_of[pc] if pc in depth_at else big for pc in starts]]
        width = 1
        while 2 * width <= len(starts):
            prev = table[-1]
            table.append([min(prev[i], prev[i + width]) for i in range(len(prev) - width)])
            width *= 2
        for i, (start, end, _target, hdepth) in enumerate(handlers):
            lo = bisect_left(starts, start)
            hi = bisect_left(starts, end)  # exclusive
            level = (hi - lo).bit_length() - 1
            row = table[level]
            least = min(row[lo], row[hi - (1 << level)])
            if least < hdepth:
                pc = next(p for p in starts[lo:hi] if p in depth_at and depth_at[p] - pops_of[p] == least)
                raise self.fail(f"handler {i} depth {hdepth} exceeds the stack depth {least} left by {OPCODES[insns[pc][0]].name}", pc)

    def run(self) -> list[tuple[int, Code]]:
        """Verify; return the nested code constants (index, code) to recurse into."""
        self.check_fields()
        c = self.code
        if c.max_stack >= MAX_COUNT * 4:
            raise self.fail(f"max_stack {c.max_stack} is unreasonably large")
        insns = self.decode()
        self.check_lines(insns)
        self.check_handlers(insns)
        self.check_stack(insns)
        nested = [(i, k) for i, k in enumerate(c.consts) if type(k) is Code]
        for i, k in nested:
            if not _captures_well_formed(k):
                # Reported when the nested code itself is verified (first:
                # before this code's type pass reads the captures).
                _Verifier(k, self.nglobals).check_fields()
            self.check_captures_of(k, i)
        # Operand kinds along every path (bytecode/dataflow.py).
        check_kinds(c, insns, self.pops_of, self.fail)
        return nested


def _captures_well_formed(code: Code) -> bool:
    return type(code.captures) is tuple and all(
        type(cap) is tuple and len(cap) == 2 and type(cap[0]) is bool and _is_int(cap[1]) for cap in code.captures
    )


def _verify(code: Code, nglobals: int, depth: int, seen: set[int]) -> None:
    if depth > MAX_NESTING:
        raise VerifyError(f"verify: function {getattr(code, 'name', '?')!s:.60}: functions nested too deeply")
    # A hand-built Code may share one nested code object between several
    # constants; verifying it once keeps shared (DAG-shaped) input linear.
    # (Its captures are still checked against every enclosing code, in run().)
    if id(code) in seen:
        return
    seen.add(id(code))
    for _i, inner in _Verifier(code, nglobals).run():
        _verify(inner, nglobals, depth + 1, seen)


def verify_code(code: Code, nglobals: int) -> None:
    """Verify `code` and every code object nested in its constants.

    `nglobals` is the number of global slots of the module the code belongs to.
    Raises `VerifyError` on the first problem found.
    """
    if not _is_int(nglobals) or nglobals < 0:
        raise VerifyError(f"verify: bad global count {nglobals!r}")
    try:
        _verify(code, nglobals, 0, set())
    except VerifyError:
        raise
    except Exception as e:  # noqa: BLE001 - the contract is "only VerifyError"
        # Defensive: malformed objects (e.g. a Code whose fields were forced to
        # odd types) must not leak host exceptions to the loader.
        raise VerifyError(f"verify: malformed code object ({type(e).__name__}: {e})") from e


def verify_module(m: ModuleCode) -> None:
    """Verify a compiled module: its metadata and its top-level code."""
    if not isinstance(m, ModuleCode):
        raise VerifyError(f"verify: expected a module, got {type(m).__name__}")
    label = m.path if type(m.path) is str else repr(m.path)
    for fld in ("path", "source_hash", "lang"):
        if type(getattr(m, fld)) is not str:
            raise VerifyError(f"verify: module {label}: field {fld} must be a string")
    if m.lang not in LANGS:
        raise VerifyError(f"verify: module {label}: unknown language {m.lang!r:.40}")
    for fld in ("globals", "exports", "imports"):
        if not _is_str_tuple(getattr(m, fld)):
            raise VerifyError(f"verify: module {label}: field {fld} must be a tuple of strings")
    known = set(m.globals)
    for name in m.exports:
        if name not in known:
            raise VerifyError(f"verify: module {label}: export {name!r} is not a global")
    if type(m.init) is not Code:
        raise VerifyError(f"verify: module {label}: init must be a code object")
    if type(m.init.captures) is not tuple or m.init.captures:
        # top-level code runs with no enclosing function, so it has nothing to capture
        raise VerifyError(f"verify: module {label}: top-level code cannot capture variables")
    # The VM runs top-level code as a plain function called with no arguments.
    if m.init.arity != 0:
        raise VerifyError(f"verify: module {label}: top-level code cannot take parameters (arity {m.init.arity!r:.20})")
    if not _is_int(m.init.flags) or m.init.flags & (FLAG_GENERATOR | FLAG_ASYNC):
        raise VerifyError(f"verify: module {label}: top-level code cannot be a generator or async")
    verify_code(m.init, len(m.globals))
