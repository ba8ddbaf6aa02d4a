"""The `tvm` and `tvmc` commands.

    tvm run [options] FILE [args...]    run a program (FILE.tl, FILE.lox, FILE.tvm)
    tvm run [options] - [args...]       ... read from standard input
    tvm run [options] -e CODE [args...] ... given on the command line
    tvm check [options] FILE...         front end and type checker only (no code generation)
    tvm disasm [options] FILE           readable bytecode listing
    tvm ir [options] FILE               the SSA IR of every function (ir/)
    tvm repl [options]                  interactive session (also plain `tvm`)
    tvm help [COMMAND]                  usage (also `tvm --help`, `tvm COMMAND --help`)
    tvmc [options] FILE [-o FILE.tvm]   compile a program and its imports

Every command answers `-h`/`--help` with its usage, options and examples.
The options are parsed by cli/options.py, the same way for every command: a
value follows its option or is joined with `=`, and options given before the
command word count as given after it (`tvm -A x.tl` is `tvm run -A x.tl`).
In `tvm run`, every word after FILE is the program's, untouched.

The language of a source file is chosen by its extension (`.lox` is Lox,
anything else TinyLang); `--lang` forces it; a program read from standard
input (`-`) or given with `-e` is in the default language unless `--lang`
says otherwise (standard input holding a `.tvm` file runs it). A .tvm file
records the dialect of its modules. The CLI names no language itself: the
front ends (lang/driver.py, `Languages`) give the names, extensions, exit
statuses and error formats that the help text and the commands use, and
`main(languages=...)` runs it with more front ends.

Imports. A program's imports may read its folder and below (the current
folder for `-` and -e), and what --allow-read grants: reading granted to the
program covers its imports too (lang/sources.py, docs/modules.md). Any other
import is the compile error `cannot import "../x": outside the program's
folder ...`, whether or not the file exists.

Exit status: 0 success, 1 uncaught guest error, 2 compile error (or a .tvm file
that cannot be loaded), 64 usage error (EX_USAGE), 74 a standard stream failed
(EX_IOERR: `error: cannot write to stdout: No space left on device`). A program
whose main module is Lox exits as clox does: 65 for compile errors, 70 for a
runtime error, reported in clox's formats (lang/lox/errors.py).

Host streams. Diagnostics go to stderr, never to stdout, and are dropped when
stderr itself cannot be written (the status still tells). A closed descriptor
(`tvm run x.tl >&-`) is a stream whose every write fails with EBADF. A failed
write to stdout, by the program or by the CLI, is reported as above, at once or
at the final flush; a broken pipe (`tvm run x.tl | head -1`) ends quietly with
status 0, as other tools do. `tvm_main` finally points a failed standard
descriptor at /dev/null, so that Python's own flush at exit neither prints a
traceback nor changes the status.

`main()` takes its streams as arguments so tests and the embedding API run it
in-process; it never lets a Python traceback reach the user for anything the
user did.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, TextIO

from .. import __version__
from ..runtime.errors import STREAM_ERRORS, HostIOError
from .options import OPTIONAL, REQUIRED, Option, Parsed, UsageError, option_lines, parse, parse_duration, parse_size, positive_int

if TYPE_CHECKING:
    from ..lang.driver import Languages
    from ..lang.frontend import FrontEnd

EXIT_OK, EXIT_ERROR, EXIT_COMPILE, EXIT_USAGE, EXIT_IOERR = 0, 1, 2, 64, 74
# A run stopped by a limit (docs/limits.md), by exception class name.
EXIT_MEMORY = 5  # an uncaught MemoryError: the program outgrew its memory limit (--max-memory)
EXIT_LIMIT = {"OutOfFuel": 3, "DeadlineExceeded": 4, "OutputLimitExceeded": 6, "Interrupted": 130}
TVM_EXT = ".tvm"
STDIN_WORD = "-"  # FILE `-`: the program is read from standard input
STDIN_PATH = "<stdin>"  # ... and is named so in messages and traces
CODE_PATH = "<string>"  # the program given with -e

__all__ = ["main", "tvmc_main", "tvm_main", "usage", "UsageError", "EXIT_IOERR"]


# --------------------------------------------------------------------------- options


def _bad(name: str, what: str) -> Any:
    raise ValueError(f"{name} needs {what}")


def _either(words: list[str]) -> str:
    """"a", "a or b", "a, b or c"."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _source_extensions(langs: "Languages") -> list[str]:
    return [e for fe in langs.frontends for e in fe.extensions]


def _other_langs(langs: "Languages") -> str:
    """`[--lang lox]`: the languages a file's extension does not default to."""
    return "[--lang " + "|".join(langs.names[1:]) + "]"


def _source_files(langs: "Languages") -> str:
    return "|".join("FILE" + e for e in _source_extensions(langs))


def _program_files(langs: "Languages") -> str:
    """`a .tl, .lox or .tvm program`."""
    return "a " + _either(_source_extensions(langs) + [TVM_EXT]) + " program"


def _tool_options() -> tuple[list[Option], list[Option]]:
    """run's --trace and --metrics options, and prof's own (tools/, docs/profiling.md)."""

    def lines(name: str, text: str | None) -> tuple[int, int]:
        from ..tools.trace import parse_lines

        return parse_lines(text or "")

    def count(name: str, text: str | None) -> int:
        if text is None or not (text.isascii() and text.isdigit()):
            raise ValueError(f"{name} needs a number (0 or more)")
        return int(text)

    def port(name: str, text: str | None) -> int:
        if text is None or not (text.isascii() and text.isdigit()) or int(text) > 65535:
            raise ValueError(f"{name} needs a port number (0 picks a free one)")
        return int(text)

    def fmt(name: str, text: str | None) -> str:
        if text not in ("summary", "speedscope", "chrome", "folded"):
            raise ValueError(f"{name} needs summary, speedscope, chrome or folded")
        return text

    def interval(name: str, text: str | None) -> float:
        try:
            v = float(text or "")
        except ValueError:
            v = 0.0
        if not v > 0 or v != v or v == float("inf"):
            raise ValueError(f"{name} needs a positive number (instructions; milliseconds with --wall)")
        return v

    tools = [
        Option(("--trace",), "trace", "print each instruction run (pc, opcode, operands, line, operand stack) on stderr"),
        Option(("--trace-fn",), "trace_fn", "trace only the functions named NAME", REQUIRED, "NAME", needs="a function name"),
        Option(("--trace-lines",), "trace_lines", "trace only lines A to B", REQUIRED, "A-B", lines),
        Option(("--trace-limit",), "trace_limit", "stop tracing after N instructions (default 10000)", REQUIRED, "N", count),
        Option(("--trace-out",), "trace_out", "write the trace to FILE instead of stderr", REQUIRED, "FILE", needs="a file name"),
        Option(("--metrics-port",), "metrics_port", "serve Prometheus metrics on PORT while the program runs (needs tinyvm[metrics])", REQUIRED, "PORT", port),
        Option(("--metrics-host",), "metrics_host", "the address to serve metrics on (default 127.0.0.1)", REQUIRED, "HOST", needs="a host address"),
    ]
    prof = [
        Option(("--format",), "format", "summary (default, on stderr), speedscope, chrome (Trace Event JSON) or folded", REQUIRED, "FORMAT", fmt),
        Option(("-o", "--output"), "output", "write the profile to FILE (- for stdout; default FILE.speedscope.json...)", REQUIRED, "FILE", needs="a file name"),
        Option(("--interval",), "interval", "sample about every N dispatches (default 1000; weighted by instructions); with --wall every N ms (default 1)", REQUIRED, "N", interval),
        Option(("--wall",), "wall", "sample by wall-clock time instead of instruction count"),
        Option(("--lines",), "lines", "one frame per function and line (default: per function)"),
        Option(("--alloc",), "alloc", "profile allocations instead: accounted bytes by guest stack and line (summary, speedscope or folded)"),
        Option(("--top",), "top", "rows per table of the summary (default 15)", REQUIRED, "N", positive_int, "a positive integer"),
    ]
    return tools, prof


