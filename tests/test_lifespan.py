"""The ASGI app runs the server's whole life: start-up on ``lifespan.startup`` (or on the first request
when the host sends no lifespan), ``io.close()`` on ``lifespan.shutdown``; mounted in a framework through
``io.lifespan``.

The server is built the way production code builds it: at import time, outside any event loop, with the
classic Redis adapter. Whether its adapter started is seen from outside: a message published by the
Redis emitter reaches a client only if the adapter subscribed.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import Any, Literal

import pytest
import uvicorn
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.routing import Mount

import aiosio
from aiosio.adapters.emitter import Emitter
from aiosio.adapters.memory import InMemoryAdapter
from aiosio.adapters.redis import create_adapter
from aiosio.client import Manager
from tests.support.ports import free_port, wait_listening


def module_level_server(redis_url: str, key: str) -> aiosio.Server:
    """What ``app.py`` holds: built at import, with no loop running."""
    io = aiosio.Server(adapter=create_adapter(Redis.from_url(redis_url), key=key))
    assert io.loop is None
    return io


async def build(redis_url: str) -> tuple[aiosio.Server, str]:
    key = f"lifespan-{uuid.uuid4().hex[:8]}"
    io = await asyncio.to_thread(module_level_server, redis_url, key)
    return io, key


async def emitter_reaches_a_client(redis_url: str, key: str, port: int, prefix: str = "") -> None:
    """Connect a client, publish through the Redis emitter, and wait for it to arrive."""
    manager = Manager(f"http://127.0.0.1:{port}", path=f"{prefix}/socket.io/", reconnection=False)
    socket = manager.socket("/")
    got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def on_value(value: Any) -> None:
        if not got.done():
            got.set_result(value)

    socket.on("from-emitter", on_value)
    await socket.connect()
    redis = Redis.from_url(redis_url)
    try:
        async with asyncio.timeout(5):
            while not got.done():  # the emitter may publish before the SUBSCRIBE is confirmed
                await Emitter(redis, key=key).emit("from-emitter", 42)
                await asyncio.wait({got}, timeout=0.1)
        assert got.result() == 42
    finally:
        await redis.aclose()
        await socket.disconnect()
        await manager.close()


@contextlib.asynccontextmanager
async def uvicorn_serving(
    app: Any, lifespan: Literal["on", "off"]
) -> AsyncIterator[tuple[int, uvicorn.Server]]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan=lifespan, log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn exited during start-up")
            await asyncio.sleep(0.01)
    try:
        yield port, server
    finally:
        server.should_exit = True
        async with asyncio.timeout(10):
            await task


async def subscribers(redis_url: str, key: str) -> int:
    """How many servers listen on the main namespace's request channel."""
    redis = Redis.from_url(redis_url)
    try:
        counts = await redis.pubsub_numsub(f"{key}-request#/#")
        return int(counts[0][1])
    finally:
        await redis.aclose()


async def closed(redis_url: str, key: str) -> bool:
    """Whether the server closed its adapter (it unsubscribed from Redis)."""
    return await subscribers(redis_url, key) == 0


async def test_uvicorn_lifespan_starts_the_adapter_and_shutdown_closes(redis_url: str) -> None:
    io, key = await build(redis_url)
    async with uvicorn_serving(io.asgi_app(), "on") as (port, _):
        assert io.loop is asyncio.get_running_loop()
        await emitter_reaches_a_client(redis_url, key, port)
    assert await closed(redis_url, key)


async def test_first_request_starts_the_server_when_the_host_sends_no_lifespan(
    redis_url: str,
) -> None:
    io, key = await build(redis_url)
    async with uvicorn_serving(io.asgi_app(), "off") as (port, _):
        assert io.loop is None  # nothing started yet
        await emitter_reaches_a_client(redis_url, key, port)
        assert io.loop is asyncio.get_running_loop()
    await io.close()


async def test_hypercorn_lifespan(redis_url: str) -> None:
    io, key = await build(redis_url)
    port = free_port()
    config = HypercornConfig()
    config.bind = [f"127.0.0.1:{port}"]
    config.loglevel = "WARNING"
    shutdown = asyncio.Event()
    task = asyncio.create_task(
        hypercorn_serve(io.asgi_app(), config, shutdown_trigger=shutdown.wait)  # type: ignore[arg-type]
    )
    try:
        async with asyncio.timeout(10):
            while await subscribers(redis_url, key) == 0:  # noqa: ASYNC110 - Redis has no event for it
                await asyncio.sleep(0.02)
        # hypercorn binds its socket only after the lifespan start-up has completed.
        await wait_listening(port)
        await emitter_reaches_a_client(redis_url, key, port)
    finally:
        shutdown.set()
        async with asyncio.timeout(10):
            await task
    assert await closed(redis_url, key)


def starlette_app(io: aiosio.Server) -> Any:
    return Starlette(routes=[Mount("/rt", io.asgi_app())], lifespan=io.lifespan)


def fastapi_app(io: aiosio.Server) -> Any:
    from fastapi import FastAPI

    app = FastAPI(lifespan=io.lifespan)
    app.mount("/rt", io.asgi_app())
    return app


def litestar_app(io: aiosio.Server) -> Any:
    from litestar import Litestar, asgi

    @asgi("/rt", is_mount=True, copy_scope=False)
    async def realtime(scope: Any, receive: Any, send: Any) -> None:
        await io.asgi_app()(scope, receive, send)

    return Litestar(route_handlers=[realtime], lifespan=[io.lifespan])


FRAMEWORKS: dict[str, Callable[[aiosio.Server], Any]] = {
    "starlette": starlette_app,
    "fastapi": fastapi_app,
    "litestar": litestar_app,
}


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
async def test_mounted_in_a_framework_with_its_lifespan(redis_url: str, framework: str) -> None:
    io, key = await build(redis_url)
    app = FRAMEWORKS[framework](io)
    async with uvicorn_serving(app, "on") as (port, _):
        assert io.loop is asyncio.get_running_loop()  # started by the framework's lifespan
        await emitter_reaches_a_client(redis_url, key, port, prefix="/rt")
    assert await closed(redis_url, key)


async def test_a_fallback_app_keeps_its_own_lifespan_after_ours(redis_url: str) -> None:
    io, key = await build(redis_url)
    order: list[str] = []

    @contextlib.asynccontextmanager
    async def app_lifespan(app: Any) -> AsyncIterator[None]:
        order.append(f"app start (socket.io started: {await subscribers(redis_url, key) > 0})")
        yield
        order.append(f"app stop (socket.io closed: {await closed(redis_url, key)})")

    fallback = Starlette(lifespan=app_lifespan)
    async with uvicorn_serving(io.asgi_app(fallback), "on") as (port, _):
        await emitter_reaches_a_client(redis_url, key, port)
    assert order == [
        "app start (socket.io started: True)",
        "app stop (socket.io closed: True)",
    ]


class UnreachableAdapter(InMemoryAdapter):
    """An adapter whose start-up fails, as one does when its broker cannot be reached."""

    async def init(self) -> None:
        raise OSError("redis is down")


async def test_a_failing_start_up_is_reported_to_the_host() -> None:
    io = await asyncio.to_thread(lambda: aiosio.Server(adapter=UnreachableAdapter))
    app = io.asgi_app()
    sent: list[dict[str, Any]] = []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> MutableMapping[str, Any]:
        return next(messages)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "redis is down" in sent[0]["message"]
    assert sent[1] == {"type": "lifespan.shutdown.complete"}
