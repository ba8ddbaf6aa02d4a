"""Where variables live: the data the resolver produces and the emitter consumes.

A `Var` is one declared name. The resolver decides its storage:

* `GLOBAL`  -- a top-level declaration of a module: slot in the module's globals;
* `LOCAL`   -- a slot in its function's frame;
* `CELL`    -- a local slot holding a `Cell`, because some inner function
  captures it (closures capture variables, not values);
* `BUILTIN` -- a VM built-in (print, len, Error...), looked up by name.

A reference from an inner function to an outer function's variable goes through
an upvalue: `Ref(UPVAL, index)` into the running closure's captured cells, each
`FnScope.upvalues` entry saying where the enclosing function finds that cell.

Frame layout (a VM invariant the verifier also checks): slot 0 holds the running
function, parameters follow (`self` first for methods), then the other locals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GLOBAL = "global"
LOCAL = "local"
CELL = "cell"
UPVAL = "upval"
BUILTIN = "builtin"


@dataclass(slots=True, eq=False)
class Var:
    name: str
    mutable: bool
    kind: str  # GLOBAL or LOCAL at declaration; LOCAL becomes CELL once captured
    index: int  # global slot or local slot
    fn: "FnScope | None"  # owning function (None for globals)
    line: int = 0
    col: int = 0
    decl_order: int = 0  # for globals: position among top-level statements
    is_fn: bool = False  # a hoisted top-level `fn` (always initialised)
    is_class: bool = False
    decl: Any = None  # the declaring node (FnDecl, ClassDecl...), for arity checks
    is_import: bool = False
    module_exports: tuple[str, ...] | None = None  # for `import ... as alias`
    module_name: str = ""
    ty: Any = None  # static type, set by the type checker (None: not known yet)
    session: bool = False  # a REPL session's global: rebindable, so never called by CALL_GLOBAL


@dataclass(slots=True, frozen=True)
class Ref:
    """How an expression reaches a variable: kind in GLOBAL, LOCAL, CELL, UPVAL, BUILTIN."""

    kind: str
    index: int
    var: Var | None = None
    name: str = ""


@dataclass(slots=True, eq=False)
class FnScope:
    name: str
    parent: "FnScope | None"
    kind: str  # "module", "function", "method", "init", "lambda"
    slots: list[str] = field(default_factory=list)
    slot_vars: list[Var | None] = field(default_factory=list)
    upvalues: list[tuple[bool, int, str]] = field(default_factory=list)  # (from_local, index, name)
    upvalue_vars: list[Var] = field(default_factory=list)
    class_decl: Any = None  # enclosing ClassDecl for methods (and lambdas inside them)
    super_var: Var | None = None  # the parent class's variable, for `super`
    has_yield: bool = False
    is_async: bool = False
    ty: Any = None  # the function's checked FnT, set by the type checker
    level: int = 0  # functions around it: 0 for the module, 1 for a top-level function

    def new_slot(self, name: str, var: Var | None) -> int:
        self.slots.append(name)
        self.slot_vars.append(var)
        return len(self.slots) - 1

    def upvalue_for(self, var: Var) -> int:
        """Index of this function's upvalue for `var`, adding it through every
        enclosing function up to the one that owns the variable."""
        for i, v in enumerate(self.upvalue_vars):
            if v is var:
                return i
        assert self.parent is not None
        if var.fn is self.parent:
            var.kind = CELL
            entry = (True, var.index, var.name)
        else:
            entry = (False, self.parent.upvalue_for(var), var.name)
        self.upvalues.append(entry)
        self.upvalue_vars.append(var)
        return len(self.upvalues) - 1


@dataclass(slots=True, eq=False)
class BlockScope:
    names: dict[str, Var] = field(default_factory=dict)
