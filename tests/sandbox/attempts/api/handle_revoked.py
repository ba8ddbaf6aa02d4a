# tries: keep using a handle after the host revoked it (saved in a global, a closure, a container)
# status: 0
# stdout: 1
# stdout: ok
# needs: api-handle api-globals
from tinyvm import VM, GuestException


class Counter:
    n = 0

    def inc(self):
        self.n += 1
        return self.n


c = Counter()
vm = VM()
h = vm.handle(c, methods=["inc"])
vm.globals["h"] = h
vm.run_source("let saved = [h]\nfn later() { return saved[0].inc() }\nprint(later())\n")
h.revoke()
try:
    vm.call("later")
    raise SystemExit("a revoked handle still works")
except GuestException as e:
    assert e.class_name != "InternalError", e
assert c.n == 1, c.n
print("ok")
