# tries: an endless guest loop and a guest blocked in sleep, stopped from another thread with vm.interrupt(); the VM is usable afterwards
# status: 0
# stdout: ok
# needs: api-limits api-globals
import threading

from tinyvm import VM, Interrupted

vm = VM()


def keep_interrupting(done: threading.Event) -> None:
    # An interrupt sent while no run is going is dropped (by design), and under
    # load the run may start later than any fixed delay: so send it until the
    # run has ended.
    while not done.wait(0.3):
        vm.interrupt()


for src in ["while true {}\n", "sleep(100000000)\n"]:
    done = threading.Event()
    sender = threading.Thread(target=keep_interrupting, args=(done,))
    sender.start()
    try:
        vm.run_source(src)
        raise SystemExit("not interrupted")
    except Interrupted:
        pass
    finally:
        done.set()
        sender.join()
assert vm.eval("1 + 2") == 3
print("ok")
