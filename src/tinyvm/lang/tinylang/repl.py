"""TinyLang's REPL: how an entry compiles against the session so far.

The session (cli/repl.py) runs one module, `<repl>`, that grows by one entry
at a time; this is the compile side of it (`FrontEnd.repl`, lang/frontend.py),
also used by the embedding API's namespaces (embed/namespace.py):

* An entry is compiled as a module whose globals extend those of the entries
  before it (`compile_module_ast(predeclared=...)`): definitions persist, and
  `let` stays immutable (assigning to it is a compile error).
* In the interactive session (`rebindable`, set by cli/repl.py), redefinition
  REPLACES the old binding for every caller when the new static type fits
  where the old one was expected: `fn f() { return 2 }` after
  `fn f() { return 1 }` takes over f's global slot, so a `g` compiled earlier
  that calls `f()` now gets 2. The rule is "fits": for a top-level `fn` (stored
  before the entry's first statement runs) the new type must flow into the old
  one without run-time work (`relation(new, old) == OK`: a function may take
  wider parameters or return a narrower result); for other declarations the
  types must be equal, because a declaration that a runtime error skipped
  leaves the old value in the slot. Top-level code of the redefining entry
  before the declaration still reads the old value (`let x = x + 1` works).
  Why earlier callers kept the old function before: each redeclaration got
  a new global slot, and code compiled earlier names its slot (CALL_GLOBAL
  reads the slot at each call; nothing is cached). To make rebinding safe and
  keep files fast, every global of a session is marked `Var.session`: calls
  to a session's functions are ordinary calls (the callee checks its
  parameters on entry), never `CALL_GLOBAL`, whose skipped checks, and whose
  callees the native tier compiles in, assume a binding that never changes --
  true of files, where a top-level `fn` cannot be reassigned. The embedding
  API's namespaces (`rebindable` False) keep the rule below, SHADOWING, for
  every redefinition, and CALL_GLOBAL: programs run through `VM.run_file` or
  `run_source` are as fast as files, on every tier.
* A redefinition whose type does not fit (`let x = "s"` after `let x = 1`, a
  function whose parameter types changed, any class: classes are nominal, an
  old instance is not of the new class), and outside the session every
  redefinition, SHADOWS: it gets a new slot; code compiled earlier keeps the
  binding it was checked against (as in an ML toplevel). In the session the
  entry gets a note naming the earlier functions that do.
  The entry is compiled twice to decide: once with every redeclaration
  shadowing, to learn the new types, then with the fitting ones rebound.
* Echo: when the entry's LAST statement is an expression statement, it is
  rewritten to assign a hidden global (`$value`, slot 0, not a valid
  identifier), and its static type is what the session shows after the value.
* After the entry ran (`commit`), a declaration that did not run (a runtime
  error came first) is dropped: an earlier binding of the name, if any, is
  visible again. Limitation: a function of that entry that refers to such a
  dropped global keeps raising "used before its declaration has run".
* `import "./file"` is relative to the current directory (the session's
  compilation): a module is compiled once per session.
* `type_of(expr)` is the static type of an expression in the session's scope,
  checked but neither emitted nor run (`:type`); `compile(source, echo=False,
  keep=True)` is how `:load` and `:reload` compile a file: no echo, and with
  `keep` a `let`/`var` whose name and type the session already has keeps its
  value (its initializer is replaced by the name itself, so it rebinds to its
  own value; the file is compiled once as written first, to learn the types).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from ...bytecode.code import Code
from ..diagnostics import CompileError, DiagnosticBag
from ..frontend import ModuleContext, ModuleInfo, ReplEntry
from . import ast as A
from .pipeline import compile_module_ast, load_imports, parse_source
from .scopes import GLOBAL, Var
from .types import NIL, OK, FnT, relation

VALUE = "$value"  # hidden global holding the value to echo


@dataclass(slots=True)
class _Pending:
    """What an entry changes in the session once it has run."""

    slots: list[Var]
    imports: dict[str, ModuleInfo]
    first_new: int  # slots from here on are the entry's own
    rebound: dict[int, Var] = field(default_factory=dict)  # slot -> the binding it replaced


class TinyLangRepl:
    """One session's compile side (see the module docstring)."""

    echo_slot = 0
    entry_options = True  # compile() takes echo= and keep= (cli/repl.py)
    # Redefinitions replace old bindings (the interactive session sets it);
    # False: they always shadow (the embedding API's namespaces).
    rebindable = False

    def __init__(self, ctx: ModuleContext) -> None:
        self.ctx = ctx
        # Global slots so far, in slot order; slot 0 is the echo value. A slot
        # whose binding is gone (shadowed, or its declaration never ran) holds a
        # placeholder Var whose name no identifier can match.
        self.slots: list[Var] = [Var(VALUE, True, GLOBAL, 0, None)]
        self.imports: dict[str, ModuleInfo] = {}  # import spec -> exports, for the resolver
        # Global slot -> names of the session's functions whose code reads or
        # calls it (for the note when a redefinition has to shadow).
        self.users: dict[int, set[str]] = {}

    # ------------------------------------------------------------------ compiling

    def compile(self, source: str, echo: bool = True, keep: bool = False) -> ReplEntry:
        path = self.ctx.path
        bag = DiagnosticBag(path, source)
        mod = parse_source(source, path, bag)
        if bag:
            raise CompileError(bag.items, {path: source})
        imports, keys = load_imports(mod, self.ctx, bag, self.imports)
        if bag:
            # A failed import is reported with the entry's other errors, as
            # compile_module does for files: the rest is checked (not emitted,
            # nothing is bound), the failed module's names being `any`.
            compile_module_ast(mod, path, source, bag, imports, tuple(keys), predeclared=list(self.slots), emit=False, session=self.rebindable)
            raise CompileError(bag.items, {path: source})
        visible = self._visible()
        kept: frozenset[str] = frozenset()
        if keep:
            candidates = self._keepable(mod, visible)
            if candidates:
                # The file as written, to learn its variables' types: a value
                # is kept only where the type is the same.
                _, slots = self._emit(mod, source, imports, keys, echo, frozenset())
                kept = frozenset(v.name for v in slots[len(self.slots) :] if v.name in candidates and v.ty == visible[v.name].ty)
                mod = parse_source(source, path, DiagnosticBag(path, source))
                self._keep_values(mod, kept)
        return self._compile(mod, source, imports, keys, echo, visible, kept)

    def _compile(self, mod: A.Module, source: str, imports: dict, keys: list[str], echo: bool, visible: dict[str, Var], kept: frozenset[str] = frozenset()) -> ReplEntry:
        path = self.ctx.path
        entry, slots = self._emit(mod, source, imports, keys, echo, frozenset())
        if not self.rebindable:
            return entry
        # Redeclared names whose new type fits the old binding take over its slot.
        rebind = {}
        for v in slots[len(self.slots) :]:
            old = visible.get(v.name)
            if old is not None and _fits(v, old):
                rebind[v.name] = old
        notes = self._shadow_notes(slots[len(self.slots) :], visible, rebind)
        if rebind:
            # (The first pass annotated its tree: the second compiles a new parse.)
            mod2 = parse_source(source, path, DiagnosticBag(path, source))
            self._keep_values(mod2, kept)
            try:
                entry, slots = self._emit(mod2, source, imports, keys, echo, frozenset(rebind))
            except CompileError:
                rebind = {}  # (cannot happen: the types were the same) shadow as the first pass did
        state: _Pending = entry.state
        state.rebound = {old.index: old for old in rebind.values()}
        entry.notes = notes
        return entry

    def _emit(self, mod: A.Module, source: str, imports: dict, keys: list[str], echo: bool, rebind: frozenset[str]) -> tuple[ReplEntry, list[Var]]:
        path = self.ctx.path
        bag = DiagnosticBag(path, source)
        slots = list(self.slots)
        echo_expr = None
        last = mod.body[-1] if mod.body else None
        if echo and isinstance(last, A.ExprStmt):
            # `expr` -> `$value = expr`: the entry leaves its value in slot 0.
            mod.body[-1] = A.Assign(last.line, last.col, A.Name(last.line, last.col, VALUE), "=", last.expr)
            echo_expr = last.expr
        code = compile_module_ast(mod, path, source, bag, imports, tuple(keys), predeclared=slots, rebind=rebind, session=self.rebindable)
        if code is None:
            raise CompileError(bag.items, {path: source})
        shown = str(echo_expr.ty or "any") if echo_expr is not None else None
        return ReplEntry(code, shown, _Pending(slots, imports, len(self.slots))), slots

    def _visible(self) -> dict[str, Var]:
        """Name -> the binding an entry sees (the last slot of that name)."""
        return {v.name: v for v in self.slots if v.name.isidentifier()}

    @staticmethod
    def _keepable(mod: A.Module, visible: dict[str, Var]) -> frozenset[str]:
        """`:reload`: the top-level `let`/`var`s of `mod` that may keep the
        value of the session's variable of the same name."""
        out = set()
        for s in mod.body:
            old = visible.get(s.name) if isinstance(s, A.VarDecl) else None
            if old is not None and s.init is not None and isinstance(old.decl, A.VarDecl):
                out.add(s.name)
        return frozenset(out)

    @staticmethod
    def _keep_values(mod: A.Module, names: frozenset[str]) -> None:
        """Each top-level `let`/`var` named in `names` gets the name itself as
        its initializer: it rebinds to the value the session has."""
        for s in mod.body:
            if isinstance(s, A.VarDecl) and s.name in names and s.init is not None:
                s.init = A.Name(s.init.line, s.init.col, s.name)

    def _shadow_notes(self, new: list[Var], visible: dict[str, Var], rebind: dict[str, Var]) -> list[str]:
        notes = []
        declared = {v.name for v in new}
        for v in new:
            old = visible.get(v.name)
            if old is None or v.name in rebind:
                continue
            # (Functions this entry redefines too are not "earlier" ones.)
            users = sorted(n for n in self.users.get(old.index, ()) if _owner_name(n) not in declared)
            if users:
                who = ", ".join(users)
                keep = f"{who} still use{'s' if len(users) == 1 else ''} the old one (redefine {'it' if len(users) == 1 else 'them'} to use the new one)"
                if v.is_class and old.is_class:
                    notes.append(f"note: '{v.name}' is a new class (classes are nominal): {keep}")
                else:
                    notes.append(f"note: '{v.name}' is now {v.ty} (was {old.ty or 'any'}), a new binding: {keep}")
        return notes

    def type_of(self, source: str) -> str:
        """The static type of expression `source` in the session's scope,
        checked but not run (`:type`). Raises CompileError."""
        path = self.ctx.path
        bag = DiagnosticBag(path, source)
        mod = parse_source(source, path, bag)
        if not bag and not (len(mod.body) == 1 and isinstance(mod.body[0], A.ExprStmt)):
            bag.error(mod.body[0].line if mod.body else 1, mod.body[0].col if mod.body else 1, "':type' takes one expression")
        if not bag:
            expr = mod.body[0].expr
            # (No imports are loaded: an expression cannot import.)
            compile_module_ast(mod, path, source, bag, self.imports, predeclared=list(self.slots), emit=False, session=self.rebindable)
        if bag:
            raise CompileError(bag.items, {path: source})
        return str(expr.ty or "any")

    # ------------------------------------------------------------------ the session

    def declare(self, name: str, ty: object) -> int:
        """Declare a global set by the host (the embedding API's namespace:
        a host function, `vm.globals[name] = v`) with static type `ty`; a
        binding of the same name is shadowed. Returns its new slot."""
        latest = {v.name: i for i, v in enumerate(self.slots)}
        j = latest.get(name)
        if j is not None:
            old = self.slots[j]
            self.slots[j] = Var(f"<shadowed {old.name}>", False, old.kind, j, None)
        slot = len(self.slots)
        self.slots.append(Var(name, True, GLOBAL, slot, None, ty=ty))
        return slot

    def global_type(self, name: str) -> object:
        """The static type of global `name` (None: not a global, or unknown)."""
        for v in reversed(self.slots):
            if v.name == name:
                return v.ty
        return None

    def commit(self, entry: ReplEntry, defined: Sequence[bool]) -> tuple[str, ...]:
        pending: _Pending = entry.state
        slots = pending.slots
        latest: dict[str, int] = {}
        for i, v in enumerate(slots):
            if i >= pending.first_new and (i >= len(defined) or not defined[i]):
                # Its declaration never ran (a runtime error came first): drop it.
                slots[i] = Var(f"<unset {v.name}>", False, v.kind, i, None)
                continue
            j = latest.get(v.name)
            if j is not None:  # redeclared by a later slot: the old one is shadowed
                old = slots[j]
                slots[j] = Var(f"<shadowed {old.name}>", False, old.kind, j, None)
            latest[v.name] = i
        # Names (re)declared by the entry no longer use what their old code used.
        redeclared = {v.name for i, v in enumerate(slots) if i >= pending.first_new or i in pending.rebound}
        for names in self.users.values():
            names -= {n for n in names if _owner_name(n) in redeclared}
        for owner, codes in _functions(entry.code.init) if self.rebindable else ():
            for c in codes:
                for g in _globals_used(c):
                    self.users.setdefault(g, set()).add(owner)
        self.slots = slots
        self.imports = pending.imports
        return tuple(v.name for v in slots)


