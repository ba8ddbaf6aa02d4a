# tries: park the guest where an interrupt might not reach it (a channel receive, a select, a sleep in a spawned fiber, an await) and check no timer or fiber of the stopped call survives into the next one
# status: 0
# stdout: ok
# needs: api-limits api-globals
import threading
import time

from tinyvm import VM, Interrupted

vm = VM()
vm.run_source(
    "let ch = Chan(0)\n"
    "fn keep_alive() { spawn fn() { sleep(100000) }() }\n"  # (else: a DeadlockError at once)
    "fn recv_forever() { keep_alive()\n return ch.recv() }\n"
    "fn select_forever() { keep_alive()\n let other = Chan(0)\n select { case v = ch.recv() { return v } case w = other.recv() { return w } } }\n"
    "fn sleepers() { for i in 0..50 { spawn fn() { sleep(100000); print(\"leaked fiber ran\") }() }\n sleep(100000) }\n"
    "async fn slow() { sleep(100000)\n return 1 }\n"
    "fn awaits() { return await slow() }\n"
)
for name in ("recv_forever", "select_forever", "sleepers", "awaits"):
    timer = threading.Timer(0.2, vm.interrupt)
    timer.start()
    start = time.monotonic()
    try:
        vm.call(name)
        raise SystemExit(f"{name}: not interrupted")
    except Interrupted:
        pass
    took = time.monotonic() - start
    assert took < 3, (name, took)
    start = time.monotonic()
    assert vm.eval("1 + 1") == 2
    assert time.monotonic() - start < 1, f"{name}: the next call waited on a stale timer"
vm.interrupt()  # with no run in progress: the next run is not interrupted
assert vm.eval("2 + 2") == 4
print("ok")
