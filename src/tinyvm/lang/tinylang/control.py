"""How the emitter leaves blocks: `return`, `break`, `continue` and `throw`,
and `try`/`catch`/`finally` (a part of the FunctionEmitter, emitter.py).

`try`/`finally` is compiled by duplication, as CPython does: the finally body is
emitted inline on every exit path (normal, `return`, `break`, `continue`) and once
more in a catch-all handler that rethrows. Protected ranges are split around
those inline copies so that an error inside a finally block is not caught by
its own try. Each `TryCtx` therefore owns a list of segments, which become
exception-table entries (`Handler`: start, end, target, stack depth) when its
statement is done.

A loop (`LoopCtx`) records how many `try` statements enclosed it, so that
`break` and `continue` run the finally bodies of those they leave, innermost
first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...bytecode import opcodes as O
from ...bytecode.assembler import Handler, Label
from . import ast as A

if TYPE_CHECKING:  # pragma: no cover
    from .emitter import FunctionEmitter

    _Base = FunctionEmitter
else:
    _Base = object


@dataclass(slots=True, eq=False)
class TryCtx:
    finally_body: A.Block | None
    target: Label  # handler entry
    depth: int
    segments: list[tuple[Label, Label]] = field(default_factory=list)
    open: Label | None = None
    in_finally: bool = False  # its finally body is being emitted right now

    def suspend(self, em: "FunctionEmitter") -> None:
        if self.open is not None:
            end = em.label()
            self.segments.append((self.open, end))
            self.open = None

    def resume(self, em: "FunctionEmitter") -> None:
        if self.open is None:
            self.open = em.label()


@dataclass(slots=True, eq=False)
class LoopCtx:
    brk: Label
    cont: Label
    try_depth: int  # len(em.tries) when the loop began



class ControlEmitter(_Base):
    def s_Return(self, s: A.Return) -> None:
        if self.scope.kind == "init":
            self.load_self_of_init()
        elif s.value is None:
            self.emit(O.LOAD_NIL)
        else:
            self.value(s.value, s.conv)
        self.at(s)
        if any(t.finally_body is not None for t in self.tries):
            tmp = self.hidden_local("$return")
            self.emit(O.STORE_LOCAL, tmp)
            self.exit_tries(0)
            self.emit(O.LOAD_LOCAL, tmp)
            self.emit(O.RETURN)
            self.reenter_tries(0)
        else:
            self.emit(O.RETURN)

    def exit_tries(self, down_to: int) -> None:
        """Run the finally bodies of the try statements being left (innermost
        first), each outside its own protected range."""
        for ctx in reversed(self.tries[down_to:]):
            ctx.suspend(self)
            # A jump out of a finally body itself does not run that body again.
            if ctx.finally_body is not None and not ctx.in_finally:
                self.emit_finally(ctx)

    def emit_finally(self, ctx: TryCtx) -> None:
        assert ctx.finally_body is not None
        ctx.in_finally = True
        self.block(ctx.finally_body.stmts)
        ctx.in_finally = False

    def reenter_tries(self, down_to: int) -> None:
        for ctx in self.tries[down_to:]:
            ctx.resume(self)

    def s_Break(self, s: A.Break) -> None:
        if not self.loops:
            return  # reported by the resolver
        loop = self.loops[-1]
        self.exit_tries(loop.try_depth)
        self.at(s)
        self.emit(O.JUMP, loop.brk)
        self.reenter_tries(loop.try_depth)

    def s_Continue(self, s: A.Continue) -> None:
        if not self.loops:
            return  # reported by the resolver
        loop = self.loops[-1]
        self.exit_tries(loop.try_depth)
        self.at(s)
        self.emit(O.JUMP, loop.cont)
        self.reenter_tries(loop.try_depth)

    def s_Throw(self, s: A.Throw) -> None:
        self.expr(s.value)
        self.at(s)
        self.emit(O.THROW)

    def s_Try(self, s: A.Try) -> None:
        depth = self.base_depth
        after = Label()
        fin = TryCtx(s.finally_body, Label(), depth) if s.finally_body is not None else None
        catch = TryCtx(None, Label(), depth) if s.catch_body is not None else None
        for ctx in (fin, catch):
            if ctx is not None:
                self.tries.append(ctx)
                ctx.resume(self)
        self.block(s.body.stmts)
        if catch is not None:
            self.tries.pop()
            catch.suspend(self)
            self._close(catch)
        if fin is not None:
            fin.suspend(self)
            self.emit_finally(fin)
            fin.resume(self)
        self.emit(O.JUMP, after)
        if catch is not None:
            self.place(catch.target)
            self.pos = (s.catch_line or s.line, s.catch_col or s.col)
            self.declare(s.ref) if s.catch_name else self.emit(O.POP)
            self.block(s.catch_body.stmts)  # type: ignore[union-attr]
            if fin is not None:
                fin.suspend(self)
                self.emit_finally(fin)
            self.emit(O.JUMP, after)
        if fin is not None:
            self.tries.pop()
            fin.suspend(self)
            self._close(fin)
            self.place(fin.target)
            tmp = self.hidden_local("$error")
            self.at(s)
            self.emit(O.STORE_LOCAL, tmp)
            self.block(s.finally_body.stmts)  # type: ignore[union-attr]
            self.emit(O.LOAD_LOCAL, tmp)
            self.emit(O.THROW)
        self.place(after)

    def _close(self, ctx: TryCtx) -> None:
        for start, end in ctx.segments:
            self.handlers.append(Handler(start, end, ctx.target, ctx.depth))
