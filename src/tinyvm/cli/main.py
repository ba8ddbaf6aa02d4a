"""The `tvm` and `tvmc` commands.

    tvm run [options] FILE.tl|FILE.lox|FILE.tvm [args...]   run a program (options: tvm --help)
    tvm check FILE...                    front end and type checker only (no code generation)
    tvm disasm FILE.tl|FILE.lox|FILE.tvm readable bytecode listing
    tvm repl [--lang lox] [--allow-...]  interactive session (also plain `tvm`)
    tvmc FILE.tl|FILE.lox [-o FILE.tvm]  compile a program and its imports

The language of a source file is chosen by its extension (`.lox` is Lox,
anything else TinyLang); `--lang lox` or `--lang tinylang` (before FILE)
forces it. A .tvm file records the dialect of its modules. The CLI names no
language itself: the front ends (lang/driver.py, `Languages`) give the names,
extensions, exit statuses and error formats that the help text and the
commands use, and `main(languages=...)` runs it with more front ends.

Exit status: 0 success, 1 uncaught guest error, 2 compile error (or a .tvm file
that cannot be loaded), 64 usage error. A program whose main module is Lox
exits as clox does: 65 for compile errors, 70 for a runtime error, reported
in clox's formats (lang/lox/errors.py). `main()` takes its streams as arguments
so tests and the embedding API run it in-process; it never lets a Python
traceback reach the user for anything the user did.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from .. import __version__

if TYPE_CHECKING:
    from ..lang.driver import Languages
    from ..lang.frontend import FrontEnd

EXIT_OK, EXIT_ERROR, EXIT_COMPILE, EXIT_USAGE = 0, 1, 2, 64
TVM_EXT = ".tvm"

RUN_OPTIONS = """  --gc-stress                    collect garbage at every allocation (also TVM_GC_STRESS=1)
  --max-depth N                  guest call depth limit (default 100000)
  --budget N                     instructions a fiber runs before another ready fiber gets a turn (default 8192)
  --warn-leaks                   report fibers still blocked when the main fiber ends
  --allow-read[=PATH,...]        let fs read files (all, or only these files and directories)
  --allow-write[=PATH,...]       let fs write files (all, or only these)
  --allow-net[=HOST[:PORT],...]  let net listen and connect (all, or only these hosts)
  --allow-env[=NAME,...]         let os.env read environment variables (all, or only these)
  -A, --allow-all                all of the above; without them fs, net and os.env raise PermissionError"""


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


def usage(langs: "Languages | None" = None) -> str:
    langs = langs or _languages(None)
    files = _either(_source_extensions(langs) + [TVM_EXT])
    commands = [
        ("run", "FILE [args...]", f"run a {files} program"),
        ("check", "FILE...", "parse, resolve and type-check without running; report every error"),
        ("disasm", "FILE", f"show the bytecode of a {files} program"),
        ("repl", f"{_other_langs(langs)} [-A|--allow-...]", "start an interactive session (the default with no command); takes run's --allow flags"),
    ]
    lines = ["usage: tvm [--version] [--help] <command> [args]", "", "commands:"]
    for name, args, help_ in commands:
        lines.append(f"  {name:<7} {args:<16} {help_}")
    by_ext = ", ".join(f"{e} is {fe.title}" for fe in langs.frontends[1:] for e in fe.extensions)
    default = f"by extension, {by_ext}" if by_ext else "by extension"
    lang_option = f"  {'--lang ' + '|'.join(langs.names):<31}the source language (default: {default})"
    lines += ["", "options for run (before FILE):", lang_option, RUN_OPTIONS, ""]
    lines.append(f"Compile to a .tvm module with: tvmc {_other_langs(langs)} {_source_files(langs)} [-o FILE.tvm]")
    return "\n".join(lines)


def _languages(languages: "Languages | None") -> "Languages":
    from ..lang.driver import Languages

    return languages or Languages.default()


class UsageError(Exception):
    pass


def main(
    argv: list[str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    languages: "Languages | None" = None,
) -> int:
    argv = sys.argv[1:] if argv is None else argv
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        return _Cli(_languages(languages), stdin, stdout, stderr).dispatch(argv)
    except UsageError as e:
        print(f"tvm: {e}\n(see 'tvm --help')", file=stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=stderr)
        return 130
    except BrokenPipeError:
        # `tvm run x.tl | head -1`: the reader left; exit quietly like other tools.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK


def _lang_option(langs: "Languages", args: list[str]) -> str:
    """The value of a `--lang` option just popped from args."""
    if not args or args[0] not in langs.names:
        raise UsageError(f"--lang needs {_either([repr(n) for n in langs.names])}")
    return args.pop(0)


def _leading_lang(langs: "Languages", args: list[str]) -> tuple[str | None, list[str]]:
    """(the `--lang` option at the front of args or None, the other args)."""
    args = list(args)
    lang = None
    if args and args[0] == "--lang":
        args.pop(0)
        lang = _lang_option(langs, args)
    elif args and args[0].startswith("--lang="):
        value = args.pop(0)[len("--lang=") :]
        lang = _lang_option(langs, [value])
    return lang, args


def _load_any(langs: "Languages", path: str, lang: str | None = None) -> tuple[Any, "FrontEnd"]:
    """(the program's bundle, the front end that reports on it): a .tvm file's
    main module names its dialect; a source file is compiled by its front end."""
    if path.endswith(TVM_EXT) and lang is None:
        from ..bytecode.tvmfile import read_file

        bundle = read_file(path)
        return bundle, langs.for_dialect(bundle.modules[bundle.main].lang)
    from ..lang.driver import compile_program

    return compile_program(path, lang=lang, languages=langs), langs.select(path, lang)


class _Cli:
    """One `tvm` command: its front ends and streams."""

    def __init__(self, langs: "Languages", stdin: TextIO, stdout: TextIO, stderr: TextIO) -> None:
        self.langs = langs
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr

    def dispatch(self, argv: list[str]) -> int:
        if not argv:
            return self.repl([])
        cmd, rest = argv[0], argv[1:]
        if cmd in ("-h", "--help", "help"):
            print(usage(self.langs), file=self.stdout)
            return EXIT_OK
        if cmd in ("-V", "--version"):
            print(f"tvm {__version__}", file=self.stdout)
            return EXIT_OK
        if cmd == "run":
            return self.run(rest)
        if cmd == "check":
            return self.check(rest)
        if cmd == "disasm":
            return self.disasm(rest)
        if cmd == "repl":
            return self.repl(rest)
        files = tuple(_source_extensions(self.langs)) + (TVM_EXT,)
        if cmd.endswith(files) or cmd == "-A" or cmd.startswith("--allow-") or cmd == "--lang":
            return self.run(argv)  # `tvm [-A] FILE` is `tvm run [-A] FILE`
        raise UsageError(f"unknown command '{cmd}'")

    def run(self, args: list[str]) -> int:
        stdin, stdout, stderr = self.stdin, self.stdout, self.stderr
        gc_stress = os.environ.get("TVM_GC_STRESS") == "1"
        kwargs: dict[str, Any] = {}
        from ..stdlib.capabilities import grants_from, parse_flag

        grants: list = []
        lang: str | None = None
        while args and (args[0].startswith("--") or args[0] == "-A"):
            opt = args.pop(0)
            if opt == "--lang" or opt.startswith("--lang="):
                lang, _ = _leading_lang(self.langs, [opt] + ([args.pop(0)] if opt == "--lang" and args else []))
                continue
            try:
                grant = ("all", True) if opt == "-A" else parse_flag(opt)
            except ValueError as e:
                raise UsageError(str(e)) from None
            if grant is not None:
                grants.append(grant)
            elif opt == "--gc-stress":
                gc_stress = True
            elif opt == "--warn-leaks":
                kwargs["warn_leaks"] = True
            elif opt in ("--max-depth", "--budget"):
                if not args or not args[0].isdigit() or int(args[0]) < 1:
                    raise UsageError(f"{opt} needs a positive integer")
                kwargs[opt[2:].replace("-", "_")] = int(args.pop(0))
            elif opt == "--":
                break
            else:
                raise UsageError(f"unknown option '{opt}' for run")
        if not args:
            raise UsageError("run needs a FILE")
        path, prog_args = args[0], args[1:]
        from ..api import VM
        from ..bytecode.code import LoadError
        from ..lang.diagnostics import CompileError
        from ..runtime.errors import GuestException
        from ..stdlib.os import ProgramExit

        kwargs.update(gc_stress=gc_stress, stdout=stdout, stdin=stdin, argv=prog_args, allow=grants_from(grants), languages=self.langs)
        vm = VM(**kwargs)
        fe = self.langs.select(path, lang)
        try:
            try:
                bundle, fe = _load_any(self.langs, path, lang)
                vm.run_bundle(bundle)
            finally:
                vm.close()
        except ProgramExit as e:  # os.exit(code)
            return e.code if isinstance(e.code, int) else EXIT_ERROR
        except CompileError as e:
            print(e.render(), file=stderr)
            return fe.exit_compile
        except LoadError as e:
            print(f"error: {path}: {e}", file=stderr)
            return EXIT_COMPILE
        except GuestException as e:
            stdout.flush()
            print(fe.render_runtime_error(e), file=stderr)
            return fe.exit_runtime
        finally:
            try:
                stdout.flush()
            except Exception:  # pragma: no cover - a closed pipe
                pass
            # After the error, if any: its `error:` line comes first.
            for w in vm.warnings:
                print(w, file=stderr)
        return EXIT_OK

    def check(self, paths: list[str]) -> int:
        lang, paths = _leading_lang(self.langs, paths)
        if not paths:
            raise UsageError("check needs at least one FILE")
        from ..lang.diagnostics import CompileError
        from ..lang.driver import compile_program

        status = EXIT_OK
        for path in paths:
            try:
                compile_program(path, check_only=True, lang=lang, languages=self.langs)
            except CompileError as e:
                print(e.render(), file=self.stderr)
                # Each language's status while all failures agree; else the generic one.
                own = self.langs.select(path, lang).exit_compile
                status = own if status in (EXIT_OK, own) else EXIT_COMPILE
        return status

    def disasm(self, args: list[str]) -> int:
        lang, args = _leading_lang(self.langs, args)
        if len(args) != 1:
            raise UsageError("disasm needs exactly one FILE")
        from ..bytecode.code import LoadError
        from ..bytecode.disasm import format_module
        from ..lang.diagnostics import CompileError

        try:
            bundle, _ = _load_any(self.langs, args[0], lang)
        except CompileError as e:
            print(e.render(), file=self.stderr)
            return self.langs.select(args[0], lang).exit_compile
        except LoadError as e:
            print(f"error: {args[0]}: {e}", file=self.stderr)
            return EXIT_COMPILE
        keys = [bundle.main] + [k for k in bundle.modules if k != bundle.main]
        for i, key in enumerate(keys):
            if i:
                print(file=self.stdout)
            print(format_module(bundle.modules[key]), file=self.stdout, end="")
        return EXIT_OK

    def repl(self, args: list[str]) -> int:
        from ..stdlib.capabilities import grants_from, parse_flag
        from .repl import run_repl

        lang = None
        grants: list = []
        args = list(args)
        while args:  # --lang, and the capability flags as for run
            if args[0] == "--lang" or args[0].startswith("--lang="):
                one, args = _leading_lang(self.langs, args)
                lang = one
                continue
            opt = args.pop(0)
            try:
                grant = ("all", True) if opt == "-A" else parse_flag(opt)
            except ValueError as e:
                raise UsageError(str(e)) from None
            if grant is None:
                raise UsageError(f"unknown option '{opt}' for repl")
            grants.append(grant)
        return run_repl(self.stdin, self.stdout, self.stderr, lang, allow=grants_from(grants), languages=self.langs)


def tvm_main() -> None:
    sys.exit(main())


def tvmc_main(argv: list[str] | None = None, stderr: TextIO | None = None, stdout: TextIO | None = None, languages: "Languages | None" = None) -> int | None:
    argv = sys.argv[1:] if argv is None else argv
    stderr = stderr or sys.stderr
    stdout = stdout or sys.stdout
    code = _tvmc(_languages(languages), argv, stdout, stderr)
    if argv is sys.argv[1:]:
        sys.exit(code)
    return code


def _tvmc(langs: "Languages", argv: list[str], stdout: TextIO, stderr: TextIO) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        titles = _either([fe.title for fe in langs.frontends])
        print(
            f"usage: tvmc [--lang {'|'.join(langs.names)}] {_source_files(langs)} [-o FILE.tvm]\n"
            f"compile a {titles} program and the files it imports into one .tvm module",
            file=stdout if argv else stderr,
        )
        return EXIT_OK if argv else EXIT_USAGE
    if argv[0] in ("-V", "--version"):
        print(f"tvmc {__version__}", file=stdout)
        return EXIT_OK
    src, out = None, None
    lang: str | None = None
    rest = list(argv)
    while rest:
        a = rest.pop(0)
        if a == "--lang" or a.startswith("--lang="):
            try:
                lang, _ = _leading_lang(langs, [a] + ([rest.pop(0)] if a == "--lang" and rest else []))
            except UsageError as e:
                print(f"tvmc: {e}", file=stderr)
                return EXIT_USAGE
            continue
        if a == "-o":
            if not rest:
                print("tvmc: -o needs a file name", file=stderr)
                return EXIT_USAGE
            out = rest.pop(0)
        elif a.startswith("-"):
            print(f"tvmc: unknown option '{a}'", file=stderr)
            return EXIT_USAGE
        elif src is None:
            src = a
        else:
            print("tvmc: only one input file", file=stderr)
            return EXIT_USAGE
    if src is None:
        print("tvmc: no input file", file=stderr)
        return EXIT_USAGE
    from ..bytecode.tvmfile import write_file
    from ..lang.diagnostics import CompileError
    from ..lang.driver import compile_program

    try:
        bundle = compile_program(src, lang=lang, languages=langs)
    except CompileError as e:
        print(e.render(), file=stderr)
        return langs.select(src, lang).exit_compile
    out = out or os.path.splitext(src)[0] + TVM_EXT
    try:
        write_file(out, bundle)
    except OSError as e:
        print(f"tvmc: cannot write {out}: {e.strerror or e}", file=stderr)
        return EXIT_ERROR
    return EXIT_OK


if __name__ == "__main__":  # python -m tinyvm.cli.main ... (as `tvm ...`)
    tvm_main()
