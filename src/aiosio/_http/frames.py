"""RFC 6455 framing, sans-I/O: the server-side frame reader, frame encoders and the handshake key.

:class:`FrameReader` takes bytes as they arrive and calls its hooks with whole messages and control
frames. It raises :class:`FrameError` (carrying the close code to send) for anything the RFC
forbids: reserved bits or opcodes and unmasked client frames (1002), invalid UTF-8 in text (1007),
a message larger than the limit (1009). It never buffers more than one frame header plus the limit.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import ClassVar

from aiosio._http.mask import apply_mask
from aiosio.exceptions import ProtocolError

__all__ = [
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONTINUATION",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "FrameError",
    "FrameReader",
    "accept_key",
    "encode_close",
    "encode_frame",
    "frame_header",
    "parse_close",
]

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_PACK16 = struct.Struct("!BBH").pack
_PACK64 = struct.Struct("!BBQ").pack
#: Close codes a peer may put on the wire (RFC 6455 section 7.4, plus the registered 1012-1014).
_VALID_CLOSE = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})


class FrameError(ProtocolError):
    """A peer broke RFC 6455; ``code`` is the close code to answer with."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


def frame_header(opcode: int, length: int, fin: bool = True, masked: bool = False) -> bytes:
    """The first 2-10 bytes of a frame (without a masking key)."""
    b0 = opcode | 0x80 if fin else opcode
    m = 0x80 if masked else 0
    if length < 126:
        return bytes((b0, length | m))
    if length < 0x10000:
        return _PACK16(b0, 126 | m, length)
    return _PACK64(b0, 127 | m, length)


def encode_frame(
    opcode: int, payload: bytes, *, fin: bool = True, mask: bytes | None = None
) -> bytes:
    """One whole frame. Server frames are unmasked; pass ``mask`` (4 bytes) for a client frame."""
    if mask is None:
        return frame_header(opcode, len(payload), fin) + payload
    return frame_header(opcode, len(payload), fin, True) + mask + apply_mask(payload, mask)


def encode_close(code: int = 1000, reason: str = "") -> bytes:
    """The payload of a close frame."""
    return code.to_bytes(2, "big") + reason.encode("utf-8")


