"""The guest heap: one allocation function, accounting, the memory limit, and a
mark-sweep collector.

Python frees memory by reference counting; this heap is the VM's own model of
guest memory on top of that: what a memory limit bounds, what GC statistics
report. docs/memory.md describes the model and its constants for users.

* `alloc(obj)` is the only way guest objects come into being. It counts objects
  and accounted bytes (`obj.size()`, heap/objects.py), and requests a
  collection when the pacing budget (`next_gc`) is exceeded (or after every
  allocation under `--gc-stress`). Memory that grows without an allocation is
  accounted with `charge(nbytes)` before it is made: a string a built-in or an
  operator creates (`str_bytes`), an array push, a new map key, a channel's
  buffered value. Built-ins that know a result's size before building it call
  `reserve(nbytes)` (or charge it): so `s + s` fails before CPython makes a
  gigabyte string.
* Collections do not run inside `alloc`: an instruction may hold new objects in
  Python locals that no root reaches yet. The interpreter collects at its next
  safe point (an instruction boundary), where every live guest value is in a
  root: module globals, built-ins, fiber frame stacks. `VM.gc_roots()` lists them.
* Marking is iterative (no Python recursion on deep structures). It counts the
  bytes it reaches: each object's `size()` plus the scalars its slots hold
  (strings once per string object, by identity; ints outside CPython's small-int
  cache; floats), so `used` after a collection is the live data. Sweeping keeps
  the survivors and poisons the dead (see objects.py) so a missing root is
  caught by the test suite running under `--gc-stress`.
* Weak references and weak maps (heap/weak.py): when any exist (`weak`), the
  mark ends with the ephemeron fixpoint, and a collection clears the dead
  weak references and entries before its sweep (an emergency mark clears
  nothing).
* Every collection and emergency mark is recorded in `stats` (heap/gcstats.py:
  kinds, pause times, bytes; docs/gc.md): two perf_counter calls each.

The limit. `used` is the live bytes at the last collection plus everything
accounted since. An allocation that would take `used` over `limit` first gets
an *emergency mark*: the roots are marked (nothing is poisoned, since values in
an instruction's locals are not in a root) and the unreached objects leave the
object list, so CPython frees the garbage as soon as nothing holds it, and
`used` becomes the live bytes. If the allocation still does not fit, it
raises. After an emergency mark that made room, the next one waits until
`limit // 16` more bytes were allocated (or a collection or a refusal came
first): a heap at its limit whose marks win back a few bytes each would
otherwise mark at every allocation, the livelock this rule exists to prevent.
So each MemoryError costs at most one mark. The error is `OutOfMemory` (the
dispatch loop makes it the guest's catchable `MemoryError`), raised before
anything is built, so the heap stays consistent. Pacing keeps emergencies
rare: the next collection is due at twice the live bytes, but at most halfway from the
live bytes to the limit and never closer to the live bytes than `limit // 16`
(a collection at every safe point is the other livelock). So a program whose
live data stays under half the limit never sees MemoryError, however much
garbage it makes.
"""

from __future__ import annotations

from itertools import chain
from time import perf_counter
from typing import Any, Callable, Iterable

from .gcstats import GCStats
from .objects import _POISON, ARRAY_BASE, FLOAT_BYTES, INT_BYTES, SLOT, Array, HeapObject, str_bytes
from .packed import PackedArray
from .tuning import MODES, Tuning
from .weak import clear_weak, trace_ephemerons

DEFAULT_THRESHOLD = 4 << 20  # accounted bytes before the first collection
# The limit of a VM made without one (docs/memory.md): modest, since a host may
# embed many VMs, and reached within 10 s by the slowest-allocating runaway
# program on the reference machine: a channel filled one small value per send
# (9 accounted bytes, about 1 us each: 32 MiB in about 4.5 s idle, 9 s with the
# other core busy; 64 MiB took 9 s idle). Larger programs ask for more
# (`max_memory=`, `--max-memory`). The accounting tracks CPython's real use
# closely (docs/memory.md), so the host grows by about this much.
DEFAULT_LIMIT = 32 << 20
# What an emergency mark must be able to win, as a fraction of the limit; also
# the least distance between the live bytes and the next collection.
MIN_GAP_DIVISOR = 16
# Marks (one int per object, `HeapObject.mark`). Epochs and the incremental
# colours count up from 0; the generational old colours count down from
# OLD_BASE (heap/generational.py); these two are never either:
FREED = -7  # what a sweep leaves on an object it freed
# The write barrier's `watch` colour when no collector needs to see stores: a
# mark no object has, so the barrier's one comparison is always false.
NO_WATCH = -9


