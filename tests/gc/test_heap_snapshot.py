"""Heap snapshots (heap/snapshot.py) and their V8 form (heap/v8snapshot.py):
the graph matches the heap (objects, accounted bytes, the collector's own
edges), edges carry names, dominators and retained sizes are right, the V8
JSON is well formed, and the CLI writes one at exit or at MemoryError."""

from __future__ import annotations

import io
import json
import random

from tinyvm.api import VM
from tinyvm.cli.main import main
from tinyvm.heap.snapshot import dominators, named_refs, retained_sizes, take_snapshot
from tinyvm.heap.v8snapshot import NF, NODE_FIELDS, read_v8, to_v8

# Every kind of heap object: instances, records, maps (string, int, bool, nil
# keys), arrays, closures and cells, classes with methods, a channel holding
# values, a parked fiber with frames, a suspended generator, iterators, big
# ints and floats in slots, shared and cyclic structure.
PROGRAM = """
class Point {
  var x = 0
  var y = 0.5
  fn init(x, y) { self.x = x; self.y = y }
  fn norm() { return self.x * self.x }
}
class Point3 extends Point { var z = 1 }
var pts = []
for i in 0..300 { pts.push(Point(i * 1000000, i * 0.25)) }
let shared = [1, 2, 3]
let m = ["name": "tinyvm", 7: shared, true: [shared], nil: ["none"], 1.5: 2.5]
let rec = {a: shared, b: "a string", c: 12345678901}
fn counter(start) {
  var n = start
  return fn() { n = n + 1; return n }
}
let tick = counter(100)
let cyc = [nil]
cyc[0] = cyc
let ch = Chan(8)
ch.send(["in", "flight"])
fn waiter() {
  let held = {big: [9, 9, 9]}
  let got = ch.recv()
  return len(held.big)
}
fn gen() {
  let local = ["gen", "state"]
  yield local[0]
  yield local[1]
}
let g = gen()
g.next()
let p3 = Point3(1, 2.0)
let bound = p3.norm
let it_src = [5, 6]
"""


def make_vm(**kw) -> VM:
    vm = VM(stdout=io.StringIO(), **kw)
    vm.run_source(PROGRAM, path="heap.tl")
    return vm


def test_snapshot_matches_the_heap_after_a_collection():
    vm = make_vm()
    m = vm.machine
    m.collect()
    s = take_snapshot(m)
    objects = [i for i, k in enumerate(s.kind) if k not in ("string", "synthetic")]
    # Every survivor is in the snapshot, once; nothing else is.
    assert len(objects) == len(m.heap.objects)
    # Self sizes add up to exactly the live bytes the collector counted.
    assert s.total_size() == m.heap.live
    # The root retains everything.
    assert s.retained[0] == s.total_size()
    by_type = s.summary()
    assert by_type["Point"]["count"] == 300
    assert by_type["Point3"]["count"] == 1
    assert by_type["string"]["count"] >= 4


def test_named_edges_are_the_collectors_edges():
    vm = make_vm()
    m = vm.machine
    m.collect()
    for obj in m.heap.objects:
        named = [child for _, _, child in named_refs(obj)]
        refs = list(obj.refs())
        assert len(named) == len(refs), type(obj)
        # (the same objects; a raw int slot, heap/layout.py, boxes its int at each read)
        assert all(a is b or (type(a) is int and type(b) is int and a == b) for a, b in zip(named, refs)), type(obj)


def edges_of(s, i):
    return {(kind, name): (s.type[to], s.name[to]) for kind, name, to in s.edges(i)}


def node_named(s, type_, name):
    found = [i for i in range(s.node_count) if s.type[i] == type_ and s.name[i] == name]
    assert found, (type_, name)
    return found[0]


