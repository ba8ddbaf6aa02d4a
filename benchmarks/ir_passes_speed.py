"""Optimizer pass speed: ``python -m benchmarks.ir_passes_speed [--loops N] [--repeat N]``.

Generates one TinyLang function of N loops (default 60: about 1 600 IR
instructions, 300 blocks), each with a record read through its fields, a call
of a small hoisted function, a masked product and a bounded counter, then
times, best of ``--repeat`` runs (default 5) on a fresh build each time, the
passes of issue 13's part B one after the other as the default pipeline
orders them: inline (with the module's static resolver), range, typespec
(with a profile that calls every call result an int), prune-states, escape
(with virtual records). It prints the IR's size and each pass's time in
milliseconds; the JIT's budget is about 10 ms for a 1 000-instruction
function, all passes together.
"""

from __future__ import annotations

import argparse
import time

from tinyvm.ir.build import build
from tinyvm.ir.passes import REGISTRY, PassContext, load
from tinyvm.ir.passes.inline import module_resolver
from tinyvm.ir.verify import verify
from tinyvm.lang.driver import compile_program

PASSES = ("inline", "range", "typespec", "prune-states", "escape")


def program(loops: int) -> str:
    lines = ["fn sq(x: int) -> int { return x * x }", "fn big(n: int) -> int {", " var s = 0"]
    for k in range(loops):
        lines += [
            f" var i{k} = 0",
            f" while i{k} < n {{",
            f"  let r{k} = {{a: i{k}, b: {k}}}",
            f"  s = s + r{k}.a * r{k}.b + sq(i{k} & 255)",
            "  if s > 1000 { s = s - 1000 }",
            f"  i{k} = i{k} + 1",
            " }",
        ]
    return "\n".join(lines + [" return s", "}", "print(big(3))"]) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loops", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=5)
    opts = ap.parse_args()
    load()
    bundle = compile_program("big.tl", source=program(opts.loops))
    init = bundle.modules[bundle.main].init
    code = next(c for c in init.consts if getattr(c, "name", None) == "big")
    resolve = module_resolver(init)
    best = {name: float("inf") for name in PASSES}
    for _ in range(opts.repeat):
        fn = build(code)
        size = sum(len(b.phis) + len(b.instrs) + 1 for b in fn.blocks)
        blocks = len(fn.blocks)
        calls = {i.pc: "int" for b in fn.blocks for i in b.instrs if i.op == "call_global"}
        ctx = PassContext(resolve=resolve, profile=calls, speculate=True, options={"escape.virtual": True})
        for name in PASSES:
            t = time.perf_counter()
            REGISTRY[name].run(fn, ctx)
            best[name] = min(best[name], time.perf_counter() - t)
        assert verify(fn) == []
    print(f"IR: {size} instructions, {blocks} blocks (before the passes)")
    for name in PASSES:
        print(f"  {name:13s} {best[name] * 1000:7.1f} ms")
    print(f"  {'all':13s} {sum(best.values()) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
