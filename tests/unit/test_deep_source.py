"""Deep and long source never crashes a stage (issue 11, items 1 and 2).

* Long flat chains -- operators, `and`/`or`, `else if`, method, index, call
  and field chains -- of 10 000 links compile (`tvm check`, `tvmc`) and run,
  in TinyLang and in Lox.
* Genuinely nested constructs compile and run up to a documented depth, in
  every stage (parser, resolver, checker, emitter, pre-decoder, and the `.tvm`
  round trip); one level deeper is a clean compile error in `tvm run`, `tvm
  check` and `tvmc` alike, and far deeper too. The depth is the parser's
  MAX_DEPTH (200) for TinyLang, 1500 for Lox, the lexer's for `"${...}"`,
  and MAX_FUNCTION_NESTING (64, the `.tvm` format's) for functions.
* A REPL session survives all of it.

The programs come from source_shapes.py (also the fuzzer's mutations).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from source_shapes import LOX_CHAIN_LINKS, LOX_CHAINS, LOX_FUNCTION_NESTINGS, LOX_NESTINGS, TL_CHAIN_LINKS, TL_CHAINS, TL_FUNCTION_NESTINGS, TL_NESTINGS  # noqa: E402

from tinyvm.cli.main import main, tvmc_main  # noqa: E402
from tinyvm.cli.repl import run_repl  # noqa: E402
from tinyvm.lang.diagnostics import CompileError  # noqa: E402
from tinyvm.lang.driver import compile_program  # noqa: E402
from tinyvm.lang.lox.parser import MAX_NESTING as LOX_MAX_NESTING  # noqa: E402
from tinyvm.bytecode.code import MAX_NESTING as MAX_FUNCTION_NESTING  # noqa: E402  (functions: the .tvm format's limit)
from tinyvm.lang.tinylang.lexer import MAX_INTERP_DEPTH  # noqa: E402
from tinyvm.lang.tinylang.parser import MAX_DEPTH  # noqa: E402

LINKS = 10_000


def tvm(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(list(argv), stdin=io.StringIO(""), stdout=out, stderr=err)
    return rc, out.getvalue(), err.getvalue()


def repl(text: str, lang: str | None = None) -> tuple[str, str]:
    """A REPL session's output (without its prompts) and its errors."""
    out, err = io.StringIO(), io.StringIO()
    assert run_repl(io.StringIO(text), out, err, lang=lang) == 0
    return out.getvalue().replace(">>> ", "").replace("... ", "").rstrip("\n") + "\n", err.getvalue()


