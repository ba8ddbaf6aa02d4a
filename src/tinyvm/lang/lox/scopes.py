"""Per-function compile state, as clox's `Compiler` struct: locals, upvalues,
scope depth -- and a model of the chunk clox would emit, for its limits.

clox's limits come from its bytecode: a function has at most 256 constants
(a one-byte operand), 256 local slots, 256 upvalues, and a jump spans at most
65535 bytes (a two-byte operand). TinyVM's bytecode has none of these limits,
so the parser asks this model instead: at every point where clox's compiler
emits bytes or adds a constant, the parser calls the matching method here with
the size clox's instruction has. The byte counts are therefore exactly
clox's, and so are the places where "Too many constants in one chunk.",
"Too much code to jump over." and "Loop body too large." are reported.

clox's instruction sizes, in bytes (what the parser passes to `emit`):

    1  NIL TRUE FALSE POP EQUAL GREATER LESS ADD SUBTRACT MULTIPLY DIVIDE NOT
       NEGATE PRINT CLOSE_UPVALUE RETURN INHERIT
    2  CONSTANT GET/SET_LOCAL GET/SET_GLOBAL DEFINE_GLOBAL GET/SET_UPVALUE
       GET/SET_PROPERTY GET_SUPER CALL CLASS METHOD
    3  JUMP JUMP_IF_FALSE LOOP INVOKE SUPER_INVOKE
    2 + 2 per upvalue  CLOSURE
"""

from __future__ import annotations

from .ast import FUNCTION, SCRIPT, Function, Local

UINT8_COUNT = 256
UINT16_MAX = 65535


class FunctionState:
    """One function being compiled (clox's Compiler)."""

    __slots__ = ("enclosing", "fn", "kind", "locals", "scope_depth", "count", "nconsts", "arity")

    def __init__(self, enclosing: "FunctionState | None", fn: Function) -> None:
        self.enclosing = enclosing
        self.fn = fn
        self.kind = fn.kind
        # Slot 0: the function itself ("" -- no identifier can name it), or
        # `this` in methods and initializers -- and, as in clox, in the script
        # (only reachable there after an error: `this` outside a class is one).
        first = Local("" if fn.kind == FUNCTION else "this", 0, 0)
        self.locals: list[Local] = [first]
        if fn.kind != FUNCTION and fn.kind != SCRIPT:
            fn.this = first
        self.scope_depth = 0
        self.count = 0  # bytes clox would have emitted in this function so far
        self.nconsts = 0  # constants clox would have added
        self.arity = 0

    # ------------------------------------------------------------------ the chunk model

    def emit(self, size: int) -> None:
        self.count += size

    def add_constant(self) -> bool:
        """clox's makeConstant: False when the constant does not fit (more
        than 256; clox still adds it, so every later one fails too)."""
        self.nconsts += 1
        return self.nconsts <= UINT8_COUNT

    def emit_jump(self) -> int:
        """A forward jump (3 bytes); returns what patch_jump needs."""
        self.count += 3
        return self.count - 2

    def patch_jump(self, offset: int) -> bool:
        """False when the jump would span more than clox's 16 bits."""
        return self.count - offset - 2 <= UINT16_MAX

    def emit_loop(self, loop_start: int) -> bool:
        """A backward jump to loop_start; False when it is too long. (clox
        checks after emitting the opcode byte, before its operand.)"""
        self.count += 1
        ok = self.count - loop_start + 2 <= UINT16_MAX
        self.count += 2
        return ok

    # ------------------------------------------------------------------ variables

    def add_local(self, name: str) -> Local | None:
        """A new, not yet initialised local; None when the function has 256."""
        if len(self.locals) == UINT8_COUNT:
            return None
        local = Local(name, len(self.locals), -1)
        self.locals.append(local)
        names = self.fn.slot_names
        if local.slot == len(names):
            names.append(name)
        elif name not in names[local.slot].split("/"):
            names[local.slot] += "/" + name  # a slot reused by another scope's variable
        return local

    def mark_initialized(self) -> None:
        if self.scope_depth == 0:
            return
        self.locals[-1].depth = self.scope_depth

    def resolve_local(self, name: str) -> tuple[int, Local | None, bool]:
        """(index, local, uninitialised): index -1 when not a local here."""
        for i in range(len(self.locals) - 1, -1, -1):
            local = self.locals[i]
            if local.name == name:
                return i, local, local.depth == -1
        return -1, None, False

    def add_upvalue(self, index: int, is_local: bool, name: str) -> int:
        """The upvalue index for (index, is_local); -1 when the function has 256."""
        ups = self.fn.upvalues
        for i, (loc, idx) in enumerate(ups):
            if idx == index and loc == is_local:
                return i
        if len(ups) == UINT8_COUNT:
            return -1
        ups.append((is_local, index))
        self.fn.upvalue_names.append(name)
        return len(ups) - 1
