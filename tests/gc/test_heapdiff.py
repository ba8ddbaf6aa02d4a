"""`tvm heapdiff A B` (tools/heapdiff.py): growth by type and by allocation
site between two snapshots, as text and JSON; the guest `gc` module from the
host's side."""

from __future__ import annotations

import io
import json

import pytest

from tinyvm.api import VM
from tinyvm.cli.main import main

LEAKY = """
import os
var cache = []
fn entry(i) { return {id: i, payload: [i, i + 1, i + 2]} }
fn work(n) { for i in 0..n { cache.push(entry(i)) } }
work(int(os.args[0]))
print(len(cache))
"""


def run_cli(args):
    out, err = io.StringIO(), io.StringIO()
    status = main(args, stdin=io.StringIO(), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory):
    d = tmp_path_factory.mktemp("heapdiff")
    prog = d / "leak.tl"
    prog.write_text(LEAKY)
    paths = {}
    for n, sites in ((100, True), (2100, True), (2100, False)):
        snap = d / f"{n}{'s' if sites else ''}.heapsnapshot"
        args = ["run", f"--heap-snapshot={snap}"] + (["--alloc-sites"] if sites else []) + [str(prog), str(n)]
        status, out, err = run_cli(args)
        assert (status, out, err) == (0, f"{n}\n", "")
        paths[(n, sites)] = str(snap)
    return paths


def test_heapdiff_json_finds_the_leak(snapshots):
    status, out, err = run_cli(["heapdiff", "--json", snapshots[(100, True)], snapshots[(2100, True)]])
    assert status == 0 and err == ""
    d = json.loads(out)
    assert d["totals"]["count_delta"] == 4000  # 2000 records and their 2000 arrays
    assert d["totals"]["bytes_delta"] > 0
    by_type = {r["type"]: r for r in d["by_type"]}
    assert by_type["record"]["count_delta"] == 2000 and by_type["record"]["count_b"] == 2100
    assert by_type["array"]["count_delta"] == 2000
    # Largest growth first; the site that made them all is named.
    assert d["by_type"][0]["bytes_delta"] >= d["by_type"][-1]["bytes_delta"]
    top = d["by_site"][0]
    assert top["site"].startswith("entry (") and top["site"].endswith("leak.tl:4)")
    assert top["count_delta"] == 4000


def test_heapdiff_text(snapshots):
    status, out, _ = run_cli(["heapdiff", "--top", "1", snapshots[(100, True)], snapshots[(2100, True)]])
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("heap growth from ")
    assert "(+4000)" in lines[1]
    i = lines.index("by type:")
    assert lines[i + 2].split()[1] == "+2000" and lines[i + 2].split()[-1] in ("record", "array")
    assert lines[i + 3].startswith("  ... ") and "more (--top N)" in lines[i + 3]
    j = lines.index("by allocation site:")
    assert "entry (" in lines[j + 2] and "+4000" in lines[j + 2]


def test_heapdiff_without_sites_says_how_to_get_them(snapshots):
    status, out, _ = run_cli(["heapdiff", snapshots[(100, True)], snapshots[(2100, False)]])
    assert status == 0 and "by allocation site:" in out  # A has sites
    status, out, _ = run_cli(["heapdiff", snapshots[(2100, False)], snapshots[(2100, False)]])
    assert status == 0
    assert "(no change)" in out and "tvm run --alloc-sites" in out
    assert json.loads(run_cli(["heapdiff", "--json", snapshots[(2100, False)], snapshots[(2100, False)]])[1])["by_site"] is None


def test_heapdiff_errors(tmp_path, snapshots):
    bad = tmp_path / "bad.heapsnapshot"
    bad.write_text("{not json")
    status, out, err = run_cli(["heapdiff", str(bad), snapshots[(100, True)]])
    assert status == 1 and out == "" and err.startswith(f"error: {bad}: not a heap snapshot (invalid JSON")
    status, _, err = run_cli(["heapdiff", str(tmp_path / "missing"), snapshots[(100, True)]])
    assert status == 1 and err.startswith("error: cannot read ")
    other = tmp_path / "other.json"
    other.write_text('{"a": 1}')
    status, _, err = run_cli(["heapdiff", str(other), str(other)])
    assert status == 1 and "not a V8 heap snapshot" in err
    status, _, err = run_cli(["heapdiff", str(other)])
    assert status == 64 and "heapdiff needs two snapshot files" in err
    status, out, _ = run_cli(["heapdiff", "--help"])
    assert status == 0 and out.startswith("usage: tvm heapdiff")


