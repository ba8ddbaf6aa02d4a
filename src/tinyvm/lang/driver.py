"""The compiler driver: the front ends, and source files in, a `Bundle` out.

Front ends. Each folder `lang/<language>/` whose `__init__.py` binds a
`FrontEnd` (lang/frontend.py) to `FRONTEND` is a language; `Languages.default()`
finds them (only their `__init__` modules are imported: a front end loads its
compiler when it first compiles). A host can add a front end of its own
without touching the package: `Languages.default().add(frontend)`, passed to
`compile_program`, to `VM(languages=...)` or to the CLI's `main`. The driver
names no language: it chooses a front end by `--lang` name or by file
extension, and asks it for everything else.

Programs. `compile_program` compiles the main file with its front end; the
front end asks the driver for each file it imports (`ModuleContext.load`), and
the driver finds the file, compiles it with the front end of its extension --
depth first, so the importer's checker knows what the import exports -- and
caches it. One `CompileError` (the main front end's kind) carries the
diagnostics of every module. An import cycle is reported on the import line
of the file where the cycle starts. Compiling depth first recurses once per
level of imports (a chain of modules each importing the next), so imports
nest at most MAX_IMPORT_NESTING deep (lang/nesting.py): one more is the error
"imports nested more than 256 deep" on the import line.

Module keys: a module is named by its path relative to the main module's folder,
POSIX separators, no extension (`main`, `lib/geometry`). Code refers to imports
by the spec as written (`"./geometry"`); the VM resolves a spec against the
importing module's key with `resolve_spec` (through lang/loader.py), so a
bundle is position independent and a `.tvm` file can be imported like a source
file.

Reading an import: only through the compilation's `SourceSet`
(lang/sources.py), the host's import policy -- by default the main file's
folder and below; a file it does not offer is the error `cannot import
"../x": outside the program's folder` at the import, whether or not the file
exists. So no import reads, nor shows in a message, a file the host did not
offer.

Finding an import `./x`: the importer's own extensions first, then `x.tvm`,
then the other languages' extensions in `Languages` order (TinyLang importing
`./shapes` finds `shapes.tl`, else `shapes.tvm`, else `shapes.lox`). A spec
that names another language's extension (`./shapes.lox`) finds only that file.
"""

from __future__ import annotations

import os
import posixpath
import sys
from typing import Iterable

from ..bytecode.code import LANGS, Bundle, LoadError, is_file_spec
from .nesting import MAX_IMPORT_NESTING, recursion_room
from .diagnostics import CompileError, Diagnostic
from .frontend import CompiledModule, FrontEnd, ImportFailure, ModuleInfo, ReplCompiler, ReplEntry
from .sources import DirectorySources, SourceDenied, SourceSet

TVM_EXT = ".tvm"  # a compiled bundle: importable like a source file
# Python frames from one module's compile_file to the next one's (the front
# end's compile_module, its import loading, Compilation.load), with a margin.
_FRAMES_PER_IMPORT = 40


# --------------------------------------------------------------------------- languages


class Languages:
    """The front ends a compilation may use: an immutable set, ordered with the
    default language first, then by name."""

    def __init__(self, frontends: Iterable[FrontEnd]) -> None:
        fes = sorted(frontends, key=lambda f: (not f.default, f.name))
        names = [f.name for f in fes]
        exts = [e for f in fes for e in f.extensions]
        if len(set(names)) != len(names):
            raise ValueError(f"two front ends share a name: {names}")
        if len(set(exts)) != len(exts) or TVM_EXT in exts:
            raise ValueError(f"two front ends claim the same extension (or {TVM_EXT}): {exts}")
        if sum(f.default for f in fes) != 1:
            raise ValueError("exactly one front end must be the default (FrontEnd.default)")
        for f in fes:
            if not f.name or not f.extensions or f.dialect not in LANGS:
                raise ValueError(f"front end {f.name!r}: needs a name, extensions and a dialect among {LANGS}")
        self.frontends: tuple[FrontEnd, ...] = tuple(fes)
        self._by_ext = {e: f for f in fes for e in f.extensions}

    @classmethod
    def default(cls) -> "Languages":
        """The front ends of this package (`lang/<language>/`), found once."""
        global _BUILTIN
        if _BUILTIN is None:
            _BUILTIN = cls(_discover())
        return _BUILTIN

    def add(self, frontend: FrontEnd) -> "Languages":
        """These front ends and one more."""
        return Languages(self.frontends + (frontend,))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.frontends)

    @property
    def default_frontend(self) -> FrontEnd:
        return self.frontends[0]

    def get(self, name: str) -> FrontEnd | None:
        for f in self.frontends:
            if f.name == name:
                return f
        return None

    def for_extension(self, ext: str) -> FrontEnd | None:
        return self._by_ext.get(ext)

    def for_path(self, path: str) -> FrontEnd:
        """The front end of a source file: by extension, else the default."""
        return self._by_ext.get(os.path.splitext(path)[1]) or self.frontends[0]

    def select(self, path: str, lang: str | None = None) -> FrontEnd:
        """The front end named `lang`, or else that of `path`."""
        if lang is None:
            return self.for_path(path)
        fe = self.get(lang)
        if fe is None:
            raise ValueError(f"unknown language {lang!r}")
        return fe

    def for_dialect(self, dialect: str) -> FrontEnd:
        """The front end that reports on code of `dialect` (a `.tvm` module's
        `lang`): the language of that name, else the first that emits it,
        else the default."""
        fe = self.get(dialect)
        if fe is not None and fe.dialect == dialect:
            return fe
        for f in self.frontends:
            if f.dialect == dialect:
                return f
        return self.frontends[0]

    def import_order(self, importer: FrontEnd) -> tuple[str, ...]:
        """Extensions tried, in order, for an import without one."""
        others = tuple(e for f in self.frontends if f is not importer for e in f.extensions)
        return importer.extensions + (TVM_EXT,) + others

    @property
    def extensions(self) -> tuple[str, ...]:
        """Every extension an import spec may carry (stripped from module keys)."""
        return self.import_order(self.frontends[0])


