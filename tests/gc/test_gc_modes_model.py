"""Model-based tests of the three collector modes (heap/heap.py,
incremental.py, generational.py), on the heap alone: hypothesis drives a
mutator that allocates arrays, stores references between them (through the
write barrier, as every tier does), drops roots, and lets the collector run
slices, minor, major and full collections, and switches modes, in any order.

After every step: nothing reachable from the roots was freed, and the heap
verifier (generational and tri-colour invariants, reachability at the
incremental atomic step) found nothing. After a full collection: exactly the
reachable objects are left. A test that stores *without* the barrier shows
that the verifier and the poisoning catch it (the tests can fail)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyvm.heap.heap import FREED, Heap
from tinyvm.heap.objects import Array
from tinyvm.heap.tuning import Tuning
from tinyvm.heap.verify import HeapVerifyError
from tinyvm.heap.weak import WeakMap, WeakRef, new_weakmap, new_weakref

SMALL = Tuning(stepsize=64, nursery=1024, promote_after=2)


def make_heap(mode: str, roots: list, **kw) -> Heap:
    heap = Heap(limit=1 << 30, mode=mode, verify=True, tuning=kw.pop("tuning", SMALL), **kw)
    heap.roots = lambda: list(roots)
    return heap


def store(heap: Heap, arr: Array, i: int, value) -> None:
    """A store as the VM's tiers do it: the element, then the barrier."""
    arr.items[i] = value
    if arr.mark == heap.watch:
        heap.barrier(arr, value)


def reachable(roots: list) -> set[int]:
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        assert o.mark != FREED, "a reachable object was freed"
        assert isinstance(o.items, list), "a reachable object was poisoned"
        stack.extend(c for c in o.items if isinstance(c, Array))
    return seen


ops = st.lists(
    st.one_of(
        st.tuples(st.just("new"), st.integers(0, 50), st.integers(1, 4)),
        st.tuples(st.just("store"), st.integers(0, 50), st.integers(0, 50), st.integers(0, 3)),
        st.tuples(st.just("nil"), st.integers(0, 50), st.integers(0, 3)),
        st.tuples(st.just("drop"), st.integers(0, 50)),
        st.tuples(st.just("step"), st.integers(1, 5)),
        st.tuples(st.just("full"),),
        st.tuples(st.just("mode"), st.sampled_from(["stw", "incremental", "generational"])),
        st.tuples(st.just("big"), st.integers(0, 50)),
    ),
    max_size=120,
)


def run_ops(mode: str, program: list) -> None:
    roots: list = []
    heap = make_heap(mode, roots)
    everything: list[Array] = []  # every array made: the mutator picks among the reachable ones

    def live() -> list[Array]:
        ids = reachable(roots)
        return [a for a in everything if id(a) in ids]

    for op in program:
        kind = op[0]
        objs = live()
        if kind == "new":
            a = heap.alloc(Array([None] * op[2]))
            everything.append(a)
            if objs and op[1] % 3:
                dst = objs[op[1] % len(objs)]
                store(heap, dst, op[1] % len(dst.items), a)
            else:
                roots.append(a)
        elif kind == "store" and objs:
            dst, val = objs[op[1] % len(objs)], objs[op[2] % len(objs)]
            store(heap, dst, op[3] % len(dst.items), val)
        elif kind == "nil" and objs:
            dst = objs[op[1] % len(objs)]
            store(heap, dst, op[2] % len(dst.items), None)
        elif kind == "drop" and roots:
            roots.pop(op[1] % len(roots))
        elif kind == "step":
            for _ in range(op[1]):
                heap.pending = True
                heap.step()
        elif kind == "full":
            heap.collect(heap.roots())
            assert heap.count == len(reachable(roots)), "a full collection left garbage (or lost objects)"
        elif kind == "mode":
            heap.set_mode(op[1])
        elif kind == "big":
            # A large array (scanned in chunks by the incremental mark)
            # holding existing objects, moved around afterwards.
            a = heap.alloc(Array([objs[(op[1] + i) % len(objs)] if objs else None for i in range(2500)]))
            everything.append(a)
            roots.append(a)
            a.items.reverse()
            if a.mark == heap.watch:
                heap.barrier_all(a)
        reachable(roots)
    heap.collect(heap.roots())
    assert heap.count == len(reachable(roots))


