"""The WebSocket transport: one Engine.IO packet per WebSocket message."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

from ..exceptions import EngineProtocolError
from ..protocol.engineio import Packet, decode_packet, encode_packet

if TYPE_CHECKING:
    from .http import PreparedMessages, WebSocketConnection
    from .socket import EngineSocket

__all__ = ["WebSocketTransport"]

logger = logging.getLogger("aiosio.engine")


class WebSocketTransport:
    """Carries a session over one host WebSocket; it is also the host's message handler.

    While ``probing`` is true the transport is a candidate for an upgrade and its packets go to the
    session's upgrade logic instead of the application.
    """

    __slots__ = ("_closed", "connection", "probing", "socket")

    name: ClassVar[str] = "websocket"

    def __init__(
        self, socket: EngineSocket, connection: WebSocketConnection, probing: bool
    ) -> None:
        self.socket = socket
        self.connection = connection
        self.probing = probing
        self._closed = False

    # -- host -> engine -------------------------------------------------------------------------
    def on_message(self, data: str | bytes) -> None:
        """Handle one WebSocket message from the client."""
        if self._closed:
            return
        socket = self.socket
        if not self.probing and type(data) is str and data[:1] == "4":
            # The hot path: a text message, no packet object, straight to the one listener.
            fn = socket._on_message_fn
            if fn is None:
                socket._on_message(data[1:])
                return
            try:
                fn(data[1:])
            except Exception:
                logger.exception("session of %s: error in message listener", socket.peer)
            return
        try:
            packet = decode_packet(data)
        except EngineProtocolError as exc:
            logger.info("session of %s: bad websocket packet: %s", socket.peer, exc)
            if self.probing:
                socket._on_probe_failed(self)
            else:
                socket._on_parse_error(str(exc))
            return
        if self.probing:
            socket._on_probe_packet(self, packet)
        else:
            socket._on_packet(packet)

    def on_disconnect(self, error: str | None = None) -> None:
        """The host lost or closed the connection (``error`` when a protocol violation ended it)."""
        if self._closed:
            return
        self._closed = True
        if self.probing:
            self.socket._on_probe_failed(self)
        else:
            self.socket._on_transport_closed(self, error)

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
