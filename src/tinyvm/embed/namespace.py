"""One namespace per VM and language: the module every `run_source`,
`run_file`, `eval` and `vm.globals` of that VM share (lupa-style).

Each call compiles *its* text as the next entry of one growing module -- the
REPL's machinery: the front end's `ReplCompiler` compiles an entry against the
globals of the entries before it, and `Machine.run_entry` runs it against the
same module object, whose globals list grows in place. So later texts see the
functions, classes and variables of earlier ones, and redefinition follows the
language's REPL rules (TinyLang: a new declaration shadows, code compiled
earlier keeps the binding it saw; lang/tinylang/repl.py).

TinyLang code runs in the namespace `<main>`; Lox code, whose globals are
late-bound and untyped, in its own namespace `<main.lox>` (each language its
own: a Lox text does not see TinyLang's globals nor the other way round).
Each text's imports are read through the source set the VM gives it
(lang/sources.py, docs/modules.md): the VM's `modules=`/`import_root=`, else
none for `run_source` and the file's folder for `run_file`.

`declare` adds a global the host sets (a host function with its function
type, `vm.globals[name] = v` with type `any`) without compiling anything.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from ..bytecode.code import Bundle
from ..heap.objects import UNINIT
from ..lang.driver import Compilation, compile_entry
from ..lang.sources import NO_IMPORTS, NoSources
from ..runtime.errors import RtError


class Namespace:
    """The shared module of one language in one VM (module docstring)."""

    def __init__(self, vm: Any, frontend: Any, key: str, path: str) -> None:
        self.vm = vm
        self.fe = frontend
        self.key = key
        self.comp = Compilation(os.getcwd(), path, Bundle(key), vm.languages)
        # (The context's path is set for every text; a front end's REPL that
        # reads it only once names every text by the first one's path.)
        self.ctx = self.comp.context(key, path, frontend)
        repl = frontend.repl(self.ctx)
        if repl is None:
            raise ValueError(f"{frontend.title} code cannot run in a namespace (its front end has no REPL hooks)")
        self.repl = repl

    @property
    def module(self) -> Any:
        return self.vm.machine.modules.get(self.key)

    # ------------------------------------------------------------------ running text

    def run(self, source: str, path: str, sources: Any = None) -> Any:
        """Compile and run `source` as the next entry (file name `path` in
        messages and traces; its imports read through the source set
        `sources` (lang/sources.py), by default none). Returns the value of a final expression statement, if
        the language echoes one, else None. Raises CompileError, and guest
        errors as the machine raises them."""
        comp = self.comp
        self.ctx.path = path
        comp.main_path = path
        comp.source_set = sources if sources is not None else NoSources(NO_IMPORTS)
        entry = compile_entry(comp, self.fe, self.repl, source, path)
        machine = self.vm.machine
        for key, code in comp.bundle.modules.items():
            machine.module_codes.setdefault(key, code)
        slot = self.repl.echo_slot
        try:
            module = machine.run_entry(self.key, entry.code)
            value = module.globals[slot] if slot is not None and entry.echo is not None else None
            if slot is not None:
                module.globals[slot] = None  # do not keep the value alive
            return value
        finally:
            self._commit(entry)

    def _commit(self, entry: Any) -> None:
        module = self.module
        values = module.globals if module is not None else []
        names = self.repl.commit(entry, [v is not UNINIT for v in values])
        if module is not None and module.code is not None and module.code.globals != names:
            module.code = dataclasses.replace(module.code, globals=names)

    # ------------------------------------------------------------------ globals

    def names(self) -> tuple[str, ...]:
        """The visible global names, in slot order (hidden ones left out)."""
        module = self.module
        names = module.code.globals if module is not None and module.code is not None else ()
        out, seen = [], set()
        for i in range(len(names) - 1, -1, -1):
            n = names[i]
            if n.isidentifier() and n not in seen and module.globals[i] is not UNINIT:
                seen.add(n)
                out.append(n)
        return tuple(reversed(out))

    def slot(self, name: str) -> int | None:
        module = self.module
        if module is None or module.code is None or not name.isidentifier():
            return None
        names = module.code.globals
        for i in range(len(names) - 1, -1, -1):
            if names[i] == name:
                return i
        return None

    def get(self, name: str) -> Any:
        i = self.slot(name)
        if i is None or self.module.globals[i] is UNINIT:
            raise KeyError(name)
        return self.module.globals[i]

    def set(self, name: str, value: Any, ty: Any = None) -> None:
        """Set global `name` to guest value `value`. An existing global keeps
        its slot (the value is checked against its static type); a new one,
        or any name given `ty`, is declared (type `ty`, default any)."""
        i = self.slot(name)
        if i is not None and ty is None:
            known = self.repl.global_type(name)
            if known is not None and str(known) != "any":
                value = self.vm.machine.type_checks.check(str(known), f"global {name}")(value)
            self.module.globals[i] = value
            return
        from ..bytecode.types import ANY

        self.declare(name, value, ty if ty is not None else ANY)

    def declare(self, name: str, value: Any, ty: Any) -> None:
        if not name.isidentifier():
            raise ValueError(f"not a global name: {name!r}")
        if self.module is None:
            self.run("", self.key)  # the module exists once its first entry ran
        slot = self.repl.declare(name, ty)
        module = self.module
        G = module.globals
        if slot < len(G):
            G[slot] = value
        else:
            G.extend([UNINIT] * (slot - len(G)))
            G.append(value)
        names = list(module.code.globals)
        names.extend([""] * (len(G) - len(names)))
        names[slot] = name
        for j, n in enumerate(names):  # an older binding of the name is shadowed
            if n == name and j != slot:
                names[j] = f"<shadowed {name}>"
        module.code = dataclasses.replace(module.code, globals=tuple(names))

    def unknown(self, name: str) -> RtError:
        return RtError("Error", f"no global '{name}'")
