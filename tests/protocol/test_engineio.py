"""Engine.IO v4 packet and polling payload codec: wire vectors, malformed input, round-trips."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiosio.exceptions import EngineProtocolError
from aiosio.protocol.engineio import (
    PING_PROBE,
    PONG_PROBE,
    SEPARATOR,
    Packet,
    PacketType,
    decode_packet,
    decode_payload,
    encode_packet,
    encode_payload,
    encode_payload_packet,
)

T = PacketType
OPEN = '0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000}'

# (packet, WebSocket frame)
PACKETS: list[tuple[Packet, str | bytes]] = [
    (Packet(T.OPEN, OPEN[1:]), OPEN),
    (Packet(T.CLOSE), "1"),
    (Packet(T.PING), "2"),
    (Packet(T.PONG), "3"),
    (PING_PROBE, "2probe"),
    (PONG_PROBE, "3probe"),
    (Packet(T.MESSAGE, "hello"), "4hello"),
    (Packet(T.MESSAGE, '2["chat","é✓ 😀"]'), '42["chat","é✓ 😀"]'),
    (Packet(T.MESSAGE, b"\x01\x02\x03"), b"\x01\x02\x03"),
    (Packet(T.MESSAGE, b""), b""),
    (Packet(T.UPGRADE), "5"),
    (Packet(T.NOOP), "6"),
]


@pytest.mark.parametrize(("packet", "frame"), PACKETS)
def test_packet_vectors(packet: Packet, frame: str | bytes) -> None:
    assert encode_packet(packet) == frame
    assert decode_packet(frame) == packet


def test_decode_packet_accepts_buffer_types() -> None:
    assert decode_packet(bytearray(b"ab")) == Packet(T.MESSAGE, b"ab")  # type: ignore[arg-type]
    assert decode_packet(memoryview(b"ab")) == Packet(T.MESSAGE, b"ab")  # type: ignore[arg-type]
    assert type(decode_packet(memoryview(b"ab")).data) is bytes  # type: ignore[arg-type]


def test_base64_message_in_a_text_frame() -> None:
    assert decode_packet("bAQID") == Packet(T.MESSAGE, b"\x01\x02\x03")
    assert decode_packet("b") == Packet(T.MESSAGE, b"")


def test_empty_message_text() -> None:
    assert decode_packet("4") == Packet(T.MESSAGE)
    assert encode_packet(Packet(T.MESSAGE, "")) == "4"


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        ("", "empty packet"),
        ("7", "unknown packet type"),
        ("x4hello", "unknown packet type"),
        ("\u0664hello", "unknown packet type"),
        (" 4", "unknown packet type"),
        ("bAQI", "invalid base64"),
        ("b!!!!", "invalid base64"),
        ("bAQ==ID", "invalid base64"),
        ("b\u00e9AAA", "invalid base64"),
    ],
)
def test_malformed_packets(frame: str, match: str) -> None:
    with pytest.raises(EngineProtocolError, match=match):
        decode_packet(frame)


def test_encode_rejects_binary_non_message() -> None:
    with pytest.raises(ValueError, match="binary"):
        encode_packet(Packet(T.PING, b"x"))


# (packets, polling payload)
PAYLOADS: list[tuple[list[Packet], str]] = [
    ([Packet(T.MESSAGE, "hello")], "4hello"),
    (
        [Packet(T.MESSAGE, "hello"), Packet(T.MESSAGE, b"\x01\x02\x03\x04")],
        "4hello\x1ebAQIDBA==",
    ),
    ([Packet(T.PING), Packet(T.MESSAGE, "€"), Packet(T.NOOP)], "2\x1e4€\x1e6"),
    ([Packet(T.MESSAGE, b"")], "b"),
    ([Packet(T.MESSAGE, "a"), Packet(T.MESSAGE, "b")], "4a\x1e4b"),
    ([Packet(T.CLOSE)], "1"),
]


@pytest.mark.parametrize(("packets", "payload"), PAYLOADS)
def test_payload_vectors(packets: list[Packet], payload: str) -> None:
    assert encode_payload(packets) == payload
    assert encode_payload(tuple(packets)) == payload
    assert decode_payload(payload) == packets
    assert decode_payload(payload.encode()) == packets


def test_payload_packet() -> None:
    assert encode_payload_packet(Packet(T.MESSAGE, b"\xff")) == "b/w=="
    assert encode_payload_packet(Packet(T.PONG, "probe")) == "3probe"


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ("", "empty payload"),
        (b"", "empty payload"),
        ("\x1e", "empty packet"),
        ("4hello\x1e", "empty packet"),
        ("\x1e4hello", "empty packet"),
        ("4a\x1e\x1e4b", "empty packet"),
        ("4a\x1e9b", "unknown packet type"),
        ("4a\x1ebA", "invalid base64"),
        ("bA=A=", "invalid base64"),
        (b"4\xff\xfe", "UTF-8"),
    ],
)
def test_malformed_payloads(payload: str | bytes, match: str) -> None:
    with pytest.raises(EngineProtocolError, match=match):
        decode_payload(payload)


_packets = st.one_of(
    st.builds(
        Packet,
        st.sampled_from(list(PacketType)),
        st.none() | st.text(st.characters(exclude_characters="\x1e"), min_size=1),
    ),
    st.builds(Packet, st.just(T.MESSAGE), st.binary()),
)


@given(st.lists(_packets, min_size=1, max_size=6))
@settings(max_examples=300, deadline=None)
def test_payload_round_trip(packets: list[Packet]) -> None:
    payload = encode_payload(packets)
    assert decode_payload(payload) == packets
    for packet in packets:
        assert decode_packet(encode_packet(packet)) == packet


@given(st.one_of(st.text(max_size=40), st.binary(max_size=40)))
@settings(max_examples=500, deadline=None)
def test_fuzz_only_protocol_errors(data: str | bytes) -> None:
    for decode in (decode_packet, decode_payload):
        with contextlib.suppress(EngineProtocolError):
            decode(data)


def test_separator() -> None:
    assert SEPARATOR == "\x1e"
