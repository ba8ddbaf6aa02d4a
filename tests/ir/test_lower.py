"""`tvmc -O`: IR lowered back to bytecode (ir/lower.py, ir/optimize.py).

Round trip: every code object of the benchmarks, examples and language tests
that builds is lowered with no passes and must pass the bytecode verifier.
Behaviour: the lowered program prints, fails and traces exactly as the
original (hand-picked cases that need each part of the lowering: the swap
problem, handlers, closures, loops; then hypothesis-generated programs).
The whole language suite runs the same way under TVM_OPT=1 in CI.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import helpers
import pytest
from helpers import ROOT, compile_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyvm.bytecode.code import Code
from tinyvm.bytecode.disasm import format_module
from tinyvm.bytecode.verifier import verify_code
from tinyvm.cli.main import main, tvmc_main
from tinyvm.ir.build import Unsupported, build
from tinyvm.ir.lower import Refused, lower
from tinyvm.ir.optimize import OptStats, optimize_bundle
from tinyvm.lang.diagnostics import CompileError
from tinyvm.lang.driver import compile_program

GOLDEN = Path(__file__).parent / "lowered"
# The refusals the lowering may give on the test programs (each documented in
# docs/optimizer.md): anything else is a bug.
KNOWN_REFUSALS = ("a handler keeps stack values", "a handler that only an asynchronous error reaches", "values a handler needs in one slot interfere")
# tldjit: a function with parameter defaults keeps its bytecode (its prologue's
# `passed` has no bytecode of its own: JUMP_IF_PASSED tests a slot, not a value).
KNOWN_REFUSALS += ("op passed",)


def _programs() -> list[Path]:
    pats = ["benchmarks/awfy/*.tl", "benchmarks/programs/*.tl", "examples/*.tl", "examples/*.lox", "tests/lang/**/*.tl", "tests/lang/**/*.lox"]
    return sorted({p for pat in pats for p in ROOT.glob(pat)})


def _lower_all(bundle, for_range: bool = True) -> tuple[int, list[str]]:
    """Build and lower (no passes) every code object; (lowered, refusals)."""
    lowered, refusals = 0, []
    for m in bundle.modules.values():
        stack = [m.init]
        while stack:
            code = stack.pop()
            stack += [k for k in code.consts if isinstance(k, Code)]
            try:
                fn = build(code)
            except Unsupported:
                continue
            try:
                new = lower(fn, code, for_range)
            except Refused as e:
                refusals.append(str(e))
                continue
            verify_code(new, len(m.globals))  # raises VerifyError
            lowered += 1
    return lowered, refusals


def test_every_function_that_builds_lowers_and_verifies() -> None:
    total, refused = 0, []
    for path in _programs():
        try:
            bundle = compile_path(path)
        except CompileError:  # (the language tests include programs that must not compile)
            continue
        n, r = _lower_all(bundle)
        total += n
        refused += r
    assert total > 1000
    assert set(refused) <= set(KNOWN_REFUSALS), set(refused) - set(KNOWN_REFUSALS)
    assert len([r for r in refused if r != "op passed"]) < 40


# -- running ----------------------------------------------------------------------


def run(source: str, *flags: str, name: str = "prog.tl") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["run", *flags, "-e", source, "--lang", "lox" if name.endswith(".lox") else "tinylang"], stdin=io.StringIO(""), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def same(source: str, passes: str = "none", lang: str = "prog.tl") -> tuple[int, str, str]:
    """Run unoptimized and with -O; the two must agree exactly. Returns the result."""
    plain = run(source, name=lang)
    opt = run(source, "-O", "--passes", passes, name=lang)
    assert opt == plain
    return plain


def printed(bundle) -> str:
    """What a bundle prints, run by a VM of its own."""
    from tinyvm.api import VM

    out = io.StringIO()
    vm = VM(stdout=out)
    try:
        vm.run_bundle(bundle)
    finally:
        vm.close()
    return out.getvalue()


def lowered_code(source: str, name: str) -> Code:
    bundle = compile_program("prog.tl", source=source)
    new = optimize_bundle(bundle, [])
    stack = [new.modules[new.main].init]
    while stack:
        c = stack.pop()
        if c.name == name:
            return c
        stack += [k for k in c.consts if isinstance(k, Code)]
    raise AssertionError(name)


SWAP = """
fn f(n: int) -> string {
  var a = 1
  var b = 2
  var i = 0
  while i < n {
    let t = a
    a = b
    b = t
    i = i + 1
  }
  return "${a} ${b}"
}
print(f(0), f(1), f(2), f(5))
"""


def test_phi_swap_is_a_parallel_copy() -> None:
    # a and b swap on the back edge: copied one after the other they would
    # both end up with the same value.
    assert same(SWAP) == (0, "1 2 2 1 1 2 2 1\n", "")


def test_error_positions_and_traces_are_the_originals() -> None:
    src = "fn g(x: int) -> int {\n  let y = x * 2\n  return y / (x - 3)\n}\nfn f(n: int) -> int { return g(n) + 1 }\nprint(f(1))\nprint(f(3))\n"
    status, out, err = same(src)
    assert status == 1 and out == "0\n"
    assert "<string>:3:12" in err and "at g" in err and "at f" in err


HANDLERS = """
fn f(xs: [int], i: int) -> string {
  var acc = "start"
  try {
    acc = "in"
    let v = xs[i]
    acc = "got ${v}"
    if v == 0 { throw ValueError("zero") }
  } catch e {
    if e is ValueError { return "value error after ${acc}" }
    return "error after ${acc}: ${e.message}"
  } finally {
    print("finally", acc)
  }
  return acc
}
print(f([1, 2], 0))
print(f([0], 0))
print(f([1], 5))
"""


def test_handlers_catch_what_they_caught() -> None:
    status, out, _ = same(HANDLERS)
    assert status == 0 and "value error after got 0" in out and "error after in" in out


def test_closures_capture_the_same_cells() -> None:
    src = """
