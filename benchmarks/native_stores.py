"""Stores of object references in native code: what the write barrier costs.

A native loop does six stores per iteration -- an optional object field set
to an object and to nil, elements of an `[Item?]` set to objects and nil --
a million times (docs/native.md, "Stores of references and the write
barrier"). Nanoseconds per store, best of --repeat, for each collector:

    stw           heap.watch is NO_WATCH: the barrier is one load and compare
    incremental   between cycles: the same (no cycle runs: nothing allocates)
    generational  watch is the clean colour: the objects' marks are read and
                  compared at each store (the objects are old, made dirty by
                  the first store's slow path)

and, with --no-barrier, the same code with `emit_barrier` replaced by
nothing (for the measurement only: the heap's invariants then break), or
with --always-slow, the callback run at every store while watch is on (what
the barrier would cost without the inline test).

Run: python -m benchmarks.native_stores [--repeat R] [--no-barrier | --always-slow]
Needs llvmlite. No assertion: it measures.
"""

from __future__ import annotations

import argparse
import io
import time

SRC = """
class Item {
  var v: int
  var next: Item? = nil
  fn init(v: int) { self.v = v }
}
let a = Item(1)
let b = Item(2)
let xs: [Item?] = [nil, nil]
fn churn(a: Item, b: Item, xs: [Item?], n: int) -> int {
  for k in 0..n {
    a.next = b
    xs[0] = a
    xs[1] = b
    a.next = nil
    xs[1] = nil
    xs[0] = b
  }
  return n
}
fn run(n: int) -> int { return churn(a, b, xs, n) }
"""
N = 1_000_000
STORES = 6


def measure(mode: str, repeat: int) -> tuple[float, int]:
    from tinyvm.api import VM

    vm = VM(jit="native-eager", gc=mode, stdout=io.StringIO())
    vm.run_source(SRC, "stores.tl")
    vm.call("run", 2)  # (compiled now)
    heap = vm.machine.heap
    heap.collect(heap.roots())  # (generational: a and b, xs old and clean)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        vm.call("run", N)
        best = min(best, time.perf_counter() - t)
    return best * 1e9 / (N * STORES), vm.machine.jit.native.barriers.calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--no-barrier", action="store_true")
    g.add_argument("--always-slow", action="store_true")
    args = ap.parse_args()
    try:
        import llvmlite  # noqa: F401
    except ImportError:
        print("llvmlite missing: pip install 'tinyvm[native]'")
        return
    from tinyvm.jit.native import barrier

    if args.no_barrier:
        barrier.emit_barrier = lambda fe, obj, value: None
    if args.always_slow:
        inline = barrier.emit_barrier

        def slow_always(fe: object, obj: str, value: str) -> None:
            inline(fe, obj, value)
            # (the emitted test's last compare: make it true whenever watch is on)
            lines = fe.lines  # type: ignore[attr-defined]
            for k in range(len(lines) - 1, -1, -1):
                if " = or i1 " in lines[k]:
                    lines[k] = lines[k].split(" = or i1 ")[0] + " = or i1 true, true"
                    break

        barrier.emit_barrier = slow_always
    what = "none" if args.no_barrier else "callback at every store" if args.always_slow else "inline"
    for mode in ("stw", "incremental", "generational"):
        ns, calls = measure(mode, args.repeat)
        print(f"{mode:13s} barrier {what}: {ns:6.2f} ns per store ({calls} slow-path calls)")


if __name__ == "__main__":
    main()
