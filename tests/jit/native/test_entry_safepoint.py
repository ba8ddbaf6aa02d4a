"""The safe point at native entry (jit/native/engine.py; docs/native.md, "The safe point at native entry").

A collection asked for by an allocation (`heap.pending`) runs at the next
safe point. The entry op of an allocating native function is one (the
call's arguments in its frame, its callers below): the collection runs
there and the call then runs natively, where it used to run whole on the
other tiers. Checked: every call of an allocating function stays native
while the interpreter between the calls keeps asking for collections, and
the output, the heap's bytes and the collections agree with the
interpreter's; under an incremental collector a call entered between two
slices still agrees; a for-range Range past `next_gc` leaves native code
(charges.py): the interpreter makes it and collects, the OSR op brings the
function back; near a memory limit the three tiers fail at the same
allocation with the same message and trace.
"""

from __future__ import annotations

import io

import pytest

pytest.importorskip("llvmlite")

from native_helpers import native, tiers

from tinyvm.api import VM
from tinyvm.heap.tuning import Tuning

# `total` allocates (a literal) and so is an allocating native function;
# the module's loop makes 40 KB of garbage before each call, asking for a
# collection that is still pending at total's entry.
CALLS = """
fn total(xs: [int]) -> int {
  var s = 0
  var i = 0
  while i < len(xs) { s += xs[i]; i += 1 }
  let pair = [s, len(xs)]
  return pair[0] + pair[1]
}
var k = 0
var t = 0
while k < 200 {
  let g = [k] * 5000
  t += total(g)
  k += 1
}
print(t)
"""


def _run(src: str, jit: str, mode: str = "stw", threshold: int = 64 << 10) -> tuple:
    out = io.StringIO()
    log: list[str] = []
    vm = VM(jit=jit, stdout=out, gc=mode, jit_log=log.append)
    heap = vm.machine.heap
    heap.set_threshold(threshold)
    heap.set_tuning(
        Tuning(nursery=threshold)
    )  # (generational: minor collections as often)
    vm.run_source(src)
    heap = vm.machine.heap
    report = heap.stats.report(heap)
    return out.getvalue(), report["allocated_bytes"], report["collections"], vm, log


@pytest.mark.parametrize("mode", ["stw", "generational"])
def test_pending_collections_run_at_the_entry_and_the_call_stays_native(
    mode: str,
) -> None:
    want = _run(CALLS, "off", mode)
    got = _run(CALLS, "native-eager", mode)
    assert got[0] == want[0] == "100500000\n" and got[1] == want[1]
    assert got[2] >= 50 and want[2] >= 50, (
        got[2],
        want[2],
    )  # (collections at chunk ends / entries alike)
    nt = got[3].machine.jit.native
    assert native("total", got[4]), got[4]
    # Each of the 200 calls ran natively: a pending collection at the entry
    # ran there first (before: the whole call on the other tiers).
    assert nt.stats["native_calls"] == 200 and nt.stats["deopts"] == 0, nt.stats
    got[3].machine.collect()
    want[3].machine.collect()
    assert got[3].machine.heap.bytes == want[3].machine.heap.bytes


def test_an_incremental_cycle_runs_its_slices_at_the_entry() -> None:
    # Each pending slice runs at the entry (a slice clears `pending`), the
    # call then natively: all 200 calls native, with the interpreter's
    # output and allocated bytes (and, measured, its 124 slices).
    want = _run(CALLS, "off", "incremental", threshold=16 << 10)
    got = _run(CALLS, "native-eager", "incremental", threshold=16 << 10)
    assert got[0] == want[0] and got[1] == want[1]
    assert got[2] >= 50 and want[2] >= 50, (got[2], want[2])
    nt = got[3].machine.jit.native
    assert nt.stats["native_calls"] == 200 and nt.stats["deopts"] == 0, nt.stats
    got[3].machine.collect()
    want[3].machine.collect()
    assert got[3].machine.heap.bytes == want[3].machine.heap.bytes


# Queens' shape: recursion whose every level runs a loop, here with a
# Range kept in each turn (the only allocation; a for-range loop's own
# Range is never made or charged). With a small threshold the Ranges'
# bytes ask for collections deep inside native recursion.
SEARCH = """
fn place(c: int, n: int) -> int {
  if c == n { return 1 }
  var found = 0
  for r in 0..n {
    let kept = 0..r
    if (r + c) % 3 != 0 { found += place(c + 1, n) }
  }
  return found
}
var k = 0
var t = 0
while k < 30 { t += place(0, 6); k += 1 }
print(t)
"""


def test_a_range_past_next_gc_leaves_and_the_interpreter_collects() -> None:
    want = _run(SEARCH, "off", threshold=8 << 10)
    got = _run(SEARCH, "native-eager", threshold=8 << 10)
    # The output and every byte allocated (each Range charged) are the
    # interpreter's; when the collections ran is not (chunk ends there).
    assert got[0] == want[0] and got[1] == want[1], (got[:3], want[:3])
    # Past next_gc a Range is refused (charges.py): native code leaves at
    # the range, the interpreter makes it and the collection runs at the
    # next safe point, where the OSR op brings place back: one deopt per
    # collection, as often as the interpreter's (it used to charge on, the
    # heap growing by a whole call's Ranges, each a Python call, until the
    # next entry: 30 collections in 30 calls).
    nt = got[3].machine.jit.native
    deopts = [x for x in got[4] if " deopt at " in x]
    assert native("place", got[4]) and deopts, got[4]
    assert all(x.endswith("range fails") for x in deopts), deopts
    assert nt.stats["deopts"] <= got[2] and got[2] >= want[2], (
        nt.stats,
        got[2],
        want[2],
    )
    assert nt.stats["osr_calls"] >= nt.stats["deopts"], (
        nt.stats
    )  # (back in native code)


LIMIT = """
fn grow(n: int) -> int {
  var s = 0
  for j in 0..n { s += j }
  let junk = [s] * 64
  return s + len(junk)
}
fn keep(xs: [int], n: int) -> int {
  var i = 0
  while i < n { xs.push(i * 1000); i += 1 }
  return len(xs)
}
let held: [int] = []
var k = 0
while true {
  k += grow(40)
  keep(held, 50)
}
"""


@pytest.mark.parametrize("limit", ["512K", "1M", "2M", "3M", "4M"])
def test_the_memory_limit_fails_where_the_python_jit_fails(limit: str) -> None:
    # Live data (held's pushes) grows to the limit while grow makes garbage.
    # Heap.alloc marks before it fails only when no emergency mark ran since
    # the last collection or limit // 16 bytes ago (heap.py), so which
    # request fails depends on when collections ran: the interpreter's at
    # chunk ends, the Python JIT's at back-edges, native code's at entries
    # and back-edges of the JIT code around it. Native code fails exactly
    # where the Python JIT does (request, message, trace); at 512K and 2M
    # the interpreter fails there too, at 1M, 3M and 4M one allocation
    # elsewhere (docs/native.md "The safe point at native entry").
    got = tiers(LIMIT, "--max-memory", limit)
    (code, out, err), log = got["native"]
    assert (code, out, err) == got["python-jit"][0], (
        got["native"][0],
        got["python-jit"][0],
    )
    assert code == 5 and err.startswith("error: MemoryError: out of memory"), (
        code,
        out,
        err,
    )
    assert native("grow", log) and native("keep", log), log
    if limit in ("512K", "2M"):
        assert got["interpreter"][0] == (code, out, err)
