"""The inliner: frame-state chains, the verifier's checks of them, refusals."""

from __future__ import annotations

from passes2_util import codes_of, compile_text, function, run

from tinyvm.ir.nodes import FrameState
from tinyvm.ir.passes import REGISTRY, PassContext, load
from tinyvm.ir.passes.inline import module_resolver
from tinyvm.ir.text import format_function, parse_function
from tinyvm.ir.verify import verify

load()

SRC = """
fn sq(x: int) -> int { return x * x }
fn pick(a: int, b: int) -> int {
  if a < b { return a }
  return b
}
fn fact(n: int) -> int {
  if n < 2 { return 1 }
  return n * fact(n - 1)
}
fn use(n: int) -> int {
  let k = n + 1
  return k + sq(n) + pick(n, 3)
}
fn guarded(n: int) -> int {
  try { return sq(n) } catch e { return 0 }
}
print(use(2))
"""


def _setup(src: str = SRC, name: str = "use", **options):
    bundle = compile_text(src)
    fn = function(bundle, name)
    ctx = PassContext(resolve=module_resolver(bundle.modules[bundle.main].init), options=options)
    return fn, ctx


def _calls(fn):
    return [i for b in fn.blocks for i in b.instrs if i.op.startswith("call")]


def test_inlined_states_chain_to_the_callers_state_at_the_call() -> None:
    fn, ctx = _setup()
    (call_sq, call_pick) = _calls(fn)
    sq_state, pick_state = call_sq.state, call_pick.state
    run(fn, "inline", ctx)
    assert _calls(fn) == []
    inlined = [i for b in fn.blocks for i in b.all() if i.state is not None and i.state.parent is not None]
    assert {i.op for i in inlined} >= {"mul", "lt"}
    for ins in inlined:
        parent = ins.state.parent
        want = sq_state if ins.state.code.name == "sq" else pick_state
        assert ins.state.code.name in ("sq", "pick")
        assert parent.pc == want.pc and parent.code is want.code and parent.parent is None
        assert parent.locals == want.locals
        # The caller's stack below the arguments (call_global: no callee on it).
        assert parent.stack == want.stack[: len(want.stack) - (1 if ins.state.code.name == "sq" else 2)]
    # Slot 0 of the inlined frame is the function, loaded from the global.
    mul = next(i for i in inlined if i.op == "mul")
    assert mul.state.locals[0].op == "load_global"
    assert verify(fn) == []


def test_two_returns_merge_in_a_phi_that_replaces_the_result() -> None:
    fn, ctx = _setup()
    run(fn, "inline", ctx)
    phis = [p for b in fn.blocks for p in b.phis]
    merged = [p for p in phis if {a.op for a in p.args} == {"const", "param"}]
    assert merged and merged[0].type.text() == "int"
    assert any(merged[0] in i.args for b in fn.blocks for i in b.instrs if i.op == "add")


def test_nested_inlining_builds_two_links_and_the_text_form_keeps_them() -> None:
    src = "fn a(x: int) -> int { return x + 1 }\nfn b(x: int) -> int { return a(x) * 2 }\nfn c(x: int) -> int { return b(x) - 3 }\nprint(c(1))\n"
    fn, ctx = _setup(src, "c")
    run(fn, "inline", ctx)
    add = next(i for b in fn.blocks for i in b.instrs if i.op == "add")
    chain = []
    st = add.state
    while st is not None:
        chain.append(st.code.name)
        st = st.parent
    assert chain == ["a", "b", "c"]
    text = format_function(fn)
    assert " <- @pc " in text
    assert format_function(parse_function(text)) == text


def test_refusals_leave_the_call_and_say_why() -> None:
    fn, ctx = _setup(name="fact")
    before = format_function(fn)
    assert REGISTRY["inline"].run(fn, ctx) is False
    assert format_function(fn) == before
    assert any("recursive" in line for line in ctx.log)
    fn, ctx = _setup(**{"inline.max_size": 0})
    assert REGISTRY["inline"].run(fn, ctx) is False
    assert any("too big" in line for line in ctx.log)


def test_without_a_resolver_nothing_changes() -> None:
    fn, _ = _setup()
    before = format_function(fn)
    assert REGISTRY["inline"].run(fn, PassContext()) is False
    assert format_function(fn) == before


