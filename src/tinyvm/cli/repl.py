"""The interactive session: `tvm repl` (also plain `tvm`).

One session is one `tinyvm.api.VM` running one module, `<repl>`, that grows by
one entry at a time:

* An entry is read line by line until it parses (`parser.is_incomplete`), so
  `fn f() {` continues on `... ` lines until the closing `}`. It is then
  compiled as a module whose globals extend those of the entries before it
  (`compile_module_ast(predeclared=...)`) and run against the same module object
  (`Machine.run_entry`), whose globals list grows in place.
* Definitions persist: a `let`, `var`, `fn`, `class` or `import` of one entry is
  visible in the next ones; `let` stays immutable (assigning to it is a compile
  error).
* Redefinition is allowed and SHADOWS: `let x = 2` after `let x = 1` makes a new
  binding (a new global slot). Code compiled earlier (a function that reads `x`)
  keeps the binding it was compiled against, as in an ML toplevel; top-level
  code of the redefining entry before the new declaration still sees the old
  binding (`let x = x + 1` works). This keeps every earlier function's view of
  its globals as a file would give it: a `let` it read never changes under it.
* Echo: when the entry's LAST statement is an expression statement, its value is
  printed unless it is nil, followed by ` : ` and its static type (`42 : int`,
  `[1, 2] : [int]`, `"a" : string`). The form is `str()`'s (an instance by its `str()`
  method), except that a string is shown quoted and escaped, as inside a
  container, so `"a"` echoes `"a"` and `print("a")` shows `a` (and echoes
  nothing: print returns nil). The value goes through a hidden global (`$value`,
  not a valid identifier) that the last expression statement is rewritten to
  assign.
* Errors never end the session. A compile error (rendered as usual, file
  `<repl>`, lines counted from the entry's first line) discards the whole entry.
  A runtime error prints `error: Class: message` and the guest trace to stderr;
  what the entry did before the error stays done, and so do the declarations
  that ran; a declaration that did not run is dropped (an earlier binding of the
  name, if any, is visible again). Limitation: a function of that entry that
  refers to such a dropped global keeps raising "used before its declaration
  has run".
* `import "./file"` is relative to the current directory. A module runs once
  per session, on its first import.
* `:quit` / `:q` (or end of input, Ctrl-D) ends the session with status 0;
  `:help` lists the commands. Ctrl-C discards the line being typed or interrupts
  the running entry.

Lox (`tvm repl --lang lox`): a `LoxSession` runs each entry as more of one
Lox script, as clox's REPL does: globals persist (a `var` may redefine one),
nothing is echoed (`print` is a statement), and errors are reported in clox's
formats (lox/errors.py) without ending the session. An entry continues while
a `(` or `{` is open or a string is unterminated.

Input: with a terminal on stdin and stdout and prompt_toolkit installed,
entries are edited with prompt_toolkit (multi-line buffer: Enter inserts a
newline while the entry is incomplete, Esc-Enter submits it anyway; history in
~/.tvm_history, kept in memory when that file cannot be written). Otherwise
lines are read with plain `readline()`, prompts `>>> ` and `... ` still written
to stdout. prompt_toolkit is imported only on the terminal path.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, TextIO

from .. import __version__

REPL_KEY = "<repl>"  # module key and file name in messages
VALUE = "$value"  # hidden global holding the value to echo
PROMPT, CONTINUATION = ">>> ", "... "
QUIT_COMMANDS = (":quit", ":q")
HELP = """commands:
  :quit, :q    end the session (also Ctrl-D)
  :help        this text
An entry's last expression statement is echoed with its static type unless it is nil."""
LOX_HELP = """commands:
  :quit, :q    end the session (also Ctrl-D)
  :help        this text
Each entry runs as more of one Lox script: globals persist. Use print to see a value."""


