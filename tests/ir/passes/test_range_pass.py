"""The range pass: the intervals it computes, and the checks it clears or keeps."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from passes2_util import compile_text, function, run

from tinyvm.ir.passes import REGISTRY, PassContext, load
from tinyvm.ir.passes.range import MAX, MIN, _exact, analyse
from tinyvm.ir.text import format_function, parse_function

load()


def _ops(fn, op):
    return [i for b in fn.blocks for i in b.instrs if i.op == op]


COUNT = """
fn f(n: int) -> int {
  var s = 0
  var i = 0
  while i < n {
    s = s + i
    i = i + 1
  }
  return s
}
"""


def test_the_loop_counter_is_bounded_by_its_condition_and_loses_its_check() -> None:
    fn = function(compile_text(COUNT), "f")
    ranges = analyse(fn)
    header = next(b for b in fn.blocks if b.phis and b.terminator.op == "branch")
    counter = header.terminator.args[0].args[0]  # branch (lt i, n)
    assert counter in header.phis
    body = header.terminator.targets[0]
    assert ranges.at(counter, header) == (0, MAX)  # widened upwards, never below 0
    assert ranges.at(counter, body) == (0, MAX - 1)  # i < n, n <= MAX
    exit_block = header.terminator.targets[1]
    assert ranges.at(counter, exit_block) == (0, MAX)  # i >= n: nothing better than n's low bound
    run(fn, "range")
    adds = _ops(fn, "add")
    step = next(a for a in adds if a.args[0] is counter)
    total = next(a for a in adds if a.args[0] is not counter)
    assert not step.checked  # i + 1 <= MAX
    assert total.checked  # s + i: s grows without a bound the pass can see


def test_a_counted_loop_over_constants_bounds_products() -> None:
    fn = function(compile_text("fn f() -> int {\n var s = 0\n for i in 0..100 { s = s + i * i }\n return s\n}\n"), "f")
    run(fn, "range")
    (mul,) = _ops(fn, "mul")
    assert not mul.checked  # i in [0, 99]
    assert [a.checked for a in _ops(fn, "add") if a.args[1].op != "const"] == [True]


def test_doubling_and_unbounded_products_keep_their_checks() -> None:
    src = "fn f(x: int, y: int) -> int {\n var v = x\n while v < 1000 { v = v * 2 }\n return v + x * y\n}\n"
    fn = function(compile_text(src), "f")
    before = format_function(fn)
    run(fn, "range")
    assert all(i.checked for i in _ops(fn, "mul") + _ops(fn, "add"))
    assert format_function(fn) == before


def test_a_decreasing_counter_under_a_lower_bound_loses_its_check() -> None:
    src = "fn f(n: int) -> int {\n var i = n\n while i > 0 { i = i - 1 }\n return i\n}\n"
    fn = function(compile_text(src), "f")
    run(fn, "range")
    (sub,) = _ops(fn, "sub")
    assert not sub.checked


def test_neg_of_a_full_int_overflows_at_min_and_keeps_its_check() -> None:
    fn = parse_function("""fn f(v0: any, v1: int) -> int
b0:
  jump b1
b1: preds b0
  v2 = neg.checked v1 : int  @pc 0 [v0, v1 | v1]
  v3 = const[-9223372036854775807] : int
  v4 = neg.checked v3 : int  @pc 1 [v0, v1 | v3]
  v5 = const[1] : int
  v6 = sub.checked v3, v5 : int  @pc 2 [v0, v1 | v3, v5]
  v7 = sub.checked v6, v5 : int  @pc 3 [v0, v1 | v6, v5]
  return v2
""")
    run(fn, "range")
    neg_full, neg_const = _ops(fn, "neg")
    assert neg_full.checked and not neg_const.checked
    first, second = _ops(fn, "sub")
    assert not first.checked  # -MAX - 1 == MIN
    assert second.checked  # MIN - 1 overflows
    assert analyse(fn).at(first, fn.blocks[1]) == (MIN, MIN)


def test_values_typed_any_are_never_trusted() -> None:
    fn = parse_function("""fn f(v0: any, v1: any) -> any
b0:
  jump b1
b1: preds b0
  v2 = const[1] : int
  v3 = add.checked v1, v2 : any  @pc 0 [v0, v1 | v1, v2]
  return v3
""")
    before = format_function(fn)
    assert REGISTRY["range"].run(fn, PassContext()) is False
    assert format_function(fn) == before


def test_nested_loops_terminate_and_clear_both_counters() -> None:
    src = """fn f(n: int) -> int {
  var s = 0
  var j = 0
  while j < n {
    var k = 0
    while k < j {
      s = s + k * j
      k = k + 1
    }
    j = j + 1
  }
  return s
}
"""
    fn = function(compile_text(src), "f")
    ctx = PassContext()
    run(fn, "range", ctx)
    steps = [a for a in _ops(fn, "add") if a.args[1].op == "const"]
    assert len(steps) == 2 and not any(a.checked for a in steps)
    assert all(m.checked for m in _ops(fn, "mul"))


def _trunc_div(x: int, y: int) -> int:
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y >= 0) else -q


@given(st.integers(-300, 300), st.integers(0, 40), st.integers(-300, 300), st.integers(0, 40), st.sampled_from(["add", "sub", "mul", "neg", "shl", "shr", "band", "mod", "div"]))
@settings(max_examples=300, deadline=None)
def test_interval_arithmetic_contains_every_concrete_result(alo: int, aw: int, blo: int, bw: int, op: str) -> None:
    a, b = (alo, alo + aw), (blo, blo + bw)
    if op in ("shl", "shr"):
        b = (max(b[0], -2) % 70 - 2, max(b[0], -2) % 70 - 2 + bw)  # shifts near and past the legal 0..63
    r = _exact(op, [a, b] if op != "neg" else [a])
    if r is None:
        return
    results = []
    for x in range(a[0], a[1] + 1):
        for y in range(b[0], b[1] + 1) if op != "neg" else [0]:
            if op == "add":
                results.append(x + y)
            elif op == "sub":
                results.append(x - y)
            elif op == "mul":
                results.append(x * y)
            elif op == "neg":
                results.append(-x)
            elif op == "shl":
                results.append(x << y)
            elif op == "shr":
                results.append(x >> y)
            elif op == "band":
                results.append(x & y)
            elif op in ("mod", "div"):
                if y == 0:
                    continue
                # Both rounding conventions must be covered (floored and truncated).
                q = [x // y, _trunc_div(x, y)]
                results += q if op == "div" else [x - y * k for k in q]
    assert all(r[0] <= v <= r[1] for v in results), (op, a, b, r)
