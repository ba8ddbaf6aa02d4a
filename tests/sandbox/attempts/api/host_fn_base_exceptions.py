# tries: host functions raising KeyboardInterrupt, SystemExit, GeneratorExit and a custom BaseException subclass: guest catch and finally must not see them, the host gets each unchanged, the VM stays usable
# status: 0
# stdout: ok
# needs: api-handle api-globals
from tinyvm import VM


class HostAbort(BaseException):
    pass


vm = VM()
raised = {"kb": KeyboardInterrupt("kb"), "se": SystemExit(7), "ge": GeneratorExit("ge"), "ha": HostAbort("ha")}
for name, exc in raised.items():
    vm.register(lambda exc=exc: (_ for _ in ()).throw(exc), name)
vm.run_source(
    "var guest_saw = 0\n"
    "fn wrap(f) { try { f() } catch e { guest_saw += 1 } finally { guest_saw += 100 } }\n"
)
for name, exc in raised.items():
    try:
        vm.call("wrap", vm.globals[name])
        raise AssertionError(f"{name}: nothing reached the host")
    except BaseException as e:
        if isinstance(e, AssertionError):
            raise
        assert e is exc, (name, repr(e))
    assert vm.globals["guest_saw"] == 0, (name, vm.globals["guest_saw"])
    assert vm.eval("1 + 1") == 2
print("ok")
