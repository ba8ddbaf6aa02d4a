# echo_server: the asyncio twin of echo_server.tl -- a TCP line-echo server, one
# task per connection (asyncio.start_server). It prints its port, serves exactly
# `conns` connections, then prints how many lines it echoed.
import asyncio

conns = 100


async def main():
    done = asyncio.Queue()
    accepted = 0

    async def handle(reader, writer):
        nonlocal accepted
        accepted += 1
        if accepted == conns:
            server.close()  # stop accepting; the open connections go on
        lines = 0
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write(line if line.endswith(b"\n") else line + b"\n")
            await writer.drain()
            lines += 1
        writer.close()
        done.put_nowait(lines)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    total = 0
    for _ in range(conns):
        total += await done.get()
    print("echoed", total, "lines on", conns, "connections")


asyncio.run(main())
