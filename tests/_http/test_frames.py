"""RFC 6455 framing: the examples of section 5.7, the handshake key and every error path."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiosio._http.frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameError,
    FrameReader,
    accept_key,
    encode_close,
    encode_frame,
    frame_header,
    parse_close,
)
from aiosio._http.mask import apply_mask, apply_mask_python

MASK = bytes((0x37, 0xFA, 0x21, 0x3D))


class Recorder(FrameReader):
    __slots__ = ("events",)

    def __init__(self, max_size: int = 1 << 20) -> None:
        super().__init__(max_size)
        self.events: list[tuple[str, object]] = []

    def message_received(self, data: str | bytes) -> None:
        self.events.append(("message", data))

    def ping_received(self, payload: bytes) -> None:
        self.events.append(("ping", payload))

    def pong_received(self, payload: bytes) -> None:
        self.events.append(("pong", payload))

    def close_received(self, code: int, reason: str) -> None:
        self.events.append(("close", (code, reason)))


def masked(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    return encode_frame(opcode, payload, fin=fin, mask=MASK)


def test_rfc_handshake_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_rfc_unmasked_server_frames() -> None:
    assert encode_frame(OP_TEXT, b"Hello") == bytes.fromhex("810548656c6c6f")
    assert encode_frame(OP_TEXT, b"Hel", fin=False) == bytes.fromhex("010348656c")
    assert encode_frame(0, b"lo") == bytes.fromhex("80026c6f")
    assert encode_frame(OP_PING, b"Hello") == bytes.fromhex("890548656c6c6f")
    assert frame_header(OP_BINARY, 256) == bytes.fromhex("827e0100")
    assert frame_header(OP_BINARY, 65536) == bytes.fromhex("827f0000000000010000")


def test_rfc_masked_text_and_pong() -> None:
    assert masked(OP_TEXT, b"Hello") == bytes.fromhex("818537fa213d7f9f4d5158")
    reader = Recorder()
    reader.feed(bytes.fromhex("818537fa213d7f9f4d5158"))
    reader.feed(bytes.fromhex("8a8537fa213d7f9f4d5158"))
    assert reader.events == [("message", "Hello"), ("pong", b"Hello")]


def test_fragmented_message_with_ping_in_between_fed_byte_by_byte() -> None:
    wire = (
        masked(OP_TEXT, b"Hel", fin=False)
        + masked(OP_PING, b"p")
        + masked(0, b"l", fin=False)
        + masked(0, b"o")
    )
    reader = Recorder()
    for i in range(len(wire)):
        reader.feed(wire[i : i + 1])
    assert reader.events == [("ping", b"p"), ("message", "Hello")]


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_binary_lengths(size: int) -> None:
    payload = os.urandom(size)
    wire = masked(OP_BINARY, payload)
    reader = Recorder()
    half = len(wire) // 2
    reader.feed(wire[:half])
    assert reader.events == []
    reader.feed(wire[half:] + masked(OP_TEXT, b"next"))
    assert reader.events == [("message", payload), ("message", "next")]


def test_close_frame_stops_parsing() -> None:
    reader = Recorder()
    reader.feed(masked(OP_CLOSE, encode_close(1001, "bye")) + masked(OP_TEXT, b"ignored"))
    assert reader.events == [("close", (1001, "bye"))]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [(b"", (1005, "")), (encode_close(1000), (1000, "")), (encode_close(4000, "é"), (4000, "é"))],
)
def test_parse_close(payload: bytes, expected: tuple[int, str]) -> None:
    assert parse_close(payload) == expected


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (encode_frame(OP_TEXT, b"Hello"), 1002),  # not masked
        (bytes((0xC1,)) + masked(OP_TEXT, b"x")[1:], 1002),  # RSV1
        (masked(0x3, b"x"), 1002),  # reserved data opcode
        (masked(0xB, b"x"), 1002),  # reserved control opcode
        (masked(OP_PING, b"x" * 126), 1002),  # control frame too long
        (masked(OP_PING, b"x", fin=False), 1002),  # fragmented control frame
        (masked(0, b"x"), 1002),  # continuation without a start
        (masked(OP_TEXT, b"a", fin=False) + masked(OP_TEXT, b"b"), 1002),  # no continuation
        (masked(OP_TEXT, b"\xff\xfe"), 1007),  # invalid UTF-8
        (masked(OP_TEXT, b"\xed\xa0\x80"), 1007),  # a UTF-16 surrogate
        (masked(OP_TEXT, b"\xe2\x82", fin=False) + masked(0, b"\xff"), 1007),
        (masked(OP_CLOSE, b"\x03"), 1002),  # one-byte close payload
        (masked(OP_CLOSE, encode_close(1005)), 1002),  # code not allowed on the wire
        (masked(OP_CLOSE, encode_close(1000) + b"\xff"), 1007),
        (masked(OP_BINARY, b"x" * 101), 1009),
        (masked(OP_BINARY, b"x" * 60, fin=False) + masked(0, b"x" * 60), 1009),
    ],
)
def test_protocol_errors(wire: bytes, code: int) -> None:
    reader = Recorder(max_size=100)
    with pytest.raises(FrameError) as info:
        reader.feed(wire)
    assert info.value.code == code


def test_too_big_detected_from_the_header_alone() -> None:
    reader = Recorder(max_size=1000)
    with pytest.raises(FrameError) as info:
        reader.feed(frame_header(OP_BINARY, 1 << 40, masked=True))
    assert info.value.code == 1009


def test_pong_frames_encode() -> None:
    reader = Recorder()
    reader.feed(masked(OP_PONG, b""))
    assert reader.events == [("pong", b"")]


@given(st.binary(max_size=300), st.binary(min_size=4, max_size=4))
def test_python_mask_matches_the_fast_one(data: bytes, mask: bytes) -> None:
    expected = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    assert apply_mask_python(data, mask) == expected
    assert apply_mask(data, mask) == expected
