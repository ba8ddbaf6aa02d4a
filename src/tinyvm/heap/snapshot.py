"""Heap snapshots: the guest heap's object graph as data, with retained sizes.

Why here, in heap/: reading the graph is the collector's knowledge (what
refers to what, what each object costs), so it sits next to the collector and
follows its rules exactly. File formats are views of the record made here
(heap/v8snapshot.py writes V8's `.heapsnapshot`; tools/heapdiff.py
compares two).

`take_snapshot(machine)` walks from the roots (the same ones `gc_roots`
lists, grouped: module globals, built-ins, fibers, host roots) and records:

* **Nodes.** One per reachable heap object and one per distinct string (by
  identity, as the collector counts them), plus synthetic nodes: the root
  (index 0) and one per root group. Each node has a V8 kind ("object",
  "closure", "string", "synthetic"...), a type (the guest's name for it:
  "array", "map", "record", the class of an instance, "function"...), a name
  (what a viewer shows: a class or function name, a string's text), a self
  size, and an allocation site (when recorded: heap/sites.py).
* **Self sizes** are the accounted bytes (docs/memory.md): `obj.size()` plus
  the numbers its slots hold (ints outside the small-int cache and floats
  have no node of their own: they are boxed in their holder), and strings
  their `str_bytes`. So the sizes add up to exactly what a collection counts
  as live (`heap.live` after `vm.collect()`), which the tests check.
* **Edges**, named as a debugger would: field names, array indexes, map keys,
  captured variables ("context" edges named after them), a module's global
  names, a fiber's frames (`frame 1 fib: n`), a class's methods. Each object
  lists exactly the children its `refs()` gives the collector, in the same
  order (`named_refs`); a type this module does not know keeps indexed edges.
* **Retained sizes** through the dominator tree (the iterative algorithm of
  Cooper, Harvey and Kennedy, "A Simple, Fast Dominance Algorithm"): what
  would be freed if the object were.

The walk is iterative (no Python recursion on deep structures) and reads
nothing it does not need; it changes nothing, so it may run at any time (an
object held only by an instruction's locals is simply not in the snapshot).
"""

from __future__ import annotations

import gc as pygc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .objects import (
    FLOAT_BYTES,
    INT_BYTES,
    BoundMethod,
    Cell,
    Class,
    Function,
    HeapObject,
    Instance,
    Map,
    ModuleObject,
    Native,
    Record,
    Tuple,
    str_bytes,
    unmap_key,
)
from .objects import (
    Iterator as IterObj,
)
from .layout import SlotInstance
from .packed import PackedArray
from .weak import WeakMap, WeakRef, weak_edges

# V8's node and edge kinds (the `.heapsnapshot` meta lists them in this order).
NODE_KINDS = ("hidden", "array", "string", "object", "code", "closure", "regexp", "number", "native", "synthetic", "concatenated string", "sliced string", "symbol", "bigint", "object shape")
EDGE_KINDS = ("context", "element", "property", "internal", "hidden", "shortcut", "weak")
MAX_NAME = 1000  # characters of a string node's text kept as its name


