"""The asyncio client's ``per_message_deflate`` against servers with permessage-deflate on and off:
the official socket.io server (``perMessageDeflate``) and aiosio's (``per_message_deflate``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aiosio.client import Manager
from aiosio.client.socket import Socket

from .servers import SioServer, wait_until
from .test_socket import collector, open_socket

ROWS = [{"id": i, "name": f"row {i}", "ok": True} for i in range(200)]  # about 7 KB of JSON


def negotiated(socket: Socket) -> int:
    """The window bits aiohttp negotiated for the socket's WebSocket (0: no compression)."""
    engine = socket.io.engine
    assert engine is not None
    ws = getattr(engine.transport, "ws", None)
    assert ws is not None, "not on a WebSocket"
    return int(ws.compress)


async def round_trips(socket: Socket) -> None:
    """Small, large, binary and many events come back intact and in order."""
    echoed = collector(socket, "echo")
    socket.emit("echo", "small")
    socket.emit("echo", ROWS)
    for i in range(30):
        socket.emit("echo", i, ROWS[i:])
    await wait_until(lambda: echoed, 32)
    assert echoed[0] == ("small",)
    assert echoed[1] == (ROWS,)
    assert echoed[2:] == [(i, ROWS[i:]) for i in range(30)]
    blob = bytes(range(256)) * 40
    answer = await socket.emit_with_ack("binary", blob)
    assert answer == (blob + b"\x01\x02\x03", "text")


@pytest.mark.parametrize(
    ("server_on", "client_on", "expected"), [(True, True, 15), (True, False, 0), (False, True, 0)]
)
async def test_client_per_message_deflate(
    sio_factory: Callable[..., SioServer],
    managers: list[Manager],
    server_kind: str,
    server_on: bool,
    client_on: bool,
    expected: int,
) -> None:
    sio = sio_factory(perMessageDeflate=server_on)
    options: dict[str, Any] = {"per_message_deflate": True} if client_on else {}
    socket = await open_socket(sio, managers, "websocket", **options)
    assert negotiated(socket) == expected
    if server_kind == "node":
        handshake = (await sio.wait_for("handshake"))[0]
        assert handshake["extensions"] == ("permessage-deflate" if expected else "")
    await round_trips(socket)


async def test_client_option_after_upgrade(
    sio_factory: Callable[..., SioServer], managers: list[Manager], server_kind: str
) -> None:
    sio = sio_factory(perMessageDeflate=True)
    socket = await open_socket(sio, managers, "upgrade", per_message_deflate=True)
    await wait_until(lambda: sio.of("upgrade"))
    assert negotiated(socket) == 15
    await round_trips(socket)
