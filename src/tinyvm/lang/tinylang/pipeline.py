"""TinyLang's pipeline for one module: parse -> imports -> resolve -> check -> emit.

`compile_module(source, ctx)` is the front end's `FrontEnd.compile_module`
(lang/frontend.py). Imports are loaded first, through the driver
(`ctx.load`), so the resolver and the checker know what each imported module
exports; the standard modules' exports are known here, with their types, from
signatures.py. The resolver and the checker run on every module, the
checker even when the resolver reported errors (an unresolved name is `any`),
so one run reports both kinds (also after an import failed: its names are
`any`); then definite assignment (definite.py); the emitter runs only on an
error-free module,
and not at all under `ctx.check_only` (`tvm check`).

A module with errors exports nothing its importers can use: they see an
empty module (and report what they use from it).

Each pass runs through `nesting.run_pass`, with the Python stack room that
the parser's nesting limit bounds it to (lang/nesting.py); a pass that still
overflows reports "code nested too deeply to compile" and the module stops
there.
"""

from __future__ import annotations

from ...bytecode.code import ModuleCode, source_hash
from ..diagnostics import DiagnosticBag
from ..frontend import CompiledModule, ImportFailure, ModuleContext, ModuleInfo
from ..nesting import run_pass
from . import ast as A
from . import definite
from . import signatures as S
from .checker import INFER_FRAMES, Checker
from .emitter import ModuleEmitter
from .parser import MAX_DEPTH
from .resolver import Resolver
from .scopes import Var

# Python frames a semantic pass takes per level of nesting of the tree, at
# most (the emitter's nested array literal: expr, e_ArrayLit, arg, value; a
# function body costs a few more, but functions nest at most 64 deep).
FRAMES_PER_LEVEL = 8

# Standard modules and their exported names, in order (the VM builds the values:
# stdlib/; a test checks that the two agree).
STD_MODULES: dict[str, tuple[str, ...]] = {name: tuple(n for n, _ in mt.exports) for name, mt in S.STD_MODULE_TYPES.items()}


def parse_source(source: str, path: str, bag: DiagnosticBag) -> A.Module:
    from .parser import parse

    return parse(source, path, bag)


def load_imports(mod: A.Module, ctx: ModuleContext, bag: DiagnosticBag, known: dict[str, ModuleInfo] | None = None) -> tuple[dict[str, ModuleInfo], list[str]]:
    """The modules `mod` imports, by spec as written (on top of `known`, the
    REPL's earlier entries'), and their keys in order; problems go to `bag`."""
    imports = dict(known or {})
    keys: list[str] = []
    for s in mod.body:
        if not isinstance(s, (A.Import, A.FromImport)):
            continue
        if not s.is_file:
            names = STD_MODULES.get(s.path)
            if names is None:
                bag.error(s.line, s.col, f'cannot find module "{s.path}"')
                continue
            info: ModuleInfo | None = ModuleInfo(s.path, dict.fromkeys(names))
        else:
            try:
                info = ctx.load(s.path)
            except ImportFailure as e:
                bag.error(s.line, s.col, str(e))
                continue
        if info is not None:
            imports[s.path] = info
            keys.append(ctx.resolve(s.path))
    return imports, keys


def compile_module(source: str, ctx: ModuleContext) -> CompiledModule:
    """A TinyLang source file -> its module code and its exported declarations."""
    bag = DiagnosticBag(ctx.path, source)
    mod = parse_source(source, ctx.path, bag)
    parsed = not bag
    imports, keys = load_imports(mod, ctx, bag)
    code = None
    # An import that failed is reported, and the rest of the file is still
    # checked (the failed module's names are `any`, so nothing cascades).
    if parsed:
        code = compile_module_ast(mod, ctx.path, source, bag, imports, tuple(keys), allow_private=ctx.privileged, emit=not ctx.check_only)
    exports = exported_decls(mod) if not bag else {}
    return CompiledModule(code, exports, bag.items)


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
    rebind: frozenset[str] = frozenset(),
    session: bool = False,
) -> ModuleCode | None:
    """Resolve, check and emit one parsed module; None when errors were
    reported (or when `emit` is False: `tvm check` stops after the checker).

    `predeclared` (the REPL): globals already declared by earlier entries, in
    slot order (see Resolver); the module's globals extend them. On success the
    module's own new globals are appended to that list (a redeclared name in
    `rebind` replaces the old binding in its slot), ready for the next entry.
    `session`: the module is an interactive REPL session's, whose globals may
    be rebound by later entries (lang/tinylang/repl.py).
    """
    room = FRAMES_PER_LEVEL * MAX_DEPTH
    resolver = Resolver(bag, imports, allow_private, predeclared or (), session=session, rebind=rebind)
    ok, scope = run_pass(bag, room, _where(resolver, mod), resolver.resolve_module, mod)
    if not ok:
        return None  # a partly resolved tree cannot be checked
    # The checker copes with what the resolver could not resolve (its type is
    # `any`), so that type errors are reported along with scope errors.
    checker = Checker(bag, imports, resolver.globals)
    checker.shadowed = frozenset(resolver.shadowed)
    run_pass(bag, room + INFER_FRAMES, _where(checker, mod), checker.check_module, mod, scope)
    run_pass(bag, room, lambda: (mod.line, mod.col), definite.check_module, mod, bag)
    if bag or not emit:
        return None  # the emitter relies on a fully resolved, checked tree
    emitter = ModuleEmitter(path, bag)
    ok, init = run_pass(bag, room, _where(emitter, mod), emitter.module_code, mod, scope)
    if bag or init is None:
        return None
    if predeclared is not None:
        predeclared[:] = resolver.globals
    exports = tuple(v.name for v in resolver.globals if getattr(v.decl, "exported", False) and not v.is_import)
    return ModuleCode(
        path=path,
        source_hash=source_hash(source),
        globals=tuple(v.name for v in resolver.globals),
        exports=exports,
        imports=import_keys,
        init=init,
    )


def _where(pass_: Resolver | Checker | ModuleEmitter, mod: A.Module):
    """Where a pass is (the statement it was at), for run_pass's report."""

    def where() -> tuple[int, int]:
        node = pass_.where
        return (node.line, node.col) if node is not None else (mod.line, mod.col)

    return where


def exported_decls(mod: A.Module) -> dict[str, A.Stmt | None]:
    out: dict[str, A.Stmt | None] = {}
    for s in mod.body:
        if isinstance(s, (A.VarDecl, A.FnDecl, A.ClassDecl)) and s.exported:
            out[s.name] = s
    return out
