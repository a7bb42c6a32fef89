"""The Engine.IO client's transports: HTTP long-polling and WebSocket, moving packets only (what
to send and when is the session's, :mod:`aiosio.client.engine`)."""

from __future__ import annotations

import asyncio
from typing import Any, Final, Protocol

import aiohttp

from .. import _json
from ..exceptions import ClientConnectionError, EngineProtocolError
from ..protocol.engineio import (
    Packet,
    PacketType,
    decode_packet,
    decode_payload,
    encode_packet,
    encode_payload,
)

__all__ = [
    "ERRORS",
    "Polling",
    "PollingEndpoint",
    "TransportError",
    "WebSocket",
    "as_transport_error",
    "http_error",
    "payload_size",
]


class PollingEndpoint(Protocol):
    """Where and how a polling transport makes its requests (the client session)."""

    http_url: str
    headers: dict[str, str]

    @property
    def session(self) -> aiohttp.ClientSession:
        """The HTTP session."""

    def params(self, transport: str, *, stamp: bool = False) -> dict[str, str]:
        """The query parameters of a request."""


class TransportError(ClientConnectionError):
    """A transport failed: an HTTP request was refused or broke, or a WebSocket failed.

    ``description`` holds the underlying cause (an HTTP status, an exception) when there is one.
    """

    def __init__(self, message: str, description: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.description = description


ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError, EngineProtocolError, TransportError)


def as_transport_error(exc: BaseException, message: str) -> TransportError:
    """``exc`` as a :class:`TransportError` (``message`` when it is not one already)."""
    return exc if isinstance(exc, TransportError) else TransportError(message, exc)


def payload_size(packet: Packet) -> int:
    """The bytes ``packet`` takes in a polling payload."""
    data = packet.data
    if data is None:
        return 0
    if isinstance(data, bytes):
        return (len(data) + 2) // 3 * 4 + 1
    return len(data.encode())


class Polling:
    """HTTP long-polling: GET receives payloads, POST sends them."""

    __slots__ = ("engine",)
    name: Final = "polling"

    def __init__(self, engine: PollingEndpoint) -> None:
        self.engine = engine

    async def poll(self) -> list[Packet]:
        engine = self.engine
        async with engine.session.get(
            engine.http_url, params=engine.params("polling", stamp=True), headers=engine.headers
        ) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise TransportError("xhr poll error", http_error(resp.status, body))
        return decode_payload(body)

    async def send(self, packets: list[Packet]) -> None:
        engine = self.engine
        headers = {**engine.headers, "Content-Type": "text/plain;charset=UTF-8"}
        async with engine.session.post(
            engine.http_url,
            params=engine.params("polling", stamp=True),
            headers=headers,
            data=encode_payload(packets).encode(),
        ) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise TransportError("xhr post error", http_error(resp.status, body))

    async def close(self) -> None:
        return None


class WebSocket:
    """One WebSocket: a frame per packet, binary messages as binary frames."""

    __slots__ = ("ws",)
    name: Final = "websocket"

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, packets: list[Packet]) -> None:
        ws = self.ws
        for packet in packets:
            frame = encode_packet(packet)
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame)

    async def receive(self) -> Packet | None:
        """The next packet, or ``None`` once the WebSocket is closed."""
        msg = await self.ws.receive()
        if msg.type is aiohttp.WSMsgType.TEXT:
            return decode_packet(msg.data)
        if msg.type is aiohttp.WSMsgType.BINARY:
            return Packet(PacketType.MESSAGE, msg.data)
        if msg.type is aiohttp.WSMsgType.ERROR:
            raise TransportError("websocket error", msg.data)
        return None

    async def close(self) -> None:
        await self.ws.close()


def http_error(status: int, body: bytes) -> dict[str, Any]:
    """The description of a refused request: its status and the JSON error body, if any."""
    info: dict[str, Any] = {"status": status}
    try:
        parsed = _json.loads(body)
    except ValueError:
        return info
    if isinstance(parsed, dict):
        info.update(parsed)
    return info
