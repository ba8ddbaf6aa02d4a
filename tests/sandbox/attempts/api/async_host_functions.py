# tries: async host functions that never finish, raise, or are cancelled; call_async cancelled mid-run; a deadline while a host coroutine is pending: the host loop never blocks, nothing hangs, the VM is usable after each
# status: 0
# stdout: ok
# needs: api-handle api-limits
import asyncio
import time

from tinyvm import VM, DeadlineExceeded

vm = VM()


@vm.function
async def never() -> int:
    await asyncio.sleep(3600)
    return 1


@vm.function
async def fails(msg: str) -> int:
    raise RuntimeError(msg)


@vm.function
async def double(x: int) -> int:
    await asyncio.sleep(0.01)
    return 2 * x


vm.run_source(
    "fn wait_never() { return never() }\n"
    "fn catch_fail() { try { return fails(\"/host/path boom\") } catch e { return typeof(e) } }\n"
    "fn spin() { while true {} }\n"
    "fn fan(n) { var ts = []\n for i in 0..n { ts.push(spawn double(i)) }\n var s = 0\n for t in ts { s += await t }\n return s }\n"
)


async def main():
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    tick = asyncio.create_task(ticker())
    start = time.monotonic()
    try:
        await vm.call_async("wait_never", timeout=0.3)
        raise SystemExit("no deadline")
    except DeadlineExceeded:
        pass
    assert time.monotonic() - start < 3
    assert ticks > 5, f"the event loop was blocked ({ticks} ticks)"
    assert await vm.call_async("catch_fail") == "HostError"
    task = asyncio.create_task(vm.call_async("spin"))
    await asyncio.sleep(0.2)
    task.cancel()
    try:
        await task
        raise SystemExit("not cancelled")
    except asyncio.CancelledError:
        pass
    assert await vm.call_async("fan", 30, timeout=10) == sum(2 * i for i in range(30))
    results = await asyncio.gather(*(vm.call_async("fan", 3) for _ in range(5)))
    assert results == [6] * 5, results
    tick.cancel()


asyncio.run(main())
# Synchronously too (the VM's private loop thread), then closed cleanly.
try:
    vm.call("wait_never", timeout=0.2)
    raise SystemExit("no deadline")
except DeadlineExceeded:
    pass
assert vm.call("fan", 4) == 12
vm.close()
print("ok")
