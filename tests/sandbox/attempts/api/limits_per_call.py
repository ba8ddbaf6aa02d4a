# tries: get around the API's limits: per-call fuel larger than the tank, bad limit values, fuel on a VM that does not count it, a nested call from a host function asking for more time than its caller has; each limit leaves the VM usable
# status: 0
# stdout: ok
# needs: api-limits
import io
import time

from tinyvm import VM, DeadlineExceeded, LimitExceeded, OutOfFuel, OutputLimitExceeded

vm = VM(fuel=20000)
vm.run_source("fn spin() { while true {} }\nfn add(a, b) { return a + b }\n")
try:
    vm.call("spin", fuel=10**9)  # the tank (20000) still bounds it
    raise SystemExit("ran past the tank")
except OutOfFuel:
    pass
assert vm.fuel == 0, vm.fuel
try:
    vm.call("add", 1, 2)
    raise SystemExit("ran on an empty tank")
except OutOfFuel:
    pass
vm.fuel = 1000  # refill
assert vm.call("add", 1, 2) == 3
for bad in (-1, 1.5, True, "10", 10**30 * 1.0):
    try:
        vm.call("add", 1, 2, fuel=bad)
        raise SystemExit(f"fuel={bad!r} accepted")
    except (ValueError, TypeError):
        pass
for bad in (0, -1, float("nan")):
    try:
        vm.call("add", 1, 2, timeout=bad)
        raise SystemExit(f"timeout={bad!r} accepted")
    except (ValueError, TypeError):
        pass
for kw in ({"timeout": -1}, {"timeout": 0}, {"max_output": -5}, {"fuel": -1}, {"fuel": 5, "meter_fuel": False}):
    try:
        VM(**kw)
        raise SystemExit(f"VM({kw}) accepted")
    except (ValueError, TypeError):
        pass
plain = VM()
plain.run_source("fn one() { return 1 }\n")
assert plain.fuel_used is None
try:
    plain.call("one", fuel=100)
    raise SystemExit("a per-call fuel limit on a VM that does not count fuel")
except ValueError:
    pass

# A host function calling back into the guest cannot widen its caller's deadline.
t = VM(timeout=0.3)


@t.function
def again() -> int:
    return t.call("spin", timeout=100.0)


t.run_source("fn spin() { while true {} }\nfn outer() { return again() }\n")
start = time.monotonic()
try:
    t.call("outer")
    raise SystemExit("the nested call outlived its caller's deadline")
except DeadlineExceeded:
    pass
assert time.monotonic() - start < 5, time.monotonic() - start
assert t.eval("40 + 2") == 42

out = io.StringIO()
o = VM(max_output=64, stdout=out)
try:
    o.run_source('while true { try { print("0123456789") } catch e { print("caught") } }\n')
    raise SystemExit("no output limit")
except OutputLimitExceeded as e:
    assert isinstance(e, LimitExceeded) and e.limit == "output", e
assert len(out.getvalue()) == 64 and "caught" not in out.getvalue(), out.getvalue()
o.run_source('print("fresh run")\n')
assert out.getvalue().endswith("fresh run\n")
print("ok")
