# tries: a host SourceSet whose read returns odd types (int, None, a list, bytes that are not UTF-8, a huge text) or whose exists answers oddly: a clean CompileError or a TypeError naming the set, never a VM bug, the VM usable after
# status: 0
# stdout: ok
# needs: api-modules
from tinyvm import VM, GuestException
from tinyvm.lang.diagnostics import CompileError


class Odd:
    def __init__(self, content, exists=True):
        self.content, self.answer = content, exists

    def exists(self, path):
        return self.answer

    def read(self, path):
        return self.content

    def describe(self):
        return "the odd set"


cases = [3, None, ["x"], {"x": 1}, b"\xff\xfe\xfd", "let = ", "x" * 200000, "export let v = " + "[" * 5000 + "]" * 5000, object()]
for content in cases:
    vm = VM(modules=Odd(content))
    try:
        vm.run_source('import "./m" as m\nprint(m.v)\n')
    except (CompileError, GuestException) as e:
        assert "InternalError" not in str(e) and "Traceback" not in str(e), str(e)[:300]
    except TypeError as e:
        assert "Odd" in str(e), e
    assert vm.eval("1 + 1") == 2
for answer in (0, None, "", []):
    vm = VM(modules=Odd("export let v = 1", answer))
    try:
        vm.run_source('import "./m" as m\nprint(m.v)\n')
        raise SystemExit(f"exists={answer!r} imported")
    except CompileError as e:
        assert "cannot find module" in str(e), e
print("ok")
