"""The official engine.io-client (Node) against our Engine.IO server, on both hosts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import EngineStarter, NodeStarter
from tests.support.engine import EngineUnderTest
from tests.support.node import NodeProcess, decode_data, encode_data

#: Client transport settings per mode; "upgrade" starts on polling and must end on websocket.
MODES: dict[str, dict[str, Any]] = {
    "polling": {"transports": ["polling"]},
    "websocket": {"transports": ["websocket"]},
    "upgrade": {"transports": ["polling", "websocket"]},
}

BINARY = bytes(range(256)) * 3 + b"\x00\xff"


async def connect(eut: EngineUnderTest, node: NodeStarter, mode: str) -> tuple[NodeProcess, str]:
    """Start a client in ``mode``; return it and its sid once both sides see the session open."""
    config = {"url": eut.base_url, "options": MODES[mode]}
    client = await node("eio_client", json.dumps(config))
    opened = await client.expect_event("open")
    first = "websocket" if mode == "websocket" else "polling"
    assert opened["transport"] == first
    sid = opened["id"]
    connection = await eut.expect_event("connection", sid=sid)
    assert connection["transport"] == first
    if mode == "upgrade":
        upgraded = await client.expect_event("upgrade")
        assert upgraded["transport"] == "websocket"
        await eut.expect_event("upgrade", sid=sid, transport="websocket")
        await client.send("state")
        state = await client.expect_event("state")
        assert state["transport"] == "websocket"
        assert state["readyState"] == "open"
    return client, sid


@pytest.mark.parametrize("mode", list(MODES))
async def test_messages_both_ways(engine: EngineStarter, node: NodeStarter, mode: str) -> None:
    eut = await engine()
    client, sid = await connect(eut, node, mode)

    await client.send("send", data="héllo ☃")
    await client.send("send", data=encode_data(BINARY))
    text = await eut.expect_event("message", sid=sid)
    assert text["data"] == "héllo ☃"
    binary = await eut.expect_event("message", sid=sid)
    assert binary["data"] == BINARY
    assert isinstance(binary["data"], bytes)

    await eut.send(sid, "wörld ☃")
    await eut.send(sid, BINARY)
    received = await client.expect_event("message")
    assert received["kind"] == "string"
    assert decode_data(received["data"]) == "wörld ☃"
    received = await client.expect_event("message")
    assert received["kind"] == "buffer"
    assert decode_data(received["data"]) == BINARY


@pytest.mark.parametrize("mode", ["polling", "websocket"])
async def test_many_messages_keep_order(
    engine: EngineStarter, node: NodeStarter, mode: str
) -> None:
    eut = await engine()
    client, sid = await connect(eut, node, mode)
    for i in range(50):
        await eut.send(sid, f"m{i}")
    for i in range(50):
        event = await client.expect_event("message")
        assert event["data"] == f"m{i}"


@pytest.mark.parametrize("mode", ["polling", "websocket"])
async def test_heartbeat_loss_is_ping_timeout(
    engine: EngineStarter, node: NodeStarter, mode: str
) -> None:
    eut = await engine(ping_interval=0.2, ping_timeout=0.2)
    client, sid = await connect(eut, node, mode)
    await client.expect_event("ping")  # heartbeats flow while the client answers
    await client.send("drop_pongs", on=True)
    closed = await eut.expect_event("close", sid=sid, timeout=3.0)
    assert closed["reason"] == "ping timeout"
    assert sid not in await eut.session_ids()


@pytest.mark.parametrize("mode", ["polling", "websocket"])
async def test_heartbeat_keeps_session_alive(
    engine: EngineStarter, node: NodeStarter, mode: str
) -> None:
    eut = await engine(ping_interval=0.1, ping_timeout=1.0)
    client, sid = await connect(eut, node, mode)
    for _ in range(4):
        await client.expect_event("ping")
    assert not eut.log.seen(lambda ev: ev["event"] == "close")
    await eut.send(sid, "still here")
    assert (await client.expect_event("message"))["data"] == "still here"


@pytest.mark.parametrize("mode", list(MODES))
async def test_server_close(engine: EngineStarter, node: NodeStarter, mode: str) -> None:
    eut = await engine()
    client, sid = await connect(eut, node, mode)
    await eut.send(sid, "last words")
    await eut.close_socket(sid)
    closed = await eut.expect_event("close", sid=sid)
    assert closed["reason"] == "forced close"
    # Packets sent before close() are flushed first.
    assert decode_data((await client.expect_event("message"))["data"]) == "last words"
    client_closed = await client.expect_event("close")
    assert client_closed["reason"] == "transport close"
    assert sid not in await eut.session_ids()


@pytest.mark.parametrize("mode", list(MODES))
async def test_client_close(engine: EngineStarter, node: NodeStarter, mode: str) -> None:
    eut = await engine()
    client, sid = await connect(eut, node, mode)
    await client.send("close")
    assert (await client.expect_event("close"))["reason"] == "forced close"
    closed = await eut.expect_event("close", sid=sid)
    assert closed["reason"] == "transport close"
    assert sid not in await eut.session_ids()


async def test_client_process_dies(engine: EngineStarter, node: NodeStarter) -> None:
    eut = await engine()
    client, sid = await connect(eut, node, "websocket")
    await client.stop()
    closed = await eut.expect_event("close", sid=sid)
    assert closed["reason"] == "transport close"


async def test_server_shutdown_closes_clients(engine: EngineStarter, node: NodeStarter) -> None:
    eut = await engine()
    polling, sid1 = await connect(eut, node, "polling")
    websocket, sid2 = await connect(eut, node, "websocket")
    await eut.close()
    for sid in (sid1, sid2):
        assert (await eut.expect_event("close", sid=sid))["reason"] == "forced close"
    for client in (polling, websocket):
        await client.expect_event("close")


async def test_oversize_message_over_polling_ends_with_transport_close(
    engine: EngineStarter, node: NodeStarter
) -> None:
    # The POST is refused with 413; the session stays until the client, failing its POST, closes
    # it with a close packet: "transport close" on the server, as the reference gives.
    eut = await engine(max_http_buffer_size=1000)
    client, sid = await connect(eut, node, "polling")
    await client.send("send", data="x" * 5000)
    closed = await eut.expect_event("close", sid=sid)
    assert closed["reason"] == "transport close"
    assert (await client.expect_event("close"))["reason"] == "transport error"
    assert not eut.log.seen(lambda ev: ev["event"] == "message")
