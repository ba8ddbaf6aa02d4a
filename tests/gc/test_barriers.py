"""The write barrier at every store, in every tier (docs/gc.md, "Write barriers").

The probe method. A program makes objects (part 1), then calls the host
function `probe()`: it gives every object on the heap the probe colour P,
sets `heap.watch = P`, and replaces the heap's `barrier` and `barrier_all`
with recorders. What the program does next (part 2) stores into those old
objects, and each store must be recorded with the right (object, value).
Every test also runs `unrecorded()`, a small heap verifier: after part 2, an
old object that holds a new heap object must have had that store recorded
(or a `barrier_all`), whichever path made it. So a barrier removed anywhere,
or a scalar-only barrier the JIT skipped for a value that was not a scalar,
fails a test.

Each program runs on the three tiers: the default (fused blocks), `plain`
(`fuse=False`: the pre-decoded closures alone) and the JIT compiling every
function at its first call (`jit="eager"`), whose log must show the
function doing the stores compiled.
"""

from __future__ import annotations

import io

import pytest

from tinyvm.api import VM
from tinyvm.heap.heap import NO_WATCH
from tinyvm.heap.objects import (
    Array,
    Cell,
    Function,
    HeapObject,
    Instance,
    Map,
    ModuleObject,
    Record,
)
from tinyvm.heap.weak import WeakMap
from tinyvm.sched.fiber import DONE, Fiber
from tinyvm.sched.generators import RUNNING, Gen
from tinyvm.sched.scheduler import Chan

P = -5  # the probe colour: no object has it but those the probe painted

TIERS = {
    "fused": {},
    "plain": {"fuse": False},
    "jit": {"jit": "eager"},
}


class Probe:
    """The recorders, installed on one VM's heap by `arm()`."""

    def __init__(self, vm: VM) -> None:
        self.vm = vm
        self.heap = vm.machine.heap
        self.stores: list[tuple[object, object]] = []
        self.states: list[object] = []  # a fiber's state when a store into it was recorded
        self.alls: list[object] = []
        self.armed = False

    def arm(self) -> None:
        heap = self.heap
        for obj in heap.objects:
            obj.mark = P
        heap.watch = P
        heap.barrier = self._record
        heap.barrier_all = self.alls.append
        self.armed = True

    def _record(self, obj: object, value: object) -> None:
        self.stores.append((obj, value))
        self.states.append(getattr(obj, "state", None))

    def stored(self, obj_type: type, tag: str) -> list[tuple[object, object]]:
        """The recorded stores of an array `[tag]` into an old object of obj_type."""
        return [(o, v) for o, v in self.stores if isinstance(o, obj_type) and o.mark == P and _tagged(v, tag)]  # (isinstance: a laid-out instance is a subclass, heap/layout.py)

    def unrecorded(self) -> list[str]:
        """Old objects holding a new heap object without a recorded store of it:
        what a collector watching stores would miss. Roots need none (module
        globals; a live fiber's frames)."""
        seen_all = {id(o) for o in self.alls}
        seen = {(id(o), id(v)) for o, v in self.stores}
        out = []
        for obj in self.heap.objects:
            if obj.mark != P or isinstance(obj, ModuleObject) or id(obj) in seen_all:
                continue
            if isinstance(obj, Fiber) and obj.state is not DONE:
                continue
            children = list(obj.items.values()) if isinstance(obj, WeakMap) else obj.refs()
            for child in children:
                if isinstance(child, HeapObject) and child.mark != P and (id(obj), id(child)) not in seen:
                    out.append(f"{type(obj).__name__} holds a new {type(child).__name__} without a barrier")
        return out


def _tagged(v: object, tag: str) -> bool:
    return type(v) is Array and v.items == [tag]


def make_vm(tier: str) -> tuple[VM, Probe, list[str]]:
    log: list[str] = []
    opts = dict(TIERS[tier])
    if "jit" in opts:
        opts["jit_log"] = log.append
    vm = VM(stdout=io.StringIO(), **opts)
    vm.machine.heap.set_threshold(1 << 40)  # no collection repaints the marks mid-test
    probe = Probe(vm)

    def probe_fn() -> None:
        probe.arm()

    vm.register(probe_fn, "probe")
    return vm, probe, log


