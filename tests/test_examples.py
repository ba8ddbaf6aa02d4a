"""Every examples/*.tl and *.lox runs to completion with exactly its expected output.

Each example is run the way a user would from the repository root
(`tvm run examples/NAME.tl`, `tvm run examples/NAME.lox`), in-process through `tinyvm.cli.main.main`, and
must exit 0, write nothing to stderr, and print exactly
`examples/expected/NAME.out`. The expected files were derived from the language
reference (../shared/spec/tinylang.md), not from the VM's output.

An example whose first line is `// tvm-flags: FLAG...` runs with those flags
after `run` (say `--allow-net`, for an example that needs a capability).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = REPO / "examples"
EXPECTED_DIR = EXAMPLES_DIR / "expected"
EXAMPLES = sorted([*EXAMPLES_DIR.glob("*.tl"), *EXAMPLES_DIR.glob("*.lox")])
_FLAGS = re.compile(r"// tvm-flags:(.*)$")


def run_flags(path: Path) -> list[str]:
    """The flags an example asks for on its first line (`// tvm-flags: --allow-net`)."""
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    m = _FLAGS.match(first)
    return m.group(1).split() if m else []


def run_tvm(argv: list[str]) -> tuple[int, str, str]:
    from tinyvm.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    try:
        code = main(argv, stdin=io.StringIO(""), stdout=out, stderr=err)
    except SystemExit as exc:  # a main that exits instead of returning
        code = exc.code
    return (0 if code is None else code), out.getvalue(), err.getvalue()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_output(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    expected = (EXPECTED_DIR / f"{path.stem}.out").read_bytes().decode("utf-8")
    code, out, err = run_tvm(["run", *run_flags(path), f"examples/{path.name}"])
    assert (code, err) == (0, ""), f"exit {code}, stderr:\n{err}"
    assert out == expected


def test_every_example_has_expected_output() -> None:
    assert EXAMPLES, "no examples found"
    names = {p.stem for p in EXAMPLES}
    outs = {p.stem for p in EXPECTED_DIR.glob("*.out")}
    assert names - outs == set(), "examples without an expected/NAME.out"
    assert outs - names == set(), "expected/NAME.out without an example"


def test_examples_readme_lists_every_example() -> None:
    readme = (EXAMPLES_DIR / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in EXAMPLES if p.name not in readme]
    assert missing == []
