"""How many ``aiosio.testing`` clients connect and disconnect per second, and their echo rate.

    python bench/testing_connect.py [-n N]

``sequential``: one ``async with aiosio.testing.connect(io)`` after the other (a test per case).
``concurrent``: ``connect_many(io, N)``, all connected at once, then all disconnected.
``ack``: acknowledged echoes through one test client, one at a time. Best of 3 rounds, on uvloop.
"""

from __future__ import annotations

import argparse
import time

import uvloop

import aiosio
import aiosio.testing


def make_server() -> aiosio.Server:
    io = aiosio.Server()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.join("lobby")
        socket.on("echo", lambda *args: args)

    return io


async def sequential(io: aiosio.Server, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        async with aiosio.testing.connect(io):
            pass
    return n / (time.perf_counter() - start)


async def concurrent(io: aiosio.Server, n: int) -> float:
    start = time.perf_counter()
    async with aiosio.testing.connect_many(io, n):
        pass
    return n / (time.perf_counter() - start)


async def ack(io: aiosio.Server, n: int) -> float:
    async with aiosio.testing.connect(io) as client:
        start = time.perf_counter()
        for i in range(n):
            await client.emit_with_ack("echo", i)
        return n / (time.perf_counter() - start)


async def main(n: int) -> None:
    io = make_server()
    for name, fn in (("sequential", sequential), ("concurrent", concurrent), ("ack", ack)):
        best = max([await fn(io, n) for _ in range(3)])
        unit = "echoes/s" if name == "ack" else "connections/s"
        print(f"{name:<11} n={n:<6} {best:>9.0f} {unit}")
    await io.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=1000)
    uvloop.run(main(parser.parse_args().n))
