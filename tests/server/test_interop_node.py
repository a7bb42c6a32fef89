"""The server against the official socket.io-client (npm, in Node), on every transport."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from aiosio import Ack
from aiosio.exceptions import AckTimeoutError, ConnectRefusedError
from aiosio.server import Socket
from tests.support.hosts import ALL_HOST_KINDS

from .conftest import Serve
from .node import NodeClients, requires_node

pytestmark = requires_node

TRANSPORTS: dict[str, dict[str, Any]] = {
    "polling": {"transports": ["polling"]},
    "websocket": {"transports": ["websocket"]},
    "upgrade": {},
}


@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_connect_auth_events_acks_and_binary(
    serve: Serve, node: NodeClients, transport: str
) -> None:
    io, url = await serve()
    sockets: list[Socket] = []

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        sockets.append(socket)
        socket.emit("welcome", {"you": socket.handshake.auth["name"], "blob": b"\x00\xff"}, [b"x"])

        @socket.on("echo")
        async def echo(*args: Any) -> tuple[Any, ...]:
            await asyncio.sleep(0)
            return ("echoed", *args)

    node.send(cmd="ack_reply", id="c", event="question", args=["answer", b"\x07"])
    event = await node.connect("c", url, auth={"name": "ann"}, **TRANSPORTS[transport])
    assert event["ev"] == "connect"
    assert event["sid"] == sockets[0].id
    welcome = await node.next("c", "event", name="welcome")
    assert welcome["args"] == [{"you": "ann", "blob": b"\x00\xff"}, [b"x"]]
    node.send(cmd="emit", id="c", event="echo", args=[1, {"bin": [b"\x01\x02"]}], ack=True, tag="t")
    ack = await node.next("c", "ack", tag="t")
    assert ack["args"] == ["echoed", 1, {"bin": [b"\x01\x02"]}]
    if transport == "upgrade":
        upgraded = asyncio.Event()
        sockets[0].conn.on("upgrade", lambda name: upgraded.set())
        if sockets[0].conn.transport != "websocket":
            async with asyncio.timeout(5):
                await upgraded.wait()
        assert sockets[0].conn.transport == "websocket"
    # server -> client with an acknowledgement
    assert await sockets[0].timeout(5).emit_with_ack("question", 1) == ("answer", b"\x07")


async def test_connect_error_from_middleware(serve: Serve, node: NodeClients) -> None:
    io, url = await serve()

    @io.use
    async def auth(socket: Socket) -> None:
        if socket.handshake.auth.get("token") != "secret":
            raise ConnectRefusedError("not authorized", {"hint": "token"})

    refused = await node.connect("bad", url, auth={"token": "nope"})
    assert refused == {
        "ev": "connect_error",
        "id": "bad",
        "message": "not authorized",
        "data": {"hint": "token"},
    }
    accepted = await node.connect("good", url, auth={"token": "secret"})
    assert accepted["ev"] == "connect"


async def test_namespaces_share_one_connection_and_dynamic_ones(
    serve: Serve, node: NodeClients
) -> None:
    io, url = await serve()
    main: list[Socket] = []
    admin: list[Socket] = []
    dynamic: list[Socket] = []
    io.on("connection", main.append)
    io.of("/admin").on("connection", admin.append)
    io.of(re.compile(r"^/workspace-\d+$")).on("connection", dynamic.append)
    assert (await node.connect("m", url))["ev"] == "connect"
    assert (await node.connect("a", url, "/admin"))["ev"] == "connect"
    assert (await node.connect("w", url, "/workspace-7"))["ev"] == "connect"
    assert main[0].conn is admin[0].conn is dynamic[0].conn  # multiplexed by the client
    assert dynamic[0].nsp.name == "/workspace-7"
    refused = await node.connect("x", url, "/unknown")
    assert refused["message"] == "Invalid namespace"
    io.of("/admin").emit("only-admin", 1)
    dynamic[0].nsp.emit("only-workspace", 2)
    assert (await node.next("a", "event"))["name"] == "only-admin"
    assert (await node.next("w", "event"))["name"] == "only-workspace"
    assert not [e for e in node.events if e["ev"] == "event" and e["id"] == "m"]


async def test_rooms_except_and_broadcast_acks(serve: Serve, node: NodeClients) -> None:
    io, url = await serve()
    sockets: dict[str, Socket] = {}

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        name = socket.handshake.auth["name"]
        sockets[name] = socket
        socket.join(["everyone", f"team-{socket.handshake.auth['team']}"])

    node.send(cmd="ack_reply", id="a", event="poll", args=["yes-a"])
    node.send(cmd="ack_reply", id="b", event="poll", args=["yes-b"])
    node.send(cmd="ack_reply", id="c", event="poll")  # c never answers
    for name, team in (("a", 1), ("b", 1), ("c", 2)):
        await node.connect(name, url, auth={"name": name, "team": team})
    io.to("team-1").emit("news", "team 1")
    io.to("everyone").except_("team-1").emit("news", "not team 1")
    sockets["a"].broadcast.emit("news", "from a")
    assert [(await node.next("a", "event"))["args"]] == [["team 1"]]
    assert [(await node.next("b", "event"))["args"] for _ in range(2)] == [["team 1"], ["from a"]]
    assert [(await node.next("c", "event"))["args"] for _ in range(2)] == [
        ["not team 1"],
        ["from a"],
    ]
    # acknowledgements from every client of a room
    answers = await io.to("team-1").timeout(5).emit_with_ack("poll")
    assert sorted(answers) == ["yes-a", "yes-b"]
    # one client does not answer: a timeout with the partial answers
    # (the timeout leaves the two fast answers time to arrive on a loaded machine)
    with pytest.raises(AckTimeoutError) as info:
        await io.timeout(1.5).emit_with_ack("poll")
    assert sorted(info.value.responses) == ["yes-a", "yes-b"]


async def test_volatile_reaches_a_client_that_keeps_up(serve: Serve, node: NodeClients) -> None:
    io, url = await serve()
    await node.connect("v", url, transports=["websocket"])
    io.volatile.emit("tick", 1)
    assert (await node.next("v", "event"))["args"] == [1]


async def test_disconnect_reasons_on_both_sides(serve: Serve, node: NodeClients) -> None:
    io, url = await serve()
    reasons: dict[str, str] = {}
    sockets: dict[str, Socket] = {}
    all_gone = asyncio.Event()

    def record(name: str, reason: str) -> None:
        reasons[name] = reason
        if len(reasons) == 3:
            all_gone.set()

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        name = socket.handshake.auth["name"]
        sockets[name] = socket
        socket.on("disconnect", lambda reason: record(name, reason))

    for name in ("server", "client", "transport"):
        await node.connect(name, url, auth={"name": name}, transports=["websocket"])
    sockets["server"].disconnect()
    assert (await node.next("server", "disconnect"))["reason"] == "io server disconnect"
    node.send(cmd="disconnect", id="client")
    assert (await node.next("client", "disconnect"))["reason"] == "io client disconnect"
    node.send(cmd="close_engine", id="transport")
    await node.next("transport", "disconnect")
    async with asyncio.timeout(5):
        await all_gone.wait()
    assert reasons == {
        "server": "server namespace disconnect",
        "client": "client namespace disconnect",
        "transport": "transport close",
    }


async def test_server_close_disconnects_clients(serve: Serve, node: NodeClients) -> None:
    io, url = await serve()
    reasons: list[str] = []
    io.on("connection", lambda socket: socket.on("disconnect", reasons.append))
    await node.connect("c", url, transports=["websocket"])
    await io.close()
    assert reasons == ["server shutting down"]
    assert (await node.next("c", "disconnect"))["reason"] == "transport close"


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_connection_state_recovery_with_the_official_client(
    serve: Serve, node: NodeClients, transport: str
) -> None:
    io, url = await serve(connection_state_recovery={"max_disconnection_duration": 10})
    sockets: list[Socket] = []
    gone = asyncio.Event()

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        sockets.append(socket)
        if not socket.recovered:
            socket.join("news")
            socket.data["visits"] = 1
        socket.on("disconnect", lambda reason: gone.set())

    first = await node.connect(
        "r",
        url,
        transports=[transport],
        reconnection=True,
        reconnectionDelay=50,
        randomizationFactor=0,
    )
    assert first["recovered"] is False
    io.to("news").emit("headline", 1)
    headline = await node.next("r", "event")
    assert headline["args"][0] == 1
    assert isinstance(headline["args"][1], str)  # the offset, which the client keeps for recovery
    node.send(cmd="close_engine", id="r")
    await node.next("r", "disconnect")
    await gone.wait()
    io.to("news").emit("headline", 2)  # missed while disconnected
    io.emit("all", 3)
    again = await node.next("r", "connect")
    assert again["recovered"] is True
    assert again["sid"] == first["sid"]
    missed = [(await node.next("r", "event")) for _ in range(2)]
    assert [(e["name"], e["args"][0]) for e in missed] == [("headline", 2), ("all", 3)]
    restored = sockets[-1]
    assert restored.recovered
    assert restored.id == sockets[0].id
    assert restored.rooms == {restored.id, "news"}
    assert restored.data == {"visits": 1}


@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_disconnect_with_close_from_a_handler_reaches_every_namespace_first(
    serve: Serve, node: NodeClients, transport: str
) -> None:
    io, url = await serve()

    def on_connection(socket: Socket) -> None:
        socket.on("bye", lambda: socket.disconnect(True))

    io.of("/a").on("connection", on_connection)
    await node.connect("r", url, **TRANSPORTS[transport])
    await node.connect("a", url, nsp="/a", **TRANSPORTS[transport])
    node.send(cmd="emit", id="a", event="bye", args=[])
    # every DISCONNECT leaves (and is handled by the client) before the connection closes
    assert (await node.next("r", "disconnect"))["reason"] == "io server disconnect"
    assert (await node.next("a", "disconnect"))["reason"] == "io server disconnect"


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_a_catch_all_listener_answers_acknowledgements(
    serve: Serve, node: NodeClients, transport: str
) -> None:
    io, url = await serve()
    seen: list[tuple[str, tuple[Any, ...], bool]] = []

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        @socket.on_any
        async def gateway(event: str, *args: Any, ack: Ack | None = None) -> None:
            seen.append((event, args, ack is not None))
            if event == "handled":
                return  # the event's own handler answers (this listener got ack=None)
            await asyncio.sleep(0.01)  # a gateway that asks elsewhere first
            if ack is not None:
                ack("via gateway", event, *args)

        @socket.on("handled")
        def handled(x: int) -> int:
            return x * 2

    await node.connect("c", url, **TRANSPORTS[transport])
    node.send(cmd="emit", id="c", event="anything", args=[1, {"a": b"\x01"}], ack=True, tag="1")
    assert (await node.next("c", "ack", tag="1"))["args"] == [
        "via gateway",
        "anything",
        1,
        {"a": b"\x01"},
    ]
    node.send(cmd="emit", id="c", event="handled", args=[21], ack=True, tag="2")
    assert (await node.next("c", "ack", tag="2"))["args"] == [42]
    node.send(cmd="emit", id="c", event="no-ack", args=[])
    node.send(cmd="emit", id="c", event="fence", args=[], ack=True, tag="3")
    assert (await node.next("c", "ack", tag="3"))["args"] == ["via gateway", "fence"]
    assert seen == [
        ("anything", (1, {"a": b"\x01"}), True),
        ("handled", (21,), False),
        ("no-ack", (), False),
        ("fence", (), True),
    ]


@pytest.fixture(params=ALL_HOST_KINDS)
def host_kind(request: pytest.FixtureRequest) -> str:
    """The official client against every host: embedded, uvicorn and hypercorn."""
    return str(request.param)
