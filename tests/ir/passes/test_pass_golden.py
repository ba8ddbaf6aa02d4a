"""Golden files per pass: tests/ir/passes/golden/<pass>/NAME.ir is a function in
the text form; NAME.out is the text after that one pass ran over it.

The input must verify, the pass must leave IR that verifies (`verify_each`),
and the output must equal NAME.out (`TVM_UPDATE_GOLDEN=1` rewrites it; review
the diff). The language the pass may assume is `tinylang`, or `lox` for a
file named `*-lox.ir`, or none (the IR does not say) for `*-nolang.ir`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tinyvm.ir.passes import REGISTRY, PassContext, load, run_pipeline
from tinyvm.ir.text import format_function, parse_function
from tinyvm.ir.verify import verify

HERE = Path(__file__).parent / "golden"
# The classic passes' folders (the others keep .tl inputs and .in.ir/.out.ir
# pairs: test_passes2_golden.py reads those).
CLASSIC = ("simplify-cfg", "sccp", "copy-prop", "gvn", "licm", "dce")
CASES = sorted(p for d in CLASSIC for p in (HERE / d).glob("*.ir"))


def lang_of(path: Path) -> str | None:
    return "lox" if path.stem.endswith("-lox") else None if path.stem.endswith("-nolang") else "tinylang"


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_pass_golden(path: Path) -> None:
    fn = parse_function(path.read_text(encoding="utf-8"))
    assert verify(fn) == [], verify(fn)
    run_pipeline(fn, [path.parent.name], PassContext(options={"lang": lang_of(path)}), verify_each=True)
    got = format_function(fn)
    expected = path.with_suffix(".out")
    if os.environ.get("TVM_UPDATE_GOLDEN") == "1":
        expected.write_text(got, encoding="utf-8")
    assert expected.exists(), f"no {expected.name}: run with TVM_UPDATE_GOLDEN=1"
    assert got == expected.read_text(encoding="utf-8")


def test_every_classic_pass_has_golden_files() -> None:
    load()
    have = {p.parent.name for p in CASES}
    mine = set(CLASSIC)
    assert mine <= have and mine <= set(REGISTRY)
