"""A mixed cluster: an aiosio server and a Node socket.io server share one Redis (or PostgreSQL).

Each server has an official socket.io-client connected; every cross-server operation is checked in both
directions, for the classic Redis adapter, the sharded one, the streams one and the PostgreSQL one (the
Node side runs the official ``@socket.io/redis-adapter`` / ``@socket.io/redis-streams-adapter`` /
``@socket.io/postgres-adapter``).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis, RedisCluster

from aiosio.server import RemoteSocket, Server, Socket
from tests.server.node import NodeClients, requires_node

from .cluster_support import Client, adapter_factory, eventually
from .cold_start import wait_until_joined, wait_until_rooms_subscribed
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
    observer: Redis | RedisCluster | None = None

    async def connect(self, cid: str, on_python: bool, rooms: list[str]) -> str:
        """Connect ``cid`` to one of the servers, in ``rooms``; returns once a broadcast to those
        rooms would reach it (with the sharded adapter: once the rooms' channels are listened to)."""
        url = self.py_url if on_python else self.node.url
        event = await self.clients.connect(
            cid, url, auth={"name": cid, "rooms": rooms}, transports=["websocket"]
        )
        assert event["ev"] == "connect", event
        if self.kind.startswith("sharded") and self.observer is not None:
            await wait_until_rooms_subscribed(self.observer, self.prefix, rooms)
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
        "streams@cluster",
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
    io.on("connection", cluster_requests_from_handlers)
    port = await io.listen(0, "127.0.0.1")
    node = await NodeScript.start("sio_cluster_server", kind, url, prefix)
    clients = await NodeClients.start()
    mixed = Mixed(io, node, clients, f"http://127.0.0.1:{port}", prefix, kind, client)
    try:
        await joined(mixed, url)
        yield mixed
    finally:
        await clients.close()
        await node.close()
        await io.close()
        if client is not None:
            await client.aclose()


async def joined(mixed: Mixed, url: str) -> None:
    """Wait until the two servers know each other, without a warm-up request from the test's task:
    on plain Redis (and Valkey) both subscriptions as a separate client sees them; on a Redis Cluster
    and PostgreSQL, where no single client sees them, the count each server keeps from the other's
    heartbeats (the Node server's and the cluster adapter's local one, which send no request)."""
    base, _, where = mixed.kind.partition("@")
    if base != "postgres" and where != "cluster":
        observer = Redis.from_url(url)
        try:
            await wait_until_joined(base, observer, mixed.prefix, 2)
        finally:
            await observer.aclose()
        return

    async def node_count() -> int:
        return int((await mixed.node.call("server_count"))["count"])

    await eventually(node_count, lambda n: n == 2)
    await eventually(mixed.io.sockets.adapter.server_count, lambda n: n == 2)


def cluster_requests_from_handlers(socket: Socket) -> None:
    """What an application does: cluster requests started by an event's ``async def`` handler."""
    io = socket.nsp.server

    @socket.on("cluster_ops")
    async def cluster_ops(room: str | None = None) -> dict[str, Any]:
        sockets = await (io.in_(room) if room else io).fetch_sockets()
        servers = await io.server_side_emit_with_ack("ping-servers", "from-handler")
        acks = await io.timeout(5).emit_with_ack("question", 7)
        return {
            "sockets": sorted(s.id for s in sockets),
            "servers": servers,
            "acks": sorted(acks),
        }


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


async def test_cluster_requests_started_in_handlers(mixed: Mixed) -> None:
    py_sid = await mixed.connect("py", True, ["r1"])
    nd_sid = await mixed.connect("nd", False, ["r1", "r2"])
    for room, expected in ((None, sorted([py_sid, nd_sid])), ("r2", [nd_sid])):
        mixed.clients.send(cmd="emit", id="py", event="cluster_ops", args=[room], ack=True, tag="q")
        answer = await mixed.clients.expect(lambda e: e["ev"] == "ack" and e.get("tag") == "q")
        assert answer["args"] == [
            {
                "sockets": expected,
                "servers": ["node-pong"],
                "acks": ["ack:question", "ack:question"],
            }
        ]
    event = await mixed.node.expect(lambda e: e["ev"] == "server_side")
    assert event == {"ev": "server_side", "args": ["from-handler"], "ack": True}


async def test_streams_recovery_across_node_and_aiosio_from_handlers(redis_url: str) -> None:
    """A client of the Node server loses its transport; broadcasts started by an aiosio handler and
    by Node land in the stream; it comes back to aiosio and gets them in stream order."""
    prefix = f"t{secrets.token_hex(4)}"
    redis = Redis.from_url(redis_url)
    io = Server(
        adapter=adapter_factory("streams", redis, prefix, None),
        connection_state_recovery={"max_disconnection_duration": 10},
    )
    recovered: list[Socket] = []

    @io.on("connection")
    async def on_connection(socket: Socket) -> None:
        if socket.recovered:
            recovered.append(socket)
        else:
            join_from_auth(socket)

        @socket.on("shout")
        async def shout(text: str) -> None:
            io.to("r1").emit("news", text)

    port = await io.listen(0, "127.0.0.1")
    py_url = f"http://127.0.0.1:{port}"
    peer = await NodeScript.start("sio_cluster_server", "streams", redis_url, prefix, "recovery")
    clients: list[Client] = []
    try:
        await wait_until_joined("streams", redis, prefix, 2)
        lost = await Client("lost").connect(peer.url, auth={"name": "lost", "rooms": ["r1"]})
        clients.append(lost)
        sid = lost.sid
        pid = (await peer.expect(lambda e: e["ev"] == "connection"))["pid"]
        witness = await Client("witness").connect(py_url, auth={"name": "w", "rooms": ["r1"]})
        clients.append(witness)
        await witness.sio.emit("shout", "first")
        (first,) = await lost.expect("news")
        assert first[0] == "first"
        offset = first[-1]

        await lost.sio.eio.disconnect(abort=True)
        await peer.expect(lambda e: e["ev"] == "disconnect")
        await eventually(lambda: redis.exists(f"sio:session:{pid}"))
        # each one seen by the witness before the next starts: the stream's order is this order
        await witness.sio.emit("shout", "m1")
        await witness.expect("news", count=2)
        peer.send("emit", event="news", rooms=["r1"], args=["m2"])
        await witness.expect("news", count=3)
        await witness.sio.emit("shout", "m3")
        await witness.expect("news", count=4)

        back = await Client("back").connect(py_url, auth={"pid": pid, "offset": offset})
        clients.append(back)
        assert back.sid == sid
        await back.expect("news", count=3)
        assert [args[0] for args in back.received("news")] == ["m1", "m2", "m3"]
        assert len(recovered) == 1
        assert recovered[0].rooms == {sid, "r1"}
        assert recovered[0].data == {"name": "lost"}
    finally:
        for client in clients:
            await client.close()
        await peer.close()
        await io.close()
        await redis.aclose()
