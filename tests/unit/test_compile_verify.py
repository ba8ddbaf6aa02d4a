"""Everything the compiler emits must pass the verifier and survive a .tvm round trip.

The CLI verifies on every .tvm load but not for code it has just compiled from
source (that would only re-check the compiler on every run); this test is where
compiler output meets the verifier, over every language test and example.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tinyvm.bytecode.tvmfile import dump_bundle, load_bundle
from tinyvm.bytecode.verifier import verify_module
from tinyvm.lang.driver import compile_program
from tinyvm.lang.diagnostics import CompileError

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = sorted(
    p
    for folder in (ROOT / "tests" / "lang", ROOT / "examples", ROOT / "benchmarks" / "programs")
    for p in folder.rglob("*.tl")
)


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: str(p.relative_to(ROOT)))
def test_compiled_code_verifies_and_round_trips(path: Path) -> None:
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        bundle = compile_program(path.name)
    except CompileError:
        pytest.skip("a compile-error test")
    finally:
        os.chdir(cwd)
    for module in bundle.modules.values():
        verify_module(module)
    data = dump_bundle(bundle)
    again = load_bundle(data)  # verifies again on load
    assert dump_bundle(again) == data
    assert set(again.modules) == set(bundle.modules)
