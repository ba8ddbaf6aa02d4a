# tries: a host function that raises (KeyError with a host path): the guest sees a HostError with the message only, no traceback; uncaught, the host gets the original KeyError back, its __cause__ the GuestException with the guest trace
# status: 0
# stdout: ok
# needs: api-handle
from tinyvm import VM, GuestException

vm = VM()


@vm.function
def lookup(k: str) -> str:
    raise KeyError(f"/etc/host/secret/{k}")


vm.run_source('var seen = ""\nfn probe() {\n  try { lookup("x") } catch e { seen = "${typeof(e)}|${e.message}|${e.stack}" }\n  return seen\n}\n')
seen = vm.call("probe")
assert seen.startswith("HostError|"), seen
assert "Traceback" not in seen and ".py" not in seen and "hostfn" not in seen, seen
try:
    vm.run_source('lookup("y")\n')
    raise SystemExit("no error")
except KeyError as e:
    assert isinstance(e.__cause__, GuestException), repr(e.__cause__)
    assert e.__cause__.class_name == "HostError", e.__cause__.class_name
    assert "<string>:1" in e.__cause__.render(), e.__cause__.render()
assert vm.eval("1 + 1") == 2
print("ok")
