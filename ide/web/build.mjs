// Builds the IDE's front end into the Python package:
//   src/tinyvm/tools/ide/static/{index.html, assets/ide.js, assets/ide.css}
// Deterministic (pinned esbuild, no timestamps, no hashes in names, no
// source maps), so CI can rebuild and `git diff --exit-code` the result.
import { build } from "esbuild";
import { mkdirSync, copyFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "..", "src", "tinyvm", "tools", "ide", "static");
mkdirSync(join(out, "assets"), { recursive: true });

const result = await build({
  entryPoints: [join(here, "src", "main.js")],
  outfile: join(out, "assets", "ide.js"),
  bundle: true,
  minify: !process.env.TVM_IDE_DEV,
  format: "iife",
  target: ["es2022"],
  charset: "utf8",
  legalComments: "eof",
  logLevel: "warning",
  metafile: true,
  absWorkingDir: here,
});
copyFileSync(join(here, "src", "index.html"), join(out, "index.html"));

const sizes = Object.entries(result.metafile.outputs).map(([file, o]) => `${file} ${(o.bytes / 1024).toFixed(0)} KiB`);
console.log(sizes.join("\n"));
