"""engine.io-client 3.x (Engine.IO protocol v3, Node) against our server with ``allow_eio3``."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import EngineStarter, NodeStarter
from tests.support.engine import EngineUnderTest
from tests.support.node import NodeProcess, decode_data, encode_data

#: Client settings per mode: binary polling (XHR2), base64 polling, WebSocket, and the upgrade.
MODES: dict[str, dict[str, Any]] = {
    "polling": {"transports": ["polling"]},
    "polling-b64": {"transports": ["polling"], "forceBase64": True},
    "websocket": {"transports": ["websocket"]},
    "upgrade": {"transports": ["polling", "websocket"]},
}

BINARY = bytes(range(256)) * 3 + b"\x00\xff"
#: Characters outside the BMP count twice in v3 length prefixes.
TEXT = "héllo ☃ 😀 done"


async def connect(eut: EngineUnderTest, node: NodeStarter, mode: str) -> tuple[NodeProcess, str]:
    config = {"url": eut.base_url, "options": MODES[mode]}
    client = await node("eio_client_v3", json.dumps(config))
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
    return client, sid


@pytest.mark.parametrize("mode", list(MODES))
async def test_messages_both_ways(engine: EngineStarter, node: NodeStarter, mode: str) -> None:
    eut = await engine(allow_eio3=True)
    client, sid = await connect(eut, node, mode)

    await client.send("send", data=TEXT)
    await client.send("send", data=encode_data(BINARY))
    await client.send("send", data="after")
    assert (await eut.expect_event("message", sid=sid))["data"] == TEXT
    binary = await eut.expect_event("message", sid=sid)
    assert binary["data"] == BINARY
    assert (await eut.expect_event("message", sid=sid))["data"] == "after"

    # Several packets in one polling payload, text and binary mixed.
    for data in (TEXT, BINARY, "x" * 3000, b"", "last"):
        await eut.send(sid, data)
    received = [await client.expect_event("message") for _ in range(5)]
    assert [decode_data(r["data"]) for r in received] == [TEXT, BINARY, "x" * 3000, b"", "last"]
    assert received[1]["kind"] == "buffer"


async def test_handshake_has_the_v4_keys(engine: EngineStarter, node: NodeStarter) -> None:
    eut = await engine(allow_eio3=True, ping_interval=1.5, ping_timeout=2.5)
    config = {"url": eut.base_url, "options": MODES["polling"]}
    client = await node("eio_client_v3", json.dumps(config))
    handshake = await client.expect_event("handshake")
    data = handshake["data"]
    assert list(data) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]
    assert data["upgrades"] == ["websocket"]
    assert (data["pingInterval"], data["pingTimeout"]) == (1500, 2500)


@pytest.mark.parametrize("mode", ["polling", "websocket"])
async def test_client_pings_and_server_answers(
    engine: EngineStarter, node: NodeStarter, mode: str
) -> None:
    eut = await engine(allow_eio3=True, ping_interval=0.2, ping_timeout=0.5)
    client, sid = await connect(eut, node, mode)
    for _ in range(3):
        await client.expect_event("ping")
        await client.expect_event("pong")
    # The session outlived several intervals: the server's timer follows the client's pings.
    assert sid in await eut.session_ids()


@pytest.mark.parametrize("mode", ["polling", "websocket"])
async def test_silent_client_times_out(engine: EngineStarter, node: NodeStarter, mode: str) -> None:
    eut = await engine(allow_eio3=True, ping_interval=0.2, ping_timeout=0.3)
    client, sid = await connect(eut, node, mode)
    await client.expect_event("pong")
    await client.send("stop_pings")
    await client.expect_event("pings_stopped")
    closed = await eut.expect_event("close", sid=sid)
    assert closed["reason"] == "ping timeout"


async def test_refused_without_allow_eio3(engine: EngineStarter, node: NodeStarter) -> None:
    eut = await engine()
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{eut.base_url}/engine.io/?EIO=3&transport=polling")
        missing = await http.get(f"{eut.base_url}/engine.io/?transport=polling")
    for refused in (response, missing):
        assert refused.status_code == 400
        assert refused.json() == {"code": 5, "message": "Unsupported protocol version"}
    client = await node("eio_client_v3", json.dumps({"url": eut.base_url, "options": {}}))
    error = await client.expect_event("error")
    assert error["message"] is not None


async def test_v4_clients_unchanged_with_allow_eio3(engine: EngineStarter) -> None:
    eut = await engine(allow_eio3=True)
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{eut.base_url}/engine.io/?EIO=4&transport=polling")
    assert response.text.startswith('0{"sid":')
    assert response.headers["content-type"] == "text/plain; charset=UTF-8"
