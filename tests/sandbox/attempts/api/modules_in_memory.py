# tries: from an in-memory module set, import files from disk (../, absolute, the outside folder)
# status: 0
# stdout: 2
# stdout: ok
# needs: api-modules
import os

from tinyvm import VM

outside = os.path.join(os.environ["TVM_SANDBOX_ROOT"], "outside")
vm = VM(modules={"util.tl": "export fn two() { return 2 }"})
vm.run_source('import "./util" as u\nprint(u.two())\n')
for spec in ["../outside/lib", outside + "/lib", "./link_lib"]:
    try:
        vm.run_source(f'import "{spec}" as l\nprint(l.leaked)\n')
        raise SystemExit(f"imported {spec}")
    except Exception as e:
        assert "TVM-CANARY" not in str(e), e
print("ok")
