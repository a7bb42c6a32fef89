"""One WebTransport session, seen by the engine as a WebSocket connection.

The client opens a bidirectional stream and writes length-prefixed Engine.IO packets on it
(:mod:`aiosio.protocol.webtransport`). The session waits for that stream and its first packet, hands
the packet to ``app.handle_webtransport(request, session, first)``, and from then on behaves as the
engine's :class:`~aiosio.engine.http.WebSocketConnection`: ``accept`` binds the handler that gets
every further message, ``send`` frames a message onto the stream, ``close`` ends the session,
``reject`` closes it with the refusal's status and text as close code and reason.
"""

from __future__ import annotations

import asyncio
import logging
from enum import Enum
from typing import Protocol

from ..engine.http import (
    PreparedMessages,
    Request,
    Response,
    WebSocketConnection,
    WebSocketHandler,
)
from ..exceptions import EngineProtocolError
from ..protocol.webtransport import FrameDecoder, encode_frame

__all__ = ["SessionHost", "WebTransportApp", "WebTransportSession"]

logger = logging.getLogger("aiosio.webtransport")

#: The longest close reason WebTransport allows, in bytes.
_MAX_REASON = 1024


class WebTransportApp(Protocol):
    """What the HTTP/3 host needs of an Engine.IO server (:class:`~aiosio.EngineServer` is one)."""

    #: The URL path prefix the engine answers, with a trailing slash (``/engine.io/``).
    path: str
    #: The largest message accepted, in bytes.
    max_http_buffer_size: int

    def handle_webtransport(
        self, request: Request, connection: WebSocketConnection, first: str | bytes
    ) -> None:
        """Handle a session whose stream delivered its first message."""