_BUILTIN: Languages | None = None


def _discover() -> list[FrontEnd]:
    """`FRONTEND` of every subpackage of this package: a folder with an
    `__init__.py`. (Listed with os.scandir and imported with __import__: every
    `tvm run` does this, and pkgutil and importlib cost more than the work.)"""
    found = []
    for folder in sys.modules[__package__].__path__:
        with os.scandir(folder) as entries:
            names = sorted(e.name for e in entries if e.is_dir() and os.path.isfile(os.path.join(e.path, "__init__.py")))
        for name in names:
            module = f"{__package__}.{name}"
            __import__(module)
            frontend = getattr(sys.modules[module], "FRONTEND", None)
            if isinstance(frontend, FrontEnd):
                found.append(frontend)
    return found


# --------------------------------------------------------------------------- files and keys


def read_source(path: str) -> str:
    """The text of a source file; its problems are compile errors."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CompileError([Diagnostic(path, 1, 1, f"cannot read file: {e.strerror or e}")])
    return decode_source(data, path)


def decode_source(data: bytes, path: str) -> str:
    """Source text from its bytes (UTF-8); bytes that are not UTF-8 are a
    compile error at their line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise CompileError([Diagnostic(path, line, col, "source is not valid UTF-8")])


def resolve_spec(importer_key: str, spec: str, extensions: tuple[str, ...]) -> str:
    """Module key for import `spec` written in module `importer_key`; a spec
    that is not a path is a standard module's name, its own key."""
    if not is_file_spec(spec):
        return spec  # a standard module
    for ext in extensions:
        if spec.endswith(ext):
            spec = spec[: -len(ext)]
    return posixpath.normpath(posixpath.join(posixpath.dirname(importer_key), spec))


# --------------------------------------------------------------------------- compiling


class _Context:
    """One module's `ModuleContext` (lang/frontend.py)."""

    __slots__ = ("comp", "frontend", "key", "path", "check_only", "privileged")

    def __init__(self, comp: "Compilation", frontend: FrontEnd, key: str, path: str, privileged: bool = False) -> None:
        self.comp = comp
        self.frontend = frontend
        self.key = key
        self.path = path
        self.check_only = comp.check_only
        self.privileged = privileged

    def load(self, spec: str) -> ModuleInfo | None:
        return self.comp.load(self.key, self.frontend, spec)

    def resolve(self, spec: str) -> str:
        return resolve_spec(self.key, spec, self.comp.languages.extensions)