@pytest.mark.parametrize("mode", ["stw", "incremental", "generational"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=ops)
def test_random_mutators_never_lose_a_reachable_object(mode, program):
    run_ops(mode, program)


# --------------------------------------------------------------------------- generational


def test_minor_collections_promote_after_promote_after_survivals():
    roots: list = []
    heap = make_heap("generational", roots, tuning=Tuning(nursery=1024, promote_after=2))
    gen = heap.gc
    a = heap.alloc(Array([]))
    roots.append(a)
    garbage = heap.alloc(Array([]))
    heap.pending = True
    heap.step()  # minor 1: a survives (age 1), garbage is freed
    assert heap.stats.by_kind["minor"] == 1
    assert garbage.mark == FREED and a in gen.ages[0] and a not in gen.old
    heap.step()  # minor 2: a is promoted
    assert a in gen.old and a.mark in (gen.clean, gen.clean - 1)
    assert heap.stats.promoted == a.size()
    report = heap.stats.report(heap)
    assert report["promoted_bytes"] == a.size() and report["generations"]["old"]["objects"] == len(gen.old)


def test_store_into_old_object_is_remembered_and_keeps_young_alive():
    roots: list = []
    heap = make_heap("generational", roots, tuning=Tuning(promote_after=1))
    old = heap.alloc(Array([None]))
    roots.append(old)
    heap.step()  # promoted at once (promote_after=1)
    assert old in heap.gc.old
    heap.step()  # no young object left: the promoted array is clean again
    assert old.mark == heap.gc.clean == heap.watch
    young = heap.alloc(Array([1]))
    store(heap, old, 0, young)
    assert old.mark == heap.gc.clean - 1 and old in heap.gc.remembered
    heap.step()
    assert young.mark != FREED and young.items == [1]


def test_a_store_without_barrier_is_caught_by_the_verifier():
    roots: list = []
    heap = make_heap("generational", roots, tuning=Tuning(promote_after=1))
    old = heap.alloc(Array([None]))
    roots.append(heap.alloc(Array([old])))  # (not a root itself: roots are rescanned, never barriered)
    heap.step()
    heap.step()
    old.items[0] = heap.alloc(Array([2]))  # no barrier: the bug the verifier exists for
    with pytest.raises(HeapVerifyError, match="without a write barrier"):
        heap.step()


def test_without_the_verifier_a_missed_barrier_frees_a_live_object():
    # The property the barrier protects: the failure the verifier reports early.
    roots: list = []
    heap = make_heap("generational", roots, tuning=Tuning(promote_after=1))
    heap.verify = False
    old = heap.alloc(Array([None]))
    roots.append(heap.alloc(Array([old])))  # (not a root itself: roots are rescanned, never barriered)
    heap.step()
    heap.step()
    old.items[0] = young = heap.alloc(Array([2]))
    heap.step()
    assert young.mark == FREED


def test_minor_collection_clears_weak_references_to_dead_young_objects():
    roots: list = []
    heap = make_heap("generational", roots)
    target = heap.alloc(Array([]))
    keep = heap.alloc(Array([]))
    w = new_weakref(heap, target)
    w2 = new_weakref(heap, keep)
    m = new_weakmap(heap)
    k1, k2 = heap.alloc(Array([])), heap.alloc(Array([]))
    v1, v2 = heap.alloc(Array([k2])), heap.alloc(Array([]))  # chain: k1 -> v1 holds k2 -> v2
    m.items[k1] = v1
    m.items[k2] = v2
    dead_key = heap.alloc(Array([]))
    m.items[dead_key] = heap.alloc(Array([dead_key]))  # a value holding its own key keeps nothing
    roots.extend([w, w2, keep, m, k1])
    heap.step()
    assert w.target is None and w2.target is keep
    assert set(map(id, m.items)) == {id(k1), id(k2)} and v2.mark != FREED and v1.items == [k2]
    assert type(w) is WeakRef and type(m) is WeakMap


def test_major_runs_when_the_heap_outgrows_the_last_live():
    roots: list = []
    heap = make_heap("generational", roots, tuning=Tuning(nursery=1024, promote_after=1, major_mul=10))
    for i in range(3000):
        a = heap.alloc(Array([i]))
        if i % 2:
            roots.append(a)
        if heap.pending:
            heap.step()
    assert heap.stats.by_kind.get("major", 0) >= 1 and heap.stats.by_kind["minor"] >= 1
    heap.collect(heap.roots())
    assert heap.count == len(roots)


# --------------------------------------------------------------------------- incremental


def test_incremental_cycle_runs_in_bounded_slices():
    roots: list = []
    heap = make_heap("incremental", roots, tuning=Tuning(stepsize=1024, stepmul=200))
    big = heap.alloc(Array([heap.alloc(Array([i])) for i in range(5000)]))
    roots.append(big)
    garbage = [heap.alloc(Array([i])) for i in range(500)]
    inc = heap.gc
    slices = 0
    while inc.cycles == 0:
        heap.pending = True
        heap.step()
        slices += 1
        assert slices < 10_000
        heap.alloc(Array([0]))  # the mutator allocates between slices
    assert slices > 20, "the cycle was not incremental"
    assert all(g.mark == FREED for g in garbage)
    assert all(type(c) is Array and c.items != FREED for c in big.items)
    assert heap.stats.by_kind["incremental-slice"] == slices and heap.stats.cycles == 1


def test_incremental_barrier_shades_a_white_object_stored_into_a_black_one():
    roots: list = []
    heap = make_heap("incremental", roots, tuning=Tuning(stepsize=64, stepmul=100))
    black = heap.alloc(Array([None]))
    holder = heap.alloc(Array([None] * 3000))  # large: scanned a chunk at a time
    white = heap.alloc(Array([7]))
    holder.items[2999] = white
    roots.extend([holder, black])  # (the grey stack is LIFO: black is scanned first)
    inc = heap.gc
    heap.pending = True
    heap.step()
    while black.mark != inc.black:
        heap.step()
    assert inc.phase == "mark" and white.mark < inc.grey  # not reached yet
    # The mutator moves white from the unscanned end of holder into black.
    store(heap, black, 0, white)
    holder.items[2999] = None
    while inc.cycles == 0:
        heap.step()
    assert white.mark != FREED and white.items == [7]


def test_incremental_verifier_catches_a_store_without_barrier():
    roots: list = []
    heap = make_heap("incremental", roots, tuning=Tuning(stepsize=64, stepmul=100))
    black = heap.alloc(Array([None]))
    holder = heap.alloc(Array([heap.alloc(Array([])) for _ in range(300)]))
    white = heap.alloc(Array([7]))
    holder.items.append(white)
    roots.extend([holder, heap.alloc(Array([black]))])  # (black is no root: roots are never barriered)
    inc = heap.gc
    heap.pending = True
    heap.step()
    while black.mark != inc.black:
        heap.step()
    if white.mark >= inc.grey:
        pytest.skip("the mark reached white first")
    black.items[0] = white  # no barrier
    holder.items.pop()
    with pytest.raises(HeapVerifyError):
        while inc.cycles == 0:
            heap.step()


def test_emergency_mark_in_each_mode_keeps_live_objects():
    for mode in ("stw", "incremental", "generational"):
        roots: list = []
        heap = make_heap(mode, roots)
        heap.set_limit(200_000)
        kept = heap.alloc(Array([]))
        roots.append(kept)
        with pytest.raises(MemoryError):
            for _ in range(100_000):
                kept.items.append(heap.alloc(Array([0] * 10)))
                if kept.mark == heap.watch:
                    heap.barrier(kept, kept.items[-1])
                heap.charge(8)
                if heap.pending:
                    heap.step()
        reachable(roots)
        kept.items.clear()
        heap.collect(heap.roots())
        assert heap.count == 1, mode


def test_mode_switch_in_the_middle_of_a_cycle_frees_nothing_live():
    roots: list = []
    heap = make_heap("incremental", roots, tuning=Tuning(stepsize=64, stepmul=100))
    objs = [heap.alloc(Array([i])) for i in range(2000)]
    roots.extend(objs[::2])
    heap.pending = True
    for _ in range(5):
        heap.step()
    assert heap.gc.phase == "mark"
    heap.set_mode("generational")
    heap.step()
    heap.set_mode("stw")
    heap.collect(heap.roots())
    assert heap.count == 1000 and all(o.items != FREED for o in roots)
