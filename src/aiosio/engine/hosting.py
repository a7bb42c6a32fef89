"""Where ``listen()`` and ``asgi_app()`` find their hosts.

The hosts (:mod:`aiosio.serve`, the embedded HTTP/WebSocket server, and :mod:`aiosio.asgi`, the
ASGI application) sit above the engine and the Socket.IO server: they import the engine, never the
other way round. Yet ``EngineServer.listen()`` and ``Server.listen()`` / ``asgi_app()`` are the
convenient entry points users call. The hosts therefore register themselves here when their module is
imported (:func:`register_embedded_host`, :func:`register_asgi_host`), and the entry points ask for
them (:func:`embedded_host`, :func:`asgi_host`) without importing upward.

The HTTP/3 WebTransport host (:mod:`aiosio.webtransport`) needs an optional dependency (aioquic), so
the package registers a loader for it (:func:`register_webtransport_host`) that imports it when
:func:`webtransport_host` is first asked (an ``ImportError`` naming the extra when aioquic is missing).

Importing any part of aiosio first runs the package's ``__init__``, which imports both hosts, so they
are always registered by the time an entry point runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from .http import EngineApp, Request, Response

__all__ = [
    "ASGIApplication",
    "ASGIHost",
    "EmbeddedHost",
    "Fallback",
    "Listener",
    "WebTransportHost",
    "asgi_host",
    "embedded_host",
    "register_asgi_host",
    "register_embedded_host",
    "register_webtransport_host",
    "webtransport_host",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: A start-up or shutdown hook of an ASGI app.
Hook = Callable[[], Awaitable[None]]
#: What the embedded server does with a request outside the engine's path.
Fallback = Callable[[Request, Callable[[Response], None]], None]


class ASGIApplication(Protocol):
    """An ASGI 3 application (what ``asgi_app()`` returns: an :class:`aiosio.ASGIApp`)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection (``http``, ``websocket`` or ``lifespan``)."""


class Listener(Protocol):
    """A listening embedded server (an :class:`aiosio.EmbeddedServer`)."""

    #: The bound port.
    port: int

    async def close(self) -> None:
        """Stop listening and close the connections."""


class EmbeddedHost(Protocol):
    """Serve ``app`` on ``host:port``; a timeout left ``None`` takes the host's default."""

    def __call__(
        self,
        app: EngineApp,
        host: str,
        port: int,
        /,
        *,
        fallback: Fallback | None = None,
        headers_timeout: float | None = None,
        keep_alive_timeout: float | None = None,
        request_timeout: float | None = None,
    ) -> Awaitable[Listener]: ...


class ASGIHost(Protocol):
    """An ASGI application in front of ``app``; other paths go to ``fallback``."""

    def __call__(
        self,
        app: EngineApp,
        fallback: Any = None,
        /,
        *,
        startup: Hook | None = None,
        shutdown: Hook | None = None,
    ) -> ASGIApplication: ...


#: Serve ``app``'s WebTransport sessions on UDP ``(app, host, port, **options)``: the options of
#: :func:`aiosio.webtransport.serve_webtransport`, ``certfile`` and ``keyfile`` at least.
WebTransportHost = Callable[..., Awaitable[Listener]]


_embedded: EmbeddedHost | None = None
_asgi: ASGIHost | None = None
_webtransport: Callable[[], WebTransportHost] | None = None


def register_embedded_host(host: EmbeddedHost) -> None:
    """Make ``host`` the server ``listen()`` runs (:mod:`aiosio.serve` registers itself)."""
    global _embedded
    _embedded = host


def register_asgi_host(host: ASGIHost) -> None:
    """Make ``host`` what ``asgi_app()`` builds (:mod:`aiosio.asgi` registers itself)."""
    global _asgi
    _asgi = host


def embedded_host() -> EmbeddedHost:
    """The registered embedded server."""
    if _embedded is None:
        raise RuntimeError("no embedded HTTP server is registered (import aiosio.serve)")
    return _embedded


def asgi_host() -> ASGIHost:
    """The registered ASGI application factory."""
    if _asgi is None:
        raise RuntimeError("no ASGI host is registered (import aiosio.asgi)")
    return _asgi


def register_webtransport_host(loader: Callable[[], WebTransportHost]) -> None:
    """Make ``loader()`` give what ``listen(webtransport=...)`` starts (the package registers one
    that imports :mod:`aiosio.webtransport`)."""
    global _webtransport
    _webtransport = loader


def webtransport_host() -> WebTransportHost:
    """The registered WebTransport host, loaded now (``ImportError`` without its dependency)."""
    if _webtransport is None:
        raise RuntimeError("no WebTransport host is registered (import aiosio.webtransport)")
    return _webtransport()
