"""The ASGI host under real uvicorn and hypercorn servers, alone and mounted in Starlette."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from aiosio.asgi import ASGI3App, ASGIApp

from .echo_app import EchoApp


@contextlib.asynccontextmanager
async def uvicorn_server(app: ASGI3App) -> AsyncIterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def hypercorn_server(app: ASGI3App) -> AsyncIterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = HypercornConfig()
    config.bind = [f"127.0.0.1:{port}"]
    config.loglevel = "WARNING"
    shutdown = asyncio.Event()
    task = asyncio.create_task(hypercorn_serve(app, config, shutdown_trigger=shutdown.wait))  # type: ignore[arg-type]
    for _ in range(500):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.01)
            continue
        writer.close()
        break
    try:
        yield port
    finally:
        shutdown.set()
        await task


SERVERS = {"uvicorn": uvicorn_server, "hypercorn": hypercorn_server}


@pytest.fixture
def app() -> EchoApp:
    return EchoApp(max_http_buffer_size=100_000)


@pytest.fixture(params=sorted(SERVERS))
async def port(request: pytest.FixtureRequest, app: EchoApp) -> AsyncIterator[int]:
    async with SERVERS[request.param](ASGIApp(app)) as bound:
        yield bound


async def test_http_get_post_chunked_and_404(port: int, app: EchoApp) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"a,"
        yield b"b"

    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base) as client:
        r1 = await client.get("/engine.io/", params={"EIO": "4"})
        r2 = await client.post("/engine.io/", content=b"hello")
        r3 = await client.post("/engine.io/", content=body())
        r4 = await client.get("/nope")
        r5 = await client.get("/engine.io/boom")
    assert (r1.status_code, r1.text, r1.headers["x-method"]) == (200, "EIO=4", "GET")
    assert r2.content == b"hello"
    assert r3.content == b"a,b"
    assert r4.status_code == 404
    assert r5.status_code == 500
    first = app.requests[0]
    assert first.query == {"EIO": "4"}
    assert first.client is not None
    assert first.client[0] == "127.0.0.1"
    assert first.headers["host"] == f"127.0.0.1:{port}"


async def test_oversize_body(port: int, app: EchoApp) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"http://127.0.0.1:{port}/engine.io/", content=b"x" * 100_001)
    assert response.status_code == 413
    assert app.requests[-1].body_too_large


async def test_abort_callback(port: int, app: EchoApp) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /engine.io/hold HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    await asyncio.wait_for(app.wait_requests(1), 5)
    writer.close()
    await asyncio.wait_for(app.aborted.wait(), 5)


async def test_long_poll_answer_later(port: int) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/engine.io/later?x=1")
    assert response.text == "later:x=1"


async def test_websocket_echo_fragments_ping_and_64k(port: int, app: EchoApp) -> None:
    big = os.urandom(64 * 1024)
    async with websockets.connect(f"ws://127.0.0.1:{port}/engine.io/?EIO=4") as ws:
        await ws.send("héllo")
        assert await ws.recv() == "héllo"
        await ws.send(big)
        assert await ws.recv() == big
        await ws.send(["frag", "ment"])
        assert await ws.recv() == "fragment"
        await ws.send("burst")
        assert [await ws.recv() for _ in range(3)] == ["part0", "part1", "part2"]
        await asyncio.wait_for(await ws.ping(), 5)
    await asyncio.wait_for(app.disconnected.wait(), 5)
    assert app.disconnects == 1


async def test_websocket_server_close_and_too_big(port: int, app: EchoApp) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{port}/engine.io/") as ws:
        await ws.send("close:4001")
        with pytest.raises(websockets.ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 4001
    async with websockets.connect(f"ws://127.0.0.1:{port}/engine.io/") as ws:
        await ws.send(b"x" * 100_001)
        with pytest.raises(ConnectionClosedError) as too_big:
            await ws.recv()
    assert too_big.value.rcvd is not None
    assert too_big.value.rcvd.code == 1009
    await asyncio.wait_for(app.wait_requests(2), 5)
    assert app.disconnects >= 1


async def test_websocket_reject(port: int) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(f"ws://127.0.0.1:{port}/engine.io/?reject=1"):
            pass
    # uvicorn and hypercorn offer the websocket.http.response extension: the engine's own answer
    # (401, not the 403 a host sends when an app closes before accepting) goes through whole.
    response = info.value.response
    assert response.status_code == 401
    assert response.headers["content-type"] == "text/plain"
    assert response.body == b"go away"


async def test_lifespan_is_acknowledged(app: EchoApp) -> None:
    events: list[str] = []

    async def receive() -> dict[str, Any]:
        if not events:
            return {"type": "lifespan.startup"}
        return {"type": "lifespan.shutdown"}

    async def send(message: Any) -> None:
        events.append(message["type"])

    await ASGIApp(app)({"type": "lifespan"}, receive, send)
    assert events == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def homepage(request: StarletteRequest) -> PlainTextResponse:
    return PlainTextResponse(f"home:{request.url.path}")


async def test_starlette_mount_and_fallback(app: EchoApp) -> None:
    mounted = Starlette(routes=[Route("/", homepage), Mount("/rt", app=ASGIApp(app))])
    outer = ASGIApp(EchoApp(path="/other.io/"), fallback=mounted)
    async with uvicorn_server(outer) as bound:
        base = f"http://127.0.0.1:{bound}"
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/")).text == "home:/"
            assert (await client.get("/rt/engine.io/?a=b")).text == "a=b"
            assert (await client.get("/other.io/?c")).text == "c"
        async with websockets.connect(f"ws://127.0.0.1:{bound}/rt/engine.io/") as ws:
            await ws.send("mounted")
            assert await ws.recv() == "mounted"
    assert app.requests[0].path == "/engine.io/"