@dataclass
class HeapSnapshot:
    """The graph, as parallel lists indexed by node (see the module docstring).
    Edges of node i are edge_kind/edge_name/edge_to[first_edge[i]:first_edge[i+1]];
    an "element" edge's name is an int index."""

    kind: list[str] = field(default_factory=list)
    type: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    self_size: list[int] = field(default_factory=list)
    site: list[int] = field(default_factory=list)  # index into sites (0: unknown)
    first_edge: list[int] = field(default_factory=list)
    edge_kind: list[str] = field(default_factory=list)
    edge_name: list[Any] = field(default_factory=list)
    edge_to: list[int] = field(default_factory=list)
    sites: list[str] = field(default_factory=lambda: ["(unknown)"])
    idom: list[int] = field(default_factory=list)
    retained: list[int] = field(default_factory=list)

    @property
    def node_count(self) -> int:
        return len(self.kind)

    @property
    def edge_count(self) -> int:
        return len(self.edge_to)

    def edges(self, i: int) -> Iterator[tuple[str, Any, int]]:
        for e in range(self.first_edge[i], self.first_edge[i + 1]):
            yield self.edge_kind[e], self.edge_name[e], self.edge_to[e]

    def total_size(self) -> int:
        return sum(self.self_size)

    def summary(self) -> dict[str, dict[str, int]]:
        """type -> {"count", "self_size"} over the non-synthetic nodes."""
        out: dict[str, dict[str, int]] = {}
        for i, k in enumerate(self.kind):
            if k == "synthetic":
                continue
            row = out.setdefault(self.type[i], {"count": 0, "self_size": 0})
            row["count"] += 1
            row["self_size"] += self.self_size[i]
        return out

    def largest(self, k: int = 10) -> list[int]:
        """The k non-synthetic nodes of largest retained size."""
        nodes = [i for i, kind in enumerate(self.kind) if kind != "synthetic"]
        nodes.sort(key=self.retained.__getitem__, reverse=True)
        return nodes[:k]


# --------------------------------------------------------------------------- naming


def describe(obj: Any) -> tuple[str, str, str]:
    """(V8 kind, guest type, name) of a heap object."""
    t = type(obj)
    if t is Instance or t.__base__ is SlotInstance:  # (dict or laid out: one node, heap/layout.py)
        return "object", obj.cls.name, obj.cls.name
    if isinstance(obj, Function):
        return "closure", "function", obj.name or "(anonymous)"
    if t is Native or isinstance(obj, Native):
        return "closure", "function", f"{obj.name} (built-in)"
    if t is BoundMethod:
        m = obj.method
        return "closure", "function", f"bound {getattr(m, 'name', '?')}"
    if t is Class:
        return "object", "class", f"class {obj.name}"
    if t is ModuleObject:
        return "object", "module", f"module {obj.name}"
    if t is Cell:
        return "hidden", "cell", "(captured variable)"
    tn = getattr(t, "type_name", None) or t.__name__
    if tn == "task":
        return "object", "task", f"task {getattr(obj, 'name', '')}".rstrip()
    if tn == "gen":
        return "object", "gen", f"gen {getattr(obj, 'name', '')}".rstrip()
    return "object", tn, tn


def _frame_names(L: list, label: str) -> list[tuple[str, Any, Any]]:
    """Context edges for the slots of a frame list [fn, locals..., stack...]."""
    fn = L[0] if L else None
    code = getattr(fn, "code", None)
    names: tuple = getattr(code, "local_names", ()) or ()
    fname = getattr(fn, "name", "?")
    out = []
    for i, v in enumerate(L):
        if i == 0:
            n = "function"
        elif i < len(names) and names[i]:
            n = names[i]
        else:
            n = f"stack[{i}]"
        out.append(("context", f"{label} {fname}: {n}", v))
    return out


