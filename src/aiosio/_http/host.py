"""What the connections of one embedded server share: app, fallback, the open connections."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from aiosio.engine.http import EngineApp, Request, Response

__all__ = [
    "HEADERS_TIMEOUT",
    "KEEP_ALIVE_TIMEOUT",
    "REQUEST_TIMEOUT",
    "Closable",
    "Fallback",
    "Host",
]

#: The defaults of Node's http server (``headersTimeout``, ``keepAliveTimeout``, ``requestTimeout``).
HEADERS_TIMEOUT = 60.0
KEEP_ALIVE_TIMEOUT = 5.0
REQUEST_TIMEOUT = 300.0

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

    __slots__ = (
        "_idle",
        "app",
        "connections",
        "fallback",
        "headers_timeout",
        "keep_alive_timeout",
        "loop",
        "request_timeout",
        "scheme",
    )

    def __init__(
        self,
        app: EngineApp,
        fallback: Fallback | None,
        scheme: str,
        *,
        headers_timeout: float = HEADERS_TIMEOUT,
        keep_alive_timeout: float = KEEP_ALIVE_TIMEOUT,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        for name, value in (
            ("headers_timeout", headers_timeout),
            ("keep_alive_timeout", keep_alive_timeout),
            ("request_timeout", request_timeout),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be positive, not {value!r}")
        self.app = app
        self.fallback = fallback
        self.scheme = scheme
        #: Seconds for a request's headers to arrive, from the connection or the previous answer.
        self.headers_timeout = float(headers_timeout)
        #: Seconds an idle keep-alive connection stays open after an answer.
        self.keep_alive_timeout = float(keep_alive_timeout)
        #: Seconds for a whole request (headers and body) to arrive.
        self.request_timeout = float(request_timeout)
        self.loop = asyncio.get_running_loop()
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
