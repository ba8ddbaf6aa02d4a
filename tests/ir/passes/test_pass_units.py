"""The classic passes one rule at a time: folding against the runtime, what each
pass refuses, and `tvm ir --passes/--after`."""

from __future__ import annotations

import io
import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyvm.bytecode import opcodes as O
from tinyvm.cli.main import main
from tinyvm.ir.passes import (
    PassContext,
    PassError,
    default_pipeline,
    parse_passes,
    run_pipeline,
)
from tinyvm.ir.passes.fold import MAX_STRING, NoFold, fold
from tinyvm.ir.text import format_function, parse_function
from tinyvm.runtime import arith, lox_rules
from tinyvm.runtime.errors import RtError

INT_MAX, INT_MIN = (1 << 63) - 1, -(1 << 63)
VALUES = [0, 1, -1, 7, -2, 3, INT_MAX, INT_MIN, 63, 64, 0.0, -0.0, 1.5, -2.5, math.nan, math.inf, -math.inf, "a", "b", "", True, False, None]
BINARY = {"add": O.ADD, "sub": O.SUB, "mul": O.MUL, "div": O.DIV, "mod": O.MOD, "band": O.BAND, "bor": O.BOR, "bxor": O.BXOR,
          "shl": O.SHL, "shr": O.SHR, "eq": O.EQ, "ne": O.NE, "lt": O.LT, "le": O.LE, "gt": O.GT, "ge": O.GE}  # fmt: skip
UNARY = {"tinylang": {"neg": arith.neg, "bnot": arith.bnot, "not": arith.not_}, "lox": {"neg": lox_rules.neg, "bnot": arith.bnot, "not": arith.not_}}


def same(a: object, b: object) -> bool:
    return type(a) is type(b) and repr(a) == repr(b)


@pytest.mark.parametrize("lang", ["tinylang", "lox", None])
def test_folding_agrees_with_the_runtime(lang: str | None) -> None:
    """Every fold gives exactly what the VM's own operator functions give; a
    fold is refused when the runtime raises. (For lang None, with both
    languages' answers.)"""
    langs = ["tinylang", "lox"] if lang is None else [lang]
    tables = {"tinylang": arith.BINARY, "lox": lox_rules.BINARY}
    folded = 0
    cases = [(op, [a, b]) for op in BINARY for a, b in itertools.product(VALUES, VALUES)]
    cases += [(op, [a]) for op in UNARY["tinylang"] for a in VALUES]
    for op, args in cases:
        try:
            got = fold(op, args, lang)
        except NoFold:
            continue
        folded += 1
        for lg in langs:
            f = tables[lg][BINARY[op]] if len(args) == 2 else UNARY[lg][op]
            try:
                want = f(*args)
            except RtError:
                pytest.fail(f"{op}{tuple(args)} folded to {got!r} but raises in {lg}")
            assert same(got, want), f"{op}{tuple(args)} in {lg}: folded {got!r}, runtime {want!r}"
    assert folded > (1500 if lang else 700), folded  # (the test must exercise folding)


def test_folding_refuses_what_depends_on_the_language() -> None:
    with pytest.raises(NoFold):
        fold("add", [1, 2], None)  # TinyLang: int 3; Lox: 3.0
    with pytest.raises(NoFold):
        fold("lt", ["a", "b"], None)  # Lox rejects strings
    with pytest.raises(NoFold):
        fold("le", [math.nan, 1.0], None)  # Lox: true
    assert fold("add", [1, 2], "tinylang") == 3 and same(fold("add", [1, 2], "lox"), 3.0)
    assert fold("le", [math.nan, 1.0], "lox") is True and fold("le", [math.nan, 1.0], "tinylang") is False
    assert same(fold("add", [1.5, 2], None), 3.5) and fold("eq", [1, 1.0], None) is True


def test_folding_refuses_nan_results_and_huge_strings() -> None:
    with pytest.raises(NoFold):
        fold("div", [0.0, 0.0], "tinylang")  # TinyLang's nan and Lox's -nan differ in sign
    with pytest.raises(NoFold):
        fold("sub", [math.inf, math.inf], "lox")
    with pytest.raises(NoFold):
        fold("concat", ["x" * MAX_STRING, "y"], "tinylang")
    assert fold("concat", ["x", "y", ""], None) == "xy"


@given(st.integers(INT_MIN, INT_MAX), st.integers(INT_MIN, INT_MAX), st.sampled_from(["add", "sub", "mul", "div", "mod", "lt", "shr"]))
def test_int_folding_matches_checked_int64(a: int, b: int, op: str) -> None:
    try:
        want = arith.BINARY[BINARY[op]](a, b)
    except RtError:
        with pytest.raises(NoFold):
            fold(op, [a, b], "tinylang")
        return
    assert same(fold(op, [a, b], "tinylang"), want)


def ir(text: str):
    return parse_function(text.strip() + "\n")


def optimized(text: str, names=None, lang="tinylang") -> str:
    fn = ir(text)
    run_pipeline(fn, names or default_pipeline() + ["simplify-cfg"], PassContext(options={"lang": lang}), verify_each=True)
    return format_function(fn)


def test_overflow_stays_with_its_frame_state() -> None:
    out = optimized("""
fn f(v0: any) -> int
b0:
  v1 = const[9223372036854775807] : int
  v2 = const[1] : int
  v3 = add.checked v1, v2 : int  @pc 4 [v0 | v1, v2]
  return v3
""")
    assert "v3 = add.checked v1, v2 : int  @pc 4 [v0 | v1, v2]" in out


