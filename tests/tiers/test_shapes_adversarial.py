"""Instance layouts ("shapes", heap/layout.py, issue 16) are invisible on every tier and through every tool.

A laid-out instance keeps its fields in slots of a generated Python type
instead of a dict. Nothing a guest, a host or a tool can observe may depend
on it. `Heap.lays_out` (a class attribute, False by default; the native tier
sets it on its own VM's heap) is forced on here with monkeypatch, so the same
program runs on the same tier both ways and everything it shows is compared
exactly:

- the language programs of tests/lang/13_v1_1/shapes (checked there against
  their `// expect:` lines on the default tier) give the same stdout, stderr
  (traces) and exit status on every tier and collector mode of
  tests/tiers/test_packed_arrays.py (imported, not restated), plus the
  stepped tier, with layouts on and off;
- the runs with layouts on really make laid-out instances (else every other
  test here would compare dicts with dicts): closed TinyLang classes are laid
  out, one shape per field list shared by classes and by a class declared in
  a function; Lox classes, and TinyLang classes extending them, keep dicts;
- fuel, GC statistics in every collector mode, the point where a memory limit
  fails, heap snapshots (both kinds, and the V8 file), allocation profiles;
- the debugger's previews, children and writes of an instance;
- the embedding API: instances out (opaque) and back in, host errors
  (HostError instances made by the API), enum values crossing as names;
- `.tvm` files compiled from the programs; Lox interop; generated programs
  of tests/tiers/programs.py on every tier with layouts on.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from test_packed_arrays import (
    cli_in,
    compile_tvm,
    EMBED_JITS,
    FUEL_VMS,
    HAVE_NATIVE,
    LIMIT_VMS,
    SWITCHES,
    TIERS,
    TWIN_GC_KEYS,
    TWIN_TUNING,
    _ide_client,
    _native_cache_of_the_module,  # noqa: F401  (an autouse fixture: this module's own native cache)
    run_cli,
    split_log,
)

from tinyvm import VM, GuestException
from tinyvm.heap.heap import Heap
from tinyvm.heap.objects import Instance

LANG = Path(__file__).resolve().parent.parent / "lang" / "13_v1_1" / "shapes"
FILES = sorted(p.name for p in LANG.glob("*.tl") if not p.name.startswith("_"))

# The tiers of the packed-array tests, the stepped interpreter (a hook per
# instruction, cli/main.py) and TVM_TIER=packed (a VM with the data
# representation of a native VM, no native code).
SHAPE_TIERS: dict[str, dict[str, str]] = {**TIERS, "stepped": {"TVM_TIER": "stepped"}, "packed": {"TVM_TIER": "packed"}}
if HAVE_NATIVE:
    # Machine code storing into slots under each collector, which checks its
    # invariants as it runs (barriers, colours, remembered sets).
    for _gc in ("incremental", "generational"):
        SHAPE_TIERS[f"native-{_gc}-verify"] = {"TVM_JIT": "native-eager", "TVM_GC": _gc, "TVM_GC_VERIFY": "1"}
    SHAPE_TIERS["native-gc-stress"] = {"TVM_JIT": "native-eager", "TVM_GC_STRESS": "1"}


def layouts(monkeypatch: pytest.MonkeyPatch, on: bool) -> None:
    """Every VM made from now on lays out instances of closed classes (or
    not: a native VM too, as when its layout probe refuses shapes)."""
    monkeypatch.setattr(Heap, "lays_out", on)
    if HAVE_NATIVE:
        from tinyvm.jit.native import layout as native_layout

        monkeypatch.setattr(native_layout, "probe_slots_ok", native_layout.probe_slots_ok if on else lambda: False)


_REFERENCE: dict[str, tuple[int, str, str]] = {}


def reference(name: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    """The default tier with dict instances: what every other run must give."""
    if name not in _REFERENCE:
        layouts(monkeypatch, False)
        _REFERENCE[name] = run_cli(LANG, name, {}, monkeypatch)
    return _REFERENCE[name]


# --------------------------------------------------------------------------- the language programs on every tier


def test_the_shape_programs_are_there() -> None:
    assert len(FILES) >= 10, FILES


# Which (tier, layouts) runs this file makes. CI's language steps already
# run these programs on every tier with layouts on (the default) and on the
# fused interpreter with dicts (TVM_TIER=dicts): here, the rest -- dict
# instances on the tiers whose code has a dict path of its own (the JITs,
# native code, fuel, hooks, -O), and laid-out ones on native code under the
# collectors' verifiers and GC stress. (All 2 x 16 tiers took 150 s.)
# (The generated programs of tests/tiers/test_differential.py run laid out:
# the default.)
AGREE = sorted(
    {(t, True) for t in SHAPE_TIERS if t.startswith("native-") and t != "native-eager"}
    | {(t, False) for t in SHAPE_TIERS if t.startswith(("jit", "native")) and t != "native-gc-stress" or t in ("metered", "stepped", "optimized")}
)


@pytest.mark.parametrize(("tier", "on"), AGREE, ids=[f"{t}-{'shapes' if on else 'dicts'}" for t, on in AGREE])
@pytest.mark.parametrize("name", FILES)
def test_shape_program_agrees_on_every_tier(name: str, tier: str, on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    want = reference(name, monkeypatch)
    layouts(monkeypatch, on)
    got = run_cli(LANG, name, SHAPE_TIERS[tier], monkeypatch)
    assert got == want, f"{name} on {tier} (layouts {'on' if on else 'off'}) differs from the interpreter\n--- interpreter ---\n{want}\n--- {tier} ---\n{got}"


@pytest.mark.skipif(not HAVE_NATIVE, reason="llvmlite is not installed")
def test_the_native_tier_compiles_the_hot_typed_program(monkeypatch: pytest.MonkeyPatch) -> None:
    # The functions over scalar-typed classes must reach machine code (else
    # the native runs above compare the interpreter with itself).
    got = run_cli(LANG, "hot_typed.tl", TIERS["native-eager"], monkeypatch, "--jit-log")
    _, log = split_log(got[2])
    for fn in ("bounce", "Ball.step", "Ball.init", "towers", "energy", "grow"):
        assert any(x.startswith(f"jit: native {fn} in ") for x in log), (fn, log)


# --------------------------------------------------------------------------- the layouts are really there


PROBE = """
class P { var x: int = 1; var y: int = 2 }
class Q { var x: int = 0; var y: int = 0; fn sum() -> int { return self.x + self.y } }
class Sub extends P { var z: float = 0.5 }
class Empty {}
enum E { A, B }
fn local(k) {
  class L { var x: int = 0; var y: int = 0 }
  let l = L()
  l.x = k
  return l
}
let p = P()
let q = Q()
let s = Sub()
let e = Empty()
var ls = []
for i in 0..50 { ls.push(local(i)) }
let ea = E.A
print(p, q, s, e, ls[49], ea)
"""


@pytest.mark.parametrize("jit", EMBED_JITS)
def test_closed_classes_are_laid_out_and_shapes_are_shared(jit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tinyvm.heap.layout import SlotInstance, is_instance_type

    layouts(monkeypatch, True)
    vm = VM(stdout=io.StringIO(), jit=jit)
    vm.run_source(PROBE, "probe.tl")
    assert vm.machine.stdout.getvalue() == "P(x: 1, y: 2) Q(x: 0, y: 0) Sub(x: 1, y: 2, z: 0.5) Empty() L(x: 49, y: 0) E.A\n"
    p, q, s, e, ls = (vm.get(n) for n in ("p", "q", "s", "e", "ls"))
    for obj in (p, q, s, e, *ls.items):
        assert isinstance(obj, SlotInstance) and is_instance_type(type(obj)), type(obj)
        assert obj.size() == Instance(obj.cls, dict(obj.fields.items())).size()
    # One shape per field list: P, Q and every L (a new class per call) share one.
    assert type(p) is type(q) is type(ls.items[0]) is type(ls.items[49])
    assert type(s) is not type(p) and type(s).NAMES == ("x", "y", "z")
    # Inherited fields at the parent's slot (what machine code relies on).
    assert type(s).INDEX["x"] == type(p).INDEX["x"] == 0 and type(s).INDEX["y"] == 1
    assert len({c.cls for c in ls.items}) == 50
    assert len(vm.machine.heap.shapes) <= 5, list(vm.machine.heap.shapes)
    assert dict(p.fields) == {"x": 1, "y": 2} and list(s.fields) == ["x", "y", "z"]


@pytest.mark.parametrize("n", [1, 2, 10, 11, 12, 40, 101])
def test_slot_i_is_at_slot_base_plus_8i(n: int) -> None:
    # heap/layout.py's promise that machine code relies on (one load at a
    # fixed offset). CPython sorts `__slots__` names when it makes a type:
    # `_10` sorts before `_2`, so slot names that do not sort in index order
    # put field 10 of an 11-field shape at slot 2's offset.
    import ctypes

    from tinyvm.heap.layout import SLOT_BASE, make_shape

    shape = make_shape(tuple(f"f{i}" for i in range(n)))
    obj = shape.__new__(shape)
    marks = [object() for _ in range(n)]
    for d, m in zip(shape.DESCS, marks):
        d.__set__(obj, m)
    at = [ctypes.c_ssize_t.from_address(id(obj) + SLOT_BASE + 8 * i).value for i in range(n)]
    assert at == [id(m) for m in marks], [at.index(id(m)) if id(m) in at else None for m in marks]
    assert shape.__basicsize__ == SLOT_BASE + 8 * n


def test_without_layouts_instances_keep_their_dicts(monkeypatch: pytest.MonkeyPatch) -> None:
    layouts(monkeypatch, False)
    vm = VM(stdout=io.StringIO())
    vm.run_source(PROBE, "probe.tl")
    assert type(vm.get("p")) is Instance and type(vm.get("p").fields) is dict


LOX_BASE = """
class Animal {
  init(name) { this.name = name; }
  speak() { this.spoken = true; return this.name + " speaks"; }
}
fun tag(o) { o.tagged = 1; return o; }
fun readx(o) { return o.x; }
fun setx(o, v) { o.x = v; return o.x; }
"""
LOX_MAIN = """
import "./base.lox" as base
from "./base.lox" import Animal
class Dog extends Animal {
  var tricks = 0
  fn init(n) { super.init(n); self.tricks = 2 }
}
class Pt { var x: int = 3; var y: int = 4 }
var dogs = []
for i in 0..30 { dogs.push(Dog("d${i}")) }
print(dogs[3].speak(), dogs[3], dogs[4])
base.tag(dogs[5])
print(dogs[5], dogs[5].tagged)
let a = base.Animal("cat")
a.whiskers = 12
print(a, a.speak())
let p = Pt()
print(base.readx(p), base.setx(p, 9), p)
try { base.tag(p) } catch e { print(typeof(e), e.message) }
try { base.setx(p, "s") } catch e { print(typeof(e), e.message) }
print(p)
"""


def _lox_run(tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    (tmp_path / "base.lox").write_text(LOX_BASE)
    (tmp_path / "main.tl").write_text(LOX_MAIN)
    return run_cli(tmp_path, "main.tl", env, monkeypatch)


def test_lox_classes_and_their_tinylang_subclasses_stay_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layouts(monkeypatch, False)
    want = _lox_run(tmp_path, {}, monkeypatch)
    assert want[0] == 0 and "Dog(tricks: 2, name: \"d3\", spoken: true)" in want[1], want
    assert 'TypeError Pt has no field \'tagged\'' in want[1] and "field 'x' of Pt: expected int" in want[1], want
    layouts(monkeypatch, True)
    for tier in sorted(SHAPE_TIERS):
        got = _lox_run(tmp_path, SHAPE_TIERS[tier], monkeypatch)
        assert got == want, f"{tier}\n--- dicts ---\n{want}\n--- shapes ---\n{got}"
    # ... and the objects: a Lox class's instance and a TinyLang subclass's
    # keep dicts (fields come and go), the closed class's is laid out.
    vm = VM(stdout=io.StringIO())
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        vm.run_file("main.tl")
    finally:
        os.chdir(old)
    assert type(vm.get("a")) is Instance and type(vm.get("dogs").items[0]) is Instance
    from tinyvm.heap.layout import SlotInstance

    assert isinstance(vm.get("p"), SlotInstance)


def test_the_lox_interop_program_is_the_same_with_layouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("_lox_interop", Path(__file__).resolve().parent.parent / "unit" / "test_lox_interop.py")
    assert spec is not None and spec.loader is not None
    li = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(li)  # (its program and expected output, not its tests)

    (tmp_path / "shapes.lox").write_text(li.SHAPES)
    (tmp_path / "main.tl").write_text(li.MAIN)
    layouts(monkeypatch, True)
    for tier in ("jit", "gc-stress", *(["native-eager"] if HAVE_NATIVE else [])):
        got = run_cli(tmp_path, "main.tl", TIERS[tier], monkeypatch)
        assert got == (0, li.EXPECTED, ""), (tier, got)


# --------------------------------------------------------------------------- fuel, the collector, memory limits


WORK = """
class Vec { var x: float = 0.0; var y: float = 0.0
  fn add(o: Vec) -> Vec { let v = Vec(); v.x = self.x + o.x; v.y = self.y + o.y; return v } }
