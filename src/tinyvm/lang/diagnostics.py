"""Compile-time diagnostics shared by every front-end pass.

Each pass (lexer, parser, resolver, compiler) records problems as `Diagnostic`
values in a `DiagnosticBag` and keeps going, so one run reports every error of a
file. The driver raises `CompileError` once a pass has finished with errors; its
`render()` gives the user-facing text:

    calc.tl:3:12: error: use of undeclared name 'y'
        let x = y + 1
                ^
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Diagnostic:
    path: str
    line: int  # 1-based
    col: int  # 1-based, counted in code points
    message: str
    severity: str = "error"

    def render(self, source: str | list[str] | None) -> str:
        """The diagnostic, with its source line and a caret when `source` (the
        file's text, or its `source_lines`) is given."""
        head = f"{self.path}:{self.line}:{self.col}: {self.severity}: {self.message}"
        if source is None:
            return head
        lines = source_lines(source) if isinstance(source, str) else source
        if not 1 <= self.line <= len(lines):
            return head
        text = lines[self.line - 1].replace("\t", " ")
        caret = " " * (max(self.col, 1) - 1) + "^"
        return f"{head}\n    {text}\n    {caret}"


def source_lines(source: str) -> list[str]:
    """The lines of a file as the lexer counts them: only "\n" ends a line."""
    return [ln[:-1] if ln.endswith("\r") else ln for ln in source.split("\n")]


@dataclass(slots=True)
class DiagnosticBag:
    """Collects diagnostics for one source file."""

    path: str
    source: str | None = None
    items: list[Diagnostic] = field(default_factory=list)
    seen: set[Diagnostic] = field(default_factory=set)  # (a long chain can err at every link)

    def error(self, line: int, col: int, message: str) -> None:
        # The same error at the same place is reported once (recovery can revisit).
        d = Diagnostic(self.path, line, col, message)
        if d not in self.seen:
            self.seen.add(d)
            self.items.append(d)

    def __bool__(self) -> bool:
        return bool(self.items)


class CompileError(Exception):
    """Raised by the driver when one or more passes reported errors."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str] | None = None):
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.path, d.line, d.col))
        self.sources = sources or {}
        super().__init__(self.render())

    def render(self) -> str:
        # Each file is split into lines once, however many errors it has.
        paths = {d.path for d in self.diagnostics}
        lines = {p: source_lines(s) for p, s in self.sources.items() if s is not None and p in paths}
        return "\n".join(d.render(lines.get(d.path)) for d in self.diagnostics)
