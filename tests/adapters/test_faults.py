"""Faults: Redis dies and comes back mid-traffic; a server dies while others wait for its answer."""

from __future__ import annotations

import logging
import os
import secrets
import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from aiosio.adapters import cluster as cluster_adapter
from aiosio.adapters import postgres, redis_streams
from aiosio.adapters import redis as redis_adapter
from aiosio.adapters._redis_link import RedisLink
from aiosio.exceptions import AckTimeoutError, AdapterError, RequestTimeoutError
from aiosio.server import RemoteSocket, Server, Socket
from tests.server.node import requires_node
from tests.support.redis import RedisServer

from .cluster_support import Client, Cluster, eventually, start_cluster, wait_for_servers
from .node_peers import NodeScript

FAST_RETRY: dict[str, Any] = {
    "retry_min_delay": 0.02,
    "retry_max_delay": 0.2,
    "subscribe_timeout": 2.0,
}


def make_adapter(kind: str, link: RedisLink, prefix: str) -> Any:
    if kind == "redis":
        return redis_adapter.create_adapter(link, key=prefix, requests_timeout=1.0)
    if kind == "sharded":
        return redis_adapter.create_sharded_adapter(
            link, channel_prefix=prefix, requests_timeout=1.0
        )
    return redis_streams.create_adapter(
        link, stream_name=prefix, channel_prefix=prefix, requests_timeout=1.0, block_time=0.5
    )


@pytest.fixture
def own_redis(redis_server: RedisServer) -> RedisServer:
    return redis_server


