"""An asyncio service calling guest code: the rules of a (pretend) pricing
service are a TinyLang script; each request runs `quote(item, qty)` with
`await vm.call_async(...)` (the event loop keeps serving meanwhile), and the
script awaits the host's `async def` functions (`fetch_price`, a pretend
database lookup), several at once from guest fibers.

    python examples/embedding/asyncio_service.py
"""

from __future__ import annotations

import asyncio
import sys

from tinyvm import VM, DeadlineExceeded, GuestException

PRICES = {"apple": 0.5, "pear": 0.75, "melon": 3.0}

RULES = """
fn quote(item: string, qty: int) -> string {
  let price = fetch_price(item)          // awaits the host coroutine
  var total = price * float(qty)
  if qty >= 10 { total = total * 0.9 }   // bulk discount
  return "${qty} x ${item} = ${total}"
}

fn basket(items: [string]) -> float {
  var tasks = []
  for it in items { tasks.push(spawn fetch_price(it)) }   // fetched concurrently
  var sum = 0.0
  for t in tasks { sum += await t }
  return sum
}

fn stuck() -> string { return slow_backend() }
"""


def make_vm() -> VM:
    vm = VM(timeout=2.0)

    @vm.function
    async def fetch_price(item: str) -> float:
        await asyncio.sleep(0.01)  # a database or HTTP call
        if item not in PRICES:
            raise KeyError(f"no price for {item}")
        return PRICES[item]

    @vm.function
    async def slow_backend() -> str:
        await asyncio.sleep(60)
        return "never"

    vm.run_source(RULES, path="rules.tl")
    return vm


async def main() -> int:
    vm = make_vm()
    heartbeats = 0

    async def heartbeat() -> None:  # shows the loop is never blocked by the guest
        nonlocal heartbeats
        while True:
            await asyncio.sleep(0.005)
            heartbeats += 1

    beat = asyncio.create_task(heartbeat())
    quotes = await asyncio.gather(vm.call_async("quote", "apple", 4), vm.call_async("quote", "melon", 10))
    print("\n".join(quotes))
    print(f"basket: {await vm.call_async('basket', ['apple', 'pear', 'melon'])}")
    try:
        await vm.call_async("quote", "kiwi", 1)
    except KeyError as e:  # a host exception no guest code caught: raised as itself
        print(f"error: {e.args[0]} (raised in the guest {e.__cause__.trace[0]})")
    try:
        await vm.call_async("stuck", timeout=0.2)
    except DeadlineExceeded as e:
        print(f"stuck: {e}")
    except GuestException as e:
        print(f"stuck: {e.class_name}")
    print(f"quote after the timeout: {await vm.call_async('quote', 'pear', 2)}")
    beat.cancel()
    print(f"the loop kept running: {heartbeats > 10}")
    vm.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
