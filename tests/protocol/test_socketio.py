"""Socket.IO v5 packet codec: wire vectors, binary attachments, malformed input, round-trips."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiosio.exceptions import SocketProtocolError
from aiosio.protocol.socketio import (
    DEFAULT_PARSER,
    MAX_ACK_ID,
    RESERVED_EVENTS,
    Decoder,
    Encoder,
    Packet,
    PacketType,
    encode_ack_text,
    encode_event_text,
)

T = PacketType
PH0 = {"_placeholder": True, "num": 0}
PH1 = {"_placeholder": True, "num": 1}
PH2 = {"_placeholder": True, "num": 2}

# (packet, frames): the encoder writes exactly these frames and the decoder reads them back.
VECTORS: list[tuple[Packet, list[str | bytes]]] = [
    (Packet(T.CONNECT), ["0"]),
    (Packet(T.CONNECT, "/admin"), ["0/admin,"]),
    (Packet(T.CONNECT, "/", {"token": "123"}), ['0{"token":"123"}']),
    (
        Packet(T.CONNECT, "/admin", {"sid": "oSO0OpakMV_3jnilAAAA"}),
        ['0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}'],
    ),
    (Packet(T.DISCONNECT), ["1"]),
    (Packet(T.DISCONNECT, "/admin"), ["1/admin,"]),
    (Packet(T.EVENT, "/", ["hello", 1]), ['2["hello",1]']),
    (Packet(T.EVENT, "/", ["hello"]), ['2["hello"]']),
    (
        Packet(T.EVENT, "/admin", ["project:delete", 123], 456),
        ['2/admin,456["project:delete",123]'],
    ),
    (
        Packet(T.EVENT, "/", ["a", {"b": [1, 2.5, None, True, "é✓"]}], 0),
        ['20["a",{"b":[1,2.5,null,true,"é✓"]}]'],
    ),
    (
        Packet(T.EVENT, "/", [42, "numeric event names are allowed"]),
        ['2[42,"numeric event names are allowed"]'],
    ),
    (Packet(T.ACK, "/admin", [], 456), ["3/admin,456[]"]),
    (Packet(T.ACK, "/", ["ok", {"n": 1}], 12), ['312["ok",{"n":1}]']),
    (
        Packet(T.CONNECT_ERROR, "/admin", {"message": "Not authorized"}),
        ['4/admin,{"message":"Not authorized"}'],
    ),
    (
        Packet(T.CONNECT_ERROR, "/", {"message": "nope", "data": {"code": 3}}),
        ['4{"message":"nope","data":{"code":3}}'],
    ),
    (Packet(T.CONNECT_ERROR, "/", "Not authorized"), ['4"Not authorized"']),
    # binary: decoded as EVENT / ACK, sent as BINARY_EVENT / BINARY_ACK
    (
        Packet(T.EVENT, "/", ["hello", b"\x01\x02\x03"]),
        ['51-["hello",{"_placeholder":true,"num":0}]', b"\x01\x02\x03"],
    ),
    (
        Packet(T.EVENT, "/admin", ["upload", {"a": b"A", "list": [b"B", {"deep": b"C"}]}], 7),
        [
            '53-/admin,7["upload",{"a":{"_placeholder":true,"num":0},'
            '"list":[{"_placeholder":true,"num":1},{"deep":{"_placeholder":true,"num":2}}]}]',
            b"A",
            b"B",
            b"C",
        ],
    ),
    (
        Packet(T.ACK, "/admin", [b"", "x", [b"\xff"]], 13),
        [
            '62-/admin,13[{"_placeholder":true,"num":0},"x",[{"_placeholder":true,"num":1}]]',
            b"",
            b"\xff",
        ],
    ),
    (Packet(T.ACK, "/", [b"z"], 1), ['61-1[{"_placeholder":true,"num":0}]', b"z"]),
]


def decode_all(frames: list[str | bytes], decoder: Decoder | None = None) -> Packet:
    decoder = decoder or Decoder()
    for frame in frames[:-1]:
        assert decoder.add(frame) is None
        assert decoder.awaiting_attachments
    packet = decoder.add(frames[-1])
    assert packet is not None
    assert not decoder.awaiting_attachments
    return packet


@pytest.mark.parametrize(("packet", "frames"), VECTORS)
def test_encode_vectors(packet: Packet, frames: list[str | bytes]) -> None:
    assert Encoder().encode(packet) == frames


@pytest.mark.parametrize(("packet", "frames"), VECTORS)
def test_decode_vectors(packet: Packet, frames: list[str | bytes]) -> None:
    assert decode_all(frames) == packet


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        # a namespace without the trailing comma still parses (as the reference does)
        (["1/admin"], Packet(T.DISCONNECT, "/admin")),
        (["0/admin"], Packet(T.CONNECT, "/admin")),
        # whitespace around the JSON is JSON
        (['2 ["a"] '], Packet(T.EVENT, "/", ["a"])),
        # leading zeros in the attachment count and the ack id
        (
            ['501-007["a",{"_placeholder":true,"num":0}]', b"x"],
            Packet(T.EVENT, "/", ["a", b"x"], 7),
        ),
        # a placeholder in a plain EVENT is left alone
        (['2["a",{"_placeholder":true,"num":0}]'], Packet(T.EVENT, "/", ["a", PH0])),
        # attachments may be reused or left unused
        (
            ['62-[{"_placeholder":true,"num":1},{"_placeholder":true,"num":1}]', b"a", b"b"],
            Packet(T.ACK, "/", [b"b", b"b"]),
        ),
        # the largest safe ack id
        ([f'2{MAX_ACK_ID}["a"]'], Packet(T.EVENT, "/", ["a"], MAX_ACK_ID)),
        # a namespace with a query-like suffix is just a name here
        (['2/a?b=c,["x"]'], Packet(T.EVENT, "/a?b=c", ["x"])),
        # float event name (a JS number)
        (["2[1.5]"], Packet(T.EVENT, "/", [1.5])),
    ],
)
def test_decode_edge_cases(frames: list[str | bytes], expected: Packet) -> None:
    assert decode_all(frames) == expected


def test_binary_reconstruction_across_calls() -> None:
    decoder = Decoder()
    encoded = Encoder().encode(Packet(T.EVENT, "/chat", ["files", [b"1", b"22"], {"x": b"333"}], 5))
    assert len(encoded) == 4
    assert decoder.add(encoded[0]) is None
    assert decoder.awaiting_attachments
    assert decoder.add(encoded[1]) is None
    assert decoder.add(bytearray(encoded[2])) is None  # type: ignore[arg-type]
    packet = decoder.add(memoryview(encoded[3]))  # type: ignore[arg-type]
    assert packet == Packet(T.EVENT, "/chat", ["files", [b"1", b"22"], {"x": b"333"}], 5)
    assert packet is not None
    assert all(type(b) is bytes for b in (*packet.data[1], packet.data[2]["x"]))
    # the decoder is ready for the next packet
    assert decoder.add('2["next"]') == Packet(T.EVENT, "/", ["next"])


def test_encode_accepts_every_buffer_type() -> None:
    frames = Encoder().encode(Packet(T.EVENT, "/", ["b", bytearray(b"ba"), memoryview(b"mv")]))
    assert frames == [
        '52-["b",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
        b"ba",
        b"mv",
    ]
    assert all(type(frame) is bytes for frame in frames[1:])


def test_reset_drops_partial_packet() -> None:
    decoder = Decoder()
    assert decoder.add('51-["a",{"_placeholder":true,"num":0}]') is None
    decoder.reset()
    assert not decoder.awaiting_attachments
    assert decoder.add('2["b"]') == Packet(T.EVENT, "/", ["b"])
    with pytest.raises(SocketProtocolError):
        decoder.add(b"late attachment")


def test_error_drops_partial_packet() -> None:
    decoder = Decoder()
    decoder.add('52-["a",{"_placeholder":true,"num":0}]')
    with pytest.raises(SocketProtocolError, match="reconstructing"):
        decoder.add('2["b"]')
    assert not decoder.awaiting_attachments
    assert decoder.add('2["b"]') == Packet(T.EVENT, "/", ["b"])


def test_max_buffered_bytes() -> None:
    decoder = Decoder(max_buffered_bytes=10)
    decoder.add('62-[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    assert decoder.add(b"x" * 6) is None
    with pytest.raises(SocketProtocolError, match="limit"):
        decoder.add(b"y" * 5)
    assert not decoder.awaiting_attachments
    decoder.add('62-[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    assert decoder.add(b"x" * 5) is None
    assert decoder.add(b"y" * 5) == Packet(T.ACK, "/", [b"x" * 5, b"y" * 5])


def test_max_attachments() -> None:
    text = "5{n}-[" + ",".join(['"a"'] + [f'{{"_placeholder":true,"num":{i}}}' for i in range(11)])
    assert Decoder().add(text.replace("{n}", "10") + "]") is None
    with pytest.raises(SocketProtocolError, match="too many attachments"):
        Decoder().add(text.replace("{n}", "11") + "]")
    assert Decoder(max_attachments=11).add(text.replace("{n}", "11") + "]") is None


RESERVED: list[tuple[list[str | bytes], str]] = [
    ([f'2["{name}"]'], "reserved event name") for name in sorted(RESERVED_EVENTS)
]
MALFORMED: list[tuple[list[str | bytes], str]] = [
    ([""], "empty packet"),
    (["7"], "unknown packet type"),
    (["a"], "unknown packet type"),
    (["\u0662[]"], "unknown packet type"),  # a non-ASCII digit
    # namespace / payload layout
    (['2admin,["a"]'], "not JSON"),
    (['2/admin["a"]'], "needs a payload"),
    # EVENT payloads
    (["2"], "needs a payload"),
    (["2/admin,"], "needs a payload"),
    (["2[]"], "non-empty array"),
    (['2{"a":1}'], "non-empty array"),
    (['2"hello"'], "non-empty array"),
    (["2[null]"], "string or a number"),
    (["2[true]"], "string or a number"),
    (['2[["a"]]'], "string or a number"),
    *RESERVED,
    # ACK payloads
    (["3"], "needs a payload"),
    (["31"], "needs a payload"),
    (['31{"a":1}'], "ack payload must be an array"),
    (["31null"], "ack payload must be an array"),
    # CONNECT / CONNECT_ERROR / DISCONNECT payloads
    (["0[]"], "connect payload must be an object"),
    (['0"token"'], "connect payload must be an object"),
    (["0null"], "connect payload must be an object"),
    (["4"], "needs a payload"),
    (["4[]"], "string or an object"),
    (["442"], "needs a payload"),
    (["1{}"], "disconnect packet takes no payload"),
    (["1/admin,null"], "disconnect packet takes no payload"),
    # ack ids
    ([f'2{MAX_ACK_ID + 1}["a"]'], "ack id"),
    (['21234567890123456789012["a"]'], "ack id"),
    (['2-1["a"]'], "not JSON"),
    (['21.5["a"]'], "not JSON"),
    (['2\u0661["a"]'], "not JSON"),  # a non-ASCII digit is no ack id
    # JSON
    (['2["a"'], "not JSON"),
    (['2["a"]x'], "not JSON"),
    (['2["a"]["b"]'], "not JSON"),
    (["2[NaN]"], "not JSON"),
    (['2["\\ud800"]x'], "not JSON"),
    (["2" + "[" * 2000 + "]" * 2000], "not JSON"),
    (['2["\ud800"]'], "not JSON"),  # a lone surrogate cannot be UTF-8
    # attachments count
    (['5-["a"]'], "illegal attachments"),
    (['5["a"]'], "illegal attachments"),
    (['50-["a"]'], "illegal attachments"),
    (['5x-["a"]'], "illegal attachments"),
    (['5-1-["a"]'], "illegal attachments"),
    (['51.0-["a"]'], "illegal attachments"),
    (['5 1-["a"]'], "illegal attachments"),
    (['511-["a"]'], "too many attachments"),
    (['599999999999999999999-["a"]'], "illegal attachments"),
    (['61-{"a":1}'], "ack payload must be an array"),
    (['51-["connect",{"_placeholder":true,"num":0}]'], "reserved event name"),
    # sequencing
    ([b"\x00"], "not reconstructing"),
    (['51-["a",{"_placeholder":true,"num":0}]', '2["a"]'], "reconstructing"),
    (['52-["a",{"_placeholder":true,"num":0}]', b"x", '2["a"]'], "reconstructing"),
    # placeholders
    (['51-["a",{"_placeholder":true,"num":1}]', b"x"], "illegal attachments"),
    (['51-["a",{"_placeholder":true,"num":-1}]', b"x"], "illegal attachments"),
    (['51-["a",{"_placeholder":true,"num":"0"}]', b"x"], "illegal attachments"),
    (['51-["a",{"_placeholder":true,"num":0.0}]', b"x"], "illegal attachments"),
    (['51-["a",{"_placeholder":true,"num":false}]', b"x"], "illegal attachments"),
    (['51-["a",{"_placeholder":true}]', b"x"], "illegal attachments"),
    (['61-[{"k":[{"_placeholder":true,"num":5}]}]', b"x"], "illegal attachments"),
]


@pytest.mark.parametrize(("frames", "match"), MALFORMED)
def test_malformed(frames: list[str | bytes], match: str) -> None:
    decoder = Decoder()
    for frame in frames[:-1]:
        assert decoder.add(frame) is None
    with pytest.raises(SocketProtocolError, match=match):
        decoder.add(frames[-1])
    assert not decoder.awaiting_attachments


def test_unexpected_frame_type() -> None:
    with pytest.raises(SocketProtocolError):
        Decoder().add(123)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("packet", "error"),
    [
        (Packet(T.EVENT, "admin", ["a"]), ValueError),
        (Packet(T.EVENT, "/a,b", ["a"]), ValueError),
        (Packet(T.CONNECT, "", None), ValueError),
        (Packet(T.EVENT, "/", ["a"], -1), ValueError),
        (Packet(T.EVENT, "/", ["a"], MAX_ACK_ID + 1), ValueError),
        (Packet(T.ACK, "/", ["a"], True), ValueError),
        (Packet(T.EVENT, "/", None), TypeError),
        (Packet(T.EVENT, "/", "hello"), TypeError),
        (Packet(T.EVENT, "/", ["a", object()]), TypeError),
        (Packet(T.CONNECT, "/", {"a": b"bytes only travel in events and acks"}), TypeError),
        (Packet(9, "/", None), ValueError),  # type: ignore[arg-type]
    ],
)
def test_encode_rejects_bad_packets(packet: Packet, error: type[Exception]) -> None:
    with pytest.raises(error):
        Encoder().encode(packet)


def test_encode_json_fallbacks() -> None:
    encoder = Encoder()
    big = 2**70
    assert encoder.encode(Packet(T.EVENT, "/", ["a", big])) == [f'2["a",{big}]']
    assert encoder.encode(Packet(T.EVENT, "/", ["a", big, b"x"])) == [
        f'51-["a",{big},{{"_placeholder":true,"num":0}}]',
        b"x",
    ]
    assert encoder.encode(Packet(T.EVENT, "/", ("a", {1: (2,)}))) == ['2["a",{"1":[2]}]']
    assert encoder.encode(Packet(T.ACK, "/", [{"s": frozenset([1])}], 1)) == ['31[{"s":[1]}]']
    assert encoder.encode(Packet(T.EVENT, "/", ["a", float("nan")])) == ['2["a",null]']


def test_binary_packet_types_are_normalised_on_encode() -> None:
    encoder = Encoder()
    assert encoder.encode(Packet(T.BINARY_EVENT, "/", ["a"])) == ['2["a"]']
    assert encoder.encode(Packet(T.BINARY_ACK, "/", [b"x"], 2)) == [
        '61-2[{"_placeholder":true,"num":0}]',
        b"x",
    ]


@pytest.mark.parametrize(
    ("nsp", "data", "ack_id"),
    [
        ("/", ["hello", 1], None),
        ("/admin", ["project:delete", 123], 456),
        ("/", ["a", {"b": [1, None]}], 0),
        ("/", ["a", 2**70], None),
        ("/x", ("tuple", {"s"}), 3),
    ],
)
def test_encode_event_text_matches_encoder(nsp: str, data: list[Any], ack_id: int | None) -> None:
    assert [encode_event_text(nsp, data, ack_id)] == Encoder().encode(
        Packet(T.EVENT, nsp, data, ack_id)
    )


@pytest.mark.parametrize(
    ("nsp", "args", "ack_id"),
    [("/", [], 0), ("/", ["ok", 1], 7), ("/admin", [{"b": [1, None]}], 456), ("/", [2**70], 3)],
)
def test_encode_ack_text_matches_encoder(nsp: str, args: list[Any], ack_id: int) -> None:
    assert [encode_ack_text(nsp, args, ack_id)] == Encoder().encode(
        Packet(T.ACK, nsp, args, ack_id)
    )
    assert encode_ack_text(nsp, [*args, b"bin"], ack_id) is None


@pytest.mark.parametrize(
    "data", [["a", b"x"], ["a", {"k": [bytearray(b"x")]}], ["a", 2**70, memoryview(b"x")]]
)
def test_encode_event_text_declines_binary(data: list[Any]) -> None:
    assert encode_event_text("/", data) is None


def test_encode_event_text_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError):
        encode_event_text("/", "hello")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="namespace"):
        encode_event_text("nsp", ["a"])


def test_default_parser() -> None:
    first, second = DEFAULT_PARSER.decoder(), DEFAULT_PARSER.decoder()
    assert first is not second
    assert DEFAULT_PARSER.encoder() is DEFAULT_PARSER.encoder()
    frames = DEFAULT_PARSER.encoder().encode(Packet(T.EVENT, "/", ["a", b"b"]))
    first.add(frames[0])
    assert first.awaiting_attachments
    assert not second.awaiting_attachments
    assert first.add(frames[1]) == Packet(T.EVENT, "/", ["a", b"b"])


@pytest.mark.parametrize(
    "kwargs", [{"max_attachments": -1}, {"max_attachments": "10"}, {"max_buffered_bytes": -5}]
)
def test_decoder_rejects_bad_options(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="max_"):
        Decoder(**kwargs)


# ---------------------------------------------------------------------------------------------
# property tests

_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_keys = _text.filter(lambda k: k != "_placeholder")


def _nested(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=4)
        ),
        max_leaves=12,
    )


_json_plain = _nested(_scalars)
_json_with_bytes = _nested(_scalars | st.binary(max_size=16))
_nsp = st.sampled_from(["/", "/admin", "/a/b", "/é"]) | _text.map(
    lambda s: "/" + s.replace(",", "")
)
_ack_id = st.none() | st.integers(min_value=0, max_value=MAX_ACK_ID)
_event_name = _text.filter(lambda s: s not in RESERVED_EVENTS)


@given(
    nsp=_nsp,
    name=_event_name,
    args=st.lists(_json_with_bytes, max_size=4),
    ack_id=_ack_id,
    is_ack=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_round_trip(nsp: str, name: str, args: list[Any], ack_id: int | None, is_ack: bool) -> None:
    packet = (
        Packet(T.ACK, nsp, args, ack_id) if is_ack else Packet(T.EVENT, nsp, [name, *args], ack_id)
    )
    frames = Encoder().encode(packet)
    # Generated arguments may hold more buffers than the default limit of 10.
    assert decode_all(frames, Decoder(max_attachments=len(frames))) == packet
    text = encode_event_text(nsp, packet.data, ack_id)
    if len(frames) == 1 and not is_ack:
        assert text == frames[0]
    elif not is_ack:
        assert text is None


@given(
    ptype=st.sampled_from([T.CONNECT, T.CONNECT_ERROR, T.DISCONNECT]),
    nsp=_nsp,
    payload=st.dictionaries(_keys, _json_plain, max_size=3),
)
@settings(max_examples=100, deadline=None)
def test_round_trip_control_packets(ptype: PacketType, nsp: str, payload: dict[str, Any]) -> None:
    packet = Packet(ptype, nsp, None if ptype is T.DISCONNECT else payload)
    assert decode_all(Encoder().encode(packet)) == packet


_prefixes = st.sampled_from(
    ["", "0", "1", "2", "3", "4", "5", "6", "51-", "52-", "50-", "2/a,", "3/b,12", "61-/x,1", "21"]
)
_bodies = st.sampled_from(
    [
        '["a"]',
        "[]",
        "{}",
        '{"_placeholder":true,"num":0}',
        '["a",{"_placeholder":true,"num":0}]',
        "null",
        "",
    ]
)
_frames = st.one_of(
    st.text(max_size=30),
    st.binary(max_size=8),
    st.builds(lambda a, b, c: a + b + c, _prefixes, _bodies, st.text(max_size=3)),
)


@given(st.lists(_frames, max_size=8))
@settings(max_examples=500, deadline=None)
def test_fuzz_only_protocol_errors(frames: list[str | bytes]) -> None:
    decoder = Decoder(max_attachments=3, max_buffered_bytes=12)
    for frame in frames:
        try:
            packet = decoder.add(frame)
        except SocketProtocolError:
            continue
        if packet is not None:
            assert isinstance(packet.type, PacketType)
            assert packet.type not in (T.BINARY_EVENT, T.BINARY_ACK)
            assert packet.nsp.startswith("/")
