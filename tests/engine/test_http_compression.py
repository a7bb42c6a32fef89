"""``http_compression``: polling responses compressed as Accept-Encoding asks, read by real clients."""

from __future__ import annotations

import gzip
import json
import zlib

import httpx
import pytest

from aiosio.engine.compression import HttpCompression, preferred_encoding
from tests.conftest import EngineStarter, NodeStarter
from tests.support.engine import EngineUnderTest

BIG = "compressible " * 400  # 5,200 characters


async def open_session(http: httpx.AsyncClient, eut: EngineUnderTest) -> str:
    response = await http.get(f"{eut.base_url}/engine.io/?EIO=4&transport=polling")
    sid: str = json.loads(response.text[1:])["sid"]
    return sid


async def poll_raw(
    http: httpx.AsyncClient, eut: EngineUnderTest, sid: str, accept: str
) -> tuple[str | None, bytes]:
    """One GET; the Content-Encoding and the body as it came over the wire."""
    url = f"{eut.base_url}/engine.io/?EIO=4&transport=polling&sid={sid}"
    async with http.stream("GET", url, headers={"Accept-Encoding": accept}) as response:
        assert response.status_code == 200
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        return response.headers.get("content-encoding"), raw


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("gzip, deflate", "gzip"),
        ("deflate", "deflate"),
        ("deflate, gzip", "deflate"),
        ("gzip;q=0.5, deflate", "deflate"),
        ("*", "gzip"),
        ("gzip;q=0, *", "deflate"),
        ("identity", None),
        ("br", None),
    ],
)
async def test_large_polling_responses_are_compressed(
    engine: EngineStarter, accept: str, expected: str | None
) -> None:
    eut = await engine()
    async with httpx.AsyncClient() as http:
        sid = await open_session(http, eut)
        await eut.send(sid, BIG)
        encoding, raw = await poll_raw(http, eut, sid, accept)
    assert encoding == expected
    if expected == "gzip":
        raw = gzip.decompress(raw)
    elif expected == "deflate":
        raw = zlib.decompress(raw)
    assert raw.decode() == "4" + BIG
    if expected is not None:
        assert len(raw) > 4 * len(gzip.compress(raw))


async def test_threshold_and_off(engine: EngineStarter) -> None:
    eut = await engine(http_compression={"threshold": 20_000})
    off = await engine(http_compression=False)
    async with httpx.AsyncClient() as http:
        for server in (eut, off):
            sid = await open_session(http, server)
            await server.send(sid, BIG)
            encoding, raw = await poll_raw(http, server, sid, "gzip")
            assert encoding is None
            assert raw.decode() == "4" + BIG
        # Under the default threshold (1024 bytes) nothing is compressed either.
        small = await engine()
        sid = await open_session(http, small)
        await small.send(sid, "x" * 1000)
        encoding, raw = await poll_raw(http, small, sid, "gzip")
        assert encoding is None


async def test_compress_flag_false_keeps_the_payload_plain(engine: EngineStarter) -> None:
    eut = await engine()
    if eut.engine is None:
        pytest.skip("the compress flag is sent through aiosio's own API")
    async with httpx.AsyncClient() as http:
        sid = await open_session(http, eut)
        socket = eut.engine.clients[sid]
        socket.send(BIG, compress=False)
        encoding, raw = await poll_raw(http, eut, sid, "gzip")
        assert encoding is None
        assert raw.decode() == "4" + BIG
        # One packet allowing compression is enough for the whole payload, as in the reference.
        socket.send(BIG, compress=False)
        socket.send("small")
        encoding, raw = await poll_raw(http, eut, sid, "gzip")
        assert encoding == "gzip"
        assert gzip.decompress(raw).decode() == "4" + BIG + "\x1e4small"


async def test_official_client_over_fetch_reads_compressed_payloads(
    engine: EngineStarter, node: NodeStarter
) -> None:
    eut = await engine()
    config = {"url": eut.base_url, "options": {"transports": ["fetch"]}}
    client = await node("eio_client", json.dumps(config))
    opened = await client.expect_event("open")
    sid = opened["id"]
    await eut.expect_event("connection", sid=sid)
    for i in range(3):
        await eut.send(sid, f"{i}{BIG}")
    for i in range(3):
        assert (await client.expect_event("message"))["data"] == f"{i}{BIG}"
    await client.send("send", data=BIG)
    assert (await eut.expect_event("message", sid=sid))["data"] == BIG


def test_negotiation_table() -> None:
    assert preferred_encoding(None) is None
    assert preferred_encoding("") is None
    assert preferred_encoding("gzip;q=0.8, deflate;q=0.9") == "deflate"
    assert preferred_encoding("GZIP") == "gzip"
    assert preferred_encoding("gzip;q=0, deflate;q=0") is None
    assert preferred_encoding("*;q=0") is None


def test_options() -> None:
    assert HttpCompression.from_option(True) == HttpCompression(1024, -1)
    assert HttpCompression.from_option(False) is None
    assert HttpCompression.from_option({"threshold": 10, "level": 9}) == HttpCompression(10, 9)
    with pytest.raises(ValueError, match="unknown"):
        HttpCompression.from_option({"thresold": 10})
    with pytest.raises(ValueError, match="level"):
        HttpCompression.from_option({"level": 12})
