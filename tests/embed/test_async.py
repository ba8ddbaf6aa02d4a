"""call_async: the guest runs off the event loop; async host functions run on it."""

from __future__ import annotations

import asyncio
import io
import threading

from tinyvm import VM


def test_call_async_does_not_block_the_loop_and_runs_host_coroutines_on_it():
    vm = VM(stdout=io.StringIO())
    loops = []

    @vm.function
    async def fetch(url: str) -> str:
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0.01)
        return url.upper()

    vm.run_source("fn fetch_all(urls: [string]) -> [string] { let out: [string] = []; for u in urls { out.push(fetch(u)) }; return out }")

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        t = asyncio.create_task(ticker())
        result = await vm.call_async("fetch_all", ["a", "b", "c"])
        t.cancel()
        return result, ticks, asyncio.get_running_loop()

    result, ticks, loop = asyncio.run(main())
    assert result == ["A", "B", "C"]
    assert ticks > 0  # the loop kept running while the guest waited
    assert loops == [loop] * 3


def test_concurrent_calls_are_serialised():
    vm = VM(stdout=io.StringIO())
    vm.run_source("var n = 0\nfn bump(k) { for i in 0..k { n += 1 }; return n }")

    async def main():
        return await asyncio.gather(*(vm.call_async("bump", 1000) for _ in range(4)))

    results = asyncio.run(main())
    assert sorted(results) == [1000, 2000, 3000, 4000]


def test_threads_share_a_vm_safely():
    vm = VM(stdout=io.StringIO())
    vm.run_source("var n = 0\nfn bump() { n += 1; return n }")
    threads = [threading.Thread(target=lambda: [vm.call("bump") for _ in range(200)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert vm.eval("n") == 800