def test_edges_carry_names():
    vm = make_vm()
    s = take_snapshot(vm.machine)
    main_mod = node_named(s, "module", "module <main>")  # (the namespace of run_source)
    g = edges_of(s, main_mod)
    assert g[("property", "pts")] == ("array", "array")
    assert g[("property", "rec")] == ("record", "record")
    assert g[("property", "tick")] == ("function", "<lambda>") or g[("property", "tick")][0] == "function"
    # A record's fields, a map's keys, an array's indexes.
    rec = [to for kind, name, to in s.edges(main_mod) if name == "rec"][0]
    r = edges_of(s, rec)
    assert r[("property", "b")] == ("string", "a string")
    assert r[("property", "a")] == ("array", "array")
    mp = [to for kind, name, to in s.edges(main_mod) if name == "m"][0]
    names = {name for _, name, _ in s.edges(mp)}
    assert {"name", "7", "true", "nil", "key name"} <= names
    pts = [to for kind, name, to in s.edges(main_mod) if name == "pts"][0]
    elems = [(kind, name, s.type[to]) for kind, name, to in s.edges(pts)]
    assert elems[:2] == [("element", 0, "Point"), ("element", 1, "Point")]
    # An instance: its fields and its class; a closure: its captured variable.
    p = elems[0]
    inst = [to for kind, name, to in s.edges(pts)][0]
    e = edges_of(s, inst)
    assert ("property", "x") not in e  # (x = 0: a small int, no node of its own)
    assert e[("internal", "class")] == ("class", "class Point")
    assert p[2] == "Point"
    tick = [to for kind, name, to in s.edges(main_mod) if name == "tick"][0]
    assert ("context", "n") in edges_of(s, tick)
    # A channel's buffered value; a generator's frame slots by local name.
    ch = [to for kind, name, to in s.edges(main_mod) if name == "ch"][0]
    assert edges_of(s, ch)[("element", 0)] == ("array", "array")
    gen = [to for kind, name, to in s.edges(main_mod) if name == "g"][0]
    assert any(kind == "context" and str(name).endswith(": local") for kind, name, _ in s.edges(gen))
    # The roots, grouped.
    groups = [s.name[to] for _, _, to in s.edges(0)]
    assert groups[:5] == ["(module globals)", "(standard modules)", "(built-ins)", "(fibers)", "(host roots)"]


def test_a_parked_fibers_frames_are_named():
    vm = VM(stdout=io.StringIO())
    vm.run_source("""
let ch = Chan()
fn waiter(tag) {
  let held = {tag: tag, data: [1, 2]}
  let v = ch.recv()
  return held
}
""", path="f.tl")
    seen = {}

    def hook(e):
        if e.data["action"] == "switch":  # (the waiter is parked at some switch)
            s = take_snapshot(vm.machine)
            seen.setdefault("edges", []).extend((kind, name) for i in range(s.node_count) if s.type[i] == "task" for kind, name, _ in s.edges(i))

    vm.machine.hooks.add("fiber", hook)
    vm.run_source("""
let t = spawn waiter("w")
yield_now()
ch.send(1)
print(await t)
""", path="f.tl")
    names = [name for kind, name in seen["edges"] if kind == "context"]
    assert any(n.endswith("waiter: held") for n in names), names
    assert any(n.endswith("waiter: tag") for n in names), names


def brute_dominators(n, succ, root=0):
    """node -> its immediate dominator, by definition (reachability with a node removed)."""

    def reach(skip):
        seen = {root} if root != skip else set()
        stack = list(seen)
        while stack:
            v = stack.pop()
            for w in succ[v]:
                if w != skip and w not in seen:
                    seen.add(w)
                    stack.append(w)
        return seen

    reachable = reach(None)
    doms = {v: {d for d in reachable if d == v or v not in reach(d)} for v in reachable}
    idom = [-1] * n
    idom[root] = root
    for v in reachable:
        if v == root:
            continue
        strict = doms[v] - {v}
        # The immediate dominator is the strict dominator dominated by all others.
        idom[v] = next(d for d in strict if all(o in doms[d] for o in strict))
    return idom


def test_dominators_agree_with_the_definition():
    rng = random.Random(3)
    for _ in range(60):
        n = rng.randint(2, 14)
        succ = [[rng.randrange(n) for _ in range(rng.randint(0, 3))] for _ in range(n)]
        first, to = [], []
        for v in range(n):
            first.append(len(to))
            to.extend(succ[v])
        first.append(len(to))
        assert dominators(n, first, to) == brute_dominators(n, succ)


