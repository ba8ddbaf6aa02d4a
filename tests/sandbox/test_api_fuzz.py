"""Fuzzing the embedding API with its limits on (hypothesis), in-process.

Each example runs, on one long-lived VM (fuel counted, host functions, a
handle, `async def` host functions registered), a random program built from
snippets of the language (loops, recursion, fibers, sleeps, channels, string
and array growth, throws, `os.exit`, calls of host functions and of the
handle), sometimes mutated (characters cut, tokens inserted), then calls a
guest function with a random host value (scalars, int64 edges, containers,
nested, cyclic, and values with no guest form: bytes, sets, objects), under a
random per-run fuel, timeout and output limit. The properties, whatever the
example:

* only the documented exceptions reach the host: CompileError,
  GuestException, a LimitExceeded subclass, GuestExit, TypeError /
  ValueError / OverflowError for host values with no guest form, and the
  exception a host function raised when no guest code caught it (`HostBoom`);
  never an InternalError;
* nothing hangs: every run has a `timeout=`, and the example's wall-clock time
  stays within it plus a margin;
* a run given `fuel=F` uses at most F fuel; one given an output limit writes
  at most that many bytes;
* the VM is usable after every example (`vm.eval("1 + 1") == 2`, at once).

Knobs, as in tests/fuzz: TVM_FUZZ_LONG=1 for long campaigns (many more
examples, random seeds), TVM_FUZZ_API_CASES (examples; default 400, about 15 s).
"""

from __future__ import annotations

import io
import os
import time

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyvm import VM, GuestException, GuestExit, LimitExceeded
from tinyvm.lang.diagnostics import CompileError

LONG = os.environ.get("TVM_FUZZ_LONG", "") not in ("", "0")
CASES = int(os.environ.get("TVM_FUZZ_API_CASES", "5000" if LONG else "400"))
MARGIN = 2.0  # seconds past a run's timeout before the example counts as a hang


class HostBoom(Exception):
    """What the fuzz's host function `boom` raises (re-raised to the host when uncaught)."""


DOCUMENTED = (CompileError, GuestException, LimitExceeded, GuestExit, TypeError, ValueError, OverflowError, HostBoom)

# Statements; `{n}` a small int, `{big}` an edge int, `{s}` a string literal's
# content, `{t}` a short sleep. Programs see `echo`, `boom`, `charge`,
# `later` (async), the handle `kv` and the function `f` defined by `setup`.
SNIPPETS = [
    "var x = {n}",
    "print({n} * {n})",
    'print("{s}")',
    "while true {{}}",
    "for i in 0..{n} {{ print(i) }}",
    "fn f(v: any) -> any {{ return v }}",
    "fn f(v: any) -> any {{ return [v, v] }}",
    "fn f(v: any) -> any {{ while true {{}} }}",
    "fn f(v: any) -> any {{ return echo(v) }}",
    "fn f(v: any) -> any {{ return boom() }}",
    "fn f(v: any) -> any {{ try {{ return boom() }} catch e {{ return e.message }} }}",
    "fn f(v: any) -> any {{ print(v)\n return v }}",
    "fn f(v: any) -> any {{ return later({n}) }}",
    "fn f(v: any) -> any {{ kv.put(\"k\", v)\n return kv.get(\"k\") }}",
    'throw "{s}"',
    "import os\nos.exit({n})",
    "spawn fn() {{ sleep({t}) }}()",
    "sleep({t})",
    "echo([{n}, \"{s}\", [{n}: nil]])",
    "boom()",
    "charge({n})",
    "try {{ boom() }} catch e {{ print(e.message) }}",
    'kv.put("{s}", {n})\nprint(kv.get("{s}"))',
    "var a: any = []\nfor i in 0..{n} {{ a = [a] }}",
    'var s = "ab"\nfor i in 0..{small} {{ s = s + s }}\nprint(len(s))',
    "let ch = Chan(0)\nspawn fn() {{ ch.send({n}) }}()\nprint(ch.recv())",
    "let ch = Chan(0)\nch.recv()",
    "print([1, 2, 3][{n}])",
    "print(1 / {n})",
    "print({big} + {n})",
    "fn r(k: int) -> int {{ return r(k + 1) }}\nr(0)",
    "fn fib(k: int) -> int {{ return k < 2 ? k : fib(k - 1) + fib(k - 2) }}\nprint(fib({small}))",
    "print(later({n}))",
    "let g: any = fn() {{ for i in 0..{n} {{ yield i }} }}\nfor v in g() {{ print(v) }}",
]
JUNK = ["{", "}", "(", ")", '"', "fn", "while true {}", "\n", "0..", "9223372036854775807", "*", "let", "spawn", "]"]