def run(tier: str, src: str, *compiled_fns: str) -> Probe:
    vm, probe, log = make_vm(tier)
    vm.run_source(src, "t.tl")
    assert probe.armed
    if tier == "jit":
        for name in compiled_fns:
            assert any(line.startswith(f"jit: compiled {name} ") for line in log), (name, log)
    assert probe.unrecorded() == []
    return probe


@pytest.fixture(params=sorted(TIERS))
def tier(request) -> str:
    return request.param


# ---------------------------------------------------------------------------
# TinyLang, one store kind per test


def test_instance_field(tier):
    src = """
class Box { var v = nil }
let b = Box()
fn put(x: Box, v) { x.v = v }
put(b, nil)
probe()
put(b, ["field"])
let c = Box()
c.v = 1
probe()
c.v = ["top"]
"""
    p = run(tier, src, "put")
    (obj, v), = p.stored(Instance, "field")
    assert obj.cls.name == "Box" and obj.fields["v"] is v
    assert len(p.stored(Instance, "top")) == 1


def test_typed_instance_field_check_path(tier):
    # A typed field goes through the field's check (the slow path).
    src = """
class Box { var v: [string] = [] }
let b = Box()
fn put(x: Box, v: [string]) { x.v = v }
probe()
put(b, ["typed"])
"""
    p = run(tier, src, "put")
    assert len(p.stored(Instance, "typed")) == 1


def test_record_field(tier):
    src = """
let r: {a: any} = {a: nil}
fn put(x: {a: any}, v) { x.a = v }
probe()
put(r, ["rec"])
"""
    p = run(tier, src, "put")
    (obj, v), = p.stored(Record, "rec")
    assert obj.fields["a"] is v


def test_array_index(tier):
    src = """
let a: [any] = [nil, nil]
fn put(x: [any], i: int, v) { x[i] = v }
probe()
put(a, 1, ["idx"])
a[0] = ["top"]
"""
    p = run(tier, src, "put")
    (obj, v), = p.stored(Array, "idx")
    assert obj.items[1] is v
    assert len(p.stored(Array, "top")) == 1


def test_array_methods(tier):
    # push stores one value; insert, remove, sort, sort(key) and reverse move
    # values inside the array (an incremental mark scans a large array in
    # chunks): barrier_all.
    src = """
let a: [any] = [1]
let nums: [any] = [3, 1, 2]
let keyed: [any] = [3, 1, 2]
let rev: [any] = [1, 2]
let rem: [any] = [1, 2, 3]
fn go(x: [any]) {
  x.push(["push"])
  x.insert(0, ["insert"])
}
probe()
go(a)
nums.sort()
keyed.sort(fn(v) { return 0 - v })
rev.reverse()
rem.remove(0)
"""
    p = run(tier, src, "go")
    assert len(p.stored(Array, "push")) == 1
    moved = [o for o in p.alls if type(o) is Array and o.mark == P]
    assert len(moved) == 5 and _tagged(moved[0].items[0], "insert")
    assert [o.items for o in moved[1:]] == [[1, 2, 3], [3, 2, 1], [2, 1], [2, 3]]


def test_map_set(tier):
    src = """
let m: [string: any] = [:]
m["old"] = 1
fn put(x: [string: any], v) { x["old"] = v; x["new"] = v }
probe()
put(m, ["map"])
"""
    p = run(tier, src, "put")
    stores = p.stored(Map, "map")
    assert len(stores) == 2 and all(o.items["old"] is v for o, v in stores)


def test_captured_variable_cells(tier):
    # STORE_UPVAL (a closure assigns its captured variable) and STORE_CELL
    # (the declaring frame assigns it after the cell exists).
    src = """
fn make() {
  var x = nil
  let set = fn(v) { x = v }
  return set
}
let setter = make()
fn own() {
  var y = nil
  let get = fn() { return y }
  probe()
  y = ["cell"]
  return get
}
let g = own()
setter(["upval"])
"""
    p = run(tier, src, "own")
    (obj, v), = p.stored(Cell, "upval")
    assert obj.value is v
    assert len(p.stored(Cell, "cell")) == 1


