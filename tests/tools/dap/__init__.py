"""Tests of `tvm dap` (the Python-level protocol tests and the VS Code client tests)."""
