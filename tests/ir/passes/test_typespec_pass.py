"""Type specialisation: where guards go, what their frame states say, when none are made."""

from __future__ import annotations

import pytest
from passes2_util import compile_text, function, run

from tinyvm.bytecode.opcodes import OPCODES
from tinyvm.bytecode.types import INT, STRING
from tinyvm.ir.passes import REGISTRY, PassContext, load
from tinyvm.ir.text import format_function, parse_function
from tinyvm.ir.verify import verify

load()

SRC = """
fn get(xs: [int], i: int) -> int { return xs[i] }
fn work(a, n: int) {
  var s = a
  var i = 0
  while i < n {
    s = s + get([1, 2], 0)
    i = i + 1
  }
  return s
}
"""


def _guards(fn):
    return [i for b in fn.blocks for i in b.instrs if i.op == "guard"]


def _setup(profile):
    fn = function(compile_text(SRC), "work")
    call = next(i for b in fn.blocks for i in b.instrs if i.op == "call_global")
    prof = {k if k != "call" else call.pc: v for k, v in profile.items()}
    return fn, call, PassContext(profile=prof, speculate=True)


def test_a_call_result_is_guarded_right_after_its_definition() -> None:
    fn, call, ctx = _setup({"call": "int", ("param", 1): "int"})
    run(fn, "typespec", ctx)
    (_, g) = _guards(fn)
    block = call.block
    assert block.instrs[block.instrs.index(call) + 1] is g
    assert g.args == [call] and g.attrs == ("int",) and g.type == INT
    # Its state: the pc after the call, the call's operands popped, its result pushed.
    st = g.state
    assert st.pc == call.pc + OPCODES[st.code.code[call.pc]].size
    assert st.stack == call.state.stack[: -len(call.args)] + [call]
    assert st.locals == call.state.locals
    # Every other use now names the guard: the add is typed int, so is the loop's phi.
    add = next(i for i in block.instrs if i.op == "add" and g in i.args)
    assert add.type == INT
    assert all(p.type == INT for b in fn.blocks for p in b.phis)
    assert call not in [a for b in fn.blocks for i in b.all() if i is not g for a in i.args]
    assert verify(fn) == []


def test_a_parameter_is_guarded_in_the_entry_with_the_state_of_pc_0() -> None:
    fn, _, ctx = _setup({("param", 1): "int"})
    run(fn, "typespec", ctx)
    (g,) = _guards(fn)
    assert g.block is fn.entry and fn.entry.instrs[-1] is g
    assert g.state.pc == 0 and g.state.stack == []
    assert g.state.locals[:3] == fn.params
    assert all(v.op == "const" and v.attrs == (None,) for v in g.state.locals[3:])


@pytest.mark.parametrize("ctx", [PassContext(profile={("param", 1): "int"}), PassContext(speculate=True), PassContext(profile={("param", 1): "Point"}, speculate=True), PassContext(profile={("param", 2): "int"}, speculate=True)], ids=["no speculation", "no profile", "a class name", "already typed"])
def test_no_guard_without_speculation_or_a_primitive_for_an_any_value(ctx) -> None:
    fn = function(compile_text(SRC), "work")
    before = format_function(fn)
    assert REGISTRY["typespec"].run(fn, ctx) is False
    assert format_function(fn) == before


def test_guard_round_trips_and_the_verifier_checks_it() -> None:
    fn, _, ctx = _setup({("param", 1): "string"})
    run(fn, "typespec", ctx)
    text = format_function(fn)
    assert 'guard["string"] v1 : string  @pc 0 [' in text
    back = parse_function(text)
    assert format_function(back) == text and verify(back) == []
    (g,) = _guards(back)
    assert g.type == STRING
    g.state = None
    assert any("can raise but has no frame state" in e for e in verify(back))
    g.type = INT
    assert any('guard[string] must be typed string' in e for e in verify(back))
    g.attrs = ("Point",)
    assert any("guard needs one type attribute" in e for e in verify(back))


