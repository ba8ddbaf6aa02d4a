"""Differential property tests of the machine-code GC loops (jit/native/sweep.py:
`tvm.mark` behind `Heap.native_mark` / `Heap._trace_native`, `tvm.sweep` behind
`Heap.native_sweep`) against the Python loops they replace (`Heap.trace`,
`Heap.sweep`).

Random guest heaps are built twice from one spec (so the two runs see
isomorphic object graphs, identities included: shared strings and shared
item lists are shared in both copies), then traced / swept / collected once
with the machine loops and once without. They must agree exactly: the bytes
reached, every object's mark (value and whether it is the colour object
itself), the survivors in list order, the freed count, FREED and poisoning
on every dead object, the other types' free() calls in list order. Element
values sit at and around every boundary the machine code tests: CPython's
small-int cache (-5..256), one 30-bit digit, multi-digit and negative ints,
bools (an int subclass the loop must not count), floats (nan, -0.0),
strings once per object, nil (and the all-nil fast path), nested and cyclic
Arrays, Array subclasses, other heap types, dict-backed HeapObject
subclasses, marks that are big or negative ints equal to the colour but
other objects. Whole programs compare heap bytes, object counts and GC
statistics with the native tier on and off."""

from __future__ import annotations

import io
from typing import Any

import pytest

llvmlite = pytest.importorskip("llvmlite")
hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyvm.api import VM
from tinyvm.heap.heap import FREED, Heap
from tinyvm.heap.layout import make_shape
from tinyvm.heap.objects import _POISON, Array, AsyncFunction, Cell, Class, Function, HeapObject, Instance, Map, ModuleObject, Native, Record, Tuple
from tinyvm.sched.concurrency import BlockingNative
from tinyvm.jit.native.sweep import marker, sweeper

FAST_MARK = marker()
FAST_SWEEP = sweeper()
pytestmark = pytest.mark.skipif(FAST_MARK is None or FAST_SWEEP is None, reason="the machine loops need the probed layout")


class SubArray(Array):
    """An Array subclass: not `type(o) is Array`, so both loops take size()/refs()."""

    __slots__ = ()


class Boxed(HeapObject):
    """A HeapObject subclass with a __dict__ (no __slots__): its `mark` is
    still the base's slot at offset 16, which the machine loops read."""

    def __init__(self, items: list) -> None:
        self.items = items

    def refs(self) -> list:
        return self.items

    def size(self) -> int:
        return 99 + len(self.items)


class Logged(HeapObject):
    """Records its free() (the order of `rest`)."""

    __slots__ = ("name", "log", "items")

    def __init__(self, items: list) -> None:
        self.items = items
        self.name = ""
        self.log: list = []

    def refs(self) -> list:
        return self.items

    def free(self) -> None:
        self.log.append(self.name)
        self.items = _POISON


# Scalars: (tag, maker). A maker is called once per element, so "distinct"
# strings and big ints are new objects each time, "shared" ones one object.
_SHARED_STR = "shared-string"
_SHARED_BIG = 10**30
SCALARS: list = [
    None, None, None,
    -6, -5, -1, 0, 1, 5, 255, 256, 257, 2**30 - 1, 2**30, 2**31, 2**60, 2**62, -(2**63), 2**63 - 1, -(2**30), -(2**30) - 1,
    10**40, -(10**40), True, False, 0.0, -0.0, 1.5, float("nan"), float("inf"),
    "", "a", "ü-wide", _SHARED_STR, _SHARED_BIG,
]
N_SCALARS = len(SCALARS)
DISTINCT_STR, DISTINCT_BIG = N_SCALARS, N_SCALARS + 1  # fresh objects per element


def _scalar(k: int) -> object:
    if k == DISTINCT_STR:
        return "".join(["dis", "tinct"])  # (a new str object each time)
    if k == DISTINCT_BIG:
        return int("7" * 25)  # (a new big int each time)
    v = SCALARS[k]
    if type(v) is int and not -5 <= v <= 256 and v != _SHARED_BIG:
        return int(str(v))  # (a new int object, as an arithmetic result is)
    return v


