"""permessage-deflate with real peers: the official engine.io-client against the embedded server
(and the reference server, to check the expectations), with the option on and off; ASGI hosts,
which negotiate the extension themselves."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from tests.conftest import NodeStarter
from tests.support.engine import EngineUnderTest, start_engine
from tests.support.node import NodeProcess, decode_data, encode_data
from tests.support.requires import require_node

#: Compressible, above the 1024-byte threshold.
LARGE = (
    '{"event":"update","rows":[' + ",".join(f'{{"id":{i},"ok":true}}' for i in range(300)) + "]}"
)
BINARY = bytes(range(256)) * 20
#: Under the 64 KiB line limit of the Node driver pipe, over a 16-bit frame length.
HUGE = "z" * 60_000 + "!"


@pytest.fixture
async def engines() -> AsyncIterator[list[EngineUnderTest]]:
    started: list[EngineUnderTest] = []
    yield started
    for eut in reversed(started):
        await eut.close()


async def start(kind: str, engines: list[EngineUnderTest], **options: object) -> EngineUnderTest:
    if kind == "reference":
        require_node("engine.io")
    eut = await start_engine(kind, **options)
    engines.append(eut)
    return eut


async def open_client(eut: EngineUnderTest, node: NodeStarter) -> tuple[NodeProcess, str]:
    """engine.io-client over WebSocket only, with its default perMessageDeflate offer."""
    config = {"url": eut.base_url, "options": {"transports": ["websocket"]}}
    client = await node("eio_client", json.dumps(config))
    opened = await client.expect_event("open")
    sid = str(opened["id"])
    await eut.expect_event("connection", sid=sid)
    return client, sid


async def extensions(client: NodeProcess) -> str:
    await client.send("state")
    state = await client.expect_event("state")
    return str(state["extensions"])


async def exchange(eut: EngineUnderTest, client: NodeProcess, sid: str) -> None:
    """Small, large, binary and many messages each way arrive intact and in order."""
    messages: list[str | bytes] = ["hi", LARGE, BINARY, HUGE, *(f"{LARGE}{i}" for i in range(40))]
    for message in messages:
        await client.send("send", data=encode_data(message))
    for message in messages:
        event = await eut.expect_event("message", sid=sid)
        assert event["data"] == message
    for message in messages:
        await eut.send(sid, message)
    for message in messages:
        event = await client.expect_event("message")
        assert decode_data(event["data"]) == message


@pytest.mark.parametrize("kind", ["embedded", "reference"])
async def test_engineio_client_with_deflate_on(
    kind: str, engines: list[EngineUnderTest], node: NodeStarter
) -> None:
    eut = await start(kind, engines, per_message_deflate=True)
    client, sid = await open_client(eut, node)
    assert await extensions(client) == "permessage-deflate"
    await exchange(eut, client, sid)
    assert await extensions(client) == "permessage-deflate"


@pytest.mark.parametrize("kind", ["embedded", "reference"])
async def test_engineio_client_with_deflate_off(
    kind: str, engines: list[EngineUnderTest], node: NodeStarter
) -> None:
    eut = await start(kind, engines)
    client, sid = await open_client(eut, node)
    assert await extensions(client) == ""
    await exchange(eut, client, sid)


async def test_engineio_client_with_server_limits(
    engines: list[EngineUnderTest], node: NodeStarter
) -> None:
    """No context takeover and small windows on the server's side, as ws honours them."""
    eut = await start(
        "embedded",
        engines,
        per_message_deflate={
            "server_no_context_takeover": True,
            "client_no_context_takeover": True,
            "server_max_window_bits": 10,
            "client_max_window_bits": 9,
            "threshold": 0,
        },
    )
    client, sid = await open_client(eut, node)
    assert await extensions(client) == "permessage-deflate"
    await exchange(eut, client, sid)


async def test_deflate_bomb_from_a_real_session_closes_it(
    engines: list[EngineUnderTest], node: NodeStarter
) -> None:
    """The Node client sends a message that inflates past max_http_buffer_size: transport error."""
    eut = await start("embedded", engines, per_message_deflate=True, max_http_buffer_size=100_000)
    client, sid = await open_client(eut, node)
    await client.send("send", data=encode_data("a" * 99_000))  # under the limit: fine
    event = await eut.expect_event("message", sid=sid)
    assert event["data"] == "a" * 99_000
    await client.send("send", data=encode_data("a" * 50_000 * 10))  # 500 KB -> about 500 bytes
    closed = await eut.expect_event("close", sid=sid)
    assert closed["reason"] == "transport error"
    event = await client.expect_event("close")
    assert event["reason"] == "transport close"


@pytest.mark.parametrize("host", ["asgi", "hypercorn"])
async def test_asgi_hosts_decide_for_themselves(
    host: str, engines: list[EngineUnderTest], node: NodeStarter
) -> None:
    """ASGI has no extension negotiation: uvicorn (its default ``ws_per_message_deflate``) and
    hypercorn accept the client's offer whatever ``per_message_deflate`` says."""
    for option in (False, True):
        eut = await start(host, engines, per_message_deflate=option)
        client, sid = await open_client(eut, node)
        negotiated = await extensions(client)
        assert negotiated == "permessage-deflate"
        await exchange(eut, client, sid)
