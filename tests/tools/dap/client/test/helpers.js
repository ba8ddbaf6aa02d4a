// Helpers for the tests that drive `tvm dap` with VS Code's own DAP client
// (DebugClient from @vscode/debugadapter-testsupport).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { DebugClient } = require('@vscode/debugadapter-testsupport');

// The adapter: $TVM (the pytest runner sets it to the venv's tvm), else the
// worktree's .venv/bin/tvm.
const ROOT = path.resolve(__dirname, '..', '..', '..', '..', '..');
const TVM = process.env.TVM || path.join(ROOT, '.venv', 'bin', 'tvm');
const PROGRAMS = path.resolve(__dirname, '..', '..', 'programs');
const TIMEOUT = 30000;

function program(name) {
  return path.join(PROGRAMS, name);
}

// The line of `// @marker` in a test program (1-based), so programs may change.
function line(name, marker) {
  const lines = fs.readFileSync(program(name), 'utf8').split('\n');
  const re = new RegExp('// @' + marker + '(\\s|$)');
  const i = lines.findIndex(l => re.test(l));
  assert.ok(i >= 0, `no @${marker} in ${name}`);
  return i + 1;
}

// A client connected to a fresh `tvm dap` (stdio), with its output events collected.
async function client() {
  const dc = new DebugClient(TVM, 'dap', 'tinyvm', { cwd: PROGRAMS }, !!process.env.DAP_STDERR);
  dc.defaultTimeout = TIMEOUT;
  await dc.start();
  dc.output = [];
  dc.on('output', e => dc.output.push(e.body));
  dc.threadEvents = [];
  dc.on('thread', e => dc.threadEvents.push(e.body));
  return dc;
}

// initialize + launch, then `configure(dc)` (breakpoints...) once `initialized`
// came, then configurationDone. Resolves with the first `stopped` event
// (or `exited`, when `expect` is 'exited').
async function launch(dc, launchArgs, configure, expect = 'stopped') {
  const initialized = dc.waitForEvent('initialized');
  await dc.launch(launchArgs);
  await initialized;
  if (configure) await configure(dc);
  const first = dc.waitForEvent(expect);
  await dc.configurationDoneRequest();
  return first;
}

// Run a request that resumes the program; resolves with the next `stopped` event.
async function resume(dc, request) {
  const stopped = dc.waitForEvent('stopped');
  const r = await request();
  assert.equal(r.success, true);
  return stopped;
}

async function frames(dc, threadId = 1) {
  const r = await dc.stackTraceRequest({ threadId });
  return r.body.stackFrames;
}

// name -> value of a scope ('Locals', 'Globals', ...) of a frame.
async function scope(dc, frameId, name = 'Locals') {
  const scopes = (await dc.scopesRequest({ frameId })).body.scopes;
  const s = scopes.find(x => x.name === name);
  assert.ok(s, `no ${name} scope in ${JSON.stringify(scopes)}`);
  return vars(dc, s.variablesReference);
}

async function vars(dc, ref) {
  const vs = (await dc.variablesRequest({ variablesReference: ref })).body.variables;
  const out = {};
  for (const v of vs) out[v.name] = v;
  return out;
}

async function stdout(dc) {
  return dc.output.filter(o => o.category === 'stdout').map(o => o.output).join('');
}

module.exports = { TVM, PROGRAMS, program, line, client, launch, resume, frames, scope, vars, stdout, assert };
