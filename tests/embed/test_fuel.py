"""Fuel (vm/limits.py, docs/limits.md): counted in bytecode instructions, the
same on every tier (fused or plain), exact at the stop, per VM and per call."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tinyvm import GuestException, OutOfFuel
from tinyvm.api import VM

# --------------------------------------------------------------------------- random programs

VARS = ["a", "b", "c"]


@st.composite
def expr(draw, depth=0):
    if depth > 2 or draw(st.booleans()):
        return draw(st.one_of(st.sampled_from(VARS), st.integers(-3, 9).map(str)))
    op = draw(st.sampled_from(["+", "-", "*", "/", "%", "<", "==", ">="]))
    left, right = draw(expr(depth + 1)), draw(expr(depth + 1))
    if op in "<==>=":  # keep ints: a comparison becomes 0 or 1
        return f"pick(({left}) {op} ({right}))"
    return f"({left} {op} {right}) % 1000"


@st.composite
def stmt(draw, depth=0):
    kinds = ["assign", "print", "index", "call"] + (["if", "for", "while", "try"] if depth < 2 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "assign":
        return f"{draw(st.sampled_from(VARS))} = {draw(expr())}"
    if kind == "print":
        return f"print({draw(expr())})"
    if kind == "index":  # may fail in the middle of a block (IndexError)
        return f"{draw(st.sampled_from(VARS))} = xs[{draw(expr())}] + {draw(expr())}"
    if kind == "call":
        return f"{draw(st.sampled_from(VARS))} = twice({draw(expr())})"
    body = "\n".join(draw(st.lists(stmt(depth + 1), min_size=1, max_size=3)))
    if kind == "if":
        other = "\n".join(draw(st.lists(stmt(depth + 1), max_size=2)))
        return f"if {draw(expr())} < {draw(expr())} {{\n{body}\n}} else {{\n{other}\n}}"
    if kind == "for":
        return f"for i in 0..{draw(st.integers(0, 6))} {{\n{body}\n}}"
    if kind == "while":
        return f"w{depth} = 0\nwhile w{depth} < {draw(st.integers(0, 5))} {{\nw{depth} = w{depth} + 1\n{body}\n}}"
    return f"try {{\n{body}\n}} catch e {{\nprint(e.message)\n}}"


PRELUDE = """fn pick(c) {
  if c { return 1 }
  return 0
}
fn twice(x) { return x * 2 % 1000 }
let xs = [1, 2, 3]
var a = 1
var b = 2
var c = 3
var w0 = 0
var w1 = 0
"""


programs = st.lists(stmt(), min_size=1, max_size=6).map(lambda ss: PRELUDE + "\n".join(ss) + "\n")


def run(src: str, fuse: bool = True, fuel: int | None = None) -> tuple[str, str, int]:
    """(outcome, output, fuel used by the run) of src in a fresh VM."""
    out = io.StringIO()
    vm = VM(stdout=out, fuse=fuse, meter_fuel=True)
    before = vm.fuel_used
    try:
        vm.run_source(src, fuel=fuel)
        outcome = "ok"
    except GuestException as e:
        outcome = f"{e.class_name}: {e.message}"
    except OutOfFuel:
        outcome = "out of fuel"
    return outcome, out.getvalue(), vm.fuel_used - before


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(programs)
# a block cut at MAX_BLOCK failing at its last instruction, before its meter update
@example(PRELUDE + "a = a\na = xs[((a + a) % 1000 + a) % 1000] + a\n")
def test_fuel_is_the_same_fused_and_plain(src: str) -> None:
    assert run(src, fuse=True) == run(src, fuse=False)


@SETTINGS
@given(programs)
def test_fuel_used_is_enough_and_one_less_is_not(src: str) -> None:
    outcome, output, used = run(src)
    assert run(src, fuel=used) == (outcome, output, used)
    short = run(src, fuel=used - 1)
    assert short[0] == "out of fuel" and short[2] == used - 1
    assert output.startswith(short[1])
    assert run(src, fuse=False, fuel=used - 1) == short  # the same stop on the plain tier


# --------------------------------------------------------------------------- the cost model


def fuel_of(src: str, fuse: bool = True) -> int:
    outcome, _, used = run(src, fuse=fuse)
    assert outcome == "ok", outcome
    return used


def test_every_instruction_costs_one_and_jumps_nothing() -> None:
    # The module's code: LOAD_CONST, STORE_GLOBAL, LOAD_GLOBAL ... RETURN:
    # counted, not timed; `while` adds its loop's instructions per turn, but
    # its back edge (a JUMP) is free.
    base = fuel_of("var i = 0\n")
    one = fuel_of("var i = 0\nwhile i < 1 { i = i + 1 }\n")
    two = fuel_of("var i = 0\nwhile i < 2 { i = i + 1 }\n")
    ten = fuel_of("var i = 0\nwhile i < 10 { i = i + 1 }\n")
    per_turn = two - one
    assert ten - two == 8 * per_turn
    # a turn: LOAD_GLOBAL i, LOAD_CONST, LT, JUMP_IF_FALSE, LOAD_GLOBAL i,
    # LOAD_CONST, ADD, STORE_GLOBAL (and the JUMP back, free)
    assert per_turn == 8
    assert one > base


def test_a_failing_block_counts_up_to_the_failing_instruction() -> None:
    ok = fuel_of("let xs = [1]\nvar x = 0\ntry { x = xs[0] + 1 } catch e { }\n")
    failed = fuel_of("let xs = [1]\nvar x = 0\ntry { x = xs[5] + 1 } catch e { }\n")
    # xs[5] fails at GET_INDEX: `+ 1` and the store are not run, the jump over
    # the handler neither; the handler's POP runs instead.
    assert failed < ok
    assert fuel_of("let xs = [1]\nvar x = 0\ntry { x = xs[5] + 1 } catch e { }\n", fuse=False) == failed


MANY = 'let xs = []\nfor i in 0..6400 { xs.push("x") }\nprint("start")\n'


def test_builtins_charge_for_their_work() -> None:
    joined = fuel_of(MANY + 'let s = xs.join(",")\n')
    not_joined = fuel_of(MANY + 'let s = ""\n')
    # the call's few instructions, and one unit per 64 elements joined
    assert 6400 // 64 < joined - not_joined < 6400 // 64 + 10
    short = fuel_of('var s = "ab"\nfor i in 0..4 { s = s + s }\n')
    long = fuel_of('var s = "ab"\nfor i in 0..14 { s = s + s }\n')
    per_turn = short - fuel_of('var s = "ab"\nfor i in 0..3 { s = s + s }\n')  # (joined lengths below 64 are free)
    # turn k (0-based) joins 2 ** (k + 2) characters: from 64 on, it pays
    assert long - short == 10 * per_turn + sum(2 ** (k + 2) // 64 for k in range(4, 14))


def test_a_charge_that_cannot_be_paid_stops_before_the_work() -> None:
    src = MANY + 'let s = xs.join(",")\nprint("done")\n'
    used = fuel_of(src)
    outcome, output, spent = run(src, fuel=used - 60)  # (the join charges 100)
    assert (outcome, output) == ("out of fuel", "start\n")
    assert spent < used - 90  # the join's charge was refused, before its work


# --------------------------------------------------------------------------- tank, per call, refill


SPIN = "fn spin(n) {\n  var i = 0\n  while i < n { i = i + 1 }\n  return i\n}\n"


def test_the_tank_is_shared_by_runs_and_can_be_refilled() -> None:
    vm = VM(fuel=10_000)
    vm.run_source(SPIN)
    left = vm.fuel
    assert 0 < left < 10_000
    assert vm.call("spin", 100) == 100
    assert vm.fuel < left
    with pytest.raises(OutOfFuel) as info:
        vm.call("spin", 10**6)
    assert vm.fuel == 0
    assert "out of fuel: the program used its" in str(info.value)
    vm.fuel = 1_000_000  # refill
    assert vm.call("spin", 1000) == 1000
    assert 0 < vm.fuel < 1_000_000


def test_per_call_fuel_is_a_cap_within_the_tank() -> None:
    vm = VM(meter_fuel=True)
    vm.run_source(SPIN)
    assert vm.fuel is None
    start = vm.fuel_used
    with pytest.raises(OutOfFuel) as info:
        vm.call("spin", 10**9, fuel=5000)
    assert vm.fuel_used - start == 5000
    assert info.value.message == "out of fuel: the program used its 5000 instructions"
    assert vm.call("spin", 10, fuel=5000) == 10  # the next call is not short of anything


def test_limits_are_not_guest_catchable() -> None:
    out = io.StringIO()
    vm = VM(stdout=out, meter_fuel=True)
    vm.run_source(SPIN + 'fn guarded() {\n  try { spin(10000000) } catch e { print("caught") } finally { print("finally") }\n}\n')
    with pytest.raises(OutOfFuel):
        vm.call("guarded", fuel=10_000)
    assert out.getvalue() == ""


def test_fuel_used_without_a_limit_counts_the_same() -> None:
    unlimited = VM(meter_fuel=True)
    unlimited.run_source(SPIN)
    limited = VM(fuel=10**12)
    limited.run_source(SPIN)
    a, b = unlimited.fuel_used, limited.fuel_used
    unlimited.call("spin", 5000)
    limited.call("spin", 5000)
    assert unlimited.fuel_used - a == limited.fuel_used - b > 5000


def test_a_vm_that_does_not_count_fuel_says_so() -> None:
    # Counting is compiled into the decoded code (vm/limits.py): a VM made
    # without fuel runs without it, and refuses fuel limits with a clear error.
    vm = VM()
    vm.run_source(SPIN)
    assert vm.fuel_used is None and vm.fuel is None
    with pytest.raises(ValueError, match=r"VM\(fuel=N\) or VM\(meter_fuel=True\)"):
        vm.call("spin", 10, fuel=1000)
    with pytest.raises(ValueError, match="does not count fuel"):
        vm.fuel = 1000
    assert vm.call("spin", 10) == 10
    with pytest.raises(ValueError):
        VM(fuel=10, meter_fuel=False)


def test_bad_fuel_values_are_refused() -> None:
    vm = VM(meter_fuel=True)
    with pytest.raises(ValueError):
        vm.fuel = -1
    with pytest.raises(ValueError):
        VM(fuel=1.5)


# --------------------------------------------------------------------------- superblocks

# Shapes where a block ending in a conditional jump continues into its
# fall-through block (vm/blocks.py, a superblock): the jump path, the fall
# path, a failing condition, a failure in the second block, loops around
# them. Each must use the fuel of the plain tier, and stop exactly at every
# fuel level with the plain tier's output.
SHAPES = [
    "var i = 0\nvar s = 0\nwhile i < 9 {\n  s = s + i * i % 7\n  i += 1\n}\nprint(s)\n",
    "var i = 0\nwhile i < 5 {\n  i += 1\n  if i % 2 == 0 { continue }\n  if i > 3 { break }\n  print(i)\n}\n",
    "let xs = [1, 2, 3]\nvar i = 0\nwhile i < 6 {\n  try {\n    var v = xs[i] + i\n    print(v)\n  } catch e { print(e.message) }\n  i += 1\n}\n",
    "fn idf(x) { return x }\nvar c = 0\ntry {\n  if idf(3) { c = c + 1 }\n} catch e { print(e.message) }\nprint(c)\n",
    "fn f(n) {\n  if n < 2 { return n }\n  return f(n - 1) + f(n - 2)\n}\nprint(f(9))\n",
    "var a = 1\nvar b = 0\nfor i in 0..4 {\n  for j in 0..3 {\n    if a > 0 and b < 5 or i == j { b = b + j } else { a = a - 1 }\n  }\n}\nprint(a, b)\n",
    "fn gen(n) {\n  var i = 0\n  while i < n {\n    yield i * 2\n    i += 1\n  }\n}\nfor v in gen(4) { print(v) }\n",
    "let xs = [5, 6]\nvar k = 0\nwhile k < 4 {\n  k = k + 1\n  if k > 1 { print(xs[k] + k) }\n}\n",
]


@pytest.mark.parametrize("src", SHAPES)
def test_superblock_shapes_count_and_stop_as_the_plain_tier(src: str) -> None:
    outcome, output, used = run(src)
    assert (outcome, output, used) == run(src, fuse=False)
    for fuel in range(used):
        stopped = run(src, fuel=fuel)
        assert stopped == run(src, fuse=False, fuel=fuel), fuel
        assert stopped[0] == "out of fuel" and stopped[2] == fuel
    assert run(src, fuel=used) == (outcome, output, used)


def test_a_loop_condition_and_body_are_one_dispatch() -> None:
    """The while loop's condition and body run as one op (fewer dispatches:
    the preemption budget counts them), with the fuel of every instruction."""
    src = "var i = 0\nvar s = 0\nwhile i < 1000 {\n  s = s + i\n  i = i + 1\n}\nprint(s)\n"
    vm = VM(stdout=io.StringIO(), meter_fuel=True)
    vm.run_source(src)
    calls = 0
    import sys

    def count(frame, event, arg):
        nonlocal calls
        if event == "call" and frame.f_code.co_filename == "<tinyvm block>" and frame.f_code.co_name == "f":
            calls += 1

    vm2 = VM(stdout=io.StringIO(), meter_fuel=True)
    sys.setprofile(count)
    try:
        vm2.run_source(src)
    finally:
        sys.setprofile(None)
    assert calls < 1100  # one block per iteration (two without superblocks)
    assert vm2.fuel_used == vm.fuel_used == run(src, fuse=False)[2]