# Marks an object may hold before a trace; "C" = the colour object itself,
# "c" = an int equal to the colour made apart, "c+1"/"c-1" its neighbours.
MARKS = ["C", "c", "c+1", "c-1", 0, 1, 2, 255, 256, 257, 2**30, 2**31, 2**40, -7, -9, -11, -13, -(2**40), 10**25]
COLOURS = [1, 2, 5, 255, 256, 257, 300, 2**30 - 1, 2**30, 2**31, 2**62, 10**20, -11, -13, -15, -(2**31)]
KINDS = ["array", "array", "array", "nils", "empty", "ints", "sharedlist", "subarray", "poisoned", "cell", "map", "record", "instance", "slots", "rawslots", "tuple", "boxed", "logged", "function", "asyncfn", "listupvals", "module", "native", "blocking", "class", "oddclass"]
FUNCTIONS = {"function": Function, "asyncfn": AsyncFunction, "listupvals": Function}

# Laid-out instances (heap/layout.py): one shape of references, one with a
# raw int and a raw bool between them (the sweep frees both in machine code).
SLOTS = make_shape(("p", "q", "r"))
RAW_SLOTS = make_shape(("p", "n", "q", "b"), ("", "i", "", "b"))

element = st.one_of(
    st.tuples(st.just("v"), st.integers(0, N_SCALARS + 1)),
    st.tuples(st.just("r"), st.integers(0, 40)),
)
node = st.tuples(st.sampled_from(KINDS), st.lists(element, max_size=8), st.sampled_from(MARKS), st.integers(0, 40))
heap_spec = st.tuples(
    st.lists(node, min_size=1, max_size=30),
    st.sampled_from(COLOURS),
    st.lists(st.integers(0, 40), max_size=6),  # roots (indices, mod the node count)
    st.lists(st.integers(0, N_SCALARS + 1), max_size=3),  # scalar roots
)


def _mark(m: object, colour: int) -> object:
    if m == "C":
        return colour
    if m == "c":
        return int(str(colour))
    if m == "c+1":
        return int(str(colour + 1))
    if m == "c-1":
        return int(str(colour - 1))
    return int(str(m)) if isinstance(m, int) else m


