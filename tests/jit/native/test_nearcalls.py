"""Direct calls under the small code model (jit/native/nearcalls.py; docs/native.md, "Numbers").

Structure: a module of integer functions calling each other compiles to an
object file with no relocation (its calls are direct `call` instructions,
resolved by the assembler), and one with a float constant or a C call
keeps the large model (its object has relocations, which MCJIT resolves);
both run right, deep recursion and failures inside it included.
"""

from __future__ import annotations

import io

import pytest

pytest.importorskip("llvmlite")

from native_helpers import same

from tinyvm.api import VM
from tinyvm.jit.native import codegen, nearcalls

FIB = """
fn fib(n: int) -> int {
  if n < 2 { return n }
  return fib(n - 1) + fib(n - 2)
}
"""


def objects(src: str, monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bool]]:
    """Run src on native-eager: for each module compiled, (its object file,
    whether nearcalls chose the small model for it)."""
    got: list[tuple[bytes, bool]] = []
    orig = nearcalls.emit

    def emit(mod, text, tm_small, tm_large):  # type: ignore[no-untyped-def]
        obj = orig(mod, text, tm_small, tm_large)
        got.append((obj, nearcalls.candidate(text, mod) and nearcalls.self_contained(obj)))
        return obj

    monkeypatch.setattr(nearcalls, "emit", emit)
    monkeypatch.setenv("TVM_NATIVE_CACHE", "off")
    out = io.StringIO()
    vm = VM(stdout=out, jit="native-eager")
    vm.run_source(src, "t.tl")
    objects.out = out.getvalue()  # type: ignore[attr-defined]
    return got


def test_an_integer_recursion_compiles_without_relocations(monkeypatch: pytest.MonkeyPatch) -> None:
    got = objects(FIB + "print(fib(20))\n", monkeypatch)
    assert objects.out == "6765\n"  # type: ignore[attr-defined]
    assert got and all(small for _, small in got), got
    obj = got[0][0]
    assert nearcalls.self_contained(obj)
    # (the large model's object of the same IR has relocations: the calls' movabs)
    llvm = codegen.load_llvm()
    cg = codegen.Codegen()
    assert b".rela" in cg.tm.emit_object(llvm.parse_assembly("define i64 @g() {\n  ret i64 1\n}\ndefine i64 @f() {\n  %x = call i64 @g()\n  ret i64 %x\n}\n"))


def test_float_constants_and_c_calls_keep_the_large_model(monkeypatch: pytest.MonkeyPatch) -> None:
    src = "fn half(x: float) -> float { return x * 0.5 + 1.25 }\nfn m(x: float, y: float) -> float { return x % y }\nprint(half(3.0), m(7.5, 2.0))\n"
    got = objects(src, monkeypatch)
    assert objects.out == "2.75 1.5\n"  # type: ignore[attr-defined]
    assert got and not any(small for _, small in got), got
    assert all(not nearcalls.self_contained(obj) for obj, _ in got)


def test_candidate_reads_the_ir() -> None:
    llvm = codegen.load_llvm()
    ints = "declare double @llvm.sqrt.f64(double)\ndefine i64 @f(i64 %x) {\n  %y = add i64 %x, 1\n  ret i64 %y\n}\n"
    mod = llvm.parse_assembly(ints)
    assert nearcalls.candidate(ints, llvm.parse_assembly(ints.split("\n", 1)[1]))
    assert not nearcalls.candidate(ints, mod)  # (a declaration the passes did not drop: a named symbol)
    fl = "define double @f(double %x) {\n  %y = fadd double %x, 1.5\n  ret double %y\n}\n"
    assert not nearcalls.candidate(fl, llvm.parse_assembly(fl))
    c = "declare i64 @puts(i64)\ndefine i64 @f(i64 %x) {\n  %y = call i64 @puts(i64 %x)\n  ret i64 %y\n}\n"
    assert not nearcalls.candidate(c, llvm.parse_assembly(c))
    assert not nearcalls.self_contained(b"not an object file")


def test_deep_recursion_and_a_failure_inside_it_under_the_small_model() -> None:
    # (the depth runs out natively several times before the guest limit; the
    # overflow fails 60 frames deep: every frame rebuilt, the same error and trace)
    same(
        """
fn down(n: int, acc: int) -> int {
  if n == 0 { return acc }
  return down(n - 1, acc + 1)
}
fn big(n: int, x: int) -> int {
  if n == 0 { return x * x }
  return big(n - 1, x) + 1
}
print(down(25000, 0))
print(big(60, 4000000000))
""",
        "down",
        "big",
    )


def test_jit_dump_shows_the_direct_call_and_the_model() -> None:
    from native_helpers import cli

    out = cli(["jit-dump", "--native", "-e", FIB + "print(fib(10))\n"])[1]
    asm = out.split("--- machine code ---")[1]
    assert "; code model: small (direct calls, nearcalls.py)" in asm and "callq\tf0" in asm and "movabsq\t$f0" not in asm, asm
    out = cli(["jit-dump", "--native", "-e", "fn half(x: float) -> float { return x * 0.5 }\nprint(half(3.0))\n"])[1]
    assert "; code model: large" in out.split("--- machine code ---")[1], out
