"""What the GC tools cost (docs/gc.md quotes this script's output):

    python -m benchmarks.gc_tools [--repeat N] [--live N] [--depth D]

1. Statistics: the time `GCStats.record` adds to a collection (two
   perf_counter calls and a few additions), against the pause itself.
2. Allocation sites: binary trees (allocation-heavy) run without sites, with
   `alloc_sites="function"` and with `alloc_sites="line"`; best of --repeat.
3. Snapshots: a heap of --live objects: `take_snapshot` (walk, dominators,
   retained sizes), the V8 JSON written, its size.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from time import perf_counter

from tinyvm.api import VM
from tinyvm.heap.gcstats import GCStats
from tinyvm.heap.snapshot import take_snapshot
from tinyvm.heap.v8snapshot import write_v8

TREES = """
class Tree {
  var left: any = nil
  var right: any = nil
  fn init(l, r) { self.left = l; self.right = r }
}
fn make(d) { if d == 0 { return Tree(nil, nil) }; return Tree(make(d - 1), make(d - 1)) }
fn check(t) { if t.left == nil { return 1 }; return 1 + check(t.left) + check(t.right) }
fn run(depth) {
  let long = make(depth)
  var total = 0
  var d = 4
  while d <= depth {
    let iters = 1 << (depth - d + 4)
    for i in 0..iters { total = total + check(make(d)) }
    d = d + 2
  }
  return total + check(long)
}
"""


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = perf_counter()
        fn()
        times.append(perf_counter() - t)
    return min(times)


def stats_cost(repeat: int) -> None:
    s = GCStats()
    n = 200_000
    t = perf_counter()
    for i in range(n):
        s.record("full", perf_counter(), 1000 + i, 500, 3, 7)
    per = (perf_counter() - t) / n
    vm = VM(stdout=io.StringIO())
    vm.run_source("var keep = []\nfor i in 0..100000 { keep.push([i]) }\n")
    pause = best(vm.machine.collect, repeat)
    print(f"statistics: {per * 1e6:.2f} us per collection recorded (perf_counter included); "
          f"a collection of 100k live arrays pauses {pause * 1e3:.1f} ms: {per / pause * 100:.4f}% of it")


def sites_cost(repeat: int, depth: int) -> None:
    rows = []
    for sites in (None, "function", "line"):
        def run() -> None:
            vm = VM(stdout=io.StringIO(), alloc_sites=sites, max_memory=1 << 30)
            vm.run_source(TREES)
            vm.call("run", depth)

        rows.append((sites or "off", best(run, repeat)))
    base = rows[0][1]
    for name, t in rows:
        print(f"alloc sites {name:<8}: binary trees depth {depth}: {t:.3f} s ({t / base:.2f}x)")


def snapshot_cost(live: int) -> None:
    vm = VM(stdout=io.StringIO(), max_memory=4 << 30)
    vm.run_source(f"var keep = []\nfor i in 0..{live} {{ keep.push({{id: i, tags: [i]}}) }}\n")
    vm.machine.collect()
    t = perf_counter()
    s = take_snapshot(vm.machine)
    walk = perf_counter() - t
    fd, path = tempfile.mkstemp(suffix=".heapsnapshot")
    os.close(fd)
    t = perf_counter()
    write_v8(s, path)
    write = perf_counter() - t
    size = os.path.getsize(path)
    os.unlink(path)
    print(f"snapshot of {len(vm.machine.heap.objects)} objects ({s.node_count} nodes, {s.edge_count} edges): "
          f"graph + dominators {walk:.2f} s, V8 JSON {write:.2f} s, {size / 1e6:.1f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--live", type=int, default=100_000)
    ap.add_argument("--depth", type=int, default=12)
    a = ap.parse_args()
    print(f"({time.strftime('%Y-%m-%d')}, python -m benchmarks.gc_tools --repeat {a.repeat} --live {a.live} --depth {a.depth})")
    stats_cost(a.repeat)
    sites_cost(a.repeat, a.depth)
    snapshot_cost(a.live)


if __name__ == "__main__":
    main()
