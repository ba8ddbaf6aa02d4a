# tries: a host function that raises (KeyError with a host path, RecursionError): the guest sees an Error with the message only, no traceback; uncaught, the host gets the original back as __cause__
# status: 0
# stdout: ok
# needs: api-handle
from tinyvm import VM, GuestException

vm = VM()


@vm.function
def lookup(k: str) -> str:
    raise KeyError(f"/etc/host/secret/{k}")


vm.run_source('var seen = ""\nfn probe() {\n  try { lookup("x") } catch e { seen = e.stack }\n  return seen\n}\n')
stack = vm.call("probe")
assert "Traceback" not in stack and ".py" not in stack, stack
try:
    vm.run_source('lookup("y")\n')
    raise SystemExit("no error")
except GuestException as e:
    assert isinstance(e.__cause__, KeyError), repr(e.__cause__)
print("ok")
