"""The WebSocket transport: one Engine.IO packet per WebSocket message."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

from ..exceptions import EngineProtocolError
from ..protocol.engineio import Packet, decode_packet, encode_packet
from .transport import Transport, TransportEvents

if TYPE_CHECKING:
    from .http import PreparedMessages, WebSocketConnection

__all__ = ["WebSocketTransport", "WebTransportTransport"]

logger = logging.getLogger("aiosio.engine")


class WebSocketTransport(Transport):
    """Carries a session over one host WebSocket; it is also the host's message handler."""

    __slots__ = ("_closed", "connection")

    name: ClassVar[str] = "websocket"

    def __init__(self, events: TransportEvents, connection: WebSocketConnection) -> None:
        self.events = events
        self.connection = connection
        self._closed = False

    # -- host -> engine -------------------------------------------------------------------------
    def on_message(self, data: str | bytes) -> None:
        """Handle one WebSocket message from the client."""
        if self._closed:
            return
        events = self.events
        if type(data) is str and data[:1] == "4":
            # The hot path: a text message, no packet object, straight to the one listener (a
            # documented bypass of the session machine: a message changes no state).
            fn = events.fast_message
            if fn is None:
                events.transport_message(self, data[1:])
                return
            try:
                fn(data[1:])
            except Exception:
                logger.exception("session of %s: error in message listener", events.peer)
            return
        self.on_frame(data)

    def on_frame(self, data: str | bytes) -> None:
        """Decode one frame that is not a text message and report it."""
        try:
            packet = decode_packet(data)
        except EngineProtocolError as exc:
            logger.info("session of %s: bad websocket packet: %s", self.events.peer, exc)
            self.events.transport_parse_error(self, str(exc))
            return
        self.events.transport_packet(self, packet)

    def on_disconnect(self, error: str | None = None) -> None:
        """The host lost or closed the connection (``error`` when a protocol violation ended it)."""
        if self._closed:
            return
        self._closed = True
        self.events.transport_closed(self, error)

    # -- engine -> host -------------------------------------------------------------------------
    def send_packet(self, packet: Packet) -> None:
        """Write one packet as one WebSocket message."""
        if not self._closed:
            self.connection.send(encode_packet(packet))

    def send_message(self, data: str | bytes, compress: bool = True) -> int:
        """Write one message packet; return the bytes the host still holds."""
        connection = self.connection
        if not self._closed:
            connection.send("4" + data if type(data) is str else data, compress)
        return connection.buffered_amount

    def send_prepared(self, prepared: PreparedMessages, compress: bool = True) -> int:
        """Write messages prepared for many sessions; return the bytes the host still holds."""
        connection = self.connection
        if not self._closed:
            connection.send_prepared(prepared, compress)
        return connection.buffered_amount

    @property
    def buffered_amount(self) -> int:
        """Bytes the host still holds for this connection."""
        return self.connection.buffered_amount

    def close(self) -> None:
        """Close the WebSocket (a normal closure)."""
        if not self._closed:
            self._closed = True
            self.connection.close(1000)


class WebTransportTransport(WebSocketTransport):
    """The WebTransport transport: a host's WebTransport stream behaves as a WebSocket does (one
    message per packet), so only the name differs."""

    __slots__ = ()

    name: ClassVar[str] = "webtransport"
