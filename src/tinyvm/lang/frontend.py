"""The front-end interface: what a source language gives the driver, the CLI and
the REPL.

A front end is a folder `lang/<language>/` whose `__init__.py` binds one
`FrontEnd` instance to the name `FRONTEND`; the driver finds it there
(lang/driver.py, `Languages`). Nothing else in TinyVM names a language: the
driver, the CLI, the REPL and the VM ask the front end. docs/frontends.md
walks through a complete example.

A front end provides

* `name` (the `--lang` value), `title` (for people), `extensions` (the first is
  canonical; a file whose extension no front end claims belongs to the one
  with `default = True`);
* `dialect`: the `ModuleCode.lang` of the code it emits, which selects the
  VM's run-time rules for it (operator semantics and messages, the frame
  limit: runtime/dialects.py). A new language picks one of the dialects the VM
  has (`bytecode.code.LANGS`);
* `compile_module(source, ctx)`: source text -> `CompiledModule`. `ctx` is a
  `ModuleContext`: the module's path and key, whether to stop after checking,
  and `load(spec)`, which finds, compiles and caches an imported file module
  (with its own front end) and answers what it exports;
* `compile_error`, `exit_compile`, `exit_runtime`, `render_runtime_error`: how
  errors of programs whose main module is in this language are reported;
* REPL hooks, all optional: `is_incomplete(text)` (does an entry need more
  lines?), `repl(ctx)` (a `ReplCompiler` for one session, or None when the
  language has no REPL) and `repl_help`.

The front end compiles to the shared bytecode with the shared assembler
(bytecode/assembler.py); it never imports the VM.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

from ..bytecode.code import ModuleCode
from .diagnostics import CompileError, Diagnostic


class ImportFailure(Exception):
    """`ModuleContext.load` could not give the module: the message is for the
    importer to report at its import statement ("cannot find module ...")."""


# (Plain classes, not dataclasses: every `tvm run` imports this module, and a
# dataclass costs a fraction of a millisecond to create.)


class ModuleInfo:
    """What an importer may know of a module: its key and its exports.

    `exports` maps each exported name to the declaration its front end made
    for it, for that front end's own checker (TinyLang: the declaring
    statement, whose variable carries its type). Declarations cross only
    between modules of the same front end: an importer in another language,
    or of a `.tvm` module, sees the names with None (untyped)."""

    __slots__ = ("name", "exports")

    def __init__(self, name: str, exports: dict[str, Any]) -> None:
        self.name = name
        self.exports = exports

    def __repr__(self) -> str:
        return f"ModuleInfo({self.name!r}, {list(self.exports)})"


class CompiledModule:
    """What `FrontEnd.compile_module` returns.

    `code` is None when there were errors (they are in `diagnostics`) or when
    `ModuleContext.check_only` asked to stop after checking. `exports` is what
    importers of this module see (`ModuleInfo.exports`); None when the module
    offers them nothing (importers then treat the import as failed, without
    further errors)."""

    __slots__ = ("code", "exports", "diagnostics")

    def __init__(self, code: ModuleCode | None, exports: dict[str, Any] | None, diagnostics: list[Diagnostic] | None = None) -> None:
        self.code = code
        self.exports = exports
        self.diagnostics = diagnostics if diagnostics is not None else []


class ModuleContext(Protocol):
    """The driver's side of one module's compilation (lang/driver.py)."""

    key: str  # the module key: its path relative to the main module's folder, no extension
    path: str  # the path shown in messages and traces
    check_only: bool  # stop after checking: `tvm check`
    privileged: bool  # runtime library code (the prelude): may call the VM's private natives

    def load(self, spec: str) -> ModuleInfo | None:
        """The imported file module `spec` (as written, relative to this
        module): found, compiled with its own front end, cached. None when it
        failed in a way already reported (its own errors). Raises
        ImportFailure for an error to report at the import."""
        ...

    def resolve(self, spec: str) -> str:
        """The module key of import `spec`, as the VM will resolve it."""
        ...


class ReplEntry:
    """One compiled REPL entry: module code whose globals extend those of the
    entries before it (the VM runs it as more of one module, `<repl>`), the
    static type to show after the entry's value (None: echo nothing), and the
    front end's own record of what the entry changes in the session, for
    `ReplCompiler.commit`. `notes`: lines the session shows after the entry
    ran (TinyLang: a redefinition that could not replace the old binding)."""

    __slots__ = ("code", "echo", "state", "notes")

    def __init__(self, code: ModuleCode, echo: str | None = None, state: Any = None) -> None:
        self.code = code
        self.echo = echo
        self.state = state
        self.notes: list[str] = []


class ReplCompiler(Protocol):
    """The compile side of one REPL session (`FrontEnd.repl`)."""

    # The global slot where an entry leaves the value to echo, cleared after
    # each entry so that it is not kept alive; None when the language echoes
    # nothing.
    echo_slot: int | None

    def compile(self, source: str) -> ReplEntry:
        """Compile one entry against the session so far. Raises CompileError."""
        ...

    def commit(self, entry: ReplEntry, defined: Sequence[bool]) -> tuple[str, ...]:
        """The entry ran (to its end or to an error): adopt its globals.
        `defined[i]` tells whether global slot i holds a value now. Returns the
        names of the module's global slots as the next entry will see them."""
        ...


class FrontEnd:
    """A source language (see the module docstring). Subclass it, set the
    class attributes and override `compile_module` and whichever hooks the
    language needs."""

    name: str = ""
    title: str = ""
    extensions: tuple[str, ...] = ()
    dialect: str = ""  # one of bytecode.code.LANGS
    default: bool = False

    # Errors, for programs whose main module is in this language.
    compile_error: type[CompileError] = CompileError
    exit_compile: int = 2
    exit_runtime: int = 1

    repl_help: str = ""

    def compile_module(self, source: str, ctx: ModuleContext) -> CompiledModule:
        raise NotImplementedError

    def render_runtime_error(self, exc: Any) -> str:
        """The report of an uncaught guest error (a GuestException)."""
        return exc.render()

    def is_incomplete(self, text: str) -> bool:
        """Whether a REPL entry needs more lines."""
        return False

    def repl(self, ctx: ModuleContext) -> ReplCompiler | None:
        """A compiler for one REPL session whose module is `ctx`; None: the
        language has no REPL."""
        return None

    def __repr__(self) -> str:
        return f"<front end {self.name}>"
