"""The guest sweep in machine code (jit/native/sweep.py) and `[nil] * n`'s
shared operand list (alloc.py `operand_only`; docs/native.md, "The sweep in
machine code and shared operand lists").

The machine-code sweep must leave exactly what `Heap.sweep`'s Python loop
leaves: the same survivors in the same order, the same freed count, every
dead object marked FREED and poisoned, other types' `free()` run in list
order; marks compared as Python compares ints (equal values in distinct
objects, big and negative ones). The shared `[None]` must never be reachable
by code that could change it."""

from __future__ import annotations

import functools
import io

import pytest

pytest.importorskip("llvmlite")

from native_helpers import heap_after, module_texts, native

from tinyvm.api import VM
from tinyvm.heap.heap import FREED, Heap
from tinyvm.heap.objects import _POISON, Array, Cell, HeapObject, Map, Record
from tinyvm.jit.native.sweep import sweeper


class Logged(HeapObject):
    """A heap object whose free() says when it ran (the order of `rest`)."""

    __slots__ = ("name", "log")

    def __init__(self, name: str, log: list) -> None:
        self.name = name
        self.log = log

    def free(self) -> None:
        self.log.append(self.name)


def _objects(colour: int, log: list) -> list:
    """A list as a sweep meets it: live and dead Arrays, Cells, Maps, Records
    and Logged objects; marks that are `colour` itself, an equal int made
    apart, a neighbour, big and negative ints."""
    same = int(str(colour))  # (equal, another object when colour > 256)
    marks = [colour, same, colour - 1, colour + 1, -11, -7, 0, 1 << 40, -(1 << 40), colour + (1 << 30)]
    out = []
    for k in range(60):
        m = marks[k % len(marks)]
        kind = k % 5
        if kind == 0:
            o = Array([None] * (k % 4) + [k, "s", 1.5])
        elif kind == 1:
            o = Cell(k)
        elif kind == 2:
            o = Map({k: k})
        elif kind == 3:
            o = Record({"a": k})
        else:
            o = Logged(f"o{k}", log)
        o.mark = m
        out.append(o)
    return out


def _state(o: object) -> tuple:
    return (type(o).__name__, o.mark, getattr(o, "items", None) is _POISON, getattr(o, "value", None) is _POISON)


def test_the_helpers_are_optimized_whole() -> None:
    # (codegen.helper_module runs the module pipeline: without it no
    # alwaysinline helper was inlined, and every word the sweep and the
    # mark read was a call, ~1.8x their time)
    from tinyvm.jit.native import sweep as sweep_mod

    assert sweeper() is not None
    ir = sweep_mod._made[0][2]
    assert "define i64 @tvm.sweep" in ir and "define i64 @tvm.mark" in ir
    assert "@sw.word" not in ir and "@sw.same" in ir  # (sw.same is not alwaysinline: a call of its own)


@pytest.mark.parametrize("colour", [3, 256, 257, 1000, 1 << 31, -11, -13])
def test_the_machine_sweep_leaves_what_the_python_sweep_leaves(colour: int) -> None:
    # Every object also held by `held`: the machine loop poisons the dead
    # as the Python loop does (it deallocates only what the list alone holds).
    fast = sweeper()
    assert fast is not None
    log_py: list = []
    log_nt: list = []
    a, b = _objects(colour, log_py), _objects(colour, log_nt)
    held = list(b)
    h_py, h_nt = Heap(), Heap()
    h_nt.native_sweep = fast
    live_py, freed_py = h_py.sweep(a, colour)
    live_nt, freed_nt = h_nt.sweep(b, colour)
    assert b == held  # (no entry dropped)
    assert freed_nt == freed_py > 0
    assert [a.index(o) for o in live_py] == [b.index(o) for o in live_nt]
    assert [_state(o) for o in a] == [_state(o) for o in b]
    assert all(o.mark == FREED for o in b if o not in live_nt)
    assert all(o.items is _POISON for o in b if type(o) is Array and o.mark == FREED)
    assert log_nt == log_py and log_nt  # (the others' free(), in list order)


