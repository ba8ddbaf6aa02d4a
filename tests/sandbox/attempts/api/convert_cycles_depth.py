# tries: convert a self-containing list and a list nested 100000 deep (host RecursionError) in both directions
# status: 0
# stdout: ok
# needs: api-handle api-globals
from tinyvm import VM

vm = VM()
vm.run_source("fn ident(x) { return x }\nfn deep(n) { var a: any = []\n for i in 0..n { a = [a] }\n return a }\n")
cyc = []
cyc.append(cyc)
deep = []
for _ in range(100000):
    deep = [deep]
for value in (cyc, deep):
    try:
        vm.call("ident", value)
    except (TypeError, ValueError) as e:  # refused cleanly, or converted
        assert not isinstance(e, RecursionError)
try:
    vm.call("deep", 100000)
except (TypeError, ValueError) as e:
    assert not isinstance(e, RecursionError)
print("ok")
