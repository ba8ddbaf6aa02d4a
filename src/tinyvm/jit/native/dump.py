"""`tvm jit-dump --native`: the native tier's code as text (LLVM IR before and after LLVM's passes, machine code).

Two views of the same records (`Compiled.ir_before`/`ir_after`, kept when
asked: `finish(keep_text=True)`):

- **Static** (`dump_native`, the default): every function of a module is
  typed and compiled as the tier would, without running anything. A call's
  callee is the function the module's top level stores in that global. What
  only a running VM knows is missing: the classes (their declared field
  types and methods), so a method reading fields of instances shows as not
  eligible here.
- **After a run** (`dump_run`, `--run`): the program ran under
  `--jit=native-eager` (cli/main.py), every function at its first call;
  this prints, per function, what the tier made of it with the running
  VM's classes and shapes: the code of its group (itself and the native
  callees compiled into the same module), why it stayed out (the reason
  `--jit-log` prints), that it only ran inside a caller's group, or that it
  was never called. A function the tier reached both ways (a callee in a
  caller's group, and compiled or refused as a root) shows its own
  compilation or refusal.

Machine code is regenerated from the IR after the passes with the code
model the tier used (nearcalls.py), so it is what was loaded.
"""

from __future__ import annotations

from typing import Any

from ...bytecode.code import Code
from ...ir.build import Unsupported, build, decode
from ...ir.text import _codes
from .codegen import PIPELINE_TEXT, Codegen, load_llvm
from .engine import Compiled, NotEligible, Typed, compile_group, describe, group_of, jit_pipeline_plain, typed_ir
from . import nearcalls


def _listing(codegen: Codegen, comp: Compiled) -> list[str]:
    """A compilation's three texts, under their headings."""
    llvm = load_llvm()
    parts = [
        f"; compiled in {comp.ms:.1f} ms ({describe(comp)})",
        "--- LLVM IR before optimization ---",
        comp.ir_before.rstrip("\n"),
        f"--- LLVM IR after optimization ({PIPELINE_TEXT}) ---",
        comp.ir_after.rstrip("\n"),
        "--- machine code ---",
    ]
    mod = llvm.parse_assembly(comp.ir_after)
    with codegen.lock:
        tm = nearcalls.pick(mod, comp.ir_before, codegen.tm_small, codegen.tm)[0]  # (the code model the tier used)
        parts.append(f"; code model: {'small (direct calls, nearcalls.py)' if tm is codegen.tm_small else 'large'}")
        parts.append(tm.emit_assembly(mod).rstrip("\n"))
    return parts


def dump_native(m: Any) -> str:
    """The static view of one module (ModuleCode): for each function, its
    native code, or `not eligible:` and the reason."""
    parts = [f"=== module {m.path} ({m.lang}) ==="]
    slots: dict[int, Code] = {}
    try:
        init = build(m.init)
        ins = decode(m.init)
        for b in init.blocks:
            for i in b.instrs:
                v = i.args[0] if i.op == "store_global" and i.args else None
                if v is not None and v.op == "closure" and not v.args and v.pc in ins:
                    slots[i.attrs[0]] = m.init.consts[ins[v.pc][1][0]]
    except Unsupported:
        pass
    passes = jit_pipeline_plain()
    cache: dict[Code, Typed | NotEligible] = {}

    def typed(c: Code) -> Typed:
        if c not in cache:
            try:
                cache[c] = typed_ir(c, slots.get, passes)
            except NotEligible as e:
                cache[c] = e
        got = cache[c]
        if isinstance(got, NotEligible):
            raise got
        return got

    codegen = Codegen()
    for c in _codes(m.init):
        if c is m.init:
            continue
        parts.append(f"--- fn {c.name}: native ---")
        try:
            group = group_of(c, typed)
        except NotEligible as e:
            parts.append(f"not eligible: {e}")
            continue
        parts.extend(_listing(codegen, compile_group(group, keep_text=True, codegen=codegen)))
    return "\n".join(parts) + "\n"


def dump_run(machine: Any, tier: Any) -> str:
    """The view after a run: every function of every file module the
    machine loaded (the main program first), as the native tier `tier`
    (NativeTier, with `keep_text` on during the run) left it."""
    modules = [mo.code for mo in machine.modules.values() if mo.code is not None]  # (load order: the main module first, vm/modules.py)
    if not modules:
        return ""  # (the program did not compile: nothing ran)
    within: dict[Code, Code] = {}  # a callee compiled into a root's module -> that root
    for root, comp in tier.compiled.items():
        for c in comp.group[1:]:
            within.setdefault(c, root)
    out: list[str] = []
    for mc in modules:
        if out:
            out.append("")
        out.append(f"=== module {mc.path} ({mc.lang}) ===")
        for c in _codes(mc.init):
            if c is mc.init:
                continue
            out.append(f"--- fn {c.name}: native ---")
            comp = tier.compiled.get(c)
            if comp is not None and comp.ir_after:
                out.extend(_listing(tier.codegen, comp))
            elif comp is not None:
                out.append("native (loaded from the disk cache: no IR to show)")
            elif c in tier.refused:
                out.append(f"not native: {tier.refused[c]}")
            elif c in within:
                out.append(f"native inside {within[c].name}'s code (compiled into its module, called natively there: see that function)")
            else:
                out.append("not called during the run (the tier compiles a function at its first call)")
    return "\n".join(out) + "\n"
