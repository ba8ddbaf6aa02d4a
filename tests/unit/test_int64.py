"""Property tests of TinyLang's checked int64 arithmetic (spec sections 2 and 3).

Every integer operator is compared, on hypothesis-generated operands, against a
small Python reference written from the spec:

* `+ - *` and unary `-`: OverflowError "integer overflow" when the exact result
  is outside [-2**63, 2**63 - 1];
* `/` truncates toward zero, `%` takes the dividend's sign; a zero divisor is
  ZeroDivisionError "division by zero"; INT_MIN / -1 and INT_MIN % -1 are
  OverflowError;
* `& | ^ ~` are two's complement; `<< >>` need a count in 0..63 (else
  ValueError "shift count N out of range 0..63"); `<<` overflow is
  OverflowError; `>>` is arithmetic;
* comparisons give bools.

The VM runs one program (through the embedding API) holding one function per
operator *shape*, so that each of the interpreter's code paths is checked: the
pre-decoder fuses "load operands, operate, deliver" sequences into single
closures with their own int64 fast path (vm/predecode.py), chosen by where the
operands come from (L = local, C = constant, S = stack) and where the result
goes (push / store to a local / return / conditional jump), while operands that
come from calls leave the plain stack instruction in place.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyvm import VM
from tinyvm.runtime.errors import GuestException

INT_MIN = -(1 << 63)
INT_MAX = (1 << 63) - 1

# --------------------------------------------------------------------------- reference


class Err(Exception):
    def __init__(self, cls: str, message: str) -> None:
        super().__init__(f"{cls}: {message}")
        self.cls = cls
        self.message = message


def _check(r: int) -> int:
    if not INT_MIN <= r <= INT_MAX:
        raise Err("OverflowError", "integer overflow")
    return r


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _div(a: int, b: int) -> int:
    if b == 0:
        raise Err("ZeroDivisionError", "division by zero")
    return _check(_trunc_div(a, b))


def _mod(a: int, b: int) -> int:
    if b == 0:
        raise Err("ZeroDivisionError", "division by zero")
    if a == INT_MIN and b == -1:  # the quotient overflows (README: "MIN % -1")
        raise Err("OverflowError", "integer overflow")
    return a - b * _trunc_div(a, b)


def _shift_count(n: int) -> int:
    if not 0 <= n <= 63:
        raise Err("ValueError", f"shift count {n} out of range 0..63")
    return n


REF = {
    "+": lambda a, b: _check(a + b),
    "-": lambda a, b: _check(a - b),
    "*": lambda a, b: _check(a * b),
    "/": _div,
    "%": _mod,
    "<<": lambda a, b: _check(a << _shift_count(b)),
    ">>": lambda a, b: a >> _shift_count(b),
    "&": lambda a, b: a & b,
    "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
UNARY_REF = {
    "-": lambda a: _check(-a),
    "~": lambda a: ~a,
}

ARITH = ["+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^"]
CMP = ["<", "<=", ">", ">=", "==", "!="]
NAMES = {
    "+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod", "<<": "shl", ">>": "shr",
    "&": "band", "|": "bor", "^": "bxor",
    "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne",
}

# Constant operands baked into functions (`a + K`, `K + a`): the boundaries.
CONSTS = [
    0, 1, -1, 2, -2, 3, 7, -7, 62, 63, 64, 1 << 31, 1 << 32, -(1 << 32), 1 << 62, -(1 << 62),
    INT_MAX, INT_MAX - 1, 9223372036854775000, INT_MIN, INT_MIN + 1, -9223372036854775000,
]


def _lit(k: int) -> str:
    return str(k)  # negative literals are folded into constants by the compiler


# --------------------------------------------------------------------------- the program


def _shapes(op: str) -> dict[str, str]:
    """Shape name -> function source for binary operator `op`."""
    n = NAMES[op]
    s = {
        # Both operands locals: LL, result returned / stored / pushed.
        "ll_ret": f"fn {n}_ll_ret(a, b) {{ return a {op} b }}",
        "ll_store": f"fn {n}_ll_store(a, b) {{ var r = a {op} b; return r }}",
        "ll_push": f"fn {n}_ll_push(a, b) {{ let r = [a {op} b]; return r[0] }}",
        # Operands from calls: stack (S) sources, and the plain instruction.
        "ss_ret": f"fn {n}_ss_ret(a, b) {{ return id(a) {op} id(b) }}",
        "ss_store": f"fn {n}_ss_store(a, b) {{ var r = id(a) {op} id(b); return r }}",
        "ss_push": f"fn {n}_ss_push(a, b) {{ let r = [id(a) {op} id(b)]; return r[0] }}",
        "sl_ret": f"fn {n}_sl_ret(a, b) {{ return id(a) {op} b }}",
        "sl_push": f"fn {n}_sl_push(a, b) {{ let r = [id(a) {op} b]; return r[0] }}",
        # Compound assignment on a local.
        "compound": f"fn {n}_compound(a, b) {{ var r = a; r = r {op} b; return r }}",
        # Operands through `any`-typed globals (no local-slot fusion at all).
        "globals": f"fn {n}_globals(a, b) {{ ga = a; gb = b; return ga {op} gb }}",
    }
    if op in CMP:
        s["ll_jf"] = f"fn {n}_ll_jf(a, b) {{ if a {op} b {{ return true }}; return false }}"
        s["ss_jf"] = f"fn {n}_ss_jf(a, b) {{ if id(a) {op} id(b) {{ return true }}; return false }}"
        s["while_jf"] = f"fn {n}_while_jf(a, b) {{ var r = false; while a {op} b {{ r = true; break }}; return r }}"
    return s


def _const_shapes(op: str, i: int, k: int) -> dict[str, str]:
    """Functions of one argument with constant operand CONSTS[i]."""
    n = NAMES[op]
    s = {
        f"lc_ret_{i}": f"fn {n}_lc_ret_{i}(a) {{ return a {op} {_lit(k)} }}",
        f"cl_ret_{i}": f"fn {n}_cl_ret_{i}(a) {{ return {_lit(k)} {op} a }}",
        f"lc_store_{i}": f"fn {n}_lc_store_{i}(a) {{ var r = a {op} {_lit(k)}; return r }}",
        f"cl_push_{i}": f"fn {n}_cl_push_{i}(a) {{ let r = [{_lit(k)} {op} a]; return r[0] }}",
        f"sc_ret_{i}": f"fn {n}_sc_ret_{i}(a) {{ return id(a) {op} {_lit(k)} }}",
    }
    if op in CMP:
        s[f"lc_jf_{i}"] = f"fn {n}_lc_jf_{i}(a) {{ if a {op} {_lit(k)} {{ return true }}; return false }}"
        s[f"cl_jf_{i}"] = f"fn {n}_cl_jf_{i}(a) {{ if {_lit(k)} {op} a {{ return true }}; return false }}"
    return s


UNARY_SHAPES = {
    "-": {
        "neg_local": "fn neg_local(a) { return -a }",
        "neg_stack": "fn neg_stack(a) { return -id(a) }",
        "neg_store": "fn neg_store(a) { var r = -a; return r }",
        "neg_sub": "fn neg_sub(a) { return 0 - a }",
    },
    "~": {
        "inv_local": "fn inv_local(a) { return ~a }",
        "inv_stack": "fn inv_stack(a) { return ~id(a) }",
    },
}


def _program() -> str:
    lines = ["fn id(x) { return x }", "var ga: any = 0", "var gb: any = 0"]
    for op in ARITH + CMP:
        lines.extend(_shapes(op).values())
        for i, k in enumerate(CONSTS):
            lines.extend(_const_shapes(op, i, k).values())
    for shapes in UNARY_SHAPES.values():
        lines.extend(shapes.values())
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def vm() -> VM:
    machine = VM()
    machine.run_source(_program(), "int64.tl")
    return machine


# --------------------------------------------------------------------------- helpers


def _outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except Err as e:
        return ("err", e.cls, e.message)


def _guest(vm: VM, name: str, *args):
    try:
        r = vm.call(name, *args)
    except GuestException as e:
        return ("err", e.class_name, e.message)
    return ("ok", r)


def _same(got, want) -> bool:
    # `type` too: an int result must not come back as a bool or a float.
    return got == want and (got[0] != "ok" or type(got[1]) is type(want[1]))


def _check_op(vm: VM, op: str, a: int, b: int) -> None:
    want = _outcome(REF[op], a, b)
    n = NAMES[op]
    for shape in _shapes(op):
        got = _guest(vm, f"{n}_{shape}", a, b)
        assert _same(got, want), f"{n}_{shape}({a}, {b}): got {got}, want {want}"


def _check_const_op(vm: VM, op: str, a: int) -> None:
    n = NAMES[op]
    for i, k in enumerate(CONSTS):
        for shape in _const_shapes(op, i, k):
            args = (k, a) if shape.startswith("cl_") else (a, k)
            want = _outcome(REF[op], *args)
            got = _guest(vm, f"{n}_{shape}", a)
            assert _same(got, want), f"{n}_{shape}({a}) [{args[0]} {op} {args[1]}]: got {got}, want {want}"


# --------------------------------------------------------------------------- strategies

EDGES = sorted(
    {0, 1, -1, 2, -2, 3, -3, INT_MAX, INT_MIN, INT_MAX - 1, INT_MIN + 1, 1 << 31, -(1 << 31), 1 << 32,
     -(1 << 32), (1 << 31) - 1, 3037000499, 3037000500, -3037000500, 1 << 62, -(1 << 62), (1 << 62) - 1}
)

int64 = st.one_of(
    st.integers(INT_MIN, INT_MAX),
    st.sampled_from(EDGES),
    st.integers(-1000, 1000),
    # Values just inside/outside powers of two, where overflow flips.
    st.builds(lambda e, d, s: max(INT_MIN, min(INT_MAX, s * (1 << e) + d)),
              st.integers(0, 63), st.integers(-3, 3), st.sampled_from([1, -1])),
)
shift_count = st.one_of(st.integers(0, 63), st.integers(-3, 70), st.sampled_from([INT_MIN, INT_MAX, 64, -1]))

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "%", "&", "|", "^"] + CMP)
@SETTINGS
@given(a=int64, b=int64)
def test_binary(vm, op, a, b):
    _check_op(vm, op, a, b)


@pytest.mark.parametrize("op", ["<<", ">>"])
@SETTINGS
@given(a=int64, b=shift_count)
def test_shift(vm, op, a, b):
    _check_op(vm, op, a, b)


@pytest.mark.parametrize("op", ARITH + CMP)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=st.one_of(int64, shift_count))
def test_constant_operand(vm, op, a):
    _check_const_op(vm, op, a)


@pytest.mark.parametrize("op", ["-", "~"])
@SETTINGS
@given(a=int64)
def test_unary(vm, op, a):
    want = _outcome(UNARY_REF[op], a)
    for name in UNARY_SHAPES[op]:
        got = _guest(vm, name, a)
        assert _same(got, want), f"{name}({a}): got {got}, want {want}"


# Fixed cases the spec and the conventions name explicitly, so they are always run.
@pytest.mark.parametrize(
    "op,a,b,want",
    [
        ("+", INT_MAX, 1, ("err", "OverflowError", "integer overflow")),
        ("-", INT_MIN, 1, ("err", "OverflowError", "integer overflow")),
        ("*", 1 << 32, 1 << 31, ("err", "OverflowError", "integer overflow")),
        ("*", -(1 << 32), 1 << 31, ("ok", INT_MIN)),
        ("/", INT_MIN, -1, ("err", "OverflowError", "integer overflow")),
        ("%", INT_MIN, -1, ("err", "OverflowError", "integer overflow")),
        ("/", 7, -2, ("ok", -3)),
        ("/", -7, 2, ("ok", -3)),
        ("%", -7, 2, ("ok", -1)),
        ("%", 7, -2, ("ok", 1)),
        ("/", 1, 0, ("err", "ZeroDivisionError", "division by zero")),
        ("%", 0, 0, ("err", "ZeroDivisionError", "division by zero")),
        ("<<", 1, 63, ("err", "OverflowError", "integer overflow")),
        ("<<", -1, 63, ("ok", INT_MIN)),
        ("<<", 1, 64, ("err", "ValueError", "shift count 64 out of range 0..63")),
        (">>", 1, -1, ("err", "ValueError", "shift count -1 out of range 0..63")),
        (">>", INT_MIN, 63, ("ok", -1)),
        (">>", -5, 1, ("ok", -3)),
        ("^", INT_MIN, -1, ("ok", INT_MAX)),
    ],
)
def test_named_cases(vm, op, a, b, want):
    assert _outcome(REF[op], a, b) == want  # the reference agrees with the spec
    _check_op(vm, op, a, b)


def test_unary_minus_of_int_min(vm):
    for name in UNARY_SHAPES["-"]:
        assert _guest(vm, name, INT_MIN) == ("err", "OverflowError", "integer overflow")