def build(spec: tuple) -> tuple[list, int, list, list]:
    """(objects, colour, roots, free log) from a spec: a fresh copy each call."""
    nodes, colour, root_ix, scalar_roots = spec
    colour = int(str(colour))  # (the colour object of this copy)
    n = len(nodes)
    log: list = []
    objs: list = []
    for kind, _elems, _m, _other in nodes:
        if kind in ("array", "nils", "empty", "ints", "sharedlist", "poisoned"):
            objs.append(Array([]))
        elif kind == "subarray":
            objs.append(SubArray([]))
        elif kind == "cell":
            objs.append(Cell(None))
        elif kind == "map":
            objs.append(Map({}))
        elif kind == "record":
            objs.append(Record({}))
        elif kind == "instance":
            objs.append(Instance(None, {}))  # (cls set below: any heap object traces)
        elif kind in ("slots", "rawslots"):
            shape = SLOTS if kind == "slots" else RAW_SLOTS
            objs.append(shape.__new__(shape))
        elif kind == "tuple":
            objs.append(Tuple(()))
        elif kind in FUNCTIONS:
            objs.append(FUNCTIONS[kind].__new__(FUNCTIONS[kind]))
        elif kind == "module":
            objs.append(ModuleObject.__new__(ModuleObject))
        elif kind in ("native", "blocking"):
            objs.append((Native if kind == "native" else BlockingNative)("n", len, 1))
        elif kind in ("class", "oddclass"):
            objs.append(Class(f"C{len(objs)}", None, None))
        elif kind == "boxed":
            objs.append(Boxed([]))
        else:
            o = Logged([])
            o.log = log
            objs.append(o)
    for i, (kind, elems, m, other) in enumerate(nodes):
        vals = [objs[x % n] if tag == "r" else _scalar(x) for tag, x in elems]
        o = objs[i]
        o.mark = _mark(m, colour)
        if kind == "nils":
            o.items = [None] * len(elems)
        elif kind == "empty":
            o.items = []
        elif kind == "poisoned":
            o.items = _POISON  # (freed by an earlier sweep)
        elif kind == "ints":
            o.items = [_scalar(x) for tag, x in elems if tag == "v" and type(SCALARS[x % N_SCALARS]) is int]
        elif kind == "sharedlist":
            src = objs[other % n]
            o.items = src.items if type(src) is Array else vals  # (one list in two Arrays)
        elif kind in ("array", "subarray", "boxed", "logged"):
            o.items = vals
        elif kind == "cell":
            o.value = vals[0] if vals else None
        elif kind == "map":
            o.items = {k: v for k, v in enumerate(vals)}
            if vals and isinstance(vals[0], str):
                o.items[vals[0]] = 1  # (a string key: traced through the keys)
        elif kind in ("record", "instance"):
            o.fields = {f"f{k}": v for k, v in enumerate(vals)}
            if kind == "instance":
                o.cls = objs[other % n]
        elif kind in ("slots", "rawslots"):
            Instance.__dict__["fields"].__set__(o, None)
            o.cls = objs[other % n]
            refs = [*vals, None, None, None]  # (every slot set, as the shape's maker sets them: refs() reads them all)
            for a, v in zip(("_10", "_11", "_12") if kind == "slots" else ("_10", "_12"), refs):
                setattr(o, a, v)
            if kind == "rawslots":
                o._11, o._13 = -(2**63) + other, bool(other % 2)
        elif kind == "tuple":
            o.items = tuple(vals)
        elif kind in FUNCTIONS:
            # (upvals, module and owner traced; its size counts upvals and
            # code_pad; a list of upvals is not what the machine mark reads:
            # Python's loop then)
            o.upvals = vals[1:] if kind == "listupvals" else tuple(vals[1:])
            o.module = vals[0] if vals else None
            o.owner = objs[other % n] if other % 3 else None
            o.code_pad = [None] * (other % 4)
        elif kind == "module":
            o.globals = vals
        elif kind in ("class", "oddclass"):
            # (methods, template and statics' values, field_inits, parent
            # traced; its size counts methods, own_methods and template. An
            # odd class keeps a dict with a non-string key, a general
            # table, which the machine mark reads too, and a deleted entry)
            o.methods = {f"m{k}": v for k, v in enumerate(vals)}
            o.own_methods = dict(list(o.methods.items())[: other % 3])
            o.template = {f"f{k}": v for k, v in enumerate(vals[1:])}
            o.field_inits = list(vals[2:])
            o.statics = {"s": vals[0]} if vals else {}
            o.parent = objs[other % n] if other % 2 else None
            if kind == "oddclass":
                o.methods[7] = vals[-1] if vals else None
                o.template["gone"] = 1
                del o.template["gone"]
        if kind == "logged":
            o.name = f"L{i}"
    roots = [objs[r % n] for r in root_ix] + [_scalar(k) for k in scalar_roots]
    return objs, colour, roots, log


def marks(objs: list, colour: int) -> list:
    return [(repr(o.mark), o.mark is colour) for o in objs]


def state(o: object) -> tuple:
    if type(o) in (SLOTS, RAW_SLOTS):  # (each slot: POISON or not; a raw one its value)
        vals = tuple(getattr(o, a) for a in type(o).ATTRS)
        return (type(o).__name__, repr(o.mark), o.cls is _POISON, tuple(v if k else v is _POISON for v, k in zip(vals, type(o).RAW)))
    slot = {Cell: "value", Record: "fields", Instance: "fields"}.get(type(o), "items")
    return (type(o).__name__, repr(o.mark), getattr(o, slot, None) is _POISON)


