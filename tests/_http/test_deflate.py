"""permessage-deflate (RFC 7692) on the embedded server: negotiation, both directions, the limits."""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import AsyncIterator

import pytest
import websockets

from aiosio._http.frames import OP_BINARY, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT
from aiosio._http.permessage import Deflate, negotiate, parse_extensions
from aiosio.engine.deflate import PerMessageDeflate
from aiosio.serve import EmbeddedServer, serve

from ..echo_app import EchoApp
from ..raw_client import RawWebSocket

LIMIT = 100_000
BIG = ('{"data":"' + "aiosio compresses this " * 100 + '"}').encode()  # 2.3 KB, compressible


def deflate(data: bytes, wbits: int = 15) -> bytes:
    """One message compressed as a client would send it (tail removed)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -wbits)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def inflate(data: bytes, state: zlib._Decompress | None = None) -> bytes:
    return (state or zlib.decompressobj(-15)).decompress(data + b"\x00\x00\xff\xff")


# -- negotiation (sans-I/O) -------------------------------------------------------------------


def accept(header: str, **options: object) -> Deflate | None:
    return negotiate(header, PerMessageDeflate(**options))  # type: ignore[arg-type]


def test_parse_extensions_handles_quotes_and_case() -> None:
    offers = parse_extensions(
        'foo; a="x,y", Permessage-Deflate; Client_Max_Window_Bits; server_max_window_bits="10"'
    )
    assert offers == [
        ("foo", [("a", "x,y")]),
        (
            "permessage-deflate",
            [("client_max_window_bits", None), ("server_max_window_bits", "10")],
        ),
    ]


def test_plain_offer_is_accepted_with_takeover() -> None:
    d = accept("permessage-deflate")
    assert d is not None
    assert d.response == "permessage-deflate"
    assert (d.server_bits, d.client_bits, d.server_takeover, d.client_takeover) == (
        15,
        15,
        True,
        True,
    )


def test_browser_offer_is_accepted() -> None:
    d = accept("permessage-deflate; client_max_window_bits")
    assert d is not None
    assert d.response == "permessage-deflate"


def test_client_requests_are_honoured() -> None:
    d = accept(
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=10; client_max_window_bits=12"
    )
    assert d is not None
    assert d.response == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=10; client_max_window_bits=12"
    )
    assert (d.server_bits, d.client_bits, d.server_takeover, d.client_takeover) == (
        10,
        12,
        False,
        False,
    )


def test_server_options_shape_the_answer() -> None:
    d = accept(
        "permessage-deflate; client_max_window_bits",
        server_max_window_bits=11,
        client_max_window_bits=9,
        server_no_context_takeover=True,
        client_no_context_takeover=True,
    )
    assert d is not None
    assert d.response == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=11; client_max_window_bits=9"
    )


@pytest.mark.parametrize(
    "header",
    [
        "permessage-deflate; unknown_param",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=8",  # zlib cannot deflate with 2**8
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; server_no_context_takeover=1",
        "x-webkit-deflate-frame",
    ],
)
def test_offers_the_server_cannot_honour_are_declined(header: str) -> None:
    assert accept(header) is None


def test_client_window_limit_declines_offers_without_the_parameter() -> None:
    assert accept("permessage-deflate", client_max_window_bits=10) is None
    d = accept(
        "permessage-deflate, permessage-deflate; client_max_window_bits", client_max_window_bits=10
    )
    assert d is not None
    assert d.response == "permessage-deflate; client_max_window_bits=10"


def test_first_acceptable_offer_wins() -> None:
    d = accept("permessage-deflate; bogus, permessage-deflate; server_max_window_bits=12")
    assert d is not None
    assert d.server_bits == 12


def test_option_parsing() -> None:
    assert PerMessageDeflate.from_option(False) is None
    assert PerMessageDeflate.from_option(None) is None
    assert PerMessageDeflate.from_option(True) == PerMessageDeflate()
    assert PerMessageDeflate.from_option({"threshold": 0}) == PerMessageDeflate(threshold=0)
    with pytest.raises(ValueError, match="unknown"):
        PerMessageDeflate.from_option({"treshold": 1})
    with pytest.raises(ValueError, match="server_max_window_bits"):
        PerMessageDeflate(server_max_window_bits=8)
    with pytest.raises(ValueError, match="client_max_window_bits"):
        PerMessageDeflate(client_max_window_bits=16)
    with pytest.raises(ValueError, match="threshold"):
        PerMessageDeflate(threshold=-1)
    with pytest.raises(TypeError):
        PerMessageDeflate.from_option("yes")  # type: ignore[arg-type]


def test_codec_round_trip_with_and_without_takeover() -> None:
    for takeover in (True, False):
        d = Deflate("permessage-deflate", server_takeover=takeover, client_takeover=takeover)
        state = zlib.decompressobj(-15)
        for _ in range(3):
            wire = d.compress(BIG)
            assert inflate(wire, state if takeover else None) == BIG
        client = zlib.compressobj(6, zlib.DEFLATED, -15)
        for _ in range(3):
            wire = client.compress(BIG) + client.flush(zlib.Z_SYNC_FLUSH)
            if not takeover:
                client = zlib.compressobj(6, zlib.DEFLATED, -15)
            assert d.decompress(wire[:-4], LIMIT) == BIG


# -- the embedded server ----------------------------------------------------------------------


@pytest.fixture
def options() -> PerMessageDeflate | None:
    return PerMessageDeflate()


@pytest.fixture
def app(options: PerMessageDeflate | None) -> EchoApp:
    return EchoApp(max_http_buffer_size=LIMIT, per_message_deflate=options)


@pytest.fixture
async def server(app: EchoApp) -> AsyncIterator[EmbeddedServer]:
    async with await serve(app) as srv:
        yield srv


async def test_large_messages_go_out_compressed(server: EmbeddedServer) -> None:
    ws = await RawWebSocket.connect(server.port, extensions="permessage-deflate")
    assert ws.header("sec-websocket-extensions") == "permessage-deflate"
    state = zlib.decompressobj(-15)
    for _ in range(3):  # context takeover: the second and third inflate with the same state
        ws.send(OP_TEXT, deflate(BIG), rsv1=True)
        opcode, payload = await ws.recv_frame()
        assert (opcode, ws.rsv1) == (OP_TEXT, True)
        assert len(payload) < len(BIG) // 10
        assert inflate(payload, state) == BIG
    ws.send(OP_TEXT, b"small")
    assert await ws.recv_frame() == (OP_TEXT, b"small")
    assert not ws.rsv1
    ws.send(OP_BINARY, bytes(5000))
    opcode, payload = await ws.recv_frame()
    assert (opcode, ws.rsv1) == (OP_BINARY, True)
    assert inflate(payload, state) == bytes(5000)
    ws.close()


async def test_compress_false_is_honoured(server: EmbeddedServer) -> None:
    ws = await RawWebSocket.connect(server.port, extensions="permessage-deflate")
    message = b"plain:" + BIG
    ws.send(OP_TEXT, message)
    assert await ws.recv_frame() == (OP_TEXT, message)
    assert not ws.rsv1
    ws.close()


async def test_control_frames_are_never_compressed(server: EmbeddedServer) -> None:
    ws = await RawWebSocket.connect(server.port, extensions="permessage-deflate")
    ws.send(OP_PING, b"x" * 100)
    assert await ws.recv_frame() == (OP_PONG, b"x" * 100)
    assert not ws.rsv1
    ws.send(OP_PING, deflate(b"x" * 100), rsv1=True)
    assert await ws.expect_close() == 1002
    ws.close()


async def test_fragmented_compressed_message(server: EmbeddedServer, app: EchoApp) -> None:
    ws = await RawWebSocket.connect(server.port, extensions="permessage-deflate")
    wire = deflate(BIG)
    third = len(wire) // 3
    ws.send(OP_TEXT, wire[:third], fin=False, rsv1=True)
    ws.send(OP_CONTINUATION, wire[third : 2 * third], fin=False)
    ws.send(OP_CONTINUATION, wire[2 * third :])
    _opcode, payload = await ws.recv_frame()
    assert inflate(payload) == BIG
    assert app.messages == [BIG.decode()]
    ws.send(OP_TEXT, b"abc", fin=False, rsv1=True)
    ws.send(OP_CONTINUATION, b"def", rsv1=True)  # RSV1 belongs to the first frame only
    assert await ws.expect_close() == 1002
    ws.close()


async def test_no_context_takeover_both_ways(server: EmbeddedServer, app: EchoApp) -> None:
    ws = await RawWebSocket.connect(
        server.port,
        extensions="permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    )
    assert ws.header("sec-websocket-extensions") == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    )
    for _ in range(2):
        ws.send(OP_TEXT, deflate(BIG), rsv1=True)  # a fresh stream each time
        _opcode, payload = await ws.recv_frame()
        assert inflate(payload) == BIG  # a fresh decompressor each time
    assert app.messages == [BIG.decode()] * 2
    ws.close()


async def test_small_window_is_respected(server: EmbeddedServer) -> None:
    ws = await RawWebSocket.connect(
        server.port, extensions="permessage-deflate; server_max_window_bits=9"
    )
    assert ws.header("sec-websocket-extensions") == "permessage-deflate; server_max_window_bits=9"
    state = zlib.decompressobj(-9)
    ws.send(OP_TEXT, deflate(BIG), rsv1=True)
    _opcode, payload = await ws.recv_frame()
    assert state.decompress(payload + b"\x00\x00\xff\xff") == BIG
    ws.close()


async def test_deflate_bomb_closes_that_connection(
    server: EmbeddedServer, app: EchoApp, caplog: pytest.LogCaptureFixture
) -> None:
    other = await RawWebSocket.connect(server.port, extensions="permessage-deflate")
    ws = await RawWebSocket.connect(server.port, extensions="permessage-deflate")
    bomb = deflate(bytes(50 * LIMIT))  # 5 MB of zeros in about 5 KB
    assert len(bomb) < LIMIT // 10
    with caplog.at_level(logging.WARNING, logger="aiosio.http"):
        ws.send(OP_BINARY, bomb, rsv1=True)
        assert await ws.expect_close() == 1009
    assert any("too big once inflated" in r.getMessage() for r in caplog.records)
    await asyncio.wait_for(app.disconnected.wait(), 5)
    assert app.errors == ["message too big once inflated"]
    # Exactly at the limit is fine, on the other connection.
    other.send(OP_BINARY, deflate(bytes(LIMIT)), rsv1=True)
    _opcode, payload = await other.recv_frame()
    assert inflate(payload) == bytes(LIMIT)
    other.close()
    ws.close()


async def test_malformed_compressed_data_closes_with_1007(
    server: EmbeddedServer, app: EchoApp, caplog: pytest.LogCaptureFixture
) -> None:
    ws = await RawWebSocket.connect(server.port, extensions="permessage-deflate")
    with caplog.at_level(logging.WARNING, logger="aiosio.http"):
        ws.send(OP_TEXT, b"\xff\xfe\xfd not deflate", rsv1=True)
        assert await ws.expect_close() == 1007
    assert any("invalid compressed data" in r.getMessage() for r in caplog.records)
    ws.close()


async def test_compressed_invalid_utf8_closes_with_1007(server: EmbeddedServer) -> None:
    ws = await RawWebSocket.connect(server.port, extensions="permessage-deflate")
    ws.send(OP_TEXT, deflate(b"\xff" * 2000), rsv1=True)
    assert await ws.expect_close() == 1007
    ws.close()


async def test_unoffered_connection_gets_no_extension(server: EmbeddedServer) -> None:
    ws = await RawWebSocket.connect(server.port)
    assert ws.header("sec-websocket-extensions") is None
    ws.send(OP_TEXT, BIG)
    _opcode, payload = await ws.recv_frame()
    assert (payload, ws.rsv1) == (BIG, False)
    ws.send(OP_TEXT, deflate(BIG), rsv1=True)
    assert await ws.expect_close() == 1002
    ws.close()


@pytest.mark.parametrize("options", [None])
async def test_option_off_declines_offers(server: EmbeddedServer) -> None:
    ws = await RawWebSocket.connect(server.port, extensions="permessage-deflate")
    assert ws.header("sec-websocket-extensions") is None
    ws.send(OP_TEXT, deflate(BIG), rsv1=True)
    assert await ws.expect_close() == 1002
    ws.close()


@pytest.mark.parametrize("options", [PerMessageDeflate(threshold=0)])
async def test_websockets_client_interoperates(server: EmbeddedServer, app: EchoApp) -> None:
    """The ``websockets`` package's client (its own permessage-deflate) against the server."""
    async with websockets.connect(f"ws://127.0.0.1:{server.port}/engine.io/") as ws:
        assert ws.response is not None
        assert "permessage-deflate" in ws.response.headers["sec-websocket-extensions"]
        for message in ("hello", BIG.decode(), "x" * 70_000):
            await ws.send(message)
            assert await ws.recv() == message
        await ws.send(b"\x00\x01" * 3000)
        assert await ws.recv() == b"\x00\x01" * 3000
    assert app.messages[:3] == ["hello", BIG.decode(), "x" * 70_000]


def test_engine_and_server_take_the_option() -> None:
    from aiosio import Server
    from aiosio.engine.server import EngineServer

    assert EngineServer().per_message_deflate is None
    assert EngineServer(per_message_deflate=True).per_message_deflate == PerMessageDeflate()
    engine = EngineServer(per_message_deflate={"threshold": 10, "server_no_context_takeover": True})
    assert engine.per_message_deflate == PerMessageDeflate(
        threshold=10, server_no_context_takeover=True
    )
    io = Server(per_message_deflate=PerMessageDeflate(level=1))
    assert io.engine.per_message_deflate == PerMessageDeflate(level=1)
    with pytest.raises(ValueError, match="unknown"):
        EngineServer(per_message_deflate={"window": 9})