class _Options:
    """The option tables of the commands, for one set of front ends."""

    def __init__(self, langs: "Languages") -> None:
        names = list(langs.names)
        by_ext = ", ".join(f"{e} is {fe.title}" for fe in langs.frontends[1:] for e in fe.extensions)
        default = f"by extension, {by_ext}" if by_ext else "by extension"
        needs_lang = _either([repr(n) for n in names])

        def lang(name: str, text: str | None) -> str:
            if text not in names:
                raise ValueError(f"{name} needs {needs_lang}")
            return text

        def grant(kind: str) -> Callable[[str, str | None], Any]:
            def convert(name: str, text: str | None) -> Any:
                from ..stdlib.capabilities import parse_flag

                return parse_flag(name if text is None else f"{name}={text}")  # ValueError: its message

            return convert

        self.help = Option(("-h", "--help"), "help", "show this help and exit")
        self.version = Option(("-V", "--version"), "version", f"print the version ({__version__}) and exit")
        self.lang = Option(("--lang",), "lang", f"the source language (default: {default})", REQUIRED, "|".join(names), lang, needs_lang)
        repl_lang = Option(("--lang",), "lang", f"the session's language (default: {langs.default_frontend.title})", REQUIRED, "|".join(names), lang, needs_lang)
        self.code = Option(("-e",), "code", "the program is CODE (default language unless --lang), not a file", REQUIRED, "CODE", needs="the program's text")
        self.gc_stress = Option(("--gc-stress",), "gc_stress", "collect garbage at every allocation (also TVM_GC_STRESS=1)")
        self.max_depth = Option(("--max-depth",), "max_depth", "guest call depth limit (default 100000)", REQUIRED, "N", positive_int, "a positive integer")
        self.budget = Option(
            ("--budget",), "budget", "instructions a fiber runs before another ready fiber gets a turn (default 8192)", REQUIRED, "N", positive_int, "a positive integer"
        )
        self.max_memory = Option(
            ("--max-memory",), "max_memory", "the guest heap's limit: over it the program gets MemoryError (default 32M; docs/memory.md)", REQUIRED, "SIZE", parse_size
        )
        self.warn_leaks = Option(("--warn-leaks",), "warn_leaks", "report fibers still blocked when the main fiber ends")

        # The collector (heap/tuning.py, docs/gc.md).
        def gc_mode(name: str, text: str | None) -> str:
            from ..heap.tuning import check_mode

            return check_mode(text)  # (TuningError: a ValueError with the modes)

        def gc_tune(name: str, text: str | None) -> Any:
            from ..heap.tuning import parse_tuning

            return parse_tuning(text or "")

        self.gc_opts = [
            Option(("--gc",), "gc", "the collector: stw (stop-the-world, default), incremental or generational (also TVM_GC)", REQUIRED, "MODE", gc_mode),
            Option(("--gc-tune",), "gc_tune", "collector parameters, e.g. pause=200,stepmul=200,stepsize=8K,nursery=8M,promote_after=2,major_mul=100", REQUIRED, "LIST", gc_tune),
            Option(("--gc-verify",), "gc_verify", "check the collector's invariants as it runs: slow, for tests (also TVM_GC_VERIFY=1)"),
        ]

        def jit_mode(name: str, text: str | None) -> str:
            if text not in ("off", "on", "eager", "native", "native-eager"):
                raise ValueError(f"{name} needs off, on, eager, native or native-eager")
            return text

        def jit_threshold(name: str, text: str | None) -> tuple[int, int]:
            from ..jit import parse_threshold

            try:
                return parse_threshold(text or "")
            except ValueError:
                raise ValueError(f"{name} needs CALLS or CALLS,LOOPS (positive integers)") from None

        def seed(name: str, text: str | None) -> int:
            if text is None or not text.isdigit():
                raise ValueError(f"{name} needs a seed (an integer)")
            return int(text)

        self.jit = [
            Option(("--jit",), "jit", "the JIT tier: off, on (hot code that has loops), eager (every function at its first call), native or native-eager (the same plus machine code for typed hot code: scalars, arrays, fields, objects and nil; docs/native.md); also TVM_JIT (default off)", REQUIRED, "MODE", jit_mode, "off, on, eager, native or native-eager"),
            Option(("--jit-log",), "jit_log", "one line per JIT event on stderr: compiled, not compiled, deopt, recompiled, given up"),
            Option(("--jit-threshold",), "jit_threshold", "calls (and loop back-edges) before --jit=on compiles (default 100,1000; also TVM_JIT_THRESHOLD)", REQUIRED, "CALLS[,LOOPS]", jit_threshold),
            Option(("--jit-stress",), "jit_stress", "fail every guard and exit of compiled code with probability 1/8, seeded (also TVM_JIT_STRESS)", REQUIRED, "SEED", seed),
        ]
        self.limits = [
            Option(("--fuel",), "fuel", "stop after N instructions (exit status 3)", REQUIRED, "N", positive_int, "a positive integer"),
            Option(("--timeout",), "timeout", "stop after this long: 2s, 500ms, 1m, or plain seconds (exit status 4)", REQUIRED, "DURATION", parse_duration),
            Option(("--max-output",), "max_output", "stop once the program prints more bytes than this: 1M, 64K, 1000 (exit status 6)", REQUIRED, "SIZE", parse_size),
        ]
        self.allow = [
            Option(("--allow-read",), "grants", "let fs and imports read files (all, or only these files and directories)", OPTIONAL, "PATH,...", grant("read"), append=True),
            Option(("--allow-write",), "grants", "let fs write files (all, or only these)", OPTIONAL, "PATH,...", grant("write"), append=True),
            Option(("--allow-net",), "grants", "let net listen and connect (all, or only these hosts)", OPTIONAL, "HOST[:PORT],...", grant("net"), append=True),
            Option(("--allow-env",), "grants", "let os.env read environment variables (all, or only these)", OPTIONAL, "NAME,...", grant("env"), append=True),
            Option(("-A", "--allow-all"), "grants", "all of the above; without them fs, net and os.env raise PermissionError", convert=lambda n, t: ("all", True), append=True),
        ]
        self.output = Option(("-o", "--output"), "output", f"the file to write (default: FILE{TVM_EXT} next to FILE)", REQUIRED, f"FILE{TVM_EXT}", needs="a file name")
        self.optimize = Option(("-O",), "optimize", "optimize: the IR passes, then lowered back to bytecode (docs/optimizer.md)")
        self.passes = Option(
            ("--passes",), "passes", "the optimizer's passes: default, none, NAME,..., default,-NAME (--passes help lists them)", REQUIRED, "LIST", needs="a pass list"
        )
        self.after = Option(("--after",), "after", "print the IR right after pass PASS ran (the rest is not run)", REQUIRED, "PASS", needs="a pass name")
        self.stats = Option(("--stats",), "stats", "with -O: print how many code objects were optimized (on stderr)")

        def gc_stats_format(name: str, text: str | None) -> str:
            if text not in (None, "text", "json"):
                raise ValueError(f"{name} takes no value, or =json")
            return text or "text"

        def site_precision(name: str, text: str | None) -> str:
            if text not in (None, "function", "line"):
                raise ValueError(f"{name} takes no value, =function or =line")
            return text or "function"

        self.native_dump = Option(("--native",), "native", "the native tier instead (docs/native.md): LLVM IR before and after its passes and the machine code; needs llvmlite")
        self.dump_run = Option(
            ("--run",), "run", "with --native: run the program first (--jit=native-eager, its output on stderr, --timeout default 30s) and show what the tier made of each function with the running VM's classes"
        )
        # The collector's statistics, heap snapshots, allocation sites (docs/gc.md).
        self.gc_tools = [
            Option(("--gc-stats",), "gc_stats", "print GC statistics on stderr at exit (=json: as one JSON object)", OPTIONAL, "json", gc_stats_format),
            Option(("--heap-snapshot",), "heap_snapshot", "write the heap as a V8 .heapsnapshot at exit, or at an uncaught MemoryError", REQUIRED, "FILE", needs="a file name"),
            Option(("--alloc-sites",), "alloc_sites", "record where objects are made, for --heap-snapshot (=line: the exact line; steps the VM)", OPTIONAL, "line", site_precision),
        ]
        self.json = Option(("--json",), "json", "print one JSON object instead of text")
        # tlports: `tvm check --any` (lang/tinylang/anyuses.py).
        self.any_uses = Option(("--any",), "any_uses", "list where the program's own declarations leave a type any (a report: exit status 0 unless it has errors)")
        self.top = Option(("--top",), "top", "rows per table (default 20)", REQUIRED, "N", positive_int, "a positive integer")
        vm = [self.gc_stress, *self.gc_opts, self.max_depth, self.budget, self.max_memory]
        self.tools, self.prof = _tool_options()
        self.commands: dict[str, list[Option]] = {
            "run": [self.help, self.lang, self.code, *vm, *self.limits, self.warn_leaks, *self.jit, *self.allow, self.optimize, self.passes, self.stats, *self.gc_tools, *self.tools],
            # Imports read the program's folder and below, and what --allow-read grants.
            "check": [self.help, self.lang, self.code, self.allow[0], self.any_uses, self.json],
            "disasm": [self.help, self.lang, self.code, self.allow[0], self.optimize, self.passes, self.stats],
            "ir": [self.help, self.lang, self.code, self.allow[0], self.passes, self.after],
            "jit-dump": [self.help, self.lang, self.code, self.passes, self.native_dump, self.dump_run, self.limits[1], *self.allow],
            "prof": [self.help, self.lang, self.code, *self.prof, *vm, *self.limits, *self.jit, *self.allow, self.optimize, self.passes],
            "repl": [self.help, repl_lang, *vm, *self.allow],
            # record: run's options and -o (tools/record.py); replay: a .tvmrec file.
            "record": [self.help, self.lang, *vm, *self.limits, self.warn_leaks, *self.jit, *self.allow, self.optimize, self.passes,
                       Option(("-o", "--output"), "output", "the recording to write (default: FILE's name with .tvmrec, here)", REQUIRED, "OUT.tvmrec", needs="a file name")],
            "replay": [self.help],
            # The debugger (tools/debugger): FILE then the program's arguments, as run.
            "debug": [self.help, self.lang, self.jit[0], *self.allow],
            "heapdiff": [self.help, self.json, self.top],
            # tvm dap (tools/dap): like run, its options end at PROGRAM.
            "dap": [
                self.help,
                Option(("--port",), "port", "serve on 127.0.0.1:N (0: a free port, printed on stderr) instead of stdin/stdout", REQUIRED, "N",
                       lambda n, t: int(t) if t is not None and t.isdigit() and int(t) < 65536 else _bad(n, "a port number"), "a port number"),
                Option(("--once",), "once", "with --port: serve one connection, then exit"),
                Option(("--log",), "log", "append every DAP message in and out to FILE (one JSON line each)", REQUIRED, "FILE", needs="a file name"),
            ],
            # The web IDE (tools/ide): FILE, then its own options.
            "ide": [
                self.help,
                Option(("--port",), "port", "serve on 127.0.0.1:N (default 8765; 0: a free port)", REQUIRED, "N",
                       lambda n, t: int(t) if t is not None and t.isdigit() and int(t) < 65536 else _bad(n, "a port number"), "a port number"),
                Option(("--no-browser",), "no_browser", "do not open a browser (the URL is printed either way)"),
                self.lang,
                self.limits[0],
                self.limits[1],
                Option(("--memory", "--max-memory"), "max_memory", "each run's guest heap limit (default 32M)", REQUIRED, "SIZE", parse_size),
                self.gc_opts[0],
                *self.allow,
            ],
            "help": [self.help],
        }
        self.tvmc = [self.help, self.version, self.lang, self.output, self.allow[0], self.optimize, self.passes, self.stats]
        # Before the command word: any command's options (checked against the
        # command once it is known), and --version. (A name means the same
        # option, taking a value or not, in every command.)
        every = {name: o for opts in self.commands.values() for o in opts for name in o.names}
        self.leading = [self.version, *{id(o): o for o in every.values()}.values()]

    def takes(self, command: str, name: str) -> bool:
        """Does `command` have the option spelled `name`?"""
        return any(name in o.names for o in self.commands[command])


