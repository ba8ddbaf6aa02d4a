"""The interactive session: `tvm repl` (also plain `tvm`), for any front end
that has REPL hooks (lang/frontend.py).

One session is one `tinyvm.api.VM` running one module, `<repl>`, that grows by
one entry at a time:

* An entry is read line by line until it is complete (the front end's
  `is_incomplete`), so TinyLang's `fn f() {` continues on `... ` lines until
  the closing `}`. The front end's `ReplCompiler` compiles it as more of the
  `<repl>` module (its globals extend those of the entries before it), and
  the VM runs it against the same module object (`Machine.run_entry`), whose
  globals list grows in place. How definitions persist, shadow and echo is the
  language's (TinyLang: lang/tinylang/repl.py; Lox: each entry is more of one
  script, as in clox's REPL).
* Echo: when the compiler gives the entry a static type to show, the value it
  left in the echo slot is printed unless it is nil, followed by ` : ` and the
  type (`42 : int`, `[1, 2] : [int]`, `"a" : string`). The form is `str()`'s
  (an instance by its `str()` method), except that a string is shown quoted and
  escaped, as inside a container, so `"a"` echoes `"a"` and `print("a")` shows
  `a` (and echoes nothing: print returns nil).
* Errors never end the session. A compile error (rendered as usual, file
  `<repl>`, lines counted from the entry's first line) discards the whole entry.
  A runtime error is reported as the language reports one (TinyLang: `error:
  Class: message` and the guest trace; Lox: clox's format) on stderr; what the
  entry did before the error stays done, and the front end's `commit` learns
  which of its declarations ran.
* `import "./file"` is relative to the current directory. A module runs once
  per session, on its first import.
* A standard stream that fails ends the session: HostIOError goes up to the
  caller (`tvm` prints `error: cannot write to stdout: REASON` or `cannot
  read from stdin: ...` and exits with status 74); invalid UTF-8 typed at the
  prompt counts as such a failure. A failing stderr loses the message only.
* `:quit` / `:q` (or end of input, Ctrl-D) ends the session with status 0;
  `:help` lists the commands. Ctrl-C discards the line being typed or interrupts
  the running entry.
* Commands (`Session.command`; a problem with one is one line on stderr,
  `:NAME: what`, and never ends the session): `:type EXPR` asks the front end
  for the static type (`type_of`: checked, not run); `:dis NAME` disassembles
  the function a session global holds (`Class.method`, a class's own methods,
  `module.fn`) with the disassembler's data API, as `tvm disasm` prints it;
  `:time EXPR` runs an entry and adds `time: MS ms, N instructions` (the
  session's VM is metered, `meter_fuel`, so counts are exact on every tier);
  `:mem` reads the heap (a snapshot's live objects and bytes by type) and
  `gc_stats` (collections by kind, pauses, the mode); `:load FILE` runs a
  file as an entry, without echo, its messages and traces naming the file;
  `:reload` does so again for each loaded file with the front end's `keep`
  option (TinyLang: variables the session has keep their values).
* A redefinition's rule is the front end's; the session sets `rebindable` on
  its compiler (TinyLang: a redefinition whose type fits replaces the old
  binding for every caller), and prints the notes an entry carries.

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
import time
from typing import Any, Callable, TextIO

from .. import __version__
from ..runtime.errors import STREAM_ERRORS, HostIOError

REPL_KEY = "<repl>"  # module key and file name in messages
PROMPT, CONTINUATION = ">>> ", "... "
QUIT_COMMANDS = (":quit", ":q")
BANNER = "TinyVM {version} REPL ({title}). :help for help, :quit or Ctrl-D to exit."  # on a terminal
HELP = """commands:
  :type EXPR   the static type of EXPR in the session (checked, not run; also :t)
  :dis NAME    the bytecode of function NAME, method Class.NAME or class NAME
  :time EXPR   run EXPR: its value, the wall time and the instructions run
  :mem         the heap: live objects and bytes by type, collections, GC mode
  :load FILE   run FILE into the session: its declarations become globals
  :reload      recompile and run the loaded files again; globals keep their values
  :help, :h    this text
  :quit, :q    end the session (also Ctrl-D)"""
MEM_TYPES = 12  # rows of `:mem`'s table by type (the largest by bytes)


class Session:
    """One REPL session: a VM, the growing `<repl>` module, and the front
    end's compiler for its entries."""

    def __init__(
        self,
        stdin: TextIO,
        stdout: TextIO,
        stderr: TextIO,
        allow: Any = None,
        lang: str | None = None,
        languages: Any = None,
        vm_options: dict[str, Any] | None = None,
    ) -> None:
        from ..api import VM
        from ..bytecode.code import Bundle
        from ..lang.driver import Compilation, Languages
        from ..lang.sources import DirectorySources

        languages = languages or Languages.default()
        self.fe = languages.get(lang) if lang is not None else languages.default_frontend
        if self.fe is None:
            raise ValueError(f"unknown language {lang!r}")
        self.stdout, self.stderr = stdout, stderr
        # allow: what fs/os/net may touch; vm_options: gc_stress, max_depth, budget (as for run)
        # The session counts instructions (`:time`): a metered VM (vm/limits.py).
        options = {"meter_fuel": True, **(vm_options or {})}
        self.vm = VM(stdout=stdout, stdin=stdin, allow=allow, languages=languages, **options)
        # File imports are compiled as by `tvmc`, relative to the current
        # directory, and may read it and below, and what --allow-read grants.
        cwd = os.getcwd()
        sources = DirectorySources.granted(cwd, self.vm.machine.caps.grants.get("read"), "the current folder")
        self.comp = Compilation(cwd, REPL_KEY, Bundle(REPL_KEY), languages, source_set=sources)
        repl = self.fe.repl(self.comp.context(REPL_KEY, REPL_KEY, self.fe))
        if repl is None:
            raise ValueError(f"{self.fe.title} has no REPL")
        if hasattr(repl, "rebindable"):
            # A redefinition replaces the old binding for every caller (only
            # here: the embedding API's namespaces keep CALL_GLOBAL's speed).
            repl.rebindable = True
        self.repl = repl
        self.loaded: list[str] = []  # `:load`ed files, in order, for `:reload`

    # ------------------------------------------------------------------ one entry

    def execute(self, source: str, path: str = REPL_KEY, echo: bool = True, keep: bool = False, timer: Any = None) -> bool:
        """Compile and run one entry, printing its value or its errors.
        True when it compiled and ran without error. `path` names the text in
        messages (a `:load`ed file's); `echo`: show the value of a final
        expression; `keep`: `:reload`'s rule (variables keep their values);
        `timer` (`:time`'s): started when the entry starts running, stopped
        when it ends; its `report()` is printed after the echo."""
        from ..lang.diagnostics import CompileError
        from ..runtime.errors import GuestException, HostIOError, RtError

        try:
            entry = self.compile(source, path, echo, keep)
        except CompileError as e:
            self._err(e.render())
            return False
        except HostIOError:
            raise
        except Exception as e:  # noqa: BLE001 - a compiler bug: report it, keep the session
            self._err(f"internal error: {type(e).__name__}: {e}")
            return False
        machine = self.vm.machine
        for key, mc in self.comp.bundle.modules.items():
            machine.module_codes.setdefault(key, mc)
        try:
            try:
                if timer is not None:
                    timer.start()
                module = machine.run_entry(REPL_KEY, entry.code)
                if timer is not None:
                    timer.stop()
                self.vm.main = module
                text = self._echo_text(module.globals[self.repl.echo_slot]) if entry.echo is not None else None
            finally:
                self._commit(entry)
        except GuestException as e:
            self._err(self.fe.render_runtime_error(e))
            return False
        except RtError as e:  # raised before any guest frame ran
            self._err(self.fe.render_runtime_error(GuestException(None, e.cls, e.message, [])))
            return False
        except KeyboardInterrupt:
            self._err("interrupted")
            return False
        except RecursionError:
            self._err(self.fe.render_runtime_error(GuestException(None, "StackOverflowError", "host recursion limit reached", [])))
            return False
        except HostIOError:
            raise  # stdout failed: the session cannot go on (main reports it, status 74)
        except Exception as e:  # a VM bug: report it, keep the session
            self._err(f"internal error: {type(e).__name__}: {e}")
            return False
        if text is not None:
            _write(self.stdout, f"{text} : {entry.echo}\n")
        if timer is not None:
            _write(self.stdout, timer.report() + "\n")
        for note in getattr(entry, "notes", ()):
            self._err(note)
        self._flush(self.stdout)
        return True

    def compile(self, source: str, path: str = REPL_KEY, echo: bool = True, keep: bool = False) -> Any:
        """The entry compiled (a ReplEntry). Raises CompileError, with the
        errors of the files it imported too."""
        from ..lang.driver import compile_entry

        repl = self.repl
        if path != REPL_KEY or not echo or keep:
            repl = _EntryOptions(self.repl, echo, keep)
        ctx = getattr(self.repl, "ctx", None)
        saved = getattr(ctx, "path", None)
        if ctx is not None:
            ctx.path = path  # (messages and traces name the file)
        try:
            return compile_entry(self.comp, self.fe, repl, source, path)
        finally:
            if ctx is not None:
                ctx.path = saved

    # ------------------------------------------------------------------ commands

    def command(self, text: str) -> bool:
        """Run a `:command` line; False when it ends the session. Every
        problem is reported as one line on stderr: the session goes on."""
        name, _, arg = text.strip().partition(" ")
        arg = arg.strip()
        if name in QUIT_COMMANDS:
            return False
        handler = _COMMANDS.get(name)
        if handler is None:
            self._err(f"unknown command '{name}' (:help lists them)")
            return True
        try:
            handler(self, arg)
        except HostIOError:
            raise
        except _CommandError as e:
            self._err(f"{name}: {e}")
        except KeyboardInterrupt:
            self._err("interrupted")
        except Exception as e:  # noqa: BLE001 - a bug of the command: report it, keep the session
            self._err(f"{name}: internal error: {type(e).__name__}: {e}")
        return True

    def cmd_help(self, arg: str) -> None:
        _write(self.stdout, HELP + ("\n" + self.fe.repl_help if self.fe.repl_help else "") + "\n")

    def cmd_type(self, arg: str) -> None:
        from ..lang.diagnostics import CompileError

        if not arg:
            raise _CommandError("needs an expression: :type EXPR")
        type_of = getattr(self.repl, "type_of", None)
        if type_of is None:
            raise _CommandError(f"{self.fe.title} has no static types")
        try:
            text = type_of(arg)
        except CompileError as e:
            self._err(e.render())
            return
        _write(self.stdout, f"{text}\n")

    def cmd_dis(self, arg: str) -> None:
        from ..bytecode.disasm import format_code
        from ..heap.objects import BoundMethod, Class, Function, Native

        if not arg:
            raise _CommandError("needs a name: :dis NAME (a function, Class.method or a class)")
        value = self._lookup(arg)
        names = self._names()
        if isinstance(value, BoundMethod):
            value = value.method
        if isinstance(value, Function):
            _write(self.stdout, format_code(value.code, names))
        elif isinstance(value, Class):
            own = [m for m in value.own_methods.values() if isinstance(m, Function)]
            if not own:
                raise _CommandError(f"class {value.name} has no methods of its own")
            _write(self.stdout, "\n".join(format_code(m.code, names) for m in own))
        elif isinstance(value, Native):
            raise _CommandError(f"'{arg}' is a built-in function: it has no bytecode")
        else:
            from ..runtime.values import typeof

            t = typeof(value)
            raise _CommandError(f"'{arg}' is not a function: it holds {'an' if t[:1] in 'aeiou' else 'a'} {t}")

    def cmd_time(self, arg: str) -> None:
        if not arg:
            raise _CommandError("needs an expression: :time EXPR")
        self.execute(arg, timer=_Timer(self.vm.machine.limits))

    def cmd_mem(self, arg: str) -> None:
        from ..heap.snapshot import take_snapshot

        if arg:
            raise _CommandError("takes no argument")
        stats = self.vm.gc_stats()
        summary = take_snapshot(self.vm.machine).summary()
        rows = sorted(summary.items(), key=lambda kv: (-kv[1]["self_size"], kv[0]))
        objects = sum(r["count"] for r in summary.values())
        size = sum(r["self_size"] for r in summary.values())
        kinds = ", ".join(f"{k} {n}" for k, n in stats["by_kind"].items())
        pause = stats["pause"]
        lines = [
            f"live: {objects:,} objects, {_bytes(size)} (reachable now)",
            f"heap: {_bytes(stats['heap_bytes'])} accounted, peak {_bytes(stats['peak_bytes'])}, limit {_bytes(stats['limit_bytes'])}",
            f"gc: mode {stats['mode']}, {stats['collections']} collections ({kinds}), pauses {pause['total_ms']:.2f} ms in all, max {pause['max_ms']:.2f} ms",
            f"by type ({'the largest ' + str(MEM_TYPES) + ' of ' + str(len(rows)) if len(rows) > MEM_TYPES else 'all'}):",
        ]
        width = max((len(t) for t, _ in rows[:MEM_TYPES]), default=4)
        for t, r in rows[:MEM_TYPES]:
            lines.append(f"  {t:<{width}}  {r['count']:>7,} objects  {_bytes(r['self_size']):>10}")
        _write(self.stdout, "\n".join(lines) + "\n")

    def cmd_load(self, arg: str) -> None:
        if not arg:
            raise _CommandError("needs a file: :load FILE")
        path = arg[1:-1] if len(arg) > 1 and arg[0] == arg[-1] and arg[0] in "\"'" else arg
        source = self._read(path)
        if path not in self.loaded:
            self.loaded.append(path)  # (a file that fails to compile is reloaded too, once fixed)
        if self.execute(source, path, echo=False):
            _write(self.stdout, f"loaded {path}\n")

    def cmd_reload(self, arg: str) -> None:
        if arg:
            raise _CommandError("takes no argument (it reloads every :load-ed file)")
        if not self.loaded:
            raise _CommandError("no file was loaded (:load FILE)")
        for path in list(self.loaded):
            try:
                source = self._read(path)
            except _CommandError as e:
                self._err(f":reload: {e}")
                continue
            if self.execute(source, path, echo=False, keep=True):
                _write(self.stdout, f"reloaded {path}\n")

    def _read(self, path: str) -> str:
        from ..lang.driver import decode_source

        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise _CommandError(f"cannot read {path}: {e.strerror or e}") from None
        from ..lang.diagnostics import CompileError

        try:
            return decode_source(data, path)
        except CompileError as e:  # not UTF-8: where
            raise _CommandError(e.render()) from None

    def _names(self) -> tuple[str, ...]:
        module = self.vm.machine.modules.get(REPL_KEY)
        return module.code.globals if module is not None and module.code is not None else ()

    def _lookup(self, dotted: str) -> Any:
        """The value a session name (`f`, `Point.area`, `geo.area`) holds."""
        from ..heap.objects import UNINIT, Class, ModuleObject

        first, *rest = dotted.split(".")
        module = self.vm.machine.modules.get(REPL_KEY)
        names = self._names()
        value: Any = UNINIT
        for i in range(len(names) - 1, -1, -1):
            if names[i] == first:
                value = module.globals[i]
                break
        if value is UNINIT:
            raise _CommandError(f"no global named '{first}'")
        path = first
        for part in rest:
            if isinstance(value, Class):
                if part not in value.methods:
                    raise _CommandError(f"class {value.name} has no method '{part}'")
                value = value.methods[part]
            elif isinstance(value, ModuleObject) and part in value.exports:
                value = value.globals[value.exports[part]]
            else:
                raise _CommandError(f"'{path}' has no member '{part}' to disassemble")
            path += "." + part
        return value

    def _commit(self, entry: Any) -> None:
        """Tell the front end what the entry (compiled, and run completely or
        not) left defined, and name the module's slots as the next entry will
        see them (VM.get, disassembly)."""
        from ..heap.objects import UNINIT

        module = self.vm.machine.modules.get(REPL_KEY)
        values = module.globals if module is not None else []
        slot = self.repl.echo_slot
        if slot is not None and slot < len(values):
            values[slot] = None  # the echoed value: do not keep it alive
        names = self.repl.commit(entry, [v is not UNINIT for v in values])
        if module is not None and module.code is not None and module.code.globals != names:
            module.code = dataclasses.replace(module.code, globals=names)

    def _echo_text(self, v: Any) -> str | None:
        from ..runtime.values import NeedsGuest, quote_string, to_str

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
        try:
            self.stderr.write(text + "\n")
        except STREAM_ERRORS:
            pass  # stderr failed: nowhere left to report it
        self._flush(self.stderr)

    @staticmethod
    def _flush(stream: TextIO) -> None:
        try:
            stream.flush()
        except STREAM_ERRORS:
            pass  # a failed stdout is reported by its next write


