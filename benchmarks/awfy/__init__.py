"""The Are We Fast Yet ports (the ``.tl`` files here) and their harness.

``python -m benchmarks.awfy`` runs the harness, which lives in
``benchmarks/awfy_harness.py`` so that this folder holds the TinyLang ports and
nothing else but these two entry files.
"""