# --------------------------------------------------------------------------- help texts


def usage(langs: "Languages | None" = None) -> str:
    """`tvm --help`: the commands, run's options, the exit statuses."""
    langs = langs or _languages(None)
    o = _Options(langs)
    commands = [
        ("run", "[options] FILE [args...]", f"run {_program_files(langs)}; FILE - reads it from stdin, -e CODE runs CODE"),
        ("check", "[options] FILE...", "parse, resolve and type-check without running; report every error"),
        ("disasm", "[options] FILE", f"show the bytecode of {_program_files(langs)}"),
        ("ir", "[options] FILE", "show the SSA IR of every function of FILE"),
        ("jit-dump", "[options] FILE", "show the IR after each pass and the JIT's Python for each function"),
        ("debug", "[options] FILE [args...]", "debug a program: breakpoints, stepping, reverse steps (pdb-style)"),
        ("heapdiff", "[options] A B", "growth by type and allocation site between two heap snapshots"),
        ("prof", "[options] FILE [args...]", "run a program under the sampling profiler (speedscope, Chrome trace, folded)"),
        ("dap", "[--port N] [FILE]", "Debug Adapter Protocol server for editors (docs/debugging.md)"),
        ("ide", "[options] [FILE]", "the web IDE on 127.0.0.1: editor, bytecode, time-travel stepping, heap (docs/ide.md)"),
        ("repl", "[options]", "start an interactive session (the default with no command); takes --lang,"),
        ("", "", "--gc-stress, --max-depth, --budget, --max-memory and the --allow flags as run does"),
        ("record", "[options] FILE [args]", "run FILE as run does, logging its inputs to FILE.tvmrec (-o OUT)"),
        ("replay", "RUN.tvmrec", "run a recorded run again exactly, with the recorded inputs"),
        ("help", "[COMMAND]", "this text, or a command's (also: tvm COMMAND --help)"),
    ]
    first = _source_extensions(langs)[0]
    lines = [
        "usage: tvm [--version] [--help] <command> [options] [args]",
        f"       tvm [options] FILE{first} [args...]     (short for tvm run)",
        "",
        "commands:",
    ]
    for name, args, help_ in commands:
        lines.append(f"  {name:<8} {args:<25} {help_}")
    run_options = [opt for opt in o.commands["run"] if opt is not o.help]
    lines += ["", "options for run (before FILE; options before the command work as after it):"]
    lines += option_lines(run_options)
    lines += [
        "",
        "An option's value follows it or is joined with '=' (--max-depth 500 or --max-depth=500);",
        "the --allow flags take theirs only after '='. Everything after FILE is the program's.",
        "",
        _exit_statuses(langs),
        "",
        f"Compile to a .tvm module with: tvmc {_other_langs(langs)} {_source_files(langs)} [-o FILE.tvm]",
        "Each command's options and examples: tvm COMMAND --help",
    ]
    return "\n".join(lines)


def _exit_statuses(langs: "Languages") -> str:
    text = (
        "exit status: 0 success, 1 uncaught error in the program, 2 compile errors or an unloadable .tvm file,\n"
        "  3 out of fuel (--fuel), 4 timeout (--timeout), 5 out of memory (an uncaught MemoryError: --max-memory),\n"
        "  6 output limit (--max-output), os.exit(n) n,\n"
        "  64 usage error, 74 standard input or output failed (error: cannot write to stdout: ...), 130 interrupted"
    )
    for fe in langs.frontends:
        if (fe.exit_compile, fe.exit_runtime) != (EXIT_COMPILE, EXIT_ERROR):
            text += f";\n  a {fe.title} program: {fe.exit_compile} compile errors, {fe.exit_runtime} runtime error"
    return text


