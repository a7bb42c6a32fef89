"""Fuzz targets: each takes arbitrary bytes and must only ever refuse them the documented way.

* ``engineio``: Engine.IO packets and polling payloads (``decode_packet``, ``decode_payload``).
* ``socketio``: the Socket.IO decoder (text packets, binary attachments, in any order), JSON and msgpack.
* ``frames``: the WebSocket frame reader.
* ``wtframes``: the WebTransport stream decoder (length-prefixed Engine.IO packets).
* ``deflate``: permessage-deflate: the negotiation of an arbitrary ``Sec-WebSocket-Extensions``
  header, then frames (compressed or not) read with the extension in force, inflated under a limit.
* ``http``: the embedded server's connection: the bytes arrive on an :class:`HttpProtocol` serving a
  full Socket.IO server, as requests, pipelined requests, upgrades and WebSocket frames after them.

A target raises only for a real defect: an unexpected exception type, an error logged by aiosio (a
handler that failed inside the server), or a loop callback that raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import zlib
from collections.abc import Callable
from typing import Any

from aiosio._http.frames import FrameError, FrameReader, encode_frame
from aiosio._http.host import Host
from aiosio._http.permessage import Deflate, negotiate
from aiosio._http.protocol import HttpProtocol
from aiosio.engine.deflate import PerMessageDeflate
from aiosio.exceptions import ProtocolError
from aiosio.protocol.engineio import decode_packet, decode_payload
from aiosio.protocol.socketio import JsonParser
from aiosio.protocol.webtransport import FrameDecoder
from aiosio.server.server import Server

__all__ = ["TARGETS", "DefectError"]


class DefectError(Exception):
    """Something went wrong inside aiosio while handling the input."""


# -- decoders -------------------------------------------------------------------------------------


def engineio(data: bytes) -> None:
    """Engine.IO packets (text and binary) and polling payloads."""
    for value in (data, data.decode("utf-8", "replace")):
        with contextlib.suppress(ProtocolError):
            decode_packet(value)
        with contextlib.suppress(ProtocolError):
            decode_payload(value)


_JSON = JsonParser(max_attachments=4, max_buffered_bytes=4096)


def _msgpack_parser() -> Any:
    try:
        from aiosio.protocol.msgpack import MsgpackParser
    except ImportError:  # the msgpack extra is not installed
        return None
    return MsgpackParser()


_MSGPACK = _msgpack_parser()


def socketio(data: bytes) -> None:
    """One decoder fed a sequence of text and binary messages cut from ``data``."""
    parsers = [_JSON] if _MSGPACK is None else [_JSON, _MSGPACK]
    for parser in parsers:
        decoder = parser.decoder()
        for i, part in enumerate(data.split(b"\x00")[:8]):
            message: str | bytes = (
                part if (part[:1] == b"\x01" or i % 3 == 2) else part.decode("utf-8", "replace")
            )
            try:
                decoder.add(message)
            except ProtocolError:
                decoder.reset()


class _Frames(FrameReader):
    def message_received(self, data: str | bytes) -> None:
        pass

    def ping_received(self, payload: bytes) -> None:
        pass

    def pong_received(self, payload: bytes) -> None:
        pass

    def close_received(self, code: int, reason: str) -> None:
        pass


def frames(data: bytes) -> None:
    """The WebSocket frame reader, fed ``data`` in two pieces."""
    reader = _Frames(1024)
    cut = data[0] % (len(data) + 1) if data else 0
    try:
        reader.feed(data[:cut])
        reader.feed(data[cut:])
    except FrameError:
        pass


def wtframes(data: bytes) -> None:
    """The WebTransport stream decoder, fed ``data`` in two pieces; what it yields decodes or is
    refused as a packet."""
    decoder = FrameDecoder(1024)
    cut = data[0] % (len(data) + 1) if data else 0
    try:
        for piece in (data[:cut], data[cut:]):
            for message in decoder.feed(piece):
                if not isinstance(message, (str, bytes)) or not message:
                    raise DefectError(f"the decoder yielded {message!r}")
                with contextlib.suppress(ProtocolError):
                    decode_packet(message)
    except ProtocolError:
        pass
    if decoder.pending > 1024 + 9:
        raise DefectError("the decoder holds more than a frame")


class _DeflateFrames(_Frames):
    RSV_ALLOWED = 0x40

    def __init__(self, deflate: Deflate) -> None:
        super().__init__(1024)
        self.deflate = deflate

    def decompress(self, payload: bytes) -> bytes:
        data = self.deflate.decompress(payload, self.max_size)
        if len(data) > self.max_size:
            raise DefectError(f"inflated {len(data)} bytes past the {self.max_size}-byte limit")
        return data


_OPTIONS = (
    PerMessageDeflate(),
    PerMessageDeflate(client_max_window_bits=9, server_no_context_takeover=True),
)


def deflate(data: bytes) -> None:
    """A header up to the first newline is negotiated; the rest is read as frames with it."""
    header, _, rest = data.partition(b"\n")
    text = header.decode("latin-1")
    codec = None
    for options in _OPTIONS:
        codec = negotiate(text, options) or codec
        if codec is not None and not codec.response.startswith("permessage-deflate"):
            raise DefectError(f"bad answer {codec.response!r}")
    reader = _DeflateFrames(codec or Deflate("permessage-deflate"))
    cut = rest[0] % (len(rest) + 1) if rest else 0
    try:
        reader.feed(rest[:cut])
        reader.feed(rest[cut:])
    except FrameError:
        pass


# -- the HTTP / WebSocket input path --------------------------------------------------------------


class _Transport(asyncio.Transport):
    """Records what the server writes; never blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0
        self.closed = False
        self.protocol: Any = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += len(data)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.protocol  # type: ignore[no-any-return]

    def get_write_buffer_size(self) -> int:
        return 0


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


