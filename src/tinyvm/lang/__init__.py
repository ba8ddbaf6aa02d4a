"""The front ends: source languages compiled to TinyVM bytecode, behind one driver.

    frontend.py     the interface a language implements (FrontEnd), and what the
                    driver gives it (ModuleContext, ModuleInfo, CompiledModule)
    driver.py       the front ends found here (Languages); compile_program: a
                    source file and its imports -> a Bundle
    loader.py       the VM's view of the front ends: import specs -> module keys,
                    and the runtime library compiled (the prelude)
    diagnostics.py  compile errors with file:line:col, shared by every front end
    tinylang/       TinyLang (the default language, `.tl`)
    lox/            Lox, with clox's behaviour and messages (`.lox`)

A language is a folder here whose `__init__.py` binds a FrontEnd to FRONTEND
(docs/frontends.md). Front ends import bytecode/ and nothing of the VM.
"""
