# spawn: create 100 000 asyncio tasks, each doing a trivial computation, then
# await every task and sum the results (same work as spawn.tl).
import asyncio


async def work(i):
    return i * 2 + 1


async def main():
    n = 100000
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(work(i)))
    total = 0
    for t in tasks:
        total += await t
    print(n, total)


asyncio.run(main())