def test_channel_buffer_and_send_queue(tier):
    src = """
let buffered = Chan(2)
let unbuffered = Chan()
let sel = Chan()
fn sender() { unbuffered.send(["queued"]) }
fn selector() {
  select {
    case sel.send(["select"]) {}
  }
}
let s1 = spawn sender()
let s2 = spawn selector()
probe()
buffered.send(["buffer"])
yield_now()
print(unbuffered.recv(), sel.recv(), buffered.recv())
"""
    p = run(tier, src)
    assert len(p.stored(Chan, "buffer")) == 1
    assert len(p.stored(Chan, "queued")) == 1
    assert len(p.stored(Chan, "select")) == 1


def test_task_result(tier):
    src = """
fn worker() { return ["result"] }
let t = spawn worker()
probe()
print(await t)
"""
    p = run(tier, src)
    (obj, v), = p.stored(Fiber, "result")
    assert obj.result is v


def test_generator_suspends(tier):
    src = """
fn counter(v) { var held = v; yield 1; held = ["later"]; yield 2 }
let g = counter(nil)
print(g.next())
probe()
print(g.next())
"""
    p = run(tier, src)
    gens = [o for o in p.alls if type(o) is Gen and o.mark == P]
    assert len(gens) == 1
    assert any(_tagged(v, "later") for v in gens[0].L)


def test_running_generator_holds_no_frame(tier):
    # While a generator runs, its frame is the fiber's (a root) and the Gen
    # holds nothing, so the body's stores are not stores into the Gen.
    vm, _, _ = make_vm(tier)
    seen: list[int] = []

    def peek() -> None:
        seen.extend(len(o.L) for o in vm.machine.heap.all_objects() if type(o) is Gen and o.state == RUNNING)

    vm.register(peek, "peek")
    vm.run_source("fn g() { var x = [1]; peek(); yield x; x = [2]; peek(); yield x }\nlet it = g()\nprint(it.next(), it.next())", "t.tl")
    assert seen == [0, 0]


def test_weakmap_set(tier):
    src = """
class K { var id = 0 }
let k = K()
let wm = WeakMap()
wm.set(k, 1)
probe()
wm.set(k, ["weak"])
"""
    p = run(tier, src)
    (obj, v), = p.stored(WeakMap, "weak")
    assert obj.items[next(iter(obj.items))] is v


def test_class_method_owner():
    # MAKE_CLASS stores the new class into each method closure (made by the
    # instructions before it): `owner`. The closures are old here.
    vm, probe, _ = make_vm("fused")
    vm.run_source("class A { fn f() { return 1 } }\nprobe()", "t.tl")
    m = vm.machine
    cls = vm.get("A")
    fns = list(cls.own_methods.values())
    new = m.make_class(cls.info, None, fns)
    assert [(o, v) for o, v in probe.stores if type(o) is Function] == [(fns[0], new)]
    assert fns[0].owner is new


def test_task_resume_errors(tier):
    # Cancelling a parked task (woken with the error) and a task suspended in
    # yield_now() (the error waits in resume_error): the Task holds the error.
    src = """
let ch = Chan()
fn parked() { ch.recv() }
fn spinner() { while true { yield_now() } }
let a = spawn parked()
let b = spawn spinner()
yield_now()
probe()
a.cancel()
b.cancel()
try { await a } catch e { print(e) }
try { await b } catch e { print(e) }
"""
    p = run(tier, src)
    # (recorded while the task still ran: its resume_error, not its result)
    errors = [o for (o, v), state in zip(p.stores, p.states) if type(o) is Fiber and o.mark == P and state is not DONE and isinstance(v, Instance) and v.cls.name == "Cancelled"]
    assert len(errors) == 2 and errors[0] is not errors[1]


def test_select_send_into_buffer(tier):
    src = """
let ch = Chan(1)
probe()
select {
  case ch.send(["selbuf"]) {}
}
print(ch.recv())
"""
    p = run(tier, src)
    assert len(p.stored(Chan, "selbuf")) == 1


def test_typed_field_unproven_value(tier):
    # An untyped value into a typed field: SET_FIELD's check, then the store.
    src = """
class Box { var v: [string] = [] }
let b = Box()
fn put(x: Box, v) { x.v = v }
probe()
put(b, ["checked"])
"""
    p = run(tier, src, "put")
    assert len(p.stored(Instance, "checked")) == 1


