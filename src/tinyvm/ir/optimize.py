"""`tvmc -O`: every code object of a compiled bundle through the optimizer.

For each code object (nested ones first, found by walking constants, so a
parent's constants hold its children's optimized versions): build the IR
(ir/build.py), run the pass pipeline without speculation, lower it back to
bytecode (ir/lower.py) and verify the result with the bytecode verifier. A code
object whose IR does not build, whose lowering is refused, or whose lowered
form the verifier rejects keeps its original bytecode: the compile never fails
because of the optimizer, and `OptStats` counts each case with its reason.

The pipeline never contains `inline` (an inlined callee's frame would vanish
from traces: bytecode has no frame states to rebuild it from) nor `typespec`
(its guards deoptimise, and bytecode has nothing to fall back on).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field

from ..bytecode.code import Bundle, Code, ModuleCode
from ..bytecode.verifier import VerifyError, verify_code
from .build import Unsupported, build
from .lower import Refused, lower
from .passes import PassContext, default_pipeline, parse_passes, run_pipeline

__all__ = ["EXCLUDED", "OptStats", "optimize_bundle", "pipeline"]

# Passes `tvmc -O` never runs (see the module docstring).
EXCLUDED = frozenset(("inline", "typespec"))

# The SSA form holds a value per local slot at every merge point and in every
# frame state: memory and time grow with locals x instructions. A code object
# past this product (a generated function of thousands of variables and
# loops; hand-written code is orders of magnitude below) keeps its bytecode,
# so that no input makes `-O` exhaust the host. Measured: 2 005 locals x
# 16 038 words (32M) take about 2 s and 115 MB; 4 802 x 51 909 (249M) would
# take tens of GB in the IR builder.
MAX_SIZE = 50_000_000
# The same for the phis: one per local at every jump target (and handler), so
# locals x jump targets is bounded too. Hand-written code stays below 300
# (tests/lang/03_expressions/ranges.tl's top level); 700 counted loops over
# 2 100 locals (2.9M) would take 860 MB, 250 of them (380K) 2 s and 130 MB.
MAX_MERGE_SIZE = 500_000


@dataclass
class OptStats:
    """What `-O` did: code objects lowered, kept (with why), instruction counts."""

    lowered: int = 0
    kept: Counter = field(default_factory=Counter)  # reason -> count
    insns_before: int = 0  # static instruction counts of the lowered code objects
    insns_after: int = 0

    def line(self) -> str:
        kept = sum(self.kept.values())
        why = ", ".join(f"{n} {r}" for r, n in self.kept.most_common())
        return (
            f"-O: {self.lowered} of {self.lowered + kept} code objects lowered"
            + (f" ({kept} kept: {why})" if kept else "")
            + f"; instructions {self.insns_before} -> {self.insns_after}"
        )


def pipeline(text: str | None = None) -> list[str]:
    """The -O pipeline: `text` as `--passes` reads it (default: the default
    pipeline), without the passes -O never runs."""
    names = default_pipeline() if text is None else parse_passes(text)
    return [n for n in names if n not in EXCLUDED]


def _merges(code: Code) -> int:
    """How many places the IR builder may give phis: jump targets, handlers."""
    from ..bytecode.opcodes import OPCODES

    targets, pc = set(), 0
    while pc < len(code.code):
        info = OPCODES[code.code[pc]]
        targets.update(a for kind, a in zip(info.operands, code.code[pc + 1 : pc + info.size]) if kind == "jump")
        pc += info.size
    return len(targets) + len(code.handlers)


def _count(code: Code) -> int:
    from ..bytecode.opcodes import OPCODES

    n = pc = 0
    while pc < len(code.code):
        pc += OPCODES[code.code[pc]].size
        n += 1
    return n


def optimize_code(code: Code, nglobals: int, passes: list[str], stats: OptStats) -> Code:
    """`code` and the code objects nested in it, optimized where possible."""
    consts = tuple(optimize_code(k, nglobals, passes, stats) if isinstance(k, Code) else k for k in code.consts)
    if any(a is not b for a, b in zip(consts, code.consts)):
        code = dataclasses.replace(code, consts=consts)
    if code.nlocals * len(code.code) > MAX_SIZE or code.nlocals * (_merges(code) + 1) > MAX_MERGE_SIZE:
        stats.kept["too large to optimize"] += 1
        return code
    try:
        try:
            new = _lowered(code, nglobals, passes, True)
        except (Refused, VerifyError):
            # Counted loops pin slots; without FOR_RANGE the lowering is freer.
            new = _lowered(code, nglobals, passes, False)
    except Unsupported as e:
        stats.kept[f"unsupported {e.opname}"] += 1
        return code
    except Refused as e:
        stats.kept[f"refused: {e}"] += 1
        return code
    except VerifyError as e:
        stats.kept[f"failed verification: {str(e)[:120]}"] += 1
        return code
    except RecursionError:  # (deeply nested IR: the compile must not fail for it)
        stats.kept["too deeply nested to optimize"] += 1
        return code
    stats.lowered += 1
    stats.insns_before += _count(code)
    stats.insns_after += _count(new)
    return new


def _lowered(code: Code, nglobals: int, passes: list[str], for_range: bool) -> Code:
    fn = build(code)
    run_pipeline(fn, passes, PassContext(speculate=False))
    new = lower(fn, code, for_range)
    verify_code(new, nglobals)
    return new


def optimize_bundle(bundle: Bundle, passes: list[str] | None = None, stats: OptStats | None = None) -> Bundle:
    """A new bundle whose modules' code objects are optimized (see the module docstring)."""
    passes = pipeline() if passes is None else [n for n in passes if n not in EXCLUDED]
    stats = stats if stats is not None else OptStats()
    modules: dict[str, ModuleCode] = {}
    for key, m in bundle.modules.items():
        init = optimize_code(m.init, len(m.globals), passes, stats)
        modules[key] = dataclasses.replace(m, init=init) if init is not m.init else m
    return Bundle(bundle.main, modules)
