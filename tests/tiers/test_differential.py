"""Differential testing of the execution tiers on generated programs.

Every tier must give the same stdout, stderr and exit status as the reference
(the default interpreter) on the same program, and a metered tier the same
fuel count (the number of bytecode instructions run). The programs come from
tests/tiers/programs.py; the tiers are `TIERS` below, each a set of the
environment switches `tvm run` reads (cli/main.py): the whole language suite
runs under the same switches in CI (.ci/run), these generated programs reach
the corners the hand-written suite does not (int64 edges inside loops,
errors inside small callees, closures in loops).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from programs import lox_program, tl_program

from tinyvm.cli.main import main

# name -> the environment `tvm run` is run with. "fused" is the reference.
TIERS: dict[str, dict[str, str]] = {
    "fused": {},
    "plain": {"TVM_TIER": "plain"},
    "metered": {"TVM_TIER": "metered"},
    # tvm run -O: the optimizer's default pipeline, lowered back to bytecode.
    "optimized": {"TVM_OPT": "1"},
    # The JIT (docs/jit.md): every function compiled at its first call; the
    # same with every guard and exit failing at random (write-back at every
    # pc); hot code compiled mid-run (OSR at the third back-edge).
    "jit": {"TVM_JIT": "eager"},
    "jit-stress": {"TVM_JIT": "eager", "TVM_JIT_STRESS": "1"},
    "jit-on": {"TVM_JIT": "on", "TVM_JIT_THRESHOLD": "2,3"},
}
SWITCHES = sorted({k for env in TIERS.values() for k in env})


def run(path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    for k in SWITCHES:
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    out, err = io.StringIO(), io.StringIO()
    # A generous deadline: a tier that loops forever fails here, not by hanging CI.
    status = main(["run", "--timeout", "60s", str(path)], stdin=io.StringIO(""), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def check_all_tiers(tmp_path: Path, name: str, source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / name
    path.write_text(source)
    old = os.getcwd()
    os.chdir(tmp_path)  # traces name the file as given
    try:
        results = {tier: run(Path(name), env, monkeypatch) for tier, env in TIERS.items()}
    finally:
        os.chdir(old)
    ref = results["fused"]
    # Lox keeps clox's limit of 256 constants per function: a large generated
    # program can pass it, which is no tier's business.
    assume(not (ref[0] == 65 and "Too many constants" in ref[2]))
    # 0, 1 (a TinyLang error), 70 (a Lox runtime error): not a compile error (2, 65).
    assert ref[0] in (0, 1, 70), f"the reference itself failed to run:\n{ref[2]}\n--- program ---\n{source}"
    for tier, got in results.items():
        assert got == ref, f"tier {tier} differs from the interpreter\n--- program ---\n{source}\n--- interpreter ---\n{ref}\n--- {tier} ---\n{got}"


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])


@SETTINGS
@given(tl_program())
def test_tinylang_programs_agree_on_every_tier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    check_all_tiers(tmp_path, "gen.tl", source, monkeypatch)


@SETTINGS
@given(lox_program())
def test_lox_programs_agree_on_every_tier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    check_all_tiers(tmp_path, "gen.lox", source, monkeypatch)


def test_the_generators_reach_errors_and_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The generated programs are not trivially empty: over a fixed sample they
    print, catch errors, and end with an uncaught error at least once."""
    from hypothesis import Phase, find

    # (No shrinking: any program with these features will do.)
    prog = find(tl_program(), lambda s: "risky(" in s and "try {" in s and "adder(" in s, settings=settings(phases=[Phase.generate], database=None, max_examples=2000))
    path = tmp_path / "g.tl"
    path.write_text(prog)
    status, out, err = run(path, {}, monkeypatch)
    assert out, "the program printed nothing"
    assert status in (0, 1) and ("error:" in err) == (status == 1)


# name -> the keyword arguments of an embedding VM that counts fuel, for the
# fuel comparison: the same program must use the same fuel on every tier.
METERED_VMS: dict[str, dict] = {
    "fused": {},
    "plain": {"fuse": False},
    "jit-eager": {"jit": "eager"},  # compiled code counts fuel too (jit/fuel.py)
}


def fuel_of(source: str, path: str, kwargs: dict) -> tuple[int, str, str]:
    from tinyvm import VM, GuestException

    out = io.StringIO()
    vm = VM(meter_fuel=True, stdout=out, **kwargs)
    try:
        vm.run_source(source, path)
        end = ""
    except GuestException as e:
        end = f"{e.class_name}: {e.message}"
    return vm.fuel_used, out.getvalue(), end


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tl_program())
def test_fuel_used_is_the_same_on_every_tier(source: str) -> None:
    results = {name: fuel_of(source, "gen.tl", kw) for name, kw in METERED_VMS.items()}
    ref = results["fused"]
    # Lox keeps clox's limit of 256 constants per function: a large generated
    # program can pass it, which is no tier's business.
    assume(not (ref[0] == 65 and "Too many constants" in ref[2]))
    assert ref[0] > 0
    for name, got in results.items():
        assert got == ref, f"tier {name}: fuel, output or error differ\n--- program ---\n{source}\n--- fused ---\n{ref}\n--- {name} ---\n{got}"