@pytest.mark.parametrize("kind", ["redis", "sharded", "streams"])
async def test_redis_restart_mid_traffic(
    own_redis: RedisServer, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiosio.adapter")
    prefix = f"t{secrets.token_hex(4)}"
    redis_clients = [Redis.from_url(own_redis.url) for _ in range(2)]
    links = [RedisLink(client, **FAST_RETRY) for client in redis_clients]
    nodes = [Server(adapter=make_adapter(kind, link, prefix)) for link in links]
    urls = [f"http://127.0.0.1:{await io.listen(0, '127.0.0.1')}" for io in nodes]
    cluster = Cluster(kind, nodes, urls, redis_url=own_redis.url, prefix=prefix)
    try:
        await wait_for_servers(cluster)
        a = await cluster.connect(0, "a")
        b = await cluster.connect(1, "b")
        nodes[0].emit("before", 0)
        await b.expect("before")

        await own_redis.kill()
        for i in range(3):
            nodes[0].emit("during", i)  # buffered while Redis is away
        assert await a.expect("during", count=3) == [[0], [1], [2]]  # local ones at once
        await eventually(lambda: links[0].buffered >= 3)
        await eventually(lambda: not links[1].connected)

        await own_redis.start()
        # pub/sub keeps nothing for absent subscribers: emit once every server listens again
        await eventually(lambda: all(link.connected for link in links))
        nodes[1].emit("after", 9)
        assert await b.expect("during", count=3) == [[0], [1], [2]]
        assert await a.expect("after") == [[9]]
        await wait_for_servers(cluster)
        assert sorted(s.id for s in await nodes[1].fetch_sockets()) == sorted([a.sid, b.sid])
    finally:
        await cluster.close()
        for client in redis_clients:
            await client.aclose()
    messages = [record.getMessage() for record in caplog.records]
    assert any("subscriber lost its connection" in m for m in messages)
    assert any("subscriber reconnected" in m for m in messages)
    assert any("publisher reconnected" in m for m in messages)


async def test_outage_buffer_is_bounded(own_redis: RedisServer) -> None:
    client = Redis.from_url(own_redis.url)
    link = RedisLink(client, max_buffer=5, **FAST_RETRY)
    io = Server(adapter=redis_adapter.create_adapter(link, key=f"t{secrets.token_hex(4)}"))
    await io.listen(0, "127.0.0.1")
    try:
        await own_redis.kill()
        for i in range(5):
            io.emit("during", i)
        assert link.buffered == 5
        with pytest.raises(AdapterError, match="already buffered"):
            io.emit("during", 5)
        assert link.buffered == 5
    finally:
        await io.close()
        await client.aclose()


async def freeze(node: Server) -> None:
    """Make a bus node vanish like a crashed process: it stops sending and receiving."""
    adapter = node.sockets.adapter
    assert isinstance(adapter, cluster_adapter.TransportAdapter)
    result = adapter.transport.unsubscribe(adapter.nsp.name, adapter.uid)
    assert result is None
    adapter._closed = True  # its timers stop: no more heartbeats


@pytest.fixture
async def bus_cluster() -> AsyncIterator[Cluster]:
    cluster, _ = await start_cluster("bus", None)
    yield cluster
    await cluster.close()


async def test_dead_bus_node_is_dropped_and_requests_end(bus_cluster: Cluster) -> None:
    a = await bus_cluster.connect(0, "a")
    b = await bus_cluster.connect(1, "b")
    c = await bus_cluster.connect(2, "c")
    for index, node in enumerate(bus_cluster.nodes):
        node.on("ping-servers", lambda index=index: f"pong-{index}")
    await freeze(bus_cluster.nodes[2])
    # the requests are sent while node 2 still counts; they end when its heartbeat times out
    found = await bus_cluster.nodes[0].fetch_sockets()
    assert sorted(socket.id for socket in found) == sorted([a.sid, b.sid])
    assert c.sid not in {socket.id for socket in found}
    assert await bus_cluster.nodes[0].sockets.adapter.server_count() == 2
    assert await bus_cluster.nodes[1].server_side_emit_with_ack("ping-servers") == ["pong-0"]


@requires_node
async def test_unresponsive_and_killed_node(redis_url: str) -> None:
    """A paused Node server still counts as subscribed: requests end at their timeout with the
    answers that came; once it is killed, Redis no longer counts it and requests stop waiting."""
    prefix = f"t{secrets.token_hex(4)}"
    redis_clients = [Redis.from_url(redis_url) for _ in range(2)]
    nodes = [
        Server(adapter=redis_adapter.create_adapter(client, key=prefix, requests_timeout=0.5))
        for client in redis_clients
    ]
    urls = [f"http://127.0.0.1:{await io.listen(0, '127.0.0.1')}" for io in nodes]
    peer = await NodeScript.start("sio_cluster_server", "redis", redis_url, prefix)
    cluster = Cluster("redis", nodes, urls)
    clients: list[Client] = []
    try:
        await eventually(nodes[0].sockets.adapter.server_count, lambda n: n == 3)
        clients = [await cluster.connect(0, "a"), await cluster.connect(1, "b")]
        remote = await Client("n").connect(peer.url)
        clients.append(remote)
        nodes[1].on("ping-servers", lambda: "py-pong")
        assert len(await nodes[0].fetch_sockets()) == 3

        os.kill(peer.proc.pid, signal.SIGSTOP)
        with pytest.raises(RequestTimeoutError) as fetch_info:
            await nodes[0].fetch_sockets()
        # the reference's words, not an acknowledgement timeout
        assert str(fetch_info.value) == "timeout reached while waiting for fetchSockets response"
        assert not isinstance(fetch_info.value, AckTimeoutError)
        partial = fetch_info.value.responses
        assert sorted(s.id for s in partial) == sorted(c.sid for c in clients[:2])
        assert {type(s) for s in partial} == {Socket, RemoteSocket}
        with pytest.raises(AckTimeoutError) as info:
            await nodes[0].server_side_emit_with_ack("ping-servers")
        assert info.value.responses == ["py-pong"]
        assert str(info.value) == "timeout reached: only 1 responses received out of 2"

        peer.kill()
        os.kill(peer.proc.pid, signal.SIGCONT)
        await peer.proc.wait()
        await eventually(nodes[0].sockets.adapter.server_count, lambda n: n == 2)
        found = await nodes[0].fetch_sockets()
        assert sorted(s.id for s in found) == sorted(c.sid for c in clients[:2])
        assert await nodes[0].server_side_emit_with_ack("ping-servers") == ["py-pong"]
    finally:
        await peer.close()
        await cluster.close()
        for client in clients:
            await client.close()
        for redis_client in redis_clients:
            await redis_client.aclose()


def _adapter_of(kind: str, redis_client: Redis | None, dsn: str, prefix: str) -> Any:
    if kind == "redis":
        assert redis_client is not None
        return redis_adapter.create_adapter(redis_client, key=prefix, requests_timeout=1.0)
    if kind == "sharded":
        assert redis_client is not None
        return redis_adapter.create_sharded_adapter(
            redis_client, channel_prefix=prefix, requests_timeout=1.0
        )
    if kind == "streams":
        assert redis_client is not None
        return redis_streams.create_adapter(
            redis_client, stream_name=prefix, channel_prefix=prefix, requests_timeout=1.0
        )
    # the Node peers' heartbeat timeout is 2 s: a paused one still counts for the 1 s request
    return postgres.create_adapter(
        dsn,
        channel_prefix=prefix,
        requests_timeout=1.0,
        heartbeat_interval=0.5,
        heartbeat_timeout=2.0,
    )


#: what fetch_sockets / fetchSockets says when one of three servers (the asker aside) is silent
FETCH_TIMEOUT_MESSAGES = {
    "redis": "timeout reached while waiting for fetchSockets response",
    "sharded": "timeout reached: only 1 responses received out of 2",
    "streams": "timeout reached: only 1 responses received out of 2",
    "postgres": "timeout reached: missing 1 responses",
}


@requires_node
@pytest.mark.parametrize("kind", ["redis", "sharded", "streams", "postgres"])
async def test_fetch_timeout_matches_the_reference(
    kind: str, redis_url: str, postgres_dsn: str
) -> None:
    """One server never answers (a paused Node peer): aiosio's fetch_sockets and the reference's
    fetchSockets, asked on the same cluster, fail with the same words; aiosio's error is a
    RequestTimeoutError (not an AckTimeoutError) carrying the sockets that did answer."""
    prefix = f"t{secrets.token_hex(4)}"
    redis_client = Redis.from_url(redis_url) if kind != "postgres" else None
    node = Server(adapter=_adapter_of(kind, redis_client, postgres_dsn, prefix))
    url = f"http://127.0.0.1:{await node.listen(0, '127.0.0.1')}"
    where = postgres_dsn if kind == "postgres" else redis_url
    asker = await NodeScript.start("sio_cluster_server", kind, where, prefix)
    silent = await NodeScript.start("sio_cluster_server", kind, where, prefix)
    clients: list[Client] = []
    try:
        await eventually(node.sockets.adapter.server_count, lambda n: n == 3)
        clients = [
            await Client("a").connect(url),
            await Client("n").connect(asker.url),
            await Client("s").connect(silent.url),
        ]
        await eventually(node.fetch_sockets, lambda found: len(found) == 3)
        expected = FETCH_TIMEOUT_MESSAGES[kind]

        os.kill(silent.proc.pid, signal.SIGSTOP)
        try:
            with pytest.raises(RequestTimeoutError) as info:
                await node.fetch_sockets()
            reference = await asker.call("fetch", timeout=1000)
        finally:
            os.kill(silent.proc.pid, signal.SIGCONT)
        assert str(info.value) == expected
        assert reference.get("error") == expected
        assert isinstance(info.value, AdapterError)
        assert not isinstance(info.value, AckTimeoutError)
        partial = info.value.responses
        assert sorted(s.id for s in partial) == sorted([clients[0].sid, clients[1].sid])
        assert {type(s) for s in partial} == {Socket, RemoteSocket}
    finally:
        for client in clients:
            await client.close()
        await asker.close()
        await silent.close()
        await node.close()
        if redis_client is not None:
            await redis_client.aclose()
