"""GC statistics (heap/gcstats.py): the pause histogram, the counters each
collection kind updates, `vm.gc_stats()`, and `tvm run --gc-stats[=json]`."""

from __future__ import annotations

import io
import json
import random

import pytest

from tinyvm.api import VM
from tinyvm.cli.main import main
from tinyvm.heap.gcstats import BOUNDS, KINDS, GCStats, PauseHistogram, format_report

GARBAGE = """
var keep = []
fn churn(n) {
  for i in 0..n {
    let a = [i, [i, i], {x: i}]
    if i % 100 == 0 { keep.push(a) }
  }
}
churn(20000)
"""


def test_histogram_quantiles_are_within_one_bucket_of_the_truth():
    rng = random.Random(7)
    h = PauseHistogram()
    pauses = [rng.lognormvariate(-7, 1.5) for _ in range(5000)]  # ~1 ms median, long tail
    for p in pauses:
        h.add(p)
    pauses.sort()
    assert h.count == 5000
    assert h.max == pauses[-1]
    assert h.total == pytest.approx(sum(pauses))
    for q in (0.5, 0.99):
        true = pauses[int(q * len(pauses)) - 1]
        got = h.quantile(q)
        # The bucket's upper bound: never below the truth, at most 2**(1/4) above.
        assert true <= got <= true * 2 ** 0.25 * 1.0001, (q, true, got)
    d = h.as_dict()
    assert sum(n for _, n in d["buckets"]) == 5000
    assert d["p50_ms"] <= d["p99_ms"] <= d["max_ms"]
    # Buckets are listed in increasing order of their bounds.
    bounds = [b for b, _ in d["buckets"]]
    assert bounds == sorted(bounds)


def test_histogram_extremes():
    h = PauseHistogram()
    assert h.quantile(0.5) == 0.0 and h.as_dict()["buckets"] == []
    h.add(0.0)  # a pause below the first bound
    h.add(1000.0)  # longer than every bound: the overflow bucket
    assert h.counts[0] == 1 and h.counts[len(BOUNDS)] == 1
    assert h.quantile(0.99) == 1000.0  # capped at the true maximum
    assert h.quantile(0.5) == BOUNDS[0]


def test_record_counts_bytes_by_kind():
    s = GCStats()
    s.record("full", 0.0, before=1000, after=400, freed=6, survivors=4)
    s.record("emergency", 0.0, before=900, after=500, freed=2, survivors=3)
    assert (s.collections, s.emergencies) == (1, 1)
    assert s.by_kind == {"full": 1, "emergency": 1}
    # allocated: everything accounted between counts (1000 from 0, then 900 - 400).
    assert s.allocated == 1000 + 500
    assert s.freed_bytes == 600 + 400
    assert s.freed_objects == 8
    assert s.survivors == 3
    assert s.pauses.count == 2


def test_vm_gc_stats_after_collections():
    vm = VM(stdout=io.StringIO())
    vm.machine.heap.set_threshold(64 << 10)  # many collections in a short run
    vm.run_source(GARBAGE)
    heap = vm.machine.heap
    r = vm.gc_stats()
    assert r["mode"] == "stw"
    assert set(r["by_kind"]) == set(KINDS)
    assert r["by_kind"]["full"] == heap.stats.collections >= 5
    assert r["collections"] == sum(r["by_kind"].values())
    assert r["pause"]["count"] == r["collections"]
    assert 0 < r["pause"]["p50_ms"] <= r["pause"]["p99_ms"] <= r["pause"]["max_ms"] <= r["pause"]["total_ms"]
    assert r["freed_objects"] == heap.stats.freed_objects > 20000
    # The bytes add up: what was allocated is what was freed plus what is there now.
    assert r["allocated_bytes"] == r["freed_bytes"] + r["heap_bytes"]
    assert r["promoted_bytes"] == 0
    assert r["heap_bytes"] == vm.memory_used
    assert r["peak_bytes"] == vm.memory_peak
    assert r["generations"] == {"old": {"bytes": r["heap_bytes"], "objects": len(heap.objects)}}
    assert r["live_objects"] <= r["objects"]
    json.dumps(r)  # JSON-able
    before = r["by_kind"]["full"]
    vm.machine.collect()
    r2 = vm.gc_stats()
    assert r2["by_kind"]["full"] == before + 1
    assert r2["live_bytes"] == r2["heap_bytes"] == heap.live
    assert r2["live_objects"] == r2["objects"] == len(heap.objects)


def test_emergency_marks_are_their_own_kind():
    vm = VM(stdout=io.StringIO(), max_memory=2 << 20)
    vm.run_source("""
var n = 0
for i in 0..20 {
  try {
    var hog = []
    while true { hog.push([i]) }
  } catch e { n = n + 1 }
}
print(n)
""")
    r = vm.gc_stats()
    assert r["by_kind"]["emergency"] == vm.machine.heap.stats.emergencies >= 1
    assert r["collections"] == r["by_kind"]["full"] + r["by_kind"]["emergency"]
    assert r["pause"]["count"] == r["collections"]


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(args, stdin=io.StringIO(), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_cli_gc_stats_text(tmp_path):
    prog = tmp_path / "churn.tl"
    prog.write_text(GARBAGE + "print(len(keep))\n")
    status, out, err = run_cli(["run", "--gc-stats", "--max-memory", "2M", str(prog)])
    assert status == 0 and out == "200\n"
    lines = err.splitlines()
    assert len(lines) == 5 and all(line.startswith("gc: ") for line in lines)
    assert lines[0].startswith("gc: mode stw: ") and "full " in lines[0]
    assert "p50" in lines[1] and "p99" in lines[1] and "max" in lines[1]
    assert "promoted 0 B" in lines[2]
    assert "one generation: old" in lines[3]


def test_cli_gc_stats_json(tmp_path):
    prog = tmp_path / "churn.tl"
    prog.write_text(GARBAGE)
    status, out, err = run_cli(["run", "--gc-stats=json", "--max-memory", "2M", str(prog)])
    assert status == 0 and out == ""
    r = json.loads(err)  # one JSON object, nothing else
    assert r["collections"] >= 1 and r["by_kind"]["full"] >= 1
    assert format_report(r).count("\n") == 4


def test_cli_gc_stats_after_an_uncaught_error(tmp_path):
    prog = tmp_path / "fail.tl"
    prog.write_text("let a = [1]\nprint(a[3])\n")
    status, _, err = run_cli(["run", "--gc-stats=json", str(prog)])
    assert status == 1
    first, *rest = err.splitlines()
    assert first.startswith("error: IndexError")
    assert json.loads(rest[-1])["mode"] == "stw"  # the statistics come after the error


def test_cli_gc_stats_bad_value(tmp_path):
    status, _, err = run_cli(["run", "--gc-stats=yaml", "x.tl"])
    assert status == 64 and "--gc-stats takes no value, or =json" in err
