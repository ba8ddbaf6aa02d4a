"""The Lox front end: Lox (the language of *Crafting Interpreters*) compiled to
TinyVM bytecode, with the behaviour and messages of the book's C
implementation, clox.

    lexer.py     clox's scanner: tokens, and error tokens for bad input
    ast.py       the syntax tree, with resolved variables
    scopes.py    per-function compile state: locals, upvalues, and the model of
                 the bytes and constants clox would emit (its limits)
    parser.py    clox's single-pass parser as a tree builder: the same
                 grammar, resolution, error messages and recovery
    compiler.py  tree -> TinyVM instructions (assembled by bytecode/assembler.py);
                 source file -> ModuleCode (for the driver), the REPL's entry compiler
    errors.py    compile-error collection and clox's error formats

This module registers the front end with the driver (lang/driver.py): the
`FRONTEND` below, whose code is in the dialect "lox". The VM side of that
dialect -- clox's operator rules and messages -- is runtime/lox_rules.py. Only
programs that contain Lox load more of this package than this module.
docs/lox.md describes the design.
"""

from __future__ import annotations

from typing import Any

from ..frontend import CompiledModule, FrontEnd, ModuleContext


class Lox(FrontEnd):
    name = "lox"
    title = "Lox"
    extensions = (".lox",)
    dialect = "lox"
    # clox's exit statuses and formats, for programs whose main module is Lox.
    exit_compile = 65
    exit_runtime = 70
    repl_help = "Each entry runs as more of one Lox script: globals persist. Use print to see a value."

    @property
    def compile_error(self) -> Any:  # type: ignore[override]
        from .errors import LoxCompileError

        return LoxCompileError

    def compile_module(self, source: str, ctx: ModuleContext) -> CompiledModule:
        from .compiler import compile_module

        return compile_module(source, ctx)

    def render_runtime_error(self, exc: Any) -> str:
        from .errors import render_runtime_error

        return render_runtime_error(exc)

    def is_incomplete(self, text: str) -> bool:
        from .parser import is_incomplete

        return is_incomplete(text)

    def repl(self, ctx: ModuleContext) -> Any:
        from .compiler import LoxRepl

        return LoxRepl(ctx)


FRONTEND = Lox()
