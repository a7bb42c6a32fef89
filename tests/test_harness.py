"""The test harness itself: ports, Node peers, Redis, the uvicorn host."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from tests.conftest import NodeStarter
from tests.support.hosts import start_host
from tests.support.ports import free_port
from tests.support.redis import RedisServer


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


async def test_node_process_events_commands_and_stop(node: NodeStarter) -> None:
    proc = await node("eio_server", json.dumps({}))
    listening = await proc.expect_event("listening")
    assert isinstance(listening["port"], int)
    await proc.send("clients")
    assert (await proc.next_event())["count"] == 0
    await proc.send("no-such-command")
    assert (await proc.expect_event("command_error"))["cmd"] == "no-such-command"
    proc.pause()
    await asyncio.wait_for(proc.stop(), 5.0)  # a stopped process is still ended promptly
    assert proc.returncode is not None


async def test_node_process_exit_fails_waiters(node: NodeStarter) -> None:
    proc = await node("eio_server", json.dumps({}))
    await proc.expect_event("listening")
    await proc.send("shutdown")
    with pytest.raises(AssertionError, match="exited"):
        await proc.expect_event("never", timeout=5.0)


async def test_redis_url_answers(redis_url: str) -> None:
    client: Any = aioredis.from_url(redis_url)
    try:
        assert await client.ping()
    finally:
        await client.aclose()


async def test_redis_server_kill_and_restart(redis_server: RedisServer) -> None:
    client: Any = aioredis.from_url(redis_server.url)
    try:
        await client.set("k", "v")
        await redis_server.kill()
        assert not redis_server.running
        with pytest.raises(aioredis.ConnectionError):
            await client.ping()
        await redis_server.start()
        assert await client.ping()
        assert await client.get("k") is None  # nothing persisted
    finally:
        await client.aclose()


class _PlainASGI:
    """A stand-in server with only an ASGI face."""

    async def listen(self, port: int = 0, host: str = "127.0.0.1") -> int:
        raise NotImplementedError

    def asgi_app(self, fallback: Any = None) -> Any:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            assert scope["type"] == "http"
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"hello"})

        return app

    async def close(self) -> None:
        pass


async def test_uvicorn_host_starts_and_stops() -> None:
    host = await start_host("asgi", _PlainASGI())
    async with httpx.AsyncClient() as http:
        assert (await http.get(host.base_url)).text == "hello"
    await host.close()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as http:
            await http.get(host.base_url)
