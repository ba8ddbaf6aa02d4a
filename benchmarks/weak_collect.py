"""What weak maps cost the collector (heap/weak.py, docs/memory.md "Weak
references").

Four heaps of N live records each, one full collection timed (best of 5):

    plain             the records in an array: no weak object, so the mark
                      never runs the ephemeron phase (the baseline; compare it
                      with the same script on a tree without weak references)
    weakmap           each record also the key of a WeakMap entry whose value
                      is a one-element array: the ephemeron phase marks N values
    map               the same values in an ordinary Map keyed by int (what the
                      weak map costs beyond a strong table)
    chain             N records chained through one WeakMap (k[i] -> k[i+1]),
                      inserted backwards: one pass, since marking a key
                      releases the value waiting on it (no rescans)

Run: python -m benchmarks.weak_collect [N]   (default 100000; milliseconds)
"""

from __future__ import annotations

import io
import sys
import time

from tinyvm.api import VM

PROGRAMS = {
    "plain": "let xs: [any] = []\nfn fill(n: int) {{ var i = 0\n while i < n {{ xs.push({{i: i}}); i += 1 }} }}\nfill({n})",
    "weakmap": "let xs: [any] = []\nlet m = WeakMap()\nfn fill(n: int) {{ var i = 0\n while i < n {{ let k = {{i: i}}\n xs.push(k)\n m.set(k, [i]); i += 1 }} }}\nfill({n})",
    "map": "let xs: [any] = []\nlet m = [0: nil]\nfn fill(n: int) {{ var i = 0\n while i < n {{ let k = {{i: i}}\n xs.push(k)\n m[i] = [i]; i += 1 }} }}\nfill({n})",
    "chain": """let m = WeakMap()
var head: any = nil
fn build(n: int) {{
  var keys: [any] = []
  var i = 0
  while i < n {{ keys.push({{i: i}}); i += 1 }}
  i = n - 1
  while i >= 1 {{ m.set(keys[i - 1], keys[i]); i -= 1 }}
  head = keys[0]
}}
build({n})""",
}


def collect_ms(vm: VM, reps: int = 5) -> float:
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        vm.machine.collect()
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 100_000
    for name, src in PROGRAMS.items():
        vm = VM(stdout=io.StringIO(), max_memory=1 << 30)
        vm.run_source(src.format(n=n))
        print(f"{name:8} {n} live records: collect {collect_ms(vm):6.1f} ms  (live {vm.machine.heap.live / 2**20:.1f} MiB)")
        vm.close()


if __name__ == "__main__":
    main(sys.argv[1:])
