# pingpong: 200 000 messages between two asyncio tasks over two
# asyncio.Queue(1): main puts i on `ping`, the ponger answers i + 1 on `pong`
# (100 000 round trips, two messages each). None ends the ponger, as closing
# the channel does in pingpong.tl.
import asyncio


async def ponger(ping, pong):
    while True:
        v = await ping.get()
        if v is None:
            break
        await pong.put(v + 1)


async def main():
    rounds = 100000
    ping = asyncio.Queue(1)
    pong = asyncio.Queue(1)
    t = asyncio.create_task(ponger(ping, pong))
    total = 0
    for i in range(rounds):
        await ping.put(i)
        v = await pong.get()
        if v is not None:
            total += v
    await ping.put(None)
    await t
    print(2 * rounds, total)


asyncio.run(main())