def test_inlined_values_are_not_looked_up_in_this_functions_profile() -> None:
    src = "fn g(xs: [int]) -> int { return xs[0] }\nfn get(xs) { return xs[0] }\nfn f(xs: [int]) { return get(xs) }\nprint(f([1]))\n"
    from passes2_util import module_resolver

    bundle = compile_text(src)
    fn = function(bundle, "f")
    run(fn, "inline", PassContext(resolve=module_resolver(bundle.modules[bundle.main].init)))
    (index,) = [i for b in fn.blocks for i in b.instrs if i.op == "get_index"]
    assert index.state.parent is not None and index.type.text() == "any"
    ctx = PassContext(profile={index.pc: "int"}, speculate=True)
    assert REGISTRY["typespec"].run(fn, ctx) is False


def test_the_inliners_load_of_the_callee_is_not_taken_for_the_calls_result() -> None:
    src = "fn get(xs) { return xs[0] }\nfn f(xs: [int]) { return get(xs) + 1 }\nprint(f([1]))\n"
    from passes2_util import module_resolver

    bundle = compile_text(src)
    fn = function(bundle, "f")
    (call,) = [i for b in fn.blocks for i in b.instrs if i.op == "call_global"]
    run(fn, "inline", PassContext(resolve=module_resolver(bundle.modules[bundle.main].init)))
    (load,) = [i for b in fn.blocks for i in b.instrs if i.op == "load_global"]
    assert load.pc is None
    run(fn, "typespec", PassContext(profile={call.pc: "int"}, speculate=True))
    assert not any(g.args[0] is load for b in fn.blocks for g in b.instrs if g.op == "guard")


def test_a_loop_element_is_guarded_in_the_body_only() -> None:
    src = "fn total(xs: [any]) -> any {\n var t = 0\n var last: any = nil\n for v in xs { t = t + v\n last = v }\n return last\n}\n"
    fn = function(compile_text(src), "total")
    (it,) = [i for b in fn.blocks for i in b.instrs if i.op == "for_iter"]
    run(fn, "typespec", PassContext(profile={it.pc: "int"}, speculate=True))
    (g,) = _guards(fn)
    body = it.block.terminator.targets[1]
    assert g.block is body and body.instrs[0] is g
    assert g.state.pc == it.pc + OPCODES[g.state.code.code[it.pc]].size
    assert g.state.stack == it.state.stack + [it]  # the iterator stays, the element on top
    (done,) = [i for i in it.block.instrs if i.op == "iter_done"]
    assert done.args == [it]  # the end test still sees the raw value
    add = next(i for i in body.instrs if i.op == "add")
    assert g in add.args and add.type == INT
    assert verify(fn) == []


def test_two_parameter_guards_name_the_raw_parameters_and_a_second_run_adds_none() -> None:
    fn = function(compile_text("fn f(a, b) { return a + b }\n"), "f")
    ctx = PassContext(profile={("param", 1): "int", ("param", 2): "int"}, speculate=True)
    run(fn, "typespec", ctx)
    g1, g2 = _guards(fn)
    assert g1.state.locals[1:3] == fn.params[1:3] and g2.state.locals[1:3] == fn.params[1:3]
    (add,) = [i for b in fn.blocks for i in b.instrs if i.op == "add"]
    assert add.args == [g1, g2] and add.type == INT
    before = format_function(fn)
    assert REGISTRY["typespec"].run(fn, ctx) is False
    assert format_function(fn) == before


def test_a_branch_condition_is_not_guarded_as_a_non_bool() -> None:
    fn = function(compile_text("fn f(c) { if c { return 1 }\n return 2 }\n"), "f")
    assert REGISTRY["typespec"].run(fn, PassContext(profile={("param", 1): "int"}, speculate=True)) is False
    run(fn, "typespec", PassContext(profile={("param", 1): "bool"}, speculate=True))
    assert [g.attrs for g in _guards(fn)] == [("bool",)]