class Named extends Vec { var name: string = "n"; var next: any = nil }
class Wide { var a = 1; var b = 2; var c = 3; var d = 4; var e = 5; var f = 6; var g = 7; var h = 8 }
fn churn(n: int) {
  var acc = Vec()
  var keep: any = nil
  var wides = []
  for i in 0..n {
    let v = Vec()
    v.x = i * 0.5
    acc = acc.add(v)
    let m = Named()
    m.next = keep
    if i % 3 == 0 { keep = m }
    if i % 7 == 0 { wides.push(Wide()) }
    if i % 50 == 0 { keep = nil; wides = [] }
  }
  return [acc.x, len(wides)]
}
var out = []
for r in 0..60 { out.push(churn(120)) }
print(out[59])
"""


@pytest.mark.parametrize("jit", list(FUEL_VMS))
def test_fuel_is_the_same_with_layouts(jit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def run(on: bool, src: str) -> tuple[Any, str, str]:
        layouts(monkeypatch, on)
        out = io.StringIO()
        vm = VM(meter_fuel=True, stdout=out, **FUEL_VMS[jit])
        try:
            vm.run_source(src, "fuel.tl")
            end = ""
        except GuestException as e:
            end = f"{e.class_name}: {e.message}"
        return vm.fuel_used, out.getvalue(), end

    for src in (WORK, (LANG / "hot_typed.tl").read_text(), (LANG / "fields_inheritance.tl").read_text()):
        off = run(False, src)
        assert off[0] > 1000
        assert run(True, src) == off


def gc_run(monkeypatch: pytest.MonkeyPatch, on: bool, gc: str, jit: str) -> tuple[str, dict[str, Any]]:
    layouts(monkeypatch, on)
    out = io.StringIO()
    vm = VM(stdout=out, gc=gc, jit=jit, max_memory=4 << 20, gc_tuning=TWIN_TUNING)
    vm.run_source(WORK, "work.tl")
    s = vm.gc_stats()
    return out.getvalue(), {k: s.get(k) for k in TWIN_GC_KEYS}


@pytest.mark.parametrize("jit", EMBED_JITS)
@pytest.mark.parametrize("gc", ["stw", "incremental", "generational"])
def test_gc_stats_are_the_same_with_layouts(gc: str, jit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    off = gc_run(monkeypatch, False, gc, jit)
    assert off[1]["collections"] >= 2, off  # (the tuning makes the collector work)
    on = gc_run(monkeypatch, True, gc, jit)
    assert on == off, f"layouts on\n{on}\nlayouts off\n{off}"


LIMIT = """
class Cell { var v: int = 0; var next: any = nil; var pad: float = 0.5 }
class Wide40 { %s }
fn fill(make) {
  var keep = []
  var i = 0
  try {
    while true { keep.push(make(i)); i = i + 1 }
  } catch e {
    print(typeof(e), e.message, i)
  }
  keep = nil
  return i
}
// (typed makers: the native tier compiles them, its inline allocation meets the limit)
fn cell(i: int) -> Cell { let c = Cell(); c.v = i; return c }
fn wide() -> Wide40 { return Wide40() }
fn link(head: Cell?, n: int) -> Cell? {
  var h = head
  for i in 0..n { let c = Cell(); c.next = h; c.v = i; h = c }
  return h
}
fill(fn(i) => cell(i))
fill(fn(i) => wide())
var head: Cell? = nil
try {
  while true { head = link(head, 100) }
} catch e { print(typeof(e), e.message) }
""" % "; ".join(f"var f{i} = {i}" for i in range(40))


@pytest.mark.parametrize("vm_kind", sorted(LIMIT_VMS))
def test_a_memory_limit_fails_at_the_same_point_with_layouts(vm_kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def run(on: bool) -> tuple[str, str]:
        layouts(monkeypatch, on)
        out = io.StringIO()
        # (under GC stress a collection per allocation: a smaller heap, else
        # the run is quadratic in it -- 145 s at 3 MiB)
        vm = VM(stdout=out, max_memory=(1 << 18) if vm_kind == "gc-stress" else 3 << 20, **LIMIT_VMS[vm_kind])
        try:
            vm.run_source(LIMIT, "limit.tl")
            end = ""
        except GuestException as e:
            end = f"{e.class_name}: {e.message}"
        return out.getvalue(), end

    off = run(False)
    assert off[0].count("MemoryError") == 3, off
    assert run(True) == off


# --------------------------------------------------------------------------- snapshots and profiles


def _unpin(text: str) -> str:
    """Host roots are named by the pinned object's id ("pin 1401..."), which
    differs from run to run whatever the layout."""
    return re.sub(r"pin \d+", "pin N", text)


def _heap_vm(monkeypatch: pytest.MonkeyPatch, on: bool, gc: str = "stw") -> VM:
    layouts(monkeypatch, on)
    vm = VM(stdout=io.StringIO(), gc=gc, max_memory=1 << 30)
    vm.machine.heap.number_objects()
    vm.run_source(PROBE + "let kept = [p, s, ls.slice(0, 5), {r: q}, [\"e\": e]]\n", "heap.tl")
    vm.machine.collect()
    return vm


@pytest.mark.parametrize("gc", ["stw", "incremental", "generational"])
def test_heap_snapshot_nodes_sizes_and_edges_are_the_same(gc: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tinyvm.heap.snapshot import take_snapshot

    def picture(on: bool) -> Any:
        vm = _heap_vm(monkeypatch, on, gc)
        s = take_snapshot(vm.machine)
        edges = [sorted((k, _unpin(str(n)), s.type[t], s.name[t]) for k, n, t in s.edges(i)) for i in range(s.node_count)]
        assert s.total_size() == vm.machine.heap.live  # (every live byte, an enum's members too)
        return (list(s.kind), list(s.type), list(s.name), list(s.self_size), list(s.retained), edges, s.total_size())

    off = picture(False)
    assert any(n == "Sub" for n in off[2]) and any(n == "P" for n in off[2]), off[2][:40]
    assert picture(True) == off


def test_v8_heap_snapshot_file_is_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def v8(on: bool) -> Any:
        path = tmp_path / f"{on}.heapsnapshot"
        _heap_vm(monkeypatch, on).heap_snapshot(str(path))
        return json.loads(_unpin(path.read_text()))

    off = v8(False)
    assert off["snapshot"]["node_count"] > 50
    assert v8(True) == off


def test_time_travel_snapshot_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinyvm.tools.snapshot import take_snapshot

    off = take_snapshot(_heap_vm(monkeypatch, False).machine)
    insts = [o.summary for o in off.objects.values() if o.type == "instance"]
    assert sum(x.startswith("L {x: ") for x in insts) == 50 and "Sub {x: 1, y: 2, z: 0.5}" in insts, insts
    assert take_snapshot(_heap_vm(monkeypatch, True).machine) == off


@pytest.mark.parametrize("mode", [["--alloc", "--lines"], ["--interval", "50", "--lines"]], ids=["alloc", "samples"])
def test_profiles_are_the_same_with_layouts(mode: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "w.tl").write_text(WORK)

    def prof(on: bool) -> tuple[int, str]:
        layouts(monkeypatch, on)
        for k in SWITCHES:
            monkeypatch.delenv(k, raising=False)
        return cli_in(tmp_path, ["prof", *mode, "--format", "folded", "-o", "-", "w.tl"])

    off = prof(False)
    assert off[0] == 0 and "churn (w.tl:" in off[1], off
    assert prof(True) == off


# --------------------------------------------------------------------------- the debugger


def test_the_debuggers_previews_children_and_writes_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinyvm.tools.debugger.inspect import EvalError, children, expandable, preview, set_child

    def view(on: bool) -> Any:
        vm = _heap_vm(monkeypatch, on)
        heap = vm.machine.heap
        p, s, e, ls = vm.get("p"), vm.get("s"), vm.get("e"), vm.get("ls")
        got: list[Any] = []
        for v in (p, s, e, ls.items[7], vm.get("kept"), vm.get("ea")):
            got.append((preview(v), preview(v, budget=8), expandable(v), [(n, preview(c)) for n, c in children(v) or []]))
        set_child(p, "x", 41, heap)
        set_child(s, "z", 2.5, heap)
        with pytest.raises(EvalError, match="field 'z' of Sub: expected float, got string"):
            set_child(s, "z", "zz", heap)  # (the field's declared type, as a guest store checks it)
        for bad in ("nope", "__init__", "_0", "fields"):
            with pytest.raises(EvalError):
                set_child(s, bad, 1, heap)
        vm.run_source("print(p, s, p.x + 1)", "after.tl")
        got.append(vm.machine.stdout.getvalue().splitlines()[-1])
        return got

    off = view(False)
    assert off[0][0] == "P(x: 1, y: 2)" and off[-1] == 'P(x: 41, y: 2) Sub(x: 1, y: 2, z: 2.5) 42', off
    assert view(True) == off


def test_the_ides_state_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    def state(on: bool) -> Any:
        layouts(monkeypatch, on)
        c = _ide_client()
        r = c.post("/api/run", json={"language": "tinylang", "source": PROBE})
        assert r.status_code == 200, r.text
        run = r.json()
        assert run["status"] == "ok", run
        st = c.get(f"/api/session/{run['session']}/state", params={"step": run["steps"]})
        assert st.status_code == 200, st.text
        out = st.json()
        out.pop("session", None)
        return out

    off = state(False)
    nodes = {n["label"] for n in off["heap"]["nodes"]}
    assert any(x.startswith("Sub") for x in nodes), nodes
    assert state(True) == off


# --------------------------------------------------------------------------- embedding


EMBED = """
class Pt { var x: int = 0; var y: float = 0.0
  fn init(x: int, y: float) { self.x = x; self.y = y } }
