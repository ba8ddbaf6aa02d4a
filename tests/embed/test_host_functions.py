"""Host functions: typed signatures, conversions, errors, async def."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest

from tinyvm import VM, GuestException
from tinyvm.embed.hostfn import guest_type
from tinyvm.lang.diagnostics import CompileError


def make() -> VM:
    return VM(stdout=io.StringIO())


def test_annotations_become_guest_types():
    def f(a: int, b: list[int], c: dict[str, int], d: str | None, e: float | None, g: Any, h: Callable[[int], str], i) -> None: ...

    vm = make()
    hf = vm.register(f)
    assert str(hf.type) == "fn(int, [int], [string: int], string?, float?, any, fn(int) -> string, any) -> nil"
    with pytest.raises(TypeError, match="bytes"):
        guest_type(bytes, "x")


def test_wrong_call_is_a_compile_error_with_position():
    vm = make()

    @vm.function
    def area(w: float, h: float) -> float:
        return w * h

    assert vm.eval("area(2.0, 3)") == 6.0  # int widens to float
    with pytest.raises(CompileError) as info:
        vm.run_source('let x = 1\nlet a = area("w", 1.0)', "g.tl")
    assert "g.tl:2:14" in info.value.render()
    with pytest.raises(CompileError):
        vm.run_source("area(1.0)")


def test_arguments_and_results_are_converted_and_checked():
    vm = make()
    seen = []

    @vm.function
    def total(xs: list[int]) -> int:
        seen.append(xs)
        return sum(xs)

    @vm.function
    def liar() -> int:
        return "not an int"  # type: ignore[return-value]

    assert vm.eval("total([1, 2, 3])") == 6
    assert seen == [[1, 2, 3]] and type(seen[0]) is list
    with pytest.raises(GuestException) as info:
        vm.eval("liar()")
    assert info.value.class_name == "TypeError" and "result of host function liar" in info.value.message


def test_host_exception_is_catchable_as_host_error():
    vm = make()

    @vm.function
    def boom(msg: str) -> int:
        raise ValueError(msg)

    vm.run_source('var caught = ""\ntry { boom("bad") } catch e { caught = typeof(e) + ": " + e.message }')
    assert vm.globals["caught"] == "HostError: bad"


def test_uncaught_host_exception_reaches_the_host_unchanged():
    vm = make()
    original = KeyError("k")

    @vm.function
    def boom() -> None:
        raise original

    vm.run_source("fn outer() { boom() }")
    with pytest.raises(KeyError) as info:
        vm.call("outer")
    assert info.value is original
    assert isinstance(info.value.__cause__, GuestException)
    assert "at outer" in "\n".join(info.value.__cause__.trace)
    with pytest.raises(KeyError):  # again: the VM stays usable
        vm.call("outer")


def test_keyboard_interrupt_propagates_unchanged():
    vm = make()

    @vm.function
    def stop() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        vm.run_source("stop()")


def test_host_function_calls_back_into_the_guest():
    vm = make()
    vm.run_source("fn inc(x) { return x + 1 }")

    @vm.function
    def twice(f: Any, x: int) -> int:
        return f(f(x))

    assert vm.eval("twice(inc, 1)") == 3
    assert vm.eval("twice(fn(x) { return x * 10 }, 2)") == 200


def test_arity_checked_at_run_time_for_untyped_calls():
    vm = make()

    @vm.function
    def two(a, b=1):
        return a + b

    assert vm.eval("two(1)") == 2 and vm.eval("two(1, 2)") == 3
    with pytest.raises(GuestException, match="expects 1 to 2 arguments, got 3"):
        vm.eval("two(1, 2, 3)")


def test_async_host_function_parks_only_its_fiber():
    import asyncio

    vm = make()
    order = []

    @vm.function
    async def fetch(x: int) -> int:
        await asyncio.sleep(0.01)
        order.append("fetched")
        return x * 2

    @vm.function
    def note(s: str) -> None:
        order.append(s)

    vm.run_source("async fn other() { note(\"other ran\") }\nfn main() -> int { let t = other(); let v = fetch(21); await t; return v }")
    assert vm.call("main") == 42
    assert order == ["other ran", "fetched"]


def test_async_host_exception_is_a_host_error():
    vm = make()

    @vm.function
    async def fail() -> int:
        raise RuntimeError("async bad")

    vm.run_source('var m = ""\ntry { fail() } catch e { m = e.message }')
    assert vm.globals["m"] == "async bad"
    vm.close()


def test_registered_function_of_another_vm_is_refused():
    a, b = make(), make()
    hf = a.register(lambda: 1, "one")
    b.run_source("fn id(x) { return x }")
    with pytest.raises(TypeError, match="another VM"):
        b.call("id", hf)


def test_a_host_function_called_from_the_host_raises_its_own_exception():
    # vm.call of a host function runs it with no guest frame around it: its
    # exception (a HostError thrown as a guest value) once escaped as the
    # VM's internal Throw.
    vm = VM()

    @vm.function
    def boom() -> int:
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope") as info:
        vm.call("boom")
    assert isinstance(info.value.__cause__, GuestException)
    assert vm.eval("1 + 1") == 2
