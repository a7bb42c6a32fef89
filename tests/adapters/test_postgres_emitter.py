"""The PostgreSQL emitters: aiosio's :class:`~aiosio.adapters.postgres_emitter.PostgresEmitter` reaching
the clients of aiosio and Node servers, and the official ``@socket.io/postgres-emitter`` reaching aiosio
clients."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from aiosio import _json
from aiosio.adapters import postgres
from aiosio.adapters._pg_link import PostgresLink
from aiosio.adapters.postgres_emitter import PostgresEmitter
from aiosio.server import Server, Socket
from tests.server.node import NodeClients, requires_node

from .cluster_support import Client, eventually
from .emitter_checks import check_official_emitter_operations, check_python_emitter_operations
from .node_peers import NodeScript


def join_from_auth(socket: Socket) -> None:
    socket.join(socket.handshake.auth.get("rooms", []))


@pytest.fixture
def prefix() -> str:
    return f"t{secrets.token_hex(4)}"


@pytest.fixture
async def pool(postgres_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(postgres_dsn, min_size=1, max_size=2)
    yield created
    await created.close()


@pytest.fixture
async def aiosio_server(postgres_dsn: str, prefix: str) -> AsyncIterator[tuple[Server, str]]:
    link = PostgresLink(postgres_dsn)
    io = Server(adapter=postgres.create_adapter(link, channel_prefix=prefix))
    io.on("connection", join_from_auth)
    io.of("/admin").on("connection", join_from_auth)
    port = await io.listen(0, "127.0.0.1")
    await eventually(lambda: link.connected)
    yield io, f"http://127.0.0.1:{port}"
    await io.close()


async def test_python_emitter_reaches_aiosio_clients(
    aiosio_server: tuple[Server, str], pool: asyncpg.Pool, prefix: str
) -> None:
    io, url = aiosio_server
    a = await Client("a").connect(url, auth={"rooms": ["r1"]})
    b = await Client("b").connect(url, auth={"rooms": ["r2"]})
    admin = Client("admin")
    admin.sio.on("*", admin._on_any, namespace="/admin")
    await admin.sio.connect(url, namespaces=["/admin"], transports=["websocket"])
    emitter = PostgresEmitter(pool, channel_prefix=prefix)
    try:
        await emitter.emit("all", 1, b"\x02")  # binary: through the attachments table
        await emitter.to("r1").emit("r1", "z" * 9000)  # over the threshold: attachment too
        await emitter.to(["r1", "r2"]).except_("r1").emit("r2-only")
        await emitter.of("admin").emit("admin-only", {"x": 1})
        await emitter.volatile.compress(False).emit("last")
        assert await a.expect("all") == [[1, b"\x02"]]
        assert await b.expect("all") == [[1, b"\x02"]]
        await a.expect("last")
        await b.expect("last")
        assert [name for name, _ in a.events] == ["all", "r1", "last"]
        assert a.received("r1") == [["z" * 9000]]
        assert [name for name, _ in b.events] == ["all", "r2-only", "last"]
        assert await admin.expect("admin-only") == [[{"x": 1}]]

        await check_python_emitter_operations(io, emitter, a, b, "hello", b"\x01")
    finally:
        for client in (a, b, admin):
            await client.close()


@requires_node
async def test_official_emitter_reaches_aiosio_clients(
    aiosio_server: tuple[Server, str], postgres_dsn: str, prefix: str
) -> None:
    io, url = aiosio_server
    a = await Client("a").connect(url, auth={"rooms": ["r1"]})
    b = await Client("b").connect(url, auth={"rooms": ["r2"]})
    emitter = await NodeScript.start("postgres_emitter", postgres_dsn, prefix)
    try:
        await emitter.call("emit", event="all", args=[1, {"k": [True]}, b"\x00\x01"])
        await emitter.call("emit", event="r2", rooms=["r2"], args=["w" * 9000])
        await emitter.call("emit", event="not-r2", rooms=["r1", "r2"], **{"except": ["r2"]})
        await emitter.call("emit", event="last")
        assert await a.expect("all") == [[1, {"k": [True]}, b"\x00\x01"]]
        # the official emitter does not wait for its attachments: order is not promised, so each
        # expected event is waited for, then nothing else may have come
        await a.expect("not-r2")
        await a.expect("last")
        await b.expect("last")
        assert await b.expect("r2") == [["w" * 9000]]
        assert sorted(name for name, _ in a.events) == ["all", "last", "not-r2"]
        assert sorted(name for name, _ in b.events) == ["all", "last", "r2"]
        assert b.received("r2") == [["w" * 9000]]

        await check_official_emitter_operations(io, emitter, a, b)
    finally:
        await emitter.close()
        for client in (a, b):
            await client.close()


@requires_node
async def test_python_emitter_reaches_node_clients(
    postgres_dsn: str, pool: asyncpg.Pool, prefix: str
) -> None:
    server = await NodeScript.start("sio_cluster_server", "postgres", postgres_dsn, prefix)
    clients = await NodeClients.start()
    try:
        for cid, rooms in (("a", ["r1"]), ("b", ["r2"])):
            event = await clients.connect(
                cid, server.url, auth={"rooms": rooms}, transports=["websocket"]
            )
            assert event["ev"] == "connect"
        event = await clients.connect("adm", server.url, nsp="/admin", transports=["websocket"])
        assert event["ev"] == "connect"
        emitter = PostgresEmitter(pool, channel_prefix=prefix)
        await emitter.emit("all", "x", b"\x07")
        await emitter.to("r2").emit("r2", "v" * 9000)
        await emitter.of("/admin").emit("admin", 1)
        for cid in ("a", "b"):
            got = await clients.next(cid, "event", name="all")
            assert got["args"] == ["x", b"\x07"]
        assert (await clients.next("b", "event", name="r2"))["args"] == ["v" * 9000]
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


@requires_node
async def test_why_messages_name_their_namespace(
    postgres_dsn: str, pool: asyncpg.Pool, prefix: str
) -> None:
    """The Node adapter 0.5 routes by the message's ``nsp``: the official emitter's messages (which
    have none) never reach its clients; the same emit with ``nsp`` does."""
    server = await NodeScript.start("sio_cluster_server", "postgres", postgres_dsn, prefix)
    official = await NodeScript.start("postgres_emitter", postgres_dsn, prefix)
    clients = await NodeClients.start()
    try:
        event = await clients.connect("a", server.url, transports=["websocket"])
        assert event["ev"] == "connect"
        seen: list[str] = []

        def on_notify(*args: Any) -> None:
            seen.append(args[3])

        async with pool.acquire() as listener:
            await listener.add_listener(f"{prefix}#/", on_notify)
            await official.call("emit", event="official")
            # the official notification is committed (every listener gets it before the next one)
            await eventually(lambda: any('"official"' in text for text in seen))
            official_message = next(_json.loads(text) for text in seen if '"official"' in text)
            assert official_message["uid"] == "emitter"
            assert "nsp" not in official_message
            await PostgresEmitter(pool, channel_prefix=prefix).emit("ours")
            await clients.next("a", "event", name="ours")
            await listener.remove_listener(f"{prefix}#/", on_notify)
        assert [e for e in clients.events if e.get("name") == "official"] == []
    finally:
        await clients.close()
        await official.close()
        await server.close()
