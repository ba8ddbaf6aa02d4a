"""Verifier tests: the samples pass, and each rejection rule fires with its message."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tvm_samples import (  # noqa: E402
    asm,
    replace,
    sample_bundle,
    sample_class_init,
    sample_closure,
    sample_fib,
    sample_loop,
    sample_main,
    sample_try,
)

from tinyvm.bytecode.code import FLAG_ASYNC, FLAG_GENERATOR, FLAG_METHOD, ClassInfo, ModuleCode  # noqa: E402
from tinyvm.bytecode.verifier import MAX_NESTING, VerifyError, verify_code, verify_module  # noqa: E402
from tinyvm.bytecode.code import LoadError  # noqa: E402


def rejects(code, pattern: str, nglobals: int = 4) -> str:
    with pytest.raises(VerifyError) as info:
        verify_code(code, nglobals)
    msg = str(info.value)
    assert re.search(pattern, msg), msg
    return msg


def f(ops, **kw):
    kw.setdefault("arity", 0)
    return asm("f", ops, **kw)


# -- accepted ------------------------------------------------------------------


@pytest.mark.parametrize("make", [sample_fib, sample_loop, sample_try, sample_closure, sample_class_init])
def test_samples_verify(make):
    verify_code(make(), 4)


def test_sample_modules_verify():
    for m in sample_bundle().modules.values():
        verify_module(m)


def test_verify_error_is_a_load_error():
    assert issubclass(VerifyError, LoadError)


# -- decoding and operands -----------------------------------------------------


def test_invalid_opcode():
    code = replace(f([("LOAD_NIL",), ("RETURN",)]), code=(99,))
    assert rejects(code, "invalid opcode") == "verify: function f at offset 0: invalid opcode 99"


def test_negative_opcode():
    rejects(replace(f([("LOAD_NIL",), ("RETURN",)]), code=(-1,)), "at offset 0: invalid opcode -1")


def test_truncated_instruction():
    code = f([("LOAD_NIL",), ("RETURN",), ("LOAD_CONST",)], consts=(1,))
    rejects(code, r"at offset 2: LOAD_CONST needs 1 operand\(s\) but the code ends")


def test_const_index_out_of_range():
    rejects(f([("LOAD_CONST", 1), ("RETURN",)], consts=(5,)), r"at offset 0: LOAD_CONST constant index 1 is out of range \(have 1\)")


def test_local_index_out_of_range():
    rejects(f([("LOAD_LOCAL", 2), ("RETURN",)], arity=1), r"at offset 0: LOAD_LOCAL local index 2 is out of range \(have 2\)")


def test_negative_local_index():
    rejects(f([("LOAD_LOCAL", -1), ("RETURN",)]), "local index -1 is out of range")


def test_upval_index_out_of_range():
    rejects(f([("LOAD_UPVAL", 0), ("RETURN",)]), r"LOAD_UPVAL upvalue index 0 is out of range \(have 0\)")


def test_global_index_out_of_range():
    code = f([("LOAD_GLOBAL", 4), ("RETURN",)])
    verify_code(code, 5)
    rejects(code, r"at offset 0: LOAD_GLOBAL global index 4 is out of range \(have 4\)", nglobals=4)


def test_call_global_index_out_of_range():
    rejects(f([("CALL_GLOBAL", 9, 0), ("RETURN",)]), "CALL_GLOBAL global index 9 is out of range")


def test_name_index_out_of_range():
    rejects(f([("LOAD_NIL",), ("GET_FIELD", 0), ("RETURN",)]), r"at offset 1: GET_FIELD name index 0 is out of range \(have 0\)")


def test_negative_count():
    rejects(f([("BUILD_ARRAY", -1), ("RETURN",)], max_stack=1), "at offset 0: BUILD_ARRAY count -1 is out of range")


def test_huge_count():
    rejects(f([("BUILD_ARRAY", 2**16), ("RETURN",)], max_stack=1), "BUILD_ARRAY count 65536 is out of range")


# -- constant types per opcode -------------------------------------------------


def test_load_const_of_code():
    inner = f([("LOAD_NIL",), ("RETURN",)])
    rejects(f([("LOAD_CONST", 0), ("RETURN",)], consts=(inner,)), "at offset 0: LOAD_CONST of <code f")


def test_load_const_of_class_info():
    ci = ClassInfo("P", (), (), ())
    rejects(f([("LOAD_CONST", 0), ("RETURN",)], consts=(ci,)), "LOAD_CONST of .*use MAKE_CLOSURE / MAKE_CLASS")


def test_make_closure_needs_code():
    rejects(f([("MAKE_CLOSURE", 0), ("RETURN",)], consts=("x",)), "at offset 0: MAKE_CLOSURE needs a code constant, got str")


def test_capture_of_missing_local():
    inner = asm("g", [("LOAD_UPVAL", 0), ("RETURN",)], captures=((True, 3),))
    msg = rejects(f([("MAKE_CLOSURE", 0), ("RETURN",)], arity=1, consts=(inner,)), "captures local 3")
    assert msg == (
        "verify: function f: nested function g (constant 0) captures local 3, but the enclosing function has 2"
    )


def test_capture_of_missing_upvalue():
    inner = asm("g", [("LOAD_UPVAL", 0), ("RETURN",)], captures=((False, 1),))
    outer = f([("MAKE_CLOSURE", 0), ("RETURN",)], consts=(inner,), captures=((True, 0),))
    # `outer` itself captures something, so verify it as a nested function body
    rejects(outer, "nested function g .* captures upvalue 1, but the enclosing function has 1")


def test_make_class_needs_class_info():
    rejects(f([("LOAD_NIL",), ("MAKE_CLASS", 0, 0), ("RETURN",)], consts=(3,)), "MAKE_CLASS needs a class info constant, got int")


def test_make_class_method_count():
    ci = ClassInfo("Point", ("x",), (None,), ("init", "show"))
    code = f([("LOAD_NIL",), ("LOAD_NIL",), ("MAKE_CLASS", 0, 1), ("RETURN",)], consts=(ci,))
    rejects(code, "at offset 2: MAKE_CLASS count 1 but class Point has 2 methods")


def test_malformed_class_info():
    ci = ClassInfo("Point", ("x", "y"), (None,), ())  # one default for two fields
    rejects(f([("LOAD_NIL",), ("MAKE_CLASS", 0, 0), ("RETURN",)], consts=(ci,)), "constant 0: malformed class info")


def test_build_record_needs_tuple_of_str():
    rejects(f([("BUILD_RECORD", 0, 0), ("RETURN",)], consts=("x",)), "BUILD_RECORD needs a tuple of field names, got str")
    rejects(f([("BUILD_RECORD", 0, 0), ("RETURN",)], consts=((1,),)), "BUILD_RECORD needs a tuple of field names")


def test_build_record_count():
    code = f([("LOAD_NIL",), ("BUILD_RECORD", 0, 1), ("RETURN",)], consts=(("x", "y"),))
    rejects(code, r"at offset 1: BUILD_RECORD count 1 but 2 field names")


def test_import_needs_str():
    rejects(f([("IMPORT", 0), ("RETURN",)], consts=(1.5,)), "at offset 0: IMPORT needs a string constant, got float")


def test_format_needs_a_string_spec():
    # found by the .tvm fuzzer: a float spec reached Python's format() as a host TypeError
    rejects(f([("LOAD_NIL",), ("FORMAT", 0), ("RETURN",)], consts=(1.0,)), "at offset 1: FORMAT needs a string constant, got float")
    verify_code(f([("LOAD_NIL",), ("FORMAT", 0), ("RETURN",)], consts=(">5",)), 4)  # a string spec passes


def test_unsupported_constant_type():
    rejects(f([("LOAD_NIL",), ("RETURN",)], consts=([1, 2],)), "constant 0 has unsupported type list")


def test_code_inside_tuple_constant():
    inner = f([("LOAD_NIL",), ("RETURN",)])
    rejects(f([("LOAD_NIL",), ("RETURN",)], consts=((1, inner),)), "constant 0: a tuple constant cannot hold <code f")


# -- jumps -----------------------------------------------------------------------


def test_jump_target_outside():
    code = f([("LOAD_NIL",), ("RETURN",), ("JUMP", 99)])
    assert rejects(code, "outside") == "verify: function f at offset 2: jump target 99 is outside the code"


def test_negative_jump_target():
    rejects(f([("JUMP", -2)]), "jump target -2 is outside the code")


def test_jump_into_instruction():
    rejects(f([("LOAD_CONST", 0), ("JUMP", 1)], consts=(1,)), "at offset 2: jump target 1 is inside an instruction")


# -- stack depth -----------------------------------------------------------------


def test_stack_underflow():
    rejects(f([("POP",), ("LOAD_NIL",), ("RETURN",)]), r"at offset 0: stack underflow: POP needs 1 value\(s\), stack has 0")


def test_underflow_despite_zero_net_effect():
    # SWAP pops two and pushes two: net 0, but it still needs two values.
    rejects(f([("LOAD_NIL",), ("SWAP",), ("RETURN",)]), "at offset 1: stack underflow: SWAP needs 2")


def test_inconsistent_depth_at_merge():
    code = f([("LOAD_TRUE",), ("JUMP_IF_FALSE", "join"), ("LOAD_NIL",), "join", ("LOAD_NIL",), ("RETURN",)], max_stack=4)
    rejects(code, r"inconsistent stack depth at offset 4: (0 vs 1|1 vs 0)")


def test_exceeds_max_stack():
    code = replace(sample_fib(), max_stack=2)
    rejects(code, "stack depth 3 exceeds max_stack 2")


def test_runs_off_the_end():
    rejects(f([("LOAD_NIL",)]), "at offset 0: control runs off the end of the code after LOAD_NIL")


def test_empty_code_runs_off_the_end():
    rejects(replace(f([("LOAD_NIL",), ("RETURN",)]), code=(), lines=()), "control runs off the end of the code")


def test_conditional_jump_at_end_runs_off():
    rejects(f([("LOAD_TRUE",), ("JUMP_IF_TRUE", 0)], max_stack=1), "runs off the end of the code after JUMP_IF_TRUE")


def test_unreachable_code_is_only_decoded():
    # Dead code after RETURN needs valid instructions but no consistent depth.
    verify_code(f([("LOAD_NIL",), ("RETURN",), ("POP",), ("POP",)]), 0)


# -- exception handlers ----------------------------------------------------------


def try_code(handlers, max_stack=None):
    ops = ["a", ("LOAD_CONST", 0), ("LOAD_CONST", 0), ("DIV",), ("RETURN",), "h", ("RETURN",)]
    return f(ops, consts=(1,), handlers=handlers, max_stack=max_stack)


def test_handler_ok():
    verify_code(try_code((("a", "h", "h", 0),)), 0)


def test_handler_empty_range():
    rejects(try_code(((2, 2, "h", 0),)), r"handler 0 range \[2, 2\) is invalid for code of length 7")


def test_handler_end_past_code():
    rejects(try_code(((0, 8, "h", 0),)), r"handler 0 range \[0, 8\) is invalid")


def test_handler_range_off_boundary():
    rejects(try_code(((1, 6, "h", 0),)), r"handler 0 range \[1, 6\) does not lie on instruction boundaries")
    rejects(try_code(((0, 3, "h", 0),)), r"handler 0 range \[0, 3\) does not lie on instruction boundaries")


def test_handler_end_may_equal_code_length():
    verify_code(try_code(((0, 7, "h", 0),)), 0)


def test_handler_target_off_boundary():
    rejects(try_code((("a", "h", 1, 0),)), "handler 0 target 1 is not an instruction start")


def test_handler_negative_depth():
    rejects(try_code((("a", "h", "h", -1),)), "handler 0 has negative depth -1")


def test_handler_entry_depth_inconsistent():
    # The target is reached by a JUMP at depth 0, but the handler enters it at depth 0 + 1.
    ops = ["a", ("LOAD_NIL",), ("POP",), ("JUMP", "h"), "h", ("LOAD_NIL",), ("RETURN",)]
    code = f(ops, handlers=(("a", "h", "h", 0),), max_stack=2)
    rejects(code, r"inconsistent stack depth at offset 4: (1 vs 0|0 vs 1)")


def test_handler_depth_above_protected_stack():
    rejects(try_code((("a", "h", "h", 1),), max_stack=3), r"at offset 0: handler 0 depth 1 exceeds the stack depth 0")


def test_handler_entry_exceeds_max_stack():
    code = f(["a", ("LOAD_NIL",), ("RETURN",), "h", ("RETURN",)], handlers=(("a", "h", "h", 1),), max_stack=1)
    rejects(code, "stack depth 2 exceeds max_stack 1")


# -- line table and frame layout ---------------------------------------------------


def test_lines_not_ascending():
    code = f([("LOAD_NIL",), ("RETURN",)], lines=((1, 1, 1), (0, 2, 1)))
    rejects(code, r"line table offsets are not ascending \(1 then 0\)")


def test_line_offset_not_instruction_start():
    code = f([("LOAD_CONST", 0), ("RETURN",)], consts=(1,), lines=((0, 1, 1), (1, 1, 5)))
    rejects(code, "line table entry 1: offset 1 is not an instruction start")


def test_malformed_line_entry():
    rejects(replace(f([("LOAD_NIL",), ("RETURN",)]), lines=((0, 1),)), r"line table entry 0 must be an \(offset, line, col\) triple")


def test_nlocals_below_arity():
    code = replace(f([("LOAD_NIL",), ("RETURN",)], arity=2), arity=2, nlocals=2, local_names=("f", "a"))
    assert rejects(code, "nlocals") == "verify: function f: nlocals 2 is less than arity 2 + 1"


def test_local_names_length():
    code = replace(f([("LOAD_NIL",), ("RETURN",)], arity=1), local_names=("f",))
    rejects(code, "1 local names for 2 locals")


def test_nested_code_verified_recursively():
    inner = asm("inner_fn", [("LOAD_NIL",), ("POP",), ("POP",), ("RETURN",)])
    msg = rejects(f([("MAKE_CLOSURE", 0), ("RETURN",)], consts=(inner,)), "inner_fn")
    assert msg == "verify: function inner_fn at offset 2: stack underflow: POP needs 1 value(s), stack has 0"


def test_nesting_too_deep():
    code = f([("LOAD_NIL",), ("RETURN",)])
    for i in range(MAX_NESTING + 2):
        code = asm(f"n{i}", [("MAKE_CLOSURE", 0), ("RETURN",)], consts=(code,))
    rejects(code, "nested too deeply")


def test_unreasonable_max_stack():
    rejects(replace(sample_fib(), max_stack=10**9), "max_stack 1000000000 is unreasonably large")


# -- hostile Python values: always VerifyError, never a host exception -------------


@pytest.mark.parametrize(
    "changes",
    [
        {"code": (1, "x")},
        {"code": [5, 0]},
        {"code": (True,)},
        {"nlocals": "2"},
        {"arity": None},
        {"arity": -1},
        {"max_stack": 1.5},
        {"name": 7},
        {"local_names": ("fib", 3)},
        {"consts": [2, 1]},
        {"consts": (object(), 1)},
        {"consts": ({}, 1)},
        {"names": None},
        {"captures": ((1, 0),)},
        {"captures": ("ab",)},
        {"lines": ((0, "1", 1),)},
        {"lines": None},
        {"handlers": ((0, 1, 2),)},
        {"handlers": ((0, 10, 10, "0"),)},
        {"flags": -1},
        {"local_types": (None,)},
        {"ret_type": None},
    ],
    ids=lambda c: re.sub(r" at 0x[0-9a-f]+", "", repr(c))[:40],  # (no address: the same ids in every process, as pytest-xdist's workers must collect)
)
def test_wrong_python_types_raise_verify_error(changes):
    with pytest.raises(VerifyError, match="^verify: "):
        verify_code(replace(sample_fib(), **changes), 4)


def test_not_a_code_object():
    with pytest.raises(VerifyError, match="expected a code object, got str"):
        verify_code("fib", 0)


def test_bad_global_count():
    with pytest.raises(VerifyError, match="bad global count"):
        verify_code(sample_fib(), -1)


# -- modules -----------------------------------------------------------------------


def test_module_export_must_be_a_global():
    m = sample_main()
    bad = ModuleCode(m.path, m.source_hash, m.globals, ("nope",), m.imports, m.init)
    with pytest.raises(VerifyError, match="verify: module main.tl: export 'nope' is not a global"):
        verify_module(bad)


def test_module_init_cannot_capture():
    m = sample_main()
    bad = ModuleCode(m.path, m.source_hash, m.globals, m.exports, m.imports, replace(m.init, captures=((True, 0),)))
    with pytest.raises(VerifyError, match="top-level code cannot capture"):
        verify_module(bad)


def test_module_globals_bound_global_operands():
    m = sample_main()
    bad = ModuleCode(m.path, m.source_hash, m.globals[:3], (), m.imports, m.init)
    with pytest.raises(VerifyError, match="STORE_GLOBAL global index 3 is out of range"):
        verify_module(bad)


def test_module_field_types():
    m = sample_main()
    with pytest.raises(VerifyError, match="field globals must be a tuple of strings"):
        verify_module(ModuleCode(m.path, m.source_hash, ["a"], (), (), m.init))
    with pytest.raises(VerifyError, match="expected a module"):
        verify_module(m.init)


def test_module_code_takes_no_parameters():
    m = sample_main()
    init = replace(m.init, arity=1, nlocals=2, local_names=("main", "p"))
    with pytest.raises(VerifyError, match=r"top-level code cannot take parameters \(arity 1\)"):
        verify_module(ModuleCode(m.path, m.source_hash, m.globals, m.exports, m.imports, init))


@pytest.mark.parametrize("flag", [FLAG_GENERATOR, FLAG_ASYNC])
def test_module_code_is_not_a_generator_nor_async(flag):
    m = sample_main()
    init = replace(m.init, flags=m.init.flags | flag)
    with pytest.raises(VerifyError, match="top-level code cannot be a generator or async"):
        verify_module(ModuleCode(m.path, m.source_hash, m.globals, m.exports, m.imports, init))


# -- handler depths: what the raising instruction leaves ------------------------------


def test_handler_depth_counts_the_pops_of_the_raising_instruction():
    # SHR at depth 2 raises after taking both operands: the stack the handler
    # cuts back to 1 has 0 values left (the VM then ran off the frame's bottom).
    code = f([("LOAD_CONST", 0), ("LOAD_NIL",), "op", ("SHR",), ("RETURN",)], consts=(1,), handlers=(("op", "end", "op", 1),))
    rejects(code, r"at offset 3: handler 0 depth 1 exceeds the stack depth 0 left by SHR")


def test_handler_depth_within_what_a_call_leaves():
    # A call's callee and arguments are gone when the error arrives; what is below them stays.
    body = [("LOAD_NIL",), ("LOAD_GLOBAL", 0), ("LOAD_NIL",), "a", ("CALL", 1), "b", ("POP",), ("RETURN",), "h", ("POP",), ("RETURN",)]
    verify_code(f(body, handlers=(("a", "b", "h", 1),)), 1)
    rejects(f(body, handlers=(("a", "b", "h", 2),)), "at offset 4: handler 0 depth 2 exceeds the stack depth 1 left by CALL")


# -- value kinds along every path (bytecode/dataflow.py) ----------------------------


def test_load_cell_of_a_plain_local():
    # The VM reads `.value` of whatever the slot holds.
    msg = rejects(f([("LOAD_CELL", 1), ("RETURN",)], arity=1), "LOAD_CELL")
    assert msg == "verify: function f at offset 0: LOAD_CELL of local 1 (p1) needs a cell, but it may be any value"


def test_store_cell_into_a_plain_local():
    rejects(f([("LOAD_NIL",), ("STORE_CELL", 1), ("LOAD_NIL",), ("RETURN",)], arity=1), "at offset 1: STORE_CELL into local 1 .* needs a cell")


def test_cells_accepted_after_make_cell():
    code = f([("MAKE_CELL", 1), ("LOAD_NIL",), ("STORE_CELL", 1), ("LOAD_CELL", 1), ("RETURN",)], arity=1)
    verify_code(code, 0)


def test_make_cell_of_a_cell():
    rejects(f([("MAKE_CELL", 1), ("MAKE_CELL", 1), ("LOAD_NIL",), ("RETURN",)], arity=1), "at offset 2: MAKE_CELL of local 1 .* needs any value, but it may be a cell")


def test_cell_only_on_one_path():
    # The paths join with the local a cell on one of them only.
    ops = [("LOAD_LOCAL", 1), ("JUMP_IF_FALSE", "join"), ("MAKE_CELL", 1), "join", ("LOAD_CELL", 1), ("RETURN",)]
    rejects(f(ops, arity=1), "at offset 6: LOAD_CELL of local 1 .* needs a cell")


def test_cell_stored_over_is_not_a_cell():
    rejects(f([("MAKE_CELL", 1), ("LOAD_NIL",), ("STORE_LOCAL", 1), ("LOAD_CELL", 1), ("RETURN",)], arity=1), "at offset 5: LOAD_CELL")


def test_cells_are_not_values():
    rejects(f([("MAKE_CELL", 1), ("LOAD_LOCAL", 1), ("RETURN",)], arity=1), "at offset 4: RETURN needs any value, but it may be a cell")
    rejects(f([("MAKE_CELL", 1), ("LOAD_LOCAL", 1), ("STORE_GLOBAL", 0), ("LOAD_NIL",), ("RETURN",)], arity=1), "STORE_GLOBAL needs any value, but it may be a cell")
    # ... but they may be moved: loaded and stored back, dropped.
    verify_code(f([("MAKE_CELL", 1), ("LOAD_LOCAL", 1), ("STORE_LOCAL", 2), ("LOAD_LOCAL", 2), ("POP",), ("LOAD_CELL", 2), ("RETURN",)], local_names=("f", "a", "b"), arity=1), 0)


def test_closure_captures_need_cells():
    inner = asm("g", [("LOAD_UPVAL", 0), ("RETURN",)], captures=((True, 1),))
    rejects(f([("MAKE_CLOSURE", 0), ("RETURN",)], arity=1, consts=(inner,)), "at offset 0: MAKE_CLOSURE capturing local 1 .* needs a cell")
    verify_code(f([("MAKE_CELL", 1), ("MAKE_CLOSURE", 0), ("RETURN",)], arity=1, consts=(inner,)), 0)


def test_handler_sees_the_locals_of_every_protected_instruction():
    # The cell is made inside the protected range: an error before MAKE_CELL
    # reaches the handler with the local not yet a cell.
    ops = ["a", ("LOAD_GLOBAL", 0), ("POP",), ("MAKE_CELL", 1), ("LOAD_CELL", 1), ("RETURN",), "h", ("POP",), ("LOAD_CELL", 1), ("RETURN",)]
    rejects(f(ops, arity=1, handlers=(("a", "h", "h", 0),)), "LOAD_CELL of local 1 .* may be any value or a cell")


def test_for_iter_needs_an_iterator():
    rejects(f([("LOAD_NIL",), "top", ("FOR_ITER", "end"), ("POP",), ("JUMP", "top"), "end", ("LOAD_NIL",), ("RETURN",)]), "at offset 1: FOR_ITER needs an iterator, but it may be a value")
    verify_code(f([("LOAD_NIL",), ("GET_ITER",), "top", ("FOR_ITER", "end"), ("POP",), ("JUMP", "top"), "end", ("LOAD_NIL",), ("RETURN",)]), 0)


def test_iterators_are_not_values():
    rejects(f([("LOAD_NIL",), ("GET_ITER",), ("RETURN",)]), "RETURN needs any value, but it may be an iterator")
    rejects(f([("LOAD_NIL",), ("GET_ITER",), ("GET_ITER",), ("RETURN",)]), "at offset 2: GET_ITER needs any value, but it may be an iterator")


def test_build_string_needs_strings():
    rejects(f([("LOAD_CONST", 0), ("LOAD_CONST", 1), ("BUILD_STRING", 2), ("RETURN",)], consts=("a", 1.5)), "at offset 4: BUILD_STRING needs a string, but it may be a value")
    rejects(f([("LOAD_LOCAL", 1), ("BUILD_STRING", 1), ("RETURN",)], arity=1), "BUILD_STRING needs a string, but it may be any value")
    verify_code(f([("LOAD_CONST", 0), ("LOAD_LOCAL", 1), ("TO_STR",), ("BUILD_STRING", 2), ("RETURN",)], arity=1, consts=("a",)), 0)


def range_loop(*between):
    """for i in p1..p2 { }, as the compiler emits it; `between` goes between the
    stores of the two ends and RANGE."""
    return f(
        [("LOAD_LOCAL", 1), ("DUP",), ("STORE_LOCAL", 3), ("LOAD_LOCAL", 2), ("DUP",), ("STORE_LOCAL", 4), *between, ("RANGE",), ("POP",),
         "top", ("FOR_RANGE", 3, 0, "end"), ("STORE_LOCAL", 5), ("JUMP", "top"), "end", ("LOAD_NIL",), ("RETURN",)],
        arity=2, local_names=("f", "a", "b", "$i", "$end", "i"),
    )  # fmt: skip


def test_for_range_after_range_checked_its_ends():
    verify_code(range_loop(), 0)


def test_for_range_needs_int_locals():
    code = f([("LOAD_LOCAL", 1), ("STORE_LOCAL", 3), ("LOAD_LOCAL", 2), ("STORE_LOCAL", 4), "top", ("FOR_RANGE", 3, 0, "end"), ("STORE_LOCAL", 5), ("JUMP", "top"), "end", ("LOAD_NIL",), ("RETURN",)], arity=2, local_names=("f", "a", "b", "$i", "$end", "i"))
    rejects(code, r"FOR_RANGE counter local 3 \(\$i\) needs an int, but it may be any value")


def test_for_range_local_overwritten_before_range():
    # RANGE checks the value on the stack; the local no longer holds it.
    rejects(range_loop(("LOAD_NIL",), ("STORE_LOCAL", 3)), r"FOR_RANGE counter local 3 \(\$i\) needs an int, but it may be a value")


def test_for_range_with_int_constants():
    code = f([("LOAD_CONST", 0), ("STORE_LOCAL", 1), ("LOAD_CONST", 1), ("STORE_LOCAL", 2), "top", ("FOR_RANGE", 1, 1, "end"), ("POP",), ("JUMP", "top"), "end", ("LOAD_NIL",), ("RETURN",)], consts=(0, 10), local_names=("f", "i", "n"))
    verify_code(code, 0)


def make_class(*methods, names=None):
    """A class whose methods are made by `methods` (lists of instructions)."""
    names = names or tuple(f"m{i}" for i in range(len(methods)))
    ci = ClassInfo("K", (), (), names)
    plain = asm("K.m", [("LOAD_NIL",), ("RETURN",)], arity=1, flags=FLAG_METHOD)
    gen = replace(plain, flags=FLAG_METHOD | FLAG_GENERATOR)
    ops = [("LOAD_NIL",)] + [op for m in methods for op in m] + [("MAKE_CLASS", 0, len(methods)), ("RETURN",)]
    return f(ops, consts=(ci, plain, gen))


def test_make_class_methods_are_closures():
    verify_code(make_class([("MAKE_CLOSURE", 1)], [("MAKE_CLOSURE", 2)], names=("init", "items")), 0)
    rejects(make_class([("LOAD_NIL",)]), "MAKE_CLASS needs a function or an async or generator function, but it may be a value")


@pytest.mark.parametrize("name", ["init", "$fields"])
def test_make_class_init_is_a_plain_function(name):
    # The VM enters `init` and `$fields` as ordinary frames.
    rejects(make_class([("MAKE_CLOSURE", 2)], names=(name,)), f"MAKE_CLASS method {re.escape(repr(name))} needs a function, but it may be an async or generator function")


def test_kinds_of_unreachable_code_are_not_checked():
    verify_code(f([("LOAD_NIL",), ("RETURN",), ("LOAD_CELL", 1), ("RETURN",)], arity=1), 0)


def test_type_pass_has_a_budget(monkeypatch):
    from tinyvm.bytecode import dataflow

    monkeypatch.setattr(dataflow, "budget", lambda code: 5)
    rejects(sample_loop(), r"too complex to verify \(the type analysis needs more than 5 steps\)")


# -- other instructions the VM trusts ---------------------------------------------


def test_select_cases():
    def sel(count, cases):
        return f([("LOAD_NIL",)] * count + [("SELECT", count, 0), ("POP",), ("RETURN",)], consts=(cases,))

    verify_code(sel(4, ("recv", "send", "sleep", "default")), 0)
    rejects(sel(1, 5), r"SELECT needs a tuple of case kinds \(recv, send, sleep, default\), got int")
    rejects(sel(1, ("recv", "bogus")), "SELECT needs a tuple of case kinds")
    rejects(sel(2, ("recv", "recv", "recv")), r"SELECT count 2 but its cases take 3 value\(s\)")


def test_yield_only_in_generators():
    body = [("LOAD_NIL",), ("YIELD",), ("RETURN",)]
    verify_code(f(body, flags=FLAG_GENERATOR), 0)
    rejects(f(body), "at offset 1: YIELD outside a generator function")
    rejects(f(body, flags=FLAG_GENERATOR | FLAG_ASYNC), "YIELD outside a generator function")


@pytest.mark.parametrize("name", ["__id", "__fields", "__kind", "__repr_scalar", "__sort_by_keys", "__anything"])
def test_private_builtins_are_rejected(name):
    msg = rejects(f([("LOAD_BUILTIN", 0), ("RETURN",)], names=(name,)), "private")
    assert msg == f"verify: function f at offset 0: LOAD_BUILTIN of {name!r}: built-ins starting with '__' are private to the runtime library"
    verify_code(f([("LOAD_BUILTIN", 0), ("RETURN",)], names=("print",)), 0)


@pytest.mark.parametrize(
    "source",
    [
        # Nested loops: a last-in-first-out work list took time cubic in the depth.
        "".join(f"for i{k} in 0..1 {{\n" for k in range(190)) + "print(1)\n" + "}\n" * 190,
        # Many locals: flat tuples copied every local at every store.
        "fn f() {\n" + "".join(f"  let a{i} = {i}\n" for i in range(5000)) + "  return a0 + a4999\n}\nprint(f())\n",
        # Many locals stored inside a try: each store is joined into the handler.
        "fn g() {\n  try {\n" + "".join(f"    let b{i} = {i}\n" for i in range(3000)) + "  } catch e {}\n}\ng()\n",
    ],
    ids=["190 nested loops", "5000 locals", "3000 locals in a try"],
)
def test_compiled_code_at_the_compilers_limits_verifies(source):
    # What tvmc writes, tvm run loads: the type pass stays within its budget
    # (linear in the code's size) for compiled code however deep or wide.
    from tinyvm.lang.driver import compile_program

    bundle = compile_program("big.tl", source=source)
    for module in bundle.modules.values():
        verify_module(module)
