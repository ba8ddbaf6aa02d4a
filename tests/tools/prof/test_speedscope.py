"""`tvm prof --format speedscope` files, read by speedscope's own importer.

speedscope's npm package ships the app's bundle, whose importer
(`importProfileGroupFromText`, what the app runs when a file is opened) is run
by tests/tools/prof/speedscope/check.mjs under node. The package is installed
from package-lock.json (`npm ci`) the first time. Skipped only when node is not
installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from prof_programs import FIBERS, HOT_COLD, tvm

HERE = Path(__file__).parent / "speedscope"
NODE = shutil.which("node")
# In CI (CI=true, set by .ci/run) a missing node fails instead of skipping.
pytestmark = pytest.mark.skipif(NODE is None and os.environ.get("CI") != "true", reason="node is not installed")


@pytest.fixture(scope="module")
def importer() -> Path:
    if not (HERE / "node_modules" / "speedscope" / "package.json").exists():
        npm = shutil.which("npm")
        assert npm is not None, "node without npm: cannot install speedscope"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, capture_output=True, timeout=300)
    return HERE / "check.mjs"


def load(importer: Path, path: Path) -> dict:
    r = subprocess.run([NODE, str(importer), str(path)], capture_output=True, text=True, timeout=120, check=False)
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert r.returncode == 0 and result["ok"], (r.stdout, r.stderr)
    return result


def frames(profile: dict) -> dict[str, dict]:
    return {f["name"]: f for f in profile["frames"]}


def test_speedscope_imports_a_profile(importer: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prog.tl").write_text(HOT_COLD)
    assert tvm(["prof", "--interval", "200", "--format", "speedscope", "-o", "out.speedscope.json", "prog.tl"])[0] == 0
    doc = json.loads((tmp_path / "out.speedscope.json").read_text())
    got = load(importer, tmp_path / "out.speedscope.json")
    assert len(got["profiles"]) == 1
    prof = got["profiles"][0]
    assert prof["unit"] == "none"
    assert prof["totalWeight"] == sum(doc["profiles"][0]["weights"])
    fr = frames(prof)
    # what speedscope computes from the file: busy holds the self time, main the total
    assert fr["busy"]["self"] > 0.9 * prof["totalWeight"]
    assert fr["main"]["total"] >= fr["busy"]["total"] and fr["main"]["self"] < 0.05 * prof["totalWeight"]
    assert fr["busy"]["file"] == "prog.tl" and fr["busy"]["line"] == 1


def test_speedscope_imports_fibers_and_lines(importer: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fibers.tl").write_text(FIBERS)
    assert tvm(["prof", "--interval", "200", "--lines", "--format", "speedscope", "fibers.tl"])[0] == 0
    got = load(importer, tmp_path / "fibers.speedscope.json")
    workers = [p for p in got["profiles"] if "work" in frames(p)]
    assert len(workers) == 2  # one profile per fiber
    for p in workers:
        lines = {f["line"] for f in p["frames"] if f["name"] == "work"}
        assert 3 in lines  # the loop's line, a frame of its own with --lines


def test_speedscope_rejects_a_broken_file(importer: Path, tmp_path: Path):
    # (the check itself can fail: a sample naming a frame that does not exist)
    bad = tmp_path / "bad.speedscope.json"
    bad.write_text(json.dumps({"$schema": "https://www.speedscope.app/file-format-schema.json", "shared": {"frames": []},
                               "profiles": [{"type": "sampled", "name": "x", "unit": "none", "startValue": 0, "endValue": 1, "samples": [[3]], "weights": [1]}]}))
    r = subprocess.run([NODE, str(importer), str(bad)], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode != 0 and json.loads(r.stdout)["ok"] is False


def test_speedscope_reads_the_chrome_trace_too(importer: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # speedscope also imports the Trace Event Format: a second, independent
    # reader of `--format chrome`, which must see the same call tree.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prog.tl").write_text(HOT_COLD)
    assert tvm(["prof", "--interval", "200", "--format", "chrome", "prog.tl"])[0] == 0
    got = load(importer, tmp_path / "prog.trace.json")
    main = next(p for p in got["profiles"] if "fiber 0 (main)" in p["name"])
    assert main["unit"] == "microseconds"
    fr = {f["name"].split(" ")[0]: f for f in main["frames"]}
    assert fr["<module>"]["total"] == pytest.approx(main["totalWeight"])  # the root
    assert fr["<module>"]["self"] < 0.05 * main["totalWeight"]
    assert fr["main"]["total"] >= fr["busy"]["total"] > 0.8 * main["totalWeight"]
    assert fr["busy"]["self"] == pytest.approx(fr["busy"]["total"])  # a leaf


def test_speedscope_imports_an_allocation_profile(importer: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # tvm prof --alloc: the unit is bytes, and speedscope's totals are the
    # bytes each function allocated (KNOWN: 1000 arrays of 3 in f, 10 records in g)
    from test_allocprof import ARRAY3, KNOWN, RECORD2

    monkeypatch.chdir(tmp_path)
    (tmp_path / "prog.tl").write_text(KNOWN)
    assert tvm(["prof", "--alloc", "--format", "speedscope", "prog.tl"])[0] == 0
    doc = json.loads((tmp_path / "prog.speedscope.json").read_text())
    got = load(importer, tmp_path / "prog.speedscope.json")
    (prof,) = got["profiles"]
    assert prof["unit"] == "bytes"
    assert prof["totalWeight"] == sum(doc["profiles"][0]["weights"])
    fr = frames(prof)
    assert fr["f"]["self"] == fr["f"]["total"] == 1000 * ARRAY3
    assert fr["g"]["self"] == fr["g"]["total"] == 10 * RECORD2
    assert fr["main"]["self"] == 0 and fr["main"]["total"] == 1000 * ARRAY3 + 10 * RECORD2
    assert fr["<module>"]["total"] <= prof["totalWeight"]


def test_speedscope_imports_an_allocation_profile_of_fibers(importer: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    # (Each worker allocates an array: a for-range loop's own Range is
    # never allocated, and a fiber that allocates nothing has no profile.)
    box = "  let box = [s, n]\n  out.send(box[0])\n"
    (tmp_path / "fibers.tl").write_text(FIBERS.replace("  out.send(s)\n", box))
    assert box in (tmp_path / "fibers.tl").read_text()
    assert tvm(["prof", "--alloc", "--lines", "--format", "speedscope", "fibers.tl"])[0] == 0
    doc = json.loads((tmp_path / "fibers.speedscope.json").read_text())
    got = load(importer, tmp_path / "fibers.speedscope.json")
    assert len(got["profiles"]) == len(doc["profiles"]) >= 3  # main and the two workers
    for mine, theirs in zip(doc["profiles"], got["profiles"]):
        assert theirs["unit"] == "bytes" and theirs["totalWeight"] == sum(mine["weights"])
    workers = [p for p in got["profiles"] if "spawned at <module> (fibers.tl:" in p["name"]]
    assert len(workers) == 2
