"""Fixtures for the client tests: Socket.IO servers (official Node, and aiosio) in processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from aiosio.client import Manager, Socket
from tests.support.requires import require_node

from .servers import KINDS, SioServer

#: A heartbeat a loaded machine keeps up with; tests about the heartbeat itself ask for ``FAST``.
HEARTBEAT = {"pingInterval": 1000, "pingTimeout": 2000}
#: Short enough for tests whose subject is the heartbeat (pings, ping timeouts).
FAST = {"pingInterval": 300, "pingTimeout": 1000}


@pytest.fixture(params=KINDS)
def server_kind(request: pytest.FixtureRequest) -> str:
    """The server the client talks to: the official Node one, or aiosio's."""
    kind = str(request.param)
    if kind == "node":
        require_node("socket.io")
    return kind


@pytest.fixture
def sio_factory(server_kind: str) -> Iterator[Callable[..., SioServer]]:
    """Start servers of ``server_kind`` with given options; all are killed after the test."""
    servers: list[SioServer] = []

    def start(**options: Any) -> SioServer:
        server = SioServer(server_kind, **{**HEARTBEAT, **options})
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def sio(sio_factory: Callable[..., SioServer]) -> SioServer:
    """A server with the default test heartbeat (``HEARTBEAT``)."""
    return sio_factory()


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


def transport_name(socket: Socket) -> str | None:
    """The transport a client socket's Engine.IO session uses now (``None`` without a session)."""
    engine = socket.io.engine
    return None if engine is None else engine.transport_name
