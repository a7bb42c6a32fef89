"""The embedded server: serve an Engine.IO app over HTTP/1.1 and WebSocket.

It is aiosio's fastest path: a plain asyncio Protocol (on uvloop when the running loop is uvloop),
httptools for HTTP/1.1 and its own RFC 6455 framing, calling the engine directly with no task per
request or message::

    server = await serve(engine, "127.0.0.1", 3000)
    await wait_for_shutdown_signal()
    await server.close()

``run(main())`` runs a coroutine on uvloop when it is installed (else on the default loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl as _ssl
from collections.abc import Callable, Coroutine, Iterable
from types import TracebackType
from typing import Any, TypeVar

from aiosio._http.host import HEADERS_TIMEOUT, KEEP_ALIVE_TIMEOUT, REQUEST_TIMEOUT, Fallback, Host
from aiosio._http.protocol import HttpProtocol
from aiosio.engine.hosting import register_embedded_host
from aiosio.engine.http import EngineApp, Request, Response

__all__ = [
    "HEADERS_TIMEOUT",
    "KEEP_ALIVE_TIMEOUT",
    "REQUEST_TIMEOUT",
    "EmbeddedServer",
    "run",
    "serve",
    "wait_for_shutdown_signal",
]

logger = logging.getLogger("aiosio.http")
_T = TypeVar("_T")


class EmbeddedServer:
    """A listening embedded server. Create it with :func:`serve`."""

    __slots__ = ("_closed", "_host", "_server", "host", "port")

    def __init__(
        self, server: asyncio.AbstractServer, host: Host, address: tuple[str, int]
    ) -> None:
        self._server = server
        self._host = host
        self._closed = False
        #: The address the server is bound to.
        self.host: str = address[0]
        #: The bound port (the one picked by the system when ``serve`` was given port 0).
        self.port: int = address[1]

    @property
    def connection_count(self) -> int:
        """Open connections (HTTP and WebSocket)."""
        return len(self._host.connections)

    async def close(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Stop accepting, close idle connections, wait up to ``timeout`` seconds for the rest.

        Idle keep-alive connections close at once; a request in flight closes its connection right
        after its answer; open WebSockets get a close frame (1001). What is still open after
        ``timeout`` is dropped (held requests see ``on_abort``).
        """
        if self._closed:
            return
        self._closed = True
        self._server.close()
        connections = self._host.connections
        for connection in list(connections):
            connection.shutdown()
        if connections:
            idle = self._host.idle_event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(idle.wait(), timeout)
        for connection in list(connections):
            connection.abort()
        if connections:
            await asyncio.sleep(0)
        await self._server.wait_closed()

    async def __aenter__(self) -> EmbeddedServer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<EmbeddedServer http://{self.host}:{self.port}>"


async def serve(
    app: EngineApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    fallback: Callable[[Request, Callable[[Response], None]], None] | None = None,
    backlog: int = 1024,
    reuse_port: bool = False,
    ssl: _ssl.SSLContext | None = None,
    headers_timeout: float = HEADERS_TIMEOUT,
    keep_alive_timeout: float = KEEP_ALIVE_TIMEOUT,
    request_timeout: float = REQUEST_TIMEOUT,
) -> EmbeddedServer:
    """Listen on ``host:port`` and serve ``app``; port 0 picks a free port (see ``.port``).

    Requests under ``app.path`` go to the engine; others to ``fallback(request, respond)`` or 404.

    Timeouts, in seconds, with the names and defaults of Node's http server: a request's headers
    must be complete within ``headers_timeout`` (60) of the connection or of the previous answer,
    a keep-alive connection idles at most ``keep_alive_timeout`` (5) between requests, and a whole
    request (headers and body) must arrive within ``request_timeout`` (300). A request the server is
    answering (a held poll) is not timed here; an upgraded WebSocket is governed by the Engine.IO
    heartbeat.
    """
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"invalid port: {port!r}")
    shared = Host(
        app,
        fallback,
        "https" if ssl is not None else "http",
        headers_timeout=headers_timeout,
        keep_alive_timeout=keep_alive_timeout,
        request_timeout=request_timeout,
    )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: HttpProtocol(shared),
        host,
        port,
        backlog=backlog,
        reuse_port=reuse_port or None,
        ssl=ssl,
    )
    sockname = server.sockets[0].getsockname()
    logger.debug("listening on %s:%s", sockname[0], sockname[1])
    return EmbeddedServer(server, shared, (str(sockname[0]), int(sockname[1])))


async def _listen(
    app: EngineApp,
    host: str,
    port: int,
    /,
    *,
    fallback: Fallback | None = None,
    headers_timeout: float | None = None,
    keep_alive_timeout: float | None = None,
    request_timeout: float | None = None,
) -> EmbeddedServer:
    """:func:`serve` for ``listen()``: a timeout left ``None`` keeps its default."""
    return await serve(
        app,
        host,
        port,
        fallback=fallback,
        headers_timeout=HEADERS_TIMEOUT if headers_timeout is None else headers_timeout,
        keep_alive_timeout=KEEP_ALIVE_TIMEOUT if keep_alive_timeout is None else keep_alive_timeout,
        request_timeout=REQUEST_TIMEOUT if request_timeout is None else request_timeout,
    )


# ``EngineServer.listen()`` and ``Server.listen()`` find this host here (they do not import upward).
register_embedded_host(_listen)


async def wait_for_shutdown_signal(
    signals: Iterable[signal.Signals] = (signal.SIGINT, signal.SIGTERM),
) -> signal.Signals:
    """Wait until one of ``signals`` arrives (default SIGINT, SIGTERM) and return it."""
    loop = asyncio.get_running_loop()
    received: asyncio.Future[signal.Signals] = loop.create_future()
    chosen = list(signals)

    def on_signal(sig: signal.Signals) -> None:
        if not received.done():
            received.set_result(sig)

    for sig in chosen:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        return await received
    finally:
        for sig in chosen:
            loop.remove_signal_handler(sig)


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """Run ``main`` to completion on uvloop when it is installed, else on the default loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - depends on the installed packages
        return asyncio.run(main)
    result: _T = uvloop.run(main)
    return result


__all__ += ["Fallback"]
