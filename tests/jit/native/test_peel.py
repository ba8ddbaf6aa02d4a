"""The base case of a small recursion tested by its caller (jit/native/peel.py).

Structure: fib's inlined level calls `@f0w`, the function's own pure first
blocks and base case, which calls the whole function past them; nothing is
peeled where the first blocks do something (a checked operation, fuel
counting on a metered VM). Behaviour: results, failures with every frame
rebuilt, and fuel totals stay those of the interpreter.
"""

from __future__ import annotations

import pytest

pytest.importorskip("llvmlite")

from native_helpers import both, cli, module_texts, same, used

from tinyvm.jit.native import peel

FIB = """
fn fib(n: int) -> int {
  if n < 2 { return n }
  return fib(n - 1) + fib(n - 2)
}
"""


def ir(src: str, monkeypatch: pytest.MonkeyPatch, **vm: object) -> str:
    """The LLVM IR text (before LLVM's passes) of the module compiled for src."""
    texts = module_texts(src, monkeypatch, **vm)
    assert texts
    return texts[0]


def test_the_inlined_level_tests_the_base_case_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    text = ir(FIB + "print(fib(15))\n", monkeypatch)
    w = text.split("define internal {i64, i64} @f0w(i64* %ctx, i64 %cd, i64 %v1) alwaysinline {")[1].split("\n}\n")[0]
    assert "ret {i64, i64}" in w and "peel:\n  %peel.r = call {i64, i64} @f0(i64* %ctx, i64 %cd, i64 %v1)" in w, w
    assert "load " not in w and "store " not in w and "@llvm." not in w, w  # (pure: nothing the VM sees)
    copy = text.split("define internal {i64, i64} @f0r(")[1].split("\n}\n")[0]
    assert "call {i64, i64} @f0w(" in copy and "call {i64, i64} @f0(" not in copy, copy


def test_nothing_is_peeled_past_a_checked_operation(monkeypatch: pytest.MonkeyPatch) -> None:
    src = "fn g(n: int) -> int {\n  let m = n * 3\n  if m < 6 { return m }\n  return g(n - 1) + g(n - 2)\n}\nprint(g(12))\n"
    text = ir(src, monkeypatch)
    assert "@f0r(" in text and "@f0w(" not in text  # (the entry multiplies with an overflow check: a call)


def test_nothing_is_peeled_when_fuel_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    text = ir(FIB + "print(fib(15))\n", monkeypatch, meter_fuel=True)
    assert "@f0r(" in text and "@f0w(" not in text  # (every block counts fuel first: a load and a store)


def test_peeled_returns_failures_and_fuel_agree_with_the_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    # The base case (`return x`) is peeled; `x * 2` overflows 62 frames down
    # the first descent, inside the inlined level or the function itself.
    src = """
fn f(n: int, x: int) -> int {
  if n < 2 { return x }
  return f(n - 1, x * 2) + f(n - 2, x)
}
print(f(12, 1))
print(f(25, 1))
print(f(70, 3))
"""
    assert "@f0w(" in ir(src.split("print(f(70")[0], monkeypatch)
    code, out, err = same(src, "f")
    assert code != 0 and "OverflowError" in err and len(out.splitlines()) == 2, (out, err)
    assert any(" native frames): " in x for x in both.log), both.log  # (every native frame rebuilt)
    want = used(src, "off")[:2]
    n, got, log = used(src, "native-eager")
    assert (n, got) == want and any(x.startswith("jit: native f in ") for x in log), (n, got, want, log)


def test_peeled_text_is_the_functions_own() -> None:
    head = "define internal {i64, i64} @f3(i64* %ctx, i64 %cd, i64 %v1) {"
    body = "entry:\n  br label %B0\nB0:\n  %v2 = icmp eq i64 %v1, 0\n  br i1 %v2, label %B1, label %B2\nB1:\n  %r = insertvalue {i64, i64} undef, i64 7, 0\n  %s = insertvalue {i64, i64} %r, i64 %cd, 1\n  ret {i64, i64} %s\nB2:\n  %c = call {i64, i64} @f3(i64* %ctx, i64 %cd, i64 %v1)\n  ret {i64, i64} %c\n}\n"
    w = peel.peeled("f3", head, body)
    assert w is not None and "B2:" not in w and "label %B1, label %peel" in w and "call {i64, i64} @f3(i64* %ctx, i64 %cd, i64 %v1)" in w, w
    assert peel.peeled("f3", head, body.replace("icmp eq", "load i64, i64* %ctx ;")) is None
    assert cli(["run", "--jit=native-eager", "-e", FIB + "print(fib(20))\n"])[1] == "6765\n"
