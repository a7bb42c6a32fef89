"""A short soak: connect / CONNECT / ack / disconnect cycles over both transports leave nothing behind.

bench/soak.py runs 10,000 cycles per transport against a server in its own process; this is the
same check at a size for the test suite, in one process (server and clients).
"""

from __future__ import annotations

import asyncio
import gc
import os
from typing import Any

import pytest

import aiosio
from aiosio.client import connect
from tests.support.hosts import start_host

CYCLES = 300


def rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def cycles(url: str, transport: str, count: int) -> None:
    async def one(n: int) -> None:
        socket = await connect(url, force_new=True, transports=[transport], reconnection=False)
        try:
            assert await socket.timeout(10).emit_with_ack("echo", n) == n
        finally:
            await socket.disconnect()

    for start in range(0, count, 10):
        await asyncio.gather(*(one(n) for n in range(start, min(start + 10, count))))


async def settled() -> dict[str, int]:
    await asyncio.sleep(0.3)
    gc.collect()
    return {"rss": rss_bytes(), "fds": open_fds(), "tasks": len(asyncio.all_tasks())}


@pytest.mark.timeout(180)
async def test_cycles_leave_nothing_behind(host_kind: str) -> None:
    io = aiosio.Server()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        @socket.on("echo")
        async def echo(value: Any) -> Any:
            await asyncio.sleep(0)
            return value

    host = await start_host(host_kind, io)
    url = f"http://127.0.0.1:{host.port}"
    try:
        for transport in ("polling", "websocket"):
            await cycles(url, transport, 50)  # warm-up: caches, pools, first imports
        before = await settled()
        for transport in ("polling", "websocket"):
            await cycles(url, transport, CYCLES)
        after = await settled()
        assert io.engine.clients_count == 0
        assert io.sockets.sockets == {}
        assert after["fds"] == before["fds"]
        assert after["tasks"] == before["tasks"]
        assert after["rss"] - before["rss"] < 5_000_000, (before, after)
    finally:
        await host.close()