class Compilation:
    """The state of compiling one program (or one REPL session): the bundle so
    far, every diagnostic and source text, and the interfaces of the modules
    compiled (cached by key)."""

    def __init__(
        self,
        base_dir: str,
        main_path: str,
        bundle: Bundle,
        languages: Languages,
        check_only: bool = False,
        source_set: SourceSet | None = None,
    ) -> None:
        # Where imports are read (lang/sources.py): by default `base_dir` and below.
        self.source_set: SourceSet = source_set if source_set is not None else DirectorySources(base_dir)
        self.main_path = main_path
        self.bundle = bundle
        self.languages = languages
        self.check_only = check_only
        self.diagnostics: list[Diagnostic] = []
        self.sources: dict[str, str] = {}
        # key -> (interface, the front end that compiled it; None for a .tvm)
        self.infos: dict[str, tuple[ModuleInfo, FrontEnd | None]] = {}
        # key -> (what importers of a module that failed get, its front end):
        # its errors are reported once, however many modules import it.
        self.failed: dict[str, tuple[ModuleInfo | None, FrontEnd | None]] = {}
        self.stack: list[tuple[str, str]] = []  # (key, extension) being compiled: the cycle check
        # (module key, message): a cycle found deeper in the DFS, reported on the
        # import line of the module where the cycle starts once the DFS is back there.
        self.pending_cycle: tuple[str, str] | None = None

    def forget_failures(self) -> None:
        """Start a new round of errors: a REPL entry reports its own, and
        compiles again a file that failed before (the user may have fixed it)."""
        self.diagnostics = []
        self.failed = {}
        self.pending_cycle = None

    def context(self, key: str, path: str, frontend: FrontEnd, privileged: bool = False) -> _Context:
        return _Context(self, frontend, key, path, privileged)

    def display(self, key: str, ext: str) -> str:
        """The path shown for module `key` found with extension `ext`."""
        if key == self.bundle.main:
            return self.main_path
        return os.path.normpath(os.path.join(os.path.dirname(self.main_path), key + ext))

    def compile_file(self, key: str, path: str, source: str, frontend: FrontEnd, ext: str) -> CompiledModule:
        self.sources[path] = source
        self.stack.append((key, ext))
        try:
            # Room for the driver's frames down to the next level of imports
            # (the front end's passes make their own room).
            with recursion_room(_FRAMES_PER_IMPORT):
                result = frontend.compile_module(source, self.context(key, path, frontend))
        finally:
            self.stack.pop()
        if result.code is not None:
            self.bundle.modules[key] = result.code
        if not result.diagnostics and result.exports is not None:
            self.infos[key] = (ModuleInfo(key, result.exports), frontend)
        self.diagnostics.extend(result.diagnostics)
        return result

    def load(self, importer: str, importer_fe: FrontEnd, spec: str) -> ModuleInfo | None:
        """`ModuleContext.load` for module `importer` (see there)."""
        if not is_file_spec(spec):  # a file is named by a path, never like a standard module
            raise ImportFailure(f'the path of a file import starts with "./", "../" or "/": "{_shown(spec)}"')
        key = resolve_spec(importer, spec, self.languages.extensions)
        keys = [k for k, _ in self.stack]
        if key in keys:
            cycle = self.stack[keys.index(key) :]
            message = "import cycle: " + " -> ".join(k + e for k, e in cycle + cycle[:1])
            if key == importer:
                raise ImportFailure(message)
            self.pending_cycle = (key, message)
            return None
        if key in self.infos:
            return _visible(*self.infos[key], importer_fe)
        if key in self.failed:
            return _visible(*self.failed[key], importer_fe)
        if len(self.stack) >= MAX_IMPORT_NESTING:
            raise ImportFailure(f"imports nested more than {MAX_IMPORT_NESTING} deep")
        try:
            ext = self._find(key, spec, importer_fe)
            if ext is None:
                raise ImportFailure(f'cannot find module "{_shown(spec)}"')
            path = self.display(key, ext)
            data = self._read(key + ext, path)
            if ext != TVM_EXT and not isinstance(data, str):
                data = decode_source(data, path)
        except SourceDenied as e:
            # The same words whether or not such a file exists (lang/sources.py).
            raise ImportFailure(f'cannot import "{_shown(spec)}": {e.reason}') from None
        except CompileError as e:  # it cannot be read, or is not UTF-8
            self.diagnostics.extend(e.diagnostics)
            self.failed[key] = (None, self.languages.for_extension(ext))
            return None
        if ext == TVM_EXT:
            return self._load_tvm(key, path, data)
        frontend = self.languages.for_extension(ext)
        assert frontend is not None and isinstance(data, str)
        source = data
        result = self.compile_file(key, path, source, frontend, ext)
        if self.pending_cycle is not None and self.pending_cycle[0] == importer:
            message = self.pending_cycle[1]
            self.pending_cycle = None
            raise ImportFailure(message)
        if key in self.infos:
            return _visible(*self.infos[key], importer_fe)
        # It failed: importers see what it offers anyway (the front end's choice).
        self.failed[key] = (None if result.exports is None else ModuleInfo(key, result.exports), frontend)
        return _visible(*self.failed[key], importer_fe)

    def _read(self, file: str, path: str) -> str | bytes:
        """The content of `file` (a key and its extension) from the source
        set; shown as `path`. Raises SourceDenied, or CompileError when it
        cannot be read."""
        try:
            data = self.source_set.read(file)
        except OSError as e:
            raise CompileError([Diagnostic(path, 1, 1, f"cannot read file: {e.strerror or e}")]) from None
        if not isinstance(data, (str, bytes)):  # a host's source set got it wrong
            raise TypeError(f"{type(self.source_set).__name__}.read({file!r}) returned {type(data).__name__}, not str or bytes")
        return data

    def _find(self, key: str, spec: str, importer_fe: FrontEnd) -> str | None:
        """The extension of the file that import `spec` (module `key`) names.
        Raises SourceDenied for a key the sources do not offer."""
        order = self.languages.import_order(importer_fe)
        named = next((e for e in order if spec.endswith(e)), None)
        if named is not None and named != TVM_EXT and named not in importer_fe.extensions:
            order = (named,)  # another language's file, by name: only that one
        return next((e for e in order if self.source_set.exists(key + e)), None)

    def _load_tvm(self, key: str, path: str, data: str | bytes) -> ModuleInfo:
        """A `.tvm` import (`data`, read from `path`): its main module joins
        the bundle as `key` (whatever name it was compiled under), the modules
        it imports with keys relative to its folder."""
        from ..bytecode.tvmfile import load_bundle

        try:
            if isinstance(data, str):
                raise LoadError("not a .tvm file (text, not bytes)")
            sub = load_bundle(data)
        except LoadError as e:
            raise ImportFailure(f"cannot load {path}: {e}") from None
        prefix = posixpath.dirname(key)
        for k, m in sub.modules.items():
            self.bundle.modules.setdefault(key if k == sub.main else posixpath.normpath(posixpath.join(prefix, k)), m)
        info = ModuleInfo(key, dict.fromkeys(sub.modules[sub.main].exports))
        self.infos[key] = (info, None)
        return info


