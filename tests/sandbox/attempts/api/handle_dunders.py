# tries: reach a handle's host object through every guest operation that is not a listed method call (dunder names as methods, indexing, field writes, interpolation, json, equality, typeof, iteration, a handle of the host's own module)
# status: 0
# stdout: handle <handle Store>
# stdout: ok
# needs: api-handle api-globals
import os

from tinyvm import VM, GuestException
from tinyvm.lang.diagnostics import CompileError


class Store:
    def __init__(self):
        self.data = {"k": "v"}

    def get(self, k):
        return self.data.get(k)

    def __getitem__(self, k):
        return "host getitem"

    def __iter__(self):
        return iter(["host iter"])


vm = VM()
vm.globals["s"] = vm.handle(Store(), methods=["get"])
vm.run_source('print("${typeof(s)} ${s}")\n')
probes = [
    "s.__getattribute__(\"data\")", "s.__class__()", "s.__init__()", "s.__dict__", "s.data", "s._obj",
    "s[\"k\"]", "s.get.__self__", "s.get.__func__", "s.get(\"k\").__class__",
    "s.data = 1", "s.get = 1", "json.stringify(s)", "for x in s { print(x) }", "len(s)", "s + 1", "[s: 1]",
]
for probe in probes:
    src = f"import json\nlet h: any = s\n{probe.replace('s', 'h', 1) if probe.startswith('s') else probe.replace('(s', '(h').replace(' s ', ' h ').replace('[s', '[h')}\n"
    try:
        vm.run_source(src)
        raise SystemExit(f"no error for {probe}")
    except (GuestException, CompileError) as e:
        text = str(e)
        assert "host getitem" not in text and "host iter" not in text and "'v'" not in text, (probe, text)
        assert "InternalError" not in text and "Traceback" not in text, (probe, text)
for bad in (["__getattribute__"], ["_private"], ["data"], ["get", 3], "get", ["no_such"]):
    try:
        vm.handle(Store(), methods=bad)
        raise SystemExit(f"methods={bad!r} accepted")
    except (TypeError, ValueError):
        pass
for bad in (["system"], ["getcwd"]):  # a module's functions are callable: a handle over `os` lists exactly what it names
    h = vm.handle(os, methods=bad)
    vm.globals["o"] = h
    h.revoke()
    try:
        vm.run_source(f"o.{bad[0]}(\"true\")\n")
        raise SystemExit("a revoked handle over os ran")
    except GuestException:
        pass
print("ok")
