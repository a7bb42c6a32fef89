"""An in-process host for driving the engine through its seam, without sockets."""

from __future__ import annotations

import asyncio

from aiosio.engine.http import PreparedMessages, Request, Response, WebSocketHandler
from aiosio.engine.server import EngineServer


class Responder:
    """Collects the one response the engine gives a request."""

    def __init__(self) -> None:
        self.future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()

    def __call__(self, response: Response) -> None:
        assert not self.future.done(), "respond called twice"
        self.future.set_result(response)

    async def get(self) -> Response:
        async with asyncio.timeout(2.0):
            return await self.future


class FakeWebSocket:
    """A host-side WebSocket connection recording what the engine does with it."""

    def __init__(self) -> None:
        self.handler: WebSocketHandler | None = None
        self.accept_headers: list[tuple[str, str]] = []
        self.rejected: Response | None = None
        self.sent: asyncio.Queue[str | bytes] = asyncio.Queue()
        self.closed_with: int | None = None
        #: Bytes the host pretends it could not write yet (a client that is behind).
        self.backlog = 0

    def accept(
        self, handler: WebSocketHandler, headers: list[tuple[str, str]] | None = None
    ) -> None:
        self.handler = handler
        self.accept_headers = headers or []

    def reject(self, response: Response) -> None:
        self.rejected = response

    def send(self, data: str | bytes, compress: bool = True) -> None:
        assert self.closed_with is None, "send after close"
        self.sent.put_nowait(data)

    def send_prepared(self, prepared: PreparedMessages, compress: bool = True) -> None:
        for message in prepared.messages:
            self.send(message)

    def close(self, code: int = 1000) -> None:
        self.closed_with = code

    @property
    def buffered_amount(self) -> int:
        return self.backlog

    async def recv(self) -> str | bytes:
        async with asyncio.timeout(2.0):
            return await self.sent.get()

    def client_send(self, data: str | bytes) -> None:
        assert self.handler is not None
        self.handler.on_message(data)


def request(
    method: str, query: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> Request:
    return Request(method, "/engine.io/", query, headers or {}, body, client=("127.0.0.1", 1))


async def call(eng: EngineServer, req: Request) -> Response:
    responder = Responder()
    eng.handle_request(req, responder)
    return await responder.get()
