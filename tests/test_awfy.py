"""The Are We Fast Yet ports (benchmarks/awfy/*.tl) and the harness that compares them.

Every port runs through its TinyLang harness (run.tl) with the smallest inner
count the suite verifies, so a port that computes a wrong result fails here
with the suite's own check; a port broken on purpose shows that the check is
live. The Python harness's reading of each runtime's output is tested on the
lines those harnesses print, and its arithmetic on made-up times.
"""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import pytest

from benchmarks import awfy_harness as h
from tinyvm.cli.main import main as tvm

PORTS = Path(h.PORTS)


def run_tl(*args: str, ports: Path = PORTS) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = tvm(["run", str(ports / "run.tl"), *args], stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


# Mandelbrot and NBody are verified by the suite at inner count 1 (and larger
# ones); every other benchmark verifies each inner iteration.
@pytest.mark.parametrize("name", h.NAMES)
def test_port_runs_and_verifies(name: str) -> None:
    status, out, err = run_tl(name, "2", "1")
    assert status == 0, err
    assert out.startswith(f"Starting {name} benchmark ...\n")
    assert len(h.parse_runtimes(out, name)) == 2
    assert f"{name}: iterations=2 average: " in out
    assert "Total Runtime: " in out


def test_a_size_the_suite_cannot_verify_fails() -> None:
    status, out, err = run_tl("Mandelbrot", "1", "2")
    assert status == 1
    assert "No verification result for 2 found\nResult is: 192\n" in out
    assert "Benchmark failed with incorrect result" in err


def test_a_wrong_port_fails_its_verification(tmp_path: Path) -> None:
    ports = tmp_path / "awfy"
    shutil.copytree(PORTS, ports, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    sieve = ports / "sieve.tl"
    src = sieve.read_text()
    assert "prime_count += 1" in src
    sieve.write_text(src.replace("prime_count += 1", "prime_count += 2"))
    status, out, err = run_tl("Sieve", "1", "1", ports=ports)
    assert status == 1
    assert "error: Error: Benchmark failed with incorrect result" in err
    assert h.parse_runtimes(out, "Sieve") == []


def test_unknown_benchmark_and_no_arguments_print_usage() -> None:
    status, out, _ = run_tl("Richards")
    assert status == 1
    assert out.startswith("unknown benchmark: Richards\n")
    status, out, _ = run_tl()
    assert status == 1
    assert "num-iterations" in out


def test_ports_are_typed() -> None:
    # "typed as a TinyLang user would write them": every method and function
    # of a port declares its parameter types (self aside) and fields their type.
    import re
    for path in PORTS.glob("*.tl"):
        for m in re.finditer(r"^ *(?:export )?fn (\w+)\(([^)]*)\)", path.read_text(), re.M):
            params = [p for p in m.group(2).split(",") if p.strip()]
            untyped = [p for p in params if ":" not in p]
            assert not untyped, f"{path.name}: {m.group(1)} has untyped parameters {untyped}"
        # Fields are the declarations indented once, inside a class body.
        for m in re.finditer(r"^(  )var (\w+)(.*)$", path.read_text(), re.M):
            assert m.group(3).startswith(":"), f"{path.name}: field {m.group(2)} untyped"


# The lines each suite harness prints: Python (integer us), Lua (%.0fus),
# C++ (integer us, the same format), TinyVM's run.tl (ms).
PYTHON_OUT = """Starting Queens benchmark ...
Queens: iterations=1 runtime: 16893us
Queens: iterations=1 runtime: 16329us
Queens: iterations=2 average: 16611us total: 33222us

Total Runtime: 33222us
"""
LUA_OUT = """Starting Queens benchmark ...
Queens: iterations=1 runtime: 812us
Queens: iterations=1 runtime: 790us
Queens: iterations=2 average: 801us total: 1602us

Total Runtime: 1602us
"""
TINYVM_OUT = """Starting Sieve benchmark ...
Sieve: iterations=1 runtime: 11034us
Sieve: iterations=1 runtime: 8012us
Sieve: iterations=2 average: 9523us total: 19046us

Total Runtime: 19046us
"""


def test_parse_python_and_cpp_lines() -> None:
    assert h.parse_runtimes(PYTHON_OUT, "Queens") == [16893.0, 16329.0]


def test_parse_lua_lines() -> None:
    assert h.parse_runtimes(LUA_OUT, "Queens") == [812.0, 790.0]


def test_parse_tinyvm_lines_in_microseconds_and_milliseconds() -> None:
    assert h.parse_runtimes(TINYVM_OUT, "Sieve") == [11034.0, 8012.0]
    assert h.parse_runtimes("Sieve: iterations=1 runtime: 11ms\n", "Sieve") == [11000.0]


def test_the_tinylang_harness_times_in_microseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    # run.tl prints the suite's microsecond lines (time.monotonic_us): a
    # Towers iteration takes milliseconds on the interpreter, so its time is
    # well above 1000us and rarely a multiple of 1000 (the ms clock's only
    # values). (Not on the native tier, which now compiles Towers' stores
    # and constructions: under TVM_JIT=native-eager an iteration took 750us.)
    monkeypatch.setenv("TVM_JIT", "off")
    status, out, err = run_tl("Towers", "3", "2")
    assert status == 0, err
    times = h.parse_runtimes(out, "Towers")
    assert len(times) == 3 and all(t >= 1000 for t in times)
    assert any(t % 1000 for t in times)


def test_parse_ignores_other_benchmarks_and_other_lines() -> None:
    assert h.parse_runtimes(PYTHON_OUT, "Sieve") == []
    assert h.parse_runtimes("No verification result for 2 found\nResult is: 192\n", "Mandelbrot") == []
    assert h.parse_runtimes("Sieve: iterations=1 runtime: 12s\n", "Sieve") == []


def test_steady_state_excludes_the_first_iteration() -> None:
    m = h.Measurement("x", "Sieve", inner=10, times_us=[500.0, 100.0, 300.0])
    assert m.first == 50.0
    assert m.steady == 20.0
    assert h.Measurement("x", "Sieve", 1, [500.0]).steady is None


def test_times_below_resolution_and_failures_give_no_time() -> None:
    assert h.Measurement("x", "Mandelbrot", 1, [0.0, 0.0]).first is None
    failed = h.Measurement("x", "Sieve", 1, [5.0, 5.0], error="exit 1")
    assert failed.first is None and failed.steady is None
    assert h.ratio(None, 2.0) is None and h.ratio(4.0, 2.0) == 2.0


def test_geomean() -> None:
    assert h.geomean([2.0, 8.0]) == pytest.approx(4.0)
    assert h.geomean([]) is None


def test_runtime_run_reads_the_lines_and_reports_a_short_run() -> None:
    script = "import sys; n, o = sys.argv[1], int(sys.argv[2]); [print(f'{n}: iterations=1 runtime: {10 * (i + 1)}us') for i in range(o - 1)]"
    rt = h.Runtime("fake", [sys.executable, "-c", script], Path.cwd())
    m = rt.run("Towers", 3, 2)
    assert m.times_us == [10.0, 20.0]
    assert "2/3 iterations" in m.error


def test_table_ratios_and_geomeans() -> None:
    results = {
        "Sieve": {"tinyvm-fused": h.Measurement("tinyvm-fused", "Sieve", 1, [40.0, 20.0]),
                  "cpython": h.Measurement("cpython", "Sieve", 1, [4.0, 1.0])},
        "Towers": {"tinyvm-fused": h.Measurement("tinyvm-fused", "Towers", 1, [80.0, 80.0]),
                   "cpython": h.Measurement("cpython", "Towers", 1, [10.0, 10.0])},
    }
    text = h.table(results, ["fused"], ["cpython"])
    steady, first = text.split("ratio TinyVM / X, steady")[1].split("ratio TinyVM / X, first")
    assert "20.00x" in steady and "8.00x" in steady
    assert "12.65x (2)" in steady  # sqrt(20 * 8)
    assert "10.00x" in first and "8.94x (2)" in first  # 40/4, 80/10: sqrt(10 * 8)


def test_outer_sets_every_benchmarks_outer_count_and_keeps_inner(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    # A fake runtime that prints the lines a harness prints for the counts it gets.
    script = "import sys; n, o = sys.argv[1], int(sys.argv[2]); [print(f'{n}: iterations=1 runtime: 10us') for i in range(o)]"
    seen: list[tuple[str, int, int]] = []

    class Fake(h.Runtime):
        def run(self, name: str, outer: int, inner: int, warmup_s: float = 0.0) -> h.Measurement:
            seen.append((name, outer, inner))
            return super().run(name, outer, inner, warmup_s)

    monkeypatch.setattr(h, "tinyvm_runtime", lambda t: Fake("tinyvm-" + t, [sys.executable, "-c", script], Path.cwd()))
    assert h.main(["--no-reference", "--outer", "7", "Bounce", "Mandelbrot"]) == 0
    assert seen == [("Bounce", 7, h.DEFAULT["Bounce"][1]), ("Mandelbrot", 7, h.DEFAULT["Mandelbrot"][1])]
    assert "Bounce 7x15, Mandelbrot 7x500" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        h.main(["--outer", "1", "Bounce"])


def test_run_tl_warms_up_after_the_first_iteration_until_the_time_has_passed() -> None:
    # Sieve on the interpreter: ~5 ms a run, so 300 ms of warm-up is many
    # unreported runs; the reported iterations are still the outer count.
    status, out, err = run_tl("Sieve", "3", "1", "300")
    assert status == 0, err
    lines = out.splitlines()
    assert len(h.parse_runtimes(out, "Sieve")) == 3
    runs = h.parse_warmup(out, "Sieve")
    assert runs is not None and runs > 3
    # The warm-up line comes after the first iteration's and before the second's.
    warm = next(i for i, line in enumerate(lines) if "warm-up runs=" in line)
    timed = [i for i, line in enumerate(lines) if "iterations=1 runtime:" in line]
    assert timed[0] < warm < timed[1]
    status, out, _ = run_tl("Sieve", "2", "1")
    assert status == 0 and h.parse_warmup(out, "Sieve") is None


def test_warmup_goes_to_tinyvm_runs_only_and_is_reported(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    # Fake runtimes that print the arguments they got: TinyVM's get the
    # warm-up in ms as a fourth argument, the references the suite's three.
    script = ("import sys; n, o = sys.argv[1], int(sys.argv[2]); print(f'{n}: iterations=1 runtime: 10us');"
              "[print(f'{n}: warm-up runs={a} time: 5us') for a in sys.argv[4:]];"
              "[print(f'{n}: iterations=1 runtime: 10us') for i in range(o - 1)]")
    argv = [sys.executable, "-c", script]
    monkeypatch.setattr(h, "tinyvm_runtime", lambda t: h.Runtime("tinyvm-" + t, argv, Path.cwd(), warms_up=True))
    monkeypatch.setattr(h, "reference_runtimes", lambda log: [h.Runtime("cpython", argv, Path.cwd())])
    assert h.main(["--warmup", "2.5", "Sieve"]) == 0
    err = capsys.readouterr().err
    assert "Sieve 5x30 tinyvm-fused: steady 0.3us, first 0.3us, 2500 warm-up runs\n" in err  # (the fake prints the ms it got as its runs)
    assert "Sieve 5x30 cpython: steady 0.3us, first 0.3us\n" in err
    assert h.main(["--warmup", "0", "--no-reference", "Sieve"]) == 0
    assert "warm-up runs" not in capsys.readouterr().err
    with pytest.raises(SystemExit):
        h.main(["--warmup", "-1", "Sieve"])


def test_processes_runs_each_runtime_k_times_in_turns_and_keeps_the_fastest(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    # Fake runtimes whose steady time is the k-th entry of a list per runtime:
    # the report keeps each runtime's fastest process, and the runtimes ran in
    # turns (a, b, a, b, a, b), not each K times in a row.
    order: list[str] = []
    speeds = {"tinyvm-fused": [30, 10, 20], "cpython": [5, 7, 4]}

    class Fake(h.Runtime):
        def run(self, name: str, outer: int, inner: int, warmup_s: float = 0.0) -> h.Measurement:
            order.append(self.label)
            us = speeds[self.label][sum(1 for o in order if o == self.label) - 1]
            return h.Measurement(self.label, name, inner, [100.0] + [float(us * inner)] * (outer - 1))

    monkeypatch.setattr(h, "tinyvm_runtime", lambda t: Fake("tinyvm-" + t, [], Path.cwd()))
    monkeypatch.setattr(h, "reference_runtimes", lambda log: [Fake("cpython", [], Path.cwd())])
    assert h.main(["--processes", "3", "--warmup", "0", "Sieve"]) == 0
    assert order == ["tinyvm-fused", "cpython"] * 3
    out, err = capsys.readouterr()
    assert "Sieve 5x30 tinyvm-fused: steady 10.0us, first 3.3us (best of 3 processes: 30.0us, 10.0us, 20.0us)" in err
    assert "Sieve 5x30 cpython: steady 4.0us" in err
    assert "2.50x" in out.split("ratio TinyVM / X, steady")[1]  # 10 / 4: each runtime's best
    assert "the fastest of 3 processes per runtime and benchmark" in out
    with pytest.raises(SystemExit):
        h.main(["--processes", "0", "Sieve"])


def test_best_of_reports_a_failed_process() -> None:
    ok = h.Measurement("c++", "Sieve", 1, [5.0, 5.0])
    bad = h.Measurement("c++", "Sieve", 1, [5.0], error="exit 1, 1/2 iterations")
    assert h.best_of([ok, bad]) is bad
    fast, slow = h.Measurement("c++", "Sieve", 1, [9.0, 2.0]), h.Measurement("c++", "Sieve", 1, [1.0, 3.0])
    assert h.best_of([slow, fast]) is fast and fast.processes == [3.0, 2.0]
