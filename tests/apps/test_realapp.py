"""tests/apps/realapp.py, a module-level app with ``async def`` handlers doing real I/O, served the
way users serve it (embedded, uvicorn, hypercorn, granian, each in its own process) and driven by the
official Node client and by python-socketio's client. Every answer is compared exactly.
"""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from .clients import RefusedError
from .conftest import RealApp
from .support import eventually, request_subscribers

FULL_HOSTS = ("embedded", "uvicorn")
ALL_HOSTS = (*FULL_HOSTS, "hypercorn", "granian")
CLIENTS = ("node", "python")


@pytest.mark.parametrize("client_kind", CLIENTS)
@pytest.mark.parametrize("host", ALL_HOSTS)
async def test_middleware_refuses_with_message_and_data(
    host: str, client_kind: str, realapp: RealApp
) -> None:
    app = await realapp.serve(host, "n1")
    client = realapp.make_client(client_kind)
    with pytest.raises(RefusedError) as refused:
        await client.connect(app.url, "tok-nobody")
    assert refused.value.message == "invalid token"
    assert refused.value.data == {"token": "tok-nobody", "node": "n1"}


@pytest.mark.parametrize("client_kind", CLIENTS)
@pytest.mark.parametrize("host", ALL_HOSTS)
async def test_handlers_call_redis_postgres_and_http(
    host: str, client_kind: str, realapp: RealApp, redis: Redis, key: str
) -> None:
    app = await realapp.serve(host, "n1")
    client = await realapp.connect(app, client_kind, "alice")
    assert await client.call("whoami") == {"user": "alice", "node": "n1", "task": True}
    await eventually(lambda: redis.smembers(f"{key}:online"), lambda names: names == {"alice"})
    assert await client.call("redis_incr", "a") == 1
    assert await client.call("redis_incr", "a") == 2
    assert await redis.get(f"{key}:counter:a") == "2"
    assert await client.call("pg_double", 21) == 42
    assert await client.call("http_echo", "héllo") == {
        "aiohttp": "echo:héllo",
        "httpx": "echo:héllo",
    }
    assert await client.call("timeouts") == {
        "timeout": "timed out",
        "wait_for": "timed out",
        "ping": "pong",
    }
    assert await client.call("task_group", 5, "tg") == {
        "counter": 1,
        "double": 10,
        "http": {"aiohttp": "echo:tg", "httpx": "echo:tg"},
    }


@pytest.mark.parametrize("client_kind", CLIENTS)
@pytest.mark.parametrize("host", FULL_HOSTS)
async def test_contextvars_set_await_reset_and_never_leak(
    host: str, client_kind: str, realapp: RealApp
) -> None:
    app = await realapp.serve(host)
    client = await realapp.connect(app, client_kind, "alice")
    assert await client.call("context", "r1") == ["unset", "r1", "unset"]
    # a handler that sets and never resets: its value stays in its own context
    assert await client.call("context_leak", "leaked") == "leaked"
    assert await client.call("context", "r2") == ["unset", "r2", "unset"]


@pytest.mark.parametrize("client_kind", CLIENTS)
@pytest.mark.parametrize("host", FULL_HOSTS)
async def test_emits_from_a_worker_thread_arrive_in_order(
    host: str, client_kind: str, realapp: RealApp
) -> None:
    app = await realapp.serve(host)
    client = await realapp.connect(app, client_kind, "alice")
    assert await client.call("thread_emit", 200) == "started"
    ticks = [await client.next("tick") for _ in range(200)]
    assert ticks == [[index, "worker"] for index in range(200)]
    assert await client.next("ticks_done") == [200]


@pytest.mark.parametrize("client_kind", CLIENTS)
@pytest.mark.parametrize("host", ALL_HOSTS)
async def test_async_disconnect_handler_writes_to_redis(
    host: str, client_kind: str, realapp: RealApp, redis: Redis, key: str
) -> None:
    app = await realapp.serve(host, "n1")
    alice = await realapp.connect(app, client_kind, "alice")
    await realapp.connect(app, client_kind, "bob")
    await eventually(
        lambda: redis.smembers(f"{key}:online"), lambda names: names == {"alice", "bob"}
    )
    await alice.disconnect()
    left = await eventually(lambda: redis.hgetall(f"{key}:left:alice"))
    if client_kind == "node":
        assert left == {"reason": "client namespace disconnect", "node": "n1"}
    else:
        # python-socketio queues its DISCONNECT packet, then closes the WebSocket without waiting
        # for the queue to flush: the server may see either the packet or the closed transport.
        assert left["node"] == "n1"
        assert left["reason"] in ("client namespace disconnect", "transport close")
    await eventually(lambda: redis.smembers(f"{key}:online"), lambda users: users == {"bob"})
    assert await redis.exists(f"{key}:left:bob") == 0


@pytest.mark.parametrize("host", FULL_HOSTS)
async def test_fetch_sockets_and_broadcast_from_a_handler(
    host: str, realapp: RealApp, redis: Redis, key: str
) -> None:
    app = await realapp.serve(host, "n1")
    alice = await realapp.connect(app, "node", "alice")
    bob = await realapp.connect(app, "python", "bob")
    assert await bob.call("count_users") == {"count": 2, "users": ["alice", "bob"]}
    for client in (alice, bob):
        assert await client.next("counted") == [2, "n1"]
    await alice.emit("shout", "hi all")
    for client in (alice, bob):
        assert await client.next("shout") == ["hi all", "n1"]
    assert await redis.lrange(f"{key}:shouts", 0, -1) == ["hi all"]


@pytest.mark.parametrize("host", FULL_HOSTS)
async def test_first_event_after_connect_finds_the_handlers_of_the_connection_handler(
    host: str, realapp: RealApp
) -> None:
    """python-socketio sends its first event the moment CONNECT arrives: the ``connection`` handler
    (a coroutine, a scheduled Task on Python 3.11) must have registered its handlers by then. A plain
    ``connect`` hook that blocks 50 ms after CONNECT left lets the event reach the server's socket
    before the next turn of the loop, every time."""
    app = await realapp.serve(host, "n1", {"REALAPP_SLOW_CONNECT": "0.05"})
    for _ in range(5):
        client = await realapp.connect(app, "python", "alice", transports=["websocket"])
        assert await client.call("whoami") == {"user": "alice", "node": "n1", "task": True}
        await client.disconnect()


async def test_first_request_starts_the_app_when_the_host_sends_no_lifespan(
    realapp: RealApp, redis: Redis, key: str
) -> None:
    """``uvicorn --lifespan off``: the adapter subscribes on the first request, before it is served."""
    app = await realapp.serve("uvicorn-no-lifespan", "n1", subscribers=0)
    assert await request_subscribers(redis, key) == 0
    client = await realapp.connect(app, "node", "alice")
    assert await request_subscribers(redis, key) == 1
    assert await client.call("count_users") == {"count": 1, "users": ["alice"]}
    assert await client.next("counted") == [1, "n1"]
