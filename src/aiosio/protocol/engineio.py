"""Engine.IO v4 packets and long-polling payloads, sans I/O.

Wire format (protocol v4):

* A packet is one digit for its type followed by its data: ``0`` open, ``1`` close, ``2`` ping,
  ``3`` pong, ``4`` message, ``5`` upgrade, ``6`` noop. ``4hello`` is the message ``hello``.
* Over WebSocket a binary frame is a whole binary message, with no type digit.
* A polling payload joins packets with the record separator ``\\x1e``; a binary message inside it is
  written ``b`` followed by the base64 of its bytes.
"""

from __future__ import annotations

import binascii
from base64 import b64encode
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from ..exceptions import EngineProtocolError

__all__ = [
    "SEPARATOR",
    "Packet",
    "PacketType",
    "decode_packet",
    "decode_payload",
    "encode_packet",
    "encode_payload",
    "encode_payload_packet",
]

SEPARATOR: Final = "\x1e"


class PacketType(IntEnum):
    """Engine.IO packet types and their wire digits."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


_TYPES: Final = tuple(PacketType)
_DIGITS: Final = "0123456"


@dataclass(slots=True, frozen=True)
class Packet:
    """One Engine.IO packet. ``data`` is text, bytes (binary messages only) or ``None``."""

    type: PacketType
    data: str | bytes | None = None


PING_PROBE: Final = Packet(PacketType.PING, "probe")
PONG_PROBE: Final = Packet(PacketType.PONG, "probe")


def encode_packet(packet: Packet) -> str | bytes:
    """Encode a packet for a WebSocket frame: text for everything but binary messages."""
    data = packet.data
    if isinstance(data, bytes):
        if packet.type is not PacketType.MESSAGE:
            raise ValueError("only message packets may carry binary data")
        return data
    return _DIGITS[packet.type] + (data or "")


def decode_packet(data: str | bytes) -> Packet:
    """Decode one WebSocket frame's worth of packet; raises ``EngineProtocolError``."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return Packet(PacketType.MESSAGE, bytes(data))
    if not data:
        raise EngineProtocolError("empty packet")
    if data[0] == "b":
        # A binary message as base64 text: how polling carries binary, and also accepted in a
        # WebSocket text frame (as the reference does).
        try:
            return Packet(PacketType.MESSAGE, binascii.a2b_base64(data[1:], strict_mode=True))
        except (binascii.Error, ValueError) as exc:
            raise EngineProtocolError("invalid base64 in binary packet") from exc
    index = _DIGITS.find(data[0])
    if index < 0:
        raise EngineProtocolError(f"unknown packet type {data[0]!r}")
    return Packet(_TYPES[index], data[1:] if len(data) > 1 else None)


def encode_payload_packet(packet: Packet) -> str:
    """Encode a packet as it stands inside a polling payload (binary as ``b`` + base64)."""
    data = packet.data
    if isinstance(data, bytes):
        return "b" + b64encode(data).decode("ascii")
    return _DIGITS[packet.type] + (data or "")


def encode_payload(packets: list[Packet] | tuple[Packet, ...]) -> str:
    """Join packets into one polling payload."""
    return SEPARATOR.join(map(encode_payload_packet, packets))


def decode_payload(payload: str | bytes) -> list[Packet]:
    """Split and decode a polling payload; raises ``EngineProtocolError`` on any bad packet."""
    if isinstance(payload, (bytes, bytearray)):
        try:
            payload = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EngineProtocolError("payload is not valid UTF-8") from exc
    if not payload:
        raise EngineProtocolError("empty payload")
    return [decode_packet(part) for part in payload.split(SEPARATOR)]
