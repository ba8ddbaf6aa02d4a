// Loads a .heapsnapshot with Chrome DevTools' own loader (the Memory panel's
// HeapSnapshotLoader and JSHeapSnapshot, from the chrome-devtools-frontend
// package, bundled for node by build-devtools.mjs) and prints what DevTools
// would show as one JSON object: tests/gc/test_heap_snapshot_v8.py.
import * as fs from 'node:fs';

import * as HeapSnapshotModel from './node_modules/chrome-devtools-frontend/front_end/models/heap_snapshot/heap_snapshot.js';
import {SecondaryInitManager} from './node_modules/chrome-devtools-frontend/front_end/entrypoints/heap_snapshot_worker/HeapSnapshot.js';
import {HeapSnapshotLoader} from './node_modules/chrome-devtools-frontend/front_end/entrypoints/heap_snapshot_worker/HeapSnapshotLoader.js';

async function main(): Promise<void> {
  const text = fs.readFileSync(process.argv[2], 'utf8');
  const dispatcher = {sendEvent(): void {}};
  const loader = new HeapSnapshotLoader(dispatcher as never);
  // In chunks, as DevTools reads a file.
  for (let i = 0; i < text.length; i += 1 << 16) {
    loader.write(text.slice(i, i + (1 << 16)));
  }
  loader.close();
  // DevTools computes dominators in a second worker; here, a channel in-process.
  const {port1, port2} = new MessageChannel();
  new SecondaryInitManager(port2 as never);
  const snap = await loader.buildSnapshot(port1 as never);
  const aggregates = snap.aggregatesWithFilter(new HeapSnapshotModel.HeapSnapshotModel.NodeFilter());
  const classes: Record<string, {count: number, self: number, maxRet: number}> = {};
  for (const agg of Object.values(aggregates)) {
    classes[agg.name] = {count: agg.count, self: agg.self, maxRet: agg.maxRet};
  }
  process.stdout.write(JSON.stringify({nodeCount: snap.nodeCount, totalSize: snap.totalSize, classes}));
  port1.close();
  port2.close();
}

main().catch(e => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
