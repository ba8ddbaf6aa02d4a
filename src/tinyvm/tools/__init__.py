"""Developer tools over the VM hook API: debugger, DAP server, profiler, tracing."""
