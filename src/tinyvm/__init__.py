"""TinyVM: a language runtime platform for TinyLang and Lox.

Embedding::

    from tinyvm import VM
    vm = VM()
    vm.run_source('fn add(a, b) { return a + b }')
    vm.call("add", 1, 2)   # -> 3

Heavy parts (compiler, interpreter) are imported lazily so `import tinyvm` is cheap.
"""

__version__ = "0.1.0"

__all__ = [
    "VM",
    "GuestException",
    "LimitExceeded",
    "OutOfFuel",
    "DeadlineExceeded",
    "Interrupted",
    "OutputLimitExceeded",
    "GuestExit",
    "__version__",
]
_FROM_ERRORS = frozenset(__all__[1:-1])


def __getattr__(name: str):
    if name == "VM":
        from .api import VM

        return VM
    if name in _FROM_ERRORS:
        from .runtime import errors

        return getattr(errors, name)
    raise AttributeError(name)
