"""The `tvm` and `tvmc` commands.

    tvm run [options] FILE.tl|FILE.lox|FILE.tvm [args...]   run a program (options: tvm --help)
    tvm check FILE...                    front end and type checker only (no code generation)
    tvm disasm FILE.tl|FILE.lox|FILE.tvm readable bytecode listing
    tvm repl [--lang lox] [--allow-...]  interactive session (also plain `tvm`)
    tvmc FILE.tl|FILE.lox [-o FILE.tvm]  compile a program and its imports

The language of a source file is chosen by its extension (`.lox` is Lox,
anything else TinyLang); `--lang lox` or `--lang tinylang` (before FILE)
forces it. A .tvm file records the language of its modules.

Exit status: 0 success, 1 uncaught guest error, 2 compile error (or a .tvm file
that cannot be loaded), 64 usage error. A program whose main module is Lox
exits as clox does: 65 for compile errors, 70 for a runtime error, reported
in clox's formats (lox/errors.py). `main()` takes its streams as arguments
so tests and the embedding API run it in-process; it never lets a Python
traceback reach the user for anything the user did.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from .. import __version__

EXIT_OK, EXIT_ERROR, EXIT_COMPILE, EXIT_USAGE = 0, 1, 2, 64
EXIT_LOX_COMPILE, EXIT_LOX_RUNTIME = 65, 70  # clox's statuses, for Lox programs

COMMANDS = [
    ("run", "FILE [args...]", "run a .tl, .lox or .tvm program"),
    ("check", "FILE...", "parse, resolve and type-check without running; report every error"),
    ("disasm", "FILE", "show the bytecode of a .tl, .lox or .tvm program"),
    ("repl", "[--lang lox] [-A|--allow-...]", "start an interactive session (the default with no command); takes run's --allow flags"),
]

LANGS = ("tinylang", "lox")

RUN_OPTIONS = """options for run (before FILE):
  --lang tinylang|lox            the source language (default: by extension, .lox is Lox)
  --gc-stress                    collect garbage at every allocation (also TVM_GC_STRESS=1)
  --max-depth N                  guest call depth limit (default 100000)
  --budget N                     instructions a fiber runs before another ready fiber gets a turn (default 8192)
  --warn-leaks                   report fibers still blocked when the main fiber ends
  --allow-read[=PATH,...]        let fs read files (all, or only these files and directories)
  --allow-write[=PATH,...]       let fs write files (all, or only these)
  --allow-net[=HOST[:PORT],...]  let net listen and connect (all, or only these hosts)
  --allow-env[=NAME,...]         let os.env read environment variables (all, or only these)
  -A, --allow-all                all of the above; without them fs, net and os.env raise PermissionError"""


def usage() -> str:
    lines = ["usage: tvm [--version] [--help] <command> [args]", "", "commands:"]
    for name, args, help_ in COMMANDS:
        lines.append(f"  {name:<7} {args:<16} {help_}")
    lines += ["", RUN_OPTIONS, "", "Compile to a .tvm module with: tvmc [--lang lox] FILE.tl|FILE.lox [-o FILE.tvm]"]
    return "\n".join(lines)


class UsageError(Exception):
    pass


def main(argv: list[str] | None = None, stdin: TextIO | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        return _dispatch(argv, stdin, stdout, stderr)
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


def _dispatch(argv: list[str], stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    if not argv:
        return _repl([], stdin, stdout, stderr)
    cmd, rest = argv[0], argv[1:]
    if cmd in ("-h", "--help", "help"):
        print(usage(), file=stdout)
        return EXIT_OK
    if cmd in ("-V", "--version"):
        print(f"tvm {__version__}", file=stdout)
        return EXIT_OK
    if cmd == "run":
        return _run(rest, stdin, stdout, stderr)
    if cmd == "check":
        return _check(rest, stderr)
    if cmd == "disasm":
        return _disasm(rest, stdout, stderr)
    if cmd == "repl":
        return _repl(rest, stdin, stdout, stderr)
    if cmd.endswith((".tl", ".tvm", ".lox")) or cmd == "-A" or cmd.startswith("--allow-") or cmd == "--lang":
        return _run(argv, stdin, stdout, stderr)  # `tvm [-A] FILE` is `tvm run [-A] FILE`
    raise UsageError(f"unknown command '{cmd}'")


def _lang_option(args: list[str]) -> str:
    """The value of a `--lang` option just popped from args."""
    if not args or args[0] not in LANGS:
        raise UsageError("--lang needs 'tinylang' or 'lox'")
    return args.pop(0)


def _leading_lang(args: list[str]) -> tuple[str | None, list[str]]:
    """(the `--lang` option at the front of args or None, the other args)."""
    args = list(args)
    lang = None
    if args and args[0] == "--lang":
        args.pop(0)
        lang = _lang_option(args)
    elif args and args[0].startswith("--lang="):
        value = args.pop(0)[len("--lang=") :]
        lang = _lang_option([value])
    return lang, args


def _is_lox(path: str, lang: str | None, bundle: Any = None) -> bool:
    """Whether the program's main module is Lox (clox's exit statuses and formats)."""
    if bundle is not None:
        return bundle.modules[bundle.main].lang == "lox"
    return lang == "lox" or (lang is None and path.endswith(".lox"))


def _run(args: list[str], stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    gc_stress = os.environ.get("TVM_GC_STRESS") == "1"
    kwargs: dict[str, Any] = {}
    from ..vm.capabilities import grants_from, parse_flag

    grants: list = []
    lang: str | None = None
    while args and (args[0].startswith("--") or args[0] == "-A"):
        opt = args.pop(0)
        if opt == "--lang" or opt.startswith("--lang="):
            lang, _ = _leading_lang([opt] + ([args.pop(0)] if opt == "--lang" and args else []))
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
    from ..diagnostics import CompileError
    from ..vm.errors import GuestException, LoadError

    from ..vm.stdlib_os import ProgramExit

    kwargs.update(gc_stress=gc_stress, stdout=stdout, stdin=stdin, argv=prog_args, allow=grants_from(grants))
    vm = VM(**kwargs)
    lox = _is_lox(path, lang)
    try:
        try:
            bundle = _load_any(path, lang)
            lox = _is_lox(path, lang, bundle)
            vm.run_bundle(bundle)
        finally:
            vm.close()
    except ProgramExit as e:  # os.exit(code)
        return e.code if isinstance(e.code, int) else EXIT_ERROR
    except CompileError as e:
        print(e.render(), file=stderr)
        return EXIT_LOX_COMPILE if lox else EXIT_COMPILE
    except LoadError as e:
        print(f"error: {path}: {e}", file=stderr)
        return EXIT_COMPILE
    except GuestException as e:
        stdout.flush()
        if lox:
            from ..lox.errors import render_runtime_error

            print(render_runtime_error(e), file=stderr)
            return EXIT_LOX_RUNTIME
        print(e.render(), file=stderr)
        return EXIT_ERROR
    finally:
        try:
            stdout.flush()
        except Exception:  # pragma: no cover - a closed pipe
            pass
        # After the error, if any: its `error:` line comes first.
        for w in vm.warnings:
            print(w, file=stderr)
    return EXIT_OK


def _check(paths: list[str], stderr: TextIO) -> int:
    lang, paths = _leading_lang(paths)
    if not paths:
        raise UsageError("check needs at least one FILE")
    from ..compiler.driver import compile_program
    from ..diagnostics import CompileError

    status = EXIT_OK
    for path in paths:
        try:
            compile_program(path, check_only=True, lang=lang)
        except CompileError as e:
            print(e.render(), file=stderr)
            status = EXIT_LOX_COMPILE if _is_lox(path, lang) and status in (EXIT_OK, EXIT_LOX_COMPILE) else EXIT_COMPILE
    return status


def _load_any(path: str, lang: str | None = None) -> Any:
    if path.endswith(".tvm") and lang is None:
        from ..bytecode.tvmfile import read_file

        return read_file(path)
    from ..compiler.driver import compile_program

    return compile_program(path, lang=lang)


def _disasm(args: list[str], stdout: TextIO, stderr: TextIO) -> int:
    lang, args = _leading_lang(args)
    if len(args) != 1:
        raise UsageError("disasm needs exactly one FILE")
    from ..bytecode.disasm import format_module
    from ..diagnostics import CompileError
    from ..vm.errors import LoadError

    try:
        bundle = _load_any(args[0], lang)
    except CompileError as e:
        print(e.render(), file=stderr)
        return EXIT_LOX_COMPILE if _is_lox(args[0], lang) else EXIT_COMPILE
    except LoadError as e:
        print(f"error: {args[0]}: {e}", file=stderr)
        return EXIT_COMPILE
    keys = [bundle.main] + [k for k in bundle.modules if k != bundle.main]
    for i, key in enumerate(keys):
        if i:
            print(file=stdout)
        print(format_module(bundle.modules[key]), file=stdout, end="")
    return EXIT_OK


def _repl(args: list[str], stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    from ..vm.capabilities import grants_from, parse_flag
    from .repl import run_repl

    lang = None
    grants: list = []
    args = list(args)
    while args:  # --lang, and the capability flags as for run
        if args[0] == "--lang" or args[0].startswith("--lang="):
            one, args = _leading_lang(args)
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
    return run_repl(stdin, stdout, stderr, lang or "tinylang", allow=grants_from(grants))


def tvm_main() -> None:
    sys.exit(main())


def tvmc_main(argv: list[str] | None = None, stderr: TextIO | None = None, stdout: TextIO | None = None) -> int | None:
    argv = sys.argv[1:] if argv is None else argv
    stderr = stderr or sys.stderr
    stdout = stdout or sys.stdout
    code = _tvmc(argv, stdout, stderr)
    if argv is sys.argv[1:]:
        sys.exit(code)
    return code


def _tvmc(argv: list[str], stdout: TextIO, stderr: TextIO) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: tvmc [--lang tinylang|lox] FILE.tl|FILE.lox [-o FILE.tvm]\ncompile a TinyLang or Lox program and the files it imports into one .tvm module", file=stdout if argv else stderr)
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
                lang, _ = _leading_lang([a] + ([rest.pop(0)] if a == "--lang" and rest else []))
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
    from ..compiler.driver import compile_program
    from ..diagnostics import CompileError

    try:
        bundle = compile_program(src, lang=lang)
    except CompileError as e:
        print(e.render(), file=stderr)
        return EXIT_LOX_COMPILE if _is_lox(src, lang) else EXIT_COMPILE
    out = out or os.path.splitext(src)[0] + ".tvm"
    try:
        write_file(out, bundle)
    except OSError as e:
        print(f"tvmc: cannot write {out}: {e.strerror or e}", file=stderr)
        return EXIT_ERROR
    return EXIT_OK


if __name__ == "__main__":  # python -m tinyvm.cli.main ... (as `tvm ...`)
    tvm_main()