def _fits(new: Var, old: Var) -> bool:
    """May `new` take over `old`'s slot (see the module docstring)?"""
    if old.ty is None or new.ty is None or old.is_import or new.is_import:
        return False
    if old.is_class or new.is_class:
        return False  # nominal: an instance of the old class is not one of the new
    if new.is_fn:
        if isinstance(old.ty, FnT) and old.ty.ret is NIL and isinstance(new.ty, FnT) and new.ty.ret is not NIL:
            return False  # (relation lets any result flow into a nil one: callers typed it nil)
        return relation(new.ty, old.ty) == OK
    return new.ty == old.ty


def _functions(init: Code) -> list[tuple[str, list[Code]]]:
    """The functions a module's code makes at its top level (functions,
    methods, lambdas), each with the code nested in it, named as a note shows
    them."""
    out = []
    for k in init.consts:
        if type(k) is not Code:
            continue
        codes, stack = [], [k]
        while stack:
            c = stack.pop()
            codes.append(c)
            stack.extend(n for n in c.consts if type(n) is Code)
        name = k.name
        if name.endswith(".$fields"):
            name = f"the field defaults of {name[: -len('.$fields')]}"
        elif not name.replace(".", "_").isidentifier():
            name = "a lambda"
        out.append((name, codes))
    return out


def _owner_name(shown: str) -> str:
    """The global a user of `_functions` belongs to: `A.m` and `the field
    defaults of A` to A."""
    if shown.startswith("the field defaults of "):
        return shown[len("the field defaults of ") :]
    return shown.split(".", 1)[0]


def _globals_used(code: Code) -> set[int]:
    from ...bytecode.disasm import instructions
    from ...bytecode.opcodes import GLOBAL as GLOBAL_OPERAND
    from ...bytecode.opcodes import OPCODES

    out = set()
    for ins in instructions(code):
        if 0 <= ins.opcode < len(OPCODES):
            for kind, v in zip(OPCODES[ins.opcode].operands, ins.operands):
                if kind == GLOBAL_OPERAND:
                    out.add(v)
    return out
