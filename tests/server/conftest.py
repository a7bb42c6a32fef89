"""Fixtures for server tests that listen on a real port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from aiosio.server import Server

from .node import NodeClients

Serve = Callable[..., Awaitable[tuple[Server, str]]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start servers on free ports: ``io, url = await serve(**options)``; closed after the test."""
    servers: list[Server] = []

    async def start(**options: Any) -> tuple[Server, str]:
        options.setdefault("ping_interval", 1.0)
        options.setdefault("ping_timeout", 1.0)
        io = Server(**options)
        port = await io.listen(0, "127.0.0.1")
        servers.append(io)
        return io, f"http://127.0.0.1:{port}"

    yield start
    for io in servers:
        await io.close()


@pytest.fixture
async def node() -> AsyncIterator[NodeClients]:
    """A Node process driving official socket.io-client sockets."""
    clients = await NodeClients.start()
    yield clients
    await clients.close()
