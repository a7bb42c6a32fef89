"""Extra plain HTTP routes served next to the Socket.IO endpoint, on both hosts.

The Admin UI's static files and the metrics endpoint are served this way. A route is a path prefix and
a handler ``handler(request, respond)`` (the same shape as the embedded server's ``fallback``)::

    io.route("/metrics", metrics_handler)

The embedded server tries the routes before its ``fallback``; the ASGI app tries them before its ASGI
``fallback`` app. The longest matching prefix wins.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from aiosio.engine.http import Request, Response

__all__ = ["Handler", "Routes"]

#: A plain HTTP handler: it calls ``respond`` exactly once, maybe later.
Handler = Callable[[Request, Callable[[Response], None]], None]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGI3App = Callable[[Scope, Receive, Send], Awaitable[None]]

_NOT_FOUND = Response(404, [("Content-Type", "text/plain")], b"not found")


class Routes:
    """Path prefixes mapped to plain HTTP handlers."""

    __slots__ = ("_routes",)

    def __init__(self) -> None:
        self._routes: list[tuple[str, Handler]] = []

    def __bool__(self) -> bool:
        return bool(self._routes)

    def __len__(self) -> int:
        return len(self._routes)

    def add(self, prefix: str, handler: Handler) -> None:
        """Serve the requests whose path starts with ``prefix`` with ``handler``."""
        if not prefix.startswith("/"):
            raise ValueError("a route prefix starts with '/'")
        if not callable(handler):
            raise TypeError("a route handler must be callable")
        self._routes = [r for r in self._routes if r[0] != prefix]
        self._routes.append((prefix, handler))
        self._routes.sort(key=lambda route: len(route[0]), reverse=True)

    def find(self, path: str) -> Handler | None:
        """The handler of the longest prefix ``path`` starts with, or ``None``."""
        for prefix, handler in self._routes:
            if path.startswith(prefix):
                return handler
        return None

    def fallback(self, then: Handler | None) -> Handler:
        """A handler for the embedded server: the routes first, then ``then`` (or 404)."""

        def dispatch(request: Request, respond: Callable[[Response], None]) -> None:
            handler = self.find(request.path) or then
            if handler is None:
                respond(_NOT_FOUND)
            else:
                handler(request, respond)

        return dispatch

    def asgi(self, then: ASGI3App | None) -> ASGI3App:
        """An ASGI app: HTTP requests on a route go to its handler, everything else to ``then``."""

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            handler = self.find(scope.get("path", "/")) if scope["type"] == "http" else None
            if handler is None:
                if then is not None:
                    await then(scope, receive, send)
                elif scope["type"] == "http":
                    await _send(send, _NOT_FOUND)
                return
            await _serve_asgi(handler, scope, receive, send)

        return app


async def _serve_asgi(handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        headers[raw_name.decode("latin-1").lower()] = raw_value.decode("latin-1")
    client = scope.get("client")
    request = Request(
        scope.get("method", "GET"),
        scope.get("path", "/"),
        scope.get("query_string", b"").decode("latin-1"),
        headers,
        b"".join(chunks),
        client=(str(client[0]), int(client[1])) if client else None,
        scheme="https" if scope.get("scheme") == "https" else "http",
    )
    answer: asyncio.Future[Response] = asyncio.get_running_loop().create_future()

    def respond(response: Response) -> None:
        if not answer.done():
            answer.set_result(response)

    handler(request, respond)
    await _send(send, await answer)


async def _send(send: Send, response: Response) -> None:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode("ascii")))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
