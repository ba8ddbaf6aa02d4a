# idle: the memory of idle asyncio tasks (twin of idle.tl). measure(n, probe)
# creates n tasks that all wait on one asyncio.Queue's get(), lets them start,
# and calls probe() (given by the harness: it reads tracemalloc) before creating
# them and again while all n are idle; then it wakes every task (a None each,
# as closing the channel does in idle.tl) and checks that all of them woke.
# Run as a program, it measures nothing.
import asyncio


async def idle(ch, done):
    v = await ch.get()  # waits until a None arrives
    done.put_nowait(v is None)


async def measure(n, probe):
    ch = asyncio.Queue()
    done = asyncio.Queue(n)
    probe()
    tasks = []  # asyncio keeps only weak references to tasks
    for i in range(n):
        tasks.append(asyncio.create_task(idle(ch, done)))
    await asyncio.sleep(0)  # every new task runs up to its get() and waits
    probe()
    for i in range(n):
        ch.put_nowait(None)
    woke = 0
    for i in range(n):
        if await done.get():
            woke += 1
    return woke


if __name__ == "__main__":
    print(asyncio.run(measure(1000, lambda: None)))
