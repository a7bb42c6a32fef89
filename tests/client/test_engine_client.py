"""The Engine.IO client layer: handshake, payload limits, parse errors, clean close."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosio.client import EngineClient, Manager, TransportError

from .conftest import transport_options
from .servers import SioServer, wait_until


async def test_handshake_values(sio: SioServer, transport: str) -> None:
    engine = EngineClient(sio.url, path="/socket.io", **transport_options(transport))
    messages: list[str | bytes] = []
    engine.on_message = messages.append
    await engine.open()
    try:
        assert engine.id is not None
        assert engine.ping_interval == 1.0
        assert engine.ping_timeout == 2.0
        assert engine.max_payload == 1_000_000
        assert engine.upgrades == ([] if transport != "upgrade" else ["websocket"])
        engine.start()
        engine.write("0")  # Socket.IO CONNECT to "/"
        await wait_until(lambda: messages)
        assert isinstance(messages[0], str)
        assert messages[0].startswith('0{"sid":')
    finally:
        await engine.close()
    assert engine.closed


async def test_handshake_refused(sio_factory: Any) -> None:
    sio = sio_factory(transports=["websocket"])
    engine = EngineClient(sio.url, path="/socket.io/", transports=["polling"])
    with pytest.raises(TransportError) as info:
        await engine.open()
    await engine.wait_closed()
    assert info.value.message == "xhr poll error"
    assert info.value.description == {"status": 400, "code": 0, "message": "Transport unknown"}
    assert engine.closed


async def test_polling_payloads_respect_max_payload(
    sio_factory: Any, managers: list[Manager]
) -> None:
    sio = sio_factory(maxHttpBufferSize=1000)
    manager = Manager(sio.url, transports=["polling"], reconnection=False)
    managers.append(manager)
    socket = manager.socket("/")
    await asyncio.wait_for(socket.connect(), 5)
    engine = manager.engine
    assert engine is not None
    assert engine.max_payload == 1000
    reasons: list[str] = []
    socket.on("disconnect", reasons.append)
    for i in range(30):
        socket.emit("record", i, "x" * 100)
    records = await sio.wait_for("record", 30)
    assert [r["args"][0] for r in records] == list(range(30))
    assert reasons == []


async def test_parse_error_closes_and_reconnects(
    sio: SioServer, managers: list[Manager], transport: str
) -> None:
    manager = Manager(sio.url, reconnection_delay=0.05, **transport_options(transport))
    managers.append(manager)
    socket = manager.socket("/")
    await asyncio.wait_for(socket.connect(), 5)
    reasons: list[str] = []
    connects: list[str | None] = []
    socket.on("disconnect", reasons.append)
    socket.on("connect", lambda: connects.append(socket.id))
    socket.emit("raw", "9 not a socket.io packet")
    await wait_until(lambda: connects)
    assert reasons == ["parse error"]
    assert len(await sio.wait_for("handshake", 2)) == 2


async def test_clean_close_reaches_the_server(
    sio: SioServer, managers: list[Manager], transport: str
) -> None:
    manager = Manager(sio.url, **transport_options(transport))
    managers.append(manager)
    socket = manager.socket("/")
    await asyncio.wait_for(socket.connect(), 5)
    if transport == "upgrade":
        await sio.wait_for("upgrade")
    assert await socket.emit_with_ack("record", "last words") == "ok"
    await asyncio.wait_for(socket.disconnect(), 5)
    await sio.wait_for("disconnect", reason="client namespace disconnect")
    closes = await sio.wait_for("engine_close")
    assert closes[0]["reason"] == "transport close"
    assert manager.engine is None
    assert manager.ready_state == "closed"