def test_side_effects_and_fuel_survive_everything() -> None:
    src = """
fn f(v0: any, v1: int) -> any
b0:
  v2 = const[1] : int
  fuel[3]
  store_global[0] v2
  v3 = load_global[0] : any  @pc 2 [v0, v1 | ]
  v4 = load_global[0] : any  @pc 3 [v0, v1 | ]
  v5 = call v3, v4 : any  @pc 4 [v0, v1 | v3, v4]
  v6 = call v3, v4 : any  @pc 5 [v0, v1 | v3, v4]
  return v2
"""
    out = optimized(src)
    for line in ("fuel[3]", "store_global[0] v2", "v3 = load_global", "v4 = load_global", "v5 = call", "v6 = call"):
        assert line in out


def test_frame_state_uses_keep_values_alive() -> None:
    out = optimized("""
fn f(v0: any, v1: float) -> any
b0:
  v2 = const[2.0] : float
  v3 = mul.checked v1, v2 : float  @pc 2 [v0, v1 | v1, v2]
  v4 = add.checked v3, v1 : float  @pc 3 [v0, v1 | v3, v1]
  v5 = load_global[0] : any  @pc 4 [v0, v4 | ]
  return v5
""", ["dce"])
    assert "v4 = add.checked v3, v1" in out and "v3 = mul.checked" in out  # v4 is in v5's state


def test_licm_does_not_hoist_loads_or_raising_ops() -> None:
    out = optimized("""
fn f(v0: any, v1: int, v2: int) -> any
b0:
  jump b1
b1: preds b0, b2
  v3 = phi v1, v6 : int
  v4 = lt v3, v2 : bool  @pc 1 [v0, v3, v2 | v3, v2]
  branch v4, b2, b3
b2: preds b1
  v5 = load_global[0] : any  @pc 5 [v0, v3, v2 | ]
  v7 = mul.checked v2, v2 : int  @pc 6 [v0, v3, v2 | v2, v2]
  v6 = add.checked v3, v7 : int  @pc 7 [v0, v3, v2 | v3, v7]
  jump b1
b3: preds b1
  return v3
""", ["licm"])
    loop = out.split("b2: preds b1\n")[1]
    assert "load_global" in loop and "mul.checked v2, v2" in loop


def test_pass_lists() -> None:
    classic = ["simplify-cfg", "sccp", "copy-prop", "gvn", "licm", "dce"]
    assert parse_passes("default") == default_pipeline()
    assert [n for n in default_pipeline() if n in classic] == classic  # (other passes slot in between)
    assert "licm" not in parse_passes("default,-licm")
    assert parse_passes("none") == [] and parse_passes("gvn,dce") == ["gvn", "dce"]
    with pytest.raises(PassError, match="did you mean 'licm'"):
        parse_passes("default,-lcim")


def tvm(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


SRC = "fn f(n: int) -> int {\n  let x = 2 + 3\n  return n * x\n}\nprint(f(4))\n"


def test_tvm_ir_passes() -> None:
    code, plain, err = tvm(["ir", "-e", SRC])
    assert (code, err) == (0, "") and "add.checked" in plain
    code, out, err = tvm(["ir", "--passes", "default", "-e", SRC])
    assert (code, err) == (0, "") and "add.checked" not in out and "const[5] : int" in out
    assert tvm(["ir", "--passes", "none", "-e", SRC]) == (0, plain, "")  # no pass: the plain IR


def test_tvm_ir_after_stops_there() -> None:
    code, out, err = tvm(["ir", "--passes", "sccp,dce", "--after", "sccp", "-e", SRC])
    assert (code, err) == (0, "")
    assert "const[5] : int" in out and "v4 = const[3] : int" in out  # folded, not yet swept
    code, out, _ = tvm(["ir", "--after", "dce", "-e", SRC])
    assert code == 0 and "const[3]" not in out


def test_tvm_ir_pass_errors_are_one_line() -> None:
    code, out, err = tvm(["ir", "--passes", "default,-lcm", "-e", SRC])
    assert (code, out) == (2, "") and err.startswith("tvm: unknown pass 'lcm' (did you mean 'licm'?)") and err.count("\n") == 1
    code, out, err = tvm(["ir", "--passes", "dce", "--after", "gvn", "-e", SRC])
    assert (code, out) == (2, "") and "does not run it" in err and "Traceback" not in err
    assert tvm(["ir", "--after", "default", "-e", SRC]) == (2, "", "tvm: --after takes one pass name, not 'default'\n")
    code, _, err = tvm(["ir", "--after", "gnv", "-e", SRC])
    assert code == 2 and "did you mean 'gvn'" in err


def test_tvm_ir_passes_help() -> None:
    code, out, err = tvm(["ir", "--passes", "help"])
    assert (code, err) == (0, "")
    for name in ("simplify-cfg", "sccp", "copy-prop", "gvn", "licm", "dce"):
        assert f" {name} " in out
    assert "--passes" in tvm(["ir", "--help"])[1] and "--after PASS" in tvm(["ir", "--help"])[1]


def test_lox_code_folds_with_lox_rules() -> None:
    code, out, err = tvm(["ir", "--passes", "default", "--lang", "lox", "-e", "print 7 / 2;\nprint 1 <= 2;\n"])
    assert (code, err) == (0, "") and "const[3.5] : float" in out and "const[true] : bool" in out
