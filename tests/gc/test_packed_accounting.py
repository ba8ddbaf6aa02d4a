"""The collector counts a packed array (heap/packed.py) exactly as the list
it stands for (docs/gc.md, "Packed arrays").

Packing is a representation: every byte the heap accounts -- at allocation,
in each collector's mark (Heap.trace and its native-mark loop, the
incremental slices with their chunked scan of large arrays, the ephemeron
fixpoint, minor and major collections), in heap snapshots -- must be the
same with `Heap.packs` on and off. These tests run the same heaps and the
same random programs both ways and compare the numbers; and GC stress
(a collection at every allocation, with the heap verifier) runs programs
whose packed arrays are read, written, unpacked and iterated.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyvm.api import VM
from tinyvm.heap import packed
from tinyvm.heap.heap import Heap
from tinyvm.heap.incremental import CHUNK
from tinyvm.heap.objects import Array
from tinyvm.heap.packed import PackedArray, repeat
from tinyvm.heap.snapshot import take_snapshot
from tinyvm.heap.tuning import Tuning
from tinyvm.heap.weak import new_weakmap

FILLS = [True, False, 0, 1, 256, 257, -5, -6, 10**12, -(2**63), 0.0, -0.0, 2.5, 1e300]


# ---------------------------------------------------------------- Heap alone


def build(spec: list, pack: bool) -> tuple[Heap, list]:
    """A heap holding, for each (fill, n, held) of spec, `repeat([fill], n)`
    (packed or not), held in one list Array root when `held`."""
    Heap.packs = "qdb" if pack else ""
    try:
        heap = Heap(limit=1 << 40)
        arrays = [heap.alloc(repeat([fill], n, "qdb" if pack else "")) for fill, n, _ in spec]
        root = heap.alloc(Array([a for a, (_, _, held) in zip(arrays, spec) if held]))
        return heap, [root]
    finally:
        Heap.packs = ""


specs = st.lists(st.tuples(st.sampled_from(FILLS), st.integers(0, 3 * CHUNK), st.booleans()), max_size=12)


@settings(max_examples=150, deadline=None)
@given(specs)
def test_trace_counts_packed_arrays_as_lists(spec):
    totals = []
    for pack in (True, False):
        heap, roots = build(spec, pack)
        totals.append((heap.bytes, heap.trace(roots, 99)))
        if pack:  # (the mark read them without unpacking)
            assert {type(a) for a in roots[0].items} <= {PackedArray}
    assert totals[0] == totals[1]


@settings(max_examples=60, deadline=None)
@given(specs)
def test_the_native_mark_loop_counts_packed_arrays_as_lists(spec):
    """_trace_native's loop over what the machine code hands back: a fake
    native mark that takes nothing itself (every object comes back in
    `objs`) gives trace's totals."""

    def fake(stack, colour, objs, kids):
        objs.extend(stack)
        stack.clear()
        return 0

    got = []
    for pack in (True, False):
        heap, roots = build(spec, pack)
        heap.native_mark = fake
        got.append(heap.trace(roots, 99))
    heap, roots = build(spec, False)
    assert got[0] == got[1] == heap.trace(roots, 99)


def run_cycle(spec: list, pack: bool, stepsize: int) -> tuple:
    """One incremental cycle over build(spec) in slices of `stepsize`, the
    mutator allocating between them; what each slice did, and the heap's
    numbers after it."""
    heap, roots = build(spec, pack)
    heap.roots = lambda: list(roots)
    heap.tuning = Tuning(stepsize=stepsize, stepmul=400)
    heap.set_mode("incremental")
    inc = heap.gc
    trail = []
    while inc.cycles == 0:
        heap.pending = True
        heap.step()
        trail.append((inc.phase, inc.work, inc.total, heap.bytes, len(inc.partial)))
        assert len(trail) < 10_000
        heap.alloc(Array([0]))
    if pack:
        assert {type(a) for a in roots[0].items} <= {PackedArray}, "the mark unpacked an array"
    return trail, heap.bytes, heap.live, inc.restarts, heap.stats.by_kind


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs, st.sampled_from([64, 512, 4096]))
def test_incremental_slices_match_the_lists(spec, stepsize):
    """The incremental mark: the same bytes, the same slices and cycle (a
    packed array over CHUNK elements is scanned in chunks, as the list
    would be), and the arrays stay packed."""
    assert run_cycle(spec, True, stepsize) == run_cycle(spec, False, stepsize)


def test_a_large_packed_array_is_chunked_as_the_list():
    for fill in (True, 1000, 2.5):
        spec = [(fill, 5 * CHUNK + 3, True), (fill, CHUNK - 1, True)]
        a, b = run_cycle(spec, True, 64), run_cycle(spec, False, 64)
        assert a == b, fill
        assert max(t[4] for t in a[0]) >= 1  # (it was scanned in chunks)


def test_ephemeron_values_count_packed_arrays_as_lists():
    for fill in (3000, 2.5, True):
        totals = []
        for pack in (True, False):
            Heap.packs = "qdb" if pack else ""
            try:
                heap = Heap(limit=1 << 40)
                key = heap.alloc(Array([]))
                wm = new_weakmap(heap)
                wm.items[key] = heap.alloc(repeat([fill], 40, "qdb" if pack else ""))
                totals.append(heap.trace([key, wm], 77))
            finally:
                Heap.packs = ""
        assert totals[0] == totals[1], fill


