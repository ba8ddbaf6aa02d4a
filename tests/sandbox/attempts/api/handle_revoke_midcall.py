# tries: a host function revokes a handle while guest code is using it (in a loop, in a spawned fiber, as a map value); every later use is a clean guest Error, the host object is no longer reachable
# status: 0
# stdout: ok
# needs: api-handle api-globals
import gc
import weakref

from tinyvm import VM, GuestException


class Res:
    def __init__(self):
        self.n = 0

    def use(self):
        self.n += 1
        return self.n


vm = VM()
res = Res()
ref = weakref.ref(res)
h = vm.handle(res, methods=["use"])
vm.globals["h"] = h


@vm.function
def revoke() -> None:
    h.revoke()


vm.run_source(
    'let box = ["h": h]\n'
    "fn run() {\n"
    "  var n = 0\n"
    "  for i in 0..10 { if i == 3 { revoke() }\n try { n = box[\"h\"].use() } catch e { return \"${typeof(e)}: ${e.message} after ${n}\" } }\n"
    "  return \"never revoked\"\n"
    "}\n"
)
msg = vm.call("run")
assert msg == "Error: handle Res was revoked after 3", msg
try:
    vm.run_source("spawn fn() { h.use() }()\nsleep(0.01)\n")
except GuestException:
    pass
del res
gc.collect()
assert ref() is None, "the revoked handle still keeps the host object alive"
print("ok")
