// TinyVM Debug: tells VS Code how to reach the adapter. A launch runs
// `tvm dap` (stdio); an attach with a "port" connects to a `tvm dap --port N`
// already running on 127.0.0.1. Everything else is the adapter's.
'use strict';
const vscode = require('vscode');

function activate(context) {
  const factory = {
    createDebugAdapterDescriptor(session) {
      const port = session.configuration.port;
      if (session.configuration.request === 'attach' && port) {
        return new vscode.DebugAdapterServer(Number(port), '127.0.0.1');
      }
      const tvm = vscode.workspace.getConfiguration('tinyvm').get('tvmPath') || 'tvm';
      return new vscode.DebugAdapterExecutable(tvm, ['dap']);
    },
  };
  context.subscriptions.push(vscode.debug.registerDebugAdapterDescriptorFactory('tinyvm', factory));
}

function deactivate() {}

module.exports = { activate, deactivate };
