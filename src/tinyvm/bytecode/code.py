"""Code objects: the compiled, serialisable form of functions, classes and modules.

A `Code` is immutable once the assembler builds it. It is pure data (ints,
strings, tuples, nested `Code`/`ClassInfo` constants) so that the `.tvm` writer
can serialise it exactly and the verifier can check it without running it.
The VM never executes `Code` directly: it pre-decodes it (vm/predecode.py).

Tables carried by every code object:

* `consts`   -- int, float, str, bool, None, tuple[str, ...], `Code`, `ClassInfo`
* `names`    -- field, method and built-in names used by NAME operands
* `lines`    -- (offset, line, col) triples sorted by offset: the source position
  of the instruction starting at `offset` and of every instruction after it up
  to the next entry
* `handlers` -- (start, end, target, depth): an error raised by an instruction
  whose offset is in [start, end) jumps to `target` with the stack cut back to
  `depth` values and the error pushed. Innermost handlers come first.
* `captures` -- for MAKE_CLOSURE: (from_local, index) per upvalue: a cell taken
  from the enclosing frame's local slot, or from the enclosing closure's upvalues.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

# Code.flags bits
FLAG_METHOD = 1  # slot 0 is `self`
FLAG_INIT = 2  # a class's init: always returns self
FLAG_GENERATOR = 4  # contains `yield` (issue 4)
FLAG_ASYNC = 8  # `async fn` (issue 4)
FLAG_MODULE = 16  # a module's top-level code

# ClassInfo.flags bits
CLASS_OPEN = 1  # instances accept new fields at any time (Lox), not only the declared ones
CLASS_EXTENDS = 2  # declared with a superclass: MAKE_CLASS's parent operand must be a class (nil is an error)
CLASS_INTERFACE = 4  # a TinyLang 1.1 interface: only `v is I` and type checks use it (no fields, no methods)
# Issue 18, helper tlenum: an `enum` (TinyLang 1.1). Its instances are the
# enum's values: they print as `Color.Red`, are map keys, cross to Python as
# their name (runtime/enums.py).
CLASS_ENUM = 8
# The class's init calls `super.init(...)` before anything can see `self`
# (ClassInfo.early): the parent's early fields are early in this class too.
CLASS_EARLY_SUPER = 16

# ModuleCode.lang values: the dialect of the module's code, which selects the
# run-time rules (operator type rules, error messages, frame limit) the VM
# applies to it (runtime/dialects.py). Each is named after the language whose
# semantics it is; a new front end emits code in one of these (its FrontEnd's
# `dialect`, lang/frontend.py), and a new dialect is a change to the VM.
LANGS = ("tinylang", "lox")

# Built-in names that start with this prefix are the runtime library's private
# helpers (runtime/builtins.py PRELUDE_NATIVES: `__id`, `__fields`...). Only the
# prelude, which the VM's loader compiles (lang/loader.py), may name them: the
# verifier rejects a LOAD_BUILTIN of one in any other code (a .tvm file), and
# the VM resolves them for the prelude only (vm/ops_values.py).
PRIVATE_BUILTIN_PREFIX = "__"

# How deeply code objects (functions in functions) and constants (tuples in
# tuples) may nest in a module: the one limit the .tvm reader, the verifier
# and the compilers share, so a compiler never writes what a loader refuses.
MAX_NESTING = 64
# COUNT operands (argument, element, entry, field counts) must be below this:
# larger ones are certainly corrupt, and the cap keeps "2*a"-style stack
# effects small. A type text the VM checks values against has at most
# MAX_TYPE_TEXT characters (its parser recurses). Like MAX_NESTING, the
# verifier enforces them and the compilers respect them.
MAX_COUNT = 2**16
MAX_TYPE_TEXT = 4096

# The range of the int values code objects hold: ints are 64-bit. (heap/objects.py
# states the same bounds for the values the VM computes; the two packages import
# nothing of each other.)
INT_MIN = -(1 << 63)
INT_MAX = (1 << 63) - 1


class LoadError(Exception):
    """A `.tvm` file or module that cannot be loaded (bad bytes, failed verification,
    missing file). The message is complete and user-facing."""


def is_file_spec(spec: str) -> bool:
    """Whether an import spec (IMPORT's operand, as written in the source) names
    a file module -- a path: `./x`, `../x`, `/x` -- rather than a standard
    module by its name (`math`). The two namespaces never mix."""
    return spec.startswith(("./", "../", "/"))


def source_hash(text: str) -> str:
    """`ModuleCode.source_hash`: the sha256 hex digest of the source text (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True, eq=False)
class Code:
    name: str
    path: str
    line: int
    col: int
    arity: int
    nlocals: int
    local_names: tuple[str, ...]
    code: tuple[int, ...]
    consts: tuple
    names: tuple[str, ...]
    captures: tuple[tuple[bool, int], ...]
    upval_names: tuple[str, ...]
    lines: tuple[tuple[int, int, int], ...]
    handlers: tuple[tuple[int, int, int, int], ...]
    max_stack: int
    flags: int = 0
    # Declared types (as source text, "" when absent) of parameters and locals, for
    # the type checker's runtime boundary and the JIT tiers (issue 3). The VM
    # checks arguments against the types of parameter slots 1..arity on entry
    # (except under CALL_GLOBAL; a method's `self`, slot 1, is not checked);
    # other slots' types are information only.
    local_types: tuple[str, ...] = ()
    ret_type: str = ""
    # tldefault (TinyLang 1.1): how many of the `arity` parameters a call must
    # pass; -1 when all must. The others have defaults: a call may leave them
    # out and the function's prologue (JUMP_IF_PASSED) evaluates them.
    required: int = -1

    def position(self, offset: int) -> tuple[int, int]:
        """Source (line, col) of the instruction covering `offset`."""
        best = (self.line, self.col)
        for off, line, col in self.lines:
            if off > offset:
                break
            best = (line, col)
        return best

    def __repr__(self) -> str:
        return f"<code {self.name} {self.path}:{self.line}>"


@dataclass(frozen=True, slots=True, eq=False)
class ClassInfo:
    """Constant describing a class for MAKE_CLASS.

    `fields` lists the fields the class declares itself (not inherited ones), in
    declaration order; `defaults` gives a constant default per field (None when
    the field's default is not a constant: such fields are set by the class's
    `$fields` method, compiled from their default expressions).
    `methods` names the closures MAKE_CLASS pops, in order.
    `field_types` is parallel to `fields`: each field's declared type as text
    ("" when untyped), or empty when no field is typed. SET_FIELD checks values
    written to typed fields at run time (SET_FIELD_PROVEN does not).
    `flags`: CLASS_OPEN makes the class's instances open: SET_FIELD adds a field
    the instance lacks (a subclass of an open class is open too);
    CLASS_INTERFACE marks an interface; `interfaces` names the interfaces a
    class implements (its ancestors' too).
    CLASS_EXTENDS says the class was declared with a superclass, so a nil
    parent is an error rather than "no parent".
    `early` names the fields the class's own init assigns before anything
    can see `self` (lang/tinylang/definite.py `early_fields`; with
    CLASS_EARLY_SUPER, the parent's too): heap/layout.py keeps such a field
    of type int (bool) in a raw int64 (byte) slot. A wrong list is a wrong
    value (0 or false for nil while init runs), never a crash: every store
    into a raw slot is checked or proven of the field's type.
    """

    name: str
    fields: tuple[str, ...]
    defaults: tuple  # constant default value per field, in field order
    methods: tuple[str, ...]
    line: int = 0
    field_types: tuple[str, ...] = ()
    flags: int = 0
    # The names of the interfaces the class implements, its parent's included
    # (TinyLang 1.1): `v is I` and run-time checks of an interface type test them.
    interfaces: tuple[str, ...] = ()
    early: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class ModuleCode:
    """A compiled module: its top-level code plus what importers need to know."""

    path: str  # the source path as given (used in messages and traces)
    source_hash: str  # sha256 hex of the source text
    globals: tuple[str, ...]  # global slot names
    exports: tuple[str, ...]  # exported global names
    imports: tuple[str, ...]  # resolved paths / std module names this module imports
    init: Code
    lang: str = "tinylang"


@dataclass(slots=True)
class Bundle:
    """What a `.tvm` file holds: a main module and the file modules it imports."""

    main: str  # key of the main module in `modules`
    modules: dict[str, ModuleCode] = field(default_factory=dict)
