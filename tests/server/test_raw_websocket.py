"""Malformed and idle peers over a real WebSocket: the server closes them, nobody else notices."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from aiosio.server import Socket
from tests.support.requires import require

from .conftest import Serve


def ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


async def closed_by_server(ws: websockets.ClientConnection) -> bool:
    """Read until the server closes the connection (True), or 5 s pass (False)."""
    try:
        async with asyncio.timeout(5):
            while True:
                await ws.recv()
    except websockets.ConnectionClosed:
        return True
    except TimeoutError:
        return False


async def open_session(url: str) -> websockets.ClientConnection:
    ws = await websockets.connect(ws_url(url))
    opened = await ws.recv()
    assert isinstance(opened, str)
    assert opened.startswith("0{")
    return ws


@pytest.mark.parametrize(
    "frame",
    [
        "42garbage",
        '42["connect"]',
        "47",
        '42/admin,["x"',
        '451-["a",{"_placeholder":true,"num":0}]',
    ],
)
async def test_malformed_packets_close_only_that_connection(serve: Serve, frame: str) -> None:
    io, url = await serve()
    reasons: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        name = socket.handshake.auth["name"]
        socket.on("disconnect", lambda reason: reasons.put_nowait((name, reason)))
        socket.on("ping", lambda: "pong")

    bad = await open_session(url)
    good = await open_session(url)
    await bad.send('40{"name":"bad"}')
    await good.send('40{"name":"good"}')
    assert str(await bad.recv()).startswith("40{")
    assert str(await good.recv()).startswith("40{")
    await bad.send(frame)
    if frame.startswith("451-"):
        await bad.send('42["not an attachment"]')
    async with asyncio.timeout(5):
        assert await reasons.get() == ("bad", "parse error")
    assert await closed_by_server(bad)
    await good.send('421["ping"]')
    assert await good.recv() == '431["pong"]'
    await good.close()


async def test_connect_timeout_closes_a_session_without_namespace(serve: Serve) -> None:
    io, url = await serve(connect_timeout=0.2)
    idle = await open_session(url)
    assert await closed_by_server(idle)
    assert io.engine.clients_count == 0


async def test_unknown_namespace_frame_is_exact(serve: Serve) -> None:
    _, url = await serve()
    ws = await open_session(url)
    await ws.send("40/nope,")
    assert await ws.recv() == '44/nope,{"message":"Invalid namespace"}'
    await ws.close()


async def test_serve_client_bundle_and_fallback(serve: Serve) -> None:
    from aiosio.server.client_files import find_client_dist

    require("npm socket.io-client (run `npm ci`)", find_client_dist() is not None)
    _, url = await serve(serve_client=True)
    async with httpx.AsyncClient() as http:
        bundle = await http.get(url + "/socket.io/socket.io.min.js")
        assert bundle.status_code == 200
        assert bundle.headers["content-type"] == "application/javascript; charset=utf-8"
        again = await http.get(
            url + "/socket.io/socket.io.min.js", headers={"If-None-Match": bundle.headers["etag"]}
        )
        assert again.status_code == 304
        handshake = await http.get(url + "/socket.io/?EIO=4&transport=polling")
        assert json.loads(handshake.text[1:])["upgrades"] == ["websocket"]
        assert (await http.get(url + "/elsewhere")).status_code == 404