def _fill(template: str, draw) -> str:
    return template.format(
        n=draw(st.integers(-3, 40)),
        big=draw(st.sampled_from([9223372036854775807, -9223372036854775808, 0, 1 << 40])),
        s=draw(st.text(alphabet="abc xyz\\n", max_size=8)).replace("\\", ""),
        t=draw(st.sampled_from([0, 0.001, 0.01, 0.05, 1000])),
        small=draw(st.integers(0, 18)),
    )


def _statement(template: str, draw) -> str:
    text = _fill(template, draw)
    if template.startswith(("fn f(", "import")):
        return text  # top level: the redefinition of `f` is the point
    return "if true {\n" + text + "\n}"  # its own scope: names do not clash between examples


@st.composite
def programs(draw) -> str:
    text = "\n".join(_statement(draw(st.sampled_from(SNIPPETS)), draw) for _ in range(draw(st.integers(1, 4))))
    for _ in range(draw(st.integers(0, 2)) if draw(st.booleans()) else 0):
        i = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:i] + text[i + draw(st.integers(1, 6)) :]
        else:
            text = text[:i] + draw(st.sampled_from(JUNK)) + text[i:]
    return text


def _cyclic():
    a: list = [1]
    a.append(a)
    return a


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(1 << 63), (1 << 63) - 1), st.sampled_from([1 << 63, -(1 << 63) - 1, 1 << 100]),
    st.floats(allow_nan=True), st.text(max_size=20),
)
host_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.tuples(inner, inner), st.dictionaries(st.one_of(st.text(max_size=5), st.integers(-5, 5), st.none()), inner, max_size=4),
    ),
    max_leaves=12,
) | st.sampled_from([b"bytes", {1, 2}, object(), os, print]) | st.builds(_cyclic)

limits = st.fixed_dictionaries({
    "fuel": st.one_of(st.none(), st.integers(0, 20000)),
    "timeout": st.sampled_from([0.05, 0.1, 0.3]),
    "max_output": st.one_of(st.none(), st.integers(0, 200)),
})  # fmt: skip


class Store:
    def __init__(self) -> None:
        self.data: dict = {}

    def get(self, k):
        return self.data.get(k)

    def put(self, k, v) -> None:
        self.data[k] = v


def make_vm() -> tuple[VM, io.StringIO]:
    """The fuzz's VM (module docstring) and the stream it prints to."""
    out = io.StringIO()
    vm = VM(meter_fuel=True, stdout=out)

    @vm.function
    def echo(v):
        return v

    @vm.function
    def boom() -> None:
        raise HostBoom("host boom")

    @vm.function
    def charge(n: int) -> int:
        vm.charge(max(0, n) * 100)
        return n

    @vm.function
    async def later(n: int) -> int:
        return n + 1

    vm.globals["kv"] = vm.handle(Store(), methods=["get", "put"], name="KV")
    vm.run_source("fn f(v: any) -> any { return v }\n")
    return vm, out


@pytest.fixture(scope="module")
def fuzz_vm():
    vm, out = make_vm()
    yield vm, out
    vm.close()


def _run(vm, action, lim: dict, out: io.StringIO) -> None:
    vm.machine.limits.max_output = lim["max_output"]
    out.seek(0)
    out.truncate()
    used = vm.fuel_used
    start = time.monotonic()
    try:
        action(fuel=lim["fuel"], timeout=lim["timeout"])
    except DOCUMENTED as e:
        assert "InternalError" not in str(e), str(e)[:500]
    finally:
        elapsed = time.monotonic() - start
        vm.machine.limits.max_output = None
    assert elapsed < lim["timeout"] + MARGIN, f"the run took {elapsed:.2f}s with timeout={lim['timeout']}"
    if lim["fuel"] is not None:
        assert vm.fuel_used - used <= lim["fuel"], (vm.fuel_used - used, lim["fuel"])
    if lim["max_output"] is not None:
        assert len(out.getvalue().encode()) <= lim["max_output"], len(out.getvalue())


@settings(max_examples=CASES, deadline=None, derandomize=not LONG, suppress_health_check=list(HealthCheck), database=None)
@given(program=programs(), value=host_values, run_limits=limits, call_limits=limits)
def test_api_with_limits(fuzz_vm, program, value, run_limits, call_limits):
    vm, out = fuzz_vm
    _run(vm, lambda **kw: vm.run_source(program, **kw), run_limits, out)
    _run(vm, lambda **kw: vm.call("f", value, **kw), call_limits, out)
    start = time.monotonic()
    assert vm.eval("1 + 1", timeout=5) == 2
    # (a stale 1000 s timer would take the eval's whole 5 s; 3 s leaves room for CI load)
    assert time.monotonic() - start < 3.0, "the VM was slow to answer after the example (stale timers?)"
