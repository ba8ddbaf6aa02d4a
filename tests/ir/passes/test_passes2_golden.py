"""Golden files of the range, inline, typespec and escape passes.

tests/ir/passes/golden/<pass>/NAME.tl -> NAME.ir: every function of the
program before and after the pass (passes2_util.render_tl says which
directives an input may carry); NAME.in.ir -> NAME.out.ir: hand-written IR
(lines starting `#` are directives: `# passes:`, `# options:`,
`# profile:`) after the passes. The verifier runs after every pass, and the
output must read back through the text form. TVM_UPDATE_GOLDEN=1 rewrites
the expected files (review the diff).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from passes2_util import directives, profile_of, render_tl, run

from tinyvm.ir.passes import PassContext
from tinyvm.ir.text import format_function, parse_function

HERE = Path(__file__).parent / "golden"
PASSES = ("range", "inline", "typespec", "escape")
INPUTS = sorted(p for d in PASSES for p in (HERE / d).iterdir() if p.suffix == ".tl" or p.name.endswith(".in.ir"))


def render(path: Path) -> tuple[str, Path]:
    default = path.parent.name
    if path.suffix == ".tl":
        return render_tl(path, default), path.with_suffix(".ir")
    text = path.read_text(encoding="utf-8")
    d = directives(text, "#")
    fn = parse_function("".join(line + "\n" for line in text.splitlines() if not line.startswith("#")))
    prof = d.get("profile")
    ctx = PassContext(profile=profile_of(prof) if prof else None, speculate=prof is not None, options=json.loads(d.get("options", "{}")))
    run(fn, d.get("passes", default), ctx)
    out = format_function(fn)
    assert format_function(parse_function(out)) == out
    return out, path.with_name(path.name.replace(".in.ir", ".out.ir"))


@pytest.mark.parametrize("path", INPUTS, ids=[f"{p.parent.name}/{p.name}" for p in INPUTS])
def test_golden(path: Path) -> None:
    got, expected = render(path)
    if os.environ.get("TVM_UPDATE_GOLDEN") == "1":
        expected.write_text(got, encoding="utf-8")
    assert expected.exists(), f"no {expected.name}: run with TVM_UPDATE_GOLDEN=1"
    assert got == expected.read_text(encoding="utf-8")


def test_every_pass_has_golden_files() -> None:
    for d in PASSES:
        assert any(p.parent.name == d for p in INPUTS), d
