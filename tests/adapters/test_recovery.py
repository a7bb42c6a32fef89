"""Connection state recovery across servers with the Redis streams adapter (on one Redis, and on a Redis
Cluster).

A client loses its transport on one server and comes back to another with its ``pid`` and the offset of
the last packet it got: the session (id, rooms, data) is found in Redis and the packets broadcast in the
meantime are read back from the stream. The session may have been stored by a Node server.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from redis.asyncio import Redis, RedisCluster

from aiosio.adapters import RecoveryOptionsDict
from aiosio.server import Server, Socket
from tests.server.node import requires_node

from .cluster_support import Client, Cluster, adapter_factory, eventually, wait_for_servers
from .cold_start import wait_until_joined
from .node_peers import NodeScript

RECOVERY: RecoveryOptionsDict = {"max_disconnection_duration": 10}


def join_from_auth(socket: Socket) -> None:
    if not socket.recovered:
        socket.data = {"name": socket.handshake.auth.get("name")}
        socket.join(socket.handshake.auth.get("rooms", []))


async def drop_transport(client: Client) -> None:
    """Close the connection without a DISCONNECT packet: the server sees "transport close"."""
    await client.sio.eio.disconnect(abort=True)


@pytest.fixture(params=["streams", "streams@cluster"])
def kind(request: pytest.FixtureRequest) -> str:
    """The streams adapter on one Redis, or on a Redis Cluster."""
    return str(request.param)


@pytest.fixture
def url(kind: str, request: pytest.FixtureRequest) -> str:
    """The Redis (or one node of the Redis Cluster) the servers share."""
    return str(request.getfixturevalue("redis_cluster_url" if "@" in kind else "redis_url"))


def new_client(kind: str, url: str) -> Redis | RedisCluster:
    return RedisCluster.from_url(url) if "@" in kind else Redis.from_url(url)


async def test_recovery_on_another_aiosio_server(kind: str, url: str) -> None:
    redis_url = url
    prefix = f"t{secrets.token_hex(4)}"
    redis_clients = [new_client(kind, url) for _ in range(2)]
    nodes = [
        Server(
            adapter=adapter_factory(kind, client, prefix, None),
            connection_state_recovery=RECOVERY,
        )
        for client in redis_clients
    ]
    recovered: list[Socket] = []
    for io in nodes:
        io.on("connection", join_from_auth)
        io.on("connection", lambda socket: recovered.append(socket) if socket.recovered else None)
    urls = [f"http://127.0.0.1:{await io.listen(0, '127.0.0.1')}" for io in nodes]
    cluster = Cluster(kind, nodes, urls, redis_url=redis_url, prefix=prefix)
    try:
        await wait_for_servers(cluster)
        client = await cluster.connect(0, "a", auth={"name": "a", "rooms": ["r1"]})
        other = await cluster.connect(1, "b", auth={"name": "b", "rooms": []})
        sid = client.sid
        pid = nodes[0].sockets.sockets[sid].pid
        assert pid is not None
        nodes[1].to("r1").emit("first", 1)
        (args,) = await client.expect("first")
        value, offset = args
        assert value == 1
        assert isinstance(offset, str)

        await drop_transport(client)
        # the session is written in the background: let it land before coming back
        await eventually(lambda: redis_clients[0].exists(f"sio:session:{pid}"))
        nodes[1].to("r1").emit("missed", 2)
        nodes[0].emit("missed-all", 3)
        nodes[1].to("other-room").emit("not-for-a", 4)
        await other.expect("missed-all")

        back = await cluster.connect(1, "a2", auth={"pid": pid, "offset": offset})
        assert back.sid == sid
        missed = await back.expect("missed-all")
        assert [name for name, _ in back.events] == ["missed", "missed-all"]
        assert back.received("missed")[0][0] == 2
        assert missed[0][0] == 3
        assert len(recovered) == 1
        restored = recovered[0]
        assert restored.rooms == {sid, "r1"}
        assert restored.data == {"name": "a"}
        # the session is used up
        again = await cluster.connect(0, "a3", auth={"pid": pid, "offset": offset})
        assert again.sid != sid
    finally:
        await cluster.close()
        for redis_client in redis_clients:
            await redis_client.aclose()


@requires_node
async def test_recovery_of_a_session_left_on_a_node_server(kind: str, url: str) -> None:
    prefix = f"t{secrets.token_hex(4)}"
    client_of_io = new_client(kind, url)
    io = Server(
        adapter=adapter_factory(kind, client_of_io, prefix, None),
        connection_state_recovery=RECOVERY,
    )
    recovered: list[Any] = []
    io.on("connection", lambda socket: recovered.append(socket) if socket.recovered else None)
    port = await io.listen(0, "127.0.0.1")
    peer = await NodeScript.start("sio_cluster_server", kind, url, prefix, "recovery")
    client = Client("a")
    try:
        if "@" in kind:
            # no single node sees every subscriber: each server's own count
            await eventually(io.sockets.adapter.server_count, lambda n: n == 2)
            await eventually(lambda: peer.call("server_count"), lambda event: event["count"] == 2)
        else:
            assert isinstance(client_of_io, Redis)
            await wait_until_joined("streams", client_of_io, prefix, 2)
        await client.connect(peer.url, auth={"name": "a", "rooms": ["r1"]})
        sid = client.sid
        connection = await peer.expect(lambda e: e["ev"] == "connection")
        pid = connection["pid"]
        io.to("r1").emit("first", 1)
        (args,) = await client.expect("first")
        offset = args[-1]

        await drop_transport(client)
        await peer.expect(lambda e: e["ev"] == "disconnect")
        # Node stores the session without waiting: let the write land before coming back
        await eventually(lambda: client_of_io.exists(f"sio:session:{pid}"))
        # each append seen by a witness in r1 before the next starts: the stream holds this order
        witness = await Client("w").connect(peer.url, auth={"name": "w", "rooms": ["r1"]})
        try:
            io.to("r1").emit("missed", 2)
            await witness.expect("missed")
            peer.send("emit", event="missed-node", rooms=["r1"], args=[3])
            await witness.expect("missed-node")
            io.to("r1").emit("missed", 4)
            await witness.expect("missed", count=2)
        finally:
            await witness.close()

        back = await Client("b").connect(
            f"http://127.0.0.1:{port}", auth={"pid": pid, "offset": offset}
        )
        try:
            assert back.sid == sid
            await back.expect("missed", count=2)
            # two processes appended to the stream: the replay follows the stream's order
            assert [(name, args[0]) for name, args in back.events] == [
                ("missed", 2),
                ("missed-node", 3),
                ("missed", 4),
            ]
            assert recovered[0].rooms == {sid, "r1"}
            assert recovered[0].data == {"name": "a"}
        finally:
            await back.close()
    finally:
        await client.close()
        await peer.close()
        await io.close()
        await client_of_io.aclose()
