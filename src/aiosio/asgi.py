"""The ASGI host: serve an Engine.IO app from any ASGI 3 server (uvicorn, hypercorn) or framework.

Requests and WebSockets under the engine's path go to the engine seam; everything else goes to the
``fallback`` ASGI app (or gets a 404)::

    app = ASGIApp(engine, fallback=starlette_app, startup=io.start, shutdown=io.close)

Lifespan: ``lifespan.startup`` runs ``startup`` (the Socket.IO server's start-up: adapters subscribe,
cluster heartbeats start), then the fallback's own start-up; ``lifespan.shutdown`` runs ``shutdown``
first, then the fallback's. A host that sends no lifespan events gets ``startup`` on its first request.

Mounted under a prefix (Starlette ``Mount("/rt", app)``), paths match relative to ``root_path``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from aiosio.engine.hosting import register_asgi_host
from aiosio.engine.http import EngineApp, PreparedMessages, Request, Response, WebSocketHandler

__all__ = ["ASGIApp"]

logger = logging.getLogger("aiosio.http")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGI3App = Callable[[Scope, Receive, Send], Awaitable[None]]

_NOT_FOUND = Response(404, [("content-type", "text/plain")], b"Not Found")


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in headers:
            value = headers[name] + ("; " if name == "cookie" else ", ") + value
        headers[name] = value
    return headers


def _route_path(scope: Scope) -> str:
    path: str = scope.get("path", "/")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


def _request(scope: Scope, path: str, method: str, body: bytes, too_large: bool) -> Request:
    client = scope.get("client")
    scheme = scope.get("scheme", "http")
    return Request(
        method,
        path,
        scope.get("query_string", b"").decode("latin-1"),
        _headers(scope),
        body,
        client=(str(client[0]), int(client[1])) if client else None,
        scheme="https" if scheme in ("https", "wss") else "http",
        body_too_large=too_large,
    )


def _raw_headers(response: Response) -> list[tuple[bytes, bytes]]:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode("ascii")))
    return headers


async def _send_response(send: Send, response: Response, head: bool = False) -> None:
    headers = _raw_headers(response)
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else response.body})


async def _until_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


Hook = Callable[[], Awaitable[None]]


class ASGIApp:
    """An ASGI 3 application in front of ``engine``; other paths go to ``fallback`` (or 404).

    ``startup`` and ``shutdown`` run on the lifespan events (``startup`` on the first request when
    the host sends none).
    """

    __slots__ = ("_started", "engine", "fallback", "shutdown", "startup")

    def __init__(
        self,
        engine: EngineApp,
        fallback: ASGI3App | None = None,
        *,
        startup: Hook | None = None,
        shutdown: Hook | None = None,
    ) -> None:
        self.engine = engine
        self.fallback = fallback
        self.startup = startup
        self.shutdown = shutdown
        self._started = startup is None

    async def _start(self) -> None:
        assert self.startup is not None
        await self.startup()  # idempotent: concurrent first requests share one start-up
        self._started = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            if self.fallback is not None:
                await self.fallback(scope, self._lifespan_receive(receive), send)
            else:
                await self._lifespan(receive, send)
            return
        if not self._started:
            await self._start()
        path = _route_path(scope)
        if not path.startswith(self.engine.path):
            if self.fallback is not None:
                await self.fallback(scope, receive, send)
            elif kind == "http":
                await _send_response(send, _NOT_FOUND)
            elif kind == "websocket":
                await receive()
                await send({"type": "websocket.close", "code": 1008})
            return
        if kind == "http":
            await self._http(scope, receive, send, path)
        elif kind == "websocket":
            await self._websocket(scope, receive, send, path)

    async def _on_lifespan(self, message: Message) -> Exception | None:
        """Run our hook for a lifespan message; the exception it raised (logged), if any."""
        kind = message["type"]
        try:
            if kind == "lifespan.startup":
                if not self._started:
                    await self._start()
            elif kind == "lifespan.shutdown" and self.shutdown is not None:
                await self.shutdown()
        except Exception as exc:
            logger.exception("%s failed", kind)
            return exc
        return None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            kind = message["type"]
            if kind not in ("lifespan.startup", "lifespan.shutdown"):
                continue
            exc = await self._on_lifespan(message)
            if exc is None:
                await send({"type": f"{kind}.complete"})
            else:
                await send({"type": f"{kind}.failed", "message": repr(exc)})
            if kind == "lifespan.shutdown":
                return

    def _lifespan_receive(self, receive: Receive) -> Receive:
        """The fallback's ``receive``: our start-up before its own, our shutdown before its own.

        A failed start-up is raised into the fallback's lifespan, so the host reports it and stops;
        a failed shutdown is logged and the fallback still shuts down.
        """

        async def wrapped() -> Message:
            message = await receive()
            exc = await self._on_lifespan(message)
            if exc is not None and message["type"] == "lifespan.startup":
                raise exc
            return message

        return wrapped

    async def _http(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        limit = self.engine.max_http_buffer_size
        chunks: list[bytes] = []
        size = 0
        too_large = False
        disconnected = False
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected = True
                break
            chunk = message.get("body", b"")
            if chunk and not too_large:
                size += len(chunk)
                if size > limit:
                    too_large = True
                    chunks = []
                else:
                    chunks.append(chunk)
            if not message.get("more_body", False):
                break
        if disconnected:
            return
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        method: str = scope.get("method", "GET")
        request = _request(scope, path, method, body, too_large)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Response] = loop.create_future()

        def respond(response: Response) -> None:
            if not answer.done():
                answer.set_result(response)

        try:
            self.engine.handle_request(request, respond)
        except Exception:
            logger.exception("request handler failed for %r", request)
            respond(Response(500, [("content-type", "text/plain")], b"Internal Server Error"))
        if not answer.done():
            watcher = loop.create_task(_until_disconnect(receive))
            try:
                await asyncio.wait((answer, watcher), return_when=asyncio.FIRST_COMPLETED)
            finally:
                watcher.cancel()
            if not answer.done():
                abort = request.on_abort
                request.on_abort = None
                if abort is not None:
                    try:
                        abort()
                    except Exception:
                        logger.exception("request abort callback failed")
                return
        request.on_abort = None
        await _send_response(send, answer.result(), head=method == "HEAD")

    async def _websocket(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        request = _request(scope, path, "GET", b"", False)
        connection = _ASGIWebSocket(send)
        try:
            self.engine.handle_websocket(request, connection)
        except Exception:
            logger.exception("websocket handler failed for %r", request)
            connection.reject(Response(500, [], b"Internal Server Error"))
        handler = await connection.decided
        if handler is None:
            await self._reject(scope, send, connection.rejection)
            return
        accept: dict[str, Any] = {"type": "websocket.accept"}
        if connection.accept_headers:
            accept["headers"] = connection.accept_headers
        await send(accept)
        writer = asyncio.get_running_loop().create_task(connection.write_loop())
        limit = self.engine.max_http_buffer_size
        error: str | None = None
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    data = message.get("text")
                    if data is None:
                        data = message.get("bytes") or b""
                    if len(data) > limit:
                        error = "message too big"
                        connection.close(1009)
                        continue
                    if connection.closing:
                        continue
                    try:
                        handler.on_message(data)
                    except Exception:
                        logger.exception("websocket message handler failed")
                elif kind == "websocket.disconnect":
                    break
        finally:
            connection.finish()
            if not writer.done():
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writer
            try:
                handler.on_disconnect(error)
            except Exception:
                logger.exception("websocket disconnect handler failed")

    async def _reject(self, scope: Scope, send: Send, response: Response | None) -> None:
        if response is not None and "websocket.http.response" in scope.get("extensions", {}):
            headers = [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers
            ]
            headers.append((b"content-length", str(len(response.body)).encode("ascii")))
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": response.status,
                    "headers": headers,
                }
            )
            await send({"type": "websocket.http.response.body", "body": response.body})
        else:
            await send({"type": "websocket.close", "code": 1008})


class _ASGIWebSocket:
    """The engine's ``WebSocketConnection`` over ASGI: a deque drained by one writer coroutine."""

    __slots__ = (
        "_buffered",
        "_close_code",
        "_finished",
        "_queue",
        "_send",
        "_wakeup",
        "accept_headers",
        "decided",
        "rejection",
    )

    def __init__(self, send: Send) -> None:
        self._send = send
        self.decided: asyncio.Future[WebSocketHandler | None] = (
            asyncio.get_running_loop().create_future()
        )
        self.rejection: Response | None = None
        self.accept_headers: list[tuple[bytes, bytes]] = []
        self._queue: deque[Message] = deque()
        self._buffered = 0
        self._wakeup: asyncio.Future[None] | None = None
        self._close_code = 0
        self._finished = False

    @property
    def closing(self) -> bool:
        return bool(self._close_code) or self._finished

    def accept(
        self, handler: WebSocketHandler, headers: list[tuple[str, str]] | None = None
    ) -> None:
        if not self.decided.done():
            self.accept_headers = [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in headers or ()
            ]
            self.decided.set_result(handler)

    def reject(self, response: Response) -> None:
        if not self.decided.done():
            self.rejection = response
            self.decided.set_result(None)

    def send(self, data: str | bytes, compress: bool = True) -> None:
        # ASGI has no per-message compression switch: the host compresses as it negotiated.
        if self.closing:
            return
        if isinstance(data, str):
            self._queue.append({"type": "websocket.send", "text": data})
        else:
            self._queue.append({"type": "websocket.send", "bytes": data})
        self._buffered += len(data)
        self._wake()

    def send_prepared(self, prepared: PreparedMessages, compress: bool = True) -> None:
        for message in prepared.messages:
            self.send(message)

    def close(self, code: int = 1000) -> None:
        if not self.decided.done():
            self.reject(Response(403, [("content-type", "text/plain")], b"Forbidden"))
            return
        if not self.closing:
            self._close_code = code
            self._wake()

    @property
    def buffered_amount(self) -> int:
        return self._buffered

    def _wake(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    def finish(self) -> None:
        self._finished = True
        self._queue.clear()
        self._buffered = 0
        self._wake()

    async def write_loop(self) -> None:
        queue = self._queue
        send = self._send
        loop = asyncio.get_running_loop()
        try:
            while not self._finished:
                while queue:
                    message = queue.popleft()
                    payload = message.get("text") or message.get("bytes") or b""
                    self._buffered -= len(payload)
                    await send(message)
                if self._close_code:
                    await send({"type": "websocket.close", "code": self._close_code})
                    return
                self._wakeup = loop.create_future()
                await self._wakeup
                self._wakeup = None
        except OSError:
            return  # the client went away; the receive loop sees the disconnect
        except Exception as exc:
            logger.debug("websocket send failed: %r", exc)


# ``EngineServer.asgi_app()`` and ``Server.asgi_app()`` find this host here (they do not import upward).
register_asgi_host(ASGIApp)