class OutOfMemory(MemoryError):
    """The heap's limit refused a request. A Python MemoryError, so that the
    dispatch loop reports it and a host MemoryError the same way: as the guest
    `MemoryError` (heap/ cannot import the runtime's RtError)."""


def out_of_memory(limit: int, need: int) -> OutOfMemory:
    return OutOfMemory(f"out of memory: the program needs more than its {format_size(limit)} memory limit ({need} more bytes requested)")


def format_size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


class Heap:
    # Whether `xs * n` and `Array(n, fill)` of one scalar kind make
    # PackedArrays (heap/packed.py): set on the instance by the native tier
    # when it attaches (jit/tier.py), the only tier whose code gains from
    # them. (A class attribute, so that a test can turn packing on for the
    # interpreter's own packed paths: tests/unit/test_packed.py.)
    packs = ""  # (the typecodes packed: heap/packed.py PACKED, or "" for none)
    # Whether instances of closed classes keep their fields in slots
    # (heap/layout.py SlotInstance). On in every VM: the interpreter and the
    # Python JIT are not slower on them and they take ~0.4x the memory
    # (docs/memory.md, "Instance layouts"); off on a native VM whose layout
    # probe refuses them (jit/tier.py), and in tests of the dict path.
    lays_out = True
    # Whether a laid-out instance keeps its fields of type int (bool) that
    # are never seen holding anything else as raw int64s (bytes) in their
    # slots (heap/layout.py "Raw slots"): on in a VM with the native tier (jit/tier.py: one
    # load or store in machine code, a box at each access in the
    # interpreter), and under TVM_TIER=packed (cli/main.py).
    unboxes = False

    def __init__(self, stress: bool = False, threshold: int = DEFAULT_THRESHOLD, limit: int | None = None, mode: str = "stw", verify: bool = False, tuning: Tuning | None = None) -> None:
        # The allocation list: every object in "stw" mode; in "incremental"
        # mode every object but those a sweep has not reached yet; in
        # "generational" mode the nursery (objects younger than one minor
        # collection). `all_objects()` is every listed object in any mode.
        self.objects: list[HeapObject] = []
        # (field names, raw slot kinds) -> shape type (heap/layout.py):
        # shared by classes with the same fields, made once per heap.
        self.shapes: dict[tuple, type] = {}
        # The Class.recycle lists the last machine sweep put dead instances
        # on (each once), for the next to empty (`sweep`).
        self.bins: list[list] = []
        self.bytes = 0
        self.stress = stress
        self.threshold = threshold
        self.limit = DEFAULT_LIMIT if limit is None else max(1, limit)
        self.pending = False  # a collection was requested; run at the next safe point
        # The colour counter: each stop-the-world mark, minor collection and
        # incremental cycle takes new colours above every earlier one.
        self.epoch = 0
        self.new_mark = 0  # the mark `alloc` gives (the mode decides: see set_mode)
        self.sweeps = 0  # sweeps finished (any kind): "something may have been freed"
        self.stats = GCStats()
        self.live = 0  # accounted bytes found live by the last count
        self.last_str: str | None = None  # the short string charged last (runtime/memory.py value_bytes)
        self.fresh = True  # no emergency mark since the last collection
        self.high = 0  # the peak, as of the last time `bytes` went past next_gc
        # The roots, for an emergency mark and for collections run at a safe
        # point (the machine sets it: VM.gc_roots).
        self.roots: Callable[[], Iterable[Any]] | None = None
        # Every WeakRef and WeakMap not yet found dead (heap/weak.py): only
        # when there are some does a mark run the ephemeron phase.
        self.weak: list[HeapObject] = []
        # Allocation numbers, for heap snapshots (tools/snapshot.py): id(obj)
        # -> its allocation sequence number, deterministic across runs and
        # replays of a program. None (the default) numbers nothing: one
        # attribute test per allocation.
        self.seqs: dict[int, int] | None = None
        self.allocs = 0
        # The write barrier (docs/gc.md, "Write barriers"): every store of a
        # reference into an existing heap object, from every tier, is
        #     if obj.mark == heap.watch: heap.barrier(obj, value)
        # (or heap.barrier_all(obj) after a store of many values). `watch` is
        # NO_WATCH while no collector needs to see stores, so the fast path is
        # one comparison.
        self.watch = NO_WATCH
        self.verify = verify  # check the collector's invariants as it runs (heap/verify.py)
        # The HeapObject subclasses `trace` has met (a set test is cheaper
        # than isinstance): per heap, since a type stays what it is.
        self.heap_types: set[type] = set()
        # The most dispatches the interpreter runs between two safe points
        # (its chunk is smaller when less): an incremental cycle lowers it.
        self.chunk_cap = 1 << 30
        self.tuning = tuning if tuning is not None else Tuning()
        self.mode = "stw"
        self.gc: Any = None  # the incremental or generational collector; None: stop-the-world
        self.next_gc = self.gc_target = 0
        self._pace()
        if mode != "stw":
            self.set_mode(mode)

    # ------------------------------------------------------------------ modes

    def set_mode(self, mode: str) -> str:
        """Switch the collector: "stw", "incremental" or "generational"
        (docs/gc.md). Takes effect at once and frees nothing: an incremental
        cycle in progress is abandoned (its marks are forgotten); entering
        generational mode makes every object old."""
        if mode not in MODES:
            raise ValueError(f"unknown gc mode {mode!r}: the modes are {', '.join(MODES)}")
        if self.gc is not None:
            self.gc.leave()
        self.gc = None
        self.watch = NO_WATCH
        self.new_mark = self.epoch
        self.mode = mode
        if mode == "incremental":
            from .incremental import Incremental

            self.gc = Incremental(self)
        elif mode == "generational":
            from .generational import Generational

            self.gc = Generational(self)
        self._pace()
        return mode

    def set_tuning(self, tuning: Tuning) -> None:
        self.tuning = tuning
        self._pace()

    def all_objects(self) -> list[HeapObject]:
        """Every object on the heap's lists, in any mode."""
        if self.gc is None:
            return list(self.objects)
        return self.gc.all_objects()

    def generations(self) -> dict[str, dict[str, int]]:
        """Accounted bytes and objects per generation (statistics)."""
        if self.gc is not None:
            return self.gc.generations()
        return {"old": {"bytes": self.bytes, "objects": len(self.objects)}}

    def number_objects(self) -> None:
        """From now on, give every allocation a sequence number (`seq_of`);
        the objects that exist already are numbered in allocation order."""
        if self.seqs is None:
            self.seqs = {}
            for obj in self.all_objects():
                self.allocs += 1
                self.seqs[id(obj)] = self.allocs

    def seq_of(self, obj: Any) -> int | None:
        """The allocation number of obj (None when not numbered)."""
        return self.seqs.get(id(obj)) if self.seqs is not None else None

    @property
    def used(self) -> int:
        """Accounted bytes now: the live bytes at the last count plus all since."""
        return self.bytes

    @property
    def peak(self) -> int:
        # `bytes` only grows between counts, so its maximum is `high` (updated
        # when a count or an emergency lowers it) or its value now.
        return max(self.high, self.bytes)

    @property
    def count(self) -> int:
        if self.gc is None:
            return len(self.objects)
        return self.gc.count()

    def set_threshold(self, threshold: int) -> None:
        """The collector's least budget between collections (tests use a
        small one: many collections in a short run)."""
        self.threshold = threshold
        self._pace()

    def set_limit(self, limit: int | None) -> None:
        self.limit = DEFAULT_LIMIT if limit is None else max(1, limit)
        self._pace()

    def _pace(self) -> None:
        self.pace_full(self.bytes)
        if self.gc is not None:
            self.gc.pace()

    def pace_full(self, live: int) -> None:
        """Due a full collection (or cycle) for a heap of `live` bytes."""
        limit = self.limit
        gap = min(max(self.threshold, live * self.tuning.pause // 100 - live), self.room(live))
        # A collection is due at gc_target, which may lie beyond the limit when
        # the live bytes are near it (the limit's emergency mark then does the
        # collector's work). next_gc, the one number alloc tests, is the
        # nearer of the two.
        self.gc_target = live + gap
        self.next_gc = min(self.gc_target, limit)

    def room(self, live: int) -> int:
        """The most a collection may wait for beyond `live` bytes: halfway
        to the limit, but never closer than limit // MIN_GAP_DIVISOR (the
        module docstring's pacing rule, for every mode)."""
        return max((self.limit - live) // 2, self.limit // MIN_GAP_DIVISOR)

    # ------------------------------------------------------------------ barrier

    def barrier(self, obj: Any, value: Any) -> None:
        """The write barrier's slow path: `value` was just stored into `obj`,
        whose mark is `watch` (docs/gc.md, "Write barriers")."""
        gc = self.gc
        if gc is not None:
            gc.barrier(obj, value)

    def barrier_all(self, obj: Any) -> None:
        """The slow path after a store of many values into `obj` (extend,
        insert, a generator's saved frame), or after values moved inside it:
        treat every reference of obj as just stored."""
        gc = self.gc
        if gc is not None:
            gc.barrier_all(obj)

    # ------------------------------------------------------------------ accounting

    def alloc(self, obj: Any) -> Any:
        obj.mark = self.new_mark
        self.objects.append(obj)
        self.bytes += obj.size()
        if self.seqs is not None:
            self.allocs += 1
            self.seqs[id(obj)] = self.allocs
        if self.bytes > self.next_gc or self.stress:
            self._over(obj, 0)
        return obj

    def admit(self, obj: Any) -> Any:
        """alloc without the limit: for the few objects the VM itself must be
        able to make at the limit (the MemoryError instance being raised)."""
        obj.mark = self.new_mark
        self.objects.append(obj)
        self.bytes += obj.size()
        if self.seqs is not None:
            self.allocs += 1
            self.seqs[id(obj)] = self.allocs
        if self.bytes > self.gc_target:
            self.pending = True
        return obj

    def charge(self, nbytes: int) -> None:
        """Account nbytes about to be used outside an allocation (a new string,
        the growth of an array, map or channel); MemoryError if they do not fit."""
        self.bytes += nbytes
        if self.bytes > self.next_gc or self.stress:
            self._over(None, nbytes)

    def charge_str(self, s: str) -> str:
        """Account a string just made (when its size could not be known before)."""
        self.charge(str_bytes(s))
        return s

    def reserve(self, nbytes: int) -> None:
        """MemoryError unless nbytes more fit under the limit (a built-in's
        pre-check before it builds a result of known size). Accounts nothing:
        the result is accounted when it is made (alloc or charge)."""
        if self.bytes + nbytes > self.limit:
            self.bytes += nbytes
            self._over(None, nbytes)
            self.bytes -= nbytes

    def _over(self, obj: Any, charged: int) -> None:
        """`bytes` passed next_gc: ask for a collection; past the limit, mark
        now to count the live bytes, and fail if the request still does not fit
        (see the module docstring for the rule)."""
        if self.bytes > self.gc_target or self.stress:
            self.pending = True
        if self.bytes > self.limit:
            need = obj.size() if obj is not None else charged
            if self.roots is not None and (self.fresh or self.bytes - self.live >= self.limit // MIN_GAP_DIVISOR):
                if self.gc is not None:
                    self.gc.emergency(obj, charged)
                else:
                    self.emergency(obj, charged)
            if self.bytes > self.limit:
                self._refuse(obj, need)
        self.high = max(self.high, self.bytes)

    def _refuse(self, obj: Any, need: int) -> None:
        # The next request at the limit marks again: the program may catch the
        # error, drop what filled the heap, and go on. (So each MemoryError
        # costs at most one mark: a loop that keeps failing still progresses.)
        self.fresh = True
        self.bytes -= need
        if obj is not None and self.objects and self.objects[-1] is obj:
            self.objects.pop()
        raise out_of_memory(self.limit, need)

    def emergency(self, obj: Any, charged: int, colour: int | None = None) -> list[HeapObject]:
        """The emergency mark (module docstring), over `self.objects`: marks
        with `colour` (default: a new epoch) and keeps the reached objects (and
        those owning a host resource). Returns the kept list."""
        assert self.roots is not None
        t0 = perf_counter()
        before = self.bytes
        self.fresh = False
        if colour is None:
            self.epoch += 1
            colour = self.new_mark = self.epoch
        roots = self.roots()
        live = self.trace(chain(roots, (obj,)) if obj is not None else roots, colour)
        # Unreached objects leave the list unpoisoned: some are held by the
        # running instruction's locals (they are marked again, and counted,
        # once stored in a root). Those that own a host resource stay, for the
        # sweep to release.
        kept = [o for o in self.objects if o.mark == colour or o.owns_resource]
        freed = len(self.objects) - len(kept)
        self.objects = kept
        self.live = live
        self.bytes = live + charged
        self._pace()
        self.stats.record("emergency", t0, before, self.bytes, freed, len(kept))
        return kept

    # ------------------------------------------------------------------ collecting

    def trace(self, roots: Iterable[Any], colour: int) -> int:
        """Mark everything reachable from roots with `colour` (a colour no
        object has yet); returns the accounted bytes reached (objects, and the
        scalars their slots hold). Iterative: no Python recursion on deep
        structures. Ends with the ephemeron fixpoint when weak objects exist."""
        seen_str: set[int] = set()
        total = 0
        stack: list = []
        push = stack.append
        pop = stack.pop
        # Nil first (no type() call: AWFY Storage's arrays hold 4 nils per
        # array), ints (an int array would pay for the set test), then a
        # set test for the heap object types met before instead of a call
        # of isinstance: ~45% less time per object on Storage's trees
        # (docs/native.md, "The collections' cost per object").
        heap_types = self.heap_types
        for child in roots:
            if isinstance(child, HeapObject) and child.mark != colour:
                child.mark = colour
                push(child)
        fast = self.native_mark
        if fast is not None:
            total += self._trace_native(fast, stack, colour, seen_str)
        while stack:
            obj = pop()
            if type(obj) is Array:
                # An Array's size() and refs() inline, and an array of
                # nils (AWFY Storage's leaves: three quarters of its live
                # objects) done by one C-level count: ~40% less time per
                # live object on Storage's trees (docs/native.md, "The
                # mark's arrays").
                items = obj.items
                n = len(items)
                total += ARRAY_BASE + SLOT * n + (n >> 3)
                if n and items[0] is None and items.count(None) == n:
                    continue  # (count only then: it compares an int with None slowly)
                children = items
            else:
                total += obj.size()
                if type(obj) is PackedArray:
                    # (heap/packed.py: no references; its elements' bytes,
                    # as the loop below would count them in the list)
                    total += obj.child_bytes()
                    continue
                children = obj.refs()
            for child in children:
                if child is None:
                    continue
                t = type(child)
                if t is int:
                    if not -5 <= child <= 256:  # (CPython shares the small ints)
                        total += INT_BYTES
                elif t in heap_types:
                    if child.mark != colour:
                        child.mark = colour
                        push(child)
                elif t is str:
                    i = id(child)
                    if i not in seen_str:
                        seen_str.add(i)
                        total += str_bytes(child)
                elif t is float:
                    total += FLOAT_BYTES
                elif t is not bool and isinstance(child, HeapObject):
                    heap_types.add(t)
                    if child.mark != colour:
                        child.mark = colour
                        push(child)
        if self.weak:  # WeakMap values whose keys were reached (heap/weak.py)
            total += trace_ephemerons(self.weak, colour, seen_str)
        return total

    def _trace_native(self, fast: Callable[[list, int, list, list], int], stack: list, colour: int, seen_str: set[int]) -> int:
        """trace's loop with `native_mark` (jit/native/sweep.py): machine
        code drains the stack of Arrays (their bytes, their nil, int, float
        and bool elements, their Array elements marked and pushed) and
        leaves the other objects it popped in `objs` and the elements of
        other types in `kids`, which this loop visits as `trace` does
        (pushing what they reach), until nothing is left. The same marks
        and bytes: a sum does not depend on the order.

        Its loop over `kids` is a copy of `trace`'s loop over an object's
        children, kept inline in both on purpose: sharing it would add a
        Python call per live object to `trace` (the loop of every heap
        without the native tier). tests/jit/native/test_gc_differential.py
        compares the two loops on random heaps: change them together."""
        heap_types = self.heap_types
        push = stack.append
        objs: list = []
        kids: list = []
        total = 0
        while stack:
            total += fast(stack, colour, objs, kids)
            for obj in objs:
                total += obj.size()
                if type(obj) is PackedArray:  # (the native mark takes exact Arrays only: as trace)
                    total += obj.child_bytes()
                    continue
                kids.extend(obj.refs())
            objs.clear()
            for child in kids:
                if child is None:
                    continue
                t = type(child)
                if t is int:
                    if not -5 <= child <= 256:
                        total += INT_BYTES
                elif t in heap_types:
                    if child.mark != colour:
                        child.mark = colour
                        push(child)
                elif t is str:
                    i = id(child)
                    if i not in seen_str:
                        seen_str.add(i)
                        total += str_bytes(child)
                elif t is float:
                    total += FLOAT_BYTES
                elif t is not bool and isinstance(child, HeapObject):
                    heap_types.add(t)
                    if child.mark != colour:
                        child.mark = colour
                        push(child)
            kids.clear()
        return total

    def sweep(self, objects: list[HeapObject], colour: int) -> tuple[list[HeapObject], int]:
        """Free the objects of the list not marked `colour`; returns the
        survivors and the number freed."""
        # The survivors by a comprehension, then a second pass over the list
        # for the dead only when there are some: a sweep that frees nothing
        # (most of a large live heap's batches) is one comprehension.
        fast = self.native_sweep
        dropped = 0
        if fast is not None and self.seqs is None and not self.tracks_sites:
            # The same loop in machine code (jit/native/sweep.py: a VM with
            # the native tier sets it): Arrays and laid-out instances freed
            # there (deallocated at once when only `objects` holds them:
            # their entries become POISON), the other dead objects left in
            # `rest` for their own free(), in list order. The caller drops
            # `objects` after the sweep, as it always did.
            # The lists it filled at the last sweep (Class.recycle) are
            # emptied first: dead instances kept for native code to reuse
            # are at most one sweep's, so the host holds no more than it
            # did before that sweep (jit/native/sweep.py, "Recycling").
            self.release_bins()
            live, rest = [], []
            try:
                ok = fast(objects, colour, live, rest, self.bins) == 0
            except Exception:  # noqa: BLE001 (an append out of memory: the loop below redoes it all)
                ok = False
            if ok:
                for obj in rest:
                    obj.mark = FREED
                    obj.free()
                return live, len(objects) - len(live)
            # The machine loop deallocates a dead object only the list holds
            # on the spot, leaving POISON in its entry: those are freed already.
            dropped = sum(1 for obj in objects if obj is _POISON)  # (identity: no __eq__ runs)
            if dropped:
                objects = [obj for obj in objects if obj is not _POISON]
        live = [obj for obj in objects if obj.mark == colour]
        freed = len(objects) - len(live) + dropped
        if freed:
            if self.seqs is not None or self.tracks_sites:
                for obj in objects:
                    if obj.mark != colour:
                        obj.mark = FREED
                        obj.free()
                        self.forget(obj)
            else:
                for obj in objects:
                    if obj.mark != colour:
                        obj.mark = FREED
                        obj.free()
        return live, freed

    # An allocation-site table keyed by id(obj) (heap/sites.py) must drop the
    # freed: subclasses that keep one set this and extend `forget`.
    tracks_sites = False
    # `sweep`'s loop in machine code, `f(objects, colour, live, rest, bins)`
    # (0: done), or None: the Python loop. The native tier sets it on its VM's
    # heap (jit/native/sweep.py); heap/ never imports it.
    native_sweep: Callable[[list, int, list, list, list], int] | None = None
    # And `trace`'s loop over the objects it knows (`_trace_native`), set with it.
    native_mark: Callable[[list, int, list, list], int] | None = None

    def forget(self, obj: Any) -> None:
        """A freed object's entries in id-keyed tables (its id may be reused)."""
        if self.seqs is not None:
            self.seqs.pop(id(obj), None)

    def collect(self, roots: Iterable[Any]) -> int:
        """A full collection now, in any mode: mark everything reachable from
        `roots`, free the rest; returns objects freed."""
        freed = self.gc.full(roots) if self.gc is not None else self.full(roots)
        self.release_bins()  # (asked for: the host gets back what the sweep kept to reuse)
        return freed

    def release_bins(self) -> None:
        """Empty the lists of dead instances the last machine sweep kept
        for native code to reuse (`bins`): their memory goes back to the
        host. The next sweep does it first, so they never hold more than
        one sweep's garbage."""
        bins = self.bins
        for b in bins:
            b.clear()
        bins.clear()

    def full(self, roots: Iterable[Any], kind: str = "full") -> int:
        """The stop-the-world mark-sweep over `self.objects`."""
        if self.verify:  # (a reference to a freed object: a missing root)
            from .verify import verify_lists

            verify_lists(self)
        t0 = perf_counter()
        before = self.bytes
        self.high = max(self.high, before)
        self.epoch += 1
        colour = self.new_mark = self.epoch
        total = self.trace(roots, colour)
        if self.weak:  # clear dead weak refs and entries before the sweep
            total -= clear_weak(self, colour)
        self.objects, freed = self.sweep(self.objects, colour)
        self.sweeps += 1
        self.bytes = self.live = total
        self.fresh = True
        self._pace()
        self.pending = False
        self.stats.record(kind, t0, before, total, freed, len(self.objects))
        return freed

    def step(self) -> int:
        """The collection work due at a safe point (`pending`): a full
        collection, a minor or major one, or an incremental slice, as the mode
        decides. Returns the objects freed."""
        assert self.roots is not None
        if self.gc is None:
            return self.full(self.roots())
        return self.gc.step()
