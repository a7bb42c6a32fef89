"""Plain HTTP routes next to the Socket.IO endpoint (``Server.route``), on both hosts."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from aiosio.admin import instrument
from aiosio.engine.http import Request, Response
from aiosio.server import Server


def hello(request: Request, respond: Callable[[Response], None]) -> None:
    body = f"{request.method} {request.path} {request.query.get('q', '')} {len(request.body)}"
    respond(Response(200, [("Content-Type", "text/plain")], body.encode()))


def make_server() -> Server:
    io = Server()
    io.route("/hello", hello)
    instrument(io, auth=False, serve_ui=True)
    return io


async def check(client: httpx.AsyncClient) -> None:
    answer = await client.get("/hello/there?q=1")
    assert (answer.status_code, answer.text) == (200, "GET /hello/there 1 0")
    answer = await client.post("/hello", content=b"abc")
    assert answer.text == "POST /hello  3"
    assert (await client.get("/elsewhere")).status_code == 404
    moved = await client.get("/admin")
    assert (moved.status_code, moved.headers["location"]) == (301, "/admin/")
    page = await client.get("/admin/")
    assert page.status_code == 200
    assert "Socket.IO Admin UI" in page.text
    assert "https://fonts.googleapis.com" not in page.text
    assert 'localStorage.setItem("path",d.path)' in page.text
    icons = await client.get("/admin/mdi/css/materialdesignicons.min.css")
    assert icons.status_code == 200
    assert icons.headers["content-type"].startswith("text/css")
    assert (await client.get("/admin/../package.json")).status_code == 404
    handshake = await client.get("/socket.io/?EIO=4&transport=polling")
    assert handshake.text.startswith('0{"sid":')


async def test_routes_on_the_embedded_server() -> None:
    io = make_server()
    port = await io.listen(0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await check(client)
    finally:
        await io.close()


async def test_routes_on_the_asgi_app() -> None:
    io = make_server()
    transport = httpx.ASGITransport(app=io.asgi_app())
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await check(client)
    finally:
        await io.close()
