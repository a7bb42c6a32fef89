"""The server against python-socketio's AsyncClient, on both transports."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio

from aiosio.exceptions import ConnectRefusedError
from aiosio.server import Socket

from .conftest import Serve


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], ["polling", "websocket"]])
async def test_python_socketio_client(serve: Serve, transports: list[str]) -> None:
    io, url = await serve()
    sockets: list[Socket] = []
    reasons: asyncio.Queue[str] = asyncio.Queue()

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        sockets.append(socket)
        socket.on("disconnect", reasons.put_nowait)
        socket.on("add", lambda a, b: a + b)
        socket.on("blob", lambda data: {"size": len(data), "back": data[::-1]})
        socket.emit("hello", {"auth": socket.handshake.auth})

    io.of("/admin").on("connection", lambda socket: socket.emit("admin-hello"))

    client = socketio.AsyncClient(reconnection=False)
    got: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    client.on("hello", lambda data: got.put_nowait(("hello", data)))
    client.on("admin-hello", lambda: got.put_nowait(("admin-hello", None)), namespace="/admin")
    client.on("ask", lambda x: x * 10)
    await client.connect(
        url, auth={"user": "py"}, transports=transports, namespaces=["/", "/admin"]
    )
    try:
        async with asyncio.timeout(5):
            first = [await got.get(), await got.get()]
        assert sorted(first, key=str) == [
            ("admin-hello", None),
            ("hello", {"auth": {"user": "py"}}),
        ]
        assert await sockets[0].timeout(5).emit_with_ack("ask", 4) == 40
        assert await client.call("blob", b"\x01\x02\x03", timeout=5) == {
            "size": 3,
            "back": b"\x03\x02\x01",
        }
        assert await client.call("add", (2, 3), timeout=5) == 5
    finally:
        await client.disconnect()
    async with asyncio.timeout(5):
        reason = await reasons.get()
    # python-socketio queues its DISCONNECT packets and closes a WebSocket without waiting for them
    expected = {"client namespace disconnect"}
    if "websocket" in transports:
        expected.add("transport close")
    assert reason in expected


async def test_python_socketio_client_refused(serve: Serve) -> None:
    io, url = await serve()

    @io.use
    def refuse(socket: Socket) -> None:
        raise ConnectRefusedError("go away", {"retry": False})

    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(url, transports=["websocket"], wait_timeout=5)
    assert errors == [{"message": "go away", "data": {"retry": False}}]


async def test_broadcast_reaches_every_transport_with_the_same_frames(serve: Serve) -> None:
    # A broadcast is framed once for the embedded host; WebSocket and polling clients alike must
    # get every event, text and binary, in order.
    io, url = await serve()
    clients = [socketio.AsyncClient(reconnection=False) for _ in range(3)]
    got: list[asyncio.Queue[Any]] = [asyncio.Queue() for _ in clients]
    for client, queue in zip(clients, got, strict=True):
        client.on("news", queue.put_nowait)
    for client, transports in zip(
        clients, (["websocket"], ["websocket"], ["polling"]), strict=True
    ):
        await client.connect(url, transports=transports)
    try:
        io.emit("news", {"n": 1})
        io.emit("news", b"\x00\xffbin")
        io.emit("news", "é" * 200)  # a frame with a 16-bit length
        async with asyncio.timeout(5):
            for queue in got:
                assert [await queue.get() for _ in range(3)] == [
                    {"n": 1},
                    b"\x00\xffbin",
                    "é" * 200,
                ]
    finally:
        for client in clients:
            await client.disconnect()