def _command_help(langs: "Languages", command: str) -> str:
    o = _Options(langs)
    ext = _source_extensions(langs)[0]
    files = _program_files(langs)
    head, about, examples = {
        "run": (
            ["tvm run [options] FILE [args...]", "tvm run [options] - [args...]", "tvm run [options] -e CODE [args...]"],
            [
                f"Run {files}. The words after FILE (or after -e CODE) are the program's",
                "arguments (os.args), passed untouched, -h and -- included. FILE - reads the program",
                "from standard input; the program's input() then reads end of input (nil). A source",
                "program's language is --lang, else FILE's extension; - and -e use the default language.",
                "Its imports may read FILE's folder and below (- and -e: the current folder), and what",
                "--allow-read grants.",
            ],
            [
                (f"tvm run hello{ext}", "run a program"),
                (f"tvm run --allow-read=data count{ext} data/words.txt", "let it read under data/; one argument"),
                (f"tvm run --max-depth=500 --budget 1000 server{ext}", "options take N or =N"),
                (f"tvm run --fuel 1000000 --timeout 2s --max-output 1M untrusted{ext}", "limits: instructions, time, output"),
                (f"cat hello{ext} | tvm run - a b", "the program from standard input, with arguments"),
                ("tvm run -e CODE a b", "run CODE with the arguments a b"),
                (f"tvm run hello{TVM_EXT}", "run a compiled program (see tvmc)"),
                (f"tvm run --trace --trace-fn fib --trace-limit 50 fib{ext}", "trace 50 instructions of fib"),
                (f"tvm run --metrics-port 9100 server{ext}", "Prometheus metrics at 127.0.0.1:9100/metrics"),
            ],
        ),
        "check": (
            ["tvm check [options] FILE...", "tvm check [options] -e CODE"],
            [
                "Parse, resolve and type-check each program and what it imports; report every",
                "error; run nothing. FILE - reads a program from standard input.",
            ],
            [(f"tvm check main{ext}", "check a program"), (f"tvm check *{ext}", "check several"), (f"cat main{ext} | tvm check -", "check standard input"),
             (f"tvm check --any main{ext}", "list where its declarations leave a type any")],
        ),
        "disasm": (
            ["tvm disasm [options] FILE", "tvm disasm [options] -e CODE"],
            [
                f"Show the bytecode of {files} and of every module it imports:",
                "offset, source line:col, opcode, operands and their meaning, exception tables.",
                "FILE - reads the program from standard input.",
            ],
            [(f"tvm disasm add{ext}", "the listing of a source program"), (f"tvm disasm add{TVM_EXT}", "the listing of a compiled one")],
        ),
        "ir": (
            ["tvm ir [options] FILE", "tvm ir [options] -e CODE"],
            [
                f"Show the SSA IR (docs/ir.md) of every function of {files} and of every",
                "module it imports, one after the other; a function the IR does not model",
                "yet is the line `fn NAME: not built: Unsupported(WHAT)`.",
                "With --passes the optimizer (docs/optimizer.md) rewrites each function first;",
                "--after PASS stops the pipeline right after PASS (default pipeline unless --passes).",
                "FILE - reads the program from standard input.",
            ],
            [
                (f"tvm ir fib{ext}", "the IR of a program's functions"),
                (f"tvm ir --passes default fib{ext}", "the same, optimized"),
                (f"tvm ir --passes default,-licm --after gvn fib{ext}", "the IR right after GVN"),
                ("tvm ir --passes help", "the passes and what each does"),
            ],
        ),
        "jit-dump": (
            ["tvm jit-dump [options] FILE", "tvm jit-dump [options] -e CODE"],
            [
                f"Show what the JIT (docs/jit.md) makes of every function of {files} and of",
                "every module it imports: the IR as built, after each pass of --passes, and the",
                "generated Python source; or why a function stays interpreted.",
            ],
            [(f"tvm jit-dump fib{ext}", "the default pipeline"), (f"tvm jit-dump --passes none fib{ext}", "no passes: the IR as built"),
             (f"tvm jit-dump --native fib{ext}", "the native tier: LLVM IR and machine code"),
             (f"tvm jit-dump --native --run prog{ext}", "the same after a run, with its classes")],
        ),
        "prof": (
            ["tvm prof [options] FILE [args...]", "tvm prof [options] -e CODE [args...]"],
            [
                "Run a program as `tvm run` does, sampling its guest stack every N instructions",
                "(deterministic: the same program gives the same profile) or, with --wall, every N ms.",
                "Then print a summary on stderr (top functions, hot lines, opcodes, GC, JIT), or write",
                "the profile for speedscope, Perfetto / chrome://tracing, or flamegraph.pl (docs/profiling.md).",
                "With --alloc, profile memory instead: every allocation's accounted bytes, by the guest",
                "stack and line that made it (summary, speedscope or folded; no sampling).",
            ],
            [
                (f"tvm prof fib{ext}", "the summary, on stderr"),
                (f"tvm prof --format speedscope -o fib.speedscope.json fib{ext}", "open it at speedscope.app"),
                (f"tvm prof --format chrome -o fib.trace.json --jit on fib{ext}", "open it in Perfetto"),
                (f"tvm prof --format folded -o - fib{ext} | flamegraph.pl > fib.svg", "a flame graph"),
                (f"tvm prof --wall --interval 5 server{ext}", "by wall time, every 5 ms"),
                (f"tvm prof --alloc --format speedscope app{ext}", "bytes allocated, by stack and line"),
            ],
        ),
        "repl": (
            ["tvm repl [options]", "tvm [options]"],
            [
                "Start an interactive session: definitions persist from one entry to the next (a",
                "redefinition replaces the old binding for every caller), and the value of a final",
                "expression is echoed with its static type. Commands: :type EXPR, :dis NAME,",
                ":time EXPR, :mem, :load FILE, :reload; :help lists them; :quit or Ctrl-D ends",
                "the session.",
            ],
            [("tvm repl", "a session in the default language"), (f"tvm repl --lang {langs.names[-1]}", "in another language"), ("tvm repl --allow-read", "with fs reads allowed")],
        ),
        "record": (
            ["tvm record [options] FILE [args...] [-o OUT.tvmrec]"],
            [
                "Run FILE as `tvm run` does (same options, before FILE) and write what it read from",
                "the host -- clock reads, timer firings, stdin lines, file reads, environment variables --",
                "to OUT.tvmrec, with the command line, the sources' sha256 and the instruction count",
                "(docs/debugging.md, Recording and replay). -o may also come last.",
            ],
            [(f"tvm record guess{ext} -o guess.tvmrec", "record a run"), ("tvm replay guess.tvmrec", "run it again, exactly")],
        ),
        "replay": (
            ["tvm replay FILE.tvmrec"],
            [
                "Run a recorded run again: same program (an error if its sources changed), same",
                "arguments and options, the recorded inputs in place of the host's (stdin is not read).",
                "The output and the instruction count are those of the recorded run, or it is an error.",
            ],
            [("tvm replay guess.tvmrec", "replay a recording")],
        ),
        "debug": (
            ["tvm debug [options] FILE [args...]"],
            [
                f"Debug {files} in a pdb-style terminal debugger (docs/debugging.md): breakpoints",
                "(b LINE, b FUNC, b LINE if COND), c, n, s, finish, p EXPR, bt, l, rs (reverse step),",
                "rc (reverse continue), fibers, heap, q; h lists them all. The commands are read from",
                "standard input (a terminal or a pipe); the program's own input() reads end of input.",
            ],
            [(f"tvm debug fib{ext}", "debug a program"), ("tvm debug run.tvmrec", "debug a recorded run (tvm record), with its inputs"), (f"printf 'b 3\\nc\\nbt\\nq\\n' | tvm debug fib{ext}", "a scripted session")],
        ),
        "heapdiff": (
            ["tvm heapdiff [options] A.heapsnapshot B.heapsnapshot"],
            [
                "Compare two heap snapshots (tvm run --heap-snapshot, vm.heap_snapshot, or Chrome's):",
                "what grew from A to B, by type and by allocation site (when recorded with",
                "--alloc-sites), largest growth first. docs/gc.md.",
            ],
            [
                (f"tvm run --alloc-sites --heap-snapshot=a.heapsnapshot app{ext}", "a snapshot at exit, with sites"),
                ("tvm heapdiff a.heapsnapshot b.heapsnapshot", "what grew"),
                ("tvm heapdiff --json --top 5 a.heapsnapshot b.heapsnapshot", "as JSON, five rows a table"),
            ],
        ),
        "dap": (
            ["tvm dap [options]", "tvm dap --port N [options] [FILE [args...]]"],
            [
                "Serve the Debug Adapter Protocol (what VS Code, nvim-dap and other editors speak) on",
                "standard input and output, or on 127.0.0.1:N with --port. The client's launch request",
                "names the program; with FILE, an attach request debugs FILE with its args instead.",
                "The program's output arrives as output events; its input is the launch's \"stdin\".",
            ],
            [
                ("tvm dap", "what an editor runs (launch.json: see docs/debugging.md)"),
                (f"tvm dap --port 4711 prog{ext} a b", "wait on port 4711 for a client to attach to prog"),
                ("tvm dap --port 0 --log dap.log", "a free port; every message logged"),
            ],
        ),
        "ide": (
            ["tvm ide [options] [FILE]"],
            [
                "Serve the web IDE on 127.0.0.1 and open it in the browser (docs/ide.md): an editor with",
                "live diagnostics, the bytecode beside the source, a run to step through forwards and",
                "backwards (stack, heap, fibers, GC), a profile. Needs the extra: pip install 'tinyvm[ide]'.",
                "Every run has the limits below (defaults: 1000000 instructions, 10s, 32M) and no",
                "capabilities unless the --allow flags grant them.",
            ],
            [
                (f"tvm ide examples/showcase{ext}", "open a program in the IDE"),
                ("tvm ide --no-browser --port 0", "a free port; the URL is printed"),
                ("tvm ide --fuel 5000000 --timeout 30s", "longer runs"),
            ],
        ),
        "help": (["tvm help [COMMAND]"], ["Show the usage of tvm, or of one command."], [("tvm help run", "the same as tvm run --help")]),
    }[command]
    lines = ["usage: " + head[0]] + ["       " + h for h in head[1:]] + ["", *about, "", "options:"]
    lines += option_lines(o.commands[command])
    lines += ["", "examples:"] + _examples(examples)
    if command == "run":
        lines += ["", _exit_statuses(langs)]
    return "\n".join(lines)


def _examples(pairs: list[tuple[str, str]]) -> list[str]:
    width = max(len(cmd) for cmd, _ in pairs) + 3
    return [f"  {cmd:<{width}}{what}" for cmd, what in pairs]


def _tvmc_help(langs: "Languages") -> str:
    o = _Options(langs)
    titles = _either([fe.title for fe in langs.frontends])
    ext = _source_extensions(langs)[0]
    lines = [
        f"usage: tvmc [--lang {'|'.join(langs.names)}] {_source_files(langs)} [-o FILE.tvm]",
        f"compile a {titles} program and the files it imports into one .tvm module",
        "(FILE - reads the program from standard input; -o is then required);",
        "imports may read FILE's folder and below, and what --allow-read grants",
        "",
        "options:",
        *option_lines(o.tvmc),
        "",
        "examples:",
        *_examples([(f"tvmc hello{ext}", f"writes hello{TVM_EXT}"), (f"tvmc hello{ext} -o build/hello{TVM_EXT}", "writes it there"), (f"tvm run hello{TVM_EXT}", "runs it")]),
    ]
    return "\n".join(lines)


class _HeapSnapshotAtExit:
    """--heap-snapshot=FILE: the heap at an uncaught MemoryError (taken by an
    `exception` hook while the failing frames still hold their values), else
    at exit. vm/hooks.py: the hook fires only when a guest error is thrown."""

    def __init__(self, vm: Any, path: str) -> None:
        self.vm, self.path = vm, path
        self.ran = False
        self.taken: Any = None
        self.error: str | None = None
        vm.machine.hooks.add("exception", self._on_exception)

    def _on_exception(self, e: Any) -> None:
        value = e.data.get("value")
        cls = getattr(value, "cls", None)
        if self.taken is None and not e.data.get("caught") and getattr(cls, "name", None) == "MemoryError":
            self._take()

    def _take(self) -> None:
        try:
            self.taken = self.vm.heap_snapshot(self.path)
        except OSError as e:
            self.taken = False
            self.error = f"error: cannot write the heap snapshot {self.path}: {e.strerror or e}"

    def at_exit(self, say: Callable[[str], None]) -> None:
        if self.taken is None:
            self._take()
        if self.error is not None:
            say(self.error)


def _languages(languages: "Languages | None") -> "Languages":
    from ..lang.driver import Languages

    return languages or Languages.default()


# --------------------------------------------------------------------------- streams


