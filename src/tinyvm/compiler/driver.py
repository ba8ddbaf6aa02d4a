"""The compiler driver: source files in, a `Bundle` of verified-ready modules out.

Pipeline per module: parse -> resolve -> check types -> emit (-> assemble,
inside emit). `check_program` stops after the checker (`tvm check`).
Imports are compiled first, depth first, so the resolver knows what each
imported module exports. Every module's errors are collected; one
`CompileError` carries all of them.

Module keys: a module is named by its path relative to the main module's folder,
POSIX separators, no extension (`main`, `lib/geometry`). Code refers to imports
by the spec as written (`"./geometry"`); the VM resolves a spec against the
importing module's key with `resolve_spec`, so a bundle is position independent
and a `.tvm` file can be imported like a `.tl` file (`.tl` is preferred when
both exist).

Lox: a program whose main file ends in `.lox` (or compiled with lang="lox")
is compiled by the Lox front end (lox/compiler.py), imported lazily so that
TinyLang programs never load it. A TinyLang module may import a Lox file:
`import "./shapes.lox" as shapes` (a spec without extension finds
`shapes.lox` when there is neither `shapes.tl` nor `shapes.tvm`). Its exports
are the globals it declares at top level, all of type `any` for the checker.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from dataclasses import dataclass, field

from ..bytecode.code import Bundle, ModuleCode
from ..diagnostics import CompileError, Diagnostic, DiagnosticBag
from ..syntax import ast as A
from ..sema.checker import check_module
from ..sema.resolver import ModuleInfo, Resolver
from ..sema.scopes import Var
from .emitter import ModuleEmitter

# Standard modules and their exported names (the VM builds the values).
STD_MODULES: dict[str, tuple[str, ...]] = {
    "math": ("pi", "e", "inf", "nan", "sqrt", "sin", "cos", "tan", "atan2", "exp", "log", "pow", "floor", "ceil"),
    "time": ("now_ms", "monotonic_ms"),
    "json": ("parse", "stringify"),
    "random": ("seed", "int", "float"),
    "fs": ("read_text", "write_text", "exists", "list_dir"),
    "os": ("args", "env", "exit"),
    "net": ("listen", "connect"),
}


def resolve_spec(importer_key: str, spec: str) -> str:
    """Module key for import `spec` written in module `importer_key`."""
    if not (spec.startswith("./") or spec.startswith("../") or spec.startswith("/")):
        return spec  # a standard module
    for ext in (".tl", ".tvm", ".lox"):
        if spec.endswith(ext):
            spec = spec[: -len(ext)]
    return posixpath.normpath(posixpath.join(posixpath.dirname(importer_key), spec))


def source_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Compilation:
    """State of one `compile_program` run."""

    base_dir: str
    main_path: str
    bundle: Bundle
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    infos: dict[str, ModuleInfo] = field(default_factory=dict)  # key -> exports
    stack: list[str] = field(default_factory=list)  # keys being compiled (cycle check)
    # (module key, message): a cycle found deeper in the DFS, reported on the
    # import line of the module where the cycle starts once the DFS is back there.
    pending_cycle: tuple[str, str] | None = None
    check_only: bool = False

    def display(self, key: str) -> str:
        if key == self.bundle.main:
            return self.main_path
        return os.path.normpath(os.path.join(os.path.dirname(self.main_path), key + ".tl"))


def parse_source(source: str, path: str, bag: DiagnosticBag) -> A.Module:
    from ..syntax.parser import parse

    return parse(source, path, bag)


def compile_module_ast(
    mod: A.Module,
    path: str,
    source: str,
    bag: DiagnosticBag,
    imports: dict[str, ModuleInfo],
    import_keys: tuple[str, ...] = (),
    allow_private: bool = False,
    predeclared: list[Var] | None = None,
    emit: bool = True,
) -> ModuleCode | None:
    """Resolve, check and emit one parsed module; None when errors were
    reported (or when `emit` is False: `tvm check` stops after the checker).

    `predeclared` (the REPL): globals already declared by earlier entries, in
    slot order (see Resolver); the module's globals extend them. On success the
    module's own new globals are appended to that list, ready for the next entry.
    """
    resolver = Resolver(bag, imports, allow_private, predeclared or ())
    scope = resolver.resolve_module(mod)
    # The checker copes with what the resolver could not resolve (its type is
    # `any`), so that type errors are reported along with scope errors.
    check_module(mod, scope, bag, imports, resolver.globals)
    if bag or not emit:
        return None  # the emitter relies on a fully resolved, checked tree
    init = ModuleEmitter(path, bag).module_code(mod, scope)
    if bag:
        return None
    if predeclared is not None:
        predeclared.extend(resolver.globals[len(predeclared) :])
    exports = tuple(v.name for v in resolver.globals if getattr(v.decl, "exported", False) and not v.is_import)
    return ModuleCode(
        path=path,
        source_hash=source_hash(source),
        globals=tuple(v.name for v in resolver.globals),
        exports=exports,
        imports=import_keys,
        init=init,
    )


def exported_decls(mod: A.Module) -> dict[str, A.Stmt | None]:
    out: dict[str, A.Stmt | None] = {}
    for s in mod.body:
        if isinstance(s, (A.VarDecl, A.FnDecl, A.ClassDecl)) and s.exported:
            out[s.name] = s
    return out


def compile_program(path: str, source: str | None = None, check_only: bool = False, lang: str | None = None) -> Bundle:
    """Compile the program whose main module is the file `path` (or `source`).
    With check_only, stop after the type checker: the bundle stays empty.
    `lang` ("tinylang" or "lox") forces the front end; by default a `.lox`
    file is Lox (which has no separate checking pass: check_only compiles)."""
    if lang is None:
        lang = "lox" if path.endswith(".lox") else "tinylang"
    if lang == "lox":
        from ..lox.compiler import compile_lox_program

        return compile_lox_program(path, source)
    if lang != "tinylang":
        raise ValueError(f"unknown language {lang!r}")
    base_dir = os.path.dirname(os.path.abspath(path))
    main_key = os.path.splitext(os.path.basename(path))[0]
    comp = Compilation(base_dir, path, Bundle(main_key), check_only=check_only)
    if source is None:
        source = read_source(path)
    _compile_file(comp, main_key, path, source)
    if comp.diagnostics:
        raise CompileError(comp.diagnostics, comp.sources)
    return comp.bundle


def read_source(path: str) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CompileError([Diagnostic(path, 1, 1, f"cannot read file: {e.strerror or e}")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise CompileError([Diagnostic(path, line, col, "source is not valid UTF-8")])


def _compile_file(comp: Compilation, key: str, display: str, source: str) -> None:
    comp.sources[display] = source
    bag = DiagnosticBag(display, source)
    mod = parse_source(source, display, bag)
    comp.stack.append(key)
    imports: dict[str, ModuleInfo] = {}
    import_keys: list[str] = []
    for s in mod.body:
        if not isinstance(s, (A.Import, A.FromImport)):
            continue
        info = _import(comp, key, s, bag)
        if info is not None:
            imports[s.path] = info
            import_keys.append(resolve_spec(key, s.path))
    comp.stack.pop()
    if not bag:
        code = compile_module_ast(mod, display, source, bag, imports, tuple(import_keys), emit=not comp.check_only)
        if code is not None:
            comp.bundle.modules[key] = code
        if not bag:
            comp.infos[key] = ModuleInfo(key, exported_decls(mod))
    comp.diagnostics.extend(bag.items)


def _import(comp: Compilation, importer: str, s: A.Import | A.FromImport, bag: DiagnosticBag) -> ModuleInfo | None:
    spec = s.path
    if not s.is_file:
        names = STD_MODULES.get(spec)
        if names is None:
            bag.error(s.line, s.col, f'cannot find module "{spec}"')
            return None
        return ModuleInfo(spec, {n: None for n in names})
    key = resolve_spec(importer, spec)
    if key in comp.stack:
        cycle = comp.stack[comp.stack.index(key) :] + [key]
        message = "import cycle: " + " -> ".join(k + ".tl" for k in cycle)
        if key == importer:
            bag.error(s.line, s.col, message)
        else:
            comp.pending_cycle = (key, message)
        return None
    if key in comp.infos:
        return comp.infos[key]
    base = os.path.join(comp.base_dir, *key.split("/"))
    display = comp.display(key)
    explicit_lox = spec.endswith(".lox")
    if explicit_lox or not (os.path.isfile(base + ".tl") or os.path.isfile(base + ".tvm")):
        if os.path.isfile(base + ".lox"):
            return _import_lox(comp, key, base + ".lox", bag)
        if explicit_lox:
            bag.error(s.line, s.col, f'cannot find module "{spec}"')
            return None
    if os.path.isfile(base + ".tl"):
        try:
            source = read_source(display if os.path.isfile(display) else base + ".tl")
        except CompileError as e:
            comp.diagnostics.extend(e.diagnostics)
            return None
        _compile_file(comp, key, display, source)
        if comp.pending_cycle is not None and comp.pending_cycle[0] == importer:
            bag.error(s.line, s.col, comp.pending_cycle[1])
            comp.pending_cycle = None
        return comp.infos.get(key) or ModuleInfo(key, {})
    if os.path.isfile(base + ".tvm"):
        return _import_tvm(comp, key, base + ".tvm", s, bag)
    bag.error(s.line, s.col, f'cannot find module "{spec}"')
    return None


def _import_lox(comp: Compilation, key: str, file: str, bag: DiagnosticBag) -> ModuleInfo | None:
    """Compile an imported Lox file; its errors join the program's."""
    from ..lox.compiler import compile_lox_module

    display = os.path.normpath(os.path.join(os.path.dirname(comp.main_path), key + ".lox"))
    try:
        source = read_source(display if os.path.isfile(display) else file)
        comp.sources[display] = source
        code = compile_lox_module(source, display)
    except CompileError as e:
        comp.diagnostics.extend(e.diagnostics)
        comp.sources.update(e.sources)
        return None
    comp.bundle.modules[key] = code
    info = ModuleInfo(key, {n: None for n in code.exports})
    comp.infos[key] = info
    return info


def _import_tvm(comp: Compilation, key: str, file: str, s: A.Node, bag: DiagnosticBag) -> ModuleInfo | None:
    from ..bytecode.tvmfile import read_file
    from ..vm.errors import LoadError

    try:
        sub = read_file(file)
    except LoadError as e:
        bag.error(s.line, s.col, f"cannot load {file}: {e}")
        return None
    prefix = posixpath.dirname(key)
    for k, m in sub.modules.items():
        comp.bundle.modules.setdefault(posixpath.normpath(posixpath.join(prefix, k)), m)
    main = sub.modules[sub.main]
    info = ModuleInfo(key, {n: None for n in main.exports})
    comp.infos[key] = info
    return info