def test_retained_sizes_sum_the_dominated():
    #   0 -> 1 -> 2, 0 -> 3 -> 2 (2 is shared: dominated by 0), 1 -> 4
    idom = [0, 0, 0, 0, 1]
    assert retained_sizes([0, 10, 20, 30, 40], idom) == [100, 50, 20, 30, 40]


def test_v8_json_is_well_formed():
    vm = make_vm()
    s = take_snapshot(vm.machine)
    data = json.loads(json.dumps(to_v8(s)))
    meta = data["snapshot"]["meta"]
    assert meta["node_fields"] == NODE_FIELDS and NF == 7
    assert meta["edge_fields"] == ["type", "name_or_index", "to_node"]
    nodes, edges, strings = data["nodes"], data["edges"], data["strings"]
    assert len(nodes) == NF * s.node_count == NF * data["snapshot"]["node_count"]
    assert len(edges) == 3 * s.edge_count == 3 * data["snapshot"]["edge_count"]
    # Edge counts per node add up; every target is the start of a node.
    assert sum(nodes[i * NF + 4] for i in range(s.node_count)) == s.edge_count
    assert all(edges[e + 2] % NF == 0 and edges[e + 2] < len(nodes) for e in range(0, len(edges), 3))
    # Names are strings of the table; element edges carry their index.
    kinds = meta["node_types"][0]
    ekinds = meta["edge_types"][0]
    assert all(0 <= nodes[i * NF + 1] < len(strings) for i in range(s.node_count))
    for e in range(0, len(edges), 3):
        if ekinds[edges[e]] != "element":
            assert 0 <= edges[e + 1] < len(strings)
    assert kinds[nodes[0]] == "synthetic" and nodes[2] == 1  # the root, id 1
    ids = [nodes[i * NF + 2] for i in range(s.node_count)]
    assert len(set(ids)) == len(ids)
    # Self sizes survive the trip.
    assert sum(nodes[i * NF + 3] for i in range(s.node_count)) == s.total_size()


