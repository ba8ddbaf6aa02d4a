"""The loader: the one piece of the front ends the VM is given.

The VM runs bundles; it never compiles a program nor names a language. Two
things it needs at run time come from the front ends, and a `Loader` answers
them (the embedding API makes one per VM, over the VM's `Languages`):

* `resolve(importer, spec)`: the module key an IMPORT instruction names (the
  spec as written, relative to the importing module; an extension of any known
  language or `.tvm` is dropped, as the driver does when it compiles);
* `compile_library(source, filename, path)`: runtime library code written in a
  source language -- the prelude, runtime/prelude.tl -- compiled with the
  front end of `filename`'s extension, privileged to call the VM's private
  natives, and shown as `path` in traces.

The VM takes the loader as a plain object (`Machine(loader, ...)`), so a host
may give it another one, as long as it answers these two.
"""

from __future__ import annotations

from ..bytecode.code import Bundle, ModuleCode
from .driver import Compilation, Languages, resolve_spec
from .sources import NoSources


class Loader:
    def __init__(self, languages: Languages | None = None) -> None:
        self.languages = languages or Languages.default()

    def resolve(self, importer: str, spec: str) -> str:
        """The module key of import `spec` written in module `importer`."""
        return resolve_spec(importer, spec, self.languages.extensions)

    def compile_library(self, source: str, filename: str, path: str) -> ModuleCode:
        """Compile runtime library source (see the module docstring). It has no
        imports. Raises CompileError, which for the VM's own library is a bug
        in the package."""
        frontend = self.languages.for_path(filename)
        comp = Compilation("", path, Bundle(path), self.languages, source_set=NoSources("runtime library code imports no files"))
        result = frontend.compile_module(source, comp.context(path, path, frontend, privileged=True))
        if result.code is None:
            raise frontend.compile_error(result.diagnostics, {path: source})
        return result.code