def heaps() -> tuple[Heap, Heap]:
    py, nt = Heap(), Heap()
    nt.native_mark, nt.native_sweep = FAST_MARK, FAST_SWEEP
    return py, nt


SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(heap_spec)
def test_the_machine_mark_reaches_what_the_python_mark_reaches(spec: tuple) -> None:
    # (A reachable poisoned Array: both raise the same host error.)
    (a, ca, ra, _), (b, cb, rb, _) = build(spec), build(spec)
    py, nt = heaps()
    got = outcome(lambda: nt.trace(rb, cb))
    assert got == outcome(lambda: py.trace(ra, ca))
    if not isinstance(got, str):
        assert marks(b, cb) == marks(a, ca)
    STATS.append(isinstance(got, str))


STATS: list = []  # (per example: did the trace raise? the test below checks the mix)


def outcome(f: object) -> object:
    try:
        return f()
    except TypeError as e:
        return f"TypeError: {e}"


@SETTINGS
@given(heap_spec)
def test_the_machine_sweep_leaves_what_the_python_sweep_leaves(spec: tuple) -> None:
    # The marks as the spec left them (no trace): every mark against the colour.
    # Every object held by `keep` too: the machine loop poisons the dead as
    # Python's does (it deallocates at once only what the list alone holds).
    (a, ca, _, la), (b, cb, _, lb) = build(spec), build(spec)
    keep = list(b)
    py, nt = heaps()
    live_a, freed_a = py.sweep(a, ca)
    live_b, freed_b = nt.sweep(b, cb)
    assert freed_b == freed_a and b == keep
    assert [b.index(o) for o in live_b] == [a.index(o) for o in live_a]
    assert [state(o) for o in b] == [state(o) for o in a]
    assert lb == la  # (free() of the other types: the same, in list order)
    # The survivors are exactly the objects whose mark == colour; the rest FREED.
    assert all((o.mark == cb) != (o.mark == FREED) or cb == FREED for o in b)
    # Held by the list alone: a dead object may be deallocated on the spot
    # (its entry POISON); everything else is as above.
    (c, cc, _, lc) = build(spec)
    live_c, freed_c = heaps()[1].sweep(c, cc)
    assert freed_c == freed_a and lc == la
    assert [c.index(o) for o in live_c] == [a.index(o) for o in live_a]
    assert [state(o) for o, p in zip(c, a) if o is not _POISON] == [state(p) for o, p in zip(c, a) if o is not _POISON]
    assert all(p.mark == FREED for o, p in zip(c, a) if o is _POISON)


@SETTINGS
@given(heap_spec)
def test_a_full_collection_is_the_same_with_the_machine_loops(spec: tuple) -> None:
    (a, _, ra, la), (b, _, rb, lb) = build(spec), build(spec)
    py, nt = heaps()
    for h, objs in ((py, a), (nt, b)):
        h.objects = list(objs)
        for o in objs:  # (as alloc leaves them: no object has a later colour)
            o.mark = int(str(abs(spec[1]) - 1))
        h.epoch = abs(spec[1]) - 1  # (colours past the small-int cache too)
    fa, fb = outcome(lambda: py.full(ra)), outcome(lambda: nt.full(rb))
    assert fb == fa
    if isinstance(fa, str):
        return  # (a poisoned Array reached: the same error)
    assert (nt.bytes, nt.live, len(nt.objects)) == (py.bytes, py.live, len(py.objects))
    assert [b.index(o) for o in nt.objects] == [a.index(o) for o in py.objects]
    assert [state(o) for o in b] == [state(o) for o in a]
    assert lb == la
    sa, sb = py.stats, nt.stats
    assert (sb.freed_objects, sb.survivors, sb.base) == (sa.freed_objects, sa.survivors, sa.base)
    # A second collection over the survivors (an object the first kept
    # because its old mark was that colour is freed now): the same again.
    assert nt.full(rb) == py.full(ra)
    assert (nt.bytes, [state(o) for o in b]) == (py.bytes, [state(o) for o in a])


