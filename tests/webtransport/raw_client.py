"""A bare WebTransport client on aioquic: open sessions and streams, write any bytes, read frames.

It lets the tests send what the official client never would (a bad first packet, an unknown sid,
oversized or empty frames) and see how the server closes the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived, WebTransportStreamDataReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, QuicEvent, StreamDataReceived

from aiosio._h3.protocol import CLOSE_WEBTRANSPORT_SESSION, close_capsule
from aiosio.protocol.webtransport import FrameDecoder, encode_frame


@dataclass
class RawSession:
    """One session: its response status, its close (code, reason), its stream's messages."""

    session_id: int
    status: asyncio.Future[int]
    closed: asyncio.Future[tuple[int, str]]
    messages: asyncio.Queue[str | bytes] = field(default_factory=asyncio.Queue)
    decoder: FrameDecoder = field(default_factory=lambda: FrameDecoder(2**30))
    stream_id: int | None = None
    capsules: bytes = b""


class RawClient(QuicConnectionProtocol):
    """An HTTP/3 connection that opens WebTransport sessions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic, enable_webtransport=True)
        self.sessions: dict[int, RawSession] = {}
        self.responses: dict[int, asyncio.Future[int]] = {}
        self.terminated = asyncio.get_running_loop().create_future()

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ConnectionTerminated):
            if not self.terminated.done():
                self.terminated.set_result(None)
            for ended in self.sessions.values():
                if not ended.closed.done():
                    ended.closed.set_result((-1, "the QUIC connection closed"))
        if isinstance(event, StreamDataReceived):
            # aioquic's HTTP/3 layer does not read the bidirectional streams its client opened
            # for WebTransport: their bytes are read here.
            for candidate in self.sessions.values():
                if event.stream_id == candidate.stream_id:
                    for message in candidate.decoder.feed(event.data):
                        candidate.messages.put_nowait(message)
                    return
        for h3_event in self.h3.handle_event(event):
            if isinstance(h3_event, HeadersReceived):
                status = int(dict(h3_event.headers)[b":status"])
                future = self.responses.get(h3_event.stream_id)
                if future is not None and not future.done():
                    future.set_result(status)
                session = self.sessions.get(h3_event.stream_id)
                if session is not None and not session.status.done():
                    session.status.set_result(status)
            elif isinstance(h3_event, DataReceived):
                session = self.sessions.get(h3_event.stream_id)
                if session is not None:
                    session.capsules += h3_event.data
                    if h3_event.stream_ended and not session.closed.done():
                        session.closed.set_result(_parse_close(session.capsules))
            elif isinstance(h3_event, WebTransportStreamDataReceived):
                session = self.sessions.get(h3_event.session_id)
                if session is not None and h3_event.stream_id == session.stream_id:
                    for message in session.decoder.feed(h3_event.data):
                        session.messages.put_nowait(message)

    async def request(self, method: str, path: str, protocol: str | None = None) -> int:
        """Send a request (no body); return the response status."""
        stream_id = self._quic.get_next_available_stream_id()
        headers = [
            (b":method", method.encode()),
            (b":scheme", b"https"),
            (b":authority", b"127.0.0.1"),
            (b":path", path.encode()),
        ]
        if protocol is not None:
            headers.append((b":protocol", protocol.encode()))
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.responses[stream_id] = future
        self.h3.send_headers(stream_id, headers, end_stream=protocol is None)
        self.transmit()
        async with asyncio.timeout(5):
            return await future

    async def open_session(
        self, path: str = "/socket.io/", origin: str | None = None
    ) -> RawSession:
        """Open a WebTransport session; waits for the response status."""
        stream_id = self._quic.get_next_available_stream_id()
        loop = asyncio.get_running_loop()
        session = RawSession(stream_id, loop.create_future(), loop.create_future())
        self.sessions[stream_id] = session
        headers = [
            (b":method", b"CONNECT"),
            (b":scheme", b"https"),
            (b":authority", b"127.0.0.1"),
            (b":path", path.encode()),
            (b":protocol", b"webtransport"),
        ]
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        self.h3.send_headers(stream_id, headers)
        self.transmit()
        async with asyncio.timeout(5):
            await session.status
        return session

    def open_stream(self, session: RawSession) -> int:
        """Open the session's bidirectional stream."""
        session.stream_id = self.h3.create_webtransport_stream(session.session_id)
        self.transmit()
        return session.stream_id

    def write(self, session: RawSession, data: bytes, end_stream: bool = False) -> None:
        """Write raw bytes on the session's stream."""
        assert session.stream_id is not None
        self._quic.send_stream_data(session.stream_id, data, end_stream)
        self.transmit()

    def send(self, session: RawSession, *messages: str | bytes) -> None:
        """Frame and write messages."""
        self.write(session, b"".join(encode_frame(m) for m in messages))

    def close_session(self, session: RawSession) -> None:
        """Close the session as a browser does: a close capsule and the end of the stream."""
        self.h3.send_data(session.session_id, close_capsule(0, ""), end_stream=True)
        self.transmit()


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """A QUIC variable-length integer at ``pos``: (value, next position)."""
    size = 1 << (data[pos] >> 6)
    value = int.from_bytes(data[pos : pos + size], "big") & ((1 << (8 * size - 2)) - 1)
    return value, pos + size


def _parse_close(capsules: bytes) -> tuple[int, str]:
    pos = 0
    while pos < len(capsules):
        kind, pos = _varint(capsules, pos)
        length, pos = _varint(capsules, pos)
        payload = capsules[pos : pos + length]
        pos += length
        if kind == CLOSE_WEBTRANSPORT_SESSION:
            return int.from_bytes(payload[:4], "big"), payload[4:].decode()
    return 0, ""


async def next_message(session: RawSession, timeout: float = 5.0) -> str | bytes:  # noqa: ASYNC109
    """The next message the server framed on the session's stream."""
    async with asyncio.timeout(timeout):
        return await session.messages.get()


async def closed(session: RawSession, timeout: float = 5.0) -> tuple[int, str]:  # noqa: ASYNC109
    """Wait for the server to close the session: its (code, reason)."""
    async with asyncio.timeout(timeout):
        return await session.closed


@contextlib.asynccontextmanager
async def raw_client(port: int) -> AsyncIterator[RawClient]:
    """A QUIC connection to 127.0.0.1:port (the certificate is not checked)."""
    configuration = QuicConfiguration(
        is_client=True, alpn_protocols=H3_ALPN, max_datagram_frame_size=65536
    )
    configuration.verify_mode = ssl.CERT_NONE
    async with connect(
        "127.0.0.1", port, configuration=configuration, create_protocol=RawClient
    ) as client:
        assert isinstance(client, RawClient)
        yield client
