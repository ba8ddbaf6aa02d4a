# tries: hand a guest value (an array, a closure, a handle) from one VM to another VM
# status: 0
# stdout: ok
# needs: api-handle api-globals
from tinyvm import VM

a, b = VM(), VM()
a.run_source("fn make() { var n = 0\n return fn() { n += 1\n return n } }\n")
b.run_source("fn ident(x) { return x }\n")
closure = a.call("make")
handle = a.handle(object(), methods=[])
for value in (closure, handle):
    try:
        b.call("ident", value)
        raise SystemExit(f"a value of VM a entered VM b: {value!r}")
    except (TypeError, ValueError):
        pass
print("ok")
