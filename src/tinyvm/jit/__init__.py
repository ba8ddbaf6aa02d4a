"""The JIT tier: guest functions compiled to Python through the SSA IR (docs/jit.md).

    tier.py     the per-VM tier: counters, compiling, installing, deopt policy, log
    codegen.py  IR -> Python source (entries, exits, steps, error write-back)
    dump.py     `tvm jit-dump`: the IR after each pass and the generated source

The vm package never imports this one: `Jit(machine, ...)` attaches itself
to a Machine (`machine.jit`), and the decoder calls it for each code object.
"""

from .tier import DEFAULT_THRESHOLD, MODES, Jit, parse_threshold

__all__ = ["DEFAULT_THRESHOLD", "MODES", "Jit", "parse_threshold"]
