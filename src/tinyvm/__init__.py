"""TinyVM: a language runtime platform for TinyLang and Lox.

Embedding::

    from tinyvm import VM
    vm = VM()
    vm.run_source('fn add(a, b) { return a + b }')
    vm.call("add", 1, 2)   # -> 3

Heavy parts (compiler, interpreter) are imported lazily so `import tinyvm` is cheap.
"""

__version__ = "0.1.0"

__all__ = ["VM", "GuestException", "__version__"]


def __getattr__(name: str):
    if name == "VM":
        from .api import VM

        return VM
    if name == "GuestException":
        from .runtime.errors import GuestException

        return GuestException
    raise AttributeError(name)
