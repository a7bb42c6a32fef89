"""Engine.IO v3 framing: tables of vectors (produced with the reference's v3 parser)."""

from __future__ import annotations

import pytest

from aiosio.exceptions import EngineProtocolError
from aiosio.protocol.engineio import Packet, PacketType
from aiosio.protocol.engineio3 import (
    decode_packet,
    decode_payload,
    encode_packet,
    encode_payload,
    utf16_length,
)

M = PacketType.MESSAGE

#: (packets, client takes binary, the reference's payload)
PAYLOADS: list[tuple[list[Packet], bool, str | bytes]] = [
    ([Packet(M, "hello")], False, "6:4hello"),
    ([Packet(M, "hello")], True, "6:4hello"),
    ([Packet(M, "😀"), Packet(PacketType.PING, "probe")], False, "3:4😀6:2probe"),
    ([Packet(M, b"\x01\x02\x03")], False, "6:b4AQID"),
    (
        [Packet(M, b"\x01\x02\x03"), Packet(M, "é")],
        True,
        bytes.fromhex("0104ff040102030003ff34c3a9"),
    ),
    ([], False, "0:"),
    ([Packet(PacketType.CLOSE)], True, "1:1"),
    ([Packet(M, "a" * 12)], True, "13:4" + "a" * 12),
]


@pytest.mark.parametrize(("packets", "binary", "expected"), PAYLOADS)
def test_encode_payload(packets: list[Packet], binary: bool, expected: str | bytes) -> None:
    assert encode_payload(packets, binary) == expected


@pytest.mark.parametrize(("packets", "binary", "expected"), PAYLOADS)
def test_decode_payload_round_trips(
    packets: list[Packet], binary: bool, expected: str | bytes
) -> None:
    body = expected if isinstance(expected, bytes) else expected.encode()
    decoded = list(decode_payload(body, isinstance(expected, bytes)))
    assert decoded == packets


#: (packet, client takes binary, WebSocket frame)
FRAMES: list[tuple[Packet, bool, str | bytes]] = [
    (Packet(M, "hello"), True, "4hello"),
    (Packet(M, b"\x01\x02\x03"), True, b"\x04\x01\x02\x03"),
    (Packet(M, b"\x01\x02\x03"), False, "b4AQID"),
    (Packet(PacketType.PING, "probe"), True, "2probe"),
    (Packet(PacketType.PONG), True, "3"),
    (Packet(PacketType.UPGRADE), True, "5"),
]


@pytest.mark.parametrize(("packet", "binary", "frame"), FRAMES)
def test_frames(packet: Packet, binary: bool, frame: str | bytes) -> None:
    assert encode_packet(packet, binary) == frame
    assert decode_packet(frame) == packet


@pytest.mark.parametrize(
    ("body", "binary"),
    [
        (b"", False),
        (b"6:4hell", False),  # shorter than its prefix
        (b"x:4a", False),
        (b"2:9a", False),  # unknown type
        (b"4hello", False),  # no prefix
        (b"3:b4!", False),  # bad base64
        (b"\xff\xfe", False),  # not UTF-8
        (bytes.fromhex("0109ff34"), True),  # shorter than its prefix
        (bytes.fromhex("02"), True),  # neither text nor binary
        (bytes.fromhex("010a"), True),  # a digit above 9, no terminator
        (bytes.fromhex("0102ff0901"), True),  # unknown binary type
    ],
)
def test_bad_payloads_raise(body: bytes, binary: bool) -> None:
    with pytest.raises(EngineProtocolError):
        list(decode_payload(body, binary))


def test_packets_before_a_bad_one_are_delivered() -> None:
    packets = decode_payload(b"2:4a2:4b3:9zz", False)
    assert next(packets) == Packet(M, "a")
    assert next(packets) == Packet(M, "b")
    with pytest.raises(EngineProtocolError):
        next(packets)


def test_utf16_lengths() -> None:
    assert utf16_length("abc") == 3
    assert utf16_length("é☃") == 2
    assert utf16_length("😀x😀") == 5
    # A payload whose prefixes count surrogate pairs decodes by code units.
    assert list(decode_payload("5:4😀😀2:4x".encode(), False)) == [
        Packet(M, "😀😀"),
        Packet(M, "x"),
    ]
    with pytest.raises(EngineProtocolError):
        list(decode_payload("2:4😀".encode(), False))  # the prefix splits the pair