fn counter(start: int) -> fn() -> int {
  var n = start
  let inc = fn() -> int { n = n + 1; return n }
  n = n + 10
  return inc
}
let c = counter(5)
print(c(), c())
var fs = []
for i in 0..3 { fs.push(fn() -> int { return i * 10 }) }
for f in fs { print(f()) }
"""
    assert same(src)[0] == 0


def test_lox_truthiness_and_classes() -> None:
    src = """
class A { init(x) { this.x = x; } get() { if (this.x) return this.x; return "none"; } }
var a = A(nil); var b = A(3);
print a.get(); print b.get();
var i = 0; var s = 0;
while (i < 10) { if (i and i - 5) s = s + i; i = i + 1; }
print s;
print !nil;
"""
    assert same(src, lang="prog.lox")[0] == 0


FOR_IN = """
fn f(xs: [int]) -> int {
  var s = 0
  for x in xs {
    if x == 3 { break }
    for y in [1, 2] {
      if y == x { return s * 100 }
      s = s + y
    }
    s = s + x
  }
  return s
}
print(f([1, 5, 3, 9]), f([7, 2]), f([]))
"""


def test_for_in_iterators_stay_on_the_stack_and_leave_with_break_and_return() -> None:
    assert same(FOR_IN) == (0, "0 1100 0\n", "")
    code = lowered_code(FOR_IN, "f")
    from tinyvm.bytecode.disasm import format_code

    listing = format_code(code)
    # Each loop's GET_ITER is its only one: no iterator is reloaded per iteration.
    assert listing.count("GET_ITER") == 2 and "FOR_ITER" in listing
    assert code.nlocals == 5  # f, xs, s, x, y: the iterators have no slots


def test_int64_overflow_still_raises() -> None:
    src = "var x = 9223372036854775800\nfor i in 0..20 { x = x + 1 }\nprint(x)\n"
    status, _, err = same(src)
    assert status == 1 and "overflow" in err.lower()


def test_lowered_code_uses_the_guest_slots_and_keeps_operands_on_the_stack() -> None:
    code = lowered_code("fn f(a: int, b: int) -> int { let c = a * b\n return c + a }\nprint(f(2, 3))\n", "f")
    listing = format_module_like(code)
    # Parameters are read from their own slots, the product stays on the stack.
    assert "STORE_LOCAL" not in listing or "(c)" in listing
    assert code.nlocals == 4  # f, a, b, c: no temporaries


def format_module_like(code: Code) -> str:
    from tinyvm.bytecode.disasm import format_code

    return format_code(code)


# -- the command line ---------------------------------------------------------------


def test_tvmc_O_writes_a_program_that_runs_the_same(tmp_path: Path) -> None:
    src = tmp_path / "p.tl"
    src.write_text(SWAP, encoding="utf-8")
    err = io.StringIO()
    assert tvmc_main(["-O", "--stats", str(src), "-o", str(tmp_path / "p.tvm")], stderr=err, stdout=io.StringIO()) == 0
    assert err.getvalue().startswith("-O: 2 of 2 code objects lowered")
    out = io.StringIO()
    assert main(["run", str(tmp_path / "p.tvm")], stdout=out, stderr=io.StringIO()) == 0
    assert out.getvalue() == "1 2 2 1 1 2 2 1\n"


def test_stats_name_what_was_kept() -> None:
    err = io.StringIO()
    src = "async fn f() -> int { return 1 }\nprint(await spawn f())\n"
    assert main(["run", "-O", "--stats", "-e", src], stdout=io.StringIO(), stderr=err) == 0
    assert "kept: 1 unsupported AWAIT" in err.getvalue()


def test_a_bad_pass_list_is_a_usage_error() -> None:
    err = io.StringIO()
    assert main(["run", "-O", "--passes", "nonesuch", "-e", "print(1)"], stdout=io.StringIO(), stderr=err) == 64
    assert "unknown pass 'nonesuch'" in err.getvalue()


def test_tvm_opt_env_turns_on_O(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TVM_OPT", "1")
    monkeypatch.setenv("TVM_OPT_PASSES", "none")
    err = io.StringIO()
    assert main(["run", "--stats", "-e", "print(1)"], stdout=io.StringIO(), stderr=err) == 0
    assert "-O: 1 of 1 code objects lowered" in err.getvalue()


# -- golden disassembly ---------------------------------------------------------------

GOLDEN_INPUTS = sorted(GOLDEN.glob("*.tl"))


@pytest.mark.parametrize("path", GOLDEN_INPUTS, ids=[p.name for p in GOLDEN_INPUTS])
def test_golden_disassembly(path: Path) -> None:
    bundle = optimize_bundle(compile_path(path), [])
    got = format_module(bundle.modules[bundle.main])
    expected = path.with_suffix(".dis")
    if os.environ.get("TVM_UPDATE_GOLDEN") == "1":
        expected.write_text(got, encoding="utf-8")
    assert got == expected.read_text(encoding="utf-8")


# -- generated programs ----------------------------------------------------------------

NAMES = ["a", "b", "c"]


# (the shared generators, with more int64 edges and an operator more)
LEAVES = (*helpers.LEAVES, "-9223372036854775807")
OPS = (*helpers.OPS, "^")


def expr():
    return helpers.expr(0, LEAVES, OPS)


def cond():
    return helpers.cond(LEAVES, OPS)


@st.composite
def block(draw, depth: int = 0) -> list[str]:
    lines = []
    kinds = ["assign", "assign", "swap", "if", "while", "for", "forin", "return", "try", "closure", "print", "and"]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(kinds if depth < 3 else ["assign", "return", "print"]))
        if kind == "assign":
            lines.append(f"{draw(st.sampled_from(NAMES))} = {draw(expr())}")
        elif kind == "swap":
            x, y = draw(st.permutations(NAMES))[:2]
            lines.append(f"let t{depth} = {x}\n{x} = {y}\n{y} = t{depth}")
        elif kind == "print":
            lines.append(f'print("{depth}", {draw(expr())})')
        elif kind == "return":
            lines.append(f"if {draw(cond())} {{ return {draw(expr())} }}")
        elif kind == "if":
            lines += [f"if {draw(cond())} {{", *draw(block(depth + 1)), "} else {", *draw(block(depth + 1)), "}"]
        elif kind == "while":
            # Bounded: every loop ends (fuel would differ between the two runs).
            lines += [f"var k{depth} = 0", f"while k{depth} < 4 and {draw(cond())} {{", f"k{depth} = k{depth} + 1", *draw(block(depth + 1)), "}"]
        elif kind == "for":
            lines += [f"for i{depth} in {draw(st.integers(-1, 3))}..{draw(st.integers(0, 4))} {{", f"a = a + i{depth}", *draw(block(depth + 1)), "}"]
        elif kind == "forin":
            lines += [f"for x{depth} in [a, {draw(expr())}, c] {{", f"if x{depth} == {draw(expr())} {{ break }}", *draw(block(depth + 1)), "}"]
        elif kind == "and":
            lines.append(f"if ({draw(cond())}) and ({draw(cond())}) or a > b {{ c = c + 1 }}")
        elif kind == "try":
            lines += ["try {", *draw(block(depth + 1)), "} catch e {", f'print("caught", {draw(expr())})', *draw(block(depth + 1)), "}"]
        else:
            lines += [f"let g{depth} = fn(x: int) -> int {{ return x + {draw(st.sampled_from(NAMES))} }}", f"{draw(st.sampled_from(NAMES))} = g{depth}({draw(expr())})"]
    return lines


@st.composite
def program(draw) -> str:
    body = draw(block())
    return "fn f(a: int, b: int) -> int {\nvar c = a\n" + "\n".join(body) + "\nreturn a + b + c\n}\nprint(f(1, 2))\nprint(f(-5, 9223372036854775807))\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program())
def test_generated_programs_run_the_same_optimized(source: str) -> None:
    same(source)


def test_refusals_are_counted_not_fatal() -> None:
    stats = OptStats()
    bundle = compile_program("p.tl", source="fn f() { yield 1 }\nprint(1)\n")
    optimize_bundle(bundle, [], stats)
    assert stats.kept and stats.lowered >= 1
    assert "unsupported YIELD" in stats.line()


def test_a_cancellation_between_raising_instructions_reaches_the_handler() -> None:
    # A busy fiber is cancelled at a preemption point, which can be an
    # instruction that cannot raise: the handler table must still cover it.
    src = (ROOT / "tests/lang/09_concurrency/cancel_busy.tl").read_text(encoding="utf-8")
    assert "spin finally" in same(src)[1]


def test_every_function_lowers_without_for_range_too() -> None:
    # The fallback when FOR_RANGE's pinned slots do not fit must verify as well.
    for path in sorted(ROOT.glob("benchmarks/awfy/*.tl")) + sorted(ROOT.glob("examples/*.tl")):
        lowered, _ = _lower_all(compile_path(path), for_range=False)
        assert lowered


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_block_order_lowers_to_the_same_behaviour(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Passes may leave blocks in any order: the layout must not depend on it.
    import random

    from tinyvm.ir import optimize

    rng = random.Random(seed)

    def shuffled(fn, names, ctx):
        rest = fn.blocks[1:]
        rng.shuffle(rest)
        fn.blocks[1:] = rest
        return fn

    monkeypatch.setattr(optimize, "run_pipeline", shuffled)
    for src in (SWAP, FOR_IN, HANDLERS):
        bundle = compile_program("prog.tl", source=src)
        assert printed(optimize_bundle(bundle, [])) == printed(bundle)


def test_a_code_object_too_large_for_the_ir_keeps_its_bytecode(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinyvm.ir import optimize

    monkeypatch.setattr(optimize, "MAX_MERGE_SIZE", 5)
    stats = OptStats()
    bundle = compile_program("p.tl", source="fn f(n: int) -> int { var s = 0\n for i in 0..n { s = s + i }\n return s }\nprint(f(4))\n")
    new = optimize_bundle(bundle, [], stats)
    assert stats.kept == {"too large to optimize": 1} and stats.lowered == 1  # f kept, the top level lowered
    f = next(k for k in new.modules[new.main].init.consts if isinstance(k, Code))
    g = next(k for k in bundle.modules[bundle.main].init.consts if isinstance(k, Code))
    assert f is g


def test_a_counted_loop_keeps_for_range_when_a_pass_dropped_its_range(monkeypatch: pytest.MonkeyPatch) -> None:
    # A pass that proves both ends ints may delete the RANGE (its result is
    # unused): the lowering then emits one itself, or the verifier could not
    # prove FOR_RANGE's slots ints.
    from tinyvm.bytecode.disasm import format_code
    from tinyvm.ir import optimize

    def drop_ranges(fn, names, ctx):
        for b in fn.blocks:
            b.instrs = [i for i in b.instrs if i.op not in ("range", "range_incl")]
        return fn

    monkeypatch.setattr(optimize, "run_pipeline", drop_ranges)
    src = "fn f(n: int) -> int { var s = 0\n for i in 0..n { s = s + i }\n for j in 1..=n { s = s * j }\n return s }\nprint(f(5))\n"
    stats = OptStats()
    new = optimize_bundle(compile_program("p.tl", source=src), [], stats)
    assert stats.kept == {}
    f = next(k for k in new.modules[new.main].init.consts if isinstance(k, Code))
    listing = format_code(f)
    assert listing.count("FOR_RANGE") == 2 and "RANGE_INCL" in listing
    assert printed(new) == run(src)[1] == "1200\n"


def test_an_inclusive_counted_loop_ending_at_int64_max_keeps_for_range() -> None:
    # `for i in a..=MAX`: the interpreter's FOR_RANGE leaves the loop after
    # i = MAX (its counter MAX + 1 a Python int); the IR's step is a checked
    # add (ir/build.py), which ADD would lower to an OverflowError. So the
    # lowering gives the loop its FOR_RANGE back -- also when gvn made the
    # step's 1 the function's one constant 1 (`n += 1` shares it) -- and
    # refuses the loop without it (the code object keeps its bytecode).
    from tinyvm.bytecode.disasm import format_code

    src = "fn f(a: int, b: int) -> int { var n = 0\n for i in a..=b { n += 1 }\n return n }\nprint(f(9223372036854775805, 9223372036854775807), f(1, 3))\n"
    stats = OptStats()
    new = optimize_bundle(compile_program("p.tl", source=src), None, stats)
    assert stats.kept == {} and stats.lowered == 2  # (f and the module: nothing kept its bytecode)
    f = next(k for k in new.modules[new.main].init.consts if isinstance(k, Code))
    assert "FOR_RANGE" in format_code(f) and "ADD" in format_code(f)
    assert printed(new) == run(src)[1] == "3 3\n"
    code = next(k for k in compile_program("p.tl", source=src).modules["p"].init.consts if isinstance(k, Code))
    with pytest.raises(Refused, match="inclusive counted loop"):
        lower(build(code), code, for_range=False)
