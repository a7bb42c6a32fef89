"""The MessagePack parser end to end: an aiosio server using ``aiosio.protocol.msgpack`` with the
official socket.io-client + ``socket.io-msgpack-parser`` (npm) and with aiosio's asyncio client,
over polling, WebSocket and the upgrade, binary included; on both hosts (embedded and uvicorn)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aiosio.client import Manager
from aiosio.protocol.msgpack import MSGPACK_PARSER
from aiosio.server import Socket

from .conftest import Serve
from .node import NodeClients, requires_node

TRANSPORTS: dict[str, dict[str, Any]] = {
    "polling": {"transports": ["polling"]},
    "websocket": {"transports": ["websocket"]},
    "upgrade": {"transports": ["polling", "websocket"]},
}
BLOB = bytes(range(256)) * 4


async def msgpack_server(serve: Serve) -> tuple[str, list[Socket]]:
    io, url = await serve(parser=MSGPACK_PARSER)
    sockets: list[Socket] = []

    @io.on("connection")
    async def on_connection(socket: Socket) -> None:
        sockets.append(socket)
        socket.join("room")
        socket.emit("welcome", {"blob": b"\x00\xff", "n": 2**40, "f": 1.5, "none": None}, [b"x"])

        @socket.on("echo")
        async def echo(*args: Any) -> tuple[Any, ...]:
            await asyncio.sleep(0)
            return ("echoed", *args)

        @socket.on("shout")
        def shout(text: str, data: bytes) -> None:
            io.to("room").emit("shouted", text, data)

    return url, sockets


@pytest.fixture
async def managers() -> AsyncIterator[list[Manager]]:
    created: list[Manager] = []
    yield created
    for manager in created:
        await manager.close()


@requires_node
@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_official_client_with_the_msgpack_parser(
    serve: Serve, node: NodeClients, transport: str
) -> None:
    url, sockets = await msgpack_server(serve)
    options = {**TRANSPORTS[transport], "parser": "msgpack"}
    node.send(cmd="ack_reply", id="c", event="question", args=["answer", BLOB])
    connected = await node.connect("c", url, **options)
    assert connected["ev"] == "connect"
    assert connected["sid"] == sockets[0].id
    welcome = await node.next("c", "event", name="welcome")
    assert welcome["args"] == [{"blob": b"\x00\xff", "n": 2**40, "f": 1.5, "none": None}, [b"x"]]

    node.send(cmd="emit", id="c", event="echo", args=[1, {"bin": [BLOB]}], ack=True, tag="e")
    assert (await node.next("c", "ack", tag="e"))["args"] == ["echoed", 1, {"bin": [BLOB]}]
    assert await sockets[0].emit_with_ack("question", b"\x01") == ("answer", BLOB)
    node.send(cmd="emit", id="c", event="shout", args=["hi", b"\x02\x03"])
    assert (await node.next("c", "event", name="shouted"))["args"] == ["hi", b"\x02\x03"]
    if transport == "upgrade":
        upgraded = asyncio.Event()
        sockets[0].conn.on("upgrade", lambda name: upgraded.set())
        if sockets[0].conn.transport != "websocket":
            async with asyncio.timeout(5):
                await upgraded.wait()
        node.send(cmd="emit", id="c", event="echo", args=[BLOB], ack=True, tag="u")
        assert (await node.next("c", "ack", tag="u"))["args"] == ["echoed", BLOB]
    expected = "polling" if transport == "polling" else "websocket"
    assert sockets[0].conn.transport == expected


@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_asyncio_client_with_the_msgpack_parser(
    serve: Serve, managers: list[Manager], transport: str
) -> None:
    url, sockets = await msgpack_server(serve)
    manager = Manager(url, parser=MSGPACK_PARSER, reconnection=False, **TRANSPORTS[transport])
    managers.append(manager)
    client = manager.socket("/")
    welcomed: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
    shouted: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    client.on("welcome", lambda *args: welcomed.set_result(args))
    client.on("shouted", lambda *args: shouted.put_nowait(args))

    @client.on("question")
    async def question(data: bytes) -> tuple[str, bytes]:
        await asyncio.sleep(0)
        return "answer", data + BLOB

    async with asyncio.timeout(5):
        await client.connect()
        assert client.id == sockets[0].id
        assert await welcomed == ({"blob": b"\x00\xff", "n": 2**40, "f": 1.5, "none": None}, [b"x"])
        assert await client.emit_with_ack("echo", 1, {"bin": [BLOB]}) == (
            "echoed",
            1,
            {"bin": [BLOB]},
        )
        assert await sockets[0].emit_with_ack("question", b"\x01") == ("answer", b"\x01" + BLOB)
        client.emit("shout", "hi", b"\x02\x03")
        assert await shouted.get() == ("hi", b"\x02\x03")
        if transport == "upgrade":
            upgraded = asyncio.Event()
            sockets[0].conn.on("upgrade", lambda name: upgraded.set())
            if sockets[0].conn.transport != "websocket":
                await upgraded.wait()
            assert await client.emit_with_ack("echo", BLOB) == ("echoed", BLOB)
    expected = "polling" if transport == "polling" else "websocket"
    assert sockets[0].conn.transport == expected
