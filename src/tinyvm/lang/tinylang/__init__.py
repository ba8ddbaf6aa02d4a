"""The TinyLang front end: TinyLang source -> TinyVM bytecode (spec: ../shared/spec/tinylang.md).

    tokens.py     token kinds, keywords, operators
    lexer.py      source -> tokens; `;` inserted at newlines (Go's rules)
    ast.py        the syntax tree: slotted dataclasses, every node with line:col
    parser.py     recursive descent with precedence climbing; error recovery
    scopes.py     variables, function and block scopes, frame slots
    resolver.py   names -> where they live (global, local, cell, upvalue, built-in);
                  hoisting; every scope error
    types.py      the static types and their rules (on bytecode/types.py's values)
    signatures.py the types of built-ins, methods and standard modules
    checker.py    gradual type checking, inference, narrowing; marks run-time checks
    members.py    member access and calls (part of the checker)
    flow.py       definite completion and assignment, what conditions prove (part of the checker)
    emitter.py    checked tree -> symbolic instructions (assembled by bytecode/assembler.py)
    control.py    return, break, continue, throw, try/catch/finally (part of the emitter)
    pipeline.py   one module: parse, load imports, resolve, check, emit
    repl.py       the REPL's entry compiler (definitions persist, shadowing, echo)

This module registers the front end with the driver (lang/driver.py): the
`FRONTEND` below. Only it is imported until TinyLang code is compiled.
"""

from __future__ import annotations

from typing import Any

from ..frontend import CompiledModule, FrontEnd, ModuleContext


class TinyLang(FrontEnd):
    name = "tinylang"
    title = "TinyLang"
    extensions = (".tl",)
    dialect = "tinylang"
    default = True  # the language of files with any other extension
    repl_help = "An entry's last expression statement is echoed with its static type unless it is nil."

    def compile_module(self, source: str, ctx: ModuleContext) -> CompiledModule:
        from .pipeline import compile_module

        return compile_module(source, ctx)

    def is_incomplete(self, text: str) -> bool:
        from .parser import is_incomplete

        return is_incomplete(text)

    def repl(self, ctx: ModuleContext) -> Any:
        from .repl import TinyLangRepl

        return TinyLangRepl(ctx)


FRONTEND = TinyLang()
