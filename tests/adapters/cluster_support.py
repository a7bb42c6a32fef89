"""Clusters of aiosio servers for the adapter tests, and python-socketio clients that record events."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import socketio
from redis.asyncio import Redis, RedisCluster

from aiosio.adapters import cluster as cluster_adapter
from aiosio.adapters import postgres, redis_streams
from aiosio.adapters import redis as redis_adapter
from aiosio.server import Server

from .cold_start import wait_until_joined

__all__ = [
    "KINDS",
    "Client",
    "Cluster",
    "adapter_factory",
    "eventually",
    "on_every_server",
    "start_cluster",
    "wait_for_servers",
]

#: every adapter the contract suite runs against
KINDS = (
    "memory",
    "bus",
    "redis",
    "sharded",
    "streams",
    "postgres",
    "redis@cluster",
    "sharded@cluster",
    "streams@cluster",
    "redis@valkey",
    "sharded@valkey",
    "streams@valkey",
)
#: fast heartbeats for the in-process cluster
BUS_OPTIONS = {
    "heartbeat_interval": 0.2,
    "heartbeat_timeout": 0.6,
    "dead_node_eviction_interval": 0.05,
}
REQUESTS_TIMEOUT = 1.0
WAIT = 5.0


def adapter_factory(
    kind: str,
    redis_client: Redis | RedisCluster | None,
    prefix: str,
    bus: Any,
    postgres_dsn: str | None = None,
) -> Any:
    """The ``adapter=`` option of a server of the given kind (``None`` for the in-memory default).

    ``<kind>@cluster`` is the Redis adapter ``<kind>`` on a ``RedisCluster`` client, ``<kind>@valkey``
    the Redis adapter ``<kind>`` on a Valkey server."""
    kind = kind.removesuffix("@cluster").removesuffix("@valkey")
    if kind == "memory":
        return None
    if kind == "postgres":
        assert postgres_dsn is not None
        # fast heartbeats: PostgreSQL servers know each other by their heartbeats
        return postgres.create_adapter(
            postgres_dsn,
            channel_prefix=prefix,
            requests_timeout=REQUESTS_TIMEOUT,
            heartbeat_interval=0.5,
            heartbeat_timeout=2.0,
        )
    if kind == "bus":
        return cluster_adapter.create_adapter(bus, requests_timeout=REQUESTS_TIMEOUT, **BUS_OPTIONS)
    assert redis_client is not None
    if kind == "redis":
        return redis_adapter.create_adapter(
            redis_client, key=prefix, requests_timeout=REQUESTS_TIMEOUT
        )
    if kind == "sharded":
        return redis_adapter.create_sharded_adapter(
            redis_client, channel_prefix=prefix, requests_timeout=REQUESTS_TIMEOUT
        )
    if kind == "streams":
        return redis_streams.create_adapter(
            redis_client,
            stream_name=prefix,
            channel_prefix=prefix,
            requests_timeout=REQUESTS_TIMEOUT,
            block_time=1.0,
        )
    raise ValueError(kind)


class Client:
    """A python-socketio AsyncClient that records every event it receives."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, list[Any]]] = []
        self._changed = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.sio.on("disconnect", self._on_disconnect)
        self.ack_with: Callable[[str, list[Any]], Any] = lambda event, args: f"{name}:{event}"
        self.sio.on("*", self._on_any)

    async def _on_any(self, event: str, *args: Any) -> Any:
        self.events.append((event, list(args)))
        self._changed.set()
        answer = self.ack_with(event, list(args))
        if inspect.isawaitable(answer):
            answer = await answer
        return answer

    def _on_disconnect(self, *args: Any) -> None:
        self.disconnected.set()

    @property
    def sid(self) -> str:
        sid = self.sio.get_sid()
        assert sid is not None
        return str(sid)

    async def connect(self, url: str, **options: Any) -> Client:
        options.setdefault("transports", ["websocket"])
        await self.sio.connect(url, wait_timeout=WAIT, **options)
        return self

    def received(self, event: str) -> list[list[Any]]:
        """The argument lists of every ``event`` received so far."""
        return [args for name, args in self.events if name == event]

    async def expect(self, event: str, count: int = 1, timeout: float = WAIT) -> list[list[Any]]:  # noqa: ASYNC109
        """Wait until ``event`` arrived ``count`` times; returns the argument lists."""
        async with asyncio.timeout(timeout):
            while len(self.received(event)) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.received(event)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()


