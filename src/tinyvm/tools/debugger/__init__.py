"""The debugger: an in-process engine (engine.py) over the VM's hook API,
and `tvm debug` (cli.py), the terminal front end. The DAP server
(tools/dap) drives the same engine."""
