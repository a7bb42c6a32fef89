"""The socket.io-msgpack-parser compatible codec: wire vectors, malformed input, round-trips."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiosio.exceptions import SocketProtocolError
from aiosio.protocol.msgpack import MSGPACK_PARSER, MsgpackDecoder, MsgpackEncoder
from aiosio.protocol.socketio import MAX_ACK_ID, Packet, PacketType

T = PacketType


def pack(obj: Any) -> bytes:
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return data


# (packet, the map on the wire)
VECTORS: list[tuple[Packet, dict[str, Any]]] = [
    (Packet(T.CONNECT), {"type": 0, "nsp": "/"}),
    (
        Packet(T.CONNECT, "/admin", {"token": "x"}),
        {"type": 0, "data": {"token": "x"}, "nsp": "/admin"},
    ),
    (Packet(T.DISCONNECT, "/admin"), {"type": 1, "nsp": "/admin"}),
    (Packet(T.EVENT, "/", ["hello", 1]), {"type": 2, "data": ["hello", 1], "nsp": "/"}),
    (
        Packet(T.EVENT, "/admin", ["upload", {"file": b"\x00\x01"}, 1.5], 456),
        {"type": 2, "data": ["upload", {"file": b"\x00\x01"}, 1.5], "nsp": "/admin", "id": 456},
    ),
    (Packet(T.ACK, "/", [], 3), {"type": 3, "data": [], "nsp": "/", "id": 3}),
    (Packet(T.ACK, "/", [b"bin"], 0), {"type": 3, "data": [b"bin"], "nsp": "/", "id": 0}),
    (
        Packet(T.CONNECT_ERROR, "/", {"message": "Not authorized"}),
        {"type": 4, "data": {"message": "Not authorized"}, "nsp": "/"},
    ),
    (
        Packet(T.CONNECT_ERROR, "/", "Not authorized"),
        {"type": 4, "data": "Not authorized", "nsp": "/"},
    ),
]


@pytest.mark.parametrize(("packet", "wire"), VECTORS)
def test_vectors(packet: Packet, wire: dict[str, Any]) -> None:
    frames = MsgpackEncoder().encode(packet)
    assert frames == [pack(wire)]
    assert MsgpackDecoder().add(pack(wire)) == packet


def test_exact_bytes() -> None:
    # {"type":2,"data":["hi",b"\x01"],"nsp":"/"} as notepack.io writes it
    expected = bytes.fromhex(
        "83a474797065 02 a464617461 92 a26869 c40101 a36e7370 a12f".replace(" ", "")
    )
    assert MsgpackEncoder().encode(Packet(T.EVENT, "/", ["hi", b"\x01"])) == [expected]


def test_binary_types_are_normalised() -> None:
    encoder = MsgpackEncoder()
    assert encoder.encode(Packet(T.BINARY_EVENT, "/", ["a", b"x"])) == encoder.encode(
        Packet(T.EVENT, "/", ["a", b"x"])
    )
    assert encoder.encode(Packet(T.BINARY_ACK, "/", [b"x"], 1)) == encoder.encode(
        Packet(T.ACK, "/", [b"x"], 1)
    )


def test_notepack_extensions() -> None:
    decoder = MsgpackDecoder()
    # `undefined` data (fixext 1, type 0), as the JS client sends CONNECT without auth
    undefined = b"\xd4\x00\x00"
    frame = b"\x83" + pack("type") + pack(0) + pack("data") + undefined + pack("nsp") + pack("/")
    assert decoder.add(frame) == Packet(T.CONNECT)
    # an ArrayBuffer (ext 8, type 0)
    frame = pack({"type": 2, "nsp": "/", "data": ["a", msgpack.ExtType(0, b"\x01\x02\x03")]})
    assert decoder.add(frame) == Packet(T.EVENT, "/", ["a", b"\x01\x02\x03"])


def test_decoder_accepts_buffer_types() -> None:
    frame = pack({"type": 2, "nsp": "/", "data": ["a"]})
    decoder = MSGPACK_PARSER.decoder()
    assert decoder.add(bytearray(frame)) == Packet(T.EVENT, "/", ["a"])  # type: ignore[arg-type]
    assert decoder.add(memoryview(frame)) == Packet(T.EVENT, "/", ["a"])  # type: ignore[arg-type]
    assert not decoder.awaiting_attachments
    decoder.reset()
    assert MSGPACK_PARSER.encoder() is MSGPACK_PARSER.encoder()


MALFORMED: list[tuple[bytes | str, str]] = [
    (b"", "could not parse"),
    (b"\xc1", "could not parse"),
    (pack({"type": 2}) + b"\x00", "could not parse"),
    (pack({1: 2}), "could not parse"),
    ('2["a"]', "binary frame"),
    (pack({}), "invalid packet type"),
    (pack({"type": "a"}), "invalid packet type"),
    (pack({"type": 7}), "invalid packet type"),
    (pack({"type": 5, "nsp": "/", "data": ["a"]}), "invalid packet type"),
    (pack({"type": True, "nsp": "/"}), "invalid packet type"),
    (pack(b"\x01"), "invalid packet type"),
    (pack([2, "/", ["a"]]), "invalid packet type"),
    (pack({"type": 2}), "invalid namespace"),
    (pack({"type": 2, "nsp": 2}), "invalid namespace"),
    (pack({"type": 2, "nsp": "admin", "data": ["a"]}), "invalid namespace"),
    (pack({"type": 2, "nsp": "/"}), "needs a payload"),
    (pack({"type": 2, "nsp": "/", "data": 4}), "invalid payload"),
    (pack({"type": 2, "nsp": "/", "data": []}), "invalid payload"),
    (pack({"type": 2, "nsp": "/", "data": ["disconnect"]}), "reserved event name"),
    (pack({"type": 3, "nsp": "/", "data": {}}), "invalid payload"),
    (pack({"type": 4, "nsp": "/", "data": []}), "invalid payload"),
    (pack({"type": 0, "nsp": "/", "data": []}), "invalid payload"),
    (pack({"type": 1, "nsp": "/", "data": "x"}), "invalid payload"),
    (pack({"type": 2, "nsp": "/", "data": ["a"], "id": "a"}), "invalid packet id"),
    (pack({"type": 2, "nsp": "/", "data": ["a"], "id": -1}), "invalid packet id"),
    (pack({"type": 2, "nsp": "/", "data": ["a"], "id": MAX_ACK_ID + 1}), "invalid packet id"),
    (pack({"type": 2, "nsp": "/", "data": ["a"], "id": 1.0}), "invalid packet id"),
    (b"\x91" * 100_000, "could not parse"),
]


@pytest.mark.parametrize(("frame", "match"), MALFORMED)
def test_malformed(frame: bytes | str, match: str) -> None:
    with pytest.raises(SocketProtocolError, match=match):
        MsgpackDecoder().add(frame)


@pytest.mark.parametrize(
    ("packet", "error"),
    [
        (Packet(T.EVENT, "admin", ["a"]), ValueError),
        (Packet(T.EVENT, "/", ["a"], -1), ValueError),
        (Packet(T.EVENT, "/", ["a", 2**70]), ValueError),
        (Packet(T.EVENT, "/", ["a", object()]), TypeError),
        (Packet(9, "/", ["a"]), ValueError),  # type: ignore[arg-type]
    ],
)
def test_encode_rejects_bad_packets(packet: Packet, error: type[Exception]) -> None:
    encoder = MsgpackEncoder()
    with pytest.raises(error):
        encoder.encode(packet)
    # the shared packer is left clean
    assert encoder.encode(Packet(T.EVENT, "/", ["ok"])) == [
        pack({"type": 2, "data": ["ok"], "nsp": "/"})
    ]


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=10)
    | st.binary(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


@given(
    nsp=st.sampled_from(["/", "/admin", "/é"]),
    name=st.text(max_size=8).filter(
        lambda s: (
            s
            not in {
                "connect",
                "connect_error",
                "disconnect",
                "disconnecting",
                "newListener",
                "removeListener",
            }
        )
    ),
    args=st.lists(_values, max_size=4),
    ack_id=st.none() | st.integers(min_value=0, max_value=MAX_ACK_ID),
)
@settings(max_examples=200, deadline=None)
def test_round_trip(nsp: str, name: str, args: list[Any], ack_id: int | None) -> None:
    packet = Packet(T.EVENT, nsp, [name, *args], ack_id)
    (frame,) = MsgpackEncoder().encode(packet)
    assert MsgpackDecoder().add(frame) == packet


@given(st.binary(max_size=64))
@settings(max_examples=500, deadline=None)
def test_fuzz_only_protocol_errors(frame: bytes) -> None:
    try:
        packet = MsgpackDecoder().add(frame)
    except SocketProtocolError:
        return
    assert packet.nsp.startswith("/")
