# tries: catch OutOfFuel with a guest catch-all and a finally that loops, per call and per VM
# status: 0
# stdout: ok
# needs: api-limits
from tinyvm import VM, OutOfFuel

vm = VM(fuel=100000)
vm.run_source("fn spin() { while true { try { while true {} } catch e { } finally { while true {} } } }\n")
try:
    vm.call("spin", fuel=10000)
    raise SystemExit("fuel was caught")
except OutOfFuel:
    pass
print("ok")
