"""A tiny app with the engine seam, used to drive both hosts in tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiosio.engine.deflate import PerMessageDeflate
from aiosio.engine.http import Request, Response, WebSocketConnection


class EchoHandler:
    """Echoes every message; ``close:<code>`` closes from the server side."""

    def __init__(self, app: EchoApp, connection: WebSocketConnection) -> None:
        self.app = app
        self.connection = connection

    def on_message(self, data: str | bytes) -> None:
        self.app.messages.append(data)
        if isinstance(data, str) and data.startswith("close:"):
            self.connection.close(int(data[6:]))
        elif isinstance(data, str) and data.startswith("plain:"):
            self.connection.send(data, compress=False)
        elif data == "burst":
            for i in range(3):
                self.connection.send(f"part{i}")
        else:
            self.connection.send(data)

    def on_disconnect(self, error: str | None = None) -> None:
        self.app.disconnects += 1
        self.app.errors.append(error)
        self.app.disconnected.set()


class EchoApp:
    """GET answers the query string, POST echoes the body, ``hold`` waits for the client."""

    def __init__(
        self,
        path: str = "/engine.io/",
        max_http_buffer_size: int = 100_000,
        per_message_deflate: PerMessageDeflate | None = None,
    ) -> None:
        self.path = path
        self.max_http_buffer_size = max_http_buffer_size
        self.per_message_deflate = per_message_deflate
        self.requests: list[Request] = []
        self.messages: list[str | bytes] = []
        self.disconnects = 0
        self.errors: list[str | None] = []
        self.disconnected = asyncio.Event()
        self.aborted = asyncio.Event()
        self.got_request = asyncio.Event()

    async def wait_requests(self, count: int) -> None:
        """Wait until ``count`` requests (or upgrade requests) have arrived."""
        while len(self.requests) < count:
            self.got_request.clear()
            await self.got_request.wait()

    def handle_request(self, request: Request, respond: Callable[[Response], None]) -> None:
        self.requests.append(request)
        self.got_request.set()
        headers = [("content-type", "text/plain"), ("x-method", request.method)]
        if request.path.endswith("/hold"):

            def on_abort() -> None:
                self.aborted.set()

            request.on_abort = on_abort
            return
        if request.path.endswith("/later"):
            asyncio.get_running_loop().call_later(
                0.05, respond, Response(200, headers, b"later:" + request.query_string.encode())
            )
            return
        if request.path.endswith("/boom"):
            raise RuntimeError("handler failure")
        if request.method == "POST":
            if request.body_too_large:
                respond(Response(413, headers, b"too large"))
            else:
                respond(Response(200, headers, request.body))
            return
        respond(Response(200, headers, request.query_string.encode()))

    def handle_websocket(self, request: Request, connection: WebSocketConnection) -> None:
        self.requests.append(request)
        self.got_request.set()
        if "reject" in request.query:
            connection.reject(Response(401, [("content-type", "text/plain")], b"go away"))
            return
        connection.accept(EchoHandler(self, connection))