# --------------------------------------------------------------------------- the gc module, host side


def test_gc_collect_frees_garbage_and_reports_it():
    vm = VM(stdout=io.StringIO())
    vm.run_source("import gc\nvar freed = 0\nfn churn() { for i in 0..3000 { let a = [i] } }\n")
    heap = vm.machine.heap
    vm.machine.collect()
    before = heap.stats.collections
    vm.run_source("churn()\nfreed = gc.collect()\n")
    freed = vm.globals["freed"]
    assert freed >= 3000  # the arrays (and their loop's iterators)
    assert heap.stats.collections == before + 1
    assert vm.gc_stats()["freed_objects"] >= freed


def test_gc_collect_fires_the_gc_hook():
    vm = VM(stdout=io.StringIO())
    events = []
    vm.machine.hooks.add("gc", lambda e: events.append(e.data))
    vm.run_source("import gc\nlet n = gc.collect()\n")
    assert len(events) >= 1 and events[-1]["freed"] == vm.globals["n"]


def test_gc_stats_is_the_hosts_report():
    vm = VM(stdout=io.StringIO())
    vm.run_source("import gc\ngc.collect()\nlet s = gc.stats()\n")
    s = vm.globals["s"]
    host = vm.gc_stats()
    assert set(s) == set(host)
    assert s["mode"] == "stw" and s["by_kind"]["full"] == host["by_kind"]["full"]
    assert s["generations"]["old"].keys() == {"bytes", "objects"}


def test_gc_module_under_the_jit_and_stress():
    src = """
import gc
fn hot(n) {
  var acc = []
  for i in 0..n {
    acc.push([i, i * 2])
    if i % 100 == 0 { gc.collect() }
  }
  return acc
}
var total = 0
for k in 0..5 { let a = hot(300); total = total + a[299][1] + len(a) }
print(total)
"""
    for kw in ({"jit": "eager"}, {"jit": "on", "jit_threshold": (1, 1)}, {"gc_stress": True}, {"fuse": False}):
        out = io.StringIO()
        VM(stdout=out, **kw).run_source(src)
        assert out.getvalue() == f"{5 * (598 + 300)}\n", kw


def test_heapdiff_reads_a_snapshot_without_tinyvm_types(tmp_path, snapshots):
    # A V8 snapshot from elsewhere (Chrome, Node) has no TinyVM type table:
    # heapdiff groups by V8 node type and name (the constructor) instead.
    data = json.loads(open(snapshots[(2100, False)]).read())
    del data["tinyvm_node_types"], data["snapshot"]["tinyvm_types"]
    foreign = tmp_path / "foreign.heapsnapshot"
    foreign.write_text(json.dumps(data))
    status, out, _ = run_cli(["heapdiff", "--json", str(foreign), str(foreign)])
    assert status == 0 and json.loads(out)["by_type"] == []
    from tinyvm.heap.v8snapshot import read_v8

    types = {r["type"] for r in read_v8(str(foreign))["nodes"]}
    assert "record" in types and "(string)" in types and "(synthetic)" in types


def test_a_caught_memory_error_takes_no_snapshot_until_exit(tmp_path):
    prog = tmp_path / "caught.tl"
    prog.write_text("""
fn fill() {
  var hog = []
  while true { hog.push([1]) }
}
try { fill() } catch e { print("caught") }
let marker = ["at", "exit"]
""")
    snap = tmp_path / "c.heapsnapshot"
    status, out, err = run_cli(["run", "--max-memory", "2M", f"--heap-snapshot={snap}", str(prog)])
    assert (status, out, err) == (0, "caught\n", "")
    strings = json.loads(snap.read_text())["strings"]
    assert "exit" in strings  # taken at exit, after the catch: the marker is there
    assert not any(s.endswith(": hog") for s in strings)