# ---------------------------------------------------------------- whole programs

ARR = st.sampled_from(["true", "false", "0", "1", "300", "-6", "1000000", "2.5", "-0.0", '"s"', "nil"])
VALS = st.sampled_from(["true", "false", "7", "123456789", "0.5", '"v"', "nil", "[1]", "i", "i * 1.5"])


@st.composite
def program(draw) -> str:
    lines = ["var keep: [any] = []", "var acc = 0"]
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["keep", "keep", "garbage", "store", "iter", "drop"]))
        fill, n = draw(ARR), draw(st.integers(0, 600))
        make = f"[{fill}] * {n}" if draw(st.booleans()) else f"Array({n}, {fill})"
        if kind == "keep":
            lines.append(f"keep.push({make})")
        elif kind == "garbage":
            lines.append(f"for r in 0..{draw(st.integers(1, 30))} {{ let g = {make}\n acc += 1 }}")
        elif kind == "store":
            v, j = draw(VALS), draw(st.integers(0, 700))
            lines.append(
                f"for i in 0..keep.len() {{ var a: [any] = keep[i]\n if {j} < a.len() {{ a[{j}] = {v} }} }}"
            )
        elif kind == "iter":
            lines.append("for i in 0..keep.len() { var a: [any] = keep[i]\n for x in a { if x == true or x == 1000000 { acc += 1 } } }")
        else:
            lines.append("if keep.len() > 0 { keep.pop() }")
    lines.append("print(acc, keep.len())")
    return "\n".join(lines)


def measure(src: str, pack: bool, **kw) -> tuple:
    Heap.packs = "qdb" if pack else ""
    try:
        out = io.StringIO()
        vm = VM(stdout=out, gc_tuning={"stepsize": 512, "nursery": 8192, "promote_after": 2}, **kw)
        vm.machine.heap.set_threshold(16 << 10)
        vm.run_source(src)
        h = vm.machine.heap
        stats = vm.gc_stats()
        stats.pop("pause")
        return out.getvalue(), h.bytes, h.live, h.high, stats
    finally:
        Heap.packs = ""


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program(), st.sampled_from(["stw", "incremental", "generational"]), st.sampled_from(["off", "eager"]))
def test_programs_account_the_same_packed_or_not(src, mode, jit):
    a = measure(src, True, gc=mode, jit=jit)
    b = measure(src, False, gc=mode, jit=jit)
    assert a == b, src


STRESSED = """
var keep: [any] = []
var acc = 0
for r in 0..4 {
  var b = [true] * 40
  var q = Array(40, 1000000)
  var d = [0.25] * 40
  for i in 0..40 {
    b[i] = i % 2 == 0
    q[i] = q[i] + i
    d[i] = d[i] * 2.0
  }
  for x in b { if x { acc += 1 } }
  for x in q { acc += x % 3 }
  keep.push(b)
  keep.push(q)
  var u: [any] = [1] * 5
  u[2] = [r]
  keep.push(u)
  keep.push(d)
}
var c = 0
for a in keep {
  var arr: [any] = a
  for x in arr { c += 1 }
}
print(acc, c)
"""


@pytest.mark.parametrize("mode", ["stw", "incremental", "generational"])
@pytest.mark.parametrize("jit", ["off", "eager"])
def test_gc_stress_with_packed_arrays(mode, jit):
    """A collection at every allocation, the verifier on (a store of a
    reference that unpacks must run the barrier): the same output and
    accounting as the list version."""
    a = measure(STRESSED, True, gc=mode, jit=jit, gc_stress=True, gc_verify=True)
    b = measure(STRESSED, False, gc=mode, jit=jit, gc_stress=True, gc_verify=True)
    assert a == b
    assert a[0] == measure(STRESSED, True)[0]


def test_the_tvm_gc_stress_environment_runs_packed_arrays(tmp_path, monkeypatch):
    from tinyvm.cli.main import main

    p = tmp_path / "p.tl"
    p.write_text(STRESSED)
    monkeypatch.setenv("TVM_GC_STRESS", "1")
    outs = []
    for jit in ("off", "on"):
        buf = io.StringIO()
        monkeypatch.setattr("sys.stdout", buf)
        assert main(["run", f"--jit={jit}", str(p)]) in (0, None)
        outs.append(buf.getvalue())
    assert outs[0] == outs[1] == measure(STRESSED, False)[0]


def test_snapshot_sizes_and_elements_match_the_lists():
    src = "var keep = [[3000] * 5, [2.5] * 3, [true] * 4, [7] * 2]\n"
    snaps = []
    for pack in (True, False):
        Heap.packs = "qdb" if pack else ""
        try:
            vm = VM(stdout=io.StringIO())
            vm.run_source(src)
            s = take_snapshot(vm.machine)
        finally:
            Heap.packs = ""
        arrays = sorted((s.self_size[i], s.name[i]) for i in range(len(s.kind)) if s.type[i] == "array")
        snaps.append((arrays, sum(s.self_size), len(s.kind), len(s.edge_to)))
    assert snaps[0] == snaps[1]
