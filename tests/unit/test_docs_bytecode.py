"""docs/bytecode.md is generated from the opcode table; this keeps it from drifting.

Regenerate with `python -m tinyvm.bytecode.opcodes > docs/bytecode.md`.
"""

from __future__ import annotations

from pathlib import Path

from tinyvm.bytecode.opcodes import OPCODES, markdown_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "bytecode.md"


def test_bytecode_doc_matches_opcode_table():
    assert DOC.read_text(encoding="utf-8") == markdown_table(), (
        "docs/bytecode.md is stale: run `python -m tinyvm.bytecode.opcodes > docs/bytecode.md`"
    )


def test_every_opcode_is_documented():
    text = DOC.read_text(encoding="utf-8")
    for op in OPCODES:
        assert f"| {op.code} | `{op.name}` |" in text
