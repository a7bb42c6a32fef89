"""One WebSocket connection of the embedded server: the engine's ``WebSocketConnection``.

Until the engine decides, the HTTP protocol owns the socket. :meth:`WebSocket.accept` writes the 101
answer and makes this object the transport's protocol, so an open WebSocket costs one slotted object
and the transport, with no task and no buffer while idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections import deque
from collections.abc import Callable
from typing import ClassVar, Protocol, cast

from aiosio._http.frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_PONG,
    OP_TEXT,
    FrameError,
    FrameReader,
    accept_key,
    encode_close,
    frame_header,
)
from aiosio._http.mask import apply_mask
from aiosio._http.permessage import Deflate
from aiosio.engine.http import PreparedMessages, Request, Response, WebSocketHandler

__all__ = [
    "DeflateWebSocket",
    "UpgradeOwner",
    "WebSocket",
    "encode_messages",
    "handshake_error",
    "reset",
]

logger = logging.getLogger("aiosio.http")

_CONNECTING, _OPEN, _CLOSING, _CLOSED = range(4)
#: How long to wait for the peer's close frame after sending ours.
CLOSE_TIMEOUT = 3.0
#: Payloads up to this size are copied into one ``write``; larger ones go out beside their header.
_JOIN_LIMIT = 4096
#: The two-byte headers of final text frames of 0-125 bytes.
_TEXT_HEADERS = tuple(frame_header(OP_TEXT, size) for size in range(126))


_LINGER_RESET = struct.pack("ii", 1, 0)


def reset(transport: asyncio.Transport) -> None:
    """Drop a connection with a TCP reset: the kernel discards what it still holds for the peer.

    A plain close would leave a peer that does not read holding the socket's whole send buffer
    (megabytes) in the kernel until TCP gives up on it.
    """
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    transport.abort()


def encode_messages(messages: tuple[str | bytes, ...]) -> bytes:
    """Whole unfragmented server frames for ``messages`` (``str`` as text, ``bytes`` as binary)."""
    out = []
    for message in messages:
        if type(message) is str:
            payload = message.encode("utf-8")
            out.append(frame_header(OP_TEXT, len(payload)))
        else:
            payload = cast(bytes, message)
            out.append(frame_header(OP_BINARY, len(payload)))
        out.append(payload)
    return b"".join(out)


def handshake_error(request: Request) -> str | None:
    """Why ``request`` is not a valid RFC 6455 opening handshake, or ``None`` if it is."""
    headers = request.headers
    if request.method != "GET":
        return "the method must be GET"
    if "websocket" not in headers.get("upgrade", "").lower():
        return "missing 'Upgrade: websocket'"
    if "upgrade" not in headers.get("connection", "").lower():
        return "missing 'Connection: Upgrade'"
    if headers.get("sec-websocket-version") != "13":
        return "unsupported Sec-WebSocket-Version"
    key = headers.get("sec-websocket-key", "")
    if len(key) != 24 or not key.endswith("=="):
        return "invalid Sec-WebSocket-Key"
    return None


class UpgradeOwner(Protocol):
    """What owns the socket until the upgrade is decided (the HTTP protocol that parsed it)."""

    def detach_websocket(self, ws: WebSocket) -> bytes:
        """Hand the transport to ``ws`` (its 101 is written); return bytes the client sent early."""

    def reject_websocket(self, response: Response) -> None:
        """Answer the upgrade request with ``response`` and close."""


class WebSocket(FrameReader, asyncio.Protocol):
    """A server-side WebSocket; implements ``aiosio.engine.http.WebSocketConnection``."""

    __slots__ = (
        "_backlog",
        "_backlog_size",
        "_error",
        "_handler",
        "_http",
        "_on_done",
        "_state",
        "_timer",
        "_write_paused",
        "request",
        "transport",
    )

    def __init__(
        self,
        http: UpgradeOwner,
        transport: asyncio.Transport,
        request: Request,
        max_size: int,
        on_done: Callable[[WebSocket], None],
    ) -> None:
        super().__init__(max_size)
        self._http: UpgradeOwner | None = http
        self.transport = transport
        self.request = request
        self._handler: WebSocketHandler | None = None
        self._state = _CONNECTING
        self._timer: asyncio.TimerHandle | None = None
        self._error: str | None = None
        self._on_done = on_done
        # While the transport's buffer is over its high-water mark, what is sent waits here, as
        # references: a broadcast frame queued for many stalled sockets exists once, not per socket.
        self._write_paused = False
        self._backlog: deque[bytes] | None = None
        self._backlog_size = 0

    # -- WebSocketConnection --
    def accept(
        self, handler: WebSocketHandler, headers: list[tuple[str, str]] | None = None
    ) -> None:
        """Complete the upgrade; ``handler`` receives every message from now on."""
        http = self._http
        if self._state != _CONNECTING or http is None:
            if self._state == _CLOSED and self._handler is None:
                # The client left while the engine was deciding: tell the handler, once.
                self._handler = handler
                asyncio.get_running_loop().call_soon(handler.on_disconnect)
            return
        self._http = None
        self._handler = handler
        self._state = _OPEN
        key = self.request.headers["sec-websocket-key"]
        extra = b"".join(
            f"{name}: {value}\r\n".encode("latin-1")
            for name, value in (*(headers or ()), *self.extension_headers())
        )
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept_key(key).encode("ascii") + b"\r\n" + extra + b"\r\n"
        )
        rest = http.detach_websocket(self)
        if rest:
            self.data_received(rest)

    def reject(self, response: Response) -> None:
        """Answer the upgrade request with a plain HTTP response and close the connection."""
        http = self._http
        if self._state != _CONNECTING or http is None:
            return
        self._http = None
        self._state = _CLOSED
        http.reject_websocket(response)

    def extension_headers(self) -> tuple[tuple[str, str], ...]:
        """Headers the 101 answer adds for negotiated extensions (none here)."""
        return ()

    def send(self, data: str | bytes, compress: bool = True) -> None:
        """Queue one message; a no-op once the connection is closing.

        ``compress`` is the Engine.IO packet's flag; without a negotiated extension it changes
        nothing.
        """
        if self._state != _OPEN:
            return
        if type(data) is str:
            payload = data.encode("utf-8")
            size = len(payload)
            if size < 126:
                self._write(_TEXT_HEADERS[size] + payload)
                return
            opcode = OP_TEXT
        else:
            payload = cast(bytes, data)
            size = len(payload)
            opcode = OP_BINARY
        if size <= _JOIN_LIMIT:
            self._write(frame_header(opcode, size) + payload)
        elif self._write_paused:
            self._write(frame_header(opcode, size) + payload)  # whole frames in the backlog
        else:
            self.transport.writelines((frame_header(opcode, size), payload))

    def send_prepared(self, prepared: PreparedMessages, compress: bool = True) -> None:
        """Write messages prepared once for many connections; the first one frames them."""
        if self._state == _OPEN:
            frames = prepared.frames
            if frames is None:
                frames = prepared.frames = encode_messages(prepared.messages)
            self._write(frames)

    def send_frames(self, frames: list[bytes]) -> None:
        """Write already-encoded whole frames in one go (broadcast, batches)."""
        if self._state == _OPEN:
            if self._write_paused:
                for frame in frames:
                    self._write(frame)
            else:
                self.transport.writelines(frames)

    def _write(self, data: bytes) -> None:
        if self._write_paused:
            backlog = self._backlog
            if backlog is None:
                backlog = self._backlog = deque()
            backlog.append(data)
            self._backlog_size += len(data)
        else:
            self.transport.write(data)

    def close(self, code: int = 1000) -> None:
        """Start the closing handshake with ``code``."""
        if self._state == _CONNECTING:
            self.reject(Response(403))
            return
        self._start_close(code, "")

    @property
    def buffered_amount(self) -> int:
        """Bytes accepted by :meth:`send` that the kernel has not taken yet."""
        if self._state == _CLOSED:
            return 0
        return self.transport.get_write_buffer_size() + self._backlog_size

    @property
    def closed(self) -> bool:
        """True once the connection is closing or closed."""
        return self._state >= _CLOSING

    # -- asyncio.Protocol --
    def data_received(self, data: bytes) -> None:
        if self._state > _CLOSING:
            return
        try:
            # The hot path: one whole, final, masked text frame shorter than 126 bytes, with
            # nothing buffered before it. Anything else goes through the general reader.
            size = len(data)
            if (
                6 < size <= 131
                and data[1] == size + 122
                and data[0] == 0x81
                and self._buf is None
                and self._frags is None
                and size - 6 <= self.max_size
            ):
                try:
                    text = apply_mask(data[6:], data[2:6]).decode("utf-8")
                except UnicodeDecodeError:
                    raise FrameError(1007, "invalid UTF-8 in a text message") from None
                handler = self._handler
                if handler is not None and self._state == _OPEN:
                    try:
                        handler.on_message(text)
                    except Exception:
                        logger.exception("websocket message handler failed")
                return
            self.feed(data)
        except FrameError as exc:
            if self._state == _OPEN:
                logger.debug("websocket protocol error (%s): %s", self.request.client, exc.reason)
                self._error = exc.reason or f"websocket close code {exc.code}"
                self._start_close(exc.code, exc.reason)
            else:
                self.transport.close()

    def eof_received(self) -> bool | None:
        return None  # close the transport

    def pause_writing(self) -> None:
        self._write_paused = True
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        backlog = self._backlog
        if backlog:
            write = self.transport.write
            # The transport calls pause_writing again from inside write once it is full.
            while backlog and not self._write_paused:
                data = backlog.popleft()
                self._backlog_size -= len(data)
                write(data)
        if not self._write_paused and self._state == _OPEN:
            self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost()

    def lost(self) -> None:
        """The socket is gone: report it to the handler once."""
        if self._state == _CLOSED and self._handler is None:
            return
        self._state = _CLOSED
        self._http = None
        self._buf = None
        self._frags = None
        self._backlog = None
        self._backlog_size = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._on_done(self)
        handler = self._handler
        if handler is not None:
            self._handler = None
            try:
                handler.on_disconnect(self._error)
            except Exception:
                logger.exception("websocket disconnect handler failed")

    # -- FrameReader hooks --
    def message_received(self, data: str | bytes) -> None:
        handler = self._handler
        if handler is None or self._state != _OPEN:
            return
        try:
            handler.on_message(data)
        except Exception:
            logger.exception("websocket message handler failed")

    def ping_received(self, payload: bytes) -> None:
        if self._state == _OPEN:
            self._write(frame_header(OP_PONG, len(payload)) + payload)

    def close_received(self, code: int, reason: str) -> None:
        if self._state == _OPEN:
            # Echo the peer's code (RFC 6455 5.5.1); the server closes TCP first (7.1.1).
            payload = b"" if code == 1005 else encode_close(code)
            self._state = _CLOSING
            # The peer is leaving: what still waits for it is dropped (whole frames), our close
            # frame goes next.
            self._backlog = None
            self._backlog_size = 0
            self.transport.write(frame_header(OP_CLOSE, len(payload)) + payload)
        self.transport.close()
        if self.transport.get_write_buffer_size():
            self._arm_timer()  # a peer that stops reading now is dropped after CLOSE_TIMEOUT

    # -- closing --
    def shutdown(self) -> None:
        """The server is going away: close with 1001."""
        if self._state == _CONNECTING:
            self.reject(Response(503, [("content-type", "text/plain")], b"Service Unavailable"))
        else:
            self._start_close(1001, "server shutting down")

    def abort(self) -> None:
        """Drop the connection now."""
        self.transport.abort()

    def _start_close(self, code: int, reason: str) -> None:
        if self._state != _OPEN:
            return
        self._state = _CLOSING
        payload = encode_close(code, reason[:120])
        self._write(frame_header(OP_CLOSE, len(payload)) + payload)
        self.transport.resume_reading()
        self._arm_timer()

    def _arm_timer(self) -> None:
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(CLOSE_TIMEOUT, self._close_timed_out)

    def _close_timed_out(self) -> None:
        """The peer did not finish the closing handshake in time."""
        self._timer = None
        if self.buffered_amount:
            # A peer that does not read would hold a graceful close (and its buffer) forever.
            logger.debug("websocket from %s: not reading at close, dropped", self.request.client)
            reset(self.transport)
        else:
            self.transport.close()


class DeflateWebSocket(WebSocket):
    """A WebSocket with permessage-deflate negotiated (RFC 7692).

    Messages of at least the threshold are compressed unless the packet asked otherwise; control
    frames never are. A compressed message from the client is inflated with the message limit applied
    to its inflated size.
    """

    __slots__ = ("deflate",)

    RSV_ALLOWED: ClassVar[int] = 0x40

    def __init__(
        self,
        http: UpgradeOwner,
        transport: asyncio.Transport,
        request: Request,
        max_size: int,
        on_done: Callable[[WebSocket], None],
        deflate: Deflate,
    ) -> None:
        super().__init__(http, transport, request, max_size, on_done)
        #: The negotiated parameters and this connection's compressor state.
        self.deflate = deflate

    def extension_headers(self) -> tuple[tuple[str, str], ...]:
        """The ``Sec-WebSocket-Extensions`` answer to the accepted offer."""
        return (("Sec-WebSocket-Extensions", self.deflate.response),)

    def send(self, data: str | bytes, compress: bool = True) -> None:
        """Queue one message, compressed when ``compress`` and at least the threshold long."""
        deflate = self.deflate
        # At most 4 UTF-8 bytes a character: a message this short stays under the threshold.
        if not compress or len(data) << 2 < deflate.threshold or self._state != _OPEN:
            WebSocket.send(self, data)
            return
        self.send_frames(self._frame(data))

    def send_prepared(self, prepared: PreparedMessages, compress: bool = True) -> None:
        """Write messages prepared for many connections, compressing the large ones here."""
        if self._state != _OPEN:
            return
        deflate = self.deflate
        threshold = deflate.threshold
        # A str of n characters is at most 4n bytes in UTF-8.
        if not compress or all(
            len(m) * (4 if type(m) is str else 1) < threshold for m in prepared.messages
        ):
            super().send_prepared(prepared)
            return
        key = deflate.shared_key
        if key is None:  # context takeover: this connection's own stream
            for message in prepared.messages:
                self.send(message)
            return
        variants = prepared.variants
        if variants is None:
            variants = prepared.variants = {}
        frames = variants.get(key)
        if frames is None:
            frames = variants[key] = self._compressed_frames(prepared.messages)
        self._write(frames)

    def _compressed_frames(self, messages: tuple[str | bytes, ...]) -> bytes:
        """Whole frames for ``messages``, those of at least the threshold compressed."""
        out: list[bytes] = []
        for message in messages:
            out += self._frame(message)
        return b"".join(out)

    def _frame(self, message: str | bytes) -> list[bytes]:
        """One message's frame (header, payload), compressed when at least the threshold long."""
        if type(message) is str:
            payload = message.encode("utf-8")
            opcode = OP_TEXT
        else:
            payload = cast(bytes, message)
            opcode = OP_BINARY
        if payload and len(payload) >= self.deflate.threshold:
            payload = self.deflate.compress(payload)
            opcode |= 0x40  # RSV1: a compressed message
        return [frame_header(opcode, len(payload)), payload]

    def decompress(self, payload: bytes) -> bytes:
        """Inflate one client message; a deflate bomb or bad data closes this connection."""
        try:
            return self.deflate.decompress(payload, self.max_size)
        except FrameError as exc:
            logger.warning(
                "websocket from %s: %s (limit %d bytes), closing with %d",
                self.request.client,
                exc.reason,
                self.max_size,
                exc.code,
            )
            raise

    def lost(self) -> None:
        """The socket is gone: release the compressor state too."""
        self.deflate.release()
        super().lost()
