"""Escape analysis and prune-states: which records are replaced, and how."""

from __future__ import annotations

from passes2_util import compile_text, function, run

from tinyvm.ir.passes import REGISTRY, PassContext, load
from tinyvm.ir.passes.prune import live_locals
from tinyvm.ir.text import format_function, parse_function
from tinyvm.ir.verify import verify

load()


def _ops(fn, *ops):
    return [i for b in fn.blocks for i in b.all() if i.op in ops]


def _escape(src: str, name: str, virtual: bool = False):
    fn = function(compile_text(src), name)
    run(fn, "prune-states,escape", PassContext(options={"escape.virtual": virtual}))
    return fn


def test_a_record_read_through_its_fields_becomes_its_field_values() -> None:
    fn = _escape("fn f(x: int) -> int {\n let r = {a: x, b: 2}\n return r.a + r.b\n}\n", "f")
    assert _ops(fn, "record", "get_field") == []
    (add,) = _ops(fn, "add")
    assert add.args[0].op == "param" and add.args[1].attrs == (2,)
    assert add.type.text() == "int"  # re-typed from the fields' types


def test_records_that_escape_are_kept() -> None:
    cases = {
        "returned": "fn f(x: int) -> {a: int} {\n let r = {a: x}\n return r\n}\n",
        "passed": "fn g(r: {a: int}) -> int { return r.a }\nfn f(x: int) -> int {\n let r = {a: x}\n return g(r)\n}\n",
    }
    for why, src in cases.items():
        fn = function(compile_text(src), "f")
        before = format_function(fn)
        run(fn, "prune-states,escape", PassContext(options={"escape.virtual": True}))
        assert len(_ops(fn, "record")) == 1, why
        assert format_function(fn).count("record[") == before.count("record["), why


IR = """fn f(v0: any, v1: int) -> any
b0:
  jump b1
b1: preds b0
  v2 = const[nil] : nil
  v3 = record[("a", "b")] v1, v2 : any  @pc 0 [v0, v1 | v1, v2]
  {access}
  v5 = get_field["a"] v3 : any  @pc 2 [v0, v1 | v3]
  return v5
"""


def test_stored_into_itself_or_reading_an_unknown_field_escapes() -> None:
    for access in ('set_field["b"] v3, v3  @pc 1 [v0, v1 | v3, v3]', 'v4 = get_field["c"] v3 : any  @pc 1 [v0, v1 | v3]', "v4 = is v3, v2 : bool  @pc 1 [v0, v1 | v3, v2]"):
        fn = parse_function(IR.replace("{access}", access))
        assert REGISTRY["escape"].run(fn, PassContext(options={"escape.virtual": True})) is False, access
    fn = parse_function(IR.replace("{access}", 'set_field["b"] v3, v1  @pc 1 [v0, v1 | v3, v1]'))
    assert REGISTRY["escape"].run(fn, PassContext(options={"escape.virtual": True})) is True
    assert format_function(fn).endswith("  return v1\n")


def test_a_frame_state_naming_the_record_is_an_escape_unless_virtual() -> None:
    src = "fn f(c: bool, n: int) -> int {\n let r = {v: 0}\n if c { r.v = n } else { r.v = n * 2 }\n return r.v\n}\n"
    fn = _escape(src, "f")
    assert len(_ops(fn, "record")) == 1  # `n * 2` may raise while r is on the stack
    fn = _escape(src, "f", virtual=True)
    assert _ops(fn, "record", "get_field", "set_field") == []
    (mul,) = _ops(fn, "mul")
    (virt,) = _ops(fn, "virtual")
    assert virt.attrs == (("v",),) and virt.args[0].attrs == (0,)
    assert virt in mul.state.stack and virt in mul.state.locals
    (phi,) = [p for b in fn.blocks for p in b.phis]
    assert set(phi.args) == {mul, fn.params[2]}
    ret = fn.blocks[-1].terminator if fn.blocks[-1].terminator.op == "return" else next(b.terminator for b in fn.blocks if b.terminator.op == "return")
    assert ret.args == [phi]
    assert verify(fn) == []


def test_a_field_copied_from_another_field_follows_the_chain() -> None:
    fn = _escape("fn f(x: int) -> int {\n let r = {a: x, b: 0}\n r.b = r.a\n r.a = 5\n return r.a + r.b\n}\n", "f", virtual=True)
    (add,) = _ops(fn, "add")
    assert add.args[0].attrs == (5,) and add.args[1] is fn.params[1]


def test_prune_states_drops_dead_locals_but_keeps_slot_0() -> None:
    src = "fn f(x: int, y: int) -> int {\n let a = x * 2\n return a * y\n}\n"
    fn = function(compile_text(src), "f")
    live = live_locals(fn.code)
    assert 0 not in live[0] and {1, 2} <= live[0]
    mul1, mul2 = _ops(fn, "mul")
    assert mul2.state.locals[1] is fn.params[1]  # x: dead after the first product
    assert REGISTRY["prune-states"].run(fn, PassContext()) is True
    assert mul2.state.locals[0] is fn.params[0]
    assert mul2.state.locals[1] is None and mul2.state.locals[3] is None  # x, and a (on the stack now)
    assert mul1.state.locals[2] is fn.params[2]  # y: read later
    assert REGISTRY["prune-states"].run(fn, PassContext()) is False
    assert verify(fn) == []


def test_prune_states_keeps_a_local_only_a_handler_reads() -> None:
    src = "fn f(x: int, y: int) -> int {\n var saved = y + 1\n try { return x * 2 } catch e { return saved }\n}\n"
    fn = function(compile_text(src), "f")
    (mul,) = _ops(fn, "mul")
    assert mul.catch is not None
    saved = mul.state.locals[3]
    assert saved is not None and saved.op == "add"
    run(fn, "prune-states")
    assert mul.state.locals[3] is saved  # dead on the normal path, live in the handler
    assert mul.state.locals[2] is None  # y: never read again


def test_every_pass_runs_cleanly_on_ir_read_from_text() -> None:
    """IR parsed from text has no code objects: the passes that need one
    (inline's callee, typespec's next pc, prune-states' liveness) refuse,
    the others work, and every result verifies."""
    from pathlib import Path

    golden = Path(__file__).resolve().parents[1] / "golden"
    texts = [t for p in sorted(golden.glob("*.ir")) for t in p.read_text(encoding="utf-8").split("\n\n") if t.startswith("fn ") and "not built" not in t.split("\n")[0]]
    assert len(texts) > 10
    for text in texts:
        fn = parse_function(text.rstrip("\n") + "\n")
        profile = {("param", 1): "int", **{i.pc: "int" for b in fn.blocks for i in b.instrs if i.pc is not None}}
        ctx = PassContext(profile=profile, speculate=True, resolve=lambda ins: None, options={"escape.virtual": True})
        run(fn, "range,inline,typespec,prune-states,escape", ctx)
        assert verify(fn) == [], text
