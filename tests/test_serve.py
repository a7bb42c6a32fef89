"""The embedded server, driven by real clients (httpx, aiohttp, websockets) and raw sockets."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable

import aiohttp
import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from aiosio._http.frames import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, encode_frame
from aiosio.engine.http import Request, Response
from aiosio.serve import EmbeddedServer, run, serve

from .echo_app import EchoApp
from .raw_client import RawWebSocket, exchange


@pytest.fixture
def app() -> EchoApp:
    return EchoApp(max_http_buffer_size=100_000)


@pytest.fixture
async def server(app: EchoApp) -> AsyncIterator[EmbeddedServer]:
    async with await serve(app) as srv:
        yield srv


def url(server: EmbeddedServer, path: str = "/engine.io/") -> str:
    return f"http://127.0.0.1:{server.port}{path}"


def ws_url(server: EmbeddedServer, query: str = "EIO=4") -> str:
    return f"ws://127.0.0.1:{server.port}/engine.io/?{query}"


# -- HTTP --


async def test_get_post_and_keep_alive(server: EmbeddedServer, app: EchoApp) -> None:
    async with httpx.AsyncClient() as client:
        r1 = await client.get(url(server), params={"EIO": "4", "t": "x"})
        r2 = await client.post(url(server), content=b"hello")
        r3 = await client.head(url(server))
    assert (r1.status_code, r1.text) == (200, "EIO=4&t=x")
    assert (r2.status_code, r2.content) == (200, b"hello")
    assert r3.status_code == 200
    assert r3.headers["content-length"] == "0"
    assert "date" in r1.headers
    first, second, third = app.requests
    assert first.client == second.client == third.client  # one connection, kept alive
    assert first.headers["host"] == f"127.0.0.1:{server.port}"
    assert first.query == {"EIO": "4", "t": "x"}
    assert second.method == "POST"


async def test_aiohttp_client(server: EmbeddedServer) -> None:
    async with aiohttp.ClientSession() as session:
        for i in range(3):
            async with session.post(url(server), data=f"n{i}".encode()) as resp:
                assert resp.status == 200
                assert await resp.read() == f"n{i}".encode()


async def test_pipelined_requests_answer_in_order(server: EmbeddedServer) -> None:
    data = await exchange(
        server.port,
        b"GET /engine.io/later?a HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /engine.io/?b HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /engine.io/?c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert data.count(b"HTTP/1.1 200 OK") == 3
    assert data.index(b"later:a") < data.index(b"\r\n\r\nb") < data.index(b"\r\n\r\nc")


async def test_chunked_body(server: EmbeddedServer) -> None:
    async def body() -> AsyncIterator[bytes]:
        for part in (b"one,", b"two,", b"three"):
            yield part

    async with httpx.AsyncClient() as client:
        response = await client.post(url(server), content=body())
    assert response.content == b"one,two,three"


async def test_oversize_body_gets_the_engine_answer_then_close(
    server: EmbeddedServer, app: EchoApp
) -> None:
    data = await exchange(
        server.port,
        b"POST /engine.io/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100001\r\n\r\n"
        + b"x" * 100_001
        + b"GET /engine.io/ HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    assert data.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in data
    assert data.count(b"HTTP/1.1") == 1
    assert app.requests[-1].body_too_large
    assert app.requests[-1].body == b""


@pytest.mark.parametrize(
    "garbage",
    [b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", b"GET /\x00 HTTP/1.1\r\n\r\n"],
)
async def test_malformed_request_is_400_and_close(server: EmbeddedServer, garbage: bytes) -> None:
    data = await exchange(server.port, garbage)
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"connection: close" in data


async def test_headers_too_large_is_431(server: EmbeddedServer) -> None:
    big = b"x-big: " + b"a" * 20_000 + b"\r\n"
    data = await exchange(server.port, b"GET /engine.io/ HTTP/1.1\r\n" + big + b"\r\n")
    assert data.startswith(b"HTTP/1.1 431 ")
    # the same limit holds when the header trickles in over many reads
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /engine.io/ HTTP/1.1\r\nx-big: ")
    for _ in range(30):
        writer.write(b"a" * 1000)
        await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert data.startswith(b"HTTP/1.1 431 ")


async def test_other_paths_are_404(server: EmbeddedServer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(url(server, "/other"))
    assert response.status_code == 404


async def test_fallback_handler(app: EchoApp) -> None:
    def fallback(request: Request, respond: Callable[[Response], None]) -> None:
        respond(Response(200, [("content-type", "text/plain")], f"fb:{request.path}".encode()))

    async with await serve(app, fallback=fallback) as srv, httpx.AsyncClient() as client:
        assert (await client.get(url(srv, "/index.html"))).text == "fb:/index.html"
        assert (await client.get(url(srv, "/engine.io/?q"))).text == "q"


async def test_handler_exception_is_500(server: EmbeddedServer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(url(server, "/engine.io/boom"))
    assert response.status_code == 500


async def test_abort_callback_when_client_leaves(server: EmbeddedServer, app: EchoApp) -> None:
    _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /engine.io/hold HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    await asyncio.wait_for(app.wait_requests(1), 5)
    assert not app.aborted.is_set()
    writer.close()
    await asyncio.wait_for(app.aborted.wait(), 5)


# -- WebSocket --


async def test_websocket_echo_text_binary_and_64k(server: EmbeddedServer, app: EchoApp) -> None:
    big = os.urandom(64 * 1024)
    async with websockets.connect(ws_url(server), max_size=None) as ws:
        await ws.send("héllo")
        assert await ws.recv() == "héllo"
        await ws.send(b"\x00\x01")
        assert await ws.recv() == b"\x00\x01"
        await ws.send(big)
        assert await ws.recv() == big
        await ws.send("burst")
        assert [await ws.recv() for _ in range(3)] == ["part0", "part1", "part2"]
    await asyncio.wait_for(app.disconnected.wait(), 5)
    assert app.disconnects == 1
    assert app.requests[0].query == {"EIO": "4"}
    assert app.requests[0].headers["upgrade"] == "websocket"


async def test_fragmented_messages(server: EmbeddedServer, app: EchoApp) -> None:
    async with websockets.connect(ws_url(server)) as ws:
        await ws.send(["frag", "men", "ted"])
        assert await ws.recv() == "fragmented"
        await ws.send([b"\x01", b"\x02"])
        assert await ws.recv() == b"\x01\x02"


async def test_small_frames_split_and_batched(server: EmbeddedServer) -> None:
    # Small text frames take a shortcut when one arrives alone and whole; every other shape of
    # arrival (split, batched, behind a partial frame) must read the same messages.
    raw = await RawWebSocket.connect(server.port)
    frame = encode_frame(OP_TEXT, b"split me", mask=b"wxyz")
    for i in range(len(frame)):
        raw.send_raw(frame[i : i + 1])
        await raw.writer.drain()
        await asyncio.sleep(0)
    assert await raw.recv_frame() == (OP_TEXT, b"split me")
    batch = b"".join(encode_frame(OP_TEXT, b"m%d" % i, mask=b"abcd") for i in range(3))
    raw.send_raw(batch + frame[:3])
    await raw.writer.drain()
    await asyncio.sleep(0.01)
    raw.send_raw(frame[3:])
    assert [await raw.recv_frame() for _ in range(4)] == [
        (OP_TEXT, b"m0"),
        (OP_TEXT, b"m1"),
        (OP_TEXT, b"m2"),
        (OP_TEXT, b"split me"),
    ]
    raw.send(OP_TEXT, "é".encode() * 62)  # 124 bytes: the largest 7-bit-length shape
    assert await raw.recv_frame() == (OP_TEXT, "é".encode() * 62)
    raw.close()


async def test_ping_pong(server: EmbeddedServer) -> None:
    async with websockets.connect(ws_url(server)) as ws:
        waiter = await ws.ping(b"are you there")
        await asyncio.wait_for(waiter, 5)
    raw = await RawWebSocket.connect(server.port)
    raw.send(OP_PING, b"xyz")
    assert await raw.recv_frame() == (OP_PONG, b"xyz")
    raw.close()


async def test_server_side_close_code(server: EmbeddedServer, app: EchoApp) -> None:
    async with websockets.connect(ws_url(server)) as ws:
        await ws.send("close:4001")
        with pytest.raises(websockets.ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 4001
    await asyncio.wait_for(app.disconnected.wait(), 5)
    assert app.disconnects == 1


async def test_message_too_big_is_1009(server: EmbeddedServer, app: EchoApp) -> None:
    async with websockets.connect(ws_url(server)) as ws:
        await ws.send(b"x" * 100_001)
        with pytest.raises(ConnectionClosedError) as info:
            await ws.recv()
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1009
    await asyncio.wait_for(app.disconnected.wait(), 5)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (encode_frame(OP_TEXT, b"not masked"), 1002),
        (encode_frame(OP_TEXT, b"\xc3\x28", mask=b"abcd"), 1007),
        (encode_frame(0x5, b"x", mask=b"abcd"), 1002),
        (bytes((0x80 | 0x40 | OP_TEXT, 0x80)) + b"abcd", 1002),
    ],
)
async def test_protocol_errors_close_with_code(
    server: EmbeddedServer, app: EchoApp, frame: bytes, code: int
) -> None:
    raw = await RawWebSocket.connect(server.port)
    raw.send(OP_TEXT, b"before")
    assert await raw.recv_frame() == (OP_TEXT, b"before")
    raw.send_raw(frame)
    assert await raw.expect_close() == code
    raw.send(OP_CLOSE, code.to_bytes(2, "big"))
    assert await asyncio.wait_for(raw.reader.read(), 5) == b""  # the server closes TCP
    raw.close()
    await asyncio.wait_for(app.disconnected.wait(), 5)
    assert app.messages == ["before"]


async def test_client_close_is_echoed(server: EmbeddedServer, app: EchoApp) -> None:
    raw = await RawWebSocket.connect(server.port)
    raw.send(OP_CLOSE, (4321).to_bytes(2, "big") + b"bye")
    assert await raw.expect_close() == 4321
    raw.close()
    await asyncio.wait_for(app.disconnected.wait(), 5)


async def test_frames_sent_with_the_handshake(server: EmbeddedServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"GET /engine.io/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        + encode_frame(OP_BINARY, b"early", mask=b"wxyz")
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
    raw = RawWebSocket(reader, writer)
    assert await raw.recv_frame() == (OP_BINARY, b"early")
    raw.close()


@pytest.mark.parametrize(
    "headers",
    [
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n",
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: short\r\n",
    ],
)
async def test_bad_handshake_is_400(server: EmbeddedServer, headers: bytes) -> None:
    request = b"GET /engine.io/ HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n"
    data = await exchange(server.port, request)
    assert data.startswith(b"HTTP/1.1 400 ")


async def test_engine_rejects_upgrade(server: EmbeddedServer) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(ws_url(server, "reject=1")):
            pass
    assert info.value.response.status_code == 401
    assert info.value.response.body == b"go away"


async def test_many_websockets_and_buffered_amount(server: EmbeddedServer, app: EchoApp) -> None:
    clients = [await websockets.connect(ws_url(server)) for _ in range(20)]
    for i, ws in enumerate(clients):
        await ws.send(f"m{i}")
    assert [await ws.recv() for ws in clients] == [f"m{i}" for i in range(20)]
    assert server.connection_count == 20
    for ws in clients:
        await ws.close()


# -- shutdown and loops --


async def test_graceful_close(app: EchoApp) -> None:
    srv = await serve(app)
    async with httpx.AsyncClient() as idle_client:
        await idle_client.get(url(srv))  # leaves an idle keep-alive connection
        ws = await websockets.connect(ws_url(srv))
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"GET /engine.io/later?inflight HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        await asyncio.wait_for(app.wait_requests(3), 5)
        await srv.close(timeout=2)
        assert srv.connection_count == 0
        data = await reader.read()
        assert data.endswith(b"later:inflight")
        assert b"connection: close" in data
        with pytest.raises(websockets.ConnectionClosed) as info:
            await ws.recv()
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == 1001
        writer.close()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", srv.port)


def test_runs_on_uvloop() -> None:
    result: list[object] = []

    async def main() -> str:
        loop_name = type(asyncio.get_running_loop()).__module__
        app = EchoApp()
        async with await serve(app) as srv:
            async with websockets.connect(ws_url(srv)) as ws:
                await ws.send(b"u" * 70_000)
                assert await ws.recv() == b"u" * 70_000
            async with httpx.AsyncClient() as client:
                assert (await client.post(url(srv), content=b"uv")).text == "uv"
        return loop_name

    thread = threading.Thread(target=lambda: result.append(run(main())))
    thread.start()
    thread.join(30)
    assert result
    assert str(result[0]).startswith("uvloop")


async def test_engine_handshake_headers_reach_the_101_response() -> None:
    from aiosio import EngineServer

    eng = EngineServer(cookie=True)
    port = await eng.listen(0)
    try:
        url = f"ws://127.0.0.1:{port}/engine.io/?EIO=4&transport=websocket"
        async with websockets.connect(url) as ws:
            opened = await ws.recv()
            assert isinstance(opened, str)
            sid = opened.split('"sid":"')[1].split('"')[0]
            assert ws.response is not None
            cookie = ws.response.headers["Set-Cookie"]
            assert cookie == f"io={sid}; Path=/; HttpOnly; SameSite=Lax"
    finally:
        await eng.close()
