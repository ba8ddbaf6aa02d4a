"""The guest object model: every heap-allocated TinyLang value.

Scalars are plain Python values and never live on the guest heap:
int (int64, checked by the arithmetic), float, bool, str, and `None` for nil.
Everything else is an instance of a class below, created *only* through
`Heap.alloc` (heap/heap.py) so the heap can count and trace it.

Each type lists its outgoing references in `refs()`; the collector needs nothing
else to know about the object model. `size()` is the accounted size in bytes: a
deterministic estimate, the same on every host, so memory limits and GC
statistics are reproducible, calibrated against what CPython 3.11 really
allocates for the object (measured with tracemalloc; docs/memory.md): a
header for the Python object, its list or dict, and per element the slot and
the table overhead. The scalars a slot holds are counted by the collector
(`str_bytes`, `INT_BYTES`, `FLOAT_BYTES`), not here.

`free()` is called on objects the collector found unreachable. It poisons the
object (drops its contents), so that a missing root shows up as a wrong result
under `--gc-stress` instead of passing silently.
"""

from __future__ import annotations

from itertools import chain
from typing import Any, Callable, Iterable

# TinyLang ints are int64: the bounds every arithmetic check and conversion uses.
INT_MIN = -(1 << 63)
INT_MAX = (1 << 63) - 1

# Accounted sizes (bytes), from tracemalloc measurements of CPython 3.11 on
# x86-64 (docs/memory.md has the table and the command).
HEADER = 48  # a slotted Python object with its GC header
SLOT = 8  # a reference in an object, list or tuple
CONTAINER = 64  # the list or dict object an Array, Map, Record or Instance owns
ENTRY = 72  # a map entry: hash, key and value, index slot, and spare room
FIELD = 64  # a field of a record or instance (a small dict's entry)
INT_BYTES = 32  # an int outside CPython's small-int cache
FLOAT_BYTES = 24
STR_HEADER = 56  # a str object before its characters (49, rounded as malloc does)
ARRAY_BASE = HEADER + CONTAINER  # an Array before its slots (Array.size, Heap.trace)


def str_bytes(s: str) -> int:
    """Accounted size of a string: 1 byte per character when ASCII (an O(1)
    test in CPython), else 4 (the widest storage CPython may use; an estimate
    that never undercounts, and costs no pass over the text)."""
    return STR_HEADER + (len(s) if s.isascii() else 4 * len(s))


def str_size_bound(n: int) -> int:
    """The accounted size of a string of n characters at most (pre-checks)."""
    return STR_HEADER + 4 * n


class HeapObject:
    __slots__ = ("mark",)
    type_name = "object"
    # free() releases a host resource (a socket): an emergency mark at the
    # memory limit keeps such objects for the sweep (heap/heap.py).
    owns_resource = False

    def refs(self) -> Iterable[Any]:
        return ()

    def size(self) -> int:
        return HEADER

    def free(self) -> None:
        pass


class Cell(HeapObject):
    """A captured variable shared by closures (and the frame that declared it)."""

    __slots__ = ("value",)
    type_name = "cell"

    def __init__(self, value: Any) -> None:
        self.value = value

    def refs(self) -> Iterable[Any]:
        return (self.value,)

    def size(self) -> int:
        return HEADER + SLOT

    def free(self) -> None:
        self.value = _POISON


class Array(HeapObject):
    __slots__ = ("items",)
    type_name = "array"

    def __init__(self, items: list) -> None:
        self.items = items

    def refs(self) -> Iterable[Any]:
        return self.items

    def size(self) -> int:
        n = len(self.items)
        return ARRAY_BASE + SLOT * n + (n >> 3)  # (a list over-allocates by 1/8 as it grows; Heap.trace has a copy)

    def free(self) -> None:
        self.items = _POISON