@dataclass
class Cluster:
    """``nodes[i]`` is the server of node i; with the in-memory adapter all three are one server."""

    kind: str
    nodes: list[Server]
    urls: list[str]
    clients: list[Client] = field(default_factory=list)
    #: the Redis the adapters share and their prefix (Redis kinds only), for readiness checks
    redis_url: str | None = None
    prefix: str = ""

    @property
    def servers(self) -> int:
        """The number of distinct servers."""
        return len({id(node) for node in self.nodes})

    async def connect(self, node: int, name: str | None = None, **options: Any) -> Client:
        """A client connected to node ``node`` (joined to room ``name`` by the test's handler)."""
        client = Client(name or f"c{len(self.clients)}")
        self.clients.append(client)
        return await client.connect(self.urls[node], **options)

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        for server in {id(node): node for node in self.nodes}.values():
            await server.close()


async def wait_for_servers(cluster: Cluster) -> None:
    """Wait until every server of the cluster listens to the others.

    Redis kinds: read from Redis with a client of our own (the request channel's subscribers), so
    that no request is sent from the test's task before the test uses the cluster. The in-process
    cluster: each node's count of the servers whose heartbeats it heard (a local count, no request).
    """
    expected = cluster.servers
    if cluster.kind in ("redis", "sharded", "streams"):
        assert cluster.redis_url is not None
        observer = Redis.from_url(cluster.redis_url)
        try:
            await wait_until_joined(cluster.kind, observer, cluster.prefix, expected)
        finally:
            await observer.aclose()
        return
    for node in cluster.nodes:
        await eventually(node.sockets.adapter.server_count, lambda count: count == expected)


async def eventually(
    probe: Callable[[], Any], check: Callable[[Any], bool] = bool, within: float = WAIT
) -> Any:
    """Call ``probe`` (awaiting it when it is a coroutine) until ``check`` accepts its value."""
    async with asyncio.timeout(within):
        while True:
            value = probe()
            if inspect.isawaitable(value):
                value = await value
            if check(value):
                return value
            await asyncio.sleep(0.02)


async def start_cluster(
    kind: str,
    redis_url: str | None,
    size: int = 3,
    postgres_dsn: str | None = None,
    **server_options: Any,
) -> tuple[Cluster, list[Redis | RedisCluster]]:
    """Start ``size`` servers (one for the in-memory adapter) sharing a fresh prefix in Redis (or
    PostgreSQL)."""
    prefix = f"t{secrets.token_hex(4)}"
    bus = cluster_adapter.InProcessBus()
    server_options.setdefault("ping_interval", 1.0)
    server_options.setdefault("ping_timeout", 1.0)
    clients: list[Redis | RedisCluster] = []
    nodes: list[Server] = []
    urls: list[str] = []
    count = 1 if kind == "memory" else size
    for _ in range(count):
        client: Redis | RedisCluster | None = None
        if kind.removesuffix("@valkey") in ("redis", "sharded", "streams"):
            assert redis_url is not None
            client = Redis.from_url(redis_url)
            clients.append(client)
        elif kind.endswith("@cluster"):
            assert redis_url is not None
            client = RedisCluster.from_url(redis_url)
            clients.append(client)
        adapter = adapter_factory(kind, client, prefix, bus, postgres_dsn)
        io = Server(adapter=adapter, **server_options) if adapter else Server(**server_options)
        port = await io.listen(0, "127.0.0.1")
        nodes.append(io)
        urls.append(f"http://127.0.0.1:{port}")
    if kind == "memory":
        nodes, urls = nodes * size, urls * size
    cluster = Cluster(kind, nodes, urls, redis_url=redis_url, prefix=prefix)
    await wait_for_servers(cluster)
    return cluster, clients


def on_every_server(cluster: Cluster, event: str, handler: Callable[..., Any]) -> None:
    """Register ``handler`` for ``event`` on every distinct server of the cluster."""
    for server in {id(node): node for node in cluster.nodes}.values():
        server.on(event, handler)
