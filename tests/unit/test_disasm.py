"""Disassembler tests: the Instruction data API first, then the text views."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tvm_samples import asm, replace, sample_closure, sample_fib, sample_main, sample_try  # noqa: E402

from tinyvm.bytecode.code import ClassInfo  # noqa: E402
from tinyvm.bytecode.disasm import Instruction, format_code, format_module, instructions, render_const  # noqa: E402
from tinyvm.bytecode.opcodes import BY_NAME  # noqa: E402

# -- data API ----------------------------------------------------------------------


def test_instructions_of_fib():
    fib = replace(sample_fib(), lines=((0, 2, 8), (5, 2, 5), (10, 3, 12)))
    ins = instructions(fib, globals=("fib",))
    assert [i.offset for i in ins] == [0, 2, 4, 5, 7, 9, 10, 12, 14, 15, 18, 20, 22, 23, 26, 27]
    assert ins[0] == Instruction(0, BY_NAME["LOAD_LOCAL"].code, "LOAD_LOCAL", (1,), "n", 2, 8, False)
    assert ins[1].argrepr == "2" and ins[1].operands == (0,)
    assert (ins[2].opname, ins[2].operands, ins[2].argrepr) == ("LT", (), "")
    assert ins[3].argrepr == "to 10" and (ins[3].line, ins[3].col) == (2, 5)
    assert ins[6].is_jump_target and ins[6].offset == 10 and (ins[6].line, ins[6].col) == (3, 12)
    assert sum(i.is_jump_target for i in ins) == 1
    assert ins[9].opname == "CALL_GLOBAL" and ins[9].operands == (0, 1) and ins[9].argrepr == "fib"


def test_global_names_unknown_without_globals():
    assert instructions(sample_fib())[9].argrepr == "?"


def test_upvalue_and_nested_code_names():
    adder = sample_closure()
    ins = instructions(adder)
    assert ins[0].argrepr == "n"  # MAKE_CELL 1
    assert ins[1].argrepr == "<code add>"
    add = adder.consts[0]
    assert instructions(add)[0].argrepr == "n"  # LOAD_UPVAL 0 via upval_names


def test_handler_target_is_a_jump_target():
    ins = instructions(sample_try())
    assert [i.offset for i in ins if i.is_jump_target] == [6]


def test_name_and_record_operands():
    code = asm(
        "f",
        [("LOAD_NIL",), ("LOAD_NIL",), ("BUILD_RECORD", 0, 2), ("GET_FIELD", 0), ("RETURN",)],
        consts=(("x", "y"),),
        names=("x",),
    )
    ins = instructions(code)
    assert ins[2].argrepr == '("x", "y")'
    assert ins[3].argrepr == "x"


def test_render_const():
    assert render_const(None) == "nil"
    assert render_const(True) == "true" and render_const(False) == "false"
    assert render_const(-12) == "-12"
    assert render_const(-0.0) == "-0.0" and render_const(2.5) == "2.5"
    assert render_const(float("nan")) == "nan" and render_const(float("-inf")) == "-inf"
    assert render_const('a "q"\n\\\x01') == '"a \\"q\\"\\n\\\\\\u{1}"'
    assert render_const("héllo ✓") == '"héllo ✓"'
    assert render_const((1, ("a", None))) == '(1, ("a", nil))'
    assert render_const((1,)) == "(1,)"
    assert render_const(sample_fib()) == "<code fib>"
    assert render_const(ClassInfo("Point", (), (), ())) == "<class Point>"


def test_untyped_code_has_no_types_line():
    untyped = replace(sample_fib(), local_types=("", ""), ret_type="")
    assert not any(line.startswith("types:") for line in format_code(untyped).splitlines())


def test_malformed_code_does_not_raise():
    code = replace(sample_fib(), code=(99, 5, 0, 5, 7, BY_NAME["LOAD_CONST"].code), handlers=((0, 1, 2),))
    ins = instructions(code)
    assert ins[0].opname == "<bad 99>"
    assert ins[2].opname == "LOAD_CONST" and ins[2].argrepr == "?"  # const 7 out of range
    assert ins[-1].argrepr == "<truncated>"
    assert "<bad 99>" in format_code(code)


# -- text --------------------------------------------------------------------------


def test_format_header_and_lines():
    fib = replace(sample_fib(), lines=((0, 2, 8), (12, 3, 5)))
    text = format_code(fib, globals=("fib",))
    lines = text.splitlines()
    assert lines[0] == "== fn fib (fib.tl:1) arity 1, 2 locals, max stack 3 =="
    assert lines[1] == "types: n: int -> int"  # the types the checker recorded
    assert lines[2] == "    0  L2:8   LOAD_LOCAL        1 (n)"
    assert "   12  L3:5   LOAD_CONST        1 (1)" in lines
    assert ">> 10  L2:8   LOAD_LOCAL        1 (n)" in lines
    assert "    5  L2:8   JUMP_IF_FALSE     10 (to 10)" in lines
    assert "   15  L3:5   CALL_GLOBAL       0 1 (fib)" in lines
    assert "    4  L2:8   LT" in lines


def test_exception_table_listed_after_code():
    text = format_code(sample_try())
    lines = text.splitlines()
    assert lines[-2:] == ["exception table:", "  0 to 6 -> 6 [depth 0]"]
    assert ">>  6  L24:1  STORE_LOCAL       2 (e)" in lines


def test_recursive_disassembly():
    adder = sample_closure()
    text = format_code(adder)
    assert "== fn make_adder (test.tl:30) arity 1, 2 locals, max stack 1 ==" in text
    assert "== fn add (test.tl:31) arity 1, 2 locals, max stack 2 ==" in text
    assert "captures: n (local 1)" in text
    assert text.index("== fn make_adder") < text.index("== fn add")
    flat = format_code(adder, recursive=False)
    assert "== fn add" not in flat


def test_format_module():
    text = format_module(sample_main())
    assert text.startswith("=== module main.tl (tinylang) ===\n")
    assert "globals: 0=fib, 1=sum, 2=safe, 3=make_adder, 4=Point, 5=lib" in text
    assert "exports: fib, Point" in text and "imports: lib.tl" in text
    assert "STORE_GLOBAL      4 (Point)" in text
    assert "MAKE_CLASS        4 1 (<class Point>)" in text
    assert 'LOAD_CONST        16 ("héllo ✓ \U0001f600 \\0 \\"q\\"\\n")' in text
    for fn in ("main", "fib", "sum", "safe", "make_adder", "add", "init"):
        assert f"== fn {fn} (" in text
    assert "arity 3, 4 locals, max stack 2, method init ==" in text
    # nested functions see the module's global names too
    assert "CALL_GLOBAL       0 1 (fib)" in text.split("== fn fib")[1]
