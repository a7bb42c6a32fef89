"""Fixtures of the application tests: Redis, a fresh key, the HTTP service, clients, app processes."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.server.node import NodeClients, node_available

from .clients import AppClient, NodeAppClient, PythonAppClient
from .support import (
    PG_DSN,
    AppProcess,
    PostgresNodes,
    echo_service,
    request_subscribers,
    start_app,
)

Starter = Callable[..., Awaitable[AppProcess]]
MakeClient = Callable[[str], AppClient]
Users = Callable[..., Awaitable[None]]


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A Redis client of the test's own (text answers), separate from the app's."""
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def key(redis: Redis) -> AsyncIterator[str]:
    """A fresh prefix; the app's keys under it are deleted after the test."""
    prefix = f"app{secrets.token_hex(4)}"
    yield prefix
    names = [name async for name in redis.scan_iter(f"{prefix}:*")]
    if names:
        await redis.delete(*names)


@pytest.fixture
async def http_service() -> AsyncIterator[str]:
    """The base URL of a local HTTP service the app calls."""
    async with echo_service() as url:
        yield url


@pytest.fixture
def app_env(redis_url: str, key: str, http_service: str) -> dict[str, str]:
    """The environment that configures tests/apps/realapp.py."""
    return {
        "REALAPP_REDIS": redis_url,
        "REALAPP_KEY": key,
        "REALAPP_PG": PG_DSN,
        "REALAPP_HTTP": http_service,
    }


@pytest.fixture
async def serve_app(redis: Redis) -> AsyncIterator[Starter]:
    """``app = await serve_app(host, env, subscribers=1, workers=1)``: started once ``subscribers``
    nodes are in the cluster of its adapter (``REALAPP_ADAPTER``); stopped after the test."""
    started: list[AppProcess] = []
    watchers: list[PostgresNodes] = []

    async def start(
        host: str, env: dict[str, str], subscribers: int = 1, workers: int = 1
    ) -> AppProcess:
        key = env["REALAPP_KEY"]
        if env.get("REALAPP_ADAPTER") == "postgres":
            if not watchers:
                watcher = PostgresNodes(f"{key}#/")
                await watcher.start(env["REALAPP_PG"])
                watchers.append(watcher)
            nodes = watchers[0]

            async def ready() -> bool:
                return nodes.joined() >= subscribers

        else:

            async def ready() -> bool:
                return await request_subscribers(redis, key) >= subscribers

        app = await start_app(host, env, ready, workers=workers)
        started.append(app)
        return app

    yield start
    for app in reversed(started):
        await app.stop()
        # shown by pytest when the test fails
        print(f"--- {app.host} on port {app.port} ---\n{app.output()}")
    for watcher in watchers:
        await watcher.close()


@pytest.fixture
async def node_clients() -> AsyncIterator[NodeClients]:
    """A Node process holding official socket.io-client sockets."""
    if not node_available():
        pytest.fail("node and node_modules/socket.io-client are required (run `npm ci`)")
    clients = await NodeClients.start()
    yield clients
    await clients.close()


@pytest.fixture
async def make_client(node_clients: NodeClients) -> AsyncIterator[Callable[[str], AppClient]]:
    """``make_client("node")`` / ``make_client("python")``: a new, unconnected client."""
    made: list[AppClient] = []

    def make(kind: str) -> AppClient:
        client: AppClient = NodeAppClient(node_clients) if kind == "node" else PythonAppClient()
        made.append(client)
        return client

    yield make
    for client in made:
        await client.disconnect()


@pytest.fixture
async def users(redis: Redis, key: str) -> Callable[..., Awaitable[None]]:
    """``await users("alice", "bob")``: a token ``tok-<name>`` for each, stored in Redis."""

    async def add(*names: str) -> None:
        for name in names:
            await redis.set(f"{key}:token:tok-{name}", name)

    return add


@dataclass
class RealApp:
    """What an application test does again and again: serve tests/apps/realapp.py on a host and
    connect real clients to it as known users."""

    env: dict[str, str]
    serve_app: Starter
    make_client: MakeClient
    users: Users

    async def serve(
        self, host: str, node: str | None = None, env: dict[str, str] | None = None, **options: Any
    ) -> AppProcess:
        """Start the app on ``host``; ``node`` names it (``REALAPP_NODE``), ``env`` adds settings."""
        named = {"REALAPP_NODE": node} if node is not None else {}
        return await self.serve_app(host, {**self.env, **named, **(env or {})}, **options)

    async def connect(
        self, app: AppProcess, kind: str, user: str, transports: list[str] | None = None
    ) -> AppClient:
        """A ``kind`` client ("node" or "python") connected to ``app`` as ``user`` (token stored first)."""
        await self.users(user)
        client = self.make_client(kind)
        await client.connect(app.url, f"tok-{user}", transports)
        return client


@pytest.fixture
def realapp(
    app_env: dict[str, str], serve_app: Starter, make_client: MakeClient, users: Users
) -> RealApp:
    """The :class:`RealApp` kit of one test."""
    return RealApp(app_env, serve_app, make_client, users)