def named_refs(obj: Any) -> list[tuple[str, Any, Any]]:
    """(edge kind, name, child) for each child of obj, exactly `obj.refs()`
    in order (the collector's view), with names."""
    t = type(obj)
    if t is Instance:
        out = [("property", k, v) for k, v in obj.fields.items()]
        out.append(("internal", "class", obj.cls))
        return out
    if t.__base__ is SlotInstance:
        # A laid-out instance (heap/layout.py): the same edges, in the same
        # order as SlotInstance.refs (its slots, then the class), read from
        # the slots at once (a snapshot walks every instance: no view).
        out = [("property", k, v) for k, v in zip(t.NAMES, obj.values_list())]
        out.append(("internal", "class", obj.cls))
        return out
    if t is Record:
        return [("property", k, v) for k, v in obj.fields.items()]
    if t is Map:
        items = obj.items
        keys = [("internal", f"key {_key_text(k)}", unmap_key(k)) for k in items]
        return keys + [("property", _key_text(k), v) for k, v in items.items()]
    if t is Cell:
        return [("internal", "value", obj.value)]
    if t is WeakRef:  # (not traced by the collector: a weak edge, which retains nothing)
        return [("weak", "target", obj.target)] if obj.target is not None else []
    if t is WeakMap:  # an ephemeron table: weak keys; a value lives while its key does
        out = []
        for i, (k, v) in enumerate(weak_edges(obj)):
            out.append(("weak", f"key {i}", k))
            out.append(("internal", f"value {i}", v))
        return out
    if isinstance(obj, Function):
        names = getattr(obj.code, "upval_names", ()) or ()
        out = [("context", names[i] if i < len(names) else f"upvalue[{i}]", v) for i, v in enumerate(obj.upvals)]
        out.append(("internal", "module", obj.module))
        if obj.owner is not None:
            out.append(("internal", "owner", obj.owner))
        return out
    if t is BoundMethod:
        return [("internal", "receiver", obj.receiver), ("internal", "method", obj.method)]
    if t is Class:
        out = [("property", k, v) for k, v in obj.methods.items()]
        out.extend(("internal", f"default {k}", v) for k, v in obj.template.items())
        out.extend(("internal", f"field_init[{i}]", v) for i, v in enumerate(obj.field_inits))
        # (static members and an enum's values: Class.refs lists them, so the
        # collector counts what they hold; without these edges a snapshot
        # missed those bytes)
        out.extend(("property", f"static {k}", v) for k, v in obj.statics.items())
        if obj.parent is not None:
            out.append(("internal", "parent", obj.parent))
        return out
    if t is IterObj:
        return [("internal", "source", obj.source)]
    if t is ModuleObject:
        code = obj.code
        gnames: tuple = code.globals if code is not None else ()
        if not gnames and obj.exports:
            inv = {slot: n for n, slot in obj.exports.items()}
            gnames = tuple(inv.get(i, "") for i in range(len(obj.globals)))
        return [("property", gnames[i] if i < len(gnames) and gnames[i] else i, v) for i, v in enumerate(obj.globals)]
    tn = getattr(t, "type_name", "")
    if tn == "task" and hasattr(obj, "frames"):
        return _fiber_refs(obj)
    if tn == "gen" and hasattr(obj, "L"):
        return _frame_names(list(obj.L), "frame")
    if tn == "chan" and hasattr(obj, "buf"):
        out = [("element", i, v) for i, v in enumerate(obj.buf)]
        out.extend(("internal", f"pending send[{i}]", v) for i, (_, v, _) in enumerate(obj.sendq))
        return out
    if t is PackedArray:  # (heap/packed.py: shown, and sized, as the list it stands for; no unpacking)
        return [("element", i, v) for i, v in enumerate(obj.values())]
    return [("element", i, v) for i, v in enumerate(obj.refs())]


def _fiber_refs(fb: Any) -> list[tuple[str, Any, Any]]:
    # Mirrors Fiber.refs (sched/fiber.py): a finished fiber holds its result.
    if type(fb.refs()) is tuple:  # (done: a tuple of the result; else a list)
        return [("internal", "result", fb.result)]
    depth = len(fb.frames)
    out = _frame_names(list(fb.L), f"frame {depth}")
    for d, (L, _) in enumerate(fb.frames):
        out.extend(_frame_names(list(L), f"frame {d}"))
    out.append(("internal", "result", fb.result))
    if fb.resume_error is not None:
        out.append(("internal", "error", fb.resume_error.value))
    return out


def _key_text(k: Any) -> str:
    k = unmap_key(k)
    if type(k) is Tuple:  # a tuple of keys (TinyLang 1.1)
        return "(" + ", ".join(_key_text(x) for x in k.items) + ("," if len(k.items) == 1 else "") + ")"
    if k is None:
        return "nil"
    if k is True or k is False:
        return "true" if k else "false"
    return k if type(k) is str else repr(k)


# --------------------------------------------------------------------------- roots


