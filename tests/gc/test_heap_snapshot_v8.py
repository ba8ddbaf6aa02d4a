"""A snapshot written by `tvm run --heap-snapshot` loads in two real V8 heap
snapshot parsers, and what they find matches the heap:

* memlab's (@memlab/core, the npm package Meta uses on Chrome's snapshots):
  node and edge counts, self sizes adding up to the live bytes, and the
  retained sizes memlab computes with its own dominator tree
  (Lengauer-Tarjan) equal to ours (Cooper-Harvey-Kennedy), node by node;
* Chrome DevTools' own (the Memory panel's HeapSnapshotLoader and
  JSHeapSnapshot, from the chrome-devtools-frontend package, bundled for
  node by tests/gc/heapsnapshot/build-devtools.mjs): node count, total
  size, the class summary (count, self size, retained size).

Skipped only when node is absent; the packages are installed (`npm ci`, from
package-lock.json) on first use."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tinyvm.api import VM
from tinyvm.cli.main import main
from tinyvm.heap.snapshot import take_snapshot
from tinyvm.heap.v8snapshot import node_id, write_v8

HERE = Path(__file__).parent / "heapsnapshot"
NODE = shutil.which("node")

# In CI (CI=true, set by .ci/run) a missing node fails instead of skipping.
pytestmark = pytest.mark.skipif(NODE is None and os.environ.get("CI") != "true", reason="node is not installed")

PROGRAM = """
class Entry {
  var key = ""
  var value: any = nil
  fn init(key, value) { self.key = key; self.value = value }
}
var table = []
for i in 0..400 { table.push(Entry("k" + str(i), [i * 1000000, i * 0.5, {n: i}])) }
let shared = ["shared"]
let m = ["a": shared, "b": [shared, shared], 3: "three"]
fn counter() { var n = 0; return fn() { n = n + 1; return n } }
let c = counter()
let cyc = [nil]
cyc[0] = cyc
print(len(table))
"""


@pytest.fixture(scope="module")
def memlab() -> Path:
    if not all((HERE / "node_modules" / p).is_dir() for p in ("@memlab/core", "chrome-devtools-frontend", "esbuild")):
        env = dict(os.environ, PUPPETEER_SKIP_DOWNLOAD="1")
        # --ignore-scripts: memlab's browser (puppeteer) is not needed to parse.
        subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=HERE, env=env, check=True, capture_output=True, timeout=600)
    return HERE / "check.js"


@pytest.fixture(scope="module")
def devtools(memlab, tmp_path_factory) -> Path:
    bundle = tmp_path_factory.mktemp("devtools") / "devtools.bundle.mjs"
    out = subprocess.run([NODE, str(HERE / "build-devtools.mjs"), str(bundle)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return bundle


def load(check: Path, path: Path) -> dict:
    out = subprocess.run([NODE, str(check), str(path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_cli_snapshot_loads_in_memlab_and_counts_match(tmp_path, memlab):
    prog = tmp_path / "table.tl"
    prog.write_text(PROGRAM)
    snap = tmp_path / "table.heapsnapshot"
    err = io.StringIO()
    assert main(["run", f"--heap-snapshot={snap}", "--alloc-sites", str(prog)], stdout=io.StringIO(), stderr=err) == 0, err.getvalue()
    got = load(memlab, snap)
    data = json.loads(snap.read_text())
    assert got["nodes"] == data["snapshot"]["node_count"] > 1200
    assert got["edges"] == data["snapshot"]["edge_count"] > got["nodes"]
    assert got["selfTotal"] == sum(data["nodes"][3::7])
    assert got["rootRetained"] == got["selfTotal"]
    assert got["byName"]["object:Entry"]["count"] == 400
    assert got["byName"]["string:shared"]["count"] == 1  # one string object, one node


def test_retained_sizes_agree_with_memlab(tmp_path, memlab):
    vm = VM(stdout=io.StringIO())
    vm.run_source(PROGRAM)
    vm.machine.collect()
    s = take_snapshot(vm.machine)
    path = tmp_path / "r.heapsnapshot"
    write_v8(s, str(path))
    got = load(memlab, path)
    assert (got["nodes"], got["edges"]) == (s.node_count, s.edge_count)
    assert got["selfTotal"] == s.total_size() == vm.machine.heap.live
    objects = sum(row["count"] for key, row in got["byName"].items() if not key.startswith("string:"))
    assert objects == len(vm.machine.heap.objects)
    theirs = {int(k): v for k, v in got["retained"].items()}
    ours = {node_id(i): s.retained[i] for i in range(s.node_count)}
    assert theirs == ours
    # And the named edges memlab reads are ours.
    sample = {(a, t, n, b) for a, t, n, b in got["sample"]}
    ours_edges = {(node_id(i), k, str(n), node_id(to)) for i in range(s.node_count) for k, n, to in s.edges(i)}
    assert sample and sample <= ours_edges
    assert any(t == "property" and n == "key" for _, t, n, _ in sample) or any(t == "context" for _, t, _, _ in sample)


@pytest.mark.parametrize("sites", [False, True])
def test_cli_snapshot_loads_in_chrome_devtools(tmp_path, devtools, sites):
    prog = tmp_path / "table.tl"
    prog.write_text(PROGRAM)
    snap = tmp_path / "table.heapsnapshot"
    args = ["run", f"--heap-snapshot={snap}"] + (["--alloc-sites"] if sites else []) + [str(prog)]
    assert main(args, stdout=io.StringIO(), stderr=io.StringIO()) == 0
    got = load(devtools, snap)
    data = json.loads(snap.read_text())
    assert got["nodeCount"] == data["snapshot"]["node_count"]
    assert got["totalSize"] == sum(data["nodes"][3::7])
    assert got["classes"]["Entry"]["count"] == 400


def test_devtools_summary_matches_the_heap(tmp_path, devtools):
    vm = VM(stdout=io.StringIO(), alloc_sites="function")
    vm.run_source(PROGRAM)
    vm.machine.collect()
    s = take_snapshot(vm.machine)
    path = tmp_path / "d.heapsnapshot"
    write_v8(s, str(path))
    got = load(devtools, path)
    assert got["nodeCount"] == s.node_count
    assert got["totalSize"] == s.total_size() == vm.machine.heap.live
    entries = [i for i in range(s.node_count) if s.type[i] == "Entry"]
    row = got["classes"]["Entry"]
    assert row["count"] == len(entries) == 400
    assert row["self"] == sum(s.self_size[i] for i in entries)
    # DevTools' "Retained Size" of a class: the sum over its objects that no
    # other object of the class dominates (no Entry holds another here).
    assert row["maxRet"] == sum(s.retained[i] for i in entries)
    main_mod = next(i for i in range(s.node_count) if s.name[i] == "module <main>")
    assert got["classes"]["module <main>"]["maxRet"] == s.retained[main_mod]