@pytest.mark.parametrize("colour", [3, 1000, -11])
def test_dead_objects_only_the_list_holds_are_deallocated_at_once(colour: int) -> None:
    # The same objects held by the list alone: the dead Arrays' entries
    # become POISON (deallocated in the loop, their lists with them); the
    # other dead objects still get their own free(), in list order; the
    # survivors and the freed count are the Python loop's.
    log_py: list = []
    log_nt: list = []
    a, b = _objects(colour, log_py), _objects(colour, log_nt)
    kinds = [type(o) for o in b]
    h_py, h_nt = Heap(), Heap()
    h_nt.native_sweep = sweeper()
    live_py, freed_py = h_py.sweep(a, colour)
    dead = [k for k, o in enumerate(a) if o.mark == FREED]
    live_nt, freed_nt = h_nt.sweep(b, colour)
    assert freed_nt == freed_py > 0
    assert [type(o) for o in live_nt] == [type(o) for o in live_py]
    assert [o.mark for o in live_nt] == [o.mark for o in live_py]
    for k in range(len(b)):
        if k in dead and kinds[k] is Array:
            assert b[k] is _POISON, k
        elif k in dead:
            assert b[k].mark == FREED and _state(b[k]) == _state(a[k]), k
        else:
            assert b[k] in live_nt and _state(b[k]) == _state(a[k]), k
    assert log_nt == log_py and log_nt  # (the others' free(), in list order)
    assert any(b[k] is _POISON for k in dead)


def test_a_failed_machine_sweep_leaves_the_dropped_out() -> None:
    # A machine loop that failed midway (-1: an append without memory) may
    # have deallocated objects already: their entries are POISON. The
    # Python loop redoes the rest and counts them as freed.
    colour = 1000
    h = Heap()
    want_live, want_freed = Heap().sweep(_objects(colour, []), colour)
    objs = _objects(colour, [])
    first_dead = next(k for k, o in enumerate(objs) if o.mark != colour and type(o) is Array)

    def failing(objects: list, colour: object, live: list, rest: list) -> int:
        objects[first_dead] = _POISON  # (as the loop leaves a deallocated one)
        live.append(objects[0])  # (partial work the Python loop ignores)
        return -1

    h.native_sweep = failing
    live, freed = h.sweep(objs, colour)
    assert freed == want_freed and [type(o) for o in live] == [type(o) for o in want_live]
    assert [o.mark for o in live] == [o.mark for o in want_live]


def test_a_sweep_frees_the_lists_of_dead_arrays() -> None:
    # The poisoned Array drops its list (and what only the list held):
    # nothing is leaked or kept alive by the machine-code loop.
    import sys
    import weakref

    class Box:
        pass

    fast = sweeper()
    boxes = [Box() for _ in range(50)]
    refs = [weakref.ref(x) for x in boxes]
    objs = []
    for x in boxes:
        arr = Array([x, None])
        arr.mark = 1
        objs.append(arr)
    del boxes, x
    mark = 10**6 + 1  # (a big int: its count must come back to where it was)
    for arr in objs:
        arr.mark = mark
    before = sys.getrefcount(mark)
    h = Heap()
    h.native_sweep = fast
    live, freed = h.sweep(objs, 2)
    assert (live, freed) == ([], 50)
    assert all(r() is None for r in refs)
    assert sys.getrefcount(mark) == before - 50


def test_an_object_with_no_mark_takes_the_python_loop() -> None:
    # The machine loop stops (-2) at a mark slot never set; the Python loop
    # then runs over the whole list and raises as it always did.
    h = Heap()
    h.native_sweep = sweeper()
    a = Array([None])
    a.mark = 0
    with pytest.raises(AttributeError):
        h.sweep([a, Array([None])], 1)


@functools.cache
def _shapes() -> tuple:
    from tinyvm.heap.layout import make_shape

    return make_shape(("a", "b", "c")), make_shape(("n", "o", "f"), ("i", "", "b")), make_shape(())