_PREFIXES = (
    b"",
    b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /socket.io/?EIO=4&transport=polling&sid=",
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n",
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
)
_MASK = b"\x11\x22\x33\x44"


class _HttpTarget:
    """One loop and one Socket.IO server for every input."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop_errors: list[dict[str, Any]] = []
        self.loop.set_exception_handler(lambda _loop, context: self.loop_errors.append(context))
        self.errors = _ErrorLog()
        self.io, self.host = self.loop.run_until_complete(self._start())

    async def _start(self) -> tuple[Server, Host]:
        io = Server(max_http_buffer_size=4096, cors="*", per_message_deflate=True)

        @io.on("connection")
        def on_connection(socket: Any) -> None:
            socket.on("echo", lambda *args: args)

        return io, Host(io.engine, None, "http")

    def __call__(self, data: bytes) -> None:
        # aiosio's errors are recorded (not printed) while the input runs.
        logger = logging.getLogger("aiosio")
        saved = logger.level, logger.propagate
        logger.addHandler(self.errors)
        logger.setLevel(logging.ERROR)
        logger.propagate = False
        try:
            self.loop.run_until_complete(self._one(data))
        finally:
            logger.removeHandler(self.errors)
            logger.setLevel(saved[0])
            logger.propagate = saved[1]
        if self.errors.records or self.loop_errors:
            found = [r.getMessage() for r in self.errors.records] + [
                str(c.get("message")) for c in self.loop_errors
            ]
            self.errors.records.clear()
            self.loop_errors.clear()
            raise DefectError("; ".join(found))

    async def _one(self, data: bytes) -> None:
        transport = _Transport()
        protocol = HttpProtocol(self.host)
        protocol.connection_made(transport)
        choice = data[0] if data else 0
        body = data[1:]
        if choice % 4 == 3:
            # An upgrade (offering permessage-deflate with 0x08), then the rest as client frames
            # (masked, some of them whole frames, RSV1 set on one with 0x04).
            chunks = [_PREFIXES[4 if choice & 0x08 else 3]]
            if choice & 0x10:
                chunks.append(encode_frame(1, b"40", mask=_MASK))
            frame = encode_frame(choice >> 5 & 0x0F or 1, body, mask=_MASK)
            if choice & 0x04:
                frame = bytes((frame[0] | 0x40,)) + frame[1:]
            chunks.append(frame)
            chunks.append(body)
        else:
            chunks = [_PREFIXES[choice % 4] + body]
            if choice & 0x20:
                chunks = [chunks[0][: len(chunks[0]) // 2], chunks[0][len(chunks[0]) // 2 :]]
        try:
            for chunk in chunks:
                current = transport.protocol or protocol
                if transport.closed:
                    break
                current.data_received(chunk)
                await asyncio.sleep(0)
        except Exception as exc:
            raise DefectError(f"data_received raised {exc!r}") from exc
        finally:
            (transport.protocol or protocol).connection_lost(None)
            for socket in list(self.io.engine.clients.values()):
                socket.discard()
            await asyncio.sleep(0)


_http: _HttpTarget | None = None


def http(data: bytes) -> None:
    """The embedded server's input path (HTTP parser, engine, WebSocket, Socket.IO)."""
    global _http
    if _http is None:
        _http = _HttpTarget()
    _http(data)


def every(data: bytes) -> None:
    """All targets in one: the first byte picks one (the short run inside the test suite)."""
    if not data:
        return
    _EACH[data[0] % len(_EACH)](data[1:])


_EACH = (engineio, socketio, frames, wtframes, http, deflate)

TARGETS: dict[str, Callable[[bytes], None]] = {
    "engineio": engineio,
    "socketio": socketio,
    "frames": frames,
    "wtframes": wtframes,
    "deflate": deflate,
    "http": http,
    "all": every,
}


def seeds() -> list[bytes]:
    """A few valid inputs to start from."""
    return [
        b"4hello",
        b'0{"sid":"x"}\x1e4hi',
        b'451-["a",{"_placeholder":true,"num":0}]\x00\x01\x02',
        b'2/chat,12["echo",1]',
        encode_frame(1, b"hello", mask=_MASK),
        b"permessage-deflate; client_max_window_bits\n" + _compressed_frame(b"hello " * 50),
        os.urandom(32),
    ]


def _compressed_frame(message: bytes) -> bytes:
    """A masked text frame carrying ``message`` compressed, RSV1 set."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    payload = (compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    frame = encode_frame(1, payload, mask=_MASK)
    return bytes((frame[0] | 0x40,)) + frame[1:]