def root_groups(vm: Any) -> list[tuple[str, list[tuple[Any, Any]]]]:
    """The machine's roots, grouped and named: (group, [(edge name, value)]).
    Anything `vm.gc_roots()` lists that no group names is in "(other roots)"."""
    groups: list[tuple[str, list[tuple[Any, Any]]]] = []
    mods = [(key, m) for key, m in vm.modules.items()]
    if vm.prelude is not None:
        mods.append(("(prelude)", vm.prelude))
    groups.append(("(module globals)", mods))
    groups.append(("(standard modules)", list(vm.std_modules.items())))
    groups.append(("(built-ins)", list(vm.builtins.items()) + [(f"{k} (error class)", v) for k, v in vm.error_classes.items()]))
    fibers = list(vm.fibers) + list(vm.sched.alive) + list(getattr(vm, "_lost", []))
    groups.append(("(fibers)", [(f"task {getattr(f, 'id', i)} {getattr(f, 'name', '')}".rstrip(), f) for i, f in enumerate(fibers)]))
    host = [(i, v) for i, v in enumerate(vm.extra_roots)] + [(f"pin {k}", v) for k, v in vm.host_pins.items()]
    groups.append(("(host roots)", host))
    named = {id(v) for _, members in groups for _, v in members}
    other = [(i, v) for i, v in enumerate(vm.gc_roots()) if isinstance(v, HeapObject) and id(v) not in named]
    groups.append(("(other roots)", other))
    return groups


# --------------------------------------------------------------------------- the walk


def take_snapshot(vm: Any) -> HeapSnapshot:
    """The heap of Machine `vm` as a HeapSnapshot (see the module docstring).
    CPython's cyclic collector is paused meanwhile: the walk makes millions of
    small containers and none of them is garbage, and its passes over them
    took half the time (300,000 objects: 3.8 s instead of 7.4)."""
    was = pygc.isenabled()
    pygc.disable()
    try:
        return _take(vm)
    finally:
        if was:
            pygc.enable()


def _take(vm: Any) -> HeapSnapshot:
    s = HeapSnapshot()
    heap = vm.heap
    sites_of: dict[int, int] | None = getattr(heap, "sites", None)
    site_names: list[str] | None = getattr(heap, "site_names", None)
    if site_names:
        s.sites = list(site_names)
    index: dict[int, int] = {}  # id(object or str) -> node
    keep: list[Any] = []  # (ids stay valid while the walk holds them)
    adj: list[list[tuple[str, Any, int]]] = []

    def node(kind: str, type_: str, name: str, size: int, site: int = 0) -> int:
        s.kind.append(kind)
        s.type.append(type_)
        s.name.append(name)
        s.self_size.append(size)
        s.site.append(site)
        adj.append([])
        return len(s.kind) - 1

    pending: list[tuple[int, Any]] = []

    def visit(v: Any) -> int | None:
        """The node of value v (made on first sight), or None for a scalar."""
        t = type(v)
        if t is str:
            i = index.get(id(v))
            if i is None:
                i = index[id(v)] = node("string", "string", v[:MAX_NAME], str_bytes(v))
                keep.append(v)
            return i
        if not isinstance(v, HeapObject):
            return None
        i = index.get(id(v))
        if i is None:
            kind, type_, name = describe(v)
            site = sites_of.get(id(v), 0) if sites_of is not None else 0
            i = index[id(v)] = node(kind, type_, name, 0, site)
            keep.append(v)
            pending.append((i, v))
        return i

    root = node("synthetic", "(root)", "", 0)
    for gname, members in root_groups(vm):
        g = node("synthetic", "(root)", gname, 0)
        adj[root].append(("element", len(adj[root]), g))
        for ename, v in members:
            c = visit(v)
            if c is not None:
                adj[g].append(("element", ename, c) if type(ename) is int else ("property", ename, c))
    while pending:
        i, obj = pending.pop()
        size = obj.size()
        out = adj[i]
        for kind, ename, child in named_refs(obj):
            ct = type(child)
            if ct is int:
                if not -5 <= child <= 256:  # (as the collector counts: heap.py _mark)
                    size += INT_BYTES
                continue
            if ct is float:
                size += FLOAT_BYTES
                continue
            c = visit(child)
            if c is not None:
                out.append((kind, ename, c))
        s.self_size[i] = size
    for out in adj:
        s.first_edge.append(len(s.edge_to))
        for kind, ename, c in out:
            s.edge_kind.append(kind)
            s.edge_name.append(ename)
            s.edge_to.append(c)
    s.first_edge.append(len(s.edge_to))
    s.idom = dominators(len(s.kind), *_strong_edges(s))
    s.retained = retained_sizes(s.self_size, s.idom)
    return s


