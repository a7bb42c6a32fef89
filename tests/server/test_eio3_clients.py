"""socket.io-client 2.x (Engine.IO v3, Socket.IO protocol v4, in Node) against ``allow_eio3``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aiosio.exceptions import ConnectRefusedError
from aiosio.server import Socket

from .conftest import Serve
from .node import DRIVER_V2, NodeClients, requires_node

pytestmark = requires_node

TRANSPORTS: dict[str, dict[str, Any]] = {
    "polling": {"transports": ["polling"]},
    "polling-b64": {"transports": ["polling"], "forceBase64": True},
    "websocket": {"transports": ["websocket"]},
    "upgrade": {},
}


@pytest.fixture
async def old() -> AsyncIterator[NodeClients]:
    """A Node process driving socket.io-client 2.x sockets."""
    clients = await NodeClients.start(DRIVER_V2)
    yield clients
    await clients.close()


async def wait_for_upgrade(socket: Socket) -> None:
    upgraded = asyncio.Event()
    socket.conn.on("upgrade", lambda name: upgraded.set())
    if socket.conn.transport != "websocket":
        async with asyncio.timeout(5):
            await upgraded.wait()


@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_events_acks_and_binary_both_ways(
    serve: Serve, old: NodeClients, transport: str
) -> None:
    io, url = await serve(allow_eio3=True)
    sockets: list[Socket] = []

    @io.on("connection")
    async def on_connection(socket: Socket) -> None:
        sockets.append(socket)

        @socket.on("echo")
        async def echo(*args: Any) -> tuple[Any, ...]:
            await asyncio.sleep(0)
            return ("echoed", *args)

        socket.emit("welcome", {"you": socket.handshake.query.get("name"), "blob": b"\x00\xff"})

    old.send(cmd="ack_reply", id="c", event="question", args=["answer", b"\x07"])
    event = await old.connect("c", url, query={"name": "ann"}, **TRANSPORTS[transport])
    assert event["ev"] == "connect"
    # 2.x names the socket of "/" after its Engine.IO session, and so does the server for it.
    assert event["sid"] == sockets[0].id == sockets[0].conn.id
    assert sockets[0].conn.protocol == 3
    welcome = await old.next("c", "event", name="welcome")
    assert welcome["args"] == [{"you": "ann", "blob": b"\x00\xff"}]
    old.send(cmd="emit", id="c", event="echo", args=[1, {"bin": [b"\x01\x02"]}], ack=True, tag="t")
    ack = await old.next("c", "ack", tag="t")
    assert ack["args"] == ["echoed", 1, {"bin": [b"\x01\x02"]}]
    if transport == "upgrade":
        await wait_for_upgrade(sockets[0])
    assert await sockets[0].timeout(5).emit_with_ack("question", 1) == ("answer", b"\x07")

    sockets[0].disconnect()
    gone = await old.next("c", "disconnect")
    assert gone["reason"] == "io server disconnect"


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_second_namespace_with_query_as_auth(
    serve: Serve, old: NodeClients, transport: str
) -> None:
    io, url = await serve(allow_eio3=True)
    admin = io.of("/admin")
    seen: list[dict[str, Any]] = []
    admins: list[Socket] = []

    @admin.use
    async def check(socket: Socket) -> None:
        seen.append(dict(socket.handshake.auth))
        if socket.handshake.auth.get("token") != "secret":
            raise ConnectRefusedError("not authorized", {"hint": "token"})

    @admin.on("connection")
    def on_admin(socket: Socket) -> None:
        admins.append(socket)

        @socket.on("inc")
        async def inc(value: int) -> int:
            await asyncio.sleep(0)
            return value + 1

    opts = TRANSPORTS[transport]
    accepted = await old.connect("a", url, nsp="/admin", query={"token": "secret"}, **opts)
    assert accepted["ev"] == "connect"
    engine_id = admins[0].conn.id
    assert accepted["sid"] == admins[0].id == f"/admin#{engine_id}"
    # The server joins "/" on its own for old clients, as the reference does.
    assert engine_id in io.of("/").sockets
    assert seen == [{"token": "secret"}]
    old.send(cmd="emit", id="a", event="inc", args=[41], ack=True, tag="p")
    assert (await old.next("a", "ack", tag="p"))["args"] == [42]

    refused = await old.connect(
        "b", url, nsp="/admin", query={"token": "nope"}, forceNew=True, **opts
    )
    # Old clients get the error's data (its message when it has none), not {message, data}.
    assert refused["ev"] == "connect_error"
    assert refused["data"] == {"hint": "token"}


async def test_refusals_in_the_old_form(serve: Serve, old: NodeClients) -> None:
    io, url = await serve(allow_eio3=True)

    @io.of("/private").use
    def refuse(socket: Socket) -> None:
        raise ConnectRefusedError("go away")

    refused = await old.connect("p", url, nsp="/private")
    assert refused == {"ev": "connect_error", "id": "p", "message": "go away", "data": "go away"}
    unknown = await old.connect("u", url, nsp="/nowhere", forceNew=True)
    assert unknown["ev"] == "connect_error"
    assert unknown["data"] == {"message": "Invalid namespace"}


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_rooms_broadcast_to_old_and_new_clients(
    serve: Serve, old: NodeClients, node: NodeClients, transport: str
) -> None:
    io, url = await serve(allow_eio3=True)

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        @socket.on("join")
        async def join(room: str) -> str:
            socket.join(room)
            return room

        @socket.on("shout")
        async def shout(room: str, data: Any) -> None:
            await asyncio.sleep(0)
            io.to(room).emit("news", data, socket.id)

    opts = TRANSPORTS[transport]
    for cid in ("x", "y"):
        assert (await old.connect(cid, url, forceNew=True, **opts))["ev"] == "connect"
    assert (await node.connect("n", url, **opts))["ev"] == "connect"
    for client, cid in ((old, "x"), (node, "n")):
        client.send(cmd="emit", id=cid, event="join", args=["room"], ack=True, tag="j")
        await client.next(cid, "ack", tag="j")

    old.send(cmd="emit", id="y", event="shout", args=["room", {"b": b"\x01\x02\x03"}])
    for client, cid in ((old, "x"), (node, "n")):
        news = await client.next(cid, "event", name="news")
        assert news["args"][0] == {"b": b"\x01\x02\x03"}
    old.send(cmd="emit", id="x", event="shout", args=["room", "text"])
    assert (await old.next("x", "event", name="news"))["args"][0] == "text"
    assert (await node.next("n", "event", name="news"))["args"][0] == "text"
    # "y" is not in the room: it never hears the news.
    assert not [e for e in old.events if e.get("id") == "y" and e.get("name") == "news"]


async def test_off_by_default(serve: Serve, old: NodeClients) -> None:
    io, url = await serve()
    refused = await old.connect("c", url, transports=["polling"])
    assert refused["ev"] == "connect_error"
    assert not io.of("/").sockets
