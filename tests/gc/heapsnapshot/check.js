// Loads a .heapsnapshot with memlab's V8 heap snapshot parser (@memlab/core)
// and prints what it found as one JSON object: tests/gc/test_snapshot_node.py
// compares it with the heap the snapshot was taken of.
"use strict";
const { utils, TraceFinder } = require("@memlab/core");

async function main() {
  const file = process.argv[2];
  const snap = await utils.getSnapshotFromFile(file, { buildNodeIdIndex: true, verbose: false });
  // memlab's own dominator tree (Lengauer-Tarjan) and retained sizes.
  new TraceFinder().calculateAllNodesRetainedSizes(snap);
  const byName = {};
  let selfTotal = 0;
  let nodes = 0;
  snap.nodes.forEach((node) => {
    nodes += 1;
    selfTotal += node.self_size;
    if (node.type === "synthetic") return;
    const key = `${node.type}:${node.name}`;
    const row = byName[key] || (byName[key] = { count: 0, self_size: 0, retained_size: 0 });
    row.count += 1;
    row.self_size += node.self_size;
    row.retained_size = Math.max(row.retained_size, node.retainedSize);
  });
  let edges = 0;
  snap.edges.forEach(() => { edges += 1; });
  const root = snap.getNodeById(1);
  // A few named edges, as a viewer shows them.
  const sample = [];
  snap.nodes.forEach((node) => {
    if (sample.length < 2000) {
      node.references.forEach((e) => {
        if (sample.length < 2000) sample.push([node.id, e.type, String(e.name_or_index), e.toNode.id]);
      });
    }
  });
  const retained = {};
  snap.nodes.forEach((node) => { retained[node.id] = node.retainedSize; });
  process.stdout.write(JSON.stringify({
    nodes, edges, selfTotal, rootRetained: root ? root.retainedSize : null,
    byName, sample, retained,
  }));
}

main().catch((e) => { process.stderr.write(String(e && e.stack || e) + "\n"); process.exit(1); });