class Session:
    """One REPL session: a VM and the growing `<repl>` module."""

    def __init__(self, stdin: TextIO, stdout: TextIO, stderr: TextIO, allow: Any = None) -> None:
        from ..api import VM
        from ..bytecode.code import Bundle
        from ..compiler.driver import Compilation
        from ..sema.resolver import ModuleInfo
        from ..sema.scopes import GLOBAL, Var

        self.stdout, self.stderr = stdout, stderr
        self.vm = VM(stdout=stdout, stdin=stdin, allow=allow)  # allow: what fs/os/net may touch
        # Global slots so far, in slot order; slot 0 is the echo value. A slot
        # whose binding is gone (shadowed, or its declaration never ran) holds a
        # placeholder Var whose name no identifier can match.
        self.slots: list[Var] = [Var(VALUE, True, GLOBAL, 0, None)]
        self.imports: dict[str, ModuleInfo] = {}  # import spec -> exports, for the resolver
        # File imports are compiled as by `tvmc`, relative to the current directory.
        self.comp = Compilation(os.getcwd(), REPL_KEY, Bundle(REPL_KEY))

    # ------------------------------------------------------------------ one entry

    def execute(self, source: str) -> bool:
        """Compile and run one entry, printing its value or its errors.
        True when it compiled and ran without error."""
        from ..diagnostics import CompileError
        from ..vm.errors import GuestException, RtError

        try:
            code, slots, echo = self.compile(source)
        except CompileError as e:
            self._err(e.render())
            return False
        machine = self.vm.machine
        for key, mc in self.comp.bundle.modules.items():
            machine.module_codes.setdefault(key, mc)
        first_new = len(self.slots)
        try:
            try:
                module = machine.run_entry(REPL_KEY, code)
                self.vm.main = module
                text = self._echo_text(module.globals[0]) if echo is not None else None
            finally:
                self._commit(slots, first_new)
        except GuestException as e:
            self._err(e.render())
            return False
        except RtError as e:  # raised before any guest frame ran
            self._err(f"error: {e.cls}: {e.message}")
            return False
        except KeyboardInterrupt:
            self._err("interrupted")
            return False
        except RecursionError:
            self._err("error: StackOverflowError: host recursion limit reached")
            return False
        except Exception as e:  # a VM bug: report it, keep the session
            self._err(f"internal error: {type(e).__name__}: {e}")
            return False
        if text is not None:
            print(f"{text} : {echo}", file=self.stdout)
        self._flush(self.stdout)
        return True

    def compile(self, source: str) -> tuple[Any, list, str | None]:
        """(ModuleCode, the slot list it was compiled with, the static type of
        the value to echo or None for no echo). Raises CompileError."""
        from ..compiler.driver import _import, compile_module_ast, parse_source, resolve_spec
        from ..diagnostics import CompileError, DiagnosticBag
        from ..syntax import ast as A

        comp = self.comp
        comp.diagnostics = []
        comp.pending_cycle = None
        bag = DiagnosticBag(REPL_KEY, source)
        mod = parse_source(source, REPL_KEY, bag)
        imports = dict(self.imports)
        import_keys: list[str] = []
        code = None
        slots = list(self.slots)
        echo = None
        echo_expr = None
        if not bag:
            for s in mod.body:
                if isinstance(s, (A.Import, A.FromImport)):
                    info = _import(comp, REPL_KEY, s, bag)
                    if info is not None:
                        imports[s.path] = info
                        import_keys.append(resolve_spec(REPL_KEY, s.path))
            last = mod.body[-1] if mod.body else None
            if isinstance(last, A.ExprStmt):
                # `expr` -> `$value = expr`: the entry leaves its value in slot 0.
                mod.body[-1] = A.Assign(last.line, last.col, A.Name(last.line, last.col, VALUE), "=", last.expr)
                echo_expr = last.expr
            if not bag:
                code = compile_module_ast(mod, REPL_KEY, source, bag, imports, tuple(import_keys), predeclared=slots)
        if code is None or comp.diagnostics:
            sources = dict(comp.sources)
            sources[REPL_KEY] = source
            raise CompileError(comp.diagnostics + bag.items, sources)
        self.imports = imports
        if echo_expr is not None:
            echo = str(echo_expr.ty or "any")
        return code, slots, echo

    def _commit(self, slots: list, first_new: int) -> None:
        """Adopt the slot table of an entry that ran (completely or not)."""
        from ..heap.objects import UNINIT
        from ..sema.scopes import Var

        module = self.vm.machine.modules.get(REPL_KEY)
        values = module.globals if module is not None else []
        if values:
            values[0] = None  # the echoed value: do not keep it alive
        latest: dict[str, int] = {}
        for i, v in enumerate(slots):
            if i >= first_new and (i >= len(values) or values[i] is UNINIT):
                # Its declaration never ran (a runtime error came first): drop it.
                slots[i] = Var(f"<unset {v.name}>", False, v.kind, i, None)
                continue
            j = latest.get(v.name)
            if j is not None:  # redeclared by a later slot: the old one is shadowed
                old = slots[j]
                slots[j] = Var(f"<shadowed {old.name}>", False, old.kind, j, None)
            latest[v.name] = i
        self.slots = slots
        if module is not None and module.code is not None:
            # Name the module's slots as the next entry will (VM.get, disassembly).
            module.code = dataclasses.replace(module.code, globals=tuple(v.name for v in slots))

    def _echo_text(self, v: Any) -> str | None:
        from ..vm.values import NeedsGuest, quote_string, to_str

        if v is None:
            return None
        if type(v) is str:
            return quote_string(v)
        try:
            return to_str(v)
        except NeedsGuest:  # an instance with a str() method: run guest code
            m = self.vm.machine
            return str(m.run_function(m.prelude_fn("format_value"), [v]))

    def _err(self, text: str) -> None:
        self._flush(self.stdout)
        print(text, file=self.stderr)
        self._flush(self.stderr)

    @staticmethod
    def _flush(stream: TextIO) -> None:
        try:
            stream.flush()
        except Exception:  # pragma: no cover - a closed pipe
            pass