class SessionHost(Protocol):
    """The QUIC connection a session lives on."""

    def write_stream(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        """Queue bytes on a stream (sent on the next flush)."""

    def stream_sent(self, stream_id: int) -> int:
        """How many bytes of the stream have gone on the wire."""

    def close_session(self, session: WebTransportSession, code: int, reason: str) -> None:
        """End the session: a close capsule and the end of its CONNECT stream."""


class _State(Enum):
    OPENING = "opening"  # waiting for the stream and its first packet
    HANDED = "handed"  # the engine has the first packet, ``accept`` not called yet
    OPEN = "open"
    CLOSED = "closed"


class WebTransportSession:
    """A WebTransport session carrying one Engine.IO session (see the module docstring)."""

    __slots__ = (
        "_app",
        "_decoder",
        "_handler",
        "_host",
        "_pending",
        "_pending_bytes",
        "_state",
        "_timer",
        "_written",
        "request",
        "session_id",
        "stream_id",
    )

    def __init__(
        self,
        host: SessionHost,
        app: WebTransportApp,
        session_id: int,
        request: Request,
        open_timeout: float,
    ) -> None:
        self._host = host
        self._app = app
        #: The id of the CONNECT stream that opened the session.
        self.session_id = session_id
        self.request = request
        #: The bidirectional stream carrying the packets, once the client opened it.
        self.stream_id: int | None = None
        self._decoder = FrameDecoder(app.max_http_buffer_size)
        self._handler: WebSocketHandler | None = None
        self._state = _State.OPENING
        # Messages that came after the first and before ``accept``: at most a buffer's worth.
        self._pending: list[str | bytes] = []
        self._pending_bytes = 0
        self._written = 0
        self._timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            open_timeout, self._on_open_timeout
        )

    @property
    def peer(self) -> str:
        """The client's address, ``"host:port"``."""
        client = self.request.client
        return f"{client[0]}:{client[1]}" if client is not None else "unknown peer"

    @property
    def closed(self) -> bool:
        """True once the session has ended."""
        return self._state is _State.CLOSED

    # -- WebSocketConnection (engine -> host) ---------------------------------------------------
    def accept(
        self, handler: WebSocketHandler, headers: list[tuple[str, str]] | None = None
    ) -> None:
        """Deliver the stream's messages to ``handler`` (``headers``: the session is already open)."""
        if self._state is _State.CLOSED:
            # The session ended while the engine decided (an async allow_request): tell the
            # handler once the engine has finished opening.
            asyncio.get_running_loop().call_soon(handler.on_disconnect, None)
            return
        if self._state is not _State.HANDED:
            return
        self._state = _State.OPEN
        self._handler = handler
        if self._pending:
            # As a WebSocket host would: messages reach the handler after ``accept`` returns.
            asyncio.get_running_loop().call_soon(self._drain)

    def reject(self, response: Response) -> None:
        """Close the session; the response's status and text become its close code and reason."""
        reason = response.body.decode(errors="replace")
        self._end(response.status, reason)

    def send(self, data: str | bytes, compress: bool = True) -> None:
        """Frame one message onto the stream. Never blocks (WebTransport has no per-message
        compression: ``compress`` is ignored)."""
        if self._state is not _State.OPEN or self.stream_id is None:
            return
        frame = encode_frame(data)
        self._written += len(frame)
        self._host.write_stream(self.stream_id, frame)

    def send_prepared(self, prepared: PreparedMessages, compress: bool = True) -> None:
        """Frame messages prepared for many connections onto the stream (``compress`` is ignored)."""
        if self._state is not _State.OPEN or self.stream_id is None:
            return
        frames = b"".join(encode_frame(message) for message in prepared.messages)
        self._written += len(frames)
        self._host.write_stream(self.stream_id, frames)

    def close(self, code: int = 1000) -> None:
        """End the stream after what is queued, then the session (close code 0: a normal end)."""
        if self._state is _State.CLOSED:
            return
        handler = self._handler
        self._end(0, "")
        if handler is not None:
            handler.on_disconnect(None)

    @property
    def buffered_amount(self) -> int:
        """Bytes written to the stream that have not gone on the wire yet."""
        if self.stream_id is None or self._state is _State.CLOSED:
            return 0
        return max(0, self._written - self._host.stream_sent(self.stream_id))

    # -- QUIC connection -> session -------------------------------------------------------------
    def on_stream_data(self, stream_id: int, data: bytes, ended: bool) -> None:
        """Bytes arrived on one of the session's streams."""
        if self._state is _State.CLOSED:
            return
        if self.stream_id is None:
            if stream_id & 0x3 != 0:
                # Only a client-initiated bidirectional stream can carry the session.
                return
            self.stream_id = stream_id
        elif stream_id != self.stream_id:
            return
        if data:
            try:
                messages = self._decoder.feed(data)
            except EngineProtocolError as exc:
                self._fail(str(exc))
                return
            if messages:
                self._on_messages(messages)
        if ended and not self.closed:
            # The client ended its side of the stream: nothing more can come, the session is over.
            self.close()

    def on_closed(self) -> None:
        """The session ended from the client's side (or its QUIC connection went away)."""
        if self._state is _State.CLOSED:
            return
        handler = self._handler
        self._end(None, "")
        if handler is not None:
            handler.on_disconnect(None)

    # -- internals ------------------------------------------------------------------------------
    def _on_messages(self, messages: list[str | bytes]) -> None:
        if self._state is _State.OPENING:
            self._state = _State.HANDED
            self._cancel_timer()
            first, messages = messages[0], messages[1:]
            self._pending.extend(messages)
            self._pending_bytes += sum(len(m) for m in messages)
            self._app.handle_webtransport(self.request, self, first)
            return
        if self._state is _State.HANDED:
            self._pending.extend(messages)
            self._pending_bytes += sum(len(m) for m in messages)
            if self._pending_bytes > self._app.max_http_buffer_size:
                self._fail("too much data before the session was accepted")
            return
        if self._pending:  # earlier messages wait for _drain: keep the order
            self._pending.extend(messages)
            return
        self._deliver(messages)

    def _drain(self) -> None:
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        self._deliver(pending)

    def _deliver(self, messages: list[str | bytes]) -> None:
        for message in messages:
            handler = self._handler
            if self._state is not _State.OPEN or handler is None:
                return
            handler.on_message(message)

    def _fail(self, error: str) -> None:
        logger.info("webtransport session of %s: %s", self.peer, error)
        handler = self._handler
        self._end(400, error)
        if handler is not None:
            handler.on_disconnect(error)

    def _on_open_timeout(self) -> None:
        self._timer = None
        if self._state is _State.OPENING:
            logger.info(
                "webtransport session of %s: no Engine.IO open packet in time, closing", self.peer
            )
            self._end(408, "no open packet in time")

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _end(self, code: int | None, reason: str) -> None:
        """Close the session; ``code`` None when the client already did."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        self._cancel_timer()
        self._handler = None
        self._pending = []
        if code is None:
            return
        if self.stream_id is not None:
            self._host.write_stream(self.stream_id, b"", end_stream=True)
        reason_bytes = reason.encode()[:_MAX_REASON]
        self._host.close_session(self, code, reason_bytes.decode(errors="ignore"))

    def __repr__(self) -> str:
        return f"<WebTransportSession {self.session_id} {self._state.value} {self.peer}>"
