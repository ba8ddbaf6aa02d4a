"""The standard modules: what `import math` (and `time`, `json`, `random`,
`fs`, `os`, `net`, `gc`) gives a guest program, one Python module each, plus the
capability checks that decide what `fs`, `os` and `net` may touch
(capabilities.py).

A standard module is built per VM, on its first import, by the function
`make_<name>_module(vm)` of the module of that name here: it returns the
module's exports, name -> value, which the VM wraps in a module object
(vm/modules.py). Modules are imported only when a program imports them, so a
program that uses none loads none of this package but the capability checks.

The names each module exports are also known to the TinyLang checker, with
their types (lang/tinylang/signatures.py); a test compares the two.
"""

from __future__ import annotations

import sys
from typing import Any

# The standard modules, in the order the documentation lists them.
NAMES = ("math", "time", "json", "random", "fs", "os", "net", "gc", "path", "re")


def make_module(vm: Any, name: str) -> dict[str, Any] | None:
    """The exports of standard module `name` for `vm`, or None when there is
    no standard module of that name."""
    if name not in NAMES:
        return None
    module = f"{__name__}.{name}"
    __import__(module)
    return getattr(sys.modules[module], f"make_{name}_module")(vm)
