"""`tvm dap`: the Debug Adapter Protocol server (protocol.py framing,
session.py requests over the debugger engine, server.py stdio/TCP and the command line)."""
