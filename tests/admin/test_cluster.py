"""Two aiosio nodes joined by the Redis adapter: a UI connected to one sees both."""

from __future__ import annotations

import secrets

import pytest
from redis.asyncio import Redis

from aiosio.adapters.redis import create_adapter
from aiosio.admin import instrument
from aiosio.server import Server
from tests.server.node import NodeClients

pytestmark = pytest.mark.timeout(40)


async def test_stats_and_sockets_of_every_node_reach_the_ui(
    redis_url: str, node: NodeClients
) -> None:
    key = "admin-test-" + secrets.token_hex(4)
    clients = [Redis.from_url(redis_url), Redis.from_url(redis_url)]
    servers: list[Server] = []
    urls: list[str] = []
    try:
        for name, client in zip(("node-a", "node-b"), clients, strict=True):
            io = Server(adapter=create_adapter(client, key=key))
            instrument(io, auth=False, server_id=name, stats_interval=0.3)
            port = await io.listen(0)
            servers.append(io)
            urls.append(f"http://127.0.0.1:{port}")
        on_b = await node.connect("c1", urls[1], "/", transports=["websocket"], forceNew=True)
        await node.connect("admin", urls[0], "/admin", transports=["websocket"], forceNew=True)
        sockets = await node.expect(
            lambda e: e["ev"] == "event" and e["id"] == "admin" and e["name"] == "all_sockets"
        )
        assert on_b["sid"] in {s["id"] for s in sockets["args"][0]}
        seen: set[str] = set()
        for _ in range(20):
            stats = await node.expect(
                lambda e: e["ev"] == "event" and e.get("name") == "server_stats"
            )
            seen.add(stats["args"][0]["serverId"])
            if seen == {"node-a", "node-b"}:
                break
        assert seen == {"node-a", "node-b"}
        # an action from the UI reaches a socket on the other node
        node.send(cmd="emit", id="admin", event="emit", args=["/", on_b["sid"], "poke", 1])
        assert (await node.next("c1", "event", name="poke"))["args"] == [1]
    finally:
        for io in servers:
            await io.close()
        for client in clients:
            await client.aclose()
