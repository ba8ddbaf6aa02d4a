# tries: an endless guest loop and a guest blocked in sleep, stopped from another thread with vm.interrupt(); the VM is usable afterwards
# status: 0
# stdout: ok
# needs: api-limits api-globals
import threading

from tinyvm import VM, Interrupted

vm = VM()
for src in ["while true {}\n", "sleep(100000000)\n"]:
    threading.Timer(0.3, vm.interrupt).start()
    try:
        vm.run_source(src)
        raise SystemExit("not interrupted")
    except Interrupted:
        pass
assert vm.eval("1 + 2") == 3
print("ok")
