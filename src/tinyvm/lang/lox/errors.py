"""Lox's error reporting: compile errors with clox's panic-mode recovery, and
clox's formats for compile and runtime errors.

Compile errors (clox's `errorAt`): the first error of a statement is reported
and sets panic mode; further errors are dropped until the parser
resynchronises at a statement boundary. Each is printed as

    [line N] Error at 'TOKEN': MESSAGE      (at a token)
    [line N] Error at end: MESSAGE          (at the end of the file)
    [line N] Error: MESSAGE                 (a bad token: the scanner's message)

in the order found, and a program with any exits with status 65.

Runtime errors (clox's `runtimeError`): the message, then one line per frame,
innermost first, `[line N] in NAME()` for a function and `[line N] in script`
for top-level code; exit status 70.

A `LoxCompileError` is a `CompileError` (so tools that handle TinyLang's
compile errors handle Lox's), whose diagnostics carry the part of the clox text
after `[line N] `; its `render()` is clox's text.
"""

from __future__ import annotations

from ..diagnostics import CompileError, Diagnostic
from .lexer import EOF, ERROR, Token


class Reporter:
    """Collects a file's compile errors, with clox's panic mode."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.items: list[Diagnostic] = []
        self.panic = False
        self.abandoned = False  # the parse gave up (too deep): report nothing more

    def error_at(self, token: Token, message: str) -> None:
        if self.panic or self.abandoned:
            return
        self.panic = True
        if token.type == EOF:
            where = " at end"
        elif token.type == ERROR:
            where = ""
        else:
            where = f" at '{token.text}'"
        self.items.append(Diagnostic(self.path, token.line, token.col, f"Error{where}: {message}"))

    def __bool__(self) -> bool:
        return bool(self.items)


class LoxCompileError(CompileError):
    """The compile errors of a Lox file, in the order clox reports them."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str] | None = None) -> None:
        super().__init__(diagnostics, sources)
        self.diagnostics = list(diagnostics)  # keep clox's order (CompileError sorts)

    def render(self) -> str:
        return "\n".join(f"[line {d.line}] {d.message}" for d in self.diagnostics)


def render_runtime_error(exc: object) -> str:
    """clox's report of an uncaught runtime error (a GuestException): the
    message, then the stack trace."""
    lines = [getattr(exc, "message", str(exc))]
    for f in getattr(exc, "frames", []):
        lines.append(f"[line {f.line}] in " + ("script" if f.module else f"{f.name}()"))
    return "\n".join(lines)