class _CommandError(Exception):
    """A `:command` was misused: its one-line message."""


class _Timer:
    """`:time`: the wall time and the instructions of one entry's run (not
    its compilation). Instructions are the VM's fuel count (vm/limits.py):
    exact on a metered VM, which a session's is unless made otherwise."""

    def __init__(self, limits: Any) -> None:
        self.limits = limits
        self.t0 = self.t1 = 0.0
        self.f0 = self.f1 = None

    def start(self) -> None:
        self.f0 = self.limits.fuel_used
        self.t0 = time.perf_counter()

    def stop(self) -> None:
        self.t1 = time.perf_counter()
        self.f1 = self.limits.fuel_used

    def report(self) -> str:
        ms = (self.t1 - self.t0) * 1000
        if self.f0 is None or self.f1 is None:
            return f"time: {ms:.3f} ms (instructions not counted: the VM is not metered)"
        return f"time: {ms:.3f} ms, {self.f1 - self.f0:,} instructions"


class _EntryOptions:
    """The front end's ReplCompiler with options for one entry: `:load` and
    `:reload` compile a file without echo (and with `keep`, variables keep
    their values); a front end that has no such options compiles as usual."""

    def __init__(self, repl: Any, echo: bool, keep: bool) -> None:
        self.repl, self.echo, self.keep = repl, echo, keep

    def compile(self, source: str) -> Any:
        if getattr(self.repl, "entry_options", False):
            return self.repl.compile(source, echo=self.echo, keep=self.keep)
        return self.repl.compile(source)  # (Lox: each entry is more of one script; it echoes nothing)


