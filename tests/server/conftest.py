"""Fixtures for server tests that listen on a real port.

``serve`` hosts each server the ``host_kind`` way (root conftest): the embedded server and
``Server.asgi_app()`` under uvicorn, so every test here runs on both hosts. A module can widen
``host_kind`` to hypercorn too (test_interop_node.py does).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from aiosio.server import Server
from tests.support.hosts import RunningHost, start_host
from tests.support.requires import require_node

from .node import NodeClients

Serve = Callable[..., Awaitable[tuple[Server, str]]]


@pytest.fixture
async def serve(host_kind: str) -> AsyncIterator[Serve]:
    """Start servers on free ports: ``io, url = await serve(**options)``; closed after the test."""
    hosts: list[RunningHost] = []

    async def start(**options: Any) -> tuple[Server, str]:
        options.setdefault("ping_interval", 1.0)
        options.setdefault("ping_timeout", 1.0)
        io = Server(**options)
        host = await start_host(host_kind, io)
        hosts.append(host)
        return io, host.base_url

    yield start
    for host in reversed(hosts):
        await host.close()


@pytest.fixture
async def node() -> AsyncIterator[NodeClients]:
    """A Node process driving official socket.io-client sockets."""
    require_node("socket.io-client", "socket.io-msgpack-parser")
    clients = await NodeClients.start()
    yield clients
    await clients.close()
