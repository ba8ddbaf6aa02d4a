// `tvm dap --port N PROGRAM`: a client attaches over TCP to the program named
// on the command line.
'use strict';
const { test } = require('node:test');
const cp = require('node:child_process');
const { DebugClient } = require('@vscode/debugadapter-testsupport');
const { TVM, PROGRAMS, program, line, frames, scope, assert } = require('./helpers');

test('attach over TCP to `tvm dap --port 0 --once basic.tl`', async () => {
  const server = cp.spawn(TVM, ['dap', '--port', '0', '--once', program('basic.tl')], { cwd: PROGRAMS, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const port = await new Promise((resolve, reject) => {
      let err = '';
      server.stderr.on('data', d => {
        err += d;
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(err);
        if (m) resolve(Number(m[1]));
      });
      server.on('exit', code => reject(new Error(`tvm dap exited ${code}: ${err}`)));
    });
    const dc = new DebugClient(TVM, 'dap', 'tinyvm');
    await dc.start(port);
    const initialized = dc.waitForEvent('initialized');
    await dc.initializeRequest();
    await dc.attachRequest({ stopOnEntry: true });
    await initialized;
    await dc.setBreakpointsRequest({ source: { path: program('basic.tl') }, breakpoints: [{ line: line('basic.tl', 'print') }] });
    let stopped = dc.waitForEvent('stopped');
    await dc.configurationDoneRequest();
    assert.equal((await stopped).body.reason, 'entry');
    stopped = dc.waitForEvent('stopped');
    await dc.continueRequest({ threadId: 1 });
    assert.equal((await stopped).body.reason, 'breakpoint');
    const fs = await frames(dc);
    assert.equal(fs[0].line, line('basic.tl', 'print'));
    assert.equal((await scope(dc, fs[0].id, 'Globals')).total.value, '60');
    await dc.disconnectRequest({});
    const code = await new Promise(resolve => server.on('exit', resolve));
    assert.equal(code, 0); // --once: the server ends with its one session
  } finally {
    server.kill();
  }
});