_COMMANDS: dict[str, Callable[[Session, str], None]] = {
    ":help": Session.cmd_help,
    ":h": Session.cmd_help,
    ":?": Session.cmd_help,
    ":type": Session.cmd_type,
    ":t": Session.cmd_type,
    ":dis": Session.cmd_dis,
    ":time": Session.cmd_time,
    ":mem": Session.cmd_mem,
    ":load": Session.cmd_load,
    ":reload": Session.cmd_reload,
}


def _bytes(n: int) -> str:
    for unit, size in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _write(stdout: TextIO, text: str) -> None:
    """Write the session's output (prompts, echoes); a failure ends the session."""
    try:
        stdout.write(text)
    except STREAM_ERRORS as e:
        raise HostIOError("stdout", "write to", e) from e


def _flush_out(stdout: TextIO) -> None:
    try:
        stdout.flush()
    except STREAM_ERRORS as e:
        raise HostIOError("stdout", "write to", e) from e


# --------------------------------------------------------------------------- input


def _never_incomplete(text: str) -> bool:
    return False


class PlainReader:
    """Entries from `readline()`, prompts written to stdout."""

    def __init__(self, stdin: TextIO, stdout: TextIO, is_incomplete: Callable[[str], bool] = _never_incomplete) -> None:
        self.stdin, self.stdout = stdin, stdout
        self.eof = False
        self.is_incomplete = is_incomplete  # the front end's: does the entry need more lines?

    def read_entry(self) -> str | None:
        """The next complete entry (or a `:command`); None at end of input.
        KeyboardInterrupt discards the partial entry."""
        is_incomplete = self.is_incomplete
        if self.eof:
            return None
        lines: list[str] = []
        while True:
            _write(self.stdout, CONTINUATION if lines else PROMPT)
            _flush_out(self.stdout)
            try:
                line = self.stdin.readline()
            except KeyboardInterrupt:
                _write(self.stdout, "\n")
                raise
            except STREAM_ERRORS as e:  # (invalid UTF-8 too: a UnicodeDecodeError)
                raise HostIOError("stdin", "read from", e) from e
            if not line:
                self.eof = True
                _write(self.stdout, "\n")
                _flush_out(self.stdout)
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

    def __init__(self, stdin: TextIO, stdout: TextIO, is_incomplete: Callable[[str], bool] = _never_incomplete) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.input import create_input
        from prompt_toolkit.key_binding import KeyBindings
        from prompt_toolkit.output import create_output

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


