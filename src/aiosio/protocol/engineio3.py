"""Engine.IO v3 packets and long-polling payloads, sans I/O (what socket.io-client 2.x speaks).

The packet types and their digits are v4's (see :mod:`aiosio.protocol.engineio`); the framing differs:

* Over WebSocket a binary frame starts with the packet type as a byte: ``b"\\x04" + data`` is a
  binary message.
* A client that cannot take binary (``b64=1`` in its query) gets binary messages as text:
  ``b4`` followed by the base64 of the bytes.
* A text polling payload prefixes every packet with its length and a colon: ``6:4hello2:4x``. The
  length counts UTF-16 code units, as JavaScript's ``String.length`` does. An empty payload is ``0:``.
* A binary polling payload (sent when the client takes binary and a packet is binary) is a series of
  ``<0 text | 1 binary><length digits, one byte each><0xFF><packet>``. A text packet there is UTF-8
  with its type digit; a binary one is the type byte followed by the data. Lengths count bytes.
* The client sends the pings (``2``) and the server answers pongs (``3``) with the same data.
"""

from __future__ import annotations

import binascii
import re
from base64 import b64encode
from collections.abc import Iterator, Sequence
from typing import Final

from ..exceptions import EngineProtocolError
from .engineio import Packet, PacketType

__all__ = [
    "decode_packet",
    "decode_payload",
    "encode_packet",
    "encode_payload",
    "utf16_length",
]

_TYPES: Final = tuple(PacketType)
_DIGITS: Final = "0123456"
_ASTRAL: Final = re.compile("[\U00010000-\U0010ffff]")
#: The reference gives up on a length prefix longer than this (the digits of Number.MAX_VALUE).
_MAX_LENGTH_DIGITS: Final = 310


def utf16_length(text: str) -> int:
    """The length JavaScript gives ``text``: characters outside the BMP count twice."""
    if text.isascii():
        return len(text)
    return len(text) + len(_ASTRAL.findall(text))


def encode_packet(packet: Packet, supports_binary: bool = True) -> str | bytes:
    """Encode one packet as a WebSocket frame (or one element of a payload)."""
    data = packet.data
    if isinstance(data, bytes):
        if supports_binary:
            return bytes((packet.type,)) + data
        return "b" + _DIGITS[packet.type] + b64encode(data).decode("ascii")
    return _DIGITS[packet.type] + (data or "")


def decode_packet(data: str | bytes) -> Packet:
    """Decode one packet (a WebSocket frame, or one element of a payload)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if not raw or raw[0] >= len(_TYPES):
            raise EngineProtocolError("invalid binary packet type")
        return Packet(_TYPES[raw[0]], raw[1:])
    if not data:
        raise EngineProtocolError("empty packet")
    if data[0] == "b":
        index = _DIGITS.find(data[1:2]) if len(data) > 1 else -1
        if index < 0:
            raise EngineProtocolError("invalid base64 packet type")
        try:
            return Packet(_TYPES[index], binascii.a2b_base64(data[2:], strict_mode=True))
        except (binascii.Error, ValueError) as exc:
            raise EngineProtocolError("invalid base64 in binary packet") from exc
    index = _DIGITS.find(data[0])
    if index < 0:
        raise EngineProtocolError(f"unknown packet type {data[0]!r}")
    return Packet(_TYPES[index], data[1:] if len(data) > 1 else None)


def encode_payload(packets: Sequence[Packet], supports_binary: bool) -> str | bytes:
    """One polling response: binary when the client takes it and a packet is binary, else text."""
    if supports_binary and any(isinstance(p.data, bytes) for p in packets):
        return _encode_binary_payload(packets)
    if not packets:
        return "0:"
    parts = []
    for packet in packets:
        encoded = encode_packet(packet, False)
        assert isinstance(encoded, str)
        parts.append(f"{utf16_length(encoded)}:{encoded}")
    return "".join(parts)


def _encode_binary_payload(packets: Sequence[Packet]) -> bytes:
    out = bytearray()
    for packet in packets:
        encoded = encode_packet(packet, True)
        if isinstance(encoded, str):
            body = encoded.encode("utf-8", "surrogatepass")
            out.append(0)
        else:
            body = encoded
            out.append(1)
        out += bytes(int(d) for d in str(len(body)))
        out.append(255)
        out += body
    return bytes(out)


def decode_payload(body: bytes, binary: bool) -> Iterator[Packet]:
    """Decode a POSTed payload packet by packet.

    ``binary`` says the request was ``application/octet-stream``. Packets before a bad one are
    yielded; the bad one raises :class:`EngineProtocolError`.
    """
    if binary:
        yield from _decode_binary_payload(body)
        return
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EngineProtocolError("payload is not valid UTF-8") from exc
    yield from _decode_text_payload(text)


def _decode_text_payload(text: str) -> Iterator[Packet]:
    if not text:
        raise EngineProtocolError("empty payload")
    if _ASTRAL.search(text) is not None:
        # Lengths count UTF-16 code units: cut the UTF-16 form, not the code points.
        units = text.encode("utf-16-le", "surrogatepass")
        yield from _split_utf16(units)
        return
    size = len(text)
    index = 0
    while index < size:
        colon = text.find(":", index, index + _MAX_LENGTH_DIGITS + 1)
        digits = text[index:colon] if colon >= 0 else ""
        if not digits.isdigit() or not digits.isascii():
            raise EngineProtocolError("invalid length prefix in payload")
        length = int(digits)
        start = colon + 1
        message = text[start : start + length]
        if len(message) != length:
            raise EngineProtocolError("payload shorter than its length prefix")
        if length:
            yield decode_packet(message)
        index = start + length


def _split_utf16(units: bytes) -> Iterator[Packet]:
    size = len(units)
    index = 0
    while index < size:
        digits = ""
        while True:
            if index >= size or len(digits) > _MAX_LENGTH_DIGITS:
                raise EngineProtocolError("invalid length prefix in payload")
            char = units[index : index + 2].decode("utf-16-le", "surrogatepass")
            index += 2
            if char == ":":
                break
            digits += char
        if not digits.isdigit() or not digits.isascii():
            raise EngineProtocolError("invalid length prefix in payload")
        end = index + 2 * int(digits)
        if end > size:
            raise EngineProtocolError("payload shorter than its length prefix")
        if end > index:
            message = units[index:end].decode("utf-16-le", "surrogatepass")
            try:
                message.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise EngineProtocolError("a length prefix splits a character") from exc
            yield decode_packet(message)
        index = end


def _decode_binary_payload(body: bytes) -> Iterator[Packet]:
    size = len(body)
    index = 0
    while index < size:
        kind = body[index]
        if kind not in (0, 1):
            raise EngineProtocolError("invalid binary payload")
        end = body.find(b"\xff", index + 1, index + 2 + _MAX_LENGTH_DIGITS)
        if end < 0:
            raise EngineProtocolError("invalid length prefix in binary payload")
        digits = body[index + 1 : end]
        if not digits or any(d > 9 for d in digits):
            raise EngineProtocolError("invalid length prefix in binary payload")
        length = int("".join(map(str, digits)))
        start = end + 1
        message = body[start : start + length]
        if len(message) != length:
            raise EngineProtocolError("binary payload shorter than its length prefix")
        index = start + length
        if kind == 0:
            try:
                yield decode_packet(message.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise EngineProtocolError("text packet is not valid UTF-8") from exc
        else:
            yield decode_packet(message)
