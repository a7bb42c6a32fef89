"""The emitters: the official ``@socket.io/redis-emitter`` reaching aiosio clients, aiosio's
:class:`~aiosio.adapters.emitter.Emitter` reaching the clients of Node socket.io servers and of aiosio
servers."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from aiosio.adapters.emitter import Emitter
from aiosio.server import Server, Socket
from tests.server.node import NodeClients, requires_node

from .cluster_support import Client, adapter_factory
from .emitter_checks import check_official_emitter_operations, check_python_emitter_operations
from .node_peers import NodeScript


def join_from_auth(socket: Socket) -> None:
    socket.join(socket.handshake.auth.get("rooms", []))


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"t{secrets.token_hex(4)}"


@pytest.fixture
async def aiosio_server(redis: Redis, prefix: str) -> AsyncIterator[tuple[Server, str]]:
    io = Server(adapter=adapter_factory("redis", redis, prefix, None))
    io.on("connection", join_from_auth)
    io.of("/admin").on("connection", join_from_auth)
    port = await io.listen(0, "127.0.0.1")
    yield io, f"http://127.0.0.1:{port}"
    await io.close()


async def test_python_emitter_reaches_aiosio_clients(
    aiosio_server: tuple[Server, str], redis: Redis, prefix: str
) -> None:
    io, url = aiosio_server
    a = await Client("a").connect(url, auth={"rooms": ["r1"]})
    b = await Client("b").connect(url, auth={"rooms": ["r2"]})
    admin = Client("admin")
    admin.sio.on("*", admin._on_any, namespace="/admin")
    await admin.sio.connect(url, namespaces=["/admin"], transports=["websocket"])
    emitter = Emitter(redis, key=prefix)
    try:
        await emitter.emit("all", 1, b"\x02")
        await emitter.to("r1").emit("r1")
        await emitter.to(["r1", "r2"]).except_("r1").emit("r2-only")
        await emitter.of("admin").emit("admin-only", {"x": 1})
        await emitter.volatile.compress(False).emit("last")
        assert await a.expect("all") == [[1, b"\x02"]]
        assert await b.expect("all") == [[1, b"\x02"]]
        await a.expect("last")
        await b.expect("last")
        assert [name for name, _ in a.events] == ["all", "r1", "last"]
        assert [name for name, _ in b.events] == ["all", "r2-only", "last"]
        assert await admin.expect("admin-only") == [[{"x": 1}]]

        await check_python_emitter_operations(io, emitter, a, b, "hello")
    finally:
        for client in (a, b, admin):
            await client.close()


@requires_node
async def test_official_emitter_reaches_aiosio_clients(
    aiosio_server: tuple[Server, str], redis_url: str, prefix: str
) -> None:
    io, url = aiosio_server
    a = await Client("a").connect(url, auth={"rooms": ["r1"]})
    b = await Client("b").connect(url, auth={"rooms": ["r2"]})
    emitter = await NodeScript.start("redis_emitter", redis_url, prefix)
    try:
        await emitter.call("emit", event="all", args=[1, {"k": [True]}, b"\x00\x01"])
        await emitter.call("emit", event="r2", rooms=["r2"])
        await emitter.call("emit", event="not-r2", rooms=["r1", "r2"], **{"except": ["r2"]})
        await emitter.call("emit", event="last")
        assert await a.expect("all") == [[1, {"k": [True]}, b"\x00\x01"]]
        await a.expect("last")
        await b.expect("last")
        assert [name for name, _ in a.events] == ["all", "not-r2", "last"]
        assert [name for name, _ in b.events] == ["all", "r2", "last"]

        await check_official_emitter_operations(io, emitter, a, b)
    finally:
        await emitter.close()
        for client in (a, b):
            await client.close()


@requires_node
async def test_python_emitter_reaches_node_clients(
    redis_url: str, redis: Redis, prefix: str
) -> None:
    server = await NodeScript.start("sio_cluster_server", "redis", redis_url, prefix)
    clients = await NodeClients.start()
    try:
        for cid, rooms in (("a", ["r1"]), ("b", ["r2"])):
            event = await clients.connect(
                cid, server.url, auth={"rooms": rooms}, transports=["websocket"]
            )
            assert event["ev"] == "connect"
        event = await clients.connect("adm", server.url, nsp="/admin", transports=["websocket"])
        assert event["ev"] == "connect"
        emitter = Emitter(redis, key=prefix)
        await emitter.emit("all", "x", b"\x07")
        await emitter.to("r2").emit("r2")
        await emitter.of("/admin").emit("admin", 1)
        for cid in ("a", "b"):
            got = await clients.next(cid, "event", name="all")
            assert got["args"] == ["x", b"\x07"]
        assert (await clients.next("b", "event", name="r2"))["args"] == []
        assert (await clients.next("adm", "event", name="admin"))["args"] == [1]

        await emitter.in_("r1").sockets_join("joined")
        await emitter.to("joined").emit("in-joined")
        assert (await clients.next("a", "event", name="in-joined"))["args"] == []
        await emitter.server_side_emit("ping-servers", "from-python")
        got = await server.expect(lambda e: e["ev"] == "server_side")
        assert got["args"] == ["from-python"]
        await emitter.to("r1").disconnect_sockets()
        await clients.next("a", "disconnect")
    finally:
        await clients.close()
        await server.close()
