"""The transports of Engine.IO v3 sessions (``allow_eio3``): v4's, with v3's framing; and JSONP
polling (for both protocols), which old clients use where XHR is missing.

Only the framing differs (see :mod:`aiosio.protocol.engineio3`); the session, its upgrade and its
close are v4's. A client that sends ``b64=1`` gets binary messages as base64 text on both transports.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import parse_qs

from ..exceptions import EngineProtocolError
from ..protocol import engineio3
from ..protocol.engineio import Packet, PacketType
from .http import PreparedMessages, Request
from .polling import HttpAnswers, PollingTransport, as_packets
from .transport import TransportEvents
from .websocket import WebSocketTransport

if TYPE_CHECKING:
    from .http import WebSocketConnection

__all__ = [
    "JsonpPolling",
    "JsonpPollingV3",
    "PollingTransportV3",
    "WebSocketTransportV3",
    "jsonp_index",
    "protocol_of",
    "supports_binary",
]

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

    def __init__(self, events: TransportEvents, http: HttpAnswers, binary: bool) -> None:
        super().__init__(events, http)
        self.supports_binary = binary

    def encode(self, packets: Sequence[Packet | str]) -> tuple[bytes, str]:
        """A length-prefixed payload: binary when a packet is binary and the client takes it."""
        payload = engineio3.encode_payload(as_packets(packets), self.supports_binary)
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
        self, events: TransportEvents, connection: WebSocketConnection, binary: bool
    ) -> None:
        super().__init__(events, connection)
        self.supports_binary = binary

    def on_frame(self, data: str | bytes) -> None:
        """Decode one frame: text frames but ``b`` ones read as in v4; the rest with v3's framing."""
        if type(data) is str and data[:1] != "b":
            super().on_frame(data)
            return
        try:
            packet = engineio3.decode_packet(data)
        except EngineProtocolError as exc:
            logger.info("session of %s: bad websocket packet: %s", self.events.peer, exc)
            self.events.transport_parse_error(self, str(exc))
            return
        self.events.transport_packet(self, packet)

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


_JSONP_SLASHES = re.compile(r"(\\)?\\n")
_JSONP_DOUBLE_SLASHES = re.compile(r"\\\\n")


def jsonp_index(request: Request) -> str | None:
    """The digits of the ``j`` query parameter when the request asks for JSONP polling, else None."""
    j = request.query.get("j")
    if j is None:
        return None
    return "".join(c for c in j if c in "0123456789")


class _JsonpMixin:
    """JSONP polling (``j`` in the query): payloads wrapped in ``___eio[j]("...");``, and POSTs as
    forms whose ``d`` field holds the payload with its newlines escaped."""

    __slots__ = ()

    head: str

    def wrap(self, body: bytes) -> bytes:
        """The payload as a JavaScript call: a JSON string literal that is also valid JavaScript."""
        literal = json.dumps(body.decode("utf-8", "surrogatepass"), ensure_ascii=False)
        literal = literal.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        return f"{self.head}{literal});".encode("utf-8", "surrogatepass")

    @staticmethod
    def unwrap(body: bytes) -> bytes:
        """The payload a JSONP form POST carries (empty when there is no ``d`` field)."""
        fields = parse_qs(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8")
        values = fields.get("d")
        if not values:
            return b""
        data = _JSONP_SLASHES.sub(lambda m: m.group(0) if m.group(1) else "\n", values[0])
        return _JSONP_DOUBLE_SLASHES.sub(lambda m: "\\n", data).encode("utf-8", "surrogatepass")


class JsonpPolling(_JsonpMixin, PollingTransport):
    """v4 polling over JSONP."""

    __slots__ = ("head",)

    def __init__(self, events: TransportEvents, http: HttpAnswers, index: str) -> None:
        super().__init__(events, http)
        self.head = f"___eio[{index}]("

    def encode(self, packets: Sequence[Packet | str]) -> tuple[bytes, str]:
        """The v4 payload wrapped in the JSONP call."""
        body, content_type = super().encode(packets)
        return self.wrap(body), content_type

    def decode(self, body: bytes, binary: bool) -> Iterator[Packet]:
        """The v4 payload of the form POST."""
        return super().decode(self.unwrap(body), False)


class JsonpPollingV3(_JsonpMixin, PollingTransportV3):
    """v3 polling over JSONP (always text: binary messages as base64)."""

    __slots__ = ("head",)

    def __init__(self, events: TransportEvents, http: HttpAnswers, index: str) -> None:
        super().__init__(events, http, False)
        self.head = f"___eio[{index}]("

    def encode(self, packets: Sequence[Packet | str]) -> tuple[bytes, str]:
        """The v3 text payload wrapped in the JSONP call."""
        body, content_type = super().encode(packets)
        return self.wrap(body), content_type

    def decode(self, body: bytes, binary: bool) -> Iterator[Packet]:
        """The v3 text payload of the form POST."""
        return super().decode(self.unwrap(body), False)
