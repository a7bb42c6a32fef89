"""permessage-deflate at the Socket.IO level: the official socket.io-client and python-socketio's
client against ``Server(per_message_deflate=...)``, and the ``compress`` flag on the wire."""

from __future__ import annotations

import asyncio
import json
import zlib
from typing import Any

import pytest
import socketio

from aiosio.server import Socket

from ..raw_client import RawWebSocket
from .conftest import Serve
from .node import NodeClients, requires_node

ROWS = [{"id": i, "name": f"row {i}", "ok": True} for i in range(200)]  # about 7 KB of JSON


@requires_node
@pytest.mark.parametrize("deflate", [True, False])
async def test_node_socketio_client(
    serve: Serve, node: NodeClients, host_kind: str, deflate: bool
) -> None:
    io, url = await serve(per_message_deflate=deflate)
    sockets: list[Socket] = []

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        sockets.append(socket)
        socket.on("echo", lambda *args: args)

    event = await node.connect("c", url, transports=["websocket"])
    assert event["ev"] == "connect"
    # Under ASGI the host (uvicorn) accepts the offer whatever the option says.
    expected = "permessage-deflate" if deflate or host_kind != "embedded" else ""
    assert event["extensions"] == expected
    for tag in range(20):  # many large messages: context takeover both ways
        node.send(
            cmd="emit",
            id="c",
            event="echo",
            args=[tag, ROWS, b"\x00" * 3000],
            ack=True,
            tag=str(tag),
        )
    for tag in range(20):
        ack = await node.next("c", "ack", tag=str(tag))
        assert ack["args"] == [tag, ROWS, b"\x00" * 3000]
    node.send(cmd="ack_reply", id="c", event="question", args=["answer", ROWS])
    assert await sockets[0].timeout(5).emit_with_ack("question", "small") == ("answer", ROWS)


async def test_python_socketio_client(serve: Serve, host_kind: str) -> None:
    """python-socketio's AsyncClient negotiates it through aiohttp's ``compress``."""
    io, url = await serve(per_message_deflate=True)
    io.on("connection", lambda socket: socket.on("echo", lambda *args: args))
    client = socketio.AsyncClient(reconnection=False, websocket_extra_options={"compress": 15})
    await client.connect(url, transports=["websocket"])
    try:
        assert client.eio.ws is not None
        # The server's window: 15 from the embedded server; uvicorn's websockets-sansio asks for 12.
        assert client.eio.ws.compress == (15 if host_kind == "embedded" else 12)
        for i in range(10):
            assert await client.call("echo", [i, ROWS], timeout=5) == [i, ROWS]
        assert await client.call("echo", "small", timeout=5) == "small"
    finally:
        await client.disconnect()


@pytest.mark.parametrize("host_kind", ["embedded"], indirect=True)
async def test_compress_flag_reaches_the_wire(serve: Serve) -> None:
    io, url = await serve(per_message_deflate=True)
    connected: asyncio.Queue[Socket] = asyncio.Queue()
    io.on("connection", connected.put_nowait)
    port = int(url.rsplit(":", 1)[1])
    ws = await RawWebSocket.connect(
        port, "/socket.io/?EIO=4&transport=websocket", extensions="permessage-deflate"
    )
    assert ws.header("sec-websocket-extensions") == "permessage-deflate"
    _, opened = await ws.recv_frame()
    assert opened.startswith(b"0{")
    ws.send(1, b"40")
    _, connect = await ws.recv_frame()
    assert connect.startswith(b"40{")
    socket = await asyncio.wait_for(connected.get(), 5)
    inflater = zlib.decompressobj(-15)

    def decode(payload: bytes) -> Any:
        if ws.rsv1:
            payload = inflater.decompress(payload + b"\x00\x00\xff\xff")
        return json.loads(payload.decode()[2:])

    socket.emit("big", ROWS)
    _, payload = await ws.recv_frame()
    assert ws.rsv1
    assert decode(payload) == ["big", ROWS]
    socket.compress(False).emit("plain", ROWS)
    _, payload = await ws.recv_frame()
    assert not ws.rsv1
    assert decode(payload) == ["plain", ROWS]
    socket.emit("small", 1)
    _, payload = await ws.recv_frame()
    assert not ws.rsv1
    assert decode(payload) == ["small", 1]
    io.emit("all", ROWS)  # a broadcast: compressed per connection
    _, payload = await ws.recv_frame()
    assert ws.rsv1
    assert decode(payload) == ["all", ROWS]
    io.compress(False).emit("all", ROWS)
    _, payload = await ws.recv_frame()
    assert not ws.rsv1
    assert decode(payload) == ["all", ROWS]
    ws.close()


@pytest.mark.parametrize("host_kind", ["embedded"], indirect=True)
async def test_broadcast_to_connections_with_and_without_context_takeover(serve: Serve) -> None:
    """Connections without context takeover share one compressed form of a broadcast; the others
    compress it in their own stream. Every one inflates it right, binary attachment included."""
    io, url = await serve(per_message_deflate=True)
    connected: asyncio.Queue[Socket] = asyncio.Queue()
    io.on("connection", connected.put_nowait)
    port = int(url.rsplit(":", 1)[1])
    offers = [
        "permessage-deflate; server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover",
        "permessage-deflate",
    ]
    clients: list[tuple[RawWebSocket, Any]] = []
    for offer in offers:
        ws = await RawWebSocket.connect(
            port, "/socket.io/?EIO=4&transport=websocket", extensions=offer
        )
        assert ws.header("sec-websocket-extensions") == offer
        await ws.recv_frame()  # open
        ws.send(1, b"40")
        await ws.recv_frame()  # CONNECT
        await asyncio.wait_for(connected.get(), 5)
        takeover = "server_no_context_takeover" not in offer
        clients.append((ws, zlib.decompressobj(-15) if takeover else None))
    blob = bytes(range(256)) * 16
    for _ in range(3):
        io.emit("all", ROWS, blob)
        for ws, stream in clients:
            _, header = await ws.recv_frame()
            assert ws.rsv1
            inflater = stream or zlib.decompressobj(-15)
            text = inflater.decompress(header + b"\x00\x00\xff\xff").decode()
            assert text.startswith('451-["all"')
            assert json.loads(text[4:]) == ["all", ROWS, {"_placeholder": True, "num": 0}]
            opcode, attachment = await ws.recv_frame()
            assert (opcode, ws.rsv1) == (2, True)
            inflater = stream or zlib.decompressobj(-15)
            assert inflater.decompress(attachment + b"\x00\x00\xff\xff") == blob
    io.compress(False).emit("all", ROWS)
    for ws, _ in clients:
        _, payload = await ws.recv_frame()
        assert not ws.rsv1
        assert json.loads(payload.decode()[2:]) == ["all", ROWS]
        ws.close()
