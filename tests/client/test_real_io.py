"""The asyncio client's ``async def`` handlers doing real I/O (redis-py, ``asyncio.timeout``,
``TaskGroup``, ``wait_for``, contextvars) against the official Node socket.io server."""

from __future__ import annotations

import asyncio
import contextvars
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from redis.asyncio import Redis

from aiosio.client import Manager

from .conftest import transport_options
from .servers import SioServer, node_available

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


@pytest.fixture
def node_server() -> Iterator[SioServer]:
    """The official socket.io server (default heartbeat: nothing here is about timing)."""
    if not node_available():
        pytest.fail("node and node_modules/socket.io are required (run `npm ci`)")
    server = SioServer("node")
    server.start()
    yield server
    server.kill()


@pytest.fixture
async def db(redis_url: str) -> AsyncIterator[tuple[Redis, str]]:
    client = Redis.from_url(redis_url, decode_responses=True)
    prefix = f"cl{secrets.token_hex(4)}"
    yield client, prefix
    names = [name async for name in client.scan_iter(f"{prefix}:*")]
    if names:
        await client.delete(*names)
    await client.aclose()


async def test_async_handlers_do_real_io(
    node_server: SioServer, db: tuple[Redis, str], transport: str
) -> None:
    redis, key = db
    manager = Manager(node_server.url, **transport_options(transport))
    socket = manager.socket("/")
    seen: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @socket.on("connect")
    async def on_connect() -> None:
        async with asyncio.timeout(5):
            await redis.rpush(f"{key}:log", f"connect:{socket.id}")
        seen.put_nowait({"connect": asyncio.current_task() is not None})

    async def log(entry: str) -> int:
        return int(await redis.rpush(f"{key}:log", entry))

    @socket.on("echo")
    async def on_echo(n: int, text: str) -> None:
        before = request_id.get()
        token = request_id.set(text)
        async with asyncio.timeout(5):
            count = await redis.incr(f"{key}:echoes")
        async with asyncio.TaskGroup() as group:
            stored = group.create_task(log(f"echo:{n}"))
            waited = group.create_task(asyncio.wait_for(asyncio.sleep(0, result=n * 2), 5))
        inside = request_id.get()
        request_id.reset(token)
        try:
            async with asyncio.timeout(0.02):
                await asyncio.sleep(30)
            timed = "finished"
        except TimeoutError:
            timed = "timed out"
        seen.put_nowait(
            {
                "context": [before, inside, request_id.get()],
                "count": count,
                "stored": stored.result(),
                "waited": waited.result(),
                "timeout": timed,
            }
        )

    @socket.on("question")
    async def question(a: int, b: int) -> int:
        async with asyncio.timeout(5):
            await redis.rpush(f"{key}:log", f"question:{a}+{b}")
            length = await redis.llen(f"{key}:log")
        return a + b + length

    try:
        await asyncio.wait_for(socket.connect(), 10)
        assert await asyncio.wait_for(seen.get(), 10) == {"connect": True}
        socket.emit("echo", 1, "first")
        assert await asyncio.wait_for(seen.get(), 10) == {
            "context": ["unset", "first", "unset"],
            "count": 1,
            "stored": 2,
            "waited": 2,
            "timeout": "timed out",
        }
        socket.emit("echo", 2, "second")
        assert await asyncio.wait_for(seen.get(), 10) == {
            "context": ["unset", "second", "unset"],
            "count": 2,
            "stored": 3,
            "waited": 4,
            "timeout": "timed out",
        }
        # the Node server asks with emitWithAck; the async handler's return value answers
        socket.emit("ask", 4, 5)
        answer = (await node_server.wait_for("answer", within=10))[0]
        assert answer["answer"] == 4 + 5 + 4
        assert await redis.lrange(f"{key}:log", 0, -1) == [
            f"connect:{socket.id}",
            "echo:1",
            "echo:2",
            "question:4+5",
        ]
    finally:
        await manager.close()
