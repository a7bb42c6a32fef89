"""tests/apps/realapp.py on several uvicorn processes sharing one Redis, or one PostgreSQL:
broadcasts, ``fetch_sockets`` and ``server_side_emit_with_ack`` started inside handlers cross the
processes, with no warm-up request (readiness is read from Redis or PostgreSQL with a client of the
test's own). Then ``uvicorn --workers 2`` for WebSocket-only clients, which need no sticky sessions.
"""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from .clients import AppClient
from .conftest import RealApp
from .support import eventually


@pytest.mark.parametrize("adapter", ["redis", "postgres"])
async def test_two_uvicorn_processes_share_broadcasts_fetch_sockets_and_requests(
    adapter: str, realapp: RealApp, redis: Redis, key: str
) -> None:
    env = {"REALAPP_ADAPTER": adapter}
    first = await realapp.serve("uvicorn", "A", env, subscribers=1)
    second = await realapp.serve("uvicorn", "B", env, subscribers=2)
    alice = await realapp.connect(first, "node", "alice")
    bob = await realapp.connect(second, "python", "bob")
    carol = await realapp.connect(second, "node", "carol")
    assert (await alice.call("whoami"))["node"] == "A"
    assert (await bob.call("whoami"))["node"] == "B"
    assert (await carol.call("whoami"))["node"] == "B"

    # fetch_sockets inside a handler on A counts B's sockets (with their data), then broadcasts
    assert await alice.call("count_users") == {"count": 3, "users": ["alice", "bob", "carol"]}
    for client in (alice, bob, carol):
        assert await client.next("counted") == [3, "A"]
    assert await bob.call("count_users") == {"count": 3, "users": ["alice", "bob", "carol"]}
    for client in (alice, bob, carol):
        assert await client.next("counted") == [3, "B"]

    # a broadcast from a handler on B reaches A's client
    await bob.emit("shout", "from bob")
    for client in (alice, bob, carol):
        assert await client.next("shout") == ["from bob", "B"]

    # server-side emit with acks, started in a handler on each side
    assert await alice.call("ask_servers", "q1") == ["B answers q1"]
    assert await carol.call("ask_servers", "q2") == ["A answers q2"]
    assert await redis.lrange(f"{key}:questions:B", 0, -1) == ["A:q1"]
    assert await redis.lrange(f"{key}:questions:A", 0, -1) == ["B:q2"]

    # B's clients leave: A's count follows, and the async disconnect handler wrote who left where
    await carol.disconnect()
    left = await eventually(lambda: redis.hgetall(f"{key}:left:carol"))
    assert left == {"reason": "client namespace disconnect", "node": "B"}
    assert await alice.call("count_users") == {"count": 2, "users": ["alice", "bob"]}


@pytest.mark.parametrize("adapter", ["redis", "postgres"])
async def test_uvicorn_workers_serve_websocket_only_clients(adapter: str, realapp: RealApp) -> None:
    """``uvicorn --workers 2``: each worker runs the app's lifespan (its adapter subscribes), and
    WebSocket-only clients, whose one connection lands on either worker, see one cluster."""
    names = [f"u{index}" for index in range(16)]
    env = {"REALAPP_ADAPTER": adapter}
    app = await realapp.serve("uvicorn", env=env, subscribers=2, workers=2)
    clients: list[AppClient] = []
    workers: dict[str, list[str]] = {}
    for index, name in enumerate(names):
        kind = "node" if index % 2 else "python"
        client = await realapp.connect(app, kind, name, transports=["websocket"])
        clients.append(client)
        workers.setdefault((await client.call("whoami"))["node"], []).append(name)
        if len(workers) == 2 and index >= 3:
            break
    assert len(workers) == 2, f"every connection landed on one worker: {workers}"
    connected = sorted(name for group in workers.values() for name in group)
    for client in clients:
        answer = await client.call("count_users")
        assert answer == {"count": len(clients), "users": connected}
        for other in clients:
            assert (await other.next("counted"))[0] == len(clients)
    await clients[0].emit("shout", "everyone")
    for client in clients:
        assert (await client.next("shout"))[0] == "everyone"