def test_object_protocol_slow_paths():
    # The VM's set_field / set_field_proven / set_index, which every tier's
    # fast path falls back to, on each kind of object.
    vm, probe, _ = make_vm("fused")
    vm.run_source("class T { var v: any = nil }\nlet t = T()\nlet r = {a: 1}\nlet a: [any] = [1]\nlet m = [1: 2]", "t.tl")
    vm.run_source("class O {}\nvar o = O();", "t.lox")
    m = vm.machine
    t, r, a, mp, o = (vm.get(n) for n in ("t", "r", "a", "m", "o"))
    probe.arm()
    heap = m.heap
    cases = []
    for name, obj, store in [
        ("set_field", t, lambda v: m.set_field(t, "v", v)),
        ("set_field open", o, lambda v: m.set_field(o, "new1", v)),
        ("set_field_proven", t, lambda v: m.set_field_proven(t, "v", v)),
        ("set_field_proven open", o, lambda v: m.set_field_proven(o, "new2", v)),
        ("set_field_proven record", r, lambda v: m.set_field_proven(r, "a", v)),
        ("set_index array", a, lambda v: m.set_index(a, 0, v)),
        ("set_index map", mp, lambda v: m.set_index(mp, 1, v)),
    ]:
        v = heap.alloc(Array([name]))
        store(v)
        cases.append((name, probe.stores[-1:] == [(obj, v)]))
    assert all(ok for _, ok in cases), cases


def test_make_class_filled_after_alloc():
    # make_class fills the class it allocated: barrier_all on it when the
    # new object's colour is watched (a collector allocating black).
    vm, probe, _ = make_vm("fused")
    vm.run_source("class A { fn f() { return 1 } }", "t.tl")
    probe.arm()
    heap = vm.machine.heap
    heap.watch = heap.epoch
    cls = vm.get("A")
    new = vm.machine.make_class(cls.info, None, list(cls.own_methods.values()))
    assert probe.alls == [new]


def test_embedding_api_store(tier):
    # The host's values, converted to new guest containers, stored by a guest
    # function called through the embedding API into an old object.
    vm, probe, log = make_vm(tier)
    vm.run_source("class Box { var v = nil }\nlet b = Box()\nfn put(v) { b.v = v }\nput(1)", "t.tl")
    probe.arm()
    vm.call("put", ["host"])
    (obj, v), = probe.stored(Instance, "host")
    assert obj is vm.get("b") and obj.fields["v"] is v
    assert probe.unrecorded() == []
    if tier == "jit":
        assert any(line.startswith("jit: compiled put ") for line in log)


def test_host_containers_filled_after_alloc():
    # to_guest allocates each container empty, then fills it: barrier_all,
    # when the new container has the watched colour (a collector allocating
    # in its marking colour).
    vm, probe, _ = make_vm("fused")
    heap = vm.machine.heap
    probe.arm()
    heap.watch = heap.epoch  # new objects are allocated with the epoch's mark
    guest = vm.convert.to_guest([[1], {"k": [2]}])
    assert guest in probe.alls and guest.items[0] in probe.alls and guest.items[1] in probe.alls


def test_fast_path_unwatched():
    # With no collector watching, no store reaches the slow path.
    vm, _, _ = make_vm("fused")
    heap = vm.machine.heap
    assert heap.watch == NO_WATCH
    called = []
    heap.barrier = lambda o, v: called.append(o)
    vm.run_source("let a: [any] = [nil]\nfor i in 0..100 { a[0] = [i] }\nclass B { var v = nil }\nlet b = B()\nb.v = a", "t.tl")
    assert called == []


# ---------------------------------------------------------------------------
# The JIT's scalar stores


TYPED = """
class Acc { var n: int = 0; var x: float = 0.0; var any = nil }
let acc = Acc()
let ints: [int] = [0, 0]
fn work(a: Acc, xs: [int], k: int) {
  for i in 0..k {
    a.n = i
    a.x = 1.5
    xs[1] = i
    a.any = [i]
  }
}
probe()
work(acc, ints, 3)
"""


