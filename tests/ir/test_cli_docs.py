"""`tvm ir`, the mapping table's completeness and docs/ir.md's generated part."""

from __future__ import annotations

import io

from helpers import ROOT

from tinyvm.bytecode.opcodes import OPCODES
from tinyvm.cli.main import main
from tinyvm.ir.build import OPS, mapping_table

DOC = ROOT / "docs" / "ir.md"
MARK = "<!-- generated: opcode mapping -->\n"


def tvm(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_every_opcode_has_one_row() -> None:
    assert sorted(OPS) == sorted(op.name for op in OPCODES)


def test_doc_table_is_generated_from_ops() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert MARK in text
    assert text.split(MARK, 1)[1] == mapping_table(), "docs/ir.md is stale: regenerate its table with python -m tinyvm.ir.build"


def test_tvm_ir_prints_built_functions_and_names_the_refused() -> None:
    src = "fn sq(n: int) -> int { return n * n }\nasync fn t() -> int { return await t() }\nprint(sq(3))\n"
    code, out, err = tvm(["ir", "-e", src])
    assert (code, err) == (0, "")
    assert out.startswith("=== module <string> (tinylang) ===\n\nfn <module>(v0: any) -> any\n")
    assert "fn sq(v0: any, v1: int) -> int\n" in out
    assert "  v2 = mul.checked v1, v1 : int  @pc 4 [v0, v1 | v1, v1]\n  return v2\n" in out
    assert "fn t: not built: Unsupported(AWAIT)\n" in out


def test_tvm_ir_reads_a_file_and_stdin(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.tl").write_text("print(1 + 2)\n", encoding="utf-8")
    code, out, err = tvm(["ir", "p.tl"])
    assert (code, err) == (0, "") and "=== module p.tl (tinylang) ===" in out and "add.checked" in out
    assert tvm(["ir", "-"], stdin="print(1 + 2)\n") == (0, out.replace("p.tl", "<stdin>"), "")


def test_tvm_ir_errors() -> None:
    assert tvm(["ir"]) == (64, "", "tvm: ir needs exactly one FILE\n(see 'tvm --help')\n")
    code, out, err = tvm(["ir", "-e", "let x: int = true"])
    assert (code, out) == (2, "") and "expected int, got bool" in err
    code, out, err = tvm(["ir", "--help"])
    assert code == 0 and out.startswith("usage: tvm ir [options] FILE") and "Unsupported" in out
    assert "  ir " in tvm(["--help"])[1]