@pytest.mark.parametrize("n", [0, 1, 2, 7, 8, 9, 1000])
@pytest.mark.parametrize("fill", ["nil", "int", "big", "float", "bool", "str", "array", "nil-then-int", "int-then-nil"])
def test_arrays_of_one_kind(n: int, fill: str) -> None:
    # Arrays of one element type only (the all-nil fast path of the Python
    # loop among them; an array that starts with nil and is not all nil).
    def make() -> tuple[list, Array]:
        leaf = Array([None, 3])
        leaf.mark = 0
        vals = {"nil": [None] * n, "int": list(range(n)), "big": [int(str(2**40 + k)) for k in range(n)], "float": [k / 3 for k in range(n)],
                "bool": [k % 2 == 0 for k in range(n)], "str": [f"s{k % 5}" for k in range(n)], "array": [leaf] * n,
                "nil-then-int": [None] * n + [1000], "int-then-nil": [1000] + [None] * n}[fill]
        top = Array(vals)
        top.mark = 0
        return [top, leaf], top

    (a, ta), (b, tb) = make(), make()
    py, nt = heaps()
    assert nt.trace([tb], 1) == py.trace([ta], 1)
    assert marks(b, 1) == marks(a, 1)


def test_a_reached_poisoned_array_fails_the_same_way() -> None:
    # A reachable freed Array (a missing root: a VM bug) raises the same
    # host error from both loops (len() of the poison), not a crash.
    errors = []
    for h in heaps():
        top, dead = Array([None]), Array([1])
        top.mark = dead.mark = 0
        dead.items = _POISON
        top.items = [dead]
        with pytest.raises(TypeError) as e:
            h.trace([top], 1)
        errors.append(str(e.value))
    assert errors[0] == errors[1]


def test_a_poisoned_array_in_the_sweep_is_freed_again_alike() -> None:
    for h in heaps():
        a, b = Array([1]), Array([2])
        a.items = _POISON
        a.mark, b.mark = 3, 4
        live, freed = h.sweep([a, b], 4)
        assert (live, freed) == ([b], 1) and a.mark == FREED and a.items is _POISON


def test_an_element_with_no_mark_fails_the_same_way() -> None:
    # An Array element whose mark slot was never set: both loops raise the
    # AttributeError of `child.mark`.
    for h in heaps():
        top, bare = Array([None]), Array([None])
        top.mark = 0
        top.items = [1, bare]
        with pytest.raises(AttributeError):
            h.trace([top], 1)


def test_marks_that_are_not_small_ints() -> None:
    # A colour past the small-int cache, multi-digit, negative: an object
    # whose mark equals it (another int object) is reached already, as for
    # Python's !=, and the colour stored is the colour object.
    for colour in (257, 2**30, 2**31 + 5, 10**30, -11, -(2**40)):
        res = []
        for h in heaps():
            c = int(str(colour))
            seen, fresh = Array([None, 9999]), Array([1, 2])
            seen.mark, fresh.mark = int(str(colour)), int(str(colour + 1))
            top = Array([seen, fresh, seen])
            top.mark = 0
            res.append((h.trace([top], c), seen.mark is c, fresh.mark is c, top.mark is c))
        assert res[0] == res[1]
        assert res[0][1:] == (False, True, True)


def test_the_mark_drops_no_reference() -> None:
    # Reference counts of the colour, the old marks, the arrays and their
    # lists come back to where the Python loop leaves them.
    import sys

    counts = []
    for h in heaps():
        colour = int(str(10**12))
        old = int(str(10**13))
        kids = [Array([None, 2**40]) for _ in range(20)]
        for k in kids:
            k.mark = old
        top = Array(list(kids))
        top.mark = 0
        before = (sys.getrefcount(colour), sys.getrefcount(old), [sys.getrefcount(k) for k in kids])
        h.trace([top], colour)
        after = (sys.getrefcount(colour), sys.getrefcount(old), [sys.getrefcount(k) for k in kids])
        counts.append((before, after))
    assert counts[0] == counts[1]