def _instances(colour: int) -> list:
    """Laid-out instances of three shapes (references only; raw int, object,
    raw bool; none), live and dead, a slot never set among them."""
    plain, raw, empty = _shapes()
    cls = Box(-1)
    out = []
    for k in range(30):
        shape = (plain, raw, empty)[k % 3]
        o = shape.__new__(shape)
        o.cls = cls
        if shape is plain:
            o._10, o._11 = Box(k), [k]
            if k % 2:
                o._12 = "s"  # (else never set: a NULL slot)
        elif shape is raw:
            o._10, o._11, o._12 = k - (1 << 40), Box(k), bool(k % 2)
        o.mark = colour if k % 4 == 0 else colour + 1
        out.append(o)
    return out


class Box:
    """A value a weak reference can watch."""

    def __init__(self, k: int) -> None:
        self.k = k


def _slots(o: object) -> tuple:
    t = type(o)
    vals = (d.__get__(o) if hasattr(o, a) else "unset" for a, d in zip(t.ATTRS, t.DESCS))
    return (o.mark, type(o.cls), tuple(("box", v.k) if type(v) is Box else v for v in vals))


@pytest.mark.parametrize("held", [True, False], ids=["held elsewhere", "the list alone"])
def test_dead_laid_out_instances_are_freed_in_machine_code(held: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # heap/layout.py's generated free(), done by the machine loop (its
    # reference slots found in the type's tp_members, layout.probe_members):
    # held elsewhere too, every reference slot and `cls` POISON, raw slots
    # left, mark FREED; held by the list alone, deallocated there (its entry
    # POISON). Either way the old references are dropped and no instance
    # reaches the Python free().
    import sys
    import weakref

    from tinyvm.jit.native.layout import probe_members

    assert probe_members() is not None
    for colour in (3, 1000):
        a, b = _instances(colour), _instances(colour)
        keep = list(b) if held else []
        held_boxes = [(weakref.ref(x), o.mark != colour) for o in b for x in (getattr(o, n, None) for n in type(o).ATTRS) if type(x) is Box]
        dead_at = [k for k, o in enumerate(b) if o.mark != colour]
        cls = b[0].cls
        before = sys.getrefcount(cls)
        live_py, freed_py = Heap().sweep(a, colour)
        called: list = []
        for shape in _shapes():
            monkeypatch.setattr(shape, "free", lambda self: called.append(self))
        h = Heap()
        h.native_sweep = sweeper()
        live_nt, freed_nt = h.sweep(b, colour)
        monkeypatch.undo()
        assert called == []
        assert freed_nt == freed_py == len(dead_at) == 22
        assert [_slots(o) for o in live_py] == [_slots(o) for o in live_nt]
        if held:
            assert b == keep
            assert [a.index(o) for o in live_py] == [b.index(o) for o in live_nt]
            assert [_slots(o) for o in a] == [_slots(o) for o in b]
            dead = [o for o in b if o not in live_nt]
            assert all(o.mark == FREED and o.cls is _POISON for o in dead)
            assert [o.values_list()[0] for o in dead if type(o) is _shapes()[1]] == [k - (1 << 40) for k in range(30) if k % 3 == 1 and k % 4]  # (raw slots keep their values)
        else:
            assert [k for k, o in enumerate(b) if o is _POISON] == dead_at
        # what only the dead held is freed, what the live hold is not
        assert [r() is None for r, _ in held_boxes] == [d for _, d in held_boxes] and any(d for _, d in held_boxes)
        assert sys.getrefcount(cls) == before - 22


@pytest.mark.parametrize("how", ["recycled", "held elsewhere", "no list", "not a Class", "no bins"])
def test_dead_instances_only_the_list_holds_are_kept_for_reuse(how: str) -> None:
    # A dead laid-out instance only the list holds, of a Class with a
    # recycle list (fields.bind makes one where native code makes its
    # instances inline), goes on that list emptied: every reference slot,
    # cls and mark NULL (what PyType_GenericAlloc returns), its old
    # references dropped; the list goes on `bins` once, and the next sweep
    # (or an explicit collection) empties it. Held elsewhere, of a class
    # without a list, of a cls that is not a Class, or with no bins: as
    # before (poisoned, or deallocated).
    import sys
    import weakref

    from tinyvm.heap.objects import Class

    colour = 1000
    klass = Class("K", None, None)
    if how != "no list":
        klass.recycle = []
    b = _instances(colour)
    if how != "not a Class":
        for k in range(len(b)):
            b[k].cls = klass
    keep = list(b) if how == "held elsewhere" else []
    dead_at = [k for k, o in enumerate(b) if o.mark != colour]
    dead_ids = [id(b[k]) for k in dead_at]
    boxes = [(weakref.ref(x), o.mark != colour) for o in b for x in (getattr(o, n, None) for n in type(o).ATTRS) if type(x) is Box]
    before = sys.getrefcount(klass)
    h = Heap()
    h.native_sweep = sweeper() if how != "no bins" else (lambda objs, c, live, rest, bins: sweeper()(objs, c, live, rest, None))
    live, freed = h.sweep(b, colour)
    assert freed == len(dead_at) == 22 and live == [o for o in b if o is not _POISON and o.mark == colour]
    if how == "recycled":
        assert [k for k, o in enumerate(b) if o is _POISON] == dead_at
        assert h.bins == [klass.recycle] and h.bins[0] is klass.recycle
        assert [id(o) for o in klass.recycle] == dead_ids
        for o in klass.recycle:
            assert sys.getrefcount(o) == 3  # (the list's, o's, getrefcount's)
            for name in ("cls", "mark", *(a for a, r in zip(type(o).ATTRS, type(o).RAW) if not r)):
                assert not hasattr(o, name), name
            assert o.__class__.__base__.__name__ == "SlotInstance"
        del o
        assert sys.getrefcount(klass) == before - 22
        h.sweep([], colour)  # (the next sweep empties the bins first)
        assert klass.recycle == [] and h.bins == []
    else:
        assert h.bins == [] and not klass.recycle
        if how == "held elsewhere":
            assert b == keep and all(b[k].mark == FREED and b[k].cls is _POISON for k in dead_at)
        else:
            assert [k for k, o in enumerate(b) if o is _POISON] == dead_at
    # what only the dead held is freed, what the live hold is not
    assert [r() is None for r, _ in boxes] == [d for _, d in boxes] and any(d for _, d in boxes)


def test_an_explicit_collection_gives_the_recycled_back() -> None:
    from tinyvm.heap.objects import Class

    h = Heap()
    klass = Class("K", None, None)
    klass.recycle = [object(), object()]
    h.bins.append(klass.recycle)
    h.collect([])
    assert klass.recycle == [] and h.bins == []


PROGRAM = """
fn build(depth: int) -> [any] {
  if depth == 1 {
    let leaf: [any] = [nil] * (depth + 2)
    return leaf
  }
  let arr: [any] = [nil] * 4
  var i = 0
  while i < 4 {
    arr[i] = build(depth - 1)
    i += 1
  }
  return arr
}
fn count(t: [any], depth: int) -> int {
  if depth == 1 { return len(t) }
  var s = 1
  var i = 0
  while i < 4 {
    let sub: [any] = t[i]
    s += count(sub, depth - 1)
    i += 1
  }
  return s
}
var total = 0
var k = 0
while k < 60 {
  total += count(build(5), 5)
  k += 1
}
print(total)
"""


@pytest.mark.parametrize("mode", ["stw", "incremental", "generational"])
def test_collections_of_a_native_vm_use_the_machine_sweep(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A VM with the native tier sweeps in machine code (counted here) in
    # every collector mode, with the verifier on, and runs as the
    # interpreter does.
    from tinyvm.jit.native import sweep as sweep_mod

    calls: list[int] = []
    real = sweeper()

    def counted(objects: list, colour: int, live: list, rest: list, bins: list | None = None) -> int:
        calls.append(len(objects))
        return real(objects, colour, live, rest, bins)

    monkeypatch.setattr(sweep_mod, "lazy_sweep", counted)
    out = io.StringIO()
    log: list[str] = []
    vm = VM(jit="native-eager", stdout=out, jit_log=log.append, gc=mode, gc_verify=True, max_memory=1 << 20)
    vm.run_source(PROGRAM)
    h = vm.machine.heap
    assert native("build", log), log
    assert h.native_sweep is counted and h.native_mark is sweep_mod.lazy_mark
    assert h.stats.freed_objects > 10000
    # (generational: minor collections sweep in their own Python loop, which
    # also sums the dead's bytes; only a major one calls Heap.sweep)
    assert len(calls) >= 3 or mode == "generational"
    want = io.StringIO()
    VM(stdout=want, gc=mode, max_memory=1 << 20).run_source(PROGRAM)
    assert out.getvalue() == want.getvalue()


def test_nil_operand_lists_are_shared_and_accounted() -> None:
    # `[nil] * k`'s literal gets the maker's own `[None]` (no list made);
    # the Array is still made, listed and charged: bytes and object counts
    # are the interpreter's.
    vm = VM(jit="native-eager", stdout=io.StringIO(), max_memory=1 << 30)
    src = PROGRAM.replace("k < 60", "k < 2")
    vm.run_source(src)
    nones = vm.machine.jit.native.arrays.nones
    assert nones == [None]
    shared = [o for o in vm.machine.heap.objects if type(o) is Array and o.items is nones]
    assert len(shared) > 100
    assert heap_after(src, "native-eager") == heap_after(src, "off")


HELD = """
fn f(n: int) -> int {
  let a: [any] = [nil]
  let b: [any] = a * n
  a.push(7)
  let c: [any] = [nil] * n
  return len(a) * 100 + len(b) * 10 + len(c)
}
fn g(n: int) -> [any] {
  let a: [any] = [nil]
  let b: [any] = a * n
  return a
}
var s = 0
var k = 0
while k < 50 {
  s += f(3)
  let t = g(2)
  t.push(1)
  s += len(t)
  k += 1
}
let last: [any] = [nil] * 3
print(s, len(last), last[0] == nil, last[2] == nil)
"""


def test_a_literal_held_in_a_local_gets_a_list_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    # A literal a local holds (later pushed to, or returned) is not shared:
    # the shared `[None]` stays `[None]`, and products of it stay all nil.
    out = io.StringIO()
    log: list[str] = []
    vm = VM(jit="native-eager", stdout=out, jit_log=log.append)
    vm.run_source(HELD)
    assert native("f", log) and native("g", log), log
    want = io.StringIO()
    VM(stdout=want).run_source(HELD)
    assert out.getvalue() == want.getvalue() == "11750 3 true true\n"
    assert vm.machine.jit.native.arrays.nones == [None]


def test_the_shared_literal_makes_no_list(monkeypatch: pytest.MonkeyPatch) -> None:
    # The IR of `[nil] * k` repeats a list once (the product), not twice.
    one = "fn h(k: int) -> [any] {\n  let x: [any] = [nil] * k\n  return x\n}\nvar i = 0\nwhile i < 3 {\n  h(2)\n  i += 1\n}\n"
    t = "".join(module_texts(one, monkeypatch))
    assert t.count("call i64 @PySequence_Repeat") == 1


def test_only_a_literal_nothing_else_reads_is_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    # `let a = [nil]` then `a * n`: when a is dead after the product (the
    # exits' frame states drop dead locals), its list is shared; when a is
    # read again, it gets a list of its own (PySequence_Repeat as before).
    src = "fn q(n: int) -> int {\n  let a: [any] = [nil]\n  let b: [any] = a * n\n  return len(b)TAIL\n}\nvar i = 0\nwhile i < 3 {\n  q(2)\n  i += 1\n}\n"
    dead = "".join(module_texts(src.replace("TAIL", ""), monkeypatch))
    assert dead.count("call i64 @PySequence_Repeat") == 1
    read = "".join(module_texts(src.replace("TAIL", " + len(a)"), monkeypatch))
    assert read.count("call i64 @PySequence_Repeat") == 2


def _reference_bytes(roots: list) -> int:
    """What Heap.trace counts, the plain way: each reached object's size()
    and the scalars its refs() hold (strings once, ints outside -5..256)."""
    from tinyvm.heap.objects import FLOAT_BYTES, INT_BYTES, str_bytes

    seen: set[int] = set()
    strs: set[int] = set()
    total = 0
    todo = list(roots)
    while todo:
        o = todo.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        total += o.size()
        for c in o.refs():
            if isinstance(c, HeapObject):
                todo.append(c)
            elif type(c) is int and not -5 <= c <= 256:
                total += INT_BYTES
            elif type(c) is float:
                total += FLOAT_BYTES
            elif type(c) is str and id(c) not in strs:
                strs.add(id(c))
                total += str_bytes(c)
    return total


@pytest.mark.parametrize("machine", [False, True])
def test_the_marks_arrays_count_what_size_and_refs_say(machine: bool) -> None:
    # Heap.trace's inline Array case (its size, an all-nil array skipped by
    # one count) and the machine-code mark (sweep.py's tvm.mark, with the
    # Python loop for what it leaves) reach and count exactly what size()
    # and refs() give: ints at the small-int cache's edges, one string in
    # many arrays (counted once), bools, floats, Arrays under Records.
    from tinyvm.jit.native.sweep import marker

    edges = [-6, -5, 0, 256, 257, 1 << 30, -(1 << 30), (1 << 30) - 1, 1 << 62, -(1 << 62), True, False, 0.5, "abc", None]
    inner = Array([None] * 7)
    mixed = [
        inner,
        Array([]),
        Array([None, None, 1000, "abc", 2.5, None]),
        Array([None, inner, None]),
        Array([None] * 3 + [Cell(10**9)]),
        Array([1, 2, 300, "abc"]),
        Array([Array([None]), Array([None] * 9), Record({"a": Array([None, 5000])})]),
        Array(list(edges)),
        Array([Array(edges[::-1]), "abc", Cell("abc"), Array([inner, inner])]),
    ]
    root = Array(list(mixed))
    todo = [root]
    while todo:  # (every object unmarked: mark 0)
        o = todo.pop()
        o.mark = 0
        todo.extend(c for c in o.refs() if isinstance(c, HeapObject))
    h = Heap()
    if machine:
        h.native_mark = marker()
        assert h.native_mark is not None
    for c in (1, 2, 1000, 1001):
        assert h.trace([root], c) == _reference_bytes([root])
    assert all(o.mark == 1001 for o in mixed) and mixed[4].items[3].mark == 1001
    assert mixed[6].items[2].fields["a"].mark == 1001 and mixed[8].items[0].mark == 1001


def test_the_lazy_entries_fall_back_to_python_without_machine_code(monkeypatch: pytest.MonkeyPatch) -> None:
    # What the native tier sets (lazy_sweep, lazy_mark) compiles at the
    # first collection; when there is no machine code, the Python loops do
    # the whole work, with the same result.
    from tinyvm.jit.native import sweep as sweep_mod

    monkeypatch.setattr(sweep_mod, "_fn", [(None, None)])
    inner = Array([None, 1000, "x"])
    root = Array([inner, Array([None] * 4), Cell(inner), 2.5])
    for o in (inner, root, root.items[1], root.items[2]):
        o.mark = 0
    h = Heap()
    h.native_sweep, h.native_mark = sweep_mod.lazy_sweep, sweep_mod.lazy_mark
    assert h.trace([root], 5) == _reference_bytes([root])
    dead = Array([None])
    dead.mark = 0
    live, freed = h.sweep([root, dead, inner], 5)
    assert live == [root, inner] and freed == 1 and dead.items is _POISON and dead.mark == FREED
