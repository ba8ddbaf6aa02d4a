"""The SSA IR: the optimizing pipeline's first stage (docs/ir.md).

nodes.py is the data model, build.py turns verified bytecode into it, verify.py
checks its invariants, text.py prints and parses its text form. It imports only
bytecode/.
"""