# ------------------------------------------------------------------ programs

TREES = """
fn build(depth: int, w: int) -> [any] {
  let arr: [any] = [nil] * w
  if depth == 0 { return arr }
  var i = 0
  while i < w {
    if i % 3 == 0 {
      arr[i] = build(depth - 1, w)
    } else if i % 3 == 1 {
      arr[i] = depth * 1000000000000 + i
    } else {
      arr[i] = i + 0.5
    }
    i += 1
  }
  return arr
}
fn walk(t: any, depth: int) -> int {
  if depth == 0 { return 1 }
  let a: [any] = t
  var s = 1
  var i = 0
  while i < len(a) {
    if i % 3 == 0 { s += walk(a[i], depth - 1) }
    i += 1
  }
  return s
}
var keep: [any] = []
var total = 0
var k = 0
while k < 40 {
  let t = build(4, 4)
  total += walk(t, 4)
  if k % 7 == 0 { keep.push(t) }
  if k % 11 == 0 { keep.push({name: "k" + str(k), t: t, n: [k, 300, 2.5, true, nil]}) }
  k += 1
}
print(total, len(keep))
"""

STRINGS = """
fn mk(n: int, names: [any]) -> [any] {
  let a: [any] = [nil] * n
  var i = 0
  while i < n {
    a[i] = names[i % 5]
    i += 1
  }
  return a
}
let names: [any] = ["alpha", "beta", "gamma", "delta", "épsilon"]
var held: [any] = []
var i = 0
var s = 0
while i < 300 {
  let a = mk(6 + i % 3, names)
  s += len(a)
  if i % 50 == 0 { held.push(a) }
  i += 1
}
print(s, len(held))
"""


def _count_machine_loops(monkeypatch: pytest.MonkeyPatch, sweep_mod: Any) -> list:
    """A list that gets an item each time a hook takes the machine loops."""
    used: list = []
    real = sweep_mod._compiled
    monkeypatch.setattr(sweep_mod, "_compiled", lambda: used.append(1) or real())
    return used


def _run(src: str, jit: str, mode: str) -> tuple:
    out = io.StringIO()
    vm = VM(jit=jit, stdout=out, gc=mode, max_memory=1 << 26)
    vm.machine.heap.set_threshold(1 << 14)  # (many collections)
    vm.run_source(src)
    h = vm.machine.heap
    s = h.stats
    during = (out.getvalue(), h.bytes, h.count, s.collections, s.freed_objects, s.freed_bytes, s.survivors)
    h.collect(h.roots())
    return during, (h.bytes, h.count), h