def test_the_depth_limit_counts_inlined_frames() -> None:
    src = "fn a(x: int) -> int { return x + 1 }\nfn b(x: int) -> int { return a(x) * 2 }\nfn c(x: int) -> int { return b(x) - 3 }\nprint(c(1))\n"
    fn, ctx = _setup(src, "c", **{"inline.max_depth": 1})
    run(fn, "inline", ctx)
    assert [i.attrs for i in _calls(fn)] == [(0,)]  # a's call stays, inside inlined b
    assert any("too deep" in line for line in ctx.log)


def test_a_closure_callee_or_a_typed_call_is_refused() -> None:
    src = "fn make() -> fn() -> int {\n var n = 0\n return fn() -> int { n = n + 1\n return n }\n}\nfn use() -> int { return make()() }\nprint(use())\n"
    fn, ctx = _setup(src, "use")
    run(fn, "inline", ctx)
    assert any("closure or nested code" in line for line in ctx.log)


def _with_chain(pc: int, parent_pc: int) -> list[str]:
    fn, ctx = _setup()
    run(fn, "inline", ctx)
    ins = next(i for b in fn.blocks for i in b.instrs if i.state is not None and i.state.parent is not None)
    st = ins.state
    ins.state = FrameState(pc, st.locals, st.stack, st.code, FrameState(parent_pc, st.parent.locals, st.parent.stack, st.parent.code))
    return verify(fn)


def test_the_verifier_checks_the_chain_pcs() -> None:
    fn, ctx = _setup()
    run(fn, "inline", ctx)
    ins = next(i for b in fn.blocks for i in b.instrs if i.state is not None and i.state.parent is not None)
    good_pc, good_parent = ins.state.pc, ins.state.parent.pc
    assert _with_chain(good_pc, good_parent) == []
    errors = _with_chain(good_pc, 0)  # pc 0 of `use` is not a call
    assert any("is not a call" in e for e in errors), errors
    errors = _with_chain(9999, good_parent)  # past the end of sq
    assert any("is not an instruction of" in e for e in errors), errors


def test_the_verifier_rejects_a_looping_chain_and_undefined_values() -> None:
    fn, ctx = _setup()
    run(fn, "inline", ctx)
    ins = next(i for b in fn.blocks for i in b.instrs if i.state is not None and i.state.parent is not None)
    ins.state.parent.parent = ins.state
    assert any("loops" in e for e in verify(fn))
    fn, ctx = _setup()
    run(fn, "inline", ctx)
    ins = next(i for b in fn.blocks for i in b.instrs if i.state is not None and i.state.parent is not None)
    later = fn.blocks[-1].terminator.args[0]
    ins.state.parent.stack = ins.state.parent.stack + [later]
    assert any("frame state names" in e for e in verify(fn))


def _handler_edges(fn):
    (h,) = [b for b in fn.blocks if b.catch_preds]
    return h, h.phi_preds()[len(h.preds):]


def test_inside_a_try_the_callees_errors_continue_at_the_callers_handler() -> None:
    fn, ctx = _setup(name="guarded")
    (call,) = _calls(fn)
    h, edges = _handler_edges(fn)
    k = next(i for i, (_, at) in enumerate(h.phi_preds()) if at is call)
    at_call = [p.args[k] for p in h.phis]
    run(fn, "inline", ctx)
    assert _calls(fn) == []
    h, edges = _handler_edges(fn)
    catching = [at for _, at in edges]
    ops = {at.op for at in catching}
    assert ops == {"load_global", "mul"}  # the global's load took the call's edge; sq's product raises
    mul = next(at for at in catching if at.op == "mul")
    assert mul.state.parent is not None  # an inlined instruction, caught by the caller's handler
    k = next(i for i, (_, at) in enumerate(h.phi_preds()) if at is mul)
    assert [p.args[k] for p in h.phis] == at_call
    assert verify(fn) == []


def test_a_call_of_a_local_inside_a_try_hands_its_edge_to_the_callee() -> None:
    src = "fn twice(x) { return x + x }\nfn f(n: int) {\n let g = twice\n try { return g(n) } catch e { return 0 }\n}\nprint(f(1))\n"
    bundle = compile_text(src)
    fn = function(bundle, "f")
    twice = next(c for c in codes_of(bundle) if c.name == "twice")
    ctx = PassContext(resolve=lambda ins: twice if ins.op == "call" else None)
    run(fn, "inline", ctx)
    assert _calls(fn) == []
    assert [line.split(": ")[-1] for line in ctx.log] == ["inlined twice"]
    _, edges = _handler_edges(fn)
    assert [at.op for _, at in edges] == ["add"]
    assert verify(fn) == []
