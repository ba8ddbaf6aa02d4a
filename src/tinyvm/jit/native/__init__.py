"""The native tier, v0: pure typed scalar functions compiled whole to machine code (docs/native.md).

    select.py   which functions compile (a whitelist over the optimized SSA IR) and their machine types
    emit.py     typed IR -> LLVM IR text (overflow intrinsics, bail status, countdown polls)
    engine.py   llvmlite: optimize, MCJIT, ctypes; the entry ops the Jit installs; `jit-dump --native`

llvmlite is an optional extra (`pip install 'tinyvm[native]'`), imported only
when a VM asks for `--jit=native` or `native-eager`; `require()` turns its
absence into one clear line.
"""

from __future__ import annotations

MISSING = "the native tier needs llvmlite: pip install 'tinyvm[native]'"


class NativeUnavailable(RuntimeError):
    """The native tier was asked for but llvmlite is not installed."""


def available() -> bool:
    """Whether llvmlite can be imported (without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec("llvmlite") is not None and importlib.util.find_spec("llvmlite.binding") is not None
    except (ImportError, ValueError):
        return False


def require() -> None:
    """Raise NativeUnavailable (with MISSING) unless llvmlite imports."""
    try:
        import llvmlite.binding  # noqa: F401
    except ImportError:
        raise NativeUnavailable(MISSING) from None