class LoxSession:
    """One Lox REPL session (see the module docstring)."""

    def __init__(self, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> None:
        from ..api import VM
        from ..vm.lox_rules import LOX_MAX_DEPTH

        self.stdout, self.stderr = stdout, stderr
        self.vm = VM(stdout=stdout, stdin=stdin, max_depth=LOX_MAX_DEPTH)
        self.globals: list[str] = []  # global slot names so far

    def execute(self, source: str) -> bool:
        from ..diagnostics import CompileError
        from ..lox.compiler import compile_lox_module
        from ..lox.errors import render_runtime_error
        from ..vm.errors import GuestException, RtError

        try:
            code = compile_lox_module(source, REPL_KEY, self.globals)
        except CompileError as e:
            self._err(e.render())
            return False
        try:
            try:
                self.vm.main = self.vm.machine.run_entry(REPL_KEY, code)
            finally:
                self.globals = list(code.globals)
        except GuestException as e:
            self._err(render_runtime_error(e))
            return False
        except RtError as e:  # raised before any guest frame ran
            self._err(e.message)
            return False
        except KeyboardInterrupt:
            self._err("interrupted")
            return False
        except RecursionError:
            self._err("host recursion limit reached")
            return False
        except Exception as e:  # a VM bug: report it, keep the session
            self._err(f"internal error: {type(e).__name__}: {e}")
            return False
        Session._flush(self.stdout)
        return True

    def _err(self, text: str) -> None:
        Session._flush(self.stdout)
        print(text, file=self.stderr)
        Session._flush(self.stderr)


# --------------------------------------------------------------------------- input


def _incompleteness(lang: str) -> Any:
    """The language's test for an entry that needs more lines."""
    if lang == "lox":
        from ..lox.parser import is_incomplete
    else:
        from ..syntax.parser import is_incomplete
    return is_incomplete


class PlainReader:
    """Entries from `readline()`, prompts written to stdout."""

    def __init__(self, stdin: TextIO, stdout: TextIO, lang: str = "tinylang") -> None:
        self.stdin, self.stdout = stdin, stdout
        self.eof = False
        self.is_incomplete = _incompleteness(lang)

    def read_entry(self) -> str | None:
        """The next complete entry (or a `:command`); None at end of input.
        KeyboardInterrupt discards the partial entry."""
        is_incomplete = self.is_incomplete
        if self.eof:
            return None
        lines: list[str] = []
        while True:
            self.stdout.write(CONTINUATION if lines else PROMPT)
            self.stdout.flush()
            try:
                line = self.stdin.readline()
            except KeyboardInterrupt:
                self.stdout.write("\n")
                raise
            if not line:
                self.eof = True
                self.stdout.write("\n")
                self.stdout.flush()
                # An incomplete last entry is still compiled: its error is reported.
                return "\n".join(lines) if lines else None
            line = line.rstrip("\r\n")
            if not lines and line.strip().startswith(":"):
                return line.strip()
            lines.append(line)
            text = "\n".join(lines)
            if not text.strip():
                return text
            if not is_incomplete(text):
                return text


class TerminalReader:
    """Entries edited with prompt_toolkit: one multi-line buffer per entry."""

    def __init__(self, stdin: TextIO, stdout: TextIO, lang: str = "tinylang") -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.input import create_input
        from prompt_toolkit.key_binding import KeyBindings
        from prompt_toolkit.output import create_output

        is_incomplete = _incompleteness(lang)

        kb = KeyBindings()

        @kb.add("enter")
        def _enter(event: Any) -> None:
            buf = event.current_buffer
            text = buf.text
            if text.strip() and not text.lstrip().startswith(":") and is_incomplete(text):
                line = buf.document.current_line_before_cursor
                indent = line[: len(line) - len(line.lstrip())]
                if line.rstrip().endswith(("{", "(", "[")):
                    indent += "  "
                buf.insert_text("\n" + indent)
            else:
                buf.validate_and_handle()

        @kb.add("}")
        def _close(event: Any) -> None:
            buf = event.current_buffer
            line = buf.document.current_line_before_cursor
            if line and not line.strip():  # dedent a closing brace typed on its own
                buf.delete_before_cursor(min(2, len(line)))
            buf.insert_text("}")

        @kb.add("escape", "enter")
        def _submit(event: Any) -> None:
            event.current_buffer.validate_and_handle()

        self.session: Any = PromptSession(
            history=_history(),
            multiline=True,
            key_bindings=kb,
            prompt_continuation=lambda width, line_number, wrap_count: CONTINUATION,
            input=create_input(stdin),
            output=create_output(stdout),
        )

    def read_entry(self) -> str | None:
        try:
            text = self.session.prompt(PROMPT)
        except EOFError:
            return None
        stripped = text.strip()
        return stripped if stripped.startswith(":") and "\n" not in stripped else text


def _history() -> Any:
    """FileHistory at ~/.tvm_history, or an in-memory one when it cannot be written."""
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    class SafeFileHistory(FileHistory):
        def store_string(self, string: str) -> None:
            try:
                super().store_string(string)
            except OSError:
                pass  # the disk filled up or the file went away: keep going

    home = os.path.expanduser("~")
    if not home or home == "~":
        return InMemoryHistory()
    path = os.path.join(home, ".tvm_history")
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError:
        return InMemoryHistory()
    return SafeFileHistory(path)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except Exception:
        return False


def make_reader(stdin: TextIO, stdout: TextIO, lang: str = "tinylang") -> Any:
    if _is_terminal(stdin) and _is_terminal(stdout):
        try:
            return TerminalReader(stdin, stdout, lang)
        except ImportError:
            pass  # prompt_toolkit is optional: fall back to plain lines
    return PlainReader(stdin, stdout, lang)


# --------------------------------------------------------------------------- the loop


def run_repl(stdin: TextIO, stdout: TextIO, stderr: TextIO, lang: str = "tinylang", allow: Any = None) -> int:
    # (Lox has no modules, so nothing for capabilities to grant there.)
    session: Any = LoxSession(stdin, stdout, stderr) if lang == "lox" else Session(stdin, stdout, stderr, allow)
    reader = make_reader(stdin, stdout, lang)
    if isinstance(reader, TerminalReader):
        name = "Lox" if lang == "lox" else "TinyLang"
        print(f"TinyVM {__version__} REPL ({name}). :help for help, :quit or Ctrl-D to exit.", file=stdout)
    while True:
        try:
            text = reader.read_entry()
        except KeyboardInterrupt:
            continue  # discard the partial entry
        if text is None:
            return 0
        command = text.strip()
        if not command:
            continue
        if command.startswith(":") and "\n" not in command:
            if command in QUIT_COMMANDS:
                return 0
            if command in (":help", ":h", ":?"):
                print(LOX_HELP if lang == "lox" else HELP, file=stdout)
            else:
                session._err(f"unknown command '{command}' (:help lists them)")
            continue
        session.execute(text)
