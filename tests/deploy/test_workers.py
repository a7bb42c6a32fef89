"""``python -m aiosio.cluster``: one worker per core behind one port, sticky by client address."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aiosio.cluster import worker_for
from tests.adapters.cluster_support import eventually

from .support import Process, SourceClient

WORKERS = 3


def sources_for_each_worker() -> list[str]:
    """One loopback source address per worker (127.0.0.0/8 is all loopback)."""
    chosen: dict[int, str] = {}
    for last in range(2, 250):
        address = f"127.0.0.{last}"
        chosen.setdefault(worker_for(address, WORKERS), address)
        if len(chosen) == WORKERS:
            break
    return [chosen[index] for index in range(WORKERS)]


@pytest.fixture
async def runner(redis_url: str, key: str) -> AsyncIterator[Process]:
    proc = await Process.python(
        "-m", "aiosio.cluster", "tests.deploy.cluster_app:make_server",
        "--port", "0", "--workers", str(WORKERS),
        env={"AIOSIO_TEST_REDIS": redis_url, "AIOSIO_TEST_KEY": key},
    )  # fmt: skip
    try:
        yield proc
    finally:
        await proc.stop()


async def test_workers_are_sticky_and_share_broadcasts(runner: Process) -> None:
    line = await runner.line_starting("aiosio.cluster: listening on ")
    url = line.rsplit(" ", 1)[-1]
    clients = [SourceClient(source) for source in sources_for_each_worker()]
    try:
        pids = set()
        for index, client in enumerate(clients):
            # long-polling only: every request must reach the worker that holds the session
            await client.sio.connect(url, transports=["polling"], wait_timeout=10)
            hello = (await client.next("hello"))[0]
            assert hello["worker"] == index
            pids.add(hello["pid"])
            for _ in range(5):
                where = await client.sio.call("where", timeout=5)
                assert where["worker"] == index
                assert where["pid"] == hello["pid"]
        assert len(pids) == WORKERS
        # a broadcast from one worker reaches the clients of every worker
        await clients[0].sio.emit("shout", "hi")
        for client in clients:
            assert await client.next("all") == ["hi", 0]
        # upgrade to WebSocket stays on the same worker
        upgraded = SourceClient(clients[1].source)
        clients.append(upgraded)
        await upgraded.sio.connect(url, transports=["polling", "websocket"], wait_timeout=10)
        await eventually(lambda: upgraded.sio.transport() == "websocket")
        where = await upgraded.sio.call("where", timeout=5)
        assert where == {"worker": 1, "pid": where["pid"], "transport": "websocket"}
    finally:
        for client in clients:
            await client.close()
