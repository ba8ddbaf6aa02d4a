"""TinyVM benchmarks: TinyLang programs timed against the same algorithm in CPython.

Run from the repository root with ``python -m benchmarks`` (see benchmarks/README.md).
"""
