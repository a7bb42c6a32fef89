"""A raw Socket.IO client over the engine's host seam (no sockets): exact frames in and out."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiosio.engine.http import Request
from aiosio.server import Server
from tests.engine.seam import FakeWebSocket


class WireClient:
    """One Engine.IO WebSocket session; sends and receives Socket.IO frames verbatim."""

    def __init__(self, io: Server, query: str = "") -> None:
        self.ws = FakeWebSocket()
        qs = "EIO=4&transport=websocket" + (f"&{query}" if query else "")
        request = Request(
            "GET",
            io.path,
            qs,
            # A page served by this server (same origin), as a browser would send it.
            {"origin": "http://example.test", "host": "example.test", "x-test": "1"},
            client=("127.0.0.1", 4242),
        )
        io.engine.handle_websocket(request, self.ws)
        self.sid = ""

    async def open(self) -> WireClient:
        opened = await self.ws.recv()
        assert isinstance(opened, str)
        assert opened[0] == "0"
        self.sid = json.loads(opened[1:])["sid"]
        return self

    def send(self, frame: str | bytes) -> None:
        """Send one Socket.IO frame (text gets the Engine.IO message prefix)."""
        self.ws.client_send("4" + frame if isinstance(frame, str) else frame)

    async def recv(self) -> str | bytes:
        """The next Socket.IO frame (answering pings on the way)."""
        while True:
            frame = await self.ws.recv()
            if isinstance(frame, bytes):
                return frame
            if frame == "2":
                self.ws.client_send("3")
                continue
            assert frame[0] == "4", frame
            return frame[1:]

    async def connect(self, nsp: str = "/", auth: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send CONNECT and return the reply payload (``{"sid": ...}``) or raise on CONNECT_ERROR."""
        prefix = "" if nsp == "/" else f"{nsp},"
        self.send("0" + prefix + (json.dumps(auth) if auth is not None else ""))
        reply = await self.recv()
        assert isinstance(reply, str)
        assert reply.startswith("0" + prefix), reply
        payload: dict[str, Any] = json.loads(reply[1 + len(prefix) :])
        return payload

    async def closed(self) -> int | None:
        """Wait (up to 2 s) until the server closes the WebSocket; return the close code."""
        async with asyncio.timeout(2.0):
            while self.ws.closed_with is None:  # noqa: ASYNC110 - the fake host has no event for it
                await asyncio.sleep(0.005)
        return self.ws.closed_with

    def drop(self) -> None:
        """The client goes away (the host reports the WebSocket closed)."""
        assert self.ws.handler is not None
        self.ws.handler.on_disconnect()


def packet(text: str) -> tuple[str, Any]:
    """Split a text frame into its head and JSON payload (``'2["a"]'`` -> ``("2", ["a"])``)."""
    for i, ch in enumerate(text):
        if ch in "[{":
            return text[:i], json.loads(text[i:])
    return text, None
