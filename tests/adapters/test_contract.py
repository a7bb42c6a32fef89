"""One contract, every adapter: what an application sees of a cluster of three servers.

Runs against the in-memory adapter (one server standing for all three nodes), the cluster adapter over an
in-process bus, and the Redis adapters (classic, sharded, streams) on a real Redis. Clients are
python-socketio's AsyncClient. A "sentinel" broadcast to everyone marks the point after which a message
that should not have arrived would have.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosio.exceptions import AckTimeoutError
from aiosio.server import RemoteSocket, Socket

from .cluster_support import WAIT, Client, Cluster, eventually, on_every_server


def join_from_auth(socket: Socket) -> None:
    auth = socket.handshake.auth
    socket.data = {"name": auth.get("name")}
    socket.join(auth.get("rooms", []))


async def connect_all(cluster: Cluster, *specs: tuple[int, str, list[str]]) -> list[Client]:
    on_every_server(cluster, "connection", join_from_auth)
    return [
        await cluster.connect(node, name, auth={"name": name, "rooms": rooms})
        for node, name, rooms in specs
    ]


async def sentinel(cluster: Cluster, clients: list[Client], tag: str = "end") -> None:
    """Every server broadcasts ``tag``; once a client has every copy, whatever any server sent it
    before has arrived (messages from one server stay in order)."""
    servers = {id(node): node for node in cluster.nodes}.values()
    for server in servers:
        server.emit(tag)
    for client in clients:
        await client.expect(tag, count=len(servers))


def names(client: Client) -> list[str]:
    return [name for name, _ in client.events if name != "end"]


async def test_server_count(cluster: Cluster) -> None:
    for node in cluster.nodes:
        assert await node.sockets.adapter.server_count() == cluster.servers


async def test_broadcast_reaches_every_node(cluster: Cluster) -> None:
    clients = await connect_all(cluster, (0, "a", []), (1, "b", []), (2, "c", []))
    cluster.nodes[1].emit("hello", 1, {"x": [1.5, None, "é"]}, b"\x00\xff")
    for client in clients:
        assert await client.expect("hello") == [[1, {"x": [1.5, None, "é"]}, b"\x00\xff"]]


async def test_rooms_and_except(cluster: Cluster) -> None:
    a, b, c, d = await connect_all(
        cluster, (0, "a", ["r1"]), (1, "b", ["r1", "r2"]), (2, "c", ["r2"]), (2, "d", [])
    )
    on_shards = cluster.kind.endswith("@cluster")
    if on_shards:
        # a room's channel lives on its own shard: its messages are not ordered with the main
        # channel's, and its subscription may still be on its way to that shard's master
        await eventually(lambda: all(node.sockets.adapter.connected for node in cluster.nodes))  # type: ignore[attr-defined]
    cluster.nodes[2].to("r1").emit("to-r1")
    cluster.nodes[0].to(["r1", "r2"]).except_("r1").emit("r2-not-r1")
    cluster.nodes[1].except_("r1").emit("not-r1")
    cluster.nodes[0].to(b.sid).emit("to-b")
    if on_shards:
        for client, event in ((a, "to-r1"), (b, "to-r1"), (b, "to-b"), (c, "r2-not-r1")):
            await client.expect(event)
    await sentinel(cluster, [a, b, c, d])
    got = {client.name: sorted(names(client)) for client in (a, b, c, d)}
    assert got == {
        "a": ["to-r1"],
        "b": ["to-b", "to-r1"],
        "c": ["not-r1", "r2-not-r1"],
        "d": ["not-r1"],
    }


async def test_local_flag_stays_on_its_server(cluster: Cluster) -> None:
    clients = await connect_all(cluster, (0, "a", []), (1, "b", []), (2, "c", []))
    cluster.nodes[0].local.emit("local")
    await sentinel(cluster, clients)
    reached = [client.name for client in clients if client.received("local")]
    assert reached == (["a"] if cluster.servers > 1 else ["a", "b", "c"])


async def test_broadcast_with_acks_from_every_node(cluster: Cluster) -> None:
    await connect_all(cluster, (0, "a", ["r"]), (1, "b", ["r"]), (2, "c", []))
    answers = await cluster.nodes[1].timeout(WAIT).emit_with_ack("question", 7)
    assert sorted(answers) == ["a:question", "b:question", "c:question"]
    answers = await cluster.nodes[2].to("r").timeout(WAIT).emit_with_ack("question")
    assert sorted(answers) == ["a:question", "b:question"]


async def test_broadcast_with_acks_times_out_with_partial_answers(cluster: Cluster) -> None:
    *_, c = await connect_all(cluster, (0, "a", []), (1, "b", []), (2, "c", []))
    release = asyncio.Event()

    async def slow_ack(event: str, args: list[Any]) -> str:
        await release.wait()
        return "late"

    c.ack_with = slow_ack
    try:
        with pytest.raises(AckTimeoutError) as info:
            await cluster.nodes[0].timeout(0.5).emit_with_ack("question")
        assert sorted(info.value.responses) == ["a:question", "b:question"]
    finally:
        release.set()


async def test_fetch_sockets(cluster: Cluster) -> None:
    a, b, c = await connect_all(cluster, (0, "a", ["r1"]), (1, "b", ["r1", "r2"]), (2, "c", []))
    found = await cluster.nodes[0].fetch_sockets()
    by_id = {socket.id: socket for socket in found}
    assert set(by_id) == {a.sid, b.sid, c.sid}
    sb = by_id[b.sid]
    assert sb.rooms == {b.sid, "r1", "r2"}
    assert sb.data == {"name": "b"}
    auth = sb.handshake["auth"] if isinstance(sb, RemoteSocket) else sb.handshake.auth
    assert auth == {"name": "b", "rooms": ["r1", "r2"]}
    if cluster.servers > 1:
        assert isinstance(by_id[a.sid], Socket)
        assert isinstance(sb, RemoteSocket)
        assert isinstance(by_id[c.sid], RemoteSocket)
    in_r1 = await cluster.nodes[2].in_("r1").fetch_sockets()
    assert {socket.id for socket in in_r1} == {a.sid, b.sid}
    not_r1 = await cluster.nodes[2].except_("r1").fetch_sockets()
    assert {socket.id for socket in not_r1} == {c.sid}
    local = await cluster.nodes[1].local.fetch_sockets()
    assert {socket.id for socket in local} == (
        {b.sid} if cluster.servers > 1 else {a.sid, b.sid, c.sid}
    )


async def test_remote_socket_operations(cluster: Cluster) -> None:
    a, c = await connect_all(cluster, (0, "a", []), (2, "c", []))
    found = {socket.id: socket for socket in await cluster.nodes[0].fetch_sockets()}
    remote = found[c.sid]
    remote.emit("direct", "hi")
    assert await c.expect("direct") == [["hi"]]
    assert await remote.timeout(WAIT).emit_with_ack("question") == "c:question"
    remote.join("joined")
    await wait_rooms(cluster, c.sid, lambda rooms: "joined" in rooms)
    cluster.nodes[1].to("joined").emit("in-joined")
    assert await c.expect("in-joined") == [[]]
    remote.leave("joined")
    await wait_rooms(cluster, c.sid, lambda rooms: "joined" not in rooms)
    remote.disconnect()
    async with asyncio.timeout(WAIT):
        await c.disconnected.wait()
    assert not a.disconnected.is_set()


async def wait_rooms(cluster: Cluster, sid: str, check: Any) -> None:
    async with asyncio.timeout(WAIT):
        while True:
            found = {socket.id: socket for socket in await cluster.nodes[1].fetch_sockets()}
            if sid in found and check(found[sid].rooms):
                return
            await asyncio.sleep(0.02)


async def test_sockets_join_and_leave(cluster: Cluster) -> None:
    a, b, c = await connect_all(cluster, (0, "a", ["r1"]), (1, "b", ["r1"]), (2, "c", []))
    cluster.nodes[2].in_("r1").sockets_join(["new", "other"])
    await wait_rooms(cluster, a.sid, lambda rooms: {"new", "other"} <= rooms)
    await wait_rooms(cluster, b.sid, lambda rooms: {"new", "other"} <= rooms)
    if cluster.kind.endswith("@cluster"):
        # a room's channel lives on its own shard: its messages are not ordered with the main
        # channel's, and its subscription may still be on its way to that shard's master
        await eventually(lambda: all(node.sockets.adapter.connected for node in cluster.nodes))  # type: ignore[attr-defined]
    cluster.nodes[2].to("new").emit("in-new")
    if cluster.kind.endswith("@cluster"):
        await a.expect("in-new")
        await b.expect("in-new")
    await sentinel(cluster, [a, b, c])
    assert [bool(client.received("in-new")) for client in (a, b, c)] == [True, True, False]
    cluster.nodes[0].in_("new").sockets_leave("new")
    await wait_rooms(cluster, b.sid, lambda rooms: "new" not in rooms and "other" in rooms)
    await wait_rooms(cluster, a.sid, lambda rooms: "new" not in rooms)


async def test_disconnect_sockets(cluster: Cluster) -> None:
    a, b, c = await connect_all(cluster, (0, "a", ["r"]), (1, "b", []), (2, "c", ["r"]))
    cluster.nodes[1].in_("r").disconnect_sockets()
    async with asyncio.timeout(WAIT):
        await a.disconnected.wait()
        await c.disconnected.wait()
    await sentinel(cluster, [b])
    assert not b.disconnected.is_set()


async def test_server_side_emit(cluster: Cluster) -> None:
    received: list[tuple[int, list[Any]]] = []
    nodes = cluster.nodes
    for index, server in {id(node): (i, node) for i, node in enumerate(nodes)}.values():

        def handler(*args: Any, index: int = index) -> str:
            received.append((index, list(args)))
            return f"pong-{index}"

        server.on("ping-servers", handler)
    answers = await nodes[0].server_side_emit_with_ack("ping-servers", 1, {"k": "v"})
    if cluster.servers == 1:
        assert answers == []
        assert received == []
        return
    assert sorted(answers) == ["pong-1", "pong-2"]
    assert sorted(received) == [(1, [1, {"k": "v"}]), (2, [1, {"k": "v"}])]
    received.clear()
    nodes[2].server_side_emit("ping-servers", "no-ack")
    await eventually(lambda: len(received) >= 2)
    assert sorted(received) == [(0, ["no-ack"]), (1, ["no-ack"])]
