"""Tools that watch a VM run, all over its hook API (vm/hooks.py, docs/hooks.md):
the debugger engine and its front ends (`tvm debug`, `tvm dap`), recording,
replay and time travel, the profiler (`tvm prof`), the tracer (`tvm run
--trace`) and metrics (`--metrics-port`). The CLI imports each lazily, for
its own subcommand only, so `tvm run` starts without them."""
