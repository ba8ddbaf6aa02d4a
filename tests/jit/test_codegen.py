"""Every function of the benchmarks, examples and language tests compiles.

Statically (no VM): build the IR, run the default pipeline, generate Python,
and have Python compile it. The JIT leaves a function it cannot compile to
the interpreter (jit/tier.py), which keeps programs correct but would hide a
code generator that stopped handling what a pass now makes: this test
names every such function instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tinyvm.bytecode.code import Code
from tinyvm.ir.build import Unsupported, build
from tinyvm.ir.passes import PassContext, run_pipeline
from tinyvm.jit.codegen import generate
from tinyvm.jit.tier import jit_pipeline
from tinyvm.lang.diagnostics import CompileError
from tinyvm.lang.driver import compile_program

ROOT = Path(__file__).resolve().parents[2]

PROGRAMS = sorted((ROOT / "benchmarks" / "awfy").glob("*.tl")) + sorted((ROOT / "examples").glob("*.tl")) + sorted((ROOT / "tests" / "lang").glob("*/*.tl"))


def _compile_all(path: Path) -> tuple[int, list[str]]:
    try:
        bundle = compile_program(str(path), source=path.read_text(encoding="utf-8"))
    except CompileError:
        return 0, []  # (a test of compile errors)
    done, failed = 0, []
    codes, stack = [], [m.init for m in bundle.modules.values()]
    while stack:  # every code object of every module
        c = stack.pop()
        codes.append(c)
        stack.extend(k for k in c.consts if isinstance(k, Code))
    for code in codes:
        try:
            fn = build(code)
        except Unsupported:
            continue
        run_pipeline(fn, jit_pipeline(), PassContext(speculate=True))
        try:
            gen = generate(fn, code, int_fast=True, stress=True)
            compile(gen.source, "<tinyvm jit>", "exec")
            done += 1
        except Exception as e:  # noqa: BLE001 - named in the failure
            failed.append(f"{code.name}: {type(e).__name__}: {e}")
    return done, failed


@pytest.mark.parametrize("group", ["awfy", "examples", "lang"])
def test_every_function_that_builds_compiles(group: str) -> None:
    paths = [p for p in PROGRAMS if (group == "awfy") == ("awfy" in p.parts) and (group == "lang") == ("lang" in p.parts)]
    assert paths
    total, failures = 0, []
    for path in paths:
        n, failed = _compile_all(path)
        total += n
        failures += [f"{path.relative_to(ROOT)}: {f}" for f in failed]
    assert not failures, "\n".join(failures)
    assert total > len(paths)
