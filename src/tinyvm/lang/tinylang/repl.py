"""TinyLang's REPL: how an entry compiles against the session so far.

The session (cli/repl.py) runs one module, `<repl>`, that grows by one entry
at a time; this is the compile side of it (`FrontEnd.repl`, lang/frontend.py):

* An entry is compiled as a module whose globals extend those of the entries
  before it (`compile_module_ast(predeclared=...)`): definitions persist, and
  `let` stays immutable (assigning to it is a compile error).
* Redefinition is allowed and SHADOWS: `let x = 2` after `let x = 1` makes a new
  binding (a new global slot). Code compiled earlier (a function that reads `x`)
  keeps the binding it was compiled against, as in an ML toplevel; top-level
  code of the redefining entry before the new declaration still sees the old
  binding (`let x = x + 1` works). This keeps every earlier function's view of
  its globals as a file would give it: a `let` it read never changes under it.
* Echo: when the entry's LAST statement is an expression statement, it is
  rewritten to assign a hidden global (`$value`, slot 0, not a valid
  identifier), and its static type is what the session shows after the value.
* After the entry ran (`commit`), a declaration that did not run (a runtime
  error came first) is dropped: an earlier binding of the name, if any, is
  visible again. Limitation: a function of that entry that refers to such a
  dropped global keeps raising "used before its declaration has run".
* `import "./file"` is relative to the current directory (the session's
  compilation): a module is compiled once per session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..diagnostics import CompileError, DiagnosticBag
from ..frontend import ModuleContext, ModuleInfo, ReplEntry
from . import ast as A
from .pipeline import compile_module_ast, load_imports, parse_source
from .scopes import GLOBAL, Var

VALUE = "$value"  # hidden global holding the value to echo


@dataclass(slots=True)
class _Pending:
    """What an entry changes in the session once it has run."""

    slots: list[Var]
    imports: dict[str, ModuleInfo]
    first_new: int  # slots from here on are the entry's own


class TinyLangRepl:
    """One session's compile side (see the module docstring)."""

    echo_slot = 0

    def __init__(self, ctx: ModuleContext) -> None:
        self.ctx = ctx
        # Global slots so far, in slot order; slot 0 is the echo value. A slot
        # whose binding is gone (shadowed, or its declaration never ran) holds a
        # placeholder Var whose name no identifier can match.
        self.slots: list[Var] = [Var(VALUE, True, GLOBAL, 0, None)]
        self.imports: dict[str, ModuleInfo] = {}  # import spec -> exports, for the resolver

    def compile(self, source: str) -> ReplEntry:
        path = self.ctx.path
        bag = DiagnosticBag(path, source)
        mod = parse_source(source, path, bag)
        code = None
        slots = list(self.slots)
        imports = self.imports
        echo_expr = None
        if not bag:
            imports, keys = load_imports(mod, self.ctx, bag, self.imports)
            last = mod.body[-1] if mod.body else None
            if isinstance(last, A.ExprStmt):
                # `expr` -> `$value = expr`: the entry leaves its value in slot 0.
                mod.body[-1] = A.Assign(last.line, last.col, A.Name(last.line, last.col, VALUE), "=", last.expr)
                echo_expr = last.expr
            if not bag:
                code = compile_module_ast(mod, path, source, bag, imports, tuple(keys), predeclared=slots)
        if code is None:
            raise CompileError(bag.items, {path: source})
        echo = str(echo_expr.ty or "any") if echo_expr is not None else None
        return ReplEntry(code, echo, _Pending(slots, imports, len(self.slots)))

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
        self.slots = slots
        self.imports = pending.imports
        return tuple(v.name for v in slots)
