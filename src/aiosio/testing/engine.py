"""An Engine.IO client session that reaches a server in the same process through the engine seam.

:class:`InProcessEngine` stands in for :class:`aiosio.client.EngineClient`: it opens a session with
``engine.handle_websocket(request, connection)`` and plays the host's part of the seam itself, so
the server sees an ordinary WebSocket session (handshake, heartbeat, close) and the client Manager
and Socket above it run unchanged. No socket, no port, no HTTP parsing. Messages in both directions
are delivered on the next loop iteration (``call_soon``), in order, as a network would, so a handler
never runs inside the call that emitted its event.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any
from urllib.parse import urlencode

from ..client.engine import PROTOCOL, EngineClient, TransportError
from ..engine.http import EngineApp, PreparedMessages, Request, Response, WebSocketHandler
from ..protocol.engineio import Packet, PacketType, decode_packet, encode_packet

__all__ = ["InProcessEngine"]

_ports = itertools.count(40000)


class _Connection:
    """The host side of the seam for one in-process WebSocket (what the engine writes to)."""

    __slots__ = ("_client", "_loop", "handler", "rejected")

    def __init__(self, client: InProcessEngine, loop: asyncio.AbstractEventLoop) -> None:
        self._client = client
        self._loop = loop
        self.handler: WebSocketHandler | None = None
        self.rejected: Response | None = None

    def accept(
        self, handler: WebSocketHandler, headers: list[tuple[str, str]] | None = None
    ) -> None:
        if self._client.state == "closed":  # the client gave up while the server decided
            self._loop.call_soon(handler.on_disconnect, None)
            return
        self.handler = handler

    def reject(self, response: Response) -> None:
        self.rejected = response
        self._loop.call_soon(self._client.server_rejected, response)

    def send(self, data: str | bytes, compress: bool = True) -> None:
        self._loop.call_soon(self._client.server_sent, data)

    def send_prepared(self, prepared: PreparedMessages, compress: bool = True) -> None:
        for message in prepared.messages:
            self._loop.call_soon(self._client.server_sent, message)

    def close(self, code: int = 1000) -> None:
        self._loop.call_soon(self._client.server_closed)

    @property
    def buffered_amount(self) -> int:
        return 0


class InProcessEngine(EngineClient):
    """One Engine.IO session with ``app`` (an engine, e.g. ``io.engine``) over the in-process seam.

    Made by the Manager through its ``engine_factory`` option:
    ``Manager("http://testserver", engine_factory=InProcessEngine.factory(io.engine))``. The
    transport is always ``"websocket"``; ``client_address`` is what the server sees as the peer.
    """

    __slots__ = ("_app", "_conn", "_opened", "_pending", "_started", "client_address")

    def __init__(
        self,
        app: EngineApp,
        url: str,
        *,
        client_address: tuple[str, int] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(url, **options)
        self._app = app
        self._conn: _Connection | None = None
        self._opened: asyncio.Future[None] | None = None
        self._pending: list[Packet] = []
        self._started = False
        self.client_address = client_address or ("127.0.0.1", next(_ports))

    @classmethod
    def factory(cls, app: EngineApp, **defaults: Any) -> Any:
        """A Manager ``engine_factory`` making sessions with ``app``."""

        def make(url: str, **options: Any) -> InProcessEngine:
            return cls(app, url, **defaults, **options)

        return make

    # -- the EngineClient surface --------------------------------------------------------------------

    @property
    def transport_name(self) -> str | None:
        """Always ``"websocket"`` once open."""
        return "websocket" if self.state in ("open", "closing") else None

    @property
    def writable(self) -> bool:
        """Whether a packet written now leaves at once (always, while open)."""
        return self.state == "open"

    async def open(self) -> None:
        """Hand the engine a WebSocket request and wait for its handshake."""
        if self.state != "new":
            raise RuntimeError("an EngineClient opens only once")
        self.state = "opening"
        loop = asyncio.get_running_loop()
        self._opened = loop.create_future()
        self._conn = _Connection(self, loop)
        query = {**self.query, "EIO": PROTOCOL, "transport": "websocket"}
        headers = {"host": "testserver", **{k.lower(): v for k, v in self.extra_headers.items()}}
        request = Request(
            "GET",
            self._app.path,
            urlencode(query),
            headers,
            client=self.client_address,
            scheme="ws",
        )
        self._app.handle_websocket(request, self._conn)
        try:
            await self._opened
        except BaseException:
            self.state = "closed"
            self._disconnect_handler()
            raise
        self.state = "open"

    def start(self) -> None:
        """Deliver the packets that arrived since the handshake, then every further one."""
        if self.state != "open":
            return
        self._started = True
        pending, self._pending = self._pending, []
        for packet in pending:
            self._dispatch(packet)

    def write(self, data: str | bytes, compress: bool = True) -> None:
        """Send one message to the server (on the next loop iteration); ``compress`` changes nothing
        in process."""
        del compress
        if self.state != "open":
            return
        self._to_server(encode_packet(Packet(PacketType.MESSAGE, data)))

    def ping_expired(self) -> bool:
        """Never: an in-process server cannot vanish without closing the connection."""
        return False

    def close(self) -> asyncio.Future[Any]:
        """Close the session, as a client closing its WebSocket does; no callback fires."""
        self.on_message = self.on_ping = self.on_upgrade = _noop
        self.on_error = self.on_close = _noop
        if self.state != "closed":
            self.state = "closed"
            self._disconnect_handler()
        return self.wait_closed_future()

    # -- from the server -----------------------------------------------------------------------------

    def server_sent(self, data: str | bytes) -> None:
        """A message the engine sent on the connection."""
        if self.state == "closed":
            return
        packet = (
            Packet(PacketType.MESSAGE, data) if isinstance(data, bytes) else decode_packet(data)
        )
        opened = self._opened
        if packet.type is PacketType.OPEN and opened is not None and not opened.done():
            try:
                self._handshake(packet)
            except TransportError as exc:
                opened.set_exception(exc)
                return
            opened.set_result(None)
            return
        if not self._started:
            self._pending.append(packet)
            return
        self._dispatch(packet)

    def server_rejected(self, response: Response) -> None:
        """The engine refused the WebSocket request."""
        opened = self._opened
        if opened is not None and not opened.done():
            detail = {"status": response.status, "body": response.body.decode(errors="replace")}
            opened.set_exception(TransportError("websocket error", detail))

    def server_closed(self) -> None:
        """The engine closed the connection."""
        opened = self._opened
        if opened is not None and not opened.done():
            opened.set_exception(TransportError("websocket error", "closed during the handshake"))
            return
        if self.state == "closed":
            return
        self.state = "closed"
        self._disconnect_handler()
        on_close = self.on_close
        self.on_message = self.on_ping = self.on_upgrade = _noop
        self.on_error = self.on_close = _noop
        on_close("transport close", "websocket connection closed")

    # -- internals ------------------------------------------------------------------------------------

    def _dispatch(self, packet: Packet) -> None:
        kind = packet.type
        if kind is PacketType.MESSAGE:
            data = packet.data
            self.on_message("" if data is None else data)
        elif kind is PacketType.PING:
            self._to_server(encode_packet(Packet(PacketType.PONG)))
            self.on_ping()
        elif kind is PacketType.CLOSE:
            self.server_closed()

    def _to_server(self, frame: str | bytes) -> None:
        conn = self._conn
        handler = None if conn is None else conn.handler
        if handler is not None:
            # A frame written just before the client closes still reaches the server first.
            asyncio.get_running_loop().call_soon(handler.on_message, frame)

    def _disconnect_handler(self) -> None:
        conn = self._conn
        if conn is not None and conn.handler is not None:
            handler, conn.handler = conn.handler, None
            asyncio.get_running_loop().call_soon(handler.on_disconnect, None)


def _noop(*_args: Any) -> None:
    return None