# --------------------------------------------------------------------------- dominators


def _strong_edges(s: Any) -> tuple[list[int], list[int]]:
    """(first_edge, edge_to) without the weak edges: a weak reference retains
    nothing, so it neither dominates nor makes a path for retained sizes."""
    if "weak" not in s.edge_kind:
        return s.first_edge, s.edge_to
    first: list[int] = []
    to: list[int] = []
    kinds, targets = s.edge_kind, s.edge_to
    for v in range(len(s.first_edge) - 1):
        first.append(len(to))
        to.extend(targets[e] for e in range(s.first_edge[v], s.first_edge[v + 1]) if kinds[e] != "weak")
    first.append(len(to))
    return first, to


def dominators(n: int, first_edge: list[int], edge_to: list[int], root: int = 0) -> list[int]:
    """Immediate dominator of each node reachable from root (root: itself;
    unreachable: -1), by Cooper-Harvey-Kennedy's iteration in reverse postorder."""
    post = [-1] * n  # postorder number
    order: list[int] = []
    seen = bytearray(n)
    seen[root] = 1
    stack = [(root, first_edge[root])]
    while stack:  # iterative DFS
        v, e = stack[-1]
        if e < first_edge[v + 1]:
            stack[-1] = (v, e + 1)
            w = edge_to[e]
            if not seen[w]:
                seen[w] = 1
                stack.append((w, first_edge[w]))
        else:
            stack.pop()
            post[v] = len(order)
            order.append(v)
    preds: list[list[int]] = [[] for _ in range(n)]
    for v in order:
        for e in range(first_edge[v], first_edge[v + 1]):
            preds[edge_to[e]].append(v)
    idom = [-1] * n
    idom[root] = root
    rpo = order[::-1]
    changed = True
    while changed:
        changed = False
        for b in rpo:
            if b == root:
                continue
            new = -1
            for p in preds[b]:
                if idom[p] == -1:
                    continue
                if new == -1:
                    new = p
                    continue
                a, c = p, new  # intersect
                while a != c:
                    while post[a] < post[c]:
                        a = idom[a]
                    while post[c] < post[a]:
                        c = idom[c]
                new = a
            if idom[b] != new:
                idom[b] = new
                changed = True
    return idom


def retained_sizes(self_size: list[int], idom: list[int]) -> list[int]:
    """Each node's self size plus that of every node it dominates."""
    n = len(self_size)
    retained = list(self_size)
    # Children before parents: a node's depth in the dominator tree is more than its idom's.
    depth = [0] * n
    order = []
    for v in range(n):
        if idom[v] == -1:
            continue
        chain = []
        u = v
        while depth[u] == 0 and idom[u] != u:
            chain.append(u)
            u = idom[u]
        d = depth[u]
        for w in reversed(chain):
            d += 1
            depth[w] = d
        order.append(v)
    order.sort(key=depth.__getitem__, reverse=True)
    for v in order:
        d = idom[v]
        if d != v and d != -1:
            retained[d] += retained[v]
    return retained


def iter_objects(s: HeapSnapshot) -> Iterable[int]:
    """The nodes that are heap objects (not strings, not synthetic)."""
    return (i for i, k in enumerate(s.kind) if k not in ("string", "synthetic"))
