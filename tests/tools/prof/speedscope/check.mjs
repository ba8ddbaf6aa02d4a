// Imports a profile file with speedscope's own importer (the code the
// speedscope app runs when a file is opened), from its npm package, and
// prints a JSON summary of what it understood, for tests/tools/prof.
//
// The package ships only the app's browser bundle; its importer module
// (importProfileGroupFromText) is inside it. We evaluate the bundle up to
// the statement that loads that module, leaving out the user interface that
// needs a browser, and take the module from there.
import fs from "node:fs";
import path from "node:path";
import vm from "node:vm";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const dist = path.join(path.dirname(require.resolve("speedscope/package.json")), "dist", "release");
const bundleName = fs.readdirSync(dist).find((f) => /^speedscope-.*\.js$/.test(f));
let source = fs.readFileSync(path.join(dist, bundleName), "utf8");
const anchor = /var (\w+)=Promise\.resolve\(\)\.then\(\(\)=>\((\w+)\(\),(\w+)\)\);/.exec(source);
if (!anchor) throw new Error("speedscope bundle: importer module not found");
source = source.slice(0, anchor.index + anchor[0].length) + `globalThis.__importer=${anchor[1]};})();`;

const sandbox = { console: { log() {}, warn() {}, error: console.error }, TextDecoder, TextEncoder, URL,
  setTimeout, clearTimeout, Uint8Array, ArrayBuffer, DataView, Blob, atob, btoa, performance,
  navigator: { userAgent: "node" }, window: {}, document: undefined, location: { href: "file:///", hash: "", search: "", protocol: "file:" }, self: {} };
sandbox.window = sandbox;
sandbox.self = sandbox;
vm.createContext(sandbox);
vm.runInContext(source, sandbox, { filename: bundleName });
const importer = await sandbox.__importer;

const file = process.argv[2];
const text = fs.readFileSync(file, "utf8");
let group;
try {
  group = await importer.importProfileGroupFromText(path.basename(file), text);
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e && e.message) }));
  process.exit(1);
}
if (!group) {
  console.log(JSON.stringify({ ok: false, error: "not recognised" }));
  process.exit(1);
}
const profiles = group.profiles.map((p) => {
  const frames = new Map();
  p.forEachFrame((f) => frames.set(f.name, { name: f.name, file: f.file, line: f.line, self: f.getSelfWeight(), total: f.getTotalWeight() }));
  return { name: p.getName(), unit: p.getWeightUnit(), totalWeight: p.getTotalWeight(), frames: [...frames.values()] };
});
console.log(JSON.stringify({ ok: true, name: group.name, profiles }));