@pytest.mark.parametrize("mode", ["stw", "incremental", "generational"])
@pytest.mark.parametrize("src", [TREES, STRINGS], ids=["trees", "strings"])
def test_whole_programs_count_the_same_heap(src: str, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The native tier with the machine loops and with them turned off
    # (sweeper/marker None: the Python loops) runs the same collections at
    # the same allocations: output, heap bytes, objects and every GC
    # statistic must match. Against the interpreter (tier "off") the
    # collections fall at other safe points (so the counts during the run
    # differ, with or without the machine loops: also on main), but after a
    # final full collection the live bytes and objects must match.
    from tinyvm.jit.native import sweep as sweep_mod

    # (the hooks compile the machine loops at the first collection: sweep.py
    # `lazy_sweep`/`lazy_mark`, which take them from `_compiled`, counted
    # here; with `_compiled` finding none they hand every object to the
    # Python loops)
    used = _count_machine_loops(monkeypatch, sweep_mod)
    during, after, h = _run(src, "native-eager", mode)
    assert h.native_sweep is sweep_mod.lazy_sweep and h.native_mark is sweep_mod.lazy_mark
    assert used, "the machine loops did not run"
    monkeypatch.setattr(sweep_mod, "_compiled", lambda: (None, None))
    during_py, after_py, h_py = _run(src, "native-eager", mode)
    assert h_py.native_sweep is sweep_mod.lazy_sweep
    assert (during, after) == (during_py, after_py)
    # (collections did run and free; generational's nursery outlasts these\n    # small programs: its one collection is the final full one)
    assert during[4] > 100 or mode == "generational"
    during_off, after_off, _ = _run(src, "off", mode)
    assert during_off[0] == during[0] and after_off == after


def test_the_generated_heaps_mostly_trace() -> None:
    # (Runs after the property test in file order: most examples must trace
    # to the end, so the marks were compared, not just the error.)
    if STATS:
        assert sum(1 for e in STATS if not e) > len(STATS) // 2, STATS.count(True)


def test_the_sweep_leaves_the_reference_counts_the_python_sweep_leaves() -> None:
    # FREED (-7) and the big marks are not in CPython's small-int cache: the
    # machine loop must take exactly the references the Python stores take
    # (FREED and the poison per freed Array) and drop the old marks'.
    import sys

    from tinyvm.heap import heap as heap_mod

    # (`keep` holds the objects too: the machine loop poisons them, as
    # Python's loop does. Without it, the dead the list alone holds are
    # deallocated in the loop: once the lists are gone, every count is
    # back where it was, for both loops.)
    def counts_of(colour: int, old: int) -> tuple:
        return (sys.getrefcount(heap_mod.FREED), sys.getrefcount(_POISON), sys.getrefcount(colour), sys.getrefcount(old))

    counts = []
    for keeping in (True, False):
        for h in heaps():
            colour = int(str(10**12))
            old = int(str(10**13))
            objs = [Array([None, k]) for k in range(30)] + [Cell(1) for _ in range(5)]
            for k in range(len(objs)):  # (no loop variable left holding one)
                objs[k].mark = colour if k % 3 == 0 else old
            keep = list(objs) if keeping else []
            before = counts_of(colour, old)
            live, freed = h.sweep(objs, colour)
            after = counts_of(colour, old)
            if keeping:
                counts.append((freed, [a - b for a, b in zip(after, before)]))
            del live, objs, keep
            gone = counts_of(colour, old)
            if not keeping:
                n_live = sum(1 for k in range(35) if k % 3 == 0)
                assert freed == 35 - n_live and gone[:2] == before[:2], (gone, before)
                assert (gone[2], gone[3]) == (before[2] - n_live, before[3] - freed), (gone, before)  # (each mark's reference gone with its object)
    assert counts[0] == counts[1]
    assert counts[0][1][3] < 0  # (the old marks' references were dropped)


AT_THE_LIMIT = """
fn mk(n: int, x: int) -> [any] {
  let a: [any] = [nil] * n
  var i = 0
  while i < n {
    if i % 2 == 0 { a[i] = x * 1000000000000 + i }
    i += 1
  }
  return a
}
var keep: [any] = []
var k = 0
var caught = ""
try {
  while k < 100000 {
    let t = mk(8, k)
    if k % 3 == 0 { keep.push(t) }
    k += 1
  }
} catch e {
  caught = "caught"
}
print(k, len(keep), caught)
"""


@pytest.mark.parametrize("mode", ["stw", "incremental", "generational"])
def test_emergency_marks_at_the_limit_are_the_same(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A program that runs into a 1 MiB limit (emergency marks through
    # `Heap.trace` with the machine mark, the verifier on): the same
    # MemoryError point, heap and statistics with the machine loops on and off.
    from tinyvm.jit.native import sweep as sweep_mod

    def run() -> tuple:
        out = io.StringIO()
        vm = VM(jit="native-eager", stdout=out, gc=mode, max_memory=1 << 20, gc_verify=True)
        vm.run_source(AT_THE_LIMIT)
        h = vm.machine.heap
        s = h.stats
        return h.native_mark is sweep_mod.lazy_mark, (out.getvalue(), h.bytes, h.count, s.collections, s.emergencies, s.freed_objects, s.freed_bytes)

    used = _count_machine_loops(monkeypatch, sweep_mod)
    on, got = run()
    assert used, "the machine loops did not run"
    monkeypatch.setattr(sweep_mod, "_compiled", lambda: (None, None))  # (the hooks hand everything to the Python loops)
    off, want = run()
    assert on and off
    assert got == want
    assert got[0].endswith(" caught\n") and got[4] >= 1  # (the limit was reached)


@pytest.mark.parametrize("shape", ["chain", "self", "wide"])
def test_deep_wide_and_self_referencing_arrays(shape: str) -> None:
    # A 50,000-deep chain (no recursion in either loop), an Array holding
    # itself, a 200,000-element array of mixed elements.
    def make() -> tuple[list, Array]:
        if shape == "chain":
            objs = [Array([None, k, 2**40 + k]) for k in range(50_000)]
            for a, b in zip(objs, objs[1:]):
                a.items[0] = b
        elif shape == "self":
            objs = [Array([None, 300])]
            objs[0].items += [objs[0], objs[0]]
        else:
            leaf = Array([1.5])
            vals = [None, 7, 1000, 2**62, -(2**63), 0.25, True, "w", leaf]
            objs = [Array([vals[k % len(vals)] for k in range(200_000)]), leaf]
        for o in objs:
            o.mark = 0
        return objs, objs[0]

    (a, ra), (b, rb) = make(), make()
    py, nt = heaps()
    assert nt.trace([rb], 1) == py.trace([ra], 1)
    assert marks(b, 1) == marks(a, 1)
    assert py.sweep(a, 1)[1] == nt.sweep(b, 1)[1] == 0


def test_the_machine_mark_visits_functions_modules_natives_and_instances_itself() -> None:
    # (mark.py: the kinds whose size and references it knows never reach
    # the Python loop: `objs` stays empty; a string and a Cell go to kids)
    klass = Class("K", None, None)
    mod = ModuleObject.__new__(ModuleObject)
    fn = AsyncFunction.__new__(AsyncFunction)
    fn.upvals, fn.module, fn.owner, fn.code_pad = (Cell(None),), mod, None, [None]
    inst = RAW_SLOTS.__new__(RAW_SLOTS)
    Instance.__dict__["fields"].__set__(inst, None)
    inst.cls, inst._10, inst._11, inst._12, inst._13 = klass, Native("n", len, 1), 10**6, fn, True
    mod.globals = [fn, BlockingNative("b", len, 1), inst, "text", 2.5]
    for o in (klass, mod, fn, inst, *mod.globals[1:2], fn.upvals[0], inst._10):
        o.mark = 0
    stack, objs, kids = [mod], [], []
    mod.mark = 1
    total = FAST_MARK(stack, 1, objs, kids)
    assert objs == [] and total > 0
    assert sorted(map(id, kids)) == sorted(map(id, ["text", fn.upvals[0]]))  # (a string, a Cell: the Python loop's)
    assert all(o.mark == 1 for o in (mod, fn, inst, mod.globals[1], inst._10, klass))
    nt = Heap()
    nt.native_mark = FAST_MARK
    for o in (klass, mod, fn, inst, *mod.globals[1:2], fn.upvals[0], inst._10):
        o.mark = 0
    assert nt.trace([mod], 2) == Heap().trace([mod], 3)


def test_subclasses_the_machine_mark_takes_by_their_base_keep_its_methods() -> None:
    # (mark.py takes a type whose tp_base is Function or Native as one:
    # such a subclass must add no slot and keep refs() and size())
    import tinyvm.sched.concurrency  # noqa: F401 - (BlockingNative defined)

    for base in (Function, Native):
        subs = base.__subclasses__()
        assert subs, base
        for sub in subs:
            assert sub.__slots__ == () and sub.__basicsize__ == base.__basicsize__, sub
            assert sub.refs is base.refs and sub.size is base.size, sub
