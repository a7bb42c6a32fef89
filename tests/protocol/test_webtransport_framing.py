"""Engine.IO packets on a WebTransport stream: length headers, byte for byte as engine.io-parser."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiosio.exceptions import EngineProtocolError
from aiosio.protocol.webtransport import FrameDecoder, encode_frame, frame_header

ROOT = Path(__file__).resolve().parents[2]

# (message as a WebSocket connection is given it, its frame on the stream)
VECTORS: list[tuple[str | bytes, bytes]] = [
    ("4hello", b"\x064hello"),
    ("2probe", b"\x062probe"),
    ("0", b"\x010"),
    ("4é", b"\x034\xc3\xa9"),
    (b"\x01\x02\x03", b"\x83\x01\x02\x03"),
    ("4" + "x" * 125, b"\x7e\x00\x7e4" + b"x" * 125),
    (b"\xff" * 126, b"\xfe\x00\x7e" + b"\xff" * 126),
    ("4" + "y" * 65535, b"\x7f" + (65536).to_bytes(8, "big") + b"4" + b"y" * 65535),
]


@pytest.mark.parametrize(("message", "frame"), VECTORS)
def test_vectors(message: str | bytes, frame: bytes) -> None:
    assert encode_frame(message) == frame
    assert FrameDecoder(1_000_000).feed(frame) == [message]


def test_header_lengths() -> None:
    assert frame_header(125, False) == b"\x7d"
    assert frame_header(126, True) == b"\xfe\x00\x7e"
    assert frame_header(65535, False) == b"\x7e\xff\xff"
    assert frame_header(65536, False) == b"\x7f" + (65536).to_bytes(8, "big")


def test_frames_split_anywhere() -> None:
    stream = b"".join(encode_frame(m) for m, _ in VECTORS)
    decoder = FrameDecoder(1_000_000)
    got: list[str | bytes] = []
    for i in range(0, len(stream), 7):
        got.extend(decoder.feed(stream[i : i + 7]))
    assert got == [m for m, _ in VECTORS]
    assert decoder.pending == 0


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\x00", "empty packet"),
        (b"\x80", "empty packet"),
        (b"\x7e\x00\x00", "empty packet"),
        (b"\x7f" + (101).to_bytes(8, "big"), "over the limit"),
        (b"\xff" + (2**63).to_bytes(8, "big"), "over the limit"),
        (b"\x02\xff\xfe", "not valid UTF-8"),
    ],
)
def test_bad_frames(data: bytes, error: str) -> None:
    decoder = FrameDecoder(100)
    with pytest.raises(EngineProtocolError, match=error):
        decoder.feed(data)
    # a decoder that failed stays failed, and holds nothing
    with pytest.raises(EngineProtocolError):
        decoder.feed(b"\x010")
    assert decoder.pending == 0


def test_only_a_frame_header_is_held_before_the_limit_check() -> None:
    decoder = FrameDecoder(10)
    assert decoder.feed(b"\x7f\x00\x00") == []  # half a 64-bit length: waits
    with pytest.raises(EngineProtocolError):
        decoder.feed(b"\x00\x00\x00\x00\x01\x00")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.text(min_size=1), st.binary(min_size=1)), min_size=1, max_size=8),
    st.integers(min_value=1, max_value=50),
)
def test_round_trip(messages: list[str | bytes], chunk: int) -> None:
    stream = b"".join(encode_frame(m) for m in messages)
    decoder = FrameDecoder(1_000_000)
    got: list[str | bytes] = []
    for i in range(0, len(stream), chunk):
        got.extend(decoder.feed(stream[i : i + chunk]))
    assert got == messages


_NODE = """
const { createPacketEncoderStream, createPacketDecoderStream } = require("engine.io-parser");
(async () => {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  const input = JSON.parse(text);
  const packets = input.packets.map((p) =>
    p.bytes ? { type: "message", data: Buffer.from(p.bytes) } : { type: p.type, data: p.data });
  const encoder = createPacketEncoderStream();
  const writer = encoder.writable.getWriter();
  const reader = encoder.readable.getReader();
  const chunks = [];
  const reading = (async () => {
    for (;;) { const { done, value } = await reader.read(); if (done) break; chunks.push(...value); }
  })();
  for (const p of packets) await writer.write(p);
  await writer.close();
  await reading;
  const decoder = createPacketDecoderStream(1e6, "nodebuffer");
  const dw = decoder.writable.getWriter();
  const dr = decoder.readable.getReader();
  const decoded = [];
  const decoding = (async () => {
    for (;;) {
      const { done, value } = await dr.read(); if (done) break;
      decoded.push(Buffer.isBuffer(value.data) ? { type: value.type, bytes: [...value.data] } : value);
    }
  })();
  await dw.write(new Uint8Array(input.ours));
  await dw.close();
  await decoding;
  process.stdout.write(JSON.stringify({ frames: chunks, decoded }));
})();
"""


async def test_same_bytes_as_the_reference_parser() -> None:
    if shutil.which("node") is None or not (ROOT / "node_modules" / "engine.io-parser").is_dir():
        pytest.fail("needs node and node_modules/engine.io-parser (make test installs them)")
    packets = [
        {"type": "open", "data": None},
        {"type": "message", "data": "hello ✓"},
        {"type": "ping", "data": "probe"},
        {"type": "message", "data": "z" * 300},
        {"type": "message", "data": "w" * 70000},
        {"bytes": [0, 1, 2, 255]},
        {"bytes": [7] * 200},
    ]
    messages: list[str | bytes] = [
        "0",
        "4hello ✓",
        "2probe",
        "4" + "z" * 300,
        "4" + "w" * 70000,
        bytes([0, 1, 2, 255]),
        bytes([7] * 200),
    ]
    ours = b"".join(encode_frame(m) for m in messages)
    proc = await asyncio.create_subprocess_exec(
        "node",
        "-e",
        _NODE,
        cwd=str(ROOT),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate(json.dumps({"packets": packets, "ours": list(ours)}).encode())
    assert proc.returncode == 0
    result = json.loads(out)
    assert bytes(result["frames"]) == ours
    assert FrameDecoder(1_000_000).feed(bytes(result["frames"])) == messages
    expected = [
        {"type": "open"},
        {"type": "message", "data": "hello ✓"},
        {"type": "ping", "data": "probe"},
        {"type": "message", "data": "z" * 300},
        {"type": "message", "data": "w" * 70000},
        {"type": "message", "bytes": [0, 1, 2, 255]},
        {"type": "message", "bytes": [7] * 200},
    ]
    assert result["decoded"] == expected
