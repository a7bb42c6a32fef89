"""The PostgreSQL adapter: restarts of PostgreSQL mid-traffic, the outage bound, attachments and their
cleanup, and the format on the wire (read with a plain LISTEN)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

import asyncpg
import pytest

from aiosio import _json
from aiosio.adapters import postgres
from aiosio.adapters._codec import unpack
from aiosio.adapters._pg_link import PostgresLink
from aiosio.exceptions import AdapterError
from aiosio.server import Server
from tests.support.postgres import PostgresServer

from .cluster_support import Cluster, eventually, wait_for_servers

FAST_RETRY: dict[str, Any] = {
    "retry_min_delay": 0.02,
    "retry_max_delay": 0.2,
    "health_interval": 0.5,
    "reply_timeout": 3.0,
}
FAST_HEARTBEATS: dict[str, Any] = {
    "heartbeat_interval": 0.3,
    "heartbeat_timeout": 5.0,
    "requests_timeout": 2.0,
}


async def test_postgres_restart_mid_traffic(
    postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiosio.adapter")
    prefix = f"t{secrets.token_hex(4)}"
    links = [PostgresLink(postgres_server.dsn, **FAST_RETRY) for _ in range(2)]
    nodes = [
        Server(adapter=postgres.create_adapter(link, channel_prefix=prefix, **FAST_HEARTBEATS))
        for link in links
    ]
    urls = [f"http://127.0.0.1:{await io.listen(0, '127.0.0.1')}" for io in nodes]
    cluster = Cluster("postgres", nodes, urls)
    try:
        await wait_for_servers(cluster)
        a = await cluster.connect(0, "a")
        b = await cluster.connect(1, "b")
        nodes[0].emit("before", 0)
        await b.expect("before")

        await postgres_server.stop()  # a fast shutdown: every connection is closed
        await eventually(lambda: not links[1].connected)
        for i in range(3):
            nodes[0].emit("during", i)  # buffered while PostgreSQL is away
        nodes[0].emit("big", "x" * 20_000)  # an attachment, stored once PostgreSQL is back
        assert await a.expect("during", count=3) == [[0], [1], [2]]  # local ones at once
        await eventually(lambda: links[0].buffered >= 4)

        await postgres_server.start()
        await eventually(lambda: all(link.connected for link in links), within=10)
        nodes[1].emit("after", 9)
        assert await b.expect("during", count=3, timeout=10) == [[0], [1], [2]]
        assert await b.expect("big") == [["x" * 20_000]]
        assert await a.expect("after") == [[9]]
        await wait_for_servers(cluster)
        assert sorted(s.id for s in await nodes[1].fetch_sockets()) == sorted([a.sid, b.sid])
    finally:
        await cluster.close()
    messages = [record.getMessage() for record in caplog.records]
    assert any("listener lost its connection" in m for m in messages)
    assert any("listener reconnected" in m for m in messages)
    assert any("publisher reconnected" in m for m in messages)


async def test_listener_survives_a_crash(postgres_server: PostgresServer) -> None:
    """SIGKILL of the postmaster: no goodbye on the sockets; the health check or the lost socket tells."""
    prefix = f"t{secrets.token_hex(4)}"
    links = [PostgresLink(postgres_server.dsn, **FAST_RETRY) for _ in range(2)]
    nodes = [
        Server(adapter=postgres.create_adapter(link, channel_prefix=prefix, **FAST_HEARTBEATS))
        for link in links
    ]
    urls = [f"http://127.0.0.1:{await io.listen(0, '127.0.0.1')}" for io in nodes]
    cluster = Cluster("postgres", nodes, urls)
    try:
        await wait_for_servers(cluster)
        b = await cluster.connect(1, "b")
        await postgres_server.kill()
        await eventually(lambda: not any(link.connected for link in links))
        await postgres_server.start()
        await eventually(lambda: all(link.connected for link in links), within=10)
        nodes[0].emit("after-crash", 1)
        assert await b.expect("after-crash", timeout=10) == [[1]]
    finally:
        await cluster.close()


async def test_outage_buffer_is_bounded(postgres_server: PostgresServer) -> None:
    link = PostgresLink(postgres_server.dsn, max_buffer=5, **FAST_RETRY)
    adapter = postgres.create_adapter(link, channel_prefix=f"t{secrets.token_hex(4)}")
    io = Server(adapter=adapter)
    await io.listen(0, "127.0.0.1")
    try:
        await eventually(lambda: link.connected)
        await postgres_server.stop()
        await eventually(lambda: not link.connected)
        # heartbeats may take a place or two in the buffer: fill it up to the bound
        emitted = 0
        while link.buffered < 5:
            io.emit("during", emitted)
            emitted += 1
        assert 3 <= emitted <= 5
        assert link.buffered == 5
        with pytest.raises(AdapterError, match="already buffered"):
            io.emit("one-more")
    finally:
        await io.close()


async def test_wire_format_and_attachments(postgres_dsn: str) -> None:
    """What a server NOTIFYs, as any LISTENer (a Node server) sees it; big or binary messages go
    through the attachments table, which the cleanup empties."""
    prefix = f"t{secrets.token_hex(4)}"
    channel = f"{prefix}#/"
    seen: list[str] = []
    listener = await asyncpg.connect(postgres_dsn)
    await listener.add_listener(channel, lambda *args: seen.append(args[3]))
    link = PostgresLink(postgres_dsn, cleanup_interval=0.5, table_name="socket_io_attachments")
    io = Server(adapter=postgres.create_adapter(link, channel_prefix=prefix, **FAST_HEARTBEATS))
    await io.listen(0, "127.0.0.1")
    try:
        io.emit("small", 1)
        io.emit("blob", b"\x00\xff")
        io.emit("large", "y" * 9000)

        def decoded() -> list[dict[str, Any]]:
            return [_json.loads(text) for text in seen]

        messages = await eventually(
            decoded, lambda found: len([m for m in found if m["type"] == 3]) == 3
        )
        broadcasts = [m for m in messages if m["type"] == 3]
        uid = io.sockets.adapter.uid  # type: ignore[attr-defined]
        assert broadcasts[0] == {
            "uid": uid,
            "nsp": "/",
            "type": 3,
            "data": {
                "packet": {"type": 2, "data": ["small", 1], "nsp": "/"},
                "opts": {"rooms": [], "except": [], "flags": {}},
            },
        }
        for header, event in zip(broadcasts[1:], ("blob", "large"), strict=True):
            assert set(header) == {"uid", "type", "attachmentId"}
            assert header["uid"] == uid
            row = await listener.fetchval(
                "SELECT payload FROM socket_io_attachments WHERE id = $1",
                int(header["attachmentId"]),
            )
            stored = unpack(row)
            assert stored["uid"] == uid
            assert stored["nsp"] == "/"
            assert stored["data"]["packet"]["data"][0] == event
        assert unpack(row)["data"]["packet"]["data"][1] == "y" * 9000
        first = int(broadcasts[1]["attachmentId"])

        async def left() -> int:
            count: int = await listener.fetchval(
                "SELECT count(*) FROM socket_io_attachments WHERE id = $1", first
            )
            return count

        await eventually(left, lambda count: count == 0, within=5)
    finally:
        await io.close()
        await listener.close()


async def test_malformed_notifications_are_dropped(postgres_dsn: str) -> None:
    prefix = f"t{secrets.token_hex(4)}"
    channel = f"{prefix}#/"
    link = PostgresLink(postgres_dsn)
    io = Server(adapter=postgres.create_adapter(link, channel_prefix=prefix))
    await io.listen(0, "127.0.0.1")
    conn = await asyncpg.connect(postgres_dsn)
    try:
        await eventually(lambda: link.connected)
        for payload in ("not json", "[1, 2]", '{"type": 3, "data": 7}', '{"attachmentId": "x"}'):
            await conn.execute("SELECT pg_notify($1, $2)", channel, payload)
        message = {
            "uid": "other",
            "type": 9,
            "data": {"packet": ["still-alive"]},
        }
        got: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        io.on("still-alive", lambda *args: got.set_result(list(args)))
        await conn.execute("SELECT pg_notify($1, $2)", channel, _json.dumps(message))
        assert await asyncio.wait_for(got, 5) == []
    finally:
        await conn.close()
        await io.close()
