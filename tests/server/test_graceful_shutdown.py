"""Closing a server with 1,000 connected clients: every one is told, promptly, and nothing is left."""

from __future__ import annotations

import asyncio
import base64
import os
import time

import pytest

import aiosio
from aiosio._http.frames import OP_CLOSE, OP_TEXT, encode_frame

CLIENTS = 1000


async def client(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        + encode_frame(OP_TEXT, b"40", mask=os.urandom(4))
    )
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


async def frames_until_eof(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> list[tuple[int, bytes]]:
    """Every frame until the server closes; a close frame is answered, as a client does."""
    frames: list[tuple[int, bytes]] = []
    while True:
        head = await reader.read(2)
        if len(head) < 2:
            return frames
        size = head[1] & 0x7F
        if size == 126:
            size = int.from_bytes(await reader.readexactly(2), "big")
        frames.append((head[0] & 0x0F, await reader.readexactly(size)))
        if frames[-1][0] == OP_CLOSE:
            writer.write(encode_frame(OP_CLOSE, frames[-1][1][:2], mask=os.urandom(4)))


@pytest.mark.timeout(120)
async def test_close_with_1000_clients() -> None:
    io = aiosio.Server()
    reasons: list[str] = []

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("disconnect", lambda reason, *_: reasons.append(reason))

    port = await io.listen(0)
    clients = []
    for start in range(0, CLIENTS, 100):
        clients += await asyncio.gather(*(client(port) for _ in range(start, start + 100)))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while len(io.sockets.sockets) < CLIENTS:
        assert loop.time() < deadline
        await asyncio.sleep(0.05)
    readers = [asyncio.create_task(frames_until_eof(reader, writer)) for reader, writer in clients]

    started = time.monotonic()
    await io.close()
    closed_in = time.monotonic() - started
    seen = await asyncio.wait_for(asyncio.gather(*readers), 30)
    all_told = time.monotonic() - started

    assert reasons == ["server shutting down"] * CLIENTS
    for frames in seen:
        # The open packet and CONNECT answer, then a close frame 1001 ("going away").
        closes = [payload for opcode, payload in frames if opcode == OP_CLOSE]
        assert closes, frames
        assert int.from_bytes(closes[0][:2], "big") in (1000, 1001)
    assert io.engine.clients_count == 0
    assert closed_in < 5
    print(
        f"\nclose() with {CLIENTS} clients: {closed_in:.2f} s; every client closed after {all_told:.2f} s"
    )
    for _, writer in clients:
        writer.close()
