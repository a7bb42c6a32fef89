"""The Connection: one Engine.IO session and the namespace sockets multiplexed over it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from aiosio._handlers import start
from aiosio._json import loads
from aiosio.engine.socket import prepare
from aiosio.exceptions import SocketProtocolError
from aiosio.protocol.socketio import MAX_ACK_ID, RESERVED_EVENTS, Decoder, Packet, PacketType

if TYPE_CHECKING:
    from aiosio.engine.socket import EngineSocket
    from aiosio.server.server import Server
    from aiosio.server.socket import Socket

__all__ = ["Connection", "split_namespace_query"]

logger = logging.getLogger("aiosio.server")

#: The last (encoded parts, prepared messages) pair: every recipient of a broadcast gets the very same
#: ``encoded`` object, so one identity check finds its prepared form (holding it keeps it alive).
_last_prepared: list[Any] = [None, None]

_CONNECT = PacketType.CONNECT
_CONNECT_ERROR = PacketType.CONNECT_ERROR


class Connection:
    """Decodes what one Engine.IO socket receives and routes it to that client's namespace sockets.

    It answers CONNECT packets (creating sockets through the namespaces' middlewares), closes the
    connection when no namespace is joined within ``connect_timeout``, and closes it with reason
    ``"parse error"`` when the client sends something that is not a Socket.IO packet.
    """

    __slots__ = (
        "_attachment_timer",
        "_closed",
        "_connect_timer",
        "_connecting",
        "_decoder",
        "_encoder",
        "_json",
        "conn",
        "id",
        "loop",
        "nsps",
        "protocol",
        "server",
        "sockets",
    )

    def __init__(self, server: Server, conn: EngineSocket) -> None:
        self.server = server
        self.conn = conn
        self.id: str = conn.id
        #: 3 for Engine.IO v3 clients (socket.io-client 2.x, Socket.IO protocol v4), else 4
        self.protocol = conn.protocol
        self._encoder = server.encoder
        self._decoder = server.parser.decoder()
        #: The stock JSON decoder: events on "/" may take the inline fast path in _on_message.
        self._json = type(self._decoder) is Decoder
        #: sockets by socket id
        self.sockets: dict[str, Socket] = {}
        #: sockets by namespace name
        self.nsps: dict[str, Socket] = {}
        #: namespaces with a CONNECT in progress (created on first use: most clients join one)
        self._connecting: set[str] | None = None
        self._closed = False
        self._attachment_timer: asyncio.TimerHandle | None = None
        #: the event loop this connection (and its sockets) lives on
        self.loop = loop = asyncio.get_running_loop()
        self._connect_timer: asyncio.TimerHandle | None = loop.call_later(
            server.connect_timeout, self._on_connect_timeout
        )
        conn.on("message", self._on_message)
        conn.on("close", self._on_close)
        if self.protocol == 3:
            # Old clients join "/" without asking (and name other namespaces with a query).
            self._connecting = {"/"}
            start(self._connect("/", {}), None, logger, "namespace connection")

    def __repr__(self) -> str:
        return f"<Connection {self.id} nsps={list(self.nsps)}>"

    @property
    def is_open(self) -> bool:
        """Whether the Engine.IO socket is open."""
        return not self._closed and self.conn.is_open

    # -- writing ----------------------------------------------------------------------------------

    def write_packet(self, packet: Packet, volatile: bool = False, compress: bool = True) -> None:
        """Encode and send one packet (``compress=False``: kept out of HTTP compression)."""
        conn = self.conn
        if not conn.is_open:
            logger.debug("%s: ignoring packet write, connection not open", self.id)
            return
        encoded = self._encoder.encode(packet)
        if volatile and not conn.writable:
            logger.debug("%s: volatile packet dropped", self.id)
            return
        send = conn.send
        for part in encoded:
            send(part, compress)

    def write_encoded(
        self, encoded: Sequence[str | bytes], volatile: bool = False, compress: bool = True
    ) -> None:
        """Send already-encoded parts (the same objects may go to many connections).

        A broadcast hands the same ``encoded`` object to every recipient: it is prepared for the
        engine (and framed by the host) once, and the same bytes are written to every socket.
        """
        conn = self.conn
        if not conn.is_open:
            return
        if volatile and not conn.writable:
            logger.debug("%s: volatile packet dropped", self.id)
            return
        last = _last_prepared
        if last[0] is encoded:
            prepared = last[1]
        else:
            prepared = prepare(encoded)
            last[0] = encoded
            last[1] = prepared
        conn.send_prepared(prepared, compress)

    # -- reading ----------------------------------------------------------------------------------

    def _on_message(self, data: str | bytes) -> None:
        if type(data) is str and data[:1] == "2" and self._json and self._attachment_timer is None:
            # The hot path: an EVENT on "/" (with or without an ack id), decoded inline, with no
            # Packet object. Anything unusual falls through to the decoder, which says what is wrong.
            start = data.find("[", 1, 18)
            if start == 1:
                ack_id = None
            elif start > 1 and (digits := data[1:start]).isdigit() and digits.isascii():
                ack_id = int(digits)
                if ack_id > MAX_ACK_ID:
                    start = -1
            else:
                start = -1
            if start > 0:
                socket = self.nsps.get("/")
                if socket is not None:
                    try:
                        payload = loads(data[start:])
                    except ValueError:
                        payload = None
                    if (
                        type(payload) is list
                        and payload
                        and type(payload[0]) is str
                        and payload[0] not in RESERVED_EVENTS
                    ):
                        socket.handle_event(payload, ack_id)
                        return
        try:
            packet = self._decoder.add(data)
        except SocketProtocolError as exc:
            self._on_parse_error(exc)
            return
        except Exception as exc:  # a decoder bug must not reach the engine
            logger.exception("decoder failed")
            self._on_parse_error(exc)
            return
        if packet is None:
            if self._attachment_timer is None and self._decoder.awaiting_attachments:
                self._attachment_timer = asyncio.get_running_loop().call_later(
                    self.server.attachment_timeout, self._on_attachment_timeout
                )
            return
        if self._attachment_timer is not None:
            self._attachment_timer.cancel()
            self._attachment_timer = None
        self._route(packet)

    def _route(self, packet: Packet) -> None:
        name = packet.nsp
        kind = packet.type
        auth: dict[str, Any] | None = None
        if kind == _CONNECT and self.protocol == 3:
            name, auth = split_namespace_query(name)
        socket = self.nsps.get(name)
        if socket is not None:
            if kind != _CONNECT and kind != _CONNECT_ERROR:
                socket.handle_packet(packet)
                return
        elif kind == _CONNECT:
            if self._connecting is None:
                self._connecting = set()
            elif name in self._connecting:
                logger.debug("%s: already connecting to %s", self.id, name)
                return
            if auth is None:
                auth = packet.data if isinstance(packet.data, dict) else {}
            self._connecting.add(name)
            start(self._connect(name, auth), None, logger, "namespace connection")
            return
        logger.debug("%s: invalid state (packet type %s for %s), closing", self.id, kind, name)
        self.close()

    def _on_parse_error(self, exc: BaseException) -> None:
        logger.info("invalid packet from %s, closing: %s", self._peer(), exc)
        self._decoder.reset()
        self._teardown("parse error", None)
        if self.conn.is_open:
            self.conn.close()

    def _on_attachment_timeout(self) -> None:
        self._attachment_timer = None
        if self._decoder.awaiting_attachments:
            self._on_parse_error(SocketProtocolError("binary attachments did not arrive in time"))

    def _peer(self) -> str:
        client = getattr(self.conn.request, "client", None)
        return f"{client[0]}:{client[1]}" if client else "unknown peer"

    # -- namespaces -------------------------------------------------------------------------------

    async def _connect(self, name: str, auth: dict[str, Any]) -> None:
        logger.debug("%s: connecting to namespace %s", self.id, name)
        try:
            nsp = await self.server.resolve_namespace(name, auth)
            if nsp is None:
                logger.debug("%s: namespace %s refused", self.id, name)
                self.write_packet(Packet(_CONNECT_ERROR, name, {"message": "Invalid namespace"}))
                return
            if not self.is_open:
                return
            await nsp.handle_connect(self, auth)
        finally:
            if self._connecting is not None:
                self._connecting.discard(name)
                if not self._connecting:
                    self._connecting = None

    def attach(self, socket: Socket) -> None:
        """Route this client's packets for ``socket``'s namespace to it (called by the socket once
        its namespace accepted it)."""
        self.sockets[socket.id] = socket
        self.nsps[socket.nsp.name] = socket
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None

    def detach(self, socket: Socket) -> None:
        """Stop routing to ``socket`` (called by a socket that disconnects)."""
        if self.sockets.pop(socket.id, None) is not None:
            name = socket.nsp.name
            if self.nsps.get(name) is socket:
                del self.nsps[name]

    def _on_connect_timeout(self) -> None:
        self._connect_timer = None
        if not self.nsps:
            logger.debug("%s: no namespace joined in time, closing", self.id)
            self.close()

    # -- closing ----------------------------------------------------------------------------------

    def disconnect_all(self) -> None:
        """Disconnect every socket of this client, then close the connection."""
        for socket in list(self.sockets.values()):
            socket.disconnect()
        self.sockets.clear()
        self.close()

    def close(self) -> None:
        """Close the Engine.IO connection (reason ``"forced server close"`` for the sockets)."""
        if self.conn.is_open:
            self._teardown("forced server close", None)
            self.conn.close()

    def _on_close(self, reason: str, description: Any = None) -> None:
        self._teardown(reason, description)

    def _teardown(self, reason: str, description: Any) -> None:
        if self._closed:
            return
        self._closed = True
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None
        if self._attachment_timer is not None:
            self._attachment_timer.cancel()
            self._attachment_timer = None
        for socket in list(self.sockets.values()):
            socket.handle_close(reason, description)
        self.sockets.clear()
        self.nsps.clear()
        self._decoder.reset()


def split_namespace_query(nsp: str) -> tuple[str, dict[str, Any]]:
    """``/admin?token=x`` -> (``/admin``, ``{"token": "x"}``): how Socket.IO v4 clients pass a
    namespace's query, which the reference hands to the middlewares as ``auth``."""
    name, _, query = nsp.partition("?")
    auth: dict[str, Any] = {}
    for key, values in parse_qs(query, keep_blank_values=True).items():
        auth[key] = values[0] if len(values) == 1 else values
    return name, auth
