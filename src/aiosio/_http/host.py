"""What the connections of one embedded server share: app, fallback, the open connections."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from aiosio.engine.http import EngineApp, Request, Response

__all__ = ["Closable", "Fallback", "Host"]

#: A plain HTTP handler for requests outside the engine's path.
Fallback = Callable[[Request, Callable[[Response], None]], None]


class Closable(Protocol):
    """A live connection as the server sees it at shutdown."""

    def shutdown(self) -> None:
        """Close gracefully: now if idle, else once the work in flight is done."""

    def abort(self) -> None:
        """Drop the connection now."""


class Host:
    """Shared state of one listening server."""

    __slots__ = ("_idle", "app", "connections", "fallback", "scheme")

    def __init__(self, app: EngineApp, fallback: Fallback | None, scheme: str) -> None:
        self.app = app
        self.fallback = fallback
        self.scheme = scheme
        #: Every open connection (HTTP protocols and accepted WebSockets).
        self.connections: set[Closable] = set()
        self._idle: asyncio.Event | None = None

    def forget(self, connection: Closable) -> None:
        """A connection closed (or changed hands): stop tracking it."""
        connections = self.connections
        connections.discard(connection)
        if not connections and self._idle is not None:
            self._idle.set()

    def idle_event(self) -> asyncio.Event:
        """An event set once no connection is left."""
        if self._idle is None:
            self._idle = asyncio.Event()
        if not self.connections:
            self._idle.set()
        return self._idle
