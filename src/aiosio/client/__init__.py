"""The asyncio Socket.IO client.

::

    sio = await aiosio.client.connect("http://127.0.0.1:3000", auth={"token": "abc"})

    @sio.on("news")
    def news(item): ...

    sio.emit("hello", "world")
    answer = await sio.timeout(5).emit_with_ack("question")
    await sio.disconnect()

Needs the ``client`` extra (aiohttp).
"""

from __future__ import annotations

from .backoff import Backoff
from .engine import EngineClient, TransportError
from .lookup import connect
from .manager import Manager
from .socket import Auth, Emitter, Socket, SocketManager

__all__ = [
    "Auth",
    "Backoff",
    "Emitter",
    "EngineClient",
    "Manager",
    "Socket",
    "SocketManager",
    "TransportError",
    "connect",
]
