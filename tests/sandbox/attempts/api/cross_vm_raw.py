# tries: move guest values between VMs as raw values (vm.get), proxies, host functions and task/generator proxies, so that VM b runs VM a's closures (and reaches a's host functions)
# status: 0
# stdout: ok
# needs: api-handle api-globals
from tinyvm import VM

a, b = VM(), VM()
calls = []


@a.function
def secret() -> str:
    calls.append("secret")
    return "a's secret"


a.run_source("let arr = [1, 2]\nfn f() { return secret() }\nfn g() { yield 1 }\nasync fn t() { return 1 }\n")
b.run_source("fn ident(x) { return x }\nfn call(f) { return f() }\n")
values = [a.get("arr"), a.get("f"), a.globals["f"], a.call("g"), a.call("t"), secret]
for v in values:
    for use in ("ident", "call"):
        try:
            b.call(use, v)
            raise SystemExit(f"a value of VM a entered VM b: {v!r}")
        except TypeError:
            pass
        try:
            b.globals["x"] = v
            raise SystemExit(f"a value of VM a became a global of VM b: {v!r}")
        except TypeError:
            pass
assert calls == [], calls
assert b.call("ident", [1, 2]) == [1, 2] and a.call("f") == "a's secret"
print("ok")