class _ClosedStream(io.TextIOBase):
    """A standard stream whose descriptor was closed when the process started
    (Python then sets sys.stdout to None): every read or write fails as the
    descriptor would, with EBADF."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _fail(self, *args: Any) -> Any:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    write = read = readline = _fail

    def flush(self) -> None:
        pass  # nothing is ever buffered: only a write fails

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True


def _say(stream: TextIO, text: str) -> None:
    """Write a diagnostic line to stderr. A stderr that fails loses it: there
    is nowhere left to report that (the exit status still tells)."""
    try:
        stream.write(text + "\n")
        stream.flush()
    except STREAM_ERRORS:
        pass


def _settle_std_streams() -> None:
    """Before the process exits: flush sys.stdout and sys.stderr, and point
    one that fails at /dev/null. Python flushes them again at exit; a stream
    still holding what it could not write would then print "Exception
    ignored" and change the exit status to 120. (The failure itself has been
    reported, or the reader of the pipe is gone.)"""
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue
        try:
            stream.flush()
        except STREAM_ERRORS:
            try:
                null = os.open(os.devnull, os.O_WRONLY)
                try:
                    os.dup2(null, stream.fileno())
                finally:
                    os.close(null)
            except STREAM_ERRORS:
                pass


# --------------------------------------------------------------------------- tvm


def main(
    argv: list[str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    languages: "Languages | None" = None,
) -> int:
    """Run `tvm` with these arguments and streams (default: the process's);
    the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    # A closed stdin stays None for the VM: a program without stdin reads end
    # of input, as documented for input(); the CLI's own reads get _ClosedStream.
    stdin = stdin if stdin is not None else sys.stdin
    stdout = stdout if stdout is not None else (sys.stdout if sys.stdout is not None else _ClosedStream("<stdout>"))
    stderr = stderr if stderr is not None else (sys.stderr if sys.stderr is not None else _ClosedStream("<stderr>"))
    cli = _Cli(_languages(languages), stdin, stdout, stderr)
    try:
        status = cli.dispatch(list(argv))
        failed = cli.flush_out()  # what it wrote must reach stdout: else it failed
        if failed is not None:
            raise failed
        return status
    except UsageError as e:
        _say(stderr, f"tvm: {e}\n(see 'tvm --help')")
        return EXIT_USAGE
    except HostIOError as e:
        if e.broken_pipe:
            return EXIT_OK  # `tvm run x.tl | head -1`: the reader left; end quietly like other tools
        _say(stderr, f"error: {e}")
        return EXIT_IOERR
    except KeyboardInterrupt:
        _say(stderr, "interrupted")
        return 130


class _Cli:
    """One `tvm` command: its front ends and streams."""

    def __init__(self, langs: "Languages", stdin: TextIO | None, stdout: TextIO, stderr: TextIO) -> None:
        self.langs = langs
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.options = _Options(langs)
        self.on_vm: Callable[[Any], None] | None = None  # called with each VM run makes (tools/record.py)

    # ------------------------------------------------------------------ output

    def out(self, text: str, end: str = "\n") -> None:
        """Write the command's own output (help, listings) to stdout."""
        try:
            self.stdout.write(text + end)
        except STREAM_ERRORS as e:
            raise HostIOError("stdout", "write to", e) from e

    def err(self, text: str) -> None:
        _say(self.stderr, text)

    def flush_out(self) -> HostIOError | None:
        """Flush stdout; the failure, if any (the caller decides when to report it)."""
        try:
            self.stdout.flush()
        except STREAM_ERRORS as e:
            return HostIOError("stdout", "write to", e)
        return None

    # ------------------------------------------------------------------ arguments

    def dispatch(self, argv: list[str]) -> int:
        o = self.options
        lead, rest = parse(argv, o.leading, lambda name: f"unknown option '{name}'", stop_at_word=True)
        if lead.get("version"):
            self.out(f"tvm {__version__}")
            return EXIT_OK
        if rest and not lead.ended and rest[0] in ("record", "replay") and not lead.given:
            return self.record(rest[1:]) if rest[0] == "record" else self.replay(rest[1:])
        if rest and not lead.ended and rest[0] in o.commands:
            command, rest = rest[0], rest[1:]
        elif rest or lead.ended or lead.get("code") is not None:
            if rest and not (lead.given or lead.ended or self._names_program(rest[0])):
                raise UsageError(f"unknown command '{rest[0]}'")
            command = "run"  # `tvm [options] FILE` is `tvm run [options] FILE`
        elif lead.get("help"):
            self.out(usage(self.langs))
            return EXIT_OK
        else:
            command = "repl"  # plain `tvm`
        for name, _ in lead.given:
            if not o.takes(command, name):
                raise UsageError(f"unknown option '{name}' for {command}")
        # run's options end at FILE (the rest is the program's); the others' may follow files.
        if lead.ended:  # `tvm [options] -- FILE ...`
            opts, words = Parsed(), rest
        else:
            opts, words = parse(rest, o.commands[command], lambda name: f"unknown option '{name}' for {command}", stop_at_word=command in ("run", "debug", "prof", "dap"))
        lead.merge(opts)
        words = words if command in ("run", "debug", "prof", "dap") else opts.words
        if command == "help":
            return self.help(words, lead)
        if lead.get("help"):
            self.out(_command_help(self.langs, command))
            return EXIT_OK
        return getattr(self, command.replace("-", "_"))(words, lead)

    def record(self, argv: list[str]) -> int:
        """`tvm record [run options] FILE [args...] [-o OUT]` (tools/record.py).
        A trailing `-o OUT` is record's, not the program's."""
        out = None
        if len(argv) >= 2 and argv[-2] in ("-o", "--output"):
            argv, out = argv[:-2], argv[-1]
        opts, words = parse(argv, self.options.commands["record"], lambda name: f"unknown option '{name}' for record", stop_at_word=True)
        if opts.get("help"):
            self.out(_command_help(self.langs, "record"))
            return EXIT_OK
        if not words or words[0] == STDIN_WORD:
            raise UsageError("record needs a FILE (a program file, not -)")
        out = out or opts.get("output") or os.path.splitext(os.path.basename(words[0]))[0] + ".tvmrec"
        # The option words as given, without -o: the replay gives them to run again.
        run_opts, skip = [], False
        for w in argv[: len(argv) - len(words)]:
            if skip or w in ("-o", "--output"):
                skip = not skip
                continue
            if not w.startswith(("--output=", "-o")):
                run_opts.append(w)
        from ..tools.record import record_run  # (lazily: only this command needs it)

        return record_run(self, words, opts, run_opts, out)

    def replay(self, argv: list[str]) -> int:
        """`tvm replay FILE.tvmrec` (tools/record.py)."""
        if argv and argv[0] in ("-h", "--help"):
            self.out(_command_help(self.langs, "replay"))
            return EXIT_OK
        if len(argv) != 1:
            raise UsageError("replay needs one FILE.tvmrec")
        from ..tools.record import replay_run

        return replay_run(self, argv[0])

    def _names_program(self, word: str) -> bool:
        """Does `tvm WORD` name a program to run (rather than a mistyped
        command)? `-`, a program's extension, or an existing file. (After an
        option, `tvm --lang lox prog.txt`, the word is always the program.)"""
        return word == STDIN_WORD or word.endswith(tuple(_source_extensions(self.langs)) + (TVM_EXT,)) or os.path.isfile(word)

    def help(self, words: list[str], opts: Parsed) -> int:
        if not words:
            self.out(usage(self.langs))
            return EXIT_OK
        if len(words) > 1 or words[0] not in self.options.commands:
            raise UsageError(f"no help for '{' '.join(words)}': the commands are {_either(list(self.options.commands))}")
        self.out(_command_help(self.langs, words[0]))
        return EXIT_OK

    # ------------------------------------------------------------------ programs

    def _load(self, word: str | None, code: str | None, opts: Parsed, check_only: bool = False) -> tuple[Any, "FrontEnd", str]:
        """(the program's bundle, the front end that
        reports on it, its path in messages) for FILE `word`, `-` or -e `code`.
        Raises CompileError or LoadError."""
        from ..lang.driver import compile_program, decode_source

        lang = opts.get("lang")

        langs = self.langs
        if code is not None or word == STDIN_WORD:
            path = _display(word, code)
            data: bytes | str = code if code is not None else _read_all(self.stdin)
            if isinstance(data, bytes):
                from ..bytecode.tvmfile import MAGIC, load_bundle

                if lang is None and data.startswith(MAGIC):
                    bundle = load_bundle(data)
                    return bundle, langs.for_dialect(bundle.modules[bundle.main].lang), path
                data = decode_source(data, path)
            fe = langs.select(path, lang)
            return compile_program(path, source=data, check_only=check_only, lang=lang, languages=langs, sources=_import_policy(path, opts)), fe, path
        assert word is not None
        if word.endswith(TVM_EXT) and lang is None:
            from ..bytecode.tvmfile import read_file

            bundle = read_file(word)
            return bundle, langs.for_dialect(bundle.modules[bundle.main].lang), word
        bundle = compile_program(word, check_only=check_only, lang=lang, languages=langs, sources=_import_policy(word, opts))
        return bundle, langs.select(word, lang), word

    def prof(self, words: list[str], opts: Parsed) -> int:
        """`tvm prof`: run the program under the sampling profiler (tools/profiler.py)."""
        return self.run(words, opts, prof=True)

    def run(self, words: list[str], opts: Parsed, prof: bool = False) -> int:
        code = opts.get("code")
        if code is None and not words:
            raise UsageError(f"{'prof' if prof else 'run'} needs a FILE")
        word, prog_args = (None, words) if code is not None else (words[0], words[1:])
        lang = opts.get("lang")
        from ..api import VM
        from ..bytecode.code import LoadError
        from ..lang.diagnostics import CompileError
        from ..runtime.errors import GuestException, GuestExit, LimitExceeded
        from ..stdlib.capabilities import grants_from

        kwargs: dict[str, Any] = {k: opts.get(k) for k in ("max_depth", "budget", "fuel", "timeout", "max_output", "max_memory") if opts.get(k) is not None}
        gc_stress = bool(opts.get("gc_stress")) or os.environ.get("TVM_GC_STRESS") == "1"
        kwargs.update(self._gc_options(opts))
        # Differential testing (CI runs the language suites under each): the
        # plain tier, without superinstructions or jump threading, and a VM
        # that counts fuel. Every tier must print and fail alike.
        tier = os.environ.get("TVM_TIER", "")
        # The JIT tier (docs/jit.md): --jit, else TVM_JIT (CI runs the suites with eager).
        # (Not for `prof --alloc` unless asked on its command line: compiled code
        # does not keep the line an allocation is at, tools/allocprof.py.)
        jit = opts.get("jit") or ("" if prof and opts.get("alloc") else os.environ.get("TVM_JIT", "")) or "off"
        if jit not in ("off", "on", "eager", "native", "native-eager"):
            raise UsageError(f"TVM_JIT must be off, on, eager, native or native-eager, got {jit!r}")
        if jit in ("native", "native-eager"):
            from ..jit.native import NativeUnavailable, require

            try:
                require()
            except NativeUnavailable as e:
                raise UsageError(str(e)) from None
        if jit != "off":
            kwargs["jit"] = jit
            stress = opts.get("jit_stress")
            if stress is None and os.environ.get("TVM_JIT_STRESS", "").isdigit():
                stress = int(os.environ["TVM_JIT_STRESS"])
            kwargs["jit_stress"] = stress
            threshold = opts.get("jit_threshold")
            if threshold is None and os.environ.get("TVM_JIT_THRESHOLD"):
                from ..jit import parse_threshold

                try:
                    threshold = parse_threshold(os.environ["TVM_JIT_THRESHOLD"])
                except ValueError as e:
                    raise UsageError(f"TVM_JIT_THRESHOLD: {e}") from None
            kwargs["jit_threshold"] = threshold
            if opts.get("jit_log"):
                kwargs["jit_log"] = self.err
        if opts.get("alloc_sites"):
            kwargs["alloc_sites"] = opts.get("alloc_sites")
        alloc = prof and bool(opts.get("alloc"))
        if alloc:
            # The allocation profiler (tools/allocprof.py): its recording heap
            # is chosen when the VM is made. It counts bytes, not instructions.
            for key, name in (("wall", "--wall"), ("interval", "--interval")):
                if opts.get(key) is not None:
                    raise UsageError(f"--alloc records every allocation: {name} does not apply")
            if opts.get("format") == "chrome":
                raise UsageError("--alloc writes summary, speedscope or folded (an allocation profile has no time line for a Chrome trace)")
            kwargs["alloc_sites"] = "stack"
        if (prof and not alloc and not opts.get("wall") or opts.get("metrics_port") is not None) and "fuel" not in kwargs:
            # Count instructions exactly on every tier (vm/hooks.py): the
            # profile's weights, the metrics' instruction counter.
            kwargs["meter_fuel"] = True
        if tier == "plain":
            kwargs["fuse"] = False
        elif tier == "metered":
            kwargs["meter_fuel"] = True
        # A program read from stdin leaves it at its end: input() reads nil.
        stdin = io.StringIO("") if word == STDIN_WORD and code is None else self.stdin
        vm = VM(
            gc_stress=gc_stress,
            stdout=self.stdout,
            stdin=stdin,
            argv=prog_args,
            allow=grants_from(opts.get("grants", [])),
            languages=self.langs,
            warn_leaks=bool(opts.get("warn_leaks")),
            **kwargs,
        )
        vm.machine.stderr = self.stderr  # (eprint's stream, runtime/library.py)
        if self.on_vm is not None:  # tvm record / replay: attach to the VM before it runs
            self.on_vm(vm)
        if tier == "packed":
            # The native VM's data representation without native code:
            # packed arrays (heap/packed.py) and raw int and bool slots
            # (heap/layout.py) on the interpreter and the Python JIT.
            # (Instances are laid out in every VM.)
            from ..heap.packed import PACKED

            vm.machine.heap.packs = PACKED
            vm.machine.heap.unboxes = vm.machine.heap.lays_out
        elif tier == "dicts":
            # Instances keep dicts (heap/layout.py): what a VM does when the
            # native tier's probe refuses the shapes' layout (jit/tier.py).
            # Set before the program runs: a class decides at its first instance.
            vm.machine.heap.lays_out = False
        if tier == "stepped":
            # Every instruction stepped, with line, call and return hooks (what
            # a debugger installs, docs/hooks.md): the run must not change.
            for event in ("line", "call", "return"):
                vm.machine.hooks.add(event, _ignore_event)
        path = _display(word, code)
        fe = self.langs.select(path, lang)
        snapshot = _HeapSnapshotAtExit(vm, opts.get("heap_snapshot")) if opts.get("heap_snapshot") else None
        status = EXIT_OK
        failed: HostIOError | None = None  # a standard stream that failed: reported last, status 74
        tools = None  # --trace, --metrics-port, prof (tools/runtools.py; imported only when asked)
        if prof or any(opts.get(k) is not None for k in ("trace", "trace_fn", "trace_lines", "trace_limit", "trace_out", "metrics_port")):
            from ..tools.runtools import RunTools, ToolError

            try:
                tools = RunTools.attach(vm, opts, path, self.stderr, self.stdout, prof=prof)
            except ToolError as e:
                vm.close()
                self.err(f"tvm: {e}")
                return EXIT_ERROR
        try:
            try:
                bundle, fe, path = self._load(word, code, opts)
                bundle = self._optimized(bundle, opts)
                if snapshot is not None:
                    snapshot.ran = True  # (a program that did not compile leaves no snapshot)
                if tools is not None:
                    tools.begin()
                vm.run_bundle(bundle)
            finally:
                vm.close()
        except GuestExit as e:  # os.exit(code)
            status = e.status
        except LimitExceeded as e:  # --fuel, --timeout, --max-output
            failed = self.flush_out()  # what the program printed comes before the message
            self.err(f"error: {e.message}")
            status = EXIT_LIMIT.get(type(e).__name__, EXIT_ERROR)
        except CompileError as e:
            self.err(e.render())
            status = fe.exit_compile
        except LoadError as e:
            self.err(f"error: {path}: {e}")
            status = EXIT_COMPILE
        except GuestException as e:
            failed = self.flush_out()  # what the program printed comes before its error
            self.err(fe.render_runtime_error(e))
            status = EXIT_MEMORY if e.class_name == "MemoryError" else fe.exit_runtime
        except HostIOError as e:  # the run ended there: its stdout (or stdin) failed
            failed = e
        except KeyboardInterrupt:
            if tools is not None:  # Ctrl-C ends a profile too: write what it has
                self.flush_out()
                tools.finish()
            raise
        flushed = self.flush_out()
        failed = failed or flushed
        if tools is not None and not tools.finish() and status == EXIT_OK:
            status = EXIT_ERROR
        # After the error, if any: its `error:` line comes first.
        for w in vm.warnings:
            self.err(w)
        if snapshot is not None and snapshot.ran:
            snapshot.at_exit(self.err)
        if opts.get("gc_stats"):
            self._gc_stats(vm, opts.get("gc_stats"))
        if failed is not None and not failed.broken_pipe:
            raise failed  # main reports it
        return status  # (a broken pipe: the reader left, as `| head` does; no message)

    @staticmethod
    def _gc_options(opts: Any) -> dict[str, Any]:
        """--gc, --gc-tune and --gc-verify (or TVM_GC and TVM_GC_VERIFY=1:
        CI runs the suites under each mode) as VM keyword arguments."""
        out: dict[str, Any] = {}
        mode = opts.get("gc") or os.environ.get("TVM_GC", "")
        if mode:
            from ..heap.tuning import MODES

            if mode not in MODES:
                raise UsageError(f"TVM_GC must be one of {', '.join(MODES)}, got {mode!r}")
            out["gc"] = mode
        if opts.get("gc_tune") is not None:
            out["gc_tuning"] = opts.get("gc_tune")
        if opts.get("gc_verify") or os.environ.get("TVM_GC_VERIFY") == "1":
            out["gc_verify"] = True
        return out

    def _gc_stats(self, vm: Any, form: str) -> None:
        """--gc-stats: the collector's statistics on stderr (docs/gc.md)."""
        from ..heap.gcstats import format_report

        report = vm.gc_stats()
        if form == "json":
            import json

            self.err(json.dumps(report, separators=(",", ":")))
        else:
            self.err(format_report(report))

    def heapdiff(self, words: list[str], opts: Parsed) -> int:
        if len(words) != 2:
            raise UsageError("heapdiff needs two snapshot files: A and B")
        from ..tools.heapdiff import diff, format_text
        from ..heap.v8snapshot import SnapshotFormatError

        try:
            d = diff(words[0], words[1])
        except SnapshotFormatError as e:
            self.err(f"error: {e}")
            return EXIT_ERROR
        top = opts.get("top") or 20
        if opts.get("json"):
            import json

            d["by_type"] = d["by_type"][:top]
            if d["by_site"] is not None:
                d["by_site"] = d["by_site"][:top]
            self.out(json.dumps(d, indent=1))
        else:
            self.out(format_text(d, top))
        return EXIT_OK

    def _optimized(self, bundle: Any, opts: Parsed) -> Any:
        """`bundle` through the optimizer when -O (or TVM_OPT=1, which the
        differential tests set; TVM_OPT_PASSES then picks the passes) asks."""
        env = os.environ.get("TVM_OPT", "") == "1"
        if not (opts.get("optimize") or env):
            return bundle
        text = opts.get("passes") or (os.environ.get("TVM_OPT_PASSES") if env else None)
        bundle, line = optimize(bundle, text)
        if opts.get("stats"):
            self.err(line)
        return bundle

    def dap(self, words: list[str], opts: Parsed) -> int:
        from ..tools.dap import server  # lazily: only `tvm dap` loads the adapter

        try:
            return server.main(words, port=opts.get("port"), once=bool(opts.get("once")), log_path=opts.get("log"), stderr=self.stderr)
        except server.BadUsage as e:
            raise UsageError(str(e)) from None

    def ide(self, words: list[str], opts: Parsed) -> int:
        """`tvm ide [FILE]`: the web IDE (tools/ide; only this command loads it)."""
        if len(words) > 1:
            raise UsageError("ide takes at most one FILE")
        try:
            from ..tools.ide import server
        except ImportError:
            from ..tools.ide import MISSING

            self.err(MISSING)
            return EXIT_USAGE
        from ..stdlib.capabilities import grants_from

        grants = opts.get("grants", [])
        limits = server.Limits(allow=grants_from(grants))
        for key, attr in (("fuel", "fuel"), ("timeout", "timeout"), ("max_memory", "memory")):
            if opts.get(key) is not None:
                setattr(limits, attr, opts.get(key))
        options = server.IdeOptions(
            limits=limits,
            allow_names=sorted({g[0] for g in grants}),
            initial=words[0] if words else None,
            lang=opts.get("lang"),
            port=8765 if opts.get("port") is None else opts.get("port"),
            gc=opts.get("gc") or "stw",
        )

        def say(line: str) -> None:
            self.out(line)
            self.flush_out()

        try:
            return server.serve(options, open_browser=not opts.get("no_browser"), say=say)
        except server.IdeError as e:
            self.err(f"tvm: {e.message}")
            return EXIT_ERROR

    def check(self, words: list[str], opts: Parsed) -> int:
        code, lang = opts.get("code"), opts.get("lang")
        if not words and code is None:
            raise UsageError("check needs at least one FILE")
        from ..bytecode.code import LoadError
        from ..lang.diagnostics import CompileError

        status = EXIT_OK
        programs: list[tuple[str | None, str | None]] = ([(None, code)] if code is not None else []) + [(w, None) for w in words]
        uses: list[Any] | None = [] if opts.get("any_uses") else None
        for word, text in programs:
            try:
                self._load(word, text, opts, check_only=True)
                if uses is not None:
                    uses.extend(self._any_uses(word, text, opts))
            except CompileError as e:
                self.err(e.render())
                # Each language's status while all failures agree; else the generic one.
                own = self.langs.select(_display(word, text), lang).exit_compile
                status = own if status in (EXIT_OK, own) else EXIT_COMPILE
            except LoadError as e:  # a .tvm program: it was loaded and verified
                self.err(f"error: {_display(word, text)}: {e}")
                status = EXIT_COMPILE
        if uses is not None:
            import json

            from ..lang.tinylang.anyuses import as_json, render

            if opts.get("json"):
                self.out(json.dumps(as_json(uses), indent=1))
            else:
                for line in render(uses):
                    self.out(line)
        elif opts.get("json"):
            raise UsageError("check --json goes with --any")
        return status

    def _any_uses(self, word: str | None, text: str | None, opts: Parsed) -> list[Any]:
        """`tvm check --any`: the `any` uses of one program's main module, which
        has just checked without errors (lang/tinylang/anyuses.py)."""
        from ..bytecode.code import Bundle
        from ..lang.driver import Compilation, read_source
        from ..lang.tinylang.anyuses import check_for_any

        path = _display(word, text)
        fe = self.langs.select(path, opts.get("lang"))
        if fe.name != "tinylang":
            raise UsageError(f"check --any is for TinyLang programs, not {fe.name}: {path}")
        if word == STDIN_WORD:  # (_load has read it already)
            raise UsageError("check --any reads FILEs or -e CODE, not standard input")
        if text is None:
            text = read_source(path)
        key = os.path.splitext(os.path.basename(path))[0]
        comp = Compilation(os.path.dirname(os.path.abspath(path)), path, Bundle(key), self.langs, True, _import_policy(path, opts))
        comp.stack.append((key, fe.extensions[0]))
        found, _errors = check_for_any(text, comp.context(key, path, fe))
        return found

    def disasm(self, words: list[str], opts: Parsed) -> int:
        from ..bytecode.disasm import format_module

        return self._listing("disasm", words, opts, format_module)

    def ir(self, words: list[str], opts: Parsed) -> int:
        from ..ir.text import format_module_ir

        passes, after = opts.get("passes"), opts.get("after")
        if passes is None and after is None:
            return self._listing("ir", words, opts, format_module_ir)  # the unoptimized IR, as ever
        from ..ir.passes import PassContext, PassError, load, parse_passes, run_pipeline

        try:
            if passes is not None and passes.strip() == "help":
                self.out(_passes_help(load()), end="")
                return EXIT_OK
            names = parse_passes("default" if passes is None else passes)
            if after is not None:
                one = parse_passes(after)  # (a name, checked: "did you mean")
                if len(one) != 1:
                    raise PassError(f"--after takes one pass name, not {after!r}")
                after = one[0]
                if after not in names:
                    raise PassError(f"--after {after}: the pipeline ({', '.join(names) or 'none'}) does not run it")
                names = names[: names.index(after) + 1]
        except PassError as e:
            self.err(f"tvm: {e}")
            return EXIT_COMPILE

        def optimize(fn: Any, module: Any) -> None:
            # The module's language decides what folding may assume (ir/passes/fold.py).
            run_pipeline(fn, names, PassContext(options={"lang": module.lang}), verify_each=True)

        try:
            return self._listing("ir", words, opts, lambda m: format_module_ir(m, optimize))
        except PassError as e:  # a pass left invalid IR: a compiler bug, said plainly
            self.err(f"tvm: internal error: {e}")
            return EXIT_ERROR

    def jit_dump(self, words: list[str], opts: Parsed) -> int:
        from ..ir.passes import PassError, parse_passes
        from ..jit.dump import dump_module

        if opts.get("native"):
            from ..jit.native import NativeUnavailable, require

            try:
                require()
            except NativeUnavailable as e:
                raise UsageError(str(e)) from None
            if opts.get("run"):
                return self._native_run_dump(words, opts)
            from ..jit.native.dump import dump_native

            return self._listing("jit-dump", words, opts, dump_native)
        if opts.get("run"):
            raise UsageError("--run needs --native (the Python JIT's dump is static: --passes)")
        try:
            passes = parse_passes(opts.get("passes") or "default")
        except PassError as e:
            raise UsageError(str(e)) from None
        return self._listing("jit-dump", words, opts, lambda m: dump_module(m, passes))

    def _native_run_dump(self, words: list[str], opts: Parsed) -> int:
        """`jit-dump --native --run`: run the program as `tvm run
        --jit=native-eager` would (its output on stderr, so stdout is the
        dump alone), then print what the native tier made of every function
        (jit/native/dump.py). The exit status is the run's."""
        from ..jit.native.dump import dump_run

        if opts.get("timeout") is None:
            opts.values["timeout"] = 30.0  # (a dump must end: the program may not)
        opts.values["jit"] = "native-eager"
        seen: list[Any] = []

        def attach(vm: Any) -> None:
            tier = vm.machine.jit.native
            tier.keep_text = True
            tier.cache = None  # (a cache hit has no IR text)
            seen.append((vm.machine, tier))

        saved = self.on_vm, self.stdout
        self.on_vm, self.stdout = attach, self.stderr
        try:
            status = self.run(words, opts)
        finally:
            self.on_vm, self.stdout = saved
        if not seen:  # (it did not compile: run reported why)
            return status
        machine, tier = seen[0]
        self.out(dump_run(machine, tier), end="")
        failed = self.flush_out()
        if failed is not None:
            raise failed
        return status

    def _listing(self, command: str, words: list[str], opts: Parsed, format_module: Any) -> int:
        """disasm and ir: compile or load one program, print each of its modules."""
        code, lang = opts.get("code"), opts.get("lang")
        if len(words) + (code is not None) != 1:
            raise UsageError(f"{command} needs exactly one FILE")
        from ..bytecode.code import LoadError
        from ..lang.diagnostics import CompileError

        word = words[0] if words else None
        try:
            bundle, _, _ = self._load(word, code, opts)
            if command == "disasm":
                bundle = self._optimized(bundle, opts)
        except CompileError as e:
            self.err(e.render())
            return self.langs.select(_display(word, code), lang).exit_compile
        except LoadError as e:
            self.err(f"error: {_display(word, code)}: {e}")
            return EXIT_COMPILE
        keys = [bundle.main] + [k for k in bundle.modules if k != bundle.main]
        for i, key in enumerate(keys):
            if i:
                self.out("")
            self.out(format_module(bundle.modules[key]), end="")
        failed = self.flush_out()
        if failed is not None:
            raise failed
        return EXIT_OK

    def debug(self, words: list[str], opts: Parsed) -> int:
        if not words:
            raise UsageError("debug needs a FILE")
        from ..stdlib.capabilities import grants_from
        from ..tools.debugger.cli import main as debug_main

        inputs = None
        if words[0].endswith(".tvmrec"):  # a recorded run: its program, arguments, options and inputs
            from ..tools.record import RecordingError, read_recording

            try:
                rec = read_recording(words[0])
                rec.check_sources(words[0])
            except RecordingError as e:
                self.err(f"error: {e}")
                return EXIT_COMPILE
            recorded, _ = parse(rec.header.get("options", []), self.options.commands["record"], lambda name: f"unknown option '{name}' in {words[0]}", stop_at_word=True)
            recorded.merge(opts)
            opts, words, inputs = recorded, [rec.program, *rec.header.get("args", [])], rec.entries
        jit = opts.get("jit") or os.environ.get("TVM_JIT", "") or "off"
        if jit not in ("off", "on", "eager"):
            raise UsageError(f"TVM_JIT must be off, on or eager, got {jit!r}")
        return debug_main(words[0], words[1:], stdin=self.stdin, stdout=self.stdout, stderr=self.stderr, jit=jit, lang=opts.get("lang"), languages=self.langs, allow=grants_from(opts.get("grants", [])), inputs=inputs)

    def repl(self, words: list[str], opts: Parsed) -> int:
        if words:
            raise UsageError(f"repl takes no FILE (to run '{words[0]}': tvm run {words[0]})")
        from ..stdlib.capabilities import grants_from
        from .repl import run_repl

        vm_options: dict[str, Any] = {k: opts.get(k) for k in ("max_depth", "budget", "max_memory") if opts.get(k) is not None}
        if opts.get("gc_stress") or os.environ.get("TVM_GC_STRESS") == "1":
            vm_options["gc_stress"] = True
        vm_options.update(self._gc_options(opts))
        stdin = _ClosedStream("<stdin>") if self.stdin is None else self.stdin
        return run_repl(stdin, self.stdout, self.stderr, opts.get("lang"), allow=grants_from(opts.get("grants", [])), languages=self.langs, vm_options=vm_options)


def _passes_help(registry: dict) -> str:
    """`tvm ir --passes help`: every pass, the default pipeline's in order first."""
    rows = sorted(registry.values(), key=lambda p: (not p.default, p.order, p.name))
    width = max((len(p.name) for p in rows), default=0)
    lines = ["passes (the default pipeline runs those marked *, in this order):"]
    lines += [f"  {'*' if p.default else ' '} {p.name:<{width}}  {p.doc}" for p in rows]
    lines += ["", "--passes LIST: default | none | NAME,NAME,... | default,-NAME | default,+NAME"]
    return "\n".join(lines) + "\n"


def _ignore_event(event: Any) -> None:
    """A hook that does nothing (TVM_TIER=stepped)."""


def _display(word: str | None, code: str | None) -> str:
    """The program's path in messages: FILE, `<stdin>` for `-`, `<string>` for -e."""
    if code is not None:
        return CODE_PATH
    return STDIN_PATH if word == STDIN_WORD or word is None else word


def _import_policy(path: str, opts: Parsed) -> Any:
    """Where the imports of the program at `path` may read (lang/sources.py):
    its folder (the current one for `-` and -e) and below, and what
    --allow-read grants -- reading granted to the program covers its imports."""
    from ..lang.sources import DirectorySources
    from ..stdlib.capabilities import grants_from

    read = grants_from(opts.get("grants", [])).grants.get("read")
    if path in (STDIN_PATH, CODE_PATH):
        return DirectorySources.granted(os.getcwd(), read, "the current folder")
    return DirectorySources.granted(os.path.dirname(os.path.abspath(path)), read)


def _read_all(stdin: TextIO | None) -> bytes | str:
    """All of standard input: bytes when the stream has them (a .tvm file may
    come that way), else text."""
    stream = _ClosedStream("<stdin>") if stdin is None else stdin
    try:
        buffer = getattr(stream, "buffer", None)
        return buffer.read() if buffer is not None else stream.read()
    except STREAM_ERRORS as e:
        raise HostIOError("stdin", "read from", e) from e


def tvm_main() -> None:
    """The `tvm` executable."""
    code = main()
    _settle_std_streams()
    sys.exit(code)


# --------------------------------------------------------------------------- tvmc


def optimize(bundle: Any, passes: str | None) -> tuple[Any, str]:
    """-O: the bundle with its code objects optimized (ir/optimize.py), and the
    --stats line. A bad --passes list is a usage error."""
    from ..ir.optimize import OptStats, optimize_bundle, pipeline
    from ..ir.passes import PassError

    try:
        names = pipeline(passes)
    except PassError as e:
        raise UsageError(f"--passes: {e}") from None
    stats = OptStats()
    return optimize_bundle(bundle, names, stats), stats.line()


def tvmc_main(
    argv: list[str] | None = None,
    stderr: TextIO | None = None,
    stdout: TextIO | None = None,
    languages: "Languages | None" = None,
    stdin: TextIO | None = None,
) -> int:
    """Run `tvmc` (the `tvmc` executable calls it with no arguments); the exit status."""
    process = argv is None
    argv = sys.argv[1:] if argv is None else argv
    stdin = stdin if stdin is not None else sys.stdin
    stdout = stdout if stdout is not None else (sys.stdout if sys.stdout is not None else _ClosedStream("<stdout>"))
    stderr = stderr if stderr is not None else (sys.stderr if sys.stderr is not None else _ClosedStream("<stderr>"))
    langs = _languages(languages)
    try:
        code = _tvmc(langs, list(argv), stdin, stdout, stderr)
    except UsageError as e:
        _say(stderr, f"tvmc: {e}\n(see 'tvmc --help')")
        code = EXIT_USAGE
    except HostIOError as e:
        if not e.broken_pipe:
            _say(stderr, f"tvmc: {e}")
        code = EXIT_OK if e.broken_pipe else EXIT_IOERR
    except KeyboardInterrupt:
        _say(stderr, "interrupted")
        code = 130
    if process:
        _settle_std_streams()
    return code


def _tvmc(langs: "Languages", argv: list[str], stdin: TextIO | None, stdout: TextIO, stderr: TextIO) -> int:
    o = _Options(langs)

    def out(text: str) -> None:
        try:
            stdout.write(text + "\n")
            stdout.flush()
        except STREAM_ERRORS as e:
            raise HostIOError("stdout", "write to", e) from e

    if not argv:
        _say(stderr, _tvmc_help(langs))
        return EXIT_USAGE
    opts, _ = parse(argv, o.tvmc, lambda name: f"unknown option '{name}'")
    if opts.get("help"):
        out(_tvmc_help(langs))
        return EXIT_OK
    if opts.get("version"):
        out(f"tvmc {__version__}")
        return EXIT_OK
    if not opts.words:
        raise UsageError("no input file")
    if len(opts.words) > 1:
        raise UsageError("only one input file")
    src, out_path, lang = opts.words[0], opts.get("output"), opts.get("lang")
    if src == STDIN_WORD and out_path is None:
        raise UsageError("a program read from standard input (-) needs -o FILE.tvm")
    from ..bytecode.tvmfile import write_file
    from ..lang.diagnostics import CompileError
    from ..lang.driver import compile_program, decode_source

    try:
        if src == STDIN_WORD:
            data = _read_all(stdin)
            text = data if isinstance(data, str) else decode_source(data, STDIN_PATH)
            bundle = compile_program(STDIN_PATH, source=text, lang=lang, languages=langs, sources=_import_policy(STDIN_PATH, opts))
        else:
            bundle = compile_program(src, lang=lang, languages=langs, sources=_import_policy(src, opts))
    except CompileError as e:
        _say(stderr, e.render())
        return langs.select(STDIN_PATH if src == STDIN_WORD else src, lang).exit_compile
    if opts.get("optimize"):
        bundle, line = optimize(bundle, opts.get("passes"))
        if opts.get("stats"):
            _say(stderr, line)
    out_path = out_path or os.path.splitext(src)[0] + TVM_EXT
    try:
        write_file(out_path, bundle)
    except OSError as e:
        _say(stderr, f"tvmc: cannot write {out_path}: {e.strerror or e}")
        return EXIT_ERROR
    return EXIT_OK


if __name__ == "__main__":  # python -m tinyvm.cli.main ... (as `tvm ...`)
    tvm_main()