def parse_close(payload: bytes) -> tuple[int, str]:
    """Code and reason of a received close frame (1005 when it carries no code)."""
    if not payload:
        return 1005, ""
    if len(payload) == 1:
        raise FrameError(1002, "close frame with a 1-byte payload")
    code = int.from_bytes(payload[:2], "big")
    if code not in _VALID_CLOSE and not 3000 <= code <= 4999:
        raise FrameError(1002, f"invalid close code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise FrameError(1007, "invalid UTF-8 in close reason") from None
    return code, reason


class FrameReader:
    """Turns client bytes into messages. Subclasses implement the ``*_received`` hooks.

    ``feed`` stops at a close frame: it calls :meth:`close_received` and ignores the rest.
    """

    __slots__ = ("_buf", "_frag_op", "_frag_rsv", "_frag_size", "_frags", "_need", "max_size")

    #: The reserved bits a negotiated extension gives meaning to (0x40: RSV1, permessage-deflate).
    RSV_ALLOWED: ClassVar[int] = 0

    def __init__(self, max_size: int) -> None:
        #: The largest message (after reassembly) accepted, in bytes.
        self.max_size = max_size
        self._buf: bytearray | None = None
        self._need = 0
        self._frags: list[bytes] | None = None
        self._frag_op = 0
        self._frag_rsv = 0
        self._frag_size = 0

    # -- hooks --
    def message_received(self, data: str | bytes) -> None:
        """A whole text (``str``) or binary (``bytes``) message arrived."""

    def ping_received(self, payload: bytes) -> None:
        """A ping arrived; the peer expects a pong with the same payload."""

    def pong_received(self, payload: bytes) -> None:
        """A pong arrived."""

    def close_received(self, code: int, reason: str) -> None:
        """A close frame arrived (code 1005 when it had none)."""

    def decompress(self, payload: bytes) -> bytes:
        """The payload of a message whose first frame had RSV1 set (permessage-deflate)."""
        raise FrameError(1002, "reserved bits set")

    # -- parsing --
    def feed(self, data: bytes | bytearray) -> None:
        """Parse ``data``; raise :class:`FrameError` if the peer broke the protocol."""
        buf = self._buf
        if buf is not None:
            buf += data
            if len(buf) < self._need:
                return
            self._buf = None
            data = buf
        n = len(data)
        pos = 0
        view: memoryview | None = None
        while pos < n:
            avail = n - pos
            if avail < 2:
                self._keep(data, pos, 2)
                return
            b0 = data[pos]
            b1 = data[pos + 1]
            opcode = b0 & 0x0F
            rsv = b0 & 0x70
            if rsv:
                if rsv != self.RSV_ALLOWED:
                    raise FrameError(1002, "reserved bits set")
                if opcode & 0x8 or not opcode:
                    raise FrameError(1002, "RSV1 set on a control or continuation frame")
            if not b1 & 0x80:
                raise FrameError(1002, "client frame not masked")
            length = b1 & 0x7F
            start = pos + 2
            if length == 126:
                if avail < 4:
                    self._keep(data, pos, 4)
                    return
                length = (data[start] << 8) | data[start + 1]
                start += 2
            elif length == 127:
                if avail < 10:
                    self._keep(data, pos, 10)
                    return
                length = int.from_bytes(data[start : start + 8], "big")
                if length >> 63:
                    raise FrameError(1002, "frame length has the high bit set")
                start += 8
            if opcode & 0x8:
                if opcode > OP_PONG:
                    raise FrameError(1002, f"reserved opcode {opcode}")
                if not b0 & 0x80:
                    raise FrameError(1002, "fragmented control frame")
                if length > 125:
                    raise FrameError(1002, "control frame longer than 125 bytes")
            else:
                if opcode > OP_BINARY:
                    raise FrameError(1002, f"reserved opcode {opcode}")
                if length + self._frag_size > self.max_size:
                    raise FrameError(1009, "message too big")
            end = start + 4 + length
            if end > n:
                self._keep(data, pos, end - pos)
                return
            if length:
                if view is None:
                    view = memoryview(data)
                payload = apply_mask(view[start + 4 : end], data[start : start + 4])
            else:
                payload = b""
            pos = end
            if opcode & 0x8:
                if opcode == OP_CLOSE:
                    code, reason = parse_close(payload)
                    self._frags = None
                    self.close_received(code, reason)
                    return
                if opcode == OP_PING:
                    self.ping_received(payload)
                else:
                    self.pong_received(payload)
            elif b0 & 0x80:  # a final frame
                if opcode:
                    if self._frags is not None:
                        raise FrameError(1002, "new message inside a fragmented one")
                    self._deliver(opcode, self.decompress(payload) if rsv else payload)
                else:
                    frags = self._frags
                    if frags is None:
                        raise FrameError(1002, "continuation frame without a message")
                    frags.append(payload)
                    self._frags = None
                    self._frag_size = 0
                    whole = b"".join(frags)
                    if self._frag_rsv:
                        self._frag_rsv = 0
                        whole = self.decompress(whole)
                    self._deliver(self._frag_op, whole)
            elif opcode:
                if self._frags is not None:
                    raise FrameError(1002, "new message inside a fragmented one")
                self._frags = [payload]
                self._frag_op = opcode
                self._frag_rsv = rsv
                self._frag_size = length
            else:
                if self._frags is None:
                    raise FrameError(1002, "continuation frame without a message")
                self._frags.append(payload)
                self._frag_size += length

    def _keep(self, data: bytes | bytearray, pos: int, need: int) -> None:
        self._buf = bytearray(data[pos:]) if pos or not isinstance(data, bytearray) else data
        self._need = need

    def _deliver(self, opcode: int, payload: bytes) -> None:
        if opcode == OP_TEXT:
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError:
                raise FrameError(1007, "invalid UTF-8 in a text message") from None
            self.message_received(text)
        else:
            self.message_received(payload)
