# tries: pass host objects that have no guest form (bytes, a module, a class, an object, a generator) into the guest
# (a set has one since TinyLang 1.1: a Set, tests/embed/test_sets.py)
# status: 0
# stdout: ok
# needs: api-handle api-globals
import os

from tinyvm import VM

vm = VM()
vm.run_source("fn ident(x) { return x }\n")
for value in [b"bytes", os, object, object(), (i for i in range(3)), 1 << 70]:
    for put in (lambda v: vm.call("ident", v), lambda v: vm.globals.__setitem__("g", v)):
        try:
            put(value)
            raise SystemExit(f"{type(value).__name__} entered the guest unconverted")
        except (TypeError, OverflowError) as e:
            assert type(value).__name__ in str(e) or isinstance(e, OverflowError), str(e)
print("ok")