class Pt3 extends Pt { var z: string = "z" }
enum Color { Red, Green }
fn make(x, y) { return Pt(x, y) }
fn make3() { return Pt3(1, 2) }
fn getx(p) { return p.x }
fn sety(p, v) { p.y = v; return p }
fn show(p) { return "${p}" }
fn color() { return Color.Green }
fn is_red(c) { return c == Color.Red }
fn fields(p) { return [p.x, p.y] }
fn guarded(f) {
  try { return f() } catch e { return [typeof(e), e.message, e is Error] }
}
"""


def _embed(monkeypatch: pytest.MonkeyPatch, on: bool, jit: str) -> Any:
    from tinyvm.embed.convert import GuestObject

    layouts(monkeypatch, on)
    vm = VM(stdout=io.StringIO(), jit=jit)
    vm.run_source(EMBED, "embed.tl")
    got: list[Any] = []
    p = vm.call("make", 3, 4)
    assert isinstance(p, GuestObject) and p.guest_type == "Pt"
    got.append((repr(p), vm.call("getx", p), vm.call("show", p), vm.call("fields", p)))
    got.append(vm.call("show", vm.call("sety", p, 2)))  # int widened to float by the field check
    with pytest.raises(GuestException) as ex:
        vm.call("sety", p, "s")
    got.append((ex.value.class_name, ex.value.message))
    p3 = vm.call("make3")
    got.append((p3.guest_type, vm.call("getx", p3), vm.call("show", p3)))
    got.append((vm.call("color"), vm.call("is_red", "Red"), vm.eval("Color.Red.ordinal")))
    got.append(vm.eval("Pt(5, 6).y"))
    with pytest.raises(GuestException) as ex:
        vm.call("make", "no", 1)
    got.append((ex.value.class_name, ex.value.message))

    @vm.function
    def boom() -> Any:
        raise ValueError("host says no")

    # A host error becomes a guest HostError instance (made by the API) with a message field.
    got.append(vm.call("guarded", boom))
    vm.run_source("let kept = make(7, 8)\nprint(kept)", "more.tl")
    got.append(vm.machine.stdout.getvalue())
    return got


@pytest.mark.parametrize("jit", EMBED_JITS)
def test_instances_cross_the_embedding_api_alike(jit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    off = _embed(monkeypatch, False, jit)
    assert off[0] == ("<guest Pt>", 3, "Pt(x: 3, y: 4.0)", [3, 4.0]) and off[4] == ("Green", False, 0), off
    assert off[-2][0] == "HostError" and "host says no" in off[-2][1], off
    assert _embed(monkeypatch, True, jit) == off


# --------------------------------------------------------------------------- .tvm files


@pytest.mark.parametrize("opt", [[], ["-O"]], ids=["plain", "optimized"])
@pytest.mark.parametrize("name", [n for n in FILES if n != "gc_weak_fibers.tl"])
def test_shape_program_compiled_to_a_tvm_file_runs_alike(name: str, opt: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # (gc_weak_fibers imports ./_gc, which a .tvm file in another folder
    # cannot find; its bytecode is the same kind as the others'.)
    want = reference(name, monkeypatch)
    out_file = compile_tvm(LANG, name, opt, tmp_path, monkeypatch)
    layouts(monkeypatch, True)
    got = run_cli(tmp_path, out_file.name, {}, monkeypatch)
    assert got[:2] == want[:2], (got, want)
    assert got[2].splitlines()[:1] == want[2].splitlines()[:1]
