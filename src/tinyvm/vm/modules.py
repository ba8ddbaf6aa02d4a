"""Modules at run time: loading bundles, creating module objects, running
their top-level code, imports, standard modules and the prelude.

A program arrives as a `Bundle` (compiled from source by the driver, or read
from a `.tvm` file): `load_bundle` records its module codes, and a module
object is made for a key on first use. `IMPORT` of a path (`"./geo"`) resolves
it against the importing module's key -- through the machine's loader, the one
piece of the front ends the VM is given (lang/loader.py) -- and runs the
module's top-level code once, the first time it is imported. `IMPORT` of a
name (`math`) is a standard module (stdlib/), built per VM on first import.
The two are kept apart (`modules` and `std_modules`): a program's file
`math.tl`, or a main module named `fs`, never stands for a standard module.

The prelude is runtime library code written in TinyLang (runtime/prelude.tl);
the loader compiles it, on first use, so a program that never needs it never
compiles it.

The REPL grows one module entry by entry (`run_entry`): each entry's code
extends the module's globals list in place.

`Modules` is a mixin of `Machine` (vm/machine.py).
"""

from __future__ import annotations

import posixpath
from typing import Any

from ..bytecode.code import Bundle, ModuleCode, is_file_spec
from ..heap.objects import UNINIT, Function, ModuleObject
from ..runtime.errors import RtError
from ..sched.fiber import Fiber
from ..stdlib import make_module
from .predecode import Decoder

# The prelude: runtime/prelude.tl, compiled by the loader with the front end of
# its extension; `<prelude>` in traces, and no module key of a program.
PRELUDE_FILE = "prelude.tl"
PRELUDE_KEY = "<prelude>"


class Modules:
    """The module paths of `Machine` (see the module docstring)."""

    def prelude_fn(self, name: str) -> Function:
        if self.prelude is None:
            self._load_prelude()
        assert self.prelude is not None and self.prelude.code is not None
        return self.prelude.globals[self.prelude.code.globals.index(name)]

    def _load_prelude(self) -> None:
        from importlib import resources  # (lazy: it imports much, and most programs need no prelude)

        source = resources.files("tinyvm.runtime").joinpath(PRELUDE_FILE).read_text("utf-8")
        module = self._new_module(PRELUDE_KEY, self.loader.compile_library(source, PRELUDE_FILE, PRELUDE_KEY))
        self.prelude = module
        self.run_module_now(module)

    def _fix_depth(self, lang: str) -> None:
        """Unless the host chose one, the frame limit of a run is that of the
        language of the code it runs (the main module, a REPL or namespace
        entry; Lox: clox's 64), set again for every run: a Lox run does not
        leave 64 frames for later TinyLang code. (Decoded call sites hold the
        limit of their own code's language: predecode.Decoder.)"""
        if not self.depth_fixed:
            self.max_depth = self.rules_for(lang).max_depth

    def load_bundle(self, bundle: Bundle) -> ModuleObject:
        self._fix_depth(bundle.modules[bundle.main].lang)
        for key, code in bundle.modules.items():
            self.module_codes.setdefault(key, code)
        return self.module_for(bundle.main)

    def module_for(self, key: str) -> ModuleObject:
        """The file module `key` of the program (a module of its bundles)."""
        module = self.modules.get(key)
        if module is not None:
            return module
        if key in self.module_codes:
            return self._new_module(key, self.module_codes[key])
        raise RtError("Error", f"cannot find module \"{key}\"")

    def std_module(self, name: str) -> ModuleObject:
        """The standard module `name`, built on first use. Standard modules
        have a namespace of their own: a file `math.tl` (key "math") never
        stands for `import math`, nor the other way round."""
        module = self.std_modules.get(name)
        if module is None:
            module = self._native_module(name)
            if module is None:
                raise RtError("Error", f"cannot find module \"{name}\"")
        return module

    def _new_module(self, key: str, code: ModuleCode) -> ModuleObject:
        module = self.heap.alloc(ModuleObject(key, code.path, [UNINIT] * len(code.globals), {}, code))
        module.exports = {name: code.globals.index(name) for name in code.exports}
        if key != PRELUDE_KEY:
            self.modules[key] = module
        return module

    def _native_module(self, key: str) -> ModuleObject | None:
        values = make_module(self, key)
        if values is None:
            return None
        names = list(values)
        module = self.heap.alloc(ModuleObject(key, key, [values[n] for n in names], {n: i for i, n in enumerate(names)}))
        module.native = True
        module.initialized = True
        self.std_modules[key] = module
        return module

    def module_get(self, module: ModuleObject, name: str) -> Any:
        slot = module.exports.get(name)
        if slot is None:
            raise RtError("TypeError", f"module \"{module.name}\" has no export '{name}'")
        v = module.globals[slot]
        if v is UNINIT:
            raise RtError("Error", f"'{name}' of module \"{module.name}\" is used before its declaration has run")
        return v

    def module_entry(self, module: ModuleObject) -> Function:
        assert module.code is not None
        init = module.code.init
        ops = Decoder(self, module).decode(init)
        return self.heap.alloc(Function(init, (), module, ops[0], self.type_checks.params(init)))

    def import_key(self, importer: str, spec: str) -> str:
        """The key of the module import `spec` (as written in module
        `importer`) names: the loader's answer, or, when the bundle holds no
        such module and the spec ends in an extension the loader does not
        know (code compiled with a front end this VM lacks, from a .tvm),
        the key without that extension."""
        key = self.loader.resolve(importer, spec)
        if key not in self.module_codes and key not in self.modules:
            stem, ext = posixpath.splitext(key)
            if ext and stem in self.module_codes:
                return stem
        return key

    def import_module(self, fb: Fiber, importer: str, spec: str, ret: Any) -> Any:
        if not is_file_spec(spec):
            fb.L.append(self.std_module(spec))
            return ret
        module = self.module_for(self.import_key(importer, spec))
        if module.initialized:
            fb.L.append(module)
            return ret
        # Run its top level now; its code ends by returning the module object.
        module.initialized = True
        return self.push_frame(fb, self.module_entry(module), [], ret)

    def run_module_now(self, module: ModuleObject) -> Any:
        module.initialized = True
        return self.run_function(self.module_entry(module), [])

    def run_entry(self, key: str, code: ModuleCode) -> ModuleObject:
        """Run `code` as the next piece of top-level code of the growing module
        `key` (the REPL: each entry is compiled against the globals of the
        entries before it, so `code.globals` starts with the module's current
        ones). The first entry creates the module. The globals list is extended
        in place, never replaced: decoded code holds that very list. Guest
        errors propagate (the module stays in `self.modules[key]`)."""
        self._fix_depth(code.lang)
        module = self.modules.get(key)
        if module is None:
            module = self._new_module(key, code)
        else:
            G = module.globals
            if len(code.globals) < len(G):
                raise ValueError(f"entry code for module {key!r} has fewer globals than the module")
            G.extend([UNINIT] * (len(code.globals) - len(G)))
            module.code = code
        self.run_module_now(module)
        return module