def test_jit_skips_only_scalar_stores():
    vm, probe, log = make_vm("jit")
    vm.run_source(TYPED, "t.tl")
    assert any(line.startswith("jit: compiled work ") for line in log), log
    # Only the untyped field's store reached the slow path: the int and float
    # stores were skipped (scalars) -- and the verifier finds nothing missed.
    stored = [(type(o).__name__, v) for o, v in probe.stores if o.mark == P]
    assert all(type(v) is Array for _, v in stored), stored
    assert len(stored) == 3
    assert probe.unrecorded() == []


def test_jit_codegen_emits_barrier_for_unknown_values_only():
    from tinyvm.bytecode.types import ANY, INT, STRING
    from tinyvm.ir.nodes import Instr
    from tinyvm.jit.codegen import _barrier

    obj = Instr(1, "param", type=ANY)
    val_any = Instr(2, "param", type=ANY)
    val_int = Instr(3, "param", type=INT)
    const = Instr(4, "const", attrs=("s",), type=STRING)
    store = Instr(5, "set_field", [obj, val_any])
    a = ["v1", "v2"]
    assert _barrier(store, a, 1) == "\nif v1.mark == _heap.watch: _heap.barrier(v1, v2)"
    assert _barrier(Instr(6, "set_field", [obj, val_int]), ["v1", "v3"], 1) == ""
    assert _barrier(Instr(7, "set_field", [obj, const]), ["v1", "v4"], 1) == ""


# ---------------------------------------------------------------------------
# Lox: instance fields (open instances take new ones) and closures' cells


LOX = """
class Bag {}
var bag = Bag();
bag.old = nil;
fun make() {
  var x = nil;
  fun set(v) { x = v; }
  return set;
}
var setter = make();
fun fill(b, v) { b.old = v; b.fresh = v; }
"""


def test_lox_fields_and_cells(tier):
    vm, probe, _ = make_vm(tier)
    vm.run_source(LOX, "t.lox")
    probe.arm()
    vm.call("fill", vm.convert.to_host(vm.get("bag")), ["lox"])
    vm.call("setter", ["cell"])
    stores = probe.stored(Instance, "lox")
    assert len(stores) == 2
    assert len(probe.stored(Cell, "cell")) == 1
    assert probe.unrecorded() == []


# ---------------------------------------------------------------------------
# The real collectors, under stress and the heap verifier


STORES = """
class Box { var v = nil; var n: int = 0 }
let boxes: [any] = []
for i in 0..40 { boxes.push(Box()) }
let m: [int: any] = [:]
let ch = Chan(64)
fn make() { var x = nil; return fn(v) { x = v; return x } }
let setter = make()
fn gen() { var held = nil; for i in 0..20 { held = [i]; yield held } }
let g = gen()
fn worker(k: int) { return [k, [k]] }
var total = 0
for round in 0..6 {
  for i in 0..40 {
    let b = boxes[i]
    b.v = [round, i]
    b.n = i
    boxes[(i + 1) % 40].v = {r: round}
    m[i] = [i]
    setter([round])
    ch.send([i])
  }
  boxes.insert(0, Box())
  boxes.remove(0)
  boxes.sort(fn(b) { return b.n })
  boxes.reverse()
  let t = spawn worker(round)
  total = total + len(await t)
  g.next()
  for i in 0..40 { total = total + len(ch.recv()) }
}
var sum = 0
for b in boxes { sum = sum + len(b.v) }
print(total, sum, len(m), setter(1))
"""


@pytest.mark.parametrize("mode", ["incremental", "generational"])
def test_collectors_verify_every_store(tier, mode):
    # A missed barrier is a HeapVerifyError (the run fails) or a freed object
    # in use; the output is the stop-the-world run's.
    out = io.StringIO()
    opts = {k: v for k, v in TIERS[tier].items()}
    vm = VM(stdout=out, gc=mode, gc_verify=True, gc_stress=True, **opts)
    vm.run_source(STORES, "t.tl")
    ref = io.StringIO()
    VM(stdout=ref).run_source(STORES, "t.tl")
    assert out.getvalue() == ref.getvalue() == "252 79 40 1\n"
    assert vm.machine.heap.stats.report(vm.machine.heap)["collections"] > 0
