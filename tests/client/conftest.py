"""Fixtures for the client tests: official socket.io servers run by Node."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from aiosio.client import Manager

from .node_server import NodeServer, node_available

requires_node = pytest.mark.skipif(not node_available(), reason="node and npm socket.io needed")

FAST = {"pingInterval": 300, "pingTimeout": 200}


@pytest.fixture
def node_factory() -> Iterator[Callable[..., NodeServer]]:
    """Start official servers with given options; all are killed after the test."""
    if not node_available():
        pytest.skip("node and npm socket.io needed")
    servers: list[NodeServer] = []

    def start(**options: Any) -> NodeServer:
        server = NodeServer(**{**FAST, **options})
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def node(node_factory: Callable[..., NodeServer]) -> NodeServer:
    """A default official server with a fast heartbeat (300 ms + 200 ms)."""
    return node_factory()


@pytest.fixture
async def managers() -> AsyncIterator[list[Manager]]:
    """Managers registered here are closed (and their transports released) after the test."""
    created: list[Manager] = []
    yield created
    for manager in created:
        await manager.close()


@pytest.fixture(params=["polling", "websocket", "upgrade"])
def transport(request: pytest.FixtureRequest) -> str:
    """Each transport setup: polling only, websocket only, polling upgraded to websocket."""
    return str(request.param)


def transport_options(kind: str) -> dict[str, Any]:
    """Manager options for a transport setup."""
    if kind == "polling":
        return {"transports": ["polling"]}
    if kind == "websocket":
        return {"transports": ["websocket"]}
    return {"transports": ["polling", "websocket"]}
