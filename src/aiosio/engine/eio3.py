"""The transports of Engine.IO v3 sessions (``allow_eio3``): v4's, with v3's framing.

Only the framing differs (see :mod:`aiosio.protocol.engineio3`); the session, its upgrade and its
close are v4's. A client that sends ``b64=1`` gets binary messages as base64 text on both transports.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

from ..exceptions import EngineProtocolError
from ..protocol import engineio3
from ..protocol.engineio import Packet, PacketType
from .http import PreparedMessages, Request
from .polling import PollingTransport
from .websocket import WebSocketTransport

if TYPE_CHECKING:
    from .http import WebSocketConnection
    from .socket import EngineSocket

__all__ = ["PollingTransportV3", "WebSocketTransportV3", "protocol_of", "supports_binary"]

logger = logging.getLogger("aiosio.engine")

_TEXT_PLAIN = "text/plain; charset=UTF-8"
_OCTET_STREAM = "application/octet-stream"


def protocol_of(request: Request) -> int:
    """The protocol revision a request asks for: 4 for ``EIO=4``, 3 otherwise (as the reference)."""
    return 4 if request.query.get("EIO") == "4" else 3


def supports_binary(request: Request) -> bool:
    """False when the client asked for base64 (``b64`` in the query)."""
    return not request.query.get("b64")


class PollingTransportV3(PollingTransport):
    """Long-polling with length-prefixed payloads, binary ones for clients that take binary."""

    __slots__ = ("supports_binary",)

    binary_posts: ClassVar[bool] = True

    def __init__(self, socket: EngineSocket, binary: bool) -> None:
        super().__init__(socket)
        self.supports_binary = binary

    def encode(self, packets: list[Packet]) -> tuple[bytes, str]:
        """A length-prefixed payload: binary when a packet is binary and the client takes it."""
        payload = engineio3.encode_payload(packets, self.supports_binary)
        if isinstance(payload, bytes):
            return payload, _OCTET_STREAM
        return payload.encode("utf-8", "surrogatepass"), _TEXT_PLAIN

    def decode(self, body: bytes, binary: bool) -> Iterator[Packet]:
        """The packets of a v3 payload, text or binary."""
        return engineio3.decode_payload(body, binary)


class WebSocketTransportV3(WebSocketTransport):
    """WebSocket frames where a binary message starts with its type byte."""

    __slots__ = ("supports_binary",)

    def __init__(
        self,
        socket: EngineSocket,
        connection: WebSocketConnection,
        probing: bool,
        binary: bool,
    ) -> None:
        super().__init__(socket, connection, probing)
        self.supports_binary = binary

    def on_message(self, data: str | bytes) -> None:
        """Handle one frame: text frames but ``b`` ones read as in v4; the rest with v3's framing."""
        if type(data) is str and data[:1] != "b":
            super().on_message(data)
            return
        try:
            packet = engineio3.decode_packet(data)
        except EngineProtocolError as exc:
            logger.info("session %s: bad websocket packet: %s", self.socket.id, exc)
            if self.probing:
                self.socket._on_probe_failed(self)
            else:
                self.socket._on_parse_error(str(exc))
            return
        if self.probing:
            self.socket._on_probe_packet(self, packet)
        else:
            self.socket._on_packet(packet)

    def send_packet(self, packet: Packet) -> None:
        """Write one packet with v3's framing."""
        if isinstance(packet.data, bytes):
            self._send(engineio3.encode_packet(packet, self.supports_binary))
        else:
            super().send_packet(packet)

    def send_message(self, data: str | bytes, compress: bool = True) -> int:
        """Write one message; binary gets its type byte (or becomes base64 text)."""
        if type(data) is str:
            return super().send_message(data, compress)
        self._send(engineio3.encode_packet(Packet(PacketType.MESSAGE, data), self.supports_binary))
        return self.buffered_amount

    def send_prepared(self, prepared: PreparedMessages, compress: bool = True) -> int:
        """Write messages prepared for v4 sessions, binary ones reframed for v3."""
        for message in prepared.messages:
            if type(message) is str:
                self._send(message)
            else:
                self.send_message(message, compress)
        return self.buffered_amount

    def _send(self, frame: str | bytes) -> None:
        if not self._closed:
            self.connection.send(frame)
