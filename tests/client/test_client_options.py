"""The reference client options ``auto_connect``, ``remember_upgrade``, ``try_all_transports`` and
the ``compress`` flag, against the official Node server (and aiosio's)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosio.client import EngineClient, Manager, TransportError, connect

from .servers import SioServer, wait_until


async def test_try_all_transports_falls_back(sio_factory: Any) -> None:
    sio = sio_factory(transports=["polling"])
    plain = EngineClient(sio.url, path="/socket.io/", transports=["websocket", "polling"])
    with pytest.raises(TransportError) as info:
        await plain.open()
    await plain.wait_closed()
    assert info.value.message == "websocket error"

    engine = EngineClient(
        sio.url,
        path="/socket.io/",
        transports=["websocket", "polling"],
        try_all_transports=True,
    )
    await engine.open()
    try:
        assert engine.transport_name == "polling"
        assert engine.id is not None
    finally:
        await engine.close()


async def test_try_all_transports_through_the_manager(
    sio_factory: Any, managers: list[Manager]
) -> None:
    sio = sio_factory(transports=["polling"])
    manager = Manager(
        sio.url,
        transports=["websocket", "polling"],
        try_all_transports=True,
        reconnection=False,
    )
    managers.append(manager)
    socket = manager.socket("/")
    await asyncio.wait_for(socket.connect(), 5)
    assert socket.connected
    events = await sio.wait_for("connection", nsp="/")
    assert events[0]["transport"] == "polling"


async def upgraded_once(sio: SioServer, managers: list[Manager]) -> None:
    """One connection that upgrades to WebSocket (what ``remember_upgrade`` remembers)."""
    manager = Manager(sio.url, reconnection=False)
    managers.append(manager)
    upgraded = asyncio.Event()
    await asyncio.wait_for(manager.socket("/").connect(), 5)
    assert manager.engine is not None
    manager.engine.on_upgrade = lambda name: upgraded.set()
    if manager.engine.transport_name != "websocket":
        await asyncio.wait_for(upgraded.wait(), 5)
    await manager.close()


async def test_remember_upgrade_starts_over_websocket(
    sio: SioServer, managers: list[Manager]
) -> None:
    await upgraded_once(sio, managers)
    remembering = Manager(sio.url, remember_upgrade=True, reconnection=False)
    forgetting = Manager(sio.url, reconnection=False)
    managers.extend((remembering, forgetting))
    await asyncio.wait_for(remembering.socket("/").connect(), 5)
    await asyncio.wait_for(forgetting.socket("/").connect(), 5)
    handshakes = await sio.wait_for("handshake", count=3)
    # The first connection and the forgetting one start with polling, the remembering one not.
    assert remembering.engine is not None
    assert forgetting.engine is not None
    by_sid = {e["sid"]: e["transport"] for e in handshakes}
    assert by_sid[remembering.engine.id] == "websocket"
    assert by_sid[forgetting.engine.id] == "polling"


async def test_remember_upgrade_forgets_after_a_websocket_failure(
    sio_factory: Any, managers: list[Manager]
) -> None:
    await upgraded_once(sio_factory(), managers)
    polling_only = sio_factory(transports=["polling"])
    manager = Manager(
        polling_only.url,
        remember_upgrade=True,
        reconnection_delay=0.05,
        reconnection_delay_max=0.05,
    )
    managers.append(manager)
    errors: list[Any] = []
    socket = manager.socket("/")
    socket.on("connect_error", errors.append)
    # The remembered WebSocket is refused; the next attempt starts with polling again.
    await asyncio.wait_for(socket.connect(), 5)
    assert manager.engine is not None
    assert manager.engine.transport_name == "polling"
    await wait_until(lambda: errors)


async def test_auto_connect_false(sio: SioServer) -> None:
    socket = await connect(sio.url, auto_connect=False, reconnection=False)
    try:
        assert not socket.connected
        assert socket.io.engine is None
        await asyncio.sleep(0.2)
        assert not sio.of("connection")
        await asyncio.wait_for(socket.connect(), 5)
        assert socket.connected
        await sio.wait_for("connection", nsp="/")
    finally:
        await socket.io.close()


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_compress_flag_on_emits(
    sio: SioServer, managers: list[Manager], transport: str
) -> None:
    manager = Manager(sio.url, transports=[transport], reconnection=False)
    managers.append(manager)
    socket = manager.socket("/")
    await asyncio.wait_for(socket.connect(), 5)
    socket.compress(False).emit("record", "plain")
    socket.compress(True).volatile.emit("record", "volatile")
    assert await socket.compress(False).timeout(5).emit_with_ack("record", "acked") == "ok"
    records = await sio.wait_for("record", count=3)
    assert [r["args"] for r in records] == [["plain"], ["volatile"], ["acked"]]
