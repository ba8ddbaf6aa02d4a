# tries: smuggle paths outside the program's folder through the keys of VM(modules=...) ('..', absolute, 'a/../../x', empty, NUL) and import them
# status: 0
# stdout: 3
# stdout: ok
# needs: api-modules
from tinyvm import VM, GuestException
from tinyvm.lang.diagnostics import CompileError

for key in ["../x.tl", "/etc/x.tl", "a/../../x.tl", "..", ".", "", "./", "x/..", "../../outside/lib.tl"]:
    try:
        VM(modules={key: "export let v = 1"})
        raise SystemExit(f"modules key {key!r} accepted")
    except ValueError:
        pass
for bad in ({3: "x"}, {"a.tl": 3}, {"a.tl": None}, ["a.tl"], "a.tl", 42):
    try:
        VM(modules=bad)
        raise SystemExit(f"modules={bad!r} accepted")
    except TypeError:
        pass
vm = VM(modules={"a/../b.tl": "export let v = 2", "lib/c.tl": 'import "../b" as b\nexport let w = b.v + 1'})
vm.run_source('import "./lib/c" as c\nprint(c.w)\n')
for spec in ["../b", "./../b", "/b", "./lib/../../b", "./lib/../../../outside/lib", "./a/../b\\0"]:
    try:
        vm.run_source(f'import "{spec}" as m\nprint(m.v)\n')
        if spec in ("./lib/../../b",):
            raise SystemExit(f"{spec} imported")
    except (CompileError, GuestException) as e:
        assert "Traceback" not in str(e), e
print("ok")