def tvmc(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    rc = tvmc_main(list(argv), stderr=err, stdout=io.StringIO())
    return rc, err.getvalue()


def write(tmp_path: Path, name: str, source: str) -> str:
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    return str(path)


def compiles(path: str, source: str) -> bool:
    try:
        compile_program(path, source=source, check_only=True)
    except CompileError:
        return False
    return True


def deepest(path: str, shape, hi: int) -> int:
    """The greatest depth d <= hi at which shape(d) compiles (binary search)."""
    lo = 1
    assert compiles(path, shape(lo)[0])
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if compiles(path, shape(mid)[0]):
            lo = mid
        else:
            hi = mid - 1
    return lo


def assert_runs(path: str, want: str) -> None:
    rc, out, err = tvm("run", path)
    assert (rc, err) == (0, "") and out == want, err[-2000:]


def assert_clean_error(cmd: tuple[str, ...], rc_want: int, message: str) -> None:
    """The command fails with status rc_want, and its first diagnostic is `message`."""
    if cmd[0] == "tvmc":
        rc, err = tvmc(*cmd[1:])
    else:
        rc, _, err = tvm(*cmd)
    assert rc == rc_want, err[-2000:]
    assert "Traceback" not in err
    assert err.splitlines()[0].endswith(message), err[:500]


# --------------------------------------------------------------------------- chains


# Running a chain costs the VM's pre-decoder about 0.1 ms per instruction (a
# 10 000-link chain is 20 000 to 70 000 instructions), so every chain is
# compiled at 10 000 links, and run at 10 000 links where that is quick and at
# 1 000 otherwise. (The fuzzer's long campaign runs chains of 10 000 links.)
QUICK_TO_RUN = {"method", "call", "or", "mixed_postfix", "inheritance_chain"}
LOX_SLOW_TO_RUN = {"add"}


@pytest.mark.parametrize("kind", sorted(TL_CHAINS))
def test_tinylang_chain_of_10000_links_compiles_and_runs(tmp_path, kind):
    source, want = TL_CHAINS[kind](TL_CHAIN_LINKS.get(kind, LINKS))
    path = write(tmp_path, "chain.tl", source)
    compile_program(path, source=source)  # every pass, the emitter and assembler included
    if kind in QUICK_TO_RUN:
        assert_runs(path, want)
    else:
        source, want = TL_CHAINS[kind](1_000)
        assert_runs(write(tmp_path, "chain.tl", source), want)


@pytest.mark.parametrize("kind", sorted(LOX_CHAINS))
def test_lox_chain_compiles_and_runs(tmp_path, kind):
    n = LOX_CHAIN_LINKS.get(kind, LINKS)  # (clox's 16-bit jumps bound some)
    source, want = LOX_CHAINS[kind](n)
    path = write(tmp_path, "chain.lox", source)
    compile_program(path, source=source)
    if kind in LOX_SLOW_TO_RUN:
        source, want = LOX_CHAINS[kind](1_000)
        write(tmp_path, "chain.lox", source)
    assert_runs(path, want)


def test_lox_elseif_chain_is_limited_by_clox_jumps_only(tmp_path):
    """clox recurses for `else if`, so its only limit is its 16-bit jumps
    (never TinyVM's nesting limit)."""
    path = write(tmp_path, "chain.lox", LOX_CHAINS["elseif"](6_000)[0])  # 78 000 bytes of clox code
    rc, _, err = tvm("run", path)
    assert rc == 65 and "Too much code to jump over." in err and "nesting" not in err


# --------------------------------------------------------------------------- nesting


def _tl_limit(kind: str) -> tuple[int, str]:
    if kind in TL_FUNCTION_NESTINGS:
        return MAX_FUNCTION_NESTING, f"functions nested more than {MAX_FUNCTION_NESTING} deep"
    if kind == "interpolation":
        return MAX_INTERP_DEPTH, "string interpolation nested too deeply"
    return MAX_DEPTH, "expression nested too deeply"


@pytest.mark.parametrize("kind", sorted(TL_NESTINGS))
def test_tinylang_nesting_compiles_to_its_limit_and_fails_cleanly_past_it(tmp_path, kind):
    shape = TL_NESTINGS[kind]
    limit, message = _tl_limit(kind)
    path = write(tmp_path, "deep.tl", "")
    d = deepest(path, shape, 2 * limit)
    if kind in TL_FUNCTION_NESTINGS:
        assert d == limit  # exactly the .tvm format's limit
    else:
        assert limit - 8 <= d <= limit  # the enclosing statement takes a level or two
    # The deepest accepted program goes through every stage, and round-trips.
    source, want = shape(d)
    write(tmp_path, "deep.tl", source)
    assert_runs(path, want)
    tvm_path = str(tmp_path / "deep.tvm")
    assert tvmc(path, "-o", tvm_path) == (0, "")
    assert_runs(tvm_path, want)
    # One level deeper: a clean error, the same everywhere; far deeper, the
    # parser stops first.
    write(tmp_path, "deep.tl", shape(d + 1)[0])
    for cmd in (("run", path), ("check", path), ("tvmc", path, "-o", tvm_path)):
        assert_clean_error(cmd, 2, message)
    write(tmp_path, "deep.tl", shape(20 * limit)[0])
    assert_clean_error(("run", path), 2, message if limit >= MAX_DEPTH else "nested too deeply")


@pytest.mark.parametrize("kind", sorted(LOX_NESTINGS))
def test_lox_nesting_compiles_to_its_limit_and_fails_cleanly_past_it(tmp_path, kind):
    shape = LOX_NESTINGS[kind]
    limit = MAX_FUNCTION_NESTING if kind in LOX_FUNCTION_NESTINGS else LOX_MAX_NESTING
    path = write(tmp_path, "deep.lox", "")
    d = deepest(path, shape, limit + 10)
    if kind in LOX_FUNCTION_NESTINGS:
        assert d == limit
    else:
        assert limit - 5 <= d <= limit
    source, want = shape(d)
    write(tmp_path, "deep.lox", source)
    assert_runs(path, want)
    tvm_path = str(tmp_path / "deep.tvm")
    assert tvmc(path, "-o", tvm_path) == (0, "")
    assert_runs(tvm_path, want)
    write(tmp_path, "deep.lox", shape(d + 1)[0])
    for cmd in (("run", path), ("check", path), ("tvmc", path, "-o", tvm_path)):
        assert_clean_error(cmd, 65, "Too much nesting.")
    write(tmp_path, "deep.lox", shape(5 * limit)[0])
    assert_clean_error(("run", path), 65, "Too much nesting.")


def test_functions_at_the_nesting_limit_keep_tuple_constants_in_a_tvm_file(tmp_path):
    """A function 64 deep may hold tuple constants (a record's field names, a
    type check): the .tvm reader counts them apart from the function's depth,
    as the verifier does, so what tvmc writes loads."""
    inner = "fn(x: any) => {a: x, b: [x]}"
    source = "let f = " + "fn() => " * (MAX_FUNCTION_NESTING - 1) + inner + "\nlet v: int = 1\nprint(f" + "()" * (MAX_FUNCTION_NESTING - 1) + "(v))\n"
    path = write(tmp_path, "records.tl", source)
    assert_runs(path, "{a: 1, b: [1]}\n")
    tvm_path = str(tmp_path / "records.tvm")
    assert tvmc(path, "-o", tvm_path) == (0, "")
    assert_runs(tvm_path, "{a: 1, b: [1]}\n")


def _import_chain(tmp_path: Path, n: int) -> str:
    """main imports m0, which imports m1 ... m{n-1}: n + 1 modules nested."""
    for i in range(n - 1):
        write(tmp_path, f"m{i}.tl", f'import "./m{i + 1}" as nxt\nexport fn v() -> int {{\n  return nxt.v() + 1\n}}\n')
    write(tmp_path, f"m{n - 1}.tl", "export fn v() -> int {\n  return 1\n}\n")
    return write(tmp_path, "main.tl", 'import "./m0" as m\nprint(m.v())\n')


def test_imports_nest_to_their_limit_and_fail_cleanly_past_it(tmp_path):
    """The driver compiles imports depth first: a chain of modules each
    importing the next is nesting, limited to MAX_IMPORT_NESTING modules."""
    from tinyvm.lang.nesting import MAX_IMPORT_NESTING

    main_path = _import_chain(tmp_path, MAX_IMPORT_NESTING - 1)
    assert_runs(main_path, f"{MAX_IMPORT_NESTING - 1}\n")
    main_path = _import_chain(tmp_path, MAX_IMPORT_NESTING)
    rc, _, err = tvm("run", main_path)
    assert rc == 2 and "Traceback" not in err
    assert f"m{MAX_IMPORT_NESTING - 2}.tl:1:1: error: imports nested more than {MAX_IMPORT_NESTING} deep" in err


# --------------------------------------------------------------------------- the format's other limits


def test_counts_and_checked_types_past_the_format_limits_are_compile_errors(tmp_path):
    """What the verifier refuses in a .tvm file, the compiler refuses in the
    source: count operands of 65 536 and more, and run-time checks against a
    type whose text is too long or too deeply nested."""
    from tinyvm.bytecode.tvmfile import read_file
    from tinyvm.lang.nesting import MAX_COUNT

    elements = ", ".join(["1"] * (MAX_COUNT - 1))
    path = write(tmp_path, "big.tl", f"let a = [{elements}]\nprint(len(a))\n")
    tvm_path = str(tmp_path / "big.tvm")
    assert tvmc(path, "-o", tvm_path) == (0, "")
    read_file(tvm_path)  # loads: the verifier accepts it
    write(tmp_path, "big.tl", f"let a = [{elements}, 1]\nprint(len(a))\n")
    assert_clean_error(("tvmc", path, "-o", tvm_path), 2, f"too many elements in an array literal ({MAX_COUNT}; at most {MAX_COUNT - 1})")
    fields = ", ".join(f"f{i}: int" for i in range(1000))
    write(tmp_path, "big.tl", f"fn f(x: {{{fields}}}?) {{\n  return x\n}}\nprint(f(nil))\n")
    assert_clean_error(("run", path), 2, "the type of parameter 'x' is too large to check at run time (more than 4096 characters)")
    # An inferred type 300 deep: fine until a value of type any must be checked against it.
    lets = "".join(f"  let a{i} = [a{i - 1}]\n" for i in range(1, 300))
    write(tmp_path, "big.tl", f"fn f(a0: int, z: any) {{\n{lets}  var y = a299\n  y = z\n}}\n")
    assert_clean_error(("run", path), 2, "the type of variable 'y' is too large to check at run time (nested more than 200 deep)")


def test_lox_operand_stack_past_the_format_limit_is_a_compile_error(tmp_path):
    """clox's limits keep Lox's counts within the format's, but not the
    operand stack: calls nested a thousand deep with 255 arguments each."""
    args = ", ".join(f"p{i}" for i in range(254))
    source = f"{{\nfun f({args}) {{ return 1; }}\nvar a = 1;\nprint " + ("f(" + "a," * 254) * 1100 + "a" + ")" * 1100 + ";\n}\n"
    with pytest.raises(CompileError) as e:
        compile_program(write(tmp_path, "stack.lox", source), source=source)
    assert e.value.render() == "[line 1] Error at 'script': Too much nesting."


# --------------------------------------------------------------------------- the REPL


def test_repl_survives_deep_and_long_entries():
    entries = [
        "let x = 1",
        "print(" + "(" * 5000 + "1" + ")" * 5000 + ")",
        "let f = " + "fn() => " * 70 + "1",
        "let v: int" + "?" * 5000 + " = 1",
        "print(x" + " + x" * 3000 + ")",
        "let s = \" a \"",
        "s" + ".trim()" * 3000,
        "print(" + "[" * 300 + "]" * 300 + ")",
        "print(x)",
    ]
    out, errors = repl("\n".join(entries) + "\n")
    assert out == "3001\n\"a\" : string\n1\n"
    assert "Traceback" not in errors and "internal error" not in errors
    assert errors.count("expression nested too deeply") == 3
    assert "functions nested more than 64 deep" in errors


def test_lox_repl_survives_deep_entries():
    entries = ["print " + "(" * 5000 + "1" + ")" * 5000 + ";", "".join(f"fun f{i}() {{ " for i in range(100)) + "}" * 100, "print 2;"]
    out, errors = repl("\n".join(entries) + "\n", lang="lox")
    assert out == "2\n"
    assert errors.count("Too much nesting.") == 2 and "Traceback" not in errors