class BoolKey:
    """Map key standing for `true`/`false`, so that they stay distinct from 1 and 0
    (Python's dict would merge `True` and `1`)."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def __hash__(self) -> int:
        return hash((BoolKey, self.value))

    def __eq__(self, other: object) -> bool:
        return type(other) is BoolKey and other.value == self.value

    def __repr__(self) -> str:
        return f"BoolKey({self.value})"


TRUE_KEY = BoolKey(True)
FALSE_KEY = BoolKey(False)


def map_key(k: Any) -> Any:
    """The dict key used for guest value k (validated by the caller)."""
    if k is True:
        return TRUE_KEY
    if k is False:
        return FALSE_KEY
    if type(k) is Tuple:
        return TupleKey(k)
    return k


def unmap_key(k: Any) -> Any:
    t = type(k)
    if t is BoolKey:
        return k.value
    if t is TupleKey:
        return k.tuple
    return k


class Tuple(HeapObject):
    """An immutable fixed-size sequence, `(1, "a")` (issue 18, tltuple).

    `items` is a Python tuple: nothing can change it after construction. A
    tuple compares structurally (runtime/values.py) and is a map key when all
    its elements are keys (TupleKey)."""

    __slots__ = ("items",)
    type_name = "tuple"

    def __init__(self, items: tuple) -> None:
        self.items = items

    def refs(self) -> Iterable[Any]:
        return self.items

    def size(self) -> int:
        # The object, and the Python tuple it owns (a 40-byte header and a
        # slot per element; no over-allocation: a tuple never grows).
        return HEADER + 40 + SLOT * len(self.items)

    def free(self) -> None:
        self.items = _POISON


class TupleKey:
    """Map key standing for a guest tuple: hashes and compares by the keys of
    its elements (1 and 1.0 the same, true and 1 not, as for plain keys), so
    that `m[(1, 2)]` finds the entry another `(1, 2)` made. Holds the first
    tuple used as the key, which `unmap_key` gives back (Map.refs traces it).
    Built only for tuples whose elements are all valid keys (check_key)."""

    __slots__ = ("key", "tuple")

    def __init__(self, t: Tuple) -> None:
        self.tuple = t
        self.key = tuple(map(map_key, t.items))

    def __hash__(self) -> int:
        return hash((TupleKey, self.key))

    def __eq__(self, other: object) -> bool:
        return type(other) is TupleKey and other.key == self.key

    def __repr__(self) -> str:
        return f"TupleKey({self.key!r})"


class Map(HeapObject):
    """Insertion-ordered map; keys are int, float, bool, string, nil or tuples of keys (see map_key)."""

    __slots__ = ("items",)
    type_name = "map"

    def __init__(self, items: dict) -> None:
        self.items = items

    def refs(self) -> Iterable[Any]:
        # The keys too: a string key's text is accounted where it is reached
        # (a tuple key through its TupleKey: unmap_key).
        return chain(map(unmap_key, self.items), self.items.values())

    def size(self) -> int:
        return HEADER + CONTAINER + ENTRY * len(self.items)

    def free(self) -> None:
        self.items = _POISON


class Record(HeapObject):
    """`{x: 1, y: 2}`: a fixed set of named fields with mutable values."""

    __slots__ = ("fields",)
    type_name = "record"

    def __init__(self, fields: dict) -> None:
        self.fields = fields

    def refs(self) -> Iterable[Any]:
        return self.fields.values()

    def size(self) -> int:
        return HEADER + CONTAINER + FIELD * len(self.fields)

    def free(self) -> None:
        self.fields = _POISON


class Function(HeapObject):
    """A closure: code plus captured cells. `entry` is the pre-decoded first
    instruction (vm/predecode.py); `module` gives the globals the code sees.
    `checks` is None, or the run-time checks of its typed parameters: a tuple
    of (frame slot, checker) applied on entry by every call but CALL_GLOBAL
    (vm/typecheck.py; built once per code object by the VM)."""

    __slots__ = ("code", "name", "upvals", "module", "entry", "arity", "nlocals", "owner", "code_pad", "checks", "required")
    type_name = "function"

    def __init__(self, code: Any, upvals: tuple, module: Any, entry: Any, checks: tuple | None = None) -> None:
        # Nils appended to [fn, args...] to make a new frame's local slots.
        self.code_pad: list = [None] * (code.nlocals - code.arity - 1)
        self.code = code
        self.name = code.name
        self.upvals = upvals
        self.module = module
        self.entry = entry
        self.arity = code.arity
        # tldefault: the fewest arguments a call may pass (self included); the
        # others have defaults, filled by the callee's prologue.
        required = getattr(code, "required", -1)  # (tests build functions of stand-in code objects)
        self.required = code.arity if required < 0 else required
        self.nlocals = code.nlocals
        self.owner = None  # the class a method belongs to
        self.checks = checks

    def refs(self) -> Iterable[Any]:
        out = list(self.upvals)
        out.append(self.module)
        if self.owner is not None:
            out.append(self.owner)
        return out

    def size(self) -> int:
        return HEADER + CONTAINER + SLOT * (10 + len(self.upvals) + len(self.code_pad))

    def free(self) -> None:
        self.upvals = _POISON
        self.entry = None


class AsyncFunction(Function):
    """An `async fn`: calling it starts a fiber and returns its Task. (A
    distinct type, so the call fast paths, which test `type(fn) is Function`,
    leave it to the slow path.)"""

    __slots__ = ()


class GeneratorFunction(Function):
    """A function containing `yield`: calling it returns a `Gen` (sched/generators.py)."""

    __slots__ = ()


class Native(HeapObject):
    """A built-in function implemented in Python. `fn` takes the guest arguments;
    arity -1 means variadic (fn checks its own arguments)."""

    __slots__ = ("name", "fn", "arity")
    type_name = "function"

    def __init__(self, name: str, fn: Callable, arity: int) -> None:
        self.name = name
        self.fn = fn
        self.arity = arity


class BoundMethod(HeapObject):
    __slots__ = ("receiver", "method")
    type_name = "function"

    def __init__(self, receiver: Any, method: Any) -> None:
        self.receiver = receiver
        self.method = method  # Function or Native

    def refs(self) -> Iterable[Any]:
        return (self.receiver, self.method)

    def size(self) -> int:
        return HEADER + 2 * SLOT

    def free(self) -> None:
        self.receiver = self.method = _POISON


class Class(HeapObject):
    """A class. `methods` is flattened at creation (inherited methods included) so
    that method lookup is one dict probe; `template` holds every field (inherited
    ones first) with its constant default, copied into each new instance.
    `field_checks` is None when no field of the class or of an ancestor is
    typed, else a dict field name -> checker (vm/typecheck.py), inherited
    entries included, that SET_FIELD applies. `open`: its instances accept new
    fields at any time (a Lox class, or a subclass of one; ClassInfo.flags).
    `interfaces`: the names of the TinyLang interfaces it implements, inherited
    ones included; `interface`: it is one (`v is I` tests `interfaces`)."""

    __slots__ = ("name", "parent", "methods", "own_methods", "template", "field_inits", "init", "info", "field_checks", "open", "interfaces", "interface", "statics", "layout", "early", "unboxed", "recycle")
    type_name = "class"

    def __init__(self, name: str, parent: "Class | None", info: Any) -> None:
        self.name = name
        self.parent = parent
        self.info = info
        self.own_methods: dict[str, Any] = {}
        self.methods: dict[str, Any] = dict(parent.methods) if parent else {}
        self.template: dict[str, Any] = dict(parent.template) if parent else {}
        # `$fields` methods to run on a new instance, root class first.
        self.field_inits: list[Any] = list(parent.field_inits) if parent else []
        self.init: Any = None
        self.field_checks: dict[str, Any] | None = parent.field_checks if parent else None
        self.open: bool = parent.open if parent else False
        # TinyLang 1.1: the names of the interfaces the class implements
        # (inherited ones too), and whether it is an interface itself.
        self.interfaces: frozenset[str] = parent.interfaces if parent else frozenset()
        self.interface = False
        # Static members (`static let`, `static fn`, an enum's values: issue
        # 18, runtime/enums.py), set by SET_STATIC; the parent's are found
        # through `parent` (inherited).
        self.statics: dict[str, Any] = {}
        # The shape of its instances (heap/layout.py shape_of): None until
        # the first is made, False when they keep a dict.
        self.layout: Any = None
        # The fields its init assigns before anything sees the instance
        # (ClassInfo.early; the parent's when it declares no init), and the
        # fields a shape keeps as raw slots, name -> kind (heap/layout.py), both
        # decided by the VM when it makes the class (vm/object_ops.py).
        self.early: frozenset[str] = parent.early if parent else frozenset()
        self.unboxed: dict[str, str] = {}
        # Host memory, not the guest's: dead instances of its shape that the
        # machine sweep kept for native code to reuse (a list, set where
        # native code makes its instances inline), or None. Not a reference
        # of the guest's: no refs(), no size() (jit/native/sweep.py, "Recycling").
        self.recycle: list | None = None

    def is_subclass_of(self, other: "Class") -> bool:
        c: Class | None = self
        while c is not None:
            if c is other:
                return True
            c = c.parent
        return False

    def refs(self) -> Iterable[Any]:
        out: list[Any] = list(self.methods.values())
        out.extend(self.template.values())
        out.extend(self.field_inits)
        out.extend(self.statics.values())
        if self.parent is not None:
            out.append(self.parent)
        return out

    def size(self) -> int:
        return HEADER + 4 * CONTAINER + FIELD * (len(self.methods) + len(self.own_methods) + len(self.template))

    def free(self) -> None:
        self.methods = _POISON
        self.recycle = None


class Instance(HeapObject):
    __slots__ = ("cls", "fields")
    type_name = "instance"

    def __init__(self, cls: Class, fields: dict) -> None:
        self.cls = cls
        self.fields = fields

    def refs(self) -> Iterable[Any]:
        out: list[Any] = list(self.fields.values())
        out.append(self.cls)
        return out

    def size(self) -> int:
        return HEADER + CONTAINER + FIELD * len(self.fields)

    def free(self) -> None:
        self.fields = _POISON


class Range(HeapObject):
    """An int range, stored half-open: `a..=b` is Range(a, b + 1).
    `step` (1.1, `range(a, b, step)`; never 0) is 1 for every `a..b`; with a
    negative step the range counts down, stopping before `stop` (Python's
    `range`). `values()` is the Python range of its elements."""

    __slots__ = ("start", "stop", "inclusive", "step")
    type_name = "range"

    def __init__(self, start: int, stop: int, inclusive: bool, step: int = 1) -> None:
        self.start = start
        self.stop = stop
        self.inclusive = inclusive
        self.step = step

    def values(self) -> range:
        return range(self.start, self.stop, self.step)

    def size(self) -> int:
        return HEADER + 2 * SLOT


class Iterator(HeapObject):
    """State of a `for` loop over a guest value: `source` is the array, map (a
    snapshot of its keys), string, or range being iterated; `pos` the next index."""

    __slots__ = ("source", "pos", "kind")
    type_name = "iterator"

    def __init__(self, kind: int, source: Any) -> None:
        self.kind = kind
        self.source = source
        self.pos = 0

    def refs(self) -> Iterable[Any]:
        return (self.source,)

    def size(self) -> int:
        return HEADER + 2 * SLOT

    def free(self) -> None:
        self.source = _POISON


class ModuleObject(HeapObject):
    """A loaded module: its globals (one slot per top-level name) and exports."""

    __slots__ = ("name", "path", "globals", "exports", "initialized", "code", "native")
    type_name = "module"

    def __init__(self, name: str, path: str, globals_: list, exports: dict[str, int], code: Any = None) -> None:
        self.name = name
        self.path = path
        self.globals = globals_
        self.exports = exports  # exported name -> global slot
        self.initialized = False
        self.code = code  # ModuleCode, or None for native modules
        self.native = False

    def refs(self) -> Iterable[Any]:
        return self.globals

    def size(self) -> int:
        return HEADER + CONTAINER + SLOT * len(self.globals)

    def free(self) -> None:
        self.globals = _POISON


class _Poison:
    """What a freed object's contents become; any use of it is a VM bug."""

    def __repr__(self) -> str:
        return "<freed>"

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("use of an object freed by the garbage collector (missing GC root)")


_POISON: Any = _Poison()

# Sentinel stored in global slots before their definition runs.
class _Uninit:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<uninitialised>"


UNINIT: Any = _Uninit()


# tldefault (TinyLang 1.1 defaults evaluated at each call): the value of a
# parameter whose argument the caller left out. The call set-up (vm/calls.py
# push_frame) pads a short argument list with it, a call site that skips a
# middle parameter pushes it (LOAD_MISSING), and the callee's prologue
# (JUMP_IF_PASSED) replaces it by the parameter's default before any guest
# code can see it.
class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing argument>"


MISSING: Any = _Missing()
