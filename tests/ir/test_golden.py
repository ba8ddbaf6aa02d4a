"""Golden files: each tests/ir/golden/*.tl (or .lox) built to IR equals its *.ir.

Run with TVM_UPDATE_GOLDEN=1 to rewrite the expected files from the builder's
output (then review the diff). Every function built is also verified and
round-tripped through the text form.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import codes_of, compile_path

from tinyvm.ir.build import Unsupported, build
from tinyvm.ir.text import format_function, format_module_ir, parse_function
from tinyvm.ir.verify import verify

HERE = Path(__file__).parent / "golden"  # (not "build": .gitignore drops build/)
INPUTS = sorted(p for p in HERE.iterdir() if p.suffix in (".tl", ".lox"))


def render(path: Path) -> str:
    bundle = compile_path(path)
    return format_module_ir(bundle.modules[bundle.main])


@pytest.mark.parametrize("path", INPUTS, ids=[p.name for p in INPUTS])
def test_golden(path: Path) -> None:
    expected = path.with_suffix(".ir")
    got = render(path)
    if os.environ.get("TVM_UPDATE_GOLDEN") == "1":
        expected.write_text(got, encoding="utf-8")
    assert expected.exists(), f"no {expected.name}: run with TVM_UPDATE_GOLDEN=1"
    assert got == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", INPUTS, ids=[p.name for p in INPUTS])
def test_golden_functions_verify_and_round_trip(path: Path) -> None:
    built = 0
    for code in codes_of(compile_path(path)):
        try:
            fn = build(code)
        except Unsupported:
            continue
        built += 1
        assert verify(fn) == [], code.name
        text = format_function(fn)
        assert format_function(parse_function(text)) == text
    assert built


def test_the_inputs_cover_what_the_brief_lists() -> None:
    text = "".join(p.with_suffix(".ir").read_text(encoding="utf-8") for p in INPUTS)
    for op in ("phi ", "branch ", "call_global[", "call_method[", "call ", "get_field[", "set_field", "get_index ",
               "set_index ", "array ", "map ", "record[", "check_type[", "for_iter ", "closure[", "make_cell ",
               "truthy ", "print[", "add.checked ", "lt ", "const[", "load_global[", "return ",
               " catch b", " catch-preds b", " = caught : any", "not built: Unsupported(AWAIT)"):
        assert op in text, op
