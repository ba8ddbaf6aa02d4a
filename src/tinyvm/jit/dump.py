"""`tvm jit-dump FILE`: what the JIT makes of every function of a program.

For each module, for each code object (`ir.text._codes` order): the IR as
built, the IR after each pass of the pipeline (marked unchanged when the pass
changed nothing), and the Python source the code generator makes of the
result; or why the function is not compiled. Statically: no profile, and the
language's int fast paths as the JIT would use them.
"""

from __future__ import annotations

from ..bytecode.code import ModuleCode
from ..ir.build import Unsupported, build
from ..ir.nodes import Function
from ..ir.passes import PassContext, run_pipeline
from ..ir.text import _codes, format_function
from .codegen import NotCompilable, generate

# The languages whose rules take the int fast paths (runtime/dialects.py `int_fast`).
_INT_FAST = {"tinylang"}


def dump_module(m: ModuleCode, passes: list[str]) -> str:
    parts = [f"=== module {m.path} ({m.lang}) ==="]
    for c in _codes(m.init):
        parts.append(f"--- fn {c.name}: built ---")
        try:
            fn = build(c)
        except Unsupported as e:
            parts.append(f"not compiled: {e}")
            continue
        parts.append(format_function(fn).rstrip("\n"))

        def after(name: str, f: Function, changed: bool, c=c) -> None:
            parts.append(f"--- fn {c.name}: after {name}{'' if changed else ' (unchanged)'} ---")
            if changed:
                parts.append(format_function(f).rstrip("\n"))

        run_pipeline(fn, passes, PassContext(speculate=True), after=after)
        parts.append(f"--- fn {c.name}: python ---")
        try:
            parts.append(generate(fn, c, int_fast=m.lang in _INT_FAST).source.rstrip("\n"))
        except NotCompilable as e:
            parts.append(f"not compiled: {e}")
    return "\n".join(parts) + "\n"
