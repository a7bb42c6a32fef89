"""A mixed cluster: an aiosio server and a Node socket.io server share one Redis (or PostgreSQL).

Each server has an official socket.io-client connected; every cross-server operation is checked in both
directions, for the classic Redis adapter, the sharded one, the streams one and the PostgreSQL one (the
Node side runs the official ``@socket.io/redis-adapter`` / ``@socket.io/redis-streams-adapter`` /
``@socket.io/postgres-adapter``).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis, RedisCluster

from aiosio.server import RemoteSocket, Server, Socket
from tests.server.node import NodeClients, requires_node

from .cluster_support import adapter_factory, eventually
from .node_peers import NodeScript

pytestmark = requires_node


@dataclass
class Mixed:
    io: Server
    node: NodeScript
    clients: NodeClients
    py_url: str
    prefix: str
    kind: str

    async def connect(self, cid: str, on_python: bool, rooms: list[str]) -> str:
        url = self.py_url if on_python else self.node.url
        event = await self.clients.connect(
            cid, url, auth={"name": cid, "rooms": rooms}, transports=["websocket"]
        )
        assert event["ev"] == "connect", event
        return str(event["sid"])

    async def got(self, cid: str, name: str) -> list[Any]:
        event = await self.clients.expect(
            lambda e: e["ev"] == "event" and e["id"] == cid and e["name"] == name
        )
        return list(event["args"])


def join_from_auth(socket: Socket) -> None:
    auth = socket.handshake.auth
    socket.data = {"name": auth.get("name")}
    socket.join(auth.get("rooms", []))


@pytest.fixture(
    params=[
        "redis",
        "sharded",
        "streams",
        "postgres",
        "redis@cluster",
        "sharded@cluster",
        "redis@valkey",
        "sharded@valkey",
        "streams@valkey",
    ]
)
async def mixed(request: pytest.FixtureRequest) -> AsyncIterator[Mixed]:
    kind: str = request.param
    prefix = f"t{secrets.token_hex(4)}"
    client: Redis | RedisCluster | None = None
    if kind == "postgres":
        url: str = request.getfixturevalue("postgres_dsn")
        adapter = adapter_factory(kind, None, prefix, None, url)
    elif kind.endswith("@cluster"):
        url = request.getfixturevalue("redis_cluster_url")
        client = RedisCluster.from_url(url)
        adapter = adapter_factory(kind, client, prefix, None)
    else:
        url = request.getfixturevalue("valkey_url" if kind.endswith("@valkey") else "redis_url")
        client = Redis.from_url(url)
        adapter = adapter_factory(kind, client, prefix, None)
    io = Server(adapter=adapter, ping_interval=1, ping_timeout=1)
    io.on("connection", join_from_auth)
    port = await io.listen(0, "127.0.0.1")
    node = await NodeScript.start("sio_cluster_server", kind, url, prefix)
    clients = await NodeClients.start()
    mixed = Mixed(io, node, clients, f"http://127.0.0.1:{port}", prefix, kind)
    try:
        await eventually(io.sockets.adapter.server_count, lambda n: n == 2)

        async def node_count() -> int:
            return int((await node.call("server_count"))["count"])

        await eventually(node_count, lambda n: n == 2)
        yield mixed
    finally:
        await clients.close()
        await node.close()
        await io.close()
        if client is not None:
            await client.aclose()


async def test_broadcasts_both_ways(mixed: Mixed) -> None:
    await mixed.connect("py", True, ["r1"])
    await mixed.connect("nd", False, ["r2"])
    mixed.io.emit("from-py", 1, {"a": "é"}, b"\x00\x01")
    mixed.node.send("emit", event="from-node", args=[2, [True, None], b"\xff"])
    for cid in ("py", "nd"):
        assert await mixed.got(cid, "from-py") == [1, {"a": "é"}, b"\x00\x01"]
        assert await mixed.got(cid, "from-node") == [2, [True, None], b"\xff"]
    # rooms: one-room channels, several rooms, except
    mixed.io.to("r2").emit("py-to-r2")
    mixed.node.send("emit", event="node-to-r1", rooms=["r1"])
    mixed.node.send("emit", event="node-not-r1", rooms=["r1", "r2"], **{"except": ["r1"]})
    mixed.io.to(["r1", "r2"]).except_("r2").emit("py-not-r2")
    assert await mixed.got("nd", "py-to-r2") == []
    assert await mixed.got("py", "node-to-r1") == []
    assert await mixed.got("py", "py-not-r2") == []
    assert await mixed.got("nd", "node-not-r1") == []
    mixed.io.emit("end")
    mixed.node.send("emit", event="end")
    for cid in ("py", "nd"):
        await mixed.got(cid, "end")
        await mixed.got(cid, "end")
    leftovers = [
        (e["id"], e["name"])
        for e in mixed.clients.events
        if e["ev"] == "event"
        and e["name"] in ("py-to-r2", "node-to-r1", "py-not-r2", "node-not-r1")
    ]
    assert leftovers == []


async def test_fetch_sockets_both_ways(mixed: Mixed) -> None:
    py_sid = await mixed.connect("py", True, ["r1"])
    nd_sid = await mixed.connect("nd", False, ["r1", "r2"])
    found = {socket.id: socket for socket in await mixed.io.fetch_sockets()}
    assert set(found) == {py_sid, nd_sid}
    assert isinstance(found[py_sid], Socket)
    remote = found[nd_sid]
    assert isinstance(remote, RemoteSocket)
    assert remote.rooms == {nd_sid, "r1", "r2"}
    assert remote.data == {"name": "nd"}
    assert remote.handshake["auth"] == {"name": "nd", "rooms": ["r1", "r2"]}
    in_r2 = await mixed.io.in_("r2").fetch_sockets()
    assert [socket.id for socket in in_r2] == [nd_sid]

    fetched = await mixed.node.call("fetch")
    described = {s["id"]: s for s in fetched["sockets"]}
    assert set(described) == {py_sid, nd_sid}
    assert described[py_sid] == {
        "id": py_sid,
        "rooms": sorted([py_sid, "r1"]),
        "data": {"name": "py"},
        "auth": {"name": "py", "rooms": ["r1"]},
        "remote": True,
    }
    fetched = await mixed.node.call("fetch", rooms=["r1"], **{"except": ["r2"]})
    assert [s["id"] for s in fetched["sockets"]] == [py_sid]


async def test_remote_socket_operations_both_ways(mixed: Mixed) -> None:
    py_sid = await mixed.connect("py", True, [])
    nd_sid = await mixed.connect("nd", False, [])
    found = {socket.id: socket for socket in await mixed.io.fetch_sockets()}
    remote = found[nd_sid]
    remote.emit("direct", "to-node-client")
    assert await mixed.got("nd", "direct") == ["to-node-client"]
    assert await remote.timeout(5).emit_with_ack("question") == "ack:question"
    remote.join("joined-by-py")
    answer = await mixed.node.call("remote", sid=py_sid, op="emit", event="hi", args=[1])
    assert answer["remote"] is True
    assert await mixed.got("py", "hi") == [1]
    answer = await mixed.node.call("remote", sid=py_sid, op="emit_with_ack", event="q")
    assert answer["answer"] == "ack:q"
    await mixed.node.call("remote", sid=py_sid, op="join", room="joined-by-node")

    async def rooms_of(sid: str) -> set[str]:
        sockets = {socket.id: socket for socket in await mixed.io.fetch_sockets()}
        return set(sockets[sid].rooms)

    await eventually(lambda: rooms_of(py_sid), lambda rooms: "joined-by-node" in rooms)
    await eventually(lambda: rooms_of(nd_sid), lambda rooms: "joined-by-py" in rooms)
    await mixed.node.call("remote", sid=py_sid, op="disconnect")
    await mixed.clients.next("py", "disconnect")


async def test_operations_on_matching_sockets_both_ways(mixed: Mixed) -> None:
    py_sid = await mixed.connect("py", True, ["r1"])
    nd_sid = await mixed.connect("nd", False, ["r1"])
    mixed.io.in_("r1").sockets_join("from-py")
    mixed.node.send("sockets_join", rooms=["r1"], room="from-node")

    async def rooms() -> dict[str, set[str]]:
        return {socket.id: set(socket.rooms) for socket in await mixed.io.fetch_sockets()}

    both = {"from-py", "from-node"}
    await eventually(rooms, lambda r: both <= r[py_sid] and both <= r[nd_sid])
    mixed.io.in_("from-node").sockets_leave("from-node")
    mixed.node.send("sockets_leave", rooms=["from-py"], room="from-py")
    await eventually(rooms, lambda r: not (both & r[py_sid]) and not (both & r[nd_sid]))
    mixed.node.send("disconnect_sockets", rooms=[py_sid])
    await mixed.clients.next("py", "disconnect")
    mixed.io.disconnect_sockets()
    await mixed.clients.next("nd", "disconnect")


async def test_broadcast_with_acks_both_ways(mixed: Mixed) -> None:
    await mixed.connect("py", True, [])
    await mixed.connect("nd", False, [])
    answers = await mixed.io.timeout(5).emit_with_ack("question", 1)
    assert sorted(answers) == ["ack:question", "ack:question"]
    answer = await mixed.node.call("emit_with_ack", event="q2", timeout=5000)
    assert answer["responses"] == ["ack:q2", "ack:q2"]


async def test_server_side_emit_both_ways(mixed: Mixed) -> None:
    received: list[list[Any]] = []

    def on_ping(*args: Any) -> str:
        received.append(list(args))
        return "py-pong"

    mixed.io.on("ping-servers", on_ping)
    assert await mixed.io.server_side_emit_with_ack("ping-servers", 1, "a") == ["node-pong"]
    event = await mixed.node.expect(lambda e: e["ev"] == "server_side")
    assert event["args"] == [1, "a"]
    assert event["ack"] is True
    mixed.io.server_side_emit("ping-servers", {"k": 2})
    event = await mixed.node.expect(lambda e: e["ev"] == "server_side")
    assert event == {"ev": "server_side", "args": [{"k": 2}], "ack": False}

    answer = await mixed.node.call("server_side_emit_with_ack", event="ping-servers", args=[3])
    assert answer.get("responses") == ["py-pong"], (answer, received)
    mixed.node.send("server_side_emit", event="ping-servers", args=["x", b"\x01"])
    await eventually(lambda: len(received) == 2)
    # the classic Node adapter sends server-side events as JSON: a Buffer arrives in its JSON form
    # (the PostgreSQL one stores binary as a msgpack attachment)
    blob = {"type": "Buffer", "data": [1]} if mixed.kind.startswith("redis") else b"\x01"
    assert received == [[3], ["x", blob]]


async def test_requests_from_inside_async_handlers(mixed: Mixed) -> None:
    """A coroutine handler (a client's event with an ack) runs cluster requests and answers with them."""
    py_sid = await mixed.connect("py", True, ["r1"])
    nd_sid = await mixed.connect("nd", False, ["r1"])

    async def on_survey(room: str) -> dict[str, Any]:
        await asyncio.sleep(0)  # a real suspension first, as a handler doing I/O would
        in_room = await mixed.io.in_(room).fetch_sockets()
        pongs = await mixed.io.server_side_emit_with_ack("ping-servers", "from-handler")
        acks = await mixed.io.timeout(5).emit_with_ack("question")
        return {"sids": sorted(s.id for s in in_room), "pongs": pongs, "acks": sorted(acks)}

    mixed.io.on("connection", lambda socket: socket.on("survey", on_survey))
    sid = await mixed.connect("asker", True, [])
    mixed.clients.send(cmd="emit", id="asker", event="survey", args=["r1"], ack=True, tag="s1")
    answer = await mixed.clients.expect(lambda e: e["ev"] == "ack" and e.get("tag") == "s1")
    assert answer.get("args") == [
        {
            "sids": sorted([py_sid, nd_sid]),
            "pongs": ["node-pong"],
            "acks": ["ack:question"] * 3,
        }
    ], (answer, sid)