def _visible(info: ModuleInfo | None, frontend: FrontEnd | None, importer_fe: FrontEnd) -> ModuleInfo | None:
    """`info` as an importer in `importer_fe` sees it: declarations stay within a language."""
    if info is None or frontend is importer_fe:
        return info
    return ModuleInfo(info.name, dict.fromkeys(info.exports))


def compile_program(
    path: str,
    source: str | None = None,
    check_only: bool = False,
    lang: str | None = None,
    languages: Languages | None = None,
    sources: SourceSet | None = None,
) -> Bundle:
    """Compile the program whose main module is the file `path` (or `source`).
    With check_only, stop after checking (the front ends that check separately
    then emit no code). `lang` names the front end; by default the extension
    chooses. `sources`: where its imports may be read (lang/sources.py; by
    default the main file's folder and below). The main file itself, unless
    `source` is given, is read from `path`: the caller named it. Raises
    CompileError (of the main front end's kind)."""
    languages = languages or Languages.default()
    frontend = languages.select(path, lang)
    main_key = os.path.splitext(os.path.basename(path))[0]
    comp = Compilation(os.path.dirname(os.path.abspath(path)), path, Bundle(main_key), languages, check_only, sources)
    if source is None:
        source = read_source(path)
    comp.compile_file(main_key, path, source, frontend, frontend.extensions[0])
    if comp.diagnostics:
        raise frontend.compile_error(comp.diagnostics, comp.sources)
    return comp.bundle


def compile_entry(comp: Compilation, frontend: FrontEnd, repl: ReplCompiler, source: str, path: str) -> ReplEntry:
    """One entry of a growing module (the REPL's, an embedded VM's namespace),
    compiled by the front end's ReplCompiler `repl` against the entries
    before it; returns its ReplEntry. Raises CompileError with every error of
    the entry and of the files it imported (`path` names the entry's text)."""
    comp.forget_failures()
    entry, own, own_sources = None, [], {}
    try:
        entry = repl.compile(source)
    except CompileError as e:
        own, own_sources = e.diagnostics, e.sources
    if entry is None or comp.diagnostics:
        sources = dict(comp.sources)
        sources.update(own_sources)
        sources[path] = source
        raise frontend.compile_error(comp.diagnostics + own, sources)
    return entry


def _shown(spec: str) -> str:
    """An import spec as messages show it: characters a terminal would not
    print as themselves (a NUL, an escape sequence) as \\xNN or \\uNNNN."""
    if spec.isprintable():
        return spec
    return "".join(c if c.isprintable() else (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}") for c in spec)
