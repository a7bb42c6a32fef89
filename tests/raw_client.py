"""A raw-socket HTTP/WebSocket client for requests that real clients refuse to send."""

from __future__ import annotations

import asyncio
import base64
import os

from aiosio._http.frames import OP_CLOSE, encode_frame


async def exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` and read until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), 5.0)
    finally:
        writer.close()


class RawWebSocket:
    """Sends frames exactly as given; reads server frames."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes = b""
    ) -> None:
        self.reader = reader
        self.writer = writer
        #: The server's 101 answer (status line and headers).
        self.head = head
        #: Whether the last frame read had RSV1 (a permessage-deflate compressed message) set.
        self.rsv1 = False

    @classmethod
    async def connect(
        cls, port: int, path: str = "/engine.io/?EIO=4", *, extensions: str | None = None
    ) -> RawWebSocket:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n"
                + (f"Sec-WebSocket-Extensions: {extensions}\r\n" if extensions else "")
                + "\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer, head)

    def header(self, name: str) -> str | None:
        """A header of the 101 answer (first match, case-insensitive)."""
        for line in self.head.decode("latin-1").split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    def send(self, opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> None:
        """One masked frame; ``rsv1`` marks the first frame of a compressed message."""
        frame = encode_frame(opcode, payload, fin=fin, mask=os.urandom(4))
        self.writer.write(bytes((frame[0] | (0x40 if rsv1 else 0),)) + frame[1:])

    async def recv_frame(self) -> tuple[int, bytes]:
        head = await self.reader.readexactly(2)
        self.rsv1 = bool(head[0] & 0x40)
        length = head[1] & 0x7F
        if length == 126:
            length = int.from_bytes(await self.reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await self.reader.readexactly(8), "big")
        return head[0] & 0x0F, await self.reader.readexactly(length)

    async def expect_close(self) -> int:
        """Read frames until a close frame; return its code."""
        while True:
            opcode, payload = await asyncio.wait_for(self.recv_frame(), 5)
            if opcode == OP_CLOSE:
                return int.from_bytes(payload[:2], "big") if payload else 1005

    def close(self) -> None:
        self.writer.close()
