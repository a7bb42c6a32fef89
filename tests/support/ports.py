"""Loopback port helpers."""

from __future__ import annotations

import asyncio
import socket

__all__ = ["free_port", "wait_listening"]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_listening(port: int) -> None:
    """Return once ``127.0.0.1:port`` accepts a TCP connection (TimeoutError after 10 s)."""
    async with asyncio.timeout(10.0):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.01)
                continue
            writer.close()
            await writer.wait_closed()
            return
