"""Cold starts: cluster servers used the moment they listen, with no warm-up call from the test.

Readiness is read from Redis by a client of the test's own (the request channel's subscribers, or the
streams' heartbeats). Every cluster request is started by the servers' own code: an async connection
middleware and async event handlers, as an application would.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from redis.asyncio import Redis

from aiosio.server import Server, Socket

from .cluster_support import Client, adapter_factory, eventually
from .cold_start import subscribed, wait_until_joined

KINDS = ("redis", "sharded", "streams")
RECOVERY = {"max_disconnection_duration": 10}


@dataclass
class ColdCluster:
    kind: str
    prefix: str
    redis: Redis
    nodes: list[Server] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    clients: list[Client] = field(default_factory=list)
    redis_clients: list[Redis] = field(default_factory=list)

    async def add_node(self, name: str, redis_url: str, **options: Any) -> Server:
        client = Redis.from_url(redis_url)
        self.redis_clients.append(client)
        io = Server(
            adapter=adapter_factory(self.kind, client, self.prefix, None),
            ping_interval=5,
            ping_timeout=10,
            **options,
        )
        install_app(io, name)
        port = await io.listen(0, "127.0.0.1")
        self.nodes.append(io)
        self.urls.append(f"http://127.0.0.1:{port}")
        return io

    async def connect(self, node: int, name: str, **options: Any) -> Client:
        client = Client(name)
        self.clients.append(client)
        return await client.connect(self.urls[node], **options)

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        for io in self.nodes:
            await io.close()
        for connection in self.redis_clients:
            await connection.aclose()


def install_app(io: Server, name: str) -> None:
    """The application code of server ``name``: every cluster request starts in it."""

    @io.use
    async def note_peers(socket: Socket) -> None:
        if socket.recovered:
            return
        peers = await io.fetch_sockets()
        auth = socket.handshake.auth
        socket.data = {"name": auth.get("name"), "peers": sorted(p.data["name"] for p in peers)}

    @io.on("connection")
    async def on_connection(socket: Socket) -> None:
        socket.emit("welcome", name, socket.data.get("peers"))

        @socket.on("census")
        async def census() -> dict[str, Any]:
            sockets = await io.fetch_sockets()
            servers = await io.server_side_emit_with_ack("who", name)
            acks = await io.timeout(5).emit_with_ack("poll")
            return {
                "sockets": sorted(s.data["name"] for s in sockets),
                "servers": sorted(servers),
                "acks": sorted(acks),
            }

        @socket.on("shout")
        async def shout(text: str) -> None:
            io.emit("news", text, name)

    @io.on("who")
    async def who(asker: str) -> str:
        return f"{name} to {asker}"


@pytest.fixture(params=KINDS)
async def cold(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[ColdCluster]:
    redis = Redis.from_url(redis_url)
    cluster = ColdCluster(request.param, f"t{secrets.token_hex(4)}", redis)
    try:
        yield cluster
    finally:
        await cluster.close()
        await redis.aclose()


async def test_requests_from_middlewares_and_handlers_right_after_start(
    cold: ColdCluster, redis_url: str
) -> None:
    await cold.add_node("A", redis_url)
    await cold.add_node("B", redis_url)
    await wait_until_joined(cold.kind, cold.redis, cold.prefix, 2)
    # the middleware of each server runs fetch_sockets across the cluster for every connection
    a = await cold.connect(0, "a", auth={"name": "a"})
    assert (await a.expect("welcome"))[0] == ["A", []]
    b = await cold.connect(1, "b", auth={"name": "b"})
    assert (await b.expect("welcome"))[0] == ["B", ["a"]]
    # fetch_sockets, server_side_emit_with_ack and a broadcast with acks, from a handler on A
    assert await a.sio.call("census", timeout=10) == {
        "sockets": ["a", "b"],
        "servers": ["B to A"],
        "acks": ["a:poll", "b:poll"],
    }
    assert await b.sio.call("census", timeout=10) == {
        "sockets": ["a", "b"],
        "servers": ["A to B"],
        "acks": ["a:poll", "b:poll"],
    }
    await b.sio.emit("shout", "hello")
    for client in (a, b):
        assert (await client.expect("news"))[0] == ["hello", "B"]


async def test_streams_recovery_on_another_server_right_after_start(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    cold = ColdCluster("streams", f"t{secrets.token_hex(4)}", redis)
    try:
        await cold.add_node("A", redis_url, connection_state_recovery=RECOVERY)
        await cold.add_node("B", redis_url, connection_state_recovery=RECOVERY)
        await wait_until_joined("streams", redis, cold.prefix, 2)
        a = await cold.connect(0, "a", auth={"name": "a"})
        # with recovery, what a socket is sent carries its stream offset, as in the reference
        assert (await a.expect("welcome"))[0][:2] == ["A", []]
        sid = a.sid
        b = await cold.connect(1, "b", auth={"name": "b"})
        await b.expect("welcome")
        # a broadcast started by a handler on B reaches a on A, with its stream offset
        await b.sio.emit("shout", "first")
        (first,) = await a.expect("news")
        assert first[:2] == ["first", "B"]
        offset = first[2]
        assert isinstance(offset, str)
        pid = cold.nodes[0].sockets.sockets[sid].pid
        assert pid is not None

        await a.sio.eio.disconnect(abort=True)
        await eventually(lambda: redis.exists(f"sio:session:{pid}"))
        await b.sio.emit("shout", "missed-1")
        await b.sio.emit("shout", "missed-2")
        await b.expect("news", count=3)

        # back on B: the session is restored from Redis and the missed broadcasts replayed in order
        back = await cold.connect(1, "a2", auth={"pid": pid, "offset": offset})
        assert back.sid == sid
        await back.expect("news", count=2)
        assert [args[:2] for args in back.received("news")] == [
            ["missed-1", "B"],
            ["missed-2", "B"],
        ]
        # the middlewares are skipped for a recovered socket: its data is the one A stored
        welcome = (await back.expect("welcome"))[0]
        assert welcome[:2] == ["B", []]
        assert await back.sio.call("census", timeout=10) == {
            "sockets": ["a", "b"],
            "servers": ["A to B"],
            "acks": ["a2:poll", "b:poll"],
        }
    finally:
        await cold.close()
        await redis.aclose()


@pytest.mark.parametrize("kind", KINDS)
async def test_start_returns_once_the_adapter_has_subscribed(kind: str, redis_url: str) -> None:
    """A server created on a running loop (inside ``async def main()``) has subscribed when
    ``await io.start()`` returns: it answers requests and counts the other server at once."""
    redis = Redis.from_url(redis_url)
    cold = ColdCluster(kind, f"t{secrets.token_hex(4)}", redis)
    try:
        await cold.add_node("B", redis_url)
        await wait_until_joined(kind, redis, cold.prefix, 1)
        client = Redis.from_url(redis_url)
        cold.redis_clients.append(client)
        io = Server(adapter=adapter_factory(kind, client, cold.prefix, None))
        cold.nodes.append(io)
        install_app(io, "A")
        await io.start()
        assert await subscribed(kind, redis, cold.prefix) == 2
        assert await io.sockets.adapter.server_count() == 2
        assert await io.server_side_emit_with_ack("who", "A") == ["B to A"]
    finally:
        await cold.close()
        await redis.aclose()
