"""The embedded server's connection timeouts, over real sockets with sub-second values."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator

import pytest

import aiosio
from aiosio._http.frames import OP_TEXT
from aiosio.engine.server import EngineServer
from aiosio.serve import EmbeddedServer, serve

from ..echo_app import EchoApp
from ..raw_client import RawWebSocket

SHORT = 0.3


@pytest.fixture
def app() -> EchoApp:
    return EchoApp()


@pytest.fixture
async def server(app: EchoApp) -> AsyncIterator[EmbeddedServer]:
    async with await serve(
        app, headers_timeout=SHORT, keep_alive_timeout=SHORT, request_timeout=2 * SHORT
    ) as srv:
        yield srv


async def _open(server: EmbeddedServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", server.port)


async def _read_until_closed(
    reader: asyncio.StreamReader, limit: float = 5.0
) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    start = time.monotonic()
    data = await asyncio.wait_for(reader.read(), limit)
    return data, time.monotonic() - start


NODE_DEFAULTS = {"headers_timeout": 60.0, "keep_alive_timeout": 5.0, "request_timeout": 300.0}


def test_defaults_are_nodes() -> None:
    params = inspect.signature(serve).parameters
    assert {name: params[name].default for name in NODE_DEFAULTS} == NODE_DEFAULTS
    # The entry points leave them to the host (None), which takes serve's defaults.
    for fn in (aiosio.Server.listen, EngineServer.listen):
        params = inspect.signature(fn).parameters
        assert {name: params[name].default for name in NODE_DEFAULTS} == dict.fromkeys(
            NODE_DEFAULTS
        )


async def test_listen_without_timeouts_takes_nodes_defaults() -> None:
    io = aiosio.Server()
    await io.listen(0)
    try:
        listener = io._listener
        assert isinstance(listener, EmbeddedServer)
        host = listener._host
        assert {name: getattr(host, name) for name in NODE_DEFAULTS} == NODE_DEFAULTS
    finally:
        await io.close()


async def test_bad_timeouts_are_refused(app: EchoApp) -> None:
    with pytest.raises(ValueError, match="keep_alive_timeout"):
        await serve(app, keep_alive_timeout=0)


async def test_silent_connection_gets_408_and_close(
    server: EmbeddedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "aiosio.http")
    reader, writer = await _open(server)
    data, took = await _read_until_closed(reader)
    writer.close()
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"connection: close" in data
    assert SHORT * 0.8 <= took < SHORT + 2.0
    assert any("headers_timeout expired" in r.getMessage() for r in caplog.records)
    assert server.connection_count == 0


async def test_unfinished_headers_time_out(server: EmbeddedServer) -> None:
    reader, writer = await _open(server)
    writer.write(b"GET /engine.io/?EIO=4 HTTP/1.1\r\nHost: x\r\n")
    # Trickling more header bytes does not extend the deadline (a slowloris).
    for _ in range(3):
        await asyncio.sleep(SHORT / 4)
        writer.write(b"X-Slow: 1\r\n")
    data, _ = await _read_until_closed(reader)
    writer.close()
    assert data.startswith(b"HTTP/1.1 408 ")


async def test_idle_keep_alive_closes_quietly(
    server: EmbeddedServer, app: EchoApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "aiosio.http")
    reader, writer = await _open(server)
    writer.write(b"GET /engine.io/?a=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200 ")
    body = await asyncio.wait_for(reader.readexactly(3), 5)
    assert body == b"a=1"
    data, took = await _read_until_closed(reader)
    writer.close()
    assert data == b""  # no 408 for an idle keep-alive connection
    assert took < SHORT + 2.0
    assert any("keep_alive_timeout expired" in r.getMessage() for r in caplog.records)


async def test_requests_within_keep_alive_keep_the_connection(
    server: EmbeddedServer, app: EchoApp
) -> None:
    reader, writer = await _open(server)
    for i in range(4):
        writer.write(f"GET /engine.io/?i={i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert await asyncio.wait_for(reader.readexactly(3), 5) == f"i={i}".encode()
        await asyncio.sleep(SHORT / 2)  # idle, but less than keep_alive_timeout each time
    writer.close()
    assert len({r.client for r in app.requests}) == 1


async def test_slow_body_hits_request_timeout(server: EmbeddedServer) -> None:
    reader, writer = await _open(server)
    writer.write(b"POST /engine.io/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
    for _ in range(8):
        await asyncio.sleep(SHORT / 4)
        if writer.is_closing():
            break
        writer.write(b"x")
    data, _ = await _read_until_closed(reader)
    writer.close()
    assert data.startswith(b"HTTP/1.1 408 ")


async def test_held_request_is_not_timed(server: EmbeddedServer, app: EchoApp) -> None:
    _reader, writer = await _open(server)
    writer.write(b"GET /engine.io/hold HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.sleep(SHORT * 3)
    assert not app.aborted.is_set()
    assert server.connection_count == 1
    writer.close()
    await asyncio.wait_for(app.aborted.wait(), 5)


async def test_websocket_outlives_http_timeouts(server: EmbeddedServer, app: EchoApp) -> None:
    ws = await RawWebSocket.connect(server.port, "/engine.io/?EIO=4")
    await asyncio.sleep(SHORT * 3)
    ws.send(OP_TEXT, b"still here")
    assert await asyncio.wait_for(ws.recv_frame(), 5) == (OP_TEXT, b"still here")
    ws.close()


async def test_many_silent_connections_are_all_closed(app: EchoApp) -> None:
    # What used to exhaust file descriptors: connections that never send a byte.
    async with await serve(app, headers_timeout=1.0) as server:
        clients = await asyncio.gather(*(_open(server) for _ in range(300)))
        for _ in range(50):  # the server accepts them a little after the clients connected
            if server.connection_count == 300:
                break
            await asyncio.sleep(0.01)
        assert server.connection_count == 300
        answers = await asyncio.gather(*(_read_until_closed(reader) for reader, _ in clients))
        assert all(data.startswith(b"HTTP/1.1 408 ") for data, _ in answers)
        for _, writer in clients:
            writer.close()
        assert server.connection_count == 0
