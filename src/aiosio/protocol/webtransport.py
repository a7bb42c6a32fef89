"""Engine.IO packets on a WebTransport stream, sans I/O.

WebTransport carries a session on one bidirectional stream, a byte stream with no message
boundaries, so each packet is preceded by a length header (the reference's framing, modelled on
WebSocket's length encoding):

* The first byte's high bit is 1 for a binary message and 0 for a text packet; its low 7 bits are
  the payload length when below 126, else 126 (a 16-bit big-endian length follows) or 127 (a 64-bit
  big-endian length follows).
* A text payload is the packet as over WebSocket, UTF-8 encoded (``4hello``); a binary payload is the
  message's bytes, with no type digit.

So a frame holds exactly what one WebSocket message would: :func:`encode_frame` takes the same
``str | bytes`` a WebSocket connection is given, and :class:`FrameDecoder` yields the same.
An empty payload, or one longer than the decoder's limit, is a protocol error.
"""

from __future__ import annotations

from typing import Final

from ..exceptions import EngineProtocolError

__all__ = ["FrameDecoder", "encode_frame", "frame_header"]

_BINARY: Final = 0x80
# The reference refuses lengths at or above 2**53 (JavaScript's safe integers).
_MAX_LENGTH: Final = 2**53 - 1


def frame_header(length: int, binary: bool) -> bytes:
    """The header preceding a payload of ``length`` bytes."""
    flag = _BINARY if binary else 0
    if length < 126:
        return bytes((flag | length,))
    if length < 65536:
        return bytes((flag | 126,)) + length.to_bytes(2, "big")
    return bytes((flag | 127,)) + length.to_bytes(8, "big")


def encode_frame(data: str | bytes) -> bytes:
    """Frame one message: an encoded text packet (``str``) or a binary message (``bytes``)."""
    if isinstance(data, str):
        payload = data.encode()
        return frame_header(len(payload), False) + payload
    return frame_header(len(data), True) + data


class FrameDecoder:
    """Turns stream bytes, as they arrive, into whole messages.

    :meth:`feed` returns the messages completed by the bytes given (``str`` for text packets,
    ``bytes`` for binary messages) and raises :class:`EngineProtocolError` once the stream breaks
    the framing; the decoder is then unusable. At most ``max_payload`` bytes of one payload are held.
    """

    __slots__ = ("_binary", "_buffer", "_failed", "_length", "max_payload")

    def __init__(self, max_payload: int) -> None:
        self.max_payload = max_payload
        self._buffer = bytearray()
        #: the payload length being waited for, or -1 while reading a header
        self._length = -1
        self._binary = False
        self._failed = False

    def feed(self, data: bytes) -> list[str | bytes]:
        """Add ``data``; return the messages it completes."""
        if self._failed:
            raise EngineProtocolError("the stream already broke the framing")
        buffer = self._buffer
        buffer += data
        messages: list[str | bytes] = []
        pos = 0
        try:
            while True:
                if self._length < 0:
                    if len(buffer) - pos < 1:
                        break
                    first = buffer[pos]
                    size = first & 0x7F
                    extra = 0 if size < 126 else 2 if size == 126 else 8
                    if len(buffer) - pos < 1 + extra:
                        break
                    if extra:
                        size = int.from_bytes(buffer[pos + 1 : pos + 1 + extra], "big")
                    if size == 0:
                        raise EngineProtocolError("empty packet")
                    if size > self.max_payload or size > _MAX_LENGTH:
                        raise EngineProtocolError(
                            f"packet of {size} bytes over the limit of {self.max_payload}"
                        )
                    self._binary = bool(first & _BINARY)
                    self._length = size
                    pos += 1 + extra
                length = self._length
                if len(buffer) - pos < length:
                    break
                payload = bytes(buffer[pos : pos + length])
                pos += length
                self._length = -1
                if self._binary:
                    messages.append(payload)
                else:
                    try:
                        messages.append(payload.decode())
                    except UnicodeDecodeError as exc:
                        raise EngineProtocolError("text packet is not valid UTF-8") from exc
        except EngineProtocolError:
            self._failed = True
            buffer.clear()
            raise
        del buffer[:pos]
        return messages

    @property
    def pending(self) -> int:
        """Bytes received that do not make a whole frame yet."""
        return len(self._buffer)
