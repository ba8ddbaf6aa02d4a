"""The Lox front end: Lox (the language of *Crafting Interpreters*) compiled to
TinyVM bytecode, with the behaviour and messages of the book's C
implementation, clox.

    lexer.py     clox's scanner: tokens, and error tokens for bad input
    ast.py       the syntax tree, with resolved variables
    scopes.py    per-function compile state: locals, upvalues, and the model of
                 the bytes and constants clox would emit (its limits)
    parser.py    clox's single-pass parser as a tree builder: the same
                 grammar, resolution, error messages and recovery
    compiler.py  tree -> TinyVM instructions (assembled by compiler/assembler.py);
                 source file -> ModuleCode / Bundle (for the CLI and imports)
    errors.py    compile-error collection and clox's error formats

The VM side -- clox's operator rules and messages -- is vm/lox_rules.py. Only
programs that contain Lox import this package. docs/lox.md describes the design.
"""
