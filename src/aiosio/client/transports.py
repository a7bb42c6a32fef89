"""The Engine.IO client's transports behind one :class:`Transport`: HTTP long-polling and
WebSocket, moving packets only (what to send and when is the session's,
:mod:`aiosio.client.engine`)."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Protocol

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
    "Transport",
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


class Transport(ABC):
    """What the client session asks of a transport; the transports differ only here.

    The session reads with :meth:`receive` until it returns ``None`` or :attr:`receiving` turns
    false, then calls :meth:`reader_stopped`; it writes what :meth:`batch` lets leave at once with
    :meth:`send`. A message transport (WebSocket) sends every packet in one go, has nothing to pause
    and closes by closing itself; long-polling batches under ``maxPayload``, pauses for an upgrade
    and says goodbye with a close packet.
    """

    __slots__ = ()
    #: ``"polling"`` or ``"websocket"``
    name: str = ""
    #: the error a failed read reports (the reference's wording)
    read_error: str = "transport error"
    #: whether a session may upgrade from this transport (the session machine's ``polling``)
    upgradable: bool = False
    #: whether the read loop goes on (false once :meth:`pause` asked it to stop)
    receiving: bool = True

    @abstractmethod
    async def receive(self) -> Sequence[Packet] | None:
        """The next packets, or ``None`` once the transport is closed."""

    @abstractmethod
    async def send(self, packets: list[Packet]) -> None:
        """Send ``packets``."""

    def batch(self, buffer: list[Packet], max_payload: int) -> int:
        """How many packets at the head of ``buffer`` leave together in the next :meth:`send`
        (``max_payload`` is the server's limit in bytes, 0 for none)."""
        del max_payload
        return len(buffer)

    def farewell(self) -> list[Packet]:
        """The packets a graceful close sends before :meth:`close`."""
        return []

    async def pause(self) -> None:
        """Stop reading for an upgrade; returns once the read in flight is over."""
        return None

    def reader_stopped(self) -> None:
        """The read loop ended (what :meth:`pause` waits for)."""
        return None

    def resume(self) -> bool:
        """Undo :meth:`pause`; whether reading must start again."""
        return False

    async def close(self) -> None:
        """Release the transport."""
        return None


class Polling(Transport):
    """HTTP long-polling: GET receives payloads, POST sends them."""

    __slots__ = ("_paused", "engine", "receiving")
    name = "polling"
    read_error = "xhr poll error"
    upgradable = True

    def __init__(self, engine: PollingEndpoint) -> None:
        self.engine = engine
        self.receiving = True
        self._paused = asyncio.Event()

    async def receive(self) -> list[Packet]:
        return await self.poll()

    async def poll(self) -> list[Packet]:
        """One GET: the packets of its payload."""
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

    def batch(self, buffer: list[Packet], max_payload: int) -> int:
        """As many packets as fit in ``max_payload`` (at least one), as the reference splits."""
        if max_payload and len(buffer) > 1:
            size = 1
            for i, packet in enumerate(buffer):
                size += payload_size(packet)
                if i > 0 and size > max_payload:
                    return i
                size += 2
        return len(buffer)

    def farewell(self) -> list[Packet]:
        return [Packet(PacketType.CLOSE)]

    async def pause(self) -> None:
        """No new GET; returns once the GET in flight is answered."""
        self.receiving = False
        await self._paused.wait()

    def reader_stopped(self) -> None:
        if not self.receiving:
            self._paused.set()

    def resume(self) -> bool:
        self.receiving = True
        self._paused.clear()
        return True


class WebSocket(Transport):
    """One WebSocket: a frame per packet, binary messages as binary frames."""

    __slots__ = ("ws",)
    name = "websocket"
    read_error = "websocket error"

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

    async def receive(self) -> tuple[Packet] | None:
        """The next packet, or ``None`` once the WebSocket is closed."""
        msg = await self.ws.receive()
        if msg.type is aiohttp.WSMsgType.TEXT:
            return (decode_packet(msg.data),)
        if msg.type is aiohttp.WSMsgType.BINARY:
            return (Packet(PacketType.MESSAGE, msg.data),)
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
