"""One QUIC connection speaking HTTP/3 with WebTransport (aioquic).

It accepts extended CONNECT requests (``:protocol: webtransport``) under the app's path with 200,
answers every other request with 404, and routes the bytes of each session's streams to its
:class:`~aiosio._h3.session.WebTransportSession`. Its HTTP/3 settings (from aioquic's
``enable_webtransport``) are those Chromium asks for: ENABLE_CONNECT_PROTOCOL, H3_DATAGRAM and
ENABLE_WEBTRANSPORT (WebTransport over HTTP/3, draft 02).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.buffer import encode_uint_var
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import (
    DataReceived,
    H3Event,
    HeadersReceived,
    WebTransportStreamDataReceived,
)
from aioquic.quic.events import ConnectionTerminated, ProtocolNegotiated, QuicEvent, StreamReset
from aioquic.quic.stream import QuicStream

from ..engine.http import Request
from .session import WebTransportApp, WebTransportSession

__all__ = ["CLOSE_WEBTRANSPORT_SESSION", "H3Protocol", "close_capsule"]

logger = logging.getLogger("aiosio.webtransport")

#: The capsule type that closes a session (with a 32-bit code and a UTF-8 reason).
CLOSE_WEBTRANSPORT_SESSION = 0x2843


def close_capsule(code: int, reason: str) -> bytes:
    """A CLOSE_WEBTRANSPORT_SESSION capsule."""
    payload = (code & 0xFFFFFFFF).to_bytes(4, "big") + reason.encode()
    return encode_uint_var(CLOSE_WEBTRANSPORT_SESSION) + encode_uint_var(len(payload)) + payload


class H3Protocol(QuicConnectionProtocol):
    """An HTTP/3 connection that hosts WebTransport sessions for an Engine.IO app."""

    def __init__(
        self,
        *args: Any,
        app: WebTransportApp,
        open_timeout: float,
        connections: set[H3Protocol],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._app = app
        self._open_timeout = open_timeout
        self._connections = connections
        self._h3: H3Connection | None = None
        self._sessions: dict[int, WebTransportSession] = {}
        self._peer: tuple[str, int] | None = None
        self._flush: asyncio.Handle | None = None
        #: CONNECT streams this side ended, until the peer has acknowledged all they carried
        self._ending: set[int] = set()
        connections.add(self)

    # -- QUIC events ----------------------------------------------------------------------------
    def datagram_received(self, data: bytes | str, addr: Any) -> None:
        """Note the client's address, then let aioquic read the datagram."""
        if self._peer is None:
            self._peer = (str(addr[0]), int(addr[1]))
        super().datagram_received(data, addr)

    def quic_event_received(self, event: QuicEvent) -> None:
        """Route QUIC events through the HTTP/3 layer to the sessions."""
        if isinstance(event, ProtocolNegotiated):
            if event.alpn_protocol in H3_ALPN:
                self._h3 = H3Connection(self._quic, enable_webtransport=True)
        elif isinstance(event, ConnectionTerminated):
            self._terminated()
            return
        elif isinstance(event, StreamReset):
            self._stream_reset(event.stream_id)
        if self._h3 is None:
            return
        # aioquic's HTTP/3 layer closes the connection itself on a protocol error.
        for h3_event in self._h3.handle_event(event):
            try:
                self._h3_event(h3_event)
            except Exception:
                logger.exception(
                    "http/3 connection of %s: error handling %r", self._peer_text, h3_event
                )
                self._quic.close(reason_phrase="internal error")
                self._terminated()
                return

    def _h3_event(self, event: H3Event) -> None:
        if isinstance(event, WebTransportStreamDataReceived):
            session = self._sessions.get(event.session_id)
            if session is not None:
                session.on_stream_data(event.stream_id, event.data, event.stream_ended)
        elif isinstance(event, HeadersReceived):
            self._on_request(event)
        elif isinstance(event, DataReceived):
            # Capsules on a CONNECT stream (the client's close among them) are not needed: the
            # end of the stream is what ends the session.
            session = self._sessions.get(event.stream_id)
            if session is not None and event.stream_ended:
                del self._sessions[event.stream_id]
                session.on_closed()
        # Datagrams are not used by Engine.IO.

    def _on_request(self, event: HeadersReceived) -> None:
        assert self._h3 is not None
        pseudo: dict[bytes, bytes] = {}
        headers: dict[str, str] = {}
        for name, value in event.headers:
            if name.startswith(b":"):
                pseudo[name] = value
            else:
                headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        target = pseudo.get(b":path", b"").decode("latin-1")
        path, _, query = target.partition("?")
        app_path = self._app.path
        if (
            pseudo.get(b":method") != b"CONNECT"
            or pseudo.get(b":protocol") != b"webtransport"
            or not (path.startswith(app_path) or path + "/" == app_path)
        ):
            logger.debug("http/3 request for %s refused with 404", target)
            self._h3.send_headers(event.stream_id, [(b":status", b"404")], end_stream=True)
            return
        authority = pseudo.get(b":authority")
        if authority is not None:
            headers.setdefault("host", authority.decode("latin-1"))
        request = Request("CONNECT", path, query, headers, client=self._peer, scheme="https")
        self._h3.send_headers(
            event.stream_id,
            [(b":status", b"200"), (b"sec-webtransport-http3-draft", b"draft02")],
        )
        self._sessions[event.stream_id] = WebTransportSession(
            self, self._app, event.stream_id, request, self._open_timeout
        )
        self._schedule_flush()

    def _stream_reset(self, stream_id: int) -> None:
        session = self._sessions.pop(stream_id, None)
        if session is None:
            for candidate in self._sessions.values():
                if candidate.stream_id == stream_id:
                    session = candidate
                    break
            if session is not None:
                del self._sessions[session.session_id]
        if session is not None:
            session.on_closed()

    def _terminated(self) -> None:
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            session.on_closed()
        self._connections.discard(self)

    # -- SessionHost (session -> QUIC) ----------------------------------------------------------
    def write_stream(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        """Queue bytes on a stream; they leave on the next loop iteration."""
        try:
            self._quic.send_stream_data(stream_id, data, end_stream)
        except (AssertionError, ValueError) as exc:  # the stream or the connection is gone
            logger.debug("write on stream %d dropped: %s", stream_id, exc)
            return
        self._schedule_flush()

    def stream_sent(self, stream_id: int) -> int:
        """How many bytes of the stream have gone on the wire (0 for an unknown stream)."""
        stream = self._stream(stream_id)
        return stream.sender.highest_offset if stream is not None else 0

    def _stream(self, stream_id: int) -> QuicStream | None:
        # aioquic keeps its streams private; this is the one place that reads them.
        return self._quic._streams.get(stream_id)

    @property
    def settled(self) -> bool:
        """True when what this side sent to end sessions has all been acknowledged."""
        self._forget_acknowledged()
        return not self._ending

    def _forget_acknowledged(self) -> None:
        for stream_id in list(self._ending):
            stream = self._stream(stream_id)
            if stream is None or stream.sender.is_finished:
                self._ending.discard(stream_id)

    def close_session(self, session: WebTransportSession, code: int, reason: str) -> None:
        """Send the close capsule and end the CONNECT stream."""
        self._sessions.pop(session.session_id, None)
        if self._h3 is None:
            return
        if len(self._ending) >= 64:  # many sessions on one connection: keep the set small
            self._forget_acknowledged()
        self._ending.add(session.session_id)
        try:
            self._h3.send_data(session.session_id, close_capsule(code, reason), end_stream=True)
        except (AssertionError, ValueError) as exc:
            logger.debug("closing session %d: %s", session.session_id, exc)
            return
        self._schedule_flush()

    # -- helpers --------------------------------------------------------------------------------
    def end_sessions(self) -> None:
        """End every session (the server is closing); the connection stays for their last bytes."""
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            session.close()
        self.transmit()

    def close_connection(self) -> None:
        """Close the QUIC connection."""
        self.close()
        self._connections.discard(self)

    @property
    def _peer_text(self) -> str:
        return f"{self._peer[0]}:{self._peer[1]}" if self._peer is not None else "unknown peer"

    def _schedule_flush(self) -> None:
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_soon(self._flush_now)

    def _flush_now(self) -> None:
        self._flush = None
        self.transmit()