def make_reader(stdin: TextIO, stdout: TextIO, is_incomplete: Callable[[str], bool] = _never_incomplete) -> Any:
    if _is_terminal(stdin) and _is_terminal(stdout):
        try:
            return TerminalReader(stdin, stdout, is_incomplete)
        except ImportError:
            pass  # prompt_toolkit is optional: fall back to plain lines
    return PlainReader(stdin, stdout, is_incomplete)


# --------------------------------------------------------------------------- the loop


def run_repl(
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
    lang: str | None = None,
    allow: Any = None,
    languages: Any = None,
    vm_options: dict[str, Any] | None = None,
) -> int:
    """Run a session in `lang` (a front end's name; None: the default
    language) until :quit or the end of input; the exit status. `vm_options`:
    keyword arguments for the session's `VM` (gc_stress, max_depth, budget).
    Raises HostIOError when stdin cannot be read or stdout written (the
    caller reports it: `tvm` exits with status 74)."""
    try:
        session = Session(stdin, stdout, stderr, allow, lang, languages, vm_options)
    except ValueError as e:  # no such language, or it has no REPL
        try:
            stderr.write(f"tvm: {e}\n")
        except STREAM_ERRORS:
            pass
        return 64
    fe = session.fe
    reader = make_reader(stdin, stdout, fe.is_incomplete)
    if isinstance(reader, TerminalReader):
        _write(stdout, BANNER.format(version=__version__, title=fe.title) + "\n")
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
            if not session.command(command):
                return 0
            continue
        session.execute(text)