def run_cli(args):
    out, err = io.StringIO(), io.StringIO()
    status = main(args, stdin=io.StringIO(), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_cli_writes_a_snapshot_at_exit(tmp_path):
    prog = tmp_path / "p.tl"
    prog.write_text(PROGRAM + "print(len(pts))\n")
    snap = tmp_path / "p.heapsnapshot"
    status, out, err = run_cli(["run", f"--heap-snapshot={snap}", str(prog)])
    assert (status, out, err) == (0, "300\n", "")
    r = read_v8(str(snap))
    types = [row["type"] for row in r["nodes"]]
    assert types.count("Point") == 300
    assert r["nodes"][0]["kind"] == "synthetic"


def test_cli_writes_the_snapshot_at_an_uncaught_memory_error(tmp_path):
    # The frames still hold their values when the error is thrown: the
    # snapshot shows the local array that filled the heap.
    prog = tmp_path / "oom.tl"
    prog.write_text("fn fill() {\n  var hog = []\n  while true { hog.push([1, 2]) }\n}\nfill()\n")
    snap = tmp_path / "oom.heapsnapshot"
    status, _, err = run_cli(["run", "--max-memory", "2M", f"--heap-snapshot={snap}", str(prog)])
    assert status == 5 and err.startswith("error: MemoryError")
    data = json.loads(snap.read_text())
    strings = data["strings"]
    assert any(s.endswith("fill: hog") for s in strings)
    r = read_v8(str(snap))
    arrays = sum(row["self_size"] for row in r["nodes"] if row["type"] == "array")
    assert arrays > 1 << 20  # the hog: more than half the limit


def test_cli_snapshot_to_an_unwritable_path(tmp_path):
    prog = tmp_path / "p.tl"
    prog.write_text("print(1)\n")
    status, out, err = run_cli(["run", f"--heap-snapshot={tmp_path}/no/such/dir/x.heapsnapshot", str(prog)])
    assert status == 0 and out == "1\n"
    assert err.startswith("error: cannot write the heap snapshot") and "No such file" in err


def test_alloc_sites_function_and_line(tmp_path):
    src = """
var leak = []
fn make(i) {
  let r = {a: i, b: [i]}
  return r
}
for i in 0..50 { leak.push(make(i)) }
"""
    for precision, site in (("function", "make (leak.tl:3)"), ("line", "make (leak.tl:4)")):
        vm = VM(stdout=io.StringIO(), alloc_sites=precision)
        vm.run_source(src, path="leak.tl")
        vm.machine.collect()
        s = vm.heap_snapshot(str(tmp_path / f"{precision}.heapsnapshot"))
        made = [s.sites[s.site[i]] for i in range(s.node_count) if s.type[i] in ("record", "array") and s.sites[s.site[i]] == site]
        assert len(made) == 100, (precision, sorted({s.sites[x] for x in s.site}))
        rows = read_v8(str(tmp_path / f"{precision}.heapsnapshot"))["nodes"]
        assert sum(1 for r in rows if r["site"] == site) == 100
    # Without alloc_sites the heap is the plain one: no table at all.
    assert not hasattr(VM().machine.heap, "sites")


def test_alloc_sites_drop_the_dead():
    vm = VM(stdout=io.StringIO(), alloc_sites="function")
    vm.run_source("fn churn() { for i in 0..5000 { let a = [i] } }\nchurn()\n")
    heap = vm.machine.heap
    vm.machine.collect()
    assert len(heap.sites) <= len(heap.objects)


def test_cli_writes_no_snapshot_when_the_program_does_not_compile(tmp_path):
    prog = tmp_path / "bad.tl"
    prog.write_text("let = 1\n")
    snap = tmp_path / "bad.heapsnapshot"
    status, _, err = run_cli(["run", f"--heap-snapshot={snap}", str(prog)])
    assert status == 2 and "error:" in err
    assert not snap.exists()


WEAK_PROGRAM = """
class Box { var v: int = 0 }
let keep = Box()
let w = WeakRef(keep)
let m: WeakMap<Box, [int]> = WeakMap()
m.set(keep, [1, 2, 3])
let only_weak = WeakRef(Box())
"""


def test_weak_edges_retain_nothing():
    # A WeakRef's target and a WeakMap's keys are weak edges (V8's "weak"):
    # they are in the snapshot, but retain nothing, and sizes still add up.
    vm = VM(stdout=io.StringIO())
    vm.run_source(WEAK_PROGRAM, path="weak.tl")
    m = vm.machine
    m.collect()
    s = take_snapshot(m)
    assert s.total_size() == m.heap.live
    refs = [i for i in range(s.node_count) if s.type[i] == "weakref"]
    assert len(refs) == 2
    targets = [[(kind, name) for kind, name, _ in s.edges(i)] for i in refs]
    assert sorted(targets) == [[], [("weak", "target")]]  # the unreachable Box was cleared
    box = node_named(s, "Box", "Box")
    assert all(s.retained[i] == s.self_size[i] for i in refs)  # the Box is not the WeakRef's
    wm = next(i for i in range(s.node_count) if s.type[i] == "weakmap")
    kinds = sorted((kind, name) for kind, name, _ in s.edges(wm))
    assert kinds == [("internal", "value 0"), ("weak", "key 0")]
    assert s.retained[box] >= s.self_size[box]


def test_static_members_and_enum_values_are_in_the_snapshot():
    # A class's statics (`static let`, an enum's values: issue 18) are
    # references the collector follows (Class.refs): the snapshot must
    # reach them too, or its total falls short of the live bytes.
    vm = VM(stdout=io.StringIO())
    vm.run_source(
        "enum Color { Red, Green }\n"
        "class K { static let names = [\"static-list-kept\", \"b\"] }\n"
        "let g = Color.Green\n",
        path="statics.tl",
    )
    m = vm.machine
    m.collect()
    s = take_snapshot(m)
    assert s.total_size() == m.heap.live
    names = {s.name[t] for i in range(s.node_count) for _k, _n, t in s.edges(i)}
    assert "static-list-kept" in names
